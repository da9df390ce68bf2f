"""Widgets that only display: one shared selection, one module per view, an explorer.

Controls are built from a DataArray's dims and coords (:func:`controls_for`); every view
observes the same :class:`Selection`; a view's redraw calls one function of
:mod:`workbench.plots`.
"""

from ..ensure import ensure_run
from .attribution import AttributionView, FixComparison, stored_problematic_groups
from .compare import CompareView
from .damping import DampingView
from .dynamics import DynamicsView
from .explorer import Explorer, analysis_views, explore
from .fix import ActionButton, fix_button
from .forces import ForcesView
from .generic import GenericView
from .layers import LayersView
from .probe import ProbeView
from .separation import SeparationView
from .spectra import SpectraView
from .state import Selection, control_for, controls_for, link, tie_step_to_epoch
from .theory import HeavyBallWidget, KuramotoWidget, SpringBlockWidget
from .training import TrainingView
from .view import View

__all__ = ["Selection", "controls_for", "control_for", "link", "View", "LayersView",
           "ProbeView", "TrainingView", "Explorer", "explore", "ensure_run",
           "ActionButton", "fix_button", "AttributionView", "ForcesView", "FixComparison",
           "stored_problematic_groups", "DampingView", "DynamicsView", "SeparationView",
           "SpectraView", "analysis_views", "tie_step_to_epoch", "HeavyBallWidget",
           "KuramotoWidget", "SpringBlockWidget", "CompareView", "GenericView"]
