"""The plots package: every name of the former one-file module, and the families'
draw/update pairs against the data they were given."""

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure
from numpy.testing import assert_allclose

from workbench import plots

#: Every public name ``workbench/plots.py`` had before it became a package (the contract
#: notebooks, README and bench rely on).
FORMER = """NO_UNITS label_of lines heatmap accuracy_curves SELECTION_GID SELECTED_GID layer_stat
style_layers sample_image probe_sample probe_title training_curves bars image_grid
VERDICT_COLORS attribution_groups ratio_limits set_attribution_groups ig_gallery set_ig_gallery
fix_gallery forces_pull set_forces_pull delta_log_prob set_delta_log_prob class_paths
set_class_paths ntk_heatmap REGIMES REGIME_COLORS artist epoch_axis epoch_marker spans_decades
regime_strip layer_bars set_bars bar_heights padded_limits log_bins esd_density powerlaw_tail
esd alpha_over_epochs""".split()


@pytest.mark.parametrize("name", FORMER)
def test_every_former_name_is_still_importable(name):
    assert name in plots.__all__
    assert getattr(plots, name) is not None


def _separation(n_epochs=3):
    depth = np.arange(4)
    cum = np.array([[0.0, 0.2 + 0.1 * e, 0.7, 1.0] for e in range(n_epochs)])
    law = np.tile(depth / 3, (n_epochs, 1))
    return xr.Dataset(
        {"cumulative_load": (("epoch", "layer"), cum),
         "linear_law": (("epoch", "layer"), law),
         "linear_law_deviation": ("epoch", np.sqrt(((cum - law) ** 2).mean(1)))},
        coords={"epoch": np.arange(n_epochs), "layer": list("abcd"),
                "depth": ("layer", depth)})


def test_separation_draw_and_update_show_the_epochs_curve():
    ds = _separation()
    h = plots.separation.draw(ds, Figure().subplots(1, 2), epoch=0)
    assert_allclose(h["load"].get_xdata(), ds.depth.values)
    for e in (2, 1):
        plots.separation.update(h, ds.sel(epoch=e))
        assert_allclose(h["load"].get_ydata(), ds.cumulative_load.sel(epoch=e).values)
        assert_allclose(h["law"].get_ydata(), ds.linear_law.sel(epoch=e).values)
        assert_allclose(h["selection"].get_xdata(), [e, e])


def test_esd_draws_the_density_of_its_own_bins():
    """plots.esd and the spectra view share one density: counts / (n · bin width)."""
    rng = np.random.default_rng(0)
    x = rng.pareto(2.0, 300) + 1.0
    ax = plots.esd(xr.DataArray(x, dims="eigenvalue"), ax=Figure().subplots(), bins=12)
    stairs = plots.artist(ax, "esd")
    edges = stairs.get_data().edges
    counts, _ = np.histogram(x, edges)                                # brute force
    assert_allclose(np.nan_to_num(stairs.get_data().values), counts / 300 / np.diff(edges))
    assert_allclose((np.nan_to_num(stairs.get_data().values) * np.diff(edges)).sum(), 1.0)


def test_generic_update_follows_the_epoch_and_layer():
    da = xr.DataArray(np.arange(12.0).reshape(4, 3), dims=("epoch", "layer"), name="v",
                      coords={"epoch": np.arange(4), "layer": ["a", "b", "c"]})
    h = plots.generic.draw(da, epoch=0, layer="b", fig=Figure())
    for e, layer in ((3, "c"), (1, "a")):
        plots.generic.update(h, da, epoch=e, layer=layer)
        assert_allclose(plots.bar_heights(h["axes"][1]), da.sel(epoch=e).values)
        widths = {k: line.get_linewidth() for k, line in h["lines"].items()}
        assert max(widths, key=widths.get) == layer
