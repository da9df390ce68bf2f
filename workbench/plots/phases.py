"""Grokking phases shaded behind any epoch (or step) axis.

The phases come from :func:`workbench.diagnostics.grokking_phases` (one label per commit
point); this module only draws them. A view calls :func:`shade` once, when it builds its
figure: the spans are static, so a slider move costs nothing more.
"""

from __future__ import annotations

import numpy as np

#: The shaded phases and their colours (the "transition" and "unknown" points stay clear).
PHASE_COLORS = {"memorising": "#f2c14e", "plateau": "#9e9e9e", "generalising": "#5fb55f"}
#: The gid of every shading patch (tests and views find them by it).
PHASE_GID = "phase"


def spans(phases) -> list[tuple[str, float, float]]:
    """``(phase, x0, x1)`` for each run of equal shaded labels along ``phases``' one dim.

    A run of points ``i..j`` spans from halfway to the previous point to halfway to the next
    one (half the neighbouring gap at either end; ±0.5 for a single point), so adjacent
    phases meet without a gap and each point sits inside its own phase's span.

    Examples
    --------
    >>> import xarray as xr
    >>> ph = xr.DataArray(["memorising", "plateau", "plateau", "generalising"], dims="epoch",
    ...                   coords={"epoch": [0, 10, 20, 30]})
    >>> spans(ph)
    [('memorising', -5.0, 5.0), ('plateau', 5.0, 25.0), ('generalising', 25.0, 35.0)]
    """
    (dim,) = phases.dims
    x = (np.asarray(phases[dim].values, dtype=float) if dim in phases.coords
         else np.arange(phases.sizes[dim], dtype=float))
    labels = np.asarray(phases.values).astype(str)
    if x.size == 0:
        return []
    gaps = np.diff(x) if x.size > 1 else np.array([1.0])
    left = np.concatenate([[x[0] - gaps[0] / 2], (x[:-1] + x[1:]) / 2])
    right = np.concatenate([(x[:-1] + x[1:]) / 2, [x[-1] + gaps[-1] / 2]])
    out, i = [], 0
    while i < x.size:
        j = i
        while j + 1 < x.size and labels[j + 1] == labels[i]:
            j += 1
        if labels[i] in PHASE_COLORS:
            out.append((str(labels[i]), float(left[i]), float(right[j])))
        i = j + 1
    return out


def shade(ax, phases, *, alpha: float = 0.15) -> list:
    """Shade the memorising, plateau and generalising spans of ``phases`` behind ``ax``.

    Parameters
    ----------
    ax : matplotlib Axes
        Its x-axis is ``phases``' dim (epoch, or step for phases mapped onto steps).
    phases : xarray.DataArray or None
        Labels over one dim, from :func:`~workbench.diagnostics.grokking_phases`. None (or
        a run that did not grok: ``attrs["grokked"]`` False) shades nothing.
    alpha : float

    Returns
    -------
    list of matplotlib.patches.Polygon
        One patch per span (gid ``"phase"``, label the phase), under the data (zorder 0);
        the x-limits are left as they were.
    """
    if phases is None or not phases.attrs.get("grokked", False):
        return []
    lim, auto = ax.get_xlim(), ax.get_autoscalex_on()
    out = [ax.axvspan(x0, x1, color=PHASE_COLORS[name], alpha=alpha, lw=0, zorder=0,
                      gid=PHASE_GID, label=f"_{name}")
           for name, x0, x1 in spans(phases)]
    ax.set_xlim(lim)
    ax.set_autoscalex_on(auto)
    return out


__all__ = ["PHASE_COLORS", "PHASE_GID", "shade", "spans"]
