"""Runs over seeds (seaborn): the line is the mean over seeds, the band their min to max."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from workbench.plots.runs import over_seeds


def test_line_is_the_mean_and_band_the_range_over_seeds():
    rng = np.random.default_rng(0)
    rows = [{"run": run, "seed": s, "epoch": e, "test_acc": float(rng.uniform(0, 1))}
            for run in ("constant", "physics") for s in range(3) for e in range(4)]
    df = pd.DataFrame(rows)
    ax = Figure().subplots()
    over_seeds(df, "test_acc", ax=ax)
    assert "3 seeds" in ax.get_title() and "min to max" in ax.get_title()
    for run, line, band in zip(("constant", "physics"), ax.lines, ax.collections,
                               strict=False):
        own = df[df.run == run].groupby("epoch")["test_acc"]
        np.testing.assert_allclose(line.get_ydata(), own.mean().values)
        verts = band.get_paths()[0].vertices  # the band's outline: lower and upper edges
        for e in range(4):
            ys = verts[np.isclose(verts[:, 0], e), 1]
            np.testing.assert_allclose([ys.min(), ys.max()],
                                       [own.min().values[e], own.max().values[e]])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["constant", "physics"]


def test_one_seed_says_there_is_no_band():
    df = pd.DataFrame({"run": ["a", "a"], "seed": [0, 0], "epoch": [0, 1],
                       "test_acc": [0.5, 0.6]})
    ax = over_seeds(df, "test_acc", ax=Figure().subplots())
    assert ax.get_title() == "one seed per run: no band"
    assert all(float(t).is_integer() for t in ax.get_xticks())  # integer epoch ticks
