"""A spring-block chain with friction and noise: the mechanical model of layer-wise separation.

Shi, Pan & Dokmanic (PRL 2025) map a deep network's layers to blocks on a line joined by
springs and pulled at the last block: block positions are the cumulative separation, spring
extensions the load each layer carries; nonlinearity acts as friction, noise as lubrication.
Numpy only.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import LAYER, STEP

__all__ = ["spring_block_chain", "spring_block_steady_state"]


def _layer_coord(n_blocks):
    return {LAYER: (LAYER, np.arange(1, n_blocks + 1), {"long_name": "block (layer)"})}


def spring_block_steady_state(n_blocks: int, *, friction=0.0, load: float = 1.0,
                              stiffness: float = 1.0) -> xr.DataArray:
    """Analytic rest extensions of the noiseless chain pulled from rest.

    Notes
    -----
    Block l (1..L) sits between springs l and l+1; block 0 is a wall; the force ``load``
    pulls block L. Overdamped blocks that start at rest move until their net force drops to
    the static friction :math:`\\mu`, so at rest the tension :math:`T_l = k e_l` obeys
    :math:`T_L = F - \\mu` and :math:`T_l = T_{l+1} - \\mu`, i.e.

    .. math:: e_l = \\max(F - (L - l + 1)\\,\\mu,\\ 0) / k

    (constant friction; for per-block friction the sum of :math:`\\mu_j` over j >= l replaces
    :math:`(L-l+1)\\mu`). Without friction every spring stretches by F/k: equal load, the
    linear law. With friction the load concentrates near the pulled (deep) end.

    Examples
    --------
    >>> spring_block_steady_state(4, friction=0.2, load=1.0).values.round(6).tolist()
    [0.2, 0.4, 0.6, 0.8]
    """
    mu = np.broadcast_to(np.asarray(friction, dtype=float), (n_blocks,))
    tension = np.maximum(load - np.cumsum(mu[::-1])[::-1], 0.0)
    return xr.DataArray(tension / stiffness, dims=LAYER, coords=_layer_coord(n_blocks),
                        name="extension",
                        attrs={"long_name": "spring extension (layer load)", "units": "1"})


def spring_block_chain(n_blocks: int, *, friction=0.0, noise: float = 0.0, load: float = 1.0,
                       steps: int = 20_000, dt: float = 0.05, seed: int = 0,
                       stiffness: float = 1.0, record_every: int = 100,
                       average_from: float = 0.5) -> xr.Dataset:
    """Simulate an overdamped chain of blocks with Coulomb friction and noise.

    Parameters
    ----------
    n_blocks : int
        Number of blocks L (layers).
    friction : float or array of shape (n_blocks,)
        Coulomb friction threshold :math:`\\mu_l` per block (the nonlinearity).
    noise : float
        Standard deviation :math:`\\sigma` of a Gaussian random force on every block at every
        step (the lubrication: learning-rate/batch/dropout/label noise).
    load : float
        Force F pulling the last block.
    steps, dt : int, float
        Euler steps and step size (``dt * stiffness`` below 0.5 keeps the scheme stable).
    seed : int
        Seed of the noise (``numpy.random.default_rng``).
    stiffness : float
        Spring constant k.
    record_every : int
        Record positions every this many steps.
    average_from : float
        Fraction of the run after which the steady state is averaged.

    Returns
    -------
    xarray.Dataset
        ``position`` and ``extension`` over (``step``, ``layer``), recorded every
        ``record_every`` steps, and their steady state ``position_mean`` and
        ``extension_mean`` over ``layer`` (mean over the recorded points after
        ``average_from``). ``extension`` is the load of each layer, ``position`` the
        cumulative separation; ``np.exp(-position_mean)`` plays the role of the fuzziness D,
        so ``load_curve(np.exp(-ds.position_mean))`` draws the theory's load curve.

    Notes
    -----
    Positions :math:`x_1..x_L` (wall :math:`x_0 = 0`), extensions
    :math:`e_l = x_l - x_{l-1}`. Net force on block l:
    :math:`f_l = k(e_{l+1} - e_l) + \\sigma\\xi_l(t)` with :math:`k e_{L+1} \\equiv F`.
    Overdamped Coulomb dynamics with unit mobility:

    .. math:: \\dot x_l = \\mathrm{sign}(f_l)\\,\\max(|f_l| - \\mu_l,\\ 0)

    (a block sticks while the force is below the threshold and slides with the excess force
    otherwise), integrated by Euler steps from rest. See :func:`spring_block_steady_state`
    for the noiseless rest state.

    Examples
    --------
    >>> ds = spring_block_chain(4, friction=0.1, steps=2000, dt=0.1)
    >>> ds.position.dims, ds.extension_mean.dims
    (('step', 'layer'), ('layer',))
    """
    rng = np.random.default_rng(seed)
    mu = np.broadcast_to(np.asarray(friction, dtype=float), (n_blocks,))
    x = np.zeros(n_blocks)
    n_rec = steps // record_every
    rec = np.empty((n_rec, n_blocks))
    for t in range(steps):
        ext = np.diff(x, prepend=0.0)
        tension = stiffness * ext
        force = np.append(tension[1:], load) - tension
        if noise:
            force = force + noise * rng.standard_normal(n_blocks)
        x = x + dt * np.sign(force) * np.maximum(np.abs(force) - mu, 0.0)
        if (t + 1) % record_every == 0:
            rec[(t + 1) // record_every - 1] = x
    ext = np.diff(rec, axis=1, prepend=0.0)
    coords = {STEP: (STEP, np.arange(1, n_rec + 1) * record_every), **_layer_coord(n_blocks)}
    start = int(average_from * n_rec)
    ds = xr.Dataset({
        "position": ((STEP, LAYER), rec, {"long_name": "block position (separation)"}),
        "extension": ((STEP, LAYER), ext, {"long_name": "spring extension (layer load)"}),
        "position_mean": (LAYER, rec[start:].mean(0),
                          {"long_name": "steady-state position"}),
        "extension_mean": (LAYER, ext[start:].mean(0),
                           {"long_name": "steady-state extension (layer load)"}),
    }, coords=coords)
    ds.attrs.update(friction=str(friction), noise=noise, load=load, dt=dt, seed=seed,
                    stiffness=stiffness)
    return ds
