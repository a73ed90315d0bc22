"""Every rank runs the vision tower every step, whatever its micro-batch holds.

Under ZeRO-3 or FSDP a rank whose micro-batch has no image (every data mix has text-only samples)
skips the vision tower while the other ranks all-gather its parameters, and training hangs
(QwenLM/Qwen3-VL#126, DeepSpeed#7170; verl, EasyR1 and prime-rl run a dummy image on such ranks).
`keep_vision_alive` hooks the model so that, when a forward reaches the language model without having
run the tower, the tower runs on a dummy 2x2-patch image right there (where it would have run: before
the language model, so every rank gathers the same parameters in the same order), and its output is
added to the language model's input embeddings multiplied by exactly 0: the loss and the gradients of
the real samples are unchanged (x + 0 == x), the tower's parameters get zero gradients.
"""

from __future__ import annotations

import torch


def _vl_model(model):
    """The Qwen3VLModel (vision tower + language model) under peft and DDP/FSDP wrappers."""
    inner = model
    while hasattr(inner, "module"):
        inner = inner.module
    inner = inner.get_base_model() if hasattr(inner, "get_base_model") else inner
    return inner.model


def dummy_image(visual) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel_values, grid_thw) of the smallest image the tower takes: one merged token, 2x2 patches."""
    cfg = visual.config
    merge = cfg.spatial_merge_size
    width = cfg.in_channels * cfg.temporal_patch_size * cfg.patch_size**2
    param = next(visual.parameters())
    pixels = torch.zeros(merge * merge, width, dtype=param.dtype, device=param.device)
    return pixels, torch.tensor([[1, merge, merge]], device=param.device)


def keep_vision_alive(model) -> dict:
    """Install the hooks; returns their state (`dummy_runs` counts the dummy forwards, for tests)."""
    vl = _vl_model(model)
    visual = vl.visual
    state = {"ran": False, "dummy_runs": 0}

    def tower_ran(*_):
        state["ran"] = True

    def before_language_model(_module, args, kwargs):
        ran, state["ran"] = state["ran"], False
        embeds = kwargs.get("inputs_embeds")
        if ran or embeds is None:
            return None
        pixels, grid = dummy_image(visual)
        out = visual(pixels, grid_thw=grid, return_dict=True)
        touched = out.pooler_output.sum() + sum(f.sum() for f in out.deepstack_features or [])
        state["ran"] = False  # the dummy forward itself tripped the tower's hook
        state["dummy_runs"] += 1
        return args, {**kwargs, "inputs_embeds": embeds + 0.0 * touched.to(embeds.dtype)}

    visual.register_forward_pre_hook(tower_ran)
    vl.language_model.register_forward_pre_hook(before_language_model, with_kwargs=True)
    return state
