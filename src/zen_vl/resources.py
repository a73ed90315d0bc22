"""Will it fit? Rough memory and disk estimates, checked before the expensive part starts.

Training memory (one process), in bytes:
    weights      parameters x bytes per parameter (bf16/fp16 2, fp32 4; qlora: language model 0.56, i.e.
                 4-bit NF4 plus double-quantised scales, vision tower in the compute dtype); / world size
                 under zero3 or fsdp
    trainable    16 per trainable parameter: weight, gradient and AdamW's two moments, fp32; / world size
                 under zero2, zero3 or fsdp
    activations  batch x max_length tokens x hidden x layers x 2 bytes, x 5 with activation checkpointing,
                 else x 48
    + 15 % for the allocator and CUDA context
The activation factors are fitted to `make bench DEVICE=cuda` peaks on an H100 (4b and 8b, 4096 tokens,
with and without checkpointing; docs/RELIABILITY.md): the estimate is 6-30 % above each.
The estimate errs high on purpose: it refuses only runs that cannot fit, and names the numbers.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from zen_vl.errors import ZenError

BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


class NoRoom(ZenError):
    """Not enough memory or disk for what was asked."""


def train_memory_bytes(
    *, params: int, llm_params: int, trainable: int, precision: str, qlora: bool,
    tokens: int, hidden: int, layers: int, checkpointing: bool, distributed: str = "none", world: int = 1,
) -> int:  # fmt: skip
    per = BYTES[precision]
    weights = (llm_params * 0.5625 + (params - llm_params) * per) if qlora else params * per
    weights /= world if distributed in ("zero3", "fsdp") else 1
    states = 16 * trainable / (world if distributed in ("zero2", "zero3", "fsdp") else 1)
    activations = tokens * hidden * layers * 2 * (5 if checkpointing else 48)
    return int((weights + states + activations) * 1.15)


def checkpointed_layers(*, have: int, layers: int, **estimate) -> int:
    """train.gradient_checkpointing=auto: how many of the `layers` decoder layers to checkpoint so the
    estimate fits in `have` bytes: 0 when the step fits without checkpointing (it is then 30-50 %
    faster, docs/PERFORMANCE.md), else the fewest that make it fit, all of them when even that does not
    (the memory check then says so). The estimate is linear in the checkpointed layers."""
    without = train_memory_bytes(**estimate, layers=layers, checkpointing=False)
    if without <= have:
        return 0
    every = train_memory_bytes(**estimate, layers=layers, checkpointing=True)
    saved_per_layer = (without - every) / layers
    return min(layers, math.ceil((without - have) / saved_per_layer))


def memory_available(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_properties(0).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(need: int, have: int, what: str, advice: str) -> None:
    if need > have:
        raise NoRoom(
            f"{what} needs about {need / 2**30:.0f} GiB but this machine has {have / 2**30:.0f} GiB; {advice}"
        )


def check_disk(folder: Path, need: int, what: str) -> None:
    """Refuse before writing when the file system of `folder` has less than `need` bytes free."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < need:
        raise NoRoom(
            f"{what} needs about {need / 2**30:.1f} GiB free in {folder} but {free / 2**30:.1f} GiB are free; "
            "free some space or point ZEN_VL_ROOT at a larger disk"
        )


def check_train_memory(cfg, device: str, counts: dict[str, int]) -> int:
    """Refuse a training run whose estimate exceeds the device's memory; returns the estimate. `counts`
    are the architecture's parameter counts (zen_vl.train.model.count_params: the same rule that
    decides what trains)."""
    t = cfg.train
    need = train_memory_bytes(
        params=counts["total"], llm_params=counts["llm"], trainable=counts["trainable"], precision=t.precision,
        qlora=cfg.lora.method == "qlora", tokens=t.batch_size * t.max_length, hidden=counts["hidden"],
        layers=counts["layers"], checkpointing=t.gradient_checkpointing is not False, distributed=t.distributed,
        world=int(os.environ.get("WORLD_SIZE", "1")),
    )  # fmt: skip
    where = "GPU" if device.startswith("cuda") else "machine (RAM)"
    advice = (
        "lower train.batch_size or train.max_length, keep train.gradient_checkpointing=true, use "
        "lora.method=qlora (CUDA), shard over more GPUs (NPROC=8 with train.distributed=zero3), or use a "
        "machine with more memory"
    )
    have = memory_available(device)
    if need > have:
        raise NoRoom(
            f"training {cfg.variant}/{cfg.size} needs about {need / 2**30:.0f} GiB (estimate: "
            f"{counts['total'] / 1e9:.2f} B parameters in {t.precision}, {counts['trainable'] / 1e6:.0f} M "
            f"trainable, batch {t.batch_size} x {t.max_length} tokens) but this {where} has "
            f"{have / 2**30:.0f} GiB; {advice}"
        )
    return need
