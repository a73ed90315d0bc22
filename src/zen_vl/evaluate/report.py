"""Scored records → named metrics → the Markdown table beside the model.

A metric is `{"value", "n", "higher_is_better"}`; names are `group/metric` so cards and the paper
pick what they need. A metric with no cases is absent, never reported as 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

BENCHMARKS = ("screenspot", "bfcl")  # public benchmarks: not in overall/accuracy
SCORED_HERE = ("screenspot",)  # BFCL's metrics come from BFCL's own checker (zen_vl.evaluate.bfcl)
VISUAL_SKILLS = ("colour", "count", "position", "size", "ocr", "chart", "describe", "video")


def _rate(records: list[dict], key: str = "correct") -> dict | None:
    scored = [r[key] for r in records if r.get(key) is not None]
    if not scored:
        return None
    return {"value": sum(bool(v) for v in scored) / len(scored), "n": len(scored), "higher_is_better": True}


def summarize(records: list[dict], *, thinking: bool) -> dict[str, dict]:
    out: dict[str, dict | None] = {
        "overall/accuracy": _rate([r for r in records if r["skill"] not in BENCHMARKS])
    }
    ident = [r for r in records if r["skill"] == "identity"]
    if ident:
        out["identity/names_itself"] = _rate(ident)
        out["identity/text_only"] = _rate([r for r in ident if not r["with_image"]])
        out["identity/with_image"] = _rate([r for r in ident if r["with_image"]])
        out["identity/held_out_phrasing"] = _rate([r for r in ident if r["heldout_phrasing"]])
        groups = defaultdict(list)
        for r in ident:
            groups[r["group"]].append(r["correct"])
        consistent = [all(v) for v in groups.values() if len(v) > 1]
        if consistent:
            out["identity/consistency"] = {
                "value": sum(consistent) / len(consistent),
                "n": len(consistent),
                "higher_is_better": True,
            }
        for lang in sorted({r["language"] for r in ident if r["language"]}):
            out[f"identity/lang_{lang}"] = _rate([r for r in ident if r["language"] == lang])
    claims = [r for r in records if "other_claim" in r]
    if claims:
        n = sum(r["other_claim"] is not None for r in claims)
        out["identity/claims_other_model"] = {
            "value": n / len(claims),
            "n": len(claims),
            "higher_is_better": False,
        }
    for skill in VISUAL_SKILLS:
        out[f"visual/{skill}"] = _rate([r for r in records if r["skill"] == skill])
    ground = [r for r in records if r["skill"] == "grounding"]
    out["grounding/point_in_box"] = _rate(ground)
    ious = [r["iou"] for r in ground if "iou" in r]
    if ious:
        out["grounding/mean_iou"] = {"value": sum(ious) / len(ious), "n": len(ious), "higher_is_better": True}
    if thinking:
        out["thinking/form_valid"] = _rate(records, "form_valid")
        out["thinking/answer_accuracy"] = _rate(records)
        unclosed = [{"correct": "</think>" not in r["output"]} for r in records]
        out["thinking/unclosed_reasoning"] = _rate(unclosed) and {
            **_rate(unclosed),
            "higher_is_better": False,
        }
    out.update(call_metrics([r for r in records if "exact" in r]))
    out["general/accuracy"] = _rate([r for r in records if r["skill"] == "general"])
    for bench in SCORED_HERE:
        rows = [r for r in records if r["skill"] == bench]
        out[f"{bench}/accuracy"] = _rate(rows)
        for task in sorted({r["task"] for r in rows}):
            out[f"{bench}/{task}"] = _rate([r for r in rows if r["task"] == task])
    return {k: v for k, v in out.items() if v is not None}


def call_metrics(calls: list[dict]) -> dict[str, dict | None]:
    """BFCL-style: parse rate, tool name, schema validity and AST match on turns that should call;
    relevance on turns where no tool fits; parallel and multi-turn slices."""
    should = [r for r in calls if r["expected_calls"]]
    out = {
        "calls/parse_rate": _rate([{"correct": r["parsed"] and r["called"]} for r in should]),
        "calls/tool_name_accuracy": _rate(should, "names_ok"),
        "calls/schema_valid": _rate([{"correct": r["called"] and r["schema_ok"]} for r in should]),
        "calls/ast_accuracy": _rate(should, "exact"),
        "calls/relevance": _rate([r for r in calls if not r["expected_calls"]], "exact"),
        "calls/parallel": _rate([r for r in should if r["expected_calls"] > 1], "exact"),
        "calls/multi_turn": _rate([r for r in calls if r["turn"] > 0], "exact"),
    }
    return out


def failures(records: list[dict]) -> dict[str, int]:
    """What went wrong in tool-calling turns, by kind (the schema problem text collapsed)."""
    kinds = Counter(r["failure"].split(":")[0] for r in records if r.get("failure"))
    return dict(kinds.most_common())


@dataclass
class MetricRow:
    """One metric across the evaluated models (a cell is None where a model has no cases for it)."""

    name: str
    cells: list[dict | None]

    @property
    def n(self) -> int:
        """The second model's cases (base, finetuned, exports: the finetuned one's), else the first
        model's with the metric: counts that depend on the model, such as the actions behind
        gui/invalid_action_rate, differ between them."""
        if len(self.cells) > 1 and self.cells[1] is not None:
            return self.cells[1]["n"]
        return next(c["n"] for c in self.cells if c is not None)

    @property
    def higher_is_better(self) -> bool:
        return next(c["higher_is_better"] for c in self.cells if c is not None)

    @property
    def change(self) -> float | None:
        """Second model minus first, when exactly two have the metric (base -> finetuned)."""
        if len(self.cells) != 2 or None in self.cells:
            return None
        return self.cells[1]["value"] - self.cells[0]["value"]


def metric_rows(models: dict, names: list[str] | None = None) -> list[MetricRow]:
    """The metrics table every renderer prints (results.md, model cards, the paper): one row per
    metric (`names`, or every metric any model has, in order), one cell per model."""
    if names is None:
        names = list(dict.fromkeys(k for m in models.values() for k in m["metrics"]))
    rows = [MetricRow(name, [m["metrics"].get(name) for m in models.values()]) for name in names]
    return [r for r in rows if any(c is not None for c in r.cells)]


def markdown_table(models: dict, names: list[str] | None = None) -> str:
    """The metrics table in Markdown: a column per model, the change when there are two, and n."""
    labels = list(models)
    pair = len(labels) == 2
    head = ["metric", *labels, *(["change"] if pair else []), "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in metric_rows(models, names):
        cells = ["–" if c is None else f"{c['value']:.3f}" for c in row.cells]
        if pair:
            cells.append("–" if row.change is None else f"{row.change:+.3f}")
        lines.append("| " + " | ".join([row.name, *cells, str(row.n)]) + " |")
    return "\n".join(lines)


def decoding_text(results: dict) -> str:
    """How the answers were generated, per model: `greedy`, or the sampling settings."""
    parts = []
    for label, model in results["models"].items():
        d = model.get("decoding") or {"mode": "greedy"}
        if d["mode"] == "greedy":
            parts.append(f"{label} greedy")
        else:
            parts.append(
                f"{label} sampled (temperature {d['temperature']}, top-p {d['top_p']}, top-k {d['top_k']}, "
                f"{d['samples']} per case, seed {d['seed']})"
            )
    budget = (results.get("eval") or {}).get("max_new_tokens")  # results.json from before it was recorded
    return "; ".join(parts) + (f"; at most {budget} new tokens" if budget else "")


def markdown(results: dict) -> str:
    """results.md: the side-by-side table with what it was measured on."""
    models = results["models"]
    lines = [
        f"# Evaluation: {results['size']} {results['variant']}",
        "",
        f"Test set `{results['test_set']['path']}` ({results['test_set']['samples']} samples, "
        f"{results['test_set']['cases']} cases), {decoding_text(results)}, on {results['hardware']}.",
        "",
        markdown_table(models),
        "",
        "claims_other_model, unclosed_reasoning: lower is better. Cases: one per answer; tool-calling samples "
        "give one per turn.",
    ]
    for label, model in models.items():
        if model.get("failures"):
            kinds = ", ".join(f"{k} {v}" for k, v in model["failures"].items())
            lines.append(f"Tool-call failures ({label}): {kinds}.")
    for label, model in models.items():
        lines.append(f"{label}: `{model['path']}`, {model['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"
