"""The typed configuration: one schema, YAML values, KEY=VALUE overrides.

A resolved config is built from layers, later ones winning:

    schema defaults
    configs/variants/<variant>.yaml
    configs/sizes/<size>.yaml            (its top level)
    configs/sizes/<size>.yaml            (its `variants: <variant>:` block)
    command-line overrides               (`train.lr=1e-4 lora.r=32`)

Every problem in every layer is reported in one ConfigError that names the file and the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zen_vl.errors import ZenError

VARIANTS = ("instruct", "thinking", "agent")
FLAVORS = ("instruct", "thinking")
# Qwen3-VL: 16 px patches, 2x2 spatial merge -> one language-model token per 32x32 pixels.
PIXELS_PER_TOKEN = 32 * 32

# Built-in data generators (zen_vl.data.build.GENERATORS) and identity languages.
GENERATORS = ("identity", "visual", "reasoning", "gui", "gui_episode", "video", "general", "colour_probe")
GUI_SCREENS = ("form", "settings", "dialog", "search", "checkout", "photo")
LANGUAGES = ("en", "zh", "es", "fr", "de", "ja")

Variant = Literal["instruct", "thinking", "agent"]
Flavor = Literal["instruct", "thinking"]


class ConfigError(ZenError):
    """One or more problems in the configuration; the message lists each with its file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BaseRef(_Strict):
    """A base checkpoint: a Hub repo at a revision, or the offline tiny builder."""

    repo: str = Field(description="Hub repo id; 'offline' for the tiny builder")
    revision: str = Field("main", description="commit sha to pin (a branch name is not reproducible)")
    template: Flavor = Field(description="chat template convention the base ships with")

    @property
    def pinned(self) -> bool:
        return re.fullmatch(r"[0-9a-f]{40}", self.revision) is not None


