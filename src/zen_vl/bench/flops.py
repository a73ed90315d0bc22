"""FLOPs per trained token, for MFU.

A dense matmul with N weights costs 2N FLOPs per token forward. Training with LoRA on frozen weights
needs the forward (2N) and the gradient with respect to the activations (2N) but not the frozen
weights' gradients: about 4N per token (6N for full fine-tuning). Activation checkpointing runs the
forward twice: add 2N for each checkpointed layer. The language model's N excludes the input embedding (a lookup) and counts the
output layer only for the supervised tokens: the work training needs, the same for both paths (the
baseline's logits for every other token are work it does that training does not need, so they are not
counted and MFU ranks the two like tokens/s does). Attention adds 2·2·layers·seq·width per token forward (scores and weighted sum), the
same factor for backward. The vision tower is frozen and runs forward only: 2·N_vision per patch,
plus its attention, then the merger (trained in full by default: 6·N_merger per merged token).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    llm: int  # language-model weights used per token (no embedding, no output layer)
    head: int  # output layer weights (hidden x vocab)
    vision: int  # vision blocks + patch embed
    merger: int
    layers: int
    width: int
    vision_layers: int
    vision_width: int


def counts(model) -> Counts:
    """Parameter counts by component of a (possibly peft-wrapped) Qwen3-VL model.

    MoE layers count only the experts a token is routed to (num_experts_per_tok of num_experts).
    """
    cfg = model.config
    text, vision = cfg.text_config, cfg.vision_config
    active = getattr(text, "num_experts_per_tok", 1) / getattr(text, "num_experts", 1)
    llm = head = vis = merger = 0
    for name, p in model.named_parameters():
        n = p.numel()
        if "lm_head" in name:
            head += n
        elif ".visual." in f".{name}":
            if "merger" in name:
                merger += n
            else:
                vis += n
        elif "embed_tokens" in name:
            continue
        elif "lora_" in name:
            continue  # adapters are small; their FLOPs are not counted as useful work
        elif ".experts." in name:
            llm += int(n * active)
        else:
            llm += n
    if head == 0:  # tied: the output layer is the embedding matrix
        head = text.vocab_size * text.hidden_size
    return Counts(
        llm, head, vis, merger, text.num_hidden_layers, text.hidden_size, vision.depth, vision.hidden_size
    )


def step_flops(
    c: Counts,
    *,
    tokens: int,
    logit_tokens: int,
    seq: int,
    patches: int,
    patch_pairs: int,
    recomputed: float,
    convention: str = "4n",
) -> float:
    """FLOPs of one training step: `tokens` (in sequences of `seq`) through the language model,
    `logit_tokens` through the output layer, `patches` through the vision tower and merger
    (`patch_pairs`: the sum over images of patches squared, for the per-image attention); `recomputed` is the share of decoder layers whose forward runs twice
    (activation checkpointing).

    convention "4n" is the work LoRA training needs (above); "6n" is the 6N-equivalent most reports
    quote (TorchTitan, the PaLM appendix): forward plus both backward matmuls for every weight, as for
    full fine-tuning, recomputation not counted. The same step gives 1.5x the 4N figure's language-model
    FLOPs under "6n"."""
    train = 6.0 if convention == "6n" else 4.0 + 2.0 * recomputed
    llm = train * c.llm * tokens + train * c.head * logit_tokens
    attention = train * 2 * c.layers * seq * c.width * tokens  # QK^T and AV over the whole sequence
    vision = 2 * c.vision * patches + 4 * c.vision_layers * patch_pairs * c.vision_width
    merger = 6 * c.merger * patches / 4  # 2x2 patches merge into one token; trained in full by default
    return float(llm + attention + vision + merger)


# Dense bf16 peak FLOP/s by device name (vendor data sheets, without sparsity).
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "RTX 4090": 165e12}


def peak_flops(device_name: str) -> float | None:
    for key, value in PEAK_BF16.items():
        if key in device_name:
            return value
    return None
