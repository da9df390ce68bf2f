"""Labels that never collide: names at line ends spread apart, point names placed where
they fit (or hidden), measured with matplotlib's own text extents; and the check that a
figure keeps it (:func:`collisions`, :func:`lines_outside`).

Both work in display space on a laid-out figure and move (or hide) existing ``Text``
artists, so a view calls them in its in-place update as well as when it draws.
"""

from __future__ import annotations

import numpy as np


def spread(y, gap: float):
    """Positions as close as possible to ``y`` (least squares), in the same order, each at
    least ``gap`` from the next.

    Notes
    -----
    With :math:`y` sorted, minimise :math:`\\sum_i (z_i - y_i)^2` subject to
    :math:`z_{i+1} - z_i \\ge g`. Substituting :math:`w_i = z_i - i g` makes the constraint
    :math:`w_{i+1} \\ge w_i`: isotonic regression of :math:`y_i - i g`, solved exactly by
    pooling adjacent violators (each pool takes its mean).

    Examples
    --------
    >>> spread([0.0, 1.0, 10.0], 4.0).tolist()
    [-1.5, 2.5, 10.0]
    >>> spread([5.0, 0.0], 2.0).tolist()
    [5.0, 0.0]
    """
    y = np.asarray(y, dtype=float)
    order = np.argsort(y, kind="stable")
    target = y[order] - gap * np.arange(len(y))
    pools: list[list[float]] = []  # [sum, count]
    for v in target:
        pools.append([v, 1.0])
        while len(pools) > 1 and pools[-2][0] / pools[-2][1] > pools[-1][0] / pools[-1][1]:
            s, n = pools.pop()
            pools[-1][0] += s
            pools[-1][1] += n
    w = np.concatenate([np.full(int(n), s / n) for s, n in pools]) if pools else target
    out = np.empty_like(y)
    out[order] = w + gap * np.arange(len(y))
    return out


def _canvas(fig):
    """``fig``'s canvas, an Agg one attached first when it has none that renders (a bare
    ``Figure()``), so that text extents can be measured."""
    root = fig.figure if getattr(fig, "figure", None) is not None else fig
    if not hasattr(root.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(root)
    return root.canvas


def _renderer(ax):
    return _canvas(ax.figure).get_renderer()


def stack_end_labels(ax, texts, ends, *, dx: float = 4.0, spacing: float = 1.15) -> None:
    """Put each visible text at its line's end (``ends``: data (x, y) per text, NaN hides
    it), ``dx`` points to the right, spread vertically so that none overlaps the next.

    The gap is ``spacing`` times the tallest text's height; the labels keep the lines'
    order and stay as close to their ends as the gap allows (:func:`spread`).
    """
    shown = []
    for text, (x, y) in zip(texts, ends, strict=True):
        ok = bool(np.isfinite(x) and np.isfinite(y))
        text.set_visible(ok and text.get_visible() and bool(text.get_text()))
        if text.get_visible():
            shown.append((text, float(x), float(y)))
    if not shown:
        return
    renderer = _renderer(ax)
    pts = ax.transData.transform([(x, y) for _, x, y in shown])
    height = max(t.get_window_extent(renderer).height for t, _, _ in shown)
    ys = spread(pts[:, 1], spacing * height)
    px = ax.figure.dpi / 72.0
    inverse = ax.transData.inverted()
    for (text, _, _), (x0, _), y in zip(shown, pts, ys, strict=True):
        text.set_position(inverse.transform((x0 + dx * px, y)))
        text.set_verticalalignment("center")
        text.set_horizontalalignment("left")


#: Offsets (in units of the label's own half size plus a pad) tried around a point, in order.
_AROUND = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))


def place_labels(ax, texts, anchors, *, pad: float = 3.0, avoid=()) -> list[bool]:
    """Place each text beside its anchor (data (x, y); NaN hides it) where it overlaps no
    label placed before it and stays inside the axes; hide it where no place fits.

    Texts are taken in the order given (put the most important first). Returns which were
    shown. ``avoid`` holds display-space boxes (``Bbox``) to keep clear of as well.
    """
    from matplotlib.transforms import Bbox

    renderer = _renderer(ax)
    frame = ax.get_window_extent(renderer)
    px = ax.figure.dpi / 72.0
    taken = list(avoid)
    inverse = ax.transData.inverted()
    shown = []
    for text, (x, y) in zip(texts, anchors, strict=True):
        if not (np.isfinite(x) and np.isfinite(y) and text.get_text()):
            text.set_visible(False)
            shown.append(False)
            continue
        text.set_horizontalalignment("center")
        text.set_verticalalignment("center")
        text.set_visible(True)
        box = text.get_window_extent(renderer)
        w, h = box.width, box.height
        cx, cy = ax.transData.transform((x, y))
        placed = False
        for sx, sy in _AROUND:
            ox, oy = cx + sx * (w / 2 + pad * px), cy + sy * (h / 2 + pad * px)
            cand = Bbox.from_bounds(ox - w / 2, oy - h / 2, w, h)
            inside = (cand.x0 >= frame.x0 and cand.x1 <= frame.x1 and cand.y0 >= frame.y0
                      and cand.y1 <= frame.y1)
            if inside and not any(cand.overlaps(b) for b in taken):
                text.set_position(inverse.transform((ox, oy)))
                taken.append(cand)
                placed = True
                break
        text.set_visible(placed)
        shown.append(placed)
    return shown


# -- checking a figure: labels that overlap, lines that leave their axes ----------------------

