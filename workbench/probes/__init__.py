"""Probes: they need the live model (torch) and return xarray."""

from .akg import akg, real_delta_log_prob
from .attribution import (
    chosen_groups,
    misclassified_attribution,
    problematic_groups,
    problematic_overlap,
    split_verdict,
)
from .curvature import curvature_probe, layer_curvature
from .filter_kd import PredictionEMA, soft_cross_entropy
from .forces import forces, pulls
from .ntk import empirical_ntk
from .spectrum import weight_spectrum
from .squeezing import squeezing

__all__ = ["empirical_ntk", "akg", "real_delta_log_prob", "forces", "pulls",
           "misclassified_attribution", "problematic_groups", "split_verdict", "chosen_groups",
           "problematic_overlap", "layer_curvature",
           "curvature_probe", "PredictionEMA", "soft_cross_entropy", "squeezing",
           "weight_spectrum"]
