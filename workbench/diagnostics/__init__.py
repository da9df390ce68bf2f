"""Pure diagnostics: xarray in, xarray out, no torch. Each function works on dask-backed data."""

from .auc import auc
from .damping import (
    critical_momentum,
    damping_ratio,
    damping_regime,
    epoch_damping,
    epoch_lr_momentum,
    expected_update_cos,
    measured_verdict,
    update_cos_summary,
)
from .dfa import default_scales, dfa
from .grokking import grokking_phases, plateau_departure
from .paths import path_length, path_ratio, probabilities, zigzag
from .powerlaw import powerlaw_alpha
from .probabilities import softmax
from .separation import (
    linear_law_deviation,
    load,
    load_curve,
    separation_by_layer,
    separation_fuzziness,
)
from .stability import collective_signal, early_convergence_lead, integration, stability
from .synchrony import kuramoto_order, metastability, phases, synchrony

__all__ = [
    "critical_momentum", "damping_ratio", "damping_regime", "epoch_damping", "epoch_lr_momentum",
    "measured_verdict", "expected_update_cos", "update_cos_summary",
    "dfa", "default_scales", "powerlaw_alpha",
    "phases", "kuramoto_order", "synchrony", "metastability",
    "collective_signal", "integration", "stability", "early_convergence_lead",
    "separation_fuzziness", "separation_by_layer", "load", "load_curve",
    "linear_law_deviation",
    "probabilities", "softmax", "path_length", "path_ratio", "zigzag", "auc",
    "grokking_phases", "plateau_departure",
]
