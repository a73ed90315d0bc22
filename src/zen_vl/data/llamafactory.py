"""LLaMA-Factory datasets as shipped: a `dataset_info.json` entry, its file, its formatting and tags.

Read against LLaMA-Factory's own code and files (hiyouga/LLaMA-Factory at ff6d4d12e:
`src/llamafactory/data/parser.py` DatasetAttr, `data/converter.py`, `data/dataset_info.json`,
`data/README.md`, `src/llamafactory/v1/core/rendering/format.py` for typed blocks):

- an entry names `file_name` (beside dataset_info.json), `formatting` (`alpaca`, the default, or
  `sharegpt`/`openai`), `columns` and `tags`. When `columns` (or `tags`) is given, the keys it does
  not list are unset, as in DatasetAttr.join;
- alpaca: `instruction` + `input` joined by a newline as the user turn, `output` the answer,
  optional `system`, `history` ([[query, answer], ...] before it), `images`/`videos`, `tools`;
- sharegpt: a list of turns keyed by `role_tag`/`content_tag` (`from`/`value`), speakers
  `human`/`gpt`/`observation`/`function_call`/`system` (renamable by `tags`); a function_call value
  is JSON `{"name", "arguments"}` (or a list of them); `<image>`/`<video>` tags in the text take the
  row's media in order, paths relative to the dataset_info.json folder (LLaMA-Factory's media_dir);
- typed blocks (LLaMA-Factory v1, e.g. reason_tool_use_demo_50.jsonl): messages whose content is a
  list of `{"type": text|reasoning|tool_call|image_url|video_url, "value": ...}`, with an optional
  per-message `loss_weight` (0: the turn is context, `"loss": false`; 1: supervised).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zen_vl.data.adapters import MEDIA_TAG, media_blocks, tool_calls
from zen_vl.data.schema import DataError, read_text

ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}
SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
COLUMN_NAMES = ("prompt", "query", "response", "history", "messages", "system", "tools", "images", "videos")


def dataset_entry(info: Path, name: str | None) -> tuple[Path, dict]:
    """(data file, resolved attributes) of `name` in a dataset_info.json."""
    try:
        table = json.loads(read_text(info))
    except json.JSONDecodeError as exc:
        raise DataError(f"{info}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not name:
        raise DataError(f"{info}: name the dataset to read (`dataset:`); it has {', '.join(sorted(table))}")
    if name not in table:
        raise DataError(f"{info}: no dataset {name!r}; it has {', '.join(sorted(table))}")
    entry = table[name]
    if "file_name" not in entry:
        remote = next(
            (k for k in ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url") if k in entry), None
        )
        hint = f" (it is remote: {remote} {entry[remote]}; use a `hub:` source)" if remote else ""
        raise DataError(f"{info}: dataset {name!r} has no file_name{hint}")
    formatting = entry.get("formatting", "alpaca")
    if formatting not in ("alpaca", "sharegpt", "openai"):
        raise DataError(
            f"{info}: dataset {name!r}: formatting {formatting!r} is not alpaca, sharegpt or openai"
        )
    if entry.get("ranking"):
        raise DataError(
            f"{info}: dataset {name!r} is a preference (ranking) dataset; only SFT data trains here"
        )
    defaults = {"messages": "conversations", **ALPACA_COLUMNS}
    columns = {k: entry["columns"].get(k) for k in COLUMN_NAMES} if "columns" in entry else dict(defaults)
    tags = {k: entry["tags"].get(k) for k in SHAREGPT_TAGS} if "tags" in entry else dict(SHAREGPT_TAGS)
    if formatting == "openai" and "tags" not in entry:
        tags.update(role_tag="role", content_tag="content", user_tag="user", assistant_tag="assistant",
                    observation_tag="tool", function_tag="function", system_tag="system")  # fmt: skip
    path = Path(entry["file_name"])
    path = path if path.is_absolute() else info.parent / path
    if path.is_dir():
        raise DataError(f"{info}: dataset {name!r}: {path} is a folder; point file_name at one file")
    return path, {"formatting": formatting, "columns": columns, "tags": tags}


def convert(record: dict, attr: dict, where: str) -> dict:
    """One row of a LLaMA-Factory file in the project's format."""
    if is_typed(record):
        return from_typed_blocks(record, where)
    cols = attr["columns"]
    if attr["formatting"] == "alpaca":
        turns = _alpaca_turns(record, cols, where)
        system = _get(record, cols.get("system"))
    else:
        turns, system = _sharegpt_turns(record, cols, attr["tags"], where)
    images = [*_as_list(_get(record, cols.get("images")))]
    videos = [*_as_list(_get(record, cols.get("videos")))]
    messages: list[dict] = [{"role": "system", "content": system}] if system else []
    for k, (role, value) in enumerate(turns):
        at = f"{where}: turn {k}"
        if role == "function":
            calls = tool_calls([value], at)
            if messages and messages[-1]["role"] == "assistant" and not messages[-1].get("tool_calls"):
                messages[-1]["tool_calls"] = calls  # text then its call: one assistant turn
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        elif role == "user":
            tagged = isinstance(value, str) and MEDIA_TAG.search(value)
            messages.append(
                {"role": "user", "content": media_blocks(value, images, videos, at) if tagged else value}
            )
        else:
            messages.append({"role": role, "content": value if isinstance(value, str) else json.dumps(value)})
    if images or videos:
        raise DataError(
            f"{where}: {len(images)} image(s) and {len(videos)} video(s) have no <image>/<video> tag"
        )
    sample: dict[str, Any] = {"messages": messages}
    tools = _get(record, cols.get("tools"))
    if tools:
        sample["tools"] = tools
    return sample


