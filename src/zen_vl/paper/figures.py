"""Figures (vector PDF, matplotlib's Agg backend) from the collected runs: loss curves, base vs
finetuned bars, training throughput. Each axis title names the size and hardware."""

from __future__ import annotations

from pathlib import Path

from zen_vl.paper.results import Run

COLOURS = {"instruct": "#1f77b4", "thinking": "#ff7f0e", "agent": "#2ca02c"}
_META = {"CreationDate": None, "Producer": None, "Creator": None}  # byte-stable output for the fingerprint


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "pdf.fonttype": 42})
    return plt


def loss_curves(runs: list[Run], size: str, dest: Path) -> bool:
    mine = [r for r in runs if r.size == size and r.losses()[0]]
    if not mine:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    for r in mine:
        train, val = r.losses()
        ax.plot(*zip(*train, strict=True), color=COLOURS[r.variant], lw=1.2, label=f"{r.variant} train")
        if val:
            ax.plot(
                *zip(*val, strict=True),
                "o--",
                color=COLOURS[r.variant],
                ms=3,
                lw=0.8,
                label=f"{r.variant} val",
            )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(f"{size}: loss ({mine[0].hardware})")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dest, metadata=_META)
    plt.close(fig)
    return True


def eval_bars(runs: list[Run], size: str, dest: Path) -> bool:
    mine = [
        r
        for r in runs
        if r.size == size and r.results and {"base", "finetuned"} <= set(r.results["models"]) and r.headline()
    ]
    if not mine:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(mine), figsize=(2.4 * len(mine) + 0.6, 2.6), squeeze=False)
    for ax, r in zip(axes[0], mine, strict=True):
        names = r.headline()
        models = r.results["models"]
        xs = range(len(names))
        for k, (label, shade) in enumerate((("base", "#bbbbbb"), ("finetuned", COLOURS[r.variant]))):
            ax.bar([x + (k - 0.5) * 0.4 for x in xs], [models[label]["metrics"][n]["value"] for n in names],
                   width=0.4, color=shade, label=label)  # fmt: skip
        ax.set_xticks(
            list(xs),
            [n.replace("/", " ").replace("_", " ") for n in names],
            rotation=60,
            ha="right",
            fontsize=6,
        )
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{size} {r.variant}")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=6)
    fig.suptitle(f"base vs finetuned, held-out test sets ({mine[0].eval_hardware})", fontsize=8)
    fig.tight_layout()
    fig.savefig(dest, metadata=_META)
    plt.close(fig)
    return True


def throughput(runs: list[Run], dest: Path) -> bool:
    if not runs:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 0.5 + 0.28 * len(runs)))
    labels = [f"{r.size} {r.variant} ({r.hardware})" for r in runs]
    ax.barh(
        range(len(runs)), [r.metrics["tokens_per_s"] for r in runs], color=[COLOURS[r.variant] for r in runs]
    )
    ax.set_yticks(range(len(runs)), labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("training tokens / s")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(dest, metadata=_META)
    plt.close(fig)
    return True
