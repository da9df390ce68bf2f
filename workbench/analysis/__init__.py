"""Per-epoch analyses computed after the fact and stored under ``/analysis/<name>``.

Adding an analysis means one module here (a function decorated with
:func:`~workbench.analysis.registry.register`) plus its name in :data:`MODULES`, and its
test. ``workbench.analyze(run)`` and ``workbench analyze RUN`` run them incrementally.
"""

from __future__ import annotations

import importlib

from .registry import ANALYSES, Analysis, analyze, register

#: The modules that register analyses, in the order ``analyze`` runs them.
MODULES: tuple[str, ...] = ("damping", "attribution", "dynamics", "forces", "separation",
                            "spectra")


def load_all() -> dict:
    """Import every analysis module (each registers itself); return the registry."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return ANALYSES


__all__ = ["ANALYSES", "Analysis", "MODULES", "analyze", "load_all", "register"]
