"""The published Qwen3-VL checkpoints' quirks, reproduced offline on configs and twins written in the
Hub's real file layout."""

from __future__ import annotations

import json

import pytest
from transformers import AutoConfig

from zen_vl.base.hub_format import hub_config, tensor_names, to_hub_format
from zen_vl.base.tiny import model_config
from zen_vl.config import load_config

# tie_word_embeddings as the published config.json files give it (FINDINGS: read from public copies):
# (top level, text_config; None = the key is absent).
PUBLISHED_TIE = {"4b": (True, True), "8b": (False, None), "30b": (False, None)}


def published_config(size: str) -> dict:
    """The size's architecture in the Hub's config.json layout, tie keys where the Hub has them."""
    config = model_config(load_config(size, "instruct").shape).to_dict()
    top, text = PUBLISHED_TIE[size]
    config["tie_word_embeddings"] = top
    config["text_config"].pop("tie_word_embeddings", None)
    if text is not None:
        config["text_config"]["tie_word_embeddings"] = text
    return config


@pytest.mark.parametrize("size", sorted(PUBLISHED_TIE))
def test_saved_config_keeps_the_published_tie_flag(size, tmp_path):
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "config.json").write_text(json.dumps(published_config(size)))
    AutoConfig.from_pretrained(tmp_path / "hub").save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    if size == "30b":  # the defect: transformers writes text_config's default `true` for an untied MoE
        assert saved["tie_word_embeddings"] is False and saved["text_config"]["tie_word_embeddings"] is True
    fixed = hub_config(saved)
    want = PUBLISHED_TIE[size][0]
    assert fixed["tie_word_embeddings"] is want and fixed["text_config"]["tie_word_embeddings"] is want


def test_the_weights_decide_when_they_disagree_with_the_config(tiny_base, tmp_path):
    """A folder whose safetensors hold no lm_head is tied, whatever its config says."""
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_base, folder)
    config = json.loads((folder / "config.json").read_text())
    config["tie_word_embeddings"] = config["text_config"]["tie_word_embeddings"] = False
    (folder / "config.json").write_text(json.dumps(config))
    assert not any(k.endswith("lm_head.weight") for k in tensor_names(folder))
    to_hub_format(folder)
    fixed = json.loads((folder / "config.json").read_text())
    assert fixed["tie_word_embeddings"] is True and fixed["text_config"]["tie_word_embeddings"] is True


def _gguf_tensors(llama, path) -> set[str]:
    import sys

    sys.path.insert(0, str(llama.root / "gguf-py"))
    from gguf import GGUFReader

    return {t.name for t in GGUFReader(str(path)).tensors}


@pytest.mark.slow
def test_an_untied_moe_twin_in_the_hub_layout_merges_and_exports_untied(tmp_path, llama):
    """The 30B-A3B's layout (top-level tie false, no text_config key, a separate lm_head) through merge,
    GGUF and MLX: every output keeps the output layer and says it is untied."""
    from safetensors import safe_open

    from zen_vl.artifacts import GGUF_MANIFEST, MLX_MANIFEST, read_manifest
    from zen_vl.base.download import ensure_base
    from zen_vl.export.gguf import export_gguf
    from zen_vl.export.mlx import export_mlx
    from zen_vl.paths import Layout
    from zen_vl.train.engine import train

    short = ["train.max_steps=4", "train.save_steps=1000", "train.report_to=[]", "data.train=16",
             "data.val=2", "data.test=2", "tiny.tie_word_embeddings=false", "export.gguf_quants=[Q8_0]",
             "export.mlx_bits=[8]"]  # fmt: skip
    cfg = load_config("tiny-moe", "agent", short)
    layout = Layout(tmp_path)
    base = ensure_base(cfg, layout)
    config = json.loads((base / "config.json").read_text())
    config["tie_word_embeddings"] = False
    config["text_config"].pop("tie_word_embeddings")  # as the Hub's 30B-A3B config.json
    (base / "config.json").write_text(json.dumps(config, indent=2))
    assert any(k.endswith("lm_head.weight") for k in tensor_names(base))

    train(cfg, layout, progress=False)
    merged = layout.finetuned("agent", "tiny-moe") / "merged"
    saved = json.loads((merged / "config.json").read_text())
    assert saved["tie_word_embeddings"] is False and saved["text_config"]["tie_word_embeddings"] is False
    assert any(k.endswith("lm_head.weight") for k in tensor_names(merged))

    gguf = export_gguf(cfg, layout, progress=False)
    manifest = read_manifest(gguf, GGUF_MANIFEST)
    assert "output.weight" in _gguf_tensors(llama, gguf / manifest["text"])  # llama.cpp's untied output
    assert manifest["parity"]["same_greedy"], manifest["parity"]

    folder = export_mlx(cfg, layout, progress=False)[0]
    mlx_config = json.loads((folder / "config.json").read_text())
    assert mlx_config["text_config"]["tie_word_embeddings"] is False
    with safe_open(next(folder.glob("model*.safetensors")), framework="numpy") as fh:
        assert any("lm_head" in k for k in fh.keys())  # noqa: SIM118
    assert read_manifest(folder, MLX_MANIFEST)["check"]["top1_agreement"] >= 0.95
