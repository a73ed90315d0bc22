"""Regenerate docs/CONFIG.md from the config schema.

python scripts/config_reference.py
"""

from pathlib import Path

from zen_vl.config import reference_markdown

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "docs" / "CONFIG.md"
    out.write_text(reference_markdown() + "\n", encoding="utf-8")
    print(f"wrote {out}")
