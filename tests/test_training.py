"""The train loop: compiles once, reproducible, schedules advance, clear failures, it learns."""

import dataclasses

import brainstate
import braintools
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.models import RNN, LeakyRNNCell, VanillaRNNCell
from neurotrain.tasks import Copy, Integrator, PerceptualDecisionMaking
from neurotrain.training import (
    EarlyStopping,
    Objective,
    masked_cross_entropy,
    masked_mse,
)


def small_pdm_model(seed=0, **kw):
    brainstate.random.seed(seed)
    return RNN(LeakyRNNCell(3, 16, **kw), num_out=3)


def params_of(model):
    return {k: np.asarray(v.value) for k, v in model.states(brainstate.ParamState).items()}


def test_train_step_compiles_once():
    model = small_pdm_model()
    res = nt.train(model, PerceptualDecisionMaking(), braintools.optim.Adam(lr=1e-2), num_steps=25,
                   batch_size=8, log_every=4, eval_every=10, eval_trials=16)
    assert res.num_traces == 1
    assert res.num_steps == 25 and res.loss.shape == (25,) and np.all(np.isfinite(res.loss))
    np.testing.assert_array_equal(res.eval_steps, [0, 10, 20, 25])  # step 0: the untrained network


def test_same_seed_same_result_bit_for_bit_and_new_seed_differs():
    runs = []
    for data_seed in (0, 0, 1):
        model = small_pdm_model(seed=3, sigma_rec=0.1)
        nt.train(model, PerceptualDecisionMaking(), braintools.optim.Adam(lr=1e-2), num_steps=12,
                 batch_size=8, seed=data_seed)
        runs.append(params_of(model))
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])
    assert any(not np.array_equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_learning_rate_schedule_advances_every_step():
    model = small_pdm_model()
    sched = braintools.optim.ExponentialDecayLR(base_lr=0.1, decay_steps=1, decay_rate=0.5)
    res = nt.train(model, PerceptualDecisionMaking(), braintools.optim.Adam(lr=sched), num_steps=5, batch_size=4)
    np.testing.assert_allclose(res.lr, [0.1, 0.05, 0.025, 0.0125, 0.00625], rtol=1e-6)


def test_trainable_initial_state_is_trained():
    brainstate.random.seed(0)
    model = RNN(VanillaRNNCell(1, 8, train_h0=True), num_out=1)
    nt.train(model, Integrator(), braintools.optim.Adam(lr=1e-2), num_steps=5, batch_size=8)
    h0 = np.asarray(model.layers[0].h0.value)
    assert np.abs(h0).max() > 1e-3  # started at exactly zero


def test_csv_logger_puts_evaluations_on_their_rows(tmp_path):
    import csv

    model = small_pdm_model()
    path = tmp_path / "metrics.csv"
    nt.train(model, PerceptualDecisionMaking(), braintools.optim.Adam(lr=1e-2), num_steps=12, batch_size=4,
             log_every=4, eval_every=6, eval_trials=8, callbacks=[nt.training.CSVLogger(path)])
    rows = list(csv.DictReader(open(path)))
    assert [r["step"] for r in rows] == ["0", "4", "6", "8", "12"]
    assert [bool(r["eval_accuracy"]) for r in rows] == [True, False, True, False, True]
    assert rows[0]["loss"] == "" and float(rows[1]["loss"]) > 0


def test_clip_norm_limits_the_update():
    # With plain SGD, the update equals lr * clipped gradient: its norm is at most lr * clip_norm.
    model = small_pdm_model()
    before = params_of(model)
    res = nt.train(model, PerceptualDecisionMaking(), braintools.optim.SGD(lr=1.0), num_steps=1,
                   batch_size=8, clip_norm=1e-3)
    after = params_of(model)
    step_norm = np.sqrt(sum(np.sum((after[k] - before[k]) ** 2) for k in before))
    assert step_norm == pytest.approx(1e-3, rel=1e-3)
    assert res.aux["grad_norm"][0] > 1e-3


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_weights():
    @dataclasses.dataclass(frozen=True)
    class PoisonedIntegrator(Integrator):   # task parameters refuse NaN/inf, so poison the inputs
        def _sample(self, key, batch_size):
            batch = super()._sample(key, batch_size)
            return dataclasses.replace(batch, inputs=batch.inputs * jnp.inf)

    bad_task = PoisonedIntegrator()
    brainstate.random.seed(0)
    model = RNN(VanillaRNNCell(1, 8), num_out=1)
    before = params_of(model)
    with pytest.raises(nt.TrainingDivergedError, match="became nan at step 1.*learning rate") as info:
        nt.train(model, bad_task, braintools.optim.Adam(lr=1e-2), num_steps=10, batch_size=4)
    assert info.value.step == 1
    after = params_of(model)
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


def test_divergence_midway_restores_weights_of_last_log():
    brainstate.random.seed(0)
    model = RNN(VanillaRNNCell(1, 8, activation="linear", w_init="identity:3.0"), num_out=1)
    # A huge learning rate makes the linear network explode after a few steps.
    with pytest.raises(nt.TrainingDivergedError) as info:
        nt.train(model, Integrator(), braintools.optim.SGD(lr=1e4), num_steps=200, batch_size=4, log_every=1)
    assert info.value.step > 1
    assert all(np.all(np.isfinite(v)) for v in params_of(model).values())


def test_user_errors_are_clear():
    model = small_pdm_model()
    with pytest.raises(nt.ShapeError, match="num_in=3 inputs but task 'copy' gives 10"):
        nt.train(model, Copy(), num_steps=1)
    with pytest.raises(nt.ConfigError, match="batch_size must be an integer >= 1; got 0"):
        nt.train(model, PerceptualDecisionMaking(), num_steps=1, batch_size=0)
    with pytest.raises(nt.ConfigError, match="num_steps must be an integer >= 1; got -5"):
        nt.train(model, PerceptualDecisionMaking(), num_steps=-5)
    with pytest.raises(nt.ConfigError, match="l2 must be a finite number >= 0"):
        nt.train(model, PerceptualDecisionMaking(), num_steps=1, l2=-1.0)
    with pytest.raises(nt.ConfigError, match="method must be a neurotrain GradientMethod"):
        nt.train(model, PerceptualDecisionMaking(), num_steps=1, method=3)   # a registered name is accepted
    with pytest.raises(nt.ConfigError, match="Did you mean 'bptt'"):
        nt.training.get_method("bpt")


def test_masked_losses_known_values():
    logits = jnp.log(jnp.array([[[0.5, 0.25, 0.25]], [[0.1, 0.8, 0.1]]]))  # (T=2, B=1, C=3)
    labels = jnp.array([[0], [1]])
    np.testing.assert_allclose(masked_cross_entropy(logits, labels, jnp.array([[1.0], [0.0]])), -np.log(0.5), rtol=1e-6)
    np.testing.assert_allclose(masked_cross_entropy(logits, labels, jnp.array([[1.0], [3.0]])),
                               (-np.log(0.5) - 3 * np.log(0.8)) / 4, rtol=1e-6)
    out, tgt = jnp.array([[[1.0, 2.0]], [[0.0, 0.0]]]), jnp.zeros((2, 1, 2))
    assert float(masked_mse(out, tgt, jnp.array([[1.0], [1.0]]))) == pytest.approx(5 / 4)
    assert float(masked_mse(out, tgt, jnp.array([[1.0], [0.0]]))) == pytest.approx(5 / 2)
    assert float(masked_mse(out, tgt, jnp.array([[[0.0, 1.0]], [[0.0, 0.0]]]))) == pytest.approx(4.0)


def test_objective_adds_penalties():
    obj = Objective("value", l2=0.5, rate_l2=2.0)
    batch = Integrator().sample(__import__("jax").random.PRNGKey(0), 2)
    params = {"w": jnp.array([1.0, 2.0])}
    act = jnp.full((25, 2, 3), 0.5)
    total, aux = obj(batch.targets, act, batch, params)
    assert float(aux["task_loss"]) == 0.0 and float(aux["l2"]) == 5.0 and float(aux["rate"]) == 0.25
    assert float(total) == pytest.approx(0.5 * 5.0 + 2.0 * 0.25)


def test_early_stopping_on_score_target():
    model = small_pdm_model()
    res = nt.train(model, PerceptualDecisionMaking(), braintools.optim.Adam(lr=1e-2), num_steps=100, batch_size=8,
                   eval_every=5, eval_trials=32, callbacks=[EarlyStopping(target=0.0, patience=2)])
    # met at the evaluations of steps 0 and 5: two in a row, so training stops after step 5
    assert res.num_steps == 5 and "reached the target 0 at step 5" in res.stop_reason
    np.testing.assert_array_equal(res.eval_steps, [0, 5])


def test_copy_task_is_learned_at_short_delay():
    brainstate.random.seed(0)
    task = Copy(length=3, delay=2, num_symbols=4)
    model = nt.models.build_model("gru", task.num_in, 32, task.num_out)
    nt.train(model, task, braintools.optim.Adam(lr=1e-2), num_steps=300, batch_size=64)
    ev = nt.analysis.evaluate(model, task, num_trials=500, seed=1)
    assert ev.scores["accuracy"] > 0.95  # chance is 0.25


@pytest.mark.slow
def test_default_pdm_run_reaches_the_ideal_observer():
    brainstate.random.seed(0)
    task = PerceptualDecisionMaking()
    model = RNN(LeakyRNNCell(3, 128, tau=100.0, dt=20.0), num_out=3)
    nt.train(model, task, braintools.optim.Adam(lr=1e-2), num_steps=2000, batch_size=32)
    ev = nt.analysis.evaluate(model, task, num_trials=2000, seed=1)
    assert ev.scores["accuracy"] >= ev.scores["ideal_accuracy"] - 0.03


@pytest.mark.slow
def test_seed_000_integrator_reaches_mse_1e_3():
    brainstate.random.seed(42)
    task = Integrator()
    model = RNN(VanillaRNNCell(1, 100, train_h0=True), num_out=1)
    sched = braintools.optim.ExponentialDecayLR(base_lr=0.025, decay_steps=1, decay_rate=0.99975)
    nt.train(model, task, braintools.optim.Adam(lr=sched, eps=1e-1), num_steps=2500, batch_size=512, l2=2e-4)
    assert nt.analysis.evaluate(model, task, num_trials=512, seed=7).scores["mse"] <= 1e-3
