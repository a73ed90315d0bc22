"""The offline tiny Qwen3-VL is faithful: real vocabulary and template, stock processors, Hub format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from safetensors import safe_open

from zen_vl.artifacts import BASE_MANIFEST, read_manifest
from zen_vl.base.hub_format import weights_digest
from zen_vl.base.tiny import chat_template, init_model
from zen_vl.config import TinyArch, load_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def loaded(tiny_base):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_base, local_files_only=True)
    model = AutoModelForImageTextToText.from_pretrained(tiny_base, local_files_only=True).eval()
    return processor, model


def _image(colour="red") -> Image.Image:
    img = Image.new("RGB", (160, 128), "white")
    ImageDraw.Draw(img).rectangle((40, 30, 120, 100), fill=colour)
    return img


def _inputs(processor, messages, **kw):
    cfg = load_config("tiny", "instruct")
    return processor.apply_chat_template(
        messages,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs=cfg.vision.processor_kwargs,
        **kw,
    )


def test_loads_offline_with_the_auto_classes(loaded):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    processor, model = loaded
    assert isinstance(processor, Qwen3VLProcessor)
    assert isinstance(processor.image_processor, Qwen2VLImageProcessor)
    assert isinstance(processor.video_processor, Qwen3VLVideoProcessor)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    n = sum(p.numel() for p in model.parameters())
    assert 20e6 < n < 60e6, n


def test_config_json_is_in_the_hub_format(tiny_base, loaded):
    cfg = json.loads((tiny_base / "config.json").read_text())
    assert cfg["model_type"] == "qwen3_vl"
    assert cfg["architectures"] == ["Qwen3VLForConditionalGeneration"]
    assert cfg["vision_config"]["model_type"] == "qwen3_vl"
    text = cfg["text_config"]
    assert "rope_parameters" not in text
    assert text["rope_theta"] == 5000000.0
    assert text["rope_scaling"]["mrope_interleaved"] is True
    assert sum(text["rope_scaling"]["mrope_section"]) * 2 == text["head_dim"]
    assert (cfg["image_token_id"], cfg["video_token_id"]) == (151655, 151656)
    # ...and transformers reads it back into its own spelling.
    loaded_text = loaded[1].config.text_config
    assert loaded_text.rope_parameters["mrope_section"] == text["rope_scaling"]["mrope_section"]
    assert loaded_text.rope_parameters["rope_theta"] == 5000000.0
    for name in (
        "preprocessor_config.json",
        "video_preprocessor_config.json",
        "tokenizer.json",
        "chat_template.jinja",
    ):
        assert (tiny_base / name).is_file(), name


def test_real_qwen_vocabulary_and_special_ids(loaded):
    tok = loaded[0].tokenizer
    assert tok("Hello world")["input_ids"] == [9707, 1879]
    expected = {
        "<|endoftext|>": 151643,
        "<|im_start|>": 151644,
        "<|im_end|>": 151645,
        "<|vision_start|>": 151652,
        "<|image_pad|>": 151655,
        "<|video_pad|>": 151656,
        "<tool_call>": 151657,
        "<tool_response>": 151665,
        "<think>": 151667,
        "</think>": 151668,
    }
    assert {t: tok.convert_tokens_to_ids(t) for t in expected} == expected
    assert len(tok) == 151669
    # Control tokens vanish when decoding for a user; the model's tool-call tags do not.
    assert tok.decode([151644, 151657, 9707, 151645], skip_special_tokens=True) == "<tool_call>Hello"


def test_template_is_the_official_one_byte_for_byte(tiny_base):
    import trl

    official = (Path(trl.__file__).parent / "chat_templates" / "qwen3_vl.jinja").read_text()
    assert (tiny_base / "chat_template.jinja").read_text() == official
    assert len(official.encode()) == 5292


def test_template_renders_image_and_tools_as_the_official_format(loaded):
    processor, _ = loaded
    tool = {
        "type": "function",
        "function": {
            "name": "click",
            "description": "Click a point",
            "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
        },
    }
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "You are Zen VL."}]},
        {
            "role": "user",
            "content": [{"type": "image", "image": _image()}, {"type": "text", "text": "Click OK"}],
        },
        {"role": "assistant", "content": "", "tool_calls": [{"name": "click", "arguments": {"x": 1}}]},
        {"role": "tool", "content": "clicked"},
    ]
    text = processor.apply_chat_template(messages, tools=[tool], add_generation_prompt=True, tokenize=False)
    expected = (
        "<|im_start|>system\nYou are Zen VL.\n\n# Tools\n\nYou may call one or more functions to assist with "
        "the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        + json.dumps(tool, ensure_ascii=False)
        + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": '
        "<args-json-object>}\n</tool_call><|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Click OK<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "click", "arguments": {"x": 1}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nclicked\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert text == expected
    # Tokenized, the single image placeholder expands to one token per merged 32x32 patch.
    inputs = _inputs(processor, messages, tools=[tool])
    n_image_tokens = int((inputs["input_ids"] == 151655).sum())
    assert n_image_tokens == int(inputs["image_grid_thw"].prod()) // 4
    assert "mm_token_type_ids" in inputs


def test_thinking_template_opens_the_think_block_and_drops_old_reasoning():
    from zen_vl.base.tiny import build_processor

    processor = build_processor("thinking")
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "2+2?"}]},
        {"role": "assistant", "content": "4", "reasoning_content": "two plus two"},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "And now?"}]},
        {"role": "assistant", "content": "<think>\ncount them\n</think>\n\n5"},
    ]
    text = processor.apply_chat_template(messages, tokenize=False)
    assert "two plus two" not in text  # earlier turn's reasoning dropped
    assert "<|im_start|>assistant\n4<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n<think>\ncount them\n</think>\n\n5<|im_end|>\n")
    prompt = processor.apply_chat_template(messages[:3], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    assert chat_template("instruct") != chat_template("thinking")


def test_forward_and_generate_run_and_the_kv_cache_agrees(loaded):
    processor, model = loaded
    messages = [
        {"role": "user", "content": [{"type": "image", "image": _image()}, {"type": "text", "text": "Hi"}]}
    ]
    inputs = _inputs(processor, messages)
    with torch.no_grad():
        logits = model(**inputs).logits
        assert logits.shape == (*inputs["input_ids"].shape, 151936)
        assert torch.isfinite(logits).all()
        cached = model.generate(**inputs, max_new_tokens=6, do_sample=False, use_cache=True)
        uncached = model.generate(**inputs, max_new_tokens=6, do_sample=False, use_cache=False)
    assert cached.shape[1] == inputs["input_ids"].shape[1] + 6
    assert torch.equal(cached, uncached)


def test_pixels_and_deepstack_reach_the_language_model(loaded):
    processor, model = loaded
    messages = [
        {"role": "user", "content": [{"type": "image", "image": _image()}, {"type": "text", "text": "Hi"}]}
    ]
    inputs = _inputs(processor, messages)
    visual = model.model.visual
    assert len(visual.deepstack_merger_list) == 2
    with torch.no_grad():
        base = model(**inputs).logits[0, -1]
        other = model(**{**inputs, "pixel_values": torch.zeros_like(inputs["pixel_values"])}).logits[0, -1]
        saved = [m.linear_fc2.weight.clone() for m in visual.deepstack_merger_list]
        for m in visual.deepstack_merger_list:
            m.linear_fc2.weight.zero_()
        no_deepstack = model(**inputs).logits[0, -1]
        for m, w in zip(visual.deepstack_merger_list, saved, strict=True):
            m.linear_fc2.weight.copy_(w)
    assert (base - other).abs().max() > 1e-4, "blanking the pixels did not change the output"
    assert (base - no_deepstack).abs().max() > 1e-5, "DeepStack features do not reach the text layers"


def test_weights_are_deterministic_by_seed(tiny_base, loaded):
    arch = load_config("tiny", "instruct").tiny
    assert (
        weights_digest(init_model(arch).state_dict())
        == read_manifest(tiny_base, BASE_MANIFEST)["weights_sha256"]
    )
    assert weights_digest(loaded[1].state_dict()) == read_manifest(tiny_base, BASE_MANIFEST)["weights_sha256"]
    other = arch.model_copy(update={"seed": arch.seed + 1})
    assert (
        weights_digest(init_model(other).state_dict())
        != read_manifest(tiny_base, BASE_MANIFEST)["weights_sha256"]
    )


def test_moe_twin_loads_with_experts_in_the_hub_layout(tiny_moe_base):
    from transformers import AutoModelForImageTextToText

    cfg = json.loads((tiny_moe_base / "config.json").read_text())
    text = cfg["text_config"]
    assert cfg["model_type"] == "qwen3_vl_moe" and cfg["vision_config"]["model_type"] == "qwen3_vl_moe"
    assert text["num_experts"] == 4 and "num_local_experts" not in text
    hidden, inter = text["hidden_size"], text["moe_intermediate_size"]
    with safe_open(tiny_moe_base / "model.safetensors", framework="pt") as fh:
        key = next(k for k in fh.keys() if k.endswith("layers.0.mlp.experts.gate_up_proj"))  # noqa: SIM118
        assert tuple(fh.get_slice(key).get_shape()) == (4, hidden, 2 * inter)
        down = key.replace("gate_up_proj", "down_proj")
        assert tuple(fh.get_slice(down).get_shape()) == (4, inter, hidden)
    model = AutoModelForImageTextToText.from_pretrained(tiny_moe_base, local_files_only=True)
    assert type(model).__name__ == "Qwen3VLMoeForConditionalGeneration"
    # transformers converts the Hub layout back on load: the weights are the ones that were built.
    arch = TinyArch(**read_manifest(tiny_moe_base, BASE_MANIFEST)["tiny"])
    assert weights_digest(model.state_dict()) == weights_digest(init_model(arch).state_dict())


def test_a_complete_base_is_not_rebuilt(tiny_base):
    from zen_vl.base.download import ensure_base
    from zen_vl.paths import Layout

    before = (tiny_base / "model.safetensors").stat().st_mtime_ns
    layout = Layout(tiny_base.parents[1])
    assert ensure_base(load_config("tiny", "agent"), layout) == tiny_base
    assert (tiny_base / "model.safetensors").stat().st_mtime_ns == before


def test_make_download_tiny_builds_both_flavors(tmp_path):
    env = {**os.environ, "ZEN_VL_ROOT": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(["make", "-s", "download-tiny"], cwd=REPO, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for name in ("tiny", "tiny-thinking"):
        manifest = read_manifest(tmp_path / "base" / name, BASE_MANIFEST)
        assert manifest and manifest["source"] == "offline-tiny"
    assert read_manifest(tmp_path / "base" / "tiny-thinking", BASE_MANIFEST)["flavor"] == "thinking"
    assert "<think>" in (tmp_path / "base" / "tiny-thinking" / "chat_template.jinja").read_text()
    assert not list((tmp_path / "base").glob(".tmp-*"))


def test_inspect_script_reports_the_base(tiny_base):
    env = {**os.environ, "ZEN_VL_ROOT": str(tiny_base.parents[1])}
    run = subprocess.run(
        [sys.executable, "scripts/inspect_base.py", "--size", "tiny"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "Qwen3VLForConditionalGeneration" in run.stdout
    assert "<|image_pad|>=151655" in run.stdout
