"""Train one variant of one size (LoRA by default), resuming from the last checkpoint; merge and verify.

python scripts/train.py --size tiny --variant agent [--nproc 8] [--force] [train.lr=1e-4 lora.r=32 ...]
"""

import sys

from zen_vl.cli import parser, resolve, run
from zen_vl.train.launch import relaunch_distributed


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--nproc", type=int, default=1, help="processes (GPUs); >1 relaunches under accelerate")
    p.add_argument("--force", action="store_true", help="retrain even when the finetuned model is up to date")
    args = p.parse_args()
    cfg = resolve(args)
    if args.nproc > 1:
        code = relaunch_distributed(cfg, args.nproc, __file__, sys.argv[1:])
        if code is not None:
            return code
    from zen_vl.train.engine import is_main_process, train

    result = train(cfg, force=args.force)
    if is_main_process():
        print(result.summary(cfg))
    return 0


if __name__ == "__main__":
    run(main)
