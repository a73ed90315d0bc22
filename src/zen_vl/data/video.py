"""Short generated clips (a shape moving across the frame) with a temporal question.

They train and test the processor's video path: frames are stored as a folder of PNGs, which
chat.render hands to the Qwen3-VL video processor with their fps as metadata.
"""

from __future__ import annotations

from zen_vl.data import draw
from zen_vl.data.context import Ctx, assistant, sample, user, video_block

DIRECTIONS = {  # unit motion per clip, as (dx, dy)
    "left to right": (1, 0),
    "right to left": (-1, 0),
    "top to bottom": (0, 1),
    "bottom to top": (0, -1),
}
FPS = 2.0


def video(ctx: Ctx, frames: int = 4) -> dict:
    """`frames` must be even: Qwen3-VL merges frames in temporal pairs."""
    rng = ctx.rng
    size = max(64, ctx.image_size // 2)
    shape, colour = rng.choice(draw.SHAPES), rng.choice(list(draw.COLOURS))
    direction = rng.choice(list(DIRECTIONS))
    dx, dy = DIRECTIONS[direction]
    r = size * rng.uniform(0.08, 0.12)
    lo, hi = r + 2, size - r - 2
    cross = rng.uniform(lo, hi)  # position on the other axis stays fixed
    clip = []
    for k in range(frames):
        t = lo + (hi - lo) * k / (frames - 1)
        along = t if (dx + dy) > 0 else hi + lo - t
        cx, cy = (along, cross) if dx else (cross, along)
        img, pen = draw.canvas(size, size)
        draw.draw_shape(pen, shape, cx, cy, r, draw.COLOURS[colour])
        clip.append(img)
    path = ctx.media.frames(clip, ctx.stem)
    q, _ = ctx.phrasing(
        [
            f"In which direction does the {colour} {shape} move?",
            "Which way is the shape moving?",
            "Describe the motion in this video.",
            f"Where does the {colour} {shape} go?",
        ]
    )
    start, end = direction.split(" to ")
    answer = f"The {colour} {shape} moves from the {start} to the {end}."
    why = (
        f"In the first frame the {colour} {shape} is at the {start}; in the last frame it is at the {end}. "
        f"So it moves from {direction}."
    )
    messages = [user(video_block(path, FPS), q), assistant(answer, ctx, why)]
    return sample(
        messages,
        task="video_direction",
        key=f"video:{shape}:{colour}:{direction}:{round(cross)}:{round(r)}",
        answer=direction,
        skill="video",
    )
