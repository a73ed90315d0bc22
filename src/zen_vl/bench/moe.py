"""What LoRA on fused experts costs: one sparse MoE block of the size's shape (random weights), forward
and backward over `tokens` tokens, with the experts frozen (LoRA elsewhere only), with peft's LoRA on
the fused expert parameters (lora.target_parameters; it rebuilds W + BA for every expert, picked or
not, on each forward) and with the grouped path (zen_vl.train.moe_lora: the picked experts only).

python -m zen_vl.bench.moe SIZE [DEVICE] [TOKENS] [STEPS] [MODE ...]   (prints JSON)
MODE: experts_frozen, peft_lora_on_experts, grouped_lora_on_experts (zen_vl.train.moe_lora); all by default.
"""

from __future__ import annotations

import json
import sys
import time

import torch

from zen_vl.artifacts import device_name, peak_memory_gb
from zen_vl.config import load_config
from zen_vl.errors import ZenError


def _block(cfg, device: str, lora: str | None):
    from peft import LoraConfig, inject_adapter_in_model
    from transformers.models.qwen3_vl_moe.modeling_qwen3_vl_moe import Qwen3VLMoeTextSparseMoeBlock

    from zen_vl.base.tiny import model_config

    text = model_config(cfg.architecture).text_config
    torch.manual_seed(0)
    with torch.device(device):
        block = Qwen3VLMoeTextSparseMoeBlock(text)
        for p in block.parameters():
            torch.nn.init.normal_(p, std=0.02)
            p.requires_grad_(False)
    if lora:
        names = [p.removeprefix("mlp.") for p in cfg.lora.target_parameters]
        block = inject_adapter_in_model(
            LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, target_parameters=names, target_modules=[]),
            block,
        )
        for name, p in block.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.02)
        if lora == "grouped":
            from zen_vl.train.moe_lora import grouped_expert_lora

            grouped_expert_lora(block)
    return block, text


MODES = {"experts_frozen": None, "peft_lora_on_experts": "peft", "grouped_lora_on_experts": "grouped"}


def measure(size: str, device: str = "cpu", tokens: int = 256, steps: int = 3, modes=tuple(MODES)) -> dict:
    cfg = load_config(size, "instruct", [])
    if cfg.arch != "moe" or cfg.architecture is None:
        raise ZenError(f"make bench-moe SIZE={size}: not an MoE size with a shape (tiny-moe, 30b)")
    out = {"size": size, "device": device_name() if device.startswith("cuda") else "cpu", "tokens": tokens}
    cuda = device.startswith("cuda")
    for mode in modes:
        block, text = _block(cfg, device, MODES[mode])
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        x = torch.randn(1, tokens, text.hidden_size, device=device, requires_grad=True)
        times = []
        for _ in range(steps + 1):
            if cuda:
                torch.cuda.synchronize()
            t = time.perf_counter()
            block(x).float().pow(2).mean().backward()
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        out[mode] = {
            "step_ms": 1000 * sum(times[1:]) / steps,
            "trainable": sum(p.numel() for p in block.parameters() if p.requires_grad),
            "peak_memory_gb": peak_memory_gb(cuda=True) if cuda else None,  # CPU RSS would be cumulative
        }
        del block
    out["experts"] = text.num_experts
    out["active"] = text.num_experts_per_tok
    return out


if __name__ == "__main__":
    size, *rest = sys.argv[1:]
    device = rest[0] if rest else "cpu"
    tokens = int(rest[1]) if len(rest) > 1 else 256
    steps = int(rest[2]) if len(rest) > 2 else 3
    print(json.dumps(measure(size, device, tokens, steps, tuple(rest[3:]) or tuple(MODES))))
