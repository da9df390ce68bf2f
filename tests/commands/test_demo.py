"""``workbench demo`` never replaces a run directory holding more than the demo."""

from workbench.cli import main
from workbench.commands.demo import extra_contents


def _fake_demo(path):
    (path / "record.zarr" / "steps").mkdir(parents=True)
    (path / "record.zarr" / "steps" / "zarr.json").write_text("{}")
    (path / "checkpoints").mkdir()
    (path / "checkpoints" / "epoch_0000.pt").write_bytes(b"x")
    (path / "report").mkdir()
    (path / "report" / "training.png").write_bytes(b"x")


def test_extra_contents(tmp_path):
    _fake_demo(tmp_path)
    assert extra_contents(tmp_path) == []
    assert extra_contents(tmp_path / "missing") == []
    (tmp_path / "checkpoints" / "fixed_layer_20260101T000000Z.pt").write_bytes(b"x")
    (tmp_path / "report" / "mine.txt").write_text("notes")
    assert extra_contents(tmp_path) == ["checkpoints/fixed_layer_20260101T000000Z.pt",
                                        "report/mine.txt"]


def test_demo_refuses_to_replace_a_run_with_fixes(tmp_path, capsys):
    _fake_demo(tmp_path)
    fixed = tmp_path / "checkpoints" / "fixed_layer_20260101T000000Z.pt"
    fixed.write_bytes(b"keep me")
    assert main(["demo", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "holds more than the demo" in err and "fixed_layer_" in err and "--overwrite" in err
    assert fixed.read_bytes() == b"keep me"
