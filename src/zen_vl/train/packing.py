"""Multimodal sequence packing: several samples share one row, each with its own 3-D mRoPE positions
and attending only to itself.

    PackingCollator       rows of at most `capacity` tokens (first fit, longest first); each row carries
                          `text_position_ids`: 0..n-1 per sample, padding as a segment of its own; for
                          train.attention=varlen also the segments' `cu_seq_lens_q` and `max_length_q`
    packed_inputs(model)  swaps those for the (4, rows, L) position ids the model takes: the text row
                          plus each segment's mRoPE rows from the model's own `get_rope_index`, called
                          per segment so every sample starts at position 0, as it would alone

With `position_ids` given, no attention mask and no cache, transformers finds the segments from the text row
(masking_utils.find_packed_sequence_indices): a block-diagonal causal mask for SDPA and eager, varlen
`cu_seqlens` for flash-attention. Packing with positions that run on across samples (what broke mRoPE
in other trainers) changes the loss; tests/test_packing.py shows packed and unpacked per-sample losses
agree and that the run-on positions do not.
"""

from __future__ import annotations

import itertools

import torch

from zen_vl.chat import IGNORE_INDEX
from zen_vl.collate import CONCAT

VISION_TYPES = {"image_grid_thw": 1, "video_grid_thw": 2}  # mm_token_type_ids values


def pack_rows(lengths: list[int], capacity: int) -> list[list[int]]:
    """First-fit decreasing: sample indices per row, each row at most `capacity` tokens."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if lengths[i] > capacity:
            raise ValueError(f"sample of {lengths[i]} tokens does not fit a packed row of {capacity}")
        slot = next((r for r, free in enumerate(room) if free >= lengths[i]), None)
        if slot is None:
            rows.append([])
            room.append(capacity)
            slot = len(rows) - 1
        rows[slot].append(i)
        room[slot] -= lengths[i]
    return [sorted(r) for r in rows]


class PackingCollator:
    """Rendered samples (ConversationDataset items) to packed rows."""

    def __init__(self, pad_token_id: int, capacity: int, segments: bool = False):
        self.pad = pad_token_id
        self.capacity = capacity
        self.segments = segments  # also the varlen segments (train.attention=varlen), found here on the host

    def __call__(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        rows = pack_rows([len(it["input_ids"]) for it in items], self.capacity)
        width = max(sum(len(items[i]["input_ids"]) for i in row) for row in rows)
        fill = {"input_ids": self.pad, "labels": IGNORE_INDEX, "mm_token_type_ids": 0}
        batch: dict[str, list] = {k: [] for k in (*fill, "attention_mask", "text_position_ids")}
        for row in rows:
            parts = {k: [items[i][k] for i in row] for k in fill if k in items[0]}
            used = sum(len(items[i]["input_ids"]) for i in row)
            for key, value in fill.items():
                if key in parts:
                    batch[key].append(torch.cat([*parts[key], torch.full((width - used,), value)]))
            positions = [torch.arange(len(items[i]["input_ids"])) for i in row]
            batch["text_position_ids"].append(torch.cat([*positions, torch.arange(width - used)]))
            batch["attention_mask"].append(torch.arange(width).lt(used).long())  # counts tokens only
        out = {k: torch.stack(v) for k, v in batch.items() if v}
        if self.segments:
            from zen_vl.train.varlen import segments

            cu = segments(len(rows), width, out["text_position_ids"], out["attention_mask"])
            out["cu_seq_lens_q"], out["max_length_q"] = cu, int(cu.diff().max())
        order = [i for row in rows for i in row]  # vision inputs in the order their tokens appear
        for key in CONCAT:
            parts = [items[i][key] for i in order if key in items[i]]
            if parts:
                out[key] = torch.cat(parts)
        return out


def _rope_owner(model):
    return next(m for m in model.modules() if hasattr(m, "get_rope_index") and hasattr(m, "language_model"))


def _groups(types: torch.Tensor, value: int) -> int:
    """Runs of `value` in a segment's mm_token_type_ids: images, or video frames."""
    hit = types.eq(value)
    return int((hit[1:] & ~hit[:-1]).sum() + hit[0])


def packed_inputs(model, inputs: dict) -> dict:
    """The batch with `text_position_ids` replaced by the (4, rows, L) position ids and no mask."""
    owner = _rope_owner(model)
    text = inputs["text_position_ids"]
    ids, types = inputs["input_ids"], inputs["mm_token_type_ids"]
    grids = {k: inputs.get(k) for k in VISION_TYPES}
    taken = dict.fromkeys(VISION_TYPES, 0)
    mrope = torch.zeros((3, *ids.shape), dtype=torch.long, device=ids.device)
    for r in range(ids.shape[0]):
        starts = [*text[r].eq(0).nonzero().squeeze(-1).tolist(), ids.shape[1]]
        for s, e in itertools.pairwise(starts):
            kwargs = {}
            for key, value in VISION_TYPES.items():
                runs = _groups(types[r, s:e], value)
                if not runs:
                    continue
                grid = grids[key]
                first = taken[key]
                if key == "video_grid_thw":  # one run per temporal slice: consume whole videos
                    last, frames = first, 0
                    while frames < runs:
                        frames += int(grid[last, 0])
                        last += 1
                else:
                    last = first + runs
                kwargs[key] = grid[first:last]
                taken[key] = last
            positions, _ = owner.get_rope_index(ids[r : r + 1, s:e], types[r : r + 1, s:e], **kwargs)
            mrope[:, r, s:e] = positions[:, 0]
    out = {k: v for k, v in inputs.items() if k not in ("text_position_ids", "attention_mask")}
    out["position_ids"] = torch.cat([text[None], mrope])
    out["use_cache"] = False  # with a cache, transformers does not look for packed segments
    return out
