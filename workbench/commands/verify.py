"""``workbench verify RUN [--trim]``: find (and optionally cut away) damaged parts of a run."""

from __future__ import annotations


def run(args) -> int:
    from ..record.integrity import verify
    from ..record.lock import RunLock
    from ..record.store import committed_epochs, trim_to_intact

    damage = verify(args.run, decode=not args.quick)
    if not damage:
        print(f"{args.run}: intact ({committed_epochs(args.run)} committed epochs; every chunk "
              f"{'present' if args.quick else 'present and passing its crc32c'}, every "
              f"checkpoint readable)")
        return 0
    print(f"{args.run}: {len(damage)} damaged part(s):")
    for d in damage:
        print(f"  {d}")
    if not args.trim:
        print(f"restore those files from a backup, or cut the run back to its last intact "
              f"epoch with: workbench verify {args.run} --trim")
        return 1
    with RunLock(args.run, "verify --trim"):
        keep = trim_to_intact(args.run)
    print(f"trimmed {args.run} to its {keep} intact epoch(s); continue it with "
          f"'workbench train --resume --out {args.run}'")
    return 0


def register(sub) -> None:
    p = sub.add_parser("verify", help="check a run for missing or corrupt files",
                       description="Check every committed chunk of RUN/record.zarr (present, "
                                   "crc32c) and every committed checkpoint; name the group, "
                                   "array, epochs and file of each damaged part. Exit 1 when "
                                   "damaged.")
    p.add_argument("run", help="run directory (holding record.zarr)")
    p.add_argument("--quick", action="store_true",
                   help="only check that the committed files exist (do not decode chunks)")
    p.add_argument("--trim", action="store_true",
                   help="cut the run back to the epochs before its first damaged one")
    p.set_defaults(func=run)
