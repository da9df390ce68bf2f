"""The base of every view: one figure, updated in place on selection changes.

A view observes some traits of the shared :class:`~workbench.widgets.state.Selection`. It
builds its matplotlib ``Figure`` once (not registered with pyplot, so no backend or
``%matplotlib`` magic is involved): :meth:`View.draw` calls plot functions from
:mod:`workbench.plots` that create the artists. On a change, :meth:`View.update` changes those
artists in place (``set_data``, ``set_text``…) and the base re-renders the figure to PNG,
with the layout computed once and then frozen; only the artists listed by
:meth:`View.dynamic` are drawn again, over a cached background (blitting). A view whose tab is
hidden only marks itself stale and redraws when shown, so a slider move repaints the visible
views only; views created inside :func:`deferred` draw when first shown.
"""

from __future__ import annotations

import collections
import contextlib
import time

import numpy as np

from .state import Selection, show_controls


def check_analysis(ds, who: str, needs, dims) -> None:
    """Raise a clear error when ``ds`` is not an /analysis group holding ``needs`` over
    ``dims`` (with at least one epoch).

    Examples
    --------
    >>> import xarray as xr
    >>> check_analysis(xr.Dataset({"a": ("epoch", [1.0])}), "V", ["a", "b"], ["epoch"])
    Traceback (most recent call last):
    ...
    ValueError: V needs variables ['a', 'b']; missing ['b'] (found ['a'])
    """
    import xarray as xr

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{who} needs an xarray.Dataset (an /analysis group); got "
                        f"{type(ds).__name__}")
    missing = [n for n in needs if n not in ds.variables]
    if missing:
        raise ValueError(f"{who} needs variables {list(needs)}; missing {missing} "
                         f"(found {sorted(map(str, ds.variables))})")
    lacking = [d for d in dims if d not in ds.dims]
    if lacking or ds.sizes.get("epoch", 1) < 1:
        raise ValueError(f"{who} needs dims {list(dims)} with at least one epoch; got "
                         f"{dict(ds.sizes)}")


_DEFERRED: list = []


def _plain_text(a) -> bool:
    """A Text with no box or arrow around it (what the sprite cache can paste)."""
    from matplotlib.text import Annotation, Text

    return isinstance(a, Text) and not isinstance(a, Annotation) and a.get_bbox_patch() is None


