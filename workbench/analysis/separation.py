"""``separation``: per (epoch, layer) separation fuzziness, load curve and the linear law.

From the recorded ``/features/<layer>`` (probe-set features, ``--features``), in the order
the run recorded them (its ``feature_layers``, shallow to deep), with the probe samples' true
labels (``target``). Per epoch (He & Su 2023; :mod:`workbench.diagnostics.separation`):

- ``fuzziness(layer)`` D = Tr(Σ_W Σ_B⁺) and ``log_fuzziness`` = log D;
- ``load(layer)`` = log D_{l-1} − log D_l (NaN for the first layer);
- ``cumulative_load(layer)``: the load curve (log D₀ − log D_l)/(log D₀ − log D_{L-1});
- ``linear_law(layer)`` = l/(L−1), the curve of equal load per layer;
- ``linear_law_deviation``: the RMS of the cumulative separation minus the law, relative to
  the total load moved (:func:`~workbench.diagnostics.separation.linear_law_deviation`; for
  a monotone curve, the RMS of the curve minus the law).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..diagnostics.separation import linear_law_deviation, load, load_curve, separation_by_layer
from ..dims import EPOCH, LAYER, SAMPLE
from .registry import register

FEATURES = "features"


def feature_layers(run) -> list[str]:
    """The layers with recorded features, shallow to deep (the run's ``feature_layers`` order)."""
    node = run.tree.get(FEATURES)
    if node is None:
        return []
    present = set(node.children)
    order = [n for n in run.config.feature_layers if n in present]
    return order + sorted(present - set(order))


def _requires(run) -> str | None:
    layers = feature_layers(run)
    if len(layers) < 2:
        return (f"separation needs recorded features of at least 2 layers (train with "
                f"--features conv1,conv2,...); the run has {layers or 'none'}")
    return None


def separation_of(features: dict[str, xr.DataArray], labels) -> xr.Dataset:
    """One epoch's separation from ``{layer: (sample, unit) features}`` in depth order.

    Notes
    -----
    :math:`D_l = \\mathrm{Tr}(\\Sigma_W \\Sigma_B^+)`, load :math:`\\log D_{l-1} - \\log D_l`,
    curve :math:`c_l = (\\log D_0 - \\log D_l)/(\\log D_0 - \\log D_{L-1})`, law
    :math:`l/(L-1)`, deviation :math:`\\sqrt{\\mathrm{mean}_l (s_l - s_{L-1} l/(L-1))^2} /
    \\sum_l |\\log D_{l-1} - \\log D_l|` with :math:`s_l = \\log D_0 - \\log D_l` (for a monotone
    curve :math:`\\sqrt{\\mathrm{mean}_l (c_l - l/(L-1))^2}`).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> f = {n: xr.DataArray(rng.normal(size=(30, u)), dims=("sample", "unit"))
    ...      for n, u in [("a", 8), ("b", 6), ("c", 4)]}
    >>> separation_of(f, np.arange(30) % 3).fuzziness.dims
    ('layer',)
    """
    fz = separation_by_layer(features, labels).load()
    names = list(features)
    n = len(names)
    ld = load(fz).reindex({LAYER: names})
    law = xr.DataArray(np.linspace(0.0, 1.0, n), dims=LAYER, coords={LAYER: names})
    ds = xr.Dataset({
        "fuzziness": fz.assign_attrs(long_name="separation fuzziness $D$", units=""),
        "log_fuzziness": np.log(fz).assign_attrs(long_name="$\\log D$", units="nats"),
        "load": ld.assign_attrs(long_name="layer load $\\log D_{l-1} - \\log D_l$",
                                units="nats"),
        "cumulative_load": load_curve(fz).assign_attrs(
            long_name="cumulative separation (load curve)", units=""),
        "linear_law": law.assign_attrs(long_name="linear law $l/(L-1)$", units=""),
        "linear_law_deviation": linear_law_deviation(fz).assign_attrs(
            long_name="relative RMS deviation from the linear law", units=""),
    })
    ds = ds.drop_vars([c for c in ds.coords if c not in (LAYER,)])
    return ds.assign_coords(depth=(LAYER, np.arange(n), {"long_name": "depth", "units": ""}))


def separation(run, epoch: int) -> xr.Dataset:
    """The ``separation`` analysis of ``run`` at ``epoch`` (see the module docstring)."""
    feats = {}
    labels = None
    for name in feature_layers(run):
        f = run.tree[FEATURES][name]["features"].sel({EPOCH: epoch}, drop=True).load()
        feats[name] = f.astype(np.float64)
        if labels is None:
            labels = f["target"].values
        elif not np.array_equal(f[SAMPLE].values, feats[next(iter(feats))][SAMPLE].values):
            raise ValueError(f"/features/{name} holds other samples than the first layer's")
    return separation_of(feats, labels)


__all__ = ["separation", "separation_of", "feature_layers"]


register("separation", compute=separation,
         description="separation fuzziness per layer, load curve and its "
                     "deviation from the linear law (recorded --features)",
         requires=("features", _requires),
         view="workbench.widgets.explorer:separation_tab")
