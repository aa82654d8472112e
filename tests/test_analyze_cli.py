"""``neurotrain analyze RUN_DIR``: the subcommand writes the summary, results and figures."""

from __future__ import annotations

import argparse
import json
import os

import brainstate
import pytest

import neurotrain as nt
from neurotrain.cli import _analyze
from neurotrain.io import RunLayout

ANALYSIS_FILE = RunLayout.ANALYSIS_FILE
ANALYSIS_FIGURES = RunLayout.ANALYSIS_FIGURES


def parse(argv):
    parser = argparse.ArgumentParser(prog="neurotrain")
    sub = parser.add_subparsers(dest="command")
    _analyze.add_parser(sub)
    return parser.parse_args(["analyze", *argv])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A small perceptual-decision-making run (untrained weights are enough to analyse)."""
    task = nt.tasks.PerceptualDecisionMaking(stimulus=300.0)
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", task.num_in, 12, task.num_out)
    out = tmp_path_factory.mktemp("run")
    nt.runs.save_run(out, model=model, task=task, config={"seed": 4}, figures=False)
    return str(out)


def test_analyze_writes_summary_results_and_figures(run_dir, capsys):
    args = parse([run_dir, "--trials", "64", "--candidates", "24", "--formats", "png,svg"])
    assert args.seed is None and args.formats == ("png", "svg")
    assert _analyze.run(args) == 0
    report = capsys.readouterr().out
    assert "fixed points (exact)" in report and "psychometric (logistic)" in report

    with open(os.path.join(run_dir, ANALYSIS_FILE)) as f:
        summary = json.load(f)
    assert summary["task"] == "perceptual-decision-making" and summary["seed"] == 6   # run seed + 2
    beh = summary["behaviour"]
    assert beh["num_trials"] == 64 and 0.0 <= beh["scores"]["accuracy"] <= 1.0
    assert beh["validation_mse"] > 0 and "coherence" in beh["per_condition"]
    psy = summary["psychometric"]
    assert psy["x"] == "signed_coherence" and set(psy["params"]) == {"bias", "slope", "lapse"}
    assert summary["chronometric"]["defined"] is False
    fp = summary["fixed_points"]
    assert [row["name"] for row in fp["inputs"]] == ["fixation", "stimulus", "decision"]
    assert fp["num_candidates"] == 3 * 24 and fp["num_points"] == sum(fp["counts"].values())
    assert sum(fp["candidates"].values()) == 72
    for row in fp["inputs"]:
        for point in row["points"]:
            assert point["stability"] in ("stable", "marginal", "saddle", "unstable") and point["q"] >= 0
    assert len(summary["pca"]["explained_variance_ratio"]) == 3

    # the saved results load back and agree with the summary
    fps = nt.analysis.load_result(os.path.join(run_dir, "analysis", "fixed_points"))
    assert fps.num_points == fp["num_points"] and fps.counts() == fp["counts"]
    assert fps.stability_ct is not None                     # leaky cell: continuous time too
    assert nt.analysis.load_result(os.path.join(run_dir, "analysis", "psychometric")).params == psy["params"]
    figs = set(summary["figures"])
    expected = {"activity_heatmap", "psychometric"}
    if fps.num_points:
        expected |= {"fixed_points_2d", "fixed_points_3d", "eigenvalues", "eigenvalues_ct"}
    for name in expected:
        for ext in ("png", "svg"):
            rel = os.path.join("figures", f"{name}.{ext}")
            assert rel in figs and os.path.getsize(os.path.join(run_dir, rel)) > 1000


def test_analyze_approximate_mode_without_figures(run_dir):
    before = set(os.listdir(os.path.join(run_dir, "figures"))) if os.path.isdir(
        os.path.join(run_dir, "figures")) else set()
    args = parse([run_dir, "--trials", "64", "--candidates", "24", "--mode", "approximate", "--q-tol", "1e-4",
                  "--no-figures", "--seed", "1", "--function", "probit"])
    assert _analyze.run(args) == 0
    with open(os.path.join(run_dir, ANALYSIS_FILE)) as f:
        summary = json.load(f)
    assert summary["seed"] == 1 and summary["figures"] == []
    assert summary["fixed_points"]["mode"] == "approximate" and summary["psychometric"]["function"] == "probit"
    qs = [p["q"] for row in summary["fixed_points"]["inputs"] for p in row["points"]]
    assert all(q <= 1e-4 for q in qs)
    after = set(os.listdir(os.path.join(run_dir, "figures"))) if os.path.isdir(
        os.path.join(run_dir, "figures")) else set()
    assert after == before


def test_analyze_errors(tmp_path):
    with pytest.raises(nt.NeurotrainError, match="does not exist"):
        _analyze.run(parse([str(tmp_path / "nothing")]))
    with pytest.raises(SystemExit):
        parse([str(tmp_path), "--formats", "jpg"])
    with pytest.raises(SystemExit):
        parse([str(tmp_path), "--candidates", "0"])


def test_reanalysis_replaces_only_its_own_files(run_dir):
    """A second ``analyze`` removes the figures and results of the first that it does not
    rewrite (stale files would pass for results of the new analysis), and nothing else."""
    figures = os.path.join(run_dir, "figures")
    os.makedirs(figures, exist_ok=True)
    stale = os.path.join(figures, "eigenvalues_ct.pdf")          # an earlier analysis wrote a PDF
    mine = os.path.join(figures, "my_notes.png")                 # the user's own file
    for path in (stale, mine):
        with open(path, "wb") as f:
            f.write(b"x")
    stale_result = os.path.join(run_dir, "analysis", "psychometric.npz")
    os.makedirs(os.path.dirname(stale_result), exist_ok=True)
    with open(stale_result, "wb") as f:
        f.write(b"x")
    assert _analyze.run(parse([run_dir, "--trials", "32", "--candidates", "8", "--formats", "png"])) == 0
    assert not os.path.exists(stale) and os.path.exists(mine)
    with open(os.path.join(run_dir, ANALYSIS_FILE)) as f:
        summary = json.load(f)
    on_disk = {os.path.join("figures", f) for f in os.listdir(figures)
               if f.rsplit(".", 1)[0] in ANALYSIS_FIGURES}
    assert on_disk == set(summary["figures"])
    # the psychometric result was rewritten (the stale 1-byte file is gone)
    assert os.path.getsize(stale_result) > 1


def test_training_again_into_a_run_dir_clears_the_analysis(run_dir, tmp_path):
    import shutil

    run_dir = shutil.copytree(run_dir, tmp_path / "copy")      # leave the module's run intact
    os.makedirs(os.path.join(run_dir, "figures"), exist_ok=True)
    with open(os.path.join(run_dir, "figures", "my_notes.png"), "wb") as f:
        f.write(b"x")
    assert _analyze.run(parse([str(run_dir), "--trials", "32", "--candidates", "8", "--no-figures"])) == 0
    assert os.path.exists(os.path.join(run_dir, ANALYSIS_FILE))
    for path in RunLayout(run_dir).train_outputs():   # what a new `train` into the folder deletes
        os.remove(path)
    assert not os.path.exists(os.path.join(run_dir, ANALYSIS_FILE))
    assert not [f for f in os.listdir(os.path.join(run_dir, "analysis"))
                if f.endswith((".json", ".npz"))]
    assert not [f for f in os.listdir(os.path.join(run_dir, "figures"))
                if f.rsplit(".", 1)[0] in ANALYSIS_FIGURES]
    assert os.path.exists(os.path.join(run_dir, "figures", "my_notes.png"))   # not ours: kept
