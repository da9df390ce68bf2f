"""The views of /analysis: after a selection change the drawn artists hold that epoch's
stored values (synthetic Datasets that follow the schema exactly)."""

import io

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from workbench import plots
from workbench.widgets import (
    DampingView,
    DynamicsView,
    Explorer,
    Selection,
    SeparationView,
    SpectraView,
)
from workbench.widgets.dynamics import window_signals

from .synthetic import LAYERS, damping_ds, dynamics_ds, layers_ds, separation_ds, spectra_ds, tree


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)


def moved(view, epoch):
    """Select ``epoch``; check the figure was updated in place (same Figure, same Axes)."""
    fig, axes, draws = view.fig, view.axes, view.draws
    view.state.epoch = epoch
    assert view.fig is fig and view.axes == axes and view.draws == draws + 1
    assert np.isfinite(view.last_ms) and view.last_ms > 0


# -- damping --------------------------------------------------------------------------------

@pytest.mark.parametrize("epoch", [2, 1, 0])
def test_damping_view_holds_the_selected_epochs_values(epoch):
    ds = damping_ds()
    view = DampingView(ds)
    moved(view, epoch) if epoch != view.state.epoch else view.state.epoch
    ax_s, ax_z, ax_m = view.axes
    at = ds.sel(epoch=epoch)
    assert_allclose(plots.bar_heights(ax_z), at.damping_ratio.values)
    assert_allclose(plots.artist(view._twins[0], "curvature").get_ydata(), at.curvature.values)
    for ax in (ax_s, ax_m):
        assert_allclose(plots.artist(ax, plots.SELECTION_GID).get_xdata(), [epoch, epoch])
    assert f"epoch {epoch}" in ax_z.get_title()
    # the caption leads with the answer from the measured curvature: the stiffest group's
    # regime (smallest zeta), then each group's; the paper's convention comes second
    cap = view.caption.value
    zeta = at.damping_ratio.values

    def word(z):
        return "underdamped" if z < 0.95 else ("overdamped" if z > 1.05 else "critical")

    lead, paper = cap.split("the paper's convention")
    assert f"<b>{word(zeta.min())}</b>: its stiffest group, {LAYERS[int(zeta.argmin())]}," in lead
    assert all(f"{k} <b>{word(z)}</b>" in lead for k, z in zip(LAYERS, zeta, strict=True))
    assert str(at.network_regime.values) in paper and str(at.network_regime.values) != ""
    assert "agrees" not in cap and "update cosine (measured, not a verdict" in lead


def test_damping_regime_strip_codes_every_epoch_and_layer():
    ds = damping_ds()
    view = DampingView(ds)
    mesh = plots.artist(view.axes[0], "regime")
    codes = np.asarray(mesh.get_array()).reshape(len(LAYERS), ds.sizes["epoch"])
    expected = np.vectorize(plots.REGIMES.index)(ds.regime.transpose("layer", "epoch").values)
    assert_array_equal(codes, expected)
    # integer epoch ticks
    assert all(float(t).is_integer() for t in view.axes[2].get_xticks())


def test_damping_view_names_a_missing_variable():
    with pytest.raises(ValueError, match=r"missing \['curvature'\]"):
        DampingView(damping_ds().drop_vars("curvature"))
    with pytest.raises(TypeError, match="xarray.Dataset"):
        DampingView(damping_ds().damping_ratio)


def test_in_place_render_equals_a_fresh_render():
    """Blitting the dynamic artists on the cached background gives the picture a view drawn
    from scratch at that epoch gives."""
    ds = damping_ds()
    moving = DampingView(ds)
    moving.state.epoch = 2
    fresh = DampingView(ds, Selection(epoch=2))
    a, b = pixels(moving.png), pixels(fresh.png)
    assert a.shape == b.shape
    assert (np.abs(a - b).max(-1) > 40).mean() < 0.002
    assert moving.png != DampingView(ds).png


# -- separation -----------------------------------------------------------------------------

