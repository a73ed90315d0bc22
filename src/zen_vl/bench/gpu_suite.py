"""The side-by-side table in one run on a lent GPU (make bench-gpu): for each size, the baseline and
our path on the fixed and the mixed batch, and on the first size's mixed batch our path with each
optimisation turned the other way. A time budget keeps it inside the GPU lease: what is not started
by then is listed as skipped. One JSON per size plus bench-gpu.md (the tables) in `out`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from zen_vl.atomic import write_text
from zen_vl.bench.compare import ablation_table, run_bench, table


def run_suite(sizes: list[str], device: str, out: Path, *, steps: int, warmup: int, budget_s: float,
              overrides: list[str]) -> Path:  # fmt: skip
    start = time.monotonic()
    deadline = start + budget_s
    out.mkdir(parents=True, exist_ok=True)
    lines, skipped = (
        [f"# make bench-gpu: {' '.join(sizes)} on {device}, {steps} timed steps after {warmup}", ""],
        [],
    )
    for i, size in enumerate(sizes):
        if time.monotonic() > deadline:
            skipped.append(size)
            continue
        dest = run_bench(size, device, steps=steps, warmup=warmup, overrides=overrides, ablate=i == 0,
                         ablate_batches=("mixed",), dest=out / f"{size}.json", deadline=deadline)  # fmt: skip
        record = json.loads(dest.read_text())
        git = record["git"] or {}
        lines.append(
            f"## {size} on {record['device']} (git {str(git.get('commit'))[:12]}{' dirty' if git.get('dirty') else ''})"
        )
        for kind, results in record["batches"].items():
            b = results["ours"]["batch"]
            lines += ["", f"{kind} batch: {b['samples']} samples, {b['tokens']} tokens ({b['padded']} padded)",
                      "", "```", table(results), "```"]  # fmt: skip
            if results["ablations"]:
                lines += ["```", ablation_table(results["ours"], results["ablations"]), "```"]
            if results["skipped_ablations"]:
                lines.append(f"not run (time budget): {', '.join(results['skipped_ablations'])}")
        lines.append("")
    if skipped:
        lines.append(f"sizes not run (time budget {budget_s:.0f} s): {', '.join(skipped)}")
    lines.append(f"wall time: {time.monotonic() - start:.0f} s")
    summary = out / "bench-gpu.md"
    write_text(summary, "\n".join(lines) + "\n")
    print(summary.read_text())
    return summary
