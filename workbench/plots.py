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


#: Units that mean "none" and are not printed (no "[1]" on an axis).
NO_UNITS = ("", "1", "none", "dimensionless", "-")


def label_of(da: xr.DataArray) -> str:
    """``long_name (units)`` from attrs, or the variable's name with ``_`` as spaces.

    Dimensionless units ("", "1", …) are left out; mathtext in ``long_name`` is kept.

    Examples
    --------
    >>> print(label_of(xr.DataArray(0.0, name="lr", attrs={"long_name": r"$\\eta$", "units": "1"})))
    $\\eta$
    """
    name = da.attrs.get("long_name") or str(da.name or "").replace("_", " ")
    units = str(da.attrs.get("units") or "").strip()
    return f"{name} ({units})" if units.lower() not in NO_UNITS else str(name)


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


def heatmap(da: xr.DataArray, *, x: str, y: str, ax=None, cmap: str | None = None, **kw):
    """``da`` as an image with dim ``x`` across and dim ``y`` down, with a colour bar.

    Data of both signs get a diverging map (``RdBu_r``) centred at zero (limits ±max|da|);
    other data ``viridis``, unless ``cmap`` is given.
    """
    import numpy as np

    ax = _ax(ax)
    d = da.transpose(y, x)
    v = np.asarray(d.values, dtype=float)
    finite = v[np.isfinite(v)]
    if finite.size and finite.min() < 0 < finite.max() and "vmin" not in kw and "norm" not in kw:
        lim = float(np.abs(finite).max())
        kw = {**kw, "vmin": -lim, "vmax": lim}
        cmap = cmap or "RdBu_r"
    mesh = ax.pcolormesh(range(d.sizes[x]), range(d.sizes[y]), v, cmap=cmap or "viridis",
                         shading="nearest", **kw)
    ax.set_yticks(range(d.sizes[y]), [str(k) for k in d[y].values])
    if x == "epoch":
        ax.xaxis.set_major_locator(_integer_ticks())
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
    epoch_axis(ax)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize="small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2,
              frameon=False, borderaxespad=0.2)
    return ax


# -- pictures for the widgets (a selection is marked, never computed) --------------------------

#: ``gid`` of the artists that mark the current selection (tests and widgets look them up).
SELECTION_GID = "selection"
SELECTED_GID = "selected"


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def layer_stat(da: xr.DataArray, *, layer=None, step=None, ax=None, smooth: int = 1,
               logy: bool | None = None):
    """One per-layer statistic over steps: ``layer`` bold, the others faint and labelled at
    their ends, ``step`` marked.

    Parameters
    ----------
    da : DataArray (step, layer)
    layer : str, optional
        The layer drawn bold (gid ``"selected"``); default the first. Each line has gid
        ``"layer:<name>"`` too (the bold one is found by ``"selected"``).
    step : int, optional
        Marked with a vertical line (gid ``"selection"``).
    smooth : int
        Centred rolling mean over that many steps (NaNs, such as unrecorded steps, skipped).
    logy : bool, optional
        Log y-axis; by default when the statistic spans more than two decades
        (:func:`spans_decades`).
    """
    ax = _ax(ax)
    layers = [str(v) for v in da["layer"].values]
    layer = layers[0] if layer is None else str(layer)
    data = da.rolling(step=smooth, center=True, min_periods=1).mean() if smooth > 1 else da
    for name in layers:
        line = data.sel(layer=name).dropna("step")
        (drawn,) = ax.plot(line["step"].values, line.values, label=name, gid=f"layer:{name}")
        drawn.wb_layer = name
        if len(line):
            ax.annotate(name, (float(line["step"].values[-1]), float(line.values[-1])),
                        xytext=(3, 0), textcoords="offset points", fontsize="x-small",
                        va="center", annotation_clip=False, gid=f"label:{name}")
    style_layers(ax, layers, layer)
    steps = da["step"].values
    if len(steps):
        ax.set_xlim(steps.min(), steps.max() + 0.1 * (steps.max() - steps.min() or 1))
    if step is not None:
        ax.axvline(step, color="C3", lw=1.2, ls="--", zorder=4, gid=SELECTION_GID)
    if logy is None:
        logy = spans_decades(data.values)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(label_of(da["step"]) if "step" in da.coords else "step")
    ax.set_ylabel(label_of(da))
    title = f"{da.name or ''} · {layer}" + ("" if step is None else f" · step {step}")
    ax.set_title(title.strip(" ·"), fontsize="medium")
    return ax


def style_layers(ax, layers, layer) -> None:
    """Make ``layer``'s line bold (gid ``"selected"``) and the others faint, in place."""
    for line in ax.lines:
        name = getattr(line, "wb_layer", None)
        if name is None:
            continue
        bold = name == layer
        line.set_gid(SELECTED_GID if bold else f"layer:{name}")
        line.set_color("C0" if bold else "0.7")
        line.set_linewidth(1.8 if bold else 0.8)
        line.set_zorder(3 if bold else 1)
    for text in ax.texts:
        if (text.get_gid() or "").startswith("label:"):
            bold = text.get_gid() == f"label:{layer}"
            text.set_color("C0" if bold else "0.45")
            text.set_fontweight("bold" if bold else "normal")


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
    ax_p.axvline(float("nan") if epoch is None else epoch, color="C3", lw=1.2, ls="--",
                 gid=SELECTION_GID)
    ax_p.set_ylim(-0.02, 1.02)
    epoch_axis(ax_p, epochs)
    ax_p.set_ylabel(label_of(probs) or "probability")
    ax_p.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    if image is None:
        return ax_p
    sample_image(image, ax=ax_img, title=probe_title(probs, epoch=epoch, classes=classes))
    return ax_img, ax_p


