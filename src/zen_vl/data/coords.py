"""Boxes and points in absolute pixels (Qwen2.5-VL's convention) to Qwen3-VL's 0-1000 grid.

A source with `coords: pixels` has its assistant answers' `"bbox_2d": [x1, y1, x2, y2]` and
`"point_2d": [x, y]` (in JSON text) and its tool calls' `coordinate` / `bbox_2d` / `point_2d`
arguments scaled by the size of the image the turn answers (the last image before it), rounded to
integers in [0, 1000]. Pixels are the image file's own; Qwen2.5-VL's coordinates on the resized
input need that resize undone first.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from zen_vl.data.schema import DataError

TEXT_KEYS = re.compile(r'("(?:bbox_2d|point_2d)"\s*:\s*)\[([^\[\]]*)\]')
ARG_KEYS = ("coordinate", "bbox_2d", "point_2d")


def _scale(values: list, size: tuple[int, int], where: str) -> list[int]:
    if len(values) not in (2, 4) or not all(isinstance(v, int | float) for v in values):
        raise DataError(f"{where}: a box or point is not 2 or 4 numbers: {values}")
    w, h = size
    out = []
    for k, v in enumerate(values):
        side = w if k % 2 == 0 else h
        if not 0 <= v <= side:
            raise DataError(f"{where}: coordinate {v} lies outside the {w}x{h} image (coords: pixels)")
        out.append(min(1000, max(0, round(v / side * 1000))))
    return out


def to_thousandths(sample: dict, media_root: Path, where: str) -> int:
    """Rescale the sample's pixel coordinates in place; returns how many boxes/points were converted."""
    size, converted = None, 0
    for k, msg in enumerate(sample.get("messages", [])):
        content = msg.get("content")
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "image":
                with Image.open(media_root / block["image"]) as img:
                    size = img.size
        if msg.get("role") != "assistant":
            continue
        at = f"{where}: messages[{k}]"
        found = isinstance(content, str) and TEXT_KEYS.search(content)
        calls = [
            c for c in msg.get("tool_calls") or [] if any(key in c.get("arguments", {}) for key in ARG_KEYS)
        ]
        if (found or calls) and size is None:
            raise DataError(f"{at}: pixel coordinates with no image before them")
        if found:
            parts = TEXT_KEYS.split(content)  # text, key, numbers, text, key, numbers, ...
            for j in range(2, len(parts), 3):
                values = [float(v) for v in parts[j].split(",") if v.strip()]
                parts[j] = "[" + ", ".join(str(v) for v in _scale(values, size, at)) + "]"
                converted += 1
            msg["content"] = "".join(parts)
        for call in calls:
            for key in ARG_KEYS:
                if key in call["arguments"]:
                    call["arguments"][key] = _scale(call["arguments"][key], size, at)
                    converted += 1
    return converted
