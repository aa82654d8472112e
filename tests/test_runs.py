"""neurotrain.runs: the commands as Python calls (train, evaluate, analyze, export a run directory),
``RunOptions``, and writing / rebuilding run directories (``save_run``, ``load_run``)."""

from __future__ import annotations

import json
import os
import shutil

import brainstate
import braintools
import jax
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.io import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    SUMMARY_FILE,
    checkpoint_path,
    list_checkpoints,
    read_checkpoint,
    save_checkpoint,
)
from neurotrain.runs import (
    ResumeError,
    RunOptions,
    analyze_run,
    evaluate_run,
    export_run,
    load_run,
    plan_run,
    save_run,
    train_run,
)
from neurotrain.training import TrainConfig

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _values(model):
    return {k: np.asarray(v.value) for k, v in model.states(brainstate.ParamState).items()}


def _outputs(model, seed=0):
    x = jax.random.normal(jax.random.PRNGKey(seed), (6, 4, model.num_in))
    out, act = model.run(x)
    return np.asarray(out), np.asarray(act)


def _model(seed=0, num_rec=8, layers=2, train_h0=True, cell="leaky"):
    brainstate.random.seed(seed)
    kw = {"tau": 100.0, "dt": 20.0} if cell == "leaky" else {}
    return nt.models.build_model(cell, 3, num_rec, 3, num_layers=layers, train_h0=train_h0, **kw)


# --------------------------------------------------------------------------------------------
# RunOptions
# --------------------------------------------------------------------------------------------
def test_run_options_defaults_come_from_the_recipe_and_train_config():
    opts = RunOptions()
    recipe = nt.training.recipe_for("pdm")
    assert (opts.task, opts.cell, opts.hidden, opts.layers, opts.method, opts.lr) == (
        "perceptual-decision-making", recipe.cell, recipe.hidden, 1, "bptt", recipe.optimizer.lr)
    assert (opts.cell, opts.hidden, opts.lr, opts.steps, opts.batch_size) == ("leaky", 128, 0.01, 2000, 32)
    # the training settings a recipe sets are its; the others TrainConfig's
    for name in ("steps", "batch_size", "l2", "rate_l2", "clip_norm", "eval_every", "eval_trials"):
        assert getattr(opts, name) == getattr(recipe, name), name
    assert (opts.steps, opts.eval_every, opts.eval_trials, opts.clip_norm) == (2000, 200, 2000, 1.0)
    for name, train_name in [("seed", "seed"), ("activity_bound", "activity_bound")]:
        assert getattr(opts, name) == TrainConfig.default(train_name), name
    for name, train_name in [("batch_size", "batch_size"), ("seed", "seed"), ("l2", "l2"),
                             ("rate_l2", "rate_l2"), ("clip_norm", "clip_norm"),
                             ("activity_bound", "activity_bound")]:
        assert RunOptions.help(name).startswith(TrainConfig.help(train_name)), name
        assert RunOptions.resumable(name) is TrainConfig.resumable(train_name), name
    assert RunOptions.help("steps") == TrainConfig.help("num_steps") and RunOptions.resumable("steps")
    assert RunOptions.help("l2") == TrainConfig.help("l2")
    assert RunOptions.resumable_names() == ("steps", "devices", "chunk", "eval_every", "stop_at", "restore_best", "checkpoint_every",
                                            "keep_checkpoints", "no_progress", "no_figures")
    cfg = RunOptions(steps=30, clip_norm=1.0, seed=4).train_config()
    assert (cfg.num_steps, cfg.clip_norm, cfg.seed, cfg.eval_every) == (30, 1.0, 4, 200)


@pytest.mark.parametrize("changes, needles", [
    ({"steps": 0}, ["steps = 0 is not valid", "an integer >= 1"]),
    ({"lr": float("nan")}, ["lr = nan", "a number > 0"]),
    ({"seed": 2 ** 31}, ["seed = 2147483648", "from 0 to 2147483647"]),
    ({"clip_norm": "big"}, ["clip_norm", 'a positive number, or "none"']),
    ({"no_figures": 1}, ["no_figures = 1", "true or false"]),
    ({"task_params": [1]}, ["task_params = [1]", "a table"]),
    ({"cell_params": {"tau": float("inf")}}, ["cell_params.tau must be a finite number; got inf"]),
    ({"method_params": {"decay": [0.5, float("nan")]}}, ["method_params.decay[1] must be a finite number"]),
    ({"task_params": {"coherences": {"low": float("-inf")}}}, ["task_params.coherences.low"]),
    ({"task": ""}, ["task = ''", "a name"]),
    ({"out": ""}, ["out = ''", "a folder path"]),
])
def test_run_options_refuse_bad_values_naming_them(changes, needles):
    with pytest.raises(nt.ConfigError) as err:
        RunOptions(**changes)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))
    with pytest.raises(nt.ConfigError, match="^my.toml: "):
        RunOptions.from_dict(changes, source="my.toml")


