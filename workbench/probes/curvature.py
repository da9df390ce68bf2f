"""Effective curvature of each layer group: top Hessian eigenvalue by power iteration."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from torch.nn import functional as F

from ..batches import logits
from ..dims import LAYER
from ..groups import group_parameters
from ._functional import math_attention

__all__ = ["layer_curvature", "curvature_probe"]


def _power_iteration(hvp, params, iters, gen, shift=0.0):
    """Largest eigenvalue of (H - shift*I) by power iteration; returns it plus ``shift``."""
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) for p in params]
    norm = torch.sqrt(sum((u * u).sum() for u in v))
    v = [u / norm for u in v]
    eig = float("nan")
    for _ in range(iters):
        hv = hvp(v)
        if shift:
            hv = [h - shift * u for h, u in zip(hv, v, strict=True)]
        eig = float(sum((h * u).sum() for h, u in zip(hv, v, strict=True)))
        norm = torch.sqrt(sum((h * h).sum() for h in hv))
        if norm == 0:
            return 0.0 + shift
        v = [h / norm for h in hv]
    return eig + shift


def layer_curvature(model, x, y, *, groups=None, iters=20, loss_fn=F.cross_entropy, seed=0,
                    forward=None):
    r"""Top Hessian eigenvalue of the loss restricted to each layer group's parameters.

    Parameters
    ----------
    model : torch.nn.Module
        Any model (groups: :func:`workbench.groups.resolve_groups`). Attention (through
        ``F.scaled_dot_product_attention``, as ``nn.MultiheadAttention`` and most
        transformers use it) is run by its math kernel, which is twice differentiable.
    x, y : torch.Tensor (or a dict of tensors for ``x``)
        One fixed batch (inputs and targets), on the model's device. Inputs may be images,
        integer token ids, or a dict of tensors passed as ``model(**x)``.
    groups : mapping or list of str, optional
        Groups to probe: a mapping name → module/parameter prefixes (``Run.groups``), names
        of the model's groups, or None for all of the model's groups.
    iters : int
        Power-iteration steps per group (default 20; each is one Hessian-vector product).
    loss_fn : callable
        ``loss_fn(logits, y) -> scalar`` (default: mean cross-entropy); the logits are read
        from the model's output by :func:`workbench.batches.output_tensor`.
    seed : int
        Seed of the random start vector.
    forward : callable, optional
        ``forward(model, x) -> output`` (see :func:`workbench.batches.call`).

    Returns
    -------
    xarray.DataArray
        Dim ``layer``: the estimated top eigenvalue :math:`\lambda_{max}` of
        :math:`H_{gg} = \partial^2 L / \partial\theta_g^2` (the group's diagonal Hessian
        block). NaN for a group without trainable parameters.

    Notes
    -----
    Hessian-vector products by double backward: :math:`Hv = \nabla_\theta(\nabla_\theta L
    \cdot v)` with the other groups' parameters held fixed. Power iteration
    :math:`v \leftarrow Hv/\lVert Hv\rVert`, estimate the Rayleigh quotient
    :math:`v^\top H v`. Power iteration finds the eigenvalue of largest magnitude; if that is
    negative, a second run on :math:`H - \lambda_d I` finds the top (most positive) one.
    The error after ``iters`` steps shrinks like :math:`(\lambda_2/\lambda_1)^{2k}`.
    The model is put in eval mode (BatchNorm uses its running statistics, dropout is off)
    and its mode restored afterwards. Used as the effective curvature :math:`\lambda` in
    :func:`workbench.diagnostics.damping.epoch_damping`.

    Examples
    --------
    >>> from workbench.models import build_model
    >>> m = build_model("mlp", depth=1, width=4, image_size=2)
    >>> layer_curvature(m, torch.randn(8, 1, 2, 2), torch.randint(0, 10, (8,)), iters=3).dims
    ('layer',)
    """
    params_by_group = group_parameters(model, groups)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        gen = torch.Generator().manual_seed(seed)
        values = []
        for params in params_by_group.values():
            if not params:
                values.append(np.nan)
                continue
            with math_attention():
                loss = loss_fn(logits(model, x, forward), y)
                grads = torch.autograd.grad(loss, params, create_graph=True,
                                            allow_unused=True)
            if all(g is None for g in grads):  # the loss does not depend on the group
                values.append(0.0)
                continue
            grads = [torch.zeros_like(p) if g is None else g
                     for g, p in zip(grads, params, strict=True)]

            def hvp(v, grads=grads, params=params):
                live = [(g, u) for g, u in zip(grads, v, strict=True) if g.requires_grad]
                if not live:  # the loss is linear in these parameters
                    return [torch.zeros_like(p) for p in params]
                hv = torch.autograd.grad([g for g, _ in live], params,
                                         grad_outputs=[u for _, u in live],
                                         retain_graph=True, allow_unused=True)
                return [torch.zeros_like(p) if h is None else h
                        for h, p in zip(hv, params, strict=True)]

            eig = _power_iteration(hvp, params, iters, gen)
            if eig < 0:
                eig = _power_iteration(hvp, params, iters, gen, shift=eig)
            values.append(eig)
    finally:
        for m, mode in modes:
            m.training = mode
    return xr.DataArray(np.asarray(values, dtype=float), dims=LAYER,
                        coords={LAYER: list(params_by_group)}, name="curvature",
                        attrs={"long_name": "top Hessian eigenvalue of the group",
                               "units": "loss/param²", "iters": iters,
                               "method": "Hessian-vector power iteration"})


def curvature_probe(x, y, *, groups=None, iters=20, loss_fn=F.cross_entropy, seed=0,
                    forward=None):
    """An epoch-end probe ``(model, epoch) -> xr.Dataset`` recording ``curvature`` (layer).

    For :func:`workbench.train.train`'s ``epoch_probes``: it calls :func:`layer_curvature` on
    the fixed batch ``(x, y)`` (moved to the model's device), so the run store gets
    ``/epochs_layers/curvature`` (epoch, layer). Damping ratio and regime per layer are then
    computed after the fact with :func:`workbench.diagnostics.damping.epoch_damping` from
    ``/epochs`` ``lr`` and ``momentum``.

    Examples
    --------
    >>> from workbench.models import build_model
    >>> probe = curvature_probe(torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)), iters=2)
    >>> probe(build_model("cnn"), 0)["curvature"].dims
    ('layer',)
    """
    def probe(model, epoch):
        dev = next(model.parameters()).device
        curv = layer_curvature(model, x.to(dev), y.to(dev), groups=groups, iters=iters,
                               loss_fn=loss_fn, seed=seed, forward=forward)
        return curv.to_dataset()

    return probe
