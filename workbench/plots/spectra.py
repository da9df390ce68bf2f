"""Weight spectra: the ESD with its power-law tail, alpha over epochs."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._scale import esd_density, log_bins
from .base import (
    SELECTED_GID,
    SELECTION_GID,
    artist,
    axes_or_new,
    epoch_axis,
    epoch_marker,
    integer_ticks,
    label_of,
    log_ticks,
    padded_limits,
)

#: What a fit from too short a tail is called on every figure (α drawn hollow).
SHORT_TAIL = "tail too short"


def short_tail(n_tail) -> bool:
    """True when a fit's tail is too short to read its α as a fit
    (:func:`workbench.diagnostics.powerlaw.tail_too_short`)."""
    import numpy as np

    from ..diagnostics.powerlaw import tail_too_short

    n = float(n_tail)
    return bool(not np.isfinite(n) or tail_too_short(n))


def powerlaw_tail(x, *, alpha: float, xmin: float, fraction: float):
    """The fitted tail as a density: :math:`f\\,(\\alpha-1)/x_{\\min}\\,(x/x_{\\min})^{-\\alpha}`
    for :math:`x \\ge x_{\\min}` (NaN below), ``fraction`` f the share of eigenvalues in it."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    y = fraction * (alpha - 1) / xmin * (x / xmin) ** (-alpha)
    return np.where(x >= xmin, y, np.nan)


def esd(eigenvalues: xr.DataArray, *, alpha=None, xmin=None, ax=None, bins: int | None = None):
    """Empirical spectral density of one layer on log-log axes, with its fitted tail.

    Parameters
    ----------
    eigenvalues : xarray.DataArray
        One spectrum (1-D, e.g. ``ds.eigenvalues.sel(layer=..., epoch=...)``); NaN padding
        and values <= 0 are left out.
    alpha, xmin : float or 0-d DataArray, optional
        The fitted power law (:func:`workbench.diagnostics.powerlaw_alpha`). When both are
        given and finite, the tail's density
        :math:`\\frac{n_{tail}}{n} \\frac{\\alpha - 1}{x_{min}} (x / x_{min})^{-\\alpha}`
        is drawn from ``xmin`` to the largest eigenvalue, with a dotted line at ``xmin``.
    bins : int, optional
        Number of log-spaced bins (default: about 2·sqrt(n), between 5 and 60).

    Returns
    -------
    matplotlib.axes.Axes
        Artists carry gids ``esd``, ``esd-tail`` and ``esd-xmin`` so a view can find them.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ev = xr.DataArray(np.random.default_rng(0).pareto(2.0, 500) + 1, dims="eigenvalue")
    >>> esd(ev, alpha=3.0, xmin=1.0).get_xscale()
    'log'
    """
    import numpy as np

    if eigenvalues.ndim != 1:
        raise ValueError(f"esd() needs one spectrum (1-D); got dims {eigenvalues.dims}")
    ax = axes_or_new(ax)
    x = np.asarray(eigenvalues.values, dtype=float)
    x = np.sort(x[np.isfinite(x) & (x > 0)])
    if x.size < 2 or x[0] == x[-1]:
        ax.text(0.5, 0.5, "no spectrum to draw", transform=ax.transAxes, ha="center")
        return ax
    nb = bins or int(np.clip(2 * np.sqrt(x.size), 5, 60))
    edges = np.geomspace(x[0], x[-1] * (1 + 1e-12), nb + 1)
    density = esd_density(x, edges)
    ax.stairs(np.where(density > 0, density, np.nan), edges, gid="esd",
              label=f"ESD ({x.size} eigenvalues)")
    a = None if alpha is None else float(alpha)
    xm = None if xmin is None else float(xmin)
    if a is not None and xm is not None and np.isfinite(a) and np.isfinite(xm) and xm > 0:
        frac = np.mean(x >= xm)
        grid = np.geomspace(xm, x[-1], 50)
        n_tail = int(np.sum(x >= xm))
        short = short_tail(n_tail)
        ax.plot(grid, frac * (a - 1) / xm * (grid / xm) ** (-a), color="C3", lw=2,
                ls="--" if short else "-", gid="esd-tail",
                label=f"power law α = {a:.2f}"
                + (f" ({SHORT_TAIL}: {n_tail} eigenvalues)" if short else ""))
        ax.axvline(xm, color="C3", ls=":", lw=1, gid="esd-xmin")
    ax.set_xscale("log")
    ax.set_yscale("log")
    log_ticks(ax.xaxis, x[0], x[-1])
    ax.set_xlabel(label_of(eigenvalues))
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return ax


