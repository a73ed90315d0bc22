"""ScreenSpot-v2 and ScreenSpot-Pro (GUI grounding) in their public file formats, scored with their
own metric.

ScreenSpot-v2 (the `OS-Copilot/ScreenSpot-v2` dataset): `screenspot_{desktop,mobile,web}_v2.json`,
lists of `{"img_filename", "bbox": [x, y, width, height] in pixels, "instruction", "data_type":
"text"|"icon", "data_source"}`, and the screenshots in `screenspotv2_image/` (the unzipped
`screenspotv2_image.zip`). The box convention is SeeClick's, whose ScreenSpot v1 files v2 keeps.

ScreenSpot-Pro (the `likaixin/ScreenSpot-Pro` dataset; its evaluation script
`eval_screenspot_pro.py` in likaixin2000/ScreenSpot-Pro-GUI-Grounding): `annotations/<app>_<os>.json`,
lists of `{"id", "img_filename" (under images/), "bbox": [x1, y1, x2, y2] in pixels, "img_size":
[width, height], "instruction", "instruction_cn", "application", "platform", "group", "ui_type":
"text"|"icon"}`. Its metric: the point inside the box, edges included; reported by group and ui_type.

Each entry becomes one prompt: the screenshot, the instruction, and the `click` tool the agent
variant is trained with. A prediction is right when its point (the click's coordinate, or a
`point_2d`/`bbox_2d` centre) lies inside the target box, both in Qwen3-VL's 0-1000 coordinates.
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
    """A ScreenSpot-v2 folder, or a ScreenSpot-Pro one (it has `annotations/` and `images/`)."""
    folder = Path(folder)
    if (folder / "annotations").is_dir():
        return load_screenspot_pro(folder, limit)
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
            task = f"{platform}/{e.get('data_type', 'unknown')}"
            cases.append(
                _case(
                    f"screenspot:{platform}:{i}",
                    image,
                    e["instruction"],
                    [x, y, x + bw, y + bh],
                    (w, h),
                    task,
                )
            )
    return cases


def load_screenspot_pro(folder: Path, limit: int | None = None) -> list[Case]:
    files = sorted((folder / "annotations").glob("*.json"))
    if not files:
        raise ZenError(
            f"{folder / 'annotations'}: no <application>_<platform>.json files (ScreenSpot-Pro layout)"
        )
    cases = []
    for path in files:
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ZenError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
        for i, e in enumerate(entries[:limit]):
            missing = [k for k in ("img_filename", "bbox", "img_size", "instruction") if k not in e]
            if missing:
                raise ZenError(f"{path}: entry {i}: missing {', '.join(missing)}")
            image = folder / "images" / e["img_filename"]
            if not image.is_file():
                raise ZenError(f"{path}: entry {i}: image {image} not found")
            x1, y1, x2, y2 = e["bbox"]
            if not (x1 <= x2 and y1 <= y2):
                raise ZenError(f"{path}: entry {i}: bbox {e['bbox']} is not [x1, y1, x2, y2]")
            task = f"pro/{e.get('group', 'unknown')}/{e.get('ui_type', 'unknown')}"
            cases.append(_case(f"screenspot-pro:{path.stem}:{e.get('id', i)}", image, e["instruction"],
                               [x1, y1, x2, y2], tuple(e["img_size"]), task))  # fmt: skip
    return cases


def _case(case_id: str, image: Path, instruction: str, box_px: list, size: tuple, task: str) -> Case:
    """One grounding prompt: the target box in pixels becomes Qwen3-VL's 0-1000 coordinates."""
    w, h = size
    box = [round(1000 * box_px[0] / w), round(1000 * box_px[1] / h),
           round(1000 * box_px[2] / w), round(1000 * box_px[3] / h)]  # fmt: skip
    centre = [(box[0] + box[2]) // 2, (box[1] + box[3]) // 2]
    prompt = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": str(image.resolve())},
                    {"type": "text", "text": instruction},
                ],
            }
        ],
        "tools": [TOOLS["click"]],
    }
    return Case(
        id=case_id,
        prompt=prompt,
        expected={
            "role": "assistant",
            "content": "",
            "tool_calls": [{"name": "click", "arguments": {"coordinate": centre}}],
        },
        meta={"skill": "screenspot", "task": task, "answer": box, "targets": {"click": box}},
        tools=[TOOLS["click"]],
    )
