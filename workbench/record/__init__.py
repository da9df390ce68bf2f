"""Recording a training run: hooks, the Recorder, step schedules and the run store."""

from .recorder import MemoryBudgetError, NonFiniteLossError, Probe, Recorder
from .schedules import every, never
from .store import RunExistsError, RunStore, load_checkpoint, open_run, signals

__all__ = ["Recorder", "Probe", "MemoryBudgetError", "NonFiniteLossError", "every", "never",
           "RunStore", "RunExistsError", "open_run", "load_checkpoint", "signals"]
