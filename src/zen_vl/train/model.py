"""The model a run trains: the base loaded in the run's precision, frozen by component, wrapped in peft.

Components of Qwen3-VL (transformers 5 names):
    vision   model.visual.{patch_embed, pos_embed, blocks}
    merger   model.visual.{merger, deepstack_merger_list}
    llm      model.language_model, lm_head

`lora.method` = lora | dora | qlora: adapters on the language model's linear layers
(`lora.target_modules`) unless `train.freeze_llm`; on the vision blocks with `lora.vision`; on the
merger with `lora.merger`; on fused MoE experts by parameter name (`lora.target_parameters`). An
unfrozen component without adapters trains in full (peft `modules_to_save`). The MoE router is
never adapted. `full` trains every unfrozen component's weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

from zen_vl.config import ZenConfig
from zen_vl.errors import ZenError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
VISION_LINEAR = ("qkv", "proj", "linear_fc1", "linear_fc2")
MERGER_MODULES = ("merger", "deepstack_merger_list")
VISION_MODULES = ("patch_embed", "pos_embed", "blocks")


class TrainError(ZenError):
    """A run that cannot start as configured; the message says what to change."""


def component(name: str) -> str:
    """vision | merger | llm, for a parameter or module name."""
    if ".visual." in f".{name}":
        return "merger" if any(f".{m}" in name for m in MERGER_MODULES) else "vision"
    return "llm"


def check_attention(attention: str) -> None:
    """Refuses what this machine cannot run; registers train.attention=varlen with transformers."""
    if attention == "varlen":
        from zen_vl.train import varlen

        varlen.register()
    if attention == "flash_attention_2":
        import importlib.util

        if not torch.cuda.is_available():
            raise TrainError("train.attention=flash_attention_2 needs a CUDA GPU; use train.attention=sdpa")
        if importlib.util.find_spec("flash_attn") is None:
            raise TrainError("train.attention=flash_attention_2 needs flash-attn: pip install -e '.[gpu]'")


def check_device(cfg: ZenConfig) -> None:
    """What this machine cannot run, refused before any data is built or weights are loaded."""
    check_attention(cfg.train.attention)
    if cfg.lora.method == "qlora" and not torch.cuda.is_available():
        raise TrainError(
            "lora.method=qlora needs a CUDA GPU (bitsandbytes 4-bit kernels); on this machine use "
            "lora.method=lora (or dora)"
        )
    if cfg.train.precision != "fp32" and not torch.cuda.is_available():
        raise TrainError(
            f"train.precision={cfg.train.precision} on CPU is slow and lossy; use train.precision=fp32 here"
        )


def load_model(cfg: ZenConfig, base: Path):
    """The base model, ready for peft (or full training), in the run's precision."""
    from transformers import AutoModelForImageTextToText

    dtype = DTYPES[cfg.train.precision]
    check_device(cfg)
    kwargs: dict = {"dtype": dtype, "local_files_only": True, "attn_implementation": cfg.train.attention}
    if cfg.lora.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
            llm_int8_skip_modules=["visual", "lm_head"],  # keep the vision tower and head in full precision
        )
    model = AutoModelForImageTextToText.from_pretrained(base, **kwargs)
    model.config.text_config.use_cache = False
    if cfg.lora.method == "qlora":
        from peft import prepare_model_for_kbit_training

        # checkpointing is set up by prepare (all, none or the fewest layers that fit)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return model


def lora_config(cfg: ZenConfig, model):
    """peft LoraConfig from the config; target names are anchored regexes on full module names."""
    from peft import LoraConfig

    patterns = []
    if not cfg.train.freeze_llm and cfg.lora.target_modules:
        names = "|".join(cfg.lora.target_modules)
        patterns.append(rf"model\.language_model\..*\.({names})")
    if cfg.lora.vision:
        patterns.append(rf"model\.visual\.blocks\.\d+\..*\.({'|'.join(VISION_LINEAR)})")
    if cfg.lora.merger:
        patterns.append(r"model\.visual\.(merger|deepstack_merger_list\.\d+)\.linear_fc[12]")
    if not patterns and not cfg.lora.target_parameters:
        raise TrainError("nothing to adapt: freeze_llm is set and lora.vision / lora.merger are off")
    saved = list(cfg.lora.modules_to_save)
    if not cfg.train.freeze_merger and not cfg.lora.merger:
        saved += _full_modules(model, MERGER_MODULES)
    if not cfg.train.freeze_vision and not cfg.lora.vision:
        saved += _full_modules(model, VISION_MODULES)
    target_parameters = list(cfg.lora.target_parameters)
    if target_parameters and not any(
        n.endswith(p) for n, _ in model.named_parameters() for p in target_parameters
    ):
        raise TrainError(
            f"lora.target_parameters {target_parameters} match no parameter of this model "
            "(they name fused MoE experts; a dense model has none)"
        )
    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules="|".join(f"({p})" for p in patterns) if patterns else [],
        target_parameters=target_parameters or None,
        modules_to_save=saved or None,
        use_dora=cfg.lora.method == "dora",
        bias="none",
    )