class Architecture(_Strict):
    """A Qwen3-VL architecture's dimensions, as its config.json's text_config and vision_config give them
    (`shape:` of a real size: what `make bench` and the memory estimate build on the meta device)."""

    moe: bool = False
    hidden_size: int = Field(gt=0, description="text width; multiples of 256 quantize to K-quants")
    intermediate_size: int = Field(gt=0)
    num_hidden_layers: int = Field(ge=3, description="llama.cpp needs more text layers than DeepStack ones")
    num_attention_heads: int = Field(gt=0)
    num_key_value_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    mrope_section: list[int] = Field(description="must sum to head_dim / 2")
    vision_depth: int = Field(gt=0)
    vision_hidden_size: int = Field(gt=0)
    vision_intermediate_size: int = Field(gt=0)
    vision_num_heads: int = Field(gt=0)
    deepstack_visual_indexes: list[int]
    num_position_embeddings: int = Field(gt=0, description="a square: learned 2-D position grid")
    num_experts: int = Field(0, ge=0, description="MoE: experts per layer")
    num_experts_per_tok: int = Field(0, ge=0, description="MoE: experts each token is routed to")
    moe_intermediate_size: int = Field(0, ge=0, description="MoE: width of one expert")
    tie_word_embeddings: bool = Field(description="output layer shares the embedding matrix")
    dtype: Literal["float32", "bfloat16"] = "bfloat16"

    @model_validator(mode="after")
    def _check(self) -> Architecture:
        problems = []
        if sum(self.mrope_section) * 2 != self.head_dim:
            problems.append(
                f"mrope_section: {self.mrope_section} sums to {sum(self.mrope_section)}, "
                f"must be head_dim/2 = {self.head_dim // 2} (transformers silently falls back otherwise)"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            problems.append("num_attention_heads: must be a multiple of num_key_value_heads")
        if any(i < 0 or i >= self.vision_depth for i in self.deepstack_visual_indexes):
            problems.append(f"deepstack_visual_indexes: must lie in [0, vision_depth={self.vision_depth})")
        if len(self.deepstack_visual_indexes) >= self.num_hidden_layers:
            problems.append(
                "num_hidden_layers: need more text layers than DeepStack indexes (llama.cpp asserts otherwise)"
            )
        if self.vision_hidden_size % self.vision_num_heads:
            problems.append("vision_hidden_size: must be a multiple of vision_num_heads")
        side = round(self.num_position_embeddings**0.5)
        if side * side != self.num_position_embeddings:
            problems.append("num_position_embeddings: must be a perfect square")
        if self.moe:
            problems += [
                f"{k}: must be > 0 for an MoE architecture"
                for k in ("num_experts", "num_experts_per_tok", "moe_intermediate_size")
                if getattr(self, k) <= 0
            ]
            if self.num_experts_per_tok > self.num_experts:
                problems.append("num_experts_per_tok: must not exceed num_experts")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class TinyArch(Architecture):
    """The offline tiny Qwen3-VL (random weights, real vocabulary and processors): small defaults."""

    hidden_size: int = Field(256, gt=0, description="text width; multiples of 256 quantize to K-quants")
    intermediate_size: int = Field(512, gt=0)
    num_hidden_layers: int = Field(
        4, ge=3, description="llama.cpp needs more text layers than DeepStack ones"
    )
    num_attention_heads: int = Field(4, gt=0)
    num_key_value_heads: int = Field(2, gt=0)
    head_dim: int = Field(64, gt=0)
    mrope_section: list[int] = Field([12, 10, 10], description="must sum to head_dim / 2")
    vision_depth: int = Field(3, gt=0)
    vision_hidden_size: int = Field(256, gt=0)
    vision_intermediate_size: int = Field(512, gt=0)
    vision_num_heads: int = Field(4, gt=0)
    deepstack_visual_indexes: list[int] = Field([0, 1])
    num_position_embeddings: int = Field(576, gt=0, description="a square: learned 2-D position grid")
    num_experts: int = Field(4, ge=0, description="MoE: experts per layer")
    num_experts_per_tok: int = Field(2, ge=0, description="MoE: experts each token is routed to")
    moe_intermediate_size: int = Field(512, ge=0, description="MoE: width of one expert")
    tie_word_embeddings: bool = Field(True, description="output layer shares the embedding matrix")
    dtype: Literal["float32", "bfloat16"] = "float32"
    seed: int = Field(0, description="the random initialisation")


class LoraCfg(_Strict):
    method: Literal["lora", "dora", "qlora", "full"] = "lora"
    r: int = Field(16, gt=0, description="LoRA rank")
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    experts_path: Literal["grouped", "peft"] = Field(
        "grouped",
        description="LoRA on fused experts: grouped computes each picked expert's update on its tokens; peft "
        "rebuilds W + BA for every expert each forward (exact, slower)",
    )
    shared_dropout: bool = Field(
        True,
        description="q/k/v (and gate/up) adapters share one dropout draw of their common input: one copy kept "
        "for backward instead of three (a recipe change: correlated noise)",
    )
    fused_projections: bool = Field(
        False,
        description="q/k/v and gate/up adapters run as one autograd function: one GEMM for their A's, one saved "
        "input (exact at dropout 0; not under ZeRO-3)",
    )
    target_modules: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="language-model linear layers to adapt",
    )
    target_parameters: list[str] = Field(
        [], description="fused 3-D parameters to adapt (MoE experts: mlp.experts.gate_up_proj, ...)"
    )
    modules_to_save: list[str] = Field(
        [],
        description="modules trained in full beside the adapters (peft modules_to_save), e.g. language_model.norm",
    )
    vision: bool = Field(False, description="also adapt the vision tower's linear layers")
    merger: bool = Field(False, description="also adapt the vision-language merger")

    @model_validator(mode="after")
    def _check(self) -> LoraCfg:
        if self.target_parameters and self.dropout:
            raise ValueError(
                f"dropout: must be 0 with target_parameters (peft's LoRA on fused parameters has no dropout; "
                f"got {self.dropout})"
            )
        return self


