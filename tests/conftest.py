"""Shared fixtures: tiny bases built once per session, in-process, offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """base/tiny (Instruct flavor) built from configs/sizes/tiny.yaml into a temp layout."""
    from zen_vl.base.download import ensure_base
    from zen_vl.config import load_config
    from zen_vl.paths import Layout

    layout = Layout(tmp_path_factory.mktemp("root"))
    return ensure_base(load_config("tiny", "instruct"), layout)


@pytest.fixture(scope="session")
def tiny_moe_base(tmp_path_factory):
    from zen_vl.base.download import ensure_base
    from zen_vl.config import load_config
    from zen_vl.paths import Layout

    layout = Layout(tmp_path_factory.mktemp("root"))
    return ensure_base(load_config("tiny-moe", "instruct"), layout)
