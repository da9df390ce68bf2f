"""diagnose, fix and report on a copy of the tiny run: one answer everywhere (issue 10)."""

import json
import shutil

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from workbench.cli import main
from workbench.run import Run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    shutil.copytree(tiny_run, out)
    return out


@pytest.fixture(scope="module")
def diagnosis(run_dir):
    """``diagnose --json`` (computes and stores the missing analyses first)."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["diagnose", str(run_dir), "--json"]) == 0
    return json.loads(buf.getvalue())


def test_diagnose_json_is_the_analysis_and_the_functions(run_dir, diagnosis):
    from workbench.diagnostics.damping import epoch_damping

    run = Run(run_dir)
    dmp = run.analysis("damping").compute()
    att = run.analysis("attribution").compute()
    # the function a notebook calls, on the recorded steps and the stored curvature
    by_hand = epoch_damping(run.tree["steps"].to_dataset(), curvature=dmp["curvature"],
                            update_cos=run.tree["layers"]["update_cos"])
    d = diagnosis["damping"]
    paper = d["paper"]["epochs"]
    assert [r["network_regime"] for r in paper] == by_hand["network_regime"].values.tolist()
    assert [r["network_regime"] for r in paper] == dmp["network_regime"].values.tolist()
    assert_allclose([r["lr"] for r in paper], by_hand["lr"].values)
    assert "paper's convention" in d["paper"]["verdict"]
    assert "measured curvature" in d["verdict"] and "largest" in d["verdict"]
    for r in d["layers"]:
        assert r["regime"] == str(by_hand["regime"].sel(epoch=r["epoch"],
                                                        layer=r["layer"]).values)
        assert "agrees" not in r and "why" not in r and "update_cos_regime" not in r
        assert_allclose(r["update_cos_expected"], float(by_hand["update_cos_expected"].sel(
            epoch=r["epoch"], layer=r["layer"])))
    for r in d["epochs"]:  # the stiffest group's regime, recomputed from the curvature
        curv = by_hand["curvature"].sel(epoch=r["epoch"])
        stiff = str(curv["layer"].values[int(np.argmax(curv.values))])
        assert r["layer"] == stiff
        assert r["regime"] == str(by_hand["regime"].sel(epoch=r["epoch"], layer=stiff).values)
    last = att.isel(epoch=-1)
    groups = diagnosis["groups"]["layers"]
    assert [g["verdict"] for g in groups] == last["verdict"].values.tolist()
    assert_allclose([g["flag_frequency"] for g in groups], last["flag_frequency"].values)
    assert diagnosis["problematic"] == [g["layer"] for g in groups
                                        if g["verdict"] == "problematic"]


def test_report_prints_the_same_verdicts(run_dir, diagnosis):
    from workbench.report import verdict_text

    text = verdict_text(run_dir)
    # the answer first, the paper's convention after it, labelled
    assert text.index("from the measured curvature") < text.index("the paper's convention")
    for r in diagnosis["damping"]["paper"]["epochs"]:
        assert f"{r['network_damping_ratio']:.3f} {r['network_regime']}" in text
    for g in diagnosis["groups"]["layers"]:
        assert f"{g['flag_frequency']:.2f}" in text and g["verdict"] in text


def test_diagnose_text_names_each_verdict(run_dir, capsys):
    assert main(["diagnose", str(run_dir), "--compare", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out.index("from the measured curvature") < out.index("the paper's convention")
    assert "agrees" not in out and "update cosine (measured, not a verdict)" in out
    assert "flag freq" in out and "problematic groups" in out
    assert "overlap (Jaccard) of problematic groups:" in out


def test_fix_dry_run_json_gives_the_rule_and_shares(run_dir, diagnosis, capsys):
    from workbench.models import group_shares
    from workbench.probes.attribution import SURGICAL_SHARE, chosen_groups

    assert main(["fix", str(run_dir), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    run = Run(run_dir)
    expected, _ = chosen_groups(run.analysis("attribution").isel(epoch=-1).compute())
    assert plan["groups"] == expected
    if diagnosis["problematic"]:  # the problematic groups, as many as fit in the budget
        assert set(plan["groups"]) <= set(diagnosis["problematic"])
    shares = group_shares(run.model(-1))
    assert_allclose(plan["param_share_total"], sum(shares[g] for g in expected))
    assert len(expected) == 1 or plan["param_share_total"] <= SURGICAL_SHARE + 1e-9
    # a budget of 1 takes every problematic group
    assert main(["fix", str(run_dir), "--dry-run", "--json", "--max-share", "1"]) == 0
    every = json.loads(capsys.readouterr().out)
    if diagnosis["problematic"]:
        assert every["groups"] == diagnosis["problematic"]
    assert not list((run_dir / "checkpoints").glob("fixed_*.pt"))  # a dry run trains nothing


def test_fix_keeps_every_result_and_counts_the_diagnosis_time(run_dir, capsys):
    ckpt = run_dir / "checkpoints" / "epoch_0001.pt"
    before = ckpt.read_bytes()
    args = ["fix", str(run_dir), "--groups", "fc2", "--test-size", "200", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)["results"][0]
    assert first["diagnosis_time"] > 0
    assert_allclose(first["total_time"], first["diagnosis_time"] + first["wall_time"])
    a = run_dir / "checkpoints" / first["file"].split("/")[-1]
    a_bytes = a.read_bytes()
    import time
    time.sleep(1.1)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)["results"][0]
    assert second["file"] != first["file"]
    assert a.read_bytes() == a_bytes  # the first result is kept
    assert ckpt.read_bytes() == before
    fixed = torch.load(second["file"], weights_only=True)
    model = Run(run_dir).model(-1)
    for k, v in model.state_dict().items():  # only fc2 changed
        assert torch.equal(v, fixed["model"][k]) != k.startswith("fc2."), k
    meta = json.loads(fixed["surgical"])
    assert meta["groups"] == "fc2" and meta["level"] == "layer"
    assert len(list((run_dir / "checkpoints").glob("fixed_layer_*.pt"))) == 2


def test_fix_refuses_to_overwrite_a_result(run_dir):
    from workbench.finetune.fix import fixed_path

    path = fixed_path(run_dir, "layer", "STAMP", overwrite=False)
    path.write_bytes(b"previous")
    with pytest.raises(FileExistsError, match="--overwrite"):
        fixed_path(run_dir, "layer", "STAMP", overwrite=False)
    assert fixed_path(run_dir, "layer", "STAMP", overwrite=True) == path
    path.unlink()


def test_fix_unknown_group_is_a_clear_error(run_dir, capsys):
    assert main(["fix", str(run_dir), "--groups", "fc9"]) == 1
    assert "conv1, conv2, fc1, fc2" in capsys.readouterr().err
