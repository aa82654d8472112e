"""Recipes, optimisers and schedules by name, and the best held-out checkpoint.

The seed sweep of every recipe is a benchmark (``benchmarks/bench_recipes.py``); here each
recipe is built and trained for a few steps at a reduced size, and the machinery is checked
against values with a known answer.
"""

from __future__ import annotations

import json
import os

import braintools
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain import ConfigError
from neurotrain.cli import main
from neurotrain.runs import FROM_RECIPE, RunOptions, evaluate_run, load_run, train_run
from neurotrain.tasks._registry import TASKS
from neurotrain.training import (
    BestCheckpoint,
    Criterion,
    LinearWarmupLR,
    OptimizerSpec,
    Recipe,
    ScheduleSpec,
    Trainer,
    functional_optimizer,
    recipe_for,
)
from neurotrain.training._optim import learning_rates


def _steps(spec: OptimizerSpec, grads, n):
    """``n`` updates of the functional optimiser the trainer uses, from w = 0."""
    import brainstate

    opt = spec.build(num_steps=n)
    states = {"w": brainstate.ParamState(jnp.zeros_like(grads))}
    fopt = functional_optimizer(opt, states).with_steps(n)
    params = {"w": states["w"].value}
    state = fopt.init(params)
    out = []
    for i in range(n):
        params, state = fopt.update({"w": grads}, state, params, fopt.lr(i))
        out.append(np.asarray(params["w"]))
    return np.asarray(out)


# --------------------------------------------------------------------------------------------
# optimisers and schedules
# --------------------------------------------------------------------------------------------
def test_sgd_with_momentum_takes_the_known_steps():
    # momentum 0.9, lr 0.1, gradient 1: velocities 1, 1.9, 2.71 -> w = -0.1, -0.29, -0.561
    w = _steps(OptimizerSpec("sgd", 0.1, params={"momentum": 0.9}), jnp.ones(()), 3)
    np.testing.assert_allclose(w, [-0.1, -0.29, -0.561], rtol=1e-6)
    w = _steps(OptimizerSpec("sgd", 0.1), jnp.ones(()), 2)                   # plain SGD
    np.testing.assert_allclose(w, [-0.1, -0.2], rtol=1e-6)


def test_adam_rmsprop_adamw_first_steps_have_known_sizes():
    # Adam's first step is lr * sign(g) (bias-corrected moments); RMSprop's is lr * g / sqrt((1-alpha) g^2)
    np.testing.assert_allclose(_steps(OptimizerSpec("adam", 0.01), jnp.full((), 3.0), 1), [-0.01], rtol=1e-5)
    np.testing.assert_allclose(_steps(OptimizerSpec("rmsprop", 0.01, params={"alpha": 0.99, "eps": 1e-12}),
                                      jnp.full((), 3.0), 1), [-0.01 / np.sqrt(0.01)], rtol=1e-4)
    # AdamW from w = 0 has no weight decay to apply at step 1: same as Adam
    np.testing.assert_allclose(_steps(OptimizerSpec("adamw", 0.01), jnp.full((), 3.0), 1), [-0.01], rtol=1e-5)
    spec = OptimizerSpec("adam", 0.025, params={"eps": 0.1, "betas": [0.8, 0.99]})
    opt = spec.build()
    assert type(opt).__name__ == "Adam" and opt.eps == 0.1 and tuple(opt.betas) == (0.8, 0.99)


