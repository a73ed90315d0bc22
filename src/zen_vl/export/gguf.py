"""`make gguf`: the merged model → text GGUF + vision mmproj GGUF + quantized types, with llama.cpp's
own converter and quantizer, into gguf/zen-vl-<size>-<variant>/ (atomically; manifest last).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from zen_vl.artifacts import (
    GGUF_MANIFEST,
    PROVENANCE,
    cpu_name,
    current,
    file_hash,
    fingerprint,
    require_finetuned,
)
from zen_vl.atomic import building, write_json
from zen_vl.config import ZenConfig
from zen_vl.errors import ZenError
from zen_vl.export.llama_cpp import LlamaCpp, ensure_llama_cpp
from zen_vl.paths import Layout


def gguf_name(cfg: ZenConfig, kind: str) -> str:
    return f"zen-vl-{cfg.size}-{cfg.variant}-{kind}.gguf"


def mmproj_name(cfg: ZenConfig) -> str:
    return f"mmproj-zen-vl-{cfg.size}-{cfg.variant}-{cfg.export.gguf_outtype.upper()}.gguf"


def source_fingerprint(merged: Path, cfg: ZenConfig, commit: str) -> str:
    """What a GGUF folder is made from: the finetuned model (its provenance), the export settings and
    the llama.cpp build."""
    key = {
        "source": file_hash(merged.parent / PROVENANCE),
        "outtype": cfg.export.gguf_outtype,
        "quants": cfg.export.gguf_quants,
        "llama.cpp": commit,
    }
    return fingerprint(key)


def _run(cmd: list, *, env=None, what: str) -> str:
    run = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise ZenError(f"{what} failed (exit {run.returncode}):\n{(run.stderr or run.stdout)[-3000:]}")
    return run.stdout + run.stderr


def convert(llama: LlamaCpp, merged: Path, outs: dict[str, Path], outtype: str) -> dict[str, Path]:
    """llama.cpp's converter for the text model (`outs["text"]`) and the vision projector
    (`outs["mmproj"]`, `--mmproj`), both at once (one process each, in its own scratch folder).
    Returns the files written, renamed to `outs`."""
    procs = {}
    for kind, out in outs.items():
        scratch = out.parent / f".convert-{kind}"
        scratch.mkdir()
        cmd = [sys.executable, llama.converter, merged, "--outfile", scratch / out.name, "--outtype", outtype]
        cmd += ["--mmproj"] if kind == "mmproj" else []
        procs[kind] = (scratch, subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True, env=llama.env()))  # fmt: skip
    for kind, (scratch, proc) in procs.items():
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            raise ZenError(
                f"convert_hf_to_gguf.py{' --mmproj' if kind == 'mmproj' else ''} on {merged} failed "
                f"(exit {proc.returncode}):\n{(stderr or stdout)[-3000:]}"
            )
        written = sorted(scratch.glob("*.gguf"))  # the converter prefixes mmproj- on its own naming
        if len(written) != 1:
            raise ZenError(f"convert_hf_to_gguf.py wrote {len(written)} files into {scratch}, expected 1")
        written[0].rename(outs[kind])
        scratch.rmdir()
    return outs


def quantize(llama: LlamaCpp, src: Path, dest: Path, qtype: str) -> list[str]:
    """llama-quantize; returns the tensors that fell back to another type (tiny widths), named."""
    log = _run([llama.quantize, src, dest, qtype], what=f"llama-quantize {qtype}")
    return [line.strip() for line in log.splitlines() if re.search(r"fall(ing)? ?back", line, re.IGNORECASE)]


def served_template(llama: LlamaCpp, text: Path, merged: Path) -> dict:
    """Does llama-server's template engine render the GGUF's embedded template as transformers does?"""
    from transformers import AutoTokenizer

    from zen_vl.export.llama_server import serve, template_parity

    tokenizer = AutoTokenizer.from_pretrained(merged)
    with serve(llama, text) as url:
        return {"engine": "llama-server --jinja", **template_parity(url, tokenizer)}


def export_gguf(
    cfg: ZenConfig,
    layout: Layout | None = None,
    *,
    force: bool = False,
    check: bool = True,
    progress: bool = True,
) -> Path:
    """Convert, quantize and (with `check`) verify against the HF model in llama.cpp itself; the folder
    appears only when all of it succeeded."""
    layout = layout or Layout.default()
    merged = layout.finetuned(cfg.variant, cfg.size) / "merged"
    require_finetuned(merged.parent, cfg.size, cfg.variant)
    llama = ensure_llama_cpp(progress=progress)
    dest = layout.gguf(cfg.variant, cfg.size)
    fp = source_fingerprint(merged, cfg, llama.commit())
    if current(dest, GGUF_MANIFEST, fp) and not force:
        if progress:
            print(f"gguf: up to date ({dest})")
        return dest
    start = time.perf_counter()
    outtype = cfg.export.gguf_outtype
    with building(dest, replace=True) as tmp:
        outs = {"text": tmp / gguf_name(cfg, outtype.upper()), "mmproj": tmp / mmproj_name(cfg)}
        text, proj = convert(llama, merged, outs, outtype).values()
        if progress:
            print(f"gguf: {text.name}\ngguf: {proj.name}")
        quants, fallbacks = {}, {}
        for qtype in cfg.export.gguf_quants:
            out = tmp / gguf_name(cfg, qtype)
            fell = quantize(llama, text, out, qtype)
            quants[qtype] = out.name
            if fell:
                fallbacks[qtype] = fell
                print(f"gguf: {qtype}: {len(fell)} tensor(s) fell back to another type, e.g. {fell[0]}")
            if progress:
                print(f"gguf: {out.name}")
        parity = template = None
        if check:
            from zen_vl.export.gguf_check import logit_parity

            parity = logit_parity(llama, text, merged)
            if progress:
                print(
                    f"gguf: parity vs HF: max |d logit| {parity['max_abs_diff']:.2e}, "
                    f"same greedy continuation: {parity['same_greedy']}"
                )
            if not parity["same_greedy"]:
                raise ZenError(
                    f"{text.name} disagrees with {merged} in llama.cpp: {json.dumps(parity['prompts'])}"
                )
            template = served_template(llama, text, merged)
            if progress or not template["same"]:
                print(
                    f"gguf: llama-server --jinja renders the embedded template as transformers does: "
                    f"{template['same']} ({', '.join(template['checked'])})"
                    + ("" if template["same"] else f"; differs: {json.dumps(template['differ'])}")
                )
        files = {p.name: {"bytes": p.stat().st_size} for p in sorted(tmp.glob("*.gguf"))}
        write_json(
            tmp / GGUF_MANIFEST,
            {
                "fingerprint": fp,
                "source": str(merged),
                "llama.cpp": {
                    "package": "llama-cpp-python",
                    "commit": llama.commit(),
                    "root": str(llama.root),
                },
                "text": text.name,
                "mmproj": proj.name,
                "quants": quants,
                "fallbacks": fallbacks,
                "parity": parity,
                "template": template,
                "files": files,
                "seconds": round(time.perf_counter() - start, 1),
                "hardware": cpu_name(),  # where the conversion and the parity check ran
            },
        )
    return dest
