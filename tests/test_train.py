"""The training engine on the tiny models: it trains what it should, resumes, merges exactly.

What the trained models can do is tested through `make eval`'s code path in test_identity.py,
test_visual_understanding.py and test_function_calling.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from tiny_runs import PROBE, SHORT
from transformers import AutoModelForImageTextToText, TrainerCallback

from zen_vl.artifacts import PROVENANCE, read_manifest
from zen_vl.config import load_config
from zen_vl.paths import Layout
from zen_vl.train.engine import train
from zen_vl.train.merge import tensor_keys
from zen_vl.train.model import TrainError, load_model

REPO = Path(__file__).resolve().parents[1]


def tensor_names(handle) -> list[str]:
    return list(handle.keys())  # a safetensors handle is not iterable


def test_every_trainable_parameter_changed_and_no_frozen_one_did(train_tiny):
    _, layout, _ = train_tiny("instruct", PROBE)
    adapter = layout.finetuned("instruct", "tiny") / "adapter" / "adapter_model.safetensors"
    with safe_open(adapter, framework="pt") as fh:
        lora_b = [fh.get_tensor(k) for k in tensor_names(fh) if "lora_B" in k]
        assert lora_b and all(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: every adapter moved
    base, merged = layout.base("tiny"), layout.finetuned("instruct", "tiny") / "merged"
    changed, same = set(), set()
    with (
        safe_open(next(base.glob("*.safetensors")), framework="pt") as b,
        safe_open(next(merged.glob("*.safetensors")), framework="pt") as m,
    ):
        assert set(b.keys()) == set(m.keys())
        for k in tensor_names(b):
            (same if torch.equal(b.get_tensor(k), m.get_tensor(k)) else changed).add(k)
    assert any(".visual.merger." in k for k in changed)  # merger trains in full (freeze_merger: false)
    assert any("language_model.layers.0.self_attn.q_proj" in k for k in changed)  # LoRA merged in
    assert not any(".visual.blocks." in k or "patch_embed" in k for k in changed)  # vision tower frozen
    assert not any("embed_tokens" in k or "norm" in k.split(".")[-2] for k in changed if "merger" not in k)


def test_merged_equals_adapter_on_base(train_tiny):
    from peft import PeftModel

    _, layout, _ = train_tiny("instruct", PROBE)
    dest = layout.finetuned("instruct", "tiny")
    record = read_manifest(dest, PROVENANCE)
    assert record["verification"]["keys_equal_base"] and record["verification"]["max_abs_logit_diff"] < 1e-3
    assert (
        record["data"]["content_hash"]
        and record["versions"]["transformers"]
        and record["config"]["size"] == "tiny"
    )
    assert record["run_fingerprint"] and "commit" in record["git"]
    config = json.loads((dest / "merged" / "config.json").read_text())
    assert "rope_theta" in config["text_config"] and config["vision_config"]["model_type"] == "qwen3_vl"
    base = AutoModelForImageTextToText.from_pretrained(layout.base("tiny"))
    on_base = PeftModel.from_pretrained(base, dest / "adapter").eval()
    merged = AutoModelForImageTextToText.from_pretrained(dest / "merged").eval()
    ids = torch.tensor([[151644, 872, 198, 3838, 374, 419, 30, 151645, 198, 151644, 77091, 198]])
    with torch.no_grad():
        diff = (on_base(input_ids=ids).logits - merged(input_ids=ids).logits).abs().max().item()
    assert diff < 1e-4


class _Stop(TrainerCallback):
    def __init__(self, at):
        self.at = at

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.at:
            raise KeyboardInterrupt("simulated crash")


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path, tiny_root):
    layout = Layout(tmp_path)
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "tiny").symlink_to(tiny_root.base("tiny"), target_is_directory=True)
    cfg = load_config("tiny", "instruct", [*SHORT, "train.max_steps=6", "train.save_steps=2"])
    with pytest.raises(KeyboardInterrupt):
        train(cfg, layout, progress=False, callbacks=[_Stop(3)])
    ckpts = sorted(p.name for p in layout.training("instruct", "tiny").glob("checkpoint-*"))
    assert ckpts == ["checkpoint-2"] and not layout.finetuned("instruct", "tiny").exists()
    result = train(cfg, layout, progress=False)
    assert result.resumed_from.endswith("checkpoint-2") and result.steps == 6
    state = json.loads(
        (layout.training("instruct", "tiny") / "checkpoint-6" / "trainer_state.json").read_text()
    )
    assert state["global_step"] == 6
    assert read_manifest(layout.finetuned("instruct", "tiny"), PROVENANCE)["resumed_from"].endswith(
        "checkpoint-2"
    )
    again = train(cfg, layout, progress=False)
    assert again.skipped  # up to date: nothing retrained

    # A new configuration after a finished run starts over (that run's checkpoints are spent) ...
    changed = load_config(
        "tiny", "instruct", [*SHORT, "train.max_steps=6", "train.save_steps=2", "train.lr=5e-4"]
    )
    with pytest.raises(KeyboardInterrupt):
        train(changed, layout, progress=False, callbacks=[_Stop(3)])
    ckpts = sorted(p.name for p in layout.training("instruct", "tiny").glob("checkpoint-*"))
    assert ckpts == ["checkpoint-2"]
    # ... but the checkpoints of an unfinished run are never resumed by, or lost to, another one.
    third = load_config(
        "tiny", "instruct", [*SHORT, "train.max_steps=6", "train.save_steps=2", "train.lr=2e-4"]
    )
    with pytest.raises(TrainError, match="another configuration"):
        train(third, layout, progress=False)


def test_the_moe_twin_trains_lora_on_its_fused_experts(train_tiny):
    cfg, layout, _ = train_tiny("agent", [*SHORT, "train.max_steps=4"], size="tiny-moe")
    assert cfg.lora.target_parameters
    dest = layout.finetuned("agent", "tiny-moe")
    with safe_open(dest / "adapter" / "adapter_model.safetensors", framework="pt") as fh:
        expert_keys = [k for k in tensor_names(fh) if "experts" in k]
    assert expert_keys, "no LoRA on the experts"
    base = layout.base("tiny-moe")
    assert tensor_keys(dest / "merged") == tensor_keys(base)
    with (
        safe_open(next(base.glob("*.safetensors")), framework="pt") as b,
        safe_open(next((dest / "merged").glob("*.safetensors")), framework="pt") as m,
    ):
        experts = [k for k in tensor_names(b) if "mlp.experts.gate_up_proj" in k]
        routers = [k for k in tensor_names(b) if "mlp.gate.weight" in k]
        assert experts and routers
        assert any(not torch.equal(b.get_tensor(k), m.get_tensor(k)) for k in experts)
        assert all(torch.equal(b.get_tensor(k), m.get_tensor(k)) for k in routers)  # the router stays frozen
    assert read_manifest(dest, PROVENANCE)["verification"]["max_abs_logit_diff"] < 1e-3


def test_qlora_on_cpu_is_a_clear_error(tiny_root):
    cfg = load_config("tiny", "instruct", ["lora.method=qlora"])
    with pytest.raises(TrainError, match="CUDA GPU"):
        load_model(cfg, tiny_root.base("tiny"))


@pytest.mark.slow
def test_make_train_agent_then_make_eval(tiny_root, tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "tiny").symlink_to(tiny_root.base("tiny"), target_is_directory=True)
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        ["make", "-s", "train-agent", "SIZE=tiny", *SHORT, "train.max_steps=3"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "trained agent/tiny: 3 steps" in run.stdout
    assert read_manifest(tmp_path / "agent" / "finetuned" / "tiny", PROVENANCE)["verification"][
        "keys_equal_base"
    ]

    def make_eval():
        cmd = ["make", "-s", "eval", "SIZE=tiny", "VARIANT=agent", *SHORT, "train.max_steps=3"]
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)

    run = make_eval()
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "agent" / "finetuned" / "tiny" / "eval" / "results.json").read_text())
    assert list(results["models"]) == ["base", "finetuned"] and results["test_set"]["samples"] == 4
    assert "| metric | base | finetuned | change | n |" in run.stdout and "calls/ast_accuracy" in run.stdout
    again = make_eval()  # nothing changed: the records are reused, the table rewritten
    assert again.returncode == 0 and "base on test: up to date" in again.stdout


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes_agree(tiny_root, tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "tiny").symlink_to(tiny_root.base("tiny"), target_is_directory=True)
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    build = subprocess.run(
        [sys.executable, "scripts/build_data.py", "--variant", "instruct", *SHORT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    run = subprocess.run(
        [
            sys.executable,
            "scripts/train.py",
            "--variant",
            "instruct",
            "--nproc",
            "2",
            *SHORT,
            "train.max_steps=3",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [
        json.loads(p.read_text())
        for p in sorted((tmp_path / "instruct" / "training" / "tiny" / "ranks").glob("*.json"))
    ]
    assert len(ranks) == 2 and ranks[0] == ranks[1] and ranks[0]["steps"] == 3
    assert (
        read_manifest(tmp_path / "instruct" / "finetuned" / "tiny", PROVENANCE)["metrics"]["world_size"] == 2
    )


def test_full_fine_tuning_trains_only_the_unfrozen_components(train_tiny):
    _, layout, _ = train_tiny(
        "instruct",
        [*SHORT, "train.max_steps=2", "lora.method=full", "train.freeze_merger=true", "train.freeze_embeddings=true",
         "train.lr=1e-4"],
    )  # fmt: skip
    dest = layout.finetuned("instruct", "tiny")
    assert not (dest / "adapter").exists()
    changed = set()
    with (
        safe_open(next(layout.base("tiny").glob("*.safetensors")), framework="pt") as b,
        safe_open(next((dest / "merged").glob("*.safetensors")), framework="pt") as m,
    ):
        for k in tensor_names(b):
            if not torch.equal(b.get_tensor(k), m.get_tensor(k)):
                changed.add(k)
    assert any("language_model.layers" in k for k in changed)
    assert not any(".visual." in k for k in changed)  # vision tower and merger frozen
    assert not any("embed_tokens" in k or "lm_head" in k for k in changed)  # freeze_embeddings (tied head)
    assert read_manifest(dest, PROVENANCE)["verification"]["max_abs_logit_diff"] < 1e-3


def test_dora_adapters_train_and_merge_exactly(train_tiny):
    _, layout, _ = train_tiny("instruct", [*SHORT, "train.max_steps=2", "lora.method=dora"])
    dest = layout.finetuned("instruct", "tiny")
    with safe_open(dest / "adapter" / "adapter_model.safetensors", framework="pt") as fh:
        assert any("lora_magnitude_vector" in k for k in tensor_names(fh))
    assert read_manifest(dest, PROVENANCE)["verification"]["max_abs_logit_diff"] < 1e-3
