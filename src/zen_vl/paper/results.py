"""Everything the pipeline measured, gathered per (size, variant) from the files its stages wrote."""

from __future__ import annotations

from dataclasses import dataclass

from zen_vl.artifacts import GGUF_MANIFEST, PROVENANCE, RESULTS, read_json, read_manifest
from zen_vl.config import VARIANTS, available_sizes
from zen_vl.paths import Layout

# The metrics each variant's headline table shows (those with cases; the appendix has all of them).
HEADLINE = {
    "instruct": (
        "identity/names_itself",
        "identity/with_image",
        "identity/held_out_phrasing",
        "identity/claims_other_model",
        "overall/accuracy",
        "general/accuracy",
    ),
    "thinking": (
        "thinking/form_valid",
        "thinking/answer_accuracy",
        "identity/names_itself",
        "overall/accuracy",
        "general/accuracy",
    ),
    "agent": (
        "calls/parse_rate",
        "calls/schema_valid",
        "calls/tool_name_accuracy",
        "calls/ast_accuracy",
        "calls/relevance",
        "grounding/point_in_box",
        "gui/episode_success",
        "gui/invalid_action_rate",
        "identity/names_itself",
    ),
}
BENCHMARK_GROUPS = ("screenspot", "bfcl")


@dataclass
class Run:
    """One trained (size, variant) and whatever later stages measured of it."""

    size: str
    variant: str
    provenance: dict
    results: dict | None  # eval/results.json
    gguf: dict | None  # gguf manifest
    mlx: dict | None  # mlx index: {"folders": {name: manifest}}

    @property
    def config(self) -> dict:
        return self.provenance["config"]

    @property
    def metrics(self) -> dict:
        return self.provenance["metrics"]

    @property
    def hardware(self) -> str:
        return self.metrics.get("device", "unknown hardware")

    @property
    def eval_hardware(self) -> str | None:
        return self.results.get("hardware") if self.results else None

    def losses(self) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """(step, training loss) and (step, eval loss) from the Trainer's log history."""
        train, val = [], []
        for row in self.metrics.get("log_history", []):
            if "loss" in row and "step" in row:
                train.append((row["step"], float(row["loss"])))
            if "eval_loss" in row and "step" in row:
                val.append((row["step"], float(row["eval_loss"])))
        return train, val

    def headline(self) -> list[str]:
        """Headline metric names present in both models' results (base first when there is one)."""
        if not self.results:
            return []
        models = self.results["models"]
        have = set.intersection(*(set(m["metrics"]) for m in models.values()))
        names = [n for n in HEADLINE[self.variant] if n in have]
        return names + sorted(n for n in have if n.split("/")[0] in BENCHMARK_GROUPS)


def _size_order(size: str) -> tuple[int, float, str]:
    """Real sizes by parameter count (4b, 8b, 30b), then the offline ones (tiny, tiny-moe)."""
    head = size.split("-")[0].rstrip("b")
    try:
        return (0, float(head), size)
    except ValueError:
        return (1, 0.0, size)


def collect(layout: Layout | None = None) -> list[Run]:
    """Every (size, variant) with a finetuned model, in config order (sizes, then variants)."""
    layout = layout or Layout.default()
    runs = []
    for size in sorted(available_sizes(), key=_size_order):
        for variant in VARIANTS:
            finetuned = layout.finetuned(variant, size)
            which = f"SIZE={size} VARIANT={variant} FORCE=1"
            provenance = read_manifest(finetuned, PROVENANCE, f"make train-{variant} SIZE={size} FORCE=1")
            if provenance is None:
                continue
            runs.append(
                Run(
                    size=size,
                    variant=variant,
                    provenance=provenance,
                    results=read_json(finetuned / "eval" / RESULTS, f"make eval {which}", missing_ok=True),
                    gguf=read_manifest(layout.gguf(variant, size), GGUF_MANIFEST, f"make gguf {which}"),
                    mlx=read_json(layout.mlx_index(variant, size), f"make mlx {which}", missing_ok=True),
                )
            )
    return runs


def sizes(runs: list[Run]) -> list[str]:
    return list(dict.fromkeys(r.size for r in runs))
