"""Visual understanding, grounding and visual chain-of-thought: the metrics on reference and hand-made
answers, and the trained tiny models through `make eval`'s code path."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_runs import PROBE, THINKING_PROBE, full_mix

from zen_vl.base.tiny import build_processor
from zen_vl.config import load_config
from zen_vl.data.build import build_dataset
from zen_vl.evaluate.generate import generate
from zen_vl.evaluate.records import score
from zen_vl.evaluate.report import summarize
from zen_vl.evaluate.runner import load_cases, load_model
from zen_vl.evaluate.scoring import answer_correct, grounding_point, in_box, iou, split_thinking
from zen_vl.paths import Layout


def reference_output(expected: dict, thinking: bool) -> str:
    """What a perfect model would write for a reference assistant turn."""
    out = expected.get("content") or ""
    calls = "\n".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in expected.get("tool_calls") or [])
    out = "\n".join(p for p in (out, calls) if p)
    return f"{expected.get('reasoning_content', '')}\n</think>\n\n{out}" if thinking else out


@pytest.fixture(scope="module")
def big_test_sets(tmp_path_factory):
    """300 test samples per variant: every task of every generator."""
    processors = {f: build_processor(f) for f in ("instruct", "thinking")}
    root = tmp_path_factory.mktemp("eval-data")
    out = {}
    for variant in ("instruct", "thinking", "agent"):
        cfg = load_config(
            "tiny", variant, ["data.train=8", "data.val=0", "data.test=300", *full_mix(variant)]
        )
        folder, _ = build_dataset(cfg, Layout(root), processor=processors[cfg.template], progress=False)
        out[variant] = (cfg, load_cases(folder)[0])
    return out


@pytest.mark.parametrize("variant", ["instruct", "thinking", "agent"])
def test_every_reference_answer_scores_right_and_shuffled_ones_score_wrong(big_test_sets, variant):
    cfg, cases = big_test_sets[variant]
    thinking = cfg.template == "thinking"
    right = [
        score(c, reference_output(c.expected, thinking), thinking=thinking, name=cfg.identity.name)
        for c in cases
    ]
    wrong_ones = [
        r for r in right if r["correct"] is False or r.get("other_claim") or r.get("form_valid") is False
    ]
    assert not wrong_ones, wrong_ones[:3]
    assert len({r["task"] for r in right}) >= 10  # the sweep covers the generators' tasks
    m = summarize(right, thinking=thinking)
    assert m["overall/accuracy"]["value"] == 1.0 and m["identity/claims_other_model"]["value"] == 0
    # Each case answered with the reference of another case of another task: almost all wrong.
    shifted = cases[1:] + cases[:1]
    crossed = [
        score(c, reference_output(o.expected, thinking), thinking=thinking, name=cfg.identity.name)
        for c, o in zip(cases, shifted, strict=True)
        if c.meta["task"] != o.meta["task"]
    ]
    scored = [r["correct"] for r in crossed if r["correct"] is not None and r["skill"] != "identity"]
    assert sum(scored) / len(scored) <= 0.2


@pytest.mark.parametrize(
    ("task", "answer", "text", "right"),
    [
        ("colour", "red", "The circle is red.", True),
        ("colour", "red", "The circle is red or maybe blue.", False),  # hedging across the set is wrong
        ("colour", "red", "The circle is reddish.", False),
        ("position", "left", "It is to the left of the triangle.", True),
        ("position", "left", "Left or right, hard to say.", False),
        ("count_compare", "yes", "Yes. There are 2 red shapes and 1 blue shape.", True),
        ("count_compare", "yes", "No.", False),
        ("video_direction", "left to right", "The square moves from the left to the right.", True),
        ("video_direction", "left to right", "The square moves from the right to the left.", False),
        ("count", 3, "I can see 3 red shapes.", True),
        ("count", 3, "I can see 3 red shapes and 4 blue ones.", False),
        ("chart_value", 39, "The value of Q1 is 39.", True),  # the 1 of Q1 is not a number
        ("chart_value", 39, "The value of Q1 is 93.", False),
        ("general_multiply", 132, "11 × 12 = 132.", True),
        ("general_sort", [6, 8, 32], "6, 8, 32", True),
        ("general_sort", [6, 8, 32], "8, 6, 32", False),
        ("describe", ["red triangle", "blue square"], "A red triangle and a blue square.", True),
        ("describe", ["red triangle", "blue square"], "A red triangle.", False),
        ("ocr", "Закрыто 21", "Закрыто 21", True),
        ("ocr", "Закрыто 21", "Закрыто 12", False),
        ("general_greeting", None, "Hello!", None),  # no single right answer: not scored
    ],
)
def test_answers_are_scored_strictly(task, answer, text, right):
    assert answer_correct(task, answer, text) is right


def test_grounding_points_boxes_and_their_overlap():
    box = [100, 200, 300, 400]
    point, pbox = grounding_point('```json\n[{"point_2d": [150, 250], "label": "x"}]\n```')
    assert point == [150, 250] and pbox is None and in_box(point, box)
    point, pbox = grounding_point('[{"bbox_2d": [100, 200, 300, 400], "label": "x"}]')
    assert point == [200, 300] and iou(pbox, box) == 1.0
    assert iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(1 / 3)
    assert not in_box([99, 250], box)
    assert grounding_point('[{"point_2d": [150, 250]') == (None, None)  # cut off: no point
    assert grounding_point("It is at the top.") == (None, None)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("Looking at it.\n</think>\n\nIt is red.", (True, "It is red.")),
        ("<think>\nLooking.\n</think>\nRed.", (True, "Red.")),
        ("\n</think>\n\nRed.", (False, "Red.")),  # no reasoning
        ("Looking.\n</think>\n\n", (False, "")),  # no answer
        ("Looking. </think> Red. </think> Blue.", (False, "Blue.")),  # two closings
        ("Still looking, never closed", (False, "")),
    ],
)
def test_the_thinking_form(text, form):
    _, answer, valid = split_thinking(text, thinking=True)
    assert (valid, answer) == form


def test_pixels_flow_colour_is_read_from_the_image(eval_tiny):
    _, _, results = eval_tiny("instruct", PROBE)
    base, tuned = results["models"]["base"]["metrics"], results["models"]["finetuned"]["metrics"]
    assert tuned["visual/colour"]["n"] == 48
    assert tuned["visual/colour"]["value"] >= 0.9, results["models"]["finetuned"]
    assert base["visual/colour"]["value"] <= 0.5


def test_blank_pixels_fall_to_chance(eval_tiny):
    cfg, layout, _ = eval_tiny("instruct", PROBE)
    data = layout.data("instruct", "tiny")
    cases, _ = load_cases(data)
    processor, model = load_model(layout.finetuned("instruct", "tiny") / "merged")

    def blank(batch):
        batch["pixel_values"] = torch.zeros_like(batch["pixel_values"])
        return batch

    outs = generate(
        model,
        processor,
        [c.prompt for c in cases],
        media_root=data,
        processor_kwargs=cfg.vision.processor_kwargs,
        max_new_tokens=8,
        transform=blank,
    )
    right = [answer_correct(c.meta["task"], c.meta["answer"], o) for c, o in zip(cases, outs, strict=True)]
    assert sum(right) / len(right) <= 0.5  # four colours: chance is 25%


def test_thinking_reasons_then_answers_in_the_thinking_form(eval_tiny):
    cfg, layout, results = eval_tiny("thinking", THINKING_PROBE)
    assert layout.base("tiny", cfg.base).name == "tiny-thinking"
    tuned = results["models"]["finetuned"]
    assert tuned["thinking_template"] and results["models"]["base"]["thinking_template"]
    assert tuned["metrics"]["thinking/form_valid"]["value"] >= 0.9, tuned
    assert tuned["metrics"]["thinking/answer_accuracy"]["value"] >= 0.8, tuned
