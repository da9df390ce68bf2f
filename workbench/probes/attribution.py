"""Which layer groups carry a model's errors: gradient norms on misclassified examples.

Source: Pasichnyk 2026, "Beta-Scheduling" (arXiv:2603.28921), "diagnosis on misclassified
examples" and "cross-optimizer invariance". The split rule and the Captum summaries are ours.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr
from torch.nn import functional as F

from ..dims import LAYER, SAMPLE
from ..models import group_parameters, layer_groups

__all__ = ["misclassified_attribution", "problematic_overlap", "two_means_split", "as_tensors"]


def as_tensors(data):
    """``(x, y, index)`` from an ``(x, y)`` pair or an ImageDataset (``.images``, ``.targets``).

    ``index`` is the dataset index of each row (``data.indices`` when present, else 0..n-1).
    """
    if hasattr(data, "images") and hasattr(data, "targets"):
        x, y = data.images, data.targets
        idx = getattr(data, "indices", None)
    else:
        try:
            x, y = data
        except (TypeError, ValueError):
            raise TypeError("data must be an (x, y) pair of tensors or a dataset with "
                            f".images and .targets; got {type(data).__name__}") from None
        idx = None
    x, y = torch.as_tensor(x), torch.as_tensor(y).long()
    if len(x) != len(y):
        raise ValueError(f"data has {len(x)} inputs but {len(y)} targets")
    idx = np.arange(len(x)) if idx is None else np.asarray(idx)
    if len(idx) != len(x):
        idx = np.arange(len(x))
    return x, y, idx


def two_means_split(values):
    """Exact 1-D two-means: the threshold minimising the within-cluster sum of squares.

    Returns ``(high, threshold)``: a boolean mask of the upper cluster, and the midpoint
    between the two clusters' nearest members. NaN values are never in the upper cluster.
    Degenerate cases (fewer than two finite values, or all equal): no split, ``high`` all
    False and ``threshold`` NaN.
    """
    v = np.asarray(values, dtype=float)
    high = np.zeros(v.shape, dtype=bool)
    finite = np.isfinite(v)
    x = np.sort(v[finite])
    if len(x) < 2 or np.ptp(x) <= 1e-12 * max(1.0, np.abs(x).max()):
        return high, float("nan")
    best, cut = np.inf, 1
    for k in range(1, len(x)):  # lower cluster x[:k], upper x[k:]
        if x[k] == x[k - 1]:
            continue
        sse = ((x[:k] - x[:k].mean()) ** 2).sum() + ((x[k:] - x[k:].mean()) ** 2).sum()
        if sse < best:
            best, cut = sse, k
    threshold = 0.5 * (x[cut - 1] + x[cut])
    high[finite] = v[finite] > threshold
    return high, float(threshold)


def _predict(model, x, y, batch_size, device):
    preds, losses = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = model(x[i:i + batch_size].to(device))
            yb = y[i:i + batch_size].to(device)
            preds.append(out.argmax(1).cpu())
            losses.append(F.cross_entropy(out, yb, reduction="none").cpu())
    return torch.cat(preds), torch.cat(losses)


def _group_sq_grad(model, params_by_group, x, y, batch_size, device):
    """Squared gradient norm of the mean cross-entropy over (x, y), per group."""
    all_params = [p for ps in params_by_group.values() for p in ps]
    acc = [torch.zeros_like(p) for p in all_params]
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size].to(device))
        loss = F.cross_entropy(out, y[i:i + batch_size].to(device), reduction="sum") / len(x)
        grads = torch.autograd.grad(loss, all_params, allow_unused=True)
        for a, g in zip(acc, grads, strict=True):
            if g is not None:
                a += g
    out, k = {}, 0
    for name, ps in params_by_group.items():
        out[name] = float(sum((a.double() ** 2).sum() for a in acc[k:k + len(ps)]))
        k += len(ps)
    return out


def _margin(model):
    def forward(x, wrong, true):
        z = model(x)
        return z.gather(1, wrong[:, None])[:, 0] - z.gather(1, true[:, None])[:, 0]
    return forward


def misclassified_attribution(model, data, *, groups=None, batch_size=256, ig_top=8,
                              ig_steps=32, device=None):
    r"""Per-group gradient norms on misclassified vs correct examples; a problematic flag.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier with layer groups (``model.groups``).
    data : (x, y) tensors or ImageDataset
        Examples to diagnose (usually the test set or a held-out subset).
    groups : list of str, optional
        Groups to score (default: all). An unknown name raises a ValueError listing them.
    batch_size : int
        Batch size of every pass.
    ig_top : int
        Number of worst misclassified examples (highest loss) that get Integrated
        Gradients maps (0 to skip).
    ig_steps : int
        Integration steps of Integrated Gradients.
    device : str or torch.device, optional
        Where to compute (default: the model's device).

    Returns
    -------
    xarray.Dataset
        Dim ``layer``: ``grad_rms_misclassified``, ``grad_rms_correct``, ``log_ratio``,
        ``problematic`` (bool), ``n_params``, ``attribution`` and ``attribution_abs``.
        Dims ``(sample, channel, y, x)``: ``integrated_gradients`` and ``image``, with
        ``target``, ``prediction`` and ``loss`` over ``sample`` (dataset index of the
        worst misclassified examples). Attrs: ``n_misclassified``, ``n_correct``,
        ``threshold`` (of the split on ``log_ratio``), ``split``.

    Raises
    ------
    ValueError
        Unknown group (lists the model's groups); no misclassified or no correctly
        classified example (nothing to compare).

    Notes
    -----
    **Gradient scores.** For each group :math:`g` with :math:`n_g` parameters,
    :math:`s_g(S) = \lVert\nabla_{\theta_g} \bar L_S\rVert / \sqrt{n_g}`, the RMS per-parameter
    gradient of the mean cross-entropy :math:`\bar L_S` over a set :math:`S`; the per-parameter
    normalisation keeps big groups from winning by size alone. ``log_ratio`` is
    :math:`\log s_g(\text{misclassified}) - \log s_g(\text{correct})` (the normalisation
    cancels in the ratio, it matters for the two columns shown).

    **Split (parameter-free).** Exact 1-D two-means on the log ratios (:func:`two_means_split`:
    the cut minimising the within-cluster sum of squares, Otsu's rule); the upper cluster is
    ``problematic``. Degenerate: fewer than two scored groups, or all log ratios equal, gives
    no split (all False, ``split="degenerate"``). With exactly two groups the larger is
    flagged.

    **Captum layer attribution.** :class:`captum.attr.LayerGradientXActivation` of each group's
    output for the margin :math:`z_{\hat y} - z_y` (wrong-class logit minus true-class logit)
    on every misclassified example, summed over the group's output units, then averaged over
    examples: ``attribution`` (signed; first-order share of the error margin the group's output
    carries) and ``attribution_abs`` (sum of absolute values). Chosen over LayerConductance or
    layer Integrated Gradients because it costs one backward pass per batch for all groups
    (the others need ``n_steps`` passes per group), and for piecewise-linear bias-free networks
    the signed sums are exact (Euler's theorem).

    **Integrated Gradients** (:class:`captum.attr.IntegratedGradients`, zero baseline = the
    normalised data mean, ``ig_steps`` steps) of the same margin for the ``ig_top``
    misclassified examples with the highest loss.

    The model is evaluated in eval mode and its mode restored.

    Examples
    --------
    >>> from workbench.models import build_model
    >>> m = build_model("mlp", depth=2, width=8, image_size=4)
    >>> x, y = torch.randn(64, 1, 4, 4), torch.randint(0, 10, (64,))
    >>> ds = misclassified_attribution(m, (x, y), ig_top=2, ig_steps=4)
    >>> ds["problematic"].dims, ds["integrated_gradients"].dims
    (('layer',), ('sample', 'channel', 'y', 'x'))
    """
    from captum.attr import IntegratedGradients, LayerGradientXActivation

    params_by_group = group_parameters(model, groups)
    modules = layer_groups(model) | {n: model.get_submodule(n) for n in params_by_group}
    x, y, index = as_tensors(data)
    if device is None:
        p0 = next(model.parameters(), None)
        device = p0.device if p0 is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        pred, loss = _predict(model, x, y, batch_size, device)
        wrong = pred != y
        n_wrong, n_right = int(wrong.sum()), int((~wrong).sum())
        if n_wrong == 0:
            raise ValueError(f"no misclassified examples among the {len(y)} given: the model "
                             "is right on all of them, so there is nothing to attribute "
                             "(use a larger or harder set, e.g. the full test set)")
        if n_right == 0:
            raise ValueError(f"no correctly classified example among the {len(y)} given: "
                             "the baseline (gradient on correct examples) is undefined")
        sq_w = _group_sq_grad(model, params_by_group, x[wrong], y[wrong], batch_size, device)
        sq_r = _group_sq_grad(model, params_by_group, x[~wrong], y[~wrong], batch_size, device)
        names = list(params_by_group)
        n_params = np.array([sum(p.numel() for p in params_by_group[n]) for n in names])
        with np.errstate(divide="ignore", invalid="ignore"):
            rms_w = np.sqrt([sq_w[n] for n in names]) / np.sqrt(n_params)
            rms_r = np.sqrt([sq_r[n] for n in names]) / np.sqrt(n_params)
            log_ratio = np.log(rms_w) - np.log(rms_r)
        log_ratio[~np.isfinite(log_ratio)] = np.nan
        problematic, threshold = two_means_split(log_ratio)

        # Captum layer attribution of the error margin, per group
        xw, yw, pw = x[wrong], y[wrong], pred[wrong]
        forward = _margin(model)
        attr = np.zeros(len(names))
        attr_abs = np.zeros(len(names))
        for j, n in enumerate(names):
            lga = LayerGradientXActivation(forward, modules[n])
            for i in range(0, n_wrong, batch_size):
                sl = slice(i, i + batch_size)
                a = lga.attribute(xw[sl].to(device), additional_forward_args=(
                    pw[sl].to(device), yw[sl].to(device)))
                a = a.detach().flatten(1)
                attr[j] += float(a.sum())
                attr_abs[j] += float(a.abs().sum())
        attr /= n_wrong
        attr_abs /= n_wrong

        # Integrated Gradients maps of the worst misclassified examples
        k = min(ig_top, n_wrong)
        lw = loss[wrong]
        worst = torch.argsort(lw, descending=True)[:k]
        xs = xw[worst].to(device)
        if k:
            ig = IntegratedGradients(forward).attribute(
                xs, baselines=torch.zeros_like(xs), n_steps=ig_steps,
                additional_forward_args=(pw[worst].to(device), yw[worst].to(device)),
                internal_batch_size=batch_size).detach().cpu().numpy()
        else:
            ig = np.zeros((0, *x.shape[1:]))
    finally:
        model.train(was_training)

    img = xs.cpu().numpy()
    if img.ndim == 2:  # flat inputs: one channel, one row
        img, ig = img[:, None, None, :], ig[:, None, None, :]
    elif img.ndim == 3:
        img, ig = img[:, None], ig[:, None]
    wrong_idx = index[wrong.numpy()][worst.numpy()]
    sample = {SAMPLE: wrong_idx}
    img_dims = (SAMPLE, "channel", "y", "x")
    ds = xr.Dataset(
        {
            "grad_rms_misclassified": (LAYER, rms_w, {
                "long_name": "RMS gradient per parameter, misclassified", "units": "loss/param"}),
            "grad_rms_correct": (LAYER, rms_r, {
                "long_name": "RMS gradient per parameter, correct", "units": "loss/param"}),
            "log_ratio": (LAYER, log_ratio, {
                "long_name": "log gradient ratio misclassified/correct", "units": "1"}),
            "problematic": (LAYER, problematic, {"long_name": "problematic group"}),
            "n_params": (LAYER, n_params, {"long_name": "parameters", "units": "1"}),
            "attribution": (LAYER, attr, {
                "long_name": "gradient x activation of the error margin", "units": "logit",
                "method": "captum.attr.LayerGradientXActivation"}),
            "attribution_abs": (LAYER, attr_abs, {
                "long_name": "|gradient x activation| of the error margin", "units": "logit"}),
            "integrated_gradients": (img_dims, ig, {
                "long_name": "Integrated Gradients of the error margin", "units": "logit",
                "n_steps": ig_steps, "baseline": "zeros"}),
            "image": (img_dims, img, {"long_name": "input (normalised)"}),
            "target": (SAMPLE, yw[worst].numpy(), {"long_name": "true label"}),
            "prediction": (SAMPLE, pw[worst].numpy(), {"long_name": "predicted label"}),
            "loss": (SAMPLE, lw[worst].numpy(), {"long_name": "cross-entropy", "units": "nat"}),
        },
        coords={LAYER: names, **sample},
        attrs={"n_misclassified": n_wrong, "n_correct": n_right,
               "threshold": threshold,
               "split": "two-means on log_ratio" if math.isfinite(threshold) else "degenerate",
               "normalisation": "||g|| / sqrt(n_params)"},
    )
    return ds


def _problematic_set(x):
    if isinstance(x, xr.Dataset):
        x = x["problematic"]
    if isinstance(x, xr.DataArray):
        return {str(n) for n, f in zip(x[LAYER].values, x.values, strict=True) if f}
    return {str(n) for n in x}


def problematic_overlap(a, b):
    r"""Jaccard overlap :math:`|A\cap B| / |A\cup B|` of two runs' problematic groups.

    Parameters
    ----------
    a, b : xarray.Dataset, DataArray or iterable of str
        Outputs of :func:`misclassified_attribution` (or their ``problematic`` flag, or
        group names), e.g. for a model trained with SGD and one trained with Adam.

    Returns
    -------
    float
        In [0, 1]; 1 means the same groups. NaN when neither has a problematic group
        (nothing to compare).

    Examples
    --------
    >>> problematic_overlap(["conv1", "layer2", "layer3"], ["conv1", "layer2"])
    0.6666666666666666
    """
    sa, sb = _problematic_set(a), _problematic_set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else float("nan")
