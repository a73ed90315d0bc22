"""A fixed, seeded batch mix for the bench: each sample one image at the configured pixel budget and
a question/answer text of a set length, rendered through chat.render like training data."""

from __future__ import annotations

import math
import random

from PIL import Image

from zen_vl.chat import SampleTooLong, render
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


def mixed_batch(size: str, samples: int, overrides: list[str], seed: int = 0):
    """`samples` conversations drawn (seeded) from the three variants' own generated training samples
    (their data.mix generators at the size's image size and vision budget; Hub sources left out, none
    can be read offline), each rendered with its variant's template, padded into one batch: lengths
    vary, so padding and a padded attention mask are part of the step, as in training."""
    import tempfile
    from pathlib import Path

    from zen_vl.base.tiny import build_processor
    from zen_vl.config import load_config
    from zen_vl.data.build import generate
    from zen_vl.data.context import MediaWriter

    rng = random.Random(seed)
    pool = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("instruct", "thinking", "agent"):
            cfg = load_config(
                size, variant, [*overrides, f"data.train={samples}", "data.val=0", "data.test=0"]
            )
            processor = build_processor(cfg.template)
            media = MediaWriter(Path(tmp) / variant)
            for sample in generate(cfg, media, progress=False)[0]["train"]:
                try:
                    out = render(sample, processor, media_root=media.root,
                                 processor_kwargs=cfg.vision.processor_kwargs, max_length=cfg.train.max_length)  # fmt: skip
                except SampleTooLong:  # training drops these too
                    continue
                pool.append((variant, sample["meta"]["source"], unbatch(out)))
    drawn = rng.sample(pool, samples)
    batch = Collator(processor.tokenizer.pad_token_id)([item for _, _, item in drawn])
    return batch, [f"{variant}/{source}" for variant, source, _ in drawn]
