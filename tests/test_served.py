"""The served-model path's pure parts: test prompts as OpenAI chat requests, server replies back in the
model's text format (scored by the same rules), and the task-parity verdicts of make gguf / make mlx."""

from __future__ import annotations

import base64
import json

import pytest
from PIL import Image

from zen_vl.config import load_config
from zen_vl.errors import ZenError
from zen_vl.evaluate.served import answer_text, chat_request, tool_runs_as_user
from zen_vl.evaluate.task_parity import verdicts


def test_a_prompt_becomes_a_chat_request_with_its_image_tools_and_history(tmp_path):
    Image.new("RGB", (8, 8), "red").save(tmp_path / "s.png")
    tools = [{"type": "function", "function": {"name": "click", "parameters": {"type": "object"}}}]
    prompt = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image", "image": "s.png"}, {"type": "text", "text": "Click OK"}],
            },
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"name": "click", "arguments": {"coordinate": [1, 2]}}],
            },
            {"role": "tool", "content": "clicked"},
        ],
        "tools": tools,
    }
    req = chat_request(prompt, tmp_path, 32)
    image, text = req["messages"][0]["content"]
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    assert base64.b64decode(image["image_url"]["url"].split(",", 1)[1]) == (tmp_path / "s.png").read_bytes()
    assert text == {"type": "text", "text": "Click OK"}
    call = req["messages"][1]["tool_calls"][0]["function"]
    assert call["name"] == "click" and json.loads(call["arguments"]) == {"coordinate": [1, 2]}
    assert req["tools"] == tools and req["temperature"] == 0.0 and req["max_tokens"] == 32
    video = {"messages": [{"role": "user", "content": [{"type": "video", "video": ["a.png"]}]}]}
    assert chat_request(video, tmp_path, 8) is None  # the servers take images only
    with pytest.raises(ZenError, match=r"\.bmp cannot be sent"):
        (tmp_path / "x.bmp").write_bytes(b"x")
        chat_request(
            {"messages": [{"role": "user", "content": [{"type": "image", "image": "x.bmp"}]}]}, tmp_path, 8
        )


EPISODE_TURNS = [
    {"role": "user", "content": [{"type": "image", "image": "a.png"}, {"type": "text", "text": "Delete it, then close."}]},
    {"role": "assistant", "content": "", "tool_calls": [{"name": "click", "arguments": {"coordinate": [1, 2]}},
                                                        {"name": "click", "arguments": {"coordinate": [3, 4]}}]},
    {"role": "tool", "content": "Delete: File deleted."},
    {"role": "tool", "content": [{"type": "image", "image": "b.png"}, {"type": "text", "text": "OK: closed."}]},
    {"role": "assistant", "content": "", "tool_calls": [{"name": "click", "arguments": {"coordinate": [5, 6]}}]},
    {"role": "tool", "content": "error: nothing there"},
]  # fmt: skip


@pytest.mark.parametrize("variant", ["instruct", "thinking"])
def test_tool_screenshots_sent_as_user_turns_render_the_same_prompt(variant, tiny_base, tmp_path):
    """mlx_vlm.server passes images from user messages only: a run of tool responses with a
    screenshot goes as one user turn, which Qwen3-VL's template (instruct and thinking) renders to
    the same prompt text, and mlx_vlm's own prompt builder too."""
    import copy

    from mlx_vlm.prompt_utils import apply_chat_template
    from mlx_vlm.server.request_normalization import _chat_message_to_prompt
    from transformers import AutoProcessor

    from zen_vl.base.download import ensure_base
    from zen_vl.paths import Layout

    folder = ensure_base(load_config("tiny", variant), Layout(tiny_base.parents[1]))
    processor = AutoProcessor.from_pretrained(folder)
    turns = copy.deepcopy(EPISODE_TURNS)
    rewritten = tool_runs_as_user(turns)
    assert [m["role"] for m in rewritten] == ["user", "assistant", "user", "assistant", "tool"]
    assert rewritten[-1] == turns[-1]  # no image in that run: left as it was
    hf = processor.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
    assert hf.count("<|image_pad|>") == 2 and hf.count("<tool_response>") == 3
    assert hf.endswith("<think>\n") == (variant == "thinking")  # each base's own template
    assert processor.apply_chat_template(rewritten, add_generation_prompt=True, tokenize=False) == hf
    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8), "red").save(tmp_path / name)
    req = chat_request({"messages": turns}, tmp_path, 8, tool_images_in_user=True)
    assert [m["role"] for m in req["messages"]] == ["user", "assistant", "user", "assistant", "tool"]
    served = [_chat_message_to_prompt(m) for m in req["messages"]]
    assert apply_chat_template(processor, {"model_type": "qwen3_vl"}, served, num_images=2) == hf