def alpha_over_epochs(alpha: xr.DataArray, *, ax=None, band=(2.0, 6.0), n_tail=None):
    """Power-law exponent α of every layer over epochs, one line per layer.

    Parameters
    ----------
    alpha : xarray.DataArray
        Dims (epoch, layer), e.g. ``run.analysis("spectra").alpha``.
    band : (float, float) or None
        Shaded range of α that WeightWatcher reads as "well trained" (2 to 6).
    n_tail : xarray.DataArray, optional
        Eigenvalues in each fit's tail (epoch, layer); a fit from too short a tail is drawn
        hollow and the legend says "tail too short".

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = xr.DataArray(np.array([[3.0, 5.0], [2.5, 4.0]]), dims=("epoch", "layer"),
    ...                  coords={"epoch": [0, 1], "layer": ["fc1", "fc2"]})
    >>> [ln.get_label() for ln in alpha_over_epochs(a).get_legend().get_lines()]
    ['fc1', 'fc2']
    """
    if set(alpha.dims) != {"epoch", "layer"}:
        raise ValueError(f"alpha_over_epochs() needs dims ('epoch', 'layer'); got {alpha.dims}")
    ax = axes_or_new(ax)
    if band is not None:
        ax.axhspan(*band, color="0.9", zorder=0, label=f"{band[0]:g} ≤ α ≤ {band[1]:g}")
    for i, layer in enumerate(alpha.layer.values):
        line = alpha.sel(layer=layer)
        short = (None if n_tail is None else
                 np.array([short_tail(v) for v in n_tail.sel(layer=layer).values]))
        alpha_line(ax, line.epoch.values, line.values, short, color=f"C{i % 10}",
                   label=str(layer))
    ax.set_xlabel("epoch")
    ax.set_ylabel(label_of(alpha) if alpha.attrs else "α")
    ax.xaxis.set_major_locator(integer_ticks())
    hollow_legend(ax, n_tail is not None and any(
        short_tail(v) for v in np.ravel(n_tail.values)), title="layer")
    return ax


def alpha_line(ax, epochs, alpha, short=None, *, color, lw=1.2, ms=4, zorder=2, gid=None,
               label=None):
    """α of one layer over epochs: a line, filled markers where the fit's tail is long
    enough, hollow ones where it is too short (``short``: bool per epoch). Returns the
    line (its gid ``gid``)."""
    import numpy as np

    epochs, alpha = np.asarray(epochs), np.asarray(alpha, dtype=float)
    short = np.zeros(len(alpha), bool) if short is None else np.asarray(short, bool)
    line = ax.plot(epochs, alpha, "-", color=color, lw=lw, zorder=zorder, gid=gid,
                   label=label)[0]
    ax.plot(epochs[~short], alpha[~short], "o", color=color, ms=ms, zorder=zorder)
    if short.any():
        ax.plot(epochs[short], alpha[short], "o", mfc="white", mec=color, mew=1.2, ms=ms,
                zorder=zorder, gid="short-tail")
    return line


def hollow_legend(ax, short: bool, **kw):
    """The legend of an α axis, with a hollow marker "tail too short (< 10 eigenvalues)"
    when any fit's tail is too short. Placed outside the axes, on the right."""
    from matplotlib.lines import Line2D

    from ..diagnostics.powerlaw import MIN_RELIABLE_TAIL

    handles, labels = ax.get_legend_handles_labels()
    if short:
        handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec="0.3", mew=1.2))
        labels.append(f"{SHORT_TAIL}\n(< {MIN_RELIABLE_TAIL} eigenvalues)")
    return ax.legend(handles, labels, fontsize="x-small", loc="upper left",
                     bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False, **kw)



# -- the spectra view: draw(data, ax) -> handles, update(handles, data) ------------------------

def layer_bins(eigenvalues: xr.DataArray, n: int = 30) -> dict:
    """layer → log-spaced bin edges over that layer's eigenvalues of every epoch (fixed
    across epochs, so densities compare from one epoch to the next)."""
    return {str(k): log_bins(eigenvalues.sel(layer=k).values, n)
            for k in eigenvalues["layer"].values}


def esd_values(at: xr.Dataset, bins):
    """(density, bin centres, tail density) of one (epoch, layer) of a spectra analysis.

    The density is :func:`esd_density` over ``bins`` (as :func:`esd` draws it); the tail is
    :func:`powerlaw_tail` with :math:`f = n_{\\mathrm{tail}}/n`.
    """
    import numpy as np

    ev = at["eigenvalues"].values
    n = np.isfinite(ev).sum()
    centres = np.sqrt(bins[1:] * bins[:-1])
    dens = esd_density(ev, bins)
    tail = powerlaw_tail(centres, alpha=float(at["alpha"]), xmin=float(at["xmin"]),
                         fraction=float(at["n_tail"]) / max(n, 1))
    return dens, centres, tail


def esd_limits(eigenvalues: xr.DataArray, bins, fits: xr.Dataset | None = None):
    """y-limits holding one layer's ESD (``eigenvalues`` over epochs) at every epoch, and
    its fitted tails when ``fits`` (that layer of the spectra analysis) is given, so that
    no tail line leaves the axes."""
    import numpy as np

    vals = [esd_density(eigenvalues.sel(epoch=e).values, bins)
            for e in eigenvalues["epoch"].values]
    if fits is not None:
        vals += [esd_values(fits.sel(epoch=e), bins)[2] for e in fits["epoch"].values]
    return padded_limits(np.concatenate(vals), log=True)


