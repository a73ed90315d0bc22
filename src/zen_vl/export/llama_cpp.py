"""llama.cpp, pinned and obtained from the package registry alone, built once into a cache.

The `llama-cpp-python` sdist on PyPI vendors a llama.cpp (commit below) whose converter handles
Qwen3VL and Qwen3VLMoe (`--mmproj` for the vision projector) and whose tools hold quantize and
mtmd. We download that sdist, build `llama-quantize`, `llama-mtmd-cli`, `llama-server` and the
shared `libllama` (for logit parity through the sdist's own ctypes bindings) with cmake on the CPU,
and keep it in
`$ZEN_VL_CACHE` (default `~/.cache/zen-vl`), outside the checkout, so every clone on the machine
reuses it. `LLAMA_CPP_DIR=/path/to/llama.cpp` uses a user's own checkout (built in `build/`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from zen_vl.artifacts import cache_dir
from zen_vl.config import system_packages
from zen_vl.errors import ZenError

PACKAGE, VERSION, COMMIT = "llama-cpp-python", "0.3.36", "0c1e57098"
TARGETS = ("llama-quantize", "llama-mtmd-cli", "llama-server", "llama", "mtmd")
FIRST_TARGETS = ("llama-quantize", "llama-mtmd-cli", "llama", "mtmd")  # a stamp without `targets`
STAMP = "zen_vl_build.json"
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=ON",  # libllama.so for the parity check's ctypes bindings
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # the default downloads the web UI
    "-DLLAMA_BUILD_UI=OFF",
    f"-DLLAMA_BUILD_COMMIT={COMMIT}",
]


@dataclass(frozen=True)
class LlamaCpp:
    root: Path  # the llama.cpp source tree
    bin: Path  # its build/bin
    bindings: Path | None  # the sdist root holding the `llama_cpp` Python package (None: user tree)

    @property
    def converter(self) -> Path:
        return self.root / "convert_hf_to_gguf.py"

    @property
    def quantize(self) -> Path:
        return self.bin / "llama-quantize"

    @property
    def mtmd_cli(self) -> Path:
        return self.bin / "llama-mtmd-cli"

    @property
    def server(self) -> Path:
        return self.bin / "llama-server"

    def env(self) -> dict[str, str]:
        """Environment for the converter: llama.cpp's own gguf-py, newer than PyPI's of the same number."""
        path = os.pathsep.join([str(self.root / "gguf-py"), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        return {**os.environ, "PYTHONPATH": path, "NO_LOCAL_GGUF": ""}

    def commit(self) -> str:
        stamp = self.bin.parent / STAMP
        if stamp.is_file():
            return json.loads(stamp.read_text())["commit"]
        try:
            out = subprocess.run(
                ["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
            )
            return out.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"


def _sdist_root() -> Path:
    return cache_dir() / "src" / f"{PACKAGE.replace('-', '_')}-{VERSION}"


def find_llama_cpp() -> LlamaCpp | None:
    """The usable llama.cpp (user's or cached), or None when it still has to be built."""
    user = os.environ.get("LLAMA_CPP_DIR")
    if user:
        root = Path(user).expanduser().resolve()
        tree = LlamaCpp(root, root / "build" / "bin", None)
        missing = [p for p in (tree.converter, tree.quantize, tree.mtmd_cli, tree.server) if not p.exists()]
        if missing:
            raise ZenError(
                f"LLAMA_CPP_DIR={root}: missing {', '.join(str(p) for p in missing)} "
                "(build it: cmake -B build && cmake --build build --target llama-quantize llama-mtmd-cli llama-server)"
            )
        return tree
    root = _sdist_root() / "vendor" / "llama.cpp"
    tree = LlamaCpp(root, root / "build" / "bin", _sdist_root())
    stamp = root / "build" / STAMP
    if not stamp.is_file():
        return None
    built = json.loads(stamp.read_text()).get("targets", FIRST_TARGETS)
    return tree if set(TARGETS) <= set(built) else None  # an older cache builds what it lacks


def ensure_llama_cpp(*, progress: bool = True) -> LlamaCpp:
    """Find llama.cpp, or download the pinned sdist and build it (minutes, once per machine)."""
    found = find_llama_cpp()
    if found is not None:
        return found
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            packages = " ".join(system_packages("command:cmake") + system_packages("command:c++"))
            raise ZenError(
                f"building llama.cpp needs {tool}: `make install` installs it (Debian: apt-get install "
                f"{packages}), or point LLAMA_CPP_DIR at a built llama.cpp"
            )
    src = cache_dir() / "src"
    src.mkdir(parents=True, exist_ok=True)
    archive = src / f"{PACKAGE.replace('-', '_')}-{VERSION}.tar.gz"
    if not archive.is_file():
        _say(progress, f"llama.cpp: downloading the {PACKAGE} {VERSION} sdist into {src}")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"{PACKAGE}=={VERSION}",
            "-d",
            str(src),
        ]
        if subprocess.run(cmd).returncode != 0 or not archive.is_file():
            raise ZenError(
                f"could not download {PACKAGE}=={VERSION} from the package index (pip download failed)"
            )
    root = _sdist_root()
    if not (root / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py").is_file():
        with tarfile.open(archive) as tar:
            tar.extractall(src, filter="data")
    tree = root / "vendor" / "llama.cpp"
    build = tree / "build"
    _say(progress, f"llama.cpp: building {', '.join(TARGETS)} in {build} (about 9 minutes on 2 cores, once)")
    jobs = str(os.cpu_count() or 2)
    start = time.perf_counter()
    for cmd in (
        ["cmake", "-S", str(tree), "-B", str(build), *CMAKE_FLAGS],
        ["cmake", "--build", str(build), "-j", jobs, "--target", *TARGETS],
    ):
        run = subprocess.run(cmd, capture_output=not progress, text=True)
        if run.returncode != 0:
            tail = (run.stderr or "")[-2000:] if not progress else ""
            raise ZenError(f"llama.cpp build failed: {' '.join(cmd[:3])} ... exited {run.returncode}\n{tail}")
    stamp = {"package": PACKAGE, "version": VERSION, "commit": COMMIT, "jobs": int(jobs), "targets": TARGETS}
    stamp["seconds"] = round(time.perf_counter() - start, 1)
    (build / STAMP).write_text(json.dumps(stamp) + "\n")
    return LlamaCpp(tree, build / "bin", root)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)
