"""Build paper/zen-vl.pdf (latexmk) from the measured results of every size run so far.

python scripts/paper.py [--force]      tables → paper/tables, figures → paper/figures, build in paper/build
"""

import argparse

from zen_vl.cli import run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--force", action="store_true", help="run latexmk even when the PDF is up to date")
    args = p.parse_args()
    from zen_vl.paper.build import build_paper

    build_paper(force=args.force)
    return 0


if __name__ == "__main__":
    run(main)
