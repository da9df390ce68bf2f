"""The ``attribution`` analysis: which layer groups carry each epoch's errors.

Per (epoch, layer): the one problematic-groups rule
(:func:`workbench.probes.attribution.problematic_groups`: gradient ratio misclassified /
correct on the run's test set, bootstrap flag frequency, verdict) and the layer attribution
(gradient × activation) on the misclassified test examples, over the run's recorded groups
(``Run.groups``). Per epoch: ``gap`` and ``spread``, the split's gap and its bootstrap
spread, against which an "inconclusive" verdict is read
(:func:`workbench.verdicts.verdict_reason`). Per (epoch, rank): the :data:`K` worst
misclassified probe samples (highest loss) with their Integrated Gradients maps: ``image``
and ``ig`` (rank, row, col) for image inputs; for token inputs (integer ids, or a dict
holding them) ``tokens`` and ``token_attribution`` (rank, position), Layer Integrated
Gradients on the embedding layer, one value per token position.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import LAYER, SAMPLE
from .registry import register

__all__ = ["attribution", "K", "nothing_to_attribute", "probe_data"]

POSITION = "position"

#: Number of worst misclassified probe samples kept per epoch (padded with -1).
K = 8
RANK = "rank"


def probe_data(run):
    """The probe samples ``(x, y, index)`` of the run: its model inputs
    (``Run.probe_inputs``: an image tensor, token ids, or a dict of tensors), the recorded
    ``/probe`` targets, and the ``/probe`` sample coord (the test-set index)."""
    import torch

    probe = run.tree["probe"]
    x = run.probe_inputs()
    y = torch.from_numpy(np.array(probe["target"].values, dtype=np.int64))
    return x, y, torch.from_numpy(np.array(probe[SAMPLE].values, dtype=np.int64))


def _is_tokens(x) -> bool:
    return isinstance(x, dict) or not x.is_floating_point()


def _requires(run):
    return None if "probe" in run.tree else "the run has no /probe group"


def attribution(run, epoch: int) -> xr.Dataset:
    """One epoch's attribution (dims ``layer``; ``rank``, and ``row``, ``col`` for images
    or ``position`` for tokens).

    ``image`` is the channel mean of the normalised input and ``ig`` the channel sum of
    its Integrated Gradients (one channel for Fashion-MNIST: the values themselves). For
    token inputs, ``tokens`` holds the token ids and ``token_attribution`` their Layer
    Integrated Gradients (padded with -1 and NaN past the misclassified samples).
    """
    from ..probes.attribution import _token_key, misclassified_attribution

    model = run.model(epoch)
    test = run.test_data()
    try:
        ds = misclassified_attribution(model, test, ig_top=0, groups=run.groups,
                                       forward=run.forward)
    except ValueError as e:  # every test example right (or wrong): nothing to compare
        if "no misclassified" not in str(e) and "no correctly classified" not in str(e):
            raise
        ds = nothing_to_attribute(model, run.groups, test, str(e))
    x, y, idx = probe_data(run)
    tokens = _is_tokens(x)
    if tokens:
        key = _token_key(x)
        ids = (x[key] if key is not None else x).reshape(len(y), -1)
        side, map_dims = (ids.shape[1],), (RANK, POSITION)
    else:
        side, map_dims = tuple(x.shape[-2:]), (RANK, "row", "col")
    sample = np.full(K, -1, dtype=np.int64)
    target = np.full(K, -1, dtype=np.int64)
    predicted = np.full(K, -1, dtype=np.int64)
    image = np.full((K, *side), -1 if tokens else np.nan,
                    dtype=np.int64 if tokens else float)
    ig = np.full((K, *side), np.nan)
    try:
        maps = misclassified_attribution(model, (x, y), ig_top=K, n_boot=0, groups=run.groups,
                                         forward=run.forward)
    except ValueError as e:  # no misclassified (or correct) probe sample at this epoch
        if "misclassified" not in str(e) and "correctly classified" not in str(e):
            raise
        maps = None
    if maps is not None:
        k = maps.sizes[SAMPLE]
        rows = maps[SAMPLE].values  # positions in the probe set (as_tensors indexes 0..n-1)
        sample[:k] = idx.numpy()[rows]
        target[:k] = maps["target"].values
        predicted[:k] = maps["prediction"].values
        if tokens:
            image[:k] = maps["tokens"].values
            ig[:k] = maps["token_attribution"].values
        else:
            image[:k] = maps["image"].mean("channel").values
            ig[:k] = maps["integrated_gradients"].sum("channel").values
    keep = ["grad_rms_misclassified", "grad_rms_correct", "log_ratio", "flag_frequency",
            "verdict", "attribution", "n_params", "param_share"]
    out = ds[keep]
    out = out.drop_vars([c for c in out.coords if c != LAYER])
    out["n_misclassified"] = xr.DataArray(ds.attrs["n_misclassified"], attrs={
        "long_name": "misclassified test examples", "units": ""})
    out["n_correct"] = xr.DataArray(ds.attrs["n_correct"], attrs={
        "long_name": "correct test examples", "units": ""})
    stored = run.analysis("attribution")
    if stored is None or "gap" in stored:  # a group stored without them keeps its schema
        out["gap"] = xr.DataArray(float(ds.attrs["gap"]), attrs={
            "long_name": "gap of the two-means split of the log ratios", "units": ""})
        out["spread"] = xr.DataArray(float(ds.attrs["spread"]), attrs={
            "long_name": "bootstrap spread of the gap (1.96 sd)", "units": ""})
    r = (RANK,)
    out["sample"] = xr.DataArray(sample, dims=r, attrs={
        "long_name": "test-set index of the misclassified probe sample", "units": ""})
    out["target"] = xr.DataArray(target, dims=r, attrs={"long_name": "true label",
                                                         "units": ""})
    out["predicted"] = xr.DataArray(predicted, dims=r, attrs={"long_name": "predicted label",
                                                              "units": ""})
    if tokens:
        out["tokens"] = xr.DataArray(image, dims=map_dims, attrs={
            "long_name": "token id (-1: no sample)", "units": ""})
        out["token_attribution"] = xr.DataArray(ig, dims=map_dims, attrs={
            "long_name": "Integrated Gradients of the error margin per token",
            "units": "logit",
            "method": "captum.attr.LayerIntegratedGradients on the embedding layer"})
    else:
        out["image"] = xr.DataArray(image, dims=map_dims, attrs={
            "long_name": "normalised pixel value", "units": ""})
        out["ig"] = xr.DataArray(ig, dims=map_dims, attrs={
            "long_name": "Integrated Gradients of the error margin", "units": "logit"})
    out = out.assign_coords({RANK: np.arange(K)})
    if tokens:
        out = out.assign_coords({POSITION: np.arange(side[0])})
    out.attrs = {k: v for k, v in ds.attrs.items()
                 if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    return out


def nothing_to_attribute(model, groups, test, why: str) -> xr.Dataset:
    """The group table of an epoch whose test set has no misclassified (or no correct)
    example: every number NaN, every verdict "inconclusive", and ``why`` in the attrs
    (e.g. a grokked transformer is right on the whole held-out set)."""
    from ..groups import group_parameters
    from ..probes.attribution import as_tensors
    from ..verdicts import INCONCLUSIVE

    _, y, _ = as_tensors(test)
    params = group_parameters(model, groups)
    names = list(params)
    n_params = np.array([sum(p.numel() for p in params[n]) for n in names], dtype=np.int64)
    nan = np.full(len(names), np.nan)
    right = "no misclassified" in why
    ds = xr.Dataset({v: (LAYER, nan.copy()) for v in (
        "grad_rms_misclassified", "grad_rms_correct", "log_ratio", "flag_frequency",
        "attribution")}, coords={LAYER: names})
    ds["verdict"] = (LAYER, np.array([INCONCLUSIVE] * len(names)))
    ds["n_params"] = (LAYER, n_params)
    ds["param_share"] = (LAYER, n_params / max(1, int(n_params.sum())))
    ds.attrs = {"n_misclassified": 0 if right else len(y),
                "n_correct": len(y) if right else 0, "reason": why,
                "gap": float("nan"), "spread": float("nan")}
    return ds


register("attribution", compute=attribution,
         description="problematic layer groups (bootstrap), Captum layer "
                     "attribution, IG maps of the worst probe errors",
         requires=("model", "test_data", "probe"),
         view="workbench.widgets.attribution:attribution_tab")
