"""Test samples → evaluation cases → scored records.

A case is a prompt (the conversation up to one assistant turn) and what that turn should be.
Tool-calling samples give one case per assistant turn, each with the reference history before it
(BFCL's multi-turn protocol: a wrong early call does not spoil the later turns); every other
sample gives one case, its first answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zen_vl.evaluate import scoring
from zen_vl.evaluate.tool_calls import Malformed, parse, score_calls


@dataclass
class Case:
    id: str
    prompt: dict  # a sample whose messages end just before the turn to generate
    expected: dict  # the reference assistant message
    meta: dict
    turn: int = 0  # index among the sample's assistant turns
    tools: list[dict] = field(default_factory=list)


def cases_of(index: int, sample: dict) -> list[Case]:
    messages, meta = sample["messages"], sample.get("meta", {})
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if meta.get("skill") != "function_calling":
        turns = turns[:1]
    return [
        Case(
            id=f"{index}:{n}",
            prompt={**sample, "messages": messages[:i]},
            expected=messages[i],
            meta=meta,
            turn=n,
            tools=sample.get("tools") or [],
        )
        for n, i in enumerate(turns)
    ]


def score(case: Case, output: str, *, thinking: bool, name: str) -> dict:
    """One record: the output, whether it is right (None: not scorable) and the details behind it."""
    meta, skill, task = case.meta, case.meta.get("skill", "other"), case.meta.get("task", "")
    reasoning, answer, form_valid = scoring.split_thinking(output, thinking)
    rec = {"id": case.id, "skill": skill, "task": task, "turn": case.turn, "output": output}
    if thinking:
        rec["form_valid"], rec["reasoning_chars"] = form_valid, len(reasoning or "")
    if skill == "screenspot":
        point = _click_point(answer)
        rec.update(correct=point is not None and scoring.in_box(point, meta["answer"]))
    elif skill == "bfcl":
        from zen_vl.evaluate.bfcl import check

        rec["correct"], rec["failure"] = check(answer, meta["answer"], case.tools)
    elif skill == "function_calling" or case.tools:
        verdict = score_calls(answer, case.expected.get("tool_calls") or [], case.tools, meta.get("targets"))
        rec.update(
            verdict, expected_calls=len(case.expected.get("tool_calls") or []), correct=verdict["exact"]
        )
    elif skill == "identity":
        claim = scoring.claimed_other_model(answer)
        names = name.casefold() in answer.casefold()  # CJK answers have no word boundaries
        rec.update(
            names_itself=names,
            other_claim=claim,
            correct=names and claim is None,
            language=meta.get("language"),
            with_image=task == "identity_image",
            heldout_phrasing=bool(meta.get("heldout_phrasing")),
            group=f"{meta.get('language')}:{task}",
        )
    elif skill == "grounding":
        point, box = scoring.grounding_point(answer)
        truth = meta["answer"]
        rec.update(correct=point is not None and scoring.in_box(point, truth))
        if task == "grounding":
            rec["iou"] = scoring.iou(box, truth) if box else 0.0
    else:
        rec["correct"] = scoring.answer_correct(task, meta.get("answer"), answer)
    if skill != "identity":
        rec["other_claim"] = scoring.claimed_other_model(answer)
    return rec


def _click_point(text: str) -> list[float] | None:
    """Where a ScreenSpot answer points: the first call's `coordinate`, else a point_2d/bbox_2d."""
    try:
        calls = parse(text)
    except Malformed:
        calls = []
    for call in calls:
        xy = call["arguments"].get("coordinate")
        if isinstance(xy, list) and len(xy) == 2 and all(isinstance(v, int | float) for v in xy):
            return [float(v) for v in xy]
    return scoring.grounding_point(text)[0]
