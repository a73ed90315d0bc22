"""Exports: the GGUF (text + mmproj + quants) made by llama.cpp's own converter and quantizer agrees
with the HF model inside llama.cpp, and llama-mtmd-cli answers image prompts with it.

The first test on a machine builds the pinned llama.cpp into ~/.cache/zen-vl (about 9 minutes on 2
cores); later runs and clones reuse it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_runs import AGENT, PROBE, SHORT

from zen_vl.artifacts import GGUF_MANIFEST, MLX_MANIFEST, read_manifest
from zen_vl.config import load_config
from zen_vl.data.schema import read_jsonl
from zen_vl.errors import ZenError
from zen_vl.evaluate.scoring import answer_correct
from zen_vl.export.gguf import export_gguf
from zen_vl.export.gguf_check import mtmd_answer
from zen_vl.export.llama_cpp import find_llama_cpp
from zen_vl.paths import Layout

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def probe_gguf(train_tiny, llama):
    cfg, layout, _ = train_tiny("instruct", PROBE)
    return cfg, layout, export_gguf(cfg, layout, progress=False)


@pytest.mark.slow
def test_gguf_has_text_mmproj_and_quants_and_agrees_with_hf_in_llama_cpp(probe_gguf):
    _cfg, _, dest = probe_gguf
    m = read_manifest(dest, GGUF_MANIFEST)
    assert (
        m["text"] == "zen-vl-tiny-instruct-F16.gguf" and m["mmproj"] == "mmproj-zen-vl-tiny-instruct-F16.gguf"
    )
    assert (
        list(m["quants"]) == ["Q8_0", "Q5_K_M", "Q4_K_M"] and m["fallbacks"] == {}
    )  # width 256 fits K-quant blocks
    assert sorted(m["files"]) == sorted(p.name for p in dest.glob("*.gguf")) and len(m["files"]) == 5
    sizes = {k: v["bytes"] for k, v in m["files"].items()}
    assert sizes[m["quants"]["Q4_K_M"]] < sizes[m["quants"]["Q8_0"]] < sizes[m["text"]]
    parity = m["parity"]
    assert parity["same_greedy"] and parity["max_abs_diff"] < 0.02, parity  # f16 rounding only
    assert all(p["positions"] >= 2 for p in parity["prompts"])
    assert m["llama.cpp"]["commit"] == "0c1e57098"
    assert m["template"]["same"] and len(m["template"]["checked"]) == 4, m["template"]  # --jinja renders it


@pytest.mark.slow
def test_llama_server_renders_the_thinking_template_as_transformers(tiny_root, llama, tmp_path):
    """The check behind `--jinja` in the thinking cards: the pinned llama-server's template engine
    renders the Thinking template embedded in the GGUF byte for byte like transformers (multi-turn
    reasoning dropped before the last query, tool calls and responses), and a different template is caught."""
    from transformers import AutoTokenizer

    from zen_vl.export.gguf import convert
    from zen_vl.export.llama_server import serve, template_parity

    base = tiny_root.base("tiny", "thinking")
    outs = {"text": tmp_path / "thinking-F16.gguf", "mmproj": tmp_path / "mmproj-thinking-F16.gguf"}
    text, _ = convert(llama, base, outs, "f16").values()
    thinking = AutoTokenizer.from_pretrained(base)
    instruct = AutoTokenizer.from_pretrained(tiny_root.base("tiny"))
    with serve(llama, text) as url:
        same, other = template_parity(url, thinking), template_parity(url, instruct)
    assert same["same"] and len(same["checked"]) == 4, same["differ"]
    assert not other["same"] and "<think>" in next(iter(other["differ"].values()))["llama_server"]


@pytest.mark.slow
def test_mtmd_cli_reads_the_colour_from_the_image(probe_gguf, llama):
    _cfg, layout, dest = probe_gguf
    m = read_manifest(dest, GGUF_MANIFEST)
    data = layout.data("instruct", "tiny")
    rows = [s for _, s in read_jsonl(data / "test.jsonl")][:8]
    right = 0
    for row in rows:
        image = data / row["messages"][0]["content"][0]["image"]
        question = row["messages"][0]["content"][1]["text"]
        answer = mtmd_answer(llama, dest / m["text"], dest / m["mmproj"], image, question, n=8)
        right += bool(answer_correct("colour_probe", row["meta"]["answer"], answer))
    assert right >= 6, right  # HF scores >= 90 % here; llama.cpp resizes the image its own way
    quant = mtmd_answer(llama, dest / m["quants"]["Q4_K_M"], dest / m["mmproj"], image, question, n=8)
    assert quant.strip()  # the 4-bit file loads and answers


@pytest.mark.slow
def test_an_up_to_date_export_is_reused(probe_gguf):
    cfg, layout, dest = probe_gguf
    before = (dest / GGUF_MANIFEST).stat().st_mtime_ns
    assert export_gguf(cfg, layout, progress=False) == dest
    assert (dest / GGUF_MANIFEST).stat().st_mtime_ns == before


def test_a_broken_llama_cpp_dir_and_a_missing_model_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("LLAMA_CPP_DIR", str(tmp_path))
    with pytest.raises(ZenError, match=r"LLAMA_CPP_DIR=.*missing .*convert_hf_to_gguf.py.*llama-quantize"):
        find_llama_cpp()
    monkeypatch.delenv("LLAMA_CPP_DIR")
    cfg = load_config("tiny", "agent")
    with pytest.raises(ZenError, match="make train-agent SIZE=tiny"):
        export_gguf(cfg, Layout(tmp_path), progress=False)


@pytest.mark.slow
def test_make_gguf_on_the_trained_agent(train_tiny, llama):
    _cfg, layout, _ = train_tiny("agent", AGENT)
    env = {**os.environ, "ZEN_VL_ROOT": str(layout.root), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        ["make", "-s", "gguf", "SIZE=tiny", "VARIANT=agent", "export.gguf_quants=[Q8_0]"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "same greedy continuation: True" in run.stdout
    m = json.loads((layout.gguf("agent", "tiny") / GGUF_MANIFEST).read_text())
    assert set(m["files"]) == {
        "zen-vl-tiny-agent-F16.gguf",
        "mmproj-zen-vl-tiny-agent-F16.gguf",
        "zen-vl-tiny-agent-Q8_0.gguf",
    }
    # the merged folder carries the image budget it trained at (what mlx-vlm and llama.cpp read)
    pre = json.loads((layout.finetuned("agent", "tiny") / "merged" / "preprocessor_config.json").read_text())
    assert pre["size"] == load_config("tiny", "agent", AGENT).vision.processor_kwargs["images_kwargs"]["size"]
    # the task check: each GGUF through llama-server (mmproj, tools, images) on the agent's test set
    parity = m["task_parity"]
    assert {k for k in parity if k.startswith("gguf:")} == {"gguf:F16", "gguf:Q8_0"}
    for label in ("gguf:F16", "gguf:Q8_0"):
        v = parity[label]
        assert v["metric"] == "calls/ast_accuracy" and v["passed"] and v["hf"] >= 0.5, v
        assert f"{label}: calls/ast_accuracy" in run.stdout  # the verdict line
    results = json.loads(Path(parity["results"]).read_text())
    served = results["models"]["gguf:F16"]
    assert served["format"] == "gguf" and served["metrics"]["calls/schema_valid"]["value"] >= 0.9, served
    assert (
        served["metrics"]["calls/ast_accuracy"]["n"]
        == results["models"]["finetuned"]["metrics"]["calls/ast_accuracy"]["n"]
    )
    # a margin no export can meet fails make gguf, naming the metric (the records are reused)
    fail = subprocess.run(
        ["make", "-s", "gguf", "SIZE=tiny", "VARIANT=agent", "export.gguf_quants=[Q8_0]",
         "export.task_margin={default: -1.0}"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert fail.returncode != 0 and "calls/ast_accuracy" in fail.stderr and "margin" in fail.stderr, (
        fail.stderr[-2000:]
    )


@pytest.mark.slow
def test_a_served_thinking_gguf_returns_its_reasoning_apart(train_tiny, llama):
    from tiny_runs import THINKING_PROBE

    from zen_vl.evaluate.runner import run_eval

    _, layout, _ = train_tiny("thinking", THINKING_PROBE)
    cfg = load_config("tiny", "thinking", [*THINKING_PROBE, "export.gguf_quants=[]", "eval.baseline=false"])
    export_gguf(cfg, layout, progress=False)
    results = json.loads(run_eval(cfg, layout, formats=("hf", "gguf"), progress=False).read_text())
    hf, served = results["models"]["finetuned"], results["models"]["gguf:F16"]
    cases = served["metrics"]["thinking/form_valid"]["n"]
    # llama-server --reasoning-format deepseek: the reasoning comes in reasoning_content, not the answer
    assert served["reasoning_returned_separately"] >= 0.9 * cases, served
    for name in ("thinking/form_valid", "thinking/answer_accuracy"):
        assert served["metrics"][name]["value"] >= hf["metrics"][name]["value"] - 0.1, (name, served, hf)


# ---------------------------------------------------------------- MLX (mlx-vlm, on Linux CPU here)


@pytest.fixture(scope="session")
def probe_mlx(train_tiny):
    from zen_vl.export.mlx import export_mlx

    cfg, layout, _ = train_tiny("instruct", PROBE)
    return cfg, layout, export_mlx(cfg, layout, progress=False)


def test_mlx_folders_agree_with_hf_logits(probe_mlx):

    _, _layout, folders = probe_mlx
    assert [f.name for f in folders] == ["zen-vl-tiny-instruct-4bit", "zen-vl-tiny-instruct-8bit"]
    four, eight = (read_manifest(f, MLX_MANIFEST)["check"] for f in folders)
    assert eight["top1_agreement"] >= 0.95 and eight["max_abs_diff"] < 0.5, eight
    assert four["top1_agreement"] >= 0.5, four  # 4-bit on a 256-wide model is lossy; measured 0.87
    config = json.loads((folders[1] / "config.json").read_text())
    assert "vision_config" in config and config["quantization"]["bits"] == 8  # the vision tower is kept


def test_mlx_vlm_reads_the_colour_from_the_image(probe_mlx):
    from zen_vl.export.mlx import mlx_answer

    _, layout, folders = probe_mlx
    data = layout.data("instruct", "tiny")
    rows = [s for _, s in read_jsonl(data / "test.jsonl")][:6]
    right = 0
    for row in rows:
        image = data / row["messages"][0]["content"][0]["image"]
        text = mlx_answer(folders[1], image, row["messages"][0]["content"][1]["text"])
        right += bool(answer_correct("colour_probe", row["meta"]["answer"], text))
    assert right >= 5, right


def test_the_mlx_folders_are_scored_through_mlx_vlm_server(probe_mlx):
    from zen_vl.evaluate.runner import run_eval

    _, layout, _ = probe_mlx
    cfg = load_config(
        "tiny", "instruct", [*PROBE, "eval.limit=8", "eval.baseline=false"]
    )  # ~3 s a case on CPU
    out = layout.root / "eval-mlx-served"
    results = json.loads(run_eval(cfg, layout, out=out, formats=("hf", "mlx"), progress=False).read_text())
    hf = results["models"]["finetuned"]["metrics"]["visual/colour"]
    for label in ("mlx:4bit", "mlx:8bit"):
        served = results["models"][label]
        assert served["format"] == "mlx" and served["metrics"]["visual/colour"]["n"] == hf["n"], served
    assert results["models"]["mlx:8bit"]["metrics"]["visual/colour"]["value"] >= hf["value"] - 0.1, results[
        "models"
    ]


def test_make_mlx_without_a_model_says_what_to_run(tmp_path):
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        ["make", "-s", "mlx", "SIZE=tiny", "VARIANT=thinking"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "make train-thinking SIZE=tiny" in run.stderr


# ---------------------------------------------------------------- Hub: plan, cards, dry run


@pytest.fixture(scope="session")
def published(probe_gguf, probe_mlx, eval_tiny):
    cfg, layout, results = eval_tiny("instruct", PROBE)
    return cfg, layout, results


def test_the_upload_plan_holds_only_allowed_files(published):
    from zen_vl.hub.upload import plan

    cfg, layout, _ = published
    repos = plan(cfg, layout)
    assert [r.repo_id for r in repos] == [
        "zenlm/zen-vl-tiny-instruct",
        "zenlm/zen-vl-tiny-instruct-GGUF",
        "zenlm/zen-vl-tiny-instruct-MLX-4bit",
        "zenlm/zen-vl-tiny-instruct-MLX-8bit",
    ]
    model, gguf, _, mlx8 = repos
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "chat_template.jinja",
        "preprocessor_config.json",
    } <= set(model.files)
    assert set(model.extra) == {"eval_results.json"}
    assert str(layout.root) not in model.extra["eval_results.json"].decode()  # no local paths
    assert set(gguf.files) == {p.name for p in layout.gguf("instruct", "tiny").glob("*.gguf")}
    assert "model.safetensors" in mlx8.files and "zen_vl_mlx.json" not in mlx8.files
    everything = [name for r in repos for name in r.files]
    for banned in ("adapter", "checkpoint", "optimizer", "trainer_state", "provenance", "zen_vl_", "runs"):
        assert not any(banned in n for n in everything), banned


def test_cards_parse_with_huggingface_hub_and_carry_the_measured_numbers(published):
    from huggingface_hub import ModelCard

    from zen_vl.hub.upload import plan

    cfg, layout, results = published
    model, gguf, mlx4, _ = plan(cfg, layout)
    card = ModelCard(model.card)
    assert card.data.license == "apache-2.0" and card.data.pipeline_tag == "image-text-to-text"
    measured = results["models"]["finetuned"]["metrics"]
    reported = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert reported["overall/accuracy"] == round(measured["overall/accuracy"]["value"], 4)
    assert set(reported) <= set(measured) and "identity/claims_other_model" in reported
    assert (
        f"| overall/accuracy | {results['models']['base']['metrics']['overall/accuracy']['value']:.3f} |"
        in model.card
    )
    assert results["test_set"]["content_hash"][:16] in model.card and "vllm serve" in model.card
    g = ModelCard(gguf.card).data
    assert (
        g.library_name == "gguf"
        and g.base_model == "zenlm/zen-vl-tiny-instruct"
        and "llama-mtmd-cli" in gguf.card
    )
    assert ModelCard(mlx4.card).data.library_name == "mlx" and "mlx_vlm generate" in mlx4.card


def _make_upload(layout, tmp_path, **env):
    base = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    full = {
        **base,
        "ZEN_VL_ROOT": str(layout.root),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return subprocess.run(
        ["make", "-s", "upload", "SIZE=tiny"], cwd=REPO, env=full, capture_output=True, text=True
    )


def test_make_upload_is_a_dry_run_without_a_token_and_never_prints_one(published, tmp_path):
    _, layout, _ = published
    run = _make_upload(layout, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "dry run (no token" in run.stdout and "zenlm/zen-vl-tiny-instruct-GGUF" in run.stdout
    secret = "hf_zenvlTestSecret0123456789"
    run = _make_upload(layout, tmp_path, HF_TOKEN=secret, DRY_RUN="1")
    assert run.returncode == 0 and "dry run:" in run.stdout
    assert secret not in run.stdout + run.stderr
    # With a token and no dry run it uploads; offline here, so it fails clearly, naming the repo only.
    run = _make_upload(layout, tmp_path, HF_TOKEN=secret)
    assert run.returncode != 0 and "upload to zenlm/zen-vl-tiny-instruct failed" in run.stderr
    assert secret not in run.stdout + run.stderr


# ---------------------------------------------------------------- examples/ on the tiny models


def _example(*args):
    return subprocess.run(
        [
            sys.executable if args[0].endswith(".py") else "bash",
            str(REPO / "examples" / args[0]),
            *map(str, args[1:]),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",  # as with the venv activated
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
    )


def test_the_examples_run_on_the_tiny_models(published, train_tiny):
    _, layout, _ = published
    data = layout.data("instruct", "tiny")
    row = next(s for _, s in read_jsonl(data / "test.jsonl"))
    image = data / row["messages"][0]["content"][0]["image"]
    run = _example(
        "transformers_image.py",
        layout.finetuned("instruct", "tiny") / "merged",
        image,
        "What colour is the shape?",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert any(c in run.stdout for c in ("red", "green", "blue", "yellow")), run.stdout
    run = _example("llama_cpp.sh", layout.gguf("instruct", "tiny"), image, "What colour is the shape?")
    assert run.returncode == 0 and run.stdout.strip(), run.stderr[-2000:]
    run = _example("mlx_vlm.sh", layout.mlx("instruct", "tiny", 8), image, "What colour is the shape?")
    assert run.returncode == 0 and run.stdout.strip(), run.stderr[-2000:]

    # examples/tool_loop.py: one GUI episode in the environment, each screenshot, call and response shown
    _, agent, _ = train_tiny("agent", AGENT)
    run = _example("tool_loop.py", agent.finetuned("agent", "tiny") / "merged", "--family", "shop", "--seed", "3",
                   "--out", agent.root / "episode")  # fmt: skip
    assert run.returncode in (0, 1), run.stderr[-2000:]  # 1: the episode failed (this agent learned dialogs)
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith("task: ") and lines[1].startswith("user: ") and "[screenshot " in lines[1]
    assert lines[2].startswith("assistant: ") and lines[-1].startswith(("success:", "failure:")), run.stdout
    assert (agent.root / "episode" / "shop-3-00.png").is_file()


@pytest.mark.slow
def test_the_moe_twin_exports_to_gguf_and_mlx_and_agrees(train_tiny, llama):
    # FINDINGS: transformers saves fused experts transposed; llama.cpp and mlx-vlm then refuse the
    # files. The merge writes the Hub layout, so both exports must load and agree with HF.
    from zen_vl.export.mlx import export_mlx

    cfg, layout, _ = train_tiny("agent", [*SHORT, "train.max_steps=4"], size="tiny-moe")
    m = read_manifest(export_gguf(cfg, layout, progress=False), GGUF_MANIFEST)
    assert m["parity"]["same_greedy"] and m["parity"]["max_abs_diff"] < 0.02, m["parity"]
    eight = read_manifest(export_mlx(cfg, layout, progress=False)[1], MLX_MANIFEST)["check"]
    assert eight["top1_agreement"] >= 0.95, eight
