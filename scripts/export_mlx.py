"""Convert the merged model of one size x variant to mlx-vlm folders (export.mlx_bits), checked in MLX.

python scripts/export_mlx.py --size tiny --variant agent [--force] [--if-available] [export.mlx_bits=[4]]
"""

from zen_vl.cli import parser, resolve, run


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--force", action="store_true", help="convert again even when the folders are up to date")
    p.add_argument(
        "--if-available", action="store_true", help="without mlx-vlm installed, say so and exit 0 (make all)"
    )
    args = p.parse_args()
    cfg = resolve(args)
    from zen_vl.export.mlx import export_mlx, mlx_available

    if args.if_available and (missing := mlx_available()):
        print(f"mlx: skipped: {missing}")
        return 0

    for dest in export_mlx(cfg, force=args.force):
        print(f"mlx: {dest}")
    return 0


if __name__ == "__main__":
    run(main)