@pytest.mark.parametrize("schedule, lr, steps, expected", [
    (ScheduleSpec(), 0.1, [0, 5], [0.1, 0.1]),
    (ScheduleSpec("exponential", lr_decay=0.99975), 0.025, [0, 1, 2499], [0.025, 0.025 * 0.99975,
                                                                          0.025 * 0.99975 ** 2499]),
    (ScheduleSpec("exponential", lr_decay=0.5, lr_decay_every=2), 1.0, [0, 1, 2, 4], [1, 2 ** -0.5, 0.5, 0.25]),
    (ScheduleSpec("exponential", lr_decay=0.5, lr_min=0.2), 1.0, [0, 1, 2, 3], [1, 0.5, 0.25, 0.2]),
    (ScheduleSpec("step", lr_decay=0.1, lr_decay_every=3), 1.0, [0, 2, 3, 6], [1, 1, 0.1, 0.01]),
    (ScheduleSpec("cosine", lr_decay_every=4, lr_min=0.1), 1.0, [0, 2, 4, 9], [1, 0.55, 0.1, 0.1]),
    (ScheduleSpec("constant", warmup_steps=4), 1.0, [0, 1, 3, 10], [0.25, 0.5, 1, 1]),
    (ScheduleSpec("exponential", lr_decay=0.5, warmup_steps=2), 1.0, [0, 1, 2, 3], [0.5, 1, 1, 0.5]),
])
def test_schedules_give_the_known_rates(schedule, lr, steps, expected):
    # float32, as in the step: 0.99975 is stored to 2e-8, which 2500 steps of decay turn into 5e-5
    np.testing.assert_allclose(schedule.learning_rates(lr, steps), expected, rtol=1e-4)


def test_the_trainer_steps_the_schedule_once_per_step():
    """The rate of step i in the compiled step is the schedule's closed form at i (recorded in
    result.lr), for a warm-up before a step decay too."""
    import brainstate

    brainstate.random.seed(0)
    model = nt.models.build_model("vanilla", 1, 4, 1)
    spec = OptimizerSpec("sgd", 0.1, ScheduleSpec("step", lr_decay=0.5, lr_decay_every=2, warmup_steps=2),
                         {"momentum": 0.5})
    result = nt.train(model, nt.tasks.Integrator(), spec.build(6), num_steps=6, batch_size=2)
    np.testing.assert_allclose(result.lr, [0.05, 0.1, 0.1, 0.1, 0.05, 0.05], rtol=1e-6)


def test_chained_schedulers_are_stepped_not_read_as_a_closed_form():
    """ChainedScheduler keeps its sub-schedulers' epochs: its closed form at an epoch is not its
    rate, so the trainer tabulates it by stepping (it used to read a constant rate)."""
    o = braintools.optim
    chained = o.ChainedScheduler([o.ExponentialDecayLR(base_lr=0.1, decay_steps=1, decay_rate=0.5),
                                  o.ConstantLR(base_lr=0.1, factor=0.5, total_iters=2)])
    np.testing.assert_allclose(learning_rates(chained, 0, 4), [0.05, 0.025, 0.025, 0.0125], rtol=1e-6)
    warm = LinearWarmupLR(o.StepLR(base_lr=0.1, step_size=2, gamma=0.5), 2)
    np.testing.assert_allclose(learning_rates(warm, 0, 6), [0.05, 0.1, 0.1, 0.1, 0.05, 0.05], rtol=1e-6)


