"""The typed config: every shipped size x variant loads; bad files fail with every problem listed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from zen_vl.config import (
    PIXELS_PER_TOKEN,
    VARIANTS,
    ConfigError,
    available_sizes,
    configs_dir,
    load_config,
    parse_overrides,
    reference_markdown,
)

SIZES = available_sizes()
REPO = Path(__file__).resolve().parents[1]


def test_the_four_sizes_and_the_moe_twin_ship():
    assert {"tiny", "tiny-moe", "4b", "8b", "30b"} <= set(SIZES)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_size_and_variant_loads(size, variant):
    cfg = load_config(size, variant)
    assert cfg.size == size and cfg.variant == variant
    ref = cfg.base_ref
    if cfg.offline:
        assert ref.repo == "offline"
    else:
        assert ref.repo.startswith("Qwen/Qwen3-VL-")
        # thinking starts from the -Thinking base, the others from -Instruct
        assert ref.repo.endswith("-Thinking" if variant == "thinking" else "-Instruct")
    assert cfg.template == ("thinking" if variant == "thinking" else "instruct")
    assert ref.template == cfg.template
    assert (cfg.arch == "moe") == (size in ("30b", "tiny-moe"))


def test_real_instruct_bases_are_pinned_to_commits():
    for size in ("4b", "8b", "30b"):
        assert load_config(size, "instruct").base_ref.pinned, size


def test_moe_sizes_adapt_the_fused_experts():
    for size in ("30b", "tiny-moe"):
        assert set(load_config(size, "agent").lora.target_parameters) == {
            "mlp.experts.gate_up_proj",
            "mlp.experts.down_proj",
        }


def test_pixel_budget_counts_32px_tokens():
    cfg = load_config("4b", "instruct")
    assert PIXELS_PER_TOKEN == 32 * 32
    assert cfg.vision.max_pixels == cfg.vision.max_image_tokens * 1024
    size = cfg.vision.processor_kwargs["images_kwargs"]["size"]
    assert size == {"shortest_edge": cfg.vision.min_pixels, "longest_edge": cfg.vision.max_pixels}


def test_overrides_win_and_are_typed():
    cfg = load_config("tiny", "agent", ["train.lr=5e-5", "lora.r=8", "lora.target_modules=[q_proj,v_proj]"])
    assert cfg.train.lr == 5e-5 and cfg.lora.r == 8
    assert cfg.lora.target_modules == ["q_proj", "v_proj"]


def test_per_variant_block_in_a_size_file(tmp_path):
    root = _copy_configs(tmp_path)
    path = root / "sizes" / "tiny.yaml"
    path.write_text(path.read_text() + "variants:\n  agent:\n    train: {lr: 7.0e-3}\n")
    assert load_config("tiny", "agent", root=root).train.lr == 7e-3
    assert load_config("tiny", "instruct", root=root).train.lr != 7e-3


@pytest.mark.parametrize(
    "item", ["train.lr", "=3", "train..lr=1", "lr"], ids=["no-value", "no-key", "empty-part", "bare"]
)
def test_malformed_override(item):
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides([item])


def test_unknown_size_and_variant_name_the_choices():
    with pytest.raises(ConfigError, match=r"unknown SIZE 'huge'.*tiny"):
        load_config("huge", "instruct")
    with pytest.raises(ConfigError, match=r"unknown VARIANT 'chat'.*agent"):
        load_config("tiny", "chat")


def test_every_problem_is_listed_with_file_and_key(tmp_path):
    root = _copy_configs(tmp_path)
    bad = root / "sizes" / "tiny.yaml"
    bad.write_text(
        bad.read_text()
        + "train:\n  lrr: 1\n  batch_size: 2.5\n  precision: fp8\nlora:\n  r: big\nvariants:\n  chatty: {}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config("tiny", "instruct", ["vision.max_image_tokens=-4"], root=root)
    msg = str(info.value)
    assert "(6 problem(s))" in msg
    for needle in [
        f"{bad}: train.lrr: unknown key",
        f"{bad}: train.batch_size:",
        f"{bad}: train.precision:",
        f"{bad}: lora.r:",
        f"{bad}: variants.chatty: unknown variant",
        "command line: vision.max_image_tokens:",
    ]:
        assert needle in msg, f"missing {needle!r} in:\n{msg}"


def test_invalid_yaml_names_the_line(tmp_path):
    root = _copy_configs(tmp_path)
    (root / "sizes" / "tiny.yaml").write_text("arch: dense\ntrain:\n  lr: [1,\n")
    with pytest.raises(ConfigError, match=r"tiny\.yaml:\d+: not valid YAML"):
        load_config("tiny", "instruct", root=root)


def test_tiny_arch_rejects_an_mrope_section_that_does_not_fit():
    with pytest.raises(ConfigError, match="mrope_section"):
        load_config("tiny", "instruct", ["tiny.mrope_section=[16,8,4]"])


def test_variant_needs_a_base_the_size_has(tmp_path):
    root = _copy_configs(tmp_path)
    path = root / "sizes" / "4b.yaml"
    path.write_text("\n".join(line for line in path.read_text().splitlines() if "thinking:" not in line))
    with pytest.raises(ConfigError, match="base 'thinking' is not among"):
        load_config("4b", "thinking", root=root)


def test_docs_config_reference_is_current():
    doc = Path(__file__).resolve().parents[1] / "docs" / "CONFIG.md"
    assert doc.read_text() == reference_markdown() + "\n", "run `make docs`"


def test_a_mapping_given_whole_replaces_and_dotted_keys_merge(tmp_path):
    assert load_config("tiny", "agent", ["data.mix={gui: 1}"]).data.mix == {"gui": 1}
    merged = load_config("tiny", "agent", ["data.mix.gui=2"]).data.mix
    assert merged["gui"] == 2 and len(merged) > 1  # the variant's other generators are kept
    root = _copy_configs(tmp_path)
    path = root / "sizes" / "tiny.yaml"
    path.write_text(path.read_text() + "\nvariants:\n  agent:\n    data: {mix: !replace {visual: 1}}\n")
    assert load_config("tiny", "agent", root=root).data.mix == {"visual": 1}
    with pytest.raises(ConfigError, match=r"mix\.bogus: unknown generator"):
        load_config("tiny", "agent", ["data.mix={bogus: 1}"])


def test_a_size_extends_another_and_overrides_only_what_it_names():
    tiny, moe = load_config("tiny", "thinking"), load_config("tiny-moe", "thinking")
    assert moe.eval == tiny.eval  # tiny's eval block (and its thinking block) reach the MoE twin
    assert moe.train.max_length == tiny.train.max_length and moe.train.lr != tiny.train.lr
    assert moe.tiny.moe and not tiny.tiny.moe


def test_extends_an_unknown_size_is_named(tmp_path):
    root = _copy_configs(tmp_path)
    path = root / "sizes" / "tiny-moe.yaml"
    path.write_text(path.read_text().replace("extends: tiny", "extends: tinyy"))
    with pytest.raises(ConfigError, match="extends: unknown size 'tinyy'"):
        load_config("tiny-moe", "agent", root=root)


def test_real_shapes_are_architectures_that_agree_with_arch():
    from zen_vl.config import Architecture, TinyArch

    for size in ("4b", "8b", "30b"):
        shape = load_config(size, "instruct").shape
        assert type(shape) is Architecture and not isinstance(shape, TinyArch)
        assert shape.moe == (size == "30b")
    with pytest.raises(ConfigError, match=r"shape\.moe: is False but arch is 'moe'"):
        load_config("30b", "instruct", ["shape.moe=false"])
    with pytest.raises(ConfigError, match="num_experts: must be > 0"):
        load_config("8b", "instruct", ["arch=moe", "shape.moe=true"])


def _leaves(tree: dict, prefix: tuple = ()):
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key)


@pytest.mark.parametrize("size", SIZES)
def test_size_files_hold_only_what_differs_from_the_layers_beneath(tmp_path, size):
    """Removing any setting of a size file changes the resolved config of some variant."""
    import yaml

    from zen_vl.config import Replace, _Loader

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(Replace, lambda d, v: d.represent_mapping("!replace", v))
    root = _copy_configs(tmp_path)
    path = root / "sizes" / f"{size}.yaml"
    text = path.read_text()
    data = yaml.load(text, Loader=_Loader)
    resolved = {v: load_config(size, v, root=root).model_dump() for v in VARIANTS}
    redundant = []
    for leaf in _leaves({k: v for k, v in data.items() if k not in ("variants", "extends")}):
        trimmed = yaml.load(text, Loader=_Loader)
        node = trimmed
        for part in leaf[:-1]:
            node = node[part]
        del node[leaf[-1]]
        path.write_text(yaml.dump(trimmed, Dumper=Dumper))
        try:
            changed = any(load_config(size, v, root=root).model_dump() != resolved[v] for v in VARIANTS)
        except ConfigError:
            changed = True  # a required key
        if not changed:
            redundant.append(".".join(leaf))
    path.write_text(text)
    assert not redundant, f"{size}.yaml repeats what the layers beneath already set: {redundant}"


def _copy_configs(tmp_path: Path) -> Path:
    root = tmp_path / "configs"
    shutil.copytree(configs_dir(), root)
    return root


def _make(*args: str, root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", *args], cwd=REPO, env={**env, "ZEN_VL_ROOT": str(root)},
                          capture_output=True, text=True)  # fmt: skip


def test_make_refuses_a_variable_it_does_not_know_before_any_work(tmp_path):
    run = _make("train-agent", "SIZE=tiny", "epochs=3", root=tmp_path)
    assert run.returncode != 0 and "did you mean train.epochs=3?" in run.stderr
    run = _make("data", "size=8b", root=tmp_path)
    assert run.returncode != 0 and "did you mean SIZE=8b?" in run.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was built


def test_make_passes_a_value_with_spaces_whole_and_errors_name_the_variant(tmp_path):
    run = _make("train-agent", "data.sources=[{name: my data, path: a b.jsonl, limit: many}]", root=tmp_path)
    assert run.returncode != 0
    assert "invalid configuration for SIZE=tiny VARIANT=agent" in run.stderr  # not the default variant
    assert "data.sources.0.limit" in run.stderr and "'many'" in run.stderr  # the whole value was parsed
