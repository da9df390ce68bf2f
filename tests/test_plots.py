import numpy as np
import xarray as xr
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from numpy.testing import assert_allclose

from workbench import plots


def test_bars_highlight_flagged_layers():
    da = xr.DataArray([0.5, 2.0, -1.0], dims="layer", coords={"layer": ["a", "b", "c"]},
                      attrs={"long_name": "log ratio", "units": "1"})
    flag = xr.DataArray([False, True, False], dims="layer", coords={"layer": ["a", "b", "c"]})
    ax = plots.bars(da, highlight=flag, ax=Figure().subplots())
    assert [p.get_height() for p in ax.patches] == [0.5, 2.0, -1.0]
    assert [p.get_facecolor() == to_rgba("C3") for p in ax.patches] == [False, True, False]
    assert ax.get_ylabel() == "log ratio"            # dimensionless: no "[1]"


def test_image_grid_draws_each_image_and_hides_spare_axes():
    imgs = xr.DataArray(np.arange(3 * 2 * 4 * 4, dtype=float).reshape(3, 2, 4, 4) - 40,
                        dims=("sample", "channel", "y", "x"), coords={"sample": [5, 6, 7]})
    axes = plots.image_grid(imgs, ncols=2, symmetric=True, fig=Figure())
    assert len(axes) == 4 and len(axes[3].images) == 0
    assert_allclose(axes[1].images[0].get_array(), imgs.sel(sample=6).mean("channel"))
    lo, hi = axes[1].images[0].get_clim()
    assert lo == -hi
    assert axes[2].get_title() == "7"


def test_sample_image_accepts_row_col_or_y_x():
    pix = np.random.default_rng(0).normal(size=(4, 4))
    for dims in (("row", "col"), ("y", "x")):
        ax = plots.sample_image(xr.DataArray(pix, dims=dims), ax=Figure().subplots())
        assert_allclose(ax.images[0].get_array(), pix)


def test_heatmap_of_both_signs_is_diverging_and_centred_at_zero():
    da = xr.DataArray([[-1.0, 3.0], [0.5, 2.0]], dims=("layer", "epoch"),
                      coords={"layer": ["a", "b"], "epoch": [0, 1]})
    ax = plots.heatmap(da, x="epoch", y="layer", ax=Figure().subplots())
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == "RdBu_r" and mesh.get_clim() == (-3.0, 3.0)
    pos = plots.heatmap(abs(da), x="epoch", y="layer", ax=Figure().subplots())
    assert pos.collections[0].get_cmap().name == "viridis"


def test_labels_are_mathtext_without_braces_or_dimensionless_units():
    da = xr.DataArray([1.0], dims="epoch", name="damping_ratio",
                      attrs={"long_name": r"damping ratio $\zeta$", "units": "1"})
    assert plots.label_of(da) == r"damping ratio $\zeta$"
    assert plots.label_of(da.assign_attrs(units="s")) == r"damping ratio $\zeta$ (s)"
    assert plots.label_of(xr.DataArray([1.0], dims="x", name="test_acc")) == "test acc"
