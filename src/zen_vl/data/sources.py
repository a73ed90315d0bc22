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

import io
import json
import random
from pathlib import Path
from typing import Any

from zen_vl.config import SourceCfg
from zen_vl.data.adapters import from_sharegpt
from zen_vl.data.context import MediaWriter
from zen_vl.data.schema import DataError, read_jsonl
from zen_vl.media import frame_paths

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


def load_source(src: SourceCfg, media: MediaWriter, project_root: Path) -> list[tuple[str, dict]]:
    """(where, sample) pairs: `where` names the file line or dataset row for error messages."""
    if src.path is not None:
        return _local(src, media, project_root)
    return _hub(src, media)


def split_source(samples: list, src: SourceCfg, seed: int) -> dict[str, list]:
    """Shuffle with the seed and hold out `eval_fraction`, half to val and half to test."""
    order = list(samples)
    random.Random(f"{seed}/source/{src.name}").shuffle(order)
    n_eval = round(len(order) * src.eval_fraction)
    n_val = n_eval // 2
    return {"val": order[:n_val], "test": order[n_val:n_eval], "train": order[n_eval:]}


def _local(src: SourceCfg, media: MediaWriter, project_root: Path) -> list[tuple[str, dict]]:
    path = Path(src.path)
    path = path if path.is_absolute() else project_root / path
    out = []
    for line, record in read_jsonl(path):
        where = f"{path}:{line}"
        sample = from_sharegpt(record, where=where) if src.format == "sharegpt" else record
        if src.format == "columns":
            sample = from_columns(record, src.columns, where)
        _import_media(sample, path.parent, media, f"{src.name}/{line:06d}", where)
        out.append((where, sample))
        if len(out) >= src.limit:
            break
    return out


def _hub(src: SourceCfg, media: MediaWriter) -> list[tuple[str, dict]]:
    import datasets

    try:
        ds = datasets.load_dataset(src.hub, src.subset, split=src.split, revision=src.revision)
    except Exception as exc:  # the datasets library raises many types; all mean "cannot read it"
        raise DataError(
            f"data source '{src.name}': cannot load Hub dataset {src.hub!r} (split {src.split!r}): "
            f"{type(exc).__name__}: {exc}. Without network, use a local `path:` source instead."
        ) from None
    out = []
    for row_no, row in enumerate(ds.select(range(min(src.limit, len(ds))))):
        where = f"{src.hub}[{src.split}] row {row_no}"
        if src.format == "messages":
            sample = _from_messages(row, src.columns, where)
        elif src.format == "sharegpt":
            record = {
                k: row[src.columns.get(k, k)]
                for k in ("conversations", "images", "tools", "system")
                if src.columns.get(k, k) in row
            }
            images = record.pop("images", None) or []
            record["images"] = list(images) if isinstance(images, list) else [images]
            sample = from_sharegpt(record, where=where)
        else:
            sample = from_columns(row, src.columns, where)
        _import_media(sample, None, media, f"{src.name}/{row_no:06d}", where)
        out.append((where, sample))
    return out


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
        fn = dict(tool.get("function", tool))
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        if params.get("type") != "object":
            params = _xlam_params(params)
        fn["parameters"] = params
        out.append({"type": "function", "function": fn})
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


def _import_media(sample: dict, base: Path | None, media: MediaWriter, stem: str, where: str) -> None:
    """Copy every image and video (paths, PIL images or bytes) into the built dataset and point the
    blocks at the copies, so the dataset folder is self-contained."""
    k = 0
    for msg in sample.get("messages", []):
        if not isinstance(msg.get("content"), list):
            continue
        for block in msg["content"]:
            kind = block.get("type")
            if kind == "image":
                block["image"] = media.image(_open(block.get("image"), base, where), f"{stem}-{k}")
            elif kind == "video":
                src = block.get("video")
                if isinstance(src, str):
                    folder = Path(src) if Path(src).is_absolute() or base is None else base / src
                    if not folder.is_dir():
                        raise DataError(f"{where}: video folder {folder} not found")
                    src = [str(p) for p in frame_paths(folder)]
                block["video"] = media.frames([_open(f, base, where) for f in src], f"{stem}-{k}")
            else:
                continue
            k += 1


def _open(src: Any, base: Path | None, where: str):
    from PIL import Image

    if isinstance(src, dict) and src.get("bytes"):
        src = Image.open(io.BytesIO(src["bytes"]))
    elif isinstance(src, dict) and src.get("path"):
        src = src["path"]
    if isinstance(src, str):
        path = Path(src) if Path(src).is_absolute() or base is None else base / src
        try:
            src = Image.open(path)
            src.load()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(f"{where}: image {path} cannot be read ({type(exc).__name__})") from None
    if not isinstance(src, Image.Image):
        raise DataError(f"{where}: unsupported image value of type {type(src).__name__}")
    return src.convert("RGB")
