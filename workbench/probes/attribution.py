"""Which layer groups carry a model's errors: gradient norms on misclassified examples.

Source: Pasichnyk 2026, "Beta-Scheduling" (arXiv:2603.28921), "diagnosis on misclassified
examples" and "cross-optimizer invariance". The split rule and the Captum summaries are ours.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr
from torch import nn
from torch.nn import functional as F

from ..batches import TensorDict, logits, n_samples, output_tensor
from ..dims import LAYER, SAMPLE
from ..groups import group_modules, group_parameters, unwrap
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
from ._functional import functional_logits, math_attention, unsqueeze, vmappable

__all__ = ["misclassified_attribution", "problematic_groups", "split_verdict", "chosen_groups",
           "SURGICAL_SHARE", "problematic_overlap", "two_means_split", "as_tensors", "CONFIDENT",
           "VERDICTS", "POSITION", "embedding_layer"]

#: Dim of the token positions of a token attribution.
POSITION = "position"


def as_tensors(data):
    """``(x, y, index)`` from an ``(x, y)`` pair or an ImageDataset (``.images``, ``.targets``).

    ``x`` stays a tensor of its own dtype (images, integer token ids) or becomes a
    :class:`~workbench.batches.TensorDict` (a dict of tensors sharing the sample dim).
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
    x = TensorDict(x) if isinstance(x, dict) and not isinstance(x, TensorDict) else x
    if not isinstance(x, TensorDict):
        x = torch.as_tensor(x)
    y = torch.as_tensor(y).long()
    if n_samples(x) != len(y):
        raise ValueError(f"data has {n_samples(x)} inputs but {len(y)} targets")
    idx = np.arange(len(x)) if idx is None else np.asarray(idx)
    if len(idx) != len(x):
        idx = np.arange(len(x))
    return x, y, idx


# ----------------------------------------------------------------------------- the rule
# The rule on the measured ratios (split_verdict, two_means_split), the fix's choice
# (chosen_groups) and the overlap of two runs live in workbench.verdicts (no torch).
_FLOATS_BUDGET = 2 ** 24  # floats held per gradient matrix (64 MB in float32)


