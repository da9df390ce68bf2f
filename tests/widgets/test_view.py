import io

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image

from workbench.widgets.view import png_bytes


def test_png_bytes_decodes_to_the_same_pixels():
    rgba = np.random.default_rng(0).integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    img = Image.open(io.BytesIO(png_bytes(rgba)))
    assert img.mode == "RGBA" and img.size == (53, 37)
    assert_array_equal(np.asarray(img), rgba)


def test_png_bytes_names_a_wrong_shape():
    with pytest.raises(ValueError, match=r"RGBA array \(row, col, 4\); got shape \(4, 4, 3\)"):
        png_bytes(np.zeros((4, 4, 3), np.uint8))


def _explorer_with_every_tab(path):
    from workbench.run import Run
    from workbench.widgets import Explorer

    from .synthetic import fill_analysis, tree
    from .synthetic_analyses2 import CLASSES, store_analyses

    tree().to_zarr(str(path / "record.zarr"))
    store_analyses(path)
    run = Run(path)
    fill_analysis(run)
    return Explorer(run.tree, classes=CLASSES, run=run)


def test_text_sprites_paint_the_same_pixels_as_drawing_the_text(tmp_path):
    """Dynamic texts pasted from the sprite cache give the picture that drawing them gives
    (to within 2 levels of 255 per channel), in every tab, over selections visited and
    revisited (hits and misses), texts over bars, lines and other texts included."""
    apps = [_explorer_with_every_tab(tmp_path / name) for name in ("cached", "drawn")]
    for view in apps[1].views.values():
        view.sprites = False
    assert {"attribution", "forces", "damping", "dynamics"} <= set(apps[0].views)
    from .synthetic_analyses2 import OBSERVED
    for tab in apps[0].views:
        for app in apps:
            app.tabs.selected_index = list(app.views).index(tab)
        for epoch, sample in [(0, OBSERVED[0]), (2, OBSERVED[1]), (1, OBSERVED[0]),
                              (0, OBSERVED[0]), (2, OBSERVED[1])]:
            for app in apps:
                app.state.epoch, app.state.sample = epoch, sample
            a, b = (np.asarray(Image.open(io.BytesIO(app.views[tab].png)), dtype=int)
                    for app in apps)
            assert a.shape == b.shape
            # compositing the cached coverage rounds like Agg's blending, to a level or two
            d = np.abs(a - b).max(-1)
            assert d.max() <= 4 and (d > 1).mean() < 0.001, f"{tab} at epoch {epoch}"
    # the text-heavy views paste their labels
    for tab in ("attribution", "forces"):
        assert len(apps[0].views[tab]._sprites) >= 3, tab
