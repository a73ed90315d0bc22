"""The one training engine for instruct, thinking and agent: they differ in config and data only.

    data/<variant>/<size>/ ─→ ConversationDataset (chat.render) ─→ Trainer + peft ─→ checkpoints
        <variant>/training/<size>/checkpoint-N/   every train.save_steps; the next run resumes from the last
        <variant>/training/<size>/runs/           tensorboard logs (loss, lr, grad norm, tokens/s)
    ─→ merge + verify ─→ <variant>/finetuned/<size>/ (see zen_vl.train.merge)

Resume is automatic: a run finds the newest complete checkpoint of the same configuration
(zen_vl.train.checkpoints) and the Trainer restores step, optimizer, scheduler, RNG and data position;
a SIGKILL at any moment, mid-save included, costs at most save_steps steps. A checkpoint written by
another configuration is never resumed silently. One run per variant and size at a time (zen_vl.lock).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, Trainer, TrainerCallback, TrainingArguments, set_seed

from zen_vl.artifacts import (
    PROVENANCE,
    RUN_FILE,
    current,
    device_name,
    fingerprint,
    git_commit,
    peak_memory_gb,
    read_manifest,
    versions,
)
from zen_vl.atomic import write_json
from zen_vl.base.load import check_base, load_processor
from zen_vl.collate import Collator
from zen_vl.config import ZenConfig
from zen_vl.data.build import build_dataset, current_dataset, summary
from zen_vl.lock import exclusive
from zen_vl.paths import Layout
from zen_vl.resources import check_disk, check_train_memory
from zen_vl.train.checkpoints import last_complete_checkpoint
from zen_vl.train.dataset import ConversationDataset
from zen_vl.train.keepalive import keep_vision_alive
from zen_vl.train.kernels import apply_speedups
from zen_vl.train.loss import supervised_loss
from zen_vl.train.merge import publish
from zen_vl.train.model import (
    TrainError,
    check_device,
    count_params,
    load_model,
    param_groups,
    prepare,
    set_adapter_input_cast,
    trainable_summary,
)
from zen_vl.train.packing import PackingCollator

# Settings that do not change what is learned: a checkpoint stays resumable when only these differ.
NOT_LEARNED = {
    "train": {"save_steps", "logging_steps", "report_to", "distributed", "dataloader_workers"}
    | {"attention", "packing", "liger", "patch_embed"}  # same loss, other kernels or batch layout
}


@dataclass
class TrainResult:
    dest: Path
    steps: int
    wall_s: float
    tokens_per_s: float
    peak_memory_gb: float
    train_loss: float | None
    resumed_from: str | None
    skipped: bool = False

    def summary(self, cfg: ZenConfig) -> str:
        if self.skipped:
            return f"{cfg.variant}/{cfg.size}: up to date ({self.dest})"
        resumed = f", resumed from {self.resumed_from}" if self.resumed_from else ""
        return (
            f"trained {cfg.variant}/{cfg.size}: {self.steps} steps in {self.wall_s:.0f} s, "
            f"{self.tokens_per_s:.0f} tokens/s, peak memory {self.peak_memory_gb:.1f} GB{resumed} -> {self.dest}"
        )


def run_fingerprint(cfg: ZenConfig, data_hash: str, base_id: str) -> str:
    """What a run learns from: the config (less the settings in NOT_LEARNED), the dataset's content and
    the base's weights (the commit a Hub download resolved, or the tiny builder's weight digest)."""
    dump = cfg.model_dump()
    for section, keys in NOT_LEARNED.items():
        for key in keys:
            dump[section].pop(key, None)
    return fingerprint([dump, data_hash, base_id])


def base_identity(manifest: dict) -> str:
    """The base's resolved identity from its manifest: a branch name such as `main` is not one."""
    return manifest.get("commit") or manifest.get("weights_sha256") or fingerprint(manifest)