def _chunk_gradients(model, params_by_group, x, y, *, chunks, seed, batch_size, device,
                     forward=None):
    """Per-chunk sums of per-example gradients of the cross-entropy, per group.

    The examples are dealt at random (seeded) into ``chunks`` chunks (one example per chunk
    when ``chunks >= len(x)``). Returns ``({group: (chunks, n_g) tensor}, counts)``.
    """
    from torch.func import grad, vmap

    names = {n: [k for k, p in model.named_parameters() if any(p is q for q in ps)]
             for n, ps in params_by_group.items()}
    params = {k: v.detach() for k, v in model.named_parameters()}
    wanted = [k for ks in names.values() for k in ks]
    rest = {k: v for k, v in params.items() if k not in set(wanted)}
    rest.update({k: v.detach() for k, v in model.named_buffers()})
    f = functional_logits(model, rest, forward)

    def loss_one(p, xi, yi):
        return F.cross_entropy(f(p, unsqueeze(xi)), yi.unsqueeze(0))

    n = n_samples(x)
    m = max(1, min(n, chunks))
    gen = torch.Generator().manual_seed(seed)
    chunk_of = torch.randperm(n, generator=gen) % m
    sums = {g: torch.zeros(m, sum(params[k].numel() for k in ks), dtype=torch.float64)
            for g, ks in names.items()}
    n_total = max(1, sum(params[k].numel() for k in wanted))
    b = max(1, min(batch_size, _FLOATS_BUDGET // n_total))
    sub = {k: params[k] for k in wanted}
    for i in range(0, n, b):
        xs, in_dim = vmappable(x[i:i + b].to(device))
        with math_attention():
            grads = vmap(grad(loss_one), in_dims=(None, in_dim, 0))(sub, xs, y[i:i + b].to(device))
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
                       chunks=None, confident=CONFIDENT, device=None, progress=False,
                       forward=None):
    r"""THE problematic-groups rule: which layer groups carry the model's errors, and how surely.

    ``workbench diagnose``, ``workbench fix --groups auto``, the ``attribution`` analysis (and
    so its view and notebook 03) all call this one function.

    Parameters
    ----------
    model : torch.nn.Module
        Any classifier; its logits are read from its output by
        :func:`workbench.batches.output_tensor`.
    data : (x, y) tensors or ImageDataset
        The examples to diagnose (the run's test set in ``diagnose`` and the analysis).
        Inputs may be images, integer token ids, or a dict of tensors (``model(**x)``).
    groups : mapping or list of str, optional
        Groups to score: a mapping name → module/parameter prefixes (``Run.groups``), names
        of the model's groups, or None for all of them
        (:func:`workbench.groups.resolve_groups`).
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
    forward : callable, optional
        ``forward(model, x) -> output`` (see :func:`workbench.batches.call`).

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
        pred, _ = _predict(model, x, y, batch_size, device, forward)
        wrong = _misclassified(pred, y)
        n_wrong, n_right = int(wrong.sum()), int((~wrong).sum())
        parts = {}
        for k, (label, mask) in enumerate(tqdm([("misclassified", wrong), ("correct", ~wrong)],
                                               desc="per-example gradients",
                                               disable=not progress, leave=False)):
            parts[label] = _chunk_gradients(model, params_by_group, x[mask], y[mask],
                                            chunks=chunks, seed=seed + k,
                                            batch_size=batch_size, device=device,
                                            forward=forward)
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


def _predict(model, x, y, batch_size, device, forward=None):
    preds, losses = [], []
    with torch.no_grad():
        for i in range(0, n_samples(x), batch_size):
            out = logits(model, x[i:i + batch_size].to(device), forward)
            yb = y[i:i + batch_size].to(device)
            preds.append(out.argmax(1).cpu())
            losses.append(F.cross_entropy(out, yb, reduction="none").cpu())
    return torch.cat(preds), torch.cat(losses)


def _group_sq_grad(model, params_by_group, x, y, batch_size, device, forward=None):
    """Squared gradient norm of the mean cross-entropy over (x, y), per group."""
    all_params = [p for ps in params_by_group.values() for p in ps]
    acc = [torch.zeros_like(p) for p in all_params]
    n = n_samples(x)
    for i in range(0, n, batch_size):
        out = logits(model, x[i:i + batch_size].to(device), forward)
        loss = F.cross_entropy(out, y[i:i + batch_size].to(device), reduction="sum") / n
        grads = torch.autograd.grad(loss, all_params, allow_unused=True)
        for a, g in zip(acc, grads, strict=True):
            if g is not None:
                a += g
    out, k = {}, 0
    for name, ps in params_by_group.items():
        out[name] = float(sum((a.double() ** 2).sum() for a in acc[k:k + len(ps)]))
        k += len(ps)
    return out


def _margin(model, user_forward=None, key=None, keys=()):
    """``f(x, wrong, true, *rest) -> z_wrong - z_true`` for Captum. With ``key``, ``x`` is
    that entry of a dict of inputs and ``rest`` are the other entries (``keys``), in order."""
    def forward(x, wrong, true, *rest):
        if key is not None:
            x = TensorDict({key: x, **dict(zip(keys, rest, strict=True))})
        z = logits(model, x, user_forward)
        return z.gather(1, wrong[:, None])[:, 0] - z.gather(1, true[:, None])[:, 0]
    return forward


def embedding_layer(model, name=None):
    """``(name, module)``: the embedding Layer Integrated Gradients attributes token inputs
    to: the module ``name``, or else the model's first ``nn.Embedding``.

    Raises
    ------
    ValueError
        When ``name`` is not a module of the model, or the model has no ``nn.Embedding``.
    """
    model = unwrap(model)
    modules = dict(model.named_modules())
    if name is not None:
        if name not in modules or name == "":
            raise ValueError(f"embedding={name!r} names no module of this model; its "
                             f"nn.Embedding modules are "
                             f"{[n for n, m in modules.items() if isinstance(m, nn.Embedding)]}")
        return name, modules[name]
    for n, m in modules.items():
        if isinstance(m, nn.Embedding):
            return n, m
    raise ValueError("integer (token) inputs are attributed on an embedding layer, but the "
                     "model has no nn.Embedding; name one with embedding='module.name'")


def _token_key(x) -> str | None:
    """The entry of a dict of inputs holding the token ids (``input_ids``, else the first
    integer tensor), or None for a tensor input."""
    if not isinstance(x, TensorDict):
        return None
    if "input_ids" in x:
        return "input_ids"
    for k, v in x.items():
        if torch.is_tensor(v) and not v.is_floating_point() and v.dtype != torch.bool:
            return k
    raise ValueError(f"a dict of inputs is attributed on its token ids; none of its entries "
                     f"{list(x)} holds an integer tensor")


def _layer_grad_x_act(model, modules, x, wrong, true, batch_size, device, forward):
    """Σ over examples and units of (∂margin/∂a)·a for each group's output ``a`` (the group
    module's output read by :func:`~workbench.batches.output_tensor`), as
    ``captum.attr.LayerGradientXActivation`` gives it, for all groups in one backward pass
    per batch. Returns ``(signed, absolute)`` arrays over the groups (NaN without a module).
    """
    names = list(modules)
    signed, absolute = np.zeros(len(names)), np.zeros(len(names))
    margin = _margin(model, forward)
    for i in range(0, n_samples(x), batch_size):
        acts: dict[str, list] = {n: [] for n in names}
        handles = []
        try:
            for n in names:
                if modules[n] is not None:
                    handles.append(modules[n].register_forward_hook(
                        lambda _m, _i, out, n=n, acts=acts: acts[n].append(output_tensor(out))))
            with math_attention():
                m = margin(x[i:i + batch_size].to(device), wrong[i:i + batch_size].to(device),
                           true[i:i + batch_size].to(device))
        finally:
            for h in handles:
                h.remove()
        flat = [(n, a) for n in names for a in acts[n] if a is not None and a.requires_grad]
        grads = torch.autograd.grad(m.sum(), [a for _, a in flat], allow_unused=True) \
            if flat else []
        for (n, a), g in zip(flat, grads, strict=True):
            if g is not None:
                j = names.index(n)
                ga = (g * a).detach()
                signed[j] += float(ga.sum())
                absolute[j] += float(ga.abs().sum())
    none = [j for j, n in enumerate(names) if modules[n] is None]
    signed[none] = absolute[none] = np.nan
    return signed, absolute


def misclassified_attribution(model, data, *, groups=None, batch_size=256, ig_top=8,
                              ig_steps=32, device=None, n_boot=200, seed=0, forward=None,
                              embedding=None, baseline_token=0):
    r"""Per-group gradient norms on misclassified vs correct examples, verdicts, Captum maps.

    The gradient scores and the verdicts come from :func:`problematic_groups` (the one
    rule); this adds the layer attribution and the Integrated Gradients maps (Captum).

    Parameters
    ----------
    model : torch.nn.Module
        Any classifier; its logits are read from its output by
        :func:`workbench.batches.output_tensor`.
    data : (x, y) tensors or ImageDataset
        Examples to diagnose (usually the test set or a held-out subset). Inputs are
        images (float), integer token ids, or a dict of tensors passed as ``model(**x)``.
    groups : mapping or list of str, optional
        Groups to score: a mapping name → module/parameter prefixes (``Run.groups``), names
        of the model's groups, or None for all. An unknown name raises a ValueError
        listing them.
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
    forward : callable, optional
        ``forward(model, x) -> output`` (see :func:`workbench.batches.call`).
    embedding : str, optional
        For token inputs: the module whose output Layer Integrated Gradients attributes to
        (default: the model's first ``nn.Embedding``).
    baseline_token : int
        For token inputs: the token id of the baseline (default 0, e.g. a padding id).

    Returns
    -------
    xarray.Dataset
        Every variable of :func:`problematic_groups` (``log_ratio``, ``flag_frequency``,
        ``verdict``, ``problematic`` ...), and over ``layer``: ``attribution`` and
        ``attribution_abs``. Over ``sample`` (dataset index of the worst misclassified
        examples): ``target``, ``prediction`` and ``loss``, and

        - image (float) inputs: ``integrated_gradients`` and ``image``, dims
          ``(sample, channel, y, x)``;
        - token inputs: ``token_attribution`` and ``tokens``, dims ``(sample, position)``.

        Attrs: ``n_misclassified``, ``n_correct``, ``threshold`` (of the split on
        ``log_ratio``), ``split``.

    Raises
    ------
    ValueError
        Unknown group (lists the model's groups); no misclassified or no correctly
        classified example (nothing to compare); token inputs and no embedding layer.

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

    **Layer attribution.** Gradient × activation of each group's output :math:`a_g` (the
    quantity of :class:`captum.attr.LayerGradientXActivation`) for the margin
    :math:`m = z_{\hat y} - z_y` (wrong-class logit minus true-class logit) on every
    misclassified example, :math:`\sum_{units} (\partial m/\partial a_g)\,a_g`, then
    averaged over examples: ``attribution`` (signed; first-order share of the error margin
    the group's output carries) and ``attribution_abs`` (sum of absolute values). It costs
    one backward pass per batch for all groups (forward hooks on the group modules, whose
    output is read by :func:`workbench.batches.output_tensor`, so attention blocks returning
    tuples fit), and for piecewise-linear bias-free networks the signed sums are exact
    (Euler's theorem). NaN for a group with no module (a bare parameter).

    **Integrated Gradients** of the same margin for the ``ig_top`` misclassified examples
    with the highest loss. Image inputs: :class:`captum.attr.IntegratedGradients`, zero
    baseline (the normalised data mean), ``ig_steps`` steps. Token inputs (integer ids, which
    cannot be interpolated): :class:`captum.attr.LayerIntegratedGradients` on the embedding
    layer, from the embedding of ``baseline_token`` at every position to the input's, summed
    over the embedding units: one attribution per position, and by completeness their sum
    is :math:`m(x) - m(x_{baseline})`.

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
    params_by_group = group_parameters(model, groups)
    modules = group_modules(model, groups)
    x, y, index = as_tensors(data)
    tokens = isinstance(x, TensorDict) or not x.is_floating_point()
    if device is None:
        p0 = next(model.parameters(), None)
        device = p0.device if p0 is not None else torch.device("cpu")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        pred, loss = _predict(model, x, y, batch_size, device, forward)
        wrong = _misclassified(pred, y)
        n_wrong = int(wrong.sum())
        rule = problematic_groups(model, (x, y), groups=groups, n_boot=n_boot, seed=seed,
                                  batch_size=batch_size, device=device, forward=forward)
        names = list(params_by_group)

        xw, yw, pw = x[wrong], y[wrong], pred[wrong]
        attr, attr_abs = _layer_grad_x_act(model, {n: modules[n] for n in names}, xw, pw, yw,
                                           batch_size, device, forward)
        attr /= n_wrong
        attr_abs /= n_wrong

        k = min(ig_top, n_wrong)
        lw = loss[wrong]
        worst = torch.argsort(lw, descending=True)[:k]
        xs = xw[worst].to(device)
        if tokens:
            key = _token_key(xs)
            ids = xs[key] if key is not None else xs
            ig = (_token_ig(model, xs, key, pw[worst].to(device), yw[worst].to(device),
                            ig_steps, batch_size, forward, embedding, baseline_token)
                  if k else np.zeros((0, *ids.shape[1:])))
        else:
            ig = (_image_ig(model, xs, pw[worst].to(device), yw[worst].to(device), ig_steps,
                            batch_size, forward)
                  if k else np.zeros((0, *x.shape[1:])))
    finally:
        for m, mode in modes:
            m.training = mode

    wrong_idx = index[wrong.numpy()][worst.numpy()]
    if tokens:
        ids = ids.cpu().numpy()
        width = int(np.prod(ids.shape[1:]))
        ids, ig = ids.reshape(len(ids), width), np.asarray(ig).reshape(len(ids), width)
        maps = {
            "token_attribution": ((SAMPLE, POSITION), ig, {
                "long_name": "Integrated Gradients of the error margin per token",
                "units": "logit", "n_steps": ig_steps, "baseline_token": int(baseline_token),
                "method": "captum.attr.LayerIntegratedGradients on the embedding layer, "
                          "summed over its units"}),
            "tokens": ((SAMPLE, POSITION), ids,
                       {"long_name": "input token id", "units": ""}),
        }
    else:
        img = xs.cpu().numpy()
        if img.ndim == 2:  # flat inputs: one channel, one row
            img, ig = img[:, None, None, :], ig[:, None, None, :]
        elif img.ndim == 3:
            img, ig = img[:, None], ig[:, None]
        img_dims = (SAMPLE, "channel", "y", "x")
        maps = {
            "integrated_gradients": (img_dims, ig, {
                "long_name": "Integrated Gradients of the error margin", "units": "logit",
                "n_steps": ig_steps, "baseline": "zeros"}),
            "image": (img_dims, img, {"long_name": "input (normalised)", "units": ""}),
        }
    ds = xr.Dataset(
        {
            "attribution": (LAYER, attr, {
                "long_name": "gradient x activation of the error margin", "units": "logit",
                "method": "gradient x activation of the group output (as "
                          "captum.attr.LayerGradientXActivation)"}),
            "attribution_abs": (LAYER, attr_abs, {
                "long_name": "|gradient x activation| of the error margin", "units": "logit"}),
            **maps,
            "target": (SAMPLE, yw[worst].numpy(), {"long_name": "true label", "units": ""}),
            "prediction": (SAMPLE, pw[worst].numpy(), {"long_name": "predicted label",
                                                       "units": ""}),
            "loss": (SAMPLE, lw[worst].numpy(), {"long_name": "cross-entropy", "units": "nat"}),
        },
        coords={LAYER: names, SAMPLE: wrong_idx},
    )
    ds = xr.merge([rule.drop_vars("replicate", errors="ignore"), ds],
                  combine_attrs="override")
    ds.attrs = {**rule.attrs,
                "split": "two-means on log_ratio" if math.isfinite(rule.attrs["threshold"])
                else "degenerate"}
    return ds


def _image_ig(model, xs, wrong, true, steps, batch_size, forward):
    """Integrated Gradients maps of float inputs (zero baseline), numpy like ``xs``."""
    from captum.attr import IntegratedGradients

    with math_attention():
        return IntegratedGradients(_margin(model, forward)).attribute(
            xs, baselines=torch.zeros_like(xs), n_steps=steps,
            additional_forward_args=(wrong, true),
            internal_batch_size=batch_size).detach().cpu().numpy()


def _token_ig(model, xs, key, wrong, true, steps, batch_size, forward, embedding, baseline):
    """Layer Integrated Gradients on the embedding layer, summed over its units: one value
    per token position, ``(k, *token_shape)`` numpy."""
    from captum.attr import LayerIntegratedGradients

    _, layer = embedding_layer(model, embedding)
    ids = xs[key] if key is not None else xs
    keys = [k for k in xs if k != key] if key is not None else []
    rest = tuple(xs[k] for k in keys)
    lig = LayerIntegratedGradients(_margin(model, forward, key, keys), layer)
    with math_attention():
        attr = lig.attribute(ids, baselines=torch.full_like(ids, int(baseline)), n_steps=steps,
                             additional_forward_args=(wrong, true, *rest),
                             internal_batch_size=batch_size)
    attr = attr.detach()
    if attr.ndim > ids.ndim:  # (k, *token_shape, units): sum the embedding units
        attr = attr.flatten(ids.ndim).sum(-1)
    return attr.double().cpu().numpy()

