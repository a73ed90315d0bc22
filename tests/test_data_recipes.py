"""Every recipe in configs/recipes.yaml reads rows written in its dataset's real schema, offline: a
Hub-layout folder stands in for the Hub id, so a changed schema fails here, not as an empty column.

Where each schema was read:
- Salesforce/xlam-function-calling-60k: its dataset card ("JSON Data Format for Query and Answers":
  `id`, `query`, `tools` and `answers` as JSON strings; config `dataset`, file
  xlam_function_calling_60k.json; CC-BY-4.0, gated).
- agent-studio/GroundUI-18K: pushed by agent-studio's own script (`push_ground_ui_18k`: columns
  image_path, image (Image), instruction, bbox, resolution, source, platform); bbox is absolute
  [x1, y1, x2, y2] (read as `bbox_type: absolute, bbox_format: xyxy` by public training code).
- HuggingFaceM4/the_cauldron: one config per subset (`ai2d/`, `chartqa/`, `screen2words/` parquet
  shards); a row is `{"images": [PIL images], "texts": [{"user", "assistant", "source"}]}` (the card's
  viewer; torchtune's `the_cauldron_dataset` and lijunxian111/ChemVlm datagen/gen_cauldron_images.py
  print the same row).
"""

from __future__ import annotations

import json

import pytest
from PIL import Image

from zen_vl.config import ConfigError, load_config, recipes
from zen_vl.data.build import build_dataset
from zen_vl.data.schema import DataError, read_jsonl
from zen_vl.paths import Layout

SMALL = ["data.train=0", "data.val=0", "data.test=0", "data.check_lengths=false"]
XLAM_TOOLS = [  # a row of the card's example: parameters in xLAM's own (non JSON schema) shape
    {
        "name": "live_giveaways_by_type",
        "description": "Retrieve live giveaways from the GamerPower API based on the specified type.",
        "parameters": {
            "type": {
                "description": "The type of giveaways to retrieve (e.g., game, loot, beta).",
                "type": "str",
                "default": "game",
            }
        },
    }
]
XLAM_ROW = {
    "id": 0,
    "query": "Where can I find live giveaways for beta access and games?",
    "tools": json.dumps(XLAM_TOOLS),
    "answers": json.dumps(
        [
            {"name": "live_giveaways_by_type", "arguments": {"type": "beta"}},
            {"name": "live_giveaways_by_type", "arguments": {"type": "game"}},
        ]
    ),
}
CAULDRON_ROW = {
    "images": [Image.new("RGB", (64, 48), "white")],
    "texts": [
        {
            "user": "Question: What do respiration and combustion give out\nChoices:\nA. Oxygen\nB. Carbon dioxide\n"
            "Answer with the letter.",
            "assistant": "Answer: B",
            "source": "AI2D",
        },
        {"user": "Why?", "assistant": "Both release carbon dioxide.", "source": "AI2D"},
    ],
}


def _xlam_folder(root):
    import datasets

    folder = root / "xlam"
    folder.mkdir()
    (folder / "xlam_function_calling_60k.json").write_text(
        json.dumps([XLAM_ROW, {**XLAM_ROW, "id": 1}], indent=2)
    )
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: dataset\n  data_files:\n  - split: train\n    path: xlam_function_calling_60k.json\n---\n"
    )
    assert datasets.load_dataset(str(folder), split="train").column_names == [
        "id",
        "query",
        "tools",
        "answers",
    ]
    return folder


def _cauldron_folder(root, subsets):
    import datasets

    folder = root / "the_cauldron"
    feats = datasets.Features(
        {
            "images": datasets.Sequence(datasets.Image()),
            "texts": [{"user": datasets.Value("string"), "assistant": datasets.Value("string"),
                       "source": datasets.Value("string")}],
        }
    )  # fmt: skip
    configs = []
    for subset in subsets:
        (folder / subset).mkdir(parents=True)
        rows = {k: [v, v] for k, v in CAULDRON_ROW.items()}
        datasets.Dataset.from_dict(rows, features=feats).to_parquet(
            folder / subset / "train-00000-of-00001.parquet"
        )
        configs.append(
            f"- config_name: {subset}\n  data_files:\n  - split: train\n    path: {subset}/train-*"
        )
    (folder / "README.md").write_text("---\nconfigs:\n" + "\n".join(configs) + "\n---\n")
    return folder


def _build(tmp_path, variant, sources):
    cfg = load_config("tiny", variant, [*SMALL, f"data.sources={json.dumps(sources)}"])
    folder, manifest = build_dataset(cfg, Layout(tmp_path / "out"), progress=False)
    return folder, manifest, [r for _, r in read_jsonl(folder / "train.jsonl")]