def _figures(fig):
    yield fig
    for sub in getattr(fig, "subfigs", []):
        yield from _figures(sub)


def label_texts(fig) -> list:
    """Every visible, non-empty text of ``fig`` a reader reads as a label: texts and
    annotations, titles, axis labels, the tick labels drawn, legend texts and titles,
    suptitles (subfigures included). Call after a draw (``fig.canvas.draw()``)."""
    found = []
    for f in _figures(fig):
        found += list(f.texts) + [getattr(f, k, None) for k in
                                  ("_suptitle", "_supxlabel", "_supylabel")]
        found += [t for leg in f.legends for t in (*leg.get_texts(), leg.get_title())]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        found += [*ax.texts, ax.title, ax._left_title, ax._right_title]
        for axis in (ax.xaxis, ax.yaxis):
            if not (ax.axison and axis.get_visible()):   # a twin's hidden x-axis, say
                continue
            for tick in axis._update_ticks():   # the ticks drawn (inside the view)
                found += [tick.label1, tick.label2]
            found += [axis.label, axis.offsetText]
        leg = ax.get_legend()
        if leg is not None and leg.get_visible():
            found += [*leg.get_texts(), leg.get_title()]
    out, seen = [], set()
    renderer = _canvas(fig).get_renderer()
    for t in found:
        if t is None or id(t) in seen:
            continue
        seen.add(id(t))
        if not (t.get_visible() and t.get_text().strip()
                and (t.get_alpha() is None or t.get_alpha() > 0)):
            continue
        clip = t.get_clip_box() if t.get_clip_on() else None
        if clip is not None and not t.get_window_extent(renderer).overlaps(clip):
            continue                                      # clipped away: not drawn
        out.append(t)
    return out


def _corners(text, renderer):
    """The four display-space corners of a text's (possibly rotated) box."""
    box = text.get_window_extent(renderer)
    angle = text.get_rotation()
    if angle % 180 == 0:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1],
                         [box.x0, box.y1]])
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)
    text.set_rotation(angle)
    w, h = flat.width / 2, flat.height / 2
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    local = np.array([[-w, -h], [w, -h], [w, h], [-w, h]])
    return local @ np.array([[c, s], [-s, c]]) + [(box.x0 + box.x1) / 2,
                                                  (box.y0 + box.y1) / 2]


def _depth(a, b) -> float:
    """How far two convex polygons overlap: the least overlap of their projections over
    the edge normals of both (separating axis theorem); <= 0 when they do not touch."""
    depth = np.inf
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for nx, ny in np.stack([-edges[:, 1], edges[:, 0]], 1):
            n = np.hypot(nx, ny)
            if n == 0:
                continue
            pa, pb = a @ (nx / n, ny / n), b @ (nx / n, ny / n)
            depth = min(depth, min(pa.max(), pb.max()) - max(pa.min(), pb.min()))
    return float(depth)


def collisions(fig, *, sliver: float = 2.0) -> list[tuple]:
    """Pairs of visible labels of ``fig`` (:func:`label_texts`) that overlap by more than
    ``sliver`` pixels, measured with matplotlib's own text extents (rotated boxes as
    rotated), as ``(text, text, depth in pixels)``. Draws the figure first.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(3, 2))
    >>> ax = fig.subplots()
    >>> a, b = ax.text(0.5, 0.5, "Bag"), ax.text(0.52, 0.5, "Sandal")
    >>> [(x.get_text(), y.get_text()) for x, y, _ in collisions(fig)]
    [('Bag', 'Sandal')]
    >>> b.set_position((0.5, 0.1))
    >>> collisions(fig)
    []
    """
    canvas = _canvas(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = label_texts(fig)
    polys = [_corners(t, renderer) for t in texts]
    boxes = [(p.min(0), p.max(0)) for p in polys]
    out = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            (lo_i, hi_i), (lo_j, hi_j) = boxes[i], boxes[j]
            if (np.minimum(hi_i, hi_j) - np.maximum(lo_i, lo_j) <= sliver).any():
                continue
            d = _depth(polys[i], polys[j])
            if d > sliver:
                out.append((texts[i], texts[j], d))
    return out


def lines_outside(fig, *, tolerance: float = 1.0) -> list[tuple]:
    """Visible data lines of ``fig`` with a finite point outside their axes (beyond
    ``tolerance`` pixels): what the axes limits cut off. ``(axes, line, how many points)``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> line, = ax.plot([0, 1, 2], [0, 1, 5])
    >>> ax.set_ylim(0, 2)
    (0.0, 2.0)
    >>> [n for _, _, n in lines_outside(ax.figure)]
    [1]
    """
    _canvas(fig).draw()
    out = []
    for ax in fig.axes:
        frame = ax.bbox
        for line in ax.lines:
            if not line.get_visible() or line.get_alpha() == 0:
                continue
            xy = np.asarray(line.get_xydata(), dtype=float)
            if not xy.size:
                continue
            with np.errstate(all="ignore"):
                pts = line.get_transform().transform(xy)
            pts = pts[np.isfinite(pts).all(1) & np.isfinite(xy).all(1)]
            bad = ((pts[:, 0] < frame.x0 - tolerance) | (pts[:, 0] > frame.x1 + tolerance)
                   | (pts[:, 1] < frame.y0 - tolerance) | (pts[:, 1] > frame.y1 + tolerance))
            if bad.any():
                out.append((ax, line, int(bad.sum())))
    return out


__all__ = ["collisions", "label_texts", "lines_outside", "place_labels", "spread",
           "stack_end_labels"]