def probe_title(probs: xr.DataArray, *, epoch=None, classes=None) -> str:
    """"sample i / true: c / epoch e: predicted" for one probe sample's probabilities."""
    def name(k):
        return str(classes[int(k)]) if classes is not None else str(k)

    sample = int(probs["sample"]) if "sample" in probs.coords else None
    target = int(probs["target"]) if "target" in probs.coords else None
    title = "" if sample is None else f"sample {sample}"
    if target is not None:
        title += f"\ntrue: {name(target)}"
    if epoch is not None:
        at = probs.sel(epoch=epoch, method="nearest")
        pred = int(at["label"].values[int(at.argmax("label"))])
        title += f"\nepoch {epoch}: {name(pred)}"
    return title


def training_curves(loss: xr.DataArray, epochs: xr.Dataset, *, step=None, epoch=None,
                    ax=None, smooth: int = 9):
    """Loss over steps (``step`` marked) beside accuracy over epochs (``epoch`` marked).

    ``ax`` is a pair of Axes (or None); returns the pair.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2, figsize=(10, 3.2))
    import numpy as np

    lines(loss, x="step", ax=ax[0], smooth=smooth)
    accuracy_curves(epochs, ax=ax[1])
    epoch_axis(ax[1], epochs["epoch"].values)
    for a, value in zip(ax, (step, epoch), strict=True):
        a.axvline(np.nan if value is None else value, color="C3", lw=1.2, ls="--",
                  gid=SELECTION_GID)
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


# -- attribution and forces views: each picture is drawn once, then ``set_*`` changes its artists

#: Colour of each problematic-group verdict (the stored ``verdict`` of /analysis/attribution).
VERDICT_COLORS = {"problematic": "C3", "healthy": "C0", "inconclusive": "0.6"}


def _texts(values) -> list[str]:
    """Stored text (fixed-width str or bytes) as a list of str."""
    import numpy as np

    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def _class_name(classes, k) -> str:
    k = int(k)
    return str(classes[k]) if classes is not None and 0 <= k < len(classes) else str(k)


def attribution_groups(at: xr.Dataset, *, ax=None, ylim=None) -> dict:
    """Per-group log gradient ratio at one epoch, each bar coloured by its verdict.

    The bar of group :math:`g` is :math:`\\log(s_g^{wrong} / s_g^{right})`, the log ratio of
    the RMS gradients on misclassified and correctly classified examples, coloured by the
    verdict ("problematic", "healthy" or "inconclusive", see :data:`VERDICT_COLORS`); above
    it, the bootstrap frequency with which the group was flagged.

    Parameters
    ----------
    at : Dataset (layer)
        One epoch of ``/analysis/attribution``: ``log_ratio``, ``verdict``,
        ``flag_frequency`` (and the scalars ``n_misclassified``, ``n_correct``).
    ax : Axes, optional
    ylim : (float, float), optional
        Fixed y range (e.g. over every epoch, so that bars compare across epochs).

    Returns
    -------
    dict
        ``ax``, ``bars`` (one Rectangle per group, gid ``"log_ratio"``) and ``texts``; pass
        it to :func:`set_attribution_groups` to show another epoch in place.

    Examples
    --------
    >>> import numpy as np
    >>> at = xr.Dataset({"log_ratio": ("layer", [0.1, 0.9]),
    ...                  "verdict": ("layer", ["healthy", "problematic"]),
    ...                  "flag_frequency": ("layer", [0.0, 0.97])},
    ...                 coords={"layer": ["conv1", "fc"]})
    >>> h = attribution_groups(at)
    >>> [round(b.get_height(), 2) for b in h["bars"]]
    [0.1, 0.9]
    """
    import numpy as np
    from matplotlib.patches import Patch

    ax = _ax(ax)
    layers = _texts(at["layer"].values)
    x = np.arange(len(layers))
    bars = ax.bar(x, np.zeros(len(layers)), color="0.6", width=0.7, gid="log_ratio")
    texts = [ax.text(i, 0.0, "", ha="center", va="bottom", fontsize="x-small") for i in x]
    ax.set_xticks(x, layers)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("layer group")
    ax.set_ylabel("log gradient ratio\nmisclassified / correct")
    ax.set_ylim(*(ratio_limits(at["log_ratio"]) if ylim is None else ylim))
    ax.legend(handles=[Patch(color=c, label=v) for v, c in VERDICT_COLORS.items()],
              fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=3,
              frameon=False, title="verdict (number: bootstrap flag frequency)",
              title_fontsize="x-small")
    handles = {"ax": ax, "bars": list(bars), "texts": texts}
    set_attribution_groups(handles, at)
    return handles


def ratio_limits(log_ratio) -> tuple[float, float]:
    """y range of :func:`attribution_groups` for these log ratios (any dims): zero and
    every finite value, with headroom above for the verdict labels."""
    import numpy as np

    values = np.asarray(log_ratio, dtype=float)
    finite = values[np.isfinite(values)]
    lo, hi = ((min(0.0, finite.min()), max(0.0, finite.max())) if finite.size
              else (0.0, 1.0))
    span = (hi - lo) or 1.0
    return lo - 0.05 * span, hi + 0.45 * span


def set_attribution_groups(handles: dict, at: xr.Dataset) -> None:
    """Show another epoch's ratios, verdicts and flag frequencies on :func:`attribution_groups`."""
    import numpy as np

    ratio = np.asarray(at["log_ratio"].values, dtype=float)
    freq = np.asarray(at["flag_frequency"].values, dtype=float)
    verdicts = _texts(at["verdict"].values)
    for bar, text, r, f, v in zip(handles["bars"], handles["texts"], ratio, freq, verdicts,
                                  strict=True):
        height = float(r) if np.isfinite(r) else 0.0
        bar.set_height(height)
        bar.set_color(VERDICT_COLORS.get(v, "0.3"))
        text.set_text(f"{f:.0%}" if np.isfinite(f) else "")
        text.set_position((bar.get_x() + bar.get_width() / 2, max(height, 0.0)))
    title = ""
    if "epoch" in at.coords and at["epoch"].ndim == 0:
        title = f"epoch {int(at['epoch'])}"
    counts = [at[k] if k in at.variables else at.attrs.get(k)
              for k in ("n_misclassified", "n_correct")]
    if all(c is not None for c in counts):
        title += (": " if title else "") + (f"{int(counts[0])} misclassified vs "
                                            f"{int(counts[1])} correct")
    handles["ax"].set_title(title, fontsize="small")


