"""chat.render is the one owner of masking: decode what is supervised, for every conversation shape."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from zen_vl.base.tiny import build_processor
from zen_vl.chat import IGNORE_INDEX, SampleTooLong, render
from zen_vl.config import load_config

IMAGE_PAD, VIDEO_PAD = 151655, 151656
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "click",
            "description": "Click a point on the screen",
            "parameters": {
                "type": "object",
                "properties": {"coordinate": {"type": "array", "items": {"type": "integer"}}},
                "required": ["coordinate"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "type_text",
            "description": "Type text into the focused field",
            "parameters": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        },
    },
]


def _img(colour):
    return Image.new("RGB", (96, 64), colour)


def _text(t):
    return {"type": "text", "text": t}


SYSTEM = {"role": "system", "content": [_text("SYSTEM-PROMPT about Zen")]}

SHAPES = {
    "plain": (
        [
            SYSTEM,
            {"role": "user", "content": [_text("USER-ASK who are you")]},
            {"role": "assistant", "content": "ASSISTANT-I am Zen VL."},
        ],
        None,
    ),
    "one-image": (
        [
            {"role": "user", "content": [{"type": "image", "image": _img("red")}, _text("USER-ASK colour")]},
            {"role": "assistant", "content": "ASSISTANT-red"},
        ],
        None,
    ),
    "several-images": (
        [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": _img("red")},
                    {"type": "image", "image": _img("blue")},
                    _text("USER-ASK compare"),
                ],
            },
            {"role": "assistant", "content": "ASSISTANT-first red, second blue"},
        ],
        None,
    ),
    "video": (
        [
            {
                "role": "user",
                "content": [
                    {"type": "video", "video": [_img((i * 60, 0, 0)) for i in range(4)], "fps": 2},
                    _text("USER-ASK what moves"),
                ],
            },
            {"role": "assistant", "content": "ASSISTANT-the square moves right"},
        ],
        None,
    ),
    "multi-turn": (
        [
            SYSTEM,
            {"role": "user", "content": [_text("USER-ASK one")]},
            {"role": "assistant", "content": "ASSISTANT-first"},
            {"role": "user", "content": [{"type": "image", "image": _img("green")}, _text("USER-ASK two")]},
            {"role": "assistant", "content": "ASSISTANT-second"},
        ],
        None,
    ),
    "tool-call-and-response": (
        [
            SYSTEM,
            {
                "role": "user",
                "content": [{"type": "image", "image": _img("white")}, _text("USER-ASK press OK")],
            },
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"name": "click", "arguments": {"coordinate": [500, 812]}}],
            },
            {"role": "tool", "content": "TOOL-RESPONSE clicked"},
            {"role": "assistant", "content": "ASSISTANT-done"},
        ],
        TOOLS,
    ),
    "parallel-calls": (
        [
            {
                "role": "user",
                "content": [{"type": "image", "image": _img("white")}, _text("USER-ASK fill and submit")],
            },
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"name": "type_text", "arguments": {"text": "Ada"}},
                    {"name": "click", "arguments": {"coordinate": [120, 40]}},
                ],
            },
        ],
        TOOLS,
    ),
    "no-tool-fits": (
        [
            {"role": "user", "content": [_text("USER-ASK tell a joke")]},
            {"role": "assistant", "content": "ASSISTANT-no tool needed"},
        ],
        TOOLS,
    ),
}


@pytest.fixture(scope="module")
def processors():
    return {flavor: build_processor(flavor) for flavor in ("instruct", "thinking")}


def _assistant_strings(messages):
    out = []
    for m in messages:
        if m["role"] != "assistant":
            continue
        if m.get("content"):
            out.append(m["content"])
        for call in m.get("tool_calls", []):
            out.append(f'"name": "{call["name"]}"')
    return out


def _context_strings(messages):
    out = []
    for m in messages:
        if m["role"] == "assistant":
            continue
        content = m["content"]
        out.extend(
            [content] if isinstance(content, str) else [b["text"] for b in content if b.get("type") == "text"]
        )
    return out


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("flavor", ["instruct", "thinking"])
def test_supervised_tokens_are_exactly_the_assistant_turns(processors, shape, flavor):
    processor = processors[flavor]
    messages, tools = SHAPES[shape]
    cfg = load_config("tiny", "instruct")
    out = render(
        {"messages": messages, "tools": tools}, processor, processor_kwargs=cfg.vision.processor_kwargs
    )
    ids, labels = out["input_ids"][0], out["labels"][0]
    assert ids.shape == labels.shape
    mask = labels != IGNORE_INDEX
    assert torch.equal(labels[mask], ids[mask])
    supervised = processor.tokenizer.decode(ids[mask])
    for s in _assistant_strings(messages):
        assert s in supervised, f"{s!r} not supervised in {supervised!r}"
    for s in _context_strings(messages):
        assert s not in supervised, f"{s!r} must not be supervised"
    assert not mask[(ids == IMAGE_PAD) | (ids == VIDEO_PAD)].any(), "vision tokens supervised"
    n_turns = sum(m["role"] == "assistant" for m in messages)
    assert supervised.count("<|im_end|>") == n_turns  # each turn's closing token is learned
    assert "<|im_start|>" not in supervised and "system" not in supervised
    if any(
        isinstance(m["content"], list) and any(b.get("type") == "image" for b in m["content"])
        for m in messages
    ):
        assert int((ids == IMAGE_PAD).sum()) == int(out["image_grid_thw"].prod(-1).sum()) // 4
    if shape == "video":
        assert "pixel_values_videos" in out and int((ids == VIDEO_PAD).sum()) > 0


def test_thinking_supervises_reasoning_but_not_the_generation_prompt(processors):
    processor = processors["thinking"]
    messages = [
        {"role": "user", "content": [{"type": "image", "image": _img("red")}, _text("USER-ASK how many")]},
        {"role": "assistant", "content": "ANSWER-3", "reasoning_content": "REASON-count one two three"},
    ]
    out = render({"messages": messages}, processor)
    ids, labels = out["input_ids"][0], out["labels"][0]
    supervised = processor.tokenizer.decode(ids[labels != IGNORE_INDEX])
    assert supervised == "REASON-count one two three\n</think>\n\nANSWER-3<|im_end|>"


def test_instruct_supervision_starts_right_after_the_header(processors):
    processor = processors["instruct"]
    messages = SHAPES["plain"][0]
    out = render({"messages": messages}, processor)
    supervised = processor.tokenizer.decode(out["input_ids"][0][out["labels"][0] != IGNORE_INDEX])
    assert supervised == "ASSISTANT-I am Zen VL.<|im_end|>"


@pytest.mark.parametrize("shape", [s for s in SHAPES if s != "video"])
def test_render_equals_the_processors_own_apply_chat_template(processors, shape):
    processor = processors["instruct"]
    messages, tools = SHAPES[shape]
    cfg = load_config("tiny", "instruct")
    ours = render(
        {"messages": messages, "tools": tools}, processor, processor_kwargs=cfg.vision.processor_kwargs
    )
    theirs = processor.apply_chat_template(
        messages,
        tools=tools,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs=cfg.vision.processor_kwargs,
    )
    assert torch.equal(ours["input_ids"], theirs["input_ids"])
    for key in ("pixel_values", "image_grid_thw", "mm_token_type_ids"):
        if key in theirs:
            assert torch.equal(ours[key], theirs[key]), key


def test_generation_prompt_mode_leaves_the_turn_open(processors):
    processor = processors["thinking"]
    out = render({"messages": SHAPES["one-image"][0][:1]}, processor, add_generation_prompt=True)
    text = processor.tokenizer.decode(out["input_ids"][0])
    assert text.endswith("<|im_start|>assistant\n<think>\n")
    assert (out["labels"] == IGNORE_INDEX).all()


def test_an_over_long_sample_is_refused_not_cut(processors):
    with pytest.raises(SampleTooLong, match="max_length 16"):
        render({"id": "s1", "messages": SHAPES["one-image"][0]}, processors["instruct"], max_length=16)


def test_a_video_folder_renders_like_its_frames(processors, tmp_path):
    frames = [_img((i * 60, 0, 0)) for i in range(4)]
    for i, frame in enumerate(frames):
        frame.save(tmp_path / f"frame_{i:03d}.png")

    def sample(video):
        content = [{"type": "video", "video": video, "fps": 2}, _text("USER-ASK what moves")]
        return {"messages": [{"role": "user", "content": content}, {"role": "assistant", "content": "right"}]}

    from_folder = render(sample("."), processors["instruct"], media_root=tmp_path)
    from_frames = render(sample(frames), processors["instruct"])
    assert torch.equal(from_folder["input_ids"], from_frames["input_ids"])
    assert torch.equal(from_folder["pixel_values_videos"], from_frames["pixel_values_videos"])


# --- multi-turn thinking: trained as inference renders it ----------------------------------------------

MULTI_QUERY = [
    SYSTEM,
    {"role": "user", "content": [{"type": "image", "image": _img("red")}, _text("USER-ASK one")]},
    {"role": "assistant", "content": "ANSWER-one", "reasoning_content": "REASON-one"},
    {"role": "user", "content": [_text("USER-ASK two")]},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "REASON-two-call",
        "tool_calls": [{"name": "click", "arguments": {"coordinate": [500, 812]}}],
    },
    {"role": "tool", "content": "TOOL-RESPONSE clicked"},
    {"role": "assistant", "content": "ANSWER-two", "reasoning_content": "REASON-two-done"},
    {"role": "user", "content": [_text("USER-ASK three")]},
    {"role": "assistant", "content": "ANSWER-three", "reasoning_content": "REASON-three"},
]


@pytest.mark.parametrize("tools", [None, TOOLS], ids=["plain", "with-tools"])
def test_multi_turn_thinking_supervises_each_turn_once_with_its_reasoning(processors, tools):
    from zen_vl.chat import training_views

    processor = processors["thinking"]
    sample = {"messages": MULTI_QUERY, "tools": tools}
    views = training_views(sample, processor)
    assert len(views) == 3  # one rendering per user query
    seen = []
    for (view, skip), expected in zip(views, (["one"], ["two-call", "two-done"], ["three"]), strict=True):
        out = render(view, processor, skip_turns=skip)
        ids, labels = out["input_ids"][0], out["labels"][0]
        supervised = processor.tokenizer.decode(ids[labels != IGNORE_INDEX])
        for tag in expected:  # this query's turns, each with its reasoning in a think block
            assert f"REASON-{tag}\n</think>" in supervised, supervised
        others = {"one", "two-call", "two-done", "three"} - set(expected)
        assert not any(f"REASON-{t}" in supervised for t in others)
        assert not any(s in supervised for s in _context_strings(view["messages"]))
        seen += expected
        if tools is not None and "two-call" in expected:
            assert '"name": "click"' in supervised
    assert sorted(seen) == ["one", "three", "two-call", "two-done"]  # every turn exactly once


def test_instruct_multi_turn_stays_one_rendering(processors):
    from zen_vl.chat import training_views

    sample = {"messages": SHAPES["multi-turn"][0]}
    assert training_views(sample, processors["instruct"]) == [(sample, 0)]


# --- the tiny Thinking template on the shapes the published one handles ----------------------------------


def _rendered(processor, messages, **kw):
    return processor.apply_chat_template(messages, tokenize=False, **kw)


def test_thinking_template_renders_a_later_system_message_in_place(processors):
    text = _rendered(
        processors["thinking"],
        [
            {"role": "user", "content": [_text("Q1")]},
            {"role": "assistant", "content": "A1"},
            {"role": "system", "content": [_text("NEW-RULE")]},
            {"role": "user", "content": [_text("Q2")]},
        ],
        add_generation_prompt=True,
    )
    assert (
        "<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>system\nNEW-RULE<|im_end|>\n<|im_start|>user\nQ2"
        in text
    )


def test_thinking_template_reads_tool_responses_in_list_content(processors):
    """A user turn made of <tool_response> text blocks is not the last query: the assistant turn
    before it keeps its reasoning."""
    text = _rendered(
        processors["thinking"],
        [
            {"role": "user", "content": [_text("Q")]},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "R-call",
                "tool_calls": [{"name": "click", "arguments": {"coordinate": [1, 2]}}],
            },
            {"role": "user", "content": [_text("<tool_response>\nok\n</tool_response>")]},
            {"role": "assistant", "content": "done", "reasoning_content": "R-done"},
        ],
    )
    assert "<think>\nR-call\n</think>" in text and "<think>\nR-done\n</think>" in text


def test_thinking_template_renders_images_in_system_and_assistant_content(processors):
    processor = processors["thinking"]
    messages = [
        {"role": "system", "content": [{"type": "image", "image": _img("red")}, _text("SYS")]},
        {"role": "user", "content": [_text("Q")]},
        {"role": "assistant", "content": [{"type": "image"}, _text("A")]},
    ]
    text = _rendered(processor, messages)
    assert text.startswith("<|im_start|>system\n<|vision_start|><|image_pad|><|vision_end|>SYS<|im_end|>")
    assert (
        "<|im_start|>assistant\n<think>\n\n</think>\n\n<|vision_start|><|image_pad|><|vision_end|>A" in text
    )
    out = render({"messages": [*messages[:2], {"role": "assistant", "content": "A"}]}, processor)
    assert int((out["input_ids"][0] == IMAGE_PAD).sum()) > 0  # the system image reaches the model
