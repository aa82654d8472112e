"""Population run directories: ``neurotrain train --population K`` trains K networks into one run
directory whose networks are those of K separate runs; split, evaluate, analyze, resume.

The separate runs are the reference: network ``k`` of a population is the run a separate
``neurotrain train`` with its seed and hyper-parameters does, within float rounding (the
mapped program batches the matrix products, so sums run in another order; see
tests/test_population.py). A population run resumed after SIGTERM (in process) or SIGKILL
(``slow``: subprocesses) ends bit-identical to one done in one go.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

import neurotrain as nt
from neurotrain.io import (
    RunLayout,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
)
from neurotrain.runs import RunOptions, split_network, train_run
from neurotrain.training import CSVLogger
from neurotrain.training._population import member_params

TRIALS = 200
BASE = dict(task="pdm", cell="leaky", hidden=8, batch_size=8, steps=20, eval_every=10, eval_trials=TRIALS,
            checkpoint_every=10, keep_checkpoints=0, no_progress=True, restore_best=False, lr_schedule="constant")


def _one_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("neurotrain: error: ") and "Traceback" not in err, err
    return lines[0]


def _close(a, b, rtol=2e-5, atol=2e-6):
    for k in a:
        np.testing.assert_allclose(np.asarray(b[k]), np.asarray(a[k]), rtol=rtol, atol=atol, err_msg=k)


def _flat(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): tree}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A population of 2 seeds x 2 learning rates (4 networks), and the separate run of network 3."""
    base = tmp_path_factory.mktemp("population")
    pop = train_run(RunOptions(**BASE, population=2, population_grid={"lr": [3e-3, 1e-2]}, out=str(base / "pop")),
                    command="pytest")
    alone = train_run(RunOptions(**BASE, seed=1, lr=1e-2, out=str(base / "alone"), no_figures=True))
    return base, pop, alone


# --------------------------------------------------------------------------------------------
# the options and their errors
# --------------------------------------------------------------------------------------------
def test_population_options_resolve_to_the_networks():
    assert RunOptions(population=3, seed=5).population_spec().seeds == (5, 6, 7)
    pop = RunOptions(population=2, population_grid={"lr": "1e-3,1e-2", "l2": [0, 1e-4]}).population_spec()
    assert pop.size == 8 and pop.members()[3] == {"seed": 0, "lr": 1e-2, "l2": 1e-4}
    assert RunOptions(population_grid={"seed": [3, 9]}).population_spec().seeds == (3, 9)
    assert RunOptions(population={"seeds": [4, 2], "lr": [0.1, 0.2]}).population_spec().lr == (0.1, 0.2)
    assert RunOptions().population_spec() is None and RunOptions(population="none").population is None
    # TOML round trip (the --dry-run output of a population run reads back the same)
    opts = RunOptions(population=4, population_grid={"lr": [1e-3, 1e-2]}, chunk=2)
    from neurotrain.io import parse_config_text

    assert RunOptions.from_dict(parse_config_text(opts.to_text(), "toml")) == opts


@pytest.mark.parametrize("options, needles", [
    ({"population": 0}, ["population = 0 is not valid", "integer >= 1"]),
    ({"population": -2}, ["population = -2 is not valid"]),
    ({"population_grid": {"tau": [10, 20]}}, ["'tau' is not a population axis", "seed, lr, l2, rate_l2"]),
    ({"population_grid": {"lr": "fast"}}, ["population_grid.lr = 'fast' is not a list of numbers"]),
    ({"population_grid": {"lr": [1e-3, 1e-3]}}, ["repeats a value"]),
    ({"population_grid": {"lr": [0.0]}}, ["population_grid.lr must be a finite number > 0"]),
    ({"population": 2, "population_grid": {"seed": [1, 2]}}, ["both give the seeds"]),
    ({"devices": 2}, ["devices applies to populations"]),
    ({"chunk": 0, "population": 2}, ["chunk = 0 is not valid"]),
])
def test_bad_population_options_are_named(options, needles):
    with pytest.raises(nt.ConfigError) as err:
        RunOptions(**options)
    for n in needles:
        assert n in str(err.value), str(err.value)


