"""`make mlx`: the merged model → mlx-vlm folders (4- and 8-bit by default) in mlx/, each checked
against the HF model's logits in MLX itself.

mlx-vlm, not mlx-lm: mlx-lm's converter keeps only the text model and drops Qwen3-VL's vision tower
and DeepStack mergers. mlx runs on Linux CPU (`mlx[cpu]`) as well as on Apple silicon, so the
conversion and its check run here; on a Mac it is the user's real path.

Everything that imports mlx_vlm runs in a child process: importing it registers its own processor
classes with transformers, which then hands MLX arrays to later torch code in the same process.

python -m zen_vl.export.mlx BUILD HF_FOLDER BITS=FOLDER...    (convert + logit check; prints JSON)
python -m zen_vl.export.mlx CHECK MLX_FOLDER HF_FOLDER        (the logit check alone)
python -m zen_vl.export.mlx ASK MLX_FOLDER IMAGE PROMPT       (a greedy answer to an image prompt)
One child converts and checks every bit width: importing mlx_vlm alone costs ~6 s.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from zen_vl.artifacts import (
    MLX_MANIFEST,
    PROVENANCE,
    cpu_name,
    current,
    file_hash,
    read_manifest,
    require_finetuned,
)
from zen_vl.atomic import building, write_json
from zen_vl.config import ZenConfig
from zen_vl.errors import ZenError
from zen_vl.paths import Layout

INSTALL = "pip install 'mlx[cpu]' mlx-vlm (Linux) or pip install mlx-vlm (macOS); `make install` does it"


def _require_mlx() -> str:
    """mlx-vlm's version, without importing it here (see the module docstring)."""
    for name in ("mlx", "mlx_vlm"):
        if importlib.util.find_spec(name) is None:
            raise ZenError(f"make mlx needs mlx and mlx-vlm ({name} is missing): {INSTALL}")
    return importlib.metadata.version("mlx-vlm")


