"""BFCL's own package in an environment of its own, built once into the cache (like llama.cpp's).

`bfcl-eval` (PyPI) ships the BFCL v4 data and BFCL's generation loop and checkers, but its import
chain loads every API client it supports and pins numpy 1.26, so it cannot join the project's
environment. We build `$ZEN_VL_CACHE/bfcl-eval-<version>/` with `python -m venv`, install the
package without its declared dependencies (they pull torch through sentence-transformers, needed
only by the memory_vector category) and the pinned rest from `configs/bfcl-eval.txt`, and run
`zen_vl/evaluate/bfcl_official.py` there as a script (it imports nothing from zen_vl).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from zen_vl.artifacts import cache_dir, file_hash
from zen_vl.errors import ZenError

PACKAGE, VERSION = "bfcl-eval", "2026.3.23"
REQUIREMENTS = Path(__file__).resolve().parents[3] / "configs" / "bfcl-eval.txt"
SCRIPT = Path(__file__).with_name("bfcl_official.py")
STAMP = "zen_vl_env.json"


def env_dir() -> Path:
    return cache_dir() / f"{PACKAGE}-{VERSION}"


def python() -> Path:
    return env_dir() / "bin" / "python"


def _stamp() -> dict:
    return {"package": PACKAGE, "version": VERSION, "requirements": file_hash(REQUIREMENTS)[:16]}


def _ready() -> bool:
    stamp = env_dir() / STAMP
    if not (python().is_file() and stamp.is_file()):
        return False
    built = json.loads(stamp.read_text())
    return {k: built.get(k) for k in _stamp()} == _stamp()


def ensure_env(*, progress: bool = True) -> Path:
    """The environment's python, building the environment first when it is missing or stale
    (about 2 minutes, once per machine; a second process waits for the first one's build)."""
    if _ready():
        return python()
    env_dir().parent.mkdir(parents=True, exist_ok=True)
    with open(env_dir().with_name(env_dir().name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _ready():
            return python()
        return _build(progress)


def _build(progress: bool) -> Path:
    want = _stamp()
    stamp = env_dir() / STAMP
    if not REQUIREMENTS.is_file():
        raise ZenError(f"{REQUIREMENTS}: missing (the pins of BFCL's environment)")
    base = shutil.which("python3") or sys.executable
    tmp = env_dir().with_name(env_dir().name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        print(
            f"bfcl: building {PACKAGE}=={VERSION}'s environment in {env_dir()} (about 2 minutes, once)",
            flush=True,
        )
    start = time.perf_counter()
    pip = [str(tmp / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for cmd in (
        [base, "-m", "venv", str(tmp)],
        [*pip, "--no-deps", f"{PACKAGE}=={VERSION}"],
        [*pip, "-r", str(REQUIREMENTS)],
    ):
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise ZenError(
                f"building BFCL's environment failed: {' '.join(cmd[:4])} ... exited {run.returncode}\n"
                + (run.stderr or run.stdout)[-2000:]
            )
    shutil.rmtree(env_dir(), ignore_errors=True)
    tmp.rename(env_dir())
    check = subprocess.run(
        [str(python()), "-c", "import bfcl_eval.eval_checker.eval_runner"],
        capture_output=True,
        text=True,
        env=official_env(env_dir() / "probe"),
    )
    if check.returncode != 0:
        raise ZenError(f"BFCL's environment does not import its checker:\n{check.stderr[-2000:]}")
    stamp.write_text(json.dumps({**want, "seconds": round(time.perf_counter() - start, 1)}) + "\n")
    return python()


def official_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment for a BFCL process: its project root (results, scores, ids file) in `root`, no
    stray PYTHONPATH from ours, no .env of API keys."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    root.mkdir(parents=True, exist_ok=True)
    return {**env, "BFCL_PROJECT_ROOT": str(root), "PYTHONUNBUFFERED": "1", **extra}


def run_official(args: list[str], root: Path, *, progress: bool, **extra: str) -> str:
    """Run bfcl_official.py in BFCL's environment; its stdout (progress goes to stderr when shown)."""
    py = ensure_env(progress=progress)
    run = subprocess.run(
        [str(py), str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=None if progress else subprocess.PIPE,
        text=True,
        env=official_env(root, **extra),
    )
    if run.returncode != 0:
        tail = (run.stderr or "")[-3000:]
        raise ZenError(f"BFCL ({' '.join(args[:1])}) exited {run.returncode}{': ' + tail if tail else ''}")
    return run.stdout
