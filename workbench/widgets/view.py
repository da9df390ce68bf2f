"""The base of every view: one figure, updated in place on selection changes.

A view observes some traits of the shared :class:`~workbench.widgets.state.Selection`. It
builds its matplotlib ``Figure`` once (not registered with pyplot, so no backend or
``%matplotlib`` magic is involved): :meth:`View.draw` calls plot functions from
:mod:`workbench.plots` that create the artists. On a change, :meth:`View.update` changes those
artists in place (``set_data``, ``set_text``…) and the base re-renders the figure to PNG,
with the layout computed once and then frozen; only the artists listed by
:meth:`View.dynamic` are drawn again, over a cached background (blitting), by the one
rendering engine, :class:`~workbench.widgets.canvas.Canvas`. A view whose tab is
hidden only marks itself stale and redraws when shown, so a slider move repaints the visible
views only; views created inside :func:`deferred` draw when first shown.
"""

from __future__ import annotations

import collections
import contextlib
import time

from .canvas import Canvas
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
    it and encodes the canvas as PNG (:func:`~workbench.widgets.canvas.png_bytes`), through
    :attr:`canvas`. A change that leaves the observed
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
    canvas : Canvas
        The rendering engine holding ``fig`` (None until first drawn).
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
    #: Grokking phases to shade behind every epoch axis (labels over ``epoch``) and every
    #: step axis (``phases_by_step``, the same labels over ``step``); the Explorer sets them
    #: from :func:`~workbench.diagnostics.grokking_phases`. None shades nothing.
    phases = None
    phases_by_step = None

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
        self.canvas: Canvas | None = None
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
        self.canvas.relayout()
        self.axes = self.draw(self.fig)
        self._shade_phases()
        self.canvas.freeze_layout()
        self.laid_out()

    def laid_out(self) -> None:
        """Called once the layout is frozen, after each build: a view that places labels
        in display space (:mod:`workbench.plots.placement`) places them again here, on
        the final axes positions. The default does nothing."""

    def _shade_phases(self) -> list:
        """Shade :attr:`phases` behind each Axes whose x-axis is labelled "epoch" (and
        :attr:`phases_by_step` behind those labelled "step"), once, when the figure is
        built (:func:`workbench.plots.phases.shade`); returns the patches."""
        from ..plots.phases import shade

        by_label = {"epoch": self.phases, "step": self.phases_by_step}
        out = []
        for ax in self.fig.axes:
            out += shade(ax, by_label.get(ax.get_xlabel()))
        return out

    def _render(self) -> None:
        """Draw the figure into the canvas: the cached background plus the dynamic artists
        (:meth:`~workbench.widgets.canvas.Canvas.render`, texts and small images pasted
        from its caches when :attr:`sprites` is True)."""
        self.canvas.render(self.dynamic() if self.canvas.background is None else (),
                           sprites=self.sprites)

    #: Paste dynamic texts from a glyph-coverage cache and nearest-neighbour images through a
    #: measured pixel map (False draws every artist each time; a test checks both give the
    #: same picture: at most 4 levels of 255 apart, on under 0.1% of the pixels).
    sprites: bool = True

    def invalidate(self) -> None:
        """Forget the cached background: the next render draws the whole figure (after a
        change of static artists, such as another layer drawn bold)."""
        if self.canvas is not None:
            self.canvas.invalidate()

    def redraw(self, *, rebuild: bool = False) -> None:
        """Update (or build, the first time; rebuild when asked) and render the figure to
        the Output."""
        from ..plots import style

        t0 = time.perf_counter()
        with style.context():  # one look: built, updated and rendered in it
            if self.fig is None:
                self.canvas = Canvas(self.figsize, self.dpi)
                self.fig = self.canvas.fig
                self.axes = self.draw(self.fig)
                self._shade_phases()
                self.canvas.freeze_layout()  # lay out once, then keep that layout
                self.laid_out()
            elif rebuild or not self.in_place:
                self.rebuild()
            else:
                self.update()
            self._render()
        self.png = self.canvas.png()
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