class ZenTrainer(Trainer):
    """Trainer with per-component learning rates and a tokens/s figure in every log."""

    def __init__(self, *args, zen_cfg: ZenConfig, **kwargs):
        super().__init__(*args, **kwargs)
        self.zen_cfg = zen_cfg
        self._last_log = (time.perf_counter(), 0)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            opt_cls, opt_kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, self.model)
            self.optimizer = opt_cls(param_groups(self.zen_cfg, self.model), **opt_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The model's causal-LM loss with logits only for supervised tokens (zen_vl.train.loss)."""
        loss, outputs = supervised_loss(model, inputs, num_items_in_batch)
        if num_items_in_batch is not None and self.args.average_tokens_across_devices:
            loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict, *args, **kwargs) -> None:
        now, seen = time.perf_counter(), self.state.num_input_tokens_seen
        last_t, last_seen = self._last_log
        if "loss" in logs and now > last_t and seen > last_seen:
            logs["tokens_per_s"] = round((seen - last_seen) / (now - last_t), 1)
            self._last_log = (now, seen)
        super().log(logs, *args, **kwargs)


def trainable_digest(model) -> str:
    """sha256 over the trainable parameters (names and values), to compare ranks or runs."""
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters(), key=lambda x: x[0]):
        if p.requires_grad:
            h.update(name.encode() + p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def ensure_data(cfg: ZenConfig, layout: Layout, processor, *, progress: bool) -> tuple[Path, dict]:
    """The run's dataset, built here when missing or stale (the only place `make train-*` builds it);
    under a distributed launch it must already be current (ranks would race to build it)."""
    folder = layout.data(cfg.variant, cfg.size)
    manifest = current_dataset(cfg, layout, processor)
    if manifest is not None:
        return folder, manifest
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise TrainError(
            f"{folder} is missing or stale; build it first: make data SIZE={cfg.size} VARIANT={cfg.variant}"
        )
    folder, manifest = build_dataset(cfg, layout, processor=processor, progress=progress)
    if progress:
        print("built: " + summary(folder, manifest))
    return folder, manifest


def training_arguments(
    cfg: ZenConfig, out: Path, *, progress: bool, validate: bool = True
) -> TrainingArguments:
    """The Trainer's arguments from the config; `validate=False` when there is no val split."""
    t = cfg.train
    on_gpu = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.lr,
        weight_decay=t.weight_decay,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        warmup_steps=t.warmup_ratio,  # a float below 1 is a ratio of the total steps
        lr_scheduler_type="cosine",
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=3,
        eval_strategy="steps" if validate else "no",
        eval_steps=t.save_steps,
        seed=t.seed,
        data_seed=t.seed,
        train_sampling_strategy=t.sampling,
        bf16=t.precision == "bf16",
        fp16=t.precision == "fp16",
        gradient_checkpointing=False,  # enabled on the model by zen_vl.train.model.prepare
        report_to=list(t.report_to),
        project=f"zen-vl-{cfg.variant}",
        run_name=f"{cfg.variant}-{cfg.size}",
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=t.dataloader_workers,
        dataloader_persistent_workers=t.dataloader_workers > 0,
        disable_tqdm=not progress,
        use_cpu=not on_gpu,
        # Text-only batches leave the merger unused, MoE batches leave experts unused.
        ddp_find_unused_parameters=True,
        optim="adamw_torch",
    )


