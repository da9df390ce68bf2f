"""Training Dynamics Workbench: see inside neural-network training through physics."""

from . import dims
from .models import build_model, layer_groups

__version__ = "0.1.0"

__all__ = ["dims", "build_model", "layer_groups", "__version__"]
