"""Generate paper/tables and paper/figures from the measured runs, then latexmk → paper/zen-vl.pdf.

The hand-written sources stay in the checkout's paper/ (zen-vl.tex, sections/, references.bib); the
build copies them with the generated files into paper/build/ and runs latexmk there, so a failed
build never replaces the last good PDF. Up to date (nothing rebuilt) while sources and results match.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from zen_vl.artifacts import PAPER_MANIFEST, current, digest_files
from zen_vl.atomic import building, write_json
from zen_vl.config import system_packages
from zen_vl.errors import ZenError
from zen_vl.paper import figures, tables
from zen_vl.paper.results import Run, collect, sizes
from zen_vl.paths import Layout

INSTALL = (
    f"`make install` installs them (Debian/Ubuntu: apt-get install {' '.join(system_packages('command:latexmk'))}); "
    "elsewhere MacTeX / TeX Live with latexmk"
)


def paper_sources() -> Path:
    """The checkout's paper/ (hand-written sources), wherever ZEN_VL_ROOT puts the outputs."""
    return Path(__file__).resolve().parents[3] / "paper"


def _figure(name: str, caption: str, width: str = r"\linewidth") -> str:
    return "\n".join(
        [
            r"\begin{figure}[htbp]",
            r"\centering",
            f"\\includegraphics[width={width}]{{figures/{name}}}",
            f"\\caption{{{caption}}}",
            f"\\label{{fig:{name}}}",
            r"\end{figure}",
            "",
        ]
    )


def generate(runs: list[Run], table_dir: Path, figure_dir: Path) -> None:
    """Write every table and figure, plus results.tex that places them in order."""
    files = {"config.tex": tables.configuration(runs), "training.tex": tables.training(runs)}
    body = []
    for size in sizes(runs):
        body += [f"\\subsection{{Size \\texttt{{{tables.tex(size)}}}}}", tables.summary(runs, size)]
        if any(r.size == size and r.results for r in runs):
            files[f"eval-{size}.tex"] = tables.evaluation(runs, size)
            body.append(f"\\input{{tables/eval-{size}}}")
        if figures.eval_bars(runs, size, figure_dir / f"eval-{size}.pdf"):
            body.append(
                _figure(
                    f"eval-{size}",
                    f"Headline metrics, base vs finetuned, size \\texttt{{{tables.tex(size)}}}.",
                )
            )
        if figures.loss_curves(runs, size, figure_dir / f"loss-{size}.pdf"):
            body.append(
                _figure(
                    f"loss-{size}",
                    f"Training and validation loss, size \\texttt{{{tables.tex(size)}}}.",
                    r"0.8\linewidth",
                )
            )
    body += [
        r"\subsection{Training cost}",
        r"Table~\ref{tab:training} lists what each training run cost on the hardware it ran on"
        + (r", and Figure~\ref{fig:throughput} compares their throughput." if runs else "."),
        r"\input{tables/training}",
    ]
    if figures.throughput(runs, figure_dir / "throughput.pdf"):
        body.append(
            _figure(
                "throughput",
                "Training throughput (tokens per second, prompt and image tokens included).",
                r"0.8\linewidth",
            )
        )
    if (export := tables.export(runs)) is not None:
        files["export.tex"] = export
        body += [
            r"\subsection{Exports}",
            r"Table~\ref{tab:export} lists the GGUF and MLX builds and how closely each agrees with the "
            r"transformers model it was converted from.",
            r"\input{tables/export}",
        ]
    if (tasks := tables.export_tasks(runs)) is not None:
        files["export_tasks.tex"] = tasks
        body += [
            r"Table~\ref{tab:export-tasks} scores the same exports on the task itself, through the server a "
            r"user runs them with.",
            r"\input{tables/export_tasks}",
        ]
    files["results.tex"] = "\n".join(body) + "\n"
    files["appendix.tex"] = tables.appendix(runs)
    files["caveats.tex"] = tables.caveats(runs)
    files["findings.tex"] = tables.findings(runs)
    hardware = list(dict.fromkeys(r.hardware for r in runs))
    files["measured.tex"] = "\n".join(
        [
            f"\\newcommand{{\\zenSizes}}{{{', '.join(tables.tex(s) for s in sizes(runs))}}}",
            f"\\newcommand{{\\zenHardware}}{{{tables.tex('; '.join(hardware))}}}",
            "",
        ]
    )
    for name, text in files.items():
        (table_dir / name).write_text(text, encoding="utf-8")