def hf_reference(hf_folder: Path, *, steps: int = 16) -> list[tuple[list[int], list[int], np.ndarray]]:
    """Per check prompt: its ids, HF's greedy continuation and HF's logits there (computed once for
    every bit width)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    from zen_vl.export.gguf_check import PROMPTS, hf_continuation, prompt_ids

    tokenizer = AutoTokenizer.from_pretrained(hf_folder, local_files_only=True)  # the template lives here
    hf = AutoModelForImageTextToText.from_pretrained(
        hf_folder, dtype=torch.float32, local_files_only=True
    ).eval()
    stop = hf.generation_config.eos_token_id
    stop = set(stop if isinstance(stop, list) else [stop])
    out = []
    for text in PROMPTS:
        ids = prompt_ids(tokenizer, text)
        tokens, ref = hf_continuation(hf, ids, steps, stop)
        out.append((ids, tokens, ref))
    return out


def mlx_logit_check(mlx_folder: Path, reference: list) -> dict:
    """Over each prompt's last position and HF's greedy continuation fed to both: max |Δ logit| and
    the share of positions where MLX's argmax is HF's (`top1_exact`), or lies within a near-tie that
    the measured |Δ| explains (`top1_agreement`)."""
    import mlx.core as mx
    from mlx_vlm.utils import load_model

    model = load_model(Path(mlx_folder))  # the weights alone: the check needs no processor
    diffs, agree, exact, total = [], 0, 0, 0
    for ids, tokens, ref in reference:
        out = model(mx.array([ids + tokens]))
        got = np.array(out.logits[0].astype(mx.float32))[len(ids) - 1 : len(ids) - 1 + len(ref)]
        diff = float(np.abs(got - ref).max())
        diffs.append(diff)
        picked = got.argmax(-1)
        same = picked == ref.argmax(-1)
        # a different pick inside a near-tie (HF's logits closer than 2x this prompt's max |d|) agrees
        gap = ref.max(-1) - ref[np.arange(len(ref)), picked]
        agree += int((same | (gap <= 2 * diff)).sum())
        exact += int(same.sum())
        total += len(ref)
    return {
        "max_abs_diff": max(diffs),
        "top1_agreement": agree / total,
        "top1_exact": exact / total,
        "positions": total,
    }


def export_mlx(
    cfg: ZenConfig, layout: Layout | None = None, *, force: bool = False, progress: bool = True
) -> list[Path]:
    layout = layout or Layout.default()
    merged = layout.finetuned(cfg.variant, cfg.size) / "merged"
    require_finetuned(merged.parent, cfg.size, cfg.variant)
    version = _require_mlx()
    source = file_hash(merged.parent / PROVENANCE)[:16]
    todo = {}
    for bits in cfg.export.mlx_bits:
        dest = layout.mlx(cfg.variant, cfg.size, bits)
        if current(dest, MLX_MANIFEST, f"{source}-{bits}-{version}") and not force:
            if progress:
                print(f"mlx: up to date ({dest})")
        else:
            todo[bits] = dest
    if todo:
        start = time.perf_counter()
        with contextlib.ExitStack() as stack:
            tmps = {bits: stack.enter_context(building(dest, replace=True)) for bits, dest in todo.items()}
            # One child converts and checks every bit width: one mlx_vlm import, one HF reference.
            checks = json.loads(_child("BUILD", merged, *(f"{b}={t}" for b, t in tmps.items())))
            seconds = round((time.perf_counter() - start) / len(todo), 1)
            for bits, tmp in tmps.items():
                check = checks[str(bits)]
                if progress:
                    print(
                        f"mlx: {todo[bits].name}: max |d logit| {check['max_abs_diff']:.3f}, top-1 agreement "
                        f"with HF {check['top1_agreement']:.2f} over {check['positions']} positions"
                    )
                manifest = {"fingerprint": f"{source}-{bits}-{version}", "source": str(merged), "bits": bits}
                manifest |= {"mlx_vlm": version, "check": check, "seconds": seconds, "hardware": cpu_name()}
                write_json(tmp / MLX_MANIFEST, manifest)
    out = [layout.mlx(cfg.variant, cfg.size, bits) for bits in cfg.export.mlx_bits]
    rebuild = f"make mlx SIZE={cfg.size} VARIANT={cfg.variant} FORCE=1"
    write_json(
        layout.mlx_index(cfg.variant, cfg.size),
        {"source": str(merged), "folders": {d.name: read_manifest(d, MLX_MANIFEST, rebuild) for d in out}},
    )
    return out


def mlx_available() -> str | None:
    """None when mlx and mlx-vlm are importable, else what is missing and how to install it."""
    try:
        _require_mlx()
    except ZenError as exc:
        return str(exc)
    return None


def _child(*args) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "zen_vl.export.mlx", *map(str, args)], capture_output=True, text=True
    )
    if run.returncode != 0:
        raise ZenError(f"mlx {args[0].lower()} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    return run.stdout.strip().splitlines()[-1]


def mlx_answer(folder: Path, image: Path, prompt: str) -> str:
    """mlx-vlm's greedy answer (8 tokens) to an image prompt, in a child process."""
    return json.loads(_child("ASK", folder, image, prompt))["text"]


def _ask(folder: str, image: str, prompt: str) -> dict:
    from mlx_vlm import generate, load
    from mlx_vlm.prompt_utils import apply_chat_template

    model, processor = load(folder)
    text = apply_chat_template(processor, model.config, prompt, num_images=1)
    return {
        "text": generate(
            model, processor, text, image=[image], max_tokens=8, temperature=0.0, verbose=False
        ).text
    }


def _build(hf_folder: str, *targets: str) -> dict:
    """mlx-vlm's own converter for each `bits=folder`, then the logit check, in one process."""
    import io

    from mlx_vlm import convert

    checks = {}
    reference = hf_reference(Path(hf_folder))
    for target in targets:
        bits, folder = target.split("=", 1)
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log):
                convert(hf_folder, folder, quantize=True, q_bits=int(bits), trust_remote_code=False)
        except Exception as exc:
            raise SystemExit(f"mlx_vlm convert ({bits}-bit) failed: {exc}\n{log.getvalue()[-2000:]}") from exc
        checks[bits] = mlx_logit_check(Path(folder), reference)
    return checks


if __name__ == "__main__":
    verb, *rest = sys.argv[1:]
    if verb == "BUILD":
        result = _build(*rest)
    elif verb == "CHECK":
        result = mlx_logit_check(Path(rest[0]), hf_reference(Path(rest[1])))
    else:
        result = _ask(*rest)
    print(json.dumps(result))
