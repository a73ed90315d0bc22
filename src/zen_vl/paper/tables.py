"""LaTeX tables from the collected runs. Every caption names the size and the hardware that produced
its numbers; rows exist only for what was measured."""

from __future__ import annotations

from zen_vl.evaluate.report import decoding_text, metric_rows
from zen_vl.paper.results import Run

_ESCAPE = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
           "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip


def tex(text: object) -> str:
    return "".join(_ESCAPE.get(c, c) for c in str(text))


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f}"


def _hardware(values: list[str | None]) -> str:
    seen = list(dict.fromkeys(v for v in values if v))
    return "; ".join(seen) if seen else "hardware not recorded"


def _table(
    label: str, caption: str, spec: str, head: list[str], rows: list[list[str]], *, size="small"
) -> str:
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        f"\\{size}",
        f"\\caption{{{caption}}}",
        f"\\label{{{label}}}",
        f"\\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    for row in rows:
        lines.append(r"\midrule" if row == ["MIDRULE"] else " & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def configuration(runs: list[Run]) -> str:
    rows = []
    for r in runs:
        c, base = r.config, r.provenance.get("base", {})
        lora, train = c["lora"], c["train"]
        repo = c["bases"][c["base"]]["repo"]
        repo = (
            "offline tiny (random init)"
            if repo == "offline"
            else f"{repo}@{c['bases'][c['base']]['revision']}"
        )
        adapter = (
            "full"
            if lora["method"] == "full"
            else f"{tex(lora['method'])} r={lora['r']}, $\\alpha$={lora['alpha']}"
        )
        rows.append(
            [
                tex(r.size),
                tex(r.variant),
                r"\texttt{" + tex(repo) + "}",
                f"{base.get('parameters', 0) / 1e6:.1f}M" if base.get("parameters") else "--",
                adapter,
                f"{train['lr']:g}",
                f"{train['batch_size']}$\\times${train['grad_accum']}",
                tex(train["precision"]),
                str(r.metrics.get("steps", "--")),
            ]
        )
    return _table(
        "tab:config",
        "Configurations as run (from each model's \\texttt{provenance.json}). Batch is per device $\\times$ "
        "gradient accumulation.",
        "llllrrrlr",
        ["size", "variant", "base", "params", "adapter", "lr", "batch", "precision", "steps"],
        rows,
        size="scriptsize",
    )


def training(runs: list[Run]) -> str:
    rows = []
    for r in runs:
        m = r.metrics
        train, val = r.losses()
        rows.append(
            [
                tex(r.size),
                tex(r.variant),
                f"{m['wall_s']:.0f}",
                f"{m['tokens_seen']:,}".replace(",", r"\,"),
                f"{m['tokens_per_s']:.0f}",
                f"{m['peak_memory_gb']:.2f}",
                f"{train[0][1]:.2f} $\\to$ {train[-1][1]:.2f}" if train else "--",
                f"{val[-1][1]:.2f}" if val else "--",
                tex(r.hardware) + (f" $\\times${m['world_size']}" if m.get("world_size", 1) > 1 else ""),
            ]
        )
    return _table(
        "tab:training",
        "Training as measured by \\texttt{make train-<variant>}: wall time of the training loop, tokens "
        "seen (prompt and image tokens included), throughput, peak accelerator (or process) memory, "
        "first and last logged training loss, last validation loss, and the hardware.",
        "llrrrrrrl",
        ["size", "variant", "wall s", "tokens", "tok/s", "peak GB", "train loss", "val loss", "hardware"],
        rows,
        size="scriptsize",
    )


def _metric(m: dict) -> str:
    return f"{m['value']:.3f}"


def evaluation(runs: list[Run], size: str) -> str:
    evaluated = [r for r in runs if r.size == size and r.results]
    rows: list[list[str]] = []
    for r in evaluated:
        models = r.results["models"]
        pair = {k: models[k] for k in ("base", "finetuned") if k in models}
        if rows:
            rows.append(["MIDRULE"])
        for i, row in enumerate(metric_rows(pair, r.headline())):
            cells = dict(zip(pair, row.cells, strict=True))
            arrow = "" if row.higher_is_better else r" $\downarrow$"
            rows.append(
                [
                    tex(r.variant) if i == 0 else "",
                    r"\texttt{" + tex(row.name) + "}" + arrow,
                    *(_metric(cells[k]) if cells.get(k) else "--" for k in ("base", "finetuned")),
                    "--" if row.change is None else f"{row.change:+.3f}",
                    str(row.n),
                ]
            )
    hardware = _hardware([r.eval_hardware for r in evaluated])
    cases = ", ".join(f"{r.variant} {r.results['test_set']['cases']}" for r in evaluated)
    decodings = "; ".join(f"{r.variant}: {decoding_text(r.results)}" for r in evaluated)
    return _table(
        f"tab:eval-{size}",
        f"Held-out test sets of size \\texttt{{{tex(size)}}} ({tex(cases)} cases): the base model and the "
        f"finetuned one side by side ({tex(decodings)}), measured by \\texttt{{make eval}} on {tex(hardware)}. "
        r"$\downarrow$: lower is better; $n$: cases scored.",
        "llrrrr",
        ["variant", "metric", "base", "finetuned", r"$\Delta$", "$n$"],
        rows,
    )


def export(runs: list[Run]) -> str | None:
    rows = []
    for r in runs:
        if not r.gguf and not r.mlx:
            continue
        g, cells = r.gguf, ["--"] * 4
        if g:
            files = g["files"]
            quants = ", ".join(f"{q} {_mib(files[f]['bytes'])}" for q, f in g["quants"].items() if f in files)
            parity = g.get("parity") or {}
            cells = [
                _mib(files[g["text"]]["bytes"]),
                _mib(files[g["mmproj"]]["bytes"]) if g.get("mmproj") in files else "--",
                tex(quants) or "--",
                (
                    f"{parity['max_abs_diff']:.1e}"
                    + (" (same greedy)" if parity.get("same_greedy") else " (differs)")
                )
                if parity
                else "not checked",
            ]
        mlx = "--"
        if r.mlx:
            mlx = "; ".join(
                f"{m['bits']}-bit {m['check']['top1_agreement']:.2f}/{m['check']['max_abs_diff']:.2f}"
                for m in r.mlx["folders"].values()
                if m
            )
        rows.append([tex(r.size), tex(r.variant), *cells, mlx])
    if not rows:
        return None
    builds = [m for r in runs if r.mlx for m in r.mlx["folders"].values() if m]
    hardware = _hardware([(r.gguf or {}).get("hardware") for r in runs] + [m.get("hardware") for m in builds])
    return _table(
        "tab:export",
        "Exports as written by \\texttt{make gguf} and \\texttt{make mlx}: GGUF sizes in MiB (F16 text model, "
        "vision projector, quantisations), the largest $|\\Delta$logit$|$ between llama.cpp and transformers "
        "over the F16 model's greedy continuations, and for each MLX build the top-1 agreement with "
        f"transformers / largest $|\\Delta$logit$|$. Checked on {tex(hardware)}.",
        "llrrlll",
        ["size", "variant", "F16", "mmproj", "quantised", r"GGUF $|\Delta|$", "MLX agree / $|\\Delta|$"],
        rows,
        size="scriptsize",
    )


def export_tasks(runs: list[Run]) -> str | None:
    """The task check of make gguf / make mlx (the manifests' `task_parity`): each export scored on the
    variant's test set through its own server beside the transformers model, with the allowed margin."""
    rows = []
    for r in runs:
        checks = dict((r.gguf or {}).get("task_parity") or {})
        for m in ((r.mlx or {}).get("folders") or {}).values():
            checks.update((m or {}).get("task_parity") or {})
        verdicts = {k: v for k, v in checks.items() if isinstance(v, dict)}
        for label, v in verdicts.items():
            rows.append([tex(r.size), tex(r.variant), tex(label), r"\texttt{" + tex(v["metric"]) + "}",
                         f"{v['hf']:.3f}", f"{v['export']:.3f}", f"{v['margin']:.2f}",
                         "yes" if v["passed"] else "no", str(v["n"])])  # fmt: skip
    if not rows:
        return None
    hardware = _hardware([r.eval_hardware for r in runs if r.results])
    return _table(
        "tab:export-tasks",
        "The task check of \\texttt{make gguf} and \\texttt{make mlx}: each export scored on the variant's "
        "held-out test set through its own server (\\texttt{llama-server} with the mmproj for GGUF, "
        "\\texttt{mlx\\_vlm.server} for MLX; greedy) beside the transformers model on the same cases, and the "
        f"largest drop allowed (\\texttt{{export.task\\_margin}}); measured on {tex(hardware)}.",
        "lllllrrrr",
        ["size", "variant", "export", "metric", "transformers", "export", "margin", "within", "$n$"],
        rows,
        size="scriptsize",
    )


def appendix(runs: list[Run]) -> str:
    """Every metric of every evaluated run, one longtable per (size, variant)."""
    out = []
    for r in runs:
        if not r.results:
            continue
        models = r.results["models"]
        labels = list(models)
        out += [
            r"\begin{longtable}{l" + "r" * len(labels) + "r}",
            f"\\caption{{All metrics, \\texttt{{{tex(r.size)}}} {tex(r.variant)} ({tex(r.eval_hardware or '')}).}}"
            r"\\",
            r"\toprule",
            "metric & " + " & ".join(tex(x) for x in labels) + r" & $n$ \\",
            r"\midrule",
            r"\endhead",
        ]
        for row in metric_rows(models):
            out.append(
                r"\texttt{"
                + tex(row.name)
                + "} & "
                + " & ".join(_metric(c) if c else "--" for c in row.cells)
                + f" & {row.n} \\\\"
            )
        out += [r"\bottomrule", r"\end{longtable}", ""]
    return "\n".join(out)


def summary(runs: list[Run], size: str) -> str:
    """A paragraph per size stating what was run and the first headline changes, every number measured."""
    mine = [r for r in runs if r.size == size]
    parts = [
        f"Size \\texttt{{{tex(size)}}}: trained {', '.join(tex(r.variant) for r in mine)} on {tex(_hardware([r.hardware for r in mine]))}."
    ]
    for r in mine:
        if not r.results or "base" not in r.results["models"]:
            continue
        models = r.results["models"]
        said = []
        for name in r.headline()[:2]:
            b, t = models["base"]["metrics"][name], models["finetuned"]["metrics"][name]
            said.append(f"\\texttt{{{tex(name)}}} {b['value']:.3f} $\\to$ {t['value']:.3f} ($n={t['n']}$)")
        if said:
            parts.append(f"{tex(r.variant).capitalize()}: " + "; ".join(said) + ".")
    missing = [r.variant for r in mine if not r.results]
    if missing:
        parts.append(f"Not evaluated yet: {', '.join(tex(v) for v in missing)}.")
    return " ".join(parts) + "\n"


def caveats(runs: list[Run]) -> str:
    lines = []
    offline = list(dict.fromkeys(r.size for r in runs if r.config.get("tiny")))  # built offline, random
    if offline:
        lines.append(
            ("The sizes " if len(offline) > 1 else "The size ")
            + ", ".join(f"\\texttt{{{tex(s)}}}" for s in offline)
            + (" are randomly initialised models" if len(offline) > 1 else " is a randomly initialised model")
            + " with the real Qwen3-VL architecture, vocabulary, chat template and processors, small "
            "enough to train in minutes on a CPU: the numbers show that every stage runs and measures "
            "end to end, not what the method achieves on a pretrained base."
        )
    return "\n\n".join(lines) + ("\n" if lines else "")


def _mix(config: dict) -> str:
    data = config["data"]
    mix = ", ".join(f"{tex(k)} {v:g}" for k, v in data["mix"].items() if v > 0) or "none"
    extra = [f"{len(data['languages'])} identity languages"]
    if "gui" in data["mix"] and data["mix"]["gui"] > 0:
        extra.append(f"screens {tex(', '.join(data['gui_screens']))}")
    if not data.get("identity_images", ["logo"]):
        extra.append("identity asked in text")
    return f"{mix} ({'; '.join(extra)})"


def findings(runs: list[Run]) -> str:
    """What each evaluated variant learned, per size: its data mix and its headline change from the base,
    every number from results.json and provenance.json."""
    out = []
    for size in dict.fromkeys(r.size for r in runs):
        said = []
        for r in (r for r in runs if r.size == size and r.results and "base" in r.results["models"]):
            models = {k: r.results["models"][k] for k in ("base", "finetuned")}
            changes = [
                f"\\texttt{{{tex(row.name)}}} {row.cells[0]['value']:.2f} $\\to$ {row.cells[1]['value']:.2f} ($n={row.n}$)"
                for row in metric_rows(models, r.headline())
                if row.change is not None and (row.change != 0 or row.cells[1]["value"] != 0)
            ]
            steps = r.metrics.get("steps", "?")
            said.append(
                f"{tex(r.variant).capitalize()} trained {steps} steps on the mix {_mix(r.config)}: "
                + ("; ".join(changes) if changes else "no headline metric moved")
                + "."
            )
        if said:
            out.append(
                f"On size \\texttt{{{tex(size)}}}, base $\\to$ finetuned on held-out cases: " + " ".join(said)
            )
    return "\n\n".join(out) + ("\n" if out else "")
