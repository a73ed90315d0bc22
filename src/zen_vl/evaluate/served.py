"""The test set through an OpenAI-compatible chat endpoint: an exported model as users will run it.

`make eval FORMAT=gguf` starts the pinned `llama-server` on each exported GGUF (F16 and every
quant) with its mmproj, the template embedded in the GGUF (`--jinja`) and the image token budget of
`vision.*_image_tokens`; `FORMAT=mlx` starts `mlx_vlm.server` on each MLX folder. Every case goes as
a chat request with its images (data URLs) and tools; the reply's `content`, its `tool_calls` (the
server's own parser) and its `reasoning_content` (the thinking variant's reasoning, which the server
returns apart from the answer) are written back into the model's text format, so the records are
scored by the same rules as the transformers model's (zen_vl.evaluate.records).

mlx_vlm.server (0.7.10) reads images from `user` messages only and keeps just the text of a `tool`
message, so a GUI episode's screenshots after the first would never reach the model. For it
(`tool_images_in_user`), a run of tool responses that carries an image goes as the one user turn
Qwen3-VL's template renders it as (`<tool_response>` blocks in order): the same prompt text (tested).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from zen_vl.errors import ZenError

MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


@dataclass(frozen=True)
class Served:
    """One exported model to serve: how it is labelled in results.json and what to start."""

    label: str  # e.g. gguf:Q8_0, mlx:4bit
    kind: str  # "gguf" | "mlx"
    model: Path  # the .gguf file or the MLX folder
    mmproj: Path | None = None

    @property
    def tool_images_in_user(self) -> bool:
        """mlx_vlm.server drops images from tool messages: send those runs as user turns (module doc)."""
        return self.kind == "mlx"


def _image_url(path: Path) -> str:
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise ZenError(f"{path}: image type {path.suffix} cannot be sent to a server (png, jpeg, webp)")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def chat_request(
    prompt: dict, media_root: Path, max_tokens: int, *, tool_images_in_user: bool = False
) -> dict | None:
    """A test prompt (a sample cut before its turn) as an OpenAI chat request; None when it holds a
    video (the servers take images only)."""
    messages = []
    source = tool_runs_as_user(prompt["messages"]) if tool_images_in_user else prompt["messages"]
    for m in source:
        out = {"role": m["role"]}
        content = m.get("content")
        if isinstance(content, list):
            parts = []
            for block in content:
                if block.get("type") == "image":
                    src = Path(block["image"])
                    parts.append(
                        {
                            "type": "image_url",
                            "image_url": {"url": _image_url(src if src.is_absolute() else media_root / src)},
                        }
                    )
                elif block.get("type") == "video":
                    return None
                else:
                    parts.append({"type": "text", "text": block.get("text", "")})
            out["content"] = parts
        else:
            out["content"] = content or ""
        if m.get("tool_calls"):
            out["tool_calls"] = [
                {"type": "function", "id": f"call_{i}", "function": {"name": c["name"], "arguments": c["arguments"]
                 if isinstance(c["arguments"], str) else json.dumps(c["arguments"], ensure_ascii=False)}}
                for i, c in enumerate(m["tool_calls"])
            ]  # fmt: skip
        if m.get("reasoning_content"):
            out["reasoning_content"] = m["reasoning_content"]
        messages.append(out)
    request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "seed": 0}
    if prompt.get("tools"):
        request["tools"] = prompt["tools"]
    return request


def tool_runs_as_user(messages: list[dict]) -> list[dict]:
    """Each run of consecutive tool messages holding an image, as one user message with the content
    the chat template gives that run: `<tool_response>\n…\n</tool_response>` per response, joined by
    a newline. Runs without an image stay tool messages."""

    def blocks(m: dict) -> list[dict]:
        return (
            m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"] or ""}]
        )

    out: list[dict] = []
    for is_tool, group in itertools.groupby(messages, key=lambda m: m["role"] == "tool"):
        run = list(group)
        if not is_tool or not any(b.get("type") == "image" for m in run for b in blocks(m)):
            out.extend(run)
            continue
        parts: list[dict] = []
        for k, m in enumerate(run):
            parts += [{"type": "text", "text": ("\n" if k else "") + "<tool_response>\n"}, *blocks(m),
                      {"type": "text", "text": "\n</tool_response>"}]  # fmt: skip
        out.append({"role": "user", "content": parts})
    return out


def answer_text(message: dict) -> str:
    """A reply message in the model's own text format: `<think>` reasoning, the content, then one
    `<tool_call>` block per parsed call."""
    out = ""
    reasoning = message.get("reasoning_content") or ""
    if reasoning:
        out += f"<think>\n{reasoning.strip()}\n</think>\n\n"
    out += (message.get("content") or "").strip()
    for call in message.get("tool_calls") or []:
        fn = call.get("function", call)
        args = fn.get("arguments", {})
        if isinstance(args, str):
            with contextlib.suppress(json.JSONDecodeError):
                args = json.loads(args)
        block = json.dumps({"name": fn.get("name"), "arguments": args}, ensure_ascii=False)
        out += ("\n" if out else "") + f"<tool_call>\n{block}\n</tool_call>"
    return out


def post(url: str, payload: dict, timeout: float = 600) -> dict:
    req = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        raise ZenError(f"{url}: HTTP {exc.code}: {exc.read().decode(errors='replace')[:500]}") from None


def chat(base: str, prompts: list[dict], *, media_root: Path, max_tokens: int, threads: int,
         progress: bool, label: str, model: str = "zen-vl", tool_images_in_user: bool = False) -> list[dict]:  # fmt: skip
    """Every prompt's reply: {"output": text in the model's format, "reasoning_separate": bool} (or
    {"output": None, "skipped": why})."""

    def one(prompt: dict) -> dict:
        request = chat_request(prompt, media_root, max_tokens, tool_images_in_user=tool_images_in_user)
        if request is None:
            return {"output": None, "skipped": "video (the server takes images only)"}
        request["model"] = model  # mlx_vlm.server requires it (the folder it serves); llama-server ignores it
        message = post(f"{base}/v1/chat/completions", request)["choices"][0]["message"]
        return {"output": answer_text(message), "reasoning_separate": bool(message.get("reasoning_content"))}

    with ThreadPoolExecutor(threads) as pool:
        return list(
            tqdm(pool.map(one, prompts), total=len(prompts), desc=label, unit="case", disable=not progress)
        )


@contextlib.contextmanager
def mlx_server(folder: Path, *, wait_s: float = 300) -> Iterator[str]:
    """`python -m mlx_vlm.server` on an MLX folder; yields its base URL."""
    from zen_vl.export.llama_server import free_port, local_server

    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlx_vlm.server",
        "--model",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with local_server(cmd, f"http://127.0.0.1:{port}", f"mlx_vlm.server on {folder}", wait_s=wait_s) as url:
        yield url


@contextlib.contextmanager
def started(model: Served, *, thinking: bool, vision, slots: int) -> Iterator[str]:
    """The server for one exported model, as a user would start it; yields its base URL."""
    if model.kind == "gguf":
        from zen_vl.export.llama_cpp import ensure_llama_cpp
        from zen_vl.export.llama_server import serve

        args = ("-np", str(slots), "-c", str(8192 * slots), "--temp", "0",
                "--image-min-tokens", str(vision.min_image_tokens), "--image-max-tokens", str(vision.max_image_tokens),
                "--reasoning-format", "deepseek" if thinking else "none")  # fmt: skip
        with serve(ensure_llama_cpp(progress=False), model.model, mmproj=model.mmproj, args=args) as url:
            yield url
    elif model.kind == "mlx":
        with mlx_server(model.model) as url:
            yield url
    else:
        raise ZenError(f"{model.label}: unknown export kind {model.kind}")
