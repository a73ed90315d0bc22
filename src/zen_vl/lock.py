"""One writer per output: an exclusive, non-blocking flock on `<folder>.lock`.

The kernel releases the lock when its process dies (SIGKILL included), so a crashed run never leaves a
stale lock; a second run of the same stage on the same output fails at once, naming the holder,
instead of interleaving checkpoints with the first.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zen_vl.errors import ZenError


class Busy(ZenError):
    """Another process holds the lock."""


@contextmanager
def exclusive(folder: Path, what: str) -> Iterator[None]:
    """Hold `<folder>.lock` for the block; raises Busy when another process holds it."""
    path = Path(folder).with_name(Path(folder).name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except json.JSONDecodeError:
                holder = {}
            raise Busy(
                f"{what} is already running (pid {holder.get('pid', '?')}, since {holder.get('since', '?')}; "
                f"lock {path}); wait for it to finish — the lock goes away with that process"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
