"""train.attention=varlen: the language model's attention over variable-length segments with torch's
own kernel (torch.nn.attention.varlen.varlen_attn, FlashAttention inside torch; no flash-attn build).

    register()            adds `varlen` to transformers' AttentionInterface
    segments(...)         cumulative segment starts over the flattened (rows × length) tokens: a new
                          segment at each row start, where a packed sample starts (its text position
                          is 0), and where the padding mask changes (padding is a segment of its own)
    varlen_attention      the attention function: one varlen call for the whole batch, causal inside
                          each segment; a padded batch is not padded for the kernel (no dense mask, no
                          masked SDPA kernel). On the CPU the same segments run through SDPA one by
                          one (the reference the tests compare with sdpa)

A packed batch (train.packing) carries its segments from the collator (`cu_seq_lens_q`,
`max_length_q`: computed on the host where the rows are built), so the step does not wait for the
device to find them. Calls it cannot serve the same way (a cache: query shorter than the keys; the
vision tower, bidirectional, split per image by transformers) go to transformers' SDPA.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

NAME = "varlen"


def segments(rows: int, length: int, position_ids=None, padding_mask=None) -> torch.Tensor:
    """int32 cumulative starts (with the end) of the segments over rows × length flattened tokens."""
    start = torch.zeros(rows, length, dtype=torch.bool)
    start[:, 0] = True
    if position_ids is not None:
        start |= position_ids.reshape(rows, length).eq(0).cpu()
    if padding_mask is not None:
        mask = padding_mask.reshape(rows, length).cpu()
        start[:, 1:] |= mask[:, 1:] != mask[:, :-1]
    where = start.reshape(-1).nonzero().squeeze(-1)
    return torch.cat([where, torch.tensor([rows * length])]).to(torch.int32)


def _sdpa(module, query, key, value, attention_mask, scaling, dropout, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if attention_mask is not None and attention_mask.ndim == 2:  # a raw padding mask (no mask function)
        q, k = query.shape[2], key.shape[2]
        causal = torch.ones(q, k, dtype=torch.bool, device=query.device).tril(k - q)
        attention_mask = causal[None, None] & attention_mask.bool()[:, None, None, :]
    return sdpa_attention_forward(
        module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
    )


def varlen_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers' attention-function signature: (rows, heads, length, dim) in, (rows, length,
    heads, dim) out."""
    rows, heads, length, dim = query.shape
    position_ids = kwargs.pop("position_ids", None)
    cu = kwargs.pop("cu_seq_lens_q", None)
    longest = kwargs.pop("max_length_q", None)
    for extra in ("cu_seq_lens_k", "max_length_k"):
        kwargs.pop(extra, None)
    causal = kwargs.pop("is_causal", None)
    causal = getattr(module, "is_causal", True) if causal is None else causal
    if key.shape[2] != length or not causal or (dropout and module.training):
        return _sdpa(module, query, key, value, attention_mask, scaling, dropout, is_causal=causal, **kwargs)
    if cu is None:
        if position_ids is not None and position_ids.ndim == 3:  # (3 or 4, rows, length): the text row
            position_ids = position_ids[0]
        cu = segments(rows, length, position_ids, attention_mask)
        longest = int(cu.diff().max())
    cu = cu.to(device=query.device, dtype=torch.int32)
    flat = [t.transpose(1, 2).reshape(rows * length, t.shape[1], dim) for t in (query, key, value)]
    if query.is_cuda:
        from torch.nn.attention.varlen import varlen_attn

        out = varlen_attn(*flat, cu, cu, longest, longest, scale=scaling, window_size=(-1, 0),
                          enable_gqa=heads != key.shape[1])  # fmt: skip
    else:
        q, k, v = flat
        bounds = cu.tolist()
        out = torch.cat([
            F.scaled_dot_product_attention(
                *(t[s:e].transpose(0, 1) for t in (q, k, v)), is_causal=True, scale=scaling, enable_gqa=True
            ).transpose(0, 1)
            for s, e in itertools.pairwise(bounds)
        ])  # fmt: skip
    return out.reshape(rows, length, heads, dim), None


def register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, varlen_attention)
