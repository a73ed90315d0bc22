"""Upload one size's finetuned variants (and their GGUF / MLX exports) to the Hub with model cards.

python scripts/upload.py --size tiny [--variant agent] [--dry-run | --push] [--private]
Without a token (HF_TOKEN or `hf auth login`) this is a dry run that prints what would be uploaded;
with --push a missing token is an error instead.
"""

from zen_vl.cli import parser, run
from zen_vl.config import VARIANTS


def main() -> int:
    p = parser(__doc__, variant=False)
    p.add_argument("--variant", choices=VARIANTS, help="one variant (default: every trained one)")
    p.add_argument("--dry-run", action="store_true", help="print the plan even when a token is available")
    p.add_argument("--push", action="store_true", help="upload for real: no token is an error, not a dry run")
    p.add_argument("--private", action="store_true", help="create the repos private")
    args = p.parse_args()
    from huggingface_hub import get_token

    from zen_vl.hub.upload import upload_size

    upload_size(args.size, args.variant, args.overrides, token=get_token(), dry_run=args.dry_run,
                push=args.push, private=args.private)  # fmt: skip
    return 0


if __name__ == "__main__":
    run(main)
