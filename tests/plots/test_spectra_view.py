"""Honest fits: α from a tail of fewer than 10 eigenvalues is drawn hollow and called
"tail too short"; the ESD axis has ticks to read."""

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from workbench import plots
from workbench.diagnostics import powerlaw_alpha
from workbench.diagnostics.powerlaw import MIN_RELIABLE_TAIL, tail_too_short
from workbench.plots import style
from workbench.plots.placement import collisions
from workbench.widgets import Selection
from workbench.widgets.spectra import SpectraView


def spectra(n_tail_fc: int):
    """Two layers, two epochs; layer "fc" at epoch 1 has a tail of ``n_tail_fc``."""
    rng = np.random.default_rng(0)
    ev = np.sort(rng.pareto(2.0, (2, 2, 60)) + 1.0, axis=-1)
    fit = powerlaw_alpha(xr.DataArray(ev, dims=("epoch", "layer", "eigenvalue")))
    n_tail = fit["n_tail"].values.copy()
    n_tail[1, 1] = n_tail_fc
    return xr.Dataset(
        {"alpha": (("epoch", "layer"), fit["alpha"].values, {"long_name": "α"}),
         "xmin": (("epoch", "layer"), fit["xmin"].values),
         "ks_distance": (("epoch", "layer"), fit["ks_distance"].values),
         "n_tail": (("epoch", "layer"), n_tail),
         "eigenvalues": (("epoch", "layer", "eigenvalue"), ev)},
        coords={"epoch": [0, 1], "layer": ["conv", "fc"], "eigenvalue": np.arange(60)})


def test_the_threshold_is_ten_eigenvalues():
    assert MIN_RELIABLE_TAIL == 10
    assert tail_too_short(xr.DataArray([0, 7, 9, 10, 40])).values.tolist() == \
        [True, True, True, False, False]


def test_a_tail_of_seven_is_hollow_and_labelled_in_the_view():
    ds = spectra(7)
    assert not tail_too_short(ds["n_tail"]).values[0].any()      # only (1, fc) is short
    state = Selection()
    view = SpectraView(ds, state)
    state.layer, state.epoch = "fc", 1
    _, ax_a = view.axes
    hollow = [ln for ln in ax_a.get_lines() if ln.get_gid() == "short-tail"]
    assert len(hollow) == 1
    assert hollow[0].get_xydata().tolist() == [[1.0, float(ds.alpha.sel(epoch=1, layer="fc"))]]
    assert hollow[0].get_markerfacecolor() == "white"
    legend = [t.get_text() for t in ax_a.get_legend().get_texts()]
    assert "tail too short\n(< 10 eigenvalues)" in legend
    fit = plots.artist(view.axes[0], "fit").get_text()
    assert "(tail too short: 7 eigenvalues)" in fit
    state.epoch = 0                                                # a long tail: no warning
    assert "too short" not in plots.artist(view.axes[0], "fit").get_text()
    with style.context():
        assert collisions(view.fig) == []


def test_long_tails_draw_no_hollow_marker_and_no_legend_entry():
    view = SpectraView(spectra(25), Selection())
    _, ax_a = view.axes
    assert not [ln for ln in ax_a.get_lines() if ln.get_gid() == "short-tail"]
    assert not any("too short" in t.get_text() for t in ax_a.get_legend().get_texts())


def test_esd_axis_has_several_labelled_ticks():
    for lo, hi in ((1.0, 3.0), (0.8, 40.0), (1e-3, 5e2)):
        ev = xr.DataArray(np.geomspace(lo, hi, 50), dims="eigenvalue")
        ax = plots.esd(ev, alpha=3.0, xmin=lo * 1.5, ax=Figure().subplots())
        ticks = [v for v in ax.get_xticks() if lo <= v <= hi]
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert 2 <= len(ticks) <= 6 and len(labels) == len(ax.get_xticks()), (lo, hi)
    # an ESD from a short tail says so in its legend
    ev = xr.DataArray(np.geomspace(1.0, 10.0, 40), dims="eigenvalue")
    ax = plots.esd(ev, alpha=4.0, xmin=7.0, ax=Figure().subplots())
    n = int((ev >= 7.0).sum())
    assert n < 10
    assert any(f"tail too short: {n} eigenvalues" in t.get_text()
               for t in ax.get_legend().get_texts())


def test_alpha_over_epochs_marks_short_tails_hollow():
    a = xr.DataArray([[3.0, 6.3], [3.1, 5.0]], dims=("epoch", "layer"),
                     coords={"epoch": [0, 1], "layer": ["conv2", "fc1"]})
    n = xr.DataArray([[30, 7], [30, 12]], dims=("epoch", "layer"), coords=a.coords)
    ax = plots.alpha_over_epochs(a, n_tail=n, ax=Figure().subplots())
    hollow = [ln for ln in ax.get_lines() if ln.get_gid() == "short-tail"]
    assert [ln.get_xydata().tolist() for ln in hollow] == [[[0.0, 6.3]]]
