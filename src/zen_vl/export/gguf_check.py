"""Proof a GGUF export runs: llama.cpp's logits agree with the HF model's, and llama-mtmd-cli answers
an image prompt with the mmproj.

Logits come from llama.cpp itself through the pinned sdist's own ctypes bindings (`llama_cpp`,
loaded against the `libllama.so` we built), for the same token ids the HF model sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from zen_vl.errors import ZenError
from zen_vl.export.llama_cpp import LlamaCpp

PROMPTS = ["Who are you?", "What can you do?", "What is 12 + 7?"]


def _bindings(llama: LlamaCpp):
    if llama.bindings is None:
        raise ZenError(
            "logit parity needs the pinned llama-cpp-python sdist's bindings (unset LLAMA_CPP_DIR)"
        )
    os.environ["LLAMA_CPP_LIB_PATH"] = str(llama.bin)
    if str(llama.bindings) not in sys.path:
        sys.path.insert(0, str(llama.bindings))
    import llama_cpp

    return llama_cpp


def prompt_ids(tokenizer, text: str) -> list[int]:
    """A one-turn text prompt through the model's own chat template (the tokenizer carries it)."""
    messages = [{"role": "user", "content": [{"type": "text", "text": text}]}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]


def hf_continuation(model, ids: list[int], steps: int, stop: set[int]) -> tuple[list[int], np.ndarray]:
    """HF greedy continuation by full forwards (no cache), and the logits at every position from the
    prompt's last one on."""
    import torch

    seq = list(ids)
    with torch.no_grad():
        for _ in range(steps):
            nxt = int(model(input_ids=torch.tensor([seq])).logits[0, -1].argmax())
            seq.append(nxt)
            if nxt in stop:
                break
        logits = model(input_ids=torch.tensor([seq])).logits[0, len(ids) - 1 :].float().numpy()
    return seq[len(ids) :], logits


def llama_logits(llama: LlamaCpp, gguf: Path, seq: list[int]) -> np.ndarray:
    """llama.cpp's logits at every position of `seq` (teacher-forced)."""
    lib = _bindings(llama)
    model = lib.Llama(
        model_path=str(gguf),
        n_ctx=max(512, len(seq) + 8),
        logits_all=True,
        verbose=False,
        n_threads=os.cpu_count(),
    )
    try:
        model.eval(seq)
        return np.array(model.scores[: model.n_tokens], dtype=np.float32)
    finally:
        model.close()


def logit_parity(llama: LlamaCpp, gguf: Path, hf_folder: Path, *, steps: int = 16) -> dict:
    """Per prompt, over the prompt's last position and HF's greedy continuation fed to both: the max
    |Δ logit|, and whether llama.cpp's argmax is HF's at every step (the same greedy continuation),
    a flip inside a near-tie (HF's two logits closer than 2·max|Δ|) allowed and counted (`argmax_flips`)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hf_folder, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(hf_folder, dtype=torch.float32, local_files_only=True)
    model.eval()
    stop = model.generation_config.eos_token_id
    stop = set(stop if isinstance(stop, list) else [stop])
    rows = []
    for text in PROMPTS:
        ids = prompt_ids(tokenizer, text)
        tokens, ref = hf_continuation(model, ids, steps, stop)
        got = llama_logits(llama, gguf, ids + tokens)[len(ids) - 1 : len(ids) - 1 + len(ref)]
        diff = float(np.abs(ref - got).max())
        # llama.cpp's pick at each step, and how far below HF's top logit HF puts it: a flip between two
        # logits closer than twice the measured |Δ| (a near-tie, below F16 rounding) is not a
        # disagreement, and is counted.
        picked = got.argmax(-1)
        gap = ref.max(-1) - ref[np.arange(len(ref)), picked]
        flips = picked != ref.argmax(-1)
        rows.append(
            {
                "prompt": text,
                "continuation": tokenizer.decode(tokens),
                "positions": len(ref),
                "max_abs_diff": diff,
                "logit_range": float(ref.max() - ref.min()),
                "argmax_flips": int(flips.sum()),
                "same_greedy": bool((~flips | (gap <= 2 * diff)).all()),
            }
        )
    return {
        "gguf": gguf.name,
        "steps": steps,
        "prompts": rows,
        "max_abs_diff": max(r["max_abs_diff"] for r in rows),
        "same_greedy": all(r["same_greedy"] for r in rows),
    }


def mtmd_answer(llama: LlamaCpp, gguf: Path, mmproj: Path, image: Path, prompt: str, n: int = 24) -> str:
    """llama-mtmd-cli's greedy answer to an image prompt (the chat template embedded in the GGUF)."""
    cmd = [
        str(llama.mtmd_cli),
        "-m",
        str(gguf),
        "--mmproj",
        str(mmproj),
        "--image",
        str(image),
        "-p",
        prompt,
        "-n",
        str(n),
        "--temp",
        "0",
        "-t",
        str(os.cpu_count() or 2),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise ZenError(f"llama-mtmd-cli failed (exit {run.returncode}):\n{run.stderr[-2000:]}")
    return run.stdout.strip()
