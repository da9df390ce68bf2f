"""The forces between examples at the selected epoch, for one observed sample.

Reads ``/analysis/forces`` only: for a fixed set of observed probe samples (``sample_o``) and
update examples (``sample_u``, flipped-label ones included on a noisy run), the pull
:math:`-\\eta A K G` of each update example, predicted against actual
:math:`\\Delta\\log\\pi` after one real step, and each observed sample's class probabilities
per epoch. A slider or dropdown move changes the drawn artists in place.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import plots
from ..dims import EPOCH, LABEL, SAMPLE, SAMPLE_U, require
from .state import Selection, controls_for, link
from .view import View, check_analysis

SAMPLE_O = "sample_o"
NEEDS = ("pull", "predicted", "actual", "prob", "target")


class ForcesView(View):
    """Pull of each update example, predicted vs actual Δ log π, and the learning path.

    Parameters
    ----------
    forces : Dataset
        ``/analysis/forces`` (``Run.analysis("forces")``): ``pull(epoch, sample_o, sample_u,
        label)``, ``predicted``/``actual``/``prob(epoch, sample_o, label)``, coords
        ``target(sample_o)``, ``label_u(sample_u)``, ``flipped(sample_u)``.
    state : Selection, optional
        Its ``sample`` is linked to the observed-sample dropdown (a selected probe sample
        that is not observed moves the dropdown to the nearest observed index).
    classes : sequence of str, optional
        Class names by label, used on every axis.

    Attributes
    ----------
    data : Dataset
    handles : dict
        ``pull``, ``delta`` and ``path``: the artists :mod:`workbench.plots` drew.

    Examples
    --------
    >>> from workbench import Run                                         # doctest: +SKIP
    >>> run = Run("runs/demo")                                            # doctest: +SKIP
    >>> ForcesView(run.analysis("forces"), classes=run.classes)           # doctest: +SKIP
    """

    observes = (EPOCH, SAMPLE)
    figsize = (11.5, 3.6)

    def __init__(self, forces: xr.Dataset, state: Selection | None = None, *, classes=None):
        import ipywidgets as w

        super().__init__(state)
        check_analysis(forces, "ForcesView", NEEDS, [EPOCH, SAMPLE_O])
        require(forces["pull"], "ForcesView", [EPOCH, SAMPLE_O, SAMPLE_U, LABEL],
                min_size={EPOCH: 1, SAMPLE_O: 1}, name="pull")
        require(forces["prob"], "ForcesView", [EPOCH, SAMPLE_O, LABEL], name="prob")
        data = forces.load()
        for name in ("target", "label_u", "flipped"):   # per-sample coords: one value each
            if name in data.variables and EPOCH in data[name].dims:
                data = data.assign_coords({name: data[name].isel({EPOCH: 0}, drop=True)})
        self.data = data
        self.classes = classes
        observed = [int(s) for s in data[SAMPLE_O].values]
        self.opening = still_learning(data["prob"], data["target"])
        self.pick = w.Dropdown(options=observed, value=self.opening,
                               description="observed sample (test index)",
                               style={"description_width": "initial"})
        link(self.pick, self.state, SAMPLE)
        self.pick.value = self.opening  # open on a sample still being learned
        self.controls = {SAMPLE: self.pick,
                         **controls_for(data["prob"], self.state, [EPOCH])}
        # axis ranges per observed sample, fixed over its epochs: bars and points compare
        # across epochs, and an epoch move changes only the data artists
        pull = abs(data["pull"].sel({LABEL: data["target"]})).max([EPOCH, SAMPLE_U])
        both = np.maximum(abs(data["predicted"]).max([EPOCH, LABEL]),
                          abs(data["actual"]).max([EPOCH, LABEL]))
        self.pull_lim = (1.1 * pull).where(pull > 0, 1.0).fillna(1.0)
        self.delta_lim = (1.15 * both).where(both > 0, 1.0).fillna(1.0)
        self._ranged_for = None
        self.handles: dict = {}
        self._start()

    @property
    def sample(self) -> int:
        """The observed sample shown (a ``sample_o`` value)."""
        return int(self.pick.value)

    @property
    def epoch(self) -> int:
        """The epoch shown: the selection's, or the nearest analysed one."""
        return int(self.controls[EPOCH].value)

    def draw(self, fig):
        ax_pull, ax_delta, ax_path = fig.subplots(1, 3, width_ratios=[1.25, 1.0, 1.1])
        f = self.data.sel({EPOCH: self.epoch})
        self.handles = {
            "pull": plots.forces_pull(f, sample_o=self.sample, classes=self.classes,
                                      ax=ax_pull),
            "delta": plots.delta_log_prob(f, sample_o=self.sample, classes=self.classes,
                                          ax=ax_delta),
            "path": plots.class_paths(self._prob(), epoch=self.epoch, target=self._target(),
                                      classes=self.classes, ax=ax_path),
        }
        self._apply()
        return ax_pull, ax_delta, ax_path

    def laid_out(self) -> None:
        """Place the point and path names again on the frozen layout."""
        plots.forces.place_delta_names(self.handles["delta"])
        plots.forces.place_path_names(self.handles["path"])

    def dynamic(self) -> list:
        """The artists a selection change alters (the rest is a cached background)."""
        pull, delta, path = (self.handles[k] for k in ("pull", "delta", "path"))
        return [*pull["bars"], pull["ax"].title, delta["points"], delta["true"],
                *delta["texts"], delta["ax"].title, *path["lines"], *path["names"],
                path["cursor"], path["ax"].title]

    def _prob(self) -> xr.DataArray:
        return self.data["prob"].sel({SAMPLE_O: self.sample})

    def _target(self) -> int:
        return int(self.data["target"].sel({SAMPLE_O: self.sample}))

    def update(self) -> None:
        self._apply()

    def _apply(self) -> None:
        """Set every artist to the current epoch and observed sample."""
        f = self.data.sel({EPOCH: self.epoch})
        s = self.sample
        pull_lim = float(self.pull_lim.sel({SAMPLE_O: s}))
        plots.set_forces_pull(self.handles["pull"], f, sample_o=s, xlim=(-pull_lim, pull_lim))
        plots.set_delta_log_prob(self.handles["delta"], f, sample_o=s,
                                 lim=float(self.delta_lim.sel({SAMPLE_O: s})))
        if self._ranged_for != s:         # new axis ranges: the cached background is stale
            self._ranged_for = s
            self.invalidate()
        self.handles["delta"]["ax"].set_title(f"one step at epoch {self.epoch}",
                                              fontsize="small")
        plots.set_class_paths(self.handles["path"], self._prob(), epoch=self.epoch,
                              target=self._target())


