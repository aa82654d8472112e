"""Tasks against their definitions: the integrator (brainstate's tutorial), copy (braintrace's
quickstart) and perceptual decision making (neurogym's PerceptualDecisionMaking-v0)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.tasks import Copy, Integrator, PerceptualDecisionMaking, make_task

KEY = jax.random.PRNGKey(0)


# --- Integrator (brainstate tutorial) --------------------------------------------------------------------
def test_integrator_matches_the_tutorial_statistics():
    task = Integrator()
    assert task.num_steps() == 25 and task.dt == 40.0
    b = task.sample(KEY, 20000)
    x, y, bias = np.asarray(b.inputs), np.asarray(b.targets), np.asarray(b.info["bias"])
    # bias = 0.025 * 2 * (N(0,1) - 0.5): mean -0.025, std 0.05
    assert bias.mean() == pytest.approx(-0.025, abs=0.0015)
    assert bias.std() == pytest.approx(0.05, rel=0.02)
    # noise = 0.01 / sqrt(0.04 s) * N(0,1): std 0.05
    noise = x - bias[None, :, None]
    assert noise.std() == pytest.approx(0.05, rel=0.01)
    assert abs(noise.mean()) < 1e-3
    np.testing.assert_allclose(y, np.cumsum(x, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(b.mask), 1.0)


def test_integrator_score_is_mse():
    task = Integrator()
    b = task.sample(KEY, 8)
    assert task.score(b.targets, b)["mse"] == 0.0
    assert task.score(b.targets + 0.1, b)["mse"] == pytest.approx(0.01, rel=1e-4)


# --- Copy (braintrace quickstart) ---------------------------------------------------------------------------
def test_copy_task_structure():
    task = Copy(length=10, delay=50)
    b = task.sample(KEY, 64)
    T = 70
    assert b.inputs.shape == (T, 64, 10) and task.num_steps() == T
    ids = np.argmax(np.asarray(b.inputs), -1)
    np.testing.assert_array_equal(np.asarray(b.inputs).sum(-1), 1.0)  # one-hot
    digits = ids[:10]
    assert digits.min() >= 1 and digits.max() <= 8
    assert set(np.unique(digits)) == set(range(1, 9))
    np.testing.assert_array_equal(ids[10:60], 0)  # blank during the delay
    np.testing.assert_array_equal(ids[60:], 9)  # trigger
    np.testing.assert_array_equal(np.asarray(b.targets)[60:], digits)  # recall the digits in order
    mask = np.asarray(b.mask)
    np.testing.assert_array_equal(mask[:60], 0.0)
    np.testing.assert_array_equal(mask[60:], 1.0)
    np.testing.assert_array_equal(np.asarray(b.info["recall_on"]), 60)


def test_copy_score_perfect_and_chance():
    task = Copy(delay=5)
    b = task.sample(KEY, 4000)
    perfect = jax.nn.one_hot(b.targets, task.num_out) * 10
    assert task.score(perfect, b)["accuracy"] == 1.0
    guess = jax.nn.one_hot(jax.random.randint(jax.random.PRNGKey(1), b.targets.shape, 1, 9), task.num_out)
    assert task.score(guess, b)["accuracy"] == pytest.approx(task.chance, abs=0.01)


# --- Perceptual decision making (neurogym semantics) ------------------------------------------
def test_pdm_inputs_labels_and_periods():
    task = PerceptualDecisionMaking()
    b = task.sample(KEY, 5000)
    x, y, info = np.asarray(b.inputs), np.asarray(b.targets), {k: np.asarray(v) for k, v in b.info.items()}
    assert x.shape == (60, 5000, 3)
    bounds = task.period_bounds()
    assert bounds == {"fixation": (0, 5), "stimulus": (5, 55), "delay": (55, 55), "decision": (55, 60)}
    for p, (a, c) in bounds.items():
        np.testing.assert_array_equal(info[f"{p}_on"], a)
        np.testing.assert_array_equal(info[f"{p}_off"], c)
    np.testing.assert_array_equal(x[:55, :, 0], 1.0)  # fixation cue until the decision
    np.testing.assert_array_equal(x[55:, :, 0], 0.0)
    np.testing.assert_array_equal(x[:5, :, 1:], 0.0)  # no stimulus during fixation
    np.testing.assert_array_equal(x[55:, :, 1:], 0.0)
    np.testing.assert_array_equal(y[:55], 0)  # fixate
    np.testing.assert_array_equal(y[55:], np.broadcast_to(1 + info["ground_truth"], (5, 5000)))
    np.testing.assert_allclose(np.unique(info["coherence"]), [0.0, 6.4, 12.8, 25.6, 51.2], rtol=1e-6)
    # stimulus mean 0.5 +- coh/200 (+ on the correct side), noise std sigma/sqrt(dt)
    stim = x[5:55, :, 1:]
    sign = np.where(info["ground_truth"] == 0, 1.0, -1.0)
    mean0 = 0.5 + sign * info["coherence"] / 200
    mean1 = 0.5 - sign * info["coherence"] / 200
    np.testing.assert_allclose(stim[..., 0].mean(0), mean0, atol=4 * 0.2236 / math.sqrt(50))
    resid = np.concatenate([(stim[..., 0] - mean0).ravel(), (stim[..., 1] - mean1).ravel()])
    assert resid.std() == pytest.approx(1.0 / math.sqrt(20.0), rel=0.01)
    np.testing.assert_allclose(info["signed_coherence"], sign * info["coherence"])


def test_pdm_ideal_observer_matches_analytic_accuracy():
    task = PerceptualDecisionMaking(coherences=(6.4,))
    b = task.sample(KEY, 20000)
    ideal = float(np.mean(task.ideal_observer(b)["accuracy"]))
    assert ideal == pytest.approx(task.ideal_accuracy(6.4), abs=0.01)  # about 0.923
    assert task.ideal_accuracy(0.0) == 0.5
    assert task.ideal_accuracy(51.2) > 0.999


def test_pdm_score_uses_decision_period():
    task = PerceptualDecisionMaking()
    b = task.sample(KEY, 100)
    perfect = jax.nn.one_hot(b.targets, 3) * 5.0
    s = task.score(perfect, b)
    assert s["accuracy"] == 1.0 and s["no_choice"] == 0.0
    # choosing the wrong side only in the decision period gives accuracy 0
    wrong = jnp.where(b.targets > 0, 3 - b.targets, b.targets)
    assert task.score(jax.nn.one_hot(wrong, 3), b)["accuracy"] == 0.0
    assert "ideal_accuracy" in s


def test_pdm_decision_weight_and_delay():
    task = PerceptualDecisionMaking(delay=200.0, decision_weight=5.0)
    b = task.sample(KEY, 4)
    assert task.num_steps() == 70
    m = np.asarray(b.mask)
    np.testing.assert_array_equal(m[65:], 5.0)
    np.testing.assert_array_equal(m[:65], 1.0)
    np.testing.assert_array_equal(np.asarray(b.inputs)[55:65, :, 1:], 0.0)  # no stimulus in the delay


# --- errors and the registry (the shared contract: tests/test_task_contract.py) ------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: PerceptualDecisionMaking(stimulus=1010.0), "stimulus=1010.0 ms is not a multiple of dt=20.0 ms; use 1000 or 1020"),
        (lambda: PerceptualDecisionMaking(dt=0.0), "dt must be a finite number > 0; got 0.0"),
        (lambda: PerceptualDecisionMaking(dt=-20.0), "dt must be a finite number > 0"),
        (lambda: PerceptualDecisionMaking(dt=float("inf")), "dt must be a finite number > 0"),
        (lambda: PerceptualDecisionMaking(stimulus=float("nan")), "stimulus must be a finite number >= 0; got nan"),
        (lambda: PerceptualDecisionMaking(sigma=-1.0), "sigma must be a finite number >= 0; got -1.0"),
        (lambda: PerceptualDecisionMaking(coherences=(6.4, 120.0)), r"coherences\[1\] must be a finite number >= 0 and <= 100"),
        (lambda: Integrator(noise_scale=float("nan")), "noise_scale must be a finite number"),
        (lambda: Integrator(duration=1010.0), "not a multiple of dt"),
        (lambda: Copy(delay=-1), "delay must be an integer >= 0; got -1"),
        (lambda: Copy(length=2.5), "length must be an integer >= 1; got 2.5"),
        (lambda: Copy(num_symbols=True), "num_symbols must be an integer >= 2; got True"),
        (lambda: make_task("perceptual-decison-making"), "Did you mean"),
        (lambda: make_task("copy", dealy=5), "has no parameter 'dealy'"),
        (lambda: make_task("copy", delay=float("inf")), "delay must be a finite number; got inf"),
        (lambda: make_task("pdm", fixation=[100.0, float("nan")]), r"fixation\[1\] must be a finite number; got nan"),
        (lambda: make_task(3), "task must be a task name"),
        (lambda: nt.tasks.task_from_config(["copy"]), "a task config is a dict"),
        (lambda: PerceptualDecisionMaking().sample(KEY, 0), "batch_size must be an integer >= 1; got 0"),
        (lambda: Copy().sample(KEY, -3), "batch_size must be an integer >= 1; got -3"),
    ],
)
def test_bad_task_configuration_errors(make, match):
    with pytest.raises(nt.ConfigError, match=match):
        make()


def test_registry_names_aliases_and_config_round_trip():
    assert make_task("pdm") == PerceptualDecisionMaking()
    assert make_task("perceptual_decision_making", stimulus=800.0).num_steps() == 50
    t = make_task("copy", delay=7)
    assert nt.tasks.task_from_config(t.config()) == t
    assert make_task("copy", delay=7.0) == t and type(make_task("copy", delay=7.0).delay) is int
    assert nt.tasks.get_task_class("Perceptual_Decision-Making") is PerceptualDecisionMaking
    names = {r["name"] for r in nt.tasks.list_tasks()}
    assert {"integrator", "copy", "perceptual-decision-making"} <= names
    assert all(r["description"] and r["paper"] for r in nt.tasks.list_tasks())