def source_files(sources: Path) -> list[Path]:
    """The hand-written sources (not the outputs that share paper/ when ZEN_VL_ROOT is unset)."""
    top = [p for p in sources.iterdir() if p.suffix in (".tex", ".bib", ".sty", ".cls", ".bst")]
    return sorted(top + list((sources / "sections").glob("*.tex")))


def _latex_error(log: Path) -> str:
    if not log.is_file():
        return "no log written"
    text = log.read_text(errors="replace").splitlines()
    hits = [i for i, line in enumerate(text) if re.match(r"^(!|.*:\d+: )", line)]
    return "\n".join(text[hits[0] : hits[0] + 6]) if hits else "\n".join(text[-15:])


def build_paper(layout: Layout | None = None, *, force: bool = False, progress: bool = True) -> Path:
    layout = layout or Layout.default()
    latexmk = shutil.which("latexmk")
    if latexmk is None:
        raise ZenError(f"make paper needs latexmk and TeX Live: {INSTALL}")
    runs = collect(layout)
    if not runs:
        raise ZenError(
            f"no measured results under {layout.root}: run `make all SIZE=tiny` (or train and evaluate a "
            "variant) before `make paper`"
        )
    out = layout.paper()
    for stale in out.glob(".zen-vl.*.pdf"):  # a copy a killed build never renamed into place
        stale.unlink()
    with (
        building(out / "tables", replace=True) as table_dir,
        building(out / "figures", replace=True) as figure_dir,
    ):
        generate(runs, table_dir, figure_dir)
    sources = paper_sources()
    generated = sorted(p for d in ("tables", "figures") for p in (out / d).iterdir())
    fingerprint = digest_files(source_files(sources), sources) + digest_files(generated, out)
    pdf, build = out / "zen-vl.pdf", layout.paper_build()
    if not force and pdf.is_file() and current(build, PAPER_MANIFEST, fingerprint):
        if progress:
            print(f"paper: up to date ({pdf})")
        return pdf
    shutil.rmtree(build, ignore_errors=True)
    shutil.copytree(
        sources, build, ignore=shutil.ignore_patterns("build", "tables", "figures", "*.pdf", "README.md")
    )
    shutil.copytree(out / "tables", build / "tables")
    shutil.copytree(out / "figures", build / "figures")
    cmd = [latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "zen-vl.tex"]
    if progress:
        print(f"paper: latexmk in {build} ({len(runs)} runs over sizes {', '.join(sizes(runs))})", flush=True)
    run = subprocess.run(cmd, cwd=build, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if run.returncode != 0 or not (build / "zen-vl.pdf").is_file():
        raise ZenError(
            f"latexmk failed (exit {run.returncode}); log {build / 'zen-vl.log'}:\n{_latex_error(build / 'zen-vl.log')}"
        )
    fd, tmp = tempfile.mkstemp(prefix=".zen-vl.", suffix=".pdf", dir=out)
    os.close(fd)
    shutil.copyfile(build / "zen-vl.pdf", tmp)
    os.replace(tmp, pdf)
    write_json(
        build / PAPER_MANIFEST, {"fingerprint": fingerprint, "runs": [f"{r.size}/{r.variant}" for r in runs]}
    )
    if progress:
        print(f"paper: {pdf}")
    return pdf
