"""Runs side by side: stacking keeps every value; mismatched runs give a clear error."""

import shutil

import numpy as np
import pytest
import zarr

from workbench import Run
from workbench.cli import main
from workbench.compare import accuracy_curve, compare, jaccard, stack, steps_to


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    """The tiny run, a copy of it, and a copy cut to its first epoch."""
    base = tmp_path_factory.mktemp("compare")
    copy = shutil.copytree(tiny_run, base / "copy")
    short = shutil.copytree(tiny_run, base / "short")
    root = zarr.open_group(str(short / "record.zarr"), mode="r+", use_consolidated=False)
    steps = int(root.attrs["committed_steps"]) // int(root.attrs["committed_epochs"])
    root.attrs.update({"committed_epochs": 1, "committed_steps": steps})
    zarr.consolidate_metadata(str(short / "record.zarr"))
    return Run(tiny_run), Run(copy), Run(short)


def test_stack_keeps_every_value_of_every_run(runs):
    a, b, _ = runs
    for group in ("epochs", "layers", "probe"):
        st = stack([a, b], group)
        assert st["run"].values.tolist() == [a.path.name, "copy"]
        for name, r in zip(st["run"].values, (a, b), strict=True):
            own = r.tree[group].to_dataset()
            for v in own.data_vars:
                np.testing.assert_array_equal(st[v].sel(run=name).values, own[v].values)
    assert stack([a, b], "epochs")["test_acc"].dims == ("run", "epoch")


def test_mismatched_runs_give_a_clear_error_or_align_on_request(runs):
    a, _, short = runs
    with pytest.raises(ValueError, match=r"differ in 'epoch'.*join='inner'"):
        stack([a, short], "epochs")
    inner = stack([a, short], "epochs", join="inner")
    assert inner.sizes["epoch"] == 1
    outer = stack([a, short], "epochs", join="outer")
    assert outer.sizes["epoch"] == 2
    assert np.isnan(outer["test_acc"].sel(run="short").values[1])
    np.testing.assert_array_equal(outer["test_acc"].sel(run=a.path.name).values,
                                  a.tree["epochs"]["test_acc"].values)
    with pytest.raises(ValueError, match="unknown join .left.; expected one of: exact, inner"):
        stack([a, short], "epochs", join="left")
    with pytest.raises(ValueError, match="has no group 'nosuch'"):
        stack([a], "nosuch")


def test_steps_to_and_jaccard_know_the_answer():
    import xarray as xr

    ep = xr.Dataset({"test_acc": ("epoch", [0.5, 0.81, 0.79, 0.92])},
                    coords={"epoch": [0, 1, 2, 3]})
    assert steps_to(ep, 0.8, steps_per_epoch=10) == 20.0
    assert steps_to(ep, 0.9, steps_per_epoch=10) == 40.0
    assert np.isnan(steps_to(ep, 0.95, steps_per_epoch=10))
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert np.isnan(jaccard([], []))  # the one overlap (workbench.verdicts): undefined


def test_steps_to_reads_evals_when_present_and_states_the_resolution():
    import xarray as xr

    ev = xr.Dataset({"acc": ("eval_step", [0.5, 0.86, 0.84, 0.91, 0.93])},
                    coords={"eval_step": [8, 16, 24, 32, 40],
                            "epoch": ("eval_step", [0, 0, 0, 1, 1])},
                    attrs={"subset_size": 1000})
    assert steps_to(ev, 0.85) == 16.0 and steps_to(ev, 0.9) == 32.0
    assert np.isnan(steps_to(ev, 0.95))
    ep = xr.Dataset({"test_acc": ("epoch", [0.84, 0.92])}, coords={"epoch": [0, 1]})
    tree = xr.DataTree.from_dict({"/epochs": ep, "/evals": ev})
    tree.attrs["steps_per_epoch"] = 30
    curve, res = accuracy_curve(tree)
    assert res == "every 8 steps on a fixed stratified subset of 1000 test samples (/evals)"
    assert steps_to(curve, 0.9, steps_per_epoch=30) == 32.0  # not the epoch end, 60
    flat = xr.DataTree.from_dict({"/epochs": ep})
    flat.attrs["steps_per_epoch"] = 30
    curve, res = accuracy_curve(flat)
    assert res == ("once an epoch (every 30 steps) on the full test set (/epochs; the run "
                   "has no /evals)")
    assert steps_to(curve, 0.9, steps_per_epoch=30) == 60.0
    with pytest.raises(ValueError, match="with steps_per_epoch"):
        steps_to(ep, 0.9)
    with pytest.raises(ValueError, match="needs the variable 'acc'; the curve holds"):
        steps_to(ev.rename(acc="accuracy"), 0.9)


def test_compare_reports_the_differences(runs, capsys):
    a, b, short = runs
    text = compare([a, short])

    def row(text, label):  # a Markdown table row's cells
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| {label} |"))
        return [c.strip() for c in line.strip().strip("|").split("|")]

    assert row(text, "epochs") == ["epochs", "2", "1", "yes"]  # differs
    assert row(compare([a, b]), "model")[-1] == ""  # the same in both
    acc = float(a.tree["epochs"]["test_acc"].values[-1])
    assert row(text, "final test accuracy")[1] == f"{acc:.4f}"
    # a missing value says why (what to run, or the reason it is NaN), never a bare "-"
    for cell in row(text, "DFA integration (last epoch)")[1:3]:
        assert cell.startswith(("nan: ", r"not analysed yet: workbench analyze")) or \
            np.isfinite(float(cell)), cell
    assert main(["compare", str(a.path), str(short.path)]) == 0
    assert "| final test accuracy |" in capsys.readouterr().out
    with pytest.raises(ValueError, match="at least two runs"):
        compare([a])


def test_run_exports_tidy_frames_and_an_escaped_html_summary(runs):
    a = runs[0]
    df = a.to_dataframe("layers")
    assert {"step", "layer", "grad_norm"} <= set(df.columns)
    assert len(df) == a.tree["layers"].sizes["step"] * a.tree["layers"].sizes["layer"]
    html = a._repr_html_()
    assert "<table" in html and str(a.epochs) in html and "cnn" in html
    assert "<script" not in html
