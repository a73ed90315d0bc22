"""Where every artifact of (size, variant) lives: the single source of the output layout.

base/<size>/                  downloaded or built Instruct base (Hub format)
base/<size>-thinking/         the Thinking base, for sizes that have one
data/<variant>/<size>/        built datasets
<variant>/training/<size>/    checkpoints and logs
<variant>/finetuned/<size>/   adapter/, merged/, provenance.json, eval/
gguf/zen-vl-<size>-<variant>/ GGUF files
mlx/zen-vl-<size>-<variant>-<bits>/
mlx/zen-vl-<size>-<variant>.json  index of one variant's MLX folders (make all's stamp)
hub/<size>.json               what the last real upload pushed (make all's stamp)
paper/tables/, paper/figures/ generated from the results; paper/build/ latexmk; paper/zen-vl.pdf
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def project_root() -> Path:
    """The checkout root (holds configs/); ZEN_VL_ROOT moves outputs elsewhere."""
    env = os.environ.get("ZEN_VL_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def default(cls) -> Layout:
        return cls(project_root())

    def base(self, size: str, flavor: str = "instruct") -> Path:
        name = size if flavor == "instruct" else f"{size}-{flavor}"
        return self.root / "base" / name

    def data(self, variant: str, size: str) -> Path:
        return self.root / "data" / variant / size

    def training(self, variant: str, size: str) -> Path:
        return self.root / variant / "training" / size

    def finetuned(self, variant: str, size: str) -> Path:
        return self.root / variant / "finetuned" / size

    def gguf(self, variant: str, size: str) -> Path:
        return self.root / "gguf" / f"zen-vl-{size}-{variant}"

    def mlx(self, variant: str, size: str, bits: int) -> Path:
        return self.root / "mlx" / f"zen-vl-{size}-{variant}-{bits}bit"

    def mlx_index(self, variant: str, size: str) -> Path:
        return self.root / "mlx" / f"zen-vl-{size}-{variant}.json"

    def upload_record(self, size: str) -> Path:
        return self.root / "hub" / f"{size}.json"

    def paper(self) -> Path:
        return self.root / "paper"

    def paper_build(self) -> Path:
        return self.root / "paper" / "build"
