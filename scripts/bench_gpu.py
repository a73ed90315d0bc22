"""The GPU bench in one run: baseline vs ours on the fixed and mixed batches for each size, and on the
first size our path with each optimisation off; JSON per size and bench-gpu.md in --out.

python scripts/bench_gpu.py [--sizes 4b 8b] [--device cuda] [--out DIR] [--steps N] [--warmup N]
                            [--budget-s S] [KEY=VALUE ...]
On a lent GPU without network: bash scripts/bench_gpu.sh (installs the carried wheels first; see
docs/PERFORMANCE.md). The CPU dry run: --sizes tiny --device cpu --steps 1 --warmup 0.
"""

import argparse
import os
from pathlib import Path

from zen_vl.cli import run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["4b", "8b"], help="default: 4b 8b")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench/results/gpu")),
                   help="default: $OUT, else bench/results/gpu")  # fmt: skip
    p.add_argument("--steps", type=int, default=5, help="timed steps per run (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--budget-s", type=float, default=420, help="start no run after this (default 420 s)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = p.parse_args()
    from zen_vl.bench.gpu_suite import run_suite

    run_suite(args.sizes, args.device, args.out, steps=args.steps, warmup=args.warmup,
              budget_s=args.budget_s, overrides=args.overrides)  # fmt: skip
    return 0


if __name__ == "__main__":
    run(main)