class TrainCfg(_Strict):
    batch_size: int = Field(1, gt=0, description="per-device micro-batch")
    grad_accum: int = Field(8, gt=0)
    lr: float = Field(2e-4, gt=0)
    vision_lr: float = Field(2e-5, gt=0, description="learning rate of trainable vision parameters")
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="-1: run the epochs")
    max_length: int = Field(4096, gt=0, description="tokens per sample; longer ones are dropped, not cut")
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    save_steps: int = Field(200, gt=0)
    logging_steps: int = Field(10, gt=0)
    seed: int = 42
    precision: Literal["bf16", "fp16", "fp32"] = "bf16"
    gradient_checkpointing: bool | Literal["auto"] = Field(
        "auto",
        description="activation checkpointing of the decoder layers: auto checkpoints only when the memory "
        "estimate says the step would not fit, and then the fewest layers that make it fit",
    )
    lora_input_cast: bool = Field(
        False,
        description="peft's cast of each adapted layer's input to the fp32 adapter (its default; a copy per "
        "adapter); off: the adapters compute in bf16 under autocast from fp32 weights",
    )
    checkpoint_offload: bool = Field(
        False,
        description="checkpointed layers keep their saved inputs in pinned host memory (transformers >= 5.24; "
        "less GPU memory, a copy each way)",
    )
    freeze_vision: bool = True
    freeze_merger: bool = False
    freeze_llm: bool = False
    freeze_embeddings: bool = Field(
        False,
        description="lora.method full: keep the token embeddings (and a tied lm_head) as the base has them; "
        "LoRA never trains them",
    )
    distributed: Literal["none", "ddp", "fsdp", "zero2", "zero3"] = Field(
        "none", description="accelerate launch config (configs/accelerate/<name>.yaml)"
    )
    sampling: Literal["random", "sequential"] = Field(
        "random", description="order of the training samples (the Trainer's train_sampling_strategy)"
    )
    report_to: list[Literal["tensorboard", "wandb"]] = ["tensorboard"]
    dataloader_workers: int = Field(2, ge=0, description="processes rendering samples (images) for the GPU")
    attention: Literal["sdpa", "varlen", "flash_attention_2", "eager"] = Field(
        "sdpa",
        description="attention kernel; varlen: torch's own variable-length kernel for the language model (padding "
        "and packed samples as segments, no dense mask); flash_attention_2 needs the gpu extra (flash-attn)",
    )
    packing: bool = Field(
        False,
        description="pack each micro-batch into rows of at most max_length tokens, each sample with its own "
        "mRoPE positions and attention (batch_size > 1)",
    )
    compile: bool = Field(
        False,
        description="regional torch.compile of each decoder layer and vision block (a first step that compiles "
        "for minutes on a GPU; exact)",
    )
    liger: bool = Field(
        False, description="Liger Triton kernels (RMSNorm, SwiGLU, RoPE); CUDA and the gpu extra"
    )
    patch_embed: Literal["auto", "linear", "conv3d"] = Field(
        "auto", description="vision patch embedding: auto times Conv3d against the equivalent matmul"
    )


class VisionCfg(_Strict):
    """Pixel budget in merged tokens; Qwen3-VL spends one token per 32x32 pixels."""

    min_image_tokens: int = Field(64, gt=0)
    max_image_tokens: int = Field(1024, gt=0)
    max_video_tokens: int = Field(2048, gt=0, description="all frames of one clip together")

    @property
    def min_pixels(self) -> int:
        return self.min_image_tokens * PIXELS_PER_TOKEN

    @property
    def max_pixels(self) -> int:
        return self.max_image_tokens * PIXELS_PER_TOKEN

    @property
    def processor_kwargs(self) -> dict:
        """Keyword arguments for the processor (and apply_chat_template's processor_kwargs)."""
        return {
            "images_kwargs": {"size": {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}}
        }

    @model_validator(mode="after")
    def _check(self) -> VisionCfg:
        if self.min_image_tokens > self.max_image_tokens:
            raise ValueError("min_image_tokens: must not exceed max_image_tokens")
        return self


class EvalCfg(_Strict):
    """`make eval`: generation on the held-out test set, base and finetuned side by side (greedy, or the
    model's own sampling for Thinking-template models)."""

    max_new_tokens: int = Field(
        512,
        gt=0,
        description="tokens per answer: identity answers are cut below ~48; Thinking needs far more",
    )
    batch_size: int = Field(8, gt=0, description="prompts per generate call (left-padded)")
    limit: int | None = Field(None, gt=0, description="evaluate the first N test samples (None: all)")
    bfcl_limit: int | None = Field(
        None,
        gt=0,
        description="BFCL=: entries per category (None: all, BFCL's full set; memory entries bring the "
        "prerequisite conversations they depend on)",
    )
    baseline: bool = Field(True, description="also evaluate the base model, for the before/after table")
    thinking_decoding: Literal["sample", "greedy"] = Field(
        "sample",
        description="Thinking-template models: sample with the model's generation_config (Qwen's guidance: "
        "greedy decoding loops), seeded and recorded; greedy for a deterministic check",
    )
    samples: int = Field(1, gt=0, description="sampled answers per case (Thinking models), averaged")
    seed: int = Field(0, description="seed of the sampled decoding")
    episodes: bool = Field(
        True, description="agent: replay the test set's GUI episodes live (the model acts in the environment)"
    )
    episode_extra_steps: int = Field(
        4, ge=0, description="an episode stops after the oracle's action count plus this many actions"
    )


