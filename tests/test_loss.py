"""The training loss with logits only at supervised tokens equals the model's own loss, value and
gradients, on a real rendered batch (images, padding, rows of different lengths)."""

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from zen_vl.chat import IGNORE_INDEX, render
from zen_vl.collate import Collator, unbatch
from zen_vl.config import load_config
from zen_vl.train.loss import supervised_loss


def _conversation(colour: str, question: str, answer: str) -> dict:
    image = Image.new("RGB", (64 + 32 * len(colour), 96), colour)
    return {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image", "image": image}, {"type": "text", "text": question}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
            {"role": "user", "content": [{"type": "text", "text": "And again?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer.upper()}]},
        ]
    }


def test_supervised_loss_matches_the_models_loss_and_gradients(tiny_base):
    torch.manual_seed(0)
    processor = AutoProcessor.from_pretrained(tiny_base)
    model = AutoModelForImageTextToText.from_pretrained(tiny_base, dtype=torch.float32)
    kwargs = load_config("tiny", "instruct").vision.processor_kwargs
    rendered = [
        render(_conversation(c, q, a), processor, processor_kwargs=kwargs)
        for c, q, a in [
            ("red", "What colour is this?", "Red."),
            ("mediumseagreen", "Describe the picture in a few words, please.", "A flat green square."),
            ("blue", "Colour?", "It is blue, all of it."),
        ]
    ]
    items = [unbatch(r) for r in rendered]  # as the dataset does
    batch = Collator(processor.tokenizer.pad_token_id)(items)
    supervised = batch["labels"][:, 1:].ne(IGNORE_INDEX)
    assert supervised.sum() < supervised.numel() / 2  # most positions are prompt, image or padding

    reference = model(**batch).loss  # transformers' own causal-LM loss over every position
    reference.backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()

    ours, outputs = supervised_loss(model, batch)
    ours.backward()
    assert outputs.logits.shape[-2] == supervised.sum()  # one row of logits per supervised token
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    for name, grad in ref_grads.items():
        torch.testing.assert_close(model.get_parameter(name).grad, grad, rtol=1e-4, atol=1e-6, msg=name)

    model.zero_grad()
    total = int(supervised.sum())
    summed, _ = supervised_loss(model, batch, num_items_in_batch=2 * total)  # the Trainer's normaliser
    torch.testing.assert_close(summed, reference / 2, rtol=1e-5, atol=1e-5)
