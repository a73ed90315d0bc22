"""Bring-your-own data: local JSONL / ShareGPT files and Hub-style datasets through a column mapping."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from zen_vl.config import ConfigError, load_config
from zen_vl.data.build import build_dataset
from zen_vl.data.schema import DataError, read_jsonl
from zen_vl.data.sources import normalize_tools
from zen_vl.paths import Layout

SMALL = ["data.train=12", "data.val=2", "data.test=2", "data.check_lengths=false"]


def _cfg(variant, sources):
    return load_config("tiny", variant, [*SMALL, f"data.sources={json.dumps(sources)}"])


def _all(folder):
    return {s: [r for _, r in read_jsonl(folder / f"{s}.jsonl")] for s in ("train", "val", "test")}


def _mine(rows, name):
    return [r for split in rows.values() for r in split if r["meta"]["source"] == name]


def test_local_jsonl_and_sharegpt_files_join_the_mix_with_their_images(tmp_path):
    Image.new("RGB", (64, 64), "red").save(tmp_path / "red.png")
    with (tmp_path / "mine.jsonl").open("w") as fh:
        for k in range(10):
            fh.write(
                json.dumps(
                    {
                        "messages": [
                            {
                                "role": "user",
                                "content": [
                                    {"type": "image", "image": "red.png"},
                                    {"type": "text", "text": f"Q{k}"},
                                ],
                            },
                            {"role": "assistant", "content": f"A{k}: red"},
                        ]
                    }
                )
                + "\n"
            )
    with (tmp_path / "sg.jsonl").open("w") as fh:
        for k in range(4):
            fh.write(
                json.dumps(
                    {
                        "conversations": [
                            {"from": "human", "value": f"<image>What colour? {k}"},
                            {"from": "gpt", "value": "Red."},
                        ],
                        "images": ["red.png"],
                    }
                )
                + "\n"
            )
    cfg = _cfg(
        "instruct",
        [
            {"name": "mine", "path": str(tmp_path / "mine.jsonl"), "eval_fraction": 0.2},
            {"name": "sg", "path": str(tmp_path / "sg.jsonl"), "format": "sharegpt", "eval_fraction": 0},
        ],
    )
    folder, manifest = build_dataset(cfg, Layout(tmp_path / "out"), progress=False)
    rows = _all(folder)
    assert manifest["counts"]["train"]["mine"] == 8 and manifest["counts"]["val"]["mine"] == 1
    assert manifest["counts"]["test"]["mine"] == 1 and manifest["counts"]["train"]["sg"] == 4
    for r in _mine(rows, "mine") + _mine(rows, "sg"):
        path = folder / r["messages"][0]["content"][0]["image"]
        assert path.is_file() and path.is_relative_to(folder)  # self-contained copy
        assert Image.open(path).getpixel((5, 5)) == (255, 0, 0)
        assert r["meta"]["where"].endswith(tuple(f":{n}" for n in range(1, 11)))


def test_a_bad_sample_in_a_source_is_named_by_file_and_line(tmp_path):
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    bad = {
        "tools": [],
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "", "tool_calls": [{"name": "get_weather", "arguments": {}}]},
        ],
    }
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=rf"{path}:2: .*undeclared tool 'get_weather'"):
        build_dataset(
            _cfg("agent", [{"name": "mine", "path": str(path)}]), Layout(tmp_path / "out"), progress=False
        )
    assert not (tmp_path / "out" / "data" / "agent" / "tiny").exists()


def test_reasoning_in_a_source_for_a_no_think_variant_is_refused(tmp_path):
    path = tmp_path / "think.jsonl"
    path.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "2+2?"},
                    {"role": "assistant", "content": "<think>add</think>4"},
                ]
            }
        )
        + "\n"
    )
    with pytest.raises(DataError, match=r"think.jsonl:1: .*reasoning"):
        build_dataset(
            _cfg("instruct", [{"name": "t", "path": str(path)}]), Layout(tmp_path / "out"), progress=False
        )
    folder, _ = build_dataset(
        _cfg("thinking", [{"name": "t", "path": str(path)}]), Layout(tmp_path / "out"), progress=False
    )
    assert folder.is_dir()


@pytest.fixture
def hub_folder(tmp_path):
    """A dataset folder in the Hub's layout (parquet shards with an Image feature), read offline."""
    import datasets

    rows = {
        "image": [Image.new("RGB", (48, 48), c) for c in ("red", "blue", "green", "red")],
        "question": ["What colour is this?"] * 4,
        "answer": ["Red.", "Blue.", "Green.", "Red."],
    }
    feats = datasets.Features(
        {"image": datasets.Image(), "question": datasets.Value("string"), "answer": datasets.Value("string")}
    )
    vqa = tmp_path / "vqa"
    (vqa / "data").mkdir(parents=True)
    datasets.Dataset.from_dict(rows, features=feats).to_parquet(vqa / "data" / "train-00000-of-00001.parquet")
    tools = json.dumps(
        [
            {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "city": {"type": "str", "description": "city"},
                    "unit": {"type": "str, optional", "default": "c"},
                },
            }
        ]
    )
    xlam = tmp_path / "xlam"
    (xlam / "data").mkdir(parents=True)
    datasets.Dataset.from_dict(
        {
            "query": ["Weather in Oslo?", "And in Lima?"],
            "tools": [tools, tools],
            "answers": [
                json.dumps([{"name": "get_weather", "arguments": {"city": "Oslo"}}]),
                json.dumps([{"name": "get_weather", "arguments": {"city": "Lima", "unit": "f"}}]),
            ],
        }
    ).to_parquet(xlam / "data" / "train-00000-of-00001.parquet")
    return vqa, xlam


