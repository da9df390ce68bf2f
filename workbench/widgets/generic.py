"""The view of any /analysis group that has no view of its own (a user's analysis, or one
computed by a plugin this user lacks): its variables drawn by their dims.

A variable over ``(epoch,)`` is a line over epochs, ``(epoch, layer)`` a line per layer
beside the selected epoch's bars, ``(epoch, layer, x)`` a heat map of the selected epoch
beside the selected layer's profile, and ``(epoch, x)`` the selected epoch's profile
(:func:`workbench.plots.generic_epochs`). The epoch slider and the layer dropdown are linked
to the shared :class:`~workbench.widgets.state.Selection`; a "variable" dropdown chooses
among several variables.

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"score": (("epoch", "layer"), np.arange(6.0).reshape(3, 2))},
...                 coords={"epoch": [0, 1, 2], "layer": ["a", "b"]})
>>> view = GenericView(ds)
>>> view.state.epoch = 2
>>> view.values()
[4.0, 5.0]
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import plots
from ..dims import EPOCH, LAYER
from .state import Selection, controls_for
from .view import View


def displayable(ds: xr.Dataset) -> list[str]:
    """The variables of ``ds`` the generic view can draw: numeric (or boolean), with an
    ``epoch`` dim and at most one dim besides ``epoch`` and ``layer`` (a ``layer`` dim
    counts as one only with text names).

    Examples
    --------
    >>> ds = xr.Dataset({"a": ("epoch", [1.0]), "b": ("epoch", ["x"]),
    ...                  "c": (("epoch", "i", "j"), [[[1.0]]])})
    >>> displayable(ds)
    ['a']
    """
    layer_named = LAYER in ds.coords and ds[LAYER].dtype.kind in "OU"
    out = []
    for name, v in ds.data_vars.items():
        if EPOCH not in v.dims or v.dtype.kind not in "biuf" or ds.sizes[EPOCH] < 1:
            continue
        rest = [d for d in v.dims if d != EPOCH and not (d == LAYER and layer_named)]
        if len(rest) <= 1 and v.ndim <= 3:
            out.append(str(name))
    return out


class GenericView(View):
    """Any per-epoch analysis, drawn by its dims with the epoch slider and the shared layer.

    Parameters
    ----------
    ds : Dataset
        An /analysis group (``run.analysis(name)``) with an ``epoch`` dim.
    state : Selection, optional
    variable : str, optional
        The variable shown first (default: the first one :func:`displayable` finds).
    title : str, optional
        The analysis' name, shown in the caption.

    Attributes
    ----------
    variable : ipywidgets.Dropdown
        Chooses the variable (shown when there are several).
    handles : dict
        What :func:`workbench.plots.generic_epochs` returned.
    """

    observes = (EPOCH, LAYER)

    def __init__(self, ds: xr.Dataset, state: Selection | None = None, *,
                 variable: str | None = None, title: str = ""):
        import html

        import ipywidgets as w

        if not isinstance(ds, xr.Dataset):
            raise TypeError(f"GenericView needs an xarray.Dataset (an /analysis group); got "
                            f"{type(ds).__name__}")
        names = displayable(ds)
        if not names:
            raise ValueError(f"GenericView needs a numeric variable with an 'epoch' dim and "
                             f"at most one more dim besides 'layer'; got "
                             f"{ {k: v.dims for k, v in ds.data_vars.items()} }")
        if variable is not None and variable not in names:
            raise ValueError(f"GenericView: no variable {variable!r} to draw; expected one "
                             f"of {names}")
        super().__init__(state)
        self.data = ds[names]
        self.variable = w.Dropdown(options=names, value=variable or names[0],
                                   description="variable")
        self.variable.observe(self._changed, "value")
        self.controls = {"variable": self.variable} if len(names) > 1 else {}
        self.controls.update(controls_for(self.data[names[0]], self.state, [EPOCH]))
        if any(LAYER in self.data[n].dims for n in names):
            with_layer = next(n for n in names if LAYER in self.data[n].dims)
            self.controls.update(controls_for(self.data[with_layer], self.state, [LAYER]))
        if title:
            self.caption.value = f"<i>{html.escape(title)}</i>: generic view"
        self.handles: dict = {}
        self._start()

    def key(self) -> tuple:
        return (*super().key(), self.variable.value)

    def draw(self, fig):
        self._drawn_variable = self.variable.value
        self.handles = plots.generic_epochs(self.data[self.variable.value],
                                            epoch=self.state.epoch, layer=self.state.layer,
                                            fig=fig)
        return self.handles["axes"]

    def dynamic(self) -> list:
        return list(self.handles["dynamic"])

    def update(self) -> None:
        if self._drawn_variable != self.variable.value:
            return self.rebuild()
        if plots.set_generic_epochs(self.handles, self.data[self.variable.value],
                                    epoch=self.state.epoch, layer=self.state.layer):
            self.invalidate()  # the lines' styles are in the cached background

    def values(self) -> list[float]:
        """What the picture shows for the selected epoch: the bars (epoch, layer), the image
        (epoch, layer, x) as nested lists, the profile (epoch, x) or the point (epoch,)."""
        h = self.handles
        if "bars" in h:
            return [float(b.get_y() + b.get_height()) for b in h["bars"]]
        if "image" in h:
            return np.asarray(h["image"].get_array(), float).tolist()
        if "point" in h:
            return [float(v) for v in h["point"].get_ydata()]
        return [float(v) for v in h["profile"].get_ydata()]


def generic_tab(tree, ds, state, *, name: str = "", **_):
    """The Explorer's factory for an analysis without a view: :class:`GenericView`."""
    return GenericView(ds, state, title=name)


__all__ = ["GenericView", "displayable", "generic_tab"]
