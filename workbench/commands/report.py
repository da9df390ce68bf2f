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
    p = sub.add_parser("report", help="print a per-epoch table and write figures")
    p.add_argument("run", help="run directory (holding record.zarr)")
    p.set_defaults(func=run)
