"""Memory and disk checks refuse what cannot fit, with the numbers, and pass what can."""

import pytest

from zen_vl.resources import NoRoom, check_disk, check_memory, train_memory_bytes


def test_an_8b_bf16_lora_run_does_not_fit_24_gib_but_qlora_with_checkpointing_does():
    shape = dict(params=8_770_000_000, llm_params=7_570_000_000, trainable=45_000_000, precision="bf16",
                 tokens=4096, hidden=4096, layers=36)  # fmt: skip
    full = train_memory_bytes(**shape, qlora=False, checkpointing=False)
    small = train_memory_bytes(**shape, qlora=True, checkpointing=True)
    assert small < 24 * 2**30 < full
    with pytest.raises(
        NoRoom, match=r"training 8b needs about \d+ GiB but this machine has 24 GiB; use qlora"
    ):
        check_memory(full, 24 * 2**30, "training 8b", "use qlora")
    check_memory(small, 24 * 2**30, "training 8b", "use qlora")


def test_disk_check_names_the_folder_and_the_shortfall(tmp_path):
    check_disk(tmp_path / "not" / "yet", 1, "download")
    with pytest.raises(NoRoom, match=rf"download needs about .* free in {tmp_path}/base"):
        check_disk(tmp_path / "base", 2**62, "download")


def test_auto_checkpointing_picks_none_when_it_fits_else_the_fewest_layers_that_make_it_fit():
    from zen_vl.resources import checkpointed_layers

    shape = dict(params=4_440_000_000, llm_params=3_990_000_000, trainable=40_000_000, precision="bf16",
                 qlora=False, tokens=2 * 4096, hidden=2560, layers=36)  # fmt: skip
    without = train_memory_bytes(**shape, checkpointing=False)
    every = train_memory_bytes(**shape, checkpointing=True)
    assert checkpointed_layers(have=without, **shape) == 0
    some = checkpointed_layers(have=(without + every) // 2, **shape)
    assert 0 < some < 36
    # the fewest: one layer fewer would not fit by the same estimate
    per_layer = (without - every) / 36
    assert without - some * per_layer <= (without + every) // 2 < without - (some - 1) * per_layer
    assert checkpointed_layers(have=every // 2, **shape) == 36


def test_prepare_checkpoints_the_fewest_decoder_layers_on_a_device_too_small_for_none(monkeypatch):
    from transformers import AutoModelForImageTextToText

    import zen_vl.resources
    from zen_vl.base.tiny import model_config
    from zen_vl.config import load_config
    from zen_vl.train.model import checkpointed_layers, prepare

    cfg = load_config("tiny", "instruct", [])
    assert cfg.train.gradient_checkpointing == "auto"
    layers = cfg.architecture.num_hidden_layers
    built = lambda: AutoModelForImageTextToText.from_config(model_config(cfg.architecture))  # noqa: E731
    assert checkpointed_layers(prepare(cfg, built())) == 0  # tiny fits this machine without
    monkeypatch.setattr(zen_vl.resources, "memory_available", lambda device: 1)
    assert checkpointed_layers(prepare(cfg, built())) == layers  # nothing fits: all of them
    forced = load_config("tiny", "instruct", ["train.gradient_checkpointing=false"])
    assert checkpointed_layers(prepare(forced, built())) == 0
