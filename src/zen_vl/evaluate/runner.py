"""`make eval`: the base and the finetuned model on the variant's held-out test set, side by side.

Writes `<variant>/finetuned/<size>/eval/`: `results.json` (metrics per model, test set hash,
settings, hardware), `results.md` (the table), and per model and case set `<label>[.<set>].json`
(its records: every output with its verdict). Records are reused while the model, the cases and
the eval settings are unchanged, so a rerun after retraining evaluates only the finetuned model.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zen_vl.artifacts import (
    BASE_MANIFEST,
    DATA_MANIFEST,
    GGUF_MANIFEST,
    MLX_MANIFEST,
    PROVENANCE,
    RESULTS,
    code_hash,
    current,
    device_name,
    file_hash,
    fingerprint,
    read_manifest,
    require,
    require_finetuned,
    reusable,
    safe_name,
)
from zen_vl.atomic import write_json
from zen_vl.config import ZenConfig
from zen_vl.data.schema import read_jsonl
from zen_vl.errors import ZenError
from zen_vl.evaluate.cases import Case, cases_of
from zen_vl.evaluate.episodes import episode_specs, episodes_of, hf_policy, served_policy
from zen_vl.evaluate.generate import decoding, generate, load_model
from zen_vl.evaluate.records import score
from zen_vl.evaluate.report import failures, markdown, summarize
from zen_vl.evaluate.served import Served
from zen_vl.paths import Layout


@dataclass
class CaseSet:
    """Cases to run every model on, and the hash of where they came from (for the record cache)."""

    cases: list[Case]
    content: str
    path: Path
    skipped: list[str] | None = None
    samples: int = 0  # test samples behind the cases (tool-calling samples give one case per turn)


def model_fingerprint(folder: Path) -> str:
    """What identifies a model's weights cheaply: its provenance or base manifest, else file stats."""
    folder = Path(folder)
    for record in (folder.parent / PROVENANCE, folder / BASE_MANIFEST):
        if record.is_file():
            return file_hash(record)[:16]
    stats = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*.safetensors"))
    return fingerprint(stats)


def load_cases(folder: Path, limit: int | None = None) -> tuple[list[Case], int]:
    path = folder / "test.jsonl"
    if not path.is_file():
        raise ZenError(f"no test set at {path}: run `make data` first")
    samples = [s for _, s in read_jsonl(path)][:limit]
    if not samples:
        raise ZenError(f"{path}: the test set is empty (data.test=0?)")
    return [c for i, s in enumerate(samples) for c in cases_of(i, s)], len(samples)


def evaluate_model(
    folder: Path,
    cases: list[Case],
    *,
    media_root: Path,
    cfg: ZenConfig,
    thinking: bool,
    progress: bool = True,
) -> tuple[list[dict], float, dict]:
    """Generate every case's answer with one model (several per case when sampling) and score it;
    (records, seconds, decoding)."""
    processor, model = load_model(folder)
    how = decoding(cfg, model, thinking)
    start = time.perf_counter()
    records = []
    for k in range(how["samples"]):
        outputs = generate(
            model,
            processor,
            [c.prompt for c in cases],
            media_root=media_root,
            processor_kwargs=cfg.vision.processor_kwargs,
            max_new_tokens=cfg.eval.max_new_tokens,
            batch_size=cfg.eval.batch_size,
            progress=progress,
            sample_seed=None if how["mode"] == "greedy" else how["seed"] + 1_000_003 * k,
        )
        for c, o in zip(cases, outputs, strict=True):
            records.append({**score(c, o, thinking=thinking, name=cfg.identity.name), "sample": k})
    seconds = time.perf_counter() - start
    del model
    return records, seconds, how


def folder_hash(folder: Path) -> str:
    """Cheap identity of a benchmark folder: every file's path and size."""
    stats = sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file()
    )
    return fingerprint(stats)


