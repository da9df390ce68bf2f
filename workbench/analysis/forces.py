"""``forces``: how a fixed set of update examples pulls on a fixed set of observed samples.

Per epoch, at that epoch's checkpoint (eval mode), for :attr:`ForcesSettings.n_observed`
observed probe samples ``x_o`` (test-set indices, a seeded choice among the /probe samples)
and :attr:`ForcesSettings.n_update` update examples ``x_u`` (training-set indices, a seeded
choice in the run's training subset, with their labels *as trained*; on a ``--label-noise``
run about ``flipped_fraction`` of them are flipped-label examples, see :attr:`Run.flipped`).
The same samples are used at every epoch, so a sample's row across epochs is its learning
path. η is the epoch's learning rate (median over its steps).

- ``pull(sample_o, sample_u, label)`` = :math:`-\\eta\\,A(x_o) K(x_o, x_u) G(x_u, y_u)`,
  the first-order change of :math:`\\log\\pi(x_o)` from one SGD step on ``u`` alone
  (:func:`workbench.probes.forces.pulls`).
- ``predicted(sample_o, label)`` = mean over ``sample_u`` of ``pull``: the first-order
  :math:`\\Delta\\log\\pi(x_o)` of one mean-loss SGD step of size η on the whole update set
  (what :func:`workbench.probes.akg.akg` gives as ``delta_log_prob``).
- ``actual(sample_o, label)``: the real :math:`\\Delta\\log\\pi(x_o)` after that step
  (:func:`workbench.probes.akg.real_delta_log_prob`, on a copy; the run is not changed).
- ``prob(sample_o, label)`` = :math:`\\pi(x_o)` at this epoch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from ..dims import LABEL, SAMPLE, SAMPLE_U
from .registry import register

SAMPLE_O = "sample_o"


@dataclass
class ForcesSettings:
    """Sizes of the ``forces`` analysis (change :data:`SETTINGS` before analysing a run).

    Attributes
    ----------
    n_observed : int
        Observed probe samples.
    n_update : int
        Update examples.
    flipped_fraction : float
        Share of the update examples taken among the flipped-label ones (noisy runs).
    seed : int
        Seed of both choices.
    """

    n_observed: int = 4
    n_update: int = 16
    flipped_fraction: float = 0.25
    seed: int = 0


#: The settings ``analyze`` uses; stored in each result's attrs.
SETTINGS = ForcesSettings()


def chosen_samples(run, settings: ForcesSettings = SETTINGS) -> tuple[np.ndarray, np.ndarray]:
    """The observed test indices and update train indices of ``run`` (sorted, seeded).

    Examples
    --------
    >>> obs, upd = chosen_samples(Run("runs/demo"))        # doctest: +SKIP
    >>> len(obs), len(upd)                                 # doctest: +SKIP
    (4, 16)
    """
    if settings.n_observed < 1 or settings.n_update < 1:
        raise ValueError(f"forces needs n_observed >= 1 and n_update >= 1; got "
                         f"{settings.n_observed} and {settings.n_update}")
    rng = np.random.default_rng(settings.seed)
    probe = np.asarray(run.tree["probe"][SAMPLE].values)
    obs = np.sort(rng.choice(probe, size=min(settings.n_observed, probe.size), replace=False))
    train = np.asarray(run.train_data().indices)
    flipped = np.intersect1d(run.flipped, train)
    n_flip = min(flipped.size, int(round(settings.flipped_fraction * settings.n_update)))
    if flipped.size and n_flip == 0:
        n_flip = 1
    clean = np.setdiff1d(train, flipped)
    picked_flip = rng.choice(flipped, size=n_flip, replace=False) if n_flip else []
    picked = rng.choice(clean, size=min(settings.n_update - n_flip, clean.size), replace=False)
    return obs, np.sort(np.concatenate([picked_flip, picked]).astype(np.int64))


def epoch_lr(tree, epoch: int) -> float:
    """The epoch's learning rate as its steps used it:
    :func:`~workbench.diagnostics.damping.epoch_lr_momentum` (median over its steps)."""
    from ..diagnostics.damping import epoch_lr_momentum

    return float(epoch_lr_momentum(tree["steps"], epoch)["lr"])


def inputs(run, settings: ForcesSettings = SETTINGS):
    """``(obs, upd, x_o, x_u, y_u, targets)``: the chosen samples as model inputs (tensors
    of images or token ids, or dicts of tensors, from ``Run.probe_inputs`` and the training
    set), labels as trained."""
    import torch

    obs, upd = chosen_samples(run, settings)
    probe = np.asarray(run.tree["probe"][SAMPLE].values)
    at = {int(s): k for k, s in enumerate(probe)}
    x_o = run.probe_inputs()[torch.as_tensor([at[int(o)] for o in obs], dtype=torch.long)]
    train = run.train_data()
    pos = {int(i): k for k, i in enumerate(np.asarray(train.indices))}
    where = np.asarray([pos[int(u)] for u in upd])
    x_u = train.images[where]
    y_u = train.targets[where].numpy()
    targets = np.asarray(run.tree["probe"]["target"].sel({SAMPLE: obs}).values)
    return obs, upd, x_o, x_u, y_u, targets


def forces(run, epoch: int) -> xr.Dataset:
    """The ``forces`` analysis of ``run`` at ``epoch`` (see the module docstring)."""
    import torch

    from ..batches import logits
    from ..probes.akg import real_delta_log_prob
    from ..probes.forces import pulls

    s = SETTINGS
    obs, upd, x_o, x_u, y_u, targets = inputs(run, s)
    model = run.model(epoch)
    eta = epoch_lr(run.tree, epoch)
    fwd = run.forward
    pull = np.stack([pulls(model, x_o[i:i + 1], x_u, y_u, lr=eta, forward=fwd)
                     for i in range(len(obs))])
    actual = real_delta_log_prob(model, x_o, x_u, y_u, lr=eta, forward=fwd).values
    with torch.no_grad():
        prob = torch.softmax(logits(model, x_o, fwd).double(), -1).numpy()
    flipped = np.isin(upd, run.flipped)
    labels = np.arange(prob.shape[1])
    ds = xr.Dataset(
        {
            "pull": ((SAMPLE_O, SAMPLE_U, LABEL), pull,
                     {"long_name": "pull $-\\eta A K G$ on $\\log\\pi(x_o)$", "units": "nat"}),
            "predicted": ((SAMPLE_O, LABEL), pull.mean(1),
                          {"long_name": "predicted $\\Delta\\log\\pi$ (one step)",
                           "units": "nat"}),
            "actual": ((SAMPLE_O, LABEL), actual,
                       {"long_name": "actual $\\Delta\\log\\pi$ (one step)", "units": "nat"}),
            "prob": ((SAMPLE_O, LABEL), prob, {"long_name": "$\\pi(x_o)$", "units": ""}),
            "lr": ((), eta, {"long_name": "learning rate $\\eta$ of the step", "units": ""}),
        },
        coords={
            SAMPLE_O: (SAMPLE_O, obs, {"long_name": "observed test index", "units": ""}),
            SAMPLE_U: (SAMPLE_U, upd, {"long_name": "update train index", "units": ""}),
            LABEL: (LABEL, labels, {"long_name": "class", "units": ""}),
            "label_u": (SAMPLE_U, y_u.astype(np.int64),
                        {"long_name": "update label as trained", "units": ""}),
            "flipped": (SAMPLE_U, flipped, {"long_name": "label flipped", "units": ""}),
            "target": (SAMPLE_O, targets.astype(np.int64),
                       {"long_name": "observed true label", "units": ""}),
        },
    )
    ds.attrs.update({f"setting_{k}": v for k, v in asdict(s).items()})
    ds.attrs["classes"] = list(run.classes)
    return ds


__all__ = ["forces", "chosen_samples", "epoch_lr", "inputs", "SETTINGS", "ForcesSettings",
           "SAMPLE_O"]


register("forces", compute=forces,
         description="AKG pulls of fixed update examples on fixed observed probe "
                     "samples; predicted vs actual one-step change; learning paths",
         requires=("model", "train_data", "test_data", "probe", "steps"),
         view="workbench.widgets.forces:forces_tab")
