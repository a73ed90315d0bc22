"""Scored records: one generated answer judged against its case (the rule by skill), with the details
the metrics (zen_vl.evaluate.report) count."""

from __future__ import annotations

from zen_vl.evaluate import scoring
from zen_vl.evaluate.cases import Case
from zen_vl.evaluate.tool_calls import Malformed, parse, score_calls


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
    elif skill == "function_calling" or case.tools:
        targets = (
            meta["turn_targets"][case.turn] if "turn_targets" in meta else meta.get("targets")
        )  # episodes: per turn
        verdict = score_calls(answer, case.expected.get("tool_calls") or [], case.tools, targets)
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
