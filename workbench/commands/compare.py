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
    if args.figure:
        from ..compare import compare_figure

        fig = Path(args.figure)
        fig.parent.mkdir(parents=True, exist_ok=True)
        compare_figure(args.runs, fig)
        print(f"figure: {fig}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("compare", help="a report of the differences between runs",
                       description="A Markdown report: accuracy, steps to accuracy "
                                   "thresholds, damping regimes from the measured curvature, "
                                   "problematic groups with their Jaccard overlap, DFA "
                                   "integration and metastability, side by side.")
    p.add_argument("runs", nargs="+", help="two or more run directories")
    p.add_argument("--out", default=None,
                   help="also write the report to this file (default: print it only)")
    p.add_argument("--figure", default=None,
                   help="also write test accuracy and training loss over epochs to this PNG: "
                        "one line per run name, runs of the same name over seeds drawn as "
                        "their mean with a min-to-max band (default: no figure)")
    p.set_defaults(func=run)
