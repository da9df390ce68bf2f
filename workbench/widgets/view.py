"""The base of every view: a figure in an ``ipywidgets.Output`` redrawn on selection changes.

A view observes some traits of the shared :class:`~workbench.widgets.state.Selection`. On a
change, :meth:`View.redraw` makes a fresh matplotlib ``Figure`` (not registered with pyplot,
so no backend or ``%matplotlib`` magic is involved), lets the subclass call ONE plot function
from :mod:`workbench.plots` on it, renders it to PNG and puts that PNG in the Output.
"""

from __future__ import annotations

import base64
import io

from .state import Selection


class View:
    """Subclasses set ``observes`` (Selection traits) and implement ``draw(fig)``.

    Attributes
    ----------
    state : Selection
    output : ipywidgets.Output
        Holds the current PNG (``output.outputs[0]["data"]["image/png"]``).
    fig : matplotlib.figure.Figure
        The last figure drawn (tests read its artists).
    axes : Axes or tuple of Axes
        What the plot function returned.
    png : bytes
        The last rendered image.
    draws : int
        How many times the view has drawn.
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
        self._widget = None

    def _start(self) -> None:
        """Call at the end of a subclass's ``__init__``: observe, then draw once."""
        self.state.observe(self._changed, names=list(self.observes))
        self.redraw()

    def _changed(self, change) -> None:
        self.redraw()

    def draw(self, fig):  # pragma: no cover - abstract
        """Call one function of :mod:`workbench.plots` on ``fig``; return its Axes."""
        raise NotImplementedError

    def redraw(self) -> None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
        self.axes = self.draw(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self.fig, self.png = fig, buf.getvalue()
        self.draws += 1
        self.output.outputs = ({
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(self.png).decode("ascii"),
                     "text/plain": f"<{type(self).__name__} figure>"},
            "metadata": {},
        },)

    @property
    def widget(self):
        """The controls above the figure, as one ``VBox``."""
        import ipywidgets as w

        if self._widget is None:
            self._widget = w.VBox([*self.controls.values(), self.output])
        return self._widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