def case_sets(cfg: ZenConfig, data: Path, screenspot: Path | None) -> dict[str, CaseSet]:
    """The held-out test set, plus the ScreenSpot folder when given (BFCL runs its own loop: bfcl_of)."""
    manifest = require(data, DATA_MANIFEST, f"run `make data SIZE={cfg.size} VARIANT={cfg.variant}` first")
    test, n_samples = load_cases(data, cfg.eval.limit)
    sets = {"test": CaseSet(test, manifest["content_hash"], data / "test.jsonl", samples=n_samples)}
    if screenspot is not None:
        from zen_vl.evaluate.screenspot import load_screenspot

        sets["screenspot"] = CaseSet(
            load_screenspot(screenspot, cfg.eval.limit), folder_hash(Path(screenspot)), Path(screenspot)
        )
    return sets


def models_to_evaluate(cfg: ZenConfig, layout: Layout, model: Path | None) -> dict[str, tuple[Path, bool]]:
    """label -> (model folder, thinking template): one given folder, or base and finetuned."""
    if model is not None:
        return {Path(model).name: (Path(model), cfg.template == "thinking")}
    finetuned = layout.finetuned(cfg.variant, cfg.size)
    require_finetuned(finetuned, cfg.size, cfg.variant)
    models = {}
    if cfg.eval.baseline:
        models["base"] = (layout.base(cfg.size, cfg.base), cfg.bases[cfg.base].template == "thinking")
    models["finetuned"] = (finetuned / "merged", cfg.template == "thinking")
    return models


def records_of(
    label: str, folder: Path, thinking: bool, name: str, cases: CaseSet, out: Path, cfg: ZenConfig, data: Path,
    *, force: bool, progress: bool,
) -> dict:  # fmt: skip
    """One model's records on one case set: cached in `out` while model, cases and settings match."""
    settings = eval_settings(cfg)
    key = {"model": model_fingerprint(folder), "cases": cases.content, "eval": settings, "thinking": thinking,
           "code": scoring_code()}  # fmt: skip
    fp = fingerprint(key)
    path = out / (f"{label}.json" if name == "test" else f"{label}.{name}.json")
    cached = reusable(path, fp, force=force, progress=progress, what=f"{label} on {name}")
    if cached:
        return cached
    if progress:
        print(f"{label} on {name}: evaluating {folder} on {len(cases.cases)} cases")
    recs, secs, how = evaluate_model(
        folder, cases.cases, media_root=data, cfg=cfg, thinking=thinking, progress=progress
    )
    cached = {"fingerprint": fp, "path": str(folder), "seconds": secs, "decoding": how, "records": recs}
    write_json(path, cached)
    return cached


@contextlib.contextmanager
def hf_endpoint(folder: Path, cfg: ZenConfig) -> Iterator[str]:
    """A Hub-format model folder behind an OpenAI `/v1/completions` endpoint (for BFCL's loop)."""
    from zen_vl.evaluate.completions_server import serving

    processor, model = load_model(folder)
    with serving(model, processor.tokenizer, max_new_tokens=cfg.eval.max_new_tokens,
                 batch_size=cfg.eval.batch_size) as url:  # fmt: skip
        yield url
    del model


@contextlib.contextmanager
def export_endpoint(model: Served, cfg: ZenConfig, thinking: bool) -> Iterator[str]:
    from zen_vl.evaluate.served import started

    with started(model, thinking=thinking, vision=cfg.vision, slots=cfg.eval.batch_size) as url:
        yield f"{url}/v1"


def bfcl_of(
    label: str, identity: str, tokenizer: Path, endpoint: Callable, data: Path | None, out: Path, cfg: ZenConfig,
    *, force: bool, progress: bool,
) -> dict:  # fmt: skip
    """One model's BFCL records and metrics (BFCL's loop and checker; zen_vl.evaluate.bfcl) through
    `endpoint()` (a context yielding an OpenAI `/v1` base URL), cached in `out/<label>.bfcl.json`
    while model, BFCL data and settings match; BFCL's own result and score files stay in
    `out/bfcl-<label>/`."""
    from zen_vl.evaluate import bfcl

    settings = {k: getattr(cfg.eval, k) for k in ("bfcl_limit", "max_new_tokens", "batch_size")}
    key = {"model": identity, "data": folder_hash(data) if data else bfcl.VERSION, "eval": settings,
           "code": code_hash("evaluate/bfcl.py", "evaluate/bfcl_official.py", "evaluate/completions_server.py")}  # fmt: skip
    path = out / f"{safe_name(label)}.bfcl.json"
    cached = reusable(path, fingerprint(key), force=force, progress=progress, what=f"{label} on bfcl")
    if cached:
        return cached
    if progress:
        print(f"{label} on bfcl: BFCL v4 through BFCL's own loop and checker ({data or 'package data'})")
    start = time.perf_counter()
    with endpoint() as url:
        done = bfcl.run(url, tokenizer, out / f"bfcl-{safe_name(label)}", data=data, limit=cfg.eval.bfcl_limit,
                        threads=cfg.eval.batch_size, progress=progress)  # fmt: skip
    cached = {"fingerprint": fingerprint(key), "seconds": time.perf_counter() - start,
              "decoding": {"mode": "greedy", "samples": 1}, **done}  # fmt: skip
    write_json(path, cached)
    return cached