def ig_gallery(at: xr.Dataset, *, fig=None, classes=None) -> dict:
    """The worst misclassified probe images (top row) over their Integrated Gradients maps.

    Each map uses a diverging colour map centred at zero (``vmin = -vmax``): red pixels
    raised the error margin (wrong-class logit minus true-class logit), blue ones lowered it.

    Parameters
    ----------
    at : Dataset (rank, row, col)
        One epoch of ``/analysis/attribution``: ``image``, ``ig``, ``sample``, ``target``,
        ``predicted`` over ``rank`` (``sample`` is -1 where the rank is padding).
    fig : Figure or SubFigure, optional
    classes : sequence of str, optional

    Returns
    -------
    dict
        ``axes`` (2, rank), ``images`` and ``maps`` (AxesImage per rank); see
        :func:`set_ig_gallery`.

    Examples
    --------
    >>> import numpy as np
    >>> at = xr.Dataset({"image": (("rank", "row", "col"), np.ones((2, 3, 3))),
    ...                  "ig": (("rank", "row", "col"), np.full((2, 3, 3), -0.5)),
    ...                  "sample": ("rank", [4, -1]), "target": ("rank", [1, -1]),
    ...                  "predicted": ("rank", [2, -1])})
    >>> h = ig_gallery(at)
    >>> h["maps"][0].get_clim(), h["maps"][1].get_visible()
    ((-0.5, 0.5), False)
    """
    import numpy as np

    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(1.3 * at.sizes["rank"], 3.0))
    k = at.sizes["rank"]
    shape = (at.sizes["row"], at.sizes["col"])
    axes = np.asarray(fig.subplots(2, k, squeeze=False))
    blank = np.zeros(shape)
    images, maps = [], []
    for i in range(k):
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
        images.append(axes[0, i].imshow(blank, cmap="gray", interpolation="nearest"))
        maps.append(axes[1, i].imshow(blank, cmap="RdBu_r", vmin=-1, vmax=1,
                                      interpolation="nearest"))
    axes[0, 0].set_ylabel("image", fontsize="small")
    axes[1, 0].set_ylabel("IG (0 = white)", fontsize="small")
    handles = {"axes": axes, "images": images, "maps": maps, "classes": classes}
    set_ig_gallery(handles, at)
    return handles


def set_ig_gallery(handles: dict, at: xr.Dataset) -> None:
    """Show another epoch's images and IG maps on :func:`ig_gallery` (in place)."""
    import numpy as np

    classes = handles.get("classes")
    samples = np.asarray(at["sample"].values).astype(int)
    all_pixels = np.asarray(at["image"].transpose("rank", "row", "col").values, float)
    all_ig = np.asarray(at["ig"].transpose("rank", "row", "col").values, float)
    targets, predicted = at["target"].values, at["predicted"].values
    for i, (img, ig_map) in enumerate(zip(handles["images"], handles["maps"], strict=True)):
        ax = handles["axes"][0, i]
        shown = bool(samples[i] >= 0)
        img.set_visible(shown)
        ig_map.set_visible(shown)
        if not shown:
            ax.set_title("")
            continue
        pixels, ig = all_pixels[i], all_ig[i]
        img.set_data(pixels)
        lo, hi = np.nanmin(pixels), np.nanmax(pixels)
        img.set_clim(lo, hi if hi > lo else lo + 1.0)
        ig_map.set_data(ig)
        lim = float(np.nanmax(np.abs(ig))) if np.isfinite(ig).any() else 0.0
        ig_map.set_clim(-(lim or 1.0), lim or 1.0)
        true = _class_name(classes, targets[i])
        pred = _class_name(classes, predicted[i])
        ax.set_title(f"{samples[i]}\n{true}\n→ {pred}", fontsize="x-small")


def fix_gallery(status: xr.DataArray, images, *, pred_after=None, target=None, classes=None,
                n: int = 6, fig=None, title: str = ""):
    """Up to ``n`` test images a fix turned right (top row) and up to ``n`` it broke (bottom).

    Parameters
    ----------
    status : DataArray (sample)
        "fixed" / "broken" / "unchanged" per test example
        (``SurgicalReport.to_dataset()["status"]``).
    images : DataArray (sample, row, col)
        The test images, indexed by the same ``sample`` coord.
    pred_after, target : DataArray (sample), optional
        Labels for the titles.
    classes : sequence of str, optional
    n : int
    fig : Figure, optional
    title : str

    Returns
    -------
    Figure
    """
    import numpy as np

    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(1.2 * n, 3.0))
    axes = np.asarray(fig.subplots(2, n, squeeze=False))
    kinds = _texts(status.values)
    for row, kind in enumerate(("fixed", "broken")):
        picked = [s for s, k in zip(status["sample"].values, kinds, strict=True) if k == kind]
        axes[row, 0].set_ylabel(f"{kind} ({len(picked)})", fontsize="small")
        for i, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(i < len(picked))
            if i >= len(picked):
                continue
            s = picked[i]
            ax.imshow(np.asarray(images.sel(sample=s).transpose("row", "col").values, float),
                      cmap="gray")
            label = str(s)
            if target is not None and pred_after is not None:
                label += (f"\n{_class_name(classes, target.sel(sample=s))} → "
                          f"{_class_name(classes, pred_after.sel(sample=s))}")
            ax.set_title(label, fontsize="xx-small")
    if title:
        fig.suptitle(title, fontsize="small")
    return fig


