"""Repairing a trained model without retraining it.

:func:`fix_run` (:mod:`workbench.finetune.fix`) is the fix of a recorded run that
``workbench fix`` and the Fix button call; :func:`surgical_fix` fine-tunes any model. The
torch code is imported on first use, so importing :mod:`workbench.finetune.fix` (the Fix
button's result type) does not import torch.
"""

from .fix import FixResult, fix_run

_SURGICAL = ("surgical_fix", "SurgicalReport", "physics_momentum")


def __getattr__(name):
    if name in _SURGICAL:
        from . import surgical

        return getattr(surgical, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["surgical_fix", "SurgicalReport", "physics_momentum", "fix_run", "FixResult"]
