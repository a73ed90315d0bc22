"""What produced an artifact: library versions and the git commit of this checkout."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "transformers", "peft", "accelerate", "datasets", "trl", "huggingface_hub")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit(repo: Path | None = None) -> dict[str, str | bool | None]:
    repo = repo or Path(__file__).resolve().parents[3]
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
