"""Grokking: the phases of a run from its accuracies, and when a series leaves its plateau.

Power et al. (2022) call a run *grokking* when the training accuracy reaches ~100% long before
the test accuracy leaves chance, which it then does, to ~100%. Both functions here are pure
xarray (no torch); the accuracies are small, so they are loaded (dask arrays are computed).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..dims import EPOCH, DimsError, require

#: The phase labels, in the order a grokking run goes through them.
PHASES = ("memorising", "plateau", "transition", "generalising", "unknown")


def _aligned(train_acc, test_acc, func: str, dim: str):
    """Validate two 1-D accuracy curves along ``dim``; return their float values."""
    for name, x in (("train_acc", train_acc), ("test_acc", test_acc)):
        require(x, func, [dim], name=name)
        if x.ndim != 1:
            raise DimsError(f"{func}() needs {name} with the single dim {dim!r}; got dims "
                            f"{x.dims} with sizes {dict(x.sizes)}")
    if train_acc.sizes[dim] != test_acc.sizes[dim]:
        raise DimsError(f"{func}() needs train_acc and test_acc of the same length along "
                        f"{dim!r}; got {train_acc.sizes[dim]} and {test_acc.sizes[dim]}")
    if dim in train_acc.coords and dim in test_acc.coords and not np.array_equal(
            train_acc[dim].values, test_acc[dim].values):
        raise DimsError(f"{func}() needs train_acc and test_acc on the same {dim!r} coords; "
                        f"got {train_acc[dim].values[:5].tolist()}... and "
                        f"{test_acc[dim].values[:5].tolist()}...")
    tr = np.asarray(train_acc.values, dtype=float)
    te = np.asarray(test_acc.values, dtype=float)
    for name, v in (("train_acc", tr), ("test_acc", te)):
        fin = v[np.isfinite(v)]
        if fin.size and (fin.min() < 0.0 or fin.max() > 1.0):
            raise ValueError(f"{func}() needs {name} as a fraction in [0, 1]; got values in "
                             f"[{fin.min():g}, {fin.max():g}] (percent? divide by 100)")
    return tr, te


def _coord(x, dim, i):
    """The ``dim`` coordinate of position ``i`` as a plain Python number (position if none)."""
    if dim in x.coords:
        v = x[dim].values[i]
        return v.item() if hasattr(v, "item") else v
    return int(i)


def grokking_phases(train_acc, test_acc, *, dim: str = EPOCH, memorised: float = 0.99,
                    plateau_below: float = 0.5, generalised: float = 0.95) -> xr.DataArray:
    r"""The phase of each commit point, and whether the run grokked.

    Parameters
    ----------
    train_acc, test_acc : xarray.DataArray
        Accuracies as fractions in [0, 1] over the single dim ``dim`` (same length and
        coords). NaN marks a commit point where one was not measured.
    dim : str
        The commit-point dim (``"epoch"``; with full-batch training a commit point every N
        steps).
    memorised, plateau_below, generalised : float
        The thresholds below.

    Returns
    -------
    xarray.DataArray
        ``phase`` over ``dim`` (strings), with the input's ``dim`` coords, and attrs:
        ``grokked`` (bool), ``reason`` (why it did or did not grok, one sentence),
        ``memorised_at`` and ``generalised_at`` (the ``dim`` coord of the first point with
        train ≥ ``memorised``, resp. test ≥ ``generalised``; None if never),
        ``test_at_memorised`` (test accuracy at ``memorised_at``; None if never), and the
        thresholds.

    Notes
    -----
    Per commit point, with train accuracy :math:`a` and test accuracy :math:`b`:

    - ``"generalising"``: :math:`b \ge` ``generalised`` (whatever :math:`a`);
    - ``"memorising"``: :math:`a <` ``memorised`` (and :math:`b <` ``generalised``), before
      the first point where :math:`a \ge` ``memorised``;
    - ``"plateau"``: from that first point on, :math:`b <` ``plateau_below``;
    - ``"transition"``: from that first point on, ``plateau_below`` :math:`\le b <`
      ``generalised`` (the climb between the plateau and generalisation, or a later dip);
    - ``"unknown"``: :math:`a` or :math:`b` is NaN.

    Memorisation is a phase the run leaves once: after the first point with
    :math:`a \ge` ``memorised``, a momentary dip of the training accuracy (full-batch AdamW
    has loss spikes) does not send the run back to "memorising"; the test accuracy alone
    then says where it is. A dip of the *test* accuracy is shown as it is (a late collapse
    reads "transition" or "plateau" again).

    The run *grokked* when, at the first point where :math:`a \ge` ``memorised``,
    :math:`b <` ``plateau_below``, and at the last point where both are measured,
    :math:`b \ge` ``generalised``. The labels do not depend on that verdict: a run that
    generalises without a plateau has no ``"plateau"`` points and ``grokked`` False.

    Examples
    --------
    >>> import xarray as xr
    >>> e = {"epoch": [0, 1, 2, 3, 4]}
    >>> train = xr.DataArray([0.3, 1.0, 1.0, 1.0, 1.0], dims="epoch", coords=e)
    >>> test = xr.DataArray([0.02, 0.03, 0.04, 0.7, 0.99], dims="epoch", coords=e)
    >>> ph = grokking_phases(train, test)
    >>> ph.values.tolist()
    ['memorising', 'plateau', 'plateau', 'transition', 'generalising']
    >>> ph.attrs["grokked"], ph.attrs["memorised_at"], ph.attrs["generalised_at"]
    (True, 1, 4)
    """
    # 1. validate and load (two short curves)
    tr, te = _aligned(train_acc, test_acc, "grokking_phases", dim)
    # 2. label each point; NaN comparisons are False, so "unknown" is set last
    mem = np.flatnonzero(np.isfinite(te) & (tr >= memorised))
    after_mem = np.arange(tr.size) >= (mem[0] if mem.size else tr.size)
    phase = np.full(tr.shape, "transition", dtype="<U12")
    phase[(tr < memorised) & ~after_mem] = "memorising"
    phase[((tr >= memorised) | after_mem) & (te < plateau_below)] = "plateau"
    phase[te >= generalised] = "generalising"
    phase[~(np.isfinite(tr) & np.isfinite(te))] = "unknown"
    # 3. the verdict: a plateau at the first memorised point, and generalised at the end
    measured = np.flatnonzero(np.isfinite(tr) & np.isfinite(te))
    gen = np.flatnonzero(te >= generalised)
    i_mem = int(mem[0]) if mem.size else None
    at_mem = float(te[i_mem]) if i_mem is not None else None
    final = float(te[measured[-1]]) if measured.size else None
    if not measured.size:
        grokked, reason = False, "no point has both accuracies measured"
    elif i_mem is None:
        grokked, reason = False, (f"train accuracy never reached {memorised:g} (max "
                                  f"{np.nanmax(tr):.3f})")
    elif at_mem >= plateau_below:
        grokked, reason = False, (f"no plateau: test accuracy was already {at_mem:.3f} "
                                  f"(>= {plateau_below:g}) when train accuracy first reached "
                                  f"{memorised:g}")
    elif final < generalised:
        grokked, reason = False, (f"did not generalise: test accuracy at the last point is "
                                  f"{final:.3f} (< {generalised:g})")
    else:
        grokked, reason = True, (f"test accuracy {at_mem:.3f} when train accuracy reached "
                                 f"{memorised:g}, {final:.3f} at the end")
    attrs = {"long_name": "grokking phase", "units": "", "grokked": grokked, "reason": reason,
             "memorised_at": _coord(train_acc, dim, i_mem) if i_mem is not None else None,
             "generalised_at": _coord(train_acc, dim, int(gen[0])) if gen.size else None,
             "test_at_memorised": at_mem, "memorised": memorised,
             "plateau_below": plateau_below, "generalised": generalised}
    coords = {dim: train_acc[dim].values} if dim in train_acc.coords else None
    return xr.DataArray(phase, dims=(dim,), coords=coords, name="phase", attrs=attrs)


def plateau_departure(x, *, dim: str = EPOCH, baseline: slice, k: float = 3.0,
                      persist: int = 3) -> xr.Dataset:
    r"""Where a series first leaves the band of its own baseline, e.g. a grokking plateau.

    Parameters
    ----------
    x : xarray.DataArray
        Any series over ``dim`` (other dims, e.g. ``layer``, are kept and treated apart).
    dim : str
        The dim to scan.
    baseline : slice
        The baseline window as a label slice of ``dim``'s coords (inclusive, as ``.sel``;
        positions where ``dim`` has no coords). It needs at least 3 finite points.
    k : float
        Half-width of the band in robust standard deviations.
    persist : int
        A departure counts only if ``persist`` consecutive points lie outside the band.

    Returns
    -------
    xarray.Dataset
        ``departure``: the ``dim`` coord of the first point after the baseline window that
        starts a run of ``persist`` points outside the band (NaN if none), ``center`` and
        ``halfwidth`` of the band; each with ``x``'s other dims.

    Notes
    -----
    With :math:`m` the median of ``x`` over the baseline window and
    :math:`\mathrm{MAD} = \mathrm{median}|x - m|`, the robust standard deviation is
    :math:`\hat\sigma = 1.4826\,\mathrm{MAD}` (the standard deviation for Gaussian noise)
    and the band is :math:`|x - m| \le k\hat\sigma`. NaN points are never outside. A
    constant baseline has a band of width 0: any change leaves it.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x = xr.DataArray([1.0, 1.1, 0.9, 1.0, 1.1, 0.9, 1.0, 2.0, 2.5, 3.0],
    ...                  dims="epoch", coords={"epoch": np.arange(10) * 10})
    >>> out = plateau_departure(x, baseline=slice(0, 50))
    >>> float(out["departure"]), float(out["center"]), round(float(out["halfwidth"]), 3)
    (70.0, 1.0, 0.445)
    """
    require(x, "plateau_departure", [dim])
    if persist < 1:
        raise ValueError(f"plateau_departure() needs persist >= 1; got {persist}")
    # 1. the baseline window (positions stand in for missing coords) and its robust band
    if dim not in x.coords:
        x = x.assign_coords({dim: np.arange(x.sizes[dim])})
    pos = xr.DataArray(np.arange(x.sizes[dim]), dims=dim, coords={dim: x[dim].values})
    in_base = pos.sel({dim: baseline}).values
    n_fin = int(np.isfinite(np.asarray(x.isel({dim: in_base}).values)).sum(
        axis=x.get_axis_num(dim)).min()) if in_base.size else 0
    if in_base.size < 3 or n_fin < 3:
        raise DimsError(f"plateau_departure() needs at least 3 finite points in the baseline "
                        f"{baseline} along {dim!r}; got {n_fin} of {in_base.size}")
    base = x.isel({dim: in_base}).astype(float)
    center = base.median(dim)
    halfwidth = k * 1.4826 * abs(base - center).median(dim)
    # 2. outside the band after the window, and for `persist` points in a row
    after = x.isel({dim: slice(int(in_base[-1]) + 1, None)}).astype(float)
    out = (abs(after - center) > halfwidth).transpose(dim, ...).values
    run = out.copy()
    for j in range(1, persist):
        run[: len(run) - j] &= out[j:]
        run[len(run) - j:] = False
    # 3. the first such point's coord
    coords = after[dim].values.astype(float)
    first = np.where(run.any(axis=0), coords[np.argmax(run, axis=0)] if run.size else np.nan,
                     np.nan)
    other = [d for d in x.dims if d != dim]
    departure = xr.DataArray(first, dims=other, coords={d: x[d] for d in other if d in x.coords},
                             attrs={"long_name": f"first {dim} outside the baseline band",
                                    "units": dim, "k": k, "persist": persist})
    return xr.Dataset({"departure": departure, "center": center, "halfwidth": halfwidth})


__all__ = ["PHASES", "grokking_phases", "plateau_departure"]
