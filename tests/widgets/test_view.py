import io

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image

from workbench.widgets.canvas import png_bytes


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
        assert len(apps[0].views[tab].canvas.sprites) >= 3, tab
    # ... and draw their gallery's images through the measured pixel map
    images = [k for k in apps[0].views["attribution"].canvas.sprites if k[0] == "image"]
    assert len(images) >= 2


class _ImageView:
    """A View holding one image artist, for the image-sprite tests."""

    @staticmethod
    def make(data, sprites, **imshow):
        from workbench.widgets.view import View

        class One(View):
            observes = ("epoch",)
            figsize = (3.1, 2.3)

            def draw(self, fig):
                ax = fig.subplots()
                self.im = ax.imshow(data, **imshow)
                return ax

            def dynamic(self):
                return [self.im]

            def update(self):
                pass

        view = One()
        view.sprites = sprites
        view._start()
        return view


@pytest.mark.parametrize("imshow", [
    {"cmap": "viridis", "interpolation": "nearest"},
    {"cmap": "RdBu_r", "interpolation": "nearest", "origin": "lower", "vmin": -2, "vmax": 2},
    {"cmap": "gray", "interpolation": "none", "alpha": 0.5, "extent": (0, 10, 0, 3)},
])
def test_image_sprites_paint_what_matplotlib_paints(imshow):
    """An image drawn through the measured pixel map is matplotlib's drawing of it, over
    new data (NaN cells included) at the same place, and a miss and hits alike."""
    rng = np.random.default_rng(1)
    first = rng.normal(size=(7, 11))
    views = [_ImageView.make(first, sprites, **imshow) for sprites in (True, False)]
    for k in range(4):
        data = rng.normal(size=(7, 11))
        data[k, k] = np.nan
        for view in views:
            view.im.set_data(data)
            view.state.epoch = k + 1
        a, b = (np.asarray(Image.open(io.BytesIO(v.png)), dtype=int) for v in views)
        d = np.abs(a - b).max(-1)
        # opaque: the very same pixels; translucent: Agg's integer blending, a level or two
        assert d.max() <= (2 if "alpha" in imshow else 0), imshow
    measured = [h for key, h in views[0].canvas.sprites.items() if key[0] == "image"]
    assert len(measured) == 1 and measured[0]["inner"] is not None  # the block fast path
    assert not views[1].canvas.sprites


def test_image_sprites_leave_smooth_images_to_matplotlib():
    view = _ImageView.make(np.eye(5), True, interpolation="bilinear")
    view.state.epoch = 3
    assert not any(key[0] == "image" for key in view.canvas.sprites)


def test_canvas_keeps_one_background_per_set_of_axis_limits():
    """A move back to axis limits seen before restores their background (no full draw), and
    the picture is the one a fresh canvas draws at those limits; a change of static artists
    (invalidate) forgets every background."""
    from workbench.widgets.canvas import Canvas

    def canvas_at(xlim, y):
        c = Canvas((3, 2), 50)
        ax = c.fig.subplots()
        ax.plot([0, 10], [0, 1], color="0.5")          # static
        line, = ax.plot([0, 10], [y, y], color="C1")  # dynamic
        ax.set_xlim(*xlim)
        c.freeze_layout()
        c.render([line])
        return c, ax, line

    def pixels(c):
        return np.asarray(Image.open(io.BytesIO(c.png())), dtype=int)

    def drawn_whole(xlim, y):   # the same figure and layout, drawn from scratch at xlim
        c, ax, line = canvas_at((0, 10), 0.2)
        ax.set_xlim(*xlim)
        line.set_ydata([y, y])
        c.invalidate()
        c.render([line])
        return pixels(c)

    c, ax, line = canvas_at((0, 10), 0.2)
    full_draws = []
    draw = c.fig.canvas.draw
    c.fig.canvas.draw = lambda: (full_draws.append(1), draw())[1]
    first = c.background
    for xlim, y, drawn in [((0, 5), 0.7, 1), ((0, 10), 0.3, 1), ((0, 5), 0.4, 1),
                           ((2, 8), 0.6, 2)]:
        ax.set_xlim(*xlim)
        line.set_ydata([y, y])
        c.render(())
        assert len(full_draws) == drawn, (xlim, full_draws)
        assert_array_equal(pixels(c), drawn_whole(xlim, y))
        if xlim == (0, 10):
            assert c.background is first
    assert len(c._backgrounds) == 3
    c.invalidate()
    assert c.background is None and not c._backgrounds
    c.render([line])
    assert len(full_draws) == 3


def test_canvas_relayout_forgets_the_backgrounds_of_the_old_artists():
    """After fig.clear() and a new drawing (relayout, freeze_layout), no background of the old
    figure is restored, even at limits seen before, and the new dynamic artists are drawn."""
    from workbench.widgets.canvas import Canvas

    c = Canvas((3, 2), 50)
    ax = c.fig.subplots()
    line, = ax.plot([0, 1], [0.2, 0.2], color="C1")
    c.freeze_layout()
    c.render([line])
    c.relayout()
    c.fig.clear()
    ax = c.fig.subplots()
    new, = ax.plot([0, 1], [0.8, 0.8], color="C2")
    c.freeze_layout()
    assert c.background is None and not c._backgrounds
    c.render([new])
    assert c._dynamic == [new]
