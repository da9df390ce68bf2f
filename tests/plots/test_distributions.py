"""The report's distributions (seaborn): every epoch's α per layer, short tails hollow;
every epoch's bootstrap flag frequency per group, coloured by its verdict."""

import numpy as np
import xarray as xr
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from workbench.plots import style
from workbench.plots.attribution import VERDICT_COLORS
from workbench.plots.distributions import alpha_by_layer, flag_frequencies


def test_alpha_by_layer_draws_every_fit_and_hollows_the_short_tails():
    alpha = np.array([[3.0, 6.29, 2.5], [3.3, 5.1, 2.7], [3.6, 4.8, 2.6]])
    n_tail = np.array([[40, 7, 30], [41, 12, 29], [39, 15, 4]])
    ds = xr.Dataset({"alpha": (("epoch", "layer"), alpha),
                     "n_tail": (("epoch", "layer"), n_tail)},
                    coords={"epoch": [0, 1, 2], "layer": ["conv1", "conv2", "fc1"]})
    with style.context():
        ax = alpha_by_layer(ds, ax=Figure().subplots())
    filled, hollow = [ln for ln in ax.lines if ln.get_marker() == "o"][:2]
    assert sorted(filled.get_ydata()) == sorted(alpha[n_tail >= 10])
    assert sorted(hollow.get_ydata()) == [2.6, 6.29]                    # tails of 4 and 7
    assert hollow.get_markerfacecolor() == "white"
    # each point sits over its own layer (x = the layer's position ± jitter)
    assert {y: round(x) for x, y in hollow.get_xydata()} == {6.29: 1, 2.6: 2}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "fc1"]


def test_flag_frequencies_show_every_epoch_in_its_verdicts_colour():
    freq = np.array([[0.0, 1.0], [0.05, 0.5], [0.0, 0.97]])
    verdict = [["healthy", "inconclusive"], ["healthy", "inconclusive"],
               ["healthy", "problematic"]]
    ds = xr.Dataset({"flag_frequency": (("epoch", "layer"), freq),
                     "verdict": (("epoch", "layer"), verdict)},
                    coords={"epoch": [0, 1, 2], "layer": ["conv2", "fc1"]})
    with style.context():
        ax = flag_frequencies(ds, ax=Figure().subplots())
        colours = {v: to_rgba(c) for v, c in VERDICT_COLORS.items()}
    points = []
    for coll in ax.collections:
        for (x, y), c in zip(coll.get_offsets(), coll.get_facecolors(), strict=False):
            points.append((round(float(x)), float(y), tuple(np.round(c, 3))))
    want = [(j, freq[i, j], tuple(np.round(colours[verdict[i][j]], 3)))
            for i in range(3) for j in range(2)]
    assert sorted(points) == sorted(want)


def test_without_the_analyses_the_figure_says_what_to_run():
    ax = alpha_by_layer(None, ax=Figure().subplots())
    assert "--only spectra" in ax.texts[0].get_text()
    ax = flag_frequencies(None, ax=Figure().subplots())
    assert "--only attribution" in ax.texts[0].get_text()
