"""Fetch (real sizes) or build offline (tiny sizes) the base models of one size into base/.

python scripts/download.py --size 8b [--flavor all|instruct|thinking] [--force] [KEY=VALUE ...]
"""

from zen_vl.base.download import ensure_base
from zen_vl.cli import parser, resolve, run
from zen_vl.paths import Layout


def main() -> None:
    p = parser(__doc__, variant=False)
    p.add_argument("--flavor", default="all", choices=["all", "instruct", "thinking"])
    p.add_argument("--force", action="store_true", help="rebuild / re-download a complete folder")
    args = p.parse_args()
    cfg = resolve(args)
    flavors = sorted(cfg.bases) if args.flavor == "all" else [args.flavor]
    for flavor in flavors:
        dest = ensure_base(cfg, Layout.default(), flavor, force=args.force)
        print(f"base {cfg.size} ({flavor}): {dest}")


if __name__ == "__main__":
    run(main)
