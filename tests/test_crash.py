"""Crash safety: training SIGKILLed at a random step (or mid-checkpoint) resumes to the same run.

The step is drawn at random each time and printed; ZEN_VL_CRASH_SEED=N replays a draw.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny_runs import SHORT

from zen_vl.artifacts import PROVENANCE, read_manifest
from zen_vl.paths import Layout

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
STEPS, SAVE = 8, 2  # 24 samples / batch 4 = 6 steps an epoch: the run crosses an epoch boundary
OVERRIDES = [*SHORT, f"train.max_steps={STEPS}", f"train.save_steps={SAVE}"]
SEED = int(os.environ.get("ZEN_VL_CRASH_SEED", random.randrange(1 << 30)))


def child(root: Path, mode: str, at: int = 0) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, REPO / "tests" / "crash_child.py", root, root / "order.jsonl", mode, str(at)]
    return subprocess.run([*cmd, *OVERRIDES], env=env, capture_output=True, text=True, timeout=900)


def new_root(tmp_path: Path, name: str, tiny_root: Layout) -> Path:
    root = tmp_path / name
    (root / "base").mkdir(parents=True)
    (root / "base" / "tiny").symlink_to(tiny_root.base("tiny"), target_is_directory=True)
    return root


def order(root: Path) -> dict[int, list[str]]:
    """Step -> the input hashes it trained on; a step redone after a resume keeps its last visit."""
    steps: dict[int, list[str]] = {}
    for line in (root / "order.jsonl").read_text().splitlines():
        step, digest = json.loads(line)
        steps.setdefault(step, [])
        if digest in steps[step]:  # the step is being redone: start its list again
            steps[step] = []
        steps[step].append(digest)
    return steps


def adapter(root: Path) -> dict[str, torch.Tensor]:
    return load_file(Layout(root).finetuned("instruct", "tiny") / "adapter" / "adapter_model.safetensors")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_root):
    root = new_root(tmp_path_factory.mktemp("crash"), "reference", tiny_root)
    run = child(root, "run")
    assert run.returncode == 0, run.stderr[-3000:]
    return root


def assert_same_run(root: Path, reference: Path, resumed_from: int) -> None:
    record = read_manifest(Layout(root).finetuned("instruct", "tiny"), PROVENANCE)
    assert record["resumed_from"].endswith(f"checkpoint-{resumed_from}")
    assert record["metrics"]["steps"] == STEPS
    assert order(root) == order(reference)  # every step saw the same batch as without the crash
    ours, theirs = adapter(root), adapter(reference)
    assert ours.keys() == theirs.keys()
    worst = max((ours[k] - theirs[k]).abs().max().item() for k in ours)
    scale = max(theirs[k].abs().max().item() for k in theirs)
    print(f"adapter max |diff| {worst:.3g}, largest weight {scale:.3g}")
    assert worst <= 1e-4 * scale, f"adapter differs by {worst:.3g} (largest weight {scale:.3g})"


def test_sigkill_at_a_random_step_resumes_to_the_same_run(tmp_path, tiny_root, uninterrupted):
    at = random.Random(SEED).randint(SAVE + 1, STEPS - 1)
    print(f"ZEN_VL_CRASH_SEED={SEED}: SIGKILL after step {at}")
    root = new_root(tmp_path, "crashed", tiny_root)
    killed = child(root, "after-step", at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not Layout(root).finetuned("instruct", "tiny").exists()
    resumed = child(root, "run")  # the lock died with the killed process: no stale lock to clear
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(root, uninterrupted, (at - 1) // SAVE * SAVE)  # step `at`'s own save never ran


def test_sigkill_while_writing_a_checkpoint_resumes_from_the_one_before(tmp_path, tiny_root, uninterrupted):
    at = random.Random(SEED).choice(range(2 * SAVE, STEPS, SAVE))
    print(f"ZEN_VL_CRASH_SEED={SEED}: SIGKILL while writing checkpoint-{at}")
    root = new_root(tmp_path, "crashed", tiny_root)
    killed = child(root, "while-saving", at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    partial = Layout(root).training("instruct", "tiny") / f"checkpoint-{at}"
    assert partial.is_dir() and not (partial / "trainer_state.json").exists()  # what a mid-save kill leaves
    resumed = child(root, "run")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"checkpoint-{at}: incomplete" in resumed.stdout
    assert_same_run(root, uninterrupted, at - SAVE)


def killed_at_rename(root: Path, dest: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZEN_VL_ROOT": str(root)}
    cmd = [sys.executable, REPO / "tests" / "kill_child.py", dest, REPO / "scripts" / script, *args]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]
    return run


def script(root: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZEN_VL_ROOT": str(root)}
    cmd = [sys.executable, REPO / "scripts" / name, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)


def test_sigkill_at_the_merge_rename_leaves_no_finetuned_folder_and_later_stages_refuse(tmp_path, tiny_root):
    root = new_root(tmp_path, "root", tiny_root)
    dest = Layout(root).finetuned("instruct", "tiny")
    short = [*SHORT, "train.max_steps=2"]
    killed_at_rename(root, dest, "train.py", "--size", "tiny", "--variant", "instruct", *short)
    assert not dest.exists()
    (temp,) = dest.parent.glob(".tmp-tiny-*")
    assert (temp / "provenance.json").is_file()  # all written, manifest included: only the rename missing
    refused = script(root, "export_gguf.py", "--size", "tiny", "--variant", "instruct", *short)
    assert refused.returncode != 0 and "make train-instruct SIZE=tiny" in refused.stderr
    again = script(root, "train.py", "--size", "tiny", "--variant", "instruct", *short)
    assert again.returncode == 0, again.stderr[-3000:]
    assert read_manifest(dest, PROVENANCE)["resumed_from"].endswith(
        "checkpoint-2"
    )  # the training was not lost
    assert not list(dest.parent.glob(".tmp-*"))


def finished(train_tiny, tmp_path: Path, tiny_root: Layout) -> Path:
    """A project root whose instruct/tiny model is trained (linked from the session's run)."""
    _, layout, _ = train_tiny("instruct", [*SHORT, "train.max_steps=2"])
    root = new_root(tmp_path, "root", tiny_root)
    (root / "instruct" / "finetuned").mkdir(parents=True)
    (root / "instruct" / "finetuned" / "tiny").symlink_to(layout.finetuned("instruct", "tiny"))
    return root


def test_sigkill_at_the_gguf_rename_leaves_no_gguf_folder(tmp_path, tiny_root, train_tiny, llama):
    root = finished(train_tiny, tmp_path, tiny_root)
    dest = Layout(root).gguf("instruct", "tiny")
    killed_at_rename(root, dest, "export_gguf.py", "--size", "tiny", "--variant", "instruct")
    assert not dest.exists()
    (temp,) = dest.parent.glob(f".tmp-{dest.name}-*")
    assert (temp / "zen_vl_gguf.json").is_file() and list(temp.glob("*.gguf"))


def test_sigkill_at_the_mlx_rename_leaves_no_mlx_folder_or_index(tmp_path, tiny_root, train_tiny):
    root = finished(train_tiny, tmp_path, tiny_root)
    prefix = root / "mlx" / "zen-vl-tiny-instruct-"
    killed_at_rename(root, prefix, "export_mlx.py", "--size", "tiny", "--variant", "instruct")
    assert [p.name for p in (root / "mlx").iterdir() if not p.name.startswith(".tmp-")] == []
    assert any((t / "zen_vl_mlx.json").is_file() for t in (root / "mlx").glob(".tmp-*"))


def test_sigkill_at_the_paper_rename_leaves_no_pdf(tmp_path, tiny_root, train_tiny):
    root = finished(train_tiny, tmp_path, tiny_root)
    pdf = root / "paper" / "zen-vl.pdf"
    killed_at_rename(root, pdf, "paper.py")
    assert not pdf.exists() and not (root / "paper" / "build" / "zen_vl_paper.json").exists()
    again = script(root, "paper.py")
    assert again.returncode == 0, again.stderr[-3000:]
    assert pdf.read_bytes().startswith(b"%PDF") and not list(pdf.parent.glob(".zen-vl.*"))
