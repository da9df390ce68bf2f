"""AKG decomposition of one SGD step: Δ log π(x_o) ≈ −η · A(x_o) · K(x_o, x_u) · G(x_u, y_u)."""

from __future__ import annotations

import copy

import numpy as np
import torch
import xarray as xr
from torch import nn

from ..batches import logits, n_samples
from ..dims import LABEL, LABEL_I, LABEL_J, SAMPLE, SAMPLE_I, SAMPLE_J, SAMPLE_U
from ._functional import as_input, model_device_dtype, probe_mode
from .ntk import DEFAULT_MEMORY_BUDGET, empirical_ntk


def akg(model: nn.Module, x_o: torch.Tensor, x_u: torch.Tensor, y_u, *, lr: float,
        sample=None, sample_u=None, method: str = "jacobian",
        memory_budget: int = DEFAULT_MEMORY_BUDGET, forward=None) -> xr.Dataset:
    """First-order change of ``log π(x_o)`` from one SGD step on the batch ``(x_u, y_u)``.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier, logits ``(N, O)``; evaluated in eval mode (modes restored after).
    x_o : torch.Tensor or dict of tensors
        Observed examples ``(N_o, ...)`` (images, token ids, or a dict of tensors sharing
        the sample dim, passed as ``model(**x)``).
    x_u : torch.Tensor or dict of tensors
        Update examples ``(N_u, ...)``.
    y_u : array-like of int
        Their labels ``(N_u,)``.
    lr : float
        Learning rate η of the plain SGD step (no momentum, no weight decay).
    sample, sample_u : array-like, optional
        Coordinates of the ``sample`` (x_o) and ``sample_u`` (x_u) axes; default ``0..N-1``.
    method, memory_budget
        Passed to :func:`~workbench.probes.ntk.empirical_ntk`.
    forward : callable, optional
        ``forward(model, x) -> output`` (see :func:`workbench.batches.call`).

    Returns
    -------
    xarray.Dataset
        - ``A`` (sample, label_i, label_j): ``I − 1·π(x_o)ᵀ``, i.e. ``δ_ij − π_j(x_o)``
          (the Jacobian of log-softmax; each row sums to zero, ``A·1 = 0``).
        - ``K`` (sample, sample_u, label_i, label_j): the eNTK ``J(x_o) J(x_u)ᵀ``.
        - ``G`` (sample_u, label): ``π(x_u) − e_{y_u}``, the gradient of the cross-entropy
          with respect to the logits; its entries sum to zero over ``label``.
        - ``delta_logits`` (sample, label): ``−η/N_u · Σ_u K G``.
        - ``delta_log_prob`` (sample, label): ``−η/N_u · Σ_u A · K · G``.
        - ``prob`` (sample, label): ``π(x_o)`` before the step.

    Notes
    -----
    Ren & Sutherland (ICLR 2025), Ren (2025): for one SGD step of size η on the loss
    ``L = (1/N_u) Σ_u CE(z(x_u), y_u)`` (the MEAN cross-entropy, as ``torch`` computes it),

    .. math:: Δ \\log π(x_o) = −\\frac{η}{N_u} \\sum_u A(x_o) K(x_o, x_u) G(x_u, y_u) + O(η^2).

    The ``1/N_u`` comes from the mean; the paper writes the sum for a single example.
    Everything is computed in eval mode (BatchNorm running statistics, no dropout), which
    is also how :func:`real_delta_log_prob` takes its real step, so the two are comparable.

    Examples
    --------
    >>> m = torch.nn.Linear(4, 3)
    >>> ds = akg(m, torch.randn(2, 4), torch.randn(5, 4), [0, 1, 2, 0, 1], lr=0.1)
    >>> ds.delta_log_prob.dims, ds.K.dims
    (('sample', 'label'), ('sample', 'sample_u', 'label_i', 'label_j'))
    """
    device, dtype = model_device_dtype(model)
    xo = as_input(x_o, device, dtype, "akg", "x_o")
    xu = as_input(x_u, device, dtype, "akg", "x_u")
    n_u = n_samples(xu)
    y = _labels(y_u, n_u, device, "akg")
    with probe_mode(model), torch.no_grad():
        p_o = torch.softmax(logits(model, xo, forward), -1).to("cpu", torch.float64).numpy()
        p_u = torch.softmax(logits(model, xu, forward), -1).to("cpu", torch.float64).numpy()
    n_out = p_o.shape[-1]
    if int(y.max()) >= n_out:
        raise ValueError(f"akg() needs y_u in 0..{n_out - 1}; got max {int(y.max())}")
    k = empirical_ntk(model, xo, xu, method=method, memory_budget=memory_budget,
                      forward=forward)
    k = k.rename({SAMPLE_I: SAMPLE, SAMPLE_J: SAMPLE_U}).transpose(
        SAMPLE, SAMPLE_U, LABEL_I, LABEL_J).values
    a = np.eye(n_out)[None] - p_o[:, None, :]
    g = p_u - np.eye(n_out)[y.cpu().numpy()]
    dz = -lr / n_u * np.einsum("oujk,uk->oj", k, g)
    dlp = np.einsum("oij,oj->oi", a, dz)
    s = np.arange(n_samples(xo)) if sample is None else np.asarray(sample)
    su = np.arange(n_u) if sample_u is None else np.asarray(sample_u)
    labels = np.arange(n_out)
    coords = {SAMPLE: s, SAMPLE_U: su, LABEL: labels, LABEL_I: labels, LABEL_J: labels}
    ds = xr.Dataset(
        {
            "A": ((SAMPLE, LABEL_I, LABEL_J), a,
                  {"long_name": "A = I − 1·πᵀ (log-softmax Jacobian)", "units": "1"}),
            "K": ((SAMPLE, SAMPLE_U, LABEL_I, LABEL_J), k,
                  {"long_name": "eNTK K(x_o, x_u)", "units": "logit²"}),
            "G": ((SAMPLE_U, LABEL), g,
                  {"long_name": "G = π(x_u) − e_y (prediction gap)", "units": "1"}),
            "delta_logits": ((SAMPLE, LABEL), dz,
                             {"long_name": "predicted Δ logits", "units": "logit"}),
            "delta_log_prob": ((SAMPLE, LABEL), dlp,
                               {"long_name": "predicted Δ log π(x_o)", "units": "nat"}),
            "prob": ((SAMPLE, LABEL), p_o, {"long_name": "π(x_o)", "units": "1"}),
        },
        coords=coords,
        attrs={"lr": float(lr), "n_update": int(n_u), "loss": "mean cross-entropy"},
    )
    return ds


