"""Build BFCL's own environment (the pinned bfcl-eval, configs/bfcl-eval.txt) once into the cache.

python scripts/setup_bfcl.py      (make eval BFCL=1 builds it when needed)
"""

import argparse

from zen_vl.cli import run


def main() -> int:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    from zen_vl.evaluate.bfcl_env import PACKAGE, VERSION, ensure_env

    print(f"bfcl: {PACKAGE}=={VERSION} in {ensure_env()}")
    return 0


if __name__ == "__main__":
    run(main)