def test_separation_view_draws_the_load_curve_and_law_of_the_epoch():
    ds = separation_ds()
    view = SeparationView(ds)
    for epoch in (1, 2, 0):
        moved(view, epoch)
        ax_l, ax_d = view.axes
        assert_allclose(plots.artist(ax_l, "load").get_xdata(), ds.depth.values)
        assert_allclose(plots.artist(ax_l, "load").get_ydata(),
                        ds.cumulative_load.sel(epoch=epoch).values)
        assert_allclose(plots.artist(ax_l, "law").get_ydata(), ds.linear_law.sel(epoch=epoch))
        assert_allclose(plots.artist(ax_d, plots.SELECTION_GID).get_xdata(), [epoch, epoch])
        dev = float(ds.linear_law_deviation.sel(epoch=epoch))
        assert f"{dev:.3g}" in view.caption.value


# -- spectra --------------------------------------------------------------------------------

def test_esd_density_and_tail_integrate_to_their_shares():
    rng = np.random.default_rng(3)
    ev = np.concatenate([rng.pareto(2.5, 500) + 1.0, [np.nan] * 20])
    bins = plots.log_bins(ev, 40)
    dens = plots.esd_density(ev, bins)
    assert_allclose((dens * np.diff(bins)).sum(), 1.0)           # a density over the bins
    x = np.geomspace(1.0, 1e7, 200_001)
    tail = plots.powerlaw_tail(x, alpha=2.5, xmin=1.0, fraction=0.4)
    assert_allclose(np.trapezoid(tail, x), 0.4, rtol=1e-3)       # ∫ f (α-1)/x_min (x/x_min)^-α
    assert np.isnan(plots.powerlaw_tail([0.5], alpha=2.5, xmin=1.0, fraction=1.0)).all()


def test_spectra_view_shows_the_selected_layers_esd_and_fit():
    ds = spectra_ds()
    state = Selection()
    view = SpectraView(ds, state)
    for layer, epoch in (("conv1", 2), ("fc", 2), ("fc", 1)):
        state.layer = layer
        state.epoch = epoch
        ax_e, ax_a = view.axes
        ev = ds.eigenvalues.sel(epoch=epoch, layer=layer).values
        ev = ev[np.isfinite(ev)]
        allev = ds.eigenvalues.sel(layer=layer).values
        allev = allev[np.isfinite(allev)]
        bins = np.geomspace(allev.min(), allev.max() * 1.0001, view.n_bins + 1)
        counts, _ = np.histogram(ev, bins)                       # brute-force twin
        stairs = plots.artist(ax_e, "esd")
        values, edges = stairs.get_data().values, stairs.get_data().edges
        assert_allclose(edges, bins)
        assert_allclose(np.nan_to_num(values), counts / len(ev) / np.diff(bins))
        at = ds.sel(epoch=epoch, layer=layer)
        centres = np.sqrt(bins[1:] * bins[:-1])
        a, xm, f = float(at.alpha), float(at.xmin), float(at.n_tail) / len(ev)
        ref = np.where(centres >= xm, f * (a - 1) / xm * (centres / xm) ** -a, np.nan)
        assert_allclose(plots.artist(ax_e, "tail").get_ydata(), ref)
        assert_allclose(plots.artist(ax_e, "xmin").get_xdata(), [xm, xm])
        assert ax_e.get_xscale() == "log" and ax_e.get_yscale() == "log"
        bold = plots.artist(ax_a, plots.SELECTED_GID)
        assert_allclose(bold.get_ydata(), ds.alpha.sel(layer=layer).values)
        assert_allclose(plots.artist(ax_a, plots.SELECTION_GID).get_xdata(), [epoch, epoch])


# -- dynamics -------------------------------------------------------------------------------

def test_window_signals_is_a_z_score_over_each_window():
    sig = layers_ds(30).signal
    dyn = dynamics_ds()
    win = window_signals(sig, dyn.signal_step)
    for e in dyn.epoch.values:
        steps = dyn.signal_step.sel(epoch=e).values
        valid = steps >= 0
        for k in LAYERS:
            x = sig.sel(layer=k, step=steps[valid]).values
            assert_allclose(win.sel(epoch=e, layer=k).values[valid], (x - x.mean()) / x.std())
            assert np.isnan(win.sel(epoch=e, layer=k).values[~valid]).all()


