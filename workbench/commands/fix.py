"""``workbench fix RUN``: surgical fine-tune of the problematic layer groups.

``--groups auto`` takes the groups of :func:`workbench.probes.attribution.chosen_groups` from
the run's ``attribution`` analysis at the last epoch (the one rule, the same answer as
``workbench diagnose``), at most ``--max-share`` of the parameters (0.4 by default: a
surgical fix trains a minority of the model). Each fixed model is kept in its own file,
``RUN/checkpoints/fixed_<level>_<UTC time>.pt``; an existing file is never replaced without
``--overwrite``.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from .diagnose import _fmt, ensure_analyses


def choose_groups(run, spec: str, *, progress=True, max_share=None):
    """``(groups, why, shares)``: the named groups, or with ``"auto"`` the rule's choice
    (:func:`~workbench.probes.attribution.chosen_groups`, at most ``max_share`` of the
    parameters; default its :data:`~workbench.probes.attribution.SURGICAL_SHARE`).

    ``shares`` maps every group of the model to its share of the parameters.
    """
    from ..models import group_shares
    from ..probes.attribution import SURGICAL_SHARE, chosen_groups

    shares = group_shares(run.model(-1))
    if spec != "auto":
        groups = [g.strip() for g in spec.split(",") if g.strip()]
        unknown = [g for g in groups if g not in shares]
        if unknown:
            raise ValueError(f"unknown layer group {unknown[0]!r}; this model's groups are: "
                             f"{', '.join(shares)}")
        return groups, "given", shares
    last = run.epochs[-1]
    ensure_analyses(run, ("attribution",), epochs=[last], progress=progress)
    ds = run.analysis("attribution").sel(epoch=last).compute()
    groups, why = chosen_groups(ds, max_share=SURGICAL_SHARE if max_share is None else max_share)
    return groups, f"auto ({why}; attribution analysis, epoch {last})", shares


def fixed_path(run_dir, level: str, stamp: str, *, overwrite: bool) -> Path:
    """``RUN/checkpoints/fixed_<level>_<stamp>.pt``; refuses an existing file."""
    out = Path(run_dir) / "checkpoints" / f"fixed_{level}_{stamp}.pt"
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (a previous fix); pass --overwrite to replace it")
    return out


def run(args) -> int:
    import torch
    from tqdm.auto import tqdm

    from ..data import train_subset
    from ..finetune.surgical import surgical_fix
    from ..record.lock import RunLock
    from ..record.safe import atomic_write
    from ..run import Run

    for name in ("epochs", "batch_size", "test_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1; got "
                             f"{getattr(args, name)}")
    t_start = time.perf_counter()
    progress = not args.json
    run_ = Run(args.run)
    groups, why, shares = choose_groups(run_, args.groups, progress=progress,
                                        max_share=args.max_share)
    share = sum(shares[g] for g in groups)
    plan = {"run": str(run_.path), "epoch": run_.epochs[-1], "groups": groups, "why": why,
            "param_share": {g: shares[g] for g in groups}, "param_share_total": share}
    if args.dry_run:
        print(json.dumps(plan, indent=1) if args.json else
              f"would train {', '.join(groups)} ({_fmt(share, '.1%')} of the parameters; "
              f"{why})")
        return 0
    if not args.json:
        print(f"groups to train: {', '.join(groups)} ({_fmt(share, '.1%')} of the parameters; "
              f"{why})")
    with tqdm(total=3, desc="loading model and data", disable=not progress,
              leave=False) as bar:
        model = run_.model(-1)
        state = run_.checkpoint(-1)
        bar.update()
        train = run_.train_data()
        bar.update()
        test = run_.test_data()
        if args.test_size is not None:
            test = train_subset(test, args.test_size, seed=run_.config.seed)
        bar.update()
    tree = run_.tree
    full_steps = int(tree.attrs.get("committed_steps", tree["steps"].sizes.get("step", 0)))
    full_time = float(tree["epochs"]["wall_time"].sum()) if "epochs" in tree else None
    diagnosis_time = time.perf_counter() - t_start
    levels = ["layer", "parameter"] if args.level == "both" else [args.level]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    outs = {lv: fixed_path(run_.path, lv, stamp, overwrite=args.overwrite) for lv in levels}
    results = []
    with RunLock(run_.path, "fix"):  # one writer: no train/analyze meanwhile
        for level in levels:
            report = surgical_fix(model, train, groups=groups, test_data=test, epochs=args.epochs,
                                  lr=args.lr, level=level, batch_size=args.batch_size,
                                  seed=args.seed, full_train_steps=full_steps,
                                  full_train_time=full_time, progress=progress)
            report.diagnosis_time = diagnosis_time
            meta = dict(report.to_dataset().attrs)
            with atomic_write(run_.path, outs[level]) as tmp:  # never through a link
                torch.save({"model": report.model.state_dict(), "config": state["config"],
                            "epoch": state["epoch"], "step": state["step"],
                            "surgical": json.dumps(meta, default=str)}, tmp)
            results.append({**meta, "file": str(outs[level])})
            if not args.json:
                print(report)
                print(f"saved the fixed model to {outs[level]} (net {report.net:+d}, compute saved "
                      f"{_fmt(report.compute_saved, '.1%')})")
    if args.json:
        print(json.dumps({**plan, "results": results}, indent=1, default=str))
    return 0


def register(sub) -> None:
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
    p.add_argument("--level", default="layer", choices=("layer", "parameter", "both"),
                   help="train whole groups, or the same number of individual parameters "
                        "picked by gradient magnitude (both: side by side)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--test-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true",
                   help="only print the groups it would train and their share of parameters")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a fixed model saved under the same name")
    p.set_defaults(func=run)
