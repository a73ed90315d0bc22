"""Run the baseline and our path side by side (one child process each), add the collate rate, print
the table and write bench/results/<size>-<device>-<UTC time>.json."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from zen_vl.artifacts import git_commit, versions
from zen_vl.atomic import write_json
from zen_vl.errors import ZenError
from zen_vl.paths import Layout

MODES = ("baseline", "ours")


def _child(mode: str, size: str, device: str, steps: int, warmup: int, overrides: list[str]) -> dict:
    cmd = [sys.executable, "-m", "zen_vl.bench.run", mode, size, device, str(steps), str(warmup), *overrides]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise ZenError(
            f"bench {mode} on {size}/{device} failed (exit {run.returncode}):\n{run.stderr[-3000:]}"
        )
    return json.loads(run.stdout.strip().splitlines()[-1])


def collate_rate(size: str, overrides: list[str], seconds: float = 3.0) -> float:
    """Samples per second through chat.render + the collator on one CPU core's worth of work."""
    from zen_vl.base.tiny import build_processor
    from zen_vl.bench.batch import fixed_batch
    from zen_vl.config import load_config

    cfg = load_config(size, "instruct", overrides)
    processor = build_processor("instruct")
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fixed_batch(processor, samples=cfg.bench.batch_size, image_tokens=cfg.bench.image_tokens,
                    text_tokens=cfg.bench.text_tokens, answer_share=cfg.bench.answer_share,
                    vision_kwargs=cfg.vision.processor_kwargs)  # fmt: skip
        done += cfg.bench.batch_size
    return done / (time.perf_counter() - start)


def table(results: dict) -> str:
    rows = [("", *MODES, "ours/baseline")]
    b, o = results["baseline"], results["ours"]

    def add(label, key, fmt):
        ratio = o[key] / b[key] if b[key] else float("nan")
        rows.append((label, fmt.format(b[key]), fmt.format(o[key]), f"{ratio:.2f}x"))

    add("tokens/s", "tokens_per_s", "{:.0f}")
    add("samples/s", "samples_per_s", "{:.2f}")
    add("step s", "step_s", "{:.3f}")
    add(f"peak memory GB ({o['memory_kind']})", "peak_memory_gb", "{:.2f}")
    add("TFLOP/s", "tflops_per_s", "{:.2f}")
    for part in ("vision", "language_model", "backward", "optimizer"):
        rows.append((f"  {part} share", f"{b['split'][part]:.0%}", f"{o['split'][part]:.0%}", ""))
    mfu = [r["mfu"] for r in (b, o)]
    rows.append(("MFU", *("n/a (no peak for this device)" if m is None else f"{m:.1%}" for m in mfu), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def ablations(size: str, device: str, overrides: list[str]) -> list[str]:
    """One override per optimisation, each turning it the other way from the configured path."""
    from zen_vl.config import load_config

    t = load_config(size, "instruct", overrides).train
    flips = [
        f"train.attention={'eager' if t.attention != 'eager' else 'sdpa'}",
        f"train.patch_embed={'conv3d' if t.patch_embed != 'conv3d' else 'linear'}",
        f"train.gradient_checkpointing={str(not t.gradient_checkpointing).lower()}",
    ]
    if device.startswith("cuda"):  # Triton kernels and bf16 matmuls need the GPU
        flips.append(f"train.liger={str(not t.liger).lower()}")
        flips.append(f"train.precision={'fp32' if t.precision != 'fp32' else 'bf16'}")
    return flips


def ablation_table(ours: dict, runs: dict[str, dict]) -> str:
    rows = [("ours with", "tokens/s", "vs ours", "peak memory GB", "vs ours")]
    for flip, r in runs.items():
        rows.append((flip, f"{r['tokens_per_s']:.0f}", f"{r['tokens_per_s'] / ours['tokens_per_s']:.2f}x",
                     f"{r['peak_memory_gb']:.2f}", f"{r['peak_memory_gb'] / ours['peak_memory_gb']:.2f}x"))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def run_bench(
    size: str,
    device: str,
    *,
    steps: int,
    warmup: int,
    overrides: list[str],
    ablate: bool = False,
    layout=None,
) -> Path:
    layout = layout or Layout.default()
    results = {mode: _child(mode, size, device, steps, warmup, overrides) for mode in MODES}
    runs = {}
    if ablate:
        for flip in ablations(size, device, overrides):
            print(f"bench: ours with {flip}", flush=True)
            runs[flip] = _child("ours", size, device, steps, warmup, [*overrides, flip])
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "size": size,
        "device": results["ours"]["device"],
        "date": stamp,
        "overrides": overrides,
        "versions": versions(),
        "git": git_commit(),
        "collate_samples_per_s": collate_rate(size, overrides),
        **results,
        "speedup_tokens_per_s": results["ours"]["tokens_per_s"] / results["baseline"]["tokens_per_s"],
        "memory_ratio": results["ours"]["peak_memory_gb"] / results["baseline"]["peak_memory_gb"],
        "ablations": runs,
    }
    dest = layout.root / "bench" / "results" / f"{size}-{device.replace(':', '')}-{stamp}.json"
    write_json(dest, record)
    print(f"bench {size} on {record['device']} ({steps} timed steps after {warmup} warm-up)")
    print(table(results))
    if runs:
        print(ablation_table(results["ours"], runs))
    print(f"collate: {record['collate_samples_per_s']:.1f} samples/s (render + pad, one process)")
    print(f"results: {dest}")
    return dest
