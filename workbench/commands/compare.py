"""``workbench compare RUN RUN ...``: what differs between runs."""

from __future__ import annotations

from pathlib import Path


def run(args) -> int:
    from ..compare import compare
    from ..record.text import printable

    text = compare(args.runs)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(printable(text, keep="\n") + "\n")  # no terminal escapes from a run
        print(f"report: {out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("compare", help="a report of the differences between runs",
                       description="Accuracy, steps to accuracy thresholds, damping regimes, "
                                   "problematic groups with their Jaccard overlap, DFA "
                                   "integration and metastability, side by side.")
    p.add_argument("runs", nargs="+", help="two or more run directories")
    p.add_argument("--out", default=None,
                   help="also write the report to this file (default: print it only)")
    p.set_defaults(func=run)
