"""Bring-your-own sources (`data.sources` in YAML): local JSONL files and Hub datasets.

A local file is in the project's format (`format: messages`) or ShareGPT (`format: sharegpt`). A
Hub dataset is read with `datasets.load_dataset(hub, subset, split=..., revision=...)` and each row
mapped through `columns` (our field -> the dataset's column):

- `messages` (+ `images`): rows already in TRL's messages format; image blocks without a path take
  the row's images in order.
- `conversations` (+ `images`, `tools`, `system`): ShareGPT rows (`format: sharegpt`).
- `question` + `answer` (+ `image`/`images`): VQA-style rows (`format: columns`).
- `query` + `tool_calls` + `tools`: function-calling rows such as xLAM/APIGen (`format: columns`);
  tools whose parameters are not JSON schema (xLAM's `{"x": {"type": "str, optional"}}`) are converted.

Images in rows (PIL images, `{"bytes": ...}` dicts or paths) are written into the built dataset's
media folder, so a built dataset is self-contained.
"""

from __future__ import annotations

import base64
import io
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zen_vl.config import IdentityCfg, SourceCfg
from zen_vl.data import llamafactory
from zen_vl.data.adapters import from_openai, from_sharegpt
from zen_vl.data.context import MediaWriter
from zen_vl.data.coords import to_thousandths
from zen_vl.data.schema import DataError, read_jsonl
from zen_vl.media import VIDEO_SUFFIXES, frame_paths, read_video_file

PY_TYPES = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "dict": "object",
    "object": "object",
}


@dataclass(frozen=True)
class VideoSampling:
    """How video files in sources become frames (data.video_*; qwen-vl-utils' defaults)."""

    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 32


@dataclass
class Loaded:
    """A source's samples as (where, sample) pairs, what was dropped by reason, placeholders filled."""

    samples: list[tuple[str, dict]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    placeholders: int = 0
    coords_converted: int = 0

    def drop(self, src: SourceCfg, where: str, reason: str) -> None:
        """Count a bad sample (on_invalid: drop) or stop naming it (error)."""
        if src.on_invalid == "error":
            raise DataError(f"{where}: {reason}" if not reason.startswith(where) else reason)
        self.dropped[reason_kind(reason.removeprefix(f"{where}: "))] += 1


def reason_kind(reason: str) -> str:
    """A reason without its positions and quoted values, so that like problems count together."""
    reason = re.sub(r"\[\d+\]", "[]", reason)
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)
    return reason.split("\n")[0][:120]


def load_source(
    src: SourceCfg,
    media: MediaWriter,
    project_root: Path,
    identity: IdentityCfg | None = None,
    video: VideoSampling = VideoSampling(),
) -> Loaded:
    """The source's samples; `where` names the file line or dataset row for error messages. Media
    paths are relative to the file (a dataset_info.json's folder), else to the project root."""
    loaded = _local(src, media, project_root, video) if src.path is not None else _hub(src, media, video)
    if identity is not None:
        for _, sample in loaded.samples:
            loaded.placeholders += fill_placeholders(sample, identity)
    return loaded


PLACEHOLDERS = {"{{name}}": "name", "{{author}}": "org"}


def fill_placeholders(sample: dict, identity: IdentityCfg) -> int:
    """LLaMA-Factory's identity convention: `{{name}}` and `{{author}}` in any text become
    identity.name and identity.org. Returns how many were filled."""
    filled = 0

    def fill(text: str) -> str:
        nonlocal filled
        for tag, key in PLACEHOLDERS.items():
            filled += text.count(tag)
            text = text.replace(tag, getattr(identity, key))
        return text

    for msg in sample.get("messages", []):
        for key in ("content", "reasoning_content"):
            value = msg.get(key)
            if isinstance(value, str):
                msg[key] = fill(value)
            elif isinstance(value, list):
                for block in value:
                    if isinstance(block, dict) and isinstance(block.get("text"), str):
                        block["text"] = fill(block["text"])
    return filled


def split_source(samples: list, src: SourceCfg, seed: int) -> dict[str, list]:
    """Shuffle with the seed and hold out `eval_fraction`, half to val and half to test."""
    order = list(samples)
    random.Random(f"{seed}/source/{src.name}").shuffle(order)
    n_eval = round(len(order) * src.eval_fraction)
    n_val = n_eval // 2
    return {"val": order[:n_val], "test": order[n_val:n_eval], "train": order[n_eval:]}


