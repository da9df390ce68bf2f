"""``workbench fix RUN``: surgical fine-tune of the problematic layer groups.

A thin shell over :func:`workbench.finetune.fix_run` (the Fix button of the attribution view
calls it too). ``--groups auto`` takes the groups of :func:`workbench.verdicts.chosen_groups`
from the run's ``attribution`` analysis at the last epoch (the one rule, the same answer as
``workbench diagnose``), at most ``--max-share`` of the parameters (0.4 by default: a
surgical fix trains a minority of the model). Each fixed model is kept in its own file,
``RUN/checkpoints/fixed_<level>_<UTC time>.pt``; an existing file is never replaced without
``--overwrite``.
"""

from __future__ import annotations

import json
import time

from ..usercode import add_arguments


def run(args) -> int:
    from ..diagnose import fmt
    from ..finetune.fix import choose_groups, fix_run
    from ..usercode import open_run

    for name in ("epochs", "batch_size", "test_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1; got "
                             f"{getattr(args, name)}")
    t_start = time.perf_counter()
    progress = not args.json
    run_ = open_run(args.run, model=args.model, data=args.data)
    groups, why, shares = choose_groups(run_, args.groups, progress=progress,
                                        max_share=args.max_share)
    share = sum(shares[g] for g in groups)
    plan = {"run": str(run_.path), "epoch": run_.epochs[-1], "groups": groups, "why": why,
            "param_share": {g: shares[g] for g in groups}, "param_share_total": share}
    if args.dry_run:
        print(json.dumps(plan, indent=1) if args.json else
              f"would train {', '.join(groups)} ({fmt(share, '.1%')} of the parameters; "
              f"{why})")
        return 0
    if not args.json:
        print(f"groups to train: {', '.join(groups)} ({fmt(share, '.1%')} of the parameters; "
              f"{why})")
    result = fix_run(run_, -1, groups, args.level, why=why, epochs=args.epochs, lr=args.lr,
                     batch_size=args.batch_size, seed=args.seed, test_size=args.test_size,
                     overwrite=args.overwrite, progress=progress, started=t_start)
    results = []
    for level, report in result.reports.items():
        results.append({**report.to_dataset().attrs, "file": str(result.files[level])})
        if not args.json:
            print(report)
            print(f"saved the fixed model to {result.files[level]} (net {report.net:+d}, "
                  f"compute saved {fmt(report.compute_saved, '.1%')})")
    press = {"press_time": result.press_time, "full_train_time": result.full_train_time,
             "time_saved": result.time_saved}  # the whole command against full retraining
    if args.json:
        print(json.dumps({**plan, **press, "results": results}, indent=1, default=str))
    else:
        print(result.time_line())
    return 0


def register(sub) -> None:
    from ..finetune.fix import DEFAULTS, LEVELS  # no torch: the fix's own defaults

    p = sub.add_parser("fix", help="fine-tune only the problematic layer groups",
                       description="Surgical fix: fine-tune a copy of the run's last checkpoint, "
                                   "training only some layer groups with the physics momentum "
                                   "1 - 2 sqrt(lr); report errors fixed and broken on the test "
                                   "set, the time waited (diagnosis + fine-tune) and the "
                                   "compute saved; save RUN/checkpoints/"
                                   "fixed_<level>_<UTC time>.pt.")
    p.add_argument("run", help="run directory (holding record.zarr)")
    p.add_argument("--groups", default="auto",
                   help="'auto' (the problematic groups of the attribution analysis, as "
                        "workbench diagnose reports them) or a comma-separated list, e.g. "
                        "conv1,fc2")
    p.add_argument("--max-share", type=float, default=None,
                   help="with --groups auto: the most of the parameters a fix trains, in "
                        "(0, 1]; the most surely flagged groups that fit are taken (default "
                        "0.4; 1 takes every problematic group)")
    p.add_argument("--level", default="layer", choices=LEVELS,
                   help="train whole groups, or the same number of individual parameters "
                        "picked by gradient magnitude (both: side by side)")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"],
                   help="epochs of fine-tuning over the run's training set")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                   help="learning rate of the fine-tune (its momentum is the physics one, "
                        "1 - 2 sqrt(lr))")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"],
                   help="training images per fine-tuning step")
    p.add_argument("--test-size", type=int, default=None,
                   help="count the errors fixed and broken on a seeded subset of this many "
                        "test images (default: the run's whole test set)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="seeds the fine-tune's batch order (and the --test-size subset's)")
    p.add_argument("--dry-run", action="store_true",
                   help="only print the groups it would train and their share of parameters")
    p.add_argument("--json", action="store_true",
                   help="print the plan and the results as JSON instead of text")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a fixed model saved under the same name")
    add_arguments(p)
    p.set_defaults(func=run)
