"""Which checkpoint a run resumes from: the newest *complete* one.

The Trainer writes checkpoint-N/ in place (weights, optimizer, scheduler, RNG, then trainer_state.json
last), so a kill while saving leaves a folder that transformers' `get_last_checkpoint` would pick
and fail to resume from. A checkpoint counts here only when its trainer_state.json parses and names
step N; an incomplete one is removed by the main process, so the rerun saves step N afresh.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

STATE = "trainer_state.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def is_complete(folder: Path) -> bool:
    match = _NAME.match(folder.name)
    try:
        state = json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return False
    return bool(match) and state.get("global_step") == int(match.group(1))


def last_complete_checkpoint(out: Path, *, clean: bool) -> str | None:
    """The newest complete checkpoint-N in `out`; with `clean`, incomplete ones are deleted (and said)."""
    if not Path(out).is_dir():
        return None
    found = sorted(
        (int(m.group(1)), p) for p in Path(out).iterdir() if p.is_dir() and (m := _NAME.match(p.name))
    )
    last = None
    for _, folder in found:
        if is_complete(folder):
            last = folder
        elif clean:
            print(f"{folder}: incomplete (the run was stopped while saving it); removed")
            shutil.rmtree(folder, ignore_errors=True)
    return str(last) if last else None