def _full_modules(model, names: tuple[str, ...]) -> list[str]:
    """modules_to_save entries for these vision submodules; a ModuleList is listed by its items
    (peft cannot wrap a ModuleList itself)."""
    import re

    out = []
    for name, module in model.named_modules():
        m = re.fullmatch(r"(?:.*\.)?visual\.((" + "|".join(names) + r")(\.\d+)?)", name)
        if m and not isinstance(module, torch.nn.ModuleList):
            out.append(f"visual.{m.group(1)}")
    return out


def prepare(cfg: ZenConfig, model):
    """Freeze by component and attach adapters; returns the model to hand to the Trainer."""
    frozen = {
        "vision": cfg.train.freeze_vision,
        "merger": cfg.train.freeze_merger,
        "llm": cfg.train.freeze_llm,
    }
    if cfg.lora.method == "full":
        if all(frozen.values()):
            raise TrainError("full fine-tuning with every component frozen trains nothing")
        for name, param in model.named_parameters():
            param.requires_grad_(not frozen[component(name)])
        if cfg.train.freeze_embeddings:  # tied: the lm_head is the same tensor
            model.get_input_embeddings().weight.requires_grad_(False)
    else:
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(cfg, model))
        set_adapter_input_cast(model, cfg.train.lora_input_cast)
        if cfg.lora.target_parameters and cfg.lora.experts_path == "grouped":
            from zen_vl.train.moe_lora import grouped_expert_lora

            grouped_expert_lora(model)
        if cfg.lora.shared_dropout:
            from zen_vl.train.shared_dropout import share_adapter_dropout

            share_adapter_dropout(model)
        if cfg.lora.fused_projections:
            if cfg.train.distributed == "zero3":  # ZeRO-3 gathers each weight inside its module's call only
                raise TrainError("lora.fused_projections: not with train.distributed=zero3 (set it false)")
            from zen_vl.train.fused_lora import fuse_adapter_groups

            fuse_adapter_groups(model)
    layers = decoder_layers(model)
    wanted = cfg.train.gradient_checkpointing
    n = len(layers) if wanted is True else 0 if wanted is False else auto_checkpointed_layers(cfg, model)
    if n:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.24
            model.activation_checkpointing_enable(
                {"use_reentrant": False}, offload=cfg.train.checkpoint_offload
            )
        elif cfg.train.checkpoint_offload:
            raise TrainError(
                "train.checkpoint_offload needs transformers >= 5.24 (activation_checkpointing_enable)"
            )
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        for layer in layers[n:]:  # the first n layers are checkpointed, the rest keep their activations
            layer.gradient_checkpointing = False
        if hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()
    return model


