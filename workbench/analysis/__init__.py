"""Per-epoch analyses computed after the fact and stored under ``/analysis/<name>``.

Adding an analysis is one module here that calls
:func:`~workbench.analysis.registry.register` (found by :func:`load_all`, no list to edit),
and its test; a package of yours registers through the entry-point group
``workbench.analyses``. ``workbench.analyze(run)`` and ``workbench analyze RUN`` run them
incrementally.
"""

from __future__ import annotations

from .registry import ANALYSES, NEEDS, Analysis, analyze, load_all, register

__all__ = ["ANALYSES", "Analysis", "NEEDS", "analyze", "load_all", "register"]
