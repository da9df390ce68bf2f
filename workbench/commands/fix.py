"""``workbench fix RUN``: surgical fine-tune of the problematic layer groups."""

from __future__ import annotations

import json
from pathlib import Path

from .diagnose import _fmt, problematic_names, run_data


def choose_groups(model, data, spec: str):
    """``(groups, note)``: the named groups, or with ``"auto"`` the problematic ones."""
    from ..probes.attribution import misclassified_attribution

    if spec != "auto":
        return [g.strip() for g in spec.split(",") if g.strip()], "given"
    ds = misclassified_attribution(model, data, ig_top=0)
    names = problematic_names(ds)
    if names:
        return names, "auto: problematic on misclassified training examples"
    best = str(ds.layer.values[int(ds["log_ratio"].fillna(-1e300).argmax())])
    return [best], "auto: no split possible, took the highest log ratio"


def run(args) -> int:

    from ..record.lock import RunLock
    from ..record.store import load_checkpoint, open_run

    tree = open_run(args.run)
    model, state = load_checkpoint(args.run)
    train = run_data(args.run, train=True)
    test = run_data(args.run, train=False, size=args.test_size)
    groups, note = choose_groups(model, train, args.groups)
    print(f"groups to train: {', '.join(groups)} ({note})")
    full_steps = int(tree.attrs.get("committed_steps", tree["steps"].sizes.get("step", 0)))
    full_time = float(tree["epochs"]["wall_time"].sum()) if "epochs" in tree else None
    levels = ["layer", "parameter"] if args.level == "both" else [args.level]
    run_dir = Path(args.run)
    with RunLock(run_dir, "fix"):
        _fix_levels(args, model, state, train, test, groups, levels, full_steps, full_time,
                    run_dir)
    return 0


def _fix_levels(args, model, state, train, test, groups, levels, full_steps, full_time,
                run_dir) -> None:
    import torch

    from ..finetune.surgical import surgical_fix

    for level in levels:
        report = surgical_fix(model, train, groups=groups, test_data=test, epochs=args.epochs,
                              lr=args.lr, level=level, batch_size=args.batch_size,
                              seed=args.seed, full_train_steps=full_steps,
                              full_train_time=full_time)
        print(report)
        out = run_dir / "checkpoints" / f"fixed_{level}.pt"
        meta = {k: v for k, v in report.to_dataset().attrs.items()}
        torch.save({"model": report.model.state_dict(), "config": state["config"],
                    "epoch": state["epoch"], "step": state["step"],
                    "surgical": json.dumps(meta, default=str)}, out)
        print(f"saved the fixed model to {out} (net {report.net:+d}, compute saved "
              f"{_fmt(report.compute_saved, '.1%')})")


def register(sub) -> None:
    p = sub.add_parser("fix", help="fine-tune only the problematic layer groups",
                       description="Surgical fix: fine-tune a copy of the run's last checkpoint, "
                                   "training only some layer groups with the physics momentum "
                                   "1 - 2 sqrt(lr); report errors fixed and broken on the test "
                                   "set and the compute saved; save RUN/checkpoints/"
                                   "fixed_<level>.pt.")
    p.add_argument("run", help="run directory (holding record.zarr)")
    p.add_argument("--groups", default="auto",
                   help="'auto' (the problematic groups on misclassified training examples) "
                        "or a comma-separated list, e.g. conv1,fc2")
    p.add_argument("--level", default="layer", choices=("layer", "parameter", "both"),
                   help="train whole groups, or the same number of individual parameters "
                        "picked by gradient magnitude (both: side by side)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--test-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)
