"""The ``attribution`` analysis: which layer groups carry each epoch's errors.

Per (epoch, layer): the one problematic-groups rule
(:func:`workbench.probes.attribution.problematic_groups`: gradient ratio misclassified /
correct on the run's test set, bootstrap flag frequency, verdict) and the Captum layer
attribution on the misclassified test examples. Per (epoch, rank): the :data:`K` worst
misclassified probe samples (highest loss) with their Integrated Gradients maps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import LAYER, SAMPLE
from .registry import register

__all__ = ["attribution", "K", "probe_data"]

#: Number of worst misclassified probe samples kept per epoch (padded with -1).
K = 8
RANK = "rank"


def probe_data(run):
    """The probe samples ``(x, y, test-set index)`` of the run (``Run.probe_images`` and the
    recorded ``/probe`` targets)."""
    import torch

    images = run.probe_images().transpose(SAMPLE, "channel", "row", "col")
    probe = run.tree["probe"]
    x = torch.from_numpy(np.array(images.values, dtype=np.float32))
    y = torch.from_numpy(np.array(probe["target"].values, dtype=np.int64))
    return x, y, torch.from_numpy(np.array(probe[SAMPLE].values, dtype=np.int64))


def _requires(run):
    return None if "probe" in run.tree else "the run has no /probe group"


def attribution(run, epoch: int) -> xr.Dataset:
    """One epoch's attribution (dims ``layer``; ``rank``, ``row``, ``col``).

    ``image`` is the channel mean of the normalised input and ``ig`` the channel sum of
    its Integrated Gradients (one channel for Fashion-MNIST: the values themselves).
    """
    from ..probes.attribution import misclassified_attribution

    model = run.model(epoch)
    test = run.test_data()
    ds = misclassified_attribution(model, test, ig_top=0)
    x, y, idx = probe_data(run)
    side = x.shape[-2:]
    sample = np.full(K, -1, dtype=np.int64)
    target = np.full(K, -1, dtype=np.int64)
    predicted = np.full(K, -1, dtype=np.int64)
    image = np.full((K, *side), np.nan)
    ig = np.full((K, *side), np.nan)
    try:
        maps = misclassified_attribution(model, (x, y), ig_top=K, n_boot=0)
    except ValueError:  # no misclassified probe sample at this epoch
        maps = None
    if maps is not None:
        k = maps.sizes[SAMPLE]
        rows = maps[SAMPLE].values  # positions in the probe set (as_tensors indexes 0..n-1)
        sample[:k] = idx.numpy()[rows]
        target[:k] = maps["target"].values
        predicted[:k] = maps["prediction"].values
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
    r = (RANK,)
    out["sample"] = xr.DataArray(sample, dims=r, attrs={
        "long_name": "test-set index of the misclassified probe sample", "units": ""})
    out["target"] = xr.DataArray(target, dims=r, attrs={"long_name": "true label",
                                                         "units": ""})
    out["predicted"] = xr.DataArray(predicted, dims=r, attrs={"long_name": "predicted label",
                                                              "units": ""})
    out["image"] = xr.DataArray(image, dims=(RANK, "row", "col"), attrs={
        "long_name": "normalised pixel value", "units": ""})
    out["ig"] = xr.DataArray(ig, dims=(RANK, "row", "col"), attrs={
        "long_name": "Integrated Gradients of the error margin", "units": "logit"})
    out = out.assign_coords({RANK: np.arange(K)})
    out.attrs = {k: v for k, v in ds.attrs.items()
                 if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    return out


register("attribution", compute=attribution,
         description="problematic layer groups (bootstrap), Captum layer "
                     "attribution, IG maps of the worst probe errors",
         requires=("model", "test_data", "probe"),
         view="workbench.widgets.attribution:attribution_tab")
