"""Score one generated answer against a test sample's ground truth (`meta.answer`, `meta.task`).

Every rule is strict enough that a verbose answer naming several candidates is wrong: a closed-set
answer (colour, left/right, yes/no, direction) must name the right member and no other one.
The rules are checked against the reference answers of every built test set (all score 1.0).
"""

from __future__ import annotations

import json
import re

from zen_vl.data.draw import COLOURS
from zen_vl.data.identity import OTHER_MODELS

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

# Other assistants a Zen model must never claim to be (the generator's negatives and a few more).
OTHER_NAMES = sorted(
    {*OTHER_MODELS, "GPT", "OpenAI", "Tongyi", "通义千问", "千问", "DeepSeek", "Mistral"}, key=len
)
_OTHER = "|".join(re.escape(n) for n in reversed(OTHER_NAMES))
# "I am X" in the identity languages; negated forms ("I'm not X", "no soy X", "私はXではありません") are
# not claims.
_CLAIMS = [
    re.compile(rf"(?i)\b(?:I am|I'm|my name is|this is)\s+(?:an?\s+|the\s+)?({_OTHER})"),
    re.compile(rf"(?:我是|我叫)\s*({_OTHER})"),
    re.compile(rf"(?i)(?<!no )\b(?:soy|me llamo)\s+({_OTHER})"),
    re.compile(rf"(?i)\b(?:je suis|je m'appelle)\s+({_OTHER})"),
    re.compile(rf"(?i)\b(?:ich bin|ich heiße)\s+({_OTHER})"),
    re.compile(rf"私は\s*({_OTHER})(?!\S*では(?:ありません|ない))"),
]

CLOSED_SETS = {
    "colour": sorted(COLOURS),
    "colour_probe": sorted(COLOURS),
    "position": ["left", "right"],
    "count_compare": ["yes", "no"],
}
DIRECTION = re.compile(r"(?:from (?:the )?)?(\w+) to (?:the )?(\w+)", re.IGNORECASE)
_INT = re.compile(r"(?<![\w.])-?\d+(?![\w.]\d)")


def split_thinking(text: str, thinking: bool) -> tuple[str | None, str, bool]:
    """(reasoning, answer, form_valid). Under the Thinking template the prompt already opens <think>,
    so a valid output is `reasoning </think> answer` with both parts non-empty and one close tag."""
    if not thinking:
        answer = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL).strip()
        return None, answer, True
    body = text.removeprefix(THINK_OPEN).lstrip()
    if body.count(THINK_CLOSE) != 1 or THINK_OPEN in body:
        return None, body.split(THINK_CLOSE)[-1].strip() if THINK_CLOSE in body else "", False
    reasoning, answer = (part.strip() for part in body.split(THINK_CLOSE))
    return reasoning, answer, bool(reasoning and answer)


def claimed_other_model(text: str) -> str | None:
    """The other model the text claims to be ("I am ChatGPT"), or None."""
    for pattern in _CLAIMS:
        m = pattern.search(text)
        if m:
            return m.group(1)
    return None


def _words(text: str) -> str:
    return " " + re.sub(r"[^\w]+", " ", text.casefold()) + " "


def mentions(text: str, phrase: str) -> bool:
    """The phrase appears as whole words (case-insensitive)."""
    return f" {_words(phrase).strip()} " in _words(text)


def integers(text: str) -> list[int]:
    return [int(v) for v in _INT.findall(text.replace("\u00d7", " "))]


def grounding_point(text: str) -> tuple[list[float] | None, list[float] | None]:
    """(point, box) from a Qwen-style `[{"point_2d": [x, y]}]` or `[{"bbox_2d": [x1, y1, x2, y2]}]`
    answer (fenced or not); the point of a box is its centre."""
    m = re.search(r"\[\s*\{.*\}\s*\]|\{.*\}", text, re.DOTALL)
    if not m:
        return None, None
    try:
        data = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None, None
    item = data[0] if isinstance(data, list) and data else data
    if not isinstance(item, dict):
        return None, None
    for key, size in (("point_2d", 2), ("bbox_2d", 4)):
        v = item.get(key)
        if isinstance(v, list) and len(v) == size and all(isinstance(x, int | float) for x in v):
            if size == 2:
                return [float(x) for x in v], None
            return [(v[0] + v[2]) / 2, (v[1] + v[3]) / 2], [float(x) for x in v]
    return None, None


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def in_box(point: list[float], box: list[float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def answer_correct(task: str, answer, text: str) -> bool | None:
    """Whether `text` gives the ground-truth `answer` of a task; None when the task has no single
    right answer (a greeting)."""
    if answer is None:
        return None
    if task == "video_direction":
        start, end = answer.split(" to ")
        found = [(a.casefold(), b.casefold()) for a, b in DIRECTION.findall(text)]
        return found[:1] == [(start, end)]
    if isinstance(answer, int):
        found = integers(text)
        return bool(found) and found[-1] == answer
    if isinstance(answer, list) and all(isinstance(v, int) for v in answer):
        found = integers(text)
        return found[-len(answer) :] == answer if answer else not found
    if isinstance(answer, list):
        return all(mentions(text, str(v)) for v in answer)
    answer = str(answer)
    if task in CLOSED_SETS:
        others = [c for c in CLOSED_SETS[task] if c != answer.casefold()]
        return mentions(text, answer) and not any(mentions(text, o) for o in others)
    return mentions(text, answer)