def png_bytes(rgba, *, level: int = 1) -> bytes:
    """An RGBA image (row, col, 4) of uint8 as a PNG, unfiltered, zlib ``level`` 1.

    Notes
    -----
    A PNG is the signature, an ``IHDR`` chunk (width, height, bit depth 8, colour type 6 =
    RGBA), one ``IDAT`` chunk holding the zlib stream of the rows, each prefixed with filter
    byte 0 (none), and ``IEND``; each chunk is ``length · type · data · CRC-32(type · data)``.
    Skipping the filter search and compressing fast makes this about 2-3x faster than
    Pillow's encoder for a figure, at a similar size (figures are mostly flat colour).

    Examples
    --------
    >>> import numpy as np
    >>> png_bytes(np.zeros((2, 3, 4), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    import struct
    import zlib

    import numpy as np

    a = np.asarray(rgba, dtype=np.uint8)
    if a.ndim != 3 or a.shape[2] != 4:
        raise ValueError(f"png_bytes needs an RGBA array (row, col, 4); got shape {a.shape}")
    h, w, _ = a.shape
    raw = np.empty((h, 4 * w + 1), np.uint8)
    raw[:, 0] = 0
    raw[:, 1:] = a.reshape(h, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + chunk(b"IEND", b""))


@contextlib.contextmanager
def deferred():
    """Views created inside start hidden and draw their figure only when first shown (an
    Explorer opens fast however many tabs it has)."""
    _DEFERRED.append(True)
    try:
        yield
    finally:
        _DEFERRED.pop()


class View:
    """Subclasses set ``observes`` (Selection traits), implement ``draw(fig)`` and, for
    speed, ``update()`` (change artists in place) and ``dynamic()`` (the artists it changes).

    The first render draws the whole figure without the dynamic artists and caches it as a
    background; each later change restores that background, draws only the dynamic artists on
    it and encodes the canvas as PNG (:func:`png_bytes`). A change that leaves the observed
    values (:meth:`key`) as drawn repaints nothing.

    Attributes
    ----------
    state : Selection
    output : ipywidgets.Image
        Shows the current PNG (``output.value``): the bytes travel as a binary buffer and
        the browser swaps the image's source in place, which is faster than replacing the
        output of an ``Output`` widget (a base64 string re-rendered as a new element).
    fig : matplotlib.figure.Figure
        The figure (tests read its artists).
    axes : Axes or tuple of Axes
        What :meth:`draw` returned.
    png : bytes
        The last rendered image.
    draws : int
        How many times the view has rendered.
    visible : bool
        Hidden views defer their redraw until shown (:meth:`show`).
    last_ms : float
        Kernel-side time of the last redraw (update + render + PNG), in milliseconds.
    times_ms : deque of float
        Every redraw's kernel-side time (the last 10 000).
    controls : dict
        dim → control, shown above the figure.
    caption : ipywidgets.HTML
        Text about the current selection (a verdict, say), shown between the controls and the
        figure: HTML text is cheaper to update than text drawn in the figure.
    """

    observes: tuple = ()
    figsize: tuple = (8, 3.4)
    dpi: int = 90
    #: False redraws the whole figure on every change (how views worked before; benches
    #: compare the two).
    in_place: bool = True

    def __init__(self, state: Selection | None = None):
        import ipywidgets as w

        self.state = state if state is not None else Selection()
        self.output = w.Image(format="png")
        self.caption = w.HTML()
        self.controls: dict = {}
        self.fig = self.axes = None
        self.png = b""
        self.draws = 0
        self.visible = True
        self.stale = False
        self.last_ms = float("nan")
        self._widget = None
        self._background = None
        self._dynamic: list = []
        self._sprites = collections.OrderedDict()
        self._drawn = None
        self.times_ms = collections.deque(maxlen=10_000)

    def _start(self) -> None:
        """Call at the end of a subclass's ``__init__``: observe, then draw once."""
        self.state.observe(self._changed, names=list(self.observes))
        if _DEFERRED:
            self.visible, self.stale = False, True
            show_controls(self.controls.values(), False)
        else:
            self.redraw()

    def key(self) -> tuple:
        """The observed selection values; a change that leaves them as drawn redraws nothing
        (so a step that also sets its epoch repaints once, not twice)."""
        return tuple(getattr(self.state, n) for n in self.observes)

    def _changed(self, change=None) -> None:
        if self.fig is not None and not self.stale and self.key() == self._drawn:
            return
        if self.visible:
            self.redraw()
        else:
            self.stale = True

    def show(self, visible: bool = True) -> None:
        """Mark the view shown (redrawing it if it went stale) or hidden."""
        self.visible = visible
        show_controls(self.controls.values(), visible)
        if visible and self.stale:
            self.redraw()

    def draw(self, fig):  # pragma: no cover - abstract
        """Build the artists on ``fig`` with :mod:`workbench.plots`; return the Axes."""
        raise NotImplementedError

    def dynamic(self) -> list:
        """The artists :meth:`update` changes (markers, bars, lines of the selection).

        Everything else is rendered once into a cached background; a selection change
        restores that background and draws only these artists on it (blitting), which is
        what keeps a slider move fast. The default, ``[]``, renders the whole figure.
        """
        return []

    def update(self) -> None:
        """Change the artists in place for the current selection.

        The default calls :meth:`rebuild` (clear and draw again); views override it to
        change the artists listed by :meth:`dynamic` in place.
        """
        self.rebuild()

    def rebuild(self) -> None:
        """Clear the figure and draw it again (for changes that alter its structure, such as
        another statistic); the layout is computed once more and the background re-cached."""
        self.fig.clear()
        self.fig.set_layout_engine("constrained")
        self.axes = self.draw(self.fig)
        self.fig.canvas.draw()
        self.fig.set_layout_engine("none")
        self._background = None

    def _render(self) -> None:
        """Draw the figure into the canvas: the cached background plus the dynamic artists.

        A dynamic text is drawn once per (text, look, place); later its glyph coverage is
        composited from a cache (:meth:`_text_sprite`), since matplotlib lays out and
        rasterises text glyph by glyph, a few ms per label.
        """
        canvas = self.fig.canvas
        if self._background is None:
            self._dynamic = [a for a in self.dynamic() if a is not None]
            for a in self._dynamic:
                a.set_animated(True)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._sprites = collections.OrderedDict()
        else:
            canvas.restore_region(self._background)
        for a in self._dynamic:
            if not (self.sprites and (self._text_sprite(a) or self._image_sprite(a))):
                self.fig.draw_artist(a)

    #: Paste dynamic texts from a glyph-coverage cache and nearest-neighbour images through a
    #: measured pixel map (False draws every artist each time; a test checks both give the
    #: same picture: at most 4 levels of 255 apart, on under 0.1% of the pixels).
    sprites: bool = True

    def _image_sprite(self, a) -> bool:
        """Draw the image artist ``a`` through a cached pixel map; False when ``a`` is not a
        2-D nearest-neighbour ``AxesImage`` of at most 256 rows and columns (draw it as
        usual then).

        Matplotlib resamples the data to the canvas pixels and colour-maps the result for
        every draw (about 1.5 ms for a 28×28 image in a 90-pixel axes). Here, the first draw
        at a place (image shape, extent, transform, clip box) measures, for each canvas pixel
        of the clip box, which data cell it shows and how much of it the image covers
        (:math:`\\alpha`), by drawing two index images with the same geometry through
        matplotlib itself (row index, then column index, each as a colour of its own, on a
        black patch). Later draws colour-map the small data array with the artist's own
        colormap and norm (``to_rgba``), pick the mapped cells and composite
        :math:`p \\leftarrow (1 - \\alpha a)\\, p + \\alpha a\\, c` (:math:`a`: the
        colour's and the artist's alpha), as Agg does.
        """
        from matplotlib.image import AxesImage

        if type(a) is not AxesImage or a.get_interpolation() not in ("nearest", "none"):
            return False
        data = a.get_array()
        if data is None or data.ndim != 2 or max(data.shape) > 256:
            return False
        if not a.get_visible():
            return True
        clip = a.get_clip_box()
        key = ("image", id(a), data.shape, tuple(np.round(a.get_extent(), 9)), a.origin,
               tuple(np.round(a.get_transform().get_affine().get_matrix().ravel(), 6)),
               tuple(np.round(clip.extents, 3)) if clip is not None else None,
               a.get_clip_path() is not None)
        buf = np.asarray(self.fig.canvas.buffer_rgba())
        hit = self._sprites.get(key)
        if hit is None:
            if a.get_clip_path() is not None or clip is None:
                return False
            hit = self._sprites[key] = self._measure_image(a, buf, clip)
        else:
            self._sprites.move_to_end(key)
        if hit is True:
            return True  # off the canvas
        small = a.to_rgba(data, bytes=True)
        flat = buf.reshape(-1, 4)
        opaque = a.get_alpha() is None and bool((small[..., 3] == 255).all())
        if opaque and hit["inner"] is not None:
            # fully covered, opaque: the colours themselves, one block, row by column
            (r0, r1, c0, c1), rr, cc = hit["inner"]
            buf[r0:r1, c0:c1, :3] = small[..., :3].take(rr, 0).take(cc, 1)
            px, src, cover = hit["edge"]
        else:
            px, src, cover = hit["all"]
        rgba = small.reshape(-1, 4)[src].astype(np.float32)
        alpha = cover * (rgba[:, 3:] / 255.0) * (1.0 if a.get_alpha() is None
                                                 else float(a.get_alpha()))
        flat[px, :3] = (flat[px, :3] * (1 - alpha) + rgba[:, :3] * alpha + 0.5).astype(np.uint8)
        return True

    def _measure_image(self, a, buf, clip):
        """Where ``a`` paints on the canvas, by drawing index images through matplotlib.

        Returns ``True`` when it paints nothing on the canvas, else a dict: ``"all"`` and
        ``"edge"`` are ``(pixels, cells, coverage)`` (canvas pixels as flat indices, the data
        cell each shows, flat, and the coverage, for every covered pixel and for the partly
        covered ones only when ``"inner"`` is set); ``"inner"`` is ``((r0, r1, c0, c1),
        rows, cols)`` when the fully covered pixels form a block whose data row depends on
        the canvas row only and data column on the canvas column only (an axis-aligned image),
        else None.
        """
        from matplotlib.colors import ListedColormap, Normalize
        from matplotlib.image import AxesImage

        height, width = buf.shape[:2]
        x0, y0, x1, y1 = clip.extents
        cols = slice(max(int(np.floor(x0)) - 1, 0), min(int(np.ceil(x1)) + 1, width))
        rows = slice(max(height - int(np.ceil(y1)) - 1, 0),
                     min(height - int(np.floor(y0)) + 1, height))
        if cols.stop <= cols.start or rows.stop <= rows.start:
            return True
        n_rows, n_cols = a.get_array().shape
        region = buf[rows, cols]
        kept = region.copy()
        measured = []
        for n, index in ((n_rows, np.arange(n_rows)[:, None] + np.zeros((1, n_cols))),
                         (n_cols, np.zeros((n_rows, 1)) + np.arange(n_cols)[None, :])):
            probe = AxesImage(a.axes, cmap=ListedColormap(
                [(k / 255.0, 1.0, 0.0) for k in range(n)]), norm=Normalize(-0.5, n - 0.5),
                interpolation=a.get_interpolation(), origin=a.origin, extent=a.get_extent(),
                interpolation_stage=a.get_interpolation_stage())
            probe.set_data(index)
            probe.set_transform(a.get_transform())
            probe.set_clip_box(clip)
            region[...] = (0, 0, 0, 255)
            self.fig.draw_artist(probe)
            measured.append(region[..., :2].astype(np.float32))
        region[...] = kept
        cover = measured[0][..., 1] / 255.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ri, ci = (np.where(cover > 0, m[..., 0] / cover, 0) for m in measured)
        ri = np.clip(np.rint(ri), 0, n_rows - 1).astype(np.intp)
        ci = np.clip(np.rint(ci), 0, n_cols - 1).astype(np.intp)
        gr, gc = np.meshgrid(np.arange(rows.start, rows.stop), np.arange(cols.start, cols.stop),
                             indexing="ij")

        def pick(mask):
            return (gr[mask] * width + gc[mask], ri[mask] * n_cols + ci[mask],
                    cover[mask][:, None])

        covered, full = cover > 0, cover >= 1.0
        inner = None
        if full.any():
            fr, fc = np.nonzero(full)
            r0, r1, c0, c1 = fr.min(), fr.max() + 1, fc.min(), fc.max() + 1
            block_ri, block_ci = ri[r0:r1, c0:c1], ci[r0:r1, c0:c1]
            if (full[r0:r1, c0:c1].all() and (block_ri == block_ri[:, :1]).all()
                    and (block_ci == block_ci[:1, :]).all()):
                inner = ((rows.start + r0, rows.start + r1, cols.start + c0, cols.start + c1),
                         block_ri[:, 0].copy(), block_ci[0, :].copy())
        return {"all": pick(covered), "edge": pick(covered & ~full) if inner else None,
                "inner": inner}

    def _text_sprite(self, a) -> bool:
        """Draw the text artist ``a`` from the sprite cache; False when ``a`` is not a plain
        text (draw it as usual then).

        A sprite is the text's coverage :math:`\\alpha` per pixel of its box (2 px of
        antialiasing included) and its colour :math:`c`; pasting it composites
        :math:`p \\leftarrow (1 - \\alpha)\\, p + \\alpha\\, c` onto whatever the canvas
        holds there, as Agg blends glyphs, so the text may overlap anything drawn before it.
        A miss measures :math:`\\alpha` by drawing the text once on a plain patch (white for
        a dark text, black for a light one, so that every covered pixel shows) and puts the
        canvas back. The key is everything that decides the pixels: the string, its
        position on the canvas, colour, font, size, rotation, alignment, alpha and clipping.
        The cache holds the last 4096 sprites.
        """
        if not _plain_text(a):
            return False
        if not a.get_visible() or not a.get_text():
            return True  # nothing to draw
        from matplotlib.colors import to_rgba

        xy = tuple(np.round(a.get_transform().transform(a.get_unitless_position()), 3))
        key = (id(a), a.get_text(), xy, str(a.get_color()), hash(a.get_fontproperties()),
               a.get_rotation(), a.get_horizontalalignment(), a.get_verticalalignment(),
               a.get_alpha(), a.get_rotation_mode(), a.get_linespacing(), a.get_clip_on())
        buf = np.asarray(self.fig.canvas.buffer_rgba())
        hit = self._sprites.get(key)
        if hit is None:
            height, width = buf.shape[:2]
            x0, y0, x1, y1 = a.get_window_extent(self.fig.canvas.get_renderer()).extents
            cols = slice(max(int(np.floor(x0)) - 2, 0), min(int(np.ceil(x1)) + 2, width))
            rows = slice(max(height - int(np.ceil(y1)) - 2, 0),
                         min(height - int(np.floor(y0)) + 2, height))
            if cols.stop <= cols.start or rows.stop <= rows.start:
                return True  # off the canvas
            color = np.asarray(to_rgba(a.get_color())[:3], np.float32) * 255
            plain = 255.0 if color.mean() < 128 else 0.0
            region = buf[rows, cols]
            kept = region.copy()
            region[..., :3] = plain
            self.fig.draw_artist(a)
            drawn = region[..., :3].astype(np.float32)
            region[...] = kept
            channel = int(np.argmax(np.abs(color - plain)))
            alpha = ((drawn[..., channel] - plain) / (color[channel] - plain)).clip(0, 1)
            hit = self._sprites[key] = (rows, cols, alpha[..., None], color)
            while len(self._sprites) > 4096:
                self._sprites.popitem(last=False)
        else:
            self._sprites.move_to_end(key)
        rows, cols, alpha, color = hit
        region = buf[rows, cols, :3]
        region[...] = (region * (1 - alpha) + color * alpha + 0.5).astype(np.uint8)
        return True

    def _encode(self) -> bytes:
        """The canvas as PNG (see :func:`png_bytes`)."""
        import numpy as np

        return png_bytes(np.asarray(self.fig.canvas.buffer_rgba()))

    def redraw(self) -> None:
        """Update (or build, the first time) and render the figure to the Output."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        t0 = time.perf_counter()
        if self.fig is None:
            fig = Figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
            FigureCanvasAgg(fig)
            self.fig = fig
            self.axes = self.draw(fig)
            fig.canvas.draw()  # lay out once ...
            fig.set_layout_engine("none")  # ... then keep that layout
            self._background = None
        elif self.in_place:
            self.update()
        else:
            self.rebuild()
        self._render()
        self.png = self._encode()
        self.draws += 1
        self.stale = False
        self._drawn = self.key()
        self.output.value = self.png
        self.last_ms = (time.perf_counter() - t0) * 1e3
        self.times_ms.append(self.last_ms)

    @property
    def widget(self):
        """The controls above the figure, as one ``VBox``."""
        import ipywidgets as w

        if self._widget is None:
            self._widget = w.VBox([*self.controls.values(), self.caption, self.output])
        return self._widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
