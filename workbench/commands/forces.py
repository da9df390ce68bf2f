"""``workbench forces RUN --sample N``: which training examples pull a test sample where."""

from __future__ import annotations

from pathlib import Path

from ..usercode import add_arguments


def compute(run_dir, *, sample: int, top: int = 5, pool: int = 1000, seed: int = 0):
    """The forces on test sample ``sample`` of a recorded run, and what they were built from.

    Returns ``(pulls, info)``: ``pulls`` is :func:`workbench.probes.forces.forces`'s
    DataArray (epoch, sample_u, label) over the run's checkpoints; the candidates are
    ``pool`` training examples of the run (seeded choice in :meth:`Run.train_data`), with
    the labels the run trained on (noisy ones included); η is each epoch's learning rate as
    its steps used it (:func:`workbench.diagnostics.damping.epoch_lr_momentum`, the one
    per-epoch summary; ``info["lr"]``: the last epoch's).
    """
    import numpy as np

    from ..data import load_dataset
    from ..diagnostics.damping import epoch_lr_momentum
    from ..probes.forces import forces
    from ..run import Run

    run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
    epochs = run.epochs
    if not epochs:
        raise FileNotFoundError(f"no committed checkpoints in {run.path / 'checkpoints'}")
    cfg = run.config
    test = run.test_data() if run.source == "watch" else \
        load_dataset(cfg.data, train=False, root=run._root(), download=False)
    if not 0 <= sample < len(test):
        raise ValueError(f"--sample must be a test-set index in 0..{len(test) - 1}; got {sample}")
    train = run.train_data()
    rng = np.random.default_rng(seed)
    pos = np.sort(rng.choice(len(train), size=min(pool, len(train)), replace=False))
    cand = np.asarray(train.indices)[pos]
    x_o = test.images[sample:sample + 1]
    eta = epoch_lr_momentum(run.tree["steps"])["lr"]
    pulls = forces(run.model, x_o, train.images[pos], train.targets[pos].numpy(),
                   lr=lambda e: float(eta.sel(epoch=e)), top_k=top, epochs=epochs,
                   sample_u=cand)
    pulls = pulls.assign_coords(flipped=("sample_u", np.isin(pulls.sample_u.values,
                                                             run.flipped)))
    info = {"classes": list(run.classes), "target": int(test.targets[sample]),
            "lr": float(eta.sel(epoch=epochs[-1])), "pool": int(cand.size),
            "source": "computed"}
    return pulls, info