def _local(src: SourceCfg, media: MediaWriter, project_root: Path, video: VideoSampling) -> Loaded:
    path = Path(src.path)
    path = path if path.is_absolute() else project_root / path
    attr, media_base = None, path.parent
    if src.format == "llamafactory":
        media_base = path.parent  # LLaMA-Factory's media_dir: the dataset_info.json folder
        path, attr = llamafactory.dataset_entry(path, src.dataset)
    bases = (media_base, project_root)
    if src.media_dir is not None:
        bases = (Path(src.media_dir) if Path(src.media_dir).is_absolute() else project_root / src.media_dir,)
    out = Loaded()
    for line, record in read_jsonl(path):
        where = f"{path}:{line}"
        try:
            sample = _convert_local(record, src, attr, where)
            _import_media(sample, bases, media, f"{src.name}/{line:06d}", where, video)
            if src.coords == "pixels":
                out.coords_converted += to_thousandths(sample, media.root, where)
        except DataError as exc:
            out.drop(src, where, str(exc))
            continue
        out.samples.append((where, sample))
        if len(out.samples) >= src.limit:
            break
    return out


def _convert_local(record: dict, src: SourceCfg, attr: dict | None, where: str) -> dict:
    if attr is not None:
        sample = llamafactory.convert(record, attr, where)
    elif src.format == "sharegpt":
        sample = from_sharegpt(record, where=where)
    elif src.format == "columns":
        return from_columns(record, src.columns, where)
    elif llamafactory.is_typed(record):
        sample = llamafactory.from_typed_blocks(record, where)
    else:
        sample = from_openai(record, where)
    if sample.get("tools"):
        sample["tools"] = normalize_tools(sample["tools"], where)
    return sample


def _hub(src: SourceCfg, media: MediaWriter, video: VideoSampling) -> Loaded:
    import datasets

    try:
        ds = datasets.load_dataset(src.hub, src.subset, split=src.split, revision=src.revision)
    except Exception as exc:  # the datasets library raises many types; all mean "cannot read it"
        recipe = f" (recipe {src.recipe}, configs/recipes.yaml)" if src.recipe else ""
        raise DataError(
            f"data source '{src.name}'{recipe}: cannot load Hub dataset {src.hub!r} (split {src.split!r}): "
            f"{type(exc).__name__}: {exc}. Without network, use a local `path:` source instead, or train "
            "on the generated data only: data.sources=[]"
        ) from None
    out = Loaded()
    for row_no, row in enumerate(ds.select(range(min(src.limit, len(ds))))):
        where = f"{src.hub}[{src.split}] row {row_no}"
        try:
            sample = _convert_row(row, src, where)
            _import_media(sample, (), media, f"{src.name}/{row_no:06d}", where, video)
            if src.coords == "pixels" and src.format != "grounding":  # grounding rows convert themselves
                out.coords_converted += to_thousandths(sample, media.root, where)
        except DataError as exc:
            out.drop(src, where, str(exc))
            continue
        out.samples.append((where, sample))
    return out


def from_cauldron(row: dict, where: str) -> dict:
    """A the_cauldron row (HuggingFaceM4/the_cauldron): `images` (the row's images) and `texts`, a
    list of {user, assistant, source} turns; the images open the first user turn."""
    texts = row.get("texts")
    if not isinstance(texts, list) or not texts:
        raise DataError(f"{where}: no 'texts' list of {{user, assistant}} turns (columns: {sorted(row)})")
    messages: list[dict] = []
    for k, turn in enumerate(texts):
        if (
            not isinstance(turn, dict)
            or not isinstance(turn.get("user"), str)
            or not isinstance(turn.get("assistant"), str)
        ):
            raise DataError(f"{where}: texts[{k}] is not a {{user, assistant}} pair of strings")
        content = [{"type": "image", "image": img} for img in (_as_list(row.get("images")) if k == 0 else [])]
        messages += [
            {"role": "user", "content": [*content, {"type": "text", "text": turn["user"]}]},
            {"role": "assistant", "content": turn["assistant"]},
        ]
    return {"messages": messages}


