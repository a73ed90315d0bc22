"""The linear patch embedding equals Qwen3-VL's Conv3d one, values and gradients, and leaves the weights."""

import torch
from transformers import AutoModelForImageTextToText

from zen_vl.train.patch_embed import patch_embeds, use_linear_patch_embed


def test_linear_patch_embed_matches_conv3d(tiny_base):
    # float64: the two paths sum in different orders; in double that is ~1e-12, so the check is tight.
    model = AutoModelForImageTextToText.from_pretrained(tiny_base, dtype=torch.float64)
    (embed,) = patch_embeds(model)
    x = torch.randn(64, embed.proj.weight[0].numel(), dtype=torch.float64, requires_grad=True)
    ref = embed(x)
    ref.square().sum().backward()
    ref_grad, ref_wgrad = x.grad.clone(), embed.proj.weight.grad.clone()
    keys = set(model.state_dict())

    report = use_linear_patch_embed(model, "linear")
    assert report == {"patch_embed": "linear", "modules": 1}
    x.grad, embed.proj.weight.grad = None, None
    out = embed(x)
    out.square().sum().backward()
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(x.grad, ref_grad, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(embed.proj.weight.grad, ref_wgrad, rtol=1e-10, atol=1e-10)
    assert set(model.state_dict()) == keys  # checkpoints and merges see the same tensors


def test_auto_picks_by_measurement(tiny_base):
    model = AutoModelForImageTextToText.from_pretrained(tiny_base, dtype=torch.float32)
    report = use_linear_patch_embed(model, "auto", patches=256)
    assert report["conv3d_s"] > 0 and report["linear_s"] > 0
    assert report["patch_embed"] == ("linear" if report["linear_s"] < report["conv3d_s"] else "conv3d")
