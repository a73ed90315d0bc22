"""A transformers model behind OpenAI's `/v1/completions`, for clients that bring their own prompt.

BFCL's generation loop (bfcl-eval's OSS handlers) formats the prompt itself and asks an
OpenAI-compatible completions endpoint for the continuation (what vLLM or SGLang would serve; for a
GGUF it is llama-server's own). This is that endpoint for a Hub-format model folder, on a local
port: requests that arrive together are generated as one left-padded greedy batch (BFCL sends one
request per thread), each cut at its own `max_tokens` and at most `max_new_tokens`.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch


@contextlib.contextmanager
def serving(model, tokenizer, *, max_new_tokens: int, batch_size: int) -> Iterator[str]:
    """Serve `model` on a free local port while the block runs; yields the base URL (`.../v1`)."""
    pending: queue.Queue = queue.Queue()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # no access log on stderr
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") in ("/v1/models", "/health"):
                self._send(200, {"object": "list", "data": [{"id": "zen-vl", "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            prompt = request.get("prompt")
            if not isinstance(prompt, str):
                return self._send(400, {"error": {"message": "prompt: one string expected"}})
            slot = {"prompt": prompt, "max_tokens": int(request.get("max_tokens") or max_new_tokens),
                    "done": threading.Event()}  # fmt: skip
            pending.put(slot)
            slot["done"].wait()
            if "error" in slot:
                return self._send(500, {"error": {"message": slot["error"]}})
            self._send(200, {
                "id": f"cmpl-{id(slot)}", "object": "text_completion", "created": int(time.time()),
                "model": request.get("model", "zen-vl"),
                "choices": [{"index": 0, "text": slot["text"], "finish_reason": slot["finish"], "logprobs": None}],
                "usage": {"prompt_tokens": slot["prompt_tokens"], "completion_tokens": slot["completion_tokens"],
                          "total_tokens": slot["prompt_tokens"] + slot["completion_tokens"]},
            })  # fmt: skip

    def worker() -> None:
        while not stop.is_set():
            try:
                first = pending.get(timeout=0.1)
            except queue.Empty:
                continue
            time.sleep(0.05)  # let the requests sent together arrive
            batch = [first]
            while len(batch) < batch_size:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            for group in by_length(tokenizer, batch):
                try:
                    _complete(model, tokenizer, group, max_new_tokens)
                except Exception as exc:  # answered to the client, which records it
                    for slot in group:
                        slot["error"] = f"{type(exc).__name__}: {exc}"
                for slot in group:
                    slot["done"].set()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threads = [
        threading.Thread(target=server.serve_forever, daemon=True),
        threading.Thread(target=worker, daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def by_length(tokenizer, batch: list[dict], budget: int = 16384) -> list[list[dict]]:
    """The requests in groups of similar length (each at least half its group's longest), at most
    `budget` padded prompt tokens a group: a 6,000-token multi-turn prompt does not pad the short ones."""
    for slot in batch:
        slot["length"] = len(tokenizer(slot["prompt"], add_special_tokens=False)["input_ids"])
    groups: list[list[dict]] = []
    for slot in sorted(batch, key=lambda s: s["length"], reverse=True):
        g = groups[-1] if groups else None
        if g and slot["length"] * 2 >= g[0]["length"] and g[0]["length"] * (len(g) + 1) <= budget:
            g.append(slot)
        else:
            groups.append([slot])
    return groups


def _complete(model, tokenizer, batch: list[dict], cap: int) -> None:
    """Greedy continuations of a batch of prompt strings (special tokens in the text are parsed)."""
    enc = tokenizer([s["prompt"] for s in batch], return_tensors="pt", padding=True, padding_side="left",
                    add_special_tokens=False)  # fmt: skip
    device = next(model.parameters()).device
    budget = min(cap, max(s["max_tokens"] for s in batch))
    with torch.no_grad():
        ids = model.generate(**{k: v.to(device) for k, v in enc.items()}, max_new_tokens=budget, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    new = ids[:, enc["input_ids"].shape[1] :].tolist()
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    for slot, row, mask in zip(batch, new, enc["attention_mask"].tolist(), strict=True):
        limit = min(slot["max_tokens"], cap)
        stop = next((i for i, t in enumerate(row) if t in eos or t == tokenizer.pad_token_id), len(row))
        kept = row[: min(stop, limit)]
        slot.update(text=tokenizer.decode(kept, skip_special_tokens=True), prompt_tokens=sum(mask),
                    completion_tokens=len(kept), finish="stop" if stop <= limit and stop < len(row) else "length")  # fmt: skip
