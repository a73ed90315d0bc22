"""The conversation format on disk, and the validator that checks every sample of a JSONL file.

One sample per line:

    {"id": "agent-000017",
     "tools": [{"type": "function", "function": {"name": ..., "description": ..., "parameters": {JSON schema}}}],
     "messages": [
        {"role": "system", "content": [{"type": "text", "text": "..."}]},
        {"role": "user", "content": [{"type": "image", "image": "images/000017.png"}, {"type": "text", "text": "..."}]},
        {"role": "assistant", "content": "", "reasoning_content": "...",
         "tool_calls": [{"name": "click", "arguments": {"coordinate": [500, 812]}}]},
        {"role": "tool", "content": "..."},
        {"role": "assistant", "content": "..."}]}

Content is a string or a list of blocks (`text`, `image`, `video`); media paths are relative to
the JSONL file's folder. An assistant turn with `"loss": false` is context: rendered, not supervised. This is the shape TRL and LLaMA-Factory users already have. Reasoning may
also be written inline as `<think>...</think>` at the start of the assistant content.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from zen_vl.errors import ZenError
from zen_vl.media import frame_paths

ROLES = ("system", "user", "assistant", "tool")
BLOCK_TYPES = ("text", "image", "video")
# Control tokens the tokenizer would parse as structure if they appeared in data text.
CONTROL_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
MAX_IMAGE_PIXELS = 64_000_000  # larger is treated as a decompression bomb


class DataError(ZenError):
    """Bad samples; the message lists each as file:line: reason."""


@dataclass
class Report:
    path: Path
    samples: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, line: int, reason: str) -> None:
        self.problems.append(f"{self.path}:{line}: {reason}")

    def raise_if_bad(self, limit: int = 20) -> None:
        if not self.problems:
            return
        shown = "\n".join(f"  {p}" for p in self.problems[:limit])
        more = f"\n  ... and {len(self.problems) - limit} more" if len(self.problems) > limit else ""
        raise DataError(f"{len(self.problems)} problem(s) in {self.path}:\n{shown}{more}")


def read_text(path: Path) -> str:
    """A data file's text: UTF-8 with or without a byte-order mark; other encodings name the line."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {column}); "
            "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, sample) pairs from a JSONL file or a JSON array of objects (LLaMA-Factory's
    files); anything that is not a JSON object raises DataError naming the file and line."""
    path = Path(path)
    text = read_text(path)
    if text.lstrip().startswith("["):
        yield from _json_array(path, text)
        return
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            sample = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(sample, dict):
            raise DataError(f"{path}:{n}: expected a JSON object, got {type(sample).__name__}")
        yield n, sample


def _json_array(path: Path, text: str) -> Iterator[tuple[int, dict]]:
    """The objects of a top-level JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1

    def skip(at: int) -> int:
        while at < len(text) and text[at].isspace():
            at += 1
        return at

    def fail(at: int, what: str):
        line = text.count("\n", 0, at) + 1
        raise DataError(f"{path}:{line}: not valid JSON ({what} at column {at - text.rfind(chr(10), 0, at)})")

    pos = skip(pos)
    if pos < len(text) and text[pos] == "]":
        return
    while True:
        line = text.count("\n", 0, pos) + 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            fail(exc.pos, exc.msg)
        if not isinstance(item, dict):
            raise DataError(f"{path}:{line}: expected a JSON object, got {type(item).__name__}")
        yield line, item
        pos = skip(pos)
        if pos < len(text) and text[pos] == ",":
            pos = skip(pos + 1)
        elif pos < len(text) and text[pos] == "]":
            if text[pos + 1 :].strip():
                fail(skip(pos + 1), "extra data after the array")
            return
        else:
            fail(pos, "expected ',' or ']'")


def validate_file(path: Path, *, template: str = "instruct", check_media: bool = True) -> Report:
    """Check every sample of a JSONL file; the report lists every problem with its line."""
    path = Path(path)
    report = Report(path)
    for line, sample in read_jsonl(path):
        report.samples += 1
        for reason in sample_problems(
            sample, media_root=path.parent if check_media else None, template=template
        ):
            report.add(line, reason)
    if report.samples == 0:
        report.problems.append(f"{path}: no samples")
    return report


def sample_problems(sample: dict, *, media_root: Path | None, template: str = "instruct") -> list[str]:
    """Every reason this sample is unusable (empty list: it is fine)."""
    problems: list[str] = []
    tools = sample.get("tools") or []
    declared = _declared_tools(tools, problems)
    messages = sample.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "'messages' must be a non-empty list"]

    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            problems.append(f"{where}: expected an object")
            continue
        role = msg.get("role")
        if role not in ROLES:
            problems.append(f"{where}: unknown role {role!r} (expected one of {', '.join(ROLES)})")
            continue
        if role == "system" and i != 0:
            problems.append(f"{where}: a system message may only come first")
        if role == "tool" and (i == 0 or messages[i - 1].get("role") not in ("assistant", "tool")):
            problems.append(f"{where}: a tool response must follow an assistant tool call")
        if role == "user" and i > 0 and messages[i - 1].get("role") == "user":
            problems.append(f"{where}: two user messages in a row")
        problems.extend(_content_problems(msg.get("content"), where, role, media_root))
        if role == "system" and template != "thinking" and _has_media(msg.get("content")):
            problems.append(
                f"{where}: an image or video in a system message: the Instruct template renders only the "
                "system text, so the media would be lost and the sample cannot render; put it in the user turn"
            )
        if role == "assistant":
            problems.extend(_assistant_problems(msg, where, declared, template))
        elif "tool_calls" in msg or "reasoning_content" in msg or "loss" in msg:
            problems.append(f"{where}: only assistant messages carry tool_calls, reasoning_content or loss")
        if "loss" in msg and not isinstance(msg["loss"], bool):
            problems.append(f"{where}: loss must be true or false (false: context, not supervised)")

    answers = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    if answers and all(m.get("loss") is False for m in answers):
        problems.append("every assistant turn has loss: false: nothing to learn")
    last = messages[-1].get("role") if isinstance(messages[-1], dict) else None
    if last != "assistant":
        problems.append(f"the last message must be the assistant's (got {last!r}): nothing to learn")
    if not any(isinstance(m, dict) and m.get("role") == "user" for m in messages):
        problems.append("no user message")
    return problems


