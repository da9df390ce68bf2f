"""Callbacks that record a Lightning or HuggingFace training run with :func:`workbench.watch`.

- :class:`workbench.integrations.lightning.WorkbenchCallback`, a ``lightning.pytorch``
  ``Callback`` (``pip install 'workbench[lightning]'``);
- :class:`workbench.integrations.huggingface.WorkbenchCallback`, a ``transformers``
  ``TrainerCallback`` (``pip install 'workbench[huggingface]'``).

Each is a thin shell over :func:`workbench.watch`: it attaches the recorder to the model and
optimizer the trainer uses, passes each step's loss and batch size, commits an epoch with the
trainer's numeric metrics and closes the recording. The statistics are those of the plain
loop: the same run store, opened with ``Run(path, model=factory)``. Importing this package
imports neither Lightning nor transformers.
"""

__all__ = ["lightning", "huggingface"]