def set_adapter_input_cast(model, enabled: bool) -> int:
    """peft's cast of each adapted layer's input to the adapter's dtype (`cast_input_dtype_enabled`,
    the switch its disable_input_dtype_casting sets); returns the layers set.

    Off (train.lora_input_cast=false) is LoRA in the compute dtype with fp32 master weights: peft keeps
    the adapters in fp32 (autocast_adapter_dtype) and casts the bf16 input to fp32 for each adapter, a
    copy per adapter every forward (q, k and v each copy the same input; autograd keeps autocast's bf16
    recast of it, not the copy: measured). Without the cast the input goes straight to the adapter and
    the Trainer's autocast (accelerate's, around the forward) runs its matmuls in bf16 from the fp32
    weights: bit-identical at lora.dropout 0 (tested); a no-op in fp32. Outside autocast a bf16 model
    needs the cast: training turns it back on before the merge check (train.engine)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    for layer in layers:
        layer.cast_input_dtype_enabled = enabled
    return len(layers)


def train_autocast(precision: str, device: str):
    """The autocast the Trainer runs the forward under (accelerate's mixed precision): bf16/fp16 on
    the device's type, none in fp32."""
    return torch.autocast(device.split(":")[0], dtype=DTYPES[precision], enabled=precision != "fp32")


def decoder_layers(model) -> list:
    """The language model's decoder layers (under any peft wrapper)."""
    return next(m for n, m in model.named_modules() if n.endswith("language_model.layers"))


def checkpointed_layers(model) -> int:
    """How many decoder layers run with activation checkpointing."""
    return sum(bool(getattr(layer, "gradient_checkpointing", False)) for layer in decoder_layers(model))


def _counts(model) -> dict[str, int]:
    """Parameter counts of a prepared model: total and language model as the base has them (peft's
    adapters and its trainable copies of modules_to_save left out), trainable as prepared."""
    base = {
        n: p.numel() for n, p in model.named_parameters() if "lora_" not in n and ".modules_to_save." not in n
    }
    llm = sum(v for n, v in base.items() if component(n) == "llm" and "lm_head" not in n)
    text = model.config.text_config
    return {"total": sum(base.values()), "llm": llm,
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "hidden": text.hidden_size, "layers": text.num_hidden_layers}  # fmt: skip


def auto_checkpointed_layers(cfg: ZenConfig, model, device: str | None = None) -> int:
    """train.gradient_checkpointing=auto: the fewest decoder layers to checkpoint for the step to fit
    this device by the memory estimate (zen_vl.resources), 0 when it fits without."""
    import os

    from zen_vl.resources import checkpointed_layers as fewest
    from zen_vl.resources import memory_available

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    c, t = _counts(model), cfg.train
    return fewest(
        have=memory_available(device), layers=c["layers"], params=c["total"], llm_params=c["llm"],
        trainable=c["trainable"], precision=t.precision, qlora=cfg.lora.method == "qlora",
        tokens=t.batch_size * t.max_length, hidden=c["hidden"], distributed=t.distributed,
        world=int(os.environ.get("WORLD_SIZE", "1")),
    )  # fmt: skip


def param_groups(cfg: ZenConfig, model) -> list[dict]:
    """Optimizer groups: the vision tower at train.vision_lr, everything else at train.lr; no decay on
    biases and norms."""
    groups: dict[tuple[str, bool], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = param.ndim >= 2
        groups.setdefault((component(name), decay), []).append(param)
    out = []
    for (comp, decay), params in sorted(groups.items()):
        lr = cfg.train.vision_lr if comp == "vision" else cfg.train.lr
        out.append(
            {
                "params": params,
                "lr": lr,
                "weight_decay": cfg.train.weight_decay if decay else 0.0,
                "name": f"{comp}{'' if decay else '-no-decay'}",
            }
        )
    return out


def trainable_summary(model) -> str:
    total = sum(p.numel() for p in model.parameters())
    by = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            by[component(name)] = by.get(component(name), 0) + p.numel()
    parts = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in sorted(by.items()))
    return f"trainable {sum(by.values()) / 1e6:.2f} M of {total / 1e6:.1f} M ({parts})"


def count_params(cfg: ZenConfig, model_cfg=None) -> dict[str, int]:
    """Parameter counts of the size's architecture (`tiny:` or `shape:`, else `model_cfg`, e.g. a
    downloaded base's config) built on the meta device (no memory, no download) and prepared by
    `prepare`, the one rule for what trains: total, language model, trainable (adapters plus components
    trained in full), width and depth. QLoRA trains the same adapters as LoRA, so it is counted as LoRA
    (4-bit layers cannot be built on the meta device)."""
    from transformers import AutoModelForImageTextToText

    from zen_vl.base.tiny import model_config

    if cfg.architecture is not None:
        model_cfg = model_config(cfg.architecture)
    if model_cfg is None:
        raise TrainError(f"SIZE={cfg.size}: no tiny: or shape: section and no model config to count")

    counted = cfg.model_copy(deep=True)
    if counted.lora.method == "qlora":
        counted.lora.method = "lora"
    counted.train.gradient_checkpointing = False
    with torch.device("meta"):
        model = prepare(counted, AutoModelForImageTextToText.from_config(model_cfg))
    return _counts(model)