@pytest.mark.parametrize("make, needle", [
    (lambda: ScheduleSpec("linear"), "lr_schedule='linear' is not a learning-rate schedule; choose one of"),
    (lambda: ScheduleSpec("exponential"), "lr_schedule='exponential' needs lr_decay"),
    (lambda: ScheduleSpec("constant", lr_decay=0.5), "lr_decay=0.5 does not apply to lr_schedule='constant'"),
    (lambda: ScheduleSpec("exponential", lr_decay=-1.0), "lr_decay must be a finite number > 0 or None; got -1.0"),
    (lambda: ScheduleSpec("step", lr_decay=0.5, lr_decay_every=0), "lr_decay_every must be an integer >= 1"),
    (lambda: OptimizerSpec("adamm", 0.1), "optimizer='adamm' is not a known optimizer. Did you mean 'adam'?"),
    (lambda: OptimizerSpec("adam", 0.0), "lr must be a finite number > 0; got 0.0"),
    (lambda: OptimizerSpec("sgd", 0.1, params={"momentum": 1.5}), "optimizer_params.momentum must be a number in [0, 1)"),
    (lambda: OptimizerSpec("sgd", 0.1, params={"nesterov": True}), "nesterov=true needs a momentum > 0"),
    (lambda: OptimizerSpec("adam", 0.1, params={"lr": 0.1}), "the learning rate is its own option"),
    (lambda: RunOptions(optimizer="rmsprop", optimizer_params={"betas": [0.9, 0.99]}),
     "optimizer_params.betas is not a parameter of optimizer 'rmsprop'; it takes alpha, centered, eps"),
    (lambda: RunOptions(eval_every=0, restore_best=True), "restore_best = True needs held-out evaluations"),
    (lambda: RunOptions(steps=10, warmup_steps=10), "warmup_steps = 10 leaves no step of the schedule"),
])
def test_bad_optimizer_and_schedule_values_name_the_option(make, needle):
    with pytest.raises(ConfigError) as err:
        make()
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_specs_round_trip_through_dicts_and_json():
    spec = OptimizerSpec("rmsprop", 3e-3, ScheduleSpec("cosine", lr_decay_every=500, lr_min=1e-5, warmup_steps=20),
                         {"momentum": 0.5, "centered": True})
    assert OptimizerSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ConfigError, match="'decay' is not a field of a learning-rate schedule"):
        ScheduleSpec.from_dict({"name": "exponential", "decay": 0.5})


# --------------------------------------------------------------------------------------------
# recipes and run options
# --------------------------------------------------------------------------------------------
def test_criterion_thresholds_and_gaps():
    gap = Criterion("accuracy", gap_to_ideal=0.03)
    assert gap.met({"accuracy": 0.858, "ideal_accuracy": 0.887})
    assert not gap.met({"accuracy": 0.856, "ideal_accuracy": 0.887})
    assert gap.value({"accuracy": 0.86, "ideal_accuracy": 0.89}) == pytest.approx(0.03)
    mse = Criterion("mse", threshold=1e-3, higher_is_better=False)
    assert mse.met({"mse": 9e-4}) and not mse.met({"mse": 3.4e-3}) and not mse.met({"mse": float("nan")})
    assert mse.describe() == "mse <= 0.001"
    with pytest.raises(ConfigError, match="exactly one of threshold"):
        Criterion("accuracy")


