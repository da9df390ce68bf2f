"""A run from someone else cannot reach outside it (issue 20, defects 1-3).

Each attack plants, inside a copy of the mini run, a link to a victim folder outside it (a
user's notes and another run's checkpoints). Every writer then runs on the crafted run:
``train --resume``, ``analyze``, ``fix``, ``verify --trim``, ``report``, ``diagnose`` and
``explore(tab=...)``. After each, the victim folder is byte for byte what it was, and the
writers that refuse name the link.
"""

import shutil

import pytest

from workbench.cli import main


def _attack_lock(run, victim):
    (run / "lock").symlink_to(victim / "notes.txt")
    return "lock"


def _attack_checkpoints_folder(run, victim):
    """checkpoints/ is a link to another run's checkpoints, and a chunk of epoch 1 is gone (so
    ``verify --trim`` would delete that run's epoch_0001.pt)."""
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").symlink_to(victim / "other_run_checkpoints", target_is_directory=True)
    (run / "record.zarr" / "layers" / "grad_norm" / "c" / "1" / "0").unlink()
    return "checkpoints"


def _attack_checkpoint_tmp(run, victim):
    (run / "checkpoints" / "epoch_0002.tmp").symlink_to(victim / "notes.txt")
    return "epoch_0002.tmp"


def _attack_report_figure(run, victim):
    (run / "report").mkdir()
    (run / "report" / "training.png").symlink_to(victim / "notes.txt")
    return "training.png"


def _attack_chunk_folder(run, victim):
    """A chunk folder of /layers is a link to a folder of the victim's."""
    chunks = run / "record.zarr" / "layers" / "grad_norm" / "c"
    shutil.copytree(chunks, victim / "chunks")
    shutil.rmtree(chunks)
    chunks.symlink_to(victim / "chunks", target_is_directory=True)
    (run / "record.zarr" / "epochs" / "test_acc" / "c" / "1").unlink()  # epoch 1 damaged
    return "grad_norm/c"


ATTACKS = [_attack_lock, _attack_checkpoints_folder, _attack_checkpoint_tmp,
           _attack_report_figure, _attack_chunk_folder]

WRITERS = {
    "train --resume": lambda run: main(["train", "--resume", "--out", str(run), "--epochs",
                                        "3"]),
    "analyze": lambda run: main(["analyze", str(run), "--only", "damping"]),
    "fix": lambda run: main(["fix", str(run), "--groups", "conv1", "--epochs", "1",
                             "--batch-size", "30", "--test-size", "10"]),
    "verify --trim": lambda run: main(["verify", str(run), "--trim"]),
    "report": lambda run: main(["report", str(run)]),
    "diagnose": lambda run: main(["diagnose", str(run)]),
    "explore(tab=)": lambda run: _explore(run),
}


def _explore(run):
    from workbench.widgets import explore

    try:
        explore(run, tab="damping")
    except Exception as e:  # noqa: BLE001  (a refusal is fine; only the victim is checked)
        return str(e)
    return 0


def _snapshot(folder):
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def victim(mini_run_master, tmp_path):
    v = tmp_path / "outside"
    v.mkdir()
    (v / "notes.txt").write_bytes(b"my own notes, not a lock\n")
    shutil.copytree(mini_run_master / "checkpoints", v / "other_run_checkpoints")
    return v


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__[8:])
def test_no_writer_changes_anything_outside_the_run(attack, mini_run, victim, capsys):
    link = attack(mini_run, victim)
    before = _snapshot(victim)
    assert before
    for name, write in WRITERS.items():
        rc = write(mini_run)
        out, err = capsys.readouterr()
        assert _snapshot(victim) == before, f"{name} changed the victim"
        if name == "report" and link != "training.png":
            continue  # report writes only report/: the other links are not in its way
        if name == "explore(tab=)":
            assert link in str(rc), f"explore did not name {link}: {rc!r}"
            continue
        assert rc == 1, f"{name} did not refuse the run holding {link}"
        assert link in err and "Traceback" not in err, f"{name}: {err}"
    # verify reports the link
    assert main(["verify", str(mini_run), "--quick"]) == 1
    assert link.split("/")[0] in capsys.readouterr().out


def test_a_run_directory_that_is_a_link_keeps_working(mini_run, tmp_path, capsys):
    latest = tmp_path / "latest"
    latest.symlink_to(mini_run, target_is_directory=True)
    assert main(["train", "--resume", "--out", str(latest), "--epochs", "3"]) == 0
    assert main(["verify", str(latest)]) == 0
    assert main(["report", str(latest)]) == 0
    assert (mini_run / "checkpoints" / "epoch_0002.pt").is_file()
    assert (mini_run / "report" / "training.png").read_bytes()[:4] == b"\x89PNG"
