"""``report.write_report`` takes a run directory or a Run, and says the same of both."""

from conftest import copy_run

from workbench import Run
from workbench.report import verdict_text, write_report


def test_write_report_accepts_a_run_and_a_path_alike(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    by_path, figures = write_report(str(run.path))
    pngs = {f.name: f.read_bytes() for f in figures}
    by_run, again = write_report(Run(run.path))     # was: TypeError from Run(Run(...))
    assert by_run == by_path
    assert [f.name for f in again] == list(pngs) == ["training.png", "layers.png"]
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in again)
    assert verdict_text(run) == verdict_text(run.path)
    # nothing analysed in the copy: the paper's convention only, labelled, and the text says
    # what to run for the answer from the measured curvature
    assert "the paper's convention" in by_run
    assert f"not analysed yet: run 'workbench analyze {run.path}'" in by_run
