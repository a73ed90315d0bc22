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
                {"role": role, "content": _blocks(value, images, videos, f"{where}: conversations[{k}]")}
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


def _blocks(value: str, images: list, videos: list, where: str) -> list[dict]:
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
