"""``workbench diagnose RUN [--compare RUN2] [--json]``: the run's verdicts.

A thin shell over :mod:`workbench.diagnose` (the verdicts as data and tables): the damping
answer is :func:`workbench.diagnostics.damping.measured_verdict`, the problematic groups are
:func:`workbench.verdicts.problematic` of the run's ``attribution`` analysis and the overlap
is :func:`workbench.verdicts.overlap` (the missing epochs are computed first, with a
progress bar, and stored).
"""

from __future__ import annotations

import json

from ..usercode import add_arguments


def run(args) -> int:
    from ..diagnose import (
        compare_verdicts,
        damping_table,
        group_table,
        layer_table,
        network_table,
        overlap_line,
        verdicts,
    )
    from ..usercode import open_run

    progress = not args.json
    v = verdicts(open_run(args.run, model=args.model, data=args.data), progress=progress)
    other = verdicts(open_run(args.compare, model=args.model, data=args.data),
                     progress=progress) if args.compare else None
    if other is not None:
        v["compare"] = compare_verdicts(v, other)
    if args.json:
        print(json.dumps(v, indent=1))
        return 0
    print(damping_table(v))
    print()
    print(layer_table(v))
    print()
    print(network_table(v))
    print()
    print(group_table(v, f"problematic groups of {args.run}"))
    if other is not None:
        print()
        print(group_table(other, f"problematic groups of {args.compare}"))
        print(overlap_line(v))
    return 0


def register(sub) -> None:
    p = sub.add_parser("diagnose", help="damping verdicts and problematic layer groups",
                       description="Print the run's damping regime from the measured "
                                   "curvature (per epoch: its stiffest group; per (epoch, "
                                   "layer), with the update cosine against its expected "
                                   "value), then the paper's convention (curvature 1), and its "
                                   "problematic layer groups with their bootstrap flag "
                                   "frequencies. Reads the run's damping and attribution "
                                   "analyses, computing (and storing) missing epochs first.")
    p.add_argument("run", help="run directory (holding record.zarr)")
    p.add_argument("--compare", default=None,
                   help="a second run (e.g. trained with Adam): report the overlap of the "
                        "problematic groups (undefined when neither run has one); default: "
                        "no comparison")
    p.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    add_arguments(p)
    p.set_defaults(func=run)
