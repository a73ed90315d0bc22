"""PIL drawing shared by the generators: palette, shapes, fonts, and Qwen3-VL's 0-1000 coordinates."""

from __future__ import annotations

import math
from functools import cache

from PIL import Image, ImageDraw, ImageFont

# Names a model can be asked about, with colours far enough apart to stay distinct after resizing.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 20),
    "orange": (245, 130, 20),
    "purple": (140, 60, 180),
    "black": (20, 20, 20),
    "pink": (240, 110, 180),
}
SHAPES = ("circle", "square", "triangle", "diamond")
BACKGROUND = (250, 250, 250)
# Fonts with Latin, Greek and Cyrillic; Pillow's built-in font (Latin only) is the fallback.
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = FONT_FILES[1] if bold else FONT_FILES[0]
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default(size)


def font_name() -> str:
    """What text is drawn with (recorded in the manifest: it changes the pixels)."""
    return font(12).getname()[0]


def has_unicode_font() -> bool:
    """True when scripts beyond Latin (Greek, Cyrillic) can be rendered."""
    return font_name().startswith("DejaVu")


def canvas(width: int, height: int, colour=BACKGROUND) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (width, height), colour)
    return img, ImageDraw.Draw(img)


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill) -> None:
    """A shape of half-size r centred at (cx, cy); its bounding box is cx±r, cy±r."""
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    elif shape == "star":
        points = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((cx + rad * math.cos(angle), cy + rad * math.sin(angle)))
        draw.polygon(points, fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def rel_box(box: tuple[float, float, float, float], width: int, height: int) -> list[int]:
    """A pixel box (x1, y1, x2, y2) in Qwen3-VL's relative 0-1000 coordinates."""
    x1, y1, x2, y2 = box
    return [rel(x1, width), rel(y1, height), rel(x2, width), rel(y2, height)]


def rel_point(x: float, y: float, width: int, height: int) -> list[int]:
    return [rel(x, width), rel(y, height)]


def rel(v: float, extent: int) -> int:
    return max(0, min(1000, round(v / extent * 1000)))


def text_size(draw: ImageDraw.ImageDraw, text: str, fnt) -> tuple[int, int]:
    x1, y1, x2, y2 = draw.textbbox((0, 0), text, font=fnt)
    return x2 - x1, y2 - y1
