"""`make eval`: the base and the finetuned model on the variant's held-out test set, side by side.

Writes `<variant>/finetuned/<size>/eval/`: `results.json` (metrics per model, test set hash,
settings, hardware), `results.md` (the table), and per model and case set `<label>[.<set>].json`
(its records: every output with its verdict). Records are reused while the model, the cases and
the eval settings are unchanged, so a rerun after retraining evaluates only the finetuned model.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from zen_vl.atomic import write_json
from zen_vl.config import ZenConfig
from zen_vl.data.build import read_data_manifest
from zen_vl.data.schema import read_jsonl
from zen_vl.errors import ZenError
from zen_vl.evaluate import cases as casing
from zen_vl.evaluate.generate import generate
from zen_vl.evaluate.report import failures, markdown, summarize
from zen_vl.paths import Layout
from zen_vl.train.merge import require_finetuned
from zen_vl.train.provenance import device_name

RESULTS = "results.json"


def load_model(folder: Path):
    """(processor, model) of any Hub-format Qwen3-VL folder: bf16 on a GPU, fp32 on CPU."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ZenError(f"{folder}: not a model folder (no config.json)")
    processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    if not hasattr(processor, "image_processor"):
        raise ZenError(f"{folder}: no image processor (preprocessor_config.json missing?)")
    cuda = torch.cuda.is_available()
    model = AutoModelForImageTextToText.from_pretrained(
        folder, dtype=torch.bfloat16 if cuda else torch.float32, local_files_only=True
    )
    return processor, model.to("cuda" if cuda else "cpu").eval()


def model_fingerprint(folder: Path) -> str:
    """What identifies a model's weights cheaply: its provenance or base manifest, else file stats."""
    folder = Path(folder)
    for record in (folder.parent / "provenance.json", folder / "zen_vl_base.json"):
        if record.is_file():
            return hashlib.sha256(record.read_bytes()).hexdigest()[:16]
    stats = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*.safetensors"))
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


def load_cases(folder: Path, limit: int | None = None) -> tuple[list[casing.Case], int]:
    path = folder / "test.jsonl"
    if not path.is_file():
        raise ZenError(f"no test set at {path}: run `make data` first")
    samples = [s for _, s in read_jsonl(path)][:limit]
    if not samples:
        raise ZenError(f"{path}: the test set is empty (data.test=0?)")
    return [c for i, s in enumerate(samples) for c in casing.cases_of(i, s)], len(samples)


def evaluate_model(
    folder: Path,
    cases: list[casing.Case],
    *,
    media_root: Path,
    cfg: ZenConfig,
    thinking: bool,
    progress: bool = True,
) -> tuple[list[dict], float]:
    """Generate every case's answer with one model and score it; (records, seconds)."""
    processor, model = load_model(folder)
    start = time.perf_counter()
    outputs = generate(
        model,
        processor,
        [c.prompt for c in cases],
        media_root=media_root,
        processor_kwargs=cfg.vision.processor_kwargs,
        max_new_tokens=cfg.eval.max_new_tokens,
        batch_size=cfg.eval.batch_size,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    del model
    records = [
        casing.score(c, o, thinking=thinking, name=cfg.identity.name)
        for c, o in zip(cases, outputs, strict=True)
    ]
    return records, seconds


def folder_hash(folder: Path) -> str:
    """Cheap identity of a benchmark folder: every file's path and size."""
    stats = sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file()
    )
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


