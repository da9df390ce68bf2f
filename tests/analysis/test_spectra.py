import shutil

import numpy as np
import pytest
from numpy.testing import assert_allclose

from workbench import Run, analyze
from workbench.diagnostics import powerlaw_alpha
from workbench.probes import weight_spectrum


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy of the shared tiny run (analyses write into the store)."""
    path = tmp_path / "run"
    shutil.copytree(tiny_run.path if hasattr(tiny_run, "path") else tiny_run, path)
    return path


def test_analyze_fills_analysis_spectra_and_matches_a_direct_fit(run_copy):
    run = Run(run_copy)
    added = analyze(run, only="spectra", progress=False)
    assert added["spectra"] == run.epochs
    ds = Run(run_copy).analysis("spectra")
    assert set(ds.alpha.dims) == {"epoch", "layer"}
    assert list(ds.layer.values) == ["conv1", "conv2", "fc1", "fc2"]
    assert set(ds.data_vars) >= {"alpha", "xmin", "ks_distance", "n_tail", "eigenvalues"}
    for epoch in run.epochs:
        spec = weight_spectrum(run.model(epoch))
        fit = powerlaw_alpha(spec.eigenvalues)
        one = ds.sel(epoch=epoch)
        assert_allclose(one.eigenvalues.values, spec.eigenvalues.values, rtol=1e-12)
        assert_allclose(one.alpha.values, fit.alpha.values, rtol=1e-12)
        assert np.array_equal(one.n_tail.values, fit.n_tail.values)
    assert (ds.alpha > 1).all()
    # incremental: a second call computes nothing
    assert analyze(Run(run_copy), only="spectra", progress=False)["spectra"] == []


def test_cli_analyze_only_spectra(run_copy, capsys):
    from workbench.cli import main

    main(["analyze", str(run_copy), "--only", "spectra"])
    assert Run(run_copy).analysed_epochs("spectra") == Run(run_copy).epochs


def test_stored_variables_keep_their_labels(run_copy):
    run = Run(run_copy)
    analyze(run, only="spectra", epochs=run.epochs[-1:], progress=False)
    ds = Run(run_copy).analysis("spectra")
    assert ds.alpha.attrs["long_name"] == "power-law exponent α"
    assert ds.eigenvalues.attrs["long_name"] == "eigenvalue of WᵀW/N"
    assert ds.attrs["ks"] == "left"
