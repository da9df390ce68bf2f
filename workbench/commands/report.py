"""``workbench report RUN``: per-epoch table and figures under RUN/report."""

from __future__ import annotations


def run(args) -> int:
    from ..report import write_report

    table, figures = write_report(args.run)
    print(table)
    print("figures:")
    for f in figures:
        print(f"  {f}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="print a per-epoch table and write figures",
                       description="Print the run's per-epoch table (loss, accuracy, wall "
                                   "time) and its damping verdicts and problematic groups "
                                   "from the stored analyses (nothing is computed), and write "
                                   "its figures (training.png: loss and accuracy; layers.png: "
                                   "per-layer dynamics) under RUN/report/.")
    p.add_argument("run", help="run directory (holding record.zarr)")
    p.set_defaults(func=run)
