"""Convert the merged model of one size x variant to mlx-vlm folders (export.mlx_bits), checked in MLX.

python scripts/export_mlx.py --size tiny --variant agent [--force] [export.mlx_bits=[4]]
"""

from zen_vl.cli import parser, resolve, run


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--force", action="store_true", help="convert again even when the folders are up to date")
    args = p.parse_args()
    cfg = resolve(args)
    from zen_vl.export.mlx import export_mlx

    for dest in export_mlx(cfg, force=args.force):
        print(f"mlx: {dest}")
    return 0


if __name__ == "__main__":
    run(main)
