"""``workbench report``: a per-epoch table and the standard figures of a run."""

from __future__ import annotations

from pathlib import Path

from .record.layout import REPORT
from .record.safe import atomic_write
from .record.store import signals
from .run import Run


def epoch_table(tree) -> str:
    """The /epochs group as a text table (lr and momentum: see the damping verdict table)."""
    df = tree["epochs"].to_dataset().to_dataframe()
    cols = [c for c in ("train_loss", "train_acc", "test_loss", "test_acc", "wall_time")
            if c in df]
    return df[cols].to_string(float_format=lambda v: f"{v:.4f}")


def verdict_text(run) -> str:
    """The run's verdicts as ``workbench diagnose`` prints them, from the stored analyses.

    ``run`` is a :class:`~workbench.run.Run` or its directory. Nothing is computed: the
    damping regime from the measured curvature comes first (or the command that computes
    it), then the paper's convention, then the problematic groups (or the command).
    """
    from .diagnose import damping_table, group_table, layer_table, network_table, verdicts

    run = run if isinstance(run, Run) else Run(run)
    v = verdicts(run, compute=False)
    parts = [damping_table(v)]
    if v["damping"]["layers"]:
        parts.append(layer_table(v))
    parts.append(network_table(v))
    if v["groups"] is None:
        parts.append("problematic groups: not analysed yet: run 'workbench analyze "
                     f"{run.path}' or 'workbench diagnose {run.path}'")
    else:
        parts.append(group_table(v, "problematic groups"))
    return "\n\n".join(parts)


def write_report(run_dir) -> tuple[str, list[Path]]:
    """Print-ready table and figures (PNG) under ``run_dir/report``.

    Each figure is written to a temporary file inside the run, then renamed into place; a
    symbolic link in the way (``report/training.png -> ~/notes.txt``) is refused, naming it.
    ``run_dir`` is a run directory or a :class:`~workbench.run.Run`.
    """
    run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
    out = run.path / REPORT
    from . import plots

    with plots.style.context():  # the workbench's one look (colour-blind-safe palette)
        figures = [_save(fig, run.path, out / f"{name}.png")
                   for name, fig in report_figures(run).items()]
    return epoch_table(run.tree) + "\n\n" + verdict_text(run), figures


def report_figures(run) -> dict:
    """name → ``Figure`` of the report: ``training`` and ``layers``, and ``distributions``
    (α across layers, bootstrap flag frequencies) when the run holds the ``spectra`` or
    ``attribution`` analysis. Build them inside :func:`workbench.plots.style.context`."""
    from matplotlib.figure import Figure  # no pyplot: leaves a notebook's backend alone

    from . import plots

    tree, cfg = run.tree, run.config
    layers = tree["layers"].to_dataset()
    steps = tree["steps"].to_dataset()
    out = {}

    fig = out["training"] = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 2)
    plots.lines(steps["loss"], x="step", ax=axes[0], smooth=9)
    plots.accuracy_curves(tree["epochs"].to_dataset(), ax=axes[1])
    fig.suptitle(f"{cfg.model} on {cfg.data}: {cfg.optimizer}, momentum {cfg.momentum}")
    fig.tight_layout()

    fig = out["layers"] = Figure(figsize=(11, 7))
    axes = fig.subplots(2, 2)
    plots.lines(layers["grad_norm"], x="step", hue="layer", ax=axes[0, 0], logy=True,
                smooth=9)
    plots.lines(layers["update_norm"], x="step", hue="layer", ax=axes[0, 1], logy=True,
                smooth=9)
    plots.lines(layers["update_cos"], x="step", hue="layer", ax=axes[1, 0], smooth=25)
    axes[1, 0].axhline(0, color="k", lw=0.5)
    plots.lines(signals(tree), x="step", hue="layer", ax=axes[1, 1])
    fig.suptitle("per-layer dynamics (rolling means)")
    fig.tight_layout()

    spectra, attribution = run.analysis("spectra"), run.analysis("attribution")
    if spectra is not None or attribution is not None:
        fig = out["distributions"] = Figure(figsize=(11, 3.8))
        ax_a, ax_f = fig.subplots(1, 2)
        plots.distributions.alpha_by_layer(spectra, ax=ax_a)
        plots.distributions.flag_frequencies(attribution, ax=ax_f)
        fig.tight_layout()
    return out


def _save(fig, run_dir, path: Path) -> Path:
    with atomic_write(run_dir, path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path