def train(
    cfg: ZenConfig,
    layout: Layout | None = None,
    *,
    progress: bool = True,
    force: bool = False,
    callbacks: list[TrainerCallback] | None = None,
) -> TrainResult:
    """Train one variant of one size; resume when a checkpoint exists; merge, verify, publish.

    One run per variant and size at a time: the launch's main process holds training/<size>.lock."""
    layout = layout or Layout.default()
    out = layout.training(cfg.variant, cfg.size)
    held = exclusive(out, f"training {cfg.variant}/{cfg.size}") if is_main_process() else nullcontext()
    with held:
        base, base_manifest, processor = preflight(cfg, layout)
        data_dir, manifest = ensure_data(cfg, layout, processor, progress=progress and is_main_process())
        run_id = run_fingerprint(cfg, manifest["content_hash"], base_identity(base_manifest))
        dest = layout.finetuned(cfg.variant, cfg.size)
        done = current(dest, PROVENANCE, run_id, key="run_fingerprint")
        if done and not force:
            return TrainResult(dest, done["metrics"]["steps"], 0, 0, 0, None, None, skipped=True)
        last = resume_point(cfg, out, dest, run_id, force=force)
        trainer, speedups = build_trainer(cfg, base, processor, data_dir, manifest, out, progress, callbacks)
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=last)
        metrics = run_metrics(trainer, result, time.perf_counter() - started, last, speedups)
        if trainer.args.world_size > 1:  # every rank records what it holds; the ranks must agree
            write_json(
                out / "ranks" / f"{trainer.args.process_index}.json",
                {"trainable_digest": trainable_digest(trainer.model), "steps": trainer.state.global_step},
            )
        if trainer.is_world_process_zero():
            record = provenance(cfg, run_id, base, base_manifest, manifest, last, metrics)
            # the merged folder's preprocessor_config.json carries the image budget the model trained at:
            # consumers that read it (mlx-vlm, vLLM, llama.cpp's converter) see the images as it did
            processor.image_processor.size = dict(cfg.vision.processor_kwargs["images_kwargs"]["size"])
            set_adapter_input_cast(trainer.model, True)  # the merge check runs the adapters outside autocast
            publish(
                trainer.model, processor, base=base, dest=dest, probe=probe_batch(trainer), provenance=record
            )
    return TrainResult(
        dest, metrics["steps"], metrics["wall_s"], metrics["tokens_per_s"], metrics["peak_memory_gb"],
        result.training_loss, last,
    )  # fmt: skip


def preflight(cfg: ZenConfig, layout: Layout) -> tuple[Path, dict, object]:
    """What this machine cannot run, refused before any data is built or weights loaded: device,
    memory, disk for the merged copy, a complete base. Returns (base folder, its manifest, processor)."""
    check_device(cfg)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.architecture is not None:  # known from the config: refused before the base is even looked at
        check_train_memory(cfg, device, count_params(cfg))
    base = layout.base(cfg.size, cfg.base)
    base_manifest = check_base(base, cfg.size)
    if cfg.architecture is None:  # a size without `shape:`: count the downloaded base's architecture
        check_train_memory(cfg, device, count_params(cfg, AutoConfig.from_pretrained(base)))
    dest = layout.finetuned(cfg.variant, cfg.size)
    weights = sum(f.stat().st_size for f in base.glob("*.safetensors"))
    check_disk(
        dest.parent, int(weights * 1.1), f"merging {cfg.variant}/{cfg.size} (a copy of the base's weights)"
    )
    return base, base_manifest, load_processor(base, cfg.size)


def resume_point(cfg: ZenConfig, out: Path, dest: Path, run_id: str, *, force: bool) -> str | None:
    """The checkpoint to resume from (None: start fresh), after the resume policy: checkpoints of the
    finished, published run are cleared; checkpoints of another configuration are refused."""
    last = last_complete_checkpoint(out, clean=is_main_process())
    previous = read_manifest(out, RUN_FILE, f"remove {out} to start over")
    done = read_manifest(dest, PROVENANCE, f"make train-{cfg.variant} SIZE={cfg.size} FORCE=1")
    finished = bool(previous and done and done.get("run_fingerprint") == previous.get("run_fingerprint"))
    if last and finished and (force or previous.get("run_fingerprint") != run_id):
        # That run is complete and its model published: its checkpoints are not a run to resume.
        if is_main_process():
            print(f"{out}: starting over (the checkpoints belong to the finished, published run)")
            shutil.rmtree(out, ignore_errors=True)
        last = previous = None
    if last and (previous is None or previous.get("run_fingerprint") != run_id):
        raise TrainError(
            f"{out} holds checkpoints of another configuration or dataset; remove that folder to start over "
            "(or restore the settings it was trained with)"
        )
    if is_main_process():
        shutil.rmtree(out / "ranks", ignore_errors=True)  # rank digests of an earlier launch
        if last is None:
            write_json(out / RUN_FILE, {"run_fingerprint": run_id, "config": cfg.model_dump(mode="json")})
    return last


