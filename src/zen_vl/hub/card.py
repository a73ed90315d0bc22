"""Model cards from what the pipeline measured: metadata (base_model, license, pipeline_tag, tags,
model-index from results.json) and usage for transformers, llama.cpp, mlx-vlm and vLLM.

Nothing here is typed in by hand: the numbers come from `<variant>/finetuned/<size>/eval/results.json`
and `provenance.json`; without results the card says the model has not been evaluated.
"""

from __future__ import annotations

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from zen_vl.config import ZenConfig
from zen_vl.evaluate.report import decoding_text, markdown_table

# Metrics reported in the model-index (the table in the card body lists all of them).
CARD_METRICS = (
    "identity/names_itself",
    "identity/claims_other_model",
    "overall/accuracy",
    "thinking/form_valid",
    "thinking/answer_accuracy",
    "calls/ast_accuracy",
    "calls/schema_valid",
    "calls/relevance",
    "grounding/point_in_box",
    "general/accuracy",
    "screenspot/accuracy",
    "bfcl/overall",
    "bfcl/non_live_ast",
    "bfcl/live",
    "bfcl/multi_turn",
)

PURPOSE = {
    "instruct": "knows it is {name}, in text and with images, and never claims to be another model",
    "thinking": "reasons inside <think>…</think> about the image before it answers",
    "agent": "reads a screenshot or form, picks the tool and fills its arguments as JSON in Qwen3's <tool_call> format",
}


THINKING_NOTE = (
    "\n# the prompt opens <think>: on a vLLM whose qwen3 parser needs both tags (vllm#26239),"
    " use --reasoning-parser deepseek_r1"
)


def repo_name(cfg: ZenConfig, kind: str = "") -> str:
    """`<hub_org>/zen-vl-<size>-<variant>[-GGUF|-MLX-4bit]`."""
    return f"{cfg.identity.hub_org}/zen-vl-{cfg.size}-{cfg.variant}{'-' + kind if kind else ''}"


def _eval_results(results: dict | None, cfg: ZenConfig) -> list[EvalResult]:
    if not results or "finetuned" not in results.get("models", {}):
        return []
    metrics = results["models"]["finetuned"]["metrics"]
    name = f"zen-vl {cfg.variant} test set ({results['test_set']['samples']} samples, generated)"
    bfcl = results.get("benchmarks", {}).get("bfcl", {})
    bfcl_name = (
        f"BFCL v4 (bfcl-eval {bfcl.get('bfcl_eval')}, {bfcl.get('cases')} entries, BFCL's own checker)"
    )
    return [
        EvalResult(
            task_type="image-text-to-text",
            dataset_type="bfcl-v4" if key.startswith("bfcl/") else f"zen-vl-{cfg.variant}-test",
            dataset_name=bfcl_name if key.startswith("bfcl/") else name,
            dataset_revision=None if key.startswith("bfcl/") else results["test_set"]["content_hash"][:16],
            metric_type=key.replace("/", "_"),
            metric_name=key,
            metric_value=round(metrics[key]["value"], 4),
        )
        for key in CARD_METRICS
        if key in metrics
    ]


