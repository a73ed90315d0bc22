"""Load a base folder the way every stage does: offline, Hub format, with clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

from zen_vl.artifacts import BASE_MANIFEST, read_json, read_manifest
from zen_vl.config import ZenConfig
from zen_vl.errors import ZenError

SUPPORTED = ("Qwen3VLForConditionalGeneration", "Qwen3VLMoeForConditionalGeneration")


def check_base(folder: Path, size: str) -> dict:
    """The folder's manifest, after checking it is a complete Qwen3-VL base."""
    folder = Path(folder)
    manifest = read_manifest(folder, BASE_MANIFEST, f"make download-{size}")
    if manifest is None:
        hint = f"make download-{size}" if folder.exists() else f"it does not exist: make download-{size}"
        raise ZenError(f"base model {folder} is missing or incomplete ({hint})")
    config = read_json(folder / "config.json", f"remove {folder} and run make download-{size}")
    arch = (config.get("architectures") or ["?"])[0]
    if arch not in SUPPORTED:
        raise ZenError(
            f"{folder}/config.json: architecture {arch} is not Qwen3-VL (expected one of {SUPPORTED})"
        )
    check_weights(folder, f"make download-{size}")
    return manifest


def check_weights(folder: Path, fix: str) -> None:
    """Every safetensors shard the folder's index names is there, and each file is as long as its own
    header says (a truncated or overwritten file fails here, by name, before any loading)."""
    index = folder / "model.safetensors.index.json"
    shards = sorted(folder.glob("*.safetensors"))
    if index.is_file():
        named = set(read_json(index, fix).get("weight_map", {}).values())
        missing = sorted(n for n in named if not (folder / n).is_file())
        if missing:
            raise ZenError(
                f"{folder}: shard(s) {', '.join(missing)} named in {index.name} are missing: {fix}"
            )
    if not shards:
        raise ZenError(f"{folder}: no *.safetensors weights: {fix}")
    for shard in shards:
        size = shard.stat().st_size
        try:
            with shard.open("rb") as fh:
                n = int.from_bytes(fh.read(8), "little")
                header = json.loads(fh.read(n)) if 8 + n <= size else None
            end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        except (ValueError, TypeError, KeyError, AttributeError):
            header = None
        if header is None or 8 + n + end != size:
            raise ZenError(
                f"{shard} is truncated or corrupt (not a complete safetensors file): delete it and {fix}"
            )


def chat_template_text(folder: Path) -> str | None:
    """The chat template a model folder ships (chat_template.jinja, chat_template.json, or
    tokenizer_config.json's `chat_template`, the order transformers reads them), or None."""
    folder = Path(folder)
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    for name in ("chat_template.json", "tokenizer_config.json"):
        if (folder / name).is_file():
            template = read_json(folder / name, f"{folder}: download the base again").get("chat_template")
            if isinstance(template, str):
                return template
    return None


def load_processor(folder: Path, size: str = "tiny"):
    """The base's processor (tokenizer, chat template, image and video processors), offline."""
    from transformers import AutoProcessor

    check_base(folder, size)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    if not hasattr(processor, "image_processor"):
        # AutoProcessor silently falls back to the bare tokenizer when a processor file is missing.
        raise ZenError(f"{folder}: no image processor found (preprocessor_config.json missing?)")
    return processor


def load_base(folder: Path, size: str = "tiny", dtype: str = "auto"):
    """(processor, model) from a base folder, never touching the network."""
    from transformers import AutoModelForImageTextToText

    processor = load_processor(folder, size)
    model = AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype, local_files_only=True)
    return processor, model.eval()


def describe(folder: Path, cfg: ZenConfig) -> str:
    """A short report: what the base is, and its greedy answer to an image prompt."""
    import torch
    from PIL import Image, ImageDraw

    processor, model = load_base(folder, cfg.size)
    manifest = read_manifest(folder, BASE_MANIFEST, f"make download-{cfg.size}")
    image = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(image).ellipse((64, 64, 192, 192), fill="red")
    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": image}, {"type": "text", "text": "What is this?"}],
        }
    ]
    inputs = processor.apply_chat_template(
        messages,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs=cfg.vision.processor_kwargs,
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=False)
    n_params = sum(p.numel() for p in model.parameters())
    return "\n".join(
        [
            f"base:         {folder}",
            f"architecture: {type(model).__name__} ({n_params / 1e6:.1f} M parameters, {model.dtype})",
            f"source:       {manifest.get('repo') or manifest['source']} {manifest.get('commit', '')}".rstrip(),
            f"vocabulary:   {len(processor.tokenizer)} tokens; <|im_start|>={processor.tokenizer.convert_tokens_to_ids('<|im_start|>')}"
            f" <|image_pad|>={processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')}",
            f"image prompt: {inputs['input_ids'].shape[1]} tokens, grid {inputs['image_grid_thw'].tolist()}",
            f"answer:       {answer!r}"
            + ("  (random weights: gibberish is expected)" if cfg.offline else ""),
        ]
    )
