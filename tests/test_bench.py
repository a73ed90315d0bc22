"""make bench on tiny (CPU): both modes run on the same model and batch, and the report is complete."""

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_gpu_bench_dry_runs_on_cpu_and_compares_both_modes_on_the_same_start(tmp_path):
    # make bench-gpu as a lent GPU runs it, on the tiny shape on the CPU: both batches side by side,
    # the mixed one with every optimisation flipped
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path), "OUT": str(tmp_path / "out")}
    cmd = ["make", "bench-gpu", "SIZES=tiny", "DEVICE=cpu", "STEPS=1", "WARMUP=0", "bench.batch_size=2"]
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert "ours with" in (tmp_path / "out" / "bench-gpu.md").read_text()
    assert set(record["batches"]) == {"fixed", "mixed"} and record["collate_samples_per_s"] > 0
    for kind, results in record["batches"].items():
        base, ours = results["baseline"], results["ours"]
        # same weights, same batch, adapters start at 0: the same first loss, labelled so
        assert abs(base["first_loss"] - ours["first_loss"]) < 1e-4 and base["exactness"] == "exact"
        for r in (base, ours):
            assert r["tokens_per_s"] > 0 and r["peak_memory_gb"] > 0 and r["batch"]["kind"] == kind
            assert abs(sum(r["split"].values()) - 1) < 1e-6
            assert (r["split"]["vision"] > 0) == (r["batch"]["patches"] > 0)
            assert r["saved_activations"]["bytes_per_token_layer"] > 0
        # ours keeps fewer bytes for backward than HF + peft (logits only where supervised)
        assert ours["saved_activations"]["bytes"] < base["saved_activations"]["bytes"]
        assert ours["batch"]["supervised"] < ours["batch"]["tokens"]
        assert ours["kernels"]["patch_embed"] in ("linear", "conv3d")
        assert base["kernels"]["patch_embed"] == "conv3d"
        assert ours["checkpointed_layers"] == 0  # auto: tiny fits this machine without
    assert not record["batches"]["fixed"]["ablations"]
    # Each optimisation turned the other way: the same loss (exact kernels), its own speed and memory.
    flips = record["batches"]["mixed"]["ablations"]
    ours = record["batches"]["mixed"]["ours"]
    assert {f.split("=")[0] for f in flips} == {
        "train.attention",
        "train.patch_embed",
        "train.gradient_checkpointing",
        "lora.fused_projections",
    }
    assert flips["lora.fused_projections=true"]["kernels"]["fused_projections"] is True
    forced = flips["train.gradient_checkpointing=true"]  # every layer, fewer bytes kept for backward
    assert forced["gradient_checkpointing"] is True and forced["checkpointed_layers"] > 0
    assert forced["saved_activations"]["bytes"] < ours["saved_activations"]["bytes"]
    assert flips["train.attention=eager"]["kernels"]["attention"] == "eager"
    for flip in flips.values():
        assert abs(flip["first_loss"] - ours["first_loss"]) < 1e-4 and flip["tokens_per_s"] > 0
        assert flip["exactness"] == "exact"
    # the mixed batch is padded: lengths differ, drawn from the variants' own samples
    mixed = ours["batch"]
    assert mixed["padded"] > mixed["tokens"] and len(mixed["drawn"]) == 2


def test_make_bench_writes_its_record(tmp_path):
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path)}
    cmd = ["make", "bench", "BATCH=fixed", "STEPS=1", "WARMUP=0", "bench.batch_size=2"]
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    (result,) = (tmp_path / "bench" / "results").glob("tiny-cpu-*.json")
    record = json.loads(result.read_text())
    assert list(record["batches"]) == ["fixed"] and "tokens/s" in run.stdout
