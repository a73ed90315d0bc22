"""The LoRA layers that read one input (q/k/v, gate/up) as one autograd function.

    FusedLoRA              y_i = x W_iᵀ + b_i + s_i · (drop(x) A_iᵀ) B_iᵀ for every layer i of a group:
                           one GEMM for all the A's (drop(x) [A_q; A_k; A_v]ᵀ), one saved input, and in
                           backward one GEMM for the A's gradients and one for their share of dx
    fuse_adapter_groups    runs q/k/v and gate/up of every decoder layer through FusedLoRA
                           (lora.fused_projections)

peft calls each adapted linear alone: three rank-r GEMMs on the same input forward and backward, and
each layer keeps its own (dropped) input for backward. Here the group keeps one: the input at dropout 0
(the frozen matmuls need no saved input), else the dropped input and a one-byte mask. At dropout 0
the outputs and gradients equal peft's up to rounding (tests/test_speedups.py, and an fp64 gradcheck);
with dropout the group shares one mask (lora.shared_dropout's recipe change).

The fused call reads each layer's weights directly, so a layer that peft would run otherwise (merged,
adapters disabled, several adapters, DoRA, a quantized base) keeps peft's own forward; so does ZeRO-3,
whose parameters exist only inside their own module's call (the engine does not fuse there)."""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F

from zen_vl.train.shared_dropout import GROUPS, SharedDropout


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    kind = x.device.type
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else x.dtype


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, t.shape[-1])


class FusedLoRA(torch.autograd.Function):
    """apply(x, keep, scalings, *W, *b, *A, *B) -> one output per layer. `keep` is None or the bool
    mask of kept input elements (dropout p: kept ones scaled by 1/(1-p)); W and b are frozen."""

    @staticmethod
    def forward(ctx, x, keep, p, scalings, *params):
        n = len(scalings)
        W, b, A, B = params[:n], params[n : 2 * n], params[2 * n : 3 * n], params[3 * n :]
        dt = _compute_dtype(x)
        with torch.autocast(x.device.type, enabled=False):
            xc = x.to(dt)
            xd = xc if keep is None else xc * keep / (1 - p)
            a_cat = torch.cat([a.to(dt) for a in A])
            u = xd @ a_cat.T
            us = u.split([a.shape[0] for a in A], dim=-1)
            outs = tuple(
                F.linear(xc, w.to(dt), None if bias is None else bias.to(dt)) + s * (ui @ bk.to(dt).T)
                for w, bias, s, ui, bk in zip(W, b, scalings, us, B, strict=True)
            )
        ctx.n, ctx.p, ctx.scalings, ctx.dt, ctx.x_dtype = n, p, scalings, dt, x.dtype
        ctx.save_for_backward(xd, keep, u, *W, *A, *B)
        return outs

    @staticmethod
    def backward(ctx, *grads):
        n, dt = ctx.n, ctx.dt
        xd, keep, u, *rest = ctx.saved_tensors
        W, A, B = rest[:n], rest[n : 2 * n], rest[2 * n :]
        gs = [
            torch.zeros(*u.shape[:-1], w.shape[0], dtype=dt, device=u.device) if g is None else g.to(dt)
            for g, w in zip(grads, W, strict=True)
        ]
        us = u.split([a.shape[0] for a in A], dim=-1)
        a_cat = torch.cat([a.to(dt) for a in A])
        gu = torch.cat([s * (g @ bk.to(dt)) for s, g, bk in zip(ctx.scalings, gs, B, strict=True)], dim=-1)
        grad_b = [
            (s * (_flat(g).T @ _flat(ui))).to(bk.dtype)
            for s, g, ui, bk in zip(ctx.scalings, gs, us, B, strict=True)
        ]
        grad_a = (_flat(gu).T @ _flat(xd)).split([a.shape[0] for a in A])
        grad_a = [ga.to(a.dtype) for ga, a in zip(grad_a, A, strict=True)]
        dx = gu @ a_cat
        if keep is not None:
            dx = dx * keep / (1 - ctx.p)
        for g, w in zip(gs, W, strict=True):
            dx = dx + g @ w.to(dt)
        return (dx.to(ctx.x_dtype), None, None, None, *[None] * (2 * n), *grad_a, *grad_b)


class _Group:
    """The layers of one group; the outputs of the last input, held while that input lives (so the
    second and third layer called on it get theirs)."""

    def __init__(self, layers: list, adapter: str):
        self.layers, self.adapter = layers, adapter
        self._last: tuple | None = None

    def _forget(self, ref) -> None:
        if self._last is not None and self._last[0] is ref:
            self._last = None

    def runs_fused(self) -> bool:
        return all(
            not layer.merged and not layer.disable_adapters and list(layer.active_adapters) == [self.adapter]
            for layer in self.layers
        )

    def outputs(self, x: torch.Tensor) -> tuple:
        if self._last is not None:
            src, version, outs = self._last
            if src() is x and x._version == version:
                return outs
        first = self.layers[0]
        drop = first.lora_dropout[self.adapter]
        p = drop.p if isinstance(drop, (torch.nn.Dropout, SharedDropout)) and drop.training else 0.0
        keep = torch.empty_like(x, dtype=torch.bool).bernoulli_(1 - p) if p > 0 else None
        a = self.adapter
        outs = FusedLoRA.apply(
            x,
            keep,
            p,
            tuple(layer.scaling[a] for layer in self.layers),
            *(layer.base_layer.weight for layer in self.layers),
            *(layer.base_layer.bias for layer in self.layers),
            *(layer.lora_A[a].weight for layer in self.layers),
            *(layer.lora_B[a].weight for layer in self.layers),
        )
        self._last = (weakref.ref(x, self._forget), x._version, outs)
        return outs


def _fusable(layer, adapter: str) -> bool:
    from peft.tuners.lora import Linear as LoraLinear

    return (
        isinstance(layer, LoraLinear)
        and type(layer.base_layer) is torch.nn.Linear
        and not layer.base_layer.weight.requires_grad
        and adapter in layer.lora_A
        and not layer.use_dora.get(adapter, False)
        and layer.lora_A[adapter].bias is None
        and layer.lora_B[adapter].bias is None
        and isinstance(layer.lora_dropout[adapter], (torch.nn.Identity, torch.nn.Dropout, SharedDropout))
    )


def _patch(layer, group: _Group, index: int) -> None:
    original = layer.forward

    def forward(x, *args, **kwargs):
        if args or kwargs or not group.runs_fused():
            return original(x, *args, **kwargs)
        return group.outputs(x)[index]

    layer.forward = forward


def fuse_adapter_groups(model, adapter: str = "default") -> int:
    """Run each group of peft LoRA layers that read one input (GROUPS, per parent module) through
    FusedLoRA; returns how many layers now run fused. Groups with a layer it cannot run are left alone."""
    fused = 0
    for parent in model.modules():
        for names in GROUPS:
            layers = [getattr(parent, name, None) for name in names]
            if not all(layer is not None and _fusable(layer, adapter) for layer in layers):
                continue
            group = _Group(layers, adapter)
            for i, layer in enumerate(layers):
                _patch(layer, group, i)
            fused += len(layers)
    return fused
