"""Will it fit? Rough memory and disk estimates, checked before the expensive part starts.

Training memory (one process), in bytes:
    weights      parameters x bytes per parameter (bf16/fp16 2, fp32 4; qlora: language model 0.56, i.e.
                 4-bit NF4 plus double-quantised scales, vision tower in the compute dtype)
    trainable    16 per trainable parameter: weight, gradient and AdamW's two moments, fp32
    activations  batch x max_length tokens x hidden x layers x 2 bytes, x 1 with activation
                 checkpointing (each layer's input) else x 18 (what one decoder layer keeps for backward)
    + 15 % for the allocator and CUDA context
The estimate errs high on purpose: it refuses only runs that cannot fit, and names the numbers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from zen_vl.errors import ZenError

BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


class NoRoom(ZenError):
    """Not enough memory or disk for what was asked."""


def train_memory_bytes(
    *, params: int, llm_params: int, trainable: int, precision: str, qlora: bool,
    tokens: int, hidden: int, layers: int, checkpointing: bool,
) -> int:  # fmt: skip
    per = BYTES[precision]
    weights = (llm_params * 0.5625 + (params - llm_params) * per) if qlora else params * per
    activations = tokens * hidden * layers * 2 * (1 if checkpointing else 18)
    return int((weights + 16 * trainable + activations) * 1.15)


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
