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


@pytest.fixture(scope="session")
def tiny_root(tiny_base):
    """A project root holding both tiny bases (Instruct and Thinking), shared by training tests."""
    from zen_vl.base.download import ensure_base
    from zen_vl.config import load_config
    from zen_vl.paths import Layout

    layout = Layout(tiny_base.parents[1])
    ensure_base(load_config("tiny", "thinking"), layout, "thinking")
    return layout


@pytest.fixture(scope="session")
def train_tiny(tiny_root, tmp_path_factory):
    """Train once per session per resolved config and return (cfg, layout, result).

    Each configuration gets its own project root (its data, checkpoints and finetuned folders),
    with the shared tiny bases linked in.
    """
    from zen_vl.base.download import ensure_base
    from zen_vl.config import load_config
    from zen_vl.paths import Layout
    from zen_vl.train.engine import train

    cache: dict = {}

    def run(variant: str, overrides: list[str], size: str = "tiny"):
        cfg = load_config(size, variant, list(overrides))
        key = cfg.model_dump_json()  # the resolved config: two spellings of one run train once
        if key not in cache:
            base = ensure_base(cfg, tiny_root, cfg.base)
            layout = Layout(tmp_path_factory.mktemp(f"run-{variant}"))
            layout.base(size, cfg.base).parent.mkdir(parents=True)
            layout.base(size, cfg.base).symlink_to(base, target_is_directory=True)
            cache[key] = (cfg, layout, train(cfg, layout, progress=False))
        return cache[key]

    return run


@pytest.fixture(scope="session")
def eval_tiny(train_tiny):
    """`make eval`'s code path on a tiny run (base and finetuned), once per run and benchmark set:
    returns (cfg, layout, results dict)."""
    import json

    from zen_vl.evaluate.runner import run_eval

    cache: dict = {}

    def run(variant: str, overrides: list[str], size: str = "tiny", **benchmarks):
        cfg, layout, _ = train_tiny(variant, overrides, size)
        key = (cfg.model_dump_json(), tuple(sorted((k, str(v)) for k, v in benchmarks.items())))
        if key not in cache:
            path = run_eval(cfg, layout, progress=False, **benchmarks)
            cache[key] = (cfg, layout, json.loads(path.read_text()))
        return cache[key]

    return run


@pytest.fixture(scope="session")
def llama():
    """The pinned llama.cpp, built once per machine into ~/.cache/zen-vl (about 9 minutes on 2 cores)."""
    from zen_vl.export.llama_cpp import ensure_llama_cpp

    return ensure_llama_cpp(progress=False)
