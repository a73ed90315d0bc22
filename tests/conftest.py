"""Shared fixtures: tiny bases built once per session, in-process, offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # `make test`: each worker on its share of the cores
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))

# The focused runs that train for minutes (tests/tiny_runs.py): test files that use the same one share a
# worker (an xdist group), so each still trains once per session.
HEAVY_RUNS = ("IDENTITY", "PROBE", "THINKING_PROBE", "AGENT", "EPISODES")


def pytest_collection_modifyitems(config, items):
    import tiny_runs

    runs = {name: getattr(tiny_runs, name) for name in HEAVY_RUNS}
    uses = {}  # module file -> the heavy runs it imports
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__file__ not in uses:
            names = vars(module).values()
            uses[module.__file__] = {n for n, run in runs.items() if any(v is run for v in names)}
    groups = {f: set(u) for f, u in uses.items() if u}
    changed = True
    while changed:  # files joined through any run they share
        changed = False
        for a in groups:
            for b in groups:
                if a != b and groups[a] & groups[b] and groups[a] != groups[b]:
                    groups[a] = groups[b] = groups[a] | groups[b]
                    changed = True
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__file__ in groups:
            item.add_marker(pytest.mark.xdist_group("+".join(sorted(groups[module.__file__]))))
    if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # files with slow tests first: the long ones start early
        slow = {item.path for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: item.path not in slow)  # stable: each file keeps its order


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