def test_run_options_tables_dicts_and_files(tmp_path):
    opts = RunOptions.from_dict({"task": "copy", "batch-size": 16, "task_params": {"delay": 3}, "clip_norm": "none"})
    assert opts.batch_size == 16 and opts.task_params == {"delay": 3} and opts.clip_norm is None
    merged = opts.updated({"task_params": {"length": 2}})
    assert merged.task_params == {"delay": 3, "length": 2}                 # tables merge key by key
    assert opts.replace(task_params={"length": 2}).task_params == {"length": 2}   # replace replaces
    with pytest.raises(nt.ConfigError, match="unknown option 'stepz'. Did you mean 'steps'"):
        RunOptions.from_dict({"stepz": 1})
    with pytest.raises(nt.ConfigError, match="option 'batch_size' is given twice"):
        RunOptions.check_values({"batch-size": 1, "batch_size": 2})
    # to_dict is the `options` of config.json; to_text is a configuration file that reads back
    assert list(opts.to_dict()) == list(RunOptions.names())
    for fmt in ("toml", "json"):
        path = tmp_path / f"run.{fmt}"
        path.write_text(merged.to_text(fmt))
        assert RunOptions.from_file(path) == merged
    # a run's config.json: its options, without its folder
    (tmp_path / "config.json").write_text(json.dumps({"options": {**merged.to_dict(), "out": "old"}}))
    assert RunOptions.from_file(tmp_path / "config.json") == merged.replace(out=None) == merged


def test_plan_run_resolves_cell_params_and_names_bad_ones(tmp_path):
    plan = plan_run(RunOptions(task="pdm", cell="rate", out=str(tmp_path / "p")))
    assert plan.options.cell == "leaky" and plan.options.cell_params == {"dt": 20.0, "tau": 100.0}
    assert plan.task.name == "perceptual-decision-making" and plan.method.name == "bptt" and plan.out_given
    assert 'cell = "leaky"' in plan.to_text() and f'out = "{tmp_path / "p"}"' in plan.to_text()
    fresh = plan_run(RunOptions(task="copy", cell="gru"))
    assert not fresh.out_given and fresh.run_dir.startswith(os.path.join("runs", "copy-gru-"))
    lines = fresh.to_text().splitlines()
    assert not any(line.startswith("out") for line in lines) and "out is not set" in fresh.to_text()
    for opts, needle in [(dict(cell="gru", cell_params={"tau": 5.0}), "cell 'gru' has no parameter 'tau'"),
                         (dict(cell_params={"tau": 10.0}), "larger than tau=10"),
                         (dict(task="copy", task_params={"delya": 3}), "delya"),   # RunOptions builds the task
                         (dict(method="magic"), "magic")]:                         # for its recipe
        with pytest.raises(nt.ConfigError, match=needle):
            plan_run(RunOptions(**opts))
    assert not (tmp_path / "p").exists()                     # planning writes nothing