def forces_pull(f: xr.Dataset, *, sample_o, classes=None, ax=None) -> dict:
    """The pull :math:`-\\eta\\,A K G` of each update example on one observed sample.

    One horizontal bar per update example ``sample_u``: its contribution to
    :math:`\\Delta \\log \\pi_y(x_o)` for the observed sample's true class :math:`y`
    (positive: the step on that example makes the true class likelier). Flipped-label update
    examples are red and marked "(flipped)".

    Parameters
    ----------
    f : Dataset
        One epoch of ``/analysis/forces``: ``pull(sample_o, sample_u, label)``, coords
        ``target(sample_o)``, ``label_u(sample_u)``, ``flipped(sample_u)``.
    sample_o : int
        The observed sample (a ``sample_o`` value).
    classes : sequence of str, optional
    ax : Axes, optional

    Returns
    -------
    dict
        ``ax``, ``bars`` (gid ``"pull"``); see :func:`set_forces_pull`.

    Examples
    --------
    >>> import numpy as np
    >>> pull = np.arange(8.0).reshape(1, 4, 2)
    >>> f = xr.Dataset({"pull": (("sample_o", "sample_u", "label"), pull)},
    ...                coords={"sample_o": [5], "sample_u": [1, 2, 3, 4], "label": [0, 1],
    ...                        "target": ("sample_o", [1]),
    ...                        "label_u": ("sample_u", [0, 1, 0, 1]),
    ...                        "flipped": ("sample_u", [False, True, False, False])})
    >>> [b.get_width() for b in forces_pull(f, sample_o=5)["bars"]]
    [1.0, 3.0, 5.0, 7.0]
    """
    import numpy as np
    from matplotlib.patches import Patch

    ax = _ax(ax)
    su = np.asarray(f["sample_u"].values)
    flipped = (np.asarray(f["flipped"].values, dtype=bool).ravel()[-len(su):]
               if "flipped" in f.variables else np.zeros(len(su), bool))
    label_u = (np.asarray(f["label_u"].values).ravel()[-len(su):] if "label_u" in f.variables
               else None)
    y = np.arange(len(su))
    bars = ax.barh(y, np.zeros(len(su)), color=["C3" if fl else "C0" for fl in flipped],
                   gid="pull")
    names = []
    for i, u in enumerate(su):
        name = f"{int(u)}"
        if label_u is not None:
            name += f" · {_class_name(classes, label_u[i])}"
        names.append(name + (" (flipped)" if flipped[i] else ""))
    ax.set_yticks(y, names, fontsize="x-small")
    for tick, fl in zip(ax.get_yticklabels(), flipped, strict=True):
        tick.set_color("C3" if fl else "k")
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel(label_of(f["pull"]) if f["pull"].attrs else "pull on log π")
    ax.set_ylabel("update example · its training label")
    if flipped.any():
        ax.legend(handles=[Patch(color="C3", label="flipped label"),
                           Patch(color="C0", label="label as drawn")],
                  fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncols=2, frameon=False)
    handles = {"ax": ax, "bars": list(bars), "classes": classes}
    set_forces_pull(handles, f, sample_o=sample_o)
    return handles


def set_forces_pull(handles: dict, f: xr.Dataset, *, sample_o, xlim=None) -> None:
    """Show another observed sample or epoch on :func:`forces_pull` (in place)."""
    import numpy as np

    target = int(f["target"].sel(sample_o=sample_o))
    pull = np.asarray(f["pull"].sel(sample_o=sample_o, label=target).values, dtype=float)
    for bar, v in zip(handles["bars"], pull, strict=True):
        bar.set_width(float(v) if np.isfinite(v) else 0.0)
    if xlim is None:
        lim = float(np.nanmax(np.abs(pull))) if np.isfinite(pull).any() else 0.0
        xlim = (-(lim or 1.0) * 1.1, (lim or 1.0) * 1.1)
    handles["ax"].set_xlim(*xlim)
    handles["ax"].set_title(f"pull on log π({_class_name(handles['classes'], target)}) "
                            f"of sample {int(sample_o)}", fontsize="small")


def delta_log_prob(f: xr.Dataset, *, sample_o, classes=None, ax=None) -> dict:
    """Predicted (A·K·G, first order) against actual :math:`\\Delta\\log\\pi` of one sample.

    One point per class, named; the true class circled; the dashed line is
    :math:`y = x` (a perfect first-order prediction).

    Parameters
    ----------
    f : Dataset
        One epoch of ``/analysis/forces``: ``predicted(sample_o, label)``,
        ``actual(sample_o, label)``, coord ``target(sample_o)``.
    sample_o : int
    classes : sequence of str, optional
    ax : Axes, optional

    Returns
    -------
    dict
        ``ax``, ``points`` (Line2D, gid ``"delta"``), ``true`` (gid ``"selected"``),
        ``texts``, ``diagonal``; see :func:`set_delta_log_prob`.

    Examples
    --------
    >>> f = xr.Dataset({"predicted": (("sample_o", "label"), [[0.1, -0.1]]),
    ...                 "actual": (("sample_o", "label"), [[0.2, -0.3]])},
    ...                coords={"sample_o": [5], "label": [0, 1], "target": ("sample_o", [0])})
    >>> h = delta_log_prob(f, sample_o=5)
    >>> h["points"].get_xydata().tolist()
    [[0.1, 0.2], [-0.1, -0.3]]
    """
    ax = _ax(ax)
    labels = f["label"].values
    diagonal = ax.plot([-1, 1], [-1, 1], color="0.6", ls="--", lw=0.8, zorder=1)[0]
    points = ax.plot([], [], "o", color="C0", ms=4, zorder=2, gid="delta")[0]
    true = ax.plot([], [], "o", ms=9, mfc="none", mec="k", mew=1.5, zorder=3,
                   gid=SELECTED_GID, label="true class")[0]
    texts = [ax.text(0, 0, _class_name(classes, k), fontsize="xx-small", zorder=4)
             for k in labels]
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.axvline(0, color="0.85", lw=0.5, zorder=0)
    ax.set_xlabel(label_of(f["predicted"]) if f["predicted"].attrs
                  else "predicted Δ log π")
    ax.set_ylabel(label_of(f["actual"]) if f["actual"].attrs else "actual Δ log π")
    handles = {"ax": ax, "points": points, "true": true, "texts": texts,
               "diagonal": diagonal}
    set_delta_log_prob(handles, f, sample_o=sample_o)
    return handles


