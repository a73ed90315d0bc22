"""Benchmark one training step of our path against plain HF + peft LoRA on the SIZE's shape (random weights).

python scripts/bench.py --size tiny [--device cpu|cuda] [--steps N] [--warmup N] [--batch fixed|mixed|both]
                        [--ablate] [KEY=VALUE ...]
Both paths under the Trainer's autocast, on the fixed batch (equal lengths) and the mixed one (the
variants' own samples, padded). --ablate also runs our path once per optimisation turned the other way
(attention, patch embedding, activation checkpointing; on CUDA Liger, bf16 and peft's input cast), each
labelled exact or recipe change by its first loss. Writes bench/results/<size>-<device>-<UTC time>.json
and prints the side-by-side tables.
"""

from zen_vl.cli import parser, run


def main() -> int:
    p = parser(__doc__, variant=False)
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--steps", type=int, help="timed steps (default: bench.steps of the size)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default: bench.warmup)")
    p.add_argument("--ablate", action="store_true", help="measure each optimisation on and off")
    p.add_argument("--batch", choices=("fixed", "mixed", "both"), default="both", help="default: both")
    args = p.parse_args()
    from zen_vl.bench.compare import run_bench
    from zen_vl.config import load_config

    cfg = load_config(args.size, "instruct", args.overrides)
    if cfg.tiny is None and cfg.shape is None:
        from zen_vl.errors import ZenError

        raise ZenError(
            f"configs/sizes/{args.size}.yaml has no `shape:` section to build the bench model from"
        )
    run_bench(
        args.size,
        args.device,
        steps=args.steps or cfg.bench.steps,
        warmup=cfg.bench.warmup if args.warmup is None else args.warmup,
        overrides=args.overrides,
        ablate=args.ablate,
        batches=("fixed", "mixed") if args.batch == "both" else (args.batch,),
    )
    return 0


if __name__ == "__main__":
    run(main)