def _get(record: dict, column: str | None):
    return record.get(column) if column else None


def _as_list(value) -> list:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


def _alpaca_turns(record: dict, cols: dict, where: str) -> list[tuple[str, Any]]:
    turns: list[tuple[str, Any]] = []
    history = _get(record, cols.get("history"))
    if isinstance(history, list):
        for k, pair in enumerate(history):
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise DataError(f"{where}: history[{k}] is not a [query, answer] pair")
            turns += [("user", pair[0]), ("assistant", pair[1])]
    query = [v for v in (_get(record, cols.get("prompt")), _get(record, cols.get("query"))) if v]
    response = _get(record, cols.get("response"))
    if not query:
        raise DataError(f"{where}: no {cols.get('prompt')!r} text")
    if not isinstance(response, str):
        raise DataError(f"{where}: no {cols.get('response')!r} answer (an unsupervised row trains nothing)")
    return [*turns, ("user", "\n".join(query)), ("assistant", response)]


def _sharegpt_turns(record: dict, cols: dict, tags: dict, where: str) -> tuple[list, str | None]:
    key = cols.get("messages") or "conversations"
    turns = record.get(key)
    if not isinstance(turns, list):
        raise DataError(f"{where}: no {key!r} list of turns")
    role_tag, content_tag = tags["role_tag"], tags["content_tag"]
    roles = {
        tags["user_tag"]: "user",
        tags["assistant_tag"]: "assistant",
        tags["observation_tag"]: "tool",
        tags["function_tag"]: "function",
        tags["system_tag"]: "system",
    }
    roles.pop(None, None)
    system = _get(record, cols.get("system"))
    out = []
    for k, turn in enumerate(turns):
        if not isinstance(turn, dict) or role_tag not in turn:
            raise DataError(f"{where}: {key}[{k}] has no {role_tag!r}")
        role = roles.get(turn[role_tag])
        if role is None:
            raise DataError(f"{where}: {key}[{k}]: role {turn[role_tag]!r} is none of {sorted(roles)}")
        value = turn.get(content_tag, "")
        if role == "system":
            if k != 0:
                raise DataError(f"{where}: {key}[{k}]: a system turn may only come first")
            system = value
            continue
        if role == "assistant" and turn.get("tool_calls"):  # openai formatting
            out.append(("assistant", value or ""))
            value, role = [c.get("function", c) for c in turn["tool_calls"]], "function"
        out.append((role, value))
    return out, system


def is_typed(record: dict) -> bool:
    """LLaMA-Factory v1 messages: content lists of {"type", "value"} blocks."""
    messages = record.get("messages")
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(isinstance(m, dict) for m in messages)
        and any(
            isinstance(m.get("content"), list)
            and any(isinstance(b, dict) and "value" in b for b in m["content"])
            for m in messages
        )
    )


TYPED_MEDIA = {"image_url": "image", "video_url": "video"}


def from_typed_blocks(record: dict, where: str) -> dict:
    messages = []
    for k, msg in enumerate(record["messages"]):
        at = f"{where}: messages[{k}]"
        role, content = msg.get("role"), msg.get("content")
        weight = msg.get("loss_weight", 1.0)
        if role == "assistant" and weight not in (0, 1):
            raise DataError(f"{at}: loss_weight {weight}: only 0 (context) or 1 (supervised) is supported")
        blocks, calls, reasoning = [], [], ""
        for b, block in enumerate(
            content if isinstance(content, list) else [{"type": "text", "value": content}]
        ):
            kind, value = block.get("type"), block.get("value")
            if kind == "text":
                blocks.append({"type": "text", "text": value})
            elif kind == "reasoning":
                reasoning += value
            elif kind == "tool_call":
                calls += tool_calls([value], f"{at}.content[{b}]")
            elif kind in TYPED_MEDIA:
                blocks.append({"type": TYPED_MEDIA[kind], TYPED_MEDIA[kind]: value})
            else:
                raise DataError(
                    f"{at}.content[{b}]: block type {kind!r} (expected text, reasoning, tool_call, image_url, video_url)"
                )
        out: dict[str, Any] = {"role": role}
        if all(b["type"] == "text" for b in blocks):
            out["content"] = "".join(b["text"] for b in blocks)
        else:
            out["content"] = blocks
        if reasoning:
            out["reasoning_content"] = reasoning
        if calls:
            out["tool_calls"] = calls
        if role == "assistant" and weight == 0:
            out["loss"] = False
        messages.append(out)
    sample: dict[str, Any] = {"messages": messages}
    if record.get("tools"):
        sample["tools"] = record["tools"]
    return sample
