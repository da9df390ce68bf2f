"""Validate before touching disk; resume means resume; errors, not tracebacks."""

import errno
import json
import subprocess
import sys

import pytest
import torch

from workbench.cli import error_line, main
from workbench.config import TrainConfig
from workbench.record.store import CheckpointError, RunStore, committed_epochs, load_checkpoint
from workbench.train import ResumeError, train

from .conftest import MINI

CLI_MINI = ["--train-size", "60", "--test-size", "40", "--probe-size", "10", "--batch-size",
            "30", "--curvature-iters", "0", "--device", "cpu"]


def _snapshot(run):
    return sorted((str(p.relative_to(run)), p.stat().st_size) for p in run.rglob("*")
                  if p.is_file())


# -- 4. validate before touching disk ---------------------------------------------------------
@pytest.mark.parametrize("bad, message", [
    (["--lr", "-1"], "lr must be a finite number > 0; got -1"),
    (["--lr", "inf"], "lr must be a finite number > 0; got inf"),
    (["--train-size", "0"], "train_size must be at least 1; got 0"),
    (["--probe-size", "0"], "probe_size must be at least 1; got 0"),
    (["--features", "nosuch"], "feature layer 'nosuch' is not a recorded layer"),
    (["--momentum", "constant:2"], "momentum must be in [0, 1)"),
    (["--label-noise", "1.5"], "label_noise must be a fraction in [0, 1]"),
])
def test_bad_settings_fail_before_anything_is_deleted_or_created(mini_run, tmp_path, bad,
                                                                 message, capsys):
    before = _snapshot(mini_run)
    assert main(["train", "--overwrite", "--out", str(mini_run), *CLI_MINI, *bad]) == 1
    assert message in capsys.readouterr().err
    assert _snapshot(mini_run) == before  # the old run is intact
    fresh = tmp_path / "fresh"
    assert main(["train", "--out", str(fresh), *CLI_MINI, *bad]) == 1
    assert not fresh.exists()  # nothing left that would block the corrected command


def test_train_config_names_every_bad_setting():
    for kw, msg in [({"seed": -1}, "seed must be in"), ({"weight_decay": float("nan")},
                    "weight_decay must be a finite"), ({"batch_size": 0}, "batch_size"),
                    ({"memory_budget_mb": 0}, "memory_budget_mb"),
                    ({"test_size": 0}, "test_size must be at least 1"),
                    ({"curvature_iters": -1}, "curvature_iters")]:
        with pytest.raises(ValueError, match=msg):
            TrainConfig(**kw)


# -- 5. resume means resume ------------------------------------------------------------------
def test_resume_with_other_settings_is_refused_listing_them(mini_run):
    before = _snapshot(mini_run)
    cfg = TrainConfig(**{**MINI, "lr": 0.1, "model": "mlp", "epochs": 3})
    with pytest.raises(ResumeError, match=r"lr: stored 0\.05, given 0\.1.*model: stored "
                                          r"'cnn', given 'mlp'"):
        train(cfg, mini_run, resume=True, progress=False)
    cfg = TrainConfig(**{**MINI, "record_every": 2})
    with pytest.raises(ResumeError, match="record_every may change with --allow-change"):
        train(cfg, mini_run, resume=True, progress=False)
    assert _snapshot(mini_run) == before
    # safe to change when asked; nothing else to train at the same number of epochs
    train(cfg, mini_run, resume=True, allow_changes=True, progress=False)
    stored = TrainConfig.from_json(RunStore(mini_run).attrs()["config"])
    assert stored.record_every == 1 and committed_epochs(mini_run) == 2


def test_cli_resume_takes_the_stored_settings_and_refuses_given_ones(mini_run, capsys):
    # MINI's settings are not the CLI defaults: only the options given are compared
    assert main(["train", "--resume", "--out", str(mini_run), "--epochs", "2"]) == 0
    assert main(["train", "--resume", "--out", str(mini_run), "--lr", "0.1"]) == 1
    err = capsys.readouterr().err
    assert "lr: stored 0.05, given 0.1" in err and len(err.strip().splitlines()) == 1


