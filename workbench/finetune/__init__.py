"""Repairing a trained model without retraining it."""

from .surgical import SurgicalReport, physics_momentum, surgical_fix

__all__ = ["surgical_fix", "SurgicalReport", "physics_momentum"]
