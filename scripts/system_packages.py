"""Install the system packages the pipeline uses that this machine lacks (configs/system-packages.txt).

python3 scripts/system_packages.py [--check]
Runs with the system python3 (before the .venv exists) and imports nothing from zen_vl. As root, or
with passwordless sudo, it runs apt-get; otherwise it prints the one command to run and exits 1.
--check only reports what is missing (exit 1 if anything is).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

LIST = Path(__file__).resolve().parents[1] / "configs" / "system-packages.txt"


def requirements(path: Path = LIST) -> list[tuple[str, list[str]]]:
    """(check, packages) pairs in file order."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        check, *packages = line.split()
        if ":" not in check or not packages:
            raise SystemExit(f"{path}:{n}: expected `kind:what package...`")
        out.append((check, packages))
    return out


def present(check: str, *, which=shutil.which, exists=os.path.exists, has_module=None) -> bool:
    kind, _, what = check.partition(":")
    has_module = has_module or (lambda name: importlib.util.find_spec(name) is not None)
    if kind == "command":
        return which(what) is not None
    if kind == "file":
        return exists(what)
    if kind == "python":
        return all(has_module(m) for m in what.split(","))
    raise ValueError(f"unknown check kind {kind!r} in {check!r}")


def missing(reqs, **probes) -> list[str]:
    return [p for check, packages in reqs if not present(check, **probes) for p in packages]


def apt_command(packages: list[str]) -> list[str]:
    return ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]


def privilege(*, euid: int | None = None, which=shutil.which, run=subprocess.run) -> list[str] | None:
    """[] as root, ["sudo", "-n"] with passwordless sudo, None otherwise."""
    if (os.geteuid() if euid is None else euid) == 0:
        return []
    if which("sudo") and run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def main(
    argv: list[str],
    *,
    run=subprocess.run,
    which=shutil.which,
    exists=os.path.exists,
    has_module=None,
    euid: int | None = None,
) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true", help="only report what is missing")
    args = p.parse_args(argv)
    need = missing(requirements(), which=which, exists=exists, has_module=has_module)
    if not need:
        return 0
    command = " ".join(apt_command(need)).replace(" -qq", "")
    if args.check:
        print(f"missing system packages: {' '.join(need)}; install them with: sudo {command}")
        return 1
    if which("apt-get") is None:
        print(f"error: missing system packages (Debian names): {' '.join(need)}; install their equivalents "
              "with this system's package manager, then run make install again", file=sys.stderr)  # fmt: skip
        return 1
    prefix = privilege(euid=euid, which=which, run=run)
    if prefix is None:
        print(f"error: missing system packages: {' '.join(need)}. Run this once, then make install again:\n"
              f"  sudo {command}", file=sys.stderr)  # fmt: skip
        return 1
    print(f"installing system packages: {' '.join(need)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], apt_command(need)):
        done = run([*prefix, *cmd], env=env)
        if done.returncode != 0:
            print(f"error: {' '.join([*prefix, *cmd])} exited {done.returncode}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
