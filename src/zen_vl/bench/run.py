"""One bench mode in one process (peak memory is per process): build the random-weight model of the
size's shape, prepare it as the mode says, train `steps` steps on the fixed batch and time each part.

    baseline  what HF Trainer + peft do per step with their defaults: peft LoRA on the same trainable
              set (zen_vl.train.model.lora_config), `model(**batch).loss` (logits for every token),
              backward, AdamW; SDPA
              attention, no activation checkpointing, the Conv3d patch embedding (the loop is written
              out so the comparison measures the model work, not the Trainer's bookkeeping)
Both run their forward under the autocast the Trainer uses (accelerate's mixed precision: bf16 on the
GPU, none in fp32), on the fixed batch (equal lengths) or the mixed one (zen_vl.bench.batch.mixed_batch:
the variants' own samples, padded).
    ours      the project's path: zen_vl.train.model.prepare (freezing, adapters, merger in full,
              checkpointing per train.gradient_checkpointing), zen_vl.train.kernels.apply_speedups
              (train.patch_embed, train.liger), train.attention, zen_vl.train.loss.supervised_loss,
              the project's optimizer groups

python -m zen_vl.bench.run MODE SIZE DEVICE STEPS WARMUP BATCH.pt [KEY=VALUE ...]  (prints one JSON line; BATCH.pt: torch.save of bench_batch)
"""

from __future__ import annotations

import json
import sys
import time

import torch

from zen_vl.artifacts import device_name, peak_memory_gb
from zen_vl.bench.batch import fixed_batch, mixed_batch
from zen_vl.bench.flops import counts, peak_flops, step_flops
from zen_vl.config import load_config
from zen_vl.errors import ZenError
from zen_vl.train.kernels import apply_speedups
from zen_vl.train.loss import supervised_loss
from zen_vl.train.model import (
    DTYPES,
    check_attention,
    checkpointed_layers,
    decoder_layers,
    lora_config,
    param_groups,
    prepare,
    train_autocast,
)


