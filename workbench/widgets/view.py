"""The base of every view: one figure, updated in place on selection changes.

A view observes some traits of the shared :class:`~workbench.widgets.state.Selection`. It
builds its matplotlib ``Figure`` once (not registered with pyplot, so no backend or
``%matplotlib`` magic is involved): :meth:`View.draw` calls plot functions from
:mod:`workbench.plots` that create the artists. On a change, :meth:`View.update` changes those
artists in place (``set_data``, ``set_text``…) and the base re-renders the figure to PNG,
with the layout computed once and then frozen. A view whose tab is hidden only marks itself
stale and redraws when shown, so a slider move repaints the visible views only.
"""

from __future__ import annotations

import base64
import io
import time

from .state import Selection


class View:
    """Subclasses set ``observes`` (Selection traits), implement ``draw(fig)`` and, for
    speed, ``update()``.

    Attributes
    ----------
    state : Selection
    output : ipywidgets.Output
        Holds the current PNG (``output.outputs[0]["data"]["image/png"]``).
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
        Kernel-side time of the last redraw (update + render), in milliseconds.
    controls : dict
        dim → control, shown above the figure.
    """

    observes: tuple = ()
    figsize: tuple = (8, 3.4)
    dpi: int = 90

    def __init__(self, state: Selection | None = None):
        import ipywidgets as w

        self.state = state if state is not None else Selection()
        self.output = w.Output()
        self.controls: dict = {}
        self.fig = self.axes = None
        self.png = b""
        self.draws = 0
        self.visible = True
        self.stale = False
        self.last_ms = float("nan")
        self._widget = None

    def _start(self) -> None:
        """Call at the end of a subclass's ``__init__``: observe, then draw once."""
        self.state.observe(self._changed, names=list(self.observes))
        self.redraw()

    def _changed(self, change) -> None:
        if self.visible:
            self.redraw()
        else:
            self.stale = True

    def show(self, visible: bool = True) -> None:
        """Mark the view shown (redrawing it if it went stale) or hidden."""
        self.visible = visible
        if visible and self.stale:
            self.redraw()

    def draw(self, fig):  # pragma: no cover - abstract
        """Build the artists on ``fig`` with :mod:`workbench.plots`; return the Axes."""
        raise NotImplementedError

    def update(self) -> None:
        """Change the artists in place for the current selection.

        The default clears the figure and draws it again; views override it to update
        their artists in place, which is what keeps a slider move fast.
        """
        self.fig.clear()
        self.fig.set_layout_engine("constrained")
        self.axes = self.draw(self.fig)
        self.fig.canvas.draw()
        self.fig.set_layout_engine("none")

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
        else:
            self.update()
        buf = io.BytesIO()
        self.fig.canvas.print_png(buf)
        self.png = buf.getvalue()
        self.draws += 1
        self.stale = False
        self.output.outputs = ({
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(self.png).decode("ascii"),
                     "text/plain": f"<{type(self).__name__} figure>"},
            "metadata": {},
        },)
        self.last_ms = (time.perf_counter() - t0) * 1e3

    @property
    def widget(self):
        """The controls above the figure, as one ``VBox``."""
        import ipywidgets as w

        if self._widget is None:
            self._widget = w.VBox([*self.controls.values(), self.output])
        return self._widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
