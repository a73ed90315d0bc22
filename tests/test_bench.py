"""make bench on tiny (CPU): both modes run on the same model and batch, and the report is complete."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_compares_both_modes_on_the_same_start(tmp_path):
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path)}
    cmd = [
        sys.executable,
        "scripts/bench.py",
        "--size",
        "tiny",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--ablate",
        "bench.batch_size=2",
    ]
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    (result,) = (tmp_path / "bench" / "results").glob("tiny-cpu-*.json")
    record = json.loads(result.read_text())
    base, ours = record["baseline"], record["ours"]
    assert (
        abs(base["first_loss"] - ours["first_loss"]) < 1e-4
    )  # same weights, same batch, adapters start at 0
    for r in (base, ours):
        assert r["tokens_per_s"] > 0 and r["peak_memory_gb"] > 0
        assert abs(sum(r["split"].values()) - 1) < 1e-6 and r["split"]["vision"] > 0
    assert ours["batch"]["supervised"] < ours["batch"]["tokens"]
    assert record["collate_samples_per_s"] > 0 and "tokens/s" in run.stdout
    assert (
        ours["kernels"]["patch_embed"] in ("linear", "conv3d") and base["kernels"]["patch_embed"] == "conv3d"
    )
    # Each optimisation turned the other way: the same loss (exact kernels), its own speed and memory.
    flips = record["ablations"]
    assert {f.split("=")[0] for f in flips} == {
        "train.attention",
        "train.patch_embed",
        "train.gradient_checkpointing",
    }
    assert flips["train.gradient_checkpointing=true"]["gradient_checkpointing"] is True
    assert flips["train.attention=eager"]["kernels"]["attention"] == "eager"
    for flip in flips.values():
        assert abs(flip["first_loss"] - ours["first_loss"]) < 1e-4 and flip["tokens_per_s"] > 0
    assert "ours with" in run.stdout