class Clock:
    """Step parts timed with CUDA events on the GPU (no host sync inside the step; read once per
    step), perf_counter on the CPU. The vision tower's share comes from hooks on it."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")
        self.marks: list = []

    def mark(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
        else:
            event = time.perf_counter()
        self.marks.append(event)
        return event

    def seconds(self, a, b) -> float:
        return a.elapsed_time(b) / 1000 if self.cuda else b - a

    def settle(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def attach(self, module) -> None:
        self.vision: list = []
        module.register_forward_pre_hook(lambda *_: self.vision.append([self.mark()]))
        module.register_forward_hook(lambda *_: self.vision[-1].append(self.mark()))


def saved_activations(loss_fn, model, batch, precision: str, device: str) -> dict:
    """Bytes autograd keeps for backward in one forward (saved_tensors_hooks: device-independent),
    each storage counted once: in all, per token, and inside the decoder layers per token and layer
    (the part LoRA's adapters, dropout and checkpointing change). A checkpointed layer's own saved
    inputs are held by torch.utils.checkpoint, not through these hooks: one hidden state per layer."""
    seen: dict = {}
    inside = [False]
    layer_keys: set = set()

    def pack(t):
        try:
            key = (t.untyped_storage().data_ptr(), t.device.type)
            seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
            if inside[0]:
                layer_keys.add(key)
        except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. subclasses)
            pass
        return t

    hooks = []
    for layer in decoder_layers(model):
        hooks.append(layer.register_forward_pre_hook(lambda *_: inside.__setitem__(0, True)))
        hooks.append(layer.register_forward_hook(lambda *_: inside.__setitem__(0, False)))
    try:
        with train_autocast(precision, device), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = loss_fn(model, batch)
    finally:
        for hook in hooks:
            hook.remove()
    del loss
    total = sum(seen.values())
    in_layers = sum(seen[k] for k in layer_keys)
    tokens = int(batch["attention_mask"].sum())
    layers = model.config.text_config.num_hidden_layers
    return {"bytes": total, "bytes_per_token": total / tokens, "layer_bytes": in_layers,
            "bytes_per_token_layer": in_layers / tokens / layers}  # fmt: skip


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


def bench_batch(kind: str, size: str, overrides: list[str]) -> dict:
    """The batch both modes train on: `fixed` (equal-length samples, no padding) or `mixed`."""
    from zen_vl.base.tiny import build_processor

    cfg = load_config(size, "instruct", overrides)
    b = cfg.bench
    if kind == "mixed":
        batch, drawn = mixed_batch(size, b.batch_size, overrides)
        return {"kind": kind, "drawn": drawn, "tensors": batch}
    if kind != "fixed":
        raise ZenError(f"bench batch {kind!r}: use fixed or mixed")
    batch = fixed_batch(build_processor("instruct"), samples=b.batch_size, image_tokens=b.image_tokens,
                        text_tokens=b.text_tokens, answer_share=b.answer_share,
                        vision_kwargs=cfg.vision.processor_kwargs)  # fmt: skip
    return {"kind": kind, "drawn": None, "tensors": batch}


def run(
    mode: str, size: str, device: str, steps: int, warmup: int, overrides: list[str], batch_file: str
) -> dict:
    cfg = load_config(size, "instruct", overrides)
    saved_batch = torch.load(batch_file, weights_only=True)
    batch, batch_kind, drawn = saved_batch["tensors"], saved_batch["kind"], saved_batch["drawn"]
    batch = {k: v.to(device) for k, v in batch.items()}
    model = build_model(cfg, device, cfg.train.attention if mode == "ours" else "sdpa")
    model, optimizer, loss_fn, kernels = prepare_mode(mode, cfg, model)
    model.train()
    checkpointed = checkpointed_layers(model)
    clock = Clock(device)
    visual = next(m for n, m in model.named_modules() if n.endswith("model.visual"))
    clock.attach(visual)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    parts = {"vision": 0.0, "language_model": 0.0, "backward": 0.0, "optimizer": 0.0}
    torch.manual_seed(cfg.train.seed)  # the same dropout draws in every mode (set-up steps such as
    # train.patch_embed=auto's timing draw random numbers too)
    warmup_s, losses = [], []
    for step in range(warmup + steps):
        clock.vision = []
        t0 = clock.mark()
        with train_autocast(cfg.train.precision, device):  # the Trainer's autocast, both modes
            loss = loss_fn(model, batch)
        t1 = clock.mark()
        loss.backward()
        t2 = clock.mark()
        if step == 0:  # the adapters start at zero: the first gradients show what a setting changes
            first_grad_norm = float(torch.linalg.vector_norm(torch.stack(
                [p.grad.float().norm() for p in model.parameters() if p.grad is not None])))  # fmt: skip
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t3 = clock.mark()
        clock.settle()
        losses.append(float(loss.detach()))
        if step < warmup:  # the first includes compilation and kernel autotuning: reported apart
            warmup_s.append(clock.seconds(t0, t3))
            continue
        vision = sum(clock.seconds(a, b) for a, b in clock.vision)
        parts["vision"] += vision
        parts["language_model"] += clock.seconds(t0, t1) - vision
        parts["backward"] += clock.seconds(t1, t2)
        parts["optimizer"] += clock.seconds(t2, t3)
    step_s = sum(parts.values()) / steps
    tokens = int(batch["attention_mask"].sum())
    supervised = int(batch["labels"][:, 1:].ne(-100).sum())
    grid = batch.get("image_grid_thw", torch.zeros(0, 3, dtype=torch.long))  # a mixed batch may be text only
    patches = int(grid.prod(-1).sum())
    shape = dict(tokens=tokens, logit_tokens=supervised, seq=batch["input_ids"].shape[1], patches=patches,
                 patch_pairs=int(grid.prod(-1).pow(2).sum()))  # fmt: skip
    layers = model.config.text_config.num_hidden_layers
    flops = step_flops(counts(model), **shape, recomputed=checkpointed / layers)
    flops_6n = step_flops(counts(model), **shape, recomputed=0.0, convention="6n")
    name = device_name()
    peak = peak_flops(name)
    memory = peak_memory_gb(cuda=device.startswith("cuda"))
    saved = saved_activations(loss_fn, model, batch, cfg.train.precision, device)
    return {
        "mode": mode,
        "size": size,
        "device": name,
        "precision": cfg.train.precision,
        "overrides": overrides,
        "kernels": kernels,
        "gradient_checkpointing": checkpointed > 0,
        "checkpointed_layers": checkpointed,
        "batch": {
            "kind": batch_kind,
            "samples": int(batch["input_ids"].shape[0]),
            "tokens": tokens,
            "padded": int(batch["attention_mask"].numel()),
            "supervised": supervised,
            "patches": patches,
            "drawn": drawn,
        },
        "step_s": step_s,
        "warmup_step_s": warmup_s,
        "timing": "cuda events" if device.startswith("cuda") else "perf_counter",
        "tokens_per_s": tokens / step_s,
        "samples_per_s": batch["input_ids"].shape[0] / step_s,
        "split": {k: v / steps / step_s for k, v in parts.items()},
        "peak_memory_gb": memory,
        "memory_kind": "cuda max allocated" if device.startswith("cuda") else "process peak RSS",
        "saved_activations": saved,
        "tflops_per_s": flops / step_s / 1e12,
        "mfu": flops / step_s / peak if peak else None,
        "mfu_6n": flops_6n / step_s / peak if peak else None,
        "steps": steps,
        "first_loss": losses[0],  # same weights and batch: equal in both modes
        "losses": losses,  # every step's, warm-up included
        "first_grad_norm": first_grad_norm,
        "loss": losses[-1],
    }


if __name__ == "__main__":
    mode, size, device, steps, warmup, batch_file, *overrides = sys.argv[1:]
    print(json.dumps(run(mode, size, device, int(steps), int(warmup), overrides, batch_file)))
