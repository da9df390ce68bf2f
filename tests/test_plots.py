import numpy as np
import pytest
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


def test_esd_draws_density_and_the_fitted_tail():

    u = np.random.default_rng(0).uniform(size=2000)
    x = (1 - u) ** (-1 / 2.0)  # Pareto alpha = 3, x_min = 1: the whole sample is the tail
    ev = xr.DataArray(np.r_[x, np.nan, np.nan], dims="eigenvalue",
                      attrs={"long_name": "eigenvalue of WᵀW/N"})
    ax = Figure().subplots()
    plots.esd(ev, alpha=3.0, xmin=1.0, ax=ax)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "eigenvalue of WᵀW/N"
    hist = [p for p in ax.patches if p.get_gid() == "esd"]
    tail = [line for line in ax.get_lines() if line.get_gid() == "esd-tail"][0]
    assert len(hist) == 1
    gx, gy = tail.get_data()
    assert_allclose(gy, 2.0 * gx ** -3.0, rtol=1e-12)  # (alpha - 1) / x_min (x / x_min)^-alpha
    # the histogram's density follows the same law where counts are large
    edges = np.geomspace(x.min(), x.max() * (1 + 1e-12), int(2 * np.sqrt(x.size)) + 1)
    counts, _ = np.histogram(x, edges)
    dens = counts / (x.size * np.diff(edges))
    mid = np.sqrt(edges[:-1] * edges[1:])
    big = counts > 100
    assert_allclose(dens[big], 2.0 * mid[big] ** -3.0, rtol=0.25)
    with pytest.raises(ValueError, match="one spectrum"):
        plots.esd(xr.DataArray(np.ones((2, 3)), dims=("layer", "eigenvalue")))


def test_alpha_over_epochs_one_line_per_layer():

    a = xr.DataArray(np.array([[3.0, 5.0, 7.0], [2.5, 4.0, 6.5]]), dims=("epoch", "layer"),
                     coords={"epoch": [0, 1], "layer": ["conv1", "fc1", "fc2"]})
    ax = plots.alpha_over_epochs(a, ax=Figure().subplots())
    # one labelled line per layer (its markers are separate, unlabelled lines)
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["conv1", "fc1", "fc2"]
    assert lines[1].get_ydata().tolist() == [5.0, 4.0]
    with pytest.raises(ValueError, match="needs dims \\('epoch', 'layer'\\)"):
        plots.alpha_over_epochs(a.isel(epoch=0))
