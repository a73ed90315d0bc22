"""ScreenSpot-v2 (GUI grounding) in its public file format, scored with its own metric.

A ScreenSpot-v2 folder holds `screenspot_{desktop,mobile,web}_v2.json` (lists of
`{"img_filename", "bbox": [x, y, w, h] in pixels, "instruction", "data_type": "text"|"icon",
"data_source"}`) and the screenshots in `screenspotv2_image/`. Each entry becomes one prompt:
the screenshot, the instruction, and the `click` tool the agent variant is trained with. A
prediction is right when its point (the click's coordinate, or a `point_2d`/`bbox_2d` centre)
lies inside the target box, both in Qwen3-VL's 0-1000 coordinates.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from zen_vl.data.gui import TOOLS
from zen_vl.errors import ZenError
from zen_vl.evaluate.cases import Case

PLATFORMS = ("desktop", "mobile", "web")
IMAGES = "screenspotv2_image"


def load_screenspot(folder: Path, limit: int | None = None) -> list[Case]:
    folder = Path(folder)
    files = [
        folder / f"screenspot_{p}_v2.json"
        for p in PLATFORMS
        if (folder / f"screenspot_{p}_v2.json").is_file()
    ]
    if not files:
        raise ZenError(f"{folder}: no screenspot_<desktop|mobile|web>_v2.json files (ScreenSpot-v2 layout)")
    cases = []
    for path in files:
        platform = path.stem.split("_")[1]
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ZenError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
        for i, e in enumerate(entries[:limit]):
            missing = [k for k in ("img_filename", "bbox", "instruction") if k not in e]
            if missing:
                raise ZenError(f"{path}: entry {i}: missing {', '.join(missing)}")
            image = folder / IMAGES / e["img_filename"]
            if not image.is_file():
                raise ZenError(f"{path}: entry {i}: image {image} not found")
            with Image.open(image) as img:
                w, h = img.size
            x, y, bw, bh = e["bbox"]
            box = [
                round(1000 * x / w),
                round(1000 * y / h),
                round(1000 * (x + bw) / w),
                round(1000 * (y + bh) / h),
            ]
            centre = [(box[0] + box[2]) // 2, (box[1] + box[3]) // 2]
            prompt = {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "image": str(image.resolve())},
                            {"type": "text", "text": e["instruction"]},
                        ],
                    }
                ],
                "tools": [TOOLS["click"]],
            }
            cases.append(
                Case(
                    id=f"screenspot:{platform}:{i}",
                    prompt=prompt,
                    expected={
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{"name": "click", "arguments": {"coordinate": centre}}],
                    },
                    meta={
                        "skill": "screenspot",
                        "task": f"{platform}/{e.get('data_type', 'unknown')}",
                        "answer": box,
                        "targets": {"click": box},
                    },
                    tools=[TOOLS["click"]],
                )
            )
    return cases
