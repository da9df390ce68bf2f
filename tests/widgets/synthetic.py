"""Small synthetic run data with known values, shared by the widget tests."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

LAYERS = ["conv1", "conv2", "fc"]
SAMPLES = [7, 11, 20, 42]


def layers_ds(n_steps: int = 20) -> xr.Dataset:
    step = np.arange(n_steps)
    grad = np.stack([(i + 1) * np.sin(step / 3.0) + 10 * i for i in range(len(LAYERS))], 1)
    cos = np.stack([np.cos(step / (i + 2.0)) for i in range(len(LAYERS))], 1)
    signal = np.stack([np.sin(step / (1.5 + i)) + 0.1 * i * step for i in range(len(LAYERS))], 1)
    return xr.Dataset(
        {"grad_norm": (("step", "layer"), grad, {"long_name": "gradient norm", "units": ""}),
         "update_cos": (("step", "layer"), cos, {"long_name": "update cosine"}),
         "signal": (("step", "layer"), signal, {"long_name": "layer signal"})},
        coords={"step": step, "layer": LAYERS})


def probs_da(n_epochs: int = 3) -> xr.DataArray:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n_epochs, len(SAMPLES), 4))
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    return xr.DataArray(p, dims=("epoch", "sample", "label"),
                        coords={"epoch": np.arange(n_epochs), "sample": SAMPLES,
                                "label": np.arange(4), "target": ("sample", [0, 1, 2, 3])},
                        name="probability", attrs={"long_name": "predicted probability"})


def images_da() -> xr.DataArray:
    pix = np.arange(len(SAMPLES) * 5 * 5, dtype=float).reshape(len(SAMPLES), 5, 5, 1)
    return xr.DataArray(pix, dims=("sample", "row", "col", "channel"),
                        coords={"sample": SAMPLES})


def tree(n_epochs: int = 3, steps_per_epoch: int = 10, analysis: bool = False) -> xr.DataTree:
    """A DataTree shaped like a run store (groups /steps /layers /epochs /probe, and with
    ``analysis`` the /analysis groups damping, dynamics, separation, spectra)."""
    n = n_epochs * steps_per_epoch
    step = np.arange(n)
    steps = xr.Dataset({"loss": ("step", 2.0 * np.exp(-step / 10.0),
                                 {"long_name": "training loss"})},
                       coords={"step": step, "epoch": ("step", step // steps_per_epoch)})
    epochs = xr.Dataset({"train_acc": ("epoch", np.linspace(0.5, 0.8, n_epochs)),
                         "test_acc": ("epoch", np.linspace(0.45, 0.75, n_epochs)),
                         "train_loss": ("epoch", np.linspace(1.0, 0.5, n_epochs)),
                         "test_loss": ("epoch", np.linspace(1.1, 0.6, n_epochs))},
                        coords={"epoch": np.arange(n_epochs)})
    p = probs_da(n_epochs)
    logits = xr.DataArray(np.log(p.values), dims=p.dims, coords=p.coords, name="logits")
    root = xr.Dataset(attrs={
        "config": json.dumps({"model": "cnn", "data": "fashion-mnist", "optimizer": "sgd",
                              "momentum": "constant:0.9"}),
        "classes": json.dumps(["a", "b", "c", "d"]),
        "committed_epochs": n_epochs, "committed_steps": n})
    groups = {"/": root, "/steps": steps, "/layers": layers_ds(n), "/epochs": epochs,
              "/probe": logits.to_dataset()}
    if analysis:
        groups.update({"/analysis/damping": damping_ds(n_epochs),
                       "/analysis/dynamics": dynamics_ds(n_epochs, steps_per_epoch),
                       "/analysis/separation": separation_ds(n_epochs),
                       "/analysis/spectra": spectra_ds(n_epochs)})
    return xr.DataTree.from_dict(groups)


def line_by_gid(ax, gid):
    found = [ln for ln in ax.lines if ln.get_gid() == gid]
    assert len(found) == 1, f"expected one line with gid {gid!r}; got {len(found)}"
    return found[0]


# -- /analysis groups as the registry stores them (schema: one epoch each, `epoch` dim added) --

REGIMES = ("underdamped", "critical", "overdamped")


def _attrs(ds: xr.Dataset) -> xr.Dataset:
    for name in ds.variables:
        ds[name].attrs.setdefault("long_name", str(name))
        ds[name].attrs.setdefault("units", "")
    return ds


def damping_ds(n_epochs: int = 3, layers=LAYERS) -> xr.Dataset:
    """/analysis/damping: lr halves each epoch, curvature grows with layer and epoch."""
    e = np.arange(n_epochs)
    lr = 0.01 * 0.5 ** e
    mom = np.full(n_epochs, 0.9)
    crit = 1 - 2 * np.sqrt(lr)
    curv = np.array([[(i + 1) * 10.0 ** (k - 1) for i in range(len(layers))] for k in e])
    zeta = (1 - mom[:, None]) / (2 * np.sqrt(lr[:, None] * curv))
    net_zeta = (1 - mom) / (2 * np.sqrt(lr))

    def regime(z):
        return np.where(z < 0.95, "underdamped", np.where(z > 1.05, "overdamped", "critical"))

    cos = np.linspace(-0.5, 0.9, n_epochs * len(layers)).reshape(n_epochs, len(layers))
    cos_regime = np.where(cos < 0, "underdamped", np.where(cos > 0.5, "overdamped",
                                                              "critical"))
    ds = xr.Dataset(
        {"lr": ("epoch", lr, {"long_name": r"learning rate $\eta$"}),
         "momentum": ("epoch", mom, {"long_name": r"momentum $\mu$"}),
         "critical_momentum": ("epoch", crit,
                               {"long_name": r"critical momentum $1-2\sqrt{\eta}$"}),
         "network_damping_ratio": ("epoch", net_zeta,
                                   {"long_name": r"network damping ratio $\zeta$ ($\lambda=1$)"}),
         "network_regime": ("epoch", regime(net_zeta).astype("<U32")),
         "curvature": (("epoch", "layer"), curv,
                       {"long_name": r"top Hessian eigenvalue $\lambda$"}),
         "damping_ratio": (("epoch", "layer"), zeta, {"long_name": r"damping ratio $\zeta$"}),
         "regime": (("epoch", "layer"), regime(zeta).astype("<U32")),
         "update_cos_mean": (("epoch", "layer"), cos,
                             {"long_name": r"mean update cosine $\cos\theta$"}),
         "update_cos_regime": (("epoch", "layer"), cos_regime.astype("<U32")),
         "agrees": (("epoch", "layer"), regime(zeta) == cos_regime)},
        coords={"epoch": e, "layer": list(layers)})
    return _attrs(ds)


WINDOW = 16
SCALES = np.array([4.0, 8.0, 16.0, 32.0])


def dynamics_ds(n_epochs: int = 3, steps_per_epoch: int = 10, layers=LAYERS) -> xr.Dataset:
    """/analysis/dynamics: the window ending at epoch e covers its last ``WINDOW`` steps
    (fewer at first, padded with NaN / -1)."""
    e = np.arange(n_epochs)
    dfa = np.array([[0.5 + 0.1 * i + 0.05 * k for i in range(len(layers))] for k in e])
    icpt = np.array([[0.1 * i - 0.2 * k for i in range(len(layers))] for k in e])
    fl = np.exp(icpt[..., None] + dfa[..., None] * np.log(SCALES))
    r = np.full((n_epochs, WINDOW), np.nan)
    sig = np.full((n_epochs, WINDOW), -1)
    for k in e:
        end = (k + 1) * steps_per_epoch
        steps = np.arange(max(0, end - WINDOW), end)
        sig[k, :len(steps)] = steps
        r[k, :len(steps)] = 0.5 + 0.3 * np.sin(steps / 2.0 + k)
    ds = xr.Dataset(
        {"dfa": (("epoch", "layer"), dfa, {"long_name": r"DFA exponent $\alpha$"}),
         "dfa_intercept": (("epoch", "layer"), icpt),
         "fluctuation": (("epoch", "layer", "scale"), fl, {"long_name": r"fluctuation $F(n)$"}),
         "integration": ("epoch", dfa.mean(1), {"long_name": "integration"}),
         "synchrony": ("epoch", np.nanmean(r, 1), {"long_name": r"synchrony $\bar R$"}),
         "metastability": ("epoch", np.nanstd(r, 1), {"long_name": r"metastability $\sigma_R$"}),
         "stability": ("epoch", np.linspace(0.2, 0.9, n_epochs), {"long_name": "stability"}),
         "volatility": ("epoch", np.linspace(0.3, 0.1, n_epochs), {"long_name": "volatility"}),
         "R": (("epoch", "t"), r, {"long_name": r"Kuramoto order $R$"}),
         "signal_step": (("epoch", "t"), sig, {"long_name": "step"}),
         "early_convergence_epoch": ("epoch", np.where(e >= 1, 1.0, np.nan))},
        coords={"epoch": e, "layer": list(layers), "scale": SCALES, "t": np.arange(WINDOW)})
    return _attrs(ds)


def separation_ds(n_epochs: int = 3, layers=LAYERS) -> xr.Dataset:
    """/analysis/separation: log fuzziness falls with depth, more straightly each epoch."""
    e = np.arange(n_epochs)
    depth = np.arange(1, len(layers) + 1)
    logf = np.array([[1.0 - (0.5 + 0.1 * k) * d + 0.1 * (d % 2) / (k + 1) for d in depth]
                     for k in e])
    load = np.diff(np.concatenate([np.zeros((n_epochs, 1)), -logf], 1), axis=1)
    cum = np.cumsum(load, 1)
    law = np.array([np.polyval(np.polyfit(depth, c, 1), depth) for c in cum])
    ds = xr.Dataset(
        {"fuzziness": (("epoch", "layer"), np.exp(logf), {"long_name": "fuzziness $D$"}),
         "log_fuzziness": (("epoch", "layer"), logf, {"long_name": r"$\log D$"}),
         "load": (("epoch", "layer"), load, {"long_name": "load"}),
         "cumulative_load": (("epoch", "layer"), cum, {"long_name": "cumulative load"}),
         "linear_law": (("epoch", "layer"), law, {"long_name": "linear law"}),
         "linear_law_deviation": ("epoch", np.abs(cum - law).max(1),
                                  {"long_name": "deviation from the linear law"})},
        coords={"epoch": e, "layer": list(layers), "depth": ("layer", depth)})
    return _attrs(ds)


def spectra_ds(n_epochs: int = 3, n_eig: int = 40, layers=LAYERS) -> xr.Dataset:
    """/analysis/spectra: Pareto-like eigenvalues, fewer for the last layer (NaN padded)."""
    rng = np.random.default_rng(1)
    ev = np.full((n_epochs, len(layers), n_eig), np.nan)
    for k in range(n_epochs):
        for i in range(len(layers)):
            n = n_eig if i < len(layers) - 1 else n_eig // 2
            ev[k, i, :n] = np.sort(rng.pareto(2.0 + k + i, n) + 0.1)[::-1]
    alpha = 3.0 + np.arange(n_epochs)[:, None] + np.arange(len(layers))[None]
    xmin = np.nanmedian(ev, -1)
    n_tail = (ev >= xmin[..., None]).sum(-1)
    ds = xr.Dataset(
        {"alpha": (("epoch", "layer"), alpha, {"long_name": r"tail exponent $\alpha$"}),
         "xmin": (("epoch", "layer"), xmin, {"long_name": r"$x_{\min}$"}),
         "ks_distance": (("epoch", "layer"), np.full_like(alpha, 0.05)),
         "n_tail": (("epoch", "layer"), n_tail),
         "eigenvalues": (("epoch", "layer", "eigenvalue"), ev,
                         {"long_name": r"eigenvalue $\lambda$"})},
        coords={"epoch": np.arange(n_epochs), "layer": list(layers),
                "eigenvalue": np.arange(n_eig)})
    return _attrs(ds)


def fill_analysis(run, names=("damping", "dynamics", "separation", "spectra")) -> list[str]:
    """Append schema-shaped synthetic /analysis groups for every committed epoch of ``run``
    (a Run) that lacks them, over the run's own layers and steps; return the names filled.

    For tests and benches of the views while the real analyses are computed elsewhere.
    """
    tree = run.tree
    epochs = [int(e) for e in tree["epochs"]["epoch"].values]
    layers = [str(v) for v in tree["layers"]["layer"].values]
    spe = max(1, int(tree["steps"].sizes["step"]) // max(len(epochs), 1))
    make = {"damping": lambda n: damping_ds(n, layers=layers),
            "dynamics": lambda n: dynamics_ds(n, spe, layers=layers),
            "separation": lambda n: separation_ds(n, layers=layers),
            "spectra": lambda n: spectra_ds(n, layers=layers)}
    filled = []
    for name in names:
        if run.analysis(name) is not None:
            continue
        ds = make[name](len(epochs)).assign_coords(epoch=epochs)
        ds.attrs["source"] = "synthetic, schema-shaped (tests/widgets/synthetic.py)"
        for e in epochs:
            run.store.append_analysis(name, ds.sel(epoch=[e]))
        filled.append(name)
    run.refresh()
    return filled
