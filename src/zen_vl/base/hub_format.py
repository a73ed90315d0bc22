"""Keep saved checkpoints in the Hub's on-disk format, which llama.cpp's converter and mlx-vlm read.

transformers 5 saves a Qwen3-VL config differently from the Hub checkpoints it loads:
`vision_config.model_type` becomes `qwen3_vl_vision` and rope settings live only under
`rope_parameters`; for the MoE the fused expert tensors are saved transposed. mlx-vlm then fails
(`missing rope_theta`, `Unsupported model type`) and llama.cpp refuses the MoE GGUF at load. Every
writer of a model folder calls `to_hub_format` after `save_pretrained`; transformers loads the
result back unchanged (it converts both spellings).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

EXPERT_TENSORS = ("mlp.experts.gate_up_proj", "mlp.experts.down_proj")


def hub_config(config: dict, *, tied: bool | None = None) -> dict:
    """The Hub spelling of a transformers-5 Qwen3-VL(-MoE) config dict.

    `tie_word_embeddings` is written the same at the top level and in text_config, from `tied` (whether
    the weights really share the output layer with the embeddings) or else from the top-level key:
    transformers 5 reads the top level but, loading a Hub config whose text_config has no such key (the
    8B and 30B-A3B do not), saves text_config's default `true`, which mlx-vlm and vLLM then read and drop
    the separate output layer."""
    out = json.loads(json.dumps(config))
    text = out.get("text_config", {})
    if tied is None:
        tied = bool(out.get("tie_word_embeddings", text.get("tie_word_embeddings", False)))
    out["tie_word_embeddings"] = text["tie_word_embeddings"] = tied
    rope = text.pop("rope_parameters", None)
    if rope:
        rope = dict(rope)
        text["rope_theta"] = rope.pop("rope_theta", text.get("rope_theta"))
        text["rope_scaling"] = rope
    if "num_local_experts" in text:  # the Hub (and mlx-vlm) spell it num_experts
        text["num_experts"] = text.pop("num_local_experts")
    vision = out.get("vision_config", {})
    # transformers derives the vision tower's axial rope; the Hub config carries none.
    if vision.get("rope_parameters") in (None, {"rope_theta": 10000.0, "rope_type": "axial"}):
        vision.pop("rope_parameters", None)
    vision["model_type"] = out["model_type"]
    return out


def to_hub_format(folder: Path) -> None:
    """Rewrite config.json (and MoE expert tensors) of a saved Qwen3-VL folder in place."""
    folder = Path(folder)
    cfg_path = folder / "config.json"
    config = json.loads(cfg_path.read_text())
    keys = tensor_names(folder)
    tied = (not any(k.endswith("lm_head.weight") for k in keys)) if keys else None
    cfg_path.write_text(json.dumps(hub_config(config, tied=tied), indent=2, sort_keys=True) + "\n")
    _split_processor_config(folder)
    if "moe" in config.get("model_type", ""):
        _experts_to_hub_layout(folder, config["text_config"])


def tensor_names(folder: Path) -> list[str]:
    """Every tensor name in a folder's safetensors shards (empty when it has none)."""
    names = []
    for shard in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(shard, framework="pt") as fh:
            names += list(fh.keys())
    return names


def _split_processor_config(folder: Path) -> None:
    """transformers 5 nests both processors in processor_config.json; the Hub ships them as
    preprocessor_config.json and video_preprocessor_config.json (what llama.cpp's --mmproj reads)."""
    path = folder / "processor_config.json"
    if not path.exists():
        return
    nested = json.loads(path.read_text())
    cls = nested.get("processor_class")
    for key, name in (
        ("image_processor", "preprocessor_config.json"),
        ("video_processor", "video_preprocessor_config.json"),
    ):
        if key in nested:
            body = {**nested.pop(key), "processor_class": cls}
            (folder / name).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    rest = {k: v for k, v in nested.items() if k != "processor_class"}
    if rest:
        path.write_text(json.dumps(nested, indent=2, sort_keys=True) + "\n")
    else:
        path.unlink()


def _experts_to_hub_layout(folder: Path, text: dict) -> None:
    """Hub layout: gate_up_proj (E, hidden, 2*inter), down_proj (E, inter, hidden)."""
    hidden, inter = text["hidden_size"], text["moe_intermediate_size"]
    hub_shapes = {"gate_up_proj": (hidden, 2 * inter), "down_proj": (inter, hidden)}
    for shard in sorted(folder.glob("*.safetensors")):
        with safe_open(shard, framework="pt") as fh:
            metadata = fh.metadata()
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open is not a dict)
        changed = False
        for key, t in tensors.items():
            if not key.endswith(EXPERT_TENSORS):
                continue
            want = hub_shapes[key.rsplit(".", 1)[-1]]
            if tuple(t.shape[1:]) != want:
                if tuple(t.shape[1:]) != want[::-1]:
                    raise ValueError(f"{shard.name}:{key} has shape {tuple(t.shape)}, expected (E, {want})")
                tensors[key] = t.transpose(1, 2).contiguous()
                changed = True
        if changed:
            tmp = shard.with_suffix(".tmp")
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
            tmp.replace(shard)


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over tensor names, dtypes, shapes and bytes: equal digests, equal weights."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()
