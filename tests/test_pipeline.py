"""The README's first command, run as written: `make demo` (= `make all SIZE=tiny`) end to end, then
reruns that must do nothing, and a resume that must redo only what was removed."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from zen_vl.config import VARIANTS
from zen_vl.paper.results import collect
from zen_vl.paths import Layout

REPO = Path(__file__).resolve().parents[1]
# What `make demo` must show (the floors), asserted from each variant's results.json.
DEMO_THRESHOLDS = {
    "instruct": {
        "identity/names_itself": 0.9,
        "identity/held_out_phrasing": 0.9,
        "identity/with_image": 0.9,
        "identity/text_only": 0.9,
    },
    "thinking": {"thinking/form_valid": 0.9, "thinking/answer_accuracy": 0.7, "identity/names_itself": 0.8},
    "agent": {"calls/schema_valid": 0.9, "calls/ast_accuracy": 0.6, "identity/names_itself": 0.8},
}

DEMO_EPISODE_FLOOR = 0.3  # the agent's gui/episode_success on its held-out dialog episodes


def readme_commands() -> list[str]:
    """The commands of the README's quick-start block (comments stripped)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_readme_quick_start_is_demo_then_test():
    assert readme_commands() == ["make demo", "make test"]
    dry = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True)
    assert dry.returncode == 0 and "all SIZE=tiny" in dry.stdout


# A known fake Hub token in every stage's environment (uploads stay dry runs: DRY_RUN=1 reaches make
# from the environment): no file the pipeline writes, and none of its output, may contain it.
SECRET = "hf_zenvlFakeToken0123456789abcdefXYZ"


def _env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return {**env, "ZEN_VL_ROOT": str(root), "HF_HUB_OFFLINE": "1", "HF_HOME": str(root / "hf-home"),
            "HF_TOKEN": SECRET, "DRY_RUN": "1"}  # fmt: skip


def _leaks(root: Path) -> list[Path]:
    return [
        p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and SECRET.encode() in p.read_bytes()
    ]


def _make(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=REPO, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_make_demo_end_to_end_then_reruns_nothing_and_resumes(tmp_path):
    env = _env(tmp_path)
    run = subprocess.run(readme_commands()[0].split(), cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    layout = Layout(tmp_path)

    # Every stage's artifact, and the summary that says where they are.
    for v in VARIANTS:
        assert (layout.finetuned(v, "tiny") / "eval" / "results.json").is_file()
        assert (layout.gguf(v, "tiny") / "zen_vl_gguf.json").is_file()
        assert layout.mlx_index(v, "tiny").is_file()
    pdf = tmp_path / "paper" / "zen-vl.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "dry run: " in run.stdout  # a token is set: DRY_RUN=1 keeps the upload a dry run
    assert SECRET not in run.stdout + run.stderr and _leaks(tmp_path) == []
    assert len(list(tmp_path.rglob("*"))) > 100  # the scan saw the pipeline's outputs
    assert "evaluation (held-out test set): base -> finetuned" in run.stdout
    assert "paper     paper/zen-vl.pdf" in run.stdout and "pipeline (make all SIZE=tiny):" in run.stdout

    # Every variant learned its behaviour, on at least 40 held-out cases per metric; the base did not.
    for variant, floors in DEMO_THRESHOLDS.items():
        models = json.loads((layout.finetuned(variant, "tiny") / "eval" / "results.json").read_text())[
            "models"
        ]
        tuned, base = models["finetuned"]["metrics"], models["base"]["metrics"]
        for name, floor in floors.items():
            assert tuned[name]["n"] >= 40, (variant, name, tuned[name])
            assert tuned[name]["value"] >= floor, (variant, name, tuned[name]["value"], floor)
            assert base[name]["value"] <= 0.1, (variant, name, "base", base[name]["value"])
        assert tuned["identity/claims_other_model"]["value"] == 0, variant
    # The agent also acted live: its held-out GUI episodes (dialogs answered over 2-3 clicks).
    agent = json.loads((layout.finetuned("agent", "tiny") / "eval" / "results.json").read_text())["models"]
    tuned, base = agent["finetuned"]["metrics"], agent["base"]["metrics"]
    assert tuned["gui/episode_success"]["n"] >= 12 and base["gui/episode_success"]["value"] == 0
    assert tuned["gui/episode_success"]["value"] >= DEMO_EPISODE_FLOOR, tuned["gui/episode_success"]
    instruct = json.loads((layout.finetuned("instruct", "tiny") / "eval" / "results.json").read_text())
    tuned = instruct["models"]["finetuned"]["metrics"]
    assert sum(k.startswith("identity/lang_") and v["value"] >= 0.9 for k, v in tuned.items()) >= 2

    # The paper's tables hold the numbers the pipeline wrote.
    runs = collect(layout)
    assert [r.variant for r in runs] == list(VARIANTS)
    eval_table = (tmp_path / "paper" / "tables" / "eval-tiny.tex").read_text()
    for r in runs:
        models = r.results["models"]
        for name in r.headline():
            row = next(line for line in eval_table.splitlines() if name.replace("_", r"\_") + "}" in line)
            assert f"{models['base']['metrics'][name]['value']:.3f}" in row
            assert f"{models['finetuned']['metrics'][name]['value']:.3f}" in row
    training = (tmp_path / "paper" / "tables" / "training.tex").read_text()
    export = (tmp_path / "paper" / "tables" / "export.tex").read_text()
    for r in runs:
        assert f"{r.metrics['wall_s']:.0f}" in training and f"{r.metrics['tokens_per_s']:.0f}" in training
        assert f"{r.gguf['files'][r.gguf['text']]['bytes'] / 2**20:.1f}" in export
    for table in (eval_table, training, export):  # every caption names the hardware that measured it
        assert "not recorded" not in table and "CPU (" in table
    log = (tmp_path / "paper" / "build" / "zen-vl.log").read_text(errors="replace")
    assert "undefined" not in log.lower() and "TBD" not in eval_table + training + export

    # A rerun does nothing but the (dry-run) upload and the summary.
    again = _make(["all", "SIZE=tiny"], env)
    assert again.returncode == 0, again.stderr[-3000:]
    for script in ("download", "build_data", "train", "evaluate", "export_gguf", "export_mlx", "paper"):
        assert f"scripts/{script}.py" not in again.stdout
    assert "scripts/upload.py" in again.stdout

    # Resume: remove one export; only it (and what reads it) is redone.
    shutil.rmtree(layout.gguf("agent", "tiny"))
    resumed = _make(["all", "SIZE=tiny"], env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "scripts/export_gguf.py --size tiny --variant agent" in resumed.stdout
    for script in ("train", "evaluate", "export_mlx"):
        assert f"scripts/{script}.py" not in resumed.stdout
    assert "export_gguf.py --size tiny --variant instruct" not in resumed.stdout
    assert json.loads((layout.gguf("agent", "tiny") / "zen_vl_gguf.json").read_text())["parity"][
        "same_greedy"
    ]
