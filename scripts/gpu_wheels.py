"""Download, for a GPU machine without network, the wheels the bench needs beyond its own torch, at the
versions installed here, into build/wheels (ignored by git; carry it to the machine).

python scripts/gpu_wheels.py [--dest build/wheels] [--limit-mb 60]
"""

import argparse
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from zen_vl.cli import run
from zen_vl.errors import ZenError

# What the bench imports that the lent H200's image (python 3.12, torch 2.11, transformers 5.17;
# the package list in the device tool's KINDS.md) lacks or has at another version; torch, numpy,
# pillow, pyyaml, tqdm, accelerate and safetensors stay the machine's own.
PACKAGES = ("transformers", "peft", "tokenizers", "huggingface_hub", "pydantic", "pydantic_core",
            "annotated_types", "typing_inspection", "jsonschema", "jsonschema_specifications", "referencing",
            "rpds_py", "qwen_vl_utils", "liger_kernel")  # fmt: skip
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dest", type=Path, default=Path("build/wheels"))
    p.add_argument("--limit-mb", type=float, default=60, help="the device tool carries 64 MiB per call")
    args = p.parse_args()
    pins = []
    for name in PACKAGES:
        try:
            pins.append(f"{name}=={version(name)}")
        except Exception:  # not installed here (liger-kernel is the gpu extra): nothing to pin
            continue
    args.dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(args.dest),
           "--python-version", "3.12", "--implementation", "cp",
           *(x for platform in PLATFORMS for x in ("--platform", platform)), *pins]  # fmt: skip
    subprocess.run(cmd, check=True)
    size = sum(f.stat().st_size for f in args.dest.glob("*.whl")) / 2**20
    print(f"{args.dest}: {len(list(args.dest.glob('*.whl')))} wheels, {size:.1f} MiB ({', '.join(pins)})")
    if size > args.limit_mb:
        raise ZenError(f"{args.dest} holds {size:.1f} MiB of wheels, over --limit-mb {args.limit_mb}")
    return 0


if __name__ == "__main__":
    run(main)
