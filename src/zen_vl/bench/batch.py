"""A fixed, seeded batch mix for the bench: each sample one image at the configured pixel budget and
a question/answer text of a set length, rendered through chat.render like training data."""

from __future__ import annotations

import math
import random

from PIL import Image

from zen_vl.chat import render
from zen_vl.collate import Collator, unbatch

WORDS = [
    "the",
    "screen",
    "shows",
    "a",
    "form",
    "with",
    "a",
    "name",
    "field",
    "a",
    "submit",
    "button",
    "and",
    "a",
    "settings",
    "menu",
    "near",
    "the",
    "top",
    "left",
    "corner",
    "where",
    "the",
    "user",
    "can",
    "change",
    "the",
    "language",
    "colour",
    "scheme",
    "and",
    "font",
    "size",
    "before",
    "saving",
]


def _text(rng: random.Random, tokenizer, n_tokens: int) -> str:
    words, text = [], ""
    while len(tokenizer(text)["input_ids"]) < n_tokens:
        words += rng.choices(WORDS, k=max(4, (n_tokens - len(words)) // 2))
        text = " ".join(words)
    ids = tokenizer(text)["input_ids"][:n_tokens]
    return tokenizer.decode(ids)


def fixed_batch(
    processor, *, samples: int, image_tokens: int, text_tokens: int, answer_share: float, vision_kwargs
):
    """`samples` rendered conversations, padded into one batch (labels on the answers only).

    An image of side 32·sqrt(image_tokens) px gives image_tokens visual tokens (16 px patches, 2x2 merge).
    """
    rng = random.Random(0)
    side = 32 * round(math.sqrt(image_tokens))
    answer = max(1, int(text_tokens * answer_share))
    items = []
    for i in range(samples):
        image = Image.new("RGB", (side, side), ((37 * i) % 256, (91 * i) % 256, 160))
        sample = {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "image": image},
                        {"type": "text", "text": _text(rng, processor.tokenizer, text_tokens - answer)},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": _text(rng, processor.tokenizer, answer)}],
                },
            ]
        }
        out = render(sample, processor, processor_kwargs=vision_kwargs)
        items.append(unbatch(out))
    return Collator(processor.tokenizer.pad_token_id)(items)