def test_the_registry_documents_every_recipe():
    for name, recipe in recipes().items():
        assert {"kind", "hub", "license", "card", "format", "limit"} <= set(recipe), name
        assert "revision" in recipe, name  # pinned, or null with the reason beside it


def test_xlam_recipe_reads_its_real_schema(tmp_path):
    folder = _xlam_folder(tmp_path)
    source = {"recipe": "xlam-function-calling", "hub": str(folder), "eval_fraction": 0}
    _, manifest, rows = _build(tmp_path, "agent", [source])
    assert manifest["counts"]["train"] == {"xlam-function-calling": 2}
    row = rows[0]
    assert row["messages"][-1]["tool_calls"] == [
        {"name": "live_giveaways_by_type", "arguments": {"type": "beta"}},
        {"name": "live_giveaways_by_type", "arguments": {"type": "game"}},
    ]
    params = row["tools"][0]["function"]["parameters"]
    assert params == {
        "type": "object",
        "properties": {
            "type": {"description": XLAM_TOOLS[0]["parameters"]["type"]["description"], "type": "string"}
        },
        "required": [],  # it has a default
    }


def test_groundui_recipe_clicks_the_box_centre(tmp_path):
    import datasets

    folder = tmp_path / "GroundUI-18K"
    (folder / "data").mkdir(parents=True)
    rows = {
        "image_path": ["web/0001.png", "mobile/0002.png"],
        "image": [Image.new("RGB", (400, 300), "white"), Image.new("RGB", (200, 400), "white")],
        "instruction": ["Open the settings menu", "Tap the search icon"],
        "bbox": [[300.0, 30.0, 340.0, 60.0], [10.0, 380.0, 30.0, 400.0]],
        "resolution": [[800, 600], [200, 400]],  # the first screenshot stored at half its resolution
        "source": ["webui", "aitw"],
        "platform": ["web", "mobile"],
    }
    feats = datasets.Features(
        {"image_path": datasets.Value("string"), "image": datasets.Image(), "instruction": datasets.Value("string"),
         "bbox": datasets.Sequence(datasets.Value("float64")), "resolution": datasets.Sequence(datasets.Value("int64")),
         "source": datasets.Value("string"), "platform": datasets.Value("string")}
    )  # fmt: skip
    datasets.Dataset.from_dict(rows, features=feats).to_parquet(
        folder / "data" / "train-00000-of-00001.parquet"
    )
    _, _, out = _build(
        tmp_path, "agent", [{"recipe": "groundui-18k", "hub": str(folder), "eval_fraction": 0}]
    )
    calls = {r["messages"][0]["content"][1]["text"]: r["messages"][1]["tool_calls"] for r in out}
    assert calls["Open the settings menu"] == [{"name": "click", "arguments": {"coordinate": [400, 75]}}]
    assert calls["Tap the search icon"] == [{"name": "click", "arguments": {"coordinate": [100, 975]}}]
    assert out[0]["tools"][0]["function"]["name"] == "click"


@pytest.mark.parametrize("recipe", ["cauldron-screen2words", "cauldron-ai2d", "cauldron-chartqa"])
def test_cauldron_recipes_read_their_real_schema(tmp_path, recipe):
    subset = recipes()[recipe]["subset"]
    folder = _cauldron_folder(tmp_path, [subset])
    out, _, rows = _build(tmp_path, "instruct", [{"recipe": recipe, "hub": str(folder), "eval_fraction": 0}])
    assert len(rows) == 2
    messages = rows[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    image = messages[0]["content"][0]
    assert image["type"] == "image" and Image.open(out / image["image"]).size == (64, 48)
    assert messages[1]["content"] == "Answer: B" and messages[2]["content"] == [
        {"type": "text", "text": "Why?"}
    ]


def test_real_sizes_use_recipes_and_offline_says_how_to_go_without(tmp_path, monkeypatch):
    for variant in ("instruct", "thinking", "agent"):
        assert load_config("8b", variant).data.sources, variant
        assert not load_config("tiny", variant).data.sources, variant
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match=r"recipe xlam-function-calling.*data\.sources=\[\]"):
        _build(tmp_path, "agent", [{"recipe": "xlam-function-calling", "eval_fraction": 0}])
    with pytest.raises(ConfigError, match=r"unknown recipe 'xlam'.*cauldron-ai2d"):
        load_config("tiny", "agent", ["data.sources=[{recipe: xlam}]"])