def build_trainer(
    cfg, base: Path, processor, data_dir: Path, manifest: dict, out: Path, progress: bool, callbacks
):
    """The prepared model, datasets, collator and ZenTrainer; and the kernels chosen."""
    set_seed(cfg.train.seed)  # adapter init draws from the global RNG: same seed, same run
    model = prepare(cfg, load_model(cfg, base))
    speedups = apply_speedups(cfg, model)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # ZeRO-3 / FSDP: no rank may skip the vision tower
        keep_vision_alive(model)
        speedups["vision_keepalive"] = True
    if is_main_process():
        print(
            f"{cfg.variant}/{cfg.size}: {trainable_summary(model)}; data {data_dir} ({manifest['samples']})"
        )
        shown = (f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in speedups.items())
        print(f"{cfg.variant}/{cfg.size}: kernels " + ", ".join(shown))
    kwargs = {"processor_kwargs": cfg.vision.processor_kwargs, "max_length": cfg.train.max_length}
    train_set = ConversationDataset(data_dir / "train.jsonl", processor, **kwargs)
    val_set = ConversationDataset(data_dir / "val.jsonl", processor, **kwargs)
    pad = processor.tokenizer.pad_token_id
    collator = (
        PackingCollator(pad, cfg.train.max_length, cfg.train.attention == "varlen")
        if cfg.train.packing
        else Collator(pad)
    )
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(out / "runs"))
    trainer = ZenTrainer(
        model=model,
        args=training_arguments(cfg, out, progress=progress, validate=len(val_set) > 0),
        train_dataset=train_set,
        eval_dataset=val_set if len(val_set) else None,
        data_collator=collator,
        processing_class=processor,
        callbacks=callbacks,
        zen_cfg=cfg,
    )
    return trainer, speedups


def probe_batch(trainer) -> dict:
    """One padded sample (validation first) for the merge's logit check."""
    data = trainer.eval_dataset if trainer.eval_dataset is not None else trainer.train_dataset
    return Collator(trainer.processing_class.tokenizer.pad_token_id)([data[0]])


def run_metrics(trainer, result, wall: float, last: str | None, speedups: dict) -> dict:
    """What the run measured: steps, time, tokens/s over the steps this process ran, memory, losses."""
    tokens = trainer.state.num_input_tokens_seen
    resumed_steps = int(Path(last).name.split("-")[-1]) if last else 0
    steps_now = trainer.state.global_step - resumed_steps
    tokens_per_s = tokens / wall * (steps_now / max(trainer.state.global_step, 1)) if wall else 0.0
    return {
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "wall_s": round(wall, 1),
        "tokens_seen": int(tokens),
        "tokens_per_s": round(tokens_per_s, 1),
        "peak_memory_gb": round(peak_memory_gb(), 2),
        "train_loss": result.training_loss,
        "log_history": trainer.state.log_history,
        "device": device_name(),
        "world_size": trainer.args.world_size,
        "distributed": str(trainer.accelerator.distributed_type.value),
        "kernels": speedups,
    }


def provenance(
    cfg, run_id: str, base: Path, base_manifest: dict, manifest: dict, last, metrics: dict
) -> dict:
    """provenance.json: everything that produced the finetuned model."""
    return {
        "size": cfg.size,
        "variant": cfg.variant,
        "run_fingerprint": run_id,
        "config": cfg.model_dump(mode="json"),
        "seed": cfg.train.seed,
        "base": {"folder": str(base), **base_manifest},
        "data": {k: manifest[k] for k in ("fingerprint", "content_hash", "samples", "seed")},
        "versions": versions(),
        "git": git_commit(),
        "resumed_from": last,
        "metrics": metrics,
    }
