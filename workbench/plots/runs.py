"""Several runs over epochs from a tidy frame (seaborn): one line per run, the seeds' spread as
a band. Used by ``workbench compare --figure`` and the presets' ``comparison.png``."""

from __future__ import annotations

from .base import axes_or_new, integer_ticks

#: The seeds' band: the full range (min to max) over the seeds of a run.
BAND = ("pi", 100)


def over_seeds(frame, y: str, *, x: str = "epoch", hue: str = "run", ax=None, label=None):
    """``y`` against ``x``, one line per ``hue``: the mean over seeds, the min–max band.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy: one row per (run, seed, x), as :func:`workbench.compare.tidy` gives
        (``Run.to_dataframe`` of each run, with ``run`` and ``seed`` columns).
    y, x, hue : str
        Columns.
    ax : Axes, optional
    label : str, optional
        The y-axis label (default ``y`` with spaces).

    Returns
    -------
    Axes
        The title says how many seeds each line averages (a single seed has no band).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"run": ["a"] * 4, "seed": [0, 0, 1, 1], "epoch": [0, 1, 0, 1],
    ...                    "test_acc": [0.5, 0.7, 0.6, 0.8]})
    >>> ax = over_seeds(df, "test_acc")
    >>> [round(float(v), 2) for v in ax.lines[0].get_ydata()]
    [0.55, 0.75]
    """
    import seaborn as sns

    ax = axes_or_new(ax)
    sns.lineplot(data=frame, x=x, y=y, hue=hue, estimator="mean", errorbar=BAND,
                 marker="o", ax=ax)
    seeds = frame.groupby(hue)["seed"].nunique() if "seed" in frame else None
    if seeds is not None and seeds.max() > 1:
        ax.set_title("mean over seeds, band: min to max ("
                     + ", ".join(f"{k} {v}" for k, v in seeds.items()) + " seeds)",
                     fontsize="small")
    else:
        ax.set_title("one seed per run: no band", fontsize="small")
    ax.set_ylabel(label or y.replace("_", " "))
    if x == "epoch":
        ax.xaxis.set_major_locator(integer_ticks())
    return ax


__all__ = ["over_seeds", "BAND"]