def set_delta_log_prob(handles: dict, f: xr.Dataset, *, sample_o, lim=None) -> None:
    """Show another observed sample or epoch on :func:`delta_log_prob` (in place)."""
    import numpy as np

    x = np.asarray(f["predicted"].sel(sample_o=sample_o).values, dtype=float)
    y = np.asarray(f["actual"].sel(sample_o=sample_o).values, dtype=float)
    target = int(f["target"].sel(sample_o=sample_o))
    t = int(np.flatnonzero(np.asarray(f["label"].values) == target)[0])
    handles["points"].set_data(x, y)
    handles["true"].set_data([x[t]], [y[t]])
    for text, xi, yi in zip(handles["texts"], x, y, strict=True):
        text.set_position((xi, yi))
        text.set_visible(bool(np.isfinite(xi) and np.isfinite(yi)))
    if lim is None:
        both = np.concatenate([x, y])
        lim = float(np.nanmax(np.abs(both))) * 1.15 if np.isfinite(both).any() else 1.0
    lim = lim or 1.0
    handles["diagonal"].set_data([-lim, lim], [-lim, lim])
    handles["ax"].set_xlim(-lim, lim)
    handles["ax"].set_ylim(-lim, lim)


def class_paths(prob: xr.DataArray, *, epoch=None, target=None, classes=None, top: int = 3,
                ax=None) -> dict:
    """One sample's class probabilities over epochs up to ``epoch``: top classes and the true one.

    Each shown line is named at its end (no legend to cover the data).

    Parameters
    ----------
    prob : DataArray (epoch, label)
        :math:`\\pi(x_o)` per epoch (``/analysis/forces`` ``prob`` of one ``sample_o``).
    epoch : int, optional
        Lines stop at this epoch (the learning path so far); default the last.
    target : int, optional
        The true class: always drawn, black and bold (gid ``"selected"``).
    classes : sequence of str, optional
    top : int
        How many of the most probable classes (by their maximum over epochs) to show.
    ax : Axes, optional

    Returns
    -------
    dict
        ``ax``, ``lines`` and ``names`` (one per label; those not shown are hidden),
        ``cursor``; see :func:`set_class_paths`.

    Examples
    --------
    >>> import numpy as np
    >>> p = xr.DataArray([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5]], dims=("epoch", "label"),
    ...                  coords={"epoch": [0, 1], "label": [0, 1, 2]})
    >>> h = class_paths(p, epoch=0, target=2, top=1)
    >>> [ln.get_visible() for ln in h["lines"]], h["lines"][2].get_ydata().tolist()
    ([True, False, True], [0.1])
    >>> h["names"][2].get_text()
    '2 (true)'
    """
    ax = _ax(ax)
    epochs = prob["epoch"].values
    lines_ = [ax.plot([], [], marker=".", lw=1.2)[0] for _ in prob["label"].values]
    names = [ax.text(0, 0, "", fontsize="x-small", va="center") for _ in lines_]
    cursor = ax.axvline(epochs[-1], color="C3", lw=1.2, ls="--", gid=SELECTION_GID)
    span = max(float(epochs[-1] - epochs[0]), 1.0)
    ax.set_xlim(epochs[0] - 0.1 * span, epochs[-1] + 0.45 * span)   # room for the names
    ax.set_ylim(-0.03, 1.03)
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("epoch")
    ax.set_ylabel(label_of(prob) if prob.attrs else "probability")
    handles = {"ax": ax, "lines": lines_, "names": names, "cursor": cursor,
               "classes": classes, "top": top, "dx": 0.04 * span}
    set_class_paths(handles, prob, epoch=epoch, target=target)
    return handles


def set_class_paths(handles: dict, prob: xr.DataArray, *, epoch=None, target=None) -> None:
    """Show another sample or epoch on :func:`class_paths` (in place)."""
    import numpy as np

    labels = [int(k) for k in prob["label"].values]
    epochs = prob["epoch"].values
    epoch = epochs[-1] if epoch is None else epoch
    values = np.asarray(prob.transpose("label", "epoch").values, dtype=float)  # (label, epoch)
    keep = epochs <= epoch
    best = np.nan_to_num(np.nanmax(np.where(np.isnan(values), -1.0, values), axis=1), nan=-1.0)
    shown = {labels[i] for i in np.argsort(-best, kind="stable")[:handles["top"]]}
    if target is not None:
        shown.add(int(target))
    color = 1
    x = epochs[keep]
    for k, line, name, row in zip(labels, handles["lines"], handles["names"], values,
                                  strict=True):
        y = row[keep]
        line.set_data(x, y)
        visible = k in shown and len(x) > 0
        line.set_visible(visible)
        name.set_visible(visible)
        if not visible:
            continue
        is_true = target is not None and k == int(target)
        c = "k" if is_true else f"C{color}"
        color += 0 if is_true else 1
        line.set_color(c)
        line.set_linewidth(2.2 if is_true else 1.2)
        line.set_gid(SELECTED_GID if is_true else None)
        text = _class_name(handles["classes"], k) + (" (true)" if is_true else "")
        line.set_label(text)
        name.set_text(text)
        name.set_color(c)
        name.set_position((x[-1] + handles["dx"], y[-1]))
    handles["cursor"].set_xdata([epoch, epoch])
    handles["ax"].set_title(f"learning path up to epoch {int(epoch)}", fontsize="small")


