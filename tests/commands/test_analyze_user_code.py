"""``workbench analyze`` on a run of a model it never saw: without --model/--data it lists
what it skipped and why (exit 0); with the user's own code named on the command line it
computes those analyses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import workbench

ROOT = Path(__file__).resolve().parents[2]

USER_CODE = '''
import torch
from torch import nn
from torch.utils.data import TensorDataset


def make_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))


def datasets():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 2, 2, 2, generator=g)
    y = (x.flatten(1).sum(1) > 0).long() + (x[:, 0, 0, 0] > 1).long()
    return TensorDataset(x[:64], y[:64]), TensorDataset(x[64:], y[64:])
'''


def _record(tmp_path) -> Path:
    import importlib.util

    (tmp_path / "mycode.py").write_text(USER_CODE)
    spec = importlib.util.spec_from_file_location("mycode_for_test", tmp_path / "mycode.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    train, test = mod.datasets()
    torch.manual_seed(0)
    model = mod.make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = train.tensors
    out = tmp_path / "run"
    with workbench.watch(model, opt, out, probe=test.tensors, progress=False) as rec:
        for _ in range(2):
            for i in range(0, 64, 16):
                loss = nn.functional.cross_entropy(model(x[i:i + 16]), y[i:i + 16])
                opt.zero_grad()
                loss.backward()
                rec.log(loss=loss)
                opt.step()
            rec.end_epoch()
    return out


def _cli(*args, cwd):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_analyze_lists_what_it_skips_then_computes_with_the_users_code(tmp_path):
    run = _record(tmp_path)
    bare = _cli("analyze", str(run), "--only", "damping,spectra,attribution", cwd=tmp_path)
    assert bare.returncode == 0, bare.stderr
    assert "Traceback" not in bare.stderr
    for name in ("damping", "spectra", "attribution"):
        line = next(ln for ln in bare.stdout.splitlines() if ln.startswith(name))
        assert "skipped: needs model=" in line, line
    assert "needs data=(train, test)" in bare.stdout          # damping, attribution
    full = _cli("analyze", str(run), "--only", "damping,spectra,attribution",
                "--model", "mycode.py:make_model", "--data", "mycode.py:datasets", cwd=tmp_path)
    assert full.returncode == 0, full.stderr[-3000:]
    r = workbench.Run(run)
    for name in ("damping", "spectra", "attribution"):
        assert r.analysed_epochs(name) == [0, 1], (name, full.stdout)
    bad = _cli("analyze", str(run), "--model", "mycode.py:nope", cwd=tmp_path)
    assert bad.returncode != 0
    assert "has no 'nope'" in bad.stderr and "Traceback" not in bad.stderr
