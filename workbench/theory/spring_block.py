"""A spring-block chain with friction and noise: the mechanical model of layer-wise separation.

Shi, Pan & Dokmanic (PRL 2025) map a deep network's layers to blocks on a line joined by
springs and pulled at the last block: block positions are the cumulative separation, spring
extensions the load each layer carries; nonlinearity acts as friction, noise as lubrication.
Numpy only.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..diagnostics.separation import load_curve
from ..dims import LAYER, STEP, require

__all__ = ["spring_block_chain", "spring_block_steady_state", "chain_fuzziness",
           "chain_load_curve"]


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


def _force_matrix(n_blocks, stiffness):
    """A of f = A x + b: f_l = k(x_{l+1} - 2x_l + x_{l-1}), x_0 = 0; f_L = F - k(x_L - x_{L-1})"""
    a = -2.0 * np.eye(n_blocks) + np.eye(n_blocks, k=1) + np.eye(n_blocks, k=-1)
    a[-1, -1] = -1.0
    return stiffness * a


def spring_block_chain(n_blocks: int, *, friction=0.0, noise: float = 0.0, load: float = 1.0,
                       steps: int = 20_000, dt: float = 0.05, seed: int = 0,
                       stiffness: float = 1.0, record_every: int = 100,
                       average_from: float = 0.5, replicas: int = 1) -> xr.Dataset:
    """Simulate an overdamped chain of blocks with Coulomb friction and noise.

    Parameters
    ----------
    n_blocks : int
        Number of blocks L (layers).
    friction : float or array of shape (n_blocks,)
        Coulomb friction threshold :math:`\\mu_l` per block (the nonlinearity).
    noise : float
        Standard deviation :math:`\\sigma` of a Gaussian random force on every block at every
        step (the lubrication: learning-rate/batch/dropout/label noise). It is a force per
        step, so the same ``noise`` with another ``dt`` is another noise level.
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
    replicas : int
        Independent chains simulated side by side (one vectorised loop); recorded values are
        their mean, so the steady state is averaged over replicas as well as over time.
        Many replicas and few steps give a steady state fast enough for a slider.

    Returns
    -------
    xarray.Dataset
        ``position`` and ``extension`` over (``step``, ``layer``), recorded every
        ``record_every`` steps (mean over replicas), and their steady state
        ``position_mean`` and ``extension_mean`` over ``layer`` (mean over the recorded points
        after ``average_from``). ``extension`` is the load of each layer, ``position`` the
        cumulative separation; ``np.exp(-position_mean)`` plays the role of the fuzziness D
        (see :func:`chain_load_curve` for the load curve).

    Notes
    -----
    Positions :math:`x_1..x_L` (wall :math:`x_0 = 0`), extensions
    :math:`e_l = x_l - x_{l-1}`. Net force on block l:
    :math:`f_l = k(e_{l+1} - e_l) + \\sigma\\xi_l(t)` with :math:`k e_{L+1} \\equiv F`.
    Overdamped Coulomb dynamics with unit mobility:

    .. math:: \\dot x_l = \\mathrm{sign}(f_l)\\,\\max(|f_l| - \\mu_l,\\ 0)
              = f_l - \\mathrm{clip}(f_l, -\\mu_l, \\mu_l)

    (a block sticks while the force is below the threshold and slides with the excess force
    otherwise), integrated by Euler steps from rest; the forces of all blocks are one matrix
    product :math:`f = A x + b`. See :func:`spring_block_steady_state` for the noiseless rest
    state.

    Examples
    --------
    >>> ds = spring_block_chain(4, friction=0.1, steps=2000, dt=0.1)
    >>> ds.position.dims, ds.extension_mean.dims
    (('step', 'layer'), ('layer',))
    """
    if n_blocks < 1 or steps < record_every or replicas < 1:
        raise ValueError(f"spring_block_chain() needs n_blocks >= 1, steps >= record_every and "
                         f"replicas >= 1; got n_blocks={n_blocks}, steps={steps}, "
                         f"record_every={record_every}, replicas={replicas}")
    rng = np.random.default_rng(seed)
    # Everything is scaled by dt once: x <- x + S(dt f), S the soft threshold at dt*mu.
    mu = dt * np.broadcast_to(np.asarray(friction, dtype=float), (n_blocks,))
    a_t = (dt * _force_matrix(n_blocks, stiffness)).T.copy()
    b = np.zeros(n_blocks)
    b[-1] = dt * load
    x = np.zeros((replicas, n_blocks))
    n_rec = steps // record_every
    rec = np.empty((n_rec, n_blocks))
    g = np.empty_like(x)
    c = np.empty_like(x)
    neg_mu = -mu
    # raw ufuncs (np.clip and ndarray.mean add Python wrappers: ~2x per call on a small
    # chain); the recorded sums are divided by the replicas once at the end
    matmul, maximum, minimum, add_reduce = np.matmul, np.maximum, np.minimum, np.add.reduce
    chunk = 1024
    for t0 in range(0, steps, chunk):
        m = min(chunk, steps - t0)
        if noise:
            push = rng.standard_normal((m, replicas, n_blocks))
            push *= dt * noise
            push += b
        else:
            push = np.broadcast_to(b, (m, replicas, n_blocks))
        for i in range(m):
            matmul(x, a_t, out=g)
            g += push[i]
            minimum(maximum(g, neg_mu, out=c), mu, out=c)  # clip to [-mu, mu]
            g -= c
            x += g
            t = t0 + i + 1
            if t % record_every == 0:
                add_reduce(x, axis=0, out=rec[t // record_every - 1])
    rec /= replicas
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
                    stiffness=stiffness, replicas=replicas)
    return ds


def chain_fuzziness(position) -> xr.DataArray:
    """The chain's stand-in for the separation fuzziness: :math:`D_l = e^{-x_l}`, wall included.

    Parameters
    ----------
    position : xarray.DataArray or xarray.Dataset
        Block positions over ``layer`` (blocks 1..L), e.g. ``position_mean`` of
        :func:`spring_block_chain` (a Dataset is read for that variable).

    Returns
    -------
    xarray.DataArray
        Over ``layer`` 0..L: :math:`D_0 = 1` (the wall, :math:`x_0 = 0`: the input) then
        :math:`e^{-x_l}`. Feed it to :func:`workbench.diagnostics.separation.load_curve`,
        ``load`` or ``linear_law_deviation`` as a run's measured fuzziness.

    Examples
    --------
    >>> import xarray as xr
    >>> x = xr.DataArray([1.0, 2.0], dims="layer", coords={"layer": [1, 2]})
    >>> chain_fuzziness(x).layer.values.tolist()
    [0, 1, 2]
    """
    if isinstance(position, xr.Dataset):
        position = position["position_mean"]
    require(position, "chain_fuzziness", [LAYER], name="position")
    attrs = {"long_name": "exp(−position)", "units": "1"}
    if all(name == LAYER or LAYER not in c.dims for name, c in position.coords.items()):
        # numpy: the wall prepended along the layer axis (no concat/alignment per move)
        axis = position.get_axis_num(LAYER)
        x = position.values
        wall = np.zeros_like(np.take(x, [0], axis=axis))
        coords = {k: c for k, c in position.coords.items() if LAYER not in c.dims}
        layers = position[LAYER].values if LAYER in position.coords else np.arange(
            1, position.sizes[LAYER] + 1)
        coords[LAYER] = (LAYER, np.r_[0, layers],
                         position[LAYER].attrs if LAYER in position.coords else {})
        return xr.DataArray(np.exp(-np.concatenate([wall, x], axis=axis)), dims=position.dims,
                            coords=coords, name="fuzziness", attrs=attrs)
    wall = xr.zeros_like(position.isel({LAYER: [0]})).assign_coords({LAYER: [0]})
    x = xr.concat([wall, position], dim=LAYER)
    return np.exp(-x).rename("fuzziness").assign_attrs(attrs)


def chain_load_curve(position) -> xr.DataArray:
    """The chain's load curve, in the conventions of a run's measured one.

    Parameters
    ----------
    position : xarray.DataArray or xarray.Dataset
        Block positions over ``layer`` (blocks 1..L), e.g. ``position_mean`` of
        :func:`spring_block_chain` (a Dataset is read for that variable).

    Returns
    -------
    xarray.DataArray
        :func:`workbench.diagnostics.separation.load_curve` of the fuzziness
        :math:`D_l = e^{-x_l}` over ``layer`` 0..L, the wall (:math:`x_0 = 0`, the input)
        included: L + 1 points from 0 to 1, to set beside a run's measured curve over L + 1
        layers (L loads).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray([1.0, 2.0, 3.0, 4.0], dims="layer", coords={"layer": [1, 2, 3, 4]})
    >>> chain_load_curve(x).values.round(6).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    return load_curve(chain_fuzziness(position), dim=LAYER)
