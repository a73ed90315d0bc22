"""Fetch (real sizes) or build offline (tiny sizes) the base models of one size into base/.

python scripts/download.py --size 8b [--variant agent | --flavor all|instruct|thinking] [--force] [KEY=VALUE ...]
With --variant, only the base that variant trains from (and its config is the one checked).
"""

from zen_vl.base.download import ensure_base
from zen_vl.cli import parser, run
from zen_vl.config import VARIANTS, load_config
from zen_vl.paths import Layout


def main() -> None:
    p = parser(__doc__, variant=False)
    p.add_argument("--variant", choices=VARIANTS, help="only the base this variant needs")
    p.add_argument("--flavor", default="all", choices=["all", "instruct", "thinking"])
    p.add_argument("--force", action="store_true", help="rebuild / re-download a complete folder")
    args = p.parse_args()
    cfg = load_config(args.size, args.variant or "instruct", args.overrides)
    every = sorted(cfg.bases) if args.flavor == "all" else [args.flavor]
    flavors = [cfg.base] if args.variant else every
    for flavor in flavors:
        dest = ensure_base(cfg, Layout.default(), flavor, force=args.force)
        print(f"base {cfg.size} ({flavor}): {dest}")


if __name__ == "__main__":
    run(main)