def ntk_heatmap(K: xr.DataArray, *, target_i, target_j=None, classes=None, ax=None):
    """A kernel over samples (the eNTK trace, say) with every row and column named by class.

    Tick labels read ``"<dataset index> · <class>"``. A kernel with negative entries gets a
    diverging colour map centred at zero; a non-negative one ``viridis`` from zero.

    Parameters
    ----------
    K : DataArray (sample_i, sample_j)
        E.g. ``workbench.probes.empirical_ntk(model, x, sample_i=..., mode="trace")``.
    target_i, target_j : sequence of int
        The class of each ``sample_i`` / ``sample_j`` (``target_j`` defaults to ``target_i``).
    classes : sequence of str, optional
    ax : Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> K = xr.DataArray([[2.0, 1.0], [1.0, 3.0]], dims=("sample_i", "sample_j"),
    ...                  coords={"sample_i": [4, 9], "sample_j": [4, 9]})
    >>> ax = ntk_heatmap(K, target_i=[0, 1], classes=["shirt", "bag"])
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['4 · shirt', '9 · bag']
    """
    import numpy as np

    ax = _ax(ax)
    target_j = target_i if target_j is None else target_j
    d = K.transpose("sample_i", "sample_j")
    values = np.asarray(d.values, dtype=float)
    if np.nanmin(values) < 0:
        lim = float(np.nanmax(np.abs(values)))
        mesh = ax.imshow(values, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        mesh = ax.imshow(values, cmap="viridis", vmin=0)
    rows = [f"{int(s)} · {_class_name(classes, t)}"
            for s, t in zip(d["sample_i"].values, target_i, strict=True)]
    cols = [f"{int(s)} · {_class_name(classes, t)}"
            for s, t in zip(d["sample_j"].values, target_j, strict=True)]
    ax.set_yticks(range(len(rows)), rows, fontsize="x-small")
    ax.set_xticks(range(len(cols)), cols, fontsize="x-small", rotation=60, ha="right")
    ax.set_ylabel("observed example")
    ax.set_xlabel("other example")
    ax.figure.colorbar(mesh, ax=ax, label=label_of(K) if K.attrs else "eNTK")
    return ax



# -- per-epoch analyses (/analysis/<name>): artists tagged with gids, updated in place ---------

#: The damping regimes in strip order, and their colours (under → blue, over → red).
REGIMES = ("underdamped", "critical", "overdamped")
REGIME_COLORS = ("#4477aa", "#cccccc", "#cc6677")


def artist(ax, gid: str):
    """The one artist of ``ax`` whose gid is ``gid`` (lines, patches, collections, texts,
    images); a clear error when there is none or several."""
    found = [a for a in (*ax.lines, *ax.patches, *ax.collections, *ax.texts, *ax.images)
             if a.get_gid() == gid]
    if len(found) != 1:
        raise LookupError(f"expected one artist with gid {gid!r} on {ax.get_title()!r}; "
                          f"found {len(found)}")
    return found[0]


def epoch_axis(ax, epochs=None) -> None:
    """Integer ticks on an epoch x-axis, labelled "epoch"."""
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("epoch")
    if epochs is not None and len(epochs):
        lo, hi = float(min(epochs)), float(max(epochs))
        pad = max(0.3, 0.03 * (hi - lo))
        ax.set_xlim(lo - pad, hi + pad)


def epoch_marker(ax, epoch, **kw):
    """The vertical line marking the selected epoch (gid ``"selection"``)."""
    return ax.axvline(epoch, color="C3", lw=1.2, ls="--", zorder=5, gid=SELECTION_GID, **kw)


def spans_decades(values, decades: float = 2.0) -> bool:
    """True when the positive, finite ``values`` span more than ``decades`` powers of ten
    (and none is ≤ 0): such a statistic reads better on a log axis."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size and (v > 0).all() and np.log10(v.max() / v.min()) > decades)


def regime_strip(regime: xr.DataArray, *, epoch=None, ax=None):
    """The damping regime per (epoch, layer) as a coloured strip, ``epoch`` marked.

    Parameters
    ----------
    regime : DataArray (epoch, layer) of str
        "underdamped" | "critical" | "overdamped" (anything else is drawn blank).
    epoch : int, optional
        Marked with a vertical line (gid ``"selection"``).
    """
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = _ax(ax)
    d = regime.transpose("layer", "epoch")
    codes = np.full(d.shape, np.nan)
    for i, name in enumerate(REGIMES):
        codes[np.char.strip(d.values.astype(str)) == name] = i
    epochs = d["epoch"].values
    ax.pcolormesh(epochs, np.arange(d.sizes["layer"]), codes, shading="nearest",
                  cmap=ListedColormap(REGIME_COLORS), vmin=-0.5, vmax=2.5,
                  edgecolors="w", linewidth=0.5, gid="regime")
    ax.set_yticks(range(d.sizes["layer"]), [str(v) for v in d["layer"].values])
    ax.invert_yaxis()
    epoch_axis(ax)
    ax.set_xlim(epochs.min() - 0.5, epochs.max() + 0.5)
    if epoch is not None:
        ax.axvline(epoch, color="k", lw=2.0, zorder=5, gid=SELECTION_GID)
    handles = [Patch(color=c, label=n) for c, n in zip(REGIME_COLORS, REGIMES, strict=True)]
    ax.legend(handles=handles,
              fontsize="x-small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3,
              frameon=False, borderaxespad=0.2)
    return ax


def layer_bars(da: xr.DataArray, *, limits=None, log: bool = False, ref: float | None = None,
               ax=None, gid: str = "bars"):
    """One bar per layer (gid ``gid``; update with :func:`set_bars`), optional reference
    line at ``ref`` (gid ``"reference"``), fixed y ``limits`` so bars compare across epochs."""
    ax = _ax(ax)
    names = [str(v) for v in da["layer"].values]
    bottom = limits[0] if (log and limits is not None) else 0
    bars = ax.bar(names, [1.0] * len(names), bottom=bottom, color="C0", gid=gid)
    for b in bars:
        b.set_gid(gid)
    set_bars(ax, da.values, gid=gid)
    if log:
        ax.set_yscale("log")
    if limits is not None:
        ax.set_ylim(*limits)
    if ref is not None:
        ax.axhline(ref, color="k", lw=0.8, ls=":", gid="reference")
    ax.set_ylabel(label_of(da))
    return ax


def set_bars(ax, heights, *, gid: str = "bars", colors=None) -> None:
    """Set the heights (tops, on a log axis) of the bars tagged ``gid``."""
    import numpy as np

    bars = [p for p in ax.patches if p.get_gid() == gid]
    for i, (b, h) in enumerate(zip(bars, np.asarray(heights, dtype=float), strict=True)):
        b.set_height((h - b.get_y()) if np.isfinite(h) else 0.0)
        if colors is not None:
            b.set_facecolor(colors[i])


def bar_heights(ax, gid: str = "bars"):
    """The values the bars tagged ``gid`` show (their tops)."""
    return [p.get_y() + p.get_height() for p in ax.patches if p.get_gid() == gid]


def padded_limits(values, *, log: bool = False, include=(), zero: bool = False):
    """Axis limits that hold every finite value (and ``include``) with a margin; ``zero``
    keeps 0 in a positive range (bars)."""
    import numpy as np

    v = np.concatenate([np.ravel(np.asarray(values, dtype=float)), np.asarray(include, float)])
    v = v[np.isfinite(v) & ((v > 0) if log else True)]
    if not v.size:
        return (0.1, 10.0) if log else (0.0, 1.0)
    lo, hi = v.min(), v.max()
    if log:
        return lo / 1.6, hi * 1.6
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
    return (0.0 if (zero and lo >= 0) else lo - pad), hi + pad


def log_bins(values, n: int = 30):
    """Logarithmically spaced bin edges over the positive finite ``values``."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return np.geomspace(1e-3, 1.0, n + 1)
    lo, hi = v.min(), v.max()
    hi = hi * 1.0001 if hi > lo else lo * 10
    return np.geomspace(lo, hi, n + 1)


def esd_density(eigenvalues, bins):
    """Density of ``eigenvalues`` (NaNs dropped) over ``bins``: counts / (n · bin width).

    Notes
    -----
    :math:`\\rho(\\lambda) = \\#\\{\\lambda_i \\in [b_k, b_{k+1})\\} / (n (b_{k+1} - b_k))`,
    so the density integrates to one over the bins.
    """
    import numpy as np

    v = np.asarray(eigenvalues, dtype=float)
    v = v[np.isfinite(v)]
    counts, _ = np.histogram(v, bins=bins)
    return counts / max(len(v), 1) / np.diff(bins)


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


# -- any /analysis group: the generic picture (a user's analysis with no view of its own) ------

def _at_epoch(da: xr.DataArray, epoch) -> xr.DataArray:
    """``da`` at the epoch nearest ``epoch`` (the first epoch when ``epoch`` is None)."""
    if epoch is None:
        return da.isel(epoch=0)
    return da.sel(epoch=epoch, method="nearest")


def _other_dim(da: xr.DataArray) -> str | None:
    rest = [d for d in da.dims if d not in ("epoch", "layer")]
    return rest[0] if rest else None


def _positions(da: xr.DataArray, dim: str):
    """The values to plot ``dim`` at: its numeric coord, else 0, 1, 2…"""
    import numpy as np

    if dim in da.coords and np.asarray(da[dim].values).dtype.kind in "iuf":
        return np.asarray(da[dim].values, dtype=float)
    return np.arange(da.sizes[dim], dtype=float)


def generic_epochs(da: xr.DataArray, *, epoch=None, layer=None, fig=None) -> dict:
    """Any per-epoch variable, drawn by its dims (no view code needed).

    - ``(epoch,)``: a line over epochs, the selected epoch marked (gid ``"selection"``)
      and its value as a point (gid ``"selected"``);
    - ``(epoch, layer)``: a line per layer over epochs (``layer`` bold) beside one bar per
      layer holding the selected epoch's values (gid ``"bars"``, fixed limits);
    - ``(epoch, layer, x)``: a heat map of (layer, x) at the selected epoch (fixed colour
      limits over all epochs) beside ``layer``'s profile over x;
    - ``(epoch, x)``: the profile over x at the selected epoch.

    Parameters
    ----------
    da : DataArray
        One variable of an /analysis group, numeric, with an ``epoch`` dim, at most one dim
        besides ``epoch`` and ``layer``.
    epoch, layer : optional
        The selection (the nearest epoch; an unknown layer means the first).
    fig : Figure, optional

    Returns
    -------
    dict
        Handles for :func:`set_generic_epochs`: ``"kind"``, ``"axes"``, ``"dynamic"`` (the
        artists that change with the selection) and the artists by role.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.arange(6.0).reshape(3, 2), dims=("epoch", "layer"),
    ...                   coords={"epoch": [0, 1, 2], "layer": ["a", "b"]}, name="v")
    >>> h = generic_epochs(da, epoch=1)
    >>> [float(v) for v in bar_heights(h["axes"][1])]
    [2.0, 3.0]
    """
    import numpy as np

    if "epoch" not in da.dims or da.ndim > 3 or da.sizes["epoch"] < 1:
        raise ValueError(f"generic_epochs() needs a variable with an 'epoch' dim (at least "
                         f"one epoch) and at most 3 dims; got {dict(da.sizes)}")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(8, 3.4), layout="constrained")
    da = da.astype(float)
    other = _other_dim(da)
    has_layer = "layer" in da.dims
    if da.ndim - has_layer - (other is not None) != 1:
        raise ValueError(f"generic_epochs() draws (epoch,), (epoch, layer), (epoch, x) or "
                         f"(epoch, layer, x); got dims {da.dims}")
    epochs = _positions(da, "epoch")
    label = label_of(da)
    h: dict = {"kind": ("epoch",) + (("layer",) if has_layer else ()) + ((other,) if other
                                                                         else ())}
    values = np.asarray(da.values, dtype=float)
    log = spans_decades(values)
    if not has_layer and other is None:
        ax = fig.subplots()
        ax.plot(epochs, values, marker="o", ms=3, color="C0")
        h["marker"] = epoch_marker(ax, epochs[0])
        (h["point"],) = ax.plot([epochs[0]], [values[0]], "o", color="C3", ms=7,
                                gid=SELECTED_GID, zorder=6)
        ax.set_ylabel(label)
        ax.set_ylim(*padded_limits(values, log=log))
        if log:
            ax.set_yscale("log")
        epoch_axis(ax, epochs)
        h["axes"] = (ax,)
        h["dynamic"] = [h["marker"], h["point"], ax.title]
    elif other is None:
        left, right = fig.subplots(1, 2, width_ratios=(3, 2))
        names = [str(v) for v in da["layer"].values]
        h["lines"] = {}
        for name in names:
            (h["lines"][name],) = left.plot(epochs, da.sel(layer=name).values, marker="o",
                                            ms=2, label=name)
        left.set_ylabel(label)
        if log:
            left.set_yscale("log")
        epoch_axis(left, epochs)
        if len(names) <= 12:
            left.legend(fontsize="x-small", title="layer", title_fontsize="x-small")
        h["marker"] = epoch_marker(left, epochs[0])
        layer_bars(_at_epoch(da, None), limits=padded_limits(values, log=log, zero=not log),
                   log=log, ax=right)
        right.tick_params(axis="x", labelrotation=45, labelsize="x-small")
        h["bars"] = [p for p in right.patches if p.get_gid() == "bars"]
        h["axes"] = (left, right)
        h["dynamic"] = [h["marker"], *h["bars"], right.title]
    else:
        grid = fig.subplots(1, 2 if has_layer else 1, squeeze=False)[0]
        xs = _positions(da, other)
        finite = values[np.isfinite(values)]
        if has_layer:
            ax = grid[0]
            first = _at_epoch(da, None).transpose("layer", other)
            diverging = bool(finite.size and finite.min() < 0 < finite.max())
            lim = float(np.abs(finite).max()) if finite.size else 1.0
            vmin, vmax = ((-lim, lim) if diverging else
                          ((float(finite.min()), float(finite.max())) if finite.size
                           else (0.0, 1.0)))
            h["image"] = ax.imshow(first.values, aspect="auto", interpolation="nearest",
                                   cmap="RdBu_r" if diverging else "viridis", vmin=vmin,
                                   vmax=vmax, gid="image")
            ax.set_yticks(range(first.sizes["layer"]), [str(v) for v in first["layer"].values],
                          fontsize="x-small")
            ax.set_xlabel(other)
            ax.figure.colorbar(h["image"], ax=ax, label=label)
            prof = grid[1]
        else:
            prof = grid[0]
        (h["profile"],) = prof.plot(xs, np.full(xs.shape, np.nan), marker="o", ms=2,
                                    color="C0", gid=SELECTED_GID)
        prof.set_xlim(*padded_limits(xs))
        prof.set_ylim(*padded_limits(values, log=log))
        if log:
            prof.set_yscale("log")
        prof.set_xlabel(label_of(da[other]) if other in da.coords else other)
        prof.set_ylabel(label)
        h["axes"] = tuple(grid)
        h["dynamic"] = [a for a in (h.get("image"), h["profile"]) if a is not None]
        h["dynamic"] += [ax.title for ax in grid]
    set_generic_epochs(h, da, epoch=epoch, layer=layer)
    return h


