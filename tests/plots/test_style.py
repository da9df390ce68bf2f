"""One look: seaborn's colour-blind palette in every view and report figure, and nothing
changed globally."""

import matplotlib as mpl
import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.colors import to_hex

from workbench.plots import style
from workbench.widgets import LayersView, Selection


def test_palette_is_seaborns_colorblind_and_scoped():
    want = sns.color_palette("colorblind").as_hex()
    assert list(style.palette()) == want
    before = mpl.rcParams["axes.prop_cycle"]
    with style.context():
        assert [to_hex(f"C{i}") for i in range(10)] == want
        assert mpl.rcParams["axes.edgecolor"] == ".15"                  # seaborn's "ticks"
    assert mpl.rcParams["axes.prop_cycle"] == before                  # put back
    import workbench.plots  # noqa: F401  (importing changes nothing either)
    assert mpl.rcParams["axes.prop_cycle"] == before


def test_a_view_draws_in_the_palette_without_touching_global_state():
    before = dict(mpl.rcParams)
    ds = xr.Dataset({"grad_norm": (("step", "layer"), np.ones((5, 2)))},
                    coords={"step": np.arange(5), "layer": ["a", "b"]})
    view = LayersView(ds, Selection())
    bold = [ln for ln in view.axes.lines if ln.get_gid() == "selected"][0]
    with style.context():
        assert to_hex(bold.get_color()) == style.palette()[0]
    # the PNG holds the palette's blue
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(view.png)).convert("RGB")).reshape(-1, 3)
    blue = np.array([int(style.palette()[0][i:i + 2], 16) for i in (1, 3, 5)])
    assert (np.abs(rgb.astype(int) - blue).sum(1) < 6).sum() > 20
    assert dict(mpl.rcParams) == before
