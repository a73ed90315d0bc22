"""BFCL v4 the official way: BFCL's own data, generation loop and checker, our model as the backend.

`make eval VARIANT=agent BFCL=1` takes the data the pinned `bfcl-eval` package ships (no download);
`BFCL=<folder>` reads a folder in its layout (`BFCL_v4_<category>.json`, `possible_answer/`, ...).
The steps, each BFCL's own code running in its environment (zen_vl.evaluate.bfcl_env):

1. `select`: the entries to run (`eval.bfcl_limit` per category; memory entries bring the
   prerequisite conversations they depend on), and the categories this machine cannot run, with why.
2. `bfcl generate` with BFCL's Qwen3 function-calling handler (`Qwen/Qwen3-8B-FC`: Qwen's chat
   template with the functions in `<tools>`, answers parsed from `<tool_call>`), pointed at an
   OpenAI-compatible completions endpoint: ours for a Hub-format folder
   (zen_vl.evaluate.completions_server), llama-server for a GGUF. BFCL runs the multi-turn
   conversations against its executable backends and the memory stores itself.
3. `bfcl evaluate`: BFCL's AST, relevance, multi-turn and agentic checkers, and its leaderboard
   aggregation (`data_overall.csv`), read back as `bfcl/<category>` and the group metrics below.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from zen_vl.errors import ZenError
from zen_vl.evaluate.bfcl_env import VERSION, run_official

HANDLER = "Qwen/Qwen3-8B-FC"  # BFCL's own handler for Qwen3's <tool_call> format (any Qwen3 size)
# data_overall.csv columns (BFCL's leaderboard groups) -> metric names, and the categories each holds
GROUPS = {
    "Overall Acc": ("bfcl/overall", None),
    "Non-Live AST Acc": ("bfcl/non_live_ast", ("simple_python", "simple_java", "simple_javascript", "multiple",
                                               "parallel", "parallel_multiple")),
    "Live Acc": ("bfcl/live", ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")),
    "Multi Turn Acc": ("bfcl/multi_turn", ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param",
                                           "multi_turn_long_context")),
    "Memory Acc": ("bfcl/memory", ("memory_kv", "memory_vector", "memory_rec_sum")),
    "Web Search Acc": ("bfcl/web_search", ("web_search_base", "web_search_no_snippet")),
    "Relevance Detection": ("bfcl/relevance_detection", ("live_relevance",)),
    "Irrelevance Detection": ("bfcl/irrelevance_detection", ("irrelevance", "live_irrelevance")),
}  # fmt: skip


def data_of(spec: str | Path | None) -> Path | None:
    """`BFCL=1` (or `package`): the package's own data (None); anything else: a folder in BFCL's layout."""
    if spec is None or str(spec) in ("1", "package"):
        return None
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise ZenError(f"BFCL={spec}: not a folder (BFCL=1 uses the data of bfcl-eval {VERSION})")
    if not list(folder.glob("BFCL_v4_*.json")):
        raise ZenError(
            f"{folder}: no BFCL_v4_<category>.json files (BFCL v4 layout; BFCL=1 uses the package's)"
        )
    return folder.resolve()


def _data_args(data: Path | None) -> list[str]:
    return ["--data", str(data)] if data else []


def select(work: Path, data: Path | None, limit: int | None, *, progress: bool) -> dict:
    """{"run": {category: ids}, "cases": {category: scored entries}, "skipped": {category: why}}."""
    args = ["select", *_data_args(data), *(["--limit", str(limit)] if limit else [])]
    return json.loads(run_official(args, work, progress=progress))


def generate(
    work: Path, endpoint: str, tokenizer: Path, *, data: Path | None, threads: int, progress: bool
) -> None:
    """BFCL's own generation loop over the selected entries, against `endpoint` (an OpenAI `/v1`)."""
    args = ["generate", *_data_args(data), "--model", HANDLER, "--backend", "vllm", "--skip-server-setup",
            "--local-model-path", str(tokenizer), "--result-dir", str(work / "result"),
            "--num-threads", str(threads), "--run-ids", "--allow-overwrite"]  # fmt: skip
    run_official(
        args, work, progress=progress, REMOTE_OPENAI_BASE_URL=endpoint, REMOTE_OPENAI_API_KEY="EMPTY"
    )


def score(work: Path, selection: dict, *, data: Path | None, partial: bool, progress: bool) -> dict:
    """BFCL's checkers on the results under `work/result`: {"records", "metrics"}."""
    shutil.rmtree(work / "score", ignore_errors=True)
    categories = [c for c, n in selection["cases"].items() if n]
    args = ["evaluate", *_data_args(data), "--model", HANDLER, "--test-category", ",".join(categories),
            "--result-dir", str(work / "result"), "--score-dir", str(work / "score"),
            *(["--partial-eval"] if partial else [])]  # fmt: skip
    run_official(args, work, progress=progress)
    return read_scores(work / "score", selection)


def read_scores(folder: Path, selection: dict) -> dict:
    """Records (one per scored entry: BFCL's verdict and error type) and metrics from BFCL's score
    files (`<category>_score.json`: a header line, then the failed entries) and data_overall.csv."""
    headers, failed = {}, {}
    for path in sorted(folder.rglob("BFCL_v4_*_score.json")):
        category = path.name[len("BFCL_v4_") : -len("_score.json")]
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        headers[category] = lines[0]
        for row in lines[1:]:
            error = row.get("error")
            kind = row.get("error_type") or (error.get("error_type") if isinstance(error, dict) else None)
            failed[row["id"]] = kind or "wrong"
    missing = [c for c, n in selection["cases"].items() if n and c not in headers]
    if missing:
        raise ZenError(f"{folder}: BFCL wrote no score for {', '.join(missing)} (see evaluate.log beside it)")
    records = []
    for category, ids in selection["run"].items():
        for i in ids:
            if "prereq" in i:
                continue  # memory's prerequisite conversations are not scored
            records.append({"id": f"bfcl:{i}", "skill": "bfcl", "task": category, "turn": 0,
                            "correct": i not in failed, "failure": failed.get(i)})  # fmt: skip
    metrics = {
        f"bfcl/{c}": {"value": h["accuracy"], "n": h["total_count"], "higher_is_better": True}
        for c, h in headers.items()
    }
    overall = folder / "data_overall.csv"
    if overall.is_file():
        with overall.open(newline="", encoding="utf-8") as f:
            row = next(csv.DictReader(f))
        for column, (name, members) in GROUPS.items():
            value = row.get(column, "N/A")
            n = sum(headers[c]["total_count"] for c in (members or headers) if c in headers)
            if value not in ("N/A", "", None) and n:
                metrics[name] = {"value": float(value.rstrip("%")) / 100, "n": n, "higher_is_better": True}
    return {"records": records, "metrics": metrics}


def run(endpoint: str, tokenizer: Path, work: Path, *, data: Path | None, limit: int | None, threads: int,
        progress: bool) -> dict:  # fmt: skip
    """Select, generate and score in `work` (emptied first): {"records", "metrics", "selection"}."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    selection = select(work, data, limit, progress=progress)
    generate(work, endpoint, tokenizer, data=data, threads=threads, progress=progress)
    scored = score(work, selection, data=data, partial=limit is not None, progress=progress)
    return {**scored, "selection": {k: selection[k] for k in ("cases", "skipped", "data")}}
