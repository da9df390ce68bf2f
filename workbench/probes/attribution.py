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
from ..verdicts import (  # the torch-free rules, re-exported here for back-compatibility
    CONFIDENT,
    PROBLEMATIC,
    SURGICAL_SHARE,
    VERDICTS,
    chosen_groups,
    split_verdict,
    two_means_split,
)
from ..verdicts import overlap as problematic_overlap

__all__ = ["misclassified_attribution", "problematic_groups", "split_verdict", "chosen_groups",
           "SURGICAL_SHARE", "problematic_overlap", "two_means_split", "as_tensors", "CONFIDENT",
           "VERDICTS"]


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


# ----------------------------------------------------------------------------- the rule
# The rule on the measured ratios (split_verdict, two_means_split), the fix's choice
# (chosen_groups) and the overlap of two runs live in workbench.verdicts (no torch).
_FLOATS_BUDGET = 2 ** 24  # floats held per gradient matrix (64 MB in float32)


def _chunk_gradients(model, params_by_group, x, y, *, chunks, seed, batch_size, device):
    """Per-chunk sums of per-example gradients of the cross-entropy, per group.

    The examples are dealt at random (seeded) into ``chunks`` chunks (one example per chunk
    when ``chunks >= len(x)``). Returns ``({group: (chunks, n_g) tensor}, counts)``.
    """
    from torch.func import functional_call, grad, vmap

    names = {n: [k for k, p in model.named_parameters() if any(p is q for q in ps)]
             for n, ps in params_by_group.items()}
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    wanted = [k for ks in names.values() for k in ks]

    def loss_one(p, xi, yi):
        out = functional_call(model, ({**params, **p}, buffers), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per_example = vmap(grad(loss_one), in_dims=(None, 0, 0))
    n = len(x)
    m = max(1, min(n, chunks))
    gen = torch.Generator().manual_seed(seed)
    chunk_of = torch.randperm(n, generator=gen) % m
    sums = {g: torch.zeros(m, sum(params[k].numel() for k in ks), dtype=torch.float64)
            for g, ks in names.items()}
    n_total = max(1, sum(params[k].numel() for k in wanted))
    b = max(1, min(batch_size, _FLOATS_BUDGET // n_total))
    sub = {k: params[k] for k in wanted}
    for i in range(0, n, b):
        grads = per_example(sub, x[i:i + b].to(device), y[i:i + b].to(device))
        ids = chunk_of[i:i + b]
        for g, ks in names.items():
            flat = torch.cat([grads[k].flatten(1) for k in ks], 1) if ks else \
                torch.zeros(len(ids), 0)
            sums[g].index_add_(0, ids, flat.detach().cpu().double())
    counts = torch.bincount(chunk_of, minlength=m).double()
    return sums, counts


def _rms_from_chunks(sums, counts, weights, n_params):
    """RMS per-parameter gradient of the weighted mean loss, per replicate: (B, groups)."""
    w = torch.as_tensor(weights, dtype=torch.float64)
    denom = w @ counts  # (B,)
    out = np.zeros((len(w), len(sums)))
    for j, s in enumerate(sums.values()):
        for i in range(0, len(w), 32):
            mean = (w[i:i + 32] @ s) / denom[i:i + 32, None]
            out[i:i + 32, j] = np.sqrt((mean ** 2).sum(1).numpy()) / np.sqrt(max(n_params[j], 1))
    return out


def problematic_groups(model, data, *, groups=None, n_boot=200, seed=0, batch_size=256,
                       chunks=None, confident=CONFIDENT, device=None, progress=False):
    r"""THE problematic-groups rule: which layer groups carry the model's errors, and how surely.

    ``workbench diagnose``, ``workbench fix --groups auto``, the ``attribution`` analysis (and
    so its view and notebook 03) all call this one function.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier with layer groups (``model.groups``).
    data : (x, y) tensors or ImageDataset
        The examples to diagnose (the run's test set in ``diagnose`` and the analysis).
    groups : list of str, optional
        Groups to score (default: all).
    n_boot : int
        Bootstrap replicates (default 200).
    seed : int
        Seed of the bootstrap (and of the chunking).
    batch_size : int
        Examples per per-example-gradient batch (lowered automatically for big models).
    chunks : int, optional
        Resampling units per set (default: one per example while the per-chunk gradient
        sums fit in 64 MB, else fewer chunks of random examples, at least 8).
    confident : float
        Flag frequency for a confident call (see :func:`split_verdict`).
    device : optional
        Where to compute (default: the model's device).
    progress : bool
        Show a tqdm bar over the gradient passes.

    Returns
    -------
    xarray.Dataset
        Dim ``layer``: ``grad_rms_misclassified``, ``grad_rms_correct``, ``log_ratio``,
        ``flag_frequency``, ``verdict``, ``problematic`` (bool: verdict is problematic),
        ``n_params``, ``param_share``; dims ``(replicate, layer)``: ``log_ratio_boot``.
        Attrs: ``n_misclassified``, ``n_correct``, ``threshold``, ``gap``, ``spread``,
        ``conclusive``, ``n_boot``, ``rule``.

    Raises
    ------
    ValueError
        Unknown group; no misclassified or no correct example.

    Notes
    -----
    For each group :math:`g` with :math:`n_g` parameters,
    :math:`s_g(S) = \lVert\nabla_{\theta_g}\bar L_S\rVert/\sqrt{n_g}` (RMS per-parameter
    gradient of the mean cross-entropy over a set :math:`S`) and
    ``log_ratio`` :math:`= \log s_g(\text{misclassified}) - \log s_g(\text{correct})`.
    The bootstrap resamples, with replacement and separately, the misclassified and the
    correct examples (the model's predictions fixed) and recomputes every log ratio: the
    mean gradient of a resample is :math:`\sum_k c_k S_k / \sum_k c_k n_k` with
    :math:`S_k` the gradient sum of chunk :math:`k` (one example per chunk by default) and
    :math:`c_k` its multinomial count, so one pass of per-example gradients serves every
    replicate. The rule on the replicates is :func:`split_verdict`.

    Examples
    --------
    >>> from workbench.models import build_model
    >>> m = build_model("mlp", depth=2, width=8, image_size=4)
    >>> x, y = torch.randn(64, 1, 4, 4), torch.randint(0, 10, (64,))
    >>> ds = problematic_groups(m, (x, y), n_boot=20)
    >>> ds["verdict"].dims, ds["log_ratio_boot"].dims
    (('layer',), ('replicate', 'layer'))
    """
    from tqdm.auto import tqdm

    params_by_group = group_parameters(model, groups)
    x, y, _ = as_tensors(data)
    if device is None:
        p0 = next(model.parameters(), None)
        device = p0.device if p0 is not None else torch.device("cpu")
    names = list(params_by_group)
    n_params = np.array([sum(p.numel() for p in params_by_group[n]) for n in names])
    total = max(1, int(n_params.sum()))
    if chunks is None:
        chunks = int(max(8, _FLOATS_BUDGET // total))
    was_training = model.training
    model.eval()
    try:
        pred, _ = _predict(model, x, y, batch_size, device)
        wrong = _misclassified(pred, y)
        n_wrong, n_right = int(wrong.sum()), int((~wrong).sum())
        parts = {}
        for k, (label, mask) in enumerate(tqdm([("misclassified", wrong), ("correct", ~wrong)],
                                               desc="per-example gradients",
                                               disable=not progress, leave=False)):
            parts[label] = _chunk_gradients(model, params_by_group, x[mask], y[mask],
                                            chunks=chunks, seed=seed + k,
                                            batch_size=batch_size, device=device)
    finally:
        model.train(was_training)

    rng = np.random.default_rng(seed)
    rms = {}
    for label, (sums, counts) in parts.items():
        m = len(counts)
        w = np.vstack([np.ones(m), rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot)])
        rms[label] = _rms_from_chunks(sums, counts, w, n_params)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr_all = np.log(rms["misclassified"]) - np.log(rms["correct"])
    lr_all[~np.isfinite(lr_all)] = np.nan
    log_ratio, boot = lr_all[0], lr_all[1:]
    rule = split_verdict(log_ratio, boot, confident=confident)
    verdict = rule["verdict"]
    return xr.Dataset(
        {
            "grad_rms_misclassified": (LAYER, rms["misclassified"][0], {
                "long_name": "RMS gradient per parameter, misclassified", "units": ""}),
            "grad_rms_correct": (LAYER, rms["correct"][0], {
                "long_name": "RMS gradient per parameter, correct", "units": ""}),
            "log_ratio": (LAYER, log_ratio, {
                "long_name": "log gradient ratio misclassified / correct", "units": ""}),
            "flag_frequency": (LAYER, rule["flag_frequency"], {
                "long_name": "bootstrap frequency of the problematic flag", "units": ""}),
            "verdict": (LAYER, verdict, {
                "long_name": "verdict", "units": "",
                "rule": "problematic: conclusive split and flag frequency >= "
                        f"{confident}; healthy: frequency <= {1 - confident:.2g}; "
                        "else inconclusive"}),
            "problematic": (LAYER, verdict == PROBLEMATIC, {
                "long_name": "problematic group", "units": ""}),
            "n_params": (LAYER, n_params, {"long_name": "parameters", "units": ""}),
            "param_share": (LAYER, n_params / total, {
                "long_name": "share of the parameters", "units": ""}),
            "log_ratio_boot": (("replicate", LAYER), boot, {
                "long_name": "bootstrap log gradient ratio", "units": ""}),
        },
        coords={LAYER: names},
        attrs={"n_misclassified": n_wrong, "n_correct": n_right,
               "threshold": rule["threshold"], "gap": rule["gap"], "spread": rule["spread"],
               "conclusive": int(rule["conclusive"]), "n_boot": n_boot,
               "rule": "two-means split of log_ratio, bootstrap over misclassified and "
                       "correct examples; inconclusive when the gap is within 1.96 sd",
               "normalisation": "||g|| / sqrt(n_params)"},
    )


def _misclassified(pred, y):
    """The mask of misclassified examples; an error when either side of the comparison
    (misclassified or correct) is empty."""
    wrong = pred != y
    if int(wrong.sum()) == 0:
        raise ValueError(f"no misclassified examples among the {len(y)} given: the model "
                         "is right on all of them, so there is nothing to attribute "
                         "(use a larger or harder set, e.g. the full test set)")
    if int((~wrong).sum()) == 0:
        raise ValueError(f"no correctly classified example among the {len(y)} given: "
                         "the baseline (gradient on correct examples) is undefined")
    return wrong


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
                              ig_steps=32, device=None, n_boot=200, seed=0):
    r"""Per-group gradient norms on misclassified vs correct examples, verdicts, Captum maps.

    The gradient scores and the verdicts come from :func:`problematic_groups` (the one
    rule); this adds the Captum layer attribution and the Integrated Gradients maps.

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
    n_boot, seed
        Bootstrap of :func:`problematic_groups`.

    Returns
    -------
    xarray.Dataset
        Every variable of :func:`problematic_groups` (``log_ratio``, ``flag_frequency``,
        ``verdict``, ``problematic`` ...), and over ``layer``: ``attribution`` and
        ``attribution_abs``.
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
        wrong = _misclassified(pred, y)
        n_wrong = int(wrong.sum())
        rule = problematic_groups(model, (x, y), groups=groups, n_boot=n_boot, seed=seed,
                                  batch_size=batch_size, device=device)
        names = list(params_by_group)

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
            "attribution": (LAYER, attr, {
                "long_name": "gradient x activation of the error margin", "units": "logit",
                "method": "captum.attr.LayerGradientXActivation"}),
            "attribution_abs": (LAYER, attr_abs, {
                "long_name": "|gradient x activation| of the error margin", "units": "logit"}),
            "integrated_gradients": (img_dims, ig, {
                "long_name": "Integrated Gradients of the error margin", "units": "logit",
                "n_steps": ig_steps, "baseline": "zeros"}),
            "image": (img_dims, img, {"long_name": "input (normalised)", "units": ""}),
            "target": (SAMPLE, yw[worst].numpy(), {"long_name": "true label", "units": ""}),
            "prediction": (SAMPLE, pw[worst].numpy(), {"long_name": "predicted label",
                                                       "units": ""}),
            "loss": (SAMPLE, lw[worst].numpy(), {"long_name": "cross-entropy", "units": "nat"}),
        },
        coords={LAYER: names, **sample},
    )
    ds = xr.merge([rule.drop_vars("replicate", errors="ignore"), ds],
                  combine_attrs="override")
    ds.attrs = {**rule.attrs,
                "split": "two-means on log_ratio" if math.isfinite(rule.attrs["threshold"])
                else "degenerate"}
    return ds