def test_dynamics_view_holds_the_window_fit_and_trajectory_of_the_epoch():
    t = tree(analysis=True)
    ds = t["analysis"]["dynamics"].to_dataset()
    state = Selection()
    view = DynamicsView(ds, t["layers"]["signal"], t["epochs"].to_dataset(), state)
    win = window_signals(t["layers"]["signal"], ds.signal_step)
    for layer, epoch in (("conv2", 1), ("fc", 2), ("fc", 0)):
        state.layer, state.epoch = layer, epoch
        ax_sig, ax_r, ax_dfa, ax_pl, ax_st = view.axes
        at = ds.sel(epoch=epoch)
        k = LAYERS.index(layer)
        # 0.3 per z unit, less where a z-score would leave its row (|z| > 1.5)
        w = win.sel(epoch=epoch).values
        gain = min(0.3, 0.45 / np.nanmax(np.abs(w)))
        assert_allclose(plots.artist(ax_sig, f"signal:{layer}").get_ydata(),
                        k - gain * win.sel(epoch=epoch, layer=layer).values)
        assert_allclose(plots.artist(ax_r, "R").get_ydata(), at.R.values)
        band = plots.artist(ax_r, "band")
        m, s = float(at.synchrony), float(at.metastability)
        assert_allclose([band.get_y(), band.get_y() + band.get_height()], [m - s, m + s])
        # DFA: the fit line passes through F(n) (the synthetic F is exactly e^c n^α)
        fit = plots.artist(ax_dfa, "fit").get_ydata()
        assert_allclose(fit, at.fluctuation.sel(layer=layer).values)
        assert_allclose(plots.artist(ax_dfa, "F").get_ydata(),
                        at.fluctuation.sel(layer=layer).values)
        n = epoch + 1
        tx, ty = plots.artist(ax_pl, "trajectory").get_data()
        assert_allclose(tx, ds.integration.values[:n])
        assert_allclose(ty, ds.metastability.values[:n])
        assert_allclose(plots.artist(ax_st, plots.SELECTION_GID).get_xdata(), [epoch, epoch])
        early = float(at.early_convergence_epoch)
        assert_allclose(plots.artist(ax_st, "early").get_xdata(), [early, early])


def test_dynamics_cursor_follows_the_selected_step_inside_the_window():
    t = tree(analysis=True)
    ds = t["analysis"]["dynamics"].to_dataset()
    state = Selection()
    view = DynamicsView(ds, None, None, state)
    state.epoch = 2
    steps = ds.signal_step.sel(epoch=2).values
    state.step = int(steps[5])
    assert_allclose(plots.artist(view.axes[1], "cursor").get_xdata(), [5, 5])
    state.step = 0                                  # outside the window: its end
    last = int(np.flatnonzero(steps >= 0)[-1])
    assert_allclose(plots.artist(view.axes[1], "cursor").get_xdata(), [last, last])


# -- the explorer with analyses -------------------------------------------------------------

def test_explorer_has_a_tab_per_analysis_and_repaints_only_the_shown_one():
    app = Explorer(tree(analysis=True), tab="damping")
    assert list(app.views) == ["training", "layers", "probe", "damping", "dynamics",
                               "separation", "spectra"]
    assert app.tabs.selected_index == 3
    hidden = app.views["dynamics"]
    assert hidden.fig is None and hidden.draws == 0       # never drawn while hidden
    shown = app.views["damping"]
    draws = shown.draws
    shown.controls["epoch"].value = 2
    assert shown.draws == draws + 1 and hidden.draws == 0
    assert_allclose(plots.bar_heights(shown.axes[1]),
                    app.tree["analysis"]["damping"]["damping_ratio"].sel(epoch=2).values)
    app.tabs.selected_index = 4
    assert hidden.draws == 1
    assert_allclose(plots.artist(hidden.axes[1], "R").get_ydata(),
                    app.tree["analysis"]["dynamics"]["R"].sel(epoch=2).values)
    with pytest.raises(ValueError, match="no tab 'forces'"):
        Explorer(tree(), tab="forces")


def test_analysis_groups_without_epochs_get_no_tab():
    t = tree(analysis=True)
    empty = separation_ds().isel(epoch=slice(0, 0))
    app = Explorer(t, analyses={"separation": empty, "damping": damping_ds()})
    assert "separation" not in app.views and "damping" in app.views
    assert isinstance(app.views["damping"].data, xr.Dataset)


def test_damping_view_of_an_adam_run_says_it_shows_the_heavy_ball_analogy():
    sgd = DampingView(damping_ds())
    adam = DampingView(damping_ds().assign_attrs(optimizer_kind="adam"))
    assert "analogy" not in sgd.caption.value
    assert "heavy-ball analogy" in adam.caption.value and "β₁" in adam.caption.value
