"""Samples to batches: each conversation rendered by chat.render (the one owner of masking), then padded.

Images are loaded and processed in the dataset's __getitem__, so dataloader workers do the pixel
work in parallel with the model.
"""

from __future__ import annotations

from pathlib import Path

import torch

from zen_vl.chat import IGNORE_INDEX, render
from zen_vl.data.schema import read_jsonl

CONCAT = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")


class ConversationDataset(torch.utils.data.Dataset):
    """A built split (`train.jsonl` ...) rendered on access."""

    def __init__(self, path: Path, processor, *, processor_kwargs: dict, max_length: int):
        self.path = Path(path)
        self.samples = [s for _, s in read_jsonl(self.path)]
        self.processor = processor
        self.processor_kwargs = processor_kwargs
        self.max_length = max_length

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        out = render(
            self.samples[i],
            self.processor,
            media_root=self.path.parent,
            processor_kwargs=self.processor_kwargs,
            max_length=self.max_length,
        )
        return {k: v[0] if k not in CONCAT else v for k, v in out.items()}


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
