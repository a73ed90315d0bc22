"""The bottom layer every stage shares: what marks an artifact complete, how it is read, and what
produced it.

- File names: each artifact folder is complete only when its manifest (or provenance) file exists;
  its writer puts it there last (zen_vl.atomic).
- `read_json`: a missing or corrupt JSON file becomes a ZenError naming the file and the `make`
  command that rebuilds it (never a traceback).
- `require`: a later stage's check that a folder is complete.
- `fingerprint` / `digest_files`: short hashes of what produced an artifact; `current` is the one
  up-to-date check (a stage redoes its work unless its manifest carries the same fingerprint).
- `versions`, `git_commit`, `device_name`, `cpu_name`, `peak_memory_gb`: provenance.

Nothing here imports torch at module level, so every stage (and the scripts' --help) stays light.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from zen_vl.errors import ZenError

# Completion manifests, one per kind of artifact folder.
BASE_MANIFEST = "zen_vl_base.json"  # base/<size>[-thinking]/
DATA_MANIFEST = "manifest.json"  # data/<variant>/<size>/
RUN_FILE = "zen_vl_run.json"  # <variant>/training/<size>/: the configuration its checkpoints belong to
PROVENANCE = "provenance.json"  # <variant>/finetuned/<size>/
RESULTS = "results.json"  # <variant>/finetuned/<size>/eval/
GGUF_MANIFEST = "zen_vl_gguf.json"  # gguf/zen-vl-<size>-<variant>/
MLX_MANIFEST = "zen_vl_mlx.json"  # mlx/zen-vl-<size>-<variant>-<bits>bit/
PAPER_MANIFEST = "zen_vl_paper.json"  # paper/build/

PACKAGES = ("torch", "transformers", "peft", "accelerate", "datasets", "trl", "huggingface_hub")


class CorruptArtifact(ZenError):
    """A JSON artifact that exists but cannot be read."""


def cache_dir() -> Path:
    """Where built tools live outside any checkout (the llama.cpp build, BFCL's environment):
    `$ZEN_VL_CACHE`, default `~/.cache/zen-vl`."""
    env = os.environ.get("ZEN_VL_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "zen-vl"


def read_json(path: Path, rebuild: str, *, missing_ok: bool = False) -> Any:
    """The JSON in `path`; a missing file (unless `missing_ok`, then None) or a corrupt one raises a
    ZenError naming the file and `rebuild`, the command that writes it again."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # a file where a folder on its path should be: absent too
        if missing_ok:
            return None
        raise ZenError(f"{path} does not exist: {rebuild}") from None
    except OSError as exc:
        raise CorruptArtifact(f"{path} cannot be read ({exc.strerror}): {rebuild}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CorruptArtifact(f"{path} is corrupt (not JSON: {exc}): rebuild it with {rebuild}") from None


def read_manifest(folder: Path, name: str, rebuild: str = "rerun the stage that writes it") -> dict | None:
    """A folder's completion manifest, or None when the folder is absent or was never completed;
    a corrupt manifest or one that is not an object raises (naming `rebuild`)."""
    data = read_json(Path(folder) / name, rebuild, missing_ok=True)
    if data is not None and not isinstance(data, dict):
        raise CorruptArtifact(f"{Path(folder) / name} is not a JSON object: rebuild it with {rebuild}")
    return data


def require(folder: Path, name: str, rebuild: str) -> dict:
    """The manifest of a complete folder, for a stage that reads it: a clear error when the folder is
    missing, incomplete (no manifest: its build was interrupted) or its manifest is unreadable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ZenError(f"{folder} does not exist: {rebuild}")
    data = read_manifest(folder, name, rebuild)
    if data is None:
        raise ZenError(f"{folder} is incomplete (no {name}; its build was interrupted): {rebuild}")
    return data


def require_finetuned(folder: Path, size: str, variant: str) -> dict:
    """The provenance of a complete finetuned folder (later stages trust nothing else)."""
    return require(folder, PROVENANCE, f"run `make train-{variant} SIZE={size}` first")


def current(folder: Path, name: str, fp: str, *, key: str = "fingerprint") -> dict | None:
    """The manifest when `folder` is complete and was produced from the same inputs (`fp`), else None:
    the stage must (re)build. A corrupt manifest counts as stale, since the stage rewrites it."""
    try:
        manifest = read_manifest(folder, name, "")
    except CorruptArtifact:
        return None
    return manifest if manifest is not None and manifest.get(key) == fp else None


def fingerprint(inputs: Any, length: int = 16) -> str:
    """Short sha256 of a JSON-able description of what produced an artifact."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:length]


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def digest_files(paths: Iterable[Path], root: Path, length: int = 16) -> str:
    """sha256 over each file's path relative to `root` and its bytes, in the order given."""
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return h.hexdigest()[:length]


def code_hash(*names: str) -> str:
    """Hash of library source files (paths relative to src/zen_vl, globs allowed): what code wrote an
    artifact, so editing that code rebuilds it."""
    here = Path(__file__).resolve().parent
    files = sorted({p for name in names for p in here.glob(name)})
    return digest_files(files, here)


# --------------------------------------------------------------------------- provenance


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit(repo: Path | None = None) -> dict[str, str | bool | None]:
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def peak_memory_gb(cuda: bool | None = None) -> float:
    """Peak memory of this process in GB (10^9 bytes): CUDA max allocated (default where a GPU is), or
    peak RSS."""
    import resource

    import torch

    if torch.cuda.is_available() if cuda is None else cuda:
        return torch.cuda.max_memory_allocated() / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def cpu_name() -> str:
    """The CPU torch computes on here, e.g. `CPU (x86_64, 2 threads)` (exports are checked on it)."""
    import torch

    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return cpu_name()


def reusable(path: Path, fp: str, *, force: bool, progress: bool, what: str) -> dict | None:
    """The records cached at `path` when they match `fp` (and no FORCE), else None."""
    cached = current(path.parent, path.name, fp)
    if cached and not force:
        if progress:
            print(f"{what}: up to date ({path})")
        return cached
    return None


def safe_name(label: str) -> str:
    """A model label (gguf:Q8_0, mlx:4bit) as a file name."""
    return label.replace(":", "-").replace("/", "-")
