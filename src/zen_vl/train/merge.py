"""Adapter -> merged model, verified, then published atomically with its provenance.

<variant>/finetuned/<size>/
    adapter/          the peft adapter (absent for full fine-tuning)
    merged/           Hub-format model folder: safetensors, processor, tokenizer, chat template,
                      generation config
    provenance.json   written last: resolved config, seed, data manifest, versions, git commit,
                      training metrics, verification

Verification before publishing: the merged state-dict keys equal the base's, and the merged
model's logits (reloaded from disk) equal the adapter-on-base logits on a probe batch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from zen_vl.artifacts import PROVENANCE
from zen_vl.atomic import building, write_json
from zen_vl.base.hub_format import tensor_names, to_hub_format
from zen_vl.errors import ZenError

# Max |logit difference| allowed between merged and adapter-on-base, by dtype.
TOLERANCE = {torch.float32: 1e-3, torch.bfloat16: 0.15, torch.float16: 0.05}


class MergeError(ZenError):
    """The merged model does not reproduce the adapter-on-base model."""


def tensor_keys(folder: Path) -> set[str]:
    return set(tensor_names(folder))


@torch.no_grad()
def probe_logits(model, batch: dict) -> torch.Tensor:
    model.eval()
    device = next(model.parameters()).device
    return model(**{k: v.to(device) for k, v in batch.items() if k != "labels"}).logits.float().cpu()


def publish(model, processor, *, base: Path, dest: Path, probe: dict, provenance: dict) -> dict:
    """Merge (if peft), save, verify and rename into `dest`; returns the verification record."""
    from transformers import AutoModelForImageTextToText

    is_peft = hasattr(model, "merge_and_unload")
    reference = probe_logits(model, probe)
    dtype = next(model.parameters()).dtype
    with building(dest, replace=True) as tmp:
        if is_peft:
            model.save_pretrained(tmp / "adapter")
            model = model.merge_and_unload()
        model.save_pretrained(tmp / "merged")
        processor.save_pretrained(tmp / "merged")
        for name in ("generation_config.json", "chat_template.jinja"):
            if (base / name).is_file() and not (tmp / "merged" / name).is_file():
                shutil.copy2(base / name, tmp / "merged" / name)
        to_hub_format(tmp / "merged")

        base_keys, merged_keys = tensor_keys(base), tensor_keys(tmp / "merged")
        if base_keys != merged_keys:
            extra, missing = sorted(merged_keys - base_keys)[:5], sorted(base_keys - merged_keys)[:5]
            raise MergeError(f"merged keys differ from the base's: extra {extra}, missing {missing}")
        reloaded = AutoModelForImageTextToText.from_pretrained(
            tmp / "merged", dtype=dtype, local_files_only=True
        )
        if torch.cuda.is_available():
            reloaded = reloaded.to(next(model.parameters()).device)
        diff = (probe_logits(reloaded, probe) - reference).abs().max().item()
        del reloaded
        tol = TOLERANCE.get(dtype, 1e-3)
        if diff > tol:
            raise MergeError(f"merged logits differ from adapter-on-base by {diff:.3g} (tolerance {tol})")
        verification = {
            "keys_equal_base": True,
            "n_keys": len(merged_keys),
            "max_abs_logit_diff": diff,
            "tolerance": tol,
            "probe_tokens": int(probe["input_ids"].numel()),
        }
        write_json(tmp / PROVENANCE, {**provenance, "verification": verification})
    return verification
