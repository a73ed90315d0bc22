"""The kernel choices of zen_vl.train.kernels: Liger really swaps the language model's modules, and a
choice this machine cannot run fails with a message that says what to set."""

import pytest
import torch
from transformers import AutoModelForImageTextToText
from transformers.models.qwen3_vl import modeling_qwen3_vl

from zen_vl.base.tiny import model_config
from zen_vl.config import load_config
from zen_vl.train.kernels import apply_liger, apply_speedups
from zen_vl.train.model import TrainError, check_attention, prepare
from zen_vl.train.patch_embed import _linear_forward, patch_embeds


def _prepared(*overrides):
    cfg = load_config("tiny", "instruct", list(overrides))
    torch.manual_seed(0)
    return cfg, prepare(cfg, AutoModelForImageTextToText.from_config(model_config(cfg.tiny)))


def test_liger_swaps_every_norm_mlp_and_rope(monkeypatch):
    pytest.importorskip("liger_kernel")
    from liger_kernel.transformers import LigerRMSNorm, LigerSwiGLUMLP, liger_rotary_pos_emb

    # The RoPE function is replaced module-wide: restore it after the test.
    monkeypatch.setattr(modeling_qwen3_vl, "apply_rotary_pos_emb", modeling_qwen3_vl.apply_rotary_pos_emb)
    cfg, model = _prepared()
    used = apply_liger(model)
    text = model.get_base_model().model.language_model
    layers = cfg.tiny.num_hidden_layers
    assert used == {"liger_rms_norm": 4 * layers + 1, "liger_swiglu": layers, "liger_rope": True}
    for layer in text.layers:
        for norm in (layer.input_layernorm, layer.post_attention_layernorm, layer.self_attn.q_norm):
            assert norm.forward.__func__ is LigerRMSNorm.forward
        assert layer.mlp.forward.__func__ is LigerSwiGLUMLP.forward
        assert "lora_A" in dict(layer.mlp.gate_proj.named_modules())  # adapters stay in the path
    assert modeling_qwen3_vl.apply_rotary_pos_emb is liger_rotary_pos_emb
    vision_norm = model.get_base_model().model.visual.blocks[0].norm1
    assert getattr(vision_norm.forward, "__func__", None) is not LigerRMSNorm.forward  # vision untouched


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal")
def test_cpu_refuses_gpu_kernels_with_the_setting_to_change():
    cfg, model = _prepared("train.liger=true")
    with pytest.raises(TrainError, match=r"train\.liger=false"):
        apply_speedups(cfg, model)
    with pytest.raises(TrainError, match=r"train\.attention=sdpa"):
        check_attention("flash_attention_2")


def test_the_config_choice_reaches_the_model_and_the_report():
    cfg, model = _prepared("train.patch_embed=linear")
    used = apply_speedups(cfg, model)
    assert used["attention"] == "sdpa" and used["patch_embed"] == "linear" and used["modules"] == 1
    (embed,) = patch_embeds(model)
    assert getattr(embed.forward, "__func__", None) is _linear_forward
    cfg, model = _prepared("train.patch_embed=conv3d")
    assert apply_speedups(cfg, model)["patch_embed"] == "conv3d"
    (embed,) = patch_embeds(model)
    assert embed.forward.__func__ is type(embed).forward
