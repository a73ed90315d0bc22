"""`make install` on a fresh machine: the system packages come from one list (configs/system-packages.txt)
that make install, .ci/run (through make) and the error messages all use; missing ones are installed
with apt-get as root or with passwordless sudo, otherwise make install stops and prints the command."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("system_packages", REPO / "scripts" / "system_packages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SYS = _script()
ALL = [p for _, packages in SYS.requirements() for p in packages]


def lacking(*tools):
    """A machine without `tools` (commands), the DejaVu font or python3-venv when named."""
    return {
        "which": lambda name: None if name in tools else f"/usr/bin/{name}",
        "exists": lambda path: "dejavu" not in tools,
        "has_module": lambda name: "venv" not in tools,
    }


class Recorder:
    def __init__(self, sudo_ok: bool = False):
        self.calls, self.sudo_ok = [], sudo_ok

    def __call__(self, cmd, **kwargs):
        self.calls.append(list(cmd))
        ok = cmd[:2] != ["sudo", "-n"] or self.sudo_ok
        return subprocess.CompletedProcess(cmd, 0 if ok else 1, b"", b"")


def test_the_list_names_what_the_pipeline_uses():
    assert {"python3-venv", "cmake", "g++", "fonts-dejavu-core", "latexmk", "texlive-latex-base"} <= set(ALL)


def test_as_root_the_missing_packages_are_installed_and_nothing_else(capsys):
    run = Recorder()
    assert SYS.main([], run=run, euid=0, **lacking("cmake", "latexmk")) == 0
    tex = ["latexmk", "texlive-latex-base", "texlive-latex-recommended", "texlive-fonts-recommended"]
    assert run.calls == [["apt-get", "update", "-qq"], SYS.apt_command(["cmake", *tex])]


def test_with_passwordless_sudo_apt_get_runs_under_sudo():
    run = Recorder(sudo_ok=True)
    assert SYS.main([], run=run, euid=1000, **lacking("dejavu")) == 0
    assert run.calls[-1] == ["sudo", "-n", *SYS.apt_command(["fonts-dejavu-core"])]


def test_without_privilege_it_stops_before_any_work_printing_the_one_command(capsys):
    run = Recorder(sudo_ok=False)
    assert SYS.main([], run=run, euid=1000, **lacking("venv", "c++")) == 1
    assert all(c[:3] == ["sudo", "-n", "true"] for c in run.calls)  # only asked whether sudo works
    err = capsys.readouterr().err
    assert "sudo apt-get install -y --no-install-recommends python3-venv g++" in err


def test_a_complete_machine_does_nothing():
    run = Recorder()
    assert SYS.main([], run=run, euid=0, **lacking()) == 0 and run.calls == []


def test_ci_uses_make_install_not_a_list_of_its_own():
    ci = (REPO / ".ci" / "run").read_text()
    code = "\n".join(line for line in ci.splitlines() if not line.lstrip().startswith("#"))
    assert "apt-get" not in code and not any(p in code for p in ALL)
    assert "make test" in code
    dry = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True)
    assert "scripts/system_packages.py" in dry.stdout  # make test installs first, through make install
    demo = subprocess.run(["make", "-n", "install"], cwd=REPO, capture_output=True, text=True)
    assert "scripts/system_packages.py" in demo.stdout


def test_error_messages_quote_the_same_list(monkeypatch):
    from zen_vl.config import system_packages
    from zen_vl.errors import ZenError
    from zen_vl.export import llama_cpp
    from zen_vl.paper.build import INSTALL

    assert " ".join(system_packages("command:latexmk")) in INSTALL
    monkeypatch.setattr(llama_cpp, "find_llama_cpp", lambda: None)
    monkeypatch.setattr(llama_cpp.shutil, "which", lambda name: None)
    with pytest.raises(ZenError, match="apt-get install cmake g\\+\\+"):
        llama_cpp.ensure_llama_cpp(progress=False)
