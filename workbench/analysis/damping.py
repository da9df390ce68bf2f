"""The ``damping`` analysis: the damping verdict of each epoch, per layer.

Curvature is measured after the fact, at the epoch's checkpoint, by Hessian-vector power
iteration (:func:`workbench.probes.curvature.layer_curvature`, through attention and
LayerNorm too) on a fixed, seeded batch of ``config.curvature_batch`` training samples
(``config.curvature_iters`` iterations), per recorded group (``Run.groups``); the
verdict itself is :func:`workbench.diagnostics.damping.epoch_damping`, the one definition.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import EPOCH, LAYER, STEP
from .registry import register

__all__ = ["damping", "curvature_batch"]


def curvature_batch(run):
    """The fixed curvature batch ``(x, y)``: a seeded, stratified subset of the training data
    as trained (``config.curvature_batch`` images, seed ``config.seed + 1``)."""
    from ..data import probe_indices

    cfg = run.config
    train = run.train_data()
    pos = probe_indices(train.targets.numpy(), size=min(cfg.curvature_batch, len(train)),
                        seed=cfg.seed + 1)
    return train.images[pos], train.targets[pos]


def _requires(run):
    if "steps" not in run.tree or "lr" not in run.tree["steps"]:
        return "the run has no /steps lr and momentum"
    return None


def epoch_steps(run, epoch: int) -> tuple[xr.Dataset, xr.DataArray | None]:
    """``/steps`` and ``/layers/update_cos`` of one epoch's steps (loaded)."""
    steps = run.tree["steps"].to_dataset()
    ep = steps[EPOCH].values
    sel = np.flatnonzero(ep == epoch)
    steps_e = steps.isel({STEP: sel}).compute()
    uc = None
    if "layers" in run.tree and "update_cos" in run.tree["layers"]:
        uc = run.tree["layers"]["update_cos"].isel({STEP: sel}).compute()
        uc = uc.assign_coords({EPOCH: (STEP, ep[sel])})
    return steps_e, uc


def damping(run, epoch: int) -> xr.Dataset:
    """One epoch's damping verdict (dims ``layer``), per the ``damping`` schema.

    Examples
    --------
    >>> ds = damping(Run("runs/demo"), 0)                       # doctest: +SKIP
    >>> ds["regime"].dims                                       # doctest: +SKIP
    ('layer',)
    """
    from ..diagnostics.damping import ANALOGY, effective_step_size, epoch_damping
    from ..probes.curvature import layer_curvature

    cfg = run.config
    model = run.model(epoch)
    if cfg.curvature_iters > 0:
        x, y = curvature_batch(run)
        curv = layer_curvature(model, x, y, iters=cfg.curvature_iters, seed=cfg.seed,
                               groups=run.groups, forward=run.forward)
    else:  # curvature switched off for this run
        from ..groups import resolve_groups

        names = list(resolve_groups(model, run.groups))
        curv = xr.DataArray(np.full(len(names), np.nan), dims=LAYER, coords={LAYER: names})
    steps_e, uc = epoch_steps(run, epoch)
    step_size = None
    adam = is_adam_type(run)
    if adam:
        layers = run.tree["layers"]
        sel = np.flatnonzero(np.asarray(run.tree["steps"][EPOCH].values) == epoch)
        coords = {EPOCH: (STEP, np.full(sel.size, epoch))}
        step_size = effective_step_size(
            layers["update_norm"].isel({STEP: sel}).assign_coords(coords),
            layers["grad_norm"].isel({STEP: sel}).assign_coords(coords),
            steps_e["momentum"].assign_coords(coords))
    out = epoch_damping(steps_e, curvature=curv.expand_dims({EPOCH: [epoch]}), update_cos=uc,
                        step_size=step_size)
    out = out.drop_vars("why", errors="ignore").isel({EPOCH: 0}, drop=True)
    out["curvature"].attrs.update(iters=cfg.curvature_iters, batch=cfg.curvature_batch,
                                  method="Hessian-vector power iteration at the checkpoint")
    out.attrs["optimizer_kind"] = "adam" if adam else "sgd"
    if adam:
        out.attrs["reading"] = ANALOGY
    return out


def is_adam_type(run) -> bool:
    """Whether the run's optimizer is Adam-type (its momentum is β₁: the damping verdict is
    then the heavy-ball analogy)."""
    kind = run.tree.attrs.get("optimizer_kind")
    if kind is not None:
        return kind == "adam"
    return "adam" in str(run.config.optimizer).lower()


register("damping", compute=damping,
         description="damping regime per epoch and layer from the measured curvature: "
                     "curvature, zeta, regime; update cosine against its expected value",
         requires=("model", "train_data", "steps", _requires),
         view="workbench.widgets.explorer:damping_tab")
