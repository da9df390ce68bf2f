"""The one rendering engine of the views and the simulations: a figure drawn once, then
blitted.

A :class:`Canvas` holds one matplotlib ``Figure`` on an Agg canvas (not registered with
pyplot, so no backend or ``%matplotlib`` magic is involved). Its layout is computed once and
then frozen (:meth:`Canvas.freeze_layout`). :meth:`Canvas.render` draws the whole figure
once without the dynamic artists and caches it as a background; each later render restores
that background and draws only the dynamic artists on it (blitting). Dynamic texts are
pasted from a glyph-coverage cache (:meth:`Canvas.paste_text`) and nearest-neighbour images
through a measured pixel map (:meth:`Canvas.paste_image`). :meth:`Canvas.png` encodes the
canvas with :func:`png_bytes`.

:class:`~workbench.widgets.view.View` (every Explorer tab) and the teaching simulations
(:mod:`workbench.widgets.theory`, Views too) render through it, so a rendering fix is made
once.

Examples
--------
>>> canvas = Canvas((2, 1), 50)
>>> ax = canvas.fig.subplots()
>>> line, = ax.plot([0, 1], [0, 1])
>>> canvas.freeze_layout()
>>> canvas.render([line])
>>> canvas.png()[:8]
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import collections

import numpy as np


def plain_text(a) -> bool:
    """True for a Text with no box or arrow around it (what the sprite cache can paste)."""
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



class Canvas:
    """One figure on an Agg canvas, rendered by blitting and encoded as PNG.

    Parameters
    ----------
    figsize : (float, float)
    dpi : int
    layout : str
        The layout engine until :meth:`freeze_layout` (``"constrained"``).

    Attributes
    ----------
    fig : matplotlib.figure.Figure
    background : object or None
        The cached render without the dynamic artists (None: render everything next time).
    sprites : OrderedDict
        The text and image caches (keys ``("image", ...)`` for images).
    """

    def __init__(self, figsize, dpi: int, *, layout: str = "constrained"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=figsize, dpi=dpi, layout=layout)
        FigureCanvasAgg(self.fig)
        self.background = None
        self.sprites = collections.OrderedDict()
        self._dynamic: list = []
        self._backgrounds: collections.OrderedDict = collections.OrderedDict()
        self._limits = None

    def freeze_layout(self) -> None:
        """Lay the figure out once (a full draw), then keep that layout."""
        self.fig.canvas.draw()
        self.fig.set_layout_engine("none")
        self.invalidate()   # a new layout: no cached background holds

    def relayout(self) -> None:
        """Compute the layout once more at the next :meth:`freeze_layout` (after
        ``fig.clear()`` and drawing again)."""
        self.fig.set_layout_engine("constrained")
        self.invalidate()   # new artists after fig.clear(): every background is stale

    #: Backgrounds kept, one per set of axis limits seen (the most recently used).
    max_backgrounds: int = 16

    def invalidate(self) -> None:
        """Forget every cached background (after a change of static artists; a change of
        axis limits alone needs no call: :meth:`render` notices it)."""
        self.background = None
        self._backgrounds.clear()

    def limits(self) -> tuple:
        """The view limits of every axes of the figure (x and y), which decide where the
        static artists fall: the key of a cached background."""
        return tuple(tuple(np.round(ax.viewLim.bounds, 12)) for ax in self.fig.axes)

    def render(self, dynamic, *, sprites: bool = True) -> None:
        """Draw the figure into the canvas: the cached background plus ``dynamic``.

        Parameters
        ----------
        dynamic : list of Artist
            The artists that change (markers, bars, lines of the selection); read when the
            background is (re)built, and drawn over it every time. None entries are skipped.
        sprites : bool
            Paste plain texts and small nearest-neighbour images from the caches (False
            draws every artist each time; both give the same picture within a level or two
            of 255, on under 0.1% of the pixels).
        """
        canvas = self.fig.canvas
        limits = self.limits()
        if self.background is not None and limits != self._limits:
            # the axis ranges moved: the background drawn for these limits, if seen before
            self.background = self._backgrounds.get(limits)
            self._limits = limits
        if self.background is None:
            if not self._backgrounds:   # built or invalidated: take the dynamic artists
                self._dynamic = [a for a in dynamic if a is not None]
                for a in self._dynamic:
                    a.set_animated(True)
            canvas.draw()
            self.fig.set_layout_engine("none")
            self.background = canvas.copy_from_bbox(self.fig.bbox)
            self._limits = self.limits()
            self._backgrounds[self._limits] = self.background
            while len(self._backgrounds) > self.max_backgrounds:
                self._backgrounds.popitem(last=False)
        else:
            self._backgrounds.move_to_end(self._limits)
            canvas.restore_region(self.background)
        for a in self._dynamic:
            if not (sprites and (self.paste_text(a) or self.paste_image(a))):
                if a.get_visible():
                    self.fig.draw_artist(a)

    def png(self) -> bytes:
        """The canvas as PNG (see :func:`png_bytes`)."""
        return png_bytes(np.asarray(self.fig.canvas.buffer_rgba()))

    def paste_image(self, a) -> bool:
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
        hit = self.sprites.get(key)
        if hit is None:
            if a.get_clip_path() is not None or clip is None:
                return False
            hit = self.sprites[key] = self._measure_image(a, buf, clip)
        else:
            self.sprites.move_to_end(key)
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

    def paste_text(self, a) -> bool:
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
        if not plain_text(a):
            return False
        if not a.get_visible() or not a.get_text():
            return True  # nothing to draw
        from matplotlib.colors import to_rgba

        xy = tuple(np.round(a.get_transform().transform(a.get_unitless_position()), 3))
        key = (id(a), a.get_text(), xy, str(a.get_color()), hash(a.get_fontproperties()),
               a.get_rotation(), a.get_horizontalalignment(), a.get_verticalalignment(),
               a.get_alpha(), a.get_rotation_mode(), a.get_linespacing(), a.get_clip_on())
        buf = np.asarray(self.fig.canvas.buffer_rgba())
        hit = self.sprites.get(key)
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
            hit = self.sprites[key] = (rows, cols, alpha[..., None], color)
            while len(self.sprites) > 4096:
                self.sprites.popitem(last=False)
        else:
            self.sprites.move_to_end(key)
        rows, cols, alpha, color = hit
        region = buf[rows, cols, :3]
        region[...] = (region * (1 - alpha) + color * alpha + 0.5).astype(np.uint8)
        return True


__all__ = ["Canvas", "plain_text", "png_bytes"]
