"""Load a base offline the way every later stage will, and show it answering an image prompt.

python scripts/inspect_base.py --size tiny [--flavor instruct|thinking]
"""

from zen_vl.base.load import describe
from zen_vl.cli import parser, resolve, run
from zen_vl.paths import Layout


def main() -> None:
    p = parser(__doc__, variant=False)
    p.add_argument("--flavor", default="instruct", choices=["instruct", "thinking"])
    args = p.parse_args()
    cfg = resolve(args)
    print(describe(Layout.default().base(cfg.size, args.flavor), cfg))


if __name__ == "__main__":
    run(main)
