"""BFCL's own CLI and checker, run inside BFCL's environment (zen_vl.evaluate.bfcl_env builds it).

<env>/bin/python bfcl_official.py select --limit N [--data DIR]          # ids to run, categories skipped
<env>/bin/python bfcl_official.py generate|evaluate ... [--data DIR]      # `bfcl generate|evaluate ...`
<env>/bin/python bfcl_official.py reference --kind right [--data DIR]    # reference answers as results
<env>/bin/python bfcl_official.py check [--data DIR]                     # ast_checker called directly

A script, not a zen_vl module: it imports only bfcl_eval and the standard library. BFCL_PROJECT_ROOT
(set by the caller) holds BFCL's ids file, results and scores. `--data DIR` points BFCL at a folder
in its own layout (BFCL_v4_<category>.json, possible_answer/, multi_turn_func_doc/, ...) instead of
the data the package ships.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

# A category BFCL scores but this machine cannot run, and why (checked against the package in the
# `select` output; the project reports these as skipped).
SKIP = {
    "web_search_base": "needs the network: BFCL's web_search backend queries SerpAPI (SERPAPI_API_KEY)",
    "web_search_no_snippet": "needs the network: BFCL's web_search backend queries SerpAPI (SERPAPI_API_KEY)",
    "memory_vector": "needs an external embedding model: BFCL's vector memory store loads "
    "sentence-transformers' all-MiniLM-L6-v2 from the Hub (and torch, faiss)",
    "format_sensitivity": "BFCL runs it for prompting models only and skips it for function-calling "
    "handlers such as Qwen/Qwen3-8B-FC",
}
HANDLER = "Qwen/Qwen3-8B-FC"  # BFCL's own handler for Qwen3's <tool_call> format


def _point_at(data: str | None) -> None:
    """Point BFCL's data paths at `data` before its other modules copy them (`from ... import *`)."""
    if not data:
        return
    import bfcl_eval.constants.eval_config as ec

    root = Path(data).resolve()
    ec.PROMPT_PATH = root
    ec.POSSIBLE_ANSWER_PATH = root / "possible_answer"
    for name, sub in (("MULTI_TURN_FUNC_DOC_PATH", "multi_turn_func_doc"),
                      ("MEMORY_PREREQ_CONVERSATION_PATH", "memory_prereq_conversation")):  # fmt: skip
        if (root / sub).is_dir():
            setattr(ec, name, root / sub)
    ec.FORMAT_SENSITIVITY_IDS_PATH = root / f"{ec.VERSION_PREFIX}_format_sensitivity.json"


def _take(argv: list[str], flag: str) -> str | None:
    if flag in argv:
        i = argv.index(flag)
        value = argv[i + 1]
        del argv[i : i + 2]
        return value
    return None


def select(limit: int | None, categories: list[str]) -> dict:
    """Ids per category to run (`limit` entries, in BFCL's order among those with the fewest
    prerequisites; memory entries bring the prerequisite conversations they depend on), written as
    BFCL's test_case_ids_to_generate.json."""
    from bfcl_eval.constants.category_mapping import ALL_CATEGORIES
    from bfcl_eval.constants.eval_config import PROMPT_PATH, TEST_IDS_TO_GENERATE_PATH
    from bfcl_eval.utils import is_memory_prereq, load_dataset_entry, parse_test_category_argument

    wanted = parse_test_category_argument(categories or ["all"])
    run, skipped, counts = {}, {}, {}
    for category in [c for c in ALL_CATEGORIES if c in wanted]:
        if category in SKIP:
            skipped[category] = SKIP[category]
            continue
        try:
            entries = load_dataset_entry(category)
        except FileNotFoundError as exc:  # a folder holding some categories: the others are skipped
            skipped[category] = f"not in {PROMPT_PATH}: {Path(exc.filename).name} is missing"
            continue
        scored = [e for e in entries if not is_memory_prereq(e["id"])]
        if limit is not None:  # a subset: the entries that bring the fewest prerequisite conversations
            scored = sorted(scored, key=lambda e: len(e.get("depends_on", [])))[:limit]
        needed = {d for e in scored for d in e.get("depends_on", [])}
        run[category] = [e["id"] for e in entries if e["id"] in needed] + [e["id"] for e in scored]
        counts[category] = len(scored)
    if not run:
        raise SystemExit(f"{PROMPT_PATH}: no BFCL v4 category to run ({json.dumps(skipped)})")
    TEST_IDS_TO_GENERATE_PATH.write_text(json.dumps(run, indent=1) + "\n")
    return {"run": run, "cases": counts, "skipped": skipped, "data": str(PROMPT_PATH)}


def _tool_call(name: str, arguments: dict) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def _first(accepted: list):
    """An accepted value as a model would write it (a dict's own entries are accepted lists too)."""
    return _pick(next((a for a in accepted if a != ""), ""))


