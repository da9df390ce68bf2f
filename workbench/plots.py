"""One function per picture: data in (xarray), an optional ``ax``, the Axes out.

Axis labels come from the data's ``attrs`` (``long_name``, ``units``). Plots never compute
diagnostics; they draw what they are given.
"""

from __future__ import annotations

import xarray as xr


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5))
    return ax


def label_of(da: xr.DataArray) -> str:
    """``long_name [units]`` from attrs, or the variable's name."""
    name = da.attrs.get("long_name", da.name or "")
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def lines(da: xr.DataArray, *, x: str, hue: str | None = None, ax=None, logy: bool = False,
          smooth: int = 1, **kw):
    """One line per value of ``hue`` (e.g. layer) against dim ``x`` (e.g. step).

    ``smooth`` > 1 draws a centred rolling mean over that many points.
    """
    ax = _ax(ax)
    data = da.rolling({x: smooth}, center=True, min_periods=1).mean() if smooth > 1 else da
    groups = [(None, data)] if hue is None else [(v, data.sel({hue: v})) for v in da[hue].values]
    for value, line in groups:
        opts = dict(kw) if value is None else {**kw, "label": str(value)}
        ax.plot(line[x].values, line.values, **opts)
    ax.set_xlabel(label_of(da[x]) if x in da.coords else x)
    ax.set_ylabel(label_of(da))
    if logy:
        ax.set_yscale("log")
    if hue is not None:
        ax.legend(title=hue, fontsize="small")
    return ax


def heatmap(da: xr.DataArray, *, x: str, y: str, ax=None, cmap: str = "viridis", **kw):
    """``da`` as an image with dim ``x`` across and dim ``y`` down, with a colour bar."""
    ax = _ax(ax)
    d = da.transpose(y, x)
    mesh = ax.pcolormesh(range(d.sizes[x]), range(d.sizes[y]), d.values, cmap=cmap,
                         shading="nearest", **kw)
    ax.set_yticks(range(d.sizes[y]), [str(v) for v in d[y].values])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.figure.colorbar(mesh, ax=ax, label=label_of(da))
    return ax


def accuracy_curves(epochs: xr.Dataset, *, ax=None):
    """Train and test accuracy per epoch."""
    ax = _ax(ax)
    for name in ("train_acc", "test_acc"):
        if name in epochs:
            ax.plot(epochs["epoch"].values, epochs[name].values, marker="o",
                    label=name.replace("_acc", ""))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend()
    return ax


# -- pictures for the widgets (a selection is marked, never computed) --------------------------

#: ``gid`` of the artists that mark the current selection (tests and widgets look them up).
SELECTION_GID = "selection"
SELECTED_GID = "selected"


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def layer_stat(da: xr.DataArray, *, layer=None, step=None, ax=None, smooth: int = 1,
               logy: bool = False):
    """One per-layer statistic over steps: ``layer`` bold, the others faint, ``step`` marked.

    Parameters
    ----------
    da : DataArray (step, layer)
    layer : str, optional
        The layer drawn bold (gid ``"selected"``); default the first.
    step : int, optional
        Marked with a vertical line (gid ``"selection"``).
    smooth : int
        Centred rolling mean over that many steps (NaNs, such as unrecorded steps, skipped).
    """
    ax = _ax(ax)
    layers = [str(v) for v in da["layer"].values]
    layer = layers[0] if layer is None else str(layer)
    data = da.rolling(step=smooth, center=True, min_periods=1).mean() if smooth > 1 else da
    for name in layers:
        line = data.sel(layer=name).dropna("step")
        if name == layer:
            continue
        ax.plot(line["step"].values, line.values, color="0.75", lw=0.8, zorder=1)
    line = data.sel(layer=layer).dropna("step")
    ax.plot(line["step"].values, line.values, color="C0", lw=1.8, label=layer, zorder=3,
            gid=SELECTED_GID)
    if step is not None:
        ax.axvline(step, color="C3", lw=1.2, ls="--", zorder=4, gid=SELECTION_GID)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(label_of(da["step"]) if "step" in da.coords else "step")
    ax.set_ylabel(label_of(da))
    title = f"{da.name or ''} · {layer}" + ("" if step is None else f" · step {step}")
    ax.set_title(title.strip(" ·"), fontsize="medium")
    return ax


