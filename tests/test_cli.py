"""The ``neurotrain`` command: in-process through ``main([...])`` and once as a real subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import neurotrain as nt
from neurotrain.cli import main
from neurotrain.cli._main import parse_key_values
from neurotrain.io import RunLayout

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ["--hidden", "12", "--batch-size", "8", "--no-progress"]


def _one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("neurotrain: error: "), err
    assert "Traceback" not in err
    return lines[0]


# --------------------------------------------------------------------------------------------
# parsing, help, tasks
# --------------------------------------------------------------------------------------------
def test_parse_key_values_json_or_string():
    assert parse_key_values(["delay=20", "tau=12.5", "activation=tanh", "coherences=[0, 51.2]",
                             "train_h0=true", "bias=False", "name=a=b"], "--x") == {
        "delay": 20, "tau": 12.5, "activation": "tanh", "coherences": [0, 51.2], "train_h0": True,
        "bias": False, "name": "a=b"}
    assert parse_key_values(["decision-weight=2"], "--x") == {"decision_weight": 2}


def test_help_explains_every_flag_with_its_default(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    recipe = "the task's recipe; {} for the default task"   # the options a task's recipe sets
    for flag, default in [("--task", "perceptual-decision-making"), ("--cell", recipe.format("leaky")),
                          ("--method", "bptt"), ("--hidden", recipe.format("128")), ("--layers", "1"),
                          ("--steps", recipe.format("2000")), ("--batch-size", recipe.format("32")),
                          ("--lr", recipe.format("0.01")), ("--l2", recipe.format("0")),
                          ("--rate-l2", recipe.format("0")), ("--clip-norm", recipe.format("1")),
                          ("--seed", "0"), ("--out", "runs/<task>-<cell>-<YYYYmmdd-HHMMSS>"),
                          ("--eval-trials", recipe.format("2000")), ("--eval-every", recipe.format("200")),
                          ("--task-param", "none"), ("--cell-param", recipe.format("none")),
                          ("--no-progress", "shown"), ("--config", "none"),
                          ("--checkpoint-every", "500"), ("--keep-checkpoints", "3"),
                          ("--activity-bound", "1e4"), ("--no-figures", "drawn"), ("--dry-run", "train"),
                          ("--resume", "a new run"), ("--method-param", "none"),
                          ("--optimizer", recipe.format("adam")), ("--lr-schedule", recipe.format("exponential")),
                          ("--warmup-steps", recipe.format("0")), ("--stop-at", recipe.format("none")),
                          ("--restore-best", recipe.format("true")), ("--optimizer-param", recipe.format("none"))]:
        assert flag in out
        assert f"(default: {default})" in " ".join(out.split()), flag
    assert "--no-restore-best" in out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "evaluate" in out and "export" in out and "--resume" in out


def test_tasks_lists_names_aliases_papers(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for t in nt.tasks.list_tasks():
        assert t["name"] in out and t["description"] in out and t["paper"] in out
    assert "aliases: pdm" in out


def test_no_command_and_version(capsys):
    assert main([]) == 2
    assert "choose a command" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert nt.__version__ in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# user errors: exit code 2 and one clear line
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, needle", [
    (["--task", "nosuchtask"], "nosuchtask"),
    (["--cell", "transformer"], "transformer"),
    (["--method", "magic"], "magic"),
    (["--task", "copy", "--task-param", "delya=3"], "delya"),
    (["--task-param", "delay"], "KEY=VALUE"),
    (["--cell-param", "tau=10"], "larger than tau=10"),
    (["--steps", "0"], "--steps"),
    (["--lr", "abc"], "--lr"),
    (["--cell", "gru", "--cell-param", "tau=50"], "tau"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, args, needle):
    out_dir = tmp_path / "run"
    assert main(["train", "--out", str(out_dir), *args]) == 2
    captured = capsys.readouterr()
    assert needle in _one_error_line(captured.err)
    assert captured.out == ""
    assert not out_dir.exists()  # nothing written for a bad command line


def test_evaluate_missing_run_dir_exits_2(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["evaluate", str(missing)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(missing) in line and "does not exist" in line


# --------------------------------------------------------------------------------------------
# a real (tiny) training run
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def copy_run(tmp_path_factory):
    """``neurotrain train --task copy --task-param delay=7`` with a tiny GRU, in-process."""
    out = tmp_path_factory.mktemp("cli") / "copy-run"
    argv = ["train", "--task", "copy", "--task-param", "delay=7", "--task-param", "length=3",
            "--cell", "gru", "--steps", "20", "--eval-every", "10", "--eval-trials", "64",
            "--seed", "3", "--out", str(out), *TINY]
    return out, main(argv)


def test_train_writes_run_dir_with_task_params(copy_run):
    out, code = copy_run
    assert code == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task"]["params"]["delay"] == 7 and cfg["task"]["params"]["length"] == 3
    task = nt.tasks.task_from_config(cfg["task"])
    assert task.num_steps() == 2 * 3 + 7  # T really changed
    assert cfg["model"]["cell"] == "gru" and cfg["model"]["layers"][0]["num_rec"] == 12
    assert cfg["seed"] == 3 and cfg["method"]["name"] == "bptt"
    assert cfg["optimizer"]["name"] == "adam" and cfg["optimizer"]["lr"] == 0.01
    # the optimiser as trained, its schedule the copy recipe's (the flags set neither)
    recipe = nt.training.recipe_for("copy", delay=7, length=3)
    # (the recipe's cosine runs over the run's 20 steps: its length is recorded)
    want = recipe.optimizer.to_dict()
    assert cfg["optimizer"] == {**want, "schedule": {**want["schedule"], "lr_decay_every": 20}}
    assert cfg["optimizer"]["schedule"]["name"] == "cosine"
    assert cfg["recipe"]["name"] == "copy" and "lr" in cfg["recipe"]["options_taken"]
    assert "steps" not in cfg["recipe"]["options_taken"]
    assert cfg["training"]["num_steps"] == 20 and cfg["training"]["batch_size"] == 8
    assert {"neurotrain", "jax", "brainstate", "braintools", "braintrace"} <= set(cfg["versions"])
    # the complete resolved options: enough to rerun (--config) or resume (--resume) the run
    opts = cfg["options"]
    assert opts["task"] == "copy" and opts["task_params"] == {"delay": 7, "length": 3}
    assert opts["hidden"] == 12 and opts["steps"] == 20 and opts["seed"] == 3 and opts["out"] == str(out)
    assert opts["checkpoint_every"] == 500 and opts["activity_bound"] == 1e4
    # checkpoints: before the first step and at the end (every 500 > 20 steps)
    assert [s for s, _ in nt.io.list_checkpoints(out)] == [0, 20]
    assert nt.io.read_checkpoint(nt.io.checkpoint_path(out, 20))["step"] == 20


def test_train_summary_metrics_and_figures(copy_run):
    out, _ = copy_run
    summary = json.loads((out / "summary.json").read_text())
    assert {"task", "steps", "wall_time_s", "final_loss", "accuracy"} <= set(summary)
    assert summary["task"] == "copy" and summary["steps"] == 20
    assert 0.0 <= summary["accuracy"] <= 1.0 and summary["final_loss"] > 0
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [0, 10, 20]  # step 0: evaluation before training
    assert all(r["eval_accuracy"] for r in rows) and rows[0]["loss"] == ""
    assert all(float(r["loss"]) > 0 for r in rows[1:])
    for name in ("loss_curve.png", "example_trials.png"):
        data = (out / "figures" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_evaluate_reloads_and_reproduces_the_report(copy_run, capsys):
    out, _ = copy_run
    summary = json.loads((out / "summary.json").read_text())
    assert main(["evaluate", str(out)]) == 0
    printed = capsys.readouterr().out
    ev = json.loads((out / "evaluation.json").read_text())
    # default: the run's eval trials and seed + 1, i.e. the trials of the training report
    assert ev["num_trials"] == 64 and ev["seed"] == 4
    assert ev["scores"]["accuracy"] == pytest.approx(summary["accuracy"], abs=0)
    assert str(out) in printed and f"{100 * summary['accuracy']:.1f} %" in printed
    assert main(["evaluate", str(out), "--trials", "32", "--seed", "9"]) == 0
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev["num_trials"] == 32 and ev["seed"] == 9


def test_leaky_cell_defaults_and_overrides(tmp_path, capsys):
    out = tmp_path / "leaky"
    argv = ["train", "--task", "pdm", "--task-param", "stimulus=200", "--steps", "10", "--eval-every", "0",
            "--eval-trials", "100", "--cell-param", "tau=50", "--cell-param", "activation=tanh",
            "--out", str(out), *TINY]
    assert main(argv) == 0
    layer = json.loads((out / "config.json").read_text())["model"]["layers"][0]
    assert layer["dt"] == 20.0  # the task's dt
    assert layer["tau"] == 50.0 and layer["activation"] == "tanh"  # user overrides
    printed = capsys.readouterr().out
    # a decision task reports the ideal observer, the gap and the per-condition table
    assert "ideal" in printed and "gap" in printed and "per coherence" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert {"accuracy", "ideal_accuracy", "per_condition"} <= set(summary)
    assert (out / "figures" / "performance_by_condition.png").read_bytes().startswith(PNG_MAGIC)


def test_diverging_training_exits_3_and_keeps_weights(tmp_path, capsys):
    out = tmp_path / "diverged"
    argv = ["train", "--task", "integrator", "--cell", "vanilla", "--steps", "30", "--lr", "1e8",
            "--eval-every", "0", "--eval-trials", "16", "--out", str(out), *TINY]
    assert main(argv) == 3
    line = _one_error_line(capsys.readouterr().err)
    assert "diverged" in line and str(out) in line and "the last good checkpoint is" in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == "diverged" and summary["diverged_at_step"] >= 1
    assert summary["last_checkpoint_step"] < summary["diverged_at_step"]
    model, task, _ = nt.runs.load_run(out)  # the saved (last good) weights are finite and load
    import brainstate
    import numpy as np

    assert all(np.isfinite(np.asarray(s.value)).all() for s in model.states(brainstate.ParamState).values())


@pytest.mark.slow  # a fresh interpreter with the console script (the in-process CLI tests run by default)
def test_console_script_in_a_subprocess(tmp_path):
    out = tmp_path / "sub"
    script = Path(sys.executable).with_name("neurotrain")
    cmd = [str(script)] if script.exists() else [sys.executable, "-c",
                                                  "import sys; from neurotrain.cli import main; sys.exit(main())"]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(cmd + ["train", "--steps", "20", "--task", "integrator", "--cell", "vanilla",
                                 "--eval-trials", "32", "--eval-every", "10", "--out", str(out), *TINY],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "mse" in proc.stdout and str(out) in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "integrator" and summary["mse"] >= 0 and "accuracy" not in summary
    assert "Traceback" not in proc.stderr


def test_rerun_into_the_same_dir_clears_stale_results(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "checkpoints").mkdir()
    for name in ("config.json", "summary.json", "evaluation.json", "figures/loss_curve.png", "notes.txt",
                 "checkpoints/step-00000100.msgpack", "checkpoints/mine.msgpack"):
        (tmp_path / name).write_text("old")
    for path in RunLayout(tmp_path).train_outputs():   # what `train` deletes (and says so: test_runs.py)
        os.remove(path)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["mine.msgpack", "notes.txt"]


def test_export_writes_numpy_weights_that_reproduce_the_network(copy_run, tmp_path, capsys):
    import brainstate
    import jax
    import numpy as np

    out, _ = copy_run
    dest = tmp_path / "exported"
    assert main(["export", str(out), "--format", "npz", "--out", str(dest)]) == 0
    printed = capsys.readouterr().out
    assert str(dest / "weights.npz") in printed and "read_export" in printed
    weights, desc = nt.io.read_export(dest)
    model, task, _ = nt.runs.load_run(out)
    assert set(weights) == {".".join(map(str, k)) for k in model.states(brainstate.ParamState)}
    assert desc["task"]["name"] == "copy" and desc["task"]["params"]["delay"] == 7
    assert desc["layers"][0]["kind"] == "gru" and desc["source"]["step"] == 20
    batch = task.sample(jax.random.PRNGKey(0), 5)
    ref, _ = model.run(batch.inputs)
    got, _ = nt.io.numpy_forward(weights, desc, np.asarray(batch.inputs))
    np.testing.assert_allclose(got, np.asarray(ref), rtol=1e-4, atol=1e-5)
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "does not exist" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("method, cell", [("d-rtrl", "gru"), ("pp-prop", "lstm")])
def test_train_online_method_records_how_each_parameter_was_trained(tmp_path, capsys, method, cell):
    """``--method d-rtrl`` / ``pp-prop`` with a gated cell: every cell weight is trained online,
    the readout exactly, and the run directory says so (config.json and summary.json)."""
    out = tmp_path / "run"
    code = main(["train", "--task", "copy", "--task-param", "length=3", "--task-param", "delay=2",
                 "--cell", cell, "--method", method, "--method-param", "warmup=auto", "--steps", "6",
                 "--eval-every", "0", "--eval-trials", "16", "--no-figures", "--out", str(out), *TINY])
    assert code == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    assert config["method"]["name"] == method and config["method"]["warmup"] == "auto"
    summary = json.loads((out / "summary.json").read_text())
    how = summary["parameters"]
    assert summary["not_trained"] == {}
    assert how["readout.W"].startswith("exact") and how["readout.b"].startswith("exact")
    gates = [k for k in how if k.startswith("layers.0.")]
    expected = {"gru": {"W_z", "W_r", "W_xn", "W_hn"}, "lstm": {"W_i", "W_f", "W_g", "W_o"}}[cell]
    assert expected <= {k.split(".")[-1] for k in gates}
    assert all(how[k] == f"online, approximate ({method}, multi-step VJP)" for k in gates)
