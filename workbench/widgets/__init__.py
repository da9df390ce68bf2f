"""Widgets that only display: one shared selection, one module per view, an explorer.

Controls are built from a DataArray's dims and coords (:func:`controls_for`); every view
observes the same :class:`Selection`; a view's redraw calls one function of
:mod:`workbench.plots`.
"""

from .explorer import Explorer, explore
from .fix import ActionButton, fix_button
from .layers import LayersView
from .probe import ProbeView
from .run import ensure_run
from .state import Selection, control_for, controls_for, link
from .training import TrainingView
from .view import View

__all__ = ["Selection", "controls_for", "control_for", "link", "View", "LayersView",
           "ProbeView", "TrainingView", "Explorer", "explore", "ensure_run",
           "ActionButton", "fix_button"]
