"""The end-of-pipeline summary (`make all`, `make summary`): where each artifact of a size is, what
each stage took, and the base vs finetuned headline metrics."""

from __future__ import annotations

from pathlib import Path

from zen_vl.config import VARIANTS
from zen_vl.paper.results import collect
from zen_vl.paths import Layout


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def summary(size: str, layout: Layout | None = None) -> str:
    layout = layout or Layout.default()
    root = layout.root
    runs = {r.variant: r for r in collect(layout) if r.size == size}
    lines = [f"zen-vl {size}: artifacts (under {root})"]
    bases = [b for b in (layout.base(size), layout.base(size, "thinking")) if b.is_dir()]
    lines.append(f"  {'base':<9} {', '.join(_rel(b, root) for b in bases) or 'not built'}")
    for variant in VARIANTS:
        run = runs.get(variant)
        if run is None:
            lines.append(f"  {variant:<9} not trained (make train-{variant} SIZE={size})")
            continue
        finetuned = layout.finetuned(variant, size)
        parts = [f"model {_rel(finetuned / 'merged', root)} (train {run.metrics['wall_s']:.0f} s)"]
        if run.results:
            secs = sum(m["seconds"] for m in run.results["models"].values())
            parts.append(f"eval {_rel(finetuned / 'eval' / 'results.md', root)} ({secs:.0f} s)")
        if run.gguf:
            parts.append(f"gguf {_rel(layout.gguf(variant, size), root)} ({run.gguf['seconds']:.0f} s)")
        if run.mlx:
            folders = [layout.root / "mlx" / name for name in run.mlx["folders"]]
            secs = sum((m or {}).get("seconds", 0) for m in run.mlx["folders"].values())
            parts.append(f"mlx {', '.join(_rel(f, root) for f in folders)} ({secs:.0f} s)")
        lines.append(f"  {variant:<9} " + "\n            ".join(parts))
    record = layout.upload_record(size)
    lines.append(
        f"  {'upload':<9} {_rel(record, root) if record.is_file() else 'not uploaded (dry run or no token)'}"
    )
    pdf = layout.paper() / "zen-vl.pdf"
    lines.append(f"  {'paper':<9} {_rel(pdf, root) if pdf.is_file() else 'not built (make paper)'}")
    evaluated = [r for r in runs.values() if r.results and "base" in r.results["models"]]
    if evaluated:
        lines += ["", "evaluation (held-out test set): base -> finetuned"]
        for run in evaluated:
            models = run.results["models"]
            for i, name in enumerate(run.headline()):
                b, t = models["base"]["metrics"][name], models["finetuned"]["metrics"][name]
                arrow = "" if t["higher_is_better"] else "  (lower is better)"
                lines.append(
                    f"  {run.variant if i == 0 else '':<9} {name:<30} {b['value']:.3f} -> {t['value']:.3f}"
                    f"  n={t['n']}{arrow}"
                )
    return "\n".join(lines)