def from_grounding(row: dict, src: SourceCfg, where: str) -> dict:
    """A GUI grounding row (an instruction naming one element, its box) as a `click` at the box's
    centre in 0-1000 coordinates, the `click` tool declared. `coords` says how the box is given:
    pixels [x1, y1, x2, y2] of the `resolution` column (else of the image), relative 0-1, or
    thousandths."""
    from zen_vl.data.gui import TOOLS

    def col(field: str):
        return row.get(src.columns.get(field, field))

    image, text, box = col("image"), col("instruction"), col("bbox")
    if image is None or not isinstance(text, str) or not isinstance(box, list | tuple) or len(box) != 4:
        raise DataError(
            f"{where}: a grounding row needs image, instruction and a 4-number bbox (columns: {sorted(row)})"
        )
    x1, y1, x2, y2 = (float(v) for v in box)
    if src.coords == "pixels":
        size = col("resolution")
        if not (isinstance(size, list | tuple) and len(size) == 2):
            size = _open(image, (), where).size
        w, h = (float(v) for v in size)
        scale = (1000 / w, 1000 / h)
    else:
        scale = (1000.0, 1000.0) if src.coords == "relative" else (1.0, 1.0)
    point = [round((x1 + x2) / 2 * scale[0]), round((y1 + y2) / 2 * scale[1])]
    if not all(0 <= v <= 1000 for v in point):
        raise DataError(f"{where}: bbox {list(box)} lies outside the image ({src.coords} coordinates)")
    return {
        "tools": [TOOLS["click"]],
        "messages": [
            {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": text}]},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"name": "click", "arguments": {"coordinate": point}}],
            },
        ],
    }


def _convert_row(row: dict, src: SourceCfg, where: str) -> dict:
    if src.format == "grounding":
        return from_grounding(row, src, where)
    if src.format == "cauldron":
        return from_cauldron(row, where)
    if src.format == "messages":
        return _from_messages(row, src.columns, where)
    if src.format == "sharegpt":
        record = {
            k: row[src.columns.get(k, k)]
            for k in ("conversations", "images", "tools", "system")
            if src.columns.get(k, k) in row
        }
        images = record.pop("images", None) or []
        record["images"] = list(images) if isinstance(images, list) else [images]
        return from_sharegpt(record, where=where)
    return from_columns(row, src.columns, where)


def _from_messages(row: dict, columns: dict, where: str) -> dict:
    messages = row.get(columns.get("messages", "messages"))
    if not isinstance(messages, list):
        raise DataError(f"{where}: column {columns.get('messages', 'messages')!r} is not a list of messages")
    images = list(_as_list(row.get(columns.get("images", "images"))))
    messages = [_drop_nulls(m) for m in messages]  # arrow fills absent keys with None
    for msg in messages:
        if isinstance(msg.get("content"), list):
            for block in msg["content"]:
                if block.get("type") == "image" and not block.get("image"):
                    if not images:
                        raise DataError(f"{where}: more image blocks than images")
                    block["image"] = images.pop(0)
    sample = {"messages": messages}
    tools = row.get(columns.get("tools", "tools"))
    if tools:
        sample["tools"] = normalize_tools(tools, where)
    return sample


def _drop_nulls(msg: dict) -> dict:
    out = {k: v for k, v in msg.items() if v is not None}
    if isinstance(out.get("content"), list):
        out["content"] = [{k: v for k, v in b.items() if v is not None} for b in out["content"]]
    return out


def from_columns(row: dict, columns: dict[str, str], where: str) -> dict:
    """A VQA row (question/answer/image) or a function-calling row (query/tools/tool_calls)."""

    def col(field: str) -> Any:
        name = columns.get(field, field)
        return row.get(name)

    text = col("question") if col("question") is not None else col("query")
    if not isinstance(text, str):
        raise DataError(
            f"{where}: no question or query text (columns: {sorted(row)}); set data.sources[].columns"
        )
    content: list[dict] = [{"type": "image", "image": img} for img in _as_list(col("images") or col("image"))]
    content.append({"type": "text", "text": text})
    messages: list[dict] = []
    if isinstance(col("system"), str) and col("system"):
        messages.append({"role": "system", "content": col("system")})
    messages.append({"role": "user", "content": content})
    calls = col("tool_calls")
    if calls is not None:
        calls = json.loads(calls) if isinstance(calls, str) else calls
        calls = [c.get("function", c) for c in calls]
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "name": c["name"],
                        "arguments": json.loads(c["arguments"])
                        if isinstance(c.get("arguments"), str)
                        else c.get("arguments", {}),
                    }
                    for c in calls
                ],
            }
        )
    elif isinstance(col("answer"), str):
        messages.append({"role": "assistant", "content": col("answer")})
    else:
        raise DataError(f"{where}: no answer or tool_calls column (columns: {sorted(row)})")
    sample = {"messages": messages}
    if col("tools"):
        sample["tools"] = normalize_tools(col("tools"), where)
    return sample


