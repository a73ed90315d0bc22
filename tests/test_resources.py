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
