"""Evaluate the base and the finetuned model of one size x variant on the held-out test set.

python scripts/evaluate.py --size tiny --variant agent [--model PATH] [--screenspot DIR] [--bfcl DIR] [--force] [eval.limit=50 ...]
"""

from pathlib import Path

from zen_vl.cli import parser, resolve, run


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--model", type=Path, help="evaluate this model folder alone (results beside it)")
    p.add_argument("--out", type=Path, help="results folder (default: <variant>/finetuned/<size>/eval)")
    p.add_argument(
        "--screenspot", type=Path, help="also a ScreenSpot-v2 folder (screenspot_*_v2.json + images)"
    )
    p.add_argument("--bfcl", type=Path, help="also a BFCL folder (BFCL_v3_*.json + possible_answer/)")
    p.add_argument("--force", action="store_true", help="regenerate even when the results are up to date")
    args = p.parse_args()
    cfg = resolve(args)
    from zen_vl.evaluate.runner import run_eval

    path = run_eval(
        cfg, model=args.model, out=args.out, screenspot=args.screenspot, bfcl=args.bfcl, force=args.force
    )
    print(path.with_name("results.md").read_text(encoding="utf-8"))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    run(main)