def set_generic_epochs(handles: dict, da: xr.DataArray, *, epoch=None, layer=None) -> bool:
    """Show the selection on a :func:`generic_epochs` picture, in place.

    Returns True when the lines' styles changed (another layer is bold), so the caller's
    cached background is out of date.
    """
    import numpy as np

    da = da.astype(float)
    at = _at_epoch(da, epoch)
    e = float(at["epoch"].values) if "epoch" in at.coords else 0.0
    names = [str(v) for v in da["layer"].values] if "layer" in da.dims else []
    chosen = layer if layer in names else (names[0] if names else None)
    restyled = False
    if "marker" in handles:
        handles["marker"].set_xdata([e, e])
    kind = handles["kind"]
    name = str(da.name or "")
    if kind == ("epoch",):
        v = float(at.values)
        handles["point"].set_data([e], [v])
        handles["axes"][0].set_title(f"{name} · epoch {e:g}: {v:.4g}", fontsize="medium")
    elif len(kind) == 2 and kind[1] == "layer":
        set_bars(handles["axes"][1], at.values,
                 colors=["C3" if n == chosen else "C0" for n in names])
        if handles.get("bold") != chosen:
            for n, line in handles["lines"].items():
                line.set_linewidth(2.4 if n == chosen else 1.0)
                line.set_alpha(1.0 if n == chosen else 0.45)
            restyled = "bold" in handles
            handles["bold"] = chosen
        handles["axes"][1].set_title(f"epoch {e:g} · {chosen}: "
                                     f"{float(at.sel(layer=chosen).values):.4g}",
                                     fontsize="medium")
    else:
        other = kind[-1]
        if "image" in handles:
            handles["image"].set_data(np.asarray(at.transpose("layer", other).values, float))
            handles["axes"][0].set_title(f"{name} · epoch {e:g}", fontsize="medium")
            handles["profile"].set_ydata(at.sel(layer=chosen).values)
            handles["axes"][1].set_title(f"{chosen}", fontsize="medium")
        else:
            handles["profile"].set_ydata(at.values)
            handles["axes"][0].set_title(f"{name} · epoch {e:g}", fontsize="medium")
    return restyled
