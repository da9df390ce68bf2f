"""``workbench demo`` never replaces a run directory holding more than the demo, accepts what
the workbench itself wrote into one, says what it trains, and states one measured preset
time."""

import pytest

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


def test_the_workbench_own_files_are_part_of_the_demo(tmp_path):
    """What the workbench writes into a demo run itself (``workbench report``, ``workbench
    forces`` without ``--out``, a checkpoint half-written by a crash) is the demo's; near
    misses (a user's copy, a backup) are not."""
    _fake_demo(tmp_path)
    for own in ("report/layers.png", "report/forces_sample0.png",
                "report/forces_sample1234.png", "checkpoints/epoch_0001.tmp", "lock"):
        (tmp_path / own).write_bytes(b"x")
    assert extra_contents(tmp_path) == []
    mine = ["checkpoints/epoch_0001_mybackup.pt", "record.zarr.bak",
            "report/forces_sample0_notes.png", "report/forces_sampleX.png"]
    for f in mine:
        (tmp_path / f).write_bytes(b"x")
    assert extra_contents(tmp_path) == sorted(mine)


#: A demo small enough for the suite: one epoch of 300 images (6 steps).
TINY_DEMO = ["--epochs", "1", "--train-size", "300", "--test-size", "200", "--probe-size",
             "50", "--batch-size", "50", "--curvature-iters", "0", "--features", "",
             "--device", "cpu"]


@pytest.mark.slow
def test_demo_says_what_it_trains_and_is_remade_after_forces_wrote_its_figure(
        noisy_run, tmp_path, capsys):
    """Issue 22: after ``workbench forces RUN --sample 0`` wrote report/forces_sample0.png
    into the demo run, the demo refused to run again."""
    from conftest import copy_run

    out = tmp_path / "demo"
    copy_run(noisy_run, out)  # a run as the demo leaves it: record, checkpoints
    assert main(["forces", str(out), "--sample", "0", "--top", "2", "--pool", "20"]) == 0
    figure = out / "report" / "forces_sample0.png"
    assert figure.stat().st_size > 1000
    capsys.readouterr()
    assert main(["demo", "--out", str(out), *TINY_DEMO]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (f"demo: training cnn on fashion-mnist (300 training images), epoch 0, "
                     f"sgd lr 0.05 momentum constant:0.9, on cpu, into {out}; then analysing "
                     f"and reporting it")
    assert not figure.exists()  # it showed the old run: removed with it
    assert (out / "report" / "training.png").exists() and (out / "record.zarr").is_dir()


def _log_runs(text: str) -> dict[str, str]:
    """A bench log's runs by the date in their header (``# date: ... UTC``)."""
    runs, date = {}, None
    for line in text.splitlines():
        if line.startswith("# date: "):
            date = line.removeprefix("# date: ").strip()
            runs[date] = ""
        elif date is not None:
            runs[date] += line + "\n"
    return runs


def test_one_preset_time_measured_and_stated_alike():
    """README, ``demo --help`` and notebook 07 give the same preset times, and those are the
    slowest seed of each preset in the run of bench/presets.py they cite."""
    import json
    import re
    from pathlib import Path

    from workbench.cli import build_parser
    from workbench.commands.demo import PRESET_MINUTES, PRESET_TIME, PRESETS_TIMED

    root = Path(__file__).resolve().parents[2]
    run = _log_runs((root / "bench" / "logs" / "presets.log").read_text())[PRESETS_TIMED]
    measured = {}
    for name, minutes in re.findall(r"^## preset (\S+), seed \d+: ([\d.]+) min", run, re.M):
        measured[name] = max(measured.get(name, 0.0), float(minutes))
    assert measured == PRESET_MINUTES
    assert PRESET_TIME == "momentum 2.9 min, label-noise 1.2 min, depth 0.5 min on 2 CPU cores"

    def flat(text):
        return " ".join(text.split())

    readme = flat((root / "README.md").read_text())
    nb = json.loads((root / "notebooks" / "07_course.ipynb").read_text())
    course = flat(" ".join("".join(c["source"]) for c in nb["cells"]
                           if c["cell_type"] == "markdown"))
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    helptext = flat(sub.choices["demo"].format_help())
    for where, text in (("README.md", readme), ("notebook 07", course),
                        ("demo --help", helptext)):
        assert PRESET_TIME in text, where
    for where, text in (("README.md", readme), ("notebook 07", course)):
        assert PRESETS_TIMED in text and "bench/logs/presets.log" in text, where