def test_resume_on_a_directory_without_a_run_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no run"):
        train(TrainConfig(**MINI), tmp_path / "nothing", resume=True, progress=False)
    assert not (tmp_path / "nothing").exists()


def test_resume_refuses_when_the_last_committed_checkpoint_is_missing(mini_run):
    (mini_run / "checkpoints" / "epoch_0001.pt").unlink()
    with pytest.raises(ResumeError, match=r"checkpoint of the last committed epoch 1 is "
                                          r"missing .*epoch_0001\.pt"):
        train(TrainConfig(**{**MINI, "epochs": 3}), mini_run, resume=True, progress=False)
    assert committed_epochs(mini_run) == 2


def test_nan_loss_message_does_not_advise_resuming_with_other_settings(tmp_path):
    # an MLP: the BatchNorm of the default CNN keeps even lr 1e6 finite
    cfg = TrainConfig(**{**MINI, "model": "mlp", "lr": 1e6, "lr_schedule": "constant"})
    with pytest.raises(FloatingPointError) as e:
        train(cfg, tmp_path / "nan", progress=False)
    assert "other settings" not in str(e.value) and "lower learning rate" in str(e.value)


# -- 8. errors, not tracebacks ---------------------------------------------------------------
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, timeout=300)


def _one_line(out):
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("workbench ")]
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_truncated_checkpoint_and_unpickling_refusal_are_one_line(mini_run, tmp_path):
    ck = mini_run / "checkpoints" / "epoch_0001.pt"
    good = ck.read_bytes()
    ck.write_bytes(good[:2000])
    with pytest.raises(CheckpointError, match=r"epoch_0001\.pt is damaged or truncated"):
        load_checkpoint(mini_run)
    line = _one_line(_cli("train", "--resume", "--epochs", "3", "--out", str(mini_run)))
    assert "epoch_0001.pt is damaged or truncated" in line and "restore it" in line
    # a checkpoint carrying an object (code on load): refused by weights_only, named
    torch.save({"model": {}, "payload": _Evil()}, ck)
    with pytest.raises(CheckpointError, match=r"epoch_0001\.pt holds more than tensors"):
        load_checkpoint(mini_run)
    line = _one_line(_cli("train", "--resume", "--epochs", "3", "--out", str(mini_run)))
    assert "epoch_0001.pt holds more than tensors" in line


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_out_is_a_file_and_an_empty_run_are_one_line(mini_run, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    assert "is a file, not a directory" in _one_line(_cli("train", "--out", str(f),
                                                           *CLI_MINI))
    empty = tmp_path / "empty"
    RunStore(empty).create({"config": TrainConfig().to_json()})
    line = _one_line(_cli("report", str(empty)))
    assert "no committed epoch" in line or "no 'steps'" in line


@pytest.mark.parametrize("code, hint", [(errno.ENOSPC, "free some disk space"),
                                        (errno.EACCES, "permissions"),
                                        (errno.ENOTDIR, "not a directory")])
def test_os_errors_become_a_line_naming_the_file_and_what_to_do(code, hint):
    import os
    line = error_line(OSError(code, os.strerror(code), "/runs/x/record.zarr"))
    assert "/runs/x/record.zarr" in line and hint in line and "\n" not in line


def test_a_permission_denied_run_directory_is_one_line(mini_run):
    import os
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    os.chmod(mini_run, 0o500)
    try:
        line = _one_line(_cli("train", "--resume", "--epochs", "3", "--out", str(mini_run)))
        assert "ermission denied" in line and str(mini_run) in line
    finally:
        os.chmod(mini_run, 0o755)


def test_stored_settings_json_roundtrip_keeps_validation():
    raw = json.loads(TrainConfig().to_json())
    raw["lr"] = -1
    with pytest.raises(ValueError, match="lr must be"):
        TrainConfig.from_json(json.dumps(raw))
