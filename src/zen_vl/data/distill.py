"""`reasoning: distill`: a model writes the reasoning a source's samples lack (rejection sampling).

Data without reasoning cannot train a Thinking-template variant (the validator refuses it). With
`reasoning: distill` on a source, each assistant turn without reasoning is asked of the distiller (the
variant's own base unless `data.distill.model` names another model folder) on the conversation up to
that turn, under the Thinking template, so it writes `reasoning</think>answer`. The turn keeps that
reasoning only when the answer it reached equals the turn's reference answer (an "Answer:" label,
case, spacing and punctuation ignored); the first attempt is greedy, later ones (`data.distill.attempts`) sample with
the distiller's generation_config, seeded. A sample with a turn no attempt gets right is rejected and
counted; a turn that calls tools is rejected too (its answer is a call, not text).
"""

from __future__ import annotations

import re
from pathlib import Path

from zen_vl.config import ZenConfig
from zen_vl.data.schema import DataError

LABEL = re.compile(r"^(?:the\s+)?(?:final\s+)?answer\b(?:\s+is\b)?\s*[:：]?\s*", re.IGNORECASE)


def normalise(text: str) -> str:
    """An answer for comparison: an "Answer:" / "The answer is" label, case, spacing and punctuation
    dropped ("Answer: B" and "b." compare equal)."""
    return " ".join(re.sub(r"[^\w]+", " ", LABEL.sub("", text.strip()).casefold()).split())


def _turns(sample: dict) -> list[int] | None:
    """Indices of the assistant turns that need reasoning; None when one of them calls tools."""
    out = []
    for k, msg in enumerate(sample["messages"]):
        if msg.get("role") != "assistant" or msg.get("reasoning_content"):
            continue
        if msg.get("tool_calls"):
            return None
        out.append(k)
    return out


def distill(
    cfg: ZenConfig,
    samples: list[tuple[str, dict]],
    model_dir: Path,
    media_root: Path,
    *,
    progress: bool = True,
) -> tuple[list[tuple[str, dict]], dict]:
    """The samples whose every reasoning-less turn the distiller answered right, with its reasoning;
    and the counts (turns asked, kept and rejected samples, attempts)."""
    from zen_vl.evaluate.generate import generate
    from zen_vl.evaluate.scoring import split_thinking

    if cfg.template != "thinking":
        raise DataError(
            f"reasoning: distill needs a Thinking-template variant ({cfg.variant} uses {cfg.template})"
        )
    if not (Path(model_dir) / "config.json").is_file():
        raise DataError(
            f"reasoning: distill: no model at {model_dir} (set data.distill.model or make download)"
        )
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    # A base or a finetuned merged folder: any local Qwen3-VL model folder with its processor.
    processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
    if not hasattr(processor, "image_processor"):
        raise DataError(f"reasoning: distill: {model_dir} has no image processor (preprocessor_config.json)")
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype="auto", local_files_only=True).eval()
    if torch.cuda.is_available():
        model = model.to("cuda")  # one GPU (4B/8B); a 30B distiller needs a model folder you serve yourself
    d = cfg.data.distill
    pending: dict[tuple[int, int], dict] = {}
    found: dict[tuple[int, int], str] = {}
    tool_turns = 0
    for i, (_, sample) in enumerate(samples):
        turns = _turns(sample)
        if turns is None:
            tool_turns += 1
            continue
        for k in turns:
            pending[(i, k)] = {
                "messages": sample["messages"][:k],
                **({"tools": sample["tools"]} if sample.get("tools") else {}),
            }
    asked = len(pending)
    for attempt in range(d.attempts):
        if not pending:
            break
        keys = list(pending)
        outputs = generate(
            model,
            processor,
            [pending[key] for key in keys],
            media_root=media_root,
            processor_kwargs=cfg.vision.processor_kwargs,
            max_new_tokens=d.max_new_tokens,
            batch_size=cfg.eval.batch_size,
            progress=progress,
            sample_seed=None if attempt == 0 else d.seed + attempt,
        )
        for (i, k), output in zip(keys, outputs, strict=True):
            reasoning, answer, valid = split_thinking(output, thinking=True)
            reference = samples[i][1]["messages"][k]["content"]
            if valid and isinstance(reference, str) and normalise(answer) == normalise(reference):
                found[(i, k)] = reasoning
                del pending[(i, k)]
    failed = {i for i, _ in pending}
    kept = []
    for i, (where, sample) in enumerate(samples):
        turns = _turns(sample)
        if turns is None or i in failed:
            continue
        for k in turns:
            sample["messages"][k]["reasoning_content"] = found[(i, k)]
        kept.append((where, sample))
    stats = {
        "model": str(model_dir),
        "turns_asked": asked,
        "kept": len(kept),
        "rejected_wrong_answer": len(failed),
        "rejected_tool_calls": tool_turns,
        "attempts": d.attempts,
    }
    return kept, stats
