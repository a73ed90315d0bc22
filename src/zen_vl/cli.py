"""What every script shares: `--size/--variant` plus KEY=VALUE overrides, and clean error exits."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from zen_vl.config import VARIANTS, ZenConfig, load_config
from zen_vl.errors import ZenError


def parser(doc: str | None, *, variant: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="tiny", help="configs/sizes/<size>.yaml (default: tiny)")
    if variant:
        p.add_argument("--variant", default="instruct", help=f"one of {', '.join(VARIANTS)}")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.lr=1e-4")
    return p


def resolve(args: argparse.Namespace) -> ZenConfig:
    return load_config(args.size, getattr(args, "variant", "instruct"), args.overrides)


def run(main: Callable[[], int | None]) -> None:
    """Run a script's main; a ZenError prints its message (no traceback) and exits non-zero."""
    try:
        code = main()
    except ZenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