def normalize_tools(tools: Any, where: str) -> list[dict]:
    """Function definitions in the OpenAI shape with JSON-schema parameters."""
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError:
            raise DataError(f"{where}: tools is a string that is not JSON") from None
    out = []
    for tool in tools:
        if not isinstance(tool, dict):
            raise DataError(f"{where}: a tool is not a function definition: {json.dumps(tool)[:80]}")
        fn = dict(tool.get("function", tool))
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        if params.get("type") in ("dict", "object") or "properties" in params:
            params = _python_types({**params, "type": "object"})  # glaive/APIGen write "dict", "str"
        else:
            params = _xlam_params(params)
        fn["parameters"] = params
        out.append({"type": "function", "function": fn})
    return out


def _python_types(schema: dict) -> dict:
    """A JSON schema whose `type`s may be Python names (str, int, dict, list...), in JSON schema names."""
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        base = kind.replace(", optional", "").split("[")[0].strip().lower()
        out["type"] = PY_TYPES.get(base, kind)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {
            k: _python_types(v) if isinstance(v, dict) else v for k, v in out["properties"].items()
        }
    if isinstance(out.get("items"), dict):
        out["items"] = _python_types(out["items"])
    return out


def _xlam_params(params: dict) -> dict:
    """{"x": {"type": "str, optional", "description": ...}} -> JSON schema."""
    props, required = {}, []
    for name, spec in params.items():
        spec = dict(spec) if isinstance(spec, dict) else {"type": "str"}
        declared = str(spec.get("type", "str"))
        optional = "optional" in declared
        base = declared.replace(", optional", "").split("[")[0].strip().lower()
        prop = {k: v for k, v in spec.items() if k in ("description", "enum")}
        if base in PY_TYPES:
            prop["type"] = PY_TYPES[base]
        props[name] = prop
        if not optional and "default" not in spec:
            required.append(name)
    return {"type": "object", "properties": props, "required": required}


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _resolve(src: str, bases: tuple[Path, ...]) -> Path:
    """A media path: absolute, or relative to the first base where it exists (else the first)."""
    path = Path(src)
    if path.is_absolute() or not bases:
        return path
    return next((b / path for b in bases if (b / path).exists()), bases[0] / path)


def _import_media(
    sample: dict, bases: tuple[Path, ...], media: MediaWriter, stem: str, where: str, video: VideoSampling
) -> None:
    """Copy every image and video (paths, PIL images or bytes; videos as frame folders, frame lists
    or files) into the built dataset and point the blocks at the copies, so the dataset folder is
    self-contained."""
    k = 0
    for msg in sample.get("messages", []):
        if not isinstance(msg.get("content"), list):
            continue
        for block in msg["content"]:
            kind = block.get("type")
            if kind == "image":
                block["image"] = media.image(_open(block.get("image"), bases, where), f"{stem}-{k}")
            elif kind == "video":
                src = block.get("video")
                if isinstance(src, str):
                    path = _resolve(src, bases)
                    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
                        try:
                            frames, block["fps"] = read_video_file(
                                path, fps=video.fps, min_frames=video.min_frames, max_frames=video.max_frames
                            )
                        except ValueError as exc:
                            raise DataError(f"{where}: video {path}: {exc}") from None
                        block["video"] = media.frames(frames, f"{stem}-{k}")
                        k += 1
                        continue
                    if not path.is_dir():
                        raise DataError(
                            f"{where}: video {path} not found (a frame folder or a "
                            f"{'/'.join(s.lstrip('.') for s in VIDEO_SUFFIXES)} file)"
                        )
                    src = [str(p) for p in frame_paths(path)]
                block["video"] = media.frames([_open(f, bases, where) for f in src], f"{stem}-{k}")
            else:
                continue
            k += 1


def _open(src: Any, bases: tuple[Path, ...], where: str):
    from PIL import Image

    if isinstance(src, str) and src.startswith("data:image/"):
        try:
            src = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        except (IndexError, ValueError, OSError):
            raise DataError(f"{where}: a data: image URL that does not decode") from None
    if isinstance(src, dict) and src.get("bytes"):
        src = Image.open(io.BytesIO(src["bytes"]))
    elif isinstance(src, dict) and src.get("path"):
        src = src["path"]
    if isinstance(src, str):
        path = _resolve(src, bases)
        try:
            src = Image.open(path)
            src.load()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(f"{where}: image {path} cannot be read ({type(exc).__name__})") from None
    if not isinstance(src, Image.Image):
        raise DataError(f"{where}: unsupported image value of type {type(src).__name__}")
    return src.convert("RGB")