def _declared_tools(tools: object, problems: list[str]) -> dict[str, dict]:
    if not isinstance(tools, list):
        problems.append("'tools' must be a list of function definitions")
        return {}
    declared = {}
    for j, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            problems.append(
                f"tools[{j}]: expected {{'type': 'function', 'function': {{'name', 'parameters'}}}}"
            )
            continue
        params = fn.get("parameters", {"type": "object", "properties": {}})
        try:
            from jsonschema import Draft202012Validator

            Draft202012Validator.check_schema(params)
        except Exception as exc:
            problems.append(
                f"tools[{j}] ({fn['name']}): parameters is not a valid JSON schema ({exc.message})"
            )
            continue
        declared[fn["name"]] = params
    return declared


def _has_media(content: object) -> bool:
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") in ("image", "video") for b in content
    )


def _content_problems(content: object, where: str, role: str, media_root: Path | None) -> list[str]:
    if isinstance(content, str):
        return _text_problems(content, where)
    if not isinstance(content, list):
        return [f"{where}.content: expected a string or a list of blocks"]
    out = []
    for k, block in enumerate(content):
        at = f"{where}.content[{k}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            out.append(f"{at}: unknown block type {kind!r} (expected one of {', '.join(BLOCK_TYPES)})")
        elif kind == "text":
            if not isinstance(block.get("text"), str):
                out.append(f"{at}: a text block needs a string 'text'")
            else:
                out.extend(_text_problems(block["text"], at))
        elif role == "assistant":
            out.append(f"{at}: the assistant cannot emit {kind}s")
        elif kind == "image":
            out.extend(_image_problems(block.get("image"), at, media_root))
        else:
            out.extend(_video_problems(block.get("video"), at, media_root))
    return out


def _text_problems(text: str, where: str) -> list[str]:
    found = [t for t in CONTROL_TOKENS if t in text]
    return [f"{where}: text contains the control token(s) {', '.join(found)}"] if found else []


def _image_problems(src: object, where: str, media_root: Path | None) -> list[str]:
    if not isinstance(src, str) or not src:
        return [f"{where}: an image block needs a path in 'image'"]
    if media_root is None:
        return []
    return _decodes(media_root / src, where)


def _video_problems(src: object, where: str, media_root: Path | None) -> list[str]:
    if isinstance(src, list):
        frames = src
    elif isinstance(src, str) and media_root is not None:
        folder = media_root / src
        if not folder.is_dir():
            return [
                f"{where}: video folder {src} not found (a video is a folder of frames or a list of frame paths)"
            ]
        frames = [str(p.relative_to(media_root)) for p in frame_paths(folder)]
        if not frames:
            return [f"{where}: video folder {src} holds no frames"]
    elif isinstance(src, str):
        return []
    else:
        return [f"{where}: a video block needs a folder path or a list of frame paths in 'video'"]
    if media_root is None:
        return []
    out: list[str] = []
    for frame in frames:
        out.extend(_decodes(media_root / frame, where))
    return out


def _decodes(path: Path, where: str) -> list[str]:
    from PIL import Image

    if not path.is_file():
        return [f"{where}: image {path} not found"]
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                return [
                    f"{where}: image {path} is {img.width}x{img.height}, over {MAX_IMAGE_PIXELS} pixels (decompression bomb?)"
                ]
            img.verify()
    except Image.DecompressionBombError:
        return [f"{where}: image {path} is a decompression bomb"]
    except Exception as exc:
        return [f"{where}: image {path} does not decode ({type(exc).__name__})"]
    return []


def _assistant_problems(msg: dict, where: str, declared: dict[str, dict], template: str) -> list[str]:
    from jsonschema import Draft202012Validator

    out = []
    content = msg.get("content")
    text = content if isinstance(content, str) else ""
    has_reasoning = bool(msg.get("reasoning_content")) or "<think>" in text or "</think>" in text
    if has_reasoning and template != "thinking":
        out.append(
            f"{where}: reasoning in a sample for the {template} template (it has no think blocks: "
            "training it on think text teaches literal think tags)"
        )
    calls = msg.get("tool_calls") or []
    if not isinstance(calls, list):
        return [*out, f"{where}.tool_calls: expected a list"]
    if not calls and not text.strip() and not (isinstance(content, list) and content):
        out.append(f"{where}: empty assistant turn (no content and no tool_calls)")
    for c, call in enumerate(calls):
        at = f"{where}.tool_calls[{c}]"
        call = call.get("function", call) if isinstance(call, dict) else call
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            out.append(f"{at}: expected {{'name': ..., 'arguments': {{...}}}}")
            continue
        name, args = call["name"], call.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                out.append(f"{at} ({name}): arguments is a string that is not JSON")
                continue
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            out.append(f"{at}: calls undeclared tool {name!r} (declared: {known})")
            continue
        errors = sorted(Draft202012Validator(declared[name]).iter_errors(args), key=lambda e: list(e.path))
        for err in errors:
            path = ".".join(str(p) for p in err.path) or "(arguments)"
            out.append(f"{at} ({name}): {path}: {err.message}")
    return out