def _pick(value):
    if isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):
        return {k: _first(v) for k, v in value.items() if any(a != "" for a in v) and "" not in v}
    if isinstance(value, list):
        return [_pick(v) if isinstance(v, dict) else v for v in value]
    return value


def _java(value, kind: str, items: str | None = None) -> str:
    """A Java value in the source syntax BFCL's java_type_converter parses back."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "long":
        return f"{value}L"
    if kind == "float":
        return f"{value}f"
    if kind == "Array":
        return f"new {items or 'Object'}[]{{" + ", ".join(_java(v, items or "any") for v in value) + "}"
    if kind == "ArrayList":
        q = lambda v: f'"{v}"' if isinstance(v, str) else _java(v, items or "any")  # noqa: E731
        return "new ArrayList<>(Arrays.asList(" + ", ".join(q(v) for v in value) + "))"
    if kind == "HashMap":
        lit = lambda v: f'"{v}"' if isinstance(v, str) else _java(v, "any")  # noqa: E731
        return (
            "new HashMap<String, Object>() {{ "
            + " ".join(f'put("{k}", {lit(v)});' for k, v in value.items())
            + " }}"
        )
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _js(value, kind: str) -> str:
    """A JavaScript value in the source syntax BFCL's js_type_converter parses back."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "Bigint":
        return f"{value}n"
    if isinstance(value, list):
        return "[" + ", ".join(f"'{v}'" if isinstance(v, str) else _js(v, "any") for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{k}: " + (f"'{v}'" if isinstance(v, str) else _js(v, "any")) for k, v in value.items()
            )
            + "}"
        )
    return str(value)


def _arguments(params: dict, function: dict | None, language: str) -> dict:
    """The reference arguments of one call: each parameter the function requires, or one whose
    accepted values do not include leaving it out ("")."""
    declared = (function or {}).get("parameters", {})
    required, properties = declared.get("required", []), declared.get("properties", {})
    args = {}
    for p, accepted in params.items():
        if p not in properties and properties:
            continue  # BFCL's answer names a parameter the function does not declare
        if p not in required and ("" in accepted or not accepted):
            continue
        value = _first(accepted)
        kind = properties.get(p, {}).get("type", "any")
        items = properties.get(p, {}).get("items", {}).get("type")
        args[p] = (
            _java(value, kind, items)
            if language == "java"
            else _js(value, kind)
            if language == "javascript"
            else value
        )
    return args


def _calls_text(ground_truth: list[dict], functions: list[dict], language: str, kind: str) -> str | None:
    """One reference call list as model output, or broken the way `kind` says (None: this entry
    cannot be broken that way)."""
    by_name = {f["name"]: f for f in functions}
    calls = []
    for call in ground_truth:
        ((name, params),) = call.items()
        calls.append([name, _arguments(params, by_name.get(name), language), params])
    name, args, params = calls[0]
    required = [p for p in args if "" not in params[p]]
    if kind == "wrong_value":
        if not required:
            return None
        p = required[0]
        v = args[p]
        args[p] = (not v) if isinstance(v, bool) else v + 1000 if isinstance(v, int | float) else (
            [] if v else ["zz"]) if isinstance(v, list) else {} if isinstance(v, dict) and v else "zz_wrong"  # fmt: skip
        if any(args[p] == a for a in params[p]):
            return None
    elif kind == "missing_argument":
        if not required:
            return None
        del args[required[0]]
    elif kind == "extra_argument":
        args["zz_unexpected"] = 1
    elif kind == "wrong_function":
        calls[0][0] = name + "_zz"
    return "\n".join(_tool_call(n, a) for n, a, _ in calls)


def _python_call(call: str, functions: list[dict]) -> str:
    """A multi-turn ground-truth call (`cd(folder='x')`, `cd('..')`) in the <tool_call> format;
    positional arguments take the declared parameters' names in order."""
    node = ast.parse(call, mode="eval").body
    name = ast.unparse(node.func)
    declared = next((f for f in functions if f["name"] == name), {"parameters": {"properties": {}}})
    names = list(declared["parameters"]["properties"])
    args = {names[i]: ast.literal_eval(v) for i, v in enumerate(node.args)}
    args.update({k.arg: ast.literal_eval(k.value) for k in node.keywords})
    return _tool_call(name, args)


