"""Print where every artifact of one size is, what each stage took, and the eval table.

python scripts/summary.py --size tiny
"""

from zen_vl.cli import parser, run


def main() -> int:
    args = parser(__doc__, variant=False).parse_args()
    from zen_vl.summary import summary

    print(summary(args.size))
    return 0


if __name__ == "__main__":
    run(main)