def still_learning(prob: xr.DataArray, target: xr.DataArray) -> int:
    r"""The observed sample with the lowest margin at the last epoch: a misclassified one
    when there is one (the most wrong), else the one the model is least sure of.

    Notes
    -----
    The margin of sample :math:`o` with true class :math:`y` is
    :math:`\pi_y(x_o) - \max_{k \ne y} \pi_k(x_o)`, negative when it is misclassified.
    A sample with :math:`\pi_y = 1` has margin 1 and every pull on it is about zero, so the
    forces view has nothing to show there.

    Examples
    --------
    >>> prob = xr.DataArray([[[1.0, 0.0], [0.3, 0.7], [0.6, 0.4]]],
    ...                     dims=("epoch", "sample_o", "label"),
    ...                     coords={"sample_o": [4, 8, 9], "label": [0, 1]})
    >>> target = xr.DataArray([0, 0, 0], dims="sample_o", coords={"sample_o": [4, 8, 9]})
    >>> still_learning(prob, target)
    8
    """
    last = prob.isel({EPOCH: -1}) if EPOCH in prob.dims else prob
    p = np.asarray(last.transpose(SAMPLE_O, LABEL).values, dtype=float)
    labels = np.asarray(last[LABEL].values)
    t = np.asarray(target.sel({SAMPLE_O: last[SAMPLE_O]}).values)
    own = labels[None, :] == t[:, None]
    margin = (np.nanmax(np.where(own, p, -np.inf), 1)
              - np.nanmax(np.where(own, -np.inf, p), 1))
    margin = np.where(np.isfinite(margin), margin, np.inf)
    return int(last[SAMPLE_O].values[int(np.argmin(margin))])


def forces_tab(tree, ds, state, *, classes=None, **_):
    """The Explorer's "forces" tab (``ds`` = /analysis/forces)."""
    return ForcesView(ds, state, classes=classes)


__all__ = ["ForcesView", "forces_tab", "still_learning"]
