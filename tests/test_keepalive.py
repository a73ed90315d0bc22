"""Every rank runs the vision tower every step (ZeRO-3 / FSDP would hang otherwise), with no effect on
the loss or the gradients of the real samples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fsdp_steps import SAMPLES

from zen_vl.base.load import load_processor
from zen_vl.chat import render
from zen_vl.collate import Collator, unbatch
from zen_vl.config import load_config
from zen_vl.train.keepalive import keep_vision_alive
from zen_vl.train.loss import supervised_loss
from zen_vl.train.model import load_model, prepare

REPO = Path(__file__).resolve().parents[1]
IMAGE, TEXT = SAMPLES  # an image sample and a text-only one


def _model(tiny_base, hooked: bool):
    cfg = load_config("tiny", "instruct")
    torch.manual_seed(0)
    model = prepare(cfg, load_model(cfg, tiny_base))
    return model, (keep_vision_alive(model) if hooked else None)


def _step(model, batch):
    model.zero_grad(set_to_none=True)
    loss, _ = supervised_loss(model, batch)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.requires_grad}


@pytest.fixture(scope="module")
def batches(tiny_base):
    processor = load_processor(tiny_base)
    kwargs = load_config("tiny", "instruct").vision.processor_kwargs
    collate = Collator(processor.tokenizer.pad_token_id)
    return {k: collate([unbatch(render(s, processor, processor_kwargs=kwargs))]) for k, s in
            (("text", TEXT), ("image", IMAGE))}  # fmt: skip


def test_a_text_only_batch_runs_the_tower_and_changes_nothing_else(tiny_base, batches):
    plain, _ = _model(tiny_base, hooked=False)
    hooked, state = _model(tiny_base, hooked=True)
    loss_a, grads_a = _step(plain, batches["text"])
    loss_b, grads_b = _step(hooked, batches["text"])
    assert state["dummy_runs"] == 1
    assert torch.equal(loss_a, loss_b)  # bitwise: x + 0 * y == x
    for name, grad in grads_a.items():
        if grad is None:  # the merger, unused by a text-only batch without the hook
            assert ".visual." in name and torch.count_nonzero(grads_b[name]) == 0
        else:
            assert torch.equal(grad, grads_b[name]), name
    assert any(".visual." in n and g is not None for n, g in grads_b.items())  # the tower was in the graph


def test_an_image_batch_needs_no_dummy(tiny_base, batches):
    plain, _ = _model(tiny_base, hooked=False)
    hooked, state = _model(tiny_base, hooked=True)
    loss_a, grads_a = _step(plain, batches["image"])
    loss_b, grads_b = _step(hooked, batches["image"])
    assert state["dummy_runs"] == 0 and torch.equal(loss_a, loss_b)
    assert all(torch.equal(g, grads_b[n]) for n, g in grads_a.items() if g is not None)


def _fsdp_steps(tiny_base, out, *flags, nproc: int = 2):
    """tests/fsdp_steps.py under torch.distributed.run (or alone with --single)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    launch = [] if "--single" in flags else ["-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    cmd = [sys.executable, *launch, str(REPO / "tests" / "fsdp_steps.py"), str(tiny_base), str(out), *flags]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.mark.slow
def test_fsdp_with_a_text_only_rank_finishes_and_matches_one_process(tiny_base, tmp_path):
    single = _fsdp_steps(tiny_base, tmp_path / "single.pt", "--single")
    assert single.returncode == 0, single.stderr[-2000:]
    sharded = _fsdp_steps(tiny_base, tmp_path / "fsdp.pt")
    assert sharded.returncode == 0, sharded.stderr[-2000:]
    a, b = torch.load(tmp_path / "single.pt"), torch.load(tmp_path / "fsdp.pt")
    assert set(a) == set(b) and any(".visual.merger" in n for n in a)
    for name, value in a.items():
        torch.testing.assert_close(b[name], value, rtol=1e-5, atol=1e-6, msg=name)
    assert any(torch.count_nonzero(v) for n, v in a.items() if "lora_B" in n)  # the steps trained


@pytest.mark.slow
def test_fsdp_without_the_keepalive_breaks_on_the_text_only_rank(tiny_base, tmp_path):
    """The condition is real: the ranks' collectives diverge (gloo aborts; NCCL on GPUs hangs)."""
    run = _fsdp_steps(tiny_base, tmp_path / "broken.pt", "--no-keepalive")
    assert run.returncode != 0 and "collective mismatch" in run.stderr
