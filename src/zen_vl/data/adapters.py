"""Bring-your-own data: convert other common formats into the project's conversation format."""

from __future__ import annotations

import json
import re

from zen_vl.data.schema import DataError

SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
}
MEDIA_TAG = re.compile(r"(<image>|<video>)")


def from_sharegpt(record: dict, *, where: str = "record") -> dict:
    """LLaMA-Factory / ShareGPT (`conversations` of `from`/`value`, `<image>` tags, `images` list).

    `function_call` turns become assistant tool_calls, `observation` turns tool responses, and a
    JSON-string `tools` becomes the function-definition list.
    """
    turns = record.get("conversations") or record.get("messages")
    if not isinstance(turns, list):
        raise DataError(f"{where}: ShareGPT record needs a 'conversations' list")
    images = list(record.get("images") or [])
    videos = list(record.get("videos") or [])
    messages: list[dict] = []
    if record.get("system"):
        messages.append({"role": "system", "content": [{"type": "text", "text": record["system"]}]})
    for k, turn in enumerate(turns):
        speaker = turn.get("from", turn.get("role"))
        role = SHAREGPT_ROLES.get(speaker)
        if role is None:
            raise DataError(f"{where}: conversations[{k}]: unknown speaker {speaker!r}")
        value = turn.get("value", turn.get("content", ""))
        if speaker == "function_call":
            try:
                call = json.loads(value)
            except json.JSONDecodeError:
                raise DataError(f"{where}: conversations[{k}]: function_call value is not JSON") from None
            calls = call if isinstance(call, list) else [call]
            if messages and messages[-1]["role"] == "assistant" and not messages[-1].get("tool_calls"):
                messages[-1]["tool_calls"] = calls  # text then call in one assistant turn
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": calls})
            continue
        if role == "user":
            messages.append(
                {"role": role, "content": media_blocks(value, images, videos, f"{where}: conversations[{k}]")}
            )
        else:
            messages.append({"role": role, "content": value})
    if images or videos:
        raise DataError(
            f"{where}: {len(images)} image(s) and {len(videos)} video(s) have no <image>/<video> tag"
        )
    sample = {"messages": messages}
    tools = record.get("tools")
    if tools:
        tools = json.loads(tools) if isinstance(tools, str) else tools
        sample["tools"] = [t if "function" in t else {"type": "function", "function": t} for t in tools]
    if "id" in record:
        sample["id"] = record["id"]
    return sample


def media_blocks(value: str, images: list, videos: list, where: str) -> list[dict]:
    blocks = []
    for part in MEDIA_TAG.split(value):
        if part == "<image>":
            if not images:
                raise DataError(f"{where}: more <image> tags than images")
            blocks.append({"type": "image", "image": images.pop(0)})
        elif part == "<video>":
            if not videos:
                raise DataError(f"{where}: more <video> tags than videos")
            blocks.append({"type": "video", "video": videos.pop(0)})
        elif part.strip():
            blocks.append({"type": "text", "text": part.strip("\n")})
    return blocks


def from_openai(record: dict, where: str = "record") -> dict:
    """A `messages` record in the project's format, also accepting what OpenAI chat exports and
    ms-swift write (docs/source_en/Customization/Custom-dataset.md), normalised the way ms-swift's
    MessagesPreprocessor does:

    - assistant `tool_calls` as `{"type": "function", "function": {"name", "arguments": "<JSON>"}}`;
    - ms-swift's `tool_call` turns (content `{"name", "arguments"}` JSON) and `tool_response` turns;
    - `<image>`/`<video>` tags in string content taking the record's top-level `images`/`videos`;
    - OpenAI `image_url` content blocks (`{"url": ...}` or a string; data: URLs included);
    - `content: null`, a JSON-string `tools`.
    A record already in the project's format passes through unchanged.
    """
    turns = record.get("messages")
    if not isinstance(turns, list):
        return record
    images, videos = list(record.get("images") or []), list(record.get("videos") or [])
    messages: list[dict] = []
    for k, turn in enumerate(turns):
        at = f"{where}: messages[{k}]"
        if not isinstance(turn, dict):
            messages.append(turn)  # the validator names it
            continue
        msg = {key: value for key, value in turn.items() if key != "loss_scale"}
        if turn.get("loss_scale") not in (None, 0, 1):
            raise DataError(f"{at}: loss_scale {turn['loss_scale']}: only 0 (context) or 1 is supported")
        if turn.get("loss_scale") == 0:
            msg["loss"] = False
        role = msg.get("role")
        if msg.get("loss") is None or role not in ("assistant", "tool_call"):
            msg.pop("loss", None)  # ms-swift: None is its default; loss only acts on assistant turns
        if msg.get("content") is None and "content" in msg:
            msg["content"] = ""
        if role == "tool_call":
            calls = tool_calls([msg.get("content")], at)
            if messages and messages[-1].get("role") == "assistant":  # text, or calls, before it
                messages[-1].setdefault("tool_calls", []).extend(calls)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": calls})
            continue
        if role == "tool_response":
            msg["role"] = "tool"
        if msg.get("tool_calls"):
            msg["tool_calls"] = tool_calls(msg["tool_calls"], at)
        msg.pop("tool_call_id", None)
        if msg.get("role") == "tool":
            msg.pop("name", None)
        content = msg.get("content")
        if isinstance(content, str) and MEDIA_TAG.search(content) and (images or videos):
            msg["content"] = media_blocks(content, images, videos, at)
        elif isinstance(content, list):
            msg["content"] = [_openai_block(b) for b in content]
        messages.append(msg)
    if images or videos:
        raise DataError(
            f"{where}: {len(images)} image(s) and {len(videos)} video(s) have no <image>/<video> tag"
        )
    sample = {k: v for k, v in record.items() if k not in ("messages", "images", "videos")}
    sample["messages"] = messages
    if isinstance(sample.get("tools"), str):
        try:
            sample["tools"] = json.loads(sample["tools"])
        except json.JSONDecodeError:
            raise DataError(f"{where}: tools is a string that is not JSON") from None
    return sample


def tool_calls(calls: list, where: str) -> list[dict]:
    """Calls as {name, arguments}: each a dict, an OpenAI {function: ...} wrapper or JSON text of either
    (or of a list of them), arguments as a dict or JSON text."""
    out = []
    for call in calls:
        if isinstance(call, str):
            try:
                call = json.loads(call)
            except json.JSONDecodeError:
                raise DataError(f"{where}: tool call is not JSON: {call[:80]!r}") from None
        if isinstance(call, list):
            out += tool_calls(call, where)
            continue
        if not isinstance(call, dict):
            raise DataError(f"{where}: tool call is not an object")
        call = call.get("function", call)
        args = call.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError:
                raise DataError(f"{where}: arguments of {call.get('name')!r} are not JSON") from None
        out.append({"name": call.get("name"), "arguments": args})
    return out


def _openai_block(block):
    if isinstance(block, dict) and block.get("type") == "image_url":
        url = block.get("image_url")
        return {"type": "image", "image": url.get("url") if isinstance(url, dict) else url}
    return block
