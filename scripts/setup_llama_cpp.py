"""Build the pinned llama.cpp once into the cache (~/.cache/zen-vl, or ZEN_VL_CACHE); make gguf needs it.

python scripts/setup_llama_cpp.py      (LLAMA_CPP_DIR=/path checks your own build instead)
"""

import argparse

from zen_vl.cli import run


def main() -> int:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    from zen_vl.export.llama_cpp import ensure_llama_cpp

    tree = ensure_llama_cpp()
    print(f"llama.cpp: {tree.root} (tools in {tree.bin})")
    return 0


if __name__ == "__main__":
    run(main)