def sample_image(image: xr.DataArray, *, ax=None, title: str | None = None):
    """An image with dims (row, col[, channel]) or (y, x[, channel]), scaled for display."""
    import numpy as np

    ax = _ax(ax)
    image = image.rename({k: v for k, v in {"y": "row", "x": "col"}.items() if k in image.dims})
    dims = [d for d in ("row", "col", "channel") if d in image.dims]
    values = np.asarray(image.transpose(*dims).values, dtype=float)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim == 3:
        lo, hi = np.nanmin(values), np.nanmax(values)
        ax.imshow((values - lo) / (hi - lo if hi > lo else 1.0))
    else:
        ax.imshow(values, cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize="small")
    return ax


def probe_sample(probs: xr.DataArray, *, image: xr.DataArray | None = None, epoch=None,
                 classes=None, ax=None):
    """One probe sample: its image and its predicted probabilities across epochs.

    Parameters
    ----------
    probs : DataArray (epoch, label)
        Probabilities of one sample; a scalar coord ``target`` marks its true class (bold,
        gid ``"selected"``) and a scalar coord ``sample`` names it.
    image : DataArray (row, col[, channel]), optional
        Drawn on the left when given.
    epoch : int, optional
        Marked with a vertical line (gid ``"selection"``).
    classes : sequence of str, optional
        Class names by label.
    ax : Axes or pair of Axes, optional
        (image axes, probability axes) when ``image`` is given.

    Returns
    -------
    Axes, or a tuple (image axes, probability axes).
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2 if image is not None else 1, figsize=(8, 3.2),
                             width_ratios=[1, 3] if image is not None else None)
    ax_img, ax_p = (ax[0], ax[1]) if image is not None else (None, ax)

    def name(k):
        return str(classes[int(k)]) if classes is not None else str(k)

    target = int(probs["target"]) if "target" in probs.coords else None
    epochs = probs["epoch"].values
    last = probs.isel(epoch=-1)
    shown = {int(k) for k in last.sortby(last, ascending=False)["label"].values[:3]}
    if target is not None:
        shown.add(target)
    for k in probs["label"].values:
        p = probs.sel(label=k).values
        if int(k) == target:
            ax_p.plot(epochs, p, color="k", lw=2.2, marker="o", label=f"{name(k)} (true)",
                      zorder=3, gid=SELECTED_GID)
        elif int(k) in shown:
            ax_p.plot(epochs, p, marker=".", lw=1.2, label=name(k), zorder=2)
        else:
            ax_p.plot(epochs, p, color="0.8", lw=0.8, zorder=1)
    if epoch is not None:
        ax_p.axvline(epoch, color="C3", lw=1.2, ls="--", gid=SELECTION_GID)
    ax_p.set_ylim(-0.02, 1.02)
    ax_p.xaxis.set_major_locator(_integer_ticks())
    ax_p.set_xlabel("epoch")
    ax_p.set_ylabel(label_of(probs) or "probability")
    ax_p.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    sample = int(probs["sample"]) if "sample" in probs.coords else None
    if image is None:
        return ax_p
    pred = None
    if epoch is not None:
        at = probs.sel(epoch=epoch, method="nearest")
        pred = int(at["label"].values[int(at.argmax("label"))])
    title = "" if sample is None else f"sample {sample}"
    if target is not None:
        title += f"\ntrue: {name(target)}"
    if pred is not None:
        title += f"\nepoch {epoch}: {name(pred)}"
    sample_image(image, ax=ax_img, title=title)
    return ax_img, ax_p


def training_curves(loss: xr.DataArray, epochs: xr.Dataset, *, step=None, epoch=None,
                    ax=None, smooth: int = 9):
    """Loss over steps (``step`` marked) beside accuracy over epochs (``epoch`` marked).

    ``ax`` is a pair of Axes (or None); returns the pair.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2, figsize=(10, 3.2))
    lines(loss, x="step", ax=ax[0], smooth=smooth)
    accuracy_curves(epochs, ax=ax[1])
    ax[1].xaxis.set_major_locator(_integer_ticks())
    if step is not None:
        ax[0].axvline(step, color="C3", lw=1.2, ls="--", gid=SELECTION_GID)
    if epoch is not None:
        ax[1].axvline(epoch, color="C3", lw=1.2, ls="--", gid=SELECTION_GID)
    return ax[0], ax[1]


def bars(da: xr.DataArray, *, x: str = "layer", highlight: xr.DataArray | None = None,
         ax=None, label: str = "highlighted"):
    """One bar per value of dim ``x``; bars where ``highlight`` is True drawn in red."""
    ax = _ax(ax)
    names = [str(v) for v in da[x].values]
    flags = ([bool(v) for v in highlight.sel({x: da[x]}).values] if highlight is not None
             else [False] * len(names))
    colors = ["C3" if f else "C0" for f in flags]
    ax.bar(names, da.values, color=colors)
    if any(flags):
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color="C3", label=label), Patch(color="C0", label="other")],
                  fontsize="small")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel(x)
    ax.set_ylabel(label_of(da))
    return ax


