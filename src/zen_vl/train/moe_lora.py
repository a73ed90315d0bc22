"""LoRA on fused MoE experts, computed for the experts the router picked.

peft adapts a fused expert stack (lora.target_parameters) by parametrizing it: every forward builds
W + s·BA for all experts (for Qwen3-VL-30B-A3B, 128 of which 8 are used per token) and backward
goes through that whole stack. `grouped_expert_lora` keeps peft's adapters (their weights, names,
saving and merging) but computes each picked expert's update on its own tokens only:
x·W_eᵀ + s·(x·R_eᵀ)·L_eᵀ, where s·L_e·R_e is the delta peft would add (peft's own get_delta_factors).
The same sums in another order: equal up to rounding (tested against peft's path, values and
gradients). lora.experts_path=peft keeps peft's parametrization.
"""

from __future__ import annotations

import types
from contextlib import contextmanager

import torch
import torch.nn.functional as F


def _experts_forward(self, hidden_states, top_k_index, top_k_weights):
    """Qwen3-VL-MoE's eager experts loop (transformers' Qwen3VLMoeTextExperts.forward) with the
    stashed LoRA factors applied per picked expert."""
    lora = self._zen_lora
    final = torch.zeros_like(hidden_states)
    with torch.no_grad():
        mask = F.one_hot(top_k_index, num_classes=self.num_experts + 1).permute(2, 1, 0)
        hit = torch.greater(mask.sum(dim=(-1, -2)), 0).nonzero()

    def linear(x, name, e):
        out = F.linear(x, getattr(self, name)[e])
        if name in lora:
            lhs, rhs, scaling = lora[name]
            out = out + scaling * F.linear(F.linear(x, rhs[e]), lhs[e])
        return out

    for (e,) in hit.tolist():
        if e == self.num_experts:
            continue
        top_k_pos, token_idx = torch.where(mask[e])
        gate, up = linear(hidden_states[token_idx], "gate_up_proj", e).chunk(2, dim=-1)
        out = linear(self.act_fn(gate) * up, "down_proj", e)
        out = out * top_k_weights[token_idx, top_k_pos, None]
        final.index_add_(0, token_idx, out.to(final.dtype))
    return final


def grouped_expert_lora(model) -> int:
    """Switch peft's LoRA wrappers on fused experts (ParamWrapper over a stack of > 1 experts) from
    parametrizing the whole stack to the per-expert path above; returns the wrappers switched."""
    from peft.tuners.lora.layer import ParamWrapper

    switched = 0
    for module in model.modules():
        if not isinstance(module, ParamWrapper) or module.num_experts <= 1:
            continue
        experts = module.get_base_layer()
        if not (
            hasattr(experts, "gate_up_proj") and hasattr(experts, "down_proj") and hasattr(experts, "act_fn")
        ):
            continue  # an experts layout this path does not know: peft's own path stays
        if not hasattr(experts, "_zen_lora"):
            experts._zen_lora = {}
            experts.forward = types.MethodType(_experts_forward, experts)
        module._activate_lora = types.MethodType(_stash_factors, module)
        switched += 1
    return switched


@contextmanager
def _stash_factors(self, active_adapters):
    """ParamWrapper._activate_lora, replaced: hand the experts the adapter's factors instead of
    parametrizing the stack."""
    adapters = [a for a in active_adapters if a in self.lora_A]
    if len(adapters) != 1:
        raise NotImplementedError(
            "the grouped experts path takes one active adapter (lora.experts_path=peft)"
        )
    experts = self.get_base_layer()
    experts._zen_lora[self.parameter_name] = self.get_delta_factors(adapters[0])
    try:
        yield
    finally:
        experts._zen_lora.pop(self.parameter_name, None)
