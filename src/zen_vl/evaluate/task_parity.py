"""Task parity of the exports: each GGUF and MLX model scored on the variant's test set through its
own server, against the transformers model it came from.

`make gguf` and `make mlx` call `check` after exporting (export.task_check): it runs `make eval
FORMAT=<kind>`'s code (transformers records come from its cache), compares `export.task_metric`, and
fails naming the metric, both values and the margin when an export falls more than its margin
(`export.task_margin`, by quant type) below the transformers model. The verdicts are recorded in
the export's manifest (`task_parity`) and in results.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from zen_vl.artifacts import GGUF_MANIFEST, MLX_MANIFEST, read_json, require
from zen_vl.atomic import write_json
from zen_vl.config import ZenConfig
from zen_vl.errors import ZenError
from zen_vl.paths import Layout


def margin_of(cfg: ZenConfig, label: str) -> float:
    """`gguf:Q4_K_M` -> export.task_margin["Q4_K_M"] (or its default)."""
    kind = label.split(":", 1)[1]
    return cfg.export.task_margin.get(kind, cfg.export.task_margin.get("default", 0.05))


def verdicts(cfg: ZenConfig, results: dict, kind: str) -> dict[str, dict]:
    """Per export of `kind`: the task metric beside the transformers model's, the drop and the margin."""
    name = cfg.export.task_metric
    hf = results["models"]["finetuned"]["metrics"].get(name)
    if hf is None:
        raise ZenError(f"export.task_metric={name}: not among the finetuned model's metrics in results.json")
    out = {}
    for label, row in results["models"].items():
        if row.get("format") != kind:
            continue
        got = row["metrics"].get(name)
        value = got["value"] if got else 0.0
        drop = hf["value"] - value if hf["higher_is_better"] else value - hf["value"]
        margin = margin_of(cfg, label)
        out[label] = {"metric": name, "hf": hf["value"], "export": value, "n": hf["n"], "drop": round(drop, 4),
                      "margin": margin, "passed": drop <= margin + 1e-9}  # fmt: skip
    return out


def check(
    cfg: ZenConfig, kind: str, layout: Layout | None = None, *, progress: bool = True
) -> dict[str, dict]:
    """Evaluate the `kind` exports on the test set, record the verdicts, raise when one fails."""
    from zen_vl.evaluate.runner import run_eval

    layout = layout or Layout.default()
    # the finetuned model and the exports on the same cases (export.task_limit of the test set), in a
    # folder of their own: results.json of make eval keeps the full test set. The verdict reads the
    # task metric only, so no live GUI episodes here (make eval FORMAT=gguf|mlx replays them)
    update = {"baseline": False, "limit": cfg.export.task_limit, "episodes": False}
    sub = cfg.model_copy(update={"eval": cfg.eval.model_copy(update=update)})
    out = layout.finetuned(cfg.variant, cfg.size) / "eval" / f"task-{kind}"
    path = run_eval(sub, layout, out=out, formats=("hf", kind), progress=progress)
    found = verdicts(cfg, read_json(path, f"make eval SIZE={cfg.size} VARIANT={cfg.variant}"), kind)
    _record(cfg, layout, kind, found, path)
    if progress:
        for label, v in found.items():
            print(f"{label}: {v['metric']} {v['export']:.3f} vs transformers {v['hf']:.3f} "
                  f"(drop {v['drop']:+.3f}, margin {v['margin']:.2f}): {'ok' if v['passed'] else 'FAILED'}")  # fmt: skip
    failed = {k: v for k, v in found.items() if not v["passed"]}
    if failed:
        raise ZenError(
            f"task parity: {', '.join(failed)} fell below the transformers model on {cfg.export.task_metric} by "
            f"more than the margin: {json.dumps(failed)} (results: {path}; export.task_margin sets the margins)"
        )
    return found


def _record(cfg: ZenConfig, layout: Layout, kind: str, found: dict, results: Path) -> None:
    """The verdicts into the export manifests (GGUF: one folder; MLX: one per bit width)."""
    if kind == "gguf":
        folder = layout.gguf(cfg.variant, cfg.size)
        manifest = require(folder, GGUF_MANIFEST, f"make gguf SIZE={cfg.size} VARIANT={cfg.variant}")
        write_json(folder / GGUF_MANIFEST, {**manifest, "task_parity": {"results": str(results), **found}})
        return
    for bits in cfg.export.mlx_bits:
        folder = layout.mlx(cfg.variant, cfg.size, bits)
        manifest = require(folder, MLX_MANIFEST, f"make mlx SIZE={cfg.size} VARIANT={cfg.variant}")
        mine = {k: v for k, v in found.items() if k == f"mlx:{bits}bit"}
        write_json(folder / MLX_MANIFEST, {**manifest, "task_parity": {"results": str(results), **mine}})