def test_bad_populations_on_the_command_line_are_one_line_errors(tmp_path):
    tiny = ["train", "--hidden", "8", "--steps", "2", "--no-progress", "--out", str(tmp_path / "x")]
    cases = [
        (["--population", "0"], "population = 0 is not valid; population must be the number of networks"),
        (["--population", "3", "--population-grid", "tau=1,2"], "'tau' is not a population axis"),
        (["--population", "2", "--cell", "gru", "--population-grid", "sigma_rec=0,0.1"],
         "the gru cell has no sigma_rec"),
        (["--population", "2", "--method", "d-rtrl", "--population-grid", "sigma_rec=0,0.1"],
         "per-network noise levels need --method bptt"),
        (["--population", "2000000", "--hidden", "256", "--batch-size", "256"], "GiB"),
        (["--population", "3", "--devices", "2"], "devices=2 but only 1 device(s) are visible"),
    ]
    for extra, needle in cases:
        code, _, err = run_cli(tiny + extra)
        assert code == 2, (extra, err)
        assert needle in _one_error(err), (extra, err)
    assert not (tmp_path / "x" / "checkpoints").exists()   # nothing was trained


@pytest.mark.slow  # a subprocess with 2 host devices; the quick device check is in test_bad_populations_on_the_command_line_are_one_line_errors (CI's `pytest -m slow` stage)
def test_devices_that_do_not_divide_the_population_are_one_line_errors(tmp_path):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu",
               MPLBACKEND="Agg")
    proc = subprocess.run(_command() + ["train", "--hidden", "8", "--steps", "2", "--no-progress", "--population",
                                        "3", "--devices", "2", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 2, proc.stderr
    line = _one_error(proc.stderr)
    assert "a population of 3 networks does not split over 2 devices" in line and "e.g. 4" in line


def test_a_new_run_replaces_the_population_run_with_its_split_networks(tmp_path):
    """A population run with split networks is one neurotrain run: a new run replaces all of it
    (atomically, as any run), and refuses a file neurotrain did not write among the networks."""
    run = tmp_path / "run"
    old = run / "networks" / "net-000"
    old.mkdir(parents=True)
    (run / RunLayout.MARKER_FILE).write_text(json.dumps(RunLayout(str(run)).marker_content()))
    (old / RunLayout.MARKER_FILE).write_text(json.dumps(RunLayout(str(old)).marker_content()))
    (old / "config.json").write_text("{}")
    assert RunLayout(str(run)).state() == "run" and RunLayout(str(run)).foreign_entries() == []
    (run / "networks" / "notes.txt").write_text("mine")                  # not neurotrain's
    opts = RunOptions(task="integrator", cell="vanilla", hidden=4, batch_size=4, steps=2, eval_every=0,
                      eval_trials=8, no_progress=True, no_figures=True, out=str(run))
    with pytest.raises(nt.RunDirectoryError, match=r"networks/notes.txt"):
        train_run(opts)
    assert old.is_dir() and (run / "networks" / "notes.txt").is_file()    # refused: nothing touched
    (run / "networks" / "notes.txt").unlink()
    result = train_run(opts)
    assert result.status == "completed" and not (run / "networks").exists()
    assert any("replacing the earlier run" in n for n in result.notes)


# --------------------------------------------------------------------------------------------
# one run directory, and its networks are those of separate runs
# --------------------------------------------------------------------------------------------
def test_population_run_directory(runs):
    base, pop, _ = runs
    out = Path(pop.run_dir)
    assert pop.status == "completed" and pop.steps_done == 20
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["population"]["size"] == 4 and cfg["population"]["varied"] == ["lr"]
    assert [m["seed"] for m in cfg["population"]["members"]] == [0, 0, 1, 1]
    assert cfg["options"]["population"] == 2 and cfg["options"]["population_grid"] == {"lr": [3e-3, 1e-2]}
    ckpt = read_checkpoint(latest_checkpoint(out))
    assert ckpt["step"] == 20 and ckpt["params"]["layers.0.W_rec"].shape == (4, 8, 8)
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for column in ("loss", "loss_min", "loss_max", "active", "eval_accuracy", "eval_accuracy_min",
                   "eval_accuracy_max"):
        assert column in rows[0], column
    assert [r["step"] for r in rows if r["eval_accuracy_min"]] == ["0", "10", "20"]
    summary = json.loads((out / "summary.json").read_text())
    nets = summary["networks"]
    assert [(r["network"], r["seed"], r["lr"]) for r in nets] == [(0, 0, 3e-3), (1, 0, 1e-2), (2, 1, 3e-3),
                                                                  (3, 1, 1e-2)]
    assert all(r["stopped"] is False and r["stop_reason"] == "completed" for r in nets)
    acc = [r["accuracy"] for r in nets]
    s = summary["population_summary"]["accuracy"]
    assert s["n"] == 4 and s["min"] == min(acc) and s["max"] == max(acc)
    assert s["mean"] == pytest.approx(np.mean(acc)) and s["median"] == pytest.approx(np.median(acc))
    assert summary["final_loss"] == pytest.approx(np.median([r["final_loss"] for r in nets]))
    assert (out / "figures" / "loss_curve.png").is_file() and (out / "figures" / "population_scores.png").is_file()
    report = pop.report()
    assert "trained 4 leaky RNNs (1 x 8 units) together" in report
    for needle in ("network", "seed", "lr", "final_loss", "ideal_accuracy", "trimmed mean", "median", "min", "max"):
        assert needle in report


def test_each_network_of_the_run_is_the_separate_run(runs):
    _, pop, alone = runs
    a = read_checkpoint(latest_checkpoint(alone.run_dir))
    p = read_checkpoint(latest_checkpoint(pop.run_dir))
    _close(a["params"], {k: v[3] for k, v in p["params"].items()})           # network 3: seed 1, lr 1e-2
    row = json.loads(Path(pop.run_dir, "summary.json").read_text())["networks"][3]
    assert row["final_loss"] == pytest.approx(alone.summary["final_loss"], rel=1e-4)
    # the final evaluation: the trials of the separate run's (seed 1 + 1); a trial may flip on rounding
    assert abs(row["accuracy"] - alone.summary["accuracy"]) <= 1.0 / TRIALS
    assert row["ideal_accuracy"] == alone.summary["ideal_accuracy"]


# --------------------------------------------------------------------------------------------
# split, evaluate, analyze, export
# --------------------------------------------------------------------------------------------
def test_a_split_network_is_an_ordinary_run(runs, tmp_path):
    _, pop, alone = runs
    one = split_network(pop.run_dir, 3, tmp_path / "net3")
    assert one.member == {"seed": 1, "lr": 1e-2} and one.step == 20
    assert "wrote network 3" in one.report()
    model, task, cfg = nt.runs.load_run(one.out)
    assert cfg["options"]["seed"] == 1 and cfg["options"]["lr"] == 1e-2 and cfg["options"]["population"] is None
    assert cfg["split_from"]["network"] == 3
    # its checkpoint holds what the separate run's holds at that step: weights, optimiser moments, history
    a = read_checkpoint(checkpoint_path(alone.run_dir, 20))
    b = read_checkpoint(checkpoint_path(one.out, 20))
    _close(a["params"], b["params"])
    oa, ob = _flat(a["opt"]), _flat(b["opt"])
    assert set(oa) == set(ob) and oa
    for key in oa:
        np.testing.assert_allclose(np.asarray(ob[key], np.float64), np.asarray(oa[key], np.float64),
                                   rtol=1e-4, atol=1e-7, err_msg=key)
    np.testing.assert_allclose(b["history"]["loss"], a["history"]["loss"], rtol=1e-5)


@pytest.mark.slow  # evaluate, analyze, export and two resumed trainings (CI's `pytest -m slow` stage)
def test_a_split_network_is_evaluated_analysed_exported_and_trains_on_as_any_run(runs, tmp_path):
    _, pop, alone = runs
    one = split_network(pop.run_dir, 3, tmp_path / "net3")
    # evaluate / analyze / export take it as any run; its scores are the population's row
    ev = nt.runs.evaluate_run(one.out)
    assert ev.seed == 2 and abs(ev.evaluation.scores["accuracy"] - one.summary["accuracy"]) < 1e-9
    row = json.loads(Path(pop.run_dir, "summary.json").read_text())["networks"][3]
    assert abs(ev.evaluation.scores["accuracy"] - row["accuracy"]) <= 1.0 / TRIALS
    an = nt.runs.analyze_run(one.out, trials=32, candidates=8, figures=False)
    assert an.fixed_points.num_points >= 1
    assert nt.runs.export_run(one.out).report()
    # and it trains on alone: resumed for 4 more steps it matches the separate run resumed alike
    more = train_run(resume=one.out, steps=24)
    ref = train_run(resume=alone.run_dir, steps=24)
    assert more.status == ref.status == "completed" and more.resumed_from == 20
    _close(read_checkpoint(latest_checkpoint(ref.run_dir))["params"],
           read_checkpoint(latest_checkpoint(more.run_dir))["params"], rtol=1e-4, atol=1e-5)


def test_a_population_run_is_not_one_model(runs):
    _, pop, _ = runs
    with pytest.raises(nt.CheckpointError, match="holds a population of 4 networks"):
        nt.runs.load_run(pop.run_dir)
    with pytest.raises(nt.ConfigError, match="export one network at a time"):
        nt.runs.export_run(pop.run_dir)
    with pytest.raises(nt.ConfigError, match="network = 4 is not valid|network must be an integer"):
        split_network(pop.run_dir, 4)
    code, _, err = run_cli(["export", pop.run_dir])
    assert code == 2 and "neurotrain split" in _one_error(err)


def test_evaluate_every_network(runs):
    _, pop, _ = runs
    ev = nt.runs.evaluate_run(pop.run_dir)
    rows = json.loads(Path(pop.run_dir, "summary.json").read_text())["networks"]
    # the final evaluation's trials (each network's seed + 1), in the same mapped program
    assert ev.evaluation.seeds == (1, 1, 2, 2)
    np.testing.assert_array_equal(ev.evaluation.scores["accuracy"], [r["accuracy"] for r in rows])
    record = json.loads(Path(pop.run_dir, "evaluation.json").read_text())
    assert len(record["networks"]) == 4 and "trimmed_mean" in record["population_summary"]["accuracy"]
    paired = nt.runs.evaluate_run(pop.run_dir, seed=7, save=False)     # the same trials for every network
    assert paired.evaluation.seeds == (7,) * 4 and len(set(paired.evaluation.scores["ideal_accuracy"])) == 1


@pytest.mark.slow  # the fixed points of each network (CI's `pytest -m slow` stage)
def test_analyze_every_network(runs):
    _, pop, _ = runs
    code, out, err = run_cli(["analyze", pop.run_dir, "--networks", "0,3", "--trials", "32", "--candidates", "8",
                           "--no-figures"])
    assert code == 0, err
    assert "analysed 2 networks" in out and "stable" in out and "trimmed mean" in out
    analysis = json.loads(Path(pop.run_dir, "analysis.json").read_text())
    assert [r["network"] for r in analysis["networks"]] == [0, 3]
    assert analysis["population_summary"]["fixed_points"]["n"] == 2
    for k in (0, 3):
        net = Path(pop.run_dir, "networks", f"net-{k:03d}")
        assert json.loads((net / "analysis.json").read_text())["fixed_points"]["num_points"] == \
            analysis["networks"][[0, 3].index(k)]["fixed_points"]


# --------------------------------------------------------------------------------------------
# resume
# --------------------------------------------------------------------------------------------
@pytest.mark.slow  # three training runs; test_population.py checks the resume of the stacked checkpoints quickly (CI's `pytest -m slow` stage)
def test_a_population_run_resumes_after_sigterm_bit_identically(tmp_path, monkeypatch):
    opts = dict(BASE, eval_every=5, checkpoint_every=4, population=3, no_figures=True)
    ref = train_run(RunOptions(**opts, out=str(tmp_path / "ref")))
    original = CSVLogger.on_log

    def on_log(self, trainer, logs):   # a cluster's SIGTERM at step 10
        original(self, trainer, logs)
        if logs["step"] == 10:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(CSVLogger, "on_log", on_log)
    first = train_run(RunOptions(**opts, out=str(tmp_path / "run")))
    monkeypatch.undo()
    assert first.status == "terminated" and first.steps_done == 10 and first.checkpoint_written
    assert json.loads(Path(first.run_dir, "summary.json").read_text())["population"]["active"] == 3
    again = train_run(resume=first.run_dir)
    assert again.status == "completed" and again.resumed_from == 10
    a, b = (read_checkpoint(latest_checkpoint(d)) for d in (ref.run_dir, again.run_dir))
    for k in a["params"]:
        np.testing.assert_array_equal(b["params"][k], a["params"][k], err_msg=k)
    assert Path(again.run_dir, "metrics.csv").read_text() == Path(ref.run_dir, "metrics.csv").read_text()
    sa, sb = (json.loads(Path(d, "summary.json").read_text()) for d in (ref.run_dir, again.run_dir))
    assert sb["networks"] == sa["networks"] and sb["resumed_from"] == 10
    assert train_run(resume=again.run_dir).status == "already-done"


def _command():
    script = Path(sys.executable).with_name("neurotrain")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from neurotrain.cli import main; sys.exit(main())"]


@pytest.mark.slow  # subprocess training runs (CI's `pytest -m slow` stage)
def test_a_population_run_killed_at_a_random_step_resumes_bit_identically(tmp_path):
    steps = 120
    argv = ["train", "--task", "copy", "--task-param", "length=2", "--task-param", "delay=3", "--cell", "leaky",
            "--cell-param", "sigma_rec=0.1", "--hidden", "8", "--batch-size", "4", "--steps", str(steps),
            "--population", "3", "--population-grid", "lr=3e-3,1e-2", "--eval-every", "0", "--eval-trials", "16",
            "--checkpoint-every", "3", "--keep-checkpoints", "2", "--no-progress", "--no-figures", "--seed", "5"]
    env = dict(os.environ, MPLBACKEND="Agg")

    def start(out):
        return subprocess.Popen(_command() + argv + ["--out", str(out)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)

    ref, victim = start(tmp_path / "ref"), start(tmp_path / "killed")
    seed = int.from_bytes(os.urandom(4), "little")
    target = random.Random(seed).randint(1, steps * 2 // 3)
    while victim.poll() is None:
        if max((s for s, _ in list_checkpoints(tmp_path / "killed")), default=0) >= target:
            time.sleep(random.Random(seed).uniform(0.0, 0.02))
            victim.kill()
            break
        time.sleep(0.005)
    victim.communicate(timeout=120)
    why = f"(random seed {seed}, killed after the checkpoint of step {target})"
    assert victim.returncode == -signal.SIGKILL, why
    resumed = subprocess.run(_command() + ["train", "--resume", str(tmp_path / "killed")], capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stderr + why
    assert "resuming" in resumed.stderr and "trained 6 leaky RNNs" in resumed.stdout
    _, err = ref.communicate(timeout=600)
    assert ref.returncode == 0, err
    a, b = (read_checkpoint(latest_checkpoint(tmp_path / d)) for d in ("ref", "killed"))
    for k in a["params"]:
        np.testing.assert_array_equal(b["params"][k], a["params"][k], err_msg=f"{k} {why}")
    assert (tmp_path / "killed" / "metrics.csv").read_text() == (tmp_path / "ref" / "metrics.csv").read_text(), why
    sa, sb = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("ref", "killed"))
    assert sb["networks"] == sa["networks"], why


def test_a_constrained_population_run_keeps_every_networks_constraints(tmp_path):
    """Dale's law, a connectivity mask and a frozen input matrix hold for every network of a
    population run, and a split network is the separate run with its seed (constraints included)."""
    rng = np.random.default_rng(0)
    mask = rng.random((8, 8)) < 0.6
    np.save(tmp_path / "conn.npy", mask.astype(np.float32))
    opts = dict(BASE, dale=0.75, masks={"W_rec": str(tmp_path / "conn.npy")}, freeze={"W_in": True})
    pop = train_run(RunOptions(**opts, population=2, out=str(tmp_path / "pop"), no_figures=True))
    alone = train_run(RunOptions(**opts, seed=1, out=str(tmp_path / "alone"), no_figures=True))
    assert pop.status == "completed" and alone.status == "completed"
    for k in range(2):
        net = split_network(pop.run_dir, k, tmp_path / f"net{k}")
        model, _, cfg = nt.runs.load_run(net.out)
        assert cfg["options"]["dale"] == 0.75 and cfg["options"]["seed"] == k
        types = model.layers[0].unit_types
        W = model.effective_weights()["layers.0.W_rec"]
        assert np.all(W[types > 0] >= 0) and np.all(W[types < 0] <= 0), k      # signs of the presynaptic units
        assert np.all(W[~mask] == 0) and np.count_nonzero(W[mask]) > 0.9 * mask.sum(), k
        # frozen: the input weights are bit-identical to the network's initial ones
        initial = member_params(model, [k])[("layers", 0, "W_in")][0]
        np.testing.assert_array_equal(
            read_checkpoint(latest_checkpoint(pop.run_dir))["params"]["layers.0.W_in"][k], np.asarray(initial))
    a = read_checkpoint(latest_checkpoint(alone.run_dir))
    p = read_checkpoint(latest_checkpoint(pop.run_dir))
    _close(a["params"], {k: v[1] for k, v in p["params"].items()})              # network 1 = seed 1