def usage(cfg: ZenConfig, kind: str) -> str:
    repo = repo_name(cfg)
    gguf = repo_name(cfg, "GGUF")
    stem = f"zen-vl-{cfg.size}-{cfg.variant}"
    blocks = {
        "transformers": f"""```python
from transformers import AutoModelForImageTextToText, AutoProcessor

model = AutoModelForImageTextToText.from_pretrained("{repo}", dtype="auto", device_map="auto")
processor = AutoProcessor.from_pretrained("{repo}")
messages = [{{"role": "user", "content": [{{"type": "image", "url": "screenshot.png"}},
                                         {{"type": "text", "text": "Who are you, and what is on this screen?"}}]}}]
inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                       return_dict=True, return_tensors="pt").to(model.device)
out = model.generate(**inputs, max_new_tokens=256)
print(processor.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
```""",
        "llama.cpp": f"""```bash
llama-mtmd-cli -hf {gguf}:Q4_K_M --image screenshot.png -p "What is on this screen?"
# or: llama-mtmd-cli -m {stem}-Q4_K_M.gguf --mmproj mmproj-{stem}-{cfg.export.gguf_outtype.upper()}.gguf --image …
llama-server -m {stem}-Q4_K_M.gguf --mmproj mmproj-{stem}-{cfg.export.gguf_outtype.upper()}.gguf --jinja
```""",
        "mlx-vlm": f"""```bash
pip install mlx-vlm
python -m mlx_vlm generate --model {repo_name(cfg, "MLX-4bit")} --image screenshot.png --prompt "What is on this screen?"
```""",
        "vLLM": f"""```bash
vllm serve {repo} --enable-auto-tool-choice --tool-call-parser hermes{" --reasoning-parser qwen3" if cfg.template == "thinking" else ""}{THINKING_NOTE if cfg.template == "thinking" else ""}
```""",
    }
    order = {"": ["transformers", "vLLM", "llama.cpp", "mlx-vlm"], "GGUF": ["llama.cpp"]}.get(
        kind, ["mlx-vlm"]
    )
    return "\n\n".join(f"### {k}\n\n{blocks[k]}" for k in order)


def model_card(
    cfg: ZenConfig, *, kind: str = "", results: dict | None = None, provenance: dict | None = None
) -> str:
    base = cfg.bases[cfg.base].repo
    data = ModelCardData(
        language=["en", "zh", "es", "fr", "de", "ja"],
        license="apache-2.0",
        library_name={"": "transformers", "GGUF": "gguf"}.get(kind, "mlx"),
        pipeline_tag="image-text-to-text",
        base_model=(None if base == "offline" else base) if kind == "" else repo_name(cfg),
        base_model_relation=None if kind == "" else "quantized",
        tags=[
            "zen-vl",
            "qwen3-vl",
            cfg.variant,
            "vision-language",
            *(["function-calling"] if cfg.variant == "agent" else []),
            *(["reasoning"] if cfg.variant == "thinking" else []),
            *([kind.split("-")[0].lower()] if kind else []),
        ],
        model_name=repo_name(cfg, kind).split("/")[1],
        eval_results=_eval_results(results, cfg) or None,
    )
    name = cfg.identity.name
    lines = [
        f"# {repo_name(cfg, kind).split('/')[1]}",
        "",
        f"{name} {cfg.variant} ({cfg.size}) by {cfg.identity.org}: {cfg.identity.built_on} ({base}) fine-tuned so that it "
        + PURPOSE[cfg.variant].format(name=name)
        + ". Built with [zen-vl](https://github.com/zenlm/zen-vl).",
        "",
        "## Evaluation",
        "",
    ]
    if results:
        lines += [
            f"Measured by `make eval` on the held-out generated test set (`{results['test_set']['samples']}` samples, "
            f"content hash `{results['test_set']['content_hash'][:16]}`), {decoding_text(results)}, on "
            f"{results['hardware']}:",
            "",
            markdown_table(results["models"]),
        ]
    else:
        lines.append("Not evaluated yet (`make eval` writes the results this section is built from).")
    if provenance:
        m = provenance.get("metrics", {})
        lines += [
            "",
            "## Training",
            "",
            f"{provenance['config']['lora']['method']} on {provenance['config']['train'].get('precision')}, "
            f"{m.get('steps', '?')} steps, data content hash `{provenance['data']['content_hash'][:16]}`, "
            f"on {m.get('device', 'unknown hardware')}.",
        ]
    lines += ["", "## Usage", "", usage(cfg, kind), ""]
    return ModelCard.from_template(
        data, template_str="---\n{{ card_data }}\n---\n\n" + "\n".join(lines)
    ).content
