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


BATCHES = ("fixed", "mixed")


def _child(
    mode: str, size: str, device: str, steps: int, warmup: int, overrides: list[str], batch: Path
) -> dict:
    cmd = [sys.executable, "-m", "zen_vl.bench.run", mode, size, device, str(steps), str(warmup), str(batch),
           *overrides]  # fmt: skip
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
    rows.append(("saved activations B/token/layer", *(f"{r['saved_activations']['bytes_per_token_layer']:.0f}" for r in (b, o)),
                f"{o['saved_activations']['bytes'] / b['saved_activations']['bytes']:.2f}x"))  # fmt: skip
    rows.append(("warm-up steps s (compile, autotune)", *(" ".join(f"{x:.2f}" for x in r["warmup_step_s"]) or "-" for r in (b, o)), ""))  # fmt: skip
    for key, label in (("mfu", "MFU (4N, the work LoRA needs)"), ("mfu_6n", "MFU (6N-equivalent)")):
        mfu = [r[key] for r in (b, o)]
        rows.append((label, *("n/a (no peak for this device)" if m is None else f"{m:.1%}" for m in mfu), ""))
    rows.append(("first loss", f"{b['first_loss']:.4f}", f"{o['first_loss']:.4f}", b["exactness"]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def ablations(size: str, device: str, overrides: list[str]) -> list[str]:
    """One override per optimisation, each turning it the other way from the configured path."""
    from zen_vl.config import load_config

    cfg = load_config(size, "instruct", overrides)
    t = cfg.train
    checkpointing = {"auto": "true", True: "false", False: "true"}[t.gradient_checkpointing]
    flips = [
        f"train.attention={'eager' if t.attention != 'eager' else 'sdpa'}",
        f"train.patch_embed={'conv3d' if t.patch_embed != 'conv3d' else 'linear'}",
        f"train.gradient_checkpointing={checkpointing}",
    ]
    if cfg.lora.dropout:
        flips.append(f"lora.shared_dropout={str(not cfg.lora.shared_dropout).lower()}")
    flips.append(f"lora.fused_projections={str(not cfg.lora.fused_projections).lower()}")
    if device.startswith("cuda"):  # Triton kernels and bf16 matmuls need the GPU
        flips.append(f"train.liger={str(not t.liger).lower()}")
        flips.append(
            f"train.attention={'varlen' if t.attention != 'varlen' else 'sdpa'}"
        )  # torch's FlashAttention
        flips.append(f"train.precision={'fp32' if t.precision != 'fp32' else 'bf16'}")
        flips.append(f"train.lora_input_cast={str(not t.lora_input_cast).lower()}")  # a no-op in fp32
        flips.append(f"train.compile={str(not t.compile).lower()}")  # inductor on the CPU: minutes
    return flips


def exactness(reference: dict, run: dict) -> str:
    """`exact`: the first step's loss and gradient norm (same weights, batch and seeds) equal up to the
    precision's rounding; otherwise the setting changes what is computed, a `recipe change`. The
    first step is the one to compare: the adapters start at zero, so the loss alone cannot tell, and
    after one AdamW step (sign-like updates) rounding differences of the gradients grow to lr size."""
    tolerance = 1e-4 if run["precision"] == "fp32" else 2e-2

    def gap(key):
        return abs(run[key] - reference[key]) / max(1e-12, abs(reference[key]))

    return (
        "exact" if gap("first_loss") <= tolerance and gap("first_grad_norm") <= tolerance else "recipe change"
    )


def ablation_table(ours: dict, runs: dict[str, dict]) -> str:
    rows = [("ours with", "tokens/s", "vs ours", "peak memory GB", "vs ours", "saved B/token/layer", "")]
    for flip, r in runs.items():
        rows.append((flip, f"{r['tokens_per_s']:.0f}", f"{r['tokens_per_s'] / ours['tokens_per_s']:.2f}x",
                     f"{r['peak_memory_gb']:.2f}", f"{r['peak_memory_gb'] / ours['peak_memory_gb']:.2f}x",
                     f"{r['saved_activations']['bytes_per_token_layer']:.0f}", r["exactness"]))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(7)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def side_by_side(size, device, *, steps, warmup, overrides, ablate, batch: Path, deadline=None) -> dict:
    """Baseline, ours and (ablate) ours with each optimisation flipped, on one saved batch; flips not
    started by `deadline` (time.monotonic) are listed as skipped."""
    results = {mode: _child(mode, size, device, steps, warmup, overrides, batch) for mode in MODES}
    results["baseline"]["exactness"] = exactness(results["ours"], results["baseline"])
    runs, skipped = {}, []
    for flip in ablations(size, device, overrides) if ablate else []:
        if deadline is not None and time.monotonic() > deadline:
            skipped.append(flip)
            continue
        print(f"bench: ours with {flip}", flush=True)
        runs[flip] = _child("ours", size, device, steps, warmup, [*overrides, flip], batch)
        runs[flip]["exactness"] = exactness(results["ours"], runs[flip])
    return {
        **results,
        "speedup_tokens_per_s": results["ours"]["tokens_per_s"] / results["baseline"]["tokens_per_s"],
        "memory_ratio": results["ours"]["peak_memory_gb"] / results["baseline"]["peak_memory_gb"],
        "ablations": runs,
        "skipped_ablations": skipped,
    }


def run_bench(
    size: str,
    device: str,
    *,
    steps: int,
    warmup: int,
    overrides: list[str],
    ablate: bool = False,
    batches: tuple[str, ...] = BATCHES,
    ablate_batches: tuple[str, ...] | None = None,
    dest: Path | None = None,
    layout=None,
    deadline: float | None = None,
) -> Path:
    """Each batch kind side by side; ablations on `ablate_batches` (default: all of `batches`), those
    not started by `deadline` skipped. Writes the record to `dest` (default
    bench/results/<size>-<device>-<UTC time>.json)."""
    import tempfile

    import torch

    from zen_vl.bench.run import bench_batch

    layout = layout or Layout.default()
    ablate_batches = batches if ablate_batches is None else ablate_batches
    by_batch = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in batches:
            saved = Path(tmp) / f"{kind}.pt"
            torch.save(bench_batch(kind, size, overrides), saved)
            print(f"bench {size}: {kind} batch", flush=True)
            by_batch[kind] = side_by_side(size, device, steps=steps, warmup=warmup, overrides=overrides,
                                          ablate=ablate and kind in ablate_batches, batch=saved,
                                          deadline=deadline)  # fmt: skip
    first = by_batch[batches[0]]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "size": size,
        "device": first["ours"]["device"],
        "date": stamp,
        "overrides": overrides,
        "versions": versions(),
        "git": git_commit(),
        "collate_samples_per_s": collate_rate(size, overrides),
        "batches": by_batch,
    }
    dest = dest or layout.root / "bench" / "results" / f"{size}-{device.replace(':', '')}-{stamp}.json"
    write_json(dest, record)
    print(f"bench {size} on {record['device']} ({steps} timed steps after {warmup} warm-up)")
    for kind, results in by_batch.items():
        b = results["ours"]["batch"]
        print(f"\n{kind} batch: {b['samples']} samples, {b['tokens']} tokens ({b['padded']} with padding), "
              f"{b['supervised']} supervised")  # fmt: skip
        print(table(results))
        if results["ablations"]:
            print(ablation_table(results["ours"], results["ablations"]))
    print(f"collate: {record['collate_samples_per_s']:.1f} samples/s (render + pad, one process)")
    print(f"results: {dest}")
    return dest
