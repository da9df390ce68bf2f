"""Shared torch.func plumbing for the probes: eval mode, functional model, device."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from torch.func import functional_call


@contextmanager
def eval_mode(model: nn.Module):
    """Put every submodule in eval mode; restore each one's own mode afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, was_training in modes:
            m.training = was_training


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and floating dtype of the model's first parameter."""
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def split_state(model: nn.Module) -> tuple[dict, dict]:
    """Detached trainable parameters, and everything else (frozen params and buffers)."""
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    rest = {k: v.detach() for k, v in model.named_parameters() if not v.requires_grad}
    rest.update({k: v.detach() for k, v in model.named_buffers()})
    return params, rest


def single_output(model: nn.Module, rest: dict):
    """``f(params, x) -> logits`` for ONE sample ``x`` (no batch dim), for vmap."""

    def f(params, x):
        return functional_call(model, (params, rest), (x.unsqueeze(0),)).squeeze(0)

    return f


def batch_output(model: nn.Module, rest: dict):
    """``f(params, x) -> logits`` for a batch ``x``."""

    def f(params, x):
        return functional_call(model, (params, rest), (x,))

    return f


def as_input(x, device, dtype, func: str, name: str) -> torch.Tensor:
    """A batch tensor on the model's device and dtype, with a clear error otherwise."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{func}() needs {name} as a torch.Tensor batch (N, ...); "
                        f"got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{func}() needs {name} as a batch (N, ...) with N >= 1; "
                         f"got shape {tuple(x.shape)}")
    return x.detach().to(device=device, dtype=dtype)