def test_a_reply_is_written_back_in_the_models_format():
    reply = {
        "content": "Done.",
        "reasoning_content": "The OK button is at the bottom.",
        "tool_calls": [
            {"type": "function", "function": {"name": "click", "arguments": '{"coordinate": [5, 6]}'}}
        ],
    }
    text = answer_text(reply)
    assert text.startswith("<think>\nThe OK button is at the bottom.\n</think>\n\nDone.\n<tool_call>\n")
    block = text.split("<tool_call>\n")[1].split("\n</tool_call>")[0]
    assert json.loads(block) == {"name": "click", "arguments": {"coordinate": [5, 6]}}
    assert answer_text({"content": "Zen VL"}) == "Zen VL"


def test_task_parity_fails_an_export_beyond_its_margin():
    cfg = load_config("tiny", "agent", ["export.task_metric=calls/ast_accuracy"])
    metric = lambda v: {"calls/ast_accuracy": {"value": v, "n": 66, "higher_is_better": True}}  # noqa: E731
    results = {
        "models": {
            "finetuned": {"format": "hf", "metrics": metric(0.90)},
            "gguf:F16": {"format": "gguf", "metrics": metric(0.88)},
            "gguf:Q8_0": {"format": "gguf", "metrics": metric(0.80)},
            "gguf:Q4_K_M": {"format": "gguf", "metrics": metric(0.80)},
            "mlx:4bit": {"format": "mlx", "metrics": {}},
        }
    }
    got = verdicts(cfg, results, "gguf")
    assert {k: v["passed"] for k, v in got.items()} == {
        "gguf:F16": True,
        "gguf:Q8_0": False,
        "gguf:Q4_K_M": True,
    }
    assert got["gguf:Q8_0"]["margin"] == 0.05 and got["gguf:Q4_K_M"]["margin"] == 0.15
    assert verdicts(cfg, results, "mlx")["mlx:4bit"] == {
        **verdicts(cfg, results, "mlx")["mlx:4bit"],
        "export": 0.0,
        "passed": False,
    }
    cfg = load_config("tiny", "agent", ["export.task_metric=visual/colour"])
    with pytest.raises(ZenError, match=r"export\.task_metric=visual/colour"):
        verdicts(cfg, results, "gguf")


# A server that logs 256 KiB to stderr on every request (llama-server logs each slot's work), to check
# that nothing waits on a log nobody reads.
CHATTY = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        sys.stderr.write("x" * 262144 + "\\n"); sys.stderr.flush()
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_a_server_that_logs_a_lot_keeps_answering(tmp_path):
    import sys
    import urllib.request

    from zen_vl.export.llama_server import free_port, local_server

    port = free_port()
    cmd = [sys.executable, "-c", CHATTY, str(port)]
    with local_server(cmd, f"http://127.0.0.1:{port}", "chatty server", wait_s=30) as url:
        for _ in range(4):  # 1 MiB of log in all: a pipe would have blocked the server at 64 KiB
            with urllib.request.urlopen(f"{url}/health", timeout=10) as r:
                assert r.read() == b"ok"


def test_a_server_that_exits_at_once_is_named_with_its_log():
    import sys

    from zen_vl.export.llama_server import local_server

    cmd = [sys.executable, "-c", "import sys; sys.stderr.write('no model file'); sys.exit(3)"]
    server = local_server(cmd, "http://127.0.0.1:9", "broken server", wait_s=30)
    with pytest.raises(ZenError, match=r"(?s)broken server exited 3.*no model file"), server:
        pass
