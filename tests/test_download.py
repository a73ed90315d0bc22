"""Real sizes download from the Hub; without network they fail fast and point at the tiny size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zen_vl.atomic import building
from zen_vl.base.download import ALLOW_PATTERNS, DownloadError, ensure_base
from zen_vl.base.load import check_base
from zen_vl.config import load_config
from zen_vl.errors import ZenError
from zen_vl.paths import Layout

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "env",
    [{"HF_HUB_OFFLINE": "1"}, {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}],
    ids=["offline-mode", "unreachable-hub"],
)
def test_without_network_the_download_fails_fast_naming_size_and_tiny(tmp_path, monkeypatch, env):
    import huggingface_hub.constants as hub_constants

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", env["HF_HUB_OFFLINE"] == "1")
    if "HF_ENDPOINT" in env:
        monkeypatch.setattr(hub_constants, "ENDPOINT", env["HF_ENDPOINT"])
    started = time.monotonic()
    with pytest.raises(DownloadError) as info:
        ensure_base(load_config("8b", "agent"), Layout(tmp_path))
    assert time.monotonic() - started < 15
    msg = str(info.value)
    assert "SIZE=8b" in msg and "Qwen/Qwen3-VL-8B-Instruct" in msg and "make download-tiny" in msg
    assert not (tmp_path / "base" / "8b" / "zen_vl_base.json").exists()


def test_the_script_exits_non_zero_with_the_message_and_no_traceback(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ZEN_VL_ROOT": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "scripts/download.py", "--size", "30b", "--flavor", "instruct"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "error: cannot download SIZE=30b" in run.stderr and "Traceback" not in run.stderr


def test_allow_patterns_take_weights_and_processor_files_only():
    from fnmatch import fnmatch

    def kept(name):
        return any(fnmatch(name, p) for p in ALLOW_PATTERNS)

    for name in (
        "model-00001-of-00004.safetensors",
        "model.safetensors.index.json",
        "config.json",
        "tokenizer.json",
        "preprocessor_config.json",
        "video_preprocessor_config.json",
        "chat_template.json",
    ):
        assert kept(name), name
    for name in ("pytorch_model.bin", "original/consolidated.pth", ".gitattributes", "model.gguf"):
        assert not kept(name), name


def test_missing_base_says_how_to_get_it(tmp_path):
    with pytest.raises(ZenError, match=r"missing or incomplete.*make download-4b"):
        check_base(tmp_path / "base" / "4b", "4b")


def test_a_base_of_another_architecture_is_refused(tmp_path):
    folder = tmp_path / "llava"
    folder.mkdir()
    (folder / "zen_vl_base.json").write_text("{}")
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlavaForConditionalGeneration"]}))
    with pytest.raises(ZenError, match="LlavaForConditionalGeneration is not Qwen3-VL"):
        check_base(folder, "4b")


def test_a_failed_build_leaves_the_earlier_folder_untouched(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("earlier output")
    with pytest.raises(RuntimeError), building(dest, replace=True) as tmp:
        (tmp / "half.bin").write_text("partial")
        raise RuntimeError("killed mid-write")
    assert (dest / "keep.txt").read_text() == "earlier output"
    assert not (dest / "half.bin").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_building_refuses_to_overwrite_without_replace(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ZenError, match="already exists"), building(dest):
        pass
