"""One shared selection, observed by every view, and controls built from a DataArray.

The :class:`Selection` holds what the user is looking at (``epoch``, ``step``, ``layer``,
``sample``). Controls are built from a DataArray's dims and coords by :func:`controls_for`
(as mpl-interactions' ``hyperslicer`` does) and linked to the selection both ways, so that a
slider in one tab moves the matching slider in every other tab and every view redraws.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.zeros((3, 2)), dims=("step", "layer"),
...                   coords={"step": [0, 4, 8], "layer": ["conv1", "fc"]})
>>> state = Selection()
>>> controls = controls_for(da, state)
>>> [type(c).__name__ for c in controls.values()]
['SelectionSlider', 'Dropdown']
>>> controls["step"].value = 4
>>> state.step
4
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import traitlets
import xarray as xr

from ..dims import EPOCH, LAYER, SAMPLE, STEP, choice

#: The dims a :class:`Selection` can hold, in display order.
SELECTABLE = (EPOCH, STEP, LAYER, SAMPLE)


class Selection(traitlets.HasTraits):
    """What every view shows: one epoch, step, layer and sample (``None`` until chosen).

    ``sample`` is a dataset index (the /probe ``sample`` coord), not a position.
    """

    epoch = traitlets.Int(None, allow_none=True)
    step = traitlets.Int(None, allow_none=True)
    layer = traitlets.Unicode(None, allow_none=True)
    sample = traitlets.Int(None, allow_none=True)

    def __repr__(self) -> str:
        return "Selection(" + ", ".join(f"{d}={getattr(self, d)!r}" for d in SELECTABLE) + ")"


def _python(value):
    """numpy scalars to Python ones (traitlets and ipywidgets want plain types)."""
    return value.item() if isinstance(value, np.generic) else value


def _nearest(options: list, value):
    """The option equal to ``value``, else the numerically nearest one, else the first."""
    if value in options:
        return value
    if isinstance(value, (int, float)) and all(isinstance(o, (int, float)) for o in options):
        return min(options, key=lambda o: abs(o - value))
    return options[0]


def _is_range(values: list) -> bool:
    return (len(values) > 1 and all(isinstance(v, int) for v in values)
            and values == list(range(values[0], values[0] + len(values))))


#: A key press on a long slider moves it by about this share of its range (visibly).
KEY_STEP = 0.01


def control_for(da: xr.DataArray, dim: str, *, description: str | None = None):
    """An unlinked control whose choices are ``da``'s ``dim`` coord.

    Text coords give a ``Dropdown``; an integer coord that is a contiguous range gives an
    ``IntSlider`` (its ``step``, what a key press moves, is about :data:`KEY_STEP` of the
    range, at least 1, so that a key press on a slider over thousands of steps moves the
    marker visibly); any other coord a ``SelectionSlider`` over its values.
    """
    import ipywidgets as w

    if dim not in da.dims:
        raise ValueError(f"control_for: no dim {dim!r} in the data; got dims {da.dims}")
    values = [_python(v) for v in (da[dim].values if dim in da.coords
                                   else np.arange(da.sizes[dim]))]
    if not values:
        raise ValueError(f"control_for: dim {dim!r} is empty")
    desc = description or dim
    layout = w.Layout(width="95%")
    style = {"description_width": "initial"}
    if all(isinstance(v, str) for v in values):
        return w.Dropdown(options=values, value=values[0], description=desc, style=style)
    if _is_range(values):
        step = max(1, int(round(KEY_STEP * (values[-1] - values[0])))) if dim == STEP else 1
        return w.IntSlider(min=values[0], max=values[-1], value=values[0], description=desc,
                           step=step, continuous_update=False, layout=layout, style=style)
    return w.SelectionSlider(options=values, value=values[0], description=desc,
                             continuous_update=False, layout=layout, style=style)


def options_of(control) -> list:
    """The values a control can take, as a list."""
    if hasattr(control, "options") and not hasattr(control, "min"):
        return [_python(v) for v in control.options]  # Dropdown, SelectionSlider: labels=values
    return list(range(control.min, control.max + 1))


def link(control, state: Selection, dim: str):
    """Link ``control.value`` and ``state.<dim>`` both ways.

    A state value the control does not offer moves the control to the nearest option it
    has (a step between two recorded signal steps, say), without changing the state. When
    the state is still unset, it takes the control's value.

    Returns
    -------
    callable
        Call it to undo the link.
    """
    choice(dim, SELECTABLE, "selection dim")
    options = options_of(control)
    busy = []

    def to_state(change):
        if not busy:
            busy.append(1)
            try:
                setattr(state, dim, _python(change["new"]))
            finally:
                busy.pop()

    def to_control(change):
        if getattr(control, "_wb_hidden", False):
            return  # a hidden view's control catches up when shown (sync_controls)
        if not busy and change["new"] is not None:
            busy.append(1)
            try:
                control.value = _nearest(options, change["new"])
            finally:
                busy.pop()

    control._wb_sync = lambda: to_control({"new": getattr(state, dim)})

    if getattr(state, dim) is None:
        setattr(state, dim, _python(control.value))
    else:
        control.value = _nearest(options, getattr(state, dim))
    control.observe(to_state, "value")
    state.observe(to_control, dim)

    def unlink():
        control.unobserve(to_state, "value")
        state.unobserve(to_control, dim)

    return unlink


def controls_for(da: xr.DataArray, state: Selection, dims: Iterable[str] | None = None,
                 **descriptions) -> dict:
    """Controls for ``da``'s selectable dims, each linked to ``state``.

    Parameters
    ----------
    da : xarray.DataArray
        Whose dims and coords define the controls.
    state : Selection
        The shared selection.
    dims : iterable of str, optional
        Which dims (default: every dim of ``da`` that a :class:`Selection` holds).
    **descriptions
        Labels per dim, e.g. ``step="training step"``.

    Returns
    -------
    dict
        dim → control (``Dropdown``, ``IntSlider`` or ``SelectionSlider``), in ``dims`` order.
    """
    dims = [d for d in da.dims if d in SELECTABLE] if dims is None else list(dims)
    out = {}
    for dim in dims:
        choice(dim, SELECTABLE, "selection dim")
        control = control_for(da, dim, description=descriptions.get(dim))
        link(control, state, dim)
        out[dim] = control
    return out


def show_controls(controls, visible: bool) -> None:
    """Mark linked controls shown or hidden. A hidden control does not follow the selection
    (each move would send the browser one update per hidden slider); shown again, it takes
    the selection's current value.

    Examples
    --------
    >>> import ipywidgets as w
    >>> state = Selection(epoch=0)
    >>> c = w.IntSlider(min=0, max=3)
    >>> _ = link(c, state, "epoch")
    >>> show_controls([c], False); state.epoch = 2; c.value
    0
    >>> show_controls([c], True); c.value
    2
    """
    for control in controls:
        control._wb_hidden = not visible
        if visible and hasattr(control, "_wb_sync"):
            control._wb_sync()


def tie_step_to_epoch(state: Selection, epoch_of_step: xr.DataArray):
    """Selecting a step selects its epoch; selecting another epoch moves the step into it.

    Parameters
    ----------
    state : Selection
    epoch_of_step : DataArray (step)
        The epoch of each recorded step (the /steps ``epoch`` coord).

    Returns
    -------
    callable
        Call it to undo the tie.

    Examples
    --------
    >>> eos = xr.DataArray([0, 0, 1, 1], dims="step", coords={"step": [0, 1, 2, 3]})
    >>> state = Selection(step=0, epoch=0)
    >>> untie = tie_step_to_epoch(state, eos)
    >>> state.step = 2
    >>> state.epoch
    1
    >>> state.epoch = 0
    >>> state.step          # the last step of epoch 0
    1
    """
    steps = np.asarray(epoch_of_step[STEP].values, dtype=int)
    epochs = np.asarray(epoch_of_step.values, dtype=int)
    if steps.size == 0:
        raise ValueError("tie_step_to_epoch: no steps recorded")

    def step_changed(change):
        if change["new"] is None:
            return
        i = min(int(np.searchsorted(steps, change["new"], side="right")) - 1, steps.size - 1)
        epoch = int(epochs[max(i, 0)])
        if state.epoch != epoch:
            state.epoch = epoch

    def epoch_changed(change):
        if change["new"] is None:
            return
        if state.step is not None:
            i = min(int(np.searchsorted(steps, state.step, side="right")) - 1, steps.size - 1)
            if int(epochs[max(i, 0)]) == change["new"]:
                return
        inside = steps[epochs == change["new"]]
        if inside.size:
            state.step = int(inside[-1])

    state.observe(step_changed, STEP)
    state.observe(epoch_changed, EPOCH)

    def untie():
        state.unobserve(step_changed, STEP)
        state.unobserve(epoch_changed, EPOCH)

    return untie


__all__ = ["Selection", "SELECTABLE", "control_for", "controls_for", "link", "options_of",
           "show_controls",
           "tie_step_to_epoch"]
