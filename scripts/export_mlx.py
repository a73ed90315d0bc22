"""Convert the merged model of one size x variant to mlx-vlm folders (export.mlx_bits), checked in MLX.

python scripts/export_mlx.py --size tiny --variant agent [--force] [--if-available] [--no-check] [export.mlx_bits=[4]]
"""

from zen_vl.cli import parser, resolve, run


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--force", action="store_true", help="convert again even when the folders are up to date")
    p.add_argument(
        "--if-available", action="store_true", help="without mlx-vlm installed, say so and exit 0 (make all)"
    )
    p.add_argument("--no-check", action="store_true", help="skip the task parity check on the test set")
    args = p.parse_args()
    cfg = resolve(args)
    from zen_vl.export.mlx import export_mlx, mlx_available

    if args.if_available and (missing := mlx_available()):
        print(f"mlx: skipped: {missing}")
        return 0

    for dest in export_mlx(cfg, force=args.force):
        print(f"mlx: {dest}")
    if cfg.export.task_check and not args.no_check:
        from zen_vl.evaluate.task_parity import check

        check(cfg, "mlx")  # fails naming the metric when an export falls beyond its margin
    return 0


if __name__ == "__main__":
    run(main)
