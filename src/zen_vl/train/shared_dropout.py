"""One LoRA dropout draw for the adapters that read the same input.

peft gives every adapted linear its own dropout: q, k and v (and gate and up) each drop their shared
input separately and each keeps its dropped copy and mask for backward, three (two) copies of one
activation. `share_adapter_dropout` gives those adapters one SharedDropout: the first call draws the
mask, the others get the same tensor back, so autograd keeps one copy. The noise is correlated across
q, k and v: a recipe change (lora.shared_dropout), not an exact one. Under activation checkpointing
the recomputed forward draws the same mask (torch.utils.checkpoint restores the RNG state and the
calls come in the same order)."""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F

GROUPS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))


class SharedDropout(torch.nn.Module):
    """Dropout that returns the same dropped tensor while it is called on the same input tensor.

    The dropped tensor is held while the input lives (a weak reference to the input clears it): under
    activation checkpointing autograd keeps neither, so the sharing cannot rely on autograd holding
    the output."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self._last: tuple | None = None  # (weak ref to the input, its version, the dropped tensor)

    def _forget(self, ref) -> None:
        if self._last is not None and self._last[0] is ref:  # not a later input's entry
            self._last = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self._last is not None:
            src, version, dropped = self._last
            if src() is x and x._version == version:
                return dropped
        dropped = F.dropout(x, self.p, training=True)
        self._last = (weakref.ref(x, self._forget), x._version, dropped)
        return dropped

    def extra_repr(self) -> str:
        return f"p={self.p}, shared"


def share_adapter_dropout(model, adapter: str = "default") -> int:
    """Give each group of peft LoRA layers that read one input (GROUPS, per parent module) one
    SharedDropout; returns how many layers now share. Layers without dropout are left alone."""
    shared = 0
    for parent in model.modules():
        for group in GROUPS:
            layers = [getattr(parent, name, None) for name in group]
            drops = [getattr(layer, "lora_dropout", {}) for layer in layers if layer is not None]
            drops = [d[adapter] for d in drops if adapter in d and isinstance(d[adapter], torch.nn.Dropout)]
            if len(drops) != len(group) or drops[0].p == 0:
                continue
            one = SharedDropout(drops[0].p)
            for layer in layers:
                layer.lora_dropout[adapter] = one
            shared += len(group)
    return shared
