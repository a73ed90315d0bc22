"""The offline tiny Qwen3-VL: the real architecture at toy width, with no download.

Random weights, but everything around them is real: the Qwen vocabulary and special-token ids,
the official Qwen3-VL chat template (read from the installed trl wheel), the stock Qwen3-VL image
and video processors, DeepStack layers that are exercised, and a config.json in the Hub's format.
Later stages therefore treat base/tiny exactly like a downloaded base.
"""

from __future__ import annotations

import platform
from importlib.resources import files
from pathlib import Path

import torch
import transformers
from transformers import GenerationConfig

from zen_vl.artifacts import BASE_MANIFEST
from zen_vl.atomic import building, write_json
from zen_vl.base.hub_format import to_hub_format, weights_digest
from zen_vl.base.tokenizer import FIRST_ADDED_ID, MODEL_VOCAB_SIZE, build_qwen_tokenizer
from zen_vl.config import TinyArch

IMAGE_PAD, VIDEO_PAD, VISION_START, VISION_END = 151655, 151656, 151652, 151653
EOS_IDS = [151645, 151643]  # <|im_end|>, <|endoftext|>


def chat_template(flavor: str) -> str:
    """The chat template for a base flavor: the official Instruct one, or the Thinking convention."""
    if flavor == "instruct":
        path = files("trl") / "chat_templates" / "qwen3_vl.jinja"
        if not path.is_file():
            raise RuntimeError(f"{path} is missing: the installed trl does not ship the Qwen3-VL template")
        return path.read_text(encoding="utf-8")
    if flavor == "thinking":
        return (files("zen_vl") / "templates" / "qwen3_vl_thinking.jinja").read_text(encoding="utf-8")
    raise ValueError(f"unknown template flavor {flavor!r}")


def build_processor(flavor: str):
    """Qwen3VLProcessor with the stock processors at the Hub's Qwen3-VL settings."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    common = dict(
        patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    image = Qwen2VLImageProcessor(size={"shortest_edge": 65536, "longest_edge": 16777216}, **common)
    video = Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 25165824}, **common)
    template = chat_template(flavor)
    return Qwen3VLProcessor(
        image_processor=image,
        tokenizer=build_qwen_tokenizer(template),
        video_processor=video,
        chat_template=template,
    )


def model_config(arch: TinyArch):
    """A Qwen3VLConfig (or Qwen3VLMoeConfig) at the tiny dimensions, with the real token ids."""
    text = dict(
        vocab_size=MODEL_VOCAB_SIZE,
        hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size,
        num_hidden_layers=arch.num_hidden_layers,
        num_attention_heads=arch.num_attention_heads,
        num_key_value_heads=arch.num_key_value_heads,
        head_dim=arch.head_dim,
        hidden_act="silu",
        max_position_embeddings=262144,
        rms_norm_eps=1e-6,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": list(arch.mrope_section),
            "mrope_interleaved": True,
        },
        bos_token_id=FIRST_ADDED_ID,
        eos_token_id=EOS_IDS[0],
        tie_word_embeddings=arch.tie_word_embeddings,
    )
    vision = dict(
        depth=arch.vision_depth,
        hidden_size=arch.vision_hidden_size,
        intermediate_size=arch.vision_intermediate_size,
        num_heads=arch.vision_num_heads,
        hidden_act="gelu_pytorch_tanh",
        in_channels=3,
        patch_size=16,
        spatial_merge_size=2,
        temporal_patch_size=2,
        out_hidden_size=arch.hidden_size,
        num_position_embeddings=arch.num_position_embeddings,
        deepstack_visual_indexes=list(arch.deepstack_visual_indexes),
    )
    ids = dict(
        image_token_id=IMAGE_PAD,
        video_token_id=VIDEO_PAD,
        vision_start_token_id=VISION_START,
        vision_end_token_id=VISION_END,
        tie_word_embeddings=arch.tie_word_embeddings,
    )
    if arch.moe:
        from transformers import Qwen3VLMoeConfig

        text.update(
            num_experts=arch.num_experts,
            num_experts_per_tok=arch.num_experts_per_tok,
            moe_intermediate_size=arch.moe_intermediate_size,
            decoder_sparse_step=1,
            mlp_only_layers=[],
            norm_topk_prob=True,
            router_aux_loss_coef=0.001,
        )
        cfg = Qwen3VLMoeConfig(text_config=text, vision_config=vision, **ids)
        cfg.architectures = ["Qwen3VLMoeForConditionalGeneration"]
    else:
        from transformers import Qwen3VLConfig

        cfg = Qwen3VLConfig(text_config=text, vision_config=vision, **ids)
        cfg.architectures = ["Qwen3VLForConditionalGeneration"]
    return cfg


def init_model(arch: TinyArch):
    """Deterministic random init: the same TinyArch (seed included) gives the same weights."""
    from transformers import AutoModelForImageTextToText

    cfg = model_config(arch)
    torch.manual_seed(arch.seed)
    model = AutoModelForImageTextToText.from_config(cfg, dtype=getattr(torch, arch.dtype))
    return model.eval()


def generation_config(flavor: str) -> GenerationConfig:
    # The sampling defaults the Hub's Qwen3-VL Instruct / Thinking repos ship.
    sampling = {"instruct": dict(temperature=0.7, top_p=0.8), "thinking": dict(temperature=1.0, top_p=0.95)}
    return GenerationConfig(
        bos_token_id=FIRST_ADDED_ID,
        pad_token_id=FIRST_ADDED_ID,
        eos_token_id=EOS_IDS,
        do_sample=True,
        top_k=20,
        repetition_penalty=1.0,
        **sampling[flavor],
    )


def build_tiny(dest: Path, arch: TinyArch, flavor: str = "instruct", *, replace: bool = False) -> dict:
    """Build the tiny base into `dest` (atomically) and return its manifest."""
    processor = build_processor(flavor)
    model = init_model(arch)
    digest = weights_digest(model.state_dict())
    n_params = sum(p.numel() for p in model.parameters())
    manifest = {
        "source": "offline-tiny",
        "flavor": flavor,
        "architecture": model.config.architectures[0],
        "parameters": n_params,
        "weights_sha256": digest,
        "tiny": arch.model_dump(),
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "python": platform.python_version(),
    }
    with building(dest, replace=replace) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        generation_config(flavor).save_pretrained(tmp)
        to_hub_format(tmp)
        write_json(tmp / BASE_MANIFEST, manifest)
    return manifest