def image_grid(images: xr.DataArray, *, dim: str = "sample", titles=None, ncols: int = 4,
               cmap: str | None = None, symmetric: bool = False, fig=None):
    """Images along ``dim`` in a grid; ``symmetric`` centres the colour scale on 0 (for
    attributions). Returns the array of Axes."""
    import numpy as np

    n = images.sizes[dim]
    nrows = -(-n // ncols)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(2.2 * ncols, 2.3 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        img = images.isel({dim: i})
        img = img.rename({k: v for k, v in {"y": "row", "x": "col"}.items() if k in img.dims})
        if "channel" in img.dims:
            img = img.mean("channel") if symmetric else img
        values = np.asarray(img.transpose(*[d for d in ("row", "col", "channel")
                                            if d in img.dims]).values, dtype=float)
        if values.ndim == 3 and values.shape[-1] == 1:
            values = values[..., 0]
        if symmetric:
            lim = np.nanmax(np.abs(values)) or 1.0
            ax.imshow(values, cmap=cmap or "RdBu_r", vmin=-lim, vmax=lim)
        elif values.ndim == 3:
            lo, hi = np.nanmin(values), np.nanmax(values)
            ax.imshow((values - lo) / (hi - lo if hi > lo else 1.0))
        else:
            ax.imshow(values, cmap=cmap or "gray")
        title = titles[i] if titles is not None else str(images[dim].values[i])
        ax.set_title(title, fontsize="small")
    return axes


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
    ax = _ax(ax)
    x = np.asarray(eigenvalues.values, dtype=float)
    x = np.sort(x[np.isfinite(x) & (x > 0)])
    if x.size < 2 or x[0] == x[-1]:
        ax.text(0.5, 0.5, "no spectrum to draw", transform=ax.transAxes, ha="center")
        return ax
    nb = bins or int(np.clip(2 * np.sqrt(x.size), 5, 60))
    edges = np.geomspace(x[0], x[-1] * (1 + 1e-12), nb + 1)
    counts, _ = np.histogram(x, edges)
    density = counts / (x.size * np.diff(edges))
    ax.stairs(np.where(density > 0, density, np.nan), edges, gid="esd",
              label=f"ESD ({x.size} eigenvalues)")
    a = None if alpha is None else float(alpha)
    xm = None if xmin is None else float(xmin)
    if a is not None and xm is not None and np.isfinite(a) and np.isfinite(xm) and xm > 0:
        frac = np.mean(x >= xm)
        grid = np.geomspace(xm, x[-1], 50)
        ax.plot(grid, frac * (a - 1) / xm * (grid / xm) ** (-a), color="C3", lw=2,
                gid="esd-tail", label=f"power law α = {a:.2f}")
        ax.axvline(xm, color="C3", ls=":", lw=1, gid="esd-xmin")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(label_of(eigenvalues))
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return ax


def alpha_over_epochs(alpha: xr.DataArray, *, ax=None, band=(2.0, 6.0)):
    """Power-law exponent α of every layer over epochs, one line per layer.

    Parameters
    ----------
    alpha : xarray.DataArray
        Dims (epoch, layer), e.g. ``run.analysis("spectra").alpha``.
    band : (float, float) or None
        Shaded range of α that WeightWatcher reads as "well trained" (2 to 6).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = xr.DataArray(np.array([[3.0, 5.0], [2.5, 4.0]]), dims=("epoch", "layer"),
    ...                  coords={"epoch": [0, 1], "layer": ["fc1", "fc2"]})
    >>> len(alpha_over_epochs(a).get_lines())
    2
    """
    if set(alpha.dims) != {"epoch", "layer"}:
        raise ValueError(f"alpha_over_epochs() needs dims ('epoch', 'layer'); got {alpha.dims}")
    ax = _ax(ax)
    if band is not None:
        ax.axhspan(*band, color="0.9", zorder=0, label=f"{band[0]:g} ≤ α ≤ {band[1]:g}")
    for layer in alpha.layer.values:
        line = alpha.sel(layer=layer)
        ax.plot(line.epoch.values, line.values, marker="o", ms=3, label=str(layer))
    ax.set_xlabel("epoch")
    ax.set_ylabel(label_of(alpha) if alpha.attrs else "α")
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.legend(fontsize="small", title="layer")
    return ax