def _same_optimizer(spec: OptimizerSpec, recipe: Recipe) -> bool:
    """A run's optimiser is its recipe's: the same optimiser, rate and parameters, and the same
    rate at every step (a cosine's length is resolved to the run's steps)."""
    want = recipe.optimizer
    steps = [0, 1, recipe.steps // 2, recipe.steps - 1]
    return ((spec.name, spec.lr, spec.params, spec.schedule.name) == (want.name, want.lr, want.params,
                                                                       want.schedule.name)
            and np.allclose(spec.schedule.learning_rates(spec.lr, steps, recipe.steps),
                            want.schedule.learning_rates(want.lr, steps, recipe.steps), rtol=1e-6))


def test_run_options_take_the_tasks_recipe_field_by_field():
    copy = RunOptions(task="copy", task_params={"delay": 20})
    recipe = recipe_for("copy", delay=20)
    assert (copy.cell, copy.hidden, copy.steps, copy.batch_size, copy.lr, copy.clip_norm, copy.stop_at) == (
        recipe.cell, recipe.hidden, recipe.steps, recipe.batch_size, recipe.optimizer.lr, recipe.clip_norm,
        recipe.stop_at)
    assert _same_optimizer(copy.optimizer_spec(), recipe)
    # a flag overrides one field; the others stay the recipe's
    lr = copy.updated({"lr": 3e-3})
    assert lr.lr == 3e-3 and lr.steps == recipe.steps and lr.lr_decay == copy.lr_decay
    # the method's recipe
    online = copy.updated({"method": "d-rtrl"})
    assert online.steps == recipe.for_method("d-rtrl").steps != copy.steps
    # another task: what came from the recipe is taken again from the new one; what was given stays
    pdm = lr.replace(task="pdm", task_params={})
    assert (pdm.cell, pdm.steps, pdm.lr) == ("leaky", recipe_for("pdm").steps, 3e-3)
    # the recipe's cell parameters go with its cell, its schedule parameters with its schedule
    tut = RunOptions(task="integrator")
    assert tut.cell_params == {"activation": "relu", "train_h0": True} and tut.optimizer_params == {"eps": 0.1}
    assert RunOptions(task="integrator", cell="leaky").cell_params == {}
    assert RunOptions(task="integrator", cell_params={"activation": "tanh"}).cell_params == {
        "activation": "tanh", "train_h0": True}
    assert RunOptions(task="integrator", optimizer="sgd").optimizer_params == {}
    const = RunOptions(task="integrator", lr_schedule="constant")
    assert (const.lr_schedule, const.lr_decay, const.lr) == ("constant", None, 0.025)
    # eval_every=0 turns the recipe's restore and early stop off instead of failing
    assert RunOptions(task="copy", eval_every=0).restore_best is False
    assert RunOptions(task="copy", eval_every=0).stop_at is None
    assert RunOptions.default("steps") is FROM_RECIPE and "steps" in copy.from_recipe


def test_options_written_and_read_back_are_the_same_run(tmp_path):
    opts = RunOptions(task="copy", task_params={"delay": 5}, optimizer="sgd", optimizer_params={"momentum": 0.9},
                      lr_schedule="cosine", lr_min=1e-4, warmup_steps=10)
    assert opts.lr_decay_every == opts.steps - 10              # the cosine's length is recorded
    for fmt in ("toml", "json"):
        path = tmp_path / f"run.{fmt}"
        path.write_text(opts.to_text(fmt))
        assert RunOptions.from_file(path) == opts
    # a file that names only the task trains the task's recipe
    (tmp_path / "copy.toml").write_text('task = "copy"\n[task_params]\ndelay = 10\n')
    assert RunOptions.from_file(tmp_path / "copy.toml") == RunOptions(task="copy", task_params={"delay": 10})


def _recipe_trainer(name, method=None):
    """The trainer of task ``name``'s recipe (for ``method``) at 8 units, 2 steps of 2 trials,
    held-out evaluations of 4 trials, as ``train_run`` builds it."""
    import brainstate

    example = TASKS.meta(name).get("example", {})
    opts = RunOptions(task=name, task_params=example, method=method or "bptt", hidden=8, steps=2,
                      batch_size=2, eval_every=2, eval_trials=4)
    task = nt.tasks.make_task(name, **example)
    brainstate.random.seed(0)
    model = nt.models.build_model(opts.cell, num_rec=8, task=task, **opts.cell_params)
    spec = opts.optimizer_spec()
    best = BestCheckpoint(restore=opts.restore_best)
    trainer = Trainer(model, task, spec.build(opts.steps), method=nt.training.get_method(opts.method),
                      config=opts.train_config(), callbacks=[best])
    return opts, task, spec, trainer, best


def test_every_task_has_a_recipe():
    """Every registered task has a recipe with a source, held-out evaluations, best-weight
    restore and a criterion, and RunOptions of the task take it (test_recipe_builds_its_run
    builds each one's trainer, most of them in the slow stage)."""
    for name in TASKS.names():
        example = TASKS.meta(name).get("example", {})
        recipe = recipe_for(nt.tasks.make_task(name, **example))
        assert isinstance(recipe, Recipe) and recipe.source and recipe.restore_best and recipe.eval_every > 0, name
        assert recipe.criterion is not None, f"{name}: a recipe says when the task is learnt"
        opts = RunOptions(task=name, task_params=example)
        assert (opts.cell, opts.steps, opts.batch_size, opts.lr, opts.clip_norm, opts.eval_every) == (
            recipe.cell, recipe.steps, recipe.batch_size, recipe.optimizer.lr, recipe.clip_norm,
            recipe.eval_every), name
        assert _same_optimizer(opts.optimizer_spec(), recipe), name


_QUICK_BUILDS = ("perceptual-decision-making", "copy", "integrator", "n-bit-flip-flop")


@pytest.mark.parametrize("name", [n if n in _QUICK_BUILDS else pytest.param(n, marks=pytest.mark.slow)
                                  for n in TASKS.names()])
def test_recipe_builds_its_run(name):
    """Each registered task's recipe as a run builds it, at a reduced size: the options it sets,
    its optimiser and schedule (the rates of the compiled step are the schedule's), its
    trainer and its held-out evaluation, which must have the criterion's metric (traced with
    jax.eval_shape, not compiled; test_recipes_train_a_few_steps trains one task per family)."""
    import jax

    recipe = recipe_for(nt.tasks.make_task(name, **TASKS.meta(name).get("example", {})))
    opts, task, spec, trainer, _ = _recipe_trainer(name)
    assert recipe.name == task.name
    assert (opts.cell, opts.lr, opts.clip_norm, opts.l2, opts.lr_schedule) == (
        recipe.cell, recipe.optimizer.lr, recipe.clip_norm, recipe.l2, recipe.optimizer.schedule.name)
    want = recipe.optimizer.schedule.learning_rates(recipe.optimizer.lr, [0, 1, recipe.steps - 1], recipe.steps)
    long_run = functional_optimizer(recipe.optimizer.build(recipe.steps), trainer.params).with_steps(recipe.steps)
    np.testing.assert_allclose([float(long_run.lr(i)) for i in (0, 1, recipe.steps - 1)], want, rtol=1e-6)
    params = {k: v.value for k, v in trainer.params.items()}
    metrics = jax.eval_shape(trainer._eval_fn, params, trainer._key)
    assert recipe.criterion.metric in metrics
    if recipe.criterion.gap_to_ideal is not None:
        assert f"ideal_{recipe.criterion.metric}" in metrics
    if recipe.stop_at is not None:
        assert task.primary_metric in metrics


@pytest.mark.parametrize("name, method", [
    ("perceptual-decision-making", None), ("copy", "d-rtrl"),
    *[pytest.param(n, m, marks=pytest.mark.slow) for n, m in (
        ("copy", None), ("integrator", None), ("n-bit-flip-flop", None), ("fdgo", None), ("soo-a", None),
        ("neurogym", None))],
])
def test_recipes_train_a_few_steps(name, method):
    """One task per family of recipes (cell, initialisation, optimiser, method) trains 2 steps
    at 8 units: finite losses at the schedule's rates, a best checkpoint kept."""
    opts, task, spec, trainer, best = _recipe_trainer(name, method)
    result = trainer.run()
    np.testing.assert_allclose(result.lr, spec.schedule.learning_rates(spec.lr, [0, 1], opts.steps), rtol=1e-6)
    assert np.isfinite(result.loss).all() and best.best_step in (0, 2)
    if method is not None:
        assert opts.steps == 2 and RunOptions(task=name, method=method).steps == recipe_for(name, method).steps


def test_recipe_variants_and_functions():
    short, long = recipe_for("copy", delay=10), recipe_for("copy", delay=50)
    assert short.steps < long.steps and short.criterion.describe() == "accuracy >= 0.99"
    online = recipe_for("copy", "d-rtrl", delay=10)
    assert online.method == "d-rtrl" and online.criterion.threshold == 0.9
    assert recipe_for("copy", "bptt", delay=10) == short
    # a task registered without a recipe gets the generic one
    assert recipe_for(nt.tasks.Copy()).name == "copy"
    with pytest.raises(ConfigError, match="'stepz' is not a recipe field"):
        Recipe(methods={"d-rtrl": {"stepz": 3}})
    with pytest.raises(ConfigError, match="needs held-out evaluations"):
        Recipe(eval_every=0)


def test_flip_flop_recipe_trains_sussillo_and_barak_scoring():
    assert RunOptions(task="flip-flop").task_params == {}
    assert nt.tasks.make_task("flip-flop").score_before_first_pulse is False
    assert recipe_for("flip-flop").cell_params["activation"] == "tanh"


# --------------------------------------------------------------------------------------------
# the best checkpoint: a spike at the end cannot make the saved model worse than the best
# --------------------------------------------------------------------------------------------
class _Spike(nt.training.Callback):
    """Spoil the weights after step ``at`` (the readout's sign flipped): a late loss spike."""

    def __init__(self, at):
        self.at = at

    def on_log(self, trainer, logs):
        if logs["step"] == self.at:
            params, opt = trainer._carry
            trainer._carry = ({**params, ("readout", "W"): -params[("readout", "W")]}, opt)


def _spiked_run(tmp_path, restore):
    opts = RunOptions(task="pdm", hidden=16, steps=60, batch_size=16, eval_every=20, eval_trials=400,
                      checkpoint_every=0, no_progress=True, no_figures=True, restore_best=restore,
                      out=str(tmp_path / f"run-{restore}"))
    return train_run(opts, callbacks=[_Spike(at=40)])


def test_a_spike_at_the_end_does_not_decide_the_run(tmp_path):
    result = _spiked_run(tmp_path, restore=True)
    s = result.summary
    held = s["held_out"]
    assert held["best"]["step"] == 40 and held["final"]["step"] == 60
    assert held["final"]["value"] < held["best"]["value"] - 0.15          # the spike is real
    assert s["weights"] == "best" and s["weights_step"] == 40
    # the saved model is the best: the final evaluation, a reloaded run and `evaluate` agree
    model, task, _ = load_run(result.run_dir)
    again = nt.analysis.evaluate(model, task, 400, seed=1).scores["accuracy"]
    assert again == pytest.approx(s["accuracy"])
    evaluated = evaluate_run(result.run_dir, trials=400, seed=1)
    assert evaluated.evaluation.scores["accuracy"] == pytest.approx(again)
    assert evaluated.checkpoint_step == 40 and evaluated.record["source"]["checkpoint"] == "checkpoints/best.msgpack"
    assert "was not used" not in evaluated.report() and "best (step 40)" in evaluated.report()
    assert s["accuracy"] > held["final"]["value"] + 0.1
    # the last step's weights stay on disk (a resumed run continues from them)
    last, _, _ = load_run(result.run_dir, weights="last")
    spoilt = nt.analysis.evaluate(last, task, 400, seed=1).scores["accuracy"]
    assert spoilt < again - 0.1
    report = result.report()
    assert "best (step 40)" in report and "last (step 60)" in report and "restored" in report
    best_file = os.path.join(result.run_dir, "checkpoints", "best.msgpack")
    assert os.path.exists(best_file)
    # the run's files are its own: a new run may replace the folder without --force
    assert nt.io.RunLayout(result.run_dir).foreign_entries() == []
    # a damaged best.msgpack: the saved weights fall back to the newest checkpoint, and say so
    with open(best_file, "r+b") as f:
        f.truncate(100)
    with pytest.warns(UserWarning, match=r"skipping the unreadable checkpoint .*best\.msgpack.*step 60"):
        fallback, _, _ = load_run(result.run_dir)
    assert nt.analysis.evaluate(fallback, task, 400, seed=1).scores["accuracy"] == pytest.approx(spoilt)
    with pytest.raises(nt.CheckpointError, match="best.msgpack"):
        load_run(result.run_dir, weights="best")


@pytest.mark.slow
def test_without_restore_best_the_report_says_the_best_was_better(tmp_path):
    result = _spiked_run(tmp_path, restore=False)
    s = result.summary
    assert s["weights"] == "final" and s["held_out"]["best"]["step"] == 40
    report = result.report()
    assert "the last ones (step 60); the best held-out ones (step 40)" in report and "--restore-best" in report
    model, task, _ = load_run(result.run_dir)                              # the saved model: the last one
    assert nt.analysis.evaluate(model, task, 400, seed=1).scores["accuracy"] == pytest.approx(s["accuracy"])
    best, _, _ = load_run(result.run_dir, weights="best")
    assert nt.analysis.evaluate(best, task, 400, seed=1).scores["accuracy"] > s["accuracy"] + 0.1


@pytest.mark.slow   # 16 s on 2 busy cores; the default stage keeps the spike test above
def test_the_best_checkpoint_survives_a_resume(tmp_path):
    """A resumed run keeps the best of the evaluations before it (the record from the
    checkpoint, the weights from checkpoints/best.msgpack) and restores them after a spike."""
    out = str(tmp_path / "run")
    opts = RunOptions(task="pdm", hidden=16, steps=40, batch_size=16, eval_every=20, eval_trials=400,
                      checkpoint_every=0, no_progress=True, no_figures=True, out=out)
    first = train_run(opts).summary["held_out"]
    resumed = train_run(resume=out, steps=60, callbacks=[_Spike(at=50)])
    held = resumed.summary["held_out"]
    assert held["best"] == first["best"] and held["final"]["step"] == 60
    assert resumed.summary["weights"] == "best"
    model, task, _ = load_run(out)
    assert nt.analysis.evaluate(model, task, 400, seed=1).scores["accuracy"] == pytest.approx(
        resumed.summary["accuracy"])
    assert resumed.summary["accuracy"] > held["final"]["value"] + 0.1


# --------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------
def test_tasks_recipe_shows_the_recipe(capsys):
    assert main(["tasks", "--recipe", "copy", "--task-param", "delay=20"]) == 0
    out = capsys.readouterr().out
    recipe = recipe_for("copy", delay=20)
    assert out.startswith("copy\n") and f"{recipe.steps} steps of 64 trials" in out
    assert "criterion    accuracy >= 0.99" in out and "with d-rtrl" in out
    assert main(["tasks", "--recipe", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_dry_run_prints_the_recipe_and_flags_override_it(capsys):
    assert main(["train", "--task", "copy", "--task-param", "delay=10", "--lr-schedule", "step", "--lr-decay",
                 "0.5", "--lr-decay-every", "100", "--optimizer-param", "eps=0.1", "--no-restore-best",
                 "--dry-run", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    recipe = recipe_for("copy", delay=10)
    assert (shown["cell"], shown["steps"], shown["lr"]) == ("gru", recipe.steps, recipe.optimizer.lr)
    assert (shown["lr_schedule"], shown["lr_decay"], shown["lr_decay_every"]) == ("step", 0.5, 100)
    assert shown["optimizer_params"] == {"eps": 0.1} and shown["restore_best"] is False
    assert main(["train", "--lr-schedule", "cosine", "--lr-decay", "0.5", "--dry-run"]) == 2
    assert "lr_decay=0.5 does not apply to lr_schedule='cosine'" in capsys.readouterr().err


@pytest.mark.slow
def test_the_default_run_meets_its_criterion(tmp_path):
    """``neurotrain train --seed 0`` (the perceptual-decision-making recipe) ends within 3
    points of the ideal observer on 2000 fresh trials (benchmarks/results/recipes.md has seeds 0-9)."""
    result = train_run(RunOptions(seed=0, out=str(tmp_path / "default"), no_progress=True, no_figures=True))
    s = result.summary
    assert s["criterion"]["text"] == "accuracy within 3 points of the ideal observer"
    assert s["criterion"]["met"] and s["accuracy"] >= s["ideal_accuracy"] - 0.03
    assert s["weights"] == "best" and result.evaluation.num_trials == 2000
