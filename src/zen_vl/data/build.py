"""Build one variant's dataset: generate by mix, add bring-your-own sources, split, check, publish.

data/<variant>/<size>/
    train.jsonl val.jsonl test.jsonl   conversations (see zen_vl.data.schema), each with `meta` ground truth
    media/                             generated and imported images and frame folders
    manifest.json                      counts, seed, fingerprint, content hash, token statistics; written last

Splits never leak: every sample carries a `meta.key` naming its scene, screen or question, and a
val/test draw whose key appears in train is drawn again (counted as `redrawn_for_leakage`); held-out
phrasings are only asked in val/test. Every sample is rendered through the processor and chat
template once (when a processor is given): one over `train.max_length` is dropped and counted,
never cut.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from zen_vl.artifacts import DATA_MANIFEST, code_hash, digest_files, file_hash, fingerprint, read_manifest
from zen_vl.atomic import building, write_json
from zen_vl.base.load import chat_template_text
from zen_vl.config import ZenConfig
from zen_vl.data import draw, llamafactory
from zen_vl.data.context import SPLITS, Ctx, MediaWriter
from zen_vl.data.distill import distill
from zen_vl.data.episodes import gui_episode
from zen_vl.data.general import general
from zen_vl.data.gui import gui
from zen_vl.data.identity import identity
from zen_vl.data.scenes import colour_probe, reasoning, visual
from zen_vl.data.schema import DataError, Report, sample_problems
from zen_vl.data.sources import VideoSampling, load_source, reason_kind, split_source
from zen_vl.data.video import video
from zen_vl.paths import Layout

GENERATORS: dict[str, Callable[[Ctx], dict]] = {
    "identity": identity,
    "visual": visual,
    "reasoning": reasoning,
    "gui": gui,
    "gui_episode": gui_episode,
    "video": video,
    "general": general,
    "colour_probe": colour_probe,
}
MAX_REDRAWS = 200


def apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split `total` by weight (largest remainder; ties by name), so counts always sum to total."""
    weights = {k: w for k, w in sorted(weights.items()) if w > 0}
    norm = sum(weights.values())
    exact = {k: total * w / norm for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), k))[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def data_code() -> str:
    """Hash of the code that writes datasets (this package, chat.py, media.py): edit a generator, rebuild."""
    return code_hash("data/*.py", "chat.py", "media.py")


def template_text(cfg: ZenConfig, layout: Layout, processor=None) -> str:
    """The chat template the samples are rendered with: the processor's, else the base folder's, else
    (offline sizes, before the base is built) the one the tiny builder will give it."""
    if processor is not None:
        return processor.chat_template
    folder = layout.base(cfg.size, cfg.base)
    text = chat_template_text(folder)
    if text is not None:
        return text
    if cfg.offline:
        from zen_vl.base.tiny import chat_template

        return chat_template(cfg.bases[cfg.base].template)
    raise DataError(f"{folder} has no chat template (is the base downloaded?): make download-{cfg.size}")


def source_files(cfg: ZenConfig, root: Path) -> dict[str, str]:
    """sha256 of each local source's file (a dataset_info.json and the file it names), so an edited
    file rebuilds the dataset. Media files are not hashed (name them anew to change them)."""
    out = {}
    for src in cfg.data.sources:
        if src.path is None:
            continue
        path = Path(src.path) if Path(src.path).is_absolute() else root / src.path
        files = [path]
        if src.format == "llamafactory" and path.is_file():
            with contextlib.suppress(DataError):  # the build names the problem
                files.append(llamafactory.dataset_entry(path, src.dataset)[0])
        for f in files:
            out[str(f)] = file_hash(f) if f.is_file() else "missing"
        if src.reasoning == "distill":  # the distiller's weights decide what is kept
            given = cfg.data.distill.model
            model = Path(given) if given else Layout(root).base(cfg.size, cfg.base)
            model = model if model.is_absolute() else root / model
            weights = sorted(model.glob("*.safetensors")) if model.is_dir() else []
            out[f"distiller:{model}"] = fingerprint(
                [(w.name, w.stat().st_size, w.stat().st_mtime_ns) for w in weights]
            )
    return out


def data_fingerprint(cfg: ZenConfig, template: str, root: Path | None = None) -> str:
    """Everything that determines the built files, the chat template's text and the local source
    files included; a dataset with another fingerprint is rebuilt."""
    inputs = {
        "sources": source_files(cfg, root or Layout.default().root),
        "data": cfg.data.model_dump(),
        "identity": cfg.identity.model_dump(),
        "template": cfg.template,
        "template_sha256": hashlib.sha256(template.encode()).hexdigest(),
        "variant": cfg.variant,
        "max_length": cfg.train.max_length,
        "vision": cfg.vision.model_dump(),
        "code": data_code(),
        "font": draw.font_name(),
    }
    return fingerprint(inputs)


def read_data_manifest(cfg: ZenConfig, layout: Layout) -> dict | None:
    """The built dataset's manifest, or None when it was never completed."""
    folder = layout.data(cfg.variant, cfg.size)
    return read_manifest(folder, DATA_MANIFEST, f"make data SIZE={cfg.size} VARIANT={cfg.variant} FORCE=1")


def current_dataset(cfg: ZenConfig, layout: Layout, processor=None) -> dict | None:
    """The manifest when data/<variant>/<size>/ is complete and built from this config, else None."""
    manifest = read_data_manifest(cfg, layout)
    if manifest and manifest.get("fingerprint") == data_fingerprint(
        cfg, template_text(cfg, layout, processor), layout.root
    ):
        return manifest
    return None


def generate(
    cfg: ZenConfig, media: MediaWriter, *, progress: bool = True
) -> tuple[dict[str, list[dict]], int]:
    """Generated samples per split, and how many val/test draws were redrawn to avoid leakage."""
    data = cfg.data
    splits: dict[str, list[dict]] = {}
    train_keys: set[str] = set()
    redrawn = 0
    total = data.train + data.val + data.test
    bar = tqdm(total=total, desc=f"generate {cfg.variant}/{cfg.size}", unit="sample", disable=not progress)
    for split in SPLITS:
        out = []
        for source, n in apportion(getattr(data, split), data.mix).items():
            for i in range(n):
                for attempt in range(MAX_REDRAWS):
                    ctx = Ctx(
                        rng=random.Random(f"{data.seed}/{split}/{source}/{i}/{attempt}"),
                        split=split,
                        think=cfg.template == "thinking",
                        identity=cfg.identity,
                        data=data,
                        media=media,
                        stem=f"{source}/{split}-{i:06d}",
                    )
                    sample = GENERATORS[source](ctx)
                    if split == "train" or sample["meta"]["key"] not in train_keys:
                        break
                    redrawn += 1
                else:
                    raise DataError(
                        f"data.{split}: cannot draw a {source} sample unseen in train after {MAX_REDRAWS} tries; "
                        f"lower data.{split} or the weight of {source}"
                    )
                sample["meta"]["source"] = source
                out.append(sample)
                bar.update()
        if split == "train":
            train_keys = {s["meta"]["key"] for s in out}
        splits[split] = out
    bar.close()
    return splits, redrawn


def add_sources(
    cfg: ZenConfig,
    splits: dict[str, list[dict]],
    media: MediaWriter,
    project_root: Path,
    distiller: Path | None = None,
    *,
    progress: bool = True,
) -> dict[str, dict]:
    """Load, validate and split every `data.sources` entry into the splits; returns per source what
    was dropped (by reason, `on_invalid: drop`) and how many identity placeholders were filled."""
    video = VideoSampling(cfg.data.video_fps, cfg.data.video_min_frames, cfg.data.video_max_frames)
    report = {}
    for src in cfg.data.sources:
        loaded = load_source(src, media, project_root, cfg.identity, video)
        distilled = None
        if src.reasoning == "distill":
            model = Path(cfg.data.distill.model) if cfg.data.distill.model else distiller
            if model is not None and not model.is_absolute():
                model = project_root / model
            loaded.samples, distilled = distill(cfg, loaded.samples, model, media.root, progress=progress)
        kept = []
        for where, sample in loaded.samples:
            problems = sample_problems(sample, media_root=media.root, template=cfg.template)
            if not problems:
                kept.append((where, sample))
            elif src.on_invalid == "drop":  # a sample is dropped once, under its first reason
                loaded.dropped[reason_kind(problems[0])] += 1
            else:
                shown = "\n".join(f"  {where}: {p}" for p in problems[:20])
                raise DataError(
                    f"data source '{src.name}': {len(problems)} problem(s) (on_invalid: drop skips such "
                    f"samples and counts them):\n{shown}"
                )
        if not kept:
            dropped = f" ({sum(loaded.dropped.values())} dropped as invalid)" if loaded.dropped else ""
            raise DataError(f"data source '{src.name}' is empty{dropped}")
        for where, sample in kept:
            sample["meta"] = {**sample.get("meta", {}), "source": src.name, "where": where}
        for split, samples in split_source([s for _, s in kept], src, cfg.data.seed).items():
            splits[split].extend(samples)
        report[src.name] = {
            "kept": len(kept),
            "dropped_invalid": dict(loaded.dropped.most_common()),
            "placeholders_filled": loaded.placeholders,
            "coords_converted": loaded.coords_converted,
            **({"distilled": distilled} if distilled else {}),
        }
    return report


def check_lengths(
    cfg: ZenConfig, splits: dict[str, list[dict]], processor, root: Path, *, progress: bool = True
):
    """Render every sample once; drop those over max_length (deleting their media), or refuse them when
    their source says too_long: error. Token statistics."""
    from zen_vl.chat import SampleTooLong, render, training_views

    stats, refused = {}, []
    strict = {src.name for src in cfg.data.sources if src.too_long == "error"}
    total = sum(len(v) for v in splits.values())
    bar = tqdm(total=total, desc="render + check lengths", unit="sample", disable=not progress)
    for split, samples in splits.items():
        kept, lengths, supervised, dropped = [], [], [], 0
        for sample in samples:
            try:
                batches = [
                    render(view, processor, media_root=root, processor_kwargs=cfg.vision.processor_kwargs,
                           max_length=cfg.train.max_length, skip_turns=skip)
                    for view, skip in training_views(sample, processor)
                ]  # fmt: skip
            except SampleTooLong as exc:
                meta = sample.get("meta", {})
                if meta.get("source") in strict:
                    refused.append(f"{meta.get('where')}: {str(exc).split(': ', 1)[-1]}")
                dropped += 1
                _delete_media(sample, root)
                continue
            finally:
                bar.update()
            kept.append(sample)
            lengths += [b["input_ids"].shape[1] for b in batches]
            supervised.append(sum(int((b["labels"] != -100).sum()) for b in batches))
        splits[split] = kept
        stats[split] = {
            "dropped_too_long": dropped,
            "tokens_mean": round(sum(lengths) / len(lengths), 1) if lengths else 0,
            "tokens_max": max(lengths, default=0),
            "tokens_total": sum(lengths),
            "supervised_tokens_total": sum(supervised),
        }
    bar.close()
    if refused:
        shown = "\n".join(f"  {p}" for p in refused[:20])
        raise DataError(
            f"{len(refused)} sample(s) over train.max_length={cfg.train.max_length} tokens:\n{shown}\n"
            "raise train.max_length, shorten them, or set too_long: drop on the source to skip them"
        )
    return stats


def build_dataset(
    cfg: ZenConfig,
    layout: Layout | None = None,
    *,
    processor=None,
    force: bool = False,
    progress: bool = True,
) -> tuple[Path, dict]:
    """Build data/<variant>/<size>/ atomically; reuse it when its fingerprint is current."""
    layout = layout or Layout.default()
    dest = layout.data(cfg.variant, cfg.size)
    fp = data_fingerprint(cfg, template_text(cfg, layout, processor), layout.root)
    existing = read_data_manifest(cfg, layout)
    if existing and existing.get("fingerprint") == fp and not force:
        return dest, existing
    if cfg.data.check_lengths and processor is None:
        raise DataError("data.check_lengths is on but no processor was given (make download-<size> first)")

    with building(dest, replace=True) as tmp:
        media = MediaWriter(tmp)
        splits, redrawn = generate(cfg, media, progress=progress)
        distiller = layout.base(cfg.size, cfg.base)
        sources = add_sources(cfg, splits, media, layout.root, distiller, progress=progress)
        for split, samples in splits.items():
            random.Random(f"{cfg.data.seed}/shuffle/{split}").shuffle(samples)
        tokens = (
            check_lengths(cfg, splits, processor, tmp, progress=progress) if processor is not None else {}
        )
        for split, samples in splits.items():
            report = Report(dest / f"{split}.jsonl")
            with (tmp / f"{split}.jsonl").open("w", encoding="utf-8") as fh:
                for n, sample in enumerate(samples, 1):
                    sample = {"id": f"{cfg.variant}-{cfg.size}-{split}-{n:06d}", **sample}
                    report.samples += 1
                    for reason in sample_problems(sample, media_root=tmp, template=cfg.template):
                        report.add(n, reason)
                    fh.write(json.dumps(sample, ensure_ascii=False) + "\n")
            report.raise_if_bad()
        if sum(len(s) for s in splits.values()) == 0 or not splits["train"]:
            raise DataError(
                f"{dest}: the training split is empty (check data.train, data.mix and data.sources)"
            )
        manifest = {
            "size": cfg.size,
            "variant": cfg.variant,
            "template": cfg.template,
            "seed": cfg.data.seed,
            "fingerprint": fp,
            "code": data_code(),
            "font": draw.font_name(),
            "counts": {
                split: dict(sorted(Counter(s["meta"]["source"] for s in samples).items()))
                for split, samples in splits.items()
            },
            "samples": {split: len(samples) for split, samples in splits.items()},
            "redrawn_for_leakage": redrawn,
            "sources": sources,
            "tokens": tokens,
            "content_hash": content_hash(tmp),
        }
        write_json(tmp / DATA_MANIFEST, manifest)
    return dest, manifest


def content_hash(folder: Path) -> str:
    """sha256 over every file's relative path and bytes (the manifest itself excluded)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name != DATA_MANIFEST)
    return digest_files(files, Path(folder), length=64)


def summary(dest: Path, manifest: dict) -> str:
    """The table `make data` prints."""
    sources = sorted({s for counts in manifest["counts"].values() for s in counts})
    width = max(len("source"), *(len(s) for s in sources))
    lines = [
        f"{dest}  (seed {manifest['seed']}, content {manifest['content_hash'][:12]})",
        f"  {'source':<{width}} " + " ".join(f"{s:>7}" for s in SPLITS),
    ]
    for src in sources:
        lines.append(
            f"  {src:<{width}} " + " ".join(f"{manifest['counts'][s].get(src, 0):>7}" for s in SPLITS)
        )
    lines.append(f"  {'total':<{width}} " + " ".join(f"{manifest['samples'][s]:>7}" for s in SPLITS))
    tokens = manifest.get("tokens") or {}
    if tokens:
        dropped = sum(t["dropped_too_long"] for t in tokens.values())
        mean = tokens["train"]["tokens_mean"]
        lines.append(
            f"  tokens/sample (train): mean {mean}, max {tokens['train']['tokens_max']}; "
            f"dropped over max_length: {dropped}"
        )
    lines.append(f"  val/test draws redrawn to avoid leakage: {manifest['redrawn_for_leakage']}")
    for name, info in (manifest.get("sources") or {}).items():
        dropped = info["dropped_invalid"]
        if dropped:
            lines.append(f"  {name}: dropped {sum(dropped.values())} invalid sample(s):")
            lines += [f"    {n:>5}  {reason}" for reason, n in dropped.items()]
        if info.get("distilled"):
            d = info["distilled"]
            lines.append(
                f"  {name}: reasoning distilled by {d['model']}: {d['kept']} kept, "
                f"{d['rejected_wrong_answer']} rejected (wrong answer), {d['rejected_tool_calls']} (tool calls)"
            )
        if info["placeholders_filled"]:
            lines.append(
                f"  {name}: {info['placeholders_filled']} {{{{name}}}}/{{{{author}}}} placeholder(s) filled"
            )
    return "\n".join(lines)


def _delete_media(sample: dict, root: Path) -> None:
    for msg in sample["messages"]:
        for block in msg["content"] if isinstance(msg.get("content"), list) else []:
            for key in ("image", "video"):
                if isinstance(block.get(key), str):
                    target = root / block[key]
                    if target.is_dir():
                        shutil.rmtree(target, ignore_errors=True)
                    else:
                        target.unlink(missing_ok=True)
