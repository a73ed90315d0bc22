"""The bad-input matrix: each bad input, given to the script a user runs, ends in one clear error line that
names the culprit, a non-zero exit, no traceback, and every earlier output untouched (no file changed,
none added but a lock). docs/RELIABILITY.md lists these cases beside the promises they prove.

Scripts run in-process (runpy, as `python scripts/X.py` would) against a project root that already
holds earlier outputs: a built dataset and a trained model.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from test_data_schema import TOOLS
from tiny_runs import SHORT

from zen_vl.config import load_config
from zen_vl.data.build import build_dataset
from zen_vl.lock import exclusive
from zen_vl.paths import Layout

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
SMALL = ["data.train=12", "data.val=2", "data.test=2", "data.check_lengths=false"]
(CLICK,) = TOOLS  # the click tool of the schema tests


def sample(
    image: str = "red.png", role: str = "user", tool: str = "click", coordinate=(10, 20), text="Press OK"
):
    return {
        "tools": [CLICK],
        "messages": [
            {"role": role, "content": [{"type": "image", "image": image}, {"type": "text", "text": text}]},
            {"role": "assistant", "content": "", "tool_calls": [{"name": tool, "arguments": {"coordinate": list(coordinate)}}]},
            {"role": "tool", "content": "ok"},
            {"role": "assistant", "content": "Done."},
        ],
    }  # fmt: skip


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root (symlinked folders not followed): size and modification time."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            st = os.lstat(Path(folder) / name)
            out[str(Path(folder, name).relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory, tiny_root, train_tiny):
    """A project root with earlier outputs: data/agent/tiny and a trained instruct/tiny."""
    root = tmp_path_factory.mktemp("bad-input")
    (root / "base").mkdir()
    for name in ("tiny", "tiny-thinking"):
        (root / "base" / name).symlink_to(tiny_root.root / "base" / name, target_is_directory=True)
    build_dataset(load_config("tiny", "agent", SMALL), Layout(root), progress=False)
    _, layout, _ = train_tiny("instruct", [*SHORT, "train.max_steps=2"])
    shutil.copytree(layout.finetuned("instruct", "tiny"), root / "instruct" / "finetuned" / "tiny")
    return root


@pytest.fixture
def fails(root, capsys, monkeypatch):
    """fails(script, *args, env=..., root=...) -> stderr; asserts the exit, the message form, untouched outputs."""

    def run(script: str, *args: str, env: dict | None = None, at: Path | None = None) -> str:
        at = at or root
        before = snapshot(at)
        monkeypatch.setenv("ZEN_VL_ROOT", str(at))
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value) if value is not None else monkeypatch.delenv(key, raising=False)
        monkeypatch.setattr(sys, "argv", [script, *args])
        with pytest.raises(SystemExit) as stop:
            runpy.run_path(str(REPO / "scripts" / script), run_name="__main__")
        err = capsys.readouterr().err
        assert stop.value.code not in (0, None), err
        assert "Traceback" not in err and err.strip(), err
        after = snapshot(at)
        kept = {k: v for k, v in before.items() if not k.endswith(".lock")}  # a lock records its holder
        assert {k: after.get(k) for k in kept} == kept, "an earlier output changed"
        assert all(k.endswith(".lock") for k in set(after) - set(before)), sorted(set(after) - set(before))
        return err

    return run


def source(tmp_path: Path, *lines, **options) -> str:
    """data.sources=[...] naming a JSONL file of these lines (dicts are dumped; strings written as they are)."""
    Image.new("RGB", (64, 64), "red").save(tmp_path / "red.png")
    path = tmp_path / "mine.jsonl"
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines))
    return "data.sources=" + json.dumps([{"name": "mine", "path": str(path), **options}])


def data(fails, src: str, *extra: str) -> str:
    return fails("build_data.py", "--variant", "agent", *SMALL, src, *extra)


# --- data ----------------------------------------------------------------------------------------------


def test_malformed_jsonl_line(fails, tmp_path):
    err = data(fails, source(tmp_path, sample(), '{"messages": [oops'))
    assert f"{tmp_path}/mine.jsonl:2: not valid JSON" in err


def test_missing_image(fails, tmp_path):
    err = data(fails, source(tmp_path, sample(), sample(image="nope.png")))
    assert f"{tmp_path}/mine.jsonl:2:" in err and "nope.png cannot be read (FileNotFoundError)" in err


def test_corrupt_image(fails, tmp_path):
    source_arg = source(tmp_path, sample(), sample(image="broken.png"))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    err = data(fails, source_arg)
    assert f"{tmp_path}/mine.jsonl:2:" in err and "broken.png cannot be read (UnidentifiedImageError)" in err


def test_decompression_bomb_image(fails, tmp_path):
    source_arg = source(tmp_path, sample(), sample(image="bomb.png"))
    Image.new("1", (9000, 9000)).save(tmp_path / "bomb.png")  # 81 M pixels in a few kB
    err = data(fails, source_arg)
    assert f"{tmp_path}/mine.jsonl:2:" in err and "decompression bomb" in err


def test_unknown_role(fails, tmp_path):
    err = data(fails, source(tmp_path, sample(), sample(role="narrator")))
    assert f"{tmp_path}/mine.jsonl:2:" in err and "unknown role 'narrator'" in err


def test_tool_call_to_an_undeclared_tool(fails, tmp_path):
    err = data(fails, source(tmp_path, sample(), sample(tool="drag")))
    assert f"{tmp_path}/mine.jsonl:2:" in err and "undeclared tool 'drag' (declared: click)" in err


def test_arguments_that_break_the_schema(fails, tmp_path):
    err = data(fails, source(tmp_path, sample(), sample(coordinate=(10, 2000))))
    assert f"{tmp_path}/mine.jsonl:2:" in err and "2000 is greater than the maximum of 1000" in err


def test_over_long_sample(fails, tmp_path):
    long = sample(text="word " * 3000)
    err = fails("build_data.py", "--variant", "agent", *SMALL[:3], source(tmp_path, sample(), long))
    assert (
        f"{tmp_path}/mine.jsonl:2:" in err and "over train.max_length=1024" in err and "too_long: drop" in err
    )


def test_empty_dataset_after_filtering(fails, tmp_path):
    long = sample(text="word " * 3000)
    none = ["data.train=0", "data.val=0", "data.test=0"]  # only the source's samples, all too long
    src = source(tmp_path, long, long, too_long="drop", eval_fraction=0)
    err = fails("build_data.py", "--variant", "agent", *none, src)
    assert "the training split is empty" in err


# --- config and command line ------------------------------------------------------------------------


def test_unknown_config_key(fails):
    err = fails("build_data.py", "--variant", "agent", "train.lrr=1e-4")
    assert "train.lrr" in err


def test_wrong_type(fails):
    err = fails("build_data.py", "--variant", "agent", "train.lr=fast")
    assert "train.lr" in err and "fast" in err


def test_unknown_size(fails):
    err = fails("build_data.py", "--size", "13b", "--variant", "agent")
    assert "unknown SIZE '13b'" in err and "4b" in err


def test_unknown_variant(fails):
    err = fails("build_data.py", "--variant", "poet")
    assert "unknown VARIANT 'poet'" in err and "agent" in err


def test_make_with_an_unknown_size_fails_before_any_work(tmp_path):
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path)}
    run = subprocess.run(["make", "data", "SIZE=13b"], cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode != 0 and "unknown SIZE '13b'" in run.stderr and "Traceback" not in run.stderr
    assert not any(tmp_path.iterdir())


# --- base model ----------------------------------------------------------------------------------------


def base_copy(tmp_path: Path, tiny_root, edit=None) -> Path:
    """A project root whose base/tiny links every file of the real tiny base; `edit(folder)` then
    replaces some of them."""
    at = tmp_path / "root"
    folder = at / "base" / "tiny"
    folder.mkdir(parents=True)
    for f in tiny_root.base("tiny").iterdir():
        (folder / f.name).symlink_to(f)
    if edit:
        edit(folder)
    (at / "earlier.txt").write_text("an earlier output\n")
    return at


def test_missing_base_model(fails, tmp_path):
    (tmp_path / "earlier.txt").write_text("an earlier output\n")
    err = fails("train.py", "--size", "tiny", *SHORT, at=tmp_path)
    assert "base/tiny is missing or incomplete" in err and "make download-tiny" in err


def test_base_model_of_another_architecture(fails, tmp_path, tiny_root):
    def llama(folder):
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").unlink()
        (folder / "config.json").write_text(json.dumps({**config, "architectures": ["LlamaForCausalLM"]}))

    err = fails("train.py", *SHORT, at=base_copy(tmp_path, tiny_root, llama))
    assert "config.json: architecture LlamaForCausalLM is not Qwen3-VL" in err


def test_corrupted_safetensors(fails, tmp_path, tiny_root):
    def truncate(folder):
        (folder / "model.safetensors").unlink()
        with (tiny_root.base("tiny") / "model.safetensors").open("rb") as fh:
            (folder / "model.safetensors").write_bytes(fh.read(1 << 20))  # a download cut short

    err = fails("train.py", *SHORT, at=base_copy(tmp_path, tiny_root, truncate))
    assert "model.safetensors is truncated or corrupt" in err and "make download-tiny" in err


# --- machine -------------------------------------------------------------------------------------------


def test_qlora_on_cpu(fails):
    err = fails("train.py", *SHORT, "lora.method=qlora")
    assert "lora.method=qlora needs a CUDA GPU" in err


def test_a_gpu_size_on_a_machine_without_the_memory(fails, monkeypatch):
    monkeypatch.setattr("zen_vl.resources.memory_available", lambda device: 24 * 2**30)
    err = fails("train.py", "--size", "8b", "train.precision=fp32")
    assert "training instruct/8b needs about" in err and "has 24 GiB" in err and "8.77 B parameters" in err


def test_too_little_disk_for_the_merge(fails, monkeypatch):
    real = shutil.disk_usage
    monkeypatch.setattr("zen_vl.resources.shutil.disk_usage", lambda p: real(p)._replace(free=1 << 20))
    err = fails("train.py", *SHORT)
    assert "merging instruct/tiny" in err and "needs about" in err and "0.0 GiB are free" in err


def test_unwritable_output_folder(fails, tmp_path, tiny_root):
    at = base_copy(tmp_path, tiny_root)
    (at / "data").write_text("a file where the data folder should be\n")
    err = fails("build_data.py", "--variant", "agent", *SMALL, at=at)
    assert f"cannot create output folder {at}/data/agent" in err


def test_two_trainings_of_the_same_variant_and_size(fails, root):
    with exclusive(Layout(root).training("instruct", "tiny"), "training instruct/tiny"):
        err = fails("train.py", *SHORT)
    assert f"training instruct/tiny is already running (pid {os.getpid()}" in err


# --- tools and credentials -------------------------------------------------------------------------


def test_no_token_for_a_real_upload(fails, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(hub, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    err = fails("upload.py", "--variant", "instruct", "--push", env={"HF_TOKEN": None})
    assert "a real upload of SIZE=tiny needs a Hub token" in err and "HF_TOKEN" in err


def test_llama_cpp_missing(fails, tmp_path):
    (tmp_path / "llama.cpp").mkdir()
    err = fails("export_gguf.py", env={"LLAMA_CPP_DIR": str(tmp_path / "llama.cpp")})
    assert f"LLAMA_CPP_DIR={tmp_path}/llama.cpp" in err and "convert_hf_to_gguf.py" in err


def test_latexmk_missing(fails, tmp_path):
    (tmp_path / "bin").mkdir()
    err = fails("paper.py", env={"PATH": str(tmp_path / "bin")})
    assert "make paper needs latexmk" in err and "texlive" in err


# --- downloads (a local Hub over real HTTP) -------------------------------------------------------------


@pytest.fixture
def hub(tiny_root):
    from fake_hub import FakeHub

    ref = load_config("4b", "instruct").bases["instruct"]
    server = FakeHub(ref.repo, ref.revision, tiny_root.base("tiny"))
    yield server
    server.close()


def download(hub, at: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1",
           "HF_HOME": str(at / "hf-home"), "ZEN_VL_ROOT": str(at)}  # fmt: skip
    cmd = [sys.executable, "scripts/download.py", "--size", "4b", "--flavor", "instruct"]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_too_little_disk_for_the_download(hub, tmp_path):
    (tmp_path / "earlier.txt").write_text("an earlier output\n")
    before = snapshot(tmp_path)
    hub.claimed_size = 1 << 50  # the Hub says each file is a petabyte
    _, err = download(hub, tmp_path).communicate(timeout=300)
    assert "not enough disk for Qwen/Qwen3-VL-4B-Instruct" in err and "Traceback" not in err
    assert not any(m == "GET" and "/resolve/" in p for m, p, _ in hub.requests)  # refused before fetching
    assert {k: snapshot(tmp_path).get(k) for k in before} == before


def test_an_interrupted_download_resumes(hub, tmp_path):
    dest = tmp_path / "base" / "4b"
    hub.cut = ("model.safetensors", 32 << 20, "hang")
    first = download(hub, tmp_path)
    assert hub.was_cut.wait(120)
    time.sleep(1)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert not (dest / "zen_vl_base.json").exists()  # not complete: nothing downstream trusts it
    done_first = {p.name for p in dest.iterdir() if p.is_file()}
    assert "config.json" in done_first and "model.safetensors" not in done_first
    hub.requests.clear()
    hub.was_cut.clear()
    hub.cut = ("model.safetensors", 32 << 20, "drop")  # and the connection breaks once more
    out, err = download(hub, tmp_path).communicate(timeout=300)
    assert "already here; fetching the rest" in out, err[-2000:]
    fetched = {p.rsplit("/", 1)[-1] for m, p, _ in hub.requests if m == "GET" and "/resolve/" in p}
    assert fetched == {"model.safetensors"}  # the files of the first run are kept
    ranges = [r for m, p, r in hub.requests if m == "GET" and p.endswith("model.safetensors") and r]
    assert ranges and int(ranges[0].split("=")[1].split("-")[0]) > 0  # the dropped transfer continued
    manifest = json.loads((dest / "zen_vl_base.json").read_text())
    assert "model.safetensors" in manifest["files"] and not list(dest.rglob("*.incomplete"))
    for name in manifest["files"]:
        assert (dest / name).read_bytes() == hub.files[name].read_bytes(), name
