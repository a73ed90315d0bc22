"""Explain command-line variables the Makefile does not know (make stops with this message).

python scripts/unknown_vars.py "SIZE VARIANT ..." NAME=VALUE...
Prints one line: each unknown name and what it likely means (a make variable in other case, or the
nearest config key). Runs before any work, with the .venv's python when there is one; without zen_vl
importable it names the variables without config-key suggestions.
"""

import sys


def explain(make_vars: list[str], items: list[str]) -> str:
    try:
        from zen_vl.config import suggest_key
    except ImportError:  # no .venv yet (make install not run): no schema to suggest from
        suggest_key = None
    by_case = {v.casefold(): v for v in make_vars}
    parts = []
    for item in items:
        name, _, value = item.partition("=")
        key = by_case.get(name.casefold()) or (suggest_key(name) if suggest_key else None)
        hint = (
            f"did you mean {key}={value}?"
            if key
            else "config keys are dotted (train.lr=1e-4; docs/CONFIG.md)"
        )
        parts.append(f"{name}={value} is neither a make variable nor a config key: {hint}")
    return "unknown command-line variable(s): " + "; ".join(parts)


if __name__ == "__main__":
    print(explain(sys.argv[1].split(), sys.argv[2:]))
