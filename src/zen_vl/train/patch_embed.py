"""Qwen3-VL's patch embedding as a matmul.

The vision tower embeds each 2x16x16x3 patch with an `nn.Conv3d` whose kernel equals its stride: the
same as one linear layer over the flattened patch. Some torch/cuDNN builds run that Conv3d 10-60x
slower than the matmul. `use_linear_patch_embed` times both on the model's device and, where the
matmul wins (or when asked), replaces the forward only: the Conv3d weight stays where it is, so
checkpoints, merging and exports are unchanged.
"""

from __future__ import annotations

import time
import types

import torch


def _linear_forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
    weight = self.proj.weight
    flat = hidden_states.reshape(-1, weight[0].numel()).to(weight.dtype)
    return torch.nn.functional.linear(flat, weight.reshape(weight.shape[0], -1), self.proj.bias)


def patch_embeds(model) -> list[torch.nn.Module]:
    return [
        m for m in model.modules() if type(m).__name__.endswith("VisionPatchEmbed") and hasattr(m, "proj")
    ]


def _time(fn, x, repeats: int = 3) -> float:
    cuda = x.is_cuda
    best = float("inf")
    for _ in range(repeats + 1):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad():
            fn(x)
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def use_linear_patch_embed(model, mode: str = "auto", *, patches: int = 4096) -> dict:
    """mode auto | linear | conv3d. Returns what was measured and chosen."""
    embeds = patch_embeds(model)
    if not embeds or mode == "conv3d":
        return {"patch_embed": "conv3d", "modules": 0}
    embed = embeds[0]
    weight = embed.proj.weight
    x = torch.randn(patches, weight[0].numel(), device=weight.device, dtype=weight.dtype)
    timing = {}
    if mode == "auto":
        linear = types.MethodType(_linear_forward, embed)
        timing = {"conv3d_s": _time(embed.forward, x), "linear_s": _time(linear, x)}
        if timing["linear_s"] >= timing["conv3d_s"]:
            return {"patch_embed": "conv3d", "modules": 0, **timing}
    for module in embeds:
        module.forward = types.MethodType(_linear_forward, module)
    return {"patch_embed": "linear", "modules": len(embeds), **timing}