def draw(data: xr.Dataset, ax, *, layer: str, epoch, bins, ylim) -> dict:
    """The spectra view: ``layer``'s ESD at ``epoch`` with its tail (left), α of every layer
    over epochs, ``layer`` bold (right).

    Parameters
    ----------
    data : Dataset (epoch, layer, eigenvalue)
        ``run.analysis("spectra")``.
    ax : (Axes, Axes)
    layer, epoch
        The selection (the nearest epoch).
    bins : array
        The layer's bin edges (:func:`layer_bins`).
    ylim : (float, float)
        The ESD's y-limits (:func:`esd_limits`).

    Returns
    -------
    dict
        ``esd``, ``tail``, ``xmin``, ``fit`` and ``selection`` artists; pass to :func:`update`.
    """
    import numpy as np

    d = data
    ax_e, ax_a = ax
    at = d.sel(epoch=epoch, method="nearest").sel(layer=layer)
    dens, centres, tail = esd_values(at, bins)
    ax_e.stairs(np.where(dens > 0, dens, np.nan), bins, color="C0", lw=1.8, gid="esd",
                label="ESD")
    ax_e.plot(centres, tail, "--", color="C3", lw=1.5, gid="tail", label="power-law tail")
    ax_e.axvline(float(at["xmin"]), color="0.5", lw=0.8, ls=":", gid="xmin")
    ax_e.set_xscale("log")
    ax_e.set_yscale("log")
    log_ticks(ax_e.xaxis, bins[0], bins[-1])
    ax_e.yaxis.set_minor_formatter("")
    ax_e.set_xlim(bins[0], bins[-1])
    ax_e.set_ylim(*ylim)
    ax_e.set_xlabel(label_of(d["eigenvalues"]))
    ax_e.set_ylabel(r"density $\rho(\lambda)$")
    ax_e.set_title(f"ESD · {layer}", fontsize="medium", loc="right")
    ax_e.text(0.98, 0.96, "", transform=ax_e.transAxes, fontsize="small", gid="fit",
              ha="right", va="top")
    ax_e.legend(fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
                frameon=False, borderaxespad=0.2)
    any_short = False
    for i, k in enumerate(d["layer"].values):
        a = d["alpha"].sel(layer=k)
        short = np.array([short_tail(v) for v in d["n_tail"].sel(layer=k).values])
        any_short |= bool(short.any())
        bold = str(k) == layer
        alpha_line(ax_a, d["epoch"].values, a.values, short, color=f"C{i % 10}",
                   lw=2.2 if bold else 0.9, ms=5 if bold else 3, zorder=3 if bold else 1,
                   gid=SELECTED_GID if bold else None,
                   label=str(k) + (" (shown)" if bold else ""))
    hollow_legend(ax_a, any_short, title="layer")   # a legend: no end labels to collide
    ax_a.set_ylabel(label_of(d["alpha"]))
    epoch_axis(ax_a, d["epoch"].values)
    epoch_marker(ax_a, epoch)
    handles = {"axes": (ax_e, ax_a), "bins": bins,
               **{g: artist(ax_e, g) for g in ("esd", "tail", "xmin", "fit")},
               "selection": artist(ax_a, SELECTION_GID)}
    _set_fit(handles, at)
    return handles


def fit_text(at: xr.Dataset) -> str:
    """The fit of one (epoch, layer) in words; a tail too short says so.

    Examples
    --------
    >>> at = xr.Dataset({"alpha": 6.29, "ks_distance": 0.1, "n_tail": 7, "epoch": 2})
    >>> print(fit_text(at))
    epoch 2: $\\alpha$ = 6.29 (tail too short: 7 eigenvalues), KS 0.100
    """
    n, e = int(at["n_tail"]), int(at["epoch"])
    a, ks = float(at["alpha"]), float(at["ks_distance"])
    if short_tail(n):
        return rf"epoch {e}: $\alpha$ = {a:.2f} ({SHORT_TAIL}: {n} eigenvalues), KS {ks:.3f}"
    return rf"epoch {e}: $\alpha$ = {a:.2f}, KS {ks:.3f}, tail {n}"


def _set_fit(handles: dict, at: xr.Dataset) -> None:
    handles["fit"].set_text(fit_text(at))


def update(handles: dict, at: xr.Dataset) -> None:
    """Show one (epoch, layer) of the spectra analysis (``at``, the layer :func:`draw` drew)
    in place."""
    import numpy as np

    bins = handles["bins"]
    dens, centres, tail = esd_values(at, bins)
    handles["esd"].set_data(np.where(dens > 0, dens, np.nan), bins)
    handles["tail"].set_ydata(tail)
    x = float(at["xmin"])
    handles["xmin"].set_xdata([x, x])
    e = float(at["epoch"])
    handles["selection"].set_xdata([e, e])
    _set_fit(handles, at)


__all__ = ["SHORT_TAIL", "alpha_line", "fit_text", "hollow_legend", "short_tail",
           "powerlaw_tail", "esd", "alpha_over_epochs", "layer_bins", "esd_values", "esd_limits",
           "draw", "update"]
