"""`reasoning: distill`: a model trained on the colour probe writes the reasoning for probe questions
that come without any; a sample is kept only when the distiller's answer matches its own."""

from __future__ import annotations

import json

from tiny_runs import THINKING_PROBE

from zen_vl.config import load_config
from zen_vl.data.build import build_dataset
from zen_vl.data.schema import read_jsonl
from zen_vl.paths import Layout

WRONG = "The shape is purple."  # no probe shape is purple: the distiller can never reach it


def test_distilled_reasoning_is_kept_only_with_the_right_answer(train_tiny, tmp_path):
    _, layout, _ = train_tiny("thinking", THINKING_PROBE)
    data = layout.data("thinking", "tiny")
    rows = [r for _, r in read_jsonl(data / "test.jsonl")][:16]
    for k, row in enumerate(rows):
        answer = row["messages"][-1]
        answer.pop("reasoning_content", None)
        if k % 4 == 3:
            answer["content"] = WRONG
        row.pop("id", None)
    (tmp_path / "plain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = {"name": "plain", "path": str(tmp_path / "plain.jsonl"), "media_dir": str(data),
              "reasoning": "distill", "eval_fraction": 0}  # fmt: skip
    merged = layout.finetuned("thinking", "tiny") / "merged"
    built = load_config(
        "tiny",
        "thinking",
        ["data.train=0", "data.val=0", "data.test=0", "data.check_lengths=false",
         f"data.distill.model={merged}", "data.distill.max_new_tokens=96", f"data.sources=[{json.dumps(source)}]"],
    )  # fmt: skip
    folder, manifest = build_dataset(built, Layout(tmp_path / "out"), progress=False)
    stats = manifest["sources"]["plain"]["distilled"]
    kept = [r for _, r in read_jsonl(folder / "train.jsonl")]
    assert stats["turns_asked"] == 16 and stats["kept"] == len(kept) > 8
    assert stats["rejected_wrong_answer"] == 16 - len(kept) >= 4  # every wrong answer, and only misses
    for row in kept:
        answer = row["messages"][-1]
        assert answer["content"] != WRONG and answer["reasoning_content"]
        colour = answer["content"].removeprefix("The shape is ").rstrip(".")
        assert colour in answer["reasoning_content"]  # the reasoning reached this answer