# --------------------------------------------------------------------------------------------
# train_run, evaluate_run, analyze_run, export_run on one tiny run
# --------------------------------------------------------------------------------------------
# the last weights are the run's here (tests/test_recipes.py tests restoring the best ones)
TINY = RunOptions(task="pdm", task_params={"stimulus": 200.0}, hidden=8, batch_size=8, steps=20,
                  eval_every=10, eval_trials=64, seed=3, no_progress=True, restore_best=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``train_run`` of a 20-step decision-making run into a folder holding an earlier run."""
    out = tmp_path_factory.mktemp("runs") / "pdm"
    task = nt.tasks.Integrator()
    save_run(out, model=nt.models.build_model("vanilla", num_rec=4, task=task), task=task, figures=False)
    (out / "figures").mkdir(parents=True)
    for name in ("evaluation.json", "figures/eigenvalues.png"):     # stale results of the earlier run
        (out / name).write_text("old")
    seen = []
    result = train_run(TINY.replace(out=str(out)), notes=seen.append, command="pytest")
    return out, result, seen


def test_train_run_result_files_and_notes(trained):
    out, result, seen = trained
    assert result.status == "completed" and result.ok
    assert result.run_dir == str(out) and result.steps_done == 20 == result.num_steps
    assert seen[:1] == list(result.notes)[:1] == [
        f"note: replacing the earlier run in {out}; it stays whole until the new run has started"]
    assert not (out / "evaluation.json").exists() and not (out / "figures" / "eigenvalues.png").exists()
    assert not (out / "summary.json").read_text().count('"integrator"')    # the earlier run is gone
    # the resolved options are recorded, and rebuild the same model
    assert result.options.cell_params == {"dt": 20.0, "tau": 100.0} and result.options.out == str(out)
    config = json.loads((out / "config.json").read_text())
    assert config["options"] == result.options.to_dict() and config["command"] == "pytest"
    assert config["training"] == {**result.options.train_config().to_dict(), "log_every": 10,
                                  "checkpoint_every": 500, "keep_checkpoints": 3}
    model, task, _ = load_run(out)
    assert task == result.task and model.config() == result.model.config()
    for k, v in _values(result.model).items():
        np.testing.assert_array_equal(_values(model)[k], v)
    # the summary on disk is the result's, and agrees with the evaluation and the training result
    summary = json.loads((out / "summary.json").read_text())
    assert summary == result.summary and summary["steps"] == 20 and summary["stop_reason"] == "completed"
    assert summary["accuracy"] == result.evaluation.scores["accuracy"]
    assert summary["final_loss"] == pytest.approx(result.train_result.final_loss)
    assert result.evaluation.num_trials == 64 and result.eval_seed == 4
    assert result.checkpoint == checkpoint_path(out, 20) and result.checkpoint_step == 20
    assert [s for s, _ in list_checkpoints(out)] == [0, 20]
    assert [os.path.basename(f) for f in result.figures] == [
        "loss_curve.png", "example_trials.png", "performance_by_condition.png"]
    assert all(open(f, "rb").read(8) == PNG_MAGIC for f in result.figures)


def test_train_run_report_is_what_the_command_prints(trained):
    out, result, _ = trained
    lines = result.report().splitlines()
    assert lines[0] == "neurotrain: trained a leaky RNN (1 x 8 units) on perceptual-decision-making with bptt"
    assert lines[1] == f"  run dir      {out}"
    assert lines[2].startswith("  trained      20 steps (completed) in ")
    rows = {line[:15].strip(): line[15:] for line in lines[3:] if line.startswith("  ") and line[2] != " "}
    assert f"{100 * result.summary['accuracy']:.1f} % on 64 fresh trials (seed 4)" in rows["accuracy"]
    assert "ideal observer, same trials" in rows["ideal"] and "  per coherence:" in lines
    held = result.summary["held_out"]
    assert rows["held-out"].startswith(f"accuracy {100 * held['best']['value']:.1f} % best (step 0), ")
    assert "(--restore-best makes them the run's)" in rows["weights"]
    assert rows["criterion"] == "accuracy within 3 points of the ideal observer: NOT met"
    assert lines[-2] == "    (accuracy, ideal and gap in %)"
    # 20 steps teach this network nothing: the report ends saying so (see test_run_safety.py)
    assert lines[-1] == f"  warning      {result.summary['warning']}"
    assert result.summary["warning"].startswith("this run learned nothing")


def test_resuming_a_finished_run_does_nothing_and_changes_are_checked(trained):
    out, _, _ = trained
    before = (out / "config.json").read_bytes()
    again = train_run(resume=out, notes=[].append)
    assert again.status == "already-done" and again.ok and again.checkpoint == checkpoint_path(out, 20)
    assert again.report() == (f"nothing to resume: {out} already finished its 20 steps (checkpoint "
                              f"{checkpoint_path(out, 20)}). Pass --steps N with N > 20 to train further.")
    assert (out / "config.json").read_bytes() == before               # nothing rewritten
    with pytest.raises(ResumeError) as err:
        train_run(resume=out, lr=0.5)
    assert err.value.option == "lr" and err.value.allowed == RunOptions.resumable_names()
    assert "lr cannot be changed when resuming" in str(err.value)
    with pytest.raises(nt.ConfigError, match="does not exist"):
        train_run(resume=out / "missing")


def test_train_run_resumes_to_more_steps(trained, tmp_path):
    out, first, _ = trained
    run = shutil.copytree(out, tmp_path / "more")
    seen = []
    result = train_run(resume=run, steps=24, notes=seen.append)
    assert result.status == "completed" and result.resumed_from == 20 and result.steps_done == 24
    assert seen[0] == f"resuming {run} from step 20 of 24 ({checkpoint_path(run, 20)})"
    assert seen[1:] == [f"warning: {result.summary['warning']}"]       # 24 steps still learn nothing
    assert "(resumed at step 20)" in result.report().splitlines()[0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 24 and summary["resumed_from"] == 20
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["steps"] == 24 and config["training"]["num_steps"] == 24
    assert [r["command"] for r in config["resumed"]] == ["neurotrain.runs.train_run(...)"]
    np.testing.assert_array_equal(result.train_result.loss[:20], first.train_result.loss)


def test_evaluate_run_reproduces_the_final_evaluation(trained):
    out, trainedrun, _ = trained
    result = evaluate_run(out, notes=[].append)
    assert result.num_trials == 64 and result.seed == 4 and result.notes == ()
    assert result.evaluation.scores == trainedrun.evaluation.scores
    assert json.loads((out / "evaluation.json").read_text()) == result.record
    assert result.record["scores"]["accuracy"] == trainedrun.summary["accuracy"]
    assert result.train_summary == trainedrun.summary and result.file == str(out / "evaluation.json")
    lines = result.report().splitlines()
    assert lines[0] == f"neurotrain: evaluated {out} on perceptual-decision-making"
    assert lines[1:] == trainedrun.report().splitlines()[1:]          # the training report, again
    other = evaluate_run(out, trials=32, seed=9)
    assert (other.num_trials, other.seed, other.record["num_trials"]) == (32, 9, 32)
    with pytest.raises(nt.ConfigError, match="trials must be an integer >= 1"):
        evaluate_run(out, trials=0)


def test_analyze_run_summary_results_and_report(trained):
    out, _, _ = trained
    result = analyze_run(out, trials=32, candidates=8, formats="png")
    assert result.seed == 5 and result.input_names == ("fixation", "stimulus", "decision")
    assert json.loads((out / "analysis.json").read_text()) == result.summary
    assert result.summary["behaviour"]["num_trials"] == 32
    assert result.summary["fixed_points"]["num_points"] == result.fixed_points.num_points
    # 20 steps teach no choice yet (no_choice = 1): no psychometric curve to fit, and it says why
    assert result.summary["behaviour"]["scores"]["no_choice"] == 1.0 and result.psychometric is None
    assert result.summary["psychometric"] == {
        "defined": False, "reason": "psychometric: no trial left to fit (all excluded or where= selects none)."}
    assert [os.path.relpath(f, out) for f in result.files] == [
        os.path.join("analysis", f) for f in ("fixed_points.json", "fixed_points.npz", "pca.json", "pca.npz")]
    assert sorted(result.summary["figures"]) == sorted(os.path.relpath(f, out) for f in result.figures)
    names = {os.path.basename(f) for f in result.figures}
    assert "activity_heatmap.png" in names and "psychometric.png" not in names
    report = result.report().splitlines()
    assert report[0] == f"neurotrain: analysed {out} (perceptual-decision-making)"
    assert report[1].startswith("  accuracy               0 (32 trials, seed 5)")
    assert report[2].startswith(f"  fixed points (exact)  {result.fixed_points.num_points} over 3 input(s)")
    assert [line.split()[0] for line in report[3:6]] == ["fixation", "stimulus", "decision"]
    assert report[-1] == (f"  wrote {out / 'analysis.json'}, 4 files in {out / 'analysis'}, "
                          f"{len(result.figures)} figures in {out / 'figures'}")
    for bad, needle in [({"mode": "fast"}, "mode must be one of"), ({"formats": ("jpg",)}, "formats must be one of"),
                        ({"candidates": 0}, "candidates must be an integer >= 1")]:
        with pytest.raises(nt.ConfigError, match=needle):
            analyze_run(out, **bad)


def test_export_run_writes_weights_that_load(trained, tmp_path):
    out, trainedrun, _ = trained
    result = export_run(out, tmp_path / "exp")
    assert result.out_dir == str(tmp_path / "exp") and result.step == 20
    assert result.checkpoint == checkpoint_path(out, 20)
    weights, desc = nt.io.read_export(result.out_dir)
    saved = read_checkpoint(checkpoint_path(out, 20))["params"]
    assert set(weights) == set(saved)
    for k, v in saved.items():
        np.testing.assert_array_equal(weights[k], v)
    assert desc["source"]["step"] == 20 and desc["source"]["seed"] == 3
    assert result.report() == (f"neurotrain: exported {out}\n  weights      {tmp_path / 'exp' / 'weights.npz'}\n"
                               f"  description  {tmp_path / 'exp' / 'description.json'}\n"
                               f"Read them with: weights, description = neurotrain.io.read_export("
                               f"{str(tmp_path / 'exp')!r})")
    assert export_run(out).out_dir == str(out / "export")
    with pytest.raises(nt.ConfigError, match="format must be one of 'npz'"):
        export_run(out, format="csv")


def test_notes_report_a_skipped_checkpoint(tmp_path):
    task = nt.tasks.Integrator()
    brainstate.random.seed(0)
    run = save_run(tmp_path, model=nt.models.build_model("vanilla", num_rec=4, task=task), task=task,
                   config={"seed": 0}, figures=False)
    model = load_run(run)[0]
    save_checkpoint(checkpoint_path(run, 5), model, step=5)
    with open(checkpoint_path(run, 5), "r+b") as f:
        f.truncate(40)                                        # the newest checkpoint is damaged
    seen = []
    result = evaluate_run(run, trials=8, notes=seen.append)
    assert len(seen) == 1 and seen == list(result.notes)
    assert seen[0].startswith(f"warning: skipping the unreadable checkpoint {checkpoint_path(run, 5)}")
    assert seen[0].endswith(f"using {checkpoint_path(run, 0)} (step 0) instead.")
    assert export_run(run, notes=None).step == 0


# --------------------------------------------------------------------------------------------
# run directories
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pdm_run(tmp_path_factory):
    """A briefly trained decision-making run saved with save_run."""
    run_dir = tmp_path_factory.mktemp("run")
    task = nt.tasks.PerceptualDecisionMaking(stimulus=200.0)
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", task.num_in, 16, task.num_out, dt=task.dt, tau=100.0)
    opt = braintools.optim.Adam(lr=1e-2)
    result = nt.train(model, task, opt, num_steps=20, batch_size=16, seed=0, eval_every=10, eval_trials=64)
    evaluation = nt.analysis.evaluate(model, task, 200, seed=1)
    config = {"seed": 0, "method": {"name": "bptt"}, "training": {"num_steps": 20, "batch_size": 16}}
    save_run(run_dir, model=model, task=task, config=config, result=result, evaluation=evaluation,
             optimizer=opt)
    return run_dir, model, task, result, evaluation


def test_save_run_writes_config_checkpoint_summary_figures(pdm_run):
    run_dir, model, task, result, evaluation = pdm_run
    cfg = json.loads((run_dir / CONFIG_FILE).read_text())
    assert cfg["task"] == task.config()
    assert cfg["model"] == model.config()
    assert cfg["seed"] == 0 and cfg["method"] == {"name": "bptt"}
    opt_cfg = cfg["optimizer"]
    assert opt_cfg["name"] == "adam" and opt_cfg["lr"] == pytest.approx(0.01)
    assert opt_cfg["betas"] == [0.9, 0.999] and opt_cfg["eps"] == 1e-8
    assert opt_cfg["schedule"] == {"name": "ConstantLR", "factor": 1.0, "total_iters": 0}
    assert set(cfg["versions"]) >= {"neurotrain", "jax", "brainstate", "braintools", "braintrace"}
    assert cfg["versions"]["neurotrain"] == nt.__version__

    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    assert summary["task"] == "perceptual-decision-making"
    assert summary["steps"] == 20
    assert summary["final_loss"] == pytest.approx(result.final_loss)
    assert summary["wall_time_s"] == pytest.approx(result.wall_time_s)
    assert summary["accuracy"] == pytest.approx(evaluation.scores["accuracy"])
    assert summary["ideal_accuracy"] == pytest.approx(evaluation.scores["ideal_accuracy"])
    assert "mse" not in summary
    rows = summary["per_condition"]["coherence"]
    assert [r["coherence"] for r in rows] == pytest.approx([0.0, 6.4, 12.8, 25.6, 51.2])
    assert sum(r["n"] for r in rows) == 200

    assert [step for step, _ in list_checkpoints(run_dir)] == [20]
    raw = braintools.file.msgpack_load(checkpoint_path(run_dir, 20))
    assert raw["step"] == 20 and "opt" in raw and "sched" in raw
    for name in ("loss_curve.png", "example_trials.png", "performance_by_condition.png"):
        data = (run_dir / "figures" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, name


def test_load_run_rebuilds_identical_network(pdm_run):
    run_dir, model, task, _, evaluation = pdm_run
    model2, task2, cfg = load_run(run_dir)
    assert task2 == task
    assert model2.config() == model.config()
    np.testing.assert_array_equal(_outputs(model2)[0], _outputs(model)[0])
    ev2 = nt.analysis.evaluate(model2, task2, 200, seed=1)
    assert ev2.scores == evaluation.scores


def test_summary_of_value_task_has_mse(tmp_path):
    task = nt.tasks.Integrator()
    brainstate.random.seed(0)
    model = nt.models.build_model("vanilla", 1, 8, 1)
    evaluation = nt.analysis.evaluate(model, task, 16, seed=1)
    save_run(tmp_path, model=model, task=task, config={}, evaluation=evaluation, figures=False)
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert summary["mse"] == pytest.approx(evaluation.scores["mse"])
    assert "accuracy" not in summary and "per_condition" not in summary
    assert {"task", "steps", "wall_time_s", "final_loss"} <= set(summary)
    assert not (tmp_path / "figures").exists()


def test_load_run_errors_are_clear(tmp_path):
    with pytest.raises(nt.CheckpointError, match="does not exist"):
        load_run(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(nt.CheckpointError, match="config.json"):
        load_run(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / CONFIG_FILE).write_text("{not json")
    with pytest.raises(nt.CheckpointError, match=r"config\.json is not valid JSON"):
        load_run(bad)


def test_load_run_without_checkpoint(tmp_path):
    task = nt.tasks.Integrator()
    model = nt.models.build_model("vanilla", 1, 4, 1)
    save_run(tmp_path, model=model, task=task, config={}, figures=False)
    os.remove(checkpoint_path(tmp_path, 0))
    with pytest.raises(nt.CheckpointError, match="holds no checkpoint"):
        load_run(tmp_path)




def test_load_run_uses_the_newest_readable_checkpoint(tmp_path):
    task = nt.tasks.Integrator()
    brainstate.random.seed(0)
    model = nt.models.build_model("vanilla", 1, 4, 1)
    save_run(tmp_path, model=model, task=task, config={}, figures=False)  # step 0
    model.readout.b.value = model.readout.b.value + 1.0
    save_checkpoint(checkpoint_path(tmp_path, 7), model, step=7)
    loaded, _, _ = load_run(tmp_path)
    np.testing.assert_array_equal(np.asarray(loaded.readout.b.value), np.asarray(model.readout.b.value))
    open(checkpoint_path(tmp_path, 7), "wb").write(b"\x00" * 10)
    with pytest.warns(UserWarning, match="skipping"):
        loaded, _, _ = load_run(tmp_path)
    np.testing.assert_array_equal(np.asarray(loaded.readout.b.value), np.zeros(1))


def test_legacy_single_checkpoint_file_still_loads(tmp_path):
    task = nt.tasks.Integrator()
    model = nt.models.build_model("vanilla", 1, 4, 1)
    save_run(tmp_path, model=model, task=task, config={}, figures=False, checkpoint=False)
    save_checkpoint(tmp_path / CHECKPOINT_FILE, model, step=3)
    loaded, _, _ = load_run(tmp_path)
    np.testing.assert_array_equal(np.asarray(loaded.layers[0].W.value), np.asarray(model.layers[0].W.value))




def test_config_records_the_optimizer_and_its_schedule():
    sched = braintools.optim.ExponentialDecayLR(base_lr=0.025, decay_steps=1, decay_rate=0.99975)
    opt = braintools.optim.Adam(lr=sched, eps=1e-1)
    cfg = nt.runs.run_config(model=_model(layers=1), task=nt.tasks.Integrator(), optimizer=opt)
    assert cfg["optimizer"]["lr"] == 0.025 and cfg["optimizer"]["eps"] == 0.1
    assert cfg["optimizer"]["schedule"] == {"name": "ExponentialDecayLR", "decay_steps": 1,
                                            "decay_rate": 0.99975, "transition_begin": 0,
                                            "staircase": False, "end_value": None}