class ExportCfg(_Strict):
    """`make gguf` and `make mlx`."""

    gguf_outtype: Literal["f16", "bf16", "f32"] = Field("f16", description="the unquantized GGUF and mmproj")
    gguf_quants: list[str] = Field(
        ["Q8_0", "Q5_K_M", "Q4_K_M"], description="llama-quantize types made from the unquantized GGUF"
    )
    mlx_bits: list[Literal[4, 8]] = Field([4, 8], description="mlx-vlm quantizations")
    task_check: bool = Field(
        True, description="after exporting, score every export on the test set through its server (make eval "
        "FORMAT=...) and fail when task_metric falls more than its margin below the transformers model's"
    )  # fmt: skip
    task_limit: int | None = Field(
        None, gt=0, description="test samples the task check scores each export on (None: all); results in "
        "<variant>/finetuned/<size>/eval/task-<gguf|mlx>/ (mlx_vlm.server on a CPU takes seconds per case)"
    )  # fmt: skip
    task_metric: str = Field(
        "overall/accuracy",
        description="the metric of results.json the task check compares (the variant's headline)",
    )
    task_margin: dict[str, float] = Field(
        {"default": 0.05, "Q5_K_M": 0.10, "Q4_K_M": 0.15, "4bit": 0.15},
        description="largest allowed drop of task_metric below the transformers model's, by export (GGUF quant "
        "type, F16, or MLX `4bit`/`8bit`); `default` for the others",
    )


class IdentityCfg(_Strict):
    name: str = Field("Zen VL", min_length=1, description="what the model calls itself")
    org: str = Field("Hanzo AI", min_length=1, description="who the model says made it")
    built_on: str = Field("Qwen3-VL", min_length=1, description="the open model it is fine-tuned from")
    hub_org: str = Field("zenlm", min_length=1, description="Hub namespace for uploads")


RECIPE_DOCS = ("kind", "license", "card")  # recipe fields that document, not configure


def recipes() -> dict[str, dict]:
    """configs/recipes.yaml: public datasets by name (`{recipe: <name>}` in data.sources)."""
    return _read_yaml(configs_dir() / "recipes.yaml")


