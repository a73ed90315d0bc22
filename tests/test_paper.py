"""make paper: clear errors, and tables that carry exactly what the results say (the end-to-end build
from real pipeline results is tests/test_pipeline.py)."""

import os
import subprocess
import sys
from pathlib import Path

from zen_vl.paper import tables
from zen_vl.paper.results import Run

REPO = Path(__file__).resolve().parents[1]


def _paper(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/paper.py"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


def test_paper_without_results_names_what_to_run(tmp_path):
    run = _paper({"ZEN_VL_ROOT": str(tmp_path)})
    assert run.returncode != 0
    assert "no measured results" in run.stderr and "make all SIZE=tiny" in run.stderr
    assert not (tmp_path / "paper" / "zen-vl.pdf").exists()


def test_paper_without_latexmk_says_what_to_install(tmp_path):
    run = _paper({"ZEN_VL_ROOT": str(tmp_path), "PATH": str(tmp_path / "empty")})
    assert run.returncode != 0
    assert "latexmk" in run.stderr and "texlive-latex-recommended" in run.stderr


def _metric(value, n, higher=True):
    return {"value": value, "n": n, "higher_is_better": higher}


def _run(variant="agent") -> Run:
    base = {
        "calls/schema_valid": _metric(0.0, 20),
        "calls/ast_accuracy": _metric(0.0, 20),
        "identity/claims_other_model": _metric(0.5, 30, higher=False),
    }
    tuned = {"calls/schema_valid": _metric(0.95, 20), "identity/claims_other_model": _metric(0.0, 30, False)}
    results = {
        "hardware": "CPU (x86_64, 2 threads)",
        "test_set": {"cases": 20},
        "models": {
            "base": {"metrics": base, "seconds": 1.0, "path": "b"},
            "finetuned": {"metrics": tuned, "seconds": 1.0, "path": "f"},
        },
    }
    provenance = {"config": {}, "metrics": {"device": "CPU (x86_64, 2 threads)", "log_history": []}}
    return Run("tiny", variant, provenance, results, None, None)


def test_eval_table_holds_the_numbers_and_omits_metrics_without_both_models():
    run = _run()
    assert run.headline() == ["calls/schema_valid"]  # ast_accuracy has no finetuned value: left out
    table = tables.evaluation([run], "tiny")
    row = next(line for line in table.splitlines() if "schema" in line)
    assert "0.000" in row and "0.950" in row and "+0.950" in row and row.rstrip(" \\").endswith("20")
    assert r"calls/schema\_valid" in row  # LaTeX-escaped
    assert "ast" not in table and "TBD" not in table and "nan" not in table
    assert "CPU (x86\\_64, 2 threads)" in table  # the caption names the hardware
