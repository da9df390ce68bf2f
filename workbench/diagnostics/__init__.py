"""Pure diagnostics: xarray in, xarray out, no torch. Each function works on dask-backed data."""

from .dfa import default_scales, dfa
from .separation import (
    linear_law_deviation,
    load,
    load_curve,
    separation_by_layer,
    separation_fuzziness,
)
from .spring_block import spring_block_chain, spring_block_steady_state
from .stability import collective_signal, early_convergence_lead, integration, stability
from .synchrony import kuramoto_order, metastability, phases, synchrony

__all__ = [
    "dfa", "default_scales",
    "phases", "kuramoto_order", "synchrony", "metastability",
    "collective_signal", "integration", "stability", "early_convergence_lead",
    "separation_fuzziness", "separation_by_layer", "load", "load_curve",
    "linear_law_deviation",
    "spring_block_chain", "spring_block_steady_state",
]
