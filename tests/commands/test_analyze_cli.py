"""Issue 9's "done when", through the CLI: ``workbench train --label-noise 0.2 --features
conv1,conv2,fc1,fc2`` then ``workbench analyze`` fills all five per-epoch analyses."""

import numpy as np
import pytest

from workbench.cli import main
from workbench.run import Run

FIVE = ("damping", "dynamics", "attribution", "forces", "separation")


@pytest.mark.slow
def test_analyze_on_a_noisy_run_with_features_fills_all_five(tmp_path, capsys):
    out = tmp_path / "noisy"
    assert main(["train", "--out", str(out), "--epochs", "2", "--train-size", "1200",
                 "--test-size", "300", "--probe-size", "100", "--batch-size", "16",
                 "--signal-every", "1", "--curvature-iters", "2", "--label-noise", "0.2",
                 "--features", "conv1,conv2,fc1,fc2"]) == 0
    run = Run(out)
    assert run.config.label_noise == 0.2 and len(run.flipped) > 0
    assert main(["analyze", str(out)]) == 0
    capsys.readouterr()
    run = Run(out)
    for name in FIVE:
        assert run.analysed_epochs(name) == list(run.epochs), name
        ds = run.analysis(name)
        assert ds.sizes["epoch"] == len(run.epochs), name
    # the flipped-label examples are among the forces' update examples, and marked so
    forces = run.analysis("forces")
    flipped = np.asarray(forces["flipped"].values, bool)
    assert flipped.any() and not flipped.all()
    # separation reads the recorded features of every group
    sep = run.analysis("separation")
    assert set(map(str, sep["layer"].values)) == {"conv1", "conv2", "fc1", "fc2"}
    assert np.isfinite(sep["fuzziness"].values).all()
    # a second call adds nothing
    assert main(["analyze", str(out)]) == 0
    again = Run(out)
    for name in FIVE:
        assert again.analysis(name).sizes["epoch"] == len(run.epochs), name
