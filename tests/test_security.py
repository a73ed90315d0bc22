"""Security properties of the code itself: no pickle loading, no shell strings, no remote code; and
what training writes is safetensors. (The fake-token scan over every file a full pipeline run writes
is in test_pipeline.py; the upload allow-list in test_export.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

from tiny_runs import SHORT

REPO = Path(__file__).resolve().parents[1]
SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output"}
PICKLERS = {"pickle", "dill", "joblib", "cloudpickle", "marshal", "shelve"}


def _name(node: ast.AST) -> str:
    return ast.unparse(node) if isinstance(node, (ast.Attribute, ast.Name)) else ""


def _is(node: ast.AST | None, value) -> bool:
    """node is the constant `value` (or, for a type, a constant of that type)."""
    if not isinstance(node, ast.Constant):
        return False
    return isinstance(node.value, value) if isinstance(value, type) else node.value is value


def violations(source: str, where: str) -> list[str]:
    """What this module does that the security rules forbid, one line each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{line}: imports {n}" for n in names if n.split(".")[0] in PICKLERS]
        if not isinstance(node, ast.Call):
            continue
        func, kw = _name(node.func), {k.arg: k.value for k in node.keywords}
        if func.endswith("torch.load") and not _is(kw.get("weights_only"), True):
            found.append(f"{line}: torch.load without weights_only=True")
        if "trust_remote_code" in kw and not _is(kw["trust_remote_code"], False):
            found.append(f"{line}: trust_remote_code not False")
        if func in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
            found.append(f"{line}: {func} runs a shell")
        if func.startswith("subprocess.") and func.split(".")[-1] in SUBPROCESS:
            if "shell" in kw and not _is(kw["shell"], False):
                found.append(f"{line}: {func}(shell=...)")
            first = node.args[0] if node.args else kw.get("args")
            if isinstance(first, (ast.JoinedStr, ast.BinOp)) or _is(first, str):
                found.append(f"{line}: {func} given a command string, not an argument list")
    return found


def test_the_scanner_catches_each_forbidden_pattern():
    bad = """
import pickle
import subprocess, os, torch
torch.load("x.pt")
torch.load("x.pt", weights_only=False)
AutoModel.from_pretrained("x", trust_remote_code=True)
subprocess.run(f"convert {path}", shell=True)
subprocess.check_output("ls -l")
os.system("rm -rf /")
"""
    found = violations(bad, "bad.py")
    for what in (
        "imports pickle",
        "torch.load without",
        "trust_remote_code",
        "shell=",
        "command string",
        "os.system",
    ):
        assert any(what in f for f in found), (what, found)
    assert len([f for f in found if "torch.load" in f]) == 2
    good = 'import subprocess\nsubprocess.run(["ls", path], check=True)\ntorch.load(p, weights_only=True)\n'
    assert violations(good, "good.py") == []


def test_no_pickle_loading_no_shell_strings_no_remote_code_anywhere():
    files = [p for d in ("src", "scripts", "examples") for p in (REPO / d).rglob("*.py")]
    assert len(files) > 50
    found = [v for p in files for v in violations(p.read_text(), str(p.relative_to(REPO)))]
    assert found == []


def test_training_writes_models_and_adapters_as_safetensors_only(train_tiny):
    _, layout, _ = train_tiny("instruct", [*SHORT, "train.max_steps=2"])
    finetuned = layout.finetuned("instruct", "tiny")
    weights = [p for p in finetuned.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".pth", ".pkl")]
    assert weights and all(p.suffix == ".safetensors" for p in weights), weights
