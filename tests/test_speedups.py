"""The training step's optimisations are exact: each computes what peft / transformers compute, on a
tiny Qwen3-VL, and keeps fewer bytes for backward where it says it does."""

import torch
from transformers import AutoModelForImageTextToText

from zen_vl.base.tiny import build_processor, model_config
from zen_vl.bench.batch import fixed_batch
from zen_vl.bench.run import saved_activations
from zen_vl.config import load_config
from zen_vl.train.loss import supervised_loss
from zen_vl.train.model import prepare, train_autocast


def _batch(cfg):
    return fixed_batch(build_processor("instruct"), samples=2, image_tokens=16, text_tokens=48,
                       answer_share=0.5, vision_kwargs=cfg.vision.processor_kwargs)  # fmt: skip


def _prepared(overrides, dtype=torch.float32):
    cfg = load_config("tiny", "instruct", overrides)
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_config(model_config(cfg.architecture), dtype=dtype)
    model.config.text_config.use_cache = False
    model = prepare(cfg, model)
    torch.manual_seed(1)
    for name, p in model.named_parameters():  # adapters that already contribute (B starts at 0)
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.02)
    return cfg, model.train()


def _loss_and_grads(model, batch, precision):
    with train_autocast(precision, "cpu"):
        loss = supervised_loss(model, batch)[0]
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return float(loss.detach()), grads


def test_lora_in_bf16_without_peft_input_cast_is_exact_and_keeps_fewer_bytes():
    # bf16 weights under the Trainer's bf16 autocast (CPU here): peft's default casts each adapted
    # layer's input to its fp32 adapter; ours lets autocast run the adapter in bf16 from fp32 weights
    runs = {}
    for cast in (True, False):
        cfg, model = _prepared([f"train.lora_input_cast={str(cast).lower()}"], dtype=torch.bfloat16)
        assert next(p for n, p in model.named_parameters() if "lora_A" in n).dtype == torch.float32
        batch = _batch(cfg)
        saved = saved_activations(lambda m, b: supervised_loss(m, b)[0], model, batch, "bf16", "cpu")
        model.zero_grad()
        runs[cast] = (*_loss_and_grads(model, batch, "bf16"), saved["bytes"])
    (loss_cast, grads_cast, bytes_cast), (loss, grads, kept) = runs[True], runs[False]
    assert loss == loss_cast  # bit-identical at dropout 0: autocast casts the fp32 copy back to bf16
    assert grads.keys() == grads_cast.keys() and any("lora_A" in n for n in grads)
    for name in grads:
        assert torch.equal(grads[name], grads_cast[name]), name
    assert kept <= bytes_cast  # measured: 1 % fewer (autocast saves the bf16 cast, not the fp32 copy)


def _adapter_inputs(model):
    """What each layer-0 adapter's lora_A receives in the next forward."""
    seen = {}
    for name, module in model.named_modules():
        if ".layers.0." in name and name.endswith("lora_A.default"):
            short = name.split(".")[-3]
            module.register_forward_pre_hook(lambda _m, args, short=short: seen.__setitem__(short, args[0]))
    return seen


