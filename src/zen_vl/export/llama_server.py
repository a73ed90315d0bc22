"""The pinned `llama-server` on an exported GGUF: started on a free local port, asked over HTTP, stopped.

`template_parity` asks the server's own template engine (`--jinja`, the template embedded in the
GGUF) to render conversations (`POST /apply-template`) and compares them with transformers'
rendering of the same conversations: the check behind "use `--jinja`" in the cards and EXPORT.md.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from zen_vl.errors import ZenError
from zen_vl.export.llama_cpp import LlamaCpp

_CLICK = {
    "type": "function",
    "function": {
        "name": "click",
        "description": "Click a point of the screen",
        "parameters": {
            "type": "object",
            "properties": {"coordinate": {"type": "array", "items": {"type": "integer"}}},
            "required": ["coordinate"],
        },
    },
}
# The text shapes the variants train on (images are left out: llama-server puts its own media marker
# where transformers writes the vision tokens, and mtmd expands it; tests/test_export.py asks images).
SHAPES: list[tuple[str, list[dict], list | None]] = [
    ("one turn", [{"role": "user", "content": "Who are you?"}], None),
    ("system", [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hi"}], None),
    (
        "multi-turn with reasoning",
        [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "Two plus two is four."},
            {"role": "user", "content": "And 3+3?"},
        ],
        None,
    ),
    (
        "tool call and response",
        [
            {"role": "user", "content": "Click OK."},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "click", "arguments": '{"coordinate": [500, 520]}'},
                    }
                ],
            },
            {"role": "tool", "content": "clicked"},
        ],
        [_CLICK],
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, payload: dict, *, timeout: float = 120) -> dict:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def local_server(cmd: list[str], url: str, what: str, *, wait_s: float = 120) -> Iterator[str]:
    """Run a server process (`cmd`, listening at `url`) until its /health answers; yield `url`; stop it.

    Its log goes to a temporary file, not a pipe: nobody reads a pipe while the server works, and a
    server blocks once it has written a pipe's 64 KiB (measured: llama-server stopped mid-eval)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
        yield from _running(cmd, url, what, wait_s, log)


def _running(cmd: list[str], url: str, what: str, wait_s: float, log: IO[str]) -> Iterator[str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise ZenError(f"{what} exited {proc.returncode}:\n{log.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise ZenError(f"{what} not ready after {wait_s:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serve(
    llama: LlamaCpp,
    model: Path,
    *,
    mmproj: Path | None = None,
    args: tuple[str, ...] = (),
    wait_s: float = 120,
) -> Iterator[str]:
    """Run llama-server on `model` (and its mmproj) and yield its base URL; stopped on exit."""
    port = free_port()
    cmd = [str(llama.server), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "--jinja"]
    cmd += [*(["--mmproj", str(mmproj)] if mmproj else []), "-c", "4096", "--no-webui", *args]
    with local_server(cmd, f"http://127.0.0.1:{port}", f"llama-server on {model}", wait_s=wait_s) as url:
        yield url


def server_rendering(url: str, messages: list[dict], tools: list[dict] | None = None) -> str:
    """The prompt llama-server's template engine renders for a chat request (generation prompt on)."""
    payload = {"messages": messages, **({"tools": tools} if tools else {})}
    return post(f"{url}/apply-template", payload)["prompt"]


def template_parity(url: str, tokenizer, conversations=tuple(SHAPES)) -> dict:
    """Render each (name, messages, tools) in llama-server and in transformers; the names that differ."""
    differ = {}
    for name, messages, tools in conversations:
        served = server_rendering(url, messages, tools)
        hf = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)
        if served != hf:
            at = next(
                (i for i, (a, b) in enumerate(zip(served, hf, strict=False)) if a != b),
                min(len(served), len(hf)),
            )
            differ[name] = {"at": at, "llama_server": served[at : at + 80], "transformers": hf[at : at + 80]}
    return {"checked": [c[0] for c in conversations], "differ": differ, "same": not differ}
