"""Misclassification attribution: per-group log-ratios, IG galleries, the fix gallery."""

from __future__ import annotations

import xarray as xr

from .base import as_texts, axes_or_new, class_name

#: Colour of each problematic-group verdict (the stored ``verdict`` of /analysis/attribution).
VERDICT_COLORS = {"problematic": "C3", "healthy": "C0", "inconclusive": "0.6"}


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

    ax = axes_or_new(ax)
    layers = as_texts(at["layer"].values)
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
    verdicts = as_texts(at["verdict"].values)
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
        true = class_name(classes, targets[i])
        pred = class_name(classes, predicted[i])
        ax.set_title(f"{samples[i]}\n{true}\n→ {pred}", fontsize="x-small")


def fix_gallery(status: xr.DataArray, images, *, pred_after=None, target=None, classes=None,
                n: int = 6, fig=None, title: str = "", fontsize: float = 9.0):
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
    fontsize : float
        Points of the image titles (sample, true class, "→ predicted" on three lines) and
        row labels; the figure title is one point larger.

    Returns
    -------
    Figure
    """
    import numpy as np

    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(1.2 * n, 3.0))
    axes = np.asarray(fig.subplots(2, n, squeeze=False))
    kinds = as_texts(status.values)
    for row, kind in enumerate(("fixed", "broken")):
        picked = [s for s, k in zip(status["sample"].values, kinds, strict=True) if k == kind]
        axes[row, 0].set_ylabel(f"{kind} ({len(picked)})", fontsize=fontsize)
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
                label += (f"\n{class_name(classes, target.sel(sample=s))}\n"
                          f"→ {class_name(classes, pred_after.sel(sample=s))}")
            ax.set_title(label, fontsize=fontsize)
    if title:
        fig.suptitle(title, fontsize=fontsize + 1)
    return fig


__all__ = ["VERDICT_COLORS", "attribution_groups", "ratio_limits", "set_attribution_groups",
           "ig_gallery", "set_ig_gallery", "fix_gallery"]
