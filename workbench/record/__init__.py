"""Recording a training run: hooks, the Recorder, step schedules and the run store.

The store (reading and writing run directories) does not import torch; the Recorder does,
and is imported on first use.
"""

import importlib

from .schedules import every, never
from .store import RunExistsError, RunStore, load_checkpoint, open_run, signals

_RECORDER = ("Recorder", "Probe", "MemoryBudgetError", "NonFiniteLossError")
_WATCH = ("watch", "Watch")


def __getattr__(name):
    if name in _RECORDER:
        return getattr(importlib.import_module(".recorder", __name__), name)
    if name in _WATCH:
        return getattr(importlib.import_module(".watch", __name__), name)
    raise AttributeError(f"module 'workbench.record' has no attribute {name!r}")


__all__ = ["watch", "Watch", "Recorder", "Probe", "MemoryBudgetError", "NonFiniteLossError",
           "every", "never", "RunStore", "RunExistsError", "open_run", "load_checkpoint", "signals"]