def exported_models(
    cfg: ZenConfig, layout: Layout, formats: tuple[str, ...], *, missing_ok: bool = False
) -> list[Served]:
    """The exports of SIZE x VARIANT that `formats` names: every GGUF (the unquantized one and each
    quant, with the mmproj) and every MLX folder; a missing export names the make command (or, with
    `missing_ok`, is left out)."""
    out = []
    if "gguf" in formats:
        folder = layout.gguf(cfg.variant, cfg.size)
        rebuild = f"run `make gguf SIZE={cfg.size} VARIANT={cfg.variant}` first"
        m = (
            read_manifest(folder, GGUF_MANIFEST, rebuild)
            if missing_ok
            else require(folder, GGUF_MANIFEST, rebuild)
        )
        if m:
            mmproj = folder / m["mmproj"]
            out.append(Served(f"gguf:{cfg.export.gguf_outtype.upper()}", "gguf", folder / m["text"], mmproj))
            out += [Served(f"gguf:{q}", "gguf", folder / name, mmproj) for q, name in m["quants"].items()]
    if "mlx" in formats:
        for bits in cfg.export.mlx_bits:
            folder = layout.mlx(cfg.variant, cfg.size, bits)
            rebuild = f"run `make mlx SIZE={cfg.size} VARIANT={cfg.variant}` first"
            if (
                read_manifest(folder, MLX_MANIFEST, rebuild)
                if missing_ok
                else require(folder, MLX_MANIFEST, rebuild)
            ):
                out.append(Served(f"mlx:{bits}bit", "mlx", folder))
    return out


