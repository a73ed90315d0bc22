"""Qwen3 tool calls in generated text: parse them, check them against the declared tools, compare them.

The format: `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`, one block per call.
"""

from __future__ import annotations

import json
import re

from jsonschema import Draft202012Validator

CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


class Malformed(ValueError):
    """A <tool_call> block that is not a JSON object with a name and object arguments."""


def parse(text: str) -> list[dict]:
    """Every call in the text, in order; raises Malformed when a block does not parse or is unclosed."""
    if text.count("<tool_call>") != text.count("</tool_call>"):
        raise Malformed("unbalanced <tool_call> tags")
    calls = []
    for body in CALL.findall(text):
        try:
            call = json.loads(body)
        except json.JSONDecodeError as exc:
            raise Malformed(f"not JSON: {exc.msg}") from None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise Malformed("expected an object with a string 'name'")
        args = call.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                raise Malformed("arguments is a string that is not JSON") from None
        if not isinstance(args, dict):
            raise Malformed("arguments must be an object")
        calls.append({"name": call["name"], "arguments": args})
    return calls


def schema_problems(call: dict, tools: list[dict]) -> list[str]:
    """Why this call does not fit the declared tools (empty: it does)."""
    declared = {t["function"]["name"]: t["function"].get("parameters", {}) for t in tools}
    if call["name"] not in declared:
        return [f"undeclared tool {call['name']!r}"]
    return [e.message for e in Draft202012Validator(declared[call["name"]]).iter_errors(call["arguments"])]


def arguments_match(got: dict, expected: dict, targets: dict | None = None, name: str = "") -> bool:
    """Exact match of arguments, except a `coordinate` counts when it lies inside the target's
    0-1000 box (the ScreenSpot criterion)."""
    if set(got) != set(expected):
        return False
    for key, want in expected.items():
        have = got[key]
        box = (targets or {}).get(name)
        if key == "coordinate" and box is not None:
            if not (
                isinstance(have, list) and len(have) == 2 and all(isinstance(v, int | float) for v in have)
            ):
                return False
            if not (box[0] <= have[0] <= box[2] and box[1] <= have[1] <= box[3]):
                return False
        elif have != want:
            return False
    return True


def calls_match(got: list[dict], expected: list[dict], targets: dict | None = None) -> bool:
    """Same calls (order-free, as parallel calls have no order), each with matching arguments."""
    if len(got) != len(expected):
        return False
    remaining = list(expected)
    for call in got:
        hit = next(
            (
                e
                for e in remaining
                if e["name"] == call["name"]
                and arguments_match(call["arguments"], e["arguments"], targets, e["name"])
            ),
            None,
        )
        if hit is None:
            return False
        remaining.remove(hit)
    return True


def score_calls(text: str, expected: list[dict], tools: list[dict], targets: dict | None = None) -> dict:
    """BFCL-style verdict on one turn: did it parse, call the right tools, fit their schemas, and
    match the expected calls (AST match; coordinates by point-in-box). `failure` names the first
    thing that went wrong, for the error breakdown."""
    try:
        got = parse(text)
    except Malformed as exc:
        return {
            "parsed": False,
            "called": False,
            "names_ok": False,
            "schema_ok": False,
            "exact": False,
            "failure": f"malformed: {exc}",
        }
    names_ok = sorted(c["name"] for c in got) == sorted(c["name"] for c in expected)
    problems = [p for c in got for p in schema_problems(c, tools)]
    exact = calls_match(got, expected, targets)
    failure = None
    if not exact:
        if expected and not got:
            failure = "no call"
        elif got and not expected:
            failure = "call where none fits"
        elif not names_ok:
            failure = "wrong tool"
        elif problems:
            failure = f"schema: {problems[0]}"
        else:
            failure = "wrong value"
    return {
        "parsed": True,
        "called": bool(got),
        "names_ok": names_ok,
        "schema_ok": not problems,
        "exact": exact,
        "failure": failure,
    }
