"""One bench mode in one process (peak memory is per process): build the random-weight model of the
size's shape, prepare it as the mode says, train `steps` steps on the fixed batch and time each part.

    baseline  what HF Trainer + peft do per step with their defaults: peft LoRA on the same trainable
              set (zen_vl.train.model.lora_config), `model(**batch).loss` (logits for every token),
              backward, AdamW; SDPA
              attention, no activation checkpointing, the Conv3d patch embedding (the loop is written
              out so the comparison measures the model work, not the Trainer's bookkeeping)
    ours      the project's path: zen_vl.train.model.prepare (freezing, adapters, merger in full,
              checkpointing per train.gradient_checkpointing), zen_vl.train.kernels.apply_speedups
              (train.patch_embed, train.liger), train.attention, zen_vl.train.loss.supervised_loss,
              the project's optimizer groups

python -m zen_vl.bench.run MODE SIZE DEVICE STEPS WARMUP   (prints one JSON line)
"""

from __future__ import annotations

import json
import sys
import time

import torch

from zen_vl.artifacts import device_name, peak_memory_gb
from zen_vl.bench.batch import fixed_batch
from zen_vl.bench.flops import counts, peak_flops, step_flops
from zen_vl.config import load_config
from zen_vl.errors import ZenError
from zen_vl.train.kernels import apply_speedups
from zen_vl.train.loss import supervised_loss
from zen_vl.train.model import DTYPES, check_attention, lora_config, param_groups, prepare


class Clock:
    """Wall time of the vision tower inside the forward, via hooks (synchronised on CUDA)."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")
        self.vision = 0.0
        self._t = 0.0

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def attach(self, module) -> None:
        module.register_forward_pre_hook(lambda *_: setattr(self, "_t", self.now()))
        module.register_forward_hook(lambda *_: setattr(self, "vision", self.vision + self.now() - self._t))


def build_model(cfg, device: str, attention: str):
    from transformers import AutoModelForImageTextToText

    from zen_vl.base.tiny import model_config

    check_attention(attention)
    shape = cfg.architecture
    if shape is None:
        raise ZenError(
            f"make bench SIZE={cfg.size}: the size has no shape: section (the architecture to build)"
        )
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(
            model_config(shape), dtype=DTYPES[cfg.train.precision], attn_implementation=attention
        )
    model.config.text_config.use_cache = False
    return model


def prepare_mode(mode: str, cfg, model):
    if mode == "ours":
        model = prepare(cfg, model)
        kernels = apply_speedups(cfg, model)
        optimizer = torch.optim.AdamW(param_groups(cfg, model), lr=cfg.train.lr)
        return model, optimizer, lambda m, b: supervised_loss(m, b)[0], kernels
    from peft import get_peft_model

    # The same trainable set as ours (zen_vl.train.model.lora_config: one rule for what trains).
    model = get_peft_model(model, lora_config(cfg, model))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.train.lr)
    return model, optimizer, lambda m, b: m(**b).loss, {"attention": "sdpa", "patch_embed": "conv3d"}


def run(mode: str, size: str, device: str, steps: int, warmup: int, overrides: list[str]) -> dict:
    from zen_vl.base.tiny import build_processor

    cfg = load_config(size, "instruct", overrides)
    processor = build_processor("instruct")
    bench = cfg.bench
    batch = fixed_batch(
        processor,
        samples=bench.batch_size,
        image_tokens=bench.image_tokens,
        text_tokens=bench.text_tokens,
        answer_share=bench.answer_share,
        vision_kwargs=cfg.vision.processor_kwargs,
    )
    batch = {k: v.to(device) for k, v in batch.items()}
    model = build_model(cfg, device, cfg.train.attention if mode == "ours" else "sdpa")
    model, optimizer, loss_fn, kernels = prepare_mode(mode, cfg, model)
    model.train()
    checkpointing = mode == "ours" and cfg.train.gradient_checkpointing
    clock = Clock(device)
    visual = next(m for n, m in model.named_modules() if n.endswith("model.visual"))
    clock.attach(visual)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    parts = {"vision": 0.0, "language_model": 0.0, "backward": 0.0, "optimizer": 0.0}
    timed, first_loss = 0, None
    for step in range(warmup + steps):
        clock.vision = 0.0
        t0 = clock.now()
        loss = loss_fn(model, batch)
        t1 = clock.now()
        first_loss = float(loss) if first_loss is None else first_loss
        loss.backward()
        t2 = clock.now()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t3 = clock.now()
        if step >= warmup:
            timed += 1
            parts["vision"] += clock.vision
            parts["language_model"] += t1 - t0 - clock.vision
            parts["backward"] += t2 - t1
            parts["optimizer"] += t3 - t2
    step_s = sum(parts.values()) / timed
    tokens = int(batch["attention_mask"].sum())
    supervised = int(batch["labels"][:, 1:].ne(-100).sum())
    grid = batch["image_grid_thw"]
    patches = int(grid.prod(-1).sum())
    flops = step_flops(
        counts(model),
        tokens=tokens,
        logit_tokens=supervised,
        seq=batch["input_ids"].shape[1],
        patches=patches,
        image_patches=int(grid[0].prod()),
        checkpointing=checkpointing,
    )
    name = device_name()
    peak = peak_flops(name)
    memory = peak_memory_gb(cuda=device.startswith("cuda"))
    return {
        "mode": mode,
        "size": size,
        "device": name,
        "precision": cfg.train.precision,
        "overrides": overrides,
        "kernels": kernels,
        "gradient_checkpointing": checkpointing,
        "batch": {
            "samples": bench.batch_size,
            "tokens": tokens,
            "supervised": supervised,
            "patches": patches,
        },
        "step_s": step_s,
        "tokens_per_s": tokens / step_s,
        "samples_per_s": bench.batch_size / step_s,
        "split": {k: v / timed / step_s for k, v in parts.items()},
        "peak_memory_gb": memory,
        "memory_kind": "cuda max allocated" if device.startswith("cuda") else "process peak RSS",
        "tflops_per_s": flops / step_s / 1e12,
        "mfu": flops / step_s / peak if peak else None,
        "steps": timed,
        "first_loss": first_loss,  # same weights and batch: equal in both modes
        "loss": float(loss),
    }


if __name__ == "__main__":
    mode, size, device, steps, warmup, *overrides = sys.argv[1:]
    print(json.dumps(run(mode, size, device, int(steps), int(warmup), overrides)))
