"""Issue 20, defects 4-10: stale and disordered analyses, what readers trust, escapes, sizes,
a user's own files, and one line for each fault. Each test crafts the run in a tmp dir."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import zarr

from workbench.cli import main
from workbench.record.fingerprint import epoch_fingerprint
from workbench.record.store import RunStore, open_run


def _set_attrs(run, **kw):
    root = zarr.open_group(str(run / "record.zarr"), mode="r+", use_consolidated=False)
    root.attrs.update(kw)
    zarr.consolidate_metadata(str(run / "record.zarr"))


def _set_config(run, **kw):
    cfg = json.loads(RunStore(run).attrs()["config"])
    _set_attrs(run, config=json.dumps({**cfg, **kw}))


def _cli(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line(err):
    """The error, one line (a progress bar's \\r-overwritten text before it is not a line)."""
    lines = [ln.split("\r")[-1] for ln in err.split("\n") if ln.split("\r")[-1].strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


# -- 4. analyses know which epoch they describe -----------------------------------------------
def test_a_trimmed_and_retrained_epoch_is_analysed_again(mini_run, capsys):
    assert _cli(capsys, "analyze", mini_run, "--only", "damping")[0] == 0
    (mini_run / "record.zarr" / "layers" / "grad_norm" / "c" / "1" / "0").unlink()  # epoch 1
    assert _cli(capsys, "verify", mini_run, "--trim")[0] == 0
    assert RunStore(mini_run).analysis_epochs("damping") == [0]  # trimmed epoch's analysis gone
    assert _cli(capsys, "train", "--resume", "--out", mini_run, "--epochs", "3",
                "--lr", "0.2", "--allow-change")[0] in (0, 1)
    store = RunStore(mini_run)
    if store.attrs()["committed_epochs"] != 3:  # lr may not change on resume: retrain as stored
        assert _cli(capsys, "train", "--resume", "--out", mini_run, "--epochs", "3")[0] == 0
    assert _cli(capsys, "analyze", mini_run, "--only", "damping")[0] == 0
    tree = open_run(mini_run)
    ds = tree["analysis"]["damping"].to_dataset()
    assert ds["epoch"].values.tolist() == [0, 1, 2]
    steps = tree["steps"].to_dataset()
    for e in (1, 2):  # each epoch's stored lr is the median of that epoch's recorded steps
        median = float(np.median(steps["lr"].where(steps["epoch"] == e, drop=True)))
        assert float(ds["lr"].sel(epoch=e)) == pytest.approx(median)
    node = zarr.open_group(str(mini_run / "record.zarr" / "analysis" / "damping"), mode="r")
    assert json.loads(node.attrs["fingerprints"]) == [epoch_fingerprint(mini_run, e)
                                                      for e in (0, 1, 2)]


def test_a_changed_checkpoint_makes_its_analysis_stale_for_verify_and_analyze(mini_run,
                                                                             capsys):
    assert _cli(capsys, "analyze", mini_run, "--only", "damping")[0] == 0
    ckpt = mini_run / "checkpoints" / "epoch_0001.pt"
    state = torch.load(ckpt, weights_only=True)
    next(iter(state["model"].values())).add_(0.01)
    torch.save(state, ckpt)
    rc, out, _ = _cli(capsys, "verify", mini_run)
    assert rc == 1 and "analysis/damping" in out and "stale: epoch 1" in out
    from workbench.analysis.registry import analyze

    assert analyze(mini_run, only="damping", progress=False) == {"damping": [1]}
    assert _cli(capsys, "verify", mini_run)[0] == 0


# -- 5. analysis epochs in order -------------------------------------------------------------
def test_analysis_epochs_stay_in_order_after_fix_dry_run(mini_run, capsys):
    assert _cli(capsys, "fix", mini_run, "--dry-run")[0] == 0  # analyses the last epoch
    assert RunStore(mini_run).analysis_epochs("attribution") == [1]
    assert _cli(capsys, "analyze", mini_run, "--only", "attribution")[0] == 0
    assert RunStore(mini_run).analysis_epochs("attribution") == [0, 1]
    tree = open_run(mini_run)
    assert tree["analysis"]["attribution"]["epoch"].values.tolist() == [0, 1]


def test_repeated_analysis_epochs_are_hidden_and_recomputed_not_a_traceback(mini_run,
                                                                            capsys):
    assert _cli(capsys, "analyze", mini_run, "--only", "damping")[0] == 0
    node = zarr.open_group(str(mini_run / "record.zarr" / "analysis" / "damping"), mode="r+",
                           use_consolidated=False)
    node["epoch"][:] = [0, 0]  # a store with a repeated epoch (from an older workbench)
    zarr.consolidate_metadata(str(mini_run / "record.zarr"))
    rc, out, err = _cli(capsys, "report", mini_run)
    assert rc == 0 and "Traceback" not in err
    with pytest.warns(UserWarning, match="out of order or repeated"):
        assert "damping" not in open_run(mini_run)["analysis"].children
    assert _cli(capsys, "analyze", mini_run, "--only", "damping")[0] == 0
    assert open_run(mini_run)["analysis"]["damping"]["epoch"].values.tolist() == [0, 1]


# -- 6. verify checks what readers read -------------------------------------------------------
def test_verify_checks_the_consolidated_metadata_readers_use(mini_run, capsys):
    path = mini_run / "record.zarr" / "zarr.json"
    meta = json.loads(path.read_text())
    meta["consolidated_metadata"]["metadata"]["epochs/test_acc"]["data_type"] = "int64"
    path.write_text(json.dumps(meta))
    rc, out, _ = _cli(capsys, "verify", mini_run)
    assert rc == 1 and "epochs/test_acc" in out and "data_type" in out
    assert _cli(capsys, "verify", mini_run, "--trim")[0] == 0  # rewritten from the arrays
    assert _cli(capsys, "verify", mini_run)[0] == 0
    acc = open_run(mini_run)["epochs"]["test_acc"].values
    assert acc.dtype == np.float64 and ((0 <= acc) & (acc <= 1)).all()


@pytest.mark.parametrize("n, why", [(10**6, "committed_epochs is 1000000, but /epochs holds 2"),
                                    (-5, "expected a whole number >= 0")])
def test_committed_epochs_beyond_the_arrays_are_detected(mini_run, capsys, n, why):
    _set_attrs(mini_run, committed_epochs=n)
    rc, out, _ = _cli(capsys, "verify", mini_run)
    assert rc == 1 and why in out and len(out) < 2000
    rc, out, err = _cli(capsys, "report", mini_run)
    assert rc == 1 and len(out) < 2000
    _one_line(err)


@pytest.mark.parametrize("attrs", [{"workbench_version": "9.0.0"}, {"format": 2}])
def test_a_newer_store_is_refused_naming_both_versions(mini_run, capsys, attrs):
    _set_attrs(mini_run, **attrs)
    for cmd in ("report", "verify"):
        rc, _, err = _cli(capsys, cmd, mini_run)
        assert rc == 1 and "this is workbench 0.1.0 (store format 1)" in _one_line(err)
        assert ("9.0.0" in err) if "workbench_version" in attrs else ("store format 2" in err)


# -- 7. terminal escapes ------------------------------------------------------------------------
def test_store_text_reaches_the_terminal_without_escapes(mini_run, mini_run_master, capsys):
    classes = json.loads(RunStore(mini_run).attrs()["classes"])
    _set_attrs(mini_run, classes=json.dumps([f"\x1b[2J{c}\x1b[8m" for c in classes]))
    shown = ""
    for args in (("compare", mini_run, mini_run_master), ("diagnose", mini_run),
                 ("forces", mini_run, "--sample", "0", "--top", "2", "--pool", "8")):
        rc, out, err = _cli(capsys, *args)
        assert rc == 0, err
        assert "\x1b" not in out + err, args[0]
        shown += out
    assert "\\x1b[2J" in shown and "\\x1b[8m" in shown  # the names shown, escapes visible


# -- 8. a user's own files ----------------------------------------------------------------------
def test_a_users_own_checkpoint_copy_survives_resume_and_trim(mini_run, capsys):
    mine = mini_run / "checkpoints" / "epoch_0005_mybackup.pt"
    mine.write_bytes(b"my backup")
    assert _cli(capsys, "train", "--resume", "--out", mini_run, "--epochs", "3")[0] == 0
    assert mine.read_bytes() == b"my backup"
    (mini_run / "record.zarr" / "epochs" / "test_acc" / "c" / "2").unlink()
    assert _cli(capsys, "verify", mini_run, "--trim")[0] == 0
    assert mine.read_bytes() == b"my backup"
    assert sorted(p.name for p in (mini_run / "checkpoints").iterdir()) == [
        "epoch_0000.pt", "epoch_0001.pt", "epoch_0005_mybackup.pt"]


def test_overwrite_refuses_a_folder_that_holds_no_run(tmp_path, capsys):
    from .test_train_faults import CLI_MINI

    out = tmp_path / "project"
    (out / "src").mkdir(parents=True)
    (out / "src" / "main.py").write_text("print('mine')\n")
    (out / "notes.txt").write_text("notes\n")
    rc, _, err = _cli(capsys, "train", "--overwrite", "--out", out, *CLI_MINI)
    assert rc == 1 and "holds no run" in _one_line(err)
    assert (out / "src" / "main.py").read_text() == "print('mine')\n"
    assert (out / "notes.txt").read_text() == "notes\n"


# -- 9. sizes --------------------------------------------------------------------------------
def test_a_huge_config_string_is_refused_quickly_naming_it(mini_run, capsys):
    _set_config(mini_run, momentum="9" * 2_000_000)
    t0 = time.perf_counter()
    rc, _, err = _cli(capsys, "report", mini_run)
    assert rc == 1 and "config['momentum'] is 2,000,000 characters" in _one_line(err)
    assert time.perf_counter() - t0 < 30


# -- 10. one line each ------------------------------------------------------------------------
def test_model_kwargs_that_do_not_fit_are_one_line(mini_run, capsys):
    _set_config(mini_run, model_kwargs={"in_channels": 3})
    for args in (("analyze", mini_run, "--only", "damping"), ("fix", mini_run, "--groups",
                                                                "conv1")):
        rc, _, err = _cli(capsys, *args)
        assert rc == 1 and "model_kwargs" in _one_line(err) and "in_channels" in err


@pytest.mark.parametrize("args, why", [
    (("fix", "--batch-size", "0"), "--batch-size must be at least 1; got 0"),
    (("fix", "--epochs", "0"), "--epochs must be at least 1; got 0"),
    (("fix", "--test-size", "0"), "--test-size must be at least 1; got 0"),
    (("forces", "--sample", "0", "--top", "-5"), "--top must be at least 1; got -5")])
def test_bad_numbers_are_one_line(mini_run, capsys, args, why):
    rc, out, err = _cli(capsys, args[0], mini_run, *args[1:])
    assert rc == 1 and why in _one_line(err) and out == ""
    assert not list((mini_run / "checkpoints").glob("fixed_*"))


@pytest.mark.parametrize("craft", ["{not json", json.dumps({"zarr_format": 3})])
def test_explore_on_a_damaged_store_names_the_file(mini_run, craft):
    from workbench.widgets import explore

    (mini_run / "record.zarr" / "zarr.json").write_text(craft)
    with pytest.raises(ValueError, match=r"record\.zarr"):
        explore(mini_run)


def test_warnings_are_one_line_without_source_lines(mini_run):
    (mini_run / "record.zarr" / "layers" / "grad_norm" / "c" / "1" / "0").unlink()
    proc = subprocess.run([sys.executable, "-m", "workbench", "report", str(mini_run)],
                          capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert any("workbench: warning:" in ln and "chunk file missing" in ln for ln in lines)
    assert not [ln for ln in lines if ".py:" in ln or "warnings.warn" in ln], proc.stderr
