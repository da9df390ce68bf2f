"""``workbench diagnose RUN [--compare RUN2]``: damping regimes and problematic layer groups."""

from __future__ import annotations

import numpy as np

CURVATURE_BATCH = 256


def run_data(run_dir, *, train: bool, size=None):
    """The run's own training subset or test set, as an ImageDataset.

    Read through :class:`~workbench.run.Run`: from this user's data root, never from a
    ``data_root`` the store names.
    """
    from ..data import train_subset
    from ..run import Run

    run = Run(run_dir)
    ds = run.train_data() if train else run.test_data()
    return train_subset(ds, size, seed=run.config.seed) if size else ds


def _fmt(v, spec=".3f"):
    return "nan" if v is None or (isinstance(v, float) and not np.isfinite(v)) else \
        format(v, spec)


def regime_table(tree) -> str:
    from ..diagnostics.damping import epoch_regime

    steps = tree["steps"].to_dataset()
    reg = epoch_regime(steps).compute()
    lines = ["damping regime per epoch (paper: curvature 1, critical band |zeta-1| <= 0.05)",
             f"  {'epoch':>5} {'lr':>9} {'momentum':>9} {'zeta':>7} {'regime':<12} "
             f"{'underdamped steps':>17}"]
    for e in reg.epoch.values:
        r = reg.sel(epoch=e)
        lines.append(f"  {int(e):>5} {_fmt(float(r.lr), '.5f'):>9} "
                     f"{_fmt(float(r.momentum)):>9} {_fmt(float(r.damping_ratio)):>7} "
                     f"{str(r.regime.values):<12} {_fmt(float(r.frac_underdamped), '.0%'):>17}")
    if np.isnan(reg.momentum.values).all():
        lines.append("  (no SGD momentum recorded: an Adam run has no heavy-ball regime)")
    return "\n".join(lines)


def layer_table(tree, run_dir, *, iters=20) -> str:
    """Per-layer damping (from recorded curvature, or estimated on the last checkpoint)."""
    import xarray as xr

    from ..diagnostics.damping import layer_damping, update_cos_summary

    epochs = tree["epochs"].to_dataset()
    el = tree["epochs_layers"].to_dataset() if "epochs_layers" in tree else xr.Dataset()
    if "curvature" in el:
        curv, source = el["curvature"].isel(epoch=-1), "recorded at the last epoch end"
    else:
        from ..probes.curvature import layer_curvature
        from ..record.store import load_checkpoint

        model, _ = load_checkpoint(run_dir)
        ds = run_data(run_dir, train=True, size=CURVATURE_BATCH)
        curv = layer_curvature(model, ds.images, ds.targets, iters=iters)
        source = (f"estimated now on the last checkpoint ({len(ds)} training images, "
                  f"{iters} power iterations)")
    lr = float(epochs["lr"].isel(epoch=-1)) if "lr" in epochs else float("nan")
    mu = float(epochs["momentum"].isel(epoch=-1)) if "momentum" in epochs else float("nan")
    dmp = layer_damping(curv, lr, mu).compute()
    lines = [f"per-layer damping at the last epoch (lr {_fmt(lr, '.5f')}, momentum "
             f"{_fmt(mu)}); curvature = top Hessian eigenvalue, {source}",
             f"  {'layer':<10} {'curvature':>10} {'zeta':>8} {'regime':<12} "
             f"{'update cos':>10} {'cos<0':>6}"]
    cos = None
    if "layers" in tree and "update_cos" in tree["layers"]:
        uc = tree["layers"]["update_cos"]
        if "epoch" not in uc.coords:
            uc = uc.assign_coords(epoch=tree["steps"]["epoch"])
        cos = update_cos_summary(uc).isel(epoch=-1).compute()
    for name in dmp.layer.values:
        d = dmp.sel(layer=name)
        c_mean = c_neg = float("nan")
        if cos is not None and name in cos.layer.values:
            c_mean = float(cos["mean"].sel(layer=name))
            c_neg = float(cos["frac_negative"].sel(layer=name))
        lines.append(f"  {str(name):<10} {_fmt(float(d.curvature), '.4g'):>10} "
                     f"{_fmt(float(d.damping_ratio)):>8} {str(d.regime.values):<12} "
                     f"{_fmt(c_mean):>10} {_fmt(c_neg, '.0%'):>6}")
    return "\n".join(lines)


def attribution(run_dir, *, size=None):
    from ..probes.attribution import misclassified_attribution
    from ..record.store import load_checkpoint

    model, _ = load_checkpoint(run_dir)
    return misclassified_attribution(model, run_data(run_dir, train=False, size=size),
                                     ig_top=0)


def attribution_table(ds, title) -> str:
    lines = [f"{title}: {ds.attrs['n_misclassified']} misclassified, {ds.attrs['n_correct']} "
             f"correct; split: {ds.attrs['split']} (threshold "
             f"{_fmt(float(ds.attrs['threshold']))})",
             f"  {'layer':<10} {'rms grad mis':>12} {'rms grad ok':>12} {'log ratio':>9} "
             f"{'GxA':>8} {'|GxA|':>8}  call"]
    for name in ds.layer.values:
        d = ds.sel(layer=name)
        call = "PROBLEMATIC" if bool(d.problematic) else "healthy"
        lines.append(f"  {str(name):<10} {float(d.grad_rms_misclassified):>12.3e} "
                     f"{float(d.grad_rms_correct):>12.3e} {_fmt(float(d.log_ratio)):>9} "
                     f"{float(d.attribution):>8.3f} {float(d.attribution_abs):>8.3f}  {call}")
    return "\n".join(lines)


def problematic_names(ds) -> list[str]:
    return [str(n) for n in ds.layer.values[ds["problematic"].values]]


def run(args) -> int:
    from ..probes.attribution import problematic_overlap
    from ..record.store import open_run

    tree = open_run(args.run)
    print(regime_table(tree))
    print()
    print(layer_table(tree, args.run, iters=args.iters))
    print()
    ds = attribution(args.run, size=args.size)
    print(attribution_table(ds, f"misclassified attribution ({args.run}, test set)"))
    print(f"problematic groups: {', '.join(problematic_names(ds)) or '(none)'}")
    if args.compare:
        other = attribution(args.compare, size=args.size)
        print()
        print(attribution_table(other, f"misclassified attribution ({args.compare}, test set)"))
        print(f"problematic groups: {', '.join(problematic_names(other)) or '(none)'}")
        print(f"overlap (Jaccard) of problematic groups: "
              f"{_fmt(problematic_overlap(ds, other), '.2f')}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("diagnose", help="damping regime per epoch, per-layer damping, "
                                        "problematic layer groups",
                       description="Print the run's damping regime per epoch, the per-layer "
                                   "damping at the last epoch, and the layer groups that carry "
                                   "its errors (gradient norms on misclassified test examples).")
    p.add_argument("run", help="run directory (holding record.zarr)")
    p.add_argument("--compare", default=None,
                   help="a second run (e.g. trained with Adam): report the overlap of the "
                        "problematic groups")
    p.add_argument("--size", type=int, default=None,
                   help="stratified subset of the run's test set to diagnose (default: all)")
    p.add_argument("--iters", type=int, default=20,
                   help="power iterations of the curvature estimate when not recorded")
    p.set_defaults(func=run)
