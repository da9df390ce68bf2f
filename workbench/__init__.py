"""Training Dynamics Workbench: see inside neural-network training through physics.

Subpackages: :mod:`workbench.record` (Recorder, run store), :mod:`workbench.diagnostics` (pure
xarray functions, no torch), :mod:`workbench.analysis` (per-epoch analyses stored in the run),
:mod:`workbench.probes` (need the live model), :mod:`workbench.finetune` (surgical fix),
:mod:`workbench.plots`, :mod:`workbench.widgets`. :class:`workbench.Run` is the one way into a
recorded run. Importing the package registers the ``wb`` accessor on xarray objects
(``da.wb.dfa()``) and does not import torch.
"""

import importlib

from . import accessor, diagnostics, dims  # accessor registers ``.wb``

__version__ = "0.1.0"

_LAZY = ("probes", "finetune", "plots", "widgets", "train", "data", "record", "optim",
         "analysis", "models", "config", "theory", "groups", "batches", "integrations")
#: Names re-exported lazily: name → module that defines it.
_NAMES = {"Run": "run", "analyze": "analysis", "open_run": "record.store",
          "watch": "record.watch", "Watch": "record.watch",
          "build_model": "models", "layer_groups": "models", "TrainConfig": "config"}


def __getattr__(name):  # torch, captum and ipywidgets load on first use only
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = ["accessor", "diagnostics", "dims", "Run", "analyze", "watch", "Watch", "open_run",
           "build_model",
           "layer_groups", "TrainConfig", "__version__", *_LAZY]
