"""Data as users already have it: LLaMA-Factory datasets as shipped (dataset_info.json, JSON arrays,
alpaca / sharegpt / typed blocks), ms-swift and OpenAI-style messages, video files, noisy data.

The rows below are written in each project's own schema, read from its files and docs:
LLaMA-Factory (hiyouga/LLaMA-Factory ff6d4d12e: data/dataset_info.json, data/identity.json,
data/mllm_demo.json, data/mllm_video_demo.json, data/glaive_toolcall_en_demo.json,
data/reason_tool_use_demo_50.jsonl, src/llamafactory/data/parser.py and converter.py) and ms-swift
(modelscope/ms-swift 3602360a5: docs/source_en/Customization/Custom-dataset.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zen_vl.config import ConfigError, load_config
from zen_vl.data.build import build_dataset, summary
from zen_vl.data.schema import DataError, read_jsonl
from zen_vl.paths import Layout

REPO = Path(__file__).resolve().parents[1]
SMALL = ["data.train=8", "data.val=0", "data.test=0", "data.check_lengths=false"]

IDENTITY = [  # data/identity.json: alpaca, the {{name}} / {{author}} convention
    {
        "instruction": "hi",
        "input": "",
        "output": "Hello! I am {{name}}, an AI assistant developed by {{author}}.",
    },
    {
        "instruction": "Who are you?",
        "input": "",
        "output": "I am {{name}}, an AI assistant developed by {{author}}.",
    },
]
ALPACA = [  # alpaca with system and history (README.md's alpaca description)
    {
        "instruction": "And the second?",
        "input": "Answer briefly.",
        "output": "Tuesday.",
        "system": "You name weekdays.",
        "history": [["What is the first weekday?", "Monday."]],
    }
]
GLAIVE = [  # data/glaive_toolcall_en_demo.json: sharegpt, function_call / observation, tools as a JSON string
    {
        "conversations": [
            {"from": "human", "value": "Convert 100 USD to EUR."},
            {
                "from": "function_call",
                "value": '{"name": "convert", "arguments": {"amount": 100, "to": "EUR"}}',
            },
            {"from": "observation", "value": '{"result": 92}'},
            {"from": "gpt", "value": "100 USD is 92 EUR."},
        ],
        "tools": json.dumps(
            [
                {
                    "name": "convert",
                    "description": "Convert currency",
                    "parameters": {
                        "type": "object",
                        "properties": {"amount": {"type": "number"}, "to": {"type": "string"}},
                        "required": ["amount", "to"],
                    },
                }
            ]
        ),
    }
]
MLLM = [  # data/mllm_demo.json: role/content tags, <image> in the text, images beside the json
    {
        "messages": [
            {"content": "<image>Who are they?", "role": "user"},
            {"content": "Two players.", "role": "assistant"},
            {"content": "What colour is it?<image>", "role": "user"},
            {"content": "Red.", "role": "assistant"},
        ],
        "images": ["mllm_demo_data/1.jpg", "mllm_demo_data/1.jpg"],
    }
]
VIDEO = [  # data/mllm_video_demo.json
    {
        "messages": [
            {"content": "<video>Why is this video funny?", "role": "user"},
            {"content": "Because a baby is reading.", "role": "assistant"},
        ],
        "videos": ["mllm_demo_data/1.mp4"],
    }
]
TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
INFO = {
    "identity": {"file_name": "identity.json"},
    "alpaca_demo": {"file_name": "alpaca.json", "columns": {"prompt": "instruction", "query": "input",
                    "response": "output", "system": "system", "history": "history"}},
    "glaive_toolcall_en_demo": {"file_name": "glaive.json", "formatting": "sharegpt",
                                "columns": {"messages": "conversations", "tools": "tools"}},
    "mllm_demo": {"file_name": "mllm_demo.json", "formatting": "sharegpt",
                  "columns": {"messages": "messages", "images": "images"}, "tags": TAGS},
    "mllm_video_demo": {"file_name": "mllm_video_demo.json", "formatting": "sharegpt",
                        "columns": {"messages": "messages", "videos": "videos"}, "tags": TAGS},
    "alpaca_en": {"hf_hub_url": "llamafactory/alpaca_en"},
}  # fmt: skip
TYPED = {  # data/reason_tool_use_demo_50.jsonl: typed blocks with reasoning and a tool call
    "messages": [
        {"role": "user", "content": [{"type": "text", "value": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "reasoning", "value": "The user wants the weather; call get_weather."},
                {"type": "tool_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
            ],
        },
        {"role": "tool", "content": [{"type": "text", "value": '{"temp": 21}'}]},
        {
            "role": "assistant",
            "content": [
                {"type": "reasoning", "value": "It is 21."},
                {"type": "text", "value": "21 degrees."},
            ],
        },
    ],
    "tools": json.dumps(
        [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather of a city",
                    "parameters": {
                        "type": "dict",
                        "properties": {"city": {"type": "str"}},
                        "required": ["city"],
                    },
                },
            }
        ]
    ),
}


def write_video(path: Path, frames: int = 20, fps: int = 10, audio: bool = True) -> None:
    """An mp4 (mpeg4) of `frames` frames getting brighter, with an AAC audio stream."""
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=16000) if audio else None
        for k in range(frames):
            img = np.full((48, 64, 3), k * 10, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
            chunk.sample_rate = 16000
            for packet in [*sound.encode(chunk), *sound.encode()]:
                out.mux(packet)


@pytest.fixture
def lf_dir(tmp_path) -> Path:
    """A LLaMA-Factory data folder laid out as the release ships it (JSON arrays, indented)."""
    root = tmp_path / "LLaMA-Factory" / "data"
    (root / "mllm_demo_data").mkdir(parents=True)
    Image.new("RGB", (64, 64), "red").save(root / "mllm_demo_data" / "1.jpg")
    write_video(root / "mllm_demo_data" / "1.mp4")
    for name, rows in (("identity", IDENTITY), ("alpaca", ALPACA), ("glaive", GLAIVE), ("mllm_demo", MLLM),
                       ("mllm_video_demo", VIDEO)):  # fmt: skip
        (root / f"{name}.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    (root / "dataset_info.json").write_text(json.dumps(INFO, indent=2))
    return root


def _lf(dataset: str, lf_dir: Path, **extra) -> dict:
    return {"name": f"lf_{dataset}", "format": "llamafactory", "path": str(lf_dir / "dataset_info.json"),
            "dataset": dataset, "eval_fraction": 0, **extra}  # fmt: skip


def _build(tmp_path, variant: str, sources: list[dict], *more: str):
    cfg = load_config("tiny", variant, [*SMALL, *more, f"data.sources={json.dumps(sources)}"])
    folder, manifest = build_dataset(cfg, Layout(tmp_path / "out"), progress=False)
    rows = [r for _, r in read_jsonl(folder / "train.jsonl")]
    return (
        folder,
        manifest,
        {name: [r for r in rows if r["meta"]["source"] == name] for name in manifest["sources"]},
    )


def test_llamafactory_alpaca_identity_fills_placeholders_and_keeps_system_and_history(tmp_path, lf_dir):
    _, manifest, rows = _build(tmp_path, "instruct", [_lf("identity", lf_dir), _lf("alpaca_demo", lf_dir)])
    answers = [r["messages"][-1]["content"] for r in rows["lf_identity"]]
    assert len(answers) == 2 and all("Zen VL" in a and "Hanzo AI" in a and "{{" not in a for a in answers)
    assert manifest["sources"]["lf_identity"]["placeholders_filled"] == 4
    (sample,) = rows["lf_alpaca_demo"]
    assert [m["role"] for m in sample["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert sample["messages"][3]["content"] == "And the second?\nAnswer briefly."
    assert sample["messages"][2]["content"] == "Monday." and sample["messages"][-1]["content"] == "Tuesday."


def test_llamafactory_sharegpt_images_and_tool_calls(tmp_path, lf_dir):
    folder, _, rows = _build(
        tmp_path, "agent", [_lf("mllm_demo", lf_dir), _lf("glaive_toolcall_en_demo", lf_dir)]
    )
    (mllm,) = rows["lf_mllm_demo"]
    images = [
        b
        for m in mllm["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "image"
    ]
    assert len(images) == 2 and all((folder / b["image"]).is_file() for b in images)
    assert mllm["messages"][2]["content"][0] == {"type": "text", "text": "What colour is it?"}
    (call,) = rows["lf_glaive_toolcall_en_demo"]
    assert call["tools"][0]["function"]["name"] == "convert"
    assert call["messages"][1]["tool_calls"] == [
        {"name": "convert", "arguments": {"amount": 100, "to": "EUR"}}
    ]
    assert [m["role"] for m in call["messages"]] == ["user", "assistant", "tool", "assistant"]


def test_a_video_file_is_sampled_into_frames_with_its_rate(tmp_path, lf_dir):
    folder, _, rows = _build(tmp_path, "instruct", [_lf("mllm_video_demo", lf_dir)], "data.video_fps=2")
    (video,) = [b for b in rows["lf_mllm_video_demo"][0]["messages"][0]["content"] if b["type"] == "video"]
    frames = sorted((folder / video["video"]).iterdir())
    # 20 frames at 10 fps = 2 s; 2 per second -> 4 frames (qwen-vl-utils' minimum, an even count)
    assert len(frames) == 4 and video["fps"] == pytest.approx(2.0)
    brightness = [np.asarray(Image.open(f)).mean() for f in frames]
    assert brightness == sorted(brightness) and brightness[-1] > brightness[0] + 100  # in playback order


def test_a_corrupt_video_names_its_file(tmp_path, lf_dir):
    (lf_dir / "mllm_demo_data" / "1.mp4").write_bytes(b"\0" * 2000)
    with pytest.raises(DataError, match=r"mllm_video_demo\.json:\d+: video .*1\.mp4: cannot decode"):
        _build(tmp_path, "instruct", [_lf("mllm_video_demo", lf_dir)])


def test_on_invalid_drop_skips_and_counts_a_sample_that_breaks_its_schema(tmp_path, lf_dir):
    broken = json.loads(json.dumps(GLAIVE[0]))
    broken["conversations"][1]["value"] = '{"name": "convert", "arguments": {"amount": [1, 2], "to": "EUR"}}'
    (lf_dir / "glaive.json").write_text(json.dumps([GLAIVE[0], broken, GLAIVE[0]], indent=2))
    with pytest.raises(DataError, match=r"glaive\.json:\d+: .*amount.*is not of type 'number'"):
        _build(tmp_path, "agent", [_lf("glaive_toolcall_en_demo", lf_dir)])
    folder, manifest, rows = _build(
        tmp_path, "agent", [_lf("glaive_toolcall_en_demo", lf_dir, on_invalid="drop")]
    )
    assert len(rows["lf_glaive_toolcall_en_demo"]) == 2
    (dropped,) = manifest["sources"]["lf_glaive_toolcall_en_demo"]["dropped_invalid"].items()
    assert dropped[1] == 1 and "is not of type" in dropped[0]
    assert "dropped 1 invalid sample(s)" in summary(folder, manifest)


def test_typed_blocks_keep_reasoning_and_tool_calls_for_the_thinking_variant(tmp_path):
    path = tmp_path / "reason_tool_use.jsonl"
    path.write_text(json.dumps(TYPED) + "\n")
    _, _, rows = _build(tmp_path, "thinking", [{"name": "typed", "path": str(path), "eval_fraction": 0}])
    (sample,) = rows["typed"]
    first, last = sample["messages"][1], sample["messages"][3]
    assert first["reasoning_content"].startswith("The user wants") and first["content"] == ""
    assert first["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert last["reasoning_content"] == "It is 21." and last["content"] == "21 degrees."
    params = sample["tools"][0]["function"]["parameters"]
    assert params["type"] == "object" and params["properties"]["city"]["type"] == "string"


def test_a_turn_with_loss_weight_0_is_context_not_supervised(tiny_base):
    from zen_vl.base.load import load_processor
    from zen_vl.chat import IGNORE_INDEX, render
    from zen_vl.data.llamafactory import from_typed_blocks

    def turn(role, text, weight):
        return {"role": role, "content": [{"type": "text", "value": text}], "loss_weight": weight}

    record = {"messages": [turn("user", "hi", 0.0), turn("assistant", "FIRST ANSWER", 0.0),
                           turn("user", "again", 0.0), turn("assistant", "SECOND ANSWER", 1.0)]}  # fmt: skip
    sample = from_typed_blocks(record, "v1_sft_demo.jsonl:1")
    assert sample["messages"][1]["loss"] is False and "loss" not in sample["messages"][3]
    processor = load_processor(tiny_base)
    batch = render(sample, processor)
    labels = batch["labels"][0]
    supervised = processor.tokenizer.decode(labels[labels != IGNORE_INDEX])
    assert "SECOND ANSWER" in supervised and "FIRST ANSWER" not in supervised
    everything = {**record, "messages": [{**m, "loss_weight": 0.0} for m in record["messages"]]}
    from zen_vl.data.schema import sample_problems

    assert "nothing to learn" in " ".join(
        sample_problems(from_typed_blocks(everything, "x"), media_root=None)
    )


def test_ms_swift_and_openai_messages(tmp_path):
    Image.new("RGB", (32, 32), "blue").save(tmp_path / "blue.png")
    tools = [{"type": "function", "function": {"name": "realtime_aqi", "description": "AQI",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip
    swift = {  # Custom-dataset.md: tool_call / tool_response roles, tools as a JSON string, <image> + images
        "tools": json.dumps(tools),
        "messages": [
            {"role": "user", "content": "<image>Air quality in Beijing and Shanghai?"},
            {"role": "tool_call", "content": '{"name": "realtime_aqi", "arguments": {"city": "Beijing"}}'},
            {"role": "tool_call", "content": '{"name": "realtime_aqi", "arguments": {"city": "Shanghai"}}'},
            {"role": "tool_response", "content": '{"aqi": 10}'},
            {"role": "tool_response", "content": '{"aqi": 72}'},
            {"role": "assistant", "content": "Beijing 10, Shanghai 72."},
        ],
        "images": ["blue.png"],
    }
    openai = {  # Chat Completions: function wrapper, JSON-string arguments, content null, image_url blocks
        "tools": tools,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "blue.png"}},
                    {"type": "text", "text": "AQI here?"},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "realtime_aqi", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"aqi": 30}'},
            {"role": "assistant", "content": "30."},
        ],
    }
    (tmp_path / "swift.jsonl").write_text(json.dumps(swift) + "\n")
    (tmp_path / "openai.jsonl").write_text(json.dumps(openai) + "\n")
    folder, _, rows = _build(
        tmp_path,
        "agent",
        [{"name": n, "path": str(tmp_path / f"{n}.jsonl"), "eval_fraction": 0} for n in ("swift", "openai")],
    )
    (s,), (o,) = rows["swift"], rows["openai"]
    assert [m["role"] for m in s["messages"]] == ["user", "assistant", "tool", "tool", "assistant"]
    assert [c["arguments"]["city"] for c in s["messages"][1]["tool_calls"]] == ["Beijing", "Shanghai"]
    assert (
        s["messages"][0]["content"][0]["type"] == "image"
        and (folder / s["messages"][0]["content"][0]["image"]).is_file()
    )
    assert o["messages"][1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"name": "realtime_aqi", "arguments": {"city": "Paris"}}],
    }
    assert o["messages"][2] == {"role": "tool", "content": '{"aqi": 30}'}


def test_pixel_coordinates_become_thousandths(tmp_path):
    Image.new("RGB", (200, 100), "white").save(tmp_path / "screen.png")
    row = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image", "image": "screen.png"}, {"type": "text", "text": "Find it."}],
            },
            {"role": "assistant", "content": '[{"bbox_2d": [20, 10, 100, 50], "label": "OK"}]'},
        ]
    }
    (tmp_path / "px.jsonl").write_text(json.dumps(row) + "\n")
    _, manifest, rows = _build(
        tmp_path,
        "instruct",
        [{"name": "px", "path": str(tmp_path / "px.jsonl"), "eval_fraction": 0, "coords": "pixels"}],
    )
    assert json.loads(rows["px"][0]["messages"][1]["content"])[0]["bbox_2d"] == [100, 100, 500, 500]
    assert manifest["sources"]["px"]["coords_converted"] == 1


def test_files_with_a_bom_are_read_and_other_encodings_name_the_line(tmp_path):
    good = json.dumps(
        {"messages": [{"role": "user", "content": "héllo"}, {"role": "assistant", "content": "hi"}]},
        ensure_ascii=False,
    )
    (tmp_path / "bom.jsonl").write_bytes(("\ufeff" + good + "\n").encode())
    assert [r["messages"][0]["content"] for _, r in read_jsonl(tmp_path / "bom.jsonl")] == ["héllo"]
    (tmp_path / "latin.jsonl").write_bytes((good + "\n").encode() + good.encode("latin-1") + b"\n")
    with pytest.raises(DataError, match=r"latin\.jsonl:2: not UTF-8 \(byte 0xe9"):
        list(read_jsonl(tmp_path / "latin.jsonl"))
    (tmp_path / "array.json").write_text('[\n  {"a": 1},\n  {"a": }\n]')
    with pytest.raises(DataError, match=r"array\.json:3: not valid JSON"):
        list(read_jsonl(tmp_path / "array.json"))


def test_a_dataset_info_entry_that_cannot_be_read_says_why(tmp_path, lf_dir):
    with pytest.raises(DataError, match=r"no dataset 'nope'; it has alpaca_demo, alpaca_en"):
        _build(tmp_path, "instruct", [_lf("nope", lf_dir)])
    with pytest.raises(DataError, match=r"'alpaca_en' has no file_name \(it is remote: hf_hub_url"):
        _build(tmp_path, "instruct", [_lf("alpaca_en", lf_dir)])
    with pytest.raises(ConfigError, match=r"needs path .* and dataset"):
        load_config("tiny", "instruct", ["data.sources=[{name: x, format: llamafactory, path: a.json}]"])


def test_make_data_builds_a_llamafactory_dataset_as_shipped(tmp_path, lf_dir):
    """Through scripts/build_data.py (what `make data` runs), the source given on the command line."""
    source = f"data.sources=[{{name: mllm, format: llamafactory, path: {lf_dir / 'dataset_info.json'}, dataset: mllm_demo, eval_fraction: 0}}]"
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path / "root"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "scripts/build_data.py", "--variant", "instruct", *SMALL, source],
        cwd=REPO, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert (
        "mllm" in run.stdout
        and (tmp_path / "root" / "data" / "instruct" / "tiny" / "manifest.json").is_file()
    )
