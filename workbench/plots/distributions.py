"""Distributions where one number hides the spread (report figures, drawn with seaborn):
α of every layer across epochs, and each group's bootstrap flag frequency across epochs."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .base import as_texts, axes_or_new


def _missing(ax, what: str):
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center",
            fontsize="small", wrap=True)
    ax.set_axis_off()
    return ax


def alpha_by_layer(spectra: xr.Dataset | None, *, ax=None):
    """α of each layer as a box over its epochs with every epoch a point; a fit from a tail
    too short (:func:`workbench.diagnostics.powerlaw.tail_too_short`) drawn hollow.

    Parameters
    ----------
    spectra : Dataset (epoch, layer) or None
        ``run.analysis("spectra")``: ``alpha``, ``n_tail``. None writes what to run.
    ax : Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> ds = xr.Dataset({"alpha": (("epoch", "layer"), [[3.0, 6.3], [3.2, 5.9]]),
    ...                  "n_tail": (("epoch", "layer"), [[40, 7], [38, 12]])},
    ...                 coords={"epoch": [0, 1], "layer": ["fc1", "fc2"]})
    >>> ax = alpha_by_layer(ds)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['fit of one epoch', 'tail too short (< 10 eigenvalues)']
    """
    import seaborn as sns
    from matplotlib.lines import Line2D

    from ..diagnostics.powerlaw import MIN_RELIABLE_TAIL
    from .spectra import SHORT_TAIL, short_tail

    ax = axes_or_new(ax)
    if spectra is None or "alpha" not in spectra:
        return _missing(ax, "α across layers: no spectra analysis "
                            "(workbench analyze RUN --only spectra)")
    d = spectra[["alpha", "n_tail"]].transpose("epoch", "layer")
    layers = as_texts(d["layer"].values)
    alpha = np.asarray(d["alpha"].values, dtype=float)
    short = np.vectorize(short_tail, otypes=[bool])(np.asarray(d["n_tail"].values, float))
    x = np.broadcast_to(np.arange(len(layers)), alpha.shape)
    with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 a deprecated arg
        warnings.filterwarnings("ignore", message="vert: bool was deprecated")
        sns.boxplot(x=np.asarray(layers)[x.ravel()], y=alpha.ravel(), order=layers, ax=ax,
                    color="C0", fill=False, width=0.5, showfliers=False, linewidth=1)
    jitter = np.linspace(-0.12, 0.12, alpha.shape[0])[:, None] if alpha.shape[0] > 1 else 0.0
    xs = x + jitter
    ok = ~short & np.isfinite(alpha)
    ax.plot(xs[ok], alpha[ok], "o", color="C0", ms=4, ls="")
    handles = [Line2D([], [], ls="", marker="o", color="C0", ms=4)]
    labels = ["fit of one epoch"]
    if short.any():
        ax.plot(xs[short], alpha[short], "o", mfc="white", mec="C3", mew=1.2, ms=5, ls="")
        handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec="C3", mew=1.2))
        labels.append(f"{SHORT_TAIL} (< {MIN_RELIABLE_TAIL} eigenvalues)")
    ax.legend(handles, labels, fontsize="x-small", loc="best")
    ax.set_xlabel("layer")
    ax.set_ylabel("power-law exponent α")
    ax.set_title(f"α across layers, {alpha.shape[0]} epochs", fontsize="medium")
    return ax


def flag_frequencies(attribution: xr.Dataset | None, *, ax=None):
    """Each group's bootstrap flag frequency at every epoch (one point per epoch, coloured
    by that epoch's verdict), with the bounds of a confident call.

    Parameters
    ----------
    attribution : Dataset (epoch, layer) or None
        ``run.analysis("attribution")``: ``flag_frequency``, ``verdict``. None writes what
        to run.
    ax : Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> ds = xr.Dataset({"flag_frequency": (("epoch", "layer"), [[0.0, 1.0], [0.1, 0.95]]),
    ...                  "verdict": (("epoch", "layer"), [["healthy", "inconclusive"],
    ...                                                   ["healthy", "problematic"]])},
    ...                 coords={"epoch": [0, 1], "layer": ["conv1", "conv2"]})
    >>> ax = flag_frequencies(ds)
    >>> bool(ax.get_ylim()[0] < 0 < 1 < ax.get_ylim()[1])
    True
    """
    import pandas as pd
    import seaborn as sns

    from ..verdicts import CONFIDENT, VERDICTS
    from .attribution import VERDICT_COLORS

    ax = axes_or_new(ax)
    if attribution is None or "flag_frequency" not in attribution:
        return _missing(ax, "bootstrap flag frequencies: no attribution analysis "
                            "(workbench analyze RUN --only attribution)")
    d = attribution[["flag_frequency", "verdict"]].transpose("epoch", "layer")
    layers = as_texts(d["layer"].values)
    n_epochs = d.sizes["epoch"]
    frame = pd.DataFrame({
        "layer": np.tile(layers, n_epochs),
        "flag frequency": np.asarray(d["flag_frequency"].values, dtype=float).ravel(),
        "verdict": as_texts(d["verdict"].values)})
    present = [v for v in VERDICTS if v in set(frame["verdict"])]
    sns.stripplot(data=frame, x="layer", y="flag frequency", hue="verdict", order=layers,
                  hue_order=present, palette={v: VERDICT_COLORS[v] for v in present},
                  jitter=0.15, size=5, ax=ax)
    for bound in (1 - CONFIDENT, CONFIDENT):
        ax.axhline(bound, color="0.5", lw=0.8, ls=":")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("bootstrap flag frequency")
    ax.set_title(f"problematic flag across resamples, {n_epochs} epochs "
                 f"(dotted: {1 - CONFIDENT:.0%} and {CONFIDENT:.0%})", fontsize="medium")
    if ax.get_legend() is not None:
        ax.legend(fontsize="x-small", title="verdict", title_fontsize="x-small",
                  loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax


__all__ = ["alpha_by_layer", "flag_frequencies"]
