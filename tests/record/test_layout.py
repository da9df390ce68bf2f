"""The one checkpoint name <-> epoch mapping (issue 20 item 8: loose matching deleted a user's
``epoch_0005_mybackup.pt``)."""

import re

import pytest

from workbench.record.layout import checkpoint_epoch, checkpoint_files, checkpoint_name


@pytest.mark.parametrize("epoch", [0, 7, 123, 9999])
def test_name_and_epoch_are_inverse(epoch):
    name = checkpoint_name(epoch)
    assert re.fullmatch(r"epoch_\d{4}\.pt", name)
    assert checkpoint_epoch(name) == epoch
    assert checkpoint_epoch(checkpoint_name(epoch, tmp=True), tmp=True) == epoch
    assert checkpoint_epoch(checkpoint_name(epoch, tmp=True)) is None  # a .tmp is no checkpoint


@pytest.mark.parametrize("name", ["epoch_0005_mybackup.pt", "epoch_5.pt", "epoch_00005.pt",
                                  "epoch_0005.pt.bak", "xepoch_0005.pt", "epoch_000a.pt",
                                  "epoch_0005.tmp", "fixed_layer_20240101T000000Z.pt"])
def test_only_exact_names_are_checkpoints(name):
    assert checkpoint_epoch(name) is None


def test_out_of_range_epochs_are_refused():
    with pytest.raises(ValueError, match="between 0 and 9999; got 10000"):
        checkpoint_name(10_000)


def test_checkpoint_files_lists_exact_names_only(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("epoch_0002.pt", "epoch_0000.pt", "epoch_0005_mybackup.pt", "epoch_0001.tmp",
                 "notes.txt"):
        (folder / name).write_text(name)
    assert checkpoint_files(tmp_path) == {0: folder / "epoch_0000.pt",
                                          2: folder / "epoch_0002.pt"}
    assert checkpoint_files(tmp_path, tmp=True) == {1: folder / "epoch_0001.tmp"}
    assert checkpoint_files(tmp_path / "nosuch") == {}