def test_hub_datasets_map_columns_for_vqa_and_xlam_style_function_calling(tmp_path, hub_folder):
    vqa, xlam = hub_folder
    cfg = _cfg(
        "agent",
        [
            {"name": "vqa", "hub": str(vqa), "format": "columns", "eval_fraction": 0},
            {
                "name": "xlam",
                "hub": str(xlam),
                "format": "columns",
                "columns": {"query": "query", "tools": "tools", "tool_calls": "answers"},
                "eval_fraction": 0,
            },
        ],
    )
    folder, manifest = build_dataset(cfg, Layout(tmp_path / "out"), progress=False)
    rows = _all(folder)
    assert manifest["counts"]["train"]["vqa"] == 4 and manifest["counts"]["train"]["xlam"] == 2
    vqa_rows = _mine(rows, "vqa")
    colours = {
        r["messages"][-1]["content"]: Image.open(folder / r["messages"][0]["content"][0]["image"]).getpixel(
            (1, 1)
        )
        for r in vqa_rows
    }
    assert colours["Blue."] == (0, 0, 255) and colours["Red."] == (255, 0, 0)
    calls = {r["messages"][-1]["tool_calls"][0]["arguments"]["city"]: r for r in _mine(rows, "xlam")}
    schema = calls["Oslo"]["tools"][0]["function"]["parameters"]
    assert schema["properties"]["city"]["type"] == "string" and schema["required"] == ["city"]


def test_an_unreachable_hub_dataset_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    cfg = _cfg("agent", [{"name": "x", "hub": "nobody/no-such-dataset-zen-vl"}])
    with pytest.raises(
        DataError, match=r"source 'x': cannot load Hub dataset 'nobody/no-such-dataset-zen-vl'.*local"
    ):
        build_dataset(cfg, Layout(tmp_path), progress=False)


def test_a_source_needs_exactly_one_of_path_or_hub():
    with pytest.raises(ConfigError, match="exactly one of path or hub"):
        _cfg("agent", [{"name": "x"}])
    with pytest.raises(ConfigError, match=r"mix\.bogus: unknown generator"):
        load_config("tiny", "agent", ["data.mix.bogus=1"])


def test_xlam_parameters_become_json_schema():
    tools = normalize_tools(
        json.dumps(
            [
                {
                    "name": "f",
                    "parameters": {
                        "n": {"type": "int"},
                        "tags": {"type": "List[str]"},
                        "flag": {"type": "bool, optional"},
                    },
                }
            ]
        ),
        "row 0",
    )
    params = tools[0]["function"]["parameters"]
    assert params["type"] == "object" and params["required"] == ["n", "tags"]
    assert params["properties"]["n"]["type"] == "integer" and params["properties"]["tags"]["type"] == "array"
