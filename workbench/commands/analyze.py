"""``workbench analyze RUN [--only NAME,...]``: per-epoch analyses into RUN/record.zarr."""

from __future__ import annotations

from ..usercode import add_arguments


def run(args) -> int:
    from ..analysis import analyze, load_all
    from ..usercode import open_run

    registry = load_all()
    if args.list:
        for a in registry.values():
            print(f"{a.name:<12} {a.description}")
        return 0
    if not args.run:
        raise ValueError("analyze needs a run directory (or --list)")
    r = open_run(args.run, model=args.model, data=args.data)
    result = analyze(r, only=args.only, client=args.scheduler)
    for name, added in result.items():
        if isinstance(added, str):
            print(f"{name:<12} skipped: {added}")
        else:
            have = r.analysed_epochs(name)
            new = ", ".join(map(str, added)) if added else "nothing new"
            print(f"{name:<12} added epochs {new}; stored epochs {have}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("analyze", help="compute per-epoch analyses (damping, dynamics, "
                                       "attribution, forces, separation, …) into the run",
                       description="For each committed, checkpointed epoch not analysed yet, "
                                   "compute each analysis and append it under "
                                   "/analysis/<name> of RUN/record.zarr. Incremental: "
                                   "run it again after more training to add the new epochs.")
    p.add_argument("run", nargs="?", help="run directory (holding record.zarr)")
    p.add_argument("--only", default=None,
                   help="comma-separated analysis names (see --list; default: every "
                        "analysis the run allows)")
    p.add_argument("--list", action="store_true", help="list the analyses and exit")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="compute on this dask.distributed scheduler (e.g. tcp://host:8786) "
                        "instead of local threads (the default)")
    add_arguments(p)
    p.set_defaults(func=run)