class SourceCfg(_Strict):
    """Bring-your-own data: a local JSONL file, or a Hub dataset by id with a column mapping, or a
    public dataset by recipe name (configs/recipes.yaml)."""

    recipe: str | None = Field(None, description="a configs/recipes.yaml entry; fields set here override it")
    name: str = Field(description="names the source in counts and media paths (a recipe's name by default)")
    path: str | None = Field(None, description="local JSONL, relative to the project root")
    hub: str | None = Field(
        None, description="Hub dataset id (or a local dataset folder) for datasets.load_dataset"
    )
    subset: str | None = Field(None, description="dataset configuration name")
    split: str = "train"
    revision: str | None = Field(None, description="dataset commit to pin")
    format: Literal["messages", "sharegpt", "columns", "llamafactory", "cauldron", "grounding"] = Field(
        "messages",
        description="messages: ours (also OpenAI-style tool_calls and LLaMA-Factory typed blocks); "
        "sharegpt: from/value; columns: see `columns`; llamafactory: `path` is a dataset_info.json; "
        "cauldron: the_cauldron's images + texts [{user, assistant}]; grounding: image + instruction + bbox "
        "as a click at the box centre",
    )
    dataset: str | None = Field(None, description="format llamafactory: the dataset_info.json entry to read")
    media_dir: str | None = Field(
        None,
        description="folder the rows' media paths are relative to (LLaMA-Factory's media_dir); default the "
        "file's folder (a dataset_info.json's), then the project root",
    )
    reasoning: Literal["as_is", "distill"] = Field(
        "as_is",
        description="as_is: the rows' own reasoning (if any); distill: the distiller writes it, kept only when "
        "its answer matches the row's (data.distill)",
    )
    coords: Literal["thousandths", "pixels", "relative"] = Field(
        "thousandths",
        description="boxes/points in answers and tool calls (and a grounding row's bbox): Qwen3-VL's 0-1000 "
        "grid, absolute pixels of the image (Qwen2.5-VL's convention), or 0-1 (grounding rows); converted",
    )
    on_invalid: Literal["error", "drop"] = Field(
        "error",
        description="a sample that does not convert or validate: error names its file:line and the reason; "
        "drop skips it and counts it by reason (build output and manifest)",
    )
    columns: dict[str, str] = Field(
        {},
        description="our field -> dataset column: messages, conversations, images, image, tools, system, "
        "question, answer, query, tool_calls",
    )
    limit: int = Field(1000, gt=0, description="rows to take")
    eval_fraction: float = Field(0.05, ge=0, lt=1, description="share held out for val and test")
    too_long: Literal["error", "drop"] = Field(
        "error",
        description="a sample over train.max_length: error names its file and line; drop skips and counts it",
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_recipe(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("recipe") is None:
            return data
        known = recipes()
        name = data["recipe"]
        if name not in known:
            raise ValueError(f"unknown recipe {name!r} (configs/recipes.yaml has {', '.join(sorted(known))})")
        recipe = {k: v for k, v in known[name].items() if k not in RECIPE_DOCS}
        return {"name": name, **recipe, **data}

    @model_validator(mode="after")
    def _check(self) -> SourceCfg:
        if (self.path is None) == (self.hub is None):
            raise ValueError(f"source '{self.name}': set exactly one of path or hub")
        if self.format == "llamafactory" and (self.path is None or self.dataset is None):
            raise ValueError(
                f"source '{self.name}': format llamafactory needs path (its dataset_info.json) and dataset"
            )
        return self


class DistillCfg(_Strict):
    """Reasoning written by a model for sources with `reasoning: distill` (rejection sampling)."""

    model: str | None = Field(
        None, description="model folder that writes the reasoning; default the variant's base"
    )
    attempts: int = Field(2, ge=1, description="tries per turn: the first greedy, the rest sampled")
    max_new_tokens: int = Field(2048, gt=0, description="reasoning and answer budget per try")
    seed: int = 0


class DataCfg(_Strict):
    """What `make data` builds: generated samples by mix weight, plus bring-your-own sources."""

    seed: int = 1234
    train: int = Field(20000, ge=0, description="generated training samples")
    val: int = Field(500, ge=0)
    test: int = Field(1000, ge=0)
    mix: dict[str, float] = Field(
        {"identity": 1.0}, description=f"generator -> weight; generators: {', '.join(GENERATORS)}"
    )
    image_size: int = Field(448, ge=64, description="side of generated images in pixels (screens are 4:3)")
    languages: list[str] = Field(list(LANGUAGES), description="identity languages")
    identity_images: list[Literal["logo", "scene"]] = Field(
        ["logo", "scene"],
        description="what the identity questions that come with an image show: the Zen logo "
        "(a fixed description) or a shape scene (described exactly); [] asks identity in text only",
    )
    identity_image_share: float = Field(
        0.3, ge=0, le=1, description="share of identity questions asked with an image"
    )
    distill: DistillCfg = DistillCfg()
    video_fps: float = Field(2.0, gt=0, description="frames per second sampled from video files in sources")
    video_min_frames: int = Field(4, ge=2, description="fewest frames sampled from a video file")
    video_max_frames: int = Field(32, ge=2, description="most frames sampled from a video file")
    gui_screens: list[Literal["form", "settings", "dialog", "search", "checkout", "photo"]] = Field(
        list(GUI_SCREENS), description="kinds of screenshot the gui generator draws"
    )
    gui_distractors: int = Field(
        3, ge=0, le=6, description="most unneeded tools declared beside the needed ones"
    )
    gui_episode_families: list[Literal["settings", "checkout", "shop", "dialog"]] = Field(
        ["settings", "checkout", "shop", "dialog"],
        description="apps the gui_episode generator draws its tasks from",
    )
    gui_episode_changes: int = Field(
        3,
        ge=1,
        le=3,
        description="most changes an episode's request asks for before its final action (settings "
        "switches, checkout edits): 1 gives 2-action episodes",
    )
    gui_episode_screenshots: int = Field(
        4,
        gt=0,
        description="most screenshots an episode keeps in context (older ones become a note), in "
        "training samples and in the eval",
    )
    sources: list[SourceCfg] = Field([], description="bring-your-own data, added on top of the generated mix")
    check_lengths: bool = Field(
        True, description="render every sample through the processor; drop (and count) those over max_length"
    )

    @model_validator(mode="after")
    def _check(self) -> DataCfg:
        problems = [
            f"mix.{k}: unknown generator (expected one of {', '.join(GENERATORS)})"
            for k in self.mix
            if k not in GENERATORS
        ]
        problems += [f"mix.{k}: weight must be >= 0" for k, w in self.mix.items() if w < 0]
        if self.mix and sum(self.mix.values()) <= 0:
            problems.append("mix: the weights must not all be zero")
        problems += [
            f"languages: unknown language {lang!r} (expected some of {', '.join(LANGUAGES)})"
            for lang in self.languages
            if lang not in LANGUAGES
        ]
        if not self.languages:
            problems.append("languages: at least one")
        names = [s.name for s in self.sources]
        problems += [f"sources: name '{n}' used twice" for n in sorted(set(names)) if names.count(n) > 1]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class BenchCfg(_Strict):
    """`make bench`: the fixed batch both modes train on."""

    batch_size: int = Field(2, gt=0, description="samples per step")
    image_tokens: int = Field(1024, gt=0, description="visual tokens per sample (one square image)")
    text_tokens: int = Field(1024, gt=0, description="text tokens per sample (question + answer)")
    answer_share: float = Field(
        0.5, gt=0, le=1, description="share of the text that is the supervised answer"
    )
    steps: int = Field(10, gt=0, description="timed steps")
    warmup: int = Field(3, ge=0, description="untimed steps first")


class ZenConfig(_Strict):
    size: str = Field(description="from the command line: configs/sizes/<size>.yaml")
    variant: Variant = Field(description="from the command line")
    arch: Literal["dense", "moe"] = "dense"
    bases: dict[Flavor, BaseRef] = Field(description="base checkpoints by flavor")
    base: Flavor = Field("instruct", description="which of `bases` this variant starts from")
    template: Flavor = Field("instruct", description="chat template the variant is trained with")
    tiny: TinyArch | None = Field(None, description="set: the base is built offline, not downloaded")
    shape: Architecture | None = Field(
        None,
        description="the published architecture: make bench and the memory estimate build it on the meta "
        "device or with random weights (no download)",
    )
    identity: IdentityCfg = IdentityCfg()
    lora: LoraCfg = LoraCfg()
    train: TrainCfg = TrainCfg()
    vision: VisionCfg = VisionCfg()
    data: DataCfg = DataCfg()
    eval: EvalCfg = EvalCfg()
    export: ExportCfg = ExportCfg()
    bench: BenchCfg = BenchCfg()

    @model_validator(mode="after")
    def _check(self) -> ZenConfig:
        if self.base not in self.bases:
            raise ValueError(f"base '{self.base}' is not among this size's bases {sorted(self.bases)}")
        for name in ("tiny", "shape"):
            dims = getattr(self, name)
            if dims is not None and dims.moe != (self.arch == "moe"):
                raise ValueError(f"{name}.moe: is {dims.moe} but arch is '{self.arch}'")
        return self

    @property
    def architecture(self) -> Architecture | None:
        """The dimensions of this size: the tiny builder's, or the published shape."""
        return self.tiny or self.shape

    @property
    def base_ref(self) -> BaseRef:
        return self.bases[self.base]

    @property
    def offline(self) -> bool:
        return self.tiny is not None


# --------------------------------------------------------------------------- loading


def configs_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "configs"


def system_packages(check: str) -> list[str]:
    """The Debian packages configs/system-packages.txt names for a check (`command:latexmk`): the one
    list that `make install` installs and the error messages quote."""
    for line in (configs_dir() / "system-packages.txt").read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[0] == check:
            return fields[1:]
    raise KeyError(f"configs/system-packages.txt has no line for {check}")


def available_sizes(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in ((root or configs_dir()) / "sizes").glob("*.yaml"))


class Replace(dict):
    """A mapping that replaces the earlier layers' mapping at its key instead of merging into it:
    `!replace {gui: 1}` in YAML, or `data.mix={gui: 1}` on the command line."""


class _Loader(yaml.SafeLoader):
    """yaml.safe_load plus the `!replace` tag."""


_Loader.add_constructor("!replace", lambda loader, node: Replace(loader.construct_mapping(node, deep=True)))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def _merge(dst: dict, src: dict, origin: dict, source: str, prefix: tuple = ()) -> None:
    """Deep-merge src into dst, recording which source set each leaf; a Replace mapping replaces."""
    for key, value in src.items():
        path = (*prefix, key)
        if isinstance(value, dict) and not isinstance(value, Replace) and isinstance(dst.get(key), dict):
            _merge(dst[key], value, origin, source, path)
        else:
            for known in [k for k in origin if k[: len(path)] == path and len(k) > len(path)]:
                del origin[known]  # replaced: the earlier layer no longer sets what was under it
            dst[key] = dict(value) if isinstance(value, dict) else value
            _mark(origin, value, source, path)


def _mark(origin: dict, value: Any, source: str, path: tuple) -> None:
    origin[path] = source
    if isinstance(value, dict):
        for k, v in value.items():
            _mark(origin, v, source, (*path, k))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`a.b=1` items -> nested dict; values are parsed as YAML (numbers, bools, lists). A mapping value
    (`data.mix={gui: 1}`) replaces the configured mapping; dotted keys (`data.mix.gui=1`) merge into it."""
    tree: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override '{item}': expected KEY=VALUE with a dotted key, e.g. train.lr=1e-4")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, dict):
            value = Replace(value)
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}': '{part}' is set both as a value and as a section")
        node[parts[-1]] = value
    return tree


def _size_chain(root: Path, size: str, problems: list[str]) -> list[tuple[Path, dict, dict]]:
    """(file, top level, variants block) of a size and of the sizes it `extends:`, the base first."""
    chain: list[tuple[Path, dict, dict]] = []
    seen: set[str] = set()
    while size is not None:
        size_file = root / "sizes" / f"{size}.yaml"
        if size in seen or not size_file.is_file():
            problems.append(
                f"{chain[0][0] if chain else size_file}: extends: "
                + ("a cycle" if size in seen else f"unknown size '{size}'")
            )
            break
        seen.add(size)
        data = _read_yaml(size_file)
        parent = data.pop("extends", None)
        per_variant = data.pop("variants", None) or {}
        if not isinstance(per_variant, dict):
            problems.append(f"{size_file}: variants: expected a mapping of variant name to settings")
            per_variant = {}
        problems += [
            f"{size_file}: variants.{name}: unknown variant (expected one of {VARIANTS})"
            for name in per_variant
            if name not in VARIANTS
        ]
        problems += [
            f"{size_file}: {reserved}: set by the command line, not the file"
            for reserved in ("size", "variant")
            if reserved in data
        ]
        chain.insert(0, (size_file, data, per_variant))
        size = parent
    return chain


def load_config(
    size: str, variant: str, overrides: list[str] | None = None, root: Path | None = None
) -> ZenConfig:
    """Resolve the config of one size x variant; raise ConfigError listing every problem."""
    root = root or configs_dir()
    sizes = available_sizes(root)
    if size not in sizes:
        raise ConfigError(f"unknown SIZE '{size}': choose one of {', '.join(sizes)} (configs/sizes/*.yaml)")
    if variant not in VARIANTS:
        raise ConfigError(f"unknown VARIANT '{variant}': choose one of {', '.join(VARIANTS)}")

    variant_file = root / "variants" / f"{variant}.yaml"
    problems: list[str] = []
    layers = [(str(variant_file), _read_yaml(variant_file) if variant_file.exists() else {})]
    for size_file, data, per_variant in _size_chain(root, size, problems):
        layers += [
            (str(size_file), data),
            (f"{size_file} (variants.{variant})", per_variant.get(variant) or {}),
        ]
    layers.append(("command line", parse_overrides(overrides or [])))
    merged: dict[str, Any] = {}
    origin: dict[tuple, str] = {}
    for source, data in layers:
        if not isinstance(data, dict):
            problems.append(f"{source}: expected a mapping")
            continue
        _merge(merged, data, origin, source)
    merged["size"], merged["variant"] = size, variant

    try:
        cfg = ZenConfig.model_validate(merged)
    except ValidationError as exc:
        problems.extend(_describe(exc, origin))
        cfg = None
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(
            f"invalid configuration for SIZE={size} VARIANT={variant} ({len(problems)} problem(s)):\n{listing}"
        )
    return cfg


def _describe(exc: ValidationError, origin: dict[tuple, str]) -> list[str]:
    out = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; see docs/CONFIG.md)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "value_error":
            # Section validators report "key.path: reason; ..." -- attribute each to its own key.
            for part in msg.removeprefix("Value error, ").split("; "):
                key, sep, reason = part.partition(": ")
                if sep and re.fullmatch(r"[\w.]+", key):
                    path = (*loc, *key.split("."))
                    out.append(f"{_source(path, origin)}: {'.'.join(path)}: {reason}")
                else:
                    out.append(f"{_source(loc, origin)}: {'.'.join(loc) or '(top level)'}: {part}")
            continue
        elif "input" in err and err["type"] != "assertion_error":
            msg = f"{msg} (got {err['input']!r})"
        out.append(f"{_source(loc, origin)}: {'.'.join(loc) or '(top level)'}: {msg}")
    return out


def _source(loc: tuple, origin: dict[tuple, str]) -> str:
    """The layer that set the deepest known part of this key."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in origin:
            return origin[loc[:n]]
    return "config"


# --------------------------------------------------------------------------- reference


def config_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """Every settable dotted key of the schema (`train.epochs`, `lora.r`, ...)."""
    out = []
    for name, field in (model or ZenConfig).model_fields.items():
        nested = [m for suffix, m in _nested_models(field.annotation) if suffix == ""]
        if nested:
            out += config_keys(nested[0], f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def suggest_key(name: str) -> str | None:
    """The config key a mistyped KEY=VALUE most likely meant: one whose last part is `name`, else the
    closest spelling."""
    import difflib

    keys = [k for k in config_keys() if k not in ("size", "variant")]
    exact = [k for k in keys if k.rsplit(".", 1)[-1].casefold() == name.casefold()]
    if exact:
        return exact[0]
    leaves: dict[str, str] = {}
    for k in keys:  # the first section that has the name wins (train before eval and bench)
        leaves.setdefault(k.rsplit(".", 1)[-1], k)
    close = difflib.get_close_matches(name, list(leaves), n=1, cutoff=0.75)
    if close:
        return leaves[close[0]]
    close = difflib.get_close_matches(name, keys, n=1, cutoff=0.6)
    return close[0] if close else None


def _nested_models(annotation) -> list[tuple[str, type[BaseModel]]]:
    """(key suffix, model) for every config section inside a field's type: `X`, `X | None`,
    `list[X]` (`[]`), `dict[K, X]` (`.<key>`)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        return [("[]", m) for _, m in _nested_models(args[0])]
    if origin is dict:
        keys = typing.get_args(args[0]) if typing.get_origin(args[0]) is Literal else ()
        key = f".<{'|'.join(keys) or 'key'}>"
        return [(key, m) for _, m in _nested_models(args[1])]
    return [pair for arg in args for pair in _nested_models(arg)]


def reference_markdown() -> str:
    """docs/CONFIG.md, generated from the whole schema so the reference cannot drift from the code."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `src/zen_vl/config.py` by `make docs`; do not edit by hand.",
        "",
        "Layers, later ones winning: schema defaults, `configs/variants/<variant>.yaml`,",
        "`configs/sizes/<size>.yaml` (after the size it names in `extends:`, if any), its",
        "`variants: <variant>:` block, then `KEY=VALUE` overrides (`make train-agent SIZE=8b train.lr=1e-4",
        "lora.r=32`). Mappings merge key by key; a mapping written `!replace {…}` in YAML, or given whole on",
        "the command line (`data.mix={gui: 1}`), replaces the earlier one instead. Unknown keys and bad types",
        "are errors. A size file holds only what differs from the layers beneath it (a test checks).",
        "",
    ]

    def section(title: str, model: type[BaseModel]) -> None:
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        lines.extend([f"## `{title}`", "", *([doc, ""] if doc else [])])
        lines.extend(["| key | type | default | meaning |", "| --- | --- | --- | --- |"])
        for name, field in model.model_fields.items():
            ann = str(field.annotation).replace("typing.", "").replace("zen_vl.config.", "")
            if isinstance(field.annotation, type):
                ann = field.annotation.__name__
            ann = ann.replace("|", "\\|")
            value = None if field.is_required() else field.get_default(call_default_factory=True)
            if field.is_required():
                default = "required"
            elif isinstance(value, BaseModel):
                default = "see its section"
            else:
                default = f"`{value!r}`"
            desc = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | `{ann}` | {default} | {desc} |".replace("\n", " "))
        lines.append("")
        for name, field in model.model_fields.items():
            for suffix, sub in _nested_models(field.annotation):
                section(f"{'' if title == '(top level)' else title + '.'}{name}{suffix}", sub)

    section("(top level)", ZenConfig)
    return "\n".join(lines)
