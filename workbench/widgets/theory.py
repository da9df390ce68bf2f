"""Teaching simulations as widgets: heavy ball, Kuramoto population, spring-block chain.

Each widget simulates with :mod:`workbench.theory` and draws into ONE matplotlib ``Figure``
built once. A slider move re-simulates, changes the animated artists in place
(``set_data``/``set_text``), restores the cached static background (axes, ticks, labels),
draws only those artists over it and sends the PNG to an ``ipywidgets.Image``: no layout
pass, no tick computation, no pyplot. ``timings`` keeps the kernel-side seconds of every
update (see ``bench/theory_latency.py``).

Examples
--------
>>> from workbench.widgets.theory import HeavyBallWidget
>>> hb = HeavyBallWidget(lr=0.01, momentum=0.9)
>>> hb.controls["momentum"].value = 0.8          # re-simulates and repaints
>>> str(hb.ds.regime.values[0])
'critical'
>>> hb.widget                                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import xarray as xr

from ..diagnostics.damping import damping_ratio
from ..diagnostics.separation import linear_law_deviation, load_curve
from ..dims import EPOCH, LAYER, STEP
from ..plots.base import padded_limits
from ..theory.heavy_ball import heavy_ball
from ..theory.kuramoto import kuramoto, kuramoto_theory
from ..theory.spring_block import (
    chain_fuzziness,
    spring_block_chain,
    spring_block_steady_state,
)
from .view import View

__all__ = ["SimulationWidget", "HeavyBallWidget", "KuramotoWidget", "SpringBlockWidget",
           "run_hyperparameters", "measured_load_curve"]


class SimulationWidget(View):
    """Sliders, one figure built once, and an ``Image`` repainted in place on every move: a
    :class:`~workbench.widgets.view.View` that observes its own sliders.

    Subclasses implement ``_sliders()`` (name -> ipywidgets control), ``_draw(fig)`` (build
    axes and artists; artists that change are registered with :meth:`_animate`),
    ``_simulate()`` (returns the Dataset) and ``_update(ds)`` (set the animated artists'
    data from the Dataset). Rendering (blitting over a cached background, PNG encoding) is
    the views' engine, :class:`~workbench.widgets.canvas.Canvas`.

    Attributes
    ----------
    controls : dict
        name -> slider (setting ``.value`` re-simulates and repaints).
    ds : xarray.Dataset
        The last simulation.
    fig : matplotlib.figure.Figure
        The one figure (tests read its artists).
    image : ipywidgets.Image
        Holds the last PNG (the view's ``output``).
    title : ipywidgets.HTML
        The readout above the figure (the view's ``caption``).
    png : bytes
        The last PNG.
    timings : list of float
        Kernel-side seconds of each update: simulate, update artists, render PNG.
    visible : bool
        A hidden widget (``show(False)``) only marks itself stale on slider moves.
    """

    figsize = (10.5, 3.3)
    dpi = 80

    def __init__(self, state=None):
        import ipywidgets as w

        super().__init__(state)
        self.image = self.output
        #: The readout above the figure (ζ and regime, R and metastability, ...): an HTML
        #: line rather than a figure title, so that no glyphs are rasterised per move.
        self.title = self.caption
        self.status = w.HTML()
        self.controls = self._sliders()
        self._animated: list = []
        self._hold = False
        self.timings: list[float] = []
        self.ds = None
        self._extra: list = []
        for c in self.controls.values():
            c.observe(self._changed, names="value")
        self.redraw()

    # -- to implement
    def _sliders(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw(self, fig) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _simulate(self) -> xr.Dataset:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, ds: xr.Dataset) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- the View's part: the sliders are what it observes
    def key(self) -> tuple:
        """The slider values (a move that leaves them as drawn repaints nothing)."""
        return tuple(c.value for c in self.controls.values())

    def draw(self, fig):
        """Build the figure and show the first simulation on it."""
        self._animated = []
        self._draw(fig)
        self.update()
        return fig.axes

    def dynamic(self) -> list:
        return list(self._animated)

    def update(self) -> None:
        """Simulate with the current values and update the artists."""
        self.ds = self._simulate()
        self._update(self.ds)

    def _animate(self, *artists):
        """Register artists that change on every update; returns the first one."""
        for a in artists:
            a.set_animated(True)
            self._animated.append(a)
        return artists[0]

    @property
    def values(self) -> dict:
        """The current slider values."""
        return {k: c.value for k, c in self.controls.items()}

    @contextlib.contextmanager
    def hold(self):
        """Set several sliders with one update at the end."""
        self._hold = True
        try:
            yield self
        finally:
            self._hold = False
        self.refresh()

    def _changed(self, change=None) -> None:
        if not self._hold:
            super()._changed(change)

    def refresh(self) -> None:
        """Simulate with the current values, update the artists, repaint."""
        self.redraw()

    def redraw(self, *, rebuild: bool = False) -> None:
        t0 = time.perf_counter()
        super().redraw(rebuild=rebuild)
        self.timings.append(time.perf_counter() - t0)

    def _caption(self, text: str) -> None:
        import html

        self.title.value = f"<b>{html.escape(text)}</b>"

    @property
    def widget(self):
        """Sliders above the figure (and any buttons and status line), as one ``VBox``."""
        import ipywidgets as w

        if self._widget is None:
            self._widget = w.VBox([w.HBox(list(self.controls.values())), *self._extra,
                                   self.title, self.image, self.status])
            self._widget.add_class("wb-simulation")  # for the browser tests and benches
        return self._widget


# ----------------------------------------------------------------------------- heavy ball
def run_hyperparameters(run, *, epoch: int = -1, layer: str | None = None) -> dict:
    """Learning rate, momentum and one layer's curvature of a recorded run at one epoch.

    Parameters
    ----------
    run : workbench.Run or path
        The recorded run.
    epoch : int
        The epoch (its label; -1: the last recorded one).
    layer : str, optional
        The layer whose curvature is taken (default: the first one).

    Returns
    -------
    dict
        ``lr`` and ``momentum`` (medians over that epoch's steps of ``/steps``),
        ``curvature`` (from ``run.analysis("damping")["curvature"]`` if that analysis
        exists, else ``/epochs_layers/curvature``), ``epoch``, ``layer`` and ``source``.
    """
    from ..run import Run

    run = run if isinstance(run, Run) else Run(run)
    steps = run.tree["steps"]
    ep = steps[EPOCH].values
    if ep.size == 0:
        raise ValueError(f"run {run.path} has no recorded steps")
    epoch = int(ep.max()) if epoch == -1 else int(epoch)
    if epoch not in set(ep.tolist()):
        raise ValueError(f"run {run.path} has no steps of epoch {epoch}; "
                         f"got epochs {sorted(set(ep.tolist()))}")
    from ..diagnostics.damping import epoch_lr_momentum

    hp = epoch_lr_momentum(steps, epoch)  # the one per-epoch summary
    lr, mu = float(hp["lr"]), float(hp["momentum"])
    damping = run.analysis("damping")
    if damping is not None and "curvature" in damping:
        curv, source = damping["curvature"], "analysis/damping"
    elif "epochs_layers" in run.tree.children and "curvature" in run.tree["epochs_layers"]:
        curv, source = run.tree["epochs_layers"]["curvature"], "epochs_layers"
    else:
        raise ValueError(f"run {run.path} has no curvature: neither /analysis/damping/curvature "
                         "nor /epochs_layers/curvature")
    layers = [str(x) for x in curv[LAYER].values]
    layer = layers[0] if layer is None else layer
    if layer not in layers:
        raise ValueError(f"no curvature for layer {layer!r}; got layers {layers}")
    if epoch not in curv[EPOCH].values:
        raise ValueError(f"no curvature at epoch {epoch}; got epochs "
                         f"{curv[EPOCH].values.tolist()}")
    lam = float(curv.sel({EPOCH: epoch, LAYER: layer}))
    if not lr > 0 or not 0 <= mu < 1 or not lam > 0:
        raise ValueError(f"the heavy ball needs lr > 0, 0 <= momentum < 1 and curvature > 0; "
                         f"the run has lr={lr:.3g}, momentum={mu:.3g} and curvature={lam:.3g} "
                         f"for layer {layer!r} at epoch {epoch} (non-positive curvature: a "
                         f"flat or saddle direction)")
    return {"lr": lr, "momentum": mu, "curvature": lam, "epoch": epoch, "layer": layer,
            "source": source}


class HeavyBallWidget(SimulationWidget):
    r"""Heavy-ball momentum on a 2-D quadratic, with sliders for lr, momentum and curvature.

    Parameters
    ----------
    lr, momentum, curvature : float
        Initial slider values; ``curvature`` is :math:`\lambda` of the steep direction, the
        shallow one has :math:`\lambda/\kappa`.
    condition : float
        Condition number :math:`\kappa` of the quadratic.
    steps : int
        Updates simulated.
    exact : bool
        Exact damping ratio (see :func:`workbench.diagnostics.damping.damping_ratio`).
    run : workbench.Run or path, optional
        A recorded run: adds the button "from my run", which takes the lr, momentum and the
        curvature of ``state.layer`` at ``state.epoch`` (:meth:`take_run`).
        :meth:`from_run` makes a second widget from a run instead, leaving this one as it is.
    state : workbench.widgets.Selection, optional
        The Explorer's shared selection (epoch and layer for the button).

    Notes
    -----
    Left: the path on the loss contours. Middle: loss over steps (relative to the start).
    Right: :math:`\zeta(\mu)` of both directions at the current lr, the current momentum
    (dots), the physics momentum :math:`1 - 2\sqrt{\alpha}` (dashed, the paper's schedule at
    :math:`\lambda = 1`) and the critical band around :math:`\zeta = 1`. The title shows
    :math:`\zeta` and the regime of the steep direction from
    :mod:`workbench.diagnostics.damping`.
    """

    MU_GRID = np.linspace(0.0, 0.999, 400)
    LEVELS = (1.0, 0.3, 0.1, 0.03, 0.01)
    #: The values the last :meth:`take_run` took from a run (None before).
    taken = None

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, curvature: float = 1.0, *,
                 condition: float = 10.0, steps: int = 150, exact: bool = False,
                 run=None, state=None):
        self._init = {"lr": lr, "momentum": momentum, "curvature": curvature}
        self.condition, self.steps, self.exact = float(condition), int(steps), exact
        self.run = run
        super().__init__(state)
        if run is not None:
            import ipywidgets as w

            self.button = w.Button(description="from my run", icon="download",
                                   tooltip="lr, momentum and the selected layer's curvature "
                                           "at the selected epoch")
            self.button.on_click(lambda _: self._from_selection())
            self._extra = [self.button]

    def _sliders(self):
        import ipywidgets as w

        style = {"description_width": "initial"}
        return {
            "lr": w.FloatLogSlider(value=self._init["lr"], base=10, min=-4, max=0, step=0.01,
                                   description="lr α", readout_format=".2e", style=style),
            "momentum": w.FloatSlider(value=self._init["momentum"], min=0.0, max=0.995,
                                      step=0.005, description="momentum μ",
                                      readout_format=".3f", style=style),
            "curvature": w.FloatLogSlider(value=self._init["curvature"], base=10, min=-2,
                                          max=3, step=0.01, description="curvature λ",
                                          readout_format=".3g", style=style),
        }

    def _draw(self, fig):
        ax_path, ax_loss, ax_zeta = fig.subplots(1, 3, width_ratios=[1, 1.3, 1.3])
        self.ax_path, self.ax_loss, self.ax_zeta = ax_path, ax_loss, ax_zeta
        # path on the contours
        self.contours = [ax_path.plot([], [], color="0.8", lw=0.8)[0] for _ in self.LEVELS]
        self._animate(*self.contours)
        self.path = self._animate(ax_path.plot([], [], ".-", ms=3, lw=0.8, color="C0")[0])
        ax_path.plot([1], [1], "o", color="C0", ms=5)
        ax_path.plot([0], [0], "k+", ms=8)
        ax_path.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), xlabel="θ₁ (curvature λ)",
                    ylabel="θ₂ (curvature λ/κ)", aspect="equal", title="path")
        # loss
        self.loss = self._animate(ax_loss.plot([], [], color="C0")[0])
        ax_loss.set(yscale="log", xlim=(0, self.steps), ylim=(1e-10, 1e3), xlabel="step",
                    ylabel="loss / loss at start", title="loss")
        # damping ratio against momentum
        ax_zeta.axhspan(0.95, 1.05, color="0.9")
        ax_zeta.axhline(1.0, color="0.5", lw=0.8)
        kappa = f"{self.condition:g}"
        self.zeta_steep = self._animate(ax_zeta.plot([], [], color="C0",
                                                     label="steep direction, λ")[0])
        self.zeta_flat = self._animate(ax_zeta.plot([], [], color="C1", lw=0.8,
                                                    label="shallow direction, λ/κ")[0])
        self.mu_dots = self._animate(ax_zeta.plot([], [], "o", color="k", ms=5,
                                                  label="your μ")[0])
        self.physics = self._animate(ax_zeta.plot([], [], "--", color="C3",
                                                  label="physics μ = 1 − 2√α")[0])
        ax_zeta.set(yscale="log", xlim=(0, 1), ylim=(0.02, 50), xlabel="momentum μ",
                    ylabel="damping ratio ζ", title="damping")
        # outside the axes, right of the panel: no curve, dot or dashed line runs under it
        ax_zeta.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                       fontsize=7, title=f"κ = {kappa} (condition number)", title_fontsize=7)

    def _simulate(self):
        v = self.values
        return heavy_ball(v["lr"], v["momentum"],
                          curvature=[v["curvature"], v["curvature"] / self.condition],
                          steps=self.steps, exact=self.exact)

    def _update(self, ds):
        lr, mu = ds.attrs["lr"], ds.attrs["momentum"]
        lam = ds.curvature.values
        theta = ds.theta.values
        self.path.set_data(np.clip(theta[:, 0], -1e3, 1e3), np.clip(theta[:, 1], -1e3, 1e3))
        t = np.linspace(0, 2 * np.pi, 121)
        f0 = float(ds.loss[0])
        for line, level in zip(self.contours, self.LEVELS, strict=True):
            line.set_data(np.sqrt(2 * level * f0 / lam[0]) * np.cos(t),
                          np.sqrt(2 * level * f0 / lam[1]) * np.sin(t))
        with np.errstate(invalid="ignore", over="ignore"):
            self.loss.set_data(ds[STEP].values, np.clip(ds.loss.values / f0, 1e-300, 1e6))
        grid = self.MU_GRID
        self.zeta_steep.set_data(grid, damping_ratio(lr, grid, curvature=lam[0],
                                                     exact=self.exact))
        self.zeta_flat.set_data(grid, damping_ratio(lr, grid, curvature=lam[1],
                                                    exact=self.exact))
        self.mu_dots.set_data([mu, mu], ds.damping_ratio.values)
        phys = ds.attrs["physics_momentum"]
        self.physics.set_data([phys, phys], [0.02, 50])
        zeta, regime = float(ds.damping_ratio[0]), str(ds.regime.values[0])
        self._caption(f"ζ = {zeta:.2f} · {regime}   (α = {lr:.3g}, μ = {mu:.3f}, "
                            f"λ = {lam[0]:.3g}; physics μ = {phys:.3f})"
                            + ("   DIVERGES" if ds.attrs["diverges"] else ""))

    def set(self, **values) -> None:
        """Set several sliders (``lr``, ``momentum``, ``curvature``) with one repaint.

        A value outside a slider's range widens the range.
        """
        with self.hold():
            for name, value in values.items():
                c = self.controls[name]
                if name in ("lr", "curvature"):
                    exp = float(np.log10(value))
                    c.min, c.max = min(c.min, np.floor(exp)), max(c.max, np.ceil(exp))
                else:
                    c.max = max(c.max, float(value))
                c.value = float(value)

    @classmethod
    def from_run(cls, run, *, epoch: int = -1, layer: str | None = None, state=None,
                 **kwargs) -> HeavyBallWidget:
        """A NEW widget with a recorded run's lr, momentum and ``layer``'s curvature at
        ``epoch`` (:func:`run_hyperparameters`); a widget it is called on keeps its values.

        Parameters
        ----------
        run : workbench.Run or path
        epoch, layer
            See :func:`run_hyperparameters`.
        state : Selection, optional
            For the new widget's "from my run" button.
        **kwargs
            The other parameters of :class:`HeavyBallWidget` (``condition``, ``steps``...).

        Returns
        -------
        HeavyBallWidget
            With the run attached (its "from my run" button) and ``taken``, the values
            taken, also shown in its status line.

        Examples
        --------
        >>> toy = HeavyBallWidget(lr=0.05, momentum=0.9)                 # doctest: +SKIP
        >>> mine = HeavyBallWidget.from_run("runs/demo", layer="conv2")  # doctest: +SKIP
        >>> toy.values["lr"]                                             # doctest: +SKIP
        0.05
        """
        widget = cls(run=run, state=state, **kwargs)
        widget.take_run(run, epoch=epoch, layer=layer)  # widens a slider's range if needed
        return widget

    def take_run(self, run=None, *, epoch: int = -1, layer: str | None = None) -> dict:
        """Set THIS widget's sliders to a recorded run's lr, momentum and ``layer``'s
        curvature at ``epoch`` (what the "from my run" button does; :meth:`from_run` makes
        a new widget instead).

        Returns the values taken (see :func:`run_hyperparameters`), also kept as
        ``taken`` and shown in the status line.
        """
        run = self.run if run is None else run
        if run is None:
            raise ValueError("take_run() needs a run (none was given to the widget)")
        hp = run_hyperparameters(run, epoch=epoch, layer=layer)
        self.set(lr=hp["lr"], momentum=hp["momentum"], curvature=hp["curvature"])
        self.taken = hp
        self.status.value = (f"from the run at epoch {hp['epoch']}, layer {hp['layer']} "
                             f"({hp['source']}): α = {hp['lr']:.3g}, μ = {hp['momentum']:.3f}, "
                             f"λ = {hp['curvature']:.3g}")
        return hp

    def _from_selection(self) -> None:
        state = self.state
        epoch = -1 if state is None or state.epoch is None else state.epoch
        layer = None if state is None else state.layer
        try:
            self.take_run(epoch=epoch, layer=layer)
        except (ValueError, KeyError) as err:
            import html

            self.status.value = f"<b>from my run:</b> {html.escape(str(err))}"


# ----------------------------------------------------------------------------- Kuramoto
class KuramotoWidget(SimulationWidget):
    r"""A Kuramoto population with sliders for coupling K, spread γ and size N.

    Parameters
    ----------
    coupling, gamma, n : float, float, int
        Initial slider values.
    steps, dt, record_every, seed
        Passed to :func:`workbench.theory.kuramoto.kuramoto`.
    max_coupling : float
        Right end of the coupling slider and of the R-against-K panel.

    Notes
    -----
    Left: the phases at the last step on the unit circle and the order parameter
    :math:`Re^{i\psi}` (arrow). Middle: :math:`R(t)` from
    :func:`workbench.diagnostics.synchrony.kuramoto_order`, the theory
    :math:`\sqrt{1 - 2\gamma/K}` and the stationary mean. Right: theory against K with the
    simulated mean. The title gives the metastability from
    :func:`workbench.diagnostics.synchrony.metastability`.
    """

    def __init__(self, coupling: float = 2.0, gamma: float = 0.5, n: int = 200, *,
                 steps: int = 2000, dt: float = 0.05, record_every: int = 8, seed: int = 0,
                 max_coupling: float = 5.0):
        self._init = {"coupling": coupling, "gamma": gamma, "n": n}
        self.steps, self.dt, self.record_every, self.seed = steps, dt, record_every, seed
        self.max_coupling = max_coupling
        super().__init__()

    def _sliders(self):
        import ipywidgets as w

        style = {"description_width": "initial"}
        return {
            "coupling": w.FloatSlider(value=self._init["coupling"], min=0.0,
                                      max=self.max_coupling, step=0.05,
                                      description="coupling K", style=style),
            "gamma": w.FloatSlider(value=self._init["gamma"], min=0.05, max=2.0, step=0.05,
                                   description="spread γ", style=style),
            "n": w.IntSlider(value=self._init["n"], min=10, max=1000, step=10,
                             description="oscillators N", style=style),
        }

    def _draw(self, fig):
        ax_c, ax_r, ax_k = fig.subplots(1, 3, width_ratios=[1, 1.5, 1.3])
        self.ax_circle, self.ax_r, self.ax_k = ax_c, ax_r, ax_k
        t = np.linspace(0, 2 * np.pi, 200)
        ax_c.plot(np.cos(t), np.sin(t), color="0.7", lw=0.8)
        self.dots = self._animate(ax_c.scatter([], [], s=6, color="C0", alpha=0.6))
        self.arrow = self._animate(ax_c.plot([], [], "-o", color="C3", lw=2, ms=3)[0])
        ax_c.set(xlim=(-1.2, 1.2), ylim=(-1.2, 1.2), aspect="equal", xticks=[], yticks=[],
                 title="phases at the end")
        t_end = self.steps * self.dt
        self.r_line = self._animate(ax_r.plot([], [], color="C0", lw=0.8, label="R(t)")[0])
        self.r_theory = self._animate(ax_r.plot([], [], "--", color="C3",
                                                label="theory √(1 − 2γ/K)")[0])
        self.r_mean = self._animate(ax_r.plot([], [], ":", color="k",
                                              label="mean (2nd half)")[0])
        ax_r.set(xlim=(0, t_end), ylim=(0, 1.05), xlabel="time", ylabel="order parameter R",
                 title="synchrony")
        ax_r.legend(loc="lower right", fontsize=7)
        self.k_grid = np.linspace(0, self.max_coupling, 300)
        self.k_theory = self._animate(ax_k.plot([], [], color="C3", label="theory")[0])
        self.k_crit = self._animate(ax_k.plot([], [], ":", color="0.5", label="K_c = 2γ")[0])
        self.k_dot = self._animate(ax_k.plot([], [], "o", color="C0", label="simulated")[0])
        ax_k.set(xlim=(0, self.max_coupling), ylim=(0, 1.05), xlabel="coupling K",
                 ylabel="stationary R", title="R against K")
        ax_k.legend(loc="lower right", fontsize=7)

    def _simulate(self):
        v = self.values
        return kuramoto(int(v["n"]), coupling=v["coupling"], gamma=v["gamma"],
                        steps=self.steps, dt=self.dt, record_every=self.record_every,
                        seed=self.seed)

    def _update(self, ds):
        k, g = ds.attrs["coupling"], ds.attrs["gamma"]
        last = ds.phase.isel({STEP: -1}).values
        self.dots.set_offsets(np.column_stack([np.cos(last), np.sin(last)]))
        z = np.exp(1j * last).mean()
        self.arrow.set_data([0, z.real], [0, z.imag])
        time_ = ds[STEP].values * self.dt
        self.r_line.set_data(time_, ds.R.values)
        r_th, r_mean = float(ds.R_theory), float(ds.R_mean)
        self.r_theory.set_data([0, time_[-1]], [r_th, r_th])
        half = time_[int(0.5 * time_.size)]
        self.r_mean.set_data([half, time_[-1]], [r_mean, r_mean])
        self.k_theory.set_data(self.k_grid, kuramoto_theory(self.k_grid, g))
        self.k_crit.set_data([2 * g, 2 * g], [0, 1.05])
        self.k_dot.set_data([k], [r_mean])
        self._caption(f"N = {ds.attrs['n']}, K = {k:.2f}, γ = {g:.2f}:  mean R = "
                            f"{r_mean:.3f} (theory {r_th:.3f}),  metastability = "
                            f"{float(ds.metastability):.3f}")


# ----------------------------------------------------------------------------- spring block
def measured_load_curve(run, *, epoch: int = -1) -> xr.DataArray:
    """A run's measured load curve at one epoch, from its probe-set features.

    Uses ``run.analysis("separation")["fuzziness"]`` when that analysis holds the epoch,
    else the ``separation`` analysis' own function
    (:func:`workbench.analysis.separation.separation`, its layer order: the run's
    ``feature_layers``, shallow to deep) on the recorded ``/features``; then
    :func:`~workbench.diagnostics.separation.load_curve` over ``layer``.
    """
    from ..analysis.separation import feature_layers, separation
    from ..run import Run

    run = run if isinstance(run, Run) else Run(run)
    sep = run.analysis("separation")
    if sep is not None and "fuzziness" in sep and (
            epoch == -1 or epoch in set(sep[EPOCH].values.tolist())):
        fz = sep["fuzziness"]
        epoch = int(fz[EPOCH].values[-1]) if epoch == -1 else epoch
        fz = fz.sel({EPOCH: epoch})
    else:
        layers = feature_layers(run)
        if not layers:
            raise ValueError(f"run {run.path} recorded no features (train with --features) "
                             "and has no separation analysis")
        if len(layers) < 2:
            raise ValueError(f"a load curve needs at least 2 layers; got {len(layers)}")
        feats = run.tree["features"][layers[0]]["features"]
        epoch = int(feats[EPOCH].values[-1]) if epoch == -1 else epoch
        fz = separation(run, epoch)["fuzziness"]
    if fz.sizes[LAYER] < 2:
        raise ValueError(f"a load curve needs at least 2 layers; got {fz.sizes[LAYER]}")
    return load_curve(fz, dim=LAYER).assign_attrs(epoch=int(epoch))  # the epoch it is of


class SpringBlockWidget(SimulationWidget):
    r"""A spring-block chain with friction and noise knobs, beside a run's measured load curve.

    Parameters
    ----------
    friction, noise : float
        Initial slider values (Coulomb threshold per block; random force per step).
    n_blocks : int
        Blocks L (layers after the input); ignored when ``measured`` is given.
    measured : xarray.DataArray, optional
        A measured load curve over ``layer`` (e.g. :func:`measured_load_curve`); the chain
        then has one block per layer after the first, so both curves have the same points.
    steps, dt, replicas, seed
        Passed to :func:`workbench.theory.spring_block.spring_block_chain` (many replicas,
        few steps: fast enough for a slider).

    Notes
    -----
    Left: the load curve (:func:`~workbench.theory.spring_block.chain_load_curve`, the
    conventions of :func:`~workbench.diagnostics.separation.load_curve`), the linear law and
    the measured curve. Right: the load of each layer (spring extension) and the noiseless
    rest state (:func:`~workbench.theory.spring_block.spring_block_steady_state`).
    """

    def __init__(self, friction: float = 0.1, noise: float = 0.0, *, n_blocks: int = 6,
                 measured: xr.DataArray | None = None, steps: int = 600, dt: float = 0.2,
                 replicas: int = 64, seed: int = 0):
        self._init = {"friction": friction, "noise": noise}
        self.measured = measured
        self.n_blocks = measured.sizes[LAYER] - 1 if measured is not None else int(n_blocks)
        self.steps, self.dt, self.replicas, self.seed = steps, dt, replicas, seed
        super().__init__()

    def _sliders(self):
        import ipywidgets as w

        style = {"description_width": "initial"}
        return {
            "friction": w.FloatSlider(value=self._init["friction"], min=0.0, max=0.3,
                                      step=0.005, description="friction μ",
                                      readout_format=".3f", style=style),
            "noise": w.FloatSlider(value=self._init["noise"], min=0.0, max=1.0, step=0.01,
                                   description="noise σ", style=style),
        }

    def _draw(self, fig):
        ax_c, ax_l = fig.subplots(1, 2)
        self.ax_curve, self.ax_load = ax_c, ax_l
        n = self.n_blocks
        x = np.arange(n + 1)
        ax_c.plot(x, x / n, "--", color="0.6", label="linear law")
        self.measured_line = None
        if self.measured is not None:
            self.measured_line = ax_c.plot(x, self.measured.values, "s-", color="C1",
                                           label="measured (run)")[0]
            labels = [str(v) for v in self.measured[LAYER].values]
        else:
            labels = ["input", *[str(i) for i in range(1, n + 1)]]
        self.curve = self._animate(ax_c.plot([], [], "o-", color="C0",
                                             label="spring-block chain")[0])
        lo, hi = padded_limits(self.measured.values if self.measured is not None else [],
                               include=(0.0, 1.0))
        ax_c.set(xlim=(-0.2, n + 0.2), ylim=(lo, hi + 0.1), xticks=x, xlabel="layer",
                 ylabel="cumulative separation (normalised)", title="load curve")
        ax_c.set_xticklabels(labels, fontsize=7)
        ax_c.legend(loc="upper left", fontsize=7)
        blocks = np.arange(1, n + 1)
        self.rest = self._animate(ax_l.plot([], [], "x--", color="0.5",
                                            label="noiseless rest state")[0])
        self.loads = self._animate(ax_l.plot([], [], "o-", color="C0",
                                             label="steady state")[0])
        ax_l.set(xlim=(0.8, n + 0.2), ylim=(0, 1.3), xticks=blocks, xlabel="block (layer)",
                 ylabel="spring extension (load)", title="load per layer")
        ax_l.legend(loc="upper left", fontsize=7)

    def _simulate(self):
        v = self.values
        return spring_block_chain(self.n_blocks, friction=v["friction"], noise=v["noise"],
                                  steps=self.steps, dt=self.dt, replicas=self.replicas,
                                  seed=self.seed, record_every=10)

    def _update(self, ds):
        fuzziness = chain_fuzziness(ds)
        curve = load_curve(fuzziness)  # = chain_load_curve(ds), fuzziness built once
        self.curve.set_data(np.arange(curve.size), curve.values)
        blocks = ds[LAYER].values
        self.loads.set_data(blocks, ds.extension_mean.values)
        v = self.values
        key = (id(self.rest), self.n_blocks, v["friction"])  # moves with friction only
        if getattr(self, "_rest", (None,))[0] != key:
            rest = spring_block_steady_state(self.n_blocks, friction=v["friction"])
            self._rest = (key, rest.values)
            self.rest.set_data(blocks, rest.values)
        dev = float(linear_law_deviation(fuzziness))
        self.deviation = dev
        text = (f"friction μ = {v['friction']:.3f}, noise σ = {v['noise']:.2f}:  relative RMS "
                f"deviation from the linear law {dev:.3f}")
        if self.measured is not None:
            text += f"  (measured {self._measured_deviation():.3f})"
        self._caption(text)

    def _measured_deviation(self) -> float:
        """linear_law_deviation of the measured curve, computed once per curve: a load curve
        c is the cumulative separation of D = exp(−c), and the measure does not depend on the
        scale of log D."""
        curve = self.measured
        if getattr(self, "_measured_dev", (None,))[0] is not curve:
            self._measured_dev = (curve, float(linear_law_deviation(np.exp(-curve),
                                                                    dim=LAYER)))
        return self._measured_dev[1]

    def set_measured(self, measured: xr.DataArray | None) -> None:
        """Show another measured curve (rebuilds the figure: the number of layers may change)."""
        self.measured = measured
        if measured is not None:
            self.n_blocks = measured.sizes[LAYER] - 1
        self.redraw(rebuild=True)

    def from_run(self, run, *, epoch: int = -1) -> xr.DataArray:
        """Set the measured curve from a recorded run (:func:`measured_load_curve`)."""
        curve = measured_load_curve(run, epoch=epoch)
        self.set_measured(curve)
        self.status.value = ("measured load curve of the run at epoch "
                             f"{curve.attrs.get('epoch', epoch)}")
        return curve

