"""Squeezing effect: a negative-gradient step piles probability onto the dominant class."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr
from torch import nn
from torch.func import grad, vmap

from ..dims import LABEL, SAMPLE
from ._functional import as_input, eval_mode, model_device_dtype, single_output, split_state


def squeezing(model: nn.Module, x: torch.Tensor, *, lr: float, label=None,
              sample=None) -> xr.Dataset:
    """Push down one class on each sample with one gradient step, and see where mass goes.

    For each sample separately (one step per sample, from the same weights), take the
    *negative-gradient* step that lowers the log-probability of class ``y⁻``:
    ``θ' = θ − η ∇θ log π_{y⁻}(x)`` (gradient ascent on the cross-entropy of ``y⁻``, as
    the rejected response in DPO gets), and measure the probabilities before and after.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier; run in eval mode (modes restored), left unchanged.
    x : torch.Tensor
        Samples ``(N, ...)``.
    lr : float
        Step size η.
    label : array-like of int, optional
        ``y⁻`` per sample. Default: the class the model finds least likely (arg-min of π).
    sample : array-like, optional
        Coordinates of the sample axis.

    Returns
    -------
    xarray.Dataset
        ``prob_before``, ``prob_after``, ``delta_prob`` (sample, label); per sample
        ``dominant_gain`` (Δπ of the class that was arg-max before), ``pushed_change`` (Δπ of
        ``y⁻``), ``others_change`` (Δπ summed over all remaining classes); coords
        ``dominant(sample)`` and ``pushed(sample)``.

    Notes
    -----
    Ren & Sutherland (ICLR 2025): to first order the logits move by
    ``Δz = η K (π − e_{y⁻})`` (K the eNTK of x with itself). For ``K = k·I``,
    ``Δ log π_c = η k (π_c − δ_{c y⁻} − Σ_j π_j² + π_{y⁻})``, which is largest for the
    arg-max class and positive there (``π_max ≥ Σ π_j²``): the mass taken from ``y⁻`` and
    from the small classes is *squeezed* onto the already dominant class.

    Examples
    --------
    >>> ds = squeezing(torch.nn.Linear(4, 3), torch.randn(5, 4), lr=0.5)
    >>> ds.dominant_gain.dims, ds.delta_prob.dims
    (('sample',), ('sample', 'label'))
    """
    device, dtype = model_device_dtype(model)
    xs = as_input(x, device, dtype, "squeezing", "x")
    with eval_mode(model):
        params, rest = split_state(model)
        f = single_output(model, rest)
        with torch.no_grad():
            before = torch.softmax(model(xs), -1)
        if label is None:
            y = before.argmin(-1)
        else:
            y = torch.as_tensor(np.asarray(label), dtype=torch.long, device=device).reshape(-1)
            if y.shape[0] != xs.shape[0]:
                raise ValueError(f"squeezing() needs one label per sample: {xs.shape[0]}; "
                                 f"got {y.shape[0]}")

        def log_prob(p, xi, yi):
            return torch.log_softmax(f(p, xi), -1).gather(0, yi.unsqueeze(0)).squeeze(0)

        def after_step(xi, yi):
            g = grad(log_prob)(params, xi, yi)
            stepped = {k: params[k] - lr * g[k] for k in params}
            return torch.softmax(f(stepped, xi), -1)

        after = vmap(after_step)(xs, y).detach()
    pb = before.to("cpu", torch.float64).numpy()
    pa = after.to("cpu", torch.float64).numpy()
    d = pa - pb
    rows = np.arange(pb.shape[0])
    dom = pb.argmax(-1)
    pushed = y.cpu().numpy()
    rest_mask = np.ones_like(d, dtype=bool)
    rest_mask[rows, dom] = False
    rest_mask[rows, pushed] = False
    s = rows if sample is None else np.asarray(sample)
    coords = {SAMPLE: s, LABEL: np.arange(pb.shape[1]), "dominant": (SAMPLE, dom),
              "pushed": (SAMPLE, pushed)}
    p_attrs = {"units": "1"}
    return xr.Dataset(
        {
            "prob_before": ((SAMPLE, LABEL), pb, {**p_attrs, "long_name": "π before"}),
            "prob_after": ((SAMPLE, LABEL), pa, {**p_attrs, "long_name": "π after"}),
            "delta_prob": ((SAMPLE, LABEL), d, {**p_attrs, "long_name": "Δπ"}),
            "dominant_gain": (SAMPLE, d[rows, dom],
                              {**p_attrs, "long_name": "Δπ of the dominant class"}),
            "pushed_change": (SAMPLE, d[rows, pushed],
                              {**p_attrs, "long_name": "Δπ of the pushed-down class"}),
            "others_change": (SAMPLE, np.where(rest_mask, d, 0.0).sum(-1),
                              {**p_attrs, "long_name": "Δπ of the other classes"}),
        },
        coords=coords, attrs={"lr": float(lr)})


__all__ = ["squeezing"]
