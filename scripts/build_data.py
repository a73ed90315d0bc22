"""Build and validate the dataset of one size x variant into data/<variant>/<size>/, and print its counts.

python scripts/build_data.py --size tiny --variant agent [--force] [data.train=2000 ...]
"""

from zen_vl.base.load import load_processor
from zen_vl.cli import parser, resolve, run
from zen_vl.data.build import build_dataset, current_dataset, summary
from zen_vl.paths import Layout


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--force", action="store_true", help="rebuild even when the dataset is up to date")
    args = p.parse_args()
    cfg = resolve(args)
    layout = Layout.default()
    up_to_date = current_dataset(cfg, layout) is not None and not args.force
    processor = None
    if cfg.data.check_lengths and not up_to_date:
        processor = load_processor(layout.base(cfg.size, cfg.base), cfg.size)
    dest, manifest = build_dataset(cfg, layout, processor=processor, force=args.force)
    print(("up to date: " if up_to_date else "built: ") + summary(dest, manifest))


if __name__ == "__main__":
    run(main)
