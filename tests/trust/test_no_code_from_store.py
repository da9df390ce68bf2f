"""A store whose attrs name code (``os:system``, ``builtins:exec``, a module path) makes the
workbench import and run nothing: opening it, analysing it and exploring it.

The check runs in a fresh interpreter with a Python audit hook (PEP 578) that records every
``import`` of the named modules and every ``os.system`` / ``subprocess.Popen`` /
``os.posix_spawn`` / ``os.exec*`` event; the named module, if imported, also writes a marker
file. The only process allowed to start is ``ldconfig -p``, which ``ctypes.util.find_library``
runs when a library is first imported (nothing of the store is in its arguments).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import zarr
from torch import nn

import workbench

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
events = []
WATCHED = {"os.system", "subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn"}
def hook(event, args):
    if event in WATCHED or event.startswith("os.exec"):
        events.append([event, repr(args)[:300]])
    if event == "import" and str(args[0]).startswith("evil_wb_module"):
        events.append("import " + str(args[0]))
sys.addaudithook(hook)
import workbench
from workbench import Run
from workbench.widgets import explore
run = Run(sys.argv[1])
cfg = run.config
result = workbench.analyze(run, progress=False)
app = explore(run)
print("RESULT " + json.dumps({"events": events, "result": result, "tabs": list(app.views),
                              "model": cfg.model}))
"""


def _crafted(tmp_path) -> Path:
    out = tmp_path / "run"
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    with workbench.watch(model, opt, out, probe=(x, y), progress=False) as rec:
        for _ in range(2):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            rec.log(loss=loss)
            opt.step()
            rec.end_epoch(metrics={"test_acc": 0.5})
    root = zarr.open_group(str(out / "record.zarr"), mode="r+", use_consolidated=False)
    cfg = json.loads(root.attrs["config"])
    cfg.update(model="os:system", optimizer="builtins:exec", data="evil_wb_module:datasets",
               user={"factory": "evil_wb_module:make", "forward": "builtins:eval"})
    root.attrs.update({"config": json.dumps(cfg), "model_factory": "evil_wb_module:make",
                       "forward": "os:system", "data": "evil_wb_module.sub:load",
                       "classes": json.dumps(["os:system", "builtins:exec", "x"])})
    zarr.consolidate_metadata(str(out / "record.zarr"))
    return out


@pytest.mark.slow
def test_a_store_that_names_code_imports_and_runs_nothing(tmp_path):
    run_dir = _crafted(tmp_path)
    evil = tmp_path / "evil_wb_module.py"
    marker = tmp_path / "IMPORTED"
    evil.write_text(f"open({str(marker)!r}, 'w').write('imported')\n"
                    "def make():\n    raise SystemExit('ran')\n")
    env = {"PYTHONPATH": f"{ROOT}:{tmp_path}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(run_dir)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT ", 1)[1])
    # the one process any import may start: ctypes.util.find_library's `ldconfig -p`
    ran = [e for e in out["events"] if not (e[0] == "subprocess.Popen" and
                                            "'/sbin/ldconfig', '-p'" in e[1])]
    assert ran == [], ran
    assert not marker.exists()
    assert out["model"] == "os:system"                      # read as a plain string, no more
    for name in ("damping", "attribution", "forces", "spectra"):
        assert out["result"][name].startswith("needs model="), out["result"][name]
    assert "training" in out["tabs"]
