"""Test samples → evaluation cases (scored into records by zen_vl.evaluate.records).

A case is a prompt (the conversation up to one assistant turn) and what that turn should be.
Tool-calling samples give one case per assistant turn, each with the reference history before it
(BFCL's multi-turn protocol: a wrong early call does not spoil the later turns); every other
sample gives one case, its first answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zen_vl.chat import bounded


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
    window = meta.get("screenshot_window")  # GUI episodes: each step sees the last N screenshots
    return [
        Case(
            id=f"{index}:{n}",
            prompt={**sample, "messages": bounded(messages[:i], window) if window else messages[:i]},
            expected=messages[i],
            meta=meta,
            turn=n,
            tools=sample.get("tools") or [],
        )
        for n, i in enumerate(turns)
    ]
