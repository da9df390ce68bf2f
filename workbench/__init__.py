"""Training Dynamics Workbench: see inside neural-network training through physics.

Subpackages: :mod:`workbench.record` (Recorder, run store), :mod:`workbench.diagnostics` (pure
xarray functions), :mod:`workbench.probes` (need the live model), :mod:`workbench.finetune`
(surgical fix), :mod:`workbench.plots`, :mod:`workbench.widgets`. Importing the package
registers the ``wb`` accessor on xarray objects (``da.wb.dfa()``).
"""

import importlib

from . import accessor, diagnostics, dims  # accessor registers ``.wb``
from .models import build_model, layer_groups
from .record import open_run

__version__ = "0.1.0"

_LAZY = ("probes", "finetune", "plots", "widgets", "train", "data", "record", "optim",
         "theory")


def __getattr__(name):  # heavy subpackages (captum, ipywidgets) load on first use
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = ["accessor", "diagnostics", "dims", "build_model", "layer_groups", "open_run",
           "__version__", *_LAZY]
