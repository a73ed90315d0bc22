"""Packing keeps every sample's own 3-D mRoPE positions and attention: packed and unpacked give the
same per-sample loss and gradients; positions that run on across samples (naive packing) do not."""

import itertools
from unittest import mock

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from zen_vl.chat import IGNORE_INDEX, render
from zen_vl.collate import Collator, unbatch
from zen_vl.config import load_config
from zen_vl.train.loss import supervised_loss
from zen_vl.train.packing import PackingCollator, pack_rows, packed_inputs


def _sample(images: list[tuple[int, int, str]], question: str, answer: str) -> dict:
    content = [{"type": "image", "image": Image.new("RGB", (w, h), c)} for w, h, c in images]
    return {
        "messages": [
            {"role": "user", "content": [*content, {"type": "text", "text": question}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
        ]
    }


def _video(colours: list[str], question: str, answer: str) -> dict:
    frames = [Image.new("RGB", (64, 64), c) for c in colours]
    return {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "video", "video": frames, "fps": 2}, {"type": "text", "text": question}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
        ]
    }


SAMPLES = [
    _sample([(96, 64, "red")], "What colour is this?", "Red, a flat red."),
    _video(["red", "green", "blue", "white"], "What changes?", "The colour, four times."),
    _sample([], "Who are you?", "I am Zen VL."),
    _sample([(64, 128, "blue"), (160, 96, "green")], "Compare the two pictures.", "Blue, then green."),
    _sample([(128, 128, "orange")], "Describe it.", "An orange square."),
]


@pytest.fixture(scope="module")
def setup(tiny_base):
    processor = AutoProcessor.from_pretrained(tiny_base)
    model = AutoModelForImageTextToText.from_pretrained(tiny_base, dtype=torch.float32)
    kwargs = load_config("tiny", "instruct").vision.processor_kwargs
    items = [unbatch(render(s, processor, processor_kwargs=kwargs)) for s in SAMPLES]
    return processor, model, items


def _per_token_loss(logits, labels):
    shifted = labels[:, 1:]
    ce = torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(), shifted.flatten().clamp(min=0), reduction="none"
    )
    return ce.view(shifted.shape), shifted.ne(IGNORE_INDEX)


def _segment_losses(model, batch, text):
    """Mean CE per sample of a packed batch (samples where `text` restarts at 0), in row order."""
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    ce, mask = _per_token_loss(logits, batch["labels"])
    out = []
    for r in range(ce.shape[0]):
        starts = [*text[r].eq(0).nonzero().squeeze(-1).tolist(), text.shape[1]]
        for s, e in itertools.pairwise(starts):
            m = mask[r, s : e - 1]  # the last token of a segment predicts the next sample: not supervised
            if m.any():
                out.append(float(ce[r, s : e - 1][m].mean()))
    return out


def test_pack_rows_first_fit_decreasing():
    assert pack_rows([5, 3, 4, 2], 8) == [[0, 1], [2, 3]]
    assert pack_rows([8, 1], 8) == [[0], [1]]
    with pytest.raises(ValueError, match="9 tokens"):
        pack_rows([9], 8)


def test_packed_and_unpacked_give_the_same_per_sample_loss(setup):
    processor, model, items = setup
    pad = processor.tokenizer.pad_token_id
    alone = []
    for it in items:
        batch = Collator(pad)([it])
        with torch.no_grad():
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        ce, mask = _per_token_loss(logits, batch["labels"])
        alone.append(float(ce[mask].mean()))

    capacity = sum(len(it["input_ids"]) for it in items)  # everything in one row
    packed = PackingCollator(pad, capacity)(items)
    assert packed["input_ids"].shape[0] == 1 and "text_position_ids" in packed
    ready = packed_inputs(model, packed)
    assert "attention_mask" not in ready and ready["position_ids"].shape == (4, *packed["input_ids"].shape)
    assert ready["position_ids"][1:].amax() > ready["position_ids"][0].amax() / 4  # mRoPE differs from text
    order = pack_rows([len(it["input_ids"]) for it in items], capacity)[0]
    expected = [alone[i] for i in order]
    text = packed["text_position_ids"]
    assert _segment_losses(model, ready, text) == pytest.approx(expected, rel=1e-4)

    # Naive packing: positions run on over the whole row and attention crosses samples.
    run_on = dict(packed, text_position_ids=torch.arange(text.shape[1])[None])
    naive = _segment_losses(model, packed_inputs(model, run_on), text)
    assert naive[0] == pytest.approx(expected[0], rel=1e-4)  # the first sample sees nothing before it
    assert all(n != pytest.approx(e, rel=1e-3) for n, e in zip(naive[1:], expected[1:], strict=True))


