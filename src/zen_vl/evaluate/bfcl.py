"""BFCL (Berkeley Function Calling Leaderboard) AST categories in their public file format.

A BFCL folder holds `BFCL_v3_<category>.json` (JSON lines: `{"id", "question": [[{"role",
"content"}, ...]], "function": [{"name", "description", "parameters": {"type": "dict", ...}}]}`)
and `possible_answer/BFCL_v3_<category>.json` (`{"id", "ground_truth": [{name: {param: [accepted
values]}}]}`; `""` among the values means the parameter may be left out). `irrelevance`
categories have no answers: the right output is no call. Multi-turn categories need BFCL's
executable environment and are skipped (named in the output).

The checker follows BFCL's AST rules: the same number of calls (any order for parallel ones),
each to a declared function, no undeclared parameter, every required one present, every value
among the accepted ones (strings compared case- and punctuation-insensitively, an int accepted
for a float), and the arguments valid against the declared types.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from zen_vl.errors import ZenError
from zen_vl.evaluate.cases import Case
from zen_vl.evaluate.tool_calls import Malformed, parse, schema_problems

TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": None}


def to_json_schema(node):
    """BFCL's Python-flavoured schema (`dict`, `float`, `tuple`, `any`) as JSON schema."""
    if isinstance(node, list):
        return [to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            mapped = TYPES.get(value, value)
            if mapped:
                out["type"] = mapped
        elif key in ("properties",):
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = to_json_schema(value)
        elif key != "optional":
            out[key] = value
    return out


def tools_of(functions: list[dict]) -> list[dict]:
    return [
        {"type": "function", "function": {**f, "parameters": to_json_schema(f.get("parameters", {}))}}
        for f in functions
    ]


def _rows(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ZenError(f"{path}:{n}: not JSON: {exc.msg}") from None
    return rows


def load_bfcl(folder: Path, limit: int | None = None) -> tuple[list[Case], list[str]]:
    """(cases, skipped category files)."""
    folder = Path(folder)
    files = sorted(folder.glob("BFCL_v*_*.json"))
    if not files:
        raise ZenError(f"{folder}: no BFCL_v<N>_<category>.json files (BFCL layout)")
    cases, skipped = [], []
    for path in files:
        category = re.sub(r"^BFCL_v\d+_", "", path.stem)
        if "multi_turn" in category or "exec" in category or "memory" in category or "web_search" in category:
            skipped.append(path.name)
            continue
        answers = {}
        if "irrelevance" not in category:
            answer_file = folder / "possible_answer" / path.name
            if not answer_file.is_file():
                raise ZenError(f"{path}: no answers at {answer_file}")
            answers = {a["id"]: a["ground_truth"] for a in _rows(answer_file)}
        for n, row in enumerate(_rows(path)[:limit], 1):
            missing = [k for k in ("id", "question", "function") if k not in row]
            if missing:
                raise ZenError(f"{path}:{n}: missing {', '.join(missing)}")
            if "irrelevance" not in category and row["id"] not in answers:
                raise ZenError(f"{path}:{n}: id {row['id']} has no possible answer")
            turn = (
                row["question"][0]
                if row["question"] and isinstance(row["question"][0], list)
                else row["question"]
            )
            tools = tools_of(row["function"])
            cases.append(
                Case(
                    id=f"bfcl:{row['id']}",
                    prompt={
                        "messages": [{"role": m["role"], "content": m["content"]} for m in turn],
                        "tools": tools,
                    },
                    expected={"role": "assistant", "content": ""},
                    meta={"skill": "bfcl", "task": category, "answer": answers.get(row["id"], [])},
                    tools=tools,
                )
            )
    return cases, skipped


def _norm(value):
    if isinstance(value, str):
        return re.sub(r"[ ,./\-_*^]", "", value.casefold())
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _accepts(accepted: list, value) -> bool:
    return any(_norm(value) == _norm(a) for a in accepted if a != "")


def check(text: str, ground_truth: list[dict], tools: list[dict]) -> tuple[bool, str | None]:
    """(right, why not) for one BFCL answer."""
    try:
        calls = parse(text)
    except Malformed as exc:
        return False, f"malformed: {exc}"
    if not ground_truth:
        return (not calls), ("call where none fits" if calls else None)
    if len(calls) != len(ground_truth):
        return False, f"{len(calls)} calls, expected {len(ground_truth)}"
    remaining = list(ground_truth)
    for call in calls:
        why = None
        for gt in remaining:
            ((name, params),) = gt.items()
            if call["name"] not in (name, name.replace(".", "_")):
                why = why or "wrong tool"
                continue
            problems = schema_problems({"name": name, "arguments": call["arguments"]}, tools)
            extra = set(call["arguments"]) - set(params)
            missing = [p for p, acc in params.items() if "" not in acc and p not in call["arguments"]]
            wrong = [p for p, v in call["arguments"].items() if p in params and not _accepts(params[p], v)]
            if extra or missing or wrong or problems:
                why = (
                    f"unexpected argument {sorted(extra)[0]}"
                    if extra
                    else f"missing {missing[0]}"
                    if missing
                    else f"schema: {problems[0]}"
                    if problems
                    else f"wrong value for {wrong[0]}"
                )
                continue
            remaining.remove(gt)
            break
        else:
            return False, why or "wrong tool"
    return True, None
