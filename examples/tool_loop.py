"""A tool-calling loop: the agent model reads a screenshot, calls a tool in Qwen3's <tool_call>
format, we execute it and feed the result back as a `tool` message, until it answers in text.

python examples/tool_loop.py MODEL_DIR SCREENSHOT ["request"]
e.g. python examples/tool_loop.py agent/finetuned/tiny/merged dialog.png "Confirm this dialog."
"""

import contextlib
import json
import re
import sys

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "click",
            "description": "Click a point on the screen.",
            "parameters": {
                "type": "object",
                "additionalProperties": False,
                "required": ["coordinate"],
                "properties": {
                    "coordinate": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 0, "maximum": 1000},
                        "minItems": 2,
                        "maxItems": 2,
                        "description": "[x, y] on the screenshot in relative coordinates from 0 to 1000",
                    }
                },
            },
        },
    }
]


def click(coordinate):  # a stand-in for a real GUI driver
    return {"status": "ok", "clicked": coordinate}


def run(
    model_dir: str, screenshot: str, request: str = "Confirm this dialog.", max_turns: int = 3
) -> list[dict]:
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype="auto", device_map="auto").eval()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": Image.open(screenshot).convert("RGB")},
                {"type": "text", "text": request},
            ],
        }
    ]
    for _ in range(max_turns):
        inputs = processor.apply_chat_template(
            messages,
            tools=TOOLS,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        ).to(model.device)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=96, do_sample=False)
        text = processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        calls = []
        for body in re.findall(r"<tool_call>\s*(.*?)\s*</tool_call>", text, re.DOTALL):
            with contextlib.suppress(json.JSONDecodeError):
                calls.append(json.loads(body))
        if not calls:
            messages.append({"role": "assistant", "content": text.strip()})
            break
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"type": "function", "function": {"name": c["name"], "arguments": c.get("arguments", {})}}
                    for c in calls
                ],
            }
        )
        for c in calls:
            result = (
                click(**c.get("arguments", {}))
                if c["name"] == "click"
                else {"error": f"unknown tool {c['name']}"}
            )
            messages.append({"role": "tool", "content": json.dumps(result)})
    return messages


if __name__ == "__main__":
    for m in run(*sys.argv[1:4])[1:]:
        print(m["role"], json.dumps(m.get("tool_calls") or m["content"], ensure_ascii=False))
