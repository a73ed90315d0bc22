"""Rendered samples (chat.render) to one padded batch, for training (right padding) and generation
(left padding)."""

from __future__ import annotations

import torch

from zen_vl.chat import IGNORE_INDEX

# Vision tensors are concatenated over the batch (one row per patch), not padded.
CONCAT = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")


def unbatch(rendered: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """chat.render's batch-of-one as one item: sequences lose the batch dimension, vision tensors
    keep theirs."""
    return {k: v if k in CONCAT else v[0] for k, v in rendered.items()}


class Collator:
    """Pads to the longest sample (right for training, left for generation); labels pad with -100."""

    def __init__(self, pad_token_id: int, *, side: str = "right"):
        self.pad = pad_token_id
        self.side = side

    def __call__(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        width = max(len(it["input_ids"]) for it in items)
        fill = {"input_ids": self.pad, "attention_mask": 0, "labels": IGNORE_INDEX, "mm_token_type_ids": 0}
        batch: dict[str, torch.Tensor] = {}
        for key, value in fill.items():
            if key not in items[0]:
                continue
            rows = []
            for it in items:
                seq = it[key]
                padding = torch.full((width - len(seq),), value, dtype=seq.dtype)
                rows.append(torch.cat([seq, padding] if self.side == "right" else [padding, seq]))
            batch[key] = torch.stack(rows)
        for key in CONCAT:
            parts = [it[key] for it in items if key in it]
            if parts:
                batch[key] = torch.cat(parts)
        return batch
