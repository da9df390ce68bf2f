"""``dynamics``: DFA, Kuramoto synchrony, metastability and stability over the signal window.

The signal window
-----------------
The layer signals (``/layers/signal`` at the steps where it was taken, see
:func:`workbench.record.store.signals`) are cut at the **last step of the epoch**: the window
ending at epoch ``e`` is the last :attr:`DynamicsSettings.window` signal points (512 by
default) taken at a step ``<= last step of e``; all of them while fewer were recorded. It
therefore grows with training until it is full, then slides. Per epoch:

- ``dfa(layer)``, ``dfa_intercept(layer)``, ``fluctuation(layer, scale)``: DFA1 of each layer's
  signal over the window, on the fixed scale grid ``default_scales(window)`` restricted to
  the scales ``<= n // 4`` (at least 8 windows each) of the ``n`` points present; F(n) is NaN
  at the scales left out, so the ``scale`` coord is the same at every epoch.
- ``integration``: DFA exponent of the collective signal (mean z-score over layers).
- ``R(t)``, ``synchrony`` (its mean), ``metastability`` (its standard deviation): Kuramoto
  order parameter between the layers' Hilbert phases over the window. ``R`` and
  ``signal_step`` are padded to ``window`` (NaN and -1).
- ``stability``, ``volatility``: :func:`~workbench.diagnostics.stability` over the signal
  history up to the epoch's last signal point (its last :attr:`DynamicsSettings.history`
  points), windows aligned so the last one ends at that point; the values of that last
  window are stored.
- ``early_convergence_epoch``: the volatility-settled time of
  :func:`~workbench.diagnostics.early_convergence_lead` over that volatility history (in
  epochs completed, step ``s`` at ``(s + 1) / steps_per_epoch``): when the volatility fell
  under ``frac`` of its peak and stayed there, *as known at this epoch*; NaN if not yet.

Too few points give NaN, never an error: each variable's ``nan_when`` attr states the rule,
and the epoch's ``n_points`` (window) and ``n_history`` (history) give its counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from ..diagnostics.dfa import MIN_POINTS, default_scales, dfa
from ..diagnostics.stability import early_convergence_lead, integration, stability
from ..diagnostics.synchrony import kuramoto_order, phases
from ..dims import EPOCH, LAYER, SCALE, STEP
from ..record.store import signals
from .registry import register

T = "t"
_MIN_PHASE_POINTS = 16


@dataclass
class DynamicsSettings:
    """Settings of the ``dynamics`` analysis (change :data:`SETTINGS` before analysing).

    Attributes
    ----------
    window : int
        Signal points in the window ending at each epoch (also R(t)'s padded length).
    history : int
        Most signal points of history used for the stability index and its volatility.
    stability_window, stride, volatility_window : int
        Passed to :func:`~workbench.diagnostics.stability` (``window``, ``stride``,
        ``volatility_window``).
    frac : float
        Volatility rule of :func:`~workbench.diagnostics.early_convergence_lead`.
    """

    window: int = 512
    history: int = 4096
    stability_window: int = 64
    stride: int = 8
    volatility_window: int = 4
    frac: float = 0.5


#: The settings ``analyze`` uses; stored in each result's attrs.
SETTINGS = DynamicsSettings()


def epoch_last_step(tree: xr.DataTree, epoch: int) -> int:
    """The last optimizer step of ``epoch`` (from ``/steps``' ``epoch`` coord)."""
    ep = np.asarray(tree["steps"][EPOCH].values)
    steps = np.asarray(tree["steps"][STEP].values)
    mine = steps[ep == epoch]
    if mine.size == 0:
        raise ValueError(f"epoch {epoch} has no recorded steps; found epochs "
                         f"{sorted(set(ep.tolist()))}")
    return int(mine.max())


def signal_window(tree: xr.DataTree, epoch: int, *, length: int) -> xr.DataArray:
    """The last ``length`` signal points (step, layer) at or before the end of ``epoch``."""
    sig = signals(tree)
    sig = sig.isel({STEP: np.asarray(sig[STEP].values) <= epoch_last_step(tree, epoch)})
    return sig.isel({STEP: slice(-length, None)}).load().transpose(STEP, LAYER)


def window_scales(n_points: int, *, window: int | None = None) -> np.ndarray:
    """The DFA window sizes the analysis fits for a window holding ``n_points`` points: the
    fixed grid ``default_scales(window)`` restricted to sizes ``<= n_points // 4``
    (``window``: the signal window's length, default ``SETTINGS.window``).

    The same DFA from code: ``dfa(signal_window(tree, epoch, length=window),
    scales=window_scales(n))`` gives the stored ``dfa`` of that epoch. :func:`dfa`'s own
    default sizes (up to ``n // 10``, see :func:`~workbench.diagnostics.dfa.default_scales`)
    fit other window sizes, so its exponent differs.

    Examples
    --------
    >>> window_scales(94, window=512).tolist()
    [4, 5, 6, 7, 8, 9, 11, 13, 16, 18, 22]
    """
    grid = default_scales(SETTINGS.window if window is None else int(window))
    return grid[grid <= n_points // 4]


def too_few_points(at: xr.Dataset) -> dict:
    """Why each quantity of one analysed epoch is NaN, when it is for lack of points.

    Parameters
    ----------
    at : Dataset
        One epoch of ``/analysis/dynamics`` (``run.analysis("dynamics").sel(epoch=e)``).

    Returns
    -------
    dict
        name → ``"too few signal points: 58 of 64"`` for each of ``dfa``, ``integration``,
        ``synchrony``, ``metastability``, ``stability`` and ``volatility`` that is NaN
        because the epoch's window (``n_points``) or history (``n_history``) holds fewer
        points than it needs (the rules of the variables' ``nan_when``, with the settings
        stored in the attrs). A quantity that is not NaN, or NaN for another reason, is
        absent.

    Examples
    --------
    >>> at = xr.Dataset({"dfa": ("layer", [np.nan]), "synchrony": ((), 0.4),
    ...                  "n_points": ((), 58)})
    >>> too_few_points(at)
    {'dfa': 'too few signal points: 58 of 64'}
    """
    def setting(name):
        return int(at.attrs.get(f"setting_{name}", getattr(SETTINGS, name)))

    n = int(at["n_points"]) if "n_points" in at else (
        int((at["signal_step"] >= 0).sum()) if "signal_step" in at else None)
    nh = int(at["n_history"]) if "n_history" in at else None
    sw = setting("stability_window")
    need_vol = sw + (setting("volatility_window") - 1) * setting("stride")
    rules = {"dfa": ("signal points", n, MIN_POINTS),
             "integration": ("signal points", n, MIN_POINTS),
             "synchrony": ("signal points", n, _MIN_PHASE_POINTS),
             "metastability": ("signal points", n, _MIN_PHASE_POINTS),
             "stability": ("points of signal history", nh, sw),
             "volatility": ("points of signal history", nh, need_vol)}
    out = {}
    for name, (what, have, need) in rules.items():
        if (name in at and have is not None and have < need
                and not np.isfinite(np.asarray(at[name].values, float)).any()):
            out[name] = f"too few {what}: {have} of {need}"
    return out


def dynamics_of(window: xr.DataArray, history: xr.DataArray, accuracy: xr.DataArray, *,
                steps_per_epoch: int, settings: DynamicsSettings = SETTINGS) -> xr.Dataset:
    """One epoch's dynamics from its signal window, signal history and accuracy so far.

    Parameters
    ----------
    window : xarray.DataArray
        (step, layer) signals in the window (at most ``settings.window`` points).
    history : xarray.DataArray
        (step, layer) signals up to the same last step (for stability and volatility).
    accuracy : xarray.DataArray
        (epoch) test accuracy of the epochs up to this one.
    steps_per_epoch : int
        To place step ``s`` at ``(s + 1) / steps_per_epoch`` epochs completed.
    settings : DynamicsSettings

    Returns
    -------
    xarray.Dataset
        The ``dynamics`` schema (see the module docstring), without an ``epoch`` dim.

    Notes
    -----
    DFA: :math:`F(n) \\propto n^{\\alpha}`, fitted as
    :math:`\\log F = \\alpha \\log n + b` (``dfa``, ``dfa_intercept``). Kuramoto:
    :math:`R(t) = |\\frac1L \\sum_l e^{i\\varphi_l(t)}|`, synchrony :math:`\\langle R\\rangle_t`,
    metastability :math:`\\mathrm{std}_t R`. Stability :math:`S = I (1 - M)`, volatility the
    std of S over the last windows.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray(np.random.default_rng(0).normal(size=(200, 3)), dims=("step", "layer"),
    ...                  coords={"step": np.arange(200), "layer": ["a", "b", "c"]})
    >>> acc = xr.DataArray([0.5, 0.6], dims="epoch", coords={"epoch": [0, 1]})
    >>> ds = dynamics_of(x, x, acc, steps_per_epoch=100)
    >>> ds.dfa.dims, ds.fluctuation.dims, ds.R.dims
    (('layer',), ('layer', 'scale'), ('t',))
    """
    layers = window[LAYER].values
    keep = (np.isfinite(window.values).all(axis=window.get_axis_num(STEP)) &
            np.isfinite(history.values).all(axis=history.get_axis_num(STEP)))
    if not keep.all():  # a group with no signal (no module of its own, e.g. a bare parameter)
        if not keep.any():
            window, history = window.isel({STEP: slice(0, 0)}), history.isel({STEP: slice(0, 0)})
        ds = dynamics_of(window.isel({LAYER: keep}), history.isel({LAYER: keep}), accuracy,
                         steps_per_epoch=steps_per_epoch, settings=settings)
        ds = ds.reindex({LAYER: layers})
        ds.attrs["layers_left_out"] = ("layers whose signal is not finite over the window "
                                       "are left out of every quantity (their values NaN): "
                                       + ", ".join(str(x) for x in layers[~keep]))
        return ds
    w = settings.window
    n = window.sizes[STEP]
    sw, stride, vw = settings.stability_window, settings.stride, settings.volatility_window
    grid = default_scales(w)
    used = window_scales(n, window=w)
    nan_l = xr.DataArray(np.full(len(layers), np.nan), dims=LAYER, coords={LAYER: layers})

    # 1. DFA per layer, and integration, on the fixed scale grid.
    if n >= MIN_POINTS and len(used) >= 2:
        d = dfa(window, dim=STEP, scales=used, return_fluctuation=True)
        fluct = d.fluctuation.reindex({SCALE: grid})
        alpha = d.exponent
        logf = np.log(d.fluctuation)
        intercept = logf.mean(SCALE) - alpha * float(np.log(used).mean())
        integ = float(integration(window, channel_dim=LAYER, dim=STEP, scales=used))
    else:
        fluct = xr.DataArray(np.full((len(layers), len(grid)), np.nan), dims=(LAYER, SCALE),
                             coords={LAYER: layers, SCALE: grid})
        alpha, intercept, integ = nan_l, nan_l, np.nan

    # 2. Kuramoto R(t) over the window, padded to the window length.
    r_pad = np.full(w, np.nan)
    s_pad = np.full(w, -1, dtype=np.int64)
    s_pad[:n] = window[STEP].values
    if n >= _MIN_PHASE_POINTS and len(layers) >= 2:
        r = kuramoto_order(phases(window, dim=STEP), dim=LAYER)
        r_pad[:n] = r.values
        sync, meta = float(r.mean()), float(r.std())
    else:
        sync = meta = np.nan

    # 3. Stability and volatility over the history; the early-convergence marker.
    stab = vol = marker = np.nan
    nh = history.sizes[STEP]
    if nh >= sw and len(layers) >= 2:
        h = history.isel({STEP: slice((nh - sw) % stride, None)})
        st = stability(h, channel_dim=LAYER, dim=STEP, window=sw, stride=stride,
                       volatility_window=vw)
        stab = float(st.stability[-1])
        vol = float(st.volatility[-1])
        v = st.volatility
        v = v.assign_coords({EPOCH: (STEP, (v[STEP].values + 1) / steps_per_epoch)})
        v = v.swap_dims({STEP: EPOCH}).drop_vars(STEP)
        acc = accuracy.assign_coords({EPOCH: accuracy[EPOCH].values + 1.0})
        if np.isfinite(v.values).any():
            marker = float(early_convergence_lead(v, acc, frac=settings.frac)
                           .volatility_settled)

    # The same rule text at every epoch (attrs are the group's, not the epoch's); the
    # epoch's own counts are the variables n_points and n_history.
    rules = {
        "dfa": f"NaN when the window holds fewer than {MIN_POINTS} signal points (n_points)",
        "synchrony": (f"NaN when the window holds fewer than {_MIN_PHASE_POINTS} signal points "
                      f"(n_points) or fewer than 2 layers"),
        "stability": (f"NaN when the history holds fewer than {sw} signal points (n_history) "
                      f"or fewer than 2 layers"),
        "volatility": (f"NaN when the history holds fewer than {sw + (vw - 1) * stride} signal "
                       f"points ({vw} windows of {sw}, stride {stride}; n_history)"),
        "early_convergence_epoch": (f"NaN until the volatility has fallen under "
                                    f"{settings.frac:g} x its peak and stayed there"),
    }
    rules["integration"] = rules["dfa"]
    rules["metastability"] = rules["synchrony"]

    def attrs(name, long_name, units="1"):
        a = {"long_name": long_name, "units": units}
        if name in rules:
            a["nan_when"] = rules[name]
        return a

    ds = xr.Dataset(
        {
            "dfa": alpha.assign_attrs(attrs("dfa", "DFA exponent $\\alpha$")),
            "dfa_intercept": intercept.assign_attrs(attrs("dfa", "DFA intercept log F(1)")),
            "fluctuation": fluct.assign_attrs(attrs("dfa", "fluctuation F(n)",
                                                    window.attrs.get("units", ""))),
            "integration": ((), integ, attrs("integration", "integration (DFA exponent)")),
            "synchrony": ((), sync, attrs("synchrony", "synchrony (mean $R$)")),
            "metastability": ((), meta, attrs("metastability", "metastability (std $R$)")),
            "stability": ((), stab, attrs("stability", "stability index $I(1-M)$")),
            "volatility": ((), vol, attrs("volatility", "stability volatility")),
            "R": ((T,), r_pad, attrs("synchrony", "Kuramoto order parameter $R$")),
            "signal_step": ((T,), s_pad, {"long_name": "step of the window's point",
                                          "units": "", "fill_value": -1}),
            "n_points": ((), n, {"long_name": "signal points in the window", "units": ""}),
            "n_history": ((), nh, {"long_name": "signal points in the history", "units": ""}),
            "early_convergence_epoch": ((), marker, attrs(
                "early_convergence_epoch", "early convergence (volatility settled)",
                "epoch")),
        },
        coords={LAYER: layers, SCALE: (SCALE, grid, {"long_name": "window size n",
                                                     "units": "signal points"}),
                T: (T, np.arange(w), {"long_name": "position in the window", "units": ""})},
    )
    ds.attrs.update({f"setting_{k}": v for k, v in asdict(settings).items()})
    return ds


def accuracy_name(tree) -> str:
    """The per-epoch accuracy the stability index reads: ``test_acc`` when the run recorded
    it, else ``probe_acc`` (the probe set's, which :func:`workbench.watch` records)."""
    names = list(tree["epochs"].data_vars) if "epochs" in tree else []
    return "test_acc" if "test_acc" in names else "probe_acc"


def _requires(run) -> str | None:
    if "layers" not in run.tree.children or "signal" not in run.tree["layers"].data_vars:
        return "the run recorded no layer signals (/layers/signal)"
    if accuracy_name(run.tree) not in run.tree["epochs"]:
        return ("needs a per-epoch accuracy (/epochs test_acc, or probe_acc from a recorded "
                "probe set)")
    return None


def dynamics(run, epoch: int) -> xr.Dataset:
    """The ``dynamics`` analysis of ``run`` at ``epoch`` (see the module docstring)."""
    tree = run.tree
    s = SETTINGS
    window = signal_window(tree, epoch, length=s.window)
    history = signal_window(tree, epoch, length=max(s.history, s.window))
    acc = tree["epochs"][accuracy_name(tree)].sel({EPOCH: slice(None, epoch)}).load()
    spe = int(tree.attrs.get("steps_per_epoch") or
              (epoch_last_step(tree, epoch) + 1) // (epoch + 1))
    return dynamics_of(window, history, acc, steps_per_epoch=spe, settings=s)


__all__ = ["dynamics", "dynamics_of", "signal_window", "epoch_last_step", "SETTINGS",
           "DynamicsSettings", "window_scales", "too_few_points"]


register("dynamics", compute=dynamics,
         description="DFA, Kuramoto synchrony, metastability and stability over "
                     "the signal window ending at each epoch",
         requires=("signal", _requires),
         view="workbench.widgets.explorer:dynamics_tab")
