"""Damage is detected and named (trials: a deleted chunk of /layers read back as NaN and
report, diagnose and resume all succeeded; a corrupt chunk said only "Zstd decompression
error")."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from workbench.config import TrainConfig
from workbench.record.integrity import INTEGRITY, StoreDamagedError, verify
from workbench.record.store import DamagedStoreWarning, RunStore, open_run

from .conftest import MINI


def _flip_a_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def _chunk_files(run: Path) -> set[str]:
    """Every chunk file under record.zarr, found by walking the directories."""
    base = run / "record.zarr"
    return {str(Path(d, f).relative_to(base)) for d, _, files in os.walk(base) for f in files
            if "/c/" in str(Path(d, f).relative_to(base)) + "/" and f != "zarr.json"
            and "/c" in d}


def test_every_array_is_checksummed_and_the_manifest_matches_the_files(mini_run):
    root = zarr.open_group(str(mini_run / "record.zarr"), mode="r")
    expected = set()
    import json
    for path, info in json.loads(root.attrs[INTEGRITY]).items():
        arr = zarr.open_array(str(mini_run / "record.zarr" / path), mode="r")
        names = [type(c).__name__ for c in arr.metadata.codecs]
        assert "Crc32cCodec" in names, (path, names)
        grid = [-(-s // c) for s, c in zip(info["shape"], arr.chunks, strict=True)]
        keys = {arr.metadata.encode_chunk_key(k) for k in np.ndindex(*grid)}
        expected |= {f"{path}/{k}" for k in keys - set(info["absent"])}
    assert expected == _chunk_files(mini_run)
    assert verify(mini_run) == []


def test_a_deleted_chunk_is_named_and_the_rest_stays_readable(mini_run):
    intact_loss = open_run(mini_run)["steps"]["loss"].values
    victim = mini_run / "record.zarr" / "layers" / "grad_norm" / "c" / "1" / "0"
    victim.unlink()
    damage = verify(mini_run)
    assert len(damage) == 1
    d = damage[0]
    assert (d.group, d.array, d.epochs, d.file) == ("layers", "grad_norm", (1, 1), str(victim))
    assert "missing" in d.problem
    with pytest.raises(StoreDamagedError, match=r"layers/grad_norm, epoch 1: chunk file "
                                                r"missing .*c/1/0"):
        open_run(mini_run, verify=True)
    with pytest.warns(DamagedStoreWarning, match="layers/grad_norm, epoch 1"):
        tree = open_run(mini_run)
    np.testing.assert_array_equal(tree["steps"]["loss"].values, intact_loss)
    assert np.isfinite(tree["layers"]["grad_norm"].isel(step=slice(0, 2)).values).all()


def test_a_corrupt_chunk_fails_its_checksum_and_is_named(mini_run):
    victim = mini_run / "record.zarr" / "steps" / "loss" / "c" / "0"
    _flip_a_byte(victim)
    damage = verify(mini_run)
    assert [(d.group, d.array, d.epochs, d.file) for d in damage] == \
        [("steps", "loss", (0, 0), str(victim))]
    assert "crc32c checksum mismatch" in damage[0].problem
    assert verify(mini_run, decode=False) == []  # presence alone cannot see it


def test_resume_refuses_a_damaged_store_until_it_is_trimmed(mini_run):
    from workbench.train import train

    (mini_run / "record.zarr" / "layers" / "grad_norm" / "c" / "1" / "0").unlink()
    cfg = TrainConfig(**{**MINI, "epochs": 3})
    with pytest.raises(StoreDamagedError, match="cannot resume .*layers/grad_norm, epoch 1"):
        train(cfg, mini_run, resume=True, progress=False)
    assert RunStore(mini_run).attrs()["committed_epochs"] == 2  # untouched
    out = subprocess.run([sys.executable, "-m", "workbench", "verify", str(mini_run),
                          "--trim"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "trimmed" in out.stdout, out.stderr
    assert verify(mini_run) == [] and RunStore(mini_run).attrs()["committed_epochs"] == 1
    train(cfg, mini_run, resume=True, progress=False)
    tree = open_run(mini_run, verify=True)
    assert list(tree["epochs"]["epoch"].values) == [0, 1, 2]
    steps = tree["steps"]["step"].values
    np.testing.assert_array_equal(steps, np.arange(len(steps)))


def test_a_missing_or_truncated_checkpoint_is_named(mini_run):
    ck = mini_run / "checkpoints"
    (ck / "epoch_0000.pt").unlink()
    ck1 = ck / "epoch_0001.pt"
    ck1.write_bytes(ck1.read_bytes()[:1000])
    damage = {(d.group, d.epochs, Path(d.file).name): d.problem for d in verify(mini_run)}
    assert damage.keys() == {("checkpoints", (0, 0), "epoch_0000.pt"),
                             ("checkpoints", (1, 1), "epoch_0001.pt")}
    assert "missing" in damage[("checkpoints", (0, 0), "epoch_0000.pt")]
    assert "truncated" in damage[("checkpoints", (1, 1), "epoch_0001.pt")]


def test_verify_command_names_the_damage_and_exits_1(mini_run):
    _flip_a_byte(mini_run / "record.zarr" / "epochs" / "test_acc" / "c" / "0")
    out = subprocess.run([sys.executable, "-m", "workbench", "verify", str(mini_run)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "epochs/test_acc" in out.stdout and "crc32c" in out.stdout
    assert "--trim" in out.stdout


def test_a_deleted_group_metadata_file_is_named(mini_run):
    """Trial: deleting record.zarr/layers/zarr.json left a store that opened through the
    consolidated copy and that verify called intact."""
    assert verify(mini_run) == []
    victim = mini_run / "record.zarr" / "layers" / "zarr.json"
    victim.unlink()
    damage = verify(mini_run)
    assert [(d.group, d.array, d.epochs, d.file, d.problem) for d in damage] == \
        [("layers", None, None, str(victim), "group metadata missing")]
    res = subprocess.run([sys.executable, "-m", "workbench", "verify", str(mini_run)],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "layers: group metadata missing" in res.stdout + res.stderr


def test_a_damaged_evals_chunk_is_named_with_its_epoch_and_trimmed_away(mini_run):
    """/evals (test accuracy every step here: 2 steps an epoch) is checked like every group."""
    from workbench.record.store import trim_to_intact

    ev = open_run(mini_run)["evals"]
    assert ev["eval_step"].values.tolist() == [1, 2, 3, 4]
    assert ev["epoch"].values.tolist() == [0, 0, 1, 1]
    victim = mini_run / "record.zarr" / "evals" / "acc" / "c" / "1"  # epoch 1's points
    _flip_a_byte(victim)
    damage = verify(mini_run)
    assert [(d.group, d.array, d.epochs, d.file) for d in damage] == \
        [("evals", "acc", (1, 1), str(victim))]
    with pytest.raises(StoreDamagedError, match=r"evals/acc, epoch 1: chunk corrupt"):
        open_run(mini_run, verify=True)
    assert trim_to_intact(mini_run) == 1
    tree = open_run(mini_run, verify=True)
    assert tree["evals"]["eval_step"].values.tolist() == [1, 2]
    assert tree.attrs["committed_evals"] == 2


def test_evals_past_the_committed_count_are_hidden_and_cut(mini_run):
    """A kill during a commit leaves /evals points written but not committed."""
    import xarray as xr

    extra = xr.Dataset({"acc": ("eval_step", [0.5]), "loss": ("eval_step", [1.0])},
                       coords={"eval_step": [5], "epoch": ("eval_step", [2])})
    extra.to_zarr(str(mini_run / "record.zarr"), group="evals", mode="a",
                  append_dim="eval_step", consolidated=True)
    assert zarr.open_array(str(mini_run / "record.zarr" / "evals" / "acc")).shape == (5,)
    assert open_run(mini_run)["evals"]["eval_step"].values.tolist() == [1, 2, 3, 4]
    RunStore(mini_run).trim()
    assert zarr.open_array(str(mini_run / "record.zarr" / "evals" / "acc")).shape == (4,)
    root = zarr.open_group(str(mini_run / "record.zarr"), mode="r+")
    root.attrs["committed_evals"] = 9  # more than /evals holds: named, not trusted
    zarr.consolidate_metadata(str(mini_run / "record.zarr"))
    assert any("committed_evals is 9, but /evals holds 4" in d.problem for d in verify(mini_run))