def real_delta_log_prob(model: nn.Module, x_o: torch.Tensor, x_u: torch.Tensor, y_u, *,
                        lr: float, sample=None, forward=None) -> xr.DataArray:
    """The real change of ``log π(x_o)`` after one plain SGD step on a deep copy.

    The step is ``θ ← θ − η ∇θ L`` with ``L`` the mean cross-entropy over ``(x_u, y_u)``,
    taken in eval mode (as :func:`akg` assumes). ``model`` itself is not changed. Inputs
    and ``forward`` are as in :func:`akg`.

    Returns
    -------
    xarray.DataArray
        (sample, label): ``log π'(x_o) − log π(x_o)``, float64.

    Examples
    --------
    >>> m = torch.nn.Linear(4, 3)
    >>> real_delta_log_prob(m, torch.randn(2, 4), torch.randn(5, 4), [0, 1, 2, 0, 1],
    ...                     lr=0.1).dims
    ('sample', 'label')
    """
    device, dtype = model_device_dtype(model)
    xo = as_input(x_o, device, dtype, "real_delta_log_prob", "x_o")
    xu = as_input(x_u, device, dtype, "real_delta_log_prob", "x_u")
    y = _labels(y_u, n_samples(xu), device, "real_delta_log_prob")
    twin = copy.deepcopy(model)
    twin.eval()
    with torch.no_grad():
        before = torch.log_softmax(logits(twin, xo, forward), -1)
    params = [p for p in twin.parameters() if p.requires_grad]
    loss = nn.functional.cross_entropy(logits(twin, xu, forward), y)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            if g is not None:
                p.sub_(lr * g)
        after = torch.log_softmax(logits(twin, xo, forward), -1)
    d = (after.double() - before.double()).cpu().numpy()
    s = np.arange(n_samples(xo)) if sample is None else np.asarray(sample)
    return xr.DataArray(d, dims=(SAMPLE, LABEL), coords={SAMPLE: s, LABEL: np.arange(d.shape[1])},
                        name="delta_log_prob",
                        attrs={"long_name": "real Δ log π(x_o) after one SGD step",
                               "units": "nat", "lr": float(lr)})


def _labels(y_u, n, device, func) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(y_u), dtype=torch.long, device=device).reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"{func}() needs one label per update example: {n}; "
                         f"got {y.shape[0]} labels")
    if int(y.min()) < 0:
        raise ValueError(f"{func}() needs non-negative labels; got min {int(y.min())}")
    return y


__all__ = ["akg", "real_delta_log_prob"]