def export_identity(model: Served) -> str:
    """What identifies an export's weights cheaply: its weight files' names, sizes and times."""
    files = [model.model] if model.model.is_file() else sorted(model.model.glob("*.safetensors"))
    return fingerprint([(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files])


def served_records(
    model: Served, cases: CaseSet, name: str, out: Path, cfg: ZenConfig, data: Path, thinking: bool,
    *, force: bool, progress: bool, cached_only: bool = False,
) -> dict | None:  # fmt: skip
    """One exported model's records on one case set, through its server (zen_vl.evaluate.served);
    with `cached_only`, the up-to-date cached records or None (nothing is served)."""
    from zen_vl.evaluate.served import chat, started

    identity = export_identity(model)
    key = {"model": identity, "cases": cases.content, "eval": eval_settings(cfg), "thinking": thinking,
           "code": scoring_code() + code_hash("evaluate/served.py")}  # fmt: skip
    fp = fingerprint(key)
    path = out / f"{safe_name(model.label)}{'' if name == 'test' else '.' + name}.json"
    if cached_only:
        return current(path.parent, path.name, fp)
    cached = reusable(path, fp, force=force, progress=progress, what=f"{model.label} on {name}")
    if cached:
        return cached
    if progress:
        print(f"{model.label} on {name}: serving {model.model} for {len(cases.cases)} cases")
    start = time.perf_counter()
    with started(model, thinking=thinking, vision=cfg.vision, slots=cfg.eval.batch_size) as url:
        replies = chat(url, [c.prompt for c in cases.cases], media_root=data, max_tokens=cfg.eval.max_new_tokens,
                       threads=cfg.eval.batch_size if model.kind == "gguf" else 1, progress=progress, label=model.label,
                       model=str(model.model), tool_images_in_user=model.tool_images_in_user)  # fmt: skip
    records = []
    for c, reply in zip(cases.cases, replies, strict=True):
        if reply["output"] is None:
            continue
        rec = score(c, reply["output"], thinking=thinking, name=cfg.identity.name)
        records.append({**rec, "sample": 0, "reasoning_separate": reply["reasoning_separate"]})
    skipped = len(replies) - len(records)
    cached = {"fingerprint": fp, "path": str(model.model), "seconds": time.perf_counter() - start,
              "decoding": {"mode": "greedy", "samples": 1}, "records": records, "skipped_cases": skipped}  # fmt: skip
    write_json(path, cached)
    return cached


def eval_settings(cfg: ZenConfig) -> dict:
    return {**cfg.eval.model_dump(), "processor_kwargs": cfg.vision.processor_kwargs}


def run_eval(
    cfg: ZenConfig,
    layout: Layout | None = None,
    *,
    model: Path | None = None,
    out: Path | None = None,
    screenspot: Path | None = None,
    bfcl: str | Path | None = None,
    formats: tuple[str, ...] = ("hf",),
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Evaluate (base and) finetuned — or one given model folder — on the test set, plus a ScreenSpot
    folder and BFCL v4 (`bfcl`: "1" for the package's data, or a folder) when given, and write the
    results; returns the results.json path. `formats` adds the exports (`gguf`, `mlx`) beside the
    transformers models, each through its own server."""
    from zen_vl.evaluate.bfcl import data_of

    layout = layout or Layout.default()
    data = layout.data(cfg.variant, cfg.size)
    sets = case_sets(cfg, data, screenspot)
    bfcl_data = data_of(bfcl) if bfcl is not None else None
    models = models_to_evaluate(cfg, layout, model)
    specs = episode_specs(data, cfg.eval.limit) if cfg.eval.episodes else []
    finetuned = layout.finetuned(cfg.variant, cfg.size)
    out = out or (
        Path(model).parent / f"eval-{Path(model).name}" if model is not None else finetuned / "eval"
    )
    results = results_header(cfg, sets)
    trained_on = (read_manifest(finetuned, PROVENANCE) or {}).get("data", {}).get("content_hash")
    if model is None and trained_on and trained_on != sets["test"].content:
        results["warning"] = "the finetuned model was trained on another build of this dataset"
    for label, (folder, thinking) in models.items():
        done = [
            records_of(label, folder, thinking, name, s, out, cfg, data, force=force, progress=progress)
            for name, s in sets.items()
        ]
        extra = {}
        if bfcl is not None:
            d = bfcl_of(label, model_fingerprint(folder), folder, lambda f=folder: hf_endpoint(f, cfg), bfcl_data,
                        out, cfg, force=force, progress=progress)  # fmt: skip
            done.append(d)
            extra = d["metrics"]
            results["benchmarks"]["bfcl"] = bfcl_header(d["selection"])
        if specs:
            e = episodes_of(label, model_fingerprint(folder), lambda media, f=folder, t=thinking: hf_policy(f, cfg, t, media),
                            specs, out, cfg, thinking, force=force, progress=progress)  # fmt: skip
            extra = {**extra, **e["metrics"]}
            results["benchmarks"]["gui_episodes"] = {"episodes": len(specs), "path": str(data / "test.jsonl")}
            done.append({**e, "records": []})
        records = [r for d in done for r in d["records"]]
        results["models"][label] = {
            "format": "hf",
            "path": str(folder),
            "thinking_template": thinking,
            "decoding": done[0].get("decoding", {"mode": "greedy", "samples": 1}),
            "seconds": round(sum(d["seconds"] for d in done), 1),
            "metrics": {**summarize(records, thinking=thinking), **extra},
            "failures": failures(records),
        }
    if model is None:
        evaluate_exports(
            cfg,
            layout,
            sets,
            formats,
            bfcl,
            bfcl_data,
            out,
            data,
            results,
            force=force,
            progress=progress,
            specs=specs,
        )
    write_json(out / RESULTS, results)
    tmp = out / "results.md.tmp"
    tmp.write_text(markdown(results), encoding="utf-8")
    tmp.replace(out / "results.md")
    return out / RESULTS


def evaluate_exports(
    cfg: ZenConfig, layout: Layout, sets: dict[str, CaseSet], formats: tuple[str, ...], bfcl, bfcl_data,
    out: Path, data: Path, results: dict, *, force: bool, progress: bool, specs: list[dict] | None = None,
) -> None:  # fmt: skip
    """Rows of results.json for the exported models (`formats`), beside the transformers ones; an
    export `formats` does not name keeps its row while its cached records are up to date (make mlx
    after make gguf keeps the GGUF rows)."""
    thinking = cfg.template == "thinking"
    merged = layout.finetuned(cfg.variant, cfg.size) / "merged"
    others = tuple(f for f in ("gguf", "mlx") if f not in formats)
    todo = [(s, False) for s in exported_models(cfg, layout, formats)]
    todo += [(s, True) for s in exported_models(cfg, layout, others, missing_ok=True)]
    for served, cached_only in todo:
        done = [served_records(served, s, name, out, cfg, data, thinking, force=force, progress=progress,
                               cached_only=cached_only) for name, s in sets.items()]  # fmt: skip
        if None in done:
            continue
        extra, note = {}, None
        if bfcl is not None and served.kind == "gguf" and not cached_only:
            d = bfcl_of(served.label, export_identity(served), merged, lambda s=served: export_endpoint(s, cfg, thinking),
                        bfcl_data, out, cfg, force=force, progress=progress)  # fmt: skip
            done.append(d)
            extra = d["metrics"]
        elif bfcl is not None:
            note = "BFCL not run: mlx-vlm's server has no /v1/completions, which BFCL's Qwen handler calls"
        if specs:
            e = episodes_of(served.label, export_identity(served), lambda media, s=served: served_policy(s, cfg, thinking, media),
                            specs, out, cfg, thinking, force=force, progress=progress, cached_only=cached_only)  # fmt: skip
            if e:
                extra = {**extra, **e["metrics"]}
                done.append({**e, "records": []})
        records = [r for d in done for r in d["records"]]
        row = {
            "format": served.kind,
            "path": str(served.model),
            "thinking_template": thinking,
            "decoding": {"mode": "greedy", "samples": 1},
            "seconds": round(sum(d["seconds"] for d in done), 1),
            "metrics": {**summarize(records, thinking=thinking), **extra},
            "failures": failures(records),
            "skipped_cases": sum(d.get("skipped_cases", 0) for d in done),
        }
        if thinking:
            reasoned = [r for r in records if "reasoning_separate" in r]
            row["reasoning_returned_separately"] = sum(r["reasoning_separate"] for r in reasoned)
        if note:
            row["note"] = note
        results["models"][served.label] = row


def bfcl_header(selection: dict) -> dict:
    """results.json's account of a BFCL run: where the data came from, the entries per category run,
    and the categories skipped with why."""
    from zen_vl.evaluate.bfcl import HANDLER, VERSION

    return {"path": selection["data"], "bfcl_eval": VERSION, "handler": HANDLER,
            "cases": sum(selection["cases"].values()), "categories": selection["cases"],
            "skipped": selection["skipped"]}  # fmt: skip


def results_header(cfg: ZenConfig, sets: dict[str, CaseSet]) -> dict:
    """results.json before any model is run: what was evaluated, on what, how."""
    test = sets["test"]
    benchmarks = {
        name: {"path": str(s.path), "cases": len(s.cases)} for name, s in sets.items() if name != "test"
    }
    for name, s in sets.items():
        if s.skipped:
            benchmarks[name]["skipped"] = s.skipped
    return {
        "size": cfg.size,
        "variant": cfg.variant,
        "test_set": {
            "path": str(test.path),
            "content_hash": test.content,
            "samples": test.samples,
            "cases": len(test.cases),
        },
        "benchmarks": benchmarks,
        "eval": eval_settings(cfg),
        "hardware": device_name(),
        "models": {},
    }


def scoring_code() -> str:
    """Hash of the code that turns a prompt into a scored record: records always come from the code
    that wrote them (rescoring cached outputs would be cheaper; regenerating keeps one rule)."""
    return code_hash("evaluate/cases.py", "evaluate/records.py", "evaluate/scoring.py",
                     "evaluate/tool_calls.py", "evaluate/generate.py")  # fmt: skip
