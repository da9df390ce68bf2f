"""The command line: choices, errors and the report."""

import subprocess
import sys

import pytest

from workbench.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("args, names", [
    (["train", "--model", "vgg", "--out", "x"], ["cnn", "resnet18", "mlp"]),
    (["train", "--data", "mnist", "--out", "x"], ["fashion-mnist", "cifar10", "cifar100"]),
    (["train", "--optimizer", "rmsprop", "--out", "x"], ["sgd", "adam"]),
])
def test_unknown_names_list_the_choices(args, names, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{args[2]}'" in err
    assert all(n in err.split("choose from")[1] for n in names)


def test_unknown_momentum_schedule_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--momentum", "adaptive", "--epochs", "1", "--train-size", "100",
                 "--out", str(tmp_path / "r")])
    assert code == 1
    assert "constant, nesterov, physics, hybrid, onecycle" in capsys.readouterr().err


def test_report_prints_table_and_writes_figures(tiny_run):
    out = run_cli("report", str(tiny_run))
    assert out.returncode == 0, out.stderr
    assert "test_acc" in out.stdout and len(out.stdout.splitlines()) >= 4
    for name in ("training.png", "layers.png"):
        assert (tiny_run / "report" / name).stat().st_size > 10_000


def test_report_on_a_missing_run_says_what_it_expected(tmp_path):
    out = run_cli("report", str(tmp_path))
    assert out.returncode == 1 and "no run record at" in out.stderr