def test_packed_training_loss_and_gradients_equal_padded(setup):
    processor, model, items = setup
    pad = processor.tokenizer.pad_token_id
    padded = Collator(pad)(items)
    packed = PackingCollator(pad, capacity=max(len(it["input_ids"]) for it in items) + 24)(items)
    assert 1 < packed["input_ids"].shape[0] < len(items)  # two or three rows of mixed samples
    assert packed["input_ids"].numel() < padded["input_ids"].numel()  # less padding

    model.zero_grad()
    reference, _ = supervised_loss(model, padded)
    reference.backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    ours, _ = supervised_loss(model, packed)
    ours.backward()
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    for name, grad in ref.items():
        torch.testing.assert_close(model.get_parameter(name).grad, grad, rtol=1e-3, atol=1e-6, msg=name)


def _loss_grads(model, batch):
    model.zero_grad()
    loss, _ = supervised_loss(model, batch)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_varlen_attention_equals_sdpa_on_padded_and_packed_batches(setup):
    # train.attention=varlen: padding and packed samples as segments of one variable-length call
    # (torch's varlen_attn on CUDA; on the CPU the same segments through SDPA, checked here)
    from zen_vl.train import varlen
    from zen_vl.train.model import check_attention
    from zen_vl.train.varlen import segments

    processor, model, items = setup
    pad = processor.tokenizer.pad_token_id
    padded = Collator(pad)(items)
    assert not padded["attention_mask"].all()  # the batch has padding for the segments to skip
    reference, ref = _loss_grads(model, padded)
    check_attention("varlen")
    model.set_attn_implementation("varlen")
    try:
        with mock.patch.object(varlen, "segments", wraps=varlen.segments) as found:
            loss, grads = _loss_grads(model, padded)
        assert found.called  # the language model's attention ran through the varlen path
        torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-5)
        for name, grad in ref.items():
            torch.testing.assert_close(grads[name], grad, rtol=1e-3, atol=1e-6, msg=name)

        packed = PackingCollator(pad, max(len(it["input_ids"]) for it in items) + 24, segments=True)(items)
        rows, width = packed["input_ids"].shape
        cu = packed["cu_seq_lens_q"]
        starts = set(cu[:-1].tolist())
        assert {r * width for r in range(rows)} <= starts and len(starts) >= len(items) + rows - 1
        assert packed["max_length_q"] == int(cu.diff().max()) and int(cu[-1]) == rows * width
        loss, grads = _loss_grads(model, packed)
        torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-5)
        for name, grad in ref.items():
            torch.testing.assert_close(grads[name], grad, rtol=1e-3, atol=1e-6, msg=name)
        # without the segments the kernel would attend across samples: the loss moves
        one = dict(
            packed,
            cu_seq_lens_q=torch.tensor([0, rows * width], dtype=torch.int32),
            max_length_q=rows * width,
        )
        assert abs(float(supervised_loss(model, one)[0].detach()) - float(reference)) > 1e-3
        assert segments(1, 4, torch.tensor([[0, 1, 0, 1]])).tolist() == [0, 2, 4]
        assert segments(1, 4, None, torch.tensor([[1, 1, 1, 0]])).tolist() == [0, 3, 4]
    finally:
        model.set_attn_implementation("sdpa")
