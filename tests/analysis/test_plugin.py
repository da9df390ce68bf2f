"""An analysis from another package, found through the entry-point group
``workbench.analyses``: listed, computed incrementally, shown by the generic view.

The plugin is installed the way pip installs a package: a module and its
``wb_grad_spread-0.1.dist-info`` (METADATA, entry_points.txt) in a folder on the path of a
fresh interpreter; nothing of the workbench names it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''"""A user's own analysis in one file: the spread of each group's gradient norm."""
import numpy as np
import xarray as xr
from workbench.analysis import register


def grad_spread(run, epoch):
    g = run.tree["layers"]["grad_norm"]
    sel = np.asarray(run.tree["steps"]["epoch"].values) == epoch
    g = g.isel(step=np.flatnonzero(sel)).load()
    return xr.Dataset({"spread": g.std("step") / g.mean("step")})


register("grad_spread", compute=grad_spread, requires=("steps",),
         description="coefficient of variation of each group's gradient norm")
'''

SHOW = r"""
import json, sys
from workbench.widgets import explore
from workbench.widgets.generic import GenericView
app = explore(sys.argv[1], images=False)
view = app.views["grad_spread"]
app.tabs.selected_index = list(app.views).index("grad_spread")
out = {"generic": isinstance(view, GenericView), "values": {}}
for epoch in (1, 0):
    view.controls["epoch"].value = epoch
    out["values"][epoch] = [float(v) for v in view.values()]
print("RESULT " + json.dumps(out))
"""


def _install(site: Path) -> None:
    site.mkdir()
    (site / "wb_grad_spread.py").write_text(PLUGIN)
    info = site / "wb_grad_spread-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wb-grad-spread\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[workbench.analyses]\n"
                                           "grad_spread = wb_grad_spread\n")


def _run(args, site, cwd):
    env = {"PYTHONPATH": f"{ROOT}:{site}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_a_plugin_analysis_is_listed_computed_and_shown(tiny_run, tmp_path):
    site = tmp_path / "site"
    _install(site)
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    listing = _run(["-m", "workbench", "analyze", "--list"], site, tmp_path)
    assert "grad_spread" in listing and "coefficient of variation" in listing
    first = _run(["-m", "workbench", "analyze", str(run), "--only", "grad_spread"],
                 site, tmp_path)
    assert "grad_spread" in first and "added epochs 0, 1" in first
    again = _run(["-m", "workbench", "analyze", str(run), "--only", "grad_spread"],
                 site, tmp_path)
    assert "nothing new" in again
    from workbench import Run

    r = Run(run)
    stored = r.analysis("grad_spread").load()
    g = r.tree["layers"]["grad_norm"].load()
    ep = r.tree["steps"]["epoch"].values
    for e in (0, 1):  # an independent computation with numpy
        rows = g.values[ep == e]
        assert_allclose(stored["spread"].sel(epoch=e).values,
                        rows.std(0, ddof=0) / rows.mean(0), rtol=1e-6)
    shown = json.loads(_run(["-c", SHOW, str(run)], site, tmp_path).split("RESULT ", 1)[1])
    assert shown["generic"]
    for e in ("1", "0"):
        assert_allclose(shown["values"][e], stored["spread"].sel(epoch=int(e)).values)
    assert not np.allclose(shown["values"]["0"], shown["values"]["1"])


def test_a_plugin_that_fails_to_import_is_skipped_with_a_warning(tmp_path):
    site = tmp_path / "site"
    _install(site)
    (site / "wb_grad_spread.py").write_text("raise ImportError('broken plugin')\n")
    out = _run(["-W", "always", "-m", "workbench", "analyze", "--list"], site, tmp_path)
    assert "damping" in out and "grad_spread" not in out