def stored(run_dir, *, sample: int, top: int = 5):
    """``(pulls, info)`` as :func:`compute` gives, from ``/analysis/forces``; None if absent.

    Available when ``workbench analyze`` computed the ``forces`` analysis and ``sample`` is
    one of its observed samples; the candidates are then its update examples and η the
    epoch's learning rate (the last epoch's in ``info``).
    """
    import numpy as np
    import xarray as xr

    from ..run import Run

    run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
    ds = run.analysis("forces")
    if ds is None or sample not in set(ds.sample_o.values.tolist()):
        return None
    p = ds.pull.sel(sample_o=sample, drop=True).load()
    strength = np.linalg.norm(p.values, axis=-1).sum(0)
    order = np.argsort(-strength, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    keep = order if top is None else order[:top]
    pulls = xr.DataArray(
        p.values[:, keep], dims=("epoch", "sample_u", "label"),
        coords={"epoch": p.epoch.values, "sample_u": p.sample_u.values[keep],
                "label": p.label.values, "label_u": ("sample_u", ds.label_u.values[keep]),
                "rank": ("sample_u", rank[keep]),
                "flipped": ("sample_u", ds.flipped.values[keep].astype(bool))},
        name="pull", attrs=p.attrs)
    info = {"classes": list(run.classes), "target": int(ds.target.sel(sample_o=sample)),
            "lr": float(ds.lr.isel(epoch=-1)), "pool": int(ds.sizes["sample_u"]),
            "source": "/analysis/forces"}
    return pulls, info


def table(pulls, info, sample: int) -> str:
    """Top pulls at the last recorded epoch, one line per update example."""
    import numpy as np

    classes, target = info["classes"], info["target"]
    last = pulls.isel(epoch=-1)
    lines = [f"forces on test sample {sample} (label: {classes[target]}) at epoch "
             f"{int(last.epoch)}; eta = {info['lr']:g}; top {pulls.sizes['sample_u']} of "
             f"{info['pool']} training examples by pull summed over epochs",
             "pull: the one-step change of log π(class) the example causes (nats); the "
             "strongest class is the one it pulls hardest (largest |pull|)",
             f"{'rank':>4} {'train idx':>9} {'label':<12} {'noisy':<5} "
             f"{'pull on ' + classes[target][:12]:>20}   {'strongest class':<16} "
             f"{'its pull':>10}"]
    for u in range(pulls.sizes["sample_u"]):
        row = last.isel(sample_u=u)
        c = int(np.abs(row.values).argmax())
        lines.append(f"{int(row['rank']):>4} {int(row.sample_u):>9} "
                     f"{classes[int(row.label_u)][:12]:<12} "
                     f"{'yes' if bool(row.flipped) else 'no':<5} "
                     f"{pull_text(float(row.sel(label=target))):>20}   "
                     f"{classes[c][:16]:<16} {pull_text(float(row.sel(label=c))):>10}")
    return "\n".join(lines)


def pull_text(v: float) -> str:
    """A pull as the table prints it: signed, three significant digits, the same format in
    every column (``-0.19`` and ``72`` read side by side as ``-0.190`` and ``+72.0``).

    Examples
    --------
    >>> pull_text(-0.19), pull_text(72.04), pull_text(3.1e-5)
    ('-0.190', '+72.0', '+3.10e-05')
    """
    return f"{v:+#.3g}"


def figure(pulls, info, out, *, run_dir=None) -> Path:
    """Pull on the sample's own label over epochs, one line per top update example."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from ..plots import style

    classes, target = info["classes"], info["target"]
    with style.context():
        fig = _figure(pulls, classes, target, plt, MaxNLocator)
        out = Path(out)
        from ..record.safe import atomic_write  # inside the run: never through a link

        with atomic_write(run_dir or out.parent, out) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return out


def _figure(pulls, classes, target, plt, MaxNLocator):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for u in range(pulls.sizes["sample_u"]):
        p = pulls.isel(sample_u=u)
        style = "--" if bool(p.flipped) else "-"
        ax1.plot(pulls.epoch, p.sel(label=target), style,
                 label=f"#{int(p.sample_u)} ({classes[int(p.label_u)]})")
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set_xlabel("epoch")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax1.set_ylabel(f"pull on log π({classes[target]}) [nat]")
    ax1.set_title("pull of each top update example (dashed: noisy label)", fontsize="medium")
    ax1.legend(fontsize=7, loc="best")
    last = pulls.isel(epoch=-1).sum("sample_u")
    ax2.bar(range(len(classes)), last.values,
            color=["C3" if c == target else "C0" for c in range(len(classes))])
    ax2.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=7)
    ax2.set_ylabel("summed pull [nat]")
    ax2.set_title(f"top examples' total pull per class, epoch {int(last.epoch)}",
                  fontsize="medium")
    fig.tight_layout()
    return fig


def run(args) -> int:
    for name in ("top", "pool"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1; got {getattr(args, name)}")
    from ..usercode import open_run

    run_ = open_run(args.run, model=args.model, data=args.data)
    found = None if args.recompute else stored(run_, sample=args.sample, top=args.top)
    pulls, info = found or compute(run_, sample=args.sample, top=args.top, pool=args.pool)
    print(f"source: {info['source']}")
    print(table(pulls, info, args.sample))
    out = args.out or Path(args.run) / "report" / f"forces_sample{args.sample}.png"
    print(f"figure: {figure(pulls, info, out, run_dir=None if args.out else args.run)}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("forces", help="top training examples pulling on a test sample, per "
                                      "epoch (AKG decomposition)",
                       description="Which training examples pulled a test sample's "
                                   "prediction where, epoch by epoch: the AKG decomposition "
                                   "of each update example's pull on log pi(class | sample), "
                                   "read from /analysis/forces when it holds the sample, else "
                                   "scored over --pool candidates on the run's checkpoints. "
                                   "Prints the top pulls at the last epoch and writes a "
                                   "figure.")
    p.add_argument("run", help="run directory (holding record.zarr and checkpoints/)")
    p.add_argument("--sample", type=int, required=True, help="test-set index of the sample")
    p.add_argument("--top", type=int, default=5, help="how many update examples (default 5)")
    p.add_argument("--pool", type=int, default=1000,
                   help="candidate training examples scored (seeded choice; default 1000)")
    p.add_argument("--out", default=None,
                   help="figure path (default: RUN/report/forces_sample<N>.png)")
    p.add_argument("--recompute", action="store_true",
                   help="score --pool candidates even when /analysis/forces holds the sample")
    add_arguments(p)
    p.set_defaults(func=run)
