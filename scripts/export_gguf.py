"""Convert the merged model of one size x variant to GGUF (text + mmproj + quants), checked in llama.cpp.

python scripts/export_gguf.py --size tiny --variant agent [--force] [--no-check] [export.gguf_quants=[Q8_0]]
"""

from zen_vl.cli import parser, resolve, run


def main() -> int:
    p = parser(__doc__)
    p.add_argument(
        "--force", action="store_true", help="convert again even when the GGUF files are up to date"
    )
    p.add_argument(
        "--no-check", action="store_true", help="skip the checks: llama.cpp-vs-HF logits and the task parity"
    )
    args = p.parse_args()
    cfg = resolve(args)
    from zen_vl.artifacts import GGUF_MANIFEST, require
    from zen_vl.export.gguf import export_gguf

    dest = export_gguf(cfg, force=args.force, check=not args.no_check)
    manifest = require(dest, GGUF_MANIFEST, f"make gguf SIZE={cfg.size} VARIANT={cfg.variant}")
    for name, info in manifest["files"].items():
        print(f"  {name:<48} {info['bytes'] / 2**20:8.1f} MiB")
    if manifest.get("parity"):
        print(
            f"parity vs HF ({manifest['text']}): max |d logit| {manifest['parity']['max_abs_diff']:.2e}, "
            f"same greedy continuation: {manifest['parity']['same_greedy']}"
        )
    print(f"gguf: {dest}")
    if cfg.export.task_check and not args.no_check:
        from zen_vl.evaluate.task_parity import check

        check(cfg, "gguf")  # fails naming the metric when an export falls beyond its margin
    return 0


if __name__ == "__main__":
    run(main)
