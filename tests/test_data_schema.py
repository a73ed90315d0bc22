"""The validator catches each kind of bad sample, naming file, line and reason; adapters convert."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from zen_vl.data.adapters import from_sharegpt
from zen_vl.data.schema import DataError, read_jsonl, validate_file

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "click",
            "description": "Click at a 0-1000 coordinate",
            "parameters": {
                "type": "object",
                "properties": {
                    "coordinate": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 0, "maximum": 1000},
                    }
                },
                "required": ["coordinate"],
                "additionalProperties": False,
            },
        },
    }
]


def good_sample():
    return {
        "id": "s0",
        "tools": TOOLS,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are Zen VL."}]},
            {
                "role": "user",
                "content": [{"type": "image", "image": "img.png"}, {"type": "text", "text": "Press OK"}],
            },
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"name": "click", "arguments": {"coordinate": [10, 20]}}],
            },
            {"role": "tool", "content": "ok"},
            {"role": "assistant", "content": "Done."},
        ],
    }


@pytest.fixture
def folder(tmp_path):
    Image.new("RGB", (32, 32), "red").save(tmp_path / "img.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return tmp_path


def write(folder, *samples, raw_lines=()):
    path = folder / "train.jsonl"
    lines = [json.dumps(s) for s in samples] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_good_sample_passes(folder):
    report = validate_file(write(folder, good_sample(), good_sample()))
    assert report.samples == 2 and report.problems == []
    report.raise_if_bad()


def _mutated(fn):
    s = good_sample()
    fn(s)
    return s


BAD = {
    "unknown-role": (
        lambda s: s["messages"].insert(1, {"role": "narrator", "content": "x"}),
        "unknown role 'narrator'",
    ),
    "missing-image": (
        lambda s: s["messages"][1]["content"][0].update(image="nope.png"),
        "nope.png not found",
    ),
    "corrupt-image": (lambda s: s["messages"][1]["content"][0].update(image="broken.png"), "does not decode"),
    "undeclared-tool": (
        lambda s: s["messages"][2]["tool_calls"][0].update(name="drag"),
        "calls undeclared tool 'drag' (declared: click)",
    ),
    "args-break-schema": (
        lambda s: s["messages"][2]["tool_calls"][0].update(arguments={"coordinate": [10, 2000]}),
        "coordinate.1: 2000 is greater than the maximum of 1000",
    ),
    "missing-required-arg": (
        lambda s: s["messages"][2]["tool_calls"][0].update(arguments={}),
        "'coordinate' is a required property",
    ),
    "extra-arg": (
        lambda s: s["messages"][2]["tool_calls"][0]["arguments"].update(button="left"),
        "Additional properties are not allowed",
    ),
    "tool-without-call": (
        lambda s: s["messages"].insert(1, {"role": "tool", "content": "x"}),
        "must follow an assistant",
    ),
    "ends-with-user": (
        lambda s: s["messages"].append({"role": "user", "content": "more"}),
        "last message must be",
    ),
    "unknown-block": (
        lambda s: s["messages"][1]["content"].append({"type": "audio"}),
        "unknown block type 'audio'",
    ),
    "think-in-instruct": (
        lambda s: s["messages"][4].update(content="<think>hmm</think>Done."),
        "reasoning in a sample for the instruct template",
    ),
    "control-token-in-text": (
        lambda s: s["messages"][1]["content"][1].update(text="hi <|im_start|>assistant"),
        "control token(s) <|im_start|>",
    ),
    "empty-assistant": (lambda s: s["messages"][4].update(content=""), "empty assistant turn"),
    "no-messages": (lambda s: s.update(messages=[]), "'messages' must be a non-empty list"),
    "image-in-system": (
        lambda s: s["messages"][0].update(
            content=[{"type": "image", "image": "img.png"}, {"type": "text", "text": "x"}]
        ),
        "an image or video in a system message",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_each_kind_of_bad_sample_is_named_with_its_line(folder, case):
    mutate, reason = BAD[case]
    path = write(folder, good_sample(), _mutated(mutate))
    report = validate_file(path)
    assert report.problems, case
    assert any(p.startswith(f"{path}:2: ") and reason in p for p in report.problems), report.problems
    assert not any(p.startswith(f"{path}:1:") for p in report.problems)
    with pytest.raises(DataError, match=f"problem\\(s\\) in {path}"):
        report.raise_if_bad()


def test_reasoning_is_fine_under_the_thinking_template(folder):
    s = _mutated(lambda s: s["messages"][4].update(content="Done.", reasoning_content="I pressed OK."))
    assert validate_file(write(folder, s), template="thinking").problems == []


def test_an_image_in_a_system_message_is_fine_under_the_thinking_template(folder):
    """The Thinking template renders system images (the Instruct one drops them: refused above)."""
    s = _mutated(lambda s: s["messages"][0].update(content=[{"type": "image", "image": "img.png"}]))
    s["messages"][4].update(reasoning_content="I pressed OK.")
    assert validate_file(write(folder, s), template="thinking").problems == []


def test_a_decompression_bomb_is_refused_before_decoding(folder):
    Image.new("1", (9000, 9000)).save(folder / "bomb.png")
    s = _mutated(lambda s: s["messages"][1]["content"][0].update(image="bomb.png"))
    report = validate_file(write(folder, s))
    assert any("decompression bomb" in p for p in report.problems)


def test_malformed_json_line_is_named(folder):
    path = write(folder, good_sample(), raw_lines=['{"messages": [oops'])
    with pytest.raises(DataError, match=rf"{path}:2: not valid JSON"):
        list(read_jsonl(path))


def test_an_empty_file_is_an_error(folder):
    path = folder / "empty.jsonl"
    path.write_text("\n")
    assert validate_file(path).problems == [f"{path}: no samples"]


def test_sharegpt_with_image_tags_and_function_calls_converts_and_validates(folder):
    record = {
        "id": "sg1",
        "system": "You are Zen VL.",
        "tools": json.dumps([TOOLS[0]["function"]]),
        "images": ["img.png"],
        "conversations": [
            {"from": "human", "value": "<image>\nPress OK"},
            {
                "from": "function_call",
                "value": json.dumps({"name": "click", "arguments": {"coordinate": [1, 2]}}),
            },
            {"from": "observation", "value": "ok"},
            {"from": "gpt", "value": "Done."},
        ],
    }
    sample = from_sharegpt(record)
    assert sample["messages"][1]["content"] == [
        {"type": "image", "image": "img.png"},
        {"type": "text", "text": "Press OK"},
    ]
    assert sample["messages"][2]["tool_calls"] == [{"name": "click", "arguments": {"coordinate": [1, 2]}}]
    assert [m["role"] for m in sample["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert validate_file(write(folder, sample)).problems == []


def test_sharegpt_image_count_mismatch_is_an_error():
    with pytest.raises(DataError, match="no <image>/<video> tag"):
        from_sharegpt({"images": ["a.png"], "conversations": [{"from": "human", "value": "hi"}]})
    with pytest.raises(DataError, match="more <image> tags than images"):
        from_sharegpt({"conversations": [{"from": "human", "value": "<image> hi"}]})
