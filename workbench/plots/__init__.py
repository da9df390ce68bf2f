"""Pictures: data in (xarray), an optional ``ax``, the Axes (or a dict of handles) out.

One module per family of pictures: :mod:`~workbench.plots.base` (labels, selection gids,
epoch axes, bars and limits), :mod:`~workbench.plots.training`,
:mod:`~workbench.plots.layers`, :mod:`~workbench.plots.probe`,
:mod:`~workbench.plots.damping`, :mod:`~workbench.plots.separation`,
:mod:`~workbench.plots.spectra`, :mod:`~workbench.plots.attribution`,
:mod:`~workbench.plots.forces`, :mod:`~workbench.plots.generic`,
:mod:`~workbench.plots.phases` (grokking phases shaded behind epoch axes) and
:mod:`~workbench.plots.distributions` (report distributions, drawn with seaborn). Every
figure is built in :func:`workbench.plots.style.context` (one colour-blind-safe palette and
theme) and places its labels with :mod:`~workbench.plots.placement` where they could
collide. A family a view updates in place has ``draw(data, ax) -> handles`` and
``update(handles, data)``.

Axis labels come from the data's ``attrs`` (``long_name``, ``units``). Plots never compute
diagnostics; they draw what they are given. Every name is re-exported here, so
``from workbench.plots import esd`` works as it always has.
"""

from . import distributions as distributions  # the module: report distributions (seaborn)
from . import dynamics as dynamics  # the module: draw, update
from . import phases as phases  # the module: shade, spans
from . import placement as placement  # the module: labels that never collide
from . import separation as separation  # the module: draw, update
from . import style as style  # the module: one palette and theme (seaborn), in a context
from ._scale import esd_density, log_bins
from .attribution import (
    VERDICT_COLORS,
    attribution_groups,
    fix_gallery,
    ig_gallery,
    ratio_limits,
    set_attribution_groups,
    set_ig_gallery,
)
from .base import (
    NO_UNITS,
    SELECTED_GID,
    SELECTION_GID,
    artist,
    as_texts,
    axes_or_new,
    bar_heights,
    bars,
    class_name,
    epoch_axis,
    epoch_marker,
    heatmap,
    integer_ticks,
    label_of,
    layer_bars,
    lines,
    padded_limits,
    set_bars,
    spans_decades,
)
from .damping import REGIME_COLORS, REGIMES, regime_strip
from .forces import (
    class_paths,
    delta_log_prob,
    forces_pull,
    ntk_heatmap,
    set_class_paths,
    set_delta_log_prob,
    set_forces_pull,
)
from .generic import generic_epochs, set_generic_epochs
from .layers import layer_stat, style_layers
from .probe import image_grid, probe_sample, probe_title, sample_image
from .spectra import alpha_over_epochs, esd, powerlaw_tail
from .training import accuracy_curves, training_curves

__all__ = [
    "NO_UNITS", "SELECTED_GID", "SELECTION_GID", "VERDICT_COLORS", "REGIMES", "REGIME_COLORS",
    "accuracy_curves", "alpha_over_epochs", "artist", "attribution_groups", "axes_or_new",
    "bar_heights", "bars", "class_name", "class_paths", "delta_log_prob", "epoch_axis",
    "epoch_marker", "esd", "esd_density", "fix_gallery", "forces_pull", "generic_epochs",
    "heatmap", "ig_gallery", "image_grid", "integer_ticks", "label_of", "layer_bars",
    "layer_stat", "lines", "log_bins", "ntk_heatmap", "padded_limits", "powerlaw_tail",
    "probe_sample", "probe_title", "ratio_limits", "regime_strip", "sample_image", "set_bars",
    "set_attribution_groups", "set_class_paths", "set_delta_log_prob", "set_forces_pull",
    "set_generic_epochs", "set_ig_gallery", "spans_decades", "style_layers", "as_texts",
    "training_curves",
]
