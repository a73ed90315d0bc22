"""Shared fixtures: tiny bases built once per session, in-process, offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # `make test`: each worker on its share of the cores
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))

# The focused runs that train for minutes (tests/tiny_runs.py). Under `make test` (pytest-xdist), test
# files that import the same one, joined through any run they share, form one scope that a single worker
# runs, so each run still trains once per session. (xdist's own xdist_group marks do not reach its
# scheduler under pytest 9.2: it writes the group into `item._nodeid`, which pytest 9 no longer reads.)
HEAVY_RUNS = ("IDENTITY", "PROBE", "THINKING_PROBE", "AGENT", "EPISODES")
# Files whose tests launch 2-process torch.distributed jobs (the launchers' fixed rendezvous port,
# 29500) run beside test_train.py's accelerate launch, never at the same time.
SCOPE_WITH = {"test_keepalive.py": "test_train.py"}


def shared_run_scopes(tests: Path = Path(__file__).parent) -> dict[str, str]:
    """Test file name -> its scope name ("AGENT+PROBE+THINKING_PROBE"), for files using a heavy run."""
    import ast

    groups = {}
    for path in sorted(tests.glob("test_*.py")):
        names = {
            alias.name
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module == "tiny_runs"
            for alias in node.names
            if alias.name in HEAVY_RUNS
        }
        if names:
            groups[path.name] = names
    changed = True
    while changed:
        changed = False
        for a in groups:
            for b in groups:
                if groups[a] & groups[b] and groups[a] != groups[b]:
                    groups[a] = groups[b] = groups[a] | groups[b]
                    changed = True
    scopes = {name: "+".join(sorted(runs)) for name, runs in groups.items()}
    for name, beside in SCOPE_WITH.items():
        scopes[name] = scopes.get(beside, beside)
    return scopes


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup`: xdist's scope scheduler with the shared-run scopes above; every other test is
    a scope of its own (scheduled as `--dist load` does)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    scopes = shared_run_scopes()

    class SharedRuns(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scopes.get(nodeid.split("::", 1)[0].rsplit("/", 1)[-1], nodeid)

    return SharedRuns(config, log)


def pytest_collection_modifyitems(config, items):
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