def run_eval(
    cfg: ZenConfig,
    layout: Layout | None = None,
    *,
    model: Path | None = None,
    out: Path | None = None,
    screenspot: Path | None = None,
    bfcl: Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Evaluate (base and) finetuned — or one given model folder — on the test set, plus ScreenSpot-v2
    and BFCL folders when given, and write the results; returns the results.json path."""
    layout = layout or Layout.default()
    data = layout.data(cfg.variant, cfg.size)
    manifest = read_data_manifest(data)
    if manifest is None:
        raise ZenError(f"no dataset at {data}: run `make data SIZE={cfg.size} VARIANT={cfg.variant}` first")
    test, n_samples = load_cases(data, cfg.eval.limit)
    sets = {"test": (test, manifest["content_hash"])}
    skipped: list[str] = []
    if screenspot is not None:
        from zen_vl.evaluate.screenspot import load_screenspot

        sets["screenspot"] = (load_screenspot(screenspot, cfg.eval.limit), folder_hash(Path(screenspot)))
    if bfcl is not None:
        from zen_vl.evaluate.bfcl import load_bfcl

        cases, skipped = load_bfcl(bfcl, cfg.eval.limit)
        sets["bfcl"] = (cases, folder_hash(Path(bfcl)))
    finetuned = layout.finetuned(cfg.variant, cfg.size)
    models: dict[str, tuple[Path, bool]] = {}
    if model is not None:
        models[Path(model).name] = (Path(model), cfg.template == "thinking")
        out = out or Path(model).parent / f"eval-{Path(model).name}"
    else:
        require_finetuned(finetuned, cfg.size, cfg.variant)
        if cfg.eval.baseline:
            models["base"] = (layout.base(cfg.size, cfg.base), cfg.bases[cfg.base].template == "thinking")
        models["finetuned"] = (finetuned / "merged", cfg.template == "thinking")
        out = out or finetuned / "eval"
    settings = {**cfg.eval.model_dump(), "processor_kwargs": cfg.vision.processor_kwargs}
    results = {
        "size": cfg.size,
        "variant": cfg.variant,
        "test_set": {
            "path": str(data / "test.jsonl"),
            "content_hash": manifest["content_hash"],
            "samples": n_samples,
            "cases": len(test),
        },
        "benchmarks": {
            name: {"path": str(p), "cases": len(sets[name][0])}
            for name, p in (("screenspot", screenspot), ("bfcl", bfcl))
            if p is not None
        },
        "eval": settings,
        "hardware": device_name(),
        "models": {},
    }
    if skipped:
        results["benchmarks"]["bfcl"]["skipped"] = skipped
    trained_on = _trained_on(finetuned) if model is None else None
    if trained_on and trained_on != manifest["content_hash"]:
        results["warning"] = "the finetuned model was trained on another build of this dataset"
    for label, (folder, thinking) in models.items():
        records, seconds = [], 0.0
        for name, (cases, content) in sets.items():
            key = {
                "model": model_fingerprint(folder),
                "cases": content,
                "eval": settings,
                "thinking": thinking,
                "code": _scoring_code(),
            }
            fp = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
            path = out / (f"{label}.json" if name == "test" else f"{label}.{name}.json")
            cached = _read(path)
            if cached and cached.get("fingerprint") == fp and not force:
                if progress:
                    print(f"{label} on {name}: up to date ({path})")
            else:
                if progress:
                    print(f"{label} on {name}: evaluating {folder} on {len(cases)} cases")
                recs, secs = evaluate_model(
                    folder, cases, media_root=data, cfg=cfg, thinking=thinking, progress=progress
                )
                cached = {"fingerprint": fp, "path": str(folder), "seconds": secs, "records": recs}
                write_json(path, cached)
            records += cached["records"]
            seconds += cached["seconds"]
        results["models"][label] = {
            "path": str(folder),
            "thinking_template": thinking,
            "seconds": round(seconds, 1),
            "metrics": summarize(records, thinking=thinking),
            "failures": failures(records),
        }
    write_json(out / RESULTS, results)
    tmp = out / "results.md.tmp"
    tmp.write_text(markdown(results), encoding="utf-8")
    tmp.replace(out / "results.md")
    return out / RESULTS


def _trained_on(finetuned: Path) -> str | None:
    record = _read(finetuned / "provenance.json")
    return (record or {}).get("data", {}).get("content_hash")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _scoring_code() -> str:
    """Hash of the scoring code: a changed metric rescoring cached outputs would be cheaper, but
    regenerating keeps one rule simple: records always come from the code that wrote them."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("cases.py", "scoring.py", "tool_calls.py", "generate.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]
