"""Forces over training: how each update example pulls on an observed sample's classes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
import xarray as xr
from torch import nn
from torch.func import grad, jacrev, vmap

from ..batches import n_samples
from ..dims import EPOCH, LABEL, SAMPLE_U
from ._functional import (
    as_input,
    model_device_dtype,
    probe_mode,
    single_output,
    split_state,
    vmappable,
)
from .akg import _labels
from .ntk import DEFAULT_MEMORY_BUDGET


def pulls(model: nn.Module, x_o: torch.Tensor, x_u: torch.Tensor, y_u, *, lr: float,
          memory_budget: int = DEFAULT_MEMORY_BUDGET, forward=None) -> np.ndarray:
    """Per-example pulls at the current weights, ``(N_u, O)`` numpy float64.

    ``pull[u] = −η · A(x_o) K(x_o, x_u) G(x_u, y_u)``: the first-order change of
    ``log π(x_o)`` from one SGD step of size η on the single example ``u``. ``x_o`` is a
    batch of ONE observed sample. Inputs are tensors (images, integer token ids) or dicts
    of tensors sharing the sample dim; ``forward(model, x)`` calls the model when given.
    See :func:`forces` for how it is computed.
    """
    device, dtype = model_device_dtype(model)
    xo = as_input(x_o, device, dtype, "pulls", "x_o")
    if n_samples(xo) != 1:
        raise ValueError(f"pulls() needs x_o as a batch of one sample (1, ...); "
                         f"got {n_samples(xo)} samples")
    xu = as_input(x_u, device, dtype, "pulls", "x_u")
    n_u = n_samples(xu)
    y = _labels(y_u, n_u, device, "pulls")
    with probe_mode(model):
        params, rest = split_state(model)
        f = single_output(model, rest, forward)
        z_o = f(params, xo[0]).detach()
        j_o = jacrev(f)(params, xo[0])                       # name -> (O, *shape)
        j_o = torch.cat([j_o[k].reshape(z_o.shape[0], -1) for k in params], 1)  # (O, P)

        def loss(p, x, t):
            return nn.functional.cross_entropy(f(p, x).unsqueeze(0), t.unsqueeze(0))

        itemsize = torch.empty((), dtype=dtype).element_size()
        chunk = max(1, int(memory_budget // (j_o.shape[1] * itemsize)))
        kg = []
        for s in range(0, n_u, chunk):
            xs, in_dim = vmappable(xu[s:s + chunk])
            per_example = vmap(grad(loss), in_dims=(None, in_dim, 0))
            g = per_example(params, xs, y[s:s + chunk])
            g = torch.cat([g[k].reshape(g[k].shape[0], -1) for k in params], 1)  # (n, P)
            kg.append(g @ j_o.T)                              # (n, O) = (K G)_u
        kg = torch.cat(kg).detach().to("cpu", torch.float64).numpy()
    p_o = torch.softmax(z_o, -1).to("cpu", torch.float64).numpy()
    a = np.eye(p_o.shape[0]) - p_o[None, :]
    return -lr * kg @ a.T


def forces(checkpoints: Iterable[tuple[int, nn.Module]] | Callable[[int], nn.Module],
           x_o: torch.Tensor, x_u: torch.Tensor, y_u, *, lr: float | Callable[[int], float],
           top_k: int | None = 10, epochs: Iterable[int] | None = None, sample_u=None,
           memory_budget: int = DEFAULT_MEMORY_BUDGET,
           progress: bool = True, forward=None) -> xr.DataArray:
    """Per-class pull of the most influential update examples on ``x_o``, epoch by epoch.

    Parameters
    ----------
    checkpoints : iterable of (epoch, model), or callable ``epoch -> model``
        The recorded models, e.g. ``[(e, load_checkpoint(run, epoch=e)[0]) for e in ...]``.
        With a callable, ``epochs`` lists the epochs to load (one model in memory at a time).
    x_o : torch.Tensor or dict of tensors
        The observed sample as a batch of one, ``(1, ...)`` (images, token ids, or a dict
        of tensors passed as ``model(**x)``).
    x_u, y_u : torch.Tensor or dict of tensors, array-like of int
        Candidate update examples ``(N_u, ...)`` and their (training, possibly noisy) labels.
    lr : float or callable ``epoch -> float``
        Learning rate η of the step whose pull is measured.
    top_k : int or None
        Keep the ``top_k`` update examples with the largest pull, ranked by the sum over
        epochs of ``‖pull_u‖₂`` (over classes); ``None`` keeps all, in input order.
    epochs : iterable of int, optional
        Needed with a callable ``checkpoints``.
    sample_u : array-like, optional
        Coordinates of the update examples (e.g. training-set indices); default ``0..N_u-1``.
    memory_budget : int
        Bytes of per-example gradients held at once.
    progress : bool
        tqdm bar over epochs.
    forward : callable, optional
        ``forward(model, x) -> output`` (see :func:`workbench.batches.call`).

    Returns
    -------
    xarray.DataArray
        (epoch, sample_u, label): ``pull = −η · (A K G)_u``, with coords ``label_u(sample_u)``
        (the update example's label) and ``rank(sample_u)`` (0 = strongest). With
        ``top_k=None``, the sum over ``sample_u`` divided by ``N_u`` is the first-order
        Δ log π(x_o) of one mean-loss SGD step on the whole set (as :func:`akg` gives).

    Notes
    -----
    ``pull_u = −η · A(x_o) · K(x_o, x_u) · G(x_u, y_u)`` with ``A = I − 1·π(x_o)ᵀ``,
    ``K = J(x_o) J(x_u)ᵀ``, ``G = π(x_u) − e_{y_u}`` (Ren & Sutherland, ICLR 2025). It is the
    change of ``log π(x_o)`` to first order if the model took one SGD step of size η on the
    single example ``u`` (no ``1/N_u``: the pull does not depend on how many candidates are
    scored). No kernel mode is approximated: since ``J(x_u)ᵀ G_u = ∇θ CE(x_u, y_u)``,
    ``K G_u = J(x_o) · ∇θ CE_u``, so each epoch costs one Jacobian of ``x_o`` (O backward
    passes) and one per-example gradient per update example (vmap of ``grad``), cheaper than
    even the ``trace`` eNTK mode (O backward passes per update example) and exact.
    Models are run in eval mode.

    Examples
    --------
    >>> m = torch.nn.Linear(4, 3)
    >>> f = forces([(0, m), (1, m)], torch.randn(1, 4), torch.randn(6, 4), [0, 1, 2] * 2,
    ...            lr=0.1, top_k=2, progress=False)
    >>> f.dims, f.sizes["sample_u"]
    (('epoch', 'sample_u', 'label'), 2)
    """
    from tqdm.auto import tqdm

    if callable(checkpoints) and not isinstance(checkpoints, nn.Module):
        if epochs is None:
            raise ValueError("forces() needs epochs=[...] when checkpoints is a callable")
        epochs = list(epochs)
        items = ((e, None) for e in epochs)
        load = checkpoints
        total = len(epochs)
    else:
        items = iter(checkpoints)
        load = None
        total = None
    y_np = np.asarray(y_u).reshape(-1)
    found_epochs, values = [], []
    bar = tqdm(items, total=total, disable=not progress, desc="forces",  # as analyze's bars
               bar_format="{l_bar}{bar}| {n_fmt} of {total_fmt} epochs done [{elapsed}]"
               if total else None)
    for e, m in bar:
        bar.set_description(f"forces: epoch {e}")  # epochs count from 0
        model = load(e) if load is not None else m
        eta = lr(e) if callable(lr) else lr
        values.append(pulls(model, x_o, x_u, y_np, lr=eta, memory_budget=memory_budget,
                            forward=forward))
        found_epochs.append(e)
    if not values:
        raise ValueError("forces() needs at least one (epoch, model) checkpoint; got none")
    data = np.stack(values)                                   # (epoch, N_u, O)
    su = np.arange(data.shape[1]) if sample_u is None else np.asarray(sample_u)
    strength = np.linalg.norm(data, axis=-1).sum(0)
    order = np.argsort(-strength, kind="stable")
    keep = order if top_k is None else order[:top_k]
    if top_k is None:
        keep = np.arange(data.shape[1])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return xr.DataArray(
        data[:, keep], dims=(EPOCH, SAMPLE_U, LABEL),
        coords={EPOCH: np.asarray(found_epochs), SAMPLE_U: su[keep],
                LABEL: np.arange(data.shape[2]), "label_u": (SAMPLE_U, y_np[keep]),
                "rank": (SAMPLE_U, rank[keep])},
        name="pull",
        attrs={"long_name": "pull on log π(x_o): −η·(A K G)_u", "units": "nat",
               "n_candidates": int(data.shape[1])})


__all__ = ["forces", "pulls"]
