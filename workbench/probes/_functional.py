"""Shared torch.func plumbing for the probes: eval mode, functional model, inputs of any model.

Every probe calls the model through :func:`workbench.batches.call` (``model(x)``,
``model(**x)`` for a dict, or the user's ``forward(model, x)``) and reads the logits by
:func:`workbench.batches.output_tensor`. Inputs are a tensor of any dtype (images, or token
ids, which stay integer) or a :class:`~workbench.batches.TensorDict` of tensors sharing the
sample dim; ``vmap`` maps over the sample dim of every tensor of a dict.

Attention: the probes take second derivatives (Hessian-vector products) and forward-mode
derivatives (``jvp``) through ``F.scaled_dot_product_attention``, which PyTorch's fused CPU
and CUDA kernels do not provide, nor does ``nn.MultiheadAttention``'s fused inference fast
path; :func:`math_attention` (and :func:`probe_mode`) select the math kernel (the same
function, composed of differentiable ops) and turn the fast path off while a probe runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager

import torch
from torch import nn
from torch.func import functional_call

from ..batches import TensorDict, call, n_samples, output_tensor


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


@contextmanager
def math_attention():
    """Scaled-dot-product attention by its math kernel (twice differentiable, jvp-able), and
    ``nn.MultiheadAttention``'s fused inference fast path off (it has no forward-mode AD).
    Both are process-wide settings of torch, restored on exit."""
    mha = getattr(torch.backends, "mha", None)
    fast = mha.get_fastpath_enabled() if mha is not None else None
    if mha is not None:
        mha.set_fastpath_enabled(False)
    try:
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel
        except ImportError:  # torch < 2.3: the math path is the one autograd differentiates
            yield
            return
        with sdpa_kernel([SDPBackend.MATH]):
            yield
    finally:
        if mha is not None:
            mha.set_fastpath_enabled(fast)


@contextmanager
def probe_mode(model: nn.Module):
    """:func:`eval_mode` and :func:`math_attention` together."""
    with eval_mode(model), math_attention():
        yield model


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and floating dtype of the model's first floating parameter."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def split_state(model: nn.Module) -> tuple[dict, dict]:
    """Detached trainable parameters, and everything else (frozen params and buffers)."""
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    rest = {k: v.detach() for k, v in model.named_parameters() if not v.requires_grad}
    rest.update({k: v.detach() for k, v in model.named_buffers()})
    return params, rest


class _Logits(nn.Module):
    """``model`` called the workbench's one way, returning its logits tensor."""

    def __init__(self, model: nn.Module, forward=None):
        super().__init__()
        self.model = model
        self.user_forward = forward

    def forward(self, x):
        if isinstance(x, Mapping) and not isinstance(x, TensorDict):
            x = TensorDict(x)
        out = output_tensor(call(self.model, x, self.user_forward))
        if out is None:
            raise TypeError("the model's output holds no tensor to read as logits (expected "
                            "a tensor, .logits, .last_hidden_state or a tuple/dict holding one)")
        return out


def _prefixed(state: dict) -> dict:
    return {f"model.{k}": v for k, v in state.items()}


def functional_logits(model: nn.Module, rest: dict, forward=None):
    """``f(params, x) -> logits`` for a batch ``x`` (a tensor or a dict of tensors)."""
    wrapper = _Logits(model, forward)
    frozen = _prefixed(rest)

    def f(params, x):
        return functional_call(wrapper, (_prefixed(params), frozen), (x,))

    return f


def single_output(model: nn.Module, rest: dict, forward=None):
    """``f(params, x) -> logits`` for ONE sample ``x`` (no batch dim; a tensor or a dict of
    tensors), for vmap."""
    fb = functional_logits(model, rest, forward)

    def f(params, x):
        return fb(params, unsqueeze(x)).squeeze(0)

    return f


def batch_output(model: nn.Module, rest: dict, forward=None):
    """``f(params, x) -> logits`` for a batch ``x``."""
    return functional_logits(model, rest, forward)


def unsqueeze(x):
    """One sample as a batch of one (every tensor of a dict)."""
    if isinstance(x, Mapping):
        return {k: v.unsqueeze(0) if torch.is_tensor(v) else v for k, v in x.items()}
    return x.unsqueeze(0)


def vmappable(x):
    """``(x, in_dim)`` for ``vmap`` over the sample dim: a dict becomes a plain dict (pytree)
    mapped on dim 0 of each tensor, other values not mapped."""
    if isinstance(x, Mapping):
        plain = dict(x.items())
        return plain, {k: 0 if torch.is_tensor(v) and v.ndim else None
                       for k, v in plain.items()}
    return x, 0


def sample_shape(x) -> object:
    """What must agree between two input batches: the per-sample shape (and dtype kind) of a
    tensor, or of each tensor of a dict."""
    if isinstance(x, Mapping):
        return {k: tuple(v.shape[1:]) for k, v in x.items() if torch.is_tensor(v)}
    return tuple(x.shape[1:])


def as_input(x, device, dtype, func: str, name: str):
    """A batch on the model's device: a tensor ``(N, ...)`` or a
    :class:`~workbench.batches.TensorDict`, with a clear error otherwise.

    Floating tensors are cast to the model's ``dtype``; integer tensors (token ids, masks)
    and booleans keep theirs.
    """
    if isinstance(x, Mapping):
        try:
            x = x if isinstance(x, TensorDict) else TensorDict(x)
        except ValueError as e:
            raise ValueError(f"{func}() needs {name} as a batch: {e}") from None
        if len(x) < 1:
            raise ValueError(f"{func}() needs {name} as a batch with N >= 1 samples; got 0")
        return TensorDict({k: _cast(v, device, dtype) for k, v in x.items()})
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{func}() needs {name} as a torch.Tensor batch (N, ...) or a dict of "
                        f"tensors sharing the sample dim; got {type(x).__name__}")
    if x.ndim < 1 or x.shape[0] < 1 or (x.ndim < 2 and x.is_floating_point()):
        raise ValueError(f"{func}() needs {name} as a batch (N, ...) with N >= 1; "
                         f"got shape {tuple(x.shape)}")
    return _cast(x, device, dtype)


def _cast(v, device, dtype):
    if not torch.is_tensor(v):
        return v
    v = v.detach()
    if v.is_floating_point():
        return v.to(device=device, dtype=dtype)
    return v.to(device=device)


__all__ = ["eval_mode", "math_attention", "probe_mode", "model_device_dtype", "split_state",
           "functional_logits", "single_output", "batch_output", "unsqueeze", "vmappable",
           "sample_shape", "as_input", "n_samples"]
