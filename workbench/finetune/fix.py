"""The surgical fix of a recorded run: ``workbench fix`` and the attribution view's Fix button.

:func:`fix_run` is the one function both call: it chooses the groups (:func:`choose_groups`:
the named ones, or :func:`workbench.verdicts.chosen_groups` on the run's ``attribution``
analysis at that epoch), fine-tunes that epoch's model with
:func:`~workbench.finetune.surgical.surgical_fix` at each level, on the data as trained
(``run.train_data()``, label noise included) counted on ``run.test_data()``, and keeps each
fixed model in its own file, ``RUN/checkpoints/fixed_<level>_<UTC time>.pt`` (never replacing
one without ``overwrite``).

Examples
--------
>>> from workbench import Run
>>> result = fix_run(Run("runs/demo"), -1, "auto", "both", max_steps=50)   # doctest: +SKIP
>>> print(result)                                                          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from ..dims import choice
from ..verdicts import SURGICAL_SHARE, chosen_groups

__all__ = ["fix_run", "choose_groups", "fixed_path", "FixResult", "LEVELS", "DEFAULTS",
           "ROWS"]

#: The levels of a fix; ``"both"`` fine-tunes one copy at each.
LEVELS = ("layer", "parameter", "both")
#: The fine-tune's defaults, for ``workbench fix`` and the Fix button alike.
DEFAULTS = {"epochs": 1, "lr": 0.01, "batch_size": 128, "seed": 0}


#: The rows of :meth:`FixResult.to_html` and :meth:`FixResult.__str__`: (label, function of
#: a level's :class:`~workbench.finetune.surgical.SurgicalReport` giving the cell's text).
ROWS = (
    ("errors fixed (wrong → right)", lambda r: f"{r.fixed}"),
    ("errors broken (right → wrong)", lambda r: f"{r.broken}"),
    ("net", lambda r: f"{r.net:+d}"),
    ("test accuracy", lambda r: f"{100 * r.acc_before:.2f}% → {100 * r.acc_after:.2f}% "
                                f"(n = {r.n_test})"),
    ("parameters trained", lambda r: f"{r.n_params_trained:,} of {r.n_params_total:,} "
                                     f"({_pct(r.param_fraction)})"),
    ("optimizer steps", lambda r: f"{r.steps} ({r.epochs} epoch{'s' * (r.epochs != 1)}, "
                                  f"lr {r.lr:g}, momentum {r.momentum:.3f}"
                                  f"{' clipped' if r.momentum_clipped else ''})"),
    ("compute saved (parameter gradients)", lambda r: _pct(r.compute_saved)),
    ("steps saved", lambda r: _pct(r.steps_saved)),
    ("fine-tune time", lambda r: f"{r.wall_time:.1f} s"),
)


def _pct(v) -> str:
    import math

    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.1f}%"


@dataclasses.dataclass
class FixResult:
    """A surgical fix of one epoch's model, at one level or side by side at two.

    Attributes
    ----------
    epoch : int
        The epoch whose model was fine-tuned.
    groups : list of str
        The groups the layer level trained.
    reports : dict
        level → :class:`~workbench.finetune.surgical.SurgicalReport`.
    why : str
        Why these groups (``"given"``, or :func:`~workbench.verdicts.chosen_groups`' reason).
    shares : dict
        Each trained group's share of the model's parameters.
    files : dict
        level → the saved fixed model (empty when not saved).
    press_time : float
        Wall-clock seconds of the whole fix, from the press (or ``started``) to the result:
        choosing the groups, loading the model and data, every level's fine-tune and its
        counting on the test set (the Fix button adds the drawing of its galleries).
    full_train_time : float or None
        The run's recorded wall time of its whole training (the sum of ``/epochs``
        ``wall_time``), what retraining from scratch would take; None when not recorded.

    Notes
    -----
    ``time_saved = 1 - press_time / full_train_time``: the whole press against full
    retraining, both stated beside it (:meth:`time_line`). Each level's own fine-tune time
    is a row of the table.

    Examples
    --------
    >>> r = FixResult(3, ["fc"], {}, "given", press_time=30.0, full_train_time=600.0)
    >>> round(r.time_saved, 3)
    0.95
    >>> print(r.time_line())                                # doctest: +NORMALIZE_WHITESPACE
    the whole press took 30.0 s; retraining from scratch took 600.0 s (the run's
    recorded training time): 95.0% of the time saved
    """

    epoch: int
    groups: list
    reports: dict
    why: str = ""
    shares: dict = dataclasses.field(default_factory=dict)
    files: dict = dataclasses.field(default_factory=dict)
    press_time: float = float("nan")
    full_train_time: float | None = None

    @property
    def param_share_total(self) -> float:
        return float(sum(self.shares.values()))

    @property
    def time_saved(self) -> float:
        """``1 - press_time / full_train_time`` (NaN when either is unknown)."""
        if not self.full_train_time or not self.press_time == self.press_time:
            return float("nan")
        return 1.0 - self.press_time / self.full_train_time

    def time_line(self) -> str:
        """The whole press against full retraining, in words, both times stated."""
        press = f"the whole press took {self.press_time:.1f} s"
        if not self.full_train_time:
            return press + "; the run recorded no training time to compare it with"
        return (f"{press}; retraining from scratch took {self.full_train_time:.1f} s (the "
                f"run's recorded training time): {_pct(self.time_saved)} of the time saved")

    def _head(self) -> str:
        return f"epoch {self.epoch}: trained {', '.join(map(str, self.groups))} ({self.why})"

    def rows(self) -> list[tuple[str, list[str]]]:
        """``(label, one text per level)`` for every row of the table."""
        return [(label, [cell(r) for r in self.reports.values()]) for label, cell in ROWS]

    def __str__(self) -> str:
        """One table: a row per quantity, a column per level; then the time of the press."""
        head = ["", *(f"{lv} level" for lv in self.reports)]
        body = [[label, *cells] for label, cells in self.rows()]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in [head, *body]]
        return "\n".join([self._head(), *lines, self.time_line()])

    def to_html(self, images: dict | None = None, *, min_width: int | None = None) -> str:
        """The result as ONE HTML table: a column per level, a row per quantity.

        Parameters
        ----------
        images : dict, optional
            level → PNG bytes (the images that level fixed and broke), shown in a first
            row, each in its level's column, at most at its own size.
        min_width : int, optional
            Pixels under which an image is never shrunk (the table scrolls instead), so that
            its titles stay legible.

        Every text that can come from a run store (group names, the reason, the levels) is
        escaped with :func:`html.escape`: none is rendered as markup.
        """
        import base64
        from html import escape

        def cell(text, tag="td", style=""):
            return f"<{tag} style='{style}'>{escape(str(text))}</{tag}>"

        pad = "padding:2px 10px;"
        side = pad + "text-align:left;font-weight:normal;white-space:nowrap"
        head = cell("", "th") + "".join(cell(f"{lv} level", "th", pad + "text-align:left")
                                        for lv in self.reports)
        rows = []
        if images:
            pics = "".join(
                "<td style='padding:2px 4px'>" + (
                    f"<img src='data:image/png;base64,{base64.b64encode(images[lv]).decode()}'"
                    f" style='max-width:100%;height:auto;min-width:{int(min_width or 0)}px'"
                    " alt='images fixed and broken'>"
                    if lv in images else "") + "</td>" for lv in self.reports)
            rows.append("<tr>" + cell("images fixed (top row) and broken (bottom row)", "th",
                                      side) + pics + "</tr>")
        for label, cells in self.rows():
            rows.append("<tr>" + cell(label, "th", side)
                        + "".join(cell(c, "td", pad) for c in cells) + "</tr>")
        return (f"<div class='wb-fix'><p style='margin:2px 0'><b>"
                f"{escape(self._head())}</b></p><table class='wb-fix-table' "
                f"style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table><p style='margin:2px 0'>"
                f"{escape(self.time_line())}</p></div>")

    def _repr_html_(self) -> str:
        return self.to_html()


def choose_groups(run, spec="auto", *, epoch: int = -1, max_share=None, progress=True):
    """``(groups, why, shares)``: the groups a fix of ``run.model(epoch)`` trains.

    Parameters
    ----------
    run : Run
    spec : "auto", str or list of str
        ``"auto"``: :func:`~workbench.verdicts.chosen_groups` on the run's ``attribution``
        analysis at ``epoch`` (computed and stored first when missing), at most
        ``max_share`` of the parameters (default
        :data:`~workbench.verdicts.SURGICAL_SHARE`). Else the named groups
        (``"conv1,fc2"`` or a list).
    epoch : int
        The epoch (negative counts from the last committed one).

    Returns
    -------
    (groups, why, shares)
        ``shares`` maps every group of the model to its share of the parameters.

    Raises
    ------
    ValueError
        An unknown group (the model's groups are listed).
    """
    from ..diagnose import ensure_analyses
    from ..models import group_shares

    epoch = run.epochs[epoch] if epoch < 0 else int(epoch)
    shares = group_shares(run.model(epoch))
    if not (isinstance(spec, str) and spec == "auto"):
        groups = [g.strip() for g in spec.split(",")] if isinstance(spec, str) else \
            [str(g) for g in spec]
        groups = [g for g in groups if g]
        unknown = [g for g in groups if g not in shares]
        if unknown or not groups:
            what = f"unknown layer group {unknown[0]!r}" if unknown else "no layer group given"
            raise ValueError(f"{what}; this model's groups are: {', '.join(shares)}")
        return groups, "given", shares
    ensure_analyses(run, ("attribution",), epochs=[epoch], progress=progress)
    ds = run.analysis("attribution").sel(epoch=epoch).compute()
    groups, why = chosen_groups(ds, max_share=SURGICAL_SHARE if max_share is None else max_share)
    return groups, f"auto ({why}; attribution analysis, epoch {epoch})", shares


def fixed_path(run_dir, level: str, stamp: str, *, overwrite: bool) -> Path:
    """``RUN/checkpoints/fixed_<level>_<stamp>.pt``; refuses an existing file."""
    out = Path(run_dir) / "checkpoints" / f"fixed_{level}_{stamp}.pt"
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (a previous fix); pass --overwrite to replace it")
    return out


def fix_run(run, epoch: int = -1, groups="auto", level="layer", *, why: str | None = None,
            max_share=None, epochs: int = DEFAULTS["epochs"], lr: float = DEFAULTS["lr"],
            batch_size: int = DEFAULTS["batch_size"], seed: int = DEFAULTS["seed"],
            test_size: int | None = None, max_steps: int | None = None,
            momentum_max: float = 0.99, device=None, save: bool = True,
            overwrite: bool = False, progress: bool = True,
            started: float | None = None) -> FixResult:
    """Fine-tune ``run.model(epoch)``, training only ``groups``; report (and keep) the result.

    Parameters
    ----------
    run : Run
    epoch : int
        The epoch whose model is fixed (negative counts from the last committed one).
    groups : "auto", str or list of str
        See :func:`choose_groups`.
    level : {"layer", "parameter", "both"} or sequence of them
        The level(s) of :func:`~workbench.finetune.surgical.surgical_fix`; each fine-tunes
        its own copy of the same model.
    why : str, optional
        The reason for a given list of groups (e.g. the view's ``chosen_groups`` reason).
    max_share : float, optional
        With ``"auto"``: the most of the parameters the fix trains.
    epochs, lr, batch_size, seed, max_steps, momentum_max, device
        Passed to :func:`~workbench.finetune.surgical.surgical_fix`.
    test_size : int, optional
        Count fixed and broken errors on a seeded subset of this many test examples.
    save : bool
        Keep each fixed model as ``RUN/checkpoints/fixed_<level>_<UTC time>.pt`` (the run's
        lock is held while fine-tuning and saving: no training or analysis meanwhile).
    overwrite : bool
        Replace a file of the same name.
    progress : bool
        tqdm bars.
    started : float, optional
        ``time.perf_counter()`` when the diagnosis began (default: this call); the time up to
        the fine-tune is each report's ``diagnosis_time``, the time up to the result the
        result's ``press_time`` (compared with the run's recorded training time).

    Returns
    -------
    FixResult
    """
    import torch
    from tqdm.auto import tqdm

    from ..data import train_subset
    from ..record.lock import RunLock
    from ..record.safe import atomic_write
    from .surgical import surgical_fix

    started = time.perf_counter() if started is None else started
    levels = (["layer", "parameter"] if choice(level, LEVELS, "level") == "both" else [level]) \
        if isinstance(level, str) else [choice(lv, LEVELS[:2], "level") for lv in level]
    epoch = run.epochs[epoch] if epoch < 0 else int(epoch)
    names, reason, shares = choose_groups(run, groups, epoch=epoch, max_share=max_share,
                                          progress=progress)
    with tqdm(total=3, desc="loading model and data", disable=not progress,
              leave=False) as bar:
        model = run.model(epoch)
        bar.update()
        train = run.train_data()
        bar.update()
        test = run.test_data()
        if test_size:
            test = train_subset(test, test_size, seed=run.config.seed)
        bar.update()
    tree = run.tree
    full_steps = int(tree.attrs.get("committed_steps", 0)) or (
        int(tree["steps"].sizes.get("step", 0)) if "steps" in tree else 0) or None
    full_time = (float(tree["epochs"]["wall_time"].sum())
                 if "epochs" in tree and "wall_time" in tree["epochs"] else None)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    files = ({lv: fixed_path(run.path, lv, stamp, overwrite=overwrite) for lv in levels}
             if save else {})
    diagnosis_time = time.perf_counter() - started
    result = FixResult(epoch, names, {}, why or reason, {g: shares[g] for g in names}, files,
                       full_train_time=full_time)
    state = run.checkpoint(epoch) if save else None
    with RunLock(run.path, "fix") if save else contextlib.nullcontext():  # one writer
        for lv in levels:
            report = surgical_fix(model, train, groups=names, test_data=test, epochs=epochs,
                                  lr=lr, level=lv, batch_size=batch_size, seed=seed,
                                  full_train_steps=full_steps, full_train_time=full_time,
                                  momentum_max=momentum_max, max_steps=max_steps,
                                  device=device, progress=progress)
            report.diagnosis_time = diagnosis_time
            result.reports[lv] = report
            if save:
                meta = dict(report.to_dataset().attrs)
                with atomic_write(run.path, files[lv]) as tmp:  # never through a link
                    torch.save({"model": report.model.state_dict(),
                                "config": state.get("config"),
                                "epoch": state.get("epoch", epoch), "step": state.get("step"),
                                "surgical": json.dumps(meta, default=str)}, tmp)
    result.press_time = time.perf_counter() - started  # the whole press, every level
    return result