def test_qkv_and_gate_up_adapters_share_one_dropout_draw_and_keep_one_copy():
    runs = {}
    for shared in (False, True):
        cfg, model = _prepared(["lora.dropout=0.3", f"lora.shared_dropout={str(shared).lower()}"])
        batch = _batch(cfg)
        seen = _adapter_inputs(model)
        torch.manual_seed(2)
        saved = saved_activations(lambda m, b: supervised_loss(m, b)[0], model, batch, "fp32", "cpu")
        runs[shared] = (seen, saved["layer_bytes"])
    (peft_seen, peft_bytes), (seen, kept) = runs[False], runs[True]
    for group in (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj")):
        first = seen[group[0]]
        dropped = first.eq(0).float().mean().item()
        assert 0.2 < dropped < 0.4  # p = 0.3 of the input zeroed
        assert all(seen[name] is first for name in group)  # one tensor, so autograd keeps one copy
        assert not torch.equal(peft_seen[group[0]], peft_seen[group[1]])  # peft: a draw per adapter
    assert seen["q_proj"] is not seen["gate_proj"]  # different inputs, different draws
    assert seen["o_proj"] is not seen["q_proj"] and seen["down_proj"] is not seen["gate_proj"]
    assert kept < 0.9 * peft_bytes


def test_shared_dropout_draws_the_same_mask_when_checkpointing_recomputes_the_layer():
    out = {}
    for checkpointing in ("false", "true"):
        cfg, model = _prepared(["lora.dropout=0.3", f"train.gradient_checkpointing={checkpointing}"])
        torch.manual_seed(3)
        out[checkpointing] = _loss_and_grads(model, _batch(cfg), "fp32")
    (loss, grads), (loss_ck, grads_ck) = out["false"], out["true"]
    assert abs(loss - loss_ck) < 1e-6
    for name in grads:
        assert torch.allclose(grads[name], grads_ck[name], atol=1e-6, rtol=1e-5), name


def test_regionally_compiled_layers_train_the_same_across_batch_lengths():
    # torch.compile of each decoder layer and vision block (dynamo capture of peft's layers, dynamic
    # shapes, checkpointing around the compiled layer); aot_eager keeps the CPU test short, inductor's
    # own numerics are measured by the bench's train.compile row (labelled exact or not)
    from zen_vl.train.kernels import compile_regions

    cfg = load_config("tiny", "instruct", [])
    short = _batch(cfg)
    long = fixed_batch(build_processor("instruct"), samples=2, image_tokens=36, text_tokens=80,
                       answer_share=0.5, vision_kwargs=cfg.vision.processor_kwargs)  # fmt: skip
    out = {}
    for compiled in (False, True):
        _, model = _prepared(["train.gradient_checkpointing=true"])
        if compiled:
            assert compile_regions(model, backend="aot_eager")["decoder_layers"] == 4
        out[compiled] = [_loss_and_grads(model, b, "fp32") for b in (short, long)]
        model.zero_grad()
    for (loss, grads), (loss_c, grads_c) in zip(out[False], out[True], strict=True):
        assert abs(loss - loss_c) < 1e-5
        for name in grads:
            assert torch.allclose(grads[name], grads_c[name], atol=1e-5, rtol=1e-4), name


def test_grouped_expert_lora_equals_peft_on_the_tiny_moe_values_and_gradients():
    # LoRA on the fused experts: peft rebuilds W + BA for every expert; the grouped path computes the
    # picked experts' updates only. Same adapters, same loss and gradients up to rounding.
    out = {}
    for path in ("peft", "grouped"):
        cfg = load_config("tiny-moe", "instruct", [f"lora.experts_path={path}"])
        torch.manual_seed(0)
        model = AutoModelForImageTextToText.from_config(model_config(cfg.architecture))
        model.config.text_config.use_cache = False
        model = prepare(cfg, model).train()
        torch.manual_seed(1)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.02)
        switched = [m for m in model.modules() if hasattr(m, "_zen_lora")]
        assert len(switched) == (cfg.architecture.num_hidden_layers if path == "grouped" else 0)
        out[path] = _loss_and_grads(model, _batch(cfg), "fp32")
    (loss, grads), (loss_g, grads_g) = out["peft"], out["grouped"]
    assert abs(loss - loss_g) < 1e-5
    expert_grads = [n for n in grads if "experts" in n and "lora_" in n]
    assert expert_grads and grads.keys() == grads_g.keys()
    for name in grads:
        assert torch.allclose(grads[name], grads_g[name], atol=1e-6, rtol=1e-4), name


def test_fused_lora_function_passes_fp64_gradcheck_with_and_without_dropout():
    from zen_vl.train.fused_lora import FusedLoRA

    torch.manual_seed(0)
    d, outs, r = 6, (5, 3, 3), (2, 2, 3)
    x = torch.randn(2, 4, d, dtype=torch.float64, requires_grad=True)
    W = [torch.randn(o, d, dtype=torch.float64) for o in outs]
    b = [torch.randn(outs[0], dtype=torch.float64), None, None]
    A = [torch.randn(k, d, dtype=torch.float64, requires_grad=True) for k in r]
    B = [torch.randn(o, k, dtype=torch.float64, requires_grad=True) for o, k in zip(outs, r, strict=True)]
    keep = torch.rand(2, 4, d) > 0.3
    for mask, p in ((None, 0.0), (keep, 0.3)):
        fn = lambda x, *ab, mask=mask, p=p: FusedLoRA.apply(x, mask, p, (2.0, 0.5, 1.0), *W, *b, *ab)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, *A, *B))


def test_fused_qkv_and_gate_up_equal_peft_at_dropout_0_values_and_gradients():
    runs = {}
    for fused in (False, True):
        cfg, model = _prepared(["lora.dropout=0", f"lora.fused_projections={str(fused).lower()}"])
        runs[fused] = _loss_and_grads(model, _batch(cfg), "fp32")
    (loss, grads), (loss_fused, grads_fused) = runs[False], runs[True]
    assert abs(loss - loss_fused) < 1e-6
    assert grads.keys() == grads_fused.keys() and sum("lora_A" in n for n in grads) >= 7
    for name in grads:
        torch.testing.assert_close(grads_fused[name], grads[name], rtol=1e-4, atol=1e-6, msg=name)
    fused_layers = [
        m
        for m in model.modules()
        if getattr(m, "forward", None).__qualname__.endswith("_patch.<locals>.forward")
    ]
    assert len(fused_layers) == 5 * cfg.architecture.num_hidden_layers  # q, k, v, gate, up per layer
