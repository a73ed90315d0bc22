"""A local Hub for the download tests: real HTTP, real huggingface_hub client, files from a folder.

Serves one repo at one commit: the model-info API (with file sizes) and `resolve/` downloads with
HEAD, ETag, X-Repo-Commit and Range (206) as the Hub does. `cut = (file, bytes, how)` makes the next
GET of that file send that many bytes and then hang (how="hang": a test kills the client meanwhile)
or drop the connection (how="drop": the client's own retry must resume it).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class FakeHub:
    def __init__(self, repo: str, commit: str, folder: Path):
        self.repo, self.commit = repo, commit
        self.files = {p.name: p for p in sorted(Path(folder).iterdir()) if p.is_file()}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.cut: tuple[str, int, str] | None = None
        self.was_cut = threading.Event()
        self.claimed_size: int | None = None  # model info reports every file this big (a huge repo)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._serve(self, body=False)

            def do_GET(self):
                hub._serve(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _etag(self, name: str) -> str:
        return hashlib.sha256(self.files[name].read_bytes()).hexdigest()

    def _serve(self, h: BaseHTTPRequestHandler, *, body: bool) -> None:
        path = unquote(urlparse(h.path).path)
        self.requests.append((h.command, path, h.headers.get("Range")))
        if path.startswith(f"/api/models/{self.repo}/"):
            sizes = {n: p.stat().st_size for n, p in self.files.items()}
            if "/tree/" in path:
                tree = [
                    {"type": "file", "path": n, "size": s, "oid": self._etag(n)} for n, s in sizes.items()
                ]
                data = json.dumps(tree).encode()
            else:
                siblings = [{"rfilename": n, "size": self.claimed_size or s} for n, s in sizes.items()]
                data = json.dumps({"id": self.repo, "sha": self.commit, "siblings": siblings}).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if body:
                h.wfile.write(data)
            return
        prefix = f"/{self.repo}/resolve/"
        name = path[len(prefix) :].split("/", 1)[-1] if path.startswith(prefix) else None
        if name not in self.files:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        data = self.files[name].read_bytes()
        start = int(h.headers["Range"].split("=")[1].split("-")[0]) if h.headers.get("Range") else 0
        h.send_response(206 if start else 200)
        h.send_header("ETag", f'"{self._etag(name)}"')
        h.send_header("X-Repo-Commit", self.commit)
        h.send_header("Content-Length", str(len(data) - start))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if not body:
            return
        if self.cut and self.cut[0] == name:
            (_, n, how), self.cut = self.cut, None
            h.wfile.write(data[start : start + n])
            h.wfile.flush()
            self.was_cut.set()
            if how == "hang":
                time.sleep(120)  # the client is killed meanwhile
            h.close_connection = True
            return
        h.wfile.write(data[start:])
