"""Render a conversation through the model's own chat template: the one owner of masking.

`render` turns one conversation (the on-disk format, see zen_vl.data.schema) plus the processor
into model inputs and labels. The text comes from `processor.apply_chat_template` (so tools are
rendered into the system prompt exactly as the official template does) and the tensors from
`processor(...)`, which is what `apply_chat_template(tokenize=True)` does itself.

Supervised: every assistant turn from just after its generation prompt (`<|im_start|>assistant\\n`,
plus `<think>\\n` under the Thinking template) through its closing `<|im_end|>` — text, reasoning
and tool calls. Not supervised: system, user, image and video tokens, tool responses, padding.

Under the Thinking template a conversation with several user queries is trained as the renderings
the model sees at inference (`training_views`): the template drops the reasoning of assistant turns
before the last query, so one rendering per query, up to the next one, supervises only that query's
assistant turns, each with its reasoning; every assistant turn is supervised exactly once.
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import Any

import torch

from zen_vl.errors import ZenError
from zen_vl.media import frame_paths

IGNORE_INDEX = -100
IM_START, IM_END = "<|im_start|>", "<|im_end|>"


class SampleTooLong(ZenError):
    """A sample longer than max_length: dropped and counted, never cut through its image tokens."""


def load_media(messages: list[dict], media_root: Path | None) -> tuple[list[dict], list, list]:
    """Messages for apply_chat_template, with image/video paths resolved and loaded in order."""
    from PIL import Image

    images, videos, out = [], [], []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            blocks = []
            for block in content:
                kind = block.get("type")
                if kind == "image":
                    src = block["image"]
                    img = src if isinstance(src, Image.Image) else Image.open(_resolve(src, media_root))
                    images.append(img.convert("RGB"))
                    blocks.append({"type": "image"})
                elif kind == "video":
                    frames = _load_video(block["video"], media_root)
                    fps = float(block.get("fps", 2.0))
                    meta = {
                        "fps": fps,
                        "total_num_frames": len(frames),
                        "frames_indices": list(range(len(frames))),
                    }
                    videos.append((frames, meta))
                    blocks.append({"type": "video"})
                else:
                    blocks.append(block)
            message = {**message, "content": blocks}
        out.append(message)
    return out, images, videos


def _resolve(path: str, media_root: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or media_root is None else media_root / p


def _load_video(src: Any, media_root: Path | None):
    """A video as a list of frames: a list of image paths, or a folder of frames."""
    from PIL import Image

    if isinstance(src, list):
        return [
            f if isinstance(f, Image.Image) else Image.open(_resolve(f, media_root)).convert("RGB")
            for f in src
        ]
    return [Image.open(f).convert("RGB") for f in frame_paths(_resolve(src, media_root))]


_HEADERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def generation_header(processor, tools: list | None = None) -> list[int]:
    """Token ids the template appends for `add_generation_prompt` (what the model never writes).

    Cached per processor and tool list: it costs two template renders.
    """
    cache = _HEADERS.setdefault(processor, {})
    key = json.dumps(tools, sort_keys=True)
    if key not in cache:
        cache[key] = _generation_header(processor, tools)
    return cache[key]


def _generation_header(processor, tools: list | None) -> list[int]:
    probe = [{"role": "user", "content": [{"type": "text", "text": "x"}]}]
    with_prompt = processor.apply_chat_template(
        probe, tools=tools, add_generation_prompt=True, tokenize=False
    )
    without = processor.apply_chat_template(probe, tools=tools, add_generation_prompt=False, tokenize=False)
    if not with_prompt.startswith(without):
        raise ValueError("chat template's generation prompt is not a suffix of the rendered prompt")
    return processor.tokenizer(with_prompt[len(without) :], add_special_tokens=False)["input_ids"]


def assistant_labels(
    input_ids: torch.Tensor,
    header: list[int],
    role_header: list[int],
    im_end: int,
    skip_turns: int = 0,
    context: frozenset[int] = frozenset(),
) -> torch.Tensor:
    """Labels for one sequence: assistant turns after their header through <|im_end|>, else ignored;
    the first `skip_turns` assistant turns, and those numbered in `context`, are not supervised.

    `role_header` opens every assistant turn (`<|im_start|>assistant\n`); `header` is the full
    generation prompt, which may go on (`<think>\n`) and is skipped too where a turn has it.
    """
    if header[: len(role_header)] != role_header:
        raise ValueError("the generation prompt does not start with the assistant role header")
    ids = input_ids.tolist()
    labels = [IGNORE_INDEX] * len(ids)
    i, turn = 0, 0
    while i < len(ids):
        if ids[i : i + len(role_header)] == role_header:
            start = i + len(role_header)
            # Skip the rest of the generation prompt (e.g. "<think>\n") when this turn has it.
            rest = header[len(role_header) :]
            if rest and ids[start : start + len(rest)] == rest:
                start += len(rest)
            end = start
            while end < len(ids) and ids[end] != im_end:
                end += 1
            if turn >= skip_turns and turn not in context:
                for j in range(start, min(end + 1, len(ids))):
                    labels[j] = ids[j]
            turn += 1
            i = end + 1
        else:
            i += 1
    return torch.tensor(labels, dtype=input_ids.dtype)


def render(
    sample: dict,
    processor,
    *,
    media_root: Path | None = None,
    processor_kwargs: dict | None = None,
    max_length: int | None = None,
    add_generation_prompt: bool = False,
    skip_turns: int = 0,
) -> dict[str, torch.Tensor]:
    """Model inputs + labels for one conversation (batch dimension 1, unpadded).

    With `add_generation_prompt` the last turn is left for the model to write (evaluation prompts);
    `skip_turns` leaves the first assistant turns unsupervised (see `training_views`).
    """
    messages, images, videos = load_media(sample["messages"], media_root)
    tools = sample.get("tools") or None
    text = processor.apply_chat_template(
        messages, tools=tools, add_generation_prompt=add_generation_prompt, tokenize=False
    )
    kwargs = dict(processor_kwargs or {})
    if videos:
        # Frames arrive pre-sampled; their timestamps come from the metadata.
        kwargs.setdefault("videos_kwargs", {}).update(do_sample_frames=False, cap_pixels_per_frame=True)
        kwargs["video_metadata"] = [meta for _, meta in videos]
    batch = processor(
        text=[text],
        images=images or None,
        videos=[frames for frames, _ in videos] or None,
        return_tensors="pt",
        **kwargs,
    )
    n = batch["input_ids"].shape[1]
    if max_length is not None and n > max_length:
        raise SampleTooLong(f"sample {sample.get('id', '?')}: {n} tokens > max_length {max_length}")
    tok = processor.tokenizer
    labels = assistant_labels(
        batch["input_ids"][0],
        header=generation_header(processor, tools),
        role_header=tok(f"{IM_START}assistant\n", add_special_tokens=False)["input_ids"],
        im_end=tok.convert_tokens_to_ids(IM_END),
        skip_turns=skip_turns,
        context=context_turns(messages),
    )
    return {**batch, "labels": labels.unsqueeze(0)}


def context_turns(messages: list[dict]) -> frozenset[int]:
    """Ordinals of the assistant turns marked `"loss": false` (rendered as context, not supervised)."""
    answers = [m for m in messages if m.get("role") == "assistant"]
    return frozenset(k for k, m in enumerate(answers) if m.get("loss") is False)


def opens_reasoning(processor) -> bool:
    """Whether the template's generation prompt opens a think block (the Thinking convention)."""
    return "<think>" in processor.tokenizer.decode(generation_header(processor))


