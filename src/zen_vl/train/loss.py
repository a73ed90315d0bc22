"""The causal-LM loss computed only where a label is supervised.

Over Qwen's 152k vocabulary the output layer dominates a step when most tokens are prompt, image
and padding. The model is asked for logits at the union of supervised positions over the batch
(`logits_to_keep`, a tensor of positions), and a forward pre-hook on the output layer narrows its
input further to the supervised (row, position) pairs, so the 152k-wide matmul and softmax run once
per supervised token. Both happen inside the model's own forward, so DDP, FSDP and DeepSpeed see an
ordinary call. The value and gradients equal the model's own loss (tests/test_loss.py); normalised
by `num_items_in_batch` like the Trainer's, so gradient accumulation and multi-device averaging are
unchanged.
"""

from __future__ import annotations

import torch

from zen_vl.chat import IGNORE_INDEX
from zen_vl.train.packing import packed_inputs


def _output_layer(model) -> torch.nn.Module:
    inner = model
    while hasattr(inner, "module"):  # DDP / DeepSpeed engine wrappers
        inner = inner.module
    return inner.get_output_embeddings()


def supervised_loss(model, inputs: dict, num_items_in_batch=None) -> tuple[torch.Tensor, object]:
    """(summed CE over supervised tokens / normaliser, model outputs with logits of those tokens).

    A packed batch (zen_vl.train.packing) gets its per-sample mRoPE position ids here."""
    if "text_position_ids" in inputs:
        inputs = packed_inputs(model, inputs)
    shifted = inputs["labels"][:, 1:]
    keep = shifted.ne(IGNORE_INDEX).any(0).nonzero().squeeze(-1)
    target = shifted[:, keep]
    supervised = target.ne(IGNORE_INDEX)

    narrowed = []

    def narrow(_module, args):
        hidden = args[0]
        if hidden.shape[:2] != supervised.shape:
            return None
        narrowed.append(True)
        return (hidden[supervised].unsqueeze(0), *args[1:])

    handle = _output_layer(model).register_forward_pre_hook(narrow)
    try:
        outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, logits_to_keep=keep)
    finally:
        handle.remove()
    # Narrowed: one row of logits per supervised token; otherwise (the hook did not see the output
    # layer's usual input) pick those tokens from the kept block.
    logits = (
        outputs.logits.squeeze(0) if narrowed else outputs.logits[supervised]
    )  # squeeze: no copy in backward
    loss = torch.nn.functional.cross_entropy(logits.float(), target[supervised], reduction="sum")
    if num_items_in_batch is None:
        return loss / supervised.sum().clamp(min=1), outputs
    return loss / torch.as_tensor(num_items_in_batch, device=loss.device), outputs
