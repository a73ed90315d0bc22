"""A built split as a torch Dataset: each conversation rendered by chat.render (the one owner of
masking) on access, so dataloader workers do the image work in parallel with the model. A sample is
one item per training view (chat.training_views: one per user query under the Thinking template)."""

from __future__ import annotations

from pathlib import Path

import torch

from zen_vl.chat import render, training_views
from zen_vl.collate import unbatch
from zen_vl.data.schema import read_jsonl


class ConversationDataset(torch.utils.data.Dataset):
    """A built split (`train.jsonl` ...) rendered on access."""

    def __init__(self, path: Path, processor, *, processor_kwargs: dict, max_length: int):
        self.path = Path(path)
        self.samples = [view for _, s in read_jsonl(self.path) for view in training_views(s, processor)]
        self.processor = processor
        self.processor_kwargs = processor_kwargs
        self.max_length = max_length

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample, skip = self.samples[i]
        out = render(
            sample,
            self.processor,
            skip_turns=skip,
            media_root=self.path.parent,
            processor_kwargs=self.processor_kwargs,
            max_length=self.max_length,
        )
        return unbatch(out)
