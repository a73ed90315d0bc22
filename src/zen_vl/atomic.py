"""Atomic writes: an artifact either exists complete or not at all.

Folders are built beside their destination under a temporary name and renamed into place; a
crash leaves only a `.tmp-*` folder that the next run removes, never a half-written artifact. Each
writer also puts its completion manifest in the folder last; readers check it (zen_vl.artifacts.require).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zen_vl.errors import ZenError


def write_text(path: Path, text: str) -> None:
    """Write text through a temp file and rename, so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """JSON, written atomically (write_text)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


@contextmanager
def building(dest: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `dest`; on success rename it to `dest`.

    An existing `dest` is kept (and ZenError raised) unless `replace`; on failure the temp folder
    is removed and `dest` is untouched.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZenError(f"cannot create output folder {dest.parent}: {exc.strerror}") from None
    if not os.access(dest.parent, os.W_OK):
        raise ZenError(f"output folder {dest.parent} is not writable")
    old = dest.with_name(f".tmp-{dest.name}-old")
    if old.is_dir() and not dest.exists():  # killed between the two renames below: put it back
        os.replace(old, dest)
    for stale in dest.parent.glob(f".tmp-{dest.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if dest.exists() and not replace:
        raise ZenError(f"{dest} already exists; remove it to rebuild")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-", dir=dest.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        if _exchange(tmp, dest):  # one atomic step: dest is the new folder, tmp the old one
            shutil.rmtree(tmp, ignore_errors=True)
            return
        os.replace(dest, old)  # file systems without RENAME_EXCHANGE: two renames, recovered above
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