def _is_query(message: dict) -> bool:
    """A user turn that asks something (not one that only carries tool responses)."""
    if message.get("role") != "user":
        return False
    content = message.get("content")
    text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content or [])
    text = text.strip()
    return not (text.startswith("<tool_response>") and text.endswith("</tool_response>"))


def training_views(sample: dict, processor) -> list[tuple[dict, int]]:
    """(sample, skip_turns) pairs to train on. Under a template that opens reasoning, a conversation
    with several queries becomes one view per query that has assistant turns: the messages up to the
    next query, supervising only the assistant turns after this one (earlier ones are context, as the
    template renders them at inference: without their reasoning). Otherwise the sample as it is."""
    window = (sample.get("meta") or {}).get("screenshot_window")
    views = _query_views(sample, processor)
    return [v for view in views for v in _window_views(*view, window)] if window else views


OMITTED = "(an earlier screenshot, left out)"


def _images(messages: list[dict]) -> int:
    return sum(
        b.get("type") == "image" for m in messages if isinstance(m.get("content"), list) for b in m["content"]
    )


def bounded(messages: list[dict], keep: int) -> list[dict]:
    """The messages with only the last `keep` images (older image blocks become a text note): how a GUI
    episode's context is cut at every step, in training and in the eval."""
    seen, out = 0, []
    for m in reversed(messages):
        content = m.get("content")
        if isinstance(content, list):
            blocks = []
            for b in reversed(content):
                if b.get("type") == "image":
                    seen += 1
                    b = b if seen <= keep else {"type": "text", "text": OMITTED}
                blocks.append(b)
            m = {**m, "content": blocks[::-1]}
        out.append(m)
    return out[::-1]


def _window_views(sample: dict, skip: int, keep: int) -> list[tuple[dict, int]]:
    """A view whose context holds more than `keep` images, split so every supervised turn sees what
    the eval shows at that step (the last `keep` images before it): the turns that still fit in one
    view, then one view per later turn, its context bounded."""
    messages = sample["messages"]
    turns = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    fits = [i for i in turns[skip:] if _images(messages[:i]) <= keep]
    views = []
    if fits:
        views.append(({**sample, "messages": messages[: fits[-1] + 1]}, skip))
    for k, i in enumerate(turns):
        if k < skip or i in fits or messages[i].get("loss") is False:
            continue
        views.append(({**sample, "messages": bounded(messages[: i + 1], keep)}, k))
    return views


def _query_views(sample: dict, processor) -> list[tuple[dict, int]]:
    messages = sample["messages"]
    queries = [i for i, m in enumerate(messages) if _is_query(m)]
    if len(queries) < 2 or not opens_reasoning(processor):
        return [(sample, 0)]
    views = []
    for q, start in enumerate(queries):
        end = queries[q + 1] if q + 1 < len(queries) else len(messages)
        if not any(m.get("role") == "assistant" and m.get("loss") is not False for m in messages[start:end]):
            continue
        skip = sum(m.get("role") == "assistant" for m in messages[:start])
        views.append(({**sample, "messages": messages[:end]}, skip))
    return views
