"""What every generator receives: a seeded RNG, the split, identity, image size, and a media writer.

A generator is a function `ctx -> sample` (the on-disk conversation format plus a `meta` dict of
ground truth: `task`, `answer`, and a `key` that identifies the underlying scene or question so
the builder can prove no evaluation sample leaks from train).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from zen_vl.config import DataCfg, IdentityCfg

SPLITS = ("train", "val", "test")


@dataclass
class MediaWriter:
    """Saves generated images and frame folders under root; returns paths relative to it."""

    root: Path
    written: list[Path] = field(default_factory=list)

    def image(self, img: Image.Image, name: str) -> str:
        path = self.root / "media" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, format="PNG", optimize=False)
        self.written.append(path)
        return path.relative_to(self.root).as_posix()

    def frames(self, frames: list[Image.Image], name: str) -> str:
        folder = self.root / "media" / name
        folder.mkdir(parents=True, exist_ok=True)
        for k, frame in enumerate(frames):
            path = folder / f"{k:03d}.png"
            frame.save(path, format="PNG", optimize=False)
            self.written.append(path)
        return folder.relative_to(self.root).as_posix()


@dataclass
class Ctx:
    rng: random.Random
    split: str
    think: bool  # the variant trains with the Thinking template: assistant turns carry reasoning
    identity: IdentityCfg
    data: DataCfg
    media: MediaWriter
    stem: str  # unique media name for this sample

    # What generators read, from the config sections.
    name = property(lambda self: self.identity.name)
    org = property(lambda self: self.identity.org)
    built_on = property(lambda self: self.identity.built_on)
    image_size = property(lambda self: self.data.image_size)
    languages = property(lambda self: tuple(self.data.languages))
    screens = property(lambda self: tuple(self.data.gui_screens), doc="GUI screen kinds to draw")
    distractors = property(lambda self: self.data.gui_distractors, doc="most unneeded tools declared")

    @property
    def heldout(self) -> bool:
        return self.split != "train"

    def phrasing(self, options: list[str]) -> tuple[str, bool]:
        """Pick a phrasing. In lists of 4 or more, every 4th is held out: only val/test ask it.

        Returns (text, was_held_out).
        """
        if len(options) < 4:
            return self.rng.choice(options), False
        allowed = [i for i in range(len(options)) if (i % 4 == 3) == self.heldout]
        i = self.rng.choice(allowed)
        return options[i], self.heldout


def user(*blocks: dict | str) -> dict:
    return {"role": "user", "content": [_block(b) for b in blocks]}


def image_block(path: str) -> dict:
    return {"type": "image", "image": path}


def video_block(path: str, fps: float) -> dict:
    return {"type": "video", "video": path, "fps": fps}


def assistant(text: str, ctx: Ctx, reasoning: str, tool_calls: list | None = None) -> dict:
    """An assistant turn; its reasoning is kept only for the thinking variant."""
    msg: dict = {"role": "assistant", "content": text}
    if ctx.think:
        msg["reasoning_content"] = reasoning
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return msg


def system(text: str) -> dict:
    return {"role": "system", "content": [{"type": "text", "text": text}]}


def _block(b: dict | str) -> dict:
    return {"type": "text", "text": b} if isinstance(b, str) else b


def sample(messages: list[dict], *, task: str, key: str, answer, tools: list | None = None, **meta) -> dict:
    out: dict = {"messages": messages}
    if tools:
        out["tools"] = tools
    out["meta"] = {"task": task, "key": key, "answer": answer, **meta}
    return out