def reference(kind: str, ids: dict[str, list[str]]) -> dict:
    """Model results made from BFCL's own answers (`right`), or broken ones, in BFCL's result
    layout, for the reference-answer and wrong-answer tests; returns {category: entries written}."""
    from bfcl_eval.constants.eval_config import RESULT_PATH
    from bfcl_eval.utils import (
        get_directory_structure_by_category,
        get_file_name_by_category,
        is_agentic,
        is_java,
        is_js,
        is_memory_prereq,
        is_multi_turn,
        is_relevance_or_irrelevance,
        load_dataset_entry,
        load_ground_truth_entry,
    )

    written = {}
    for category, wanted in ids.items():
        rows = []
        if is_relevance_or_irrelevance(category):
            answers = {}
        else:
            entries = load_dataset_entry(category, include_prereq=False)
            answers = {
                e["id"]: a["ground_truth"]
                for e, a in zip(entries, load_ground_truth_entry(category), strict=True)
            }
        # the declared types before BFCL's language hint turns Java/JS types into "string"
        plain = {e["id"]: e["function"] for e in load_dataset_entry(category, False, False)}
        for entry in load_dataset_entry(category):
            if entry["id"] not in wanted or is_memory_prereq(entry["id"]):
                continue
            if "irrelevance" in category:
                result = None if kind != "right" else "None of these functions fits the request."
            elif "relevance" in category:
                function = entry["function"][0]["name"]
                result = None if kind != "right" else _tool_call(function, {})
            elif is_multi_turn(category):
                turns = answers[entry["id"]]
                docs = entry["function"] + [f for fs in entry.get("missed_function", {}).values() for f in fs]
                steps = [
                    ["\n".join(_python_call(c, docs) for c in t)] if t else ["No call needed."] for t in turns
                ]
                result = steps if kind == "right" else None
            elif is_agentic(category):
                result = None if kind != "right" else [[answers[entry["id"]][0]]]
            else:
                language = "java" if is_java(category) else "javascript" if is_js(category) else "python"
                result = _calls_text(answers[entry["id"]], plain[entry["id"]], language, kind)
            if result is not None:
                rows.append({"id": entry["id"], "result": result})
        if rows:
            folder = RESULT_PATH / HANDLER.replace("/", "_") / get_directory_structure_by_category(category)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / get_file_name_by_category(category, is_result_file=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        written[category] = len(rows)
    return written


def check() -> dict:
    """BFCL's ast_checker called directly (no runner) on the single-turn results under RESULT_PATH:
    {id: [valid, error_type]} (the yardstick for the project's reading of BFCL's score files)."""
    from bfcl_eval.constants.enums import Language, ReturnFormat
    from bfcl_eval.constants.eval_config import RESULT_PATH
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl_eval.eval_checker.eval_runner import get_handler
    from bfcl_eval.utils import is_java, is_js, load_dataset_entry, load_file, load_ground_truth_entry

    handler = get_handler(HANDLER)
    out = {}
    for path in sorted(RESULT_PATH.rglob("BFCL_v4_*_result.json")):
        category = path.name[len("BFCL_v4_") : -len("_result.json")]
        entries = load_dataset_entry(category, include_prereq=False, include_language_specific_hint=False)
        answers = {
            e["id"]: a["ground_truth"]
            for e, a in zip(entries, load_ground_truth_entry(category), strict=True)
        }
        functions = {e["id"]: e["function"] for e in entries}
        language, fmt = (
            (Language.JAVA, ReturnFormat.JAVA) if is_java(category)
            else (Language.JAVASCRIPT, ReturnFormat.JAVASCRIPT) if is_js(category)
            else (Language.PYTHON, ReturnFormat.PYTHON)
        )  # fmt: skip
        for row in load_file(path):
            try:
                decoded = handler.decode_ast(row["result"], fmt, False)
            except Exception:  # BFCL counts any decoding failure as a wrong answer
                out[row["id"]] = [False, "ast_decoder:decoder_failed"]
                continue
            verdict = ast_checker(
                functions[row["id"]], decoded, answers[row["id"]], language, category, HANDLER
            )
            out[row["id"]] = [verdict["valid"], verdict.get("error_type")]
    return out


def main(argv: list[str]) -> None:
    command, argv = argv[0], argv[1:]
    _point_at(_take(argv, "--data"))
    if command == "select":
        limit = _take(argv, "--limit")
        categories = (_take(argv, "--categories") or "all").split(",")
        print(json.dumps(select(int(limit) if limit else None, categories)))
    elif command == "reference":
        from bfcl_eval.constants.eval_config import TEST_IDS_TO_GENERATE_PATH

        kind = _take(argv, "--kind") or "right"
        print(json.dumps(reference(kind, json.loads(TEST_IDS_TO_GENERATE_PATH.read_text()))))
    elif command == "check":
        print(json.dumps(check()))
    elif command in ("generate", "evaluate"):
        import contextlib

        from bfcl_eval.__main__ import cli
        from bfcl_eval.constants.eval_config import PROJECT_ROOT

        # BFCL prints every step of every conversation: to a log; its progress bars (stderr) stay
        with open(PROJECT_ROOT / f"{command}.log", "a") as log, contextlib.redirect_stdout(log):
            cli(args=[command, *argv], standalone_mode=False)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
