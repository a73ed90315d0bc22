"""Upload one size's finetuned variants (and their GGUF / MLX exports) to the Hub with model cards.

python scripts/upload.py --size tiny [--variant agent] [--dry-run | --push] [--private]
Without a token (HF_TOKEN or `hf auth login`) this is a dry run that prints what would be uploaded;
with --push a missing token is an error instead.
"""

from zen_vl.cli import parser, run
from zen_vl.config import VARIANTS, load_config


def main() -> int:
    p = parser(__doc__, variant=False)
    p.add_argument("--variant", choices=VARIANTS, help="one variant (default: every trained one)")
    p.add_argument("--dry-run", action="store_true", help="print the plan even when a token is available")
    p.add_argument("--push", action="store_true", help="upload for real: no token is an error, not a dry run")
    p.add_argument("--private", action="store_true", help="create the repos private")
    args = p.parse_args()
    from zen_vl.errors import ZenError

    if args.push and args.dry_run:
        raise ZenError("--push and --dry-run contradict each other: choose one")
    from huggingface_hub import get_token

    from zen_vl.hub.upload import plan, upload
    from zen_vl.paths import Layout

    layout = Layout.default()
    variants = (
        [args.variant]
        if args.variant
        else [v for v in VARIANTS if (layout.finetuned(v, args.size) / "provenance.json").is_file()]
    )
    if not variants:
        raise ZenError(
            f"nothing to upload for SIZE={args.size}: train a variant first (make train-agent SIZE={args.size})"
        )
    repos = [r for v in variants for r in plan(load_config(args.size, v, args.overrides), layout)]
    token = get_token()
    if args.push and token is None:
        raise ZenError(
            f"a real upload of SIZE={args.size} needs a Hub token: set HF_TOKEN or run `hf auth login` "
            "(without PUSH=1, make upload is a dry run)"
        )
    dry = args.dry_run or token is None
    print(
        (
            "dry run (no token: set HF_TOKEN or run `hf auth login` to upload)"
            if token is None and not args.dry_run
            else "dry run"
            if dry
            else "uploading"
        )
        + f": {len(repos)} repo(s)"
    )
    for repo in repos:
        print("\n".join(repo.lines()))
    if not dry:
        from zen_vl.atomic import write_json

        urls = upload(repos, token=token, private=args.private)
        for url in urls:
            print(f"committed: {url}")
        # make all's stamp: only a real upload writes it (a dry run is redone next time).
        record = {
            "size": args.size,
            "variants": variants,
            "repos": [r.repo_id for r in repos],
            "commits": urls,
        }
        write_json(layout.upload_record(args.size), record)
    return 0


if __name__ == "__main__":
    run(main)
