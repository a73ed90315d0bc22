"""Faster kernels for a prepared model, chosen by config, each reported so a run shows what it used.

train.patch_embed  Conv3d patch embedding or the equivalent matmul (zen_vl.train.patch_embed)
train.compile      regional torch.compile of the decoder layers and vision blocks
train.liger        Liger Triton kernels on the language model: RMSNorm, SwiGLU and RoPE.
                   Liger's fused linear cross-entropy is not used: zen_vl.train.loss already computes
                   logits only for supervised tokens, and Liger's replacement forward would bypass it.
train.attention    set when the model is loaded (zen_vl.train.model.load_model); reported here, with
                   the checkpointed decoder layers and peft's input cast (zen_vl.train.model.prepare)
"""

from __future__ import annotations

import importlib.util

import torch

from zen_vl.config import ZenConfig
from zen_vl.train.model import TrainError
from zen_vl.train.patch_embed import use_linear_patch_embed


def _base(model):
    """The Qwen3VLForConditionalGeneration under peft's wrappers."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def apply_liger(model) -> dict:
    """Liger's RMSNorm and SwiGLU forwards on the language model's modules, Liger's RoPE for Qwen3-VL;
    returns how many modules were swapped and raises unless all were.

    liger-kernel 0.8.5's apply_liger_kernel_to_qwen3_vl cannot run with transformers 5 (it imports
    Qwen3VLCausalLMOutputWithPast, since removed), so the same swaps are made here with Liger's public
    modules, as that function does for an instance: forwards bound in place, so peft's adapters on
    gate/up/down projections stay in the path. The RoPE function is replaced module-wide.
    """
    import sys
    import types

    from liger_kernel.transformers import LigerRMSNorm, LigerSwiGLUMLP, liger_rotary_pos_emb

    base = _base(model)
    norms = mlps = 0
    expected_norms = expected_mlps = 0
    for name, module in base.named_modules():
        if "language_model" not in name:
            continue
        kind = type(module).__name__
        if kind.endswith("TextRMSNorm"):
            expected_norms += 1
            module.offset, module.casting_mode, module.in_place, module.row_mode = 0.0, "llama", True, None
            module.forward = types.MethodType(LigerRMSNorm.forward, module)
            norms += module.forward.__func__ is LigerRMSNorm.forward
        elif kind.endswith("TextMLP"):
            expected_mlps += 1
            if getattr(module, "act_fn", None).__class__.__name__ in ("SiLU", "SiLUActivation"):
                module.forward = types.MethodType(LigerSwiGLUMLP.forward, module)
                mlps += module.forward.__func__ is LigerSwiGLUMLP.forward
    sys.modules[type(base).__module__].apply_rotary_pos_emb = liger_rotary_pos_emb  # qwen3_vl or _moe
    if not expected_norms or norms != expected_norms or mlps != expected_mlps:
        raise TrainError(
            f"Liger swapped {norms} of {expected_norms} RMSNorm and {mlps} of {expected_mlps} MLP modules"
        )
    return {"liger_rms_norm": norms, "liger_swiglu": mlps, "liger_rope": True}


def compile_regions(model, backend: str = "inductor") -> dict:
    """Regional torch.compile: each decoder layer and vision block compiled in place (one graph per
    layer type, reused by every layer; compiling the whole model would trace the data-dependent
    image scatter and mRoPE index code and compile far longer). Activation checkpointing wraps the
    compiled layer. Returns how many modules were compiled."""
    base = _base(model)
    from zen_vl.train.model import decoder_layers

    layers = decoder_layers(base)
    blocks = next(m for n, m in base.named_modules() if n.endswith("visual.blocks"))
    for module in (*layers, *blocks):
        module.compile(dynamic=True, backend=backend)  # sequence lengths vary from batch to batch
    return {"decoder_layers": len(layers), "vision_blocks": len(blocks)}


def apply_speedups(cfg: ZenConfig, model) -> dict:
    """Patch-embed choice, Liger and the attention kernel in use; what was chosen, to log."""
    t = cfg.train
    from zen_vl.train.model import checkpointed_layers

    used = {
        "attention": getattr(_base(model).config, "_attn_implementation", None),
        "checkpointed_layers": checkpointed_layers(model),
        "lora_input_cast": t.lora_input_cast,
        "fused_projections": cfg.lora.fused_projections,
    }
    used.update(use_linear_patch_embed(model, t.patch_embed))
    if t.compile:
        used["compiled"] = compile_regions(model)
    if t.liger:
        if not torch.cuda.is_available():
            raise TrainError(
                "train.liger needs a CUDA GPU (Liger's kernels are Triton); set train.liger=false"
            )
        if importlib.util.find_spec("liger_kernel") is None:
            raise TrainError("train.liger needs liger-kernel: pip install -e '.[gpu]'")
        used.update(apply_liger(model))
    return used
