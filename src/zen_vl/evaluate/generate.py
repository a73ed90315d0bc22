"""Batched greedy generation for evaluation, through the same chat.render as training.

Prompts are left-padded (right padding puts pad tokens between the prompt and the answer and
silently ruins batched generation). A prompt is a sample whose messages stop just before the
assistant turn to write (`prompt_of` cuts a sample before its first one). Prompts are batched by
length, so a batch holds similar lengths and little padding; outputs come back in input order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import torch
from tqdm import tqdm

from zen_vl.chat import render
from zen_vl.collate import Collator, unbatch
from zen_vl.errors import ZenError


def prompt_of(sample: dict) -> dict:
    """The sample cut before its first assistant turn (what the model must write next)."""
    messages = sample["messages"]
    first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return {**sample, "messages": messages[:first]}


def generate(
    model,
    processor,
    prompts: Iterable[dict],
    *,
    media_root: Path,
    processor_kwargs: dict,
    max_new_tokens: int = 64,
    batch_size: int = 8,
    progress: bool = False,
    transform=None,
    sample_seed: int | None = None,
) -> list[str]:
    """Continuations, one per prompt, special tokens stripped: greedy, or with `sample_seed` sampled
    with the model's own generation_config (temperature, top_p, top_k), each batch seeded from it so
    a rerun gives the same outputs. `transform(batch)` may edit the rendered batch (e.g. blank the
    pixels) before generation."""
    prompts = list(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(json.dumps(prompts[i], ensure_ascii=False)))
    tok = processor.tokenizer
    collate = Collator(tok.pad_token_id, side="left")
    device = next(model.parameters()).device
    model.eval()
    out: list[str] = [""] * len(prompts)
    bar = tqdm(total=len(prompts), desc="generate", unit="prompt", disable=not progress)
    for start in range(0, len(prompts), batch_size):
        chunk = order[start : start + batch_size]
        items = []
        for i in chunk:
            r = render(
                prompts[i],
                processor,
                media_root=media_root,
                processor_kwargs=processor_kwargs,
                add_generation_prompt=True,
            )
            r.pop("labels")
            items.append(unbatch(r))
        batch = collate(items)
        if transform is not None:
            batch = transform(batch)
        batch = {k: v.to(device) for k, v in batch.items()}
        decoding = {"do_sample": False}
        if sample_seed is not None:
            torch.manual_seed(sample_seed + start)
            decoding = {"do_sample": True}  # temperature, top_p, top_k: the model's generation_config
        with torch.no_grad():
            ids = model.generate(
                **batch, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id, **decoding
            )
        new = ids[:, batch["input_ids"].shape[1] :]
        for i, row in zip(chunk, new, strict=True):
            out[i] = tok.decode(row, skip_special_tokens=True).strip()
        bar.update(len(chunk))
    bar.close()
    return out


def load_model(folder: Path):
    """(processor, model) of any Hub-format Qwen3-VL folder: bf16 on a GPU, fp32 on CPU."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ZenError(f"{folder}: not a model folder (no config.json)")
    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    if not hasattr(processor, "image_processor"):
        raise ZenError(f"{folder}: no image processor (preprocessor_config.json missing?)")
    cuda = torch.cuda.is_available()
    model = AutoModelForImageTextToText.from_pretrained(
        folder, dtype=torch.bfloat16 if cuda else torch.float32, local_files_only=True
    )
    return processor, model.to("cuda" if cuda else "cpu").eval()


def decoding(cfg, model, thinking: bool) -> dict:
    """How this model's answers are generated, recorded in results.json: greedy, or (Thinking-template
    models, eval.thinking_decoding=sample) the model's own sampling settings, seeded."""
    if not thinking or cfg.eval.thinking_decoding == "greedy":
        return {"mode": "greedy", "samples": 1}
    gen = model.generation_config
    return {"mode": "sample", "samples": cfg.eval.samples, "seed": cfg.eval.seed,
            **{k: getattr(gen, k, None) for k in ("temperature", "top_p", "top_k")}}  # fmt: skip
