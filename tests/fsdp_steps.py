"""python -m torch.distributed.run --nproc-per-node 2 tests/fsdp_steps.py BASE OUT [--no-keepalive]
python tests/fsdp_steps.py BASE OUT --single

A few LoRA steps on the tiny model under torch FSDP2 (gloo, CPU) where rank 0's sample has an image and
rank 1's is text-only; `--single` runs the same steps in one process over both samples (gradient
accumulation). Writes the trained adapter weights to OUT (rank 0). accelerate keeps FSDP to GPUs, so
this drives `fully_shard` itself, with the wrap policy of configs/accelerate/fsdp.yaml.
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from PIL import Image

from zen_vl.base.load import load_processor
from zen_vl.chat import IGNORE_INDEX, render
from zen_vl.collate import Collator, unbatch
from zen_vl.config import load_config
from zen_vl.train.keepalive import keep_vision_alive
from zen_vl.train.loss import supervised_loss
from zen_vl.train.model import load_model, prepare

STEPS = 3
SAMPLES = [
    {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": Image.new("RGB", (64, 64), "red")},
                    {"type": "text", "text": "What colour is this?"},
                ],
            },
            {"role": "assistant", "content": "Red."},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "Who are you?"},
            {"role": "assistant", "content": "I am Zen VL."},
        ]
    },
]


def supervised_tokens(batch) -> int:
    return int(batch["labels"][:, 1:].ne(IGNORE_INDEX).sum())


def main() -> None:
    base, out = sys.argv[1], sys.argv[2]
    single, keepalive = "--single" in sys.argv, "--no-keepalive" not in sys.argv
    cfg = load_config("tiny", "instruct")
    processor = load_processor(base)
    collate = Collator(processor.tokenizer.pad_token_id)
    batches = [
        collate([unbatch(render(s, processor, processor_kwargs=cfg.vision.processor_kwargs))])
        for s in SAMPLES
    ]
    torch.manual_seed(0)
    model = prepare(cfg, load_model(cfg, base))
    if single:
        mine, rank = batches, 0
    else:
        from torch.distributed.fsdp import fully_shard

        dist.init_process_group("gloo")
        rank = dist.get_rank()
        mine = [batches[rank]]
        if keepalive:
            keep_vision_alive(model)
        layers = ("Qwen3VLTextDecoderLayer", "Qwen3VLVisionBlock")
        for module in model.modules():
            if type(module).__name__ in layers:
                fully_shard(module)
        fully_shard(model)
    items = sum(supervised_tokens(b) for b in batches)  # the Trainer's num_items_in_batch, all ranks
    world = 1 if single else dist.get_world_size()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(STEPS):
        optim.zero_grad()
        for batch in mine:
            loss, _ = supervised_loss(model, batch, num_items_in_batch=items)
            (loss * world).backward()  # FSDP averages gradients over ranks; the Trainer scales the same
        optim.step()
    state = {
        n: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().clone()
        for n, p in model.named_parameters()
        if p.requires_grad
    }
    if rank == 0:
        torch.save(state, out)
    if not single:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
