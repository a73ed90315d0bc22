"""One rule for what trains: the memory estimate's trainable count (built on the meta device) equals
the prepared model's, for the configurations that change what trains."""

from __future__ import annotations

import pytest

from zen_vl.config import load_config
from zen_vl.train.model import count_params, load_model, prepare

CASES = {
    "defaults": ("tiny", []),
    "lora-vision": ("tiny", ["lora.vision=true"]),
    "lora-merger": ("tiny", ["lora.merger=true", "train.freeze_merger=false"]),
    "vision-in-full": ("tiny", ["train.freeze_vision=false"]),
    "modules-to-save": ("tiny", ["lora.modules_to_save=[language_model.norm]"]),
    "full": ("tiny", ["lora.method=full"]),
    "full-frozen-embeddings": ("tiny", ["lora.method=full", "train.freeze_embeddings=true"]),
    "dora": ("tiny", ["lora.method=dora"]),
    "moe-experts": ("tiny-moe", []),
}


@pytest.mark.parametrize("case", CASES)
def test_estimate_counts_what_the_prepared_model_trains(case, tiny_base, tiny_moe_base):
    size, overrides = CASES[case]
    cfg = load_config(size, "instruct", overrides)
    base = tiny_moe_base if size == "tiny-moe" else tiny_base
    model = prepare(cfg, load_model(cfg, base))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    counted = count_params(cfg)
    assert counted["trainable"] == trainable
    assert counted["total"] == sum(p.numel() for p in load_model(cfg, base).parameters())


def test_the_deepstack_mergers_train_in_full_and_are_counted(tiny_base):
    cfg = load_config("tiny", "instruct")
    model = prepare(cfg, load_model(cfg, base=tiny_base))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("deepstack_merger_list" in n for n in names) and any(".merger." in n for n in names)
    frozen_mergers = load_config("tiny", "instruct", ["train.freeze_merger=true"])
    assert count_params(frozen_mergers)["trainable"] < count_params(cfg)["trainable"]


def test_lora_on_fused_experts_refuses_dropout():
    from zen_vl.config import ConfigError

    with pytest.raises(ConfigError, match=r"lora\.dropout: must be 0 with target_parameters"):
        load_config("tiny-moe", "instruct", ["lora.dropout=0.05"])
