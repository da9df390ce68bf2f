"""Recording a training run: hooks, the Recorder, step schedules and the run store.

The store's readers (:func:`open_run`, :func:`signals`) do not import torch, so an analysis of
a large run does not pay torch's memory; the Recorder and checkpoints load it on first use.
"""

import importlib

from .schedules import every, never
from .store import RunExistsError, RunStore, load_checkpoint, open_run, signals

#: Names that need torch, loaded on first use: name → module.
_TORCH = {"Recorder": "recorder", "Probe": "recorder", "MemoryBudgetError": "recorder",
          "NonFiniteLossError": "recorder"}


def __getattr__(name):
    if name in _TORCH:
        return getattr(importlib.import_module(f".{_TORCH[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.record' has no attribute {name!r}")


__all__ = ["Recorder", "Probe", "MemoryBudgetError", "NonFiniteLossError", "every", "never",
           "RunStore", "RunExistsError", "open_run", "load_checkpoint", "signals"]
