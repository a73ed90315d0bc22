"""Every rank runs the vision tower every step (ZeRO-3 / FSDP would hang otherwise), with no effect on
the loss or the gradients of the real samples."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from zen_vl.base.load import load_processor
from zen_vl.chat import render
from zen_vl.collate import Collator, unbatch
from zen_vl.config import load_config
from zen_vl.train.keepalive import keep_vision_alive
from zen_vl.train.loss import supervised_loss
from zen_vl.train.model import load_model, prepare

TEXT = {"messages": [{"role": "user", "content": "USER one"}, {"role": "assistant", "content": "ANSWER one"}]}
IMAGE = {
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": Image.new("RGB", (64, 64), "red")},
                {"type": "text", "text": "colour?"},
            ],
        },
        {"role": "assistant", "content": "red"},
    ]
}


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
