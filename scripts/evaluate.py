"""Evaluate the base and the finetuned model of one size x variant on the held-out test set.

python scripts/evaluate.py --size tiny --variant agent [--model PATH] [--screenspot DIR] [--bfcl 1|DIR] [--format gguf,mlx] [--force] [eval.limit=50 ...]
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
    p.add_argument(
        "--bfcl",
        help="also BFCL v4 through BFCL's own loop and checker: 1 for the data bfcl-eval ships, or a "
        "folder in its layout (BFCL_v4_<category>.json + possible_answer/)",
    )
    p.add_argument(
        "--format",
        default="hf",
        help="also the exports, each through its server: gguf (llama-server), mlx (mlx_vlm.server), "
        "comma-separated or all; the transformers models are always in the table",
    )
    p.add_argument("--force", action="store_true", help="regenerate even when the results are up to date")
    args = p.parse_args()
    cfg = resolve(args)
    from zen_vl.evaluate.runner import run_eval

    formats = {"hf", "gguf", "mlx"} if args.format == "all" else {"hf", *args.format.split(",")}
    unknown = formats - {"hf", "gguf", "mlx"}
    if unknown:
        p.error(f"--format: {', '.join(sorted(unknown))} is not one of hf, gguf, mlx, all")
    path = run_eval(
        cfg,
        model=args.model,
        out=args.out,
        screenspot=args.screenspot,
        bfcl=args.bfcl,
        formats=tuple(sorted(formats)),
        force=args.force,
    )
    print(path.with_name("results.md").read_text(encoding="utf-8"))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    run(main)
