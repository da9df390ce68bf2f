"""Simulations for teaching: heavy-ball momentum, a Kuramoto population, a spring-block chain.

Not diagnostics of recorded data: each simulates a toy and reads it with the same functions
that read a run (:mod:`workbench.diagnostics.damping`, :mod:`~workbench.diagnostics.synchrony`,
:mod:`~workbench.diagnostics.separation`), so the toy and the run are compared in one language.
Numpy only; the widgets that drive them live in :mod:`workbench.widgets.theory`.
"""

from .heavy_ball import characteristic_roots, heavy_ball
from .kuramoto import OSCILLATOR, kuramoto, kuramoto_theory, lorentzian_frequencies
from .noisy_quadratic import noisy_heavy_ball
from .spring_block import (
    chain_fuzziness,
    chain_load_curve,
    spring_block_chain,
    spring_block_steady_state,
)

__all__ = ["heavy_ball", "characteristic_roots", "noisy_heavy_ball",
           "kuramoto", "kuramoto_theory", "lorentzian_frequencies", "OSCILLATOR",
           "spring_block_chain", "spring_block_steady_state", "chain_fuzziness",
           "chain_load_curve"]
