"""The tasks of the engellab/trainRNNbrain pipeline against their definitions: CDDM, DMS,
N-bit flip-flop, MemoryAnti*."""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain import ConfigError
from neurotrain.tasks import (
    ContextDependentDecisionMaking,
    DelayedMatchToSample,
    MemoryAntiAngle,
    MemoryAntiNumber,
    NBitFlipFlop,
)

KEY = jax.random.PRNGKey(0)
ALL = [ContextDependentDecisionMaking, DelayedMatchToSample, NBitFlipFlop, MemoryAntiNumber, MemoryAntiAngle]


N = 256  # one batch size everywhere, so each task's sampler compiles once for the whole file


@functools.cache
def _jitted(task):
    def sample(key, n):
        return task.sample(key, n)

    def metrics(out, b):
        m = {**task.trial_metrics(out, b), **{f"ideal_{k}": v for k, v in task.ideal_observer(b).items()}}
        return {k: v.mean() for k, v in m.items()}

    return jax.jit(sample, static_argnums=1), jax.jit(metrics)


def draw(task, n=N, key=KEY):
    """``task.sample`` under jit (eager sampling dispatches op by op: slow for tests)."""
    return _jitted(task)[0](key, n)


def draw_many(task, batches, key=KEY):
    """``batches * N`` trials from ``batches`` jitted draws of ``N``, concatenated."""
    parts = [draw(task, N, jax.random.fold_in(key, i)) for i in range(batches)]
    return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0 if xs[0].ndim == 1 else 1), *parts)


def score(task, outputs, batch):
    """``task.score`` under jit."""
    return {k: float(v) for k, v in _jitted(task)[1](jnp.asarray(outputs), batch).items()}


def np_batch(b):
    return (np.asarray(b.inputs), np.asarray(b.targets), np.asarray(b.mask),
            {k: np.asarray(v) for k, v in b.info.items()})


# --- timing and errors (the shared contract: tests/test_task_contract.py) ---------------------
@pytest.mark.parametrize("cls", [c for c in ALL if issubclass(c, nt.tasks.TimedTask)])
def test_jittered_periods_use_their_whole_range(cls):
    task = cls()
    info = np_batch(draw(task))[3]
    for p, (lo, hi) in task.period_spec().items():
        d = info[f"{p}_off"] - info[f"{p}_on"]
        assert d.min() >= lo and d.max() <= hi
        if hi > lo:  # jittered: the whole range is used
            assert d.min() == lo and d.max() == hi
    assert task.num_steps() == sum(hi for _, hi in task.period_spec().values())


@pytest.mark.parametrize("cls,field,bad,fix", [
    (ContextDependentDecisionMaking, "stimulus", 810.0, "800 or 820"),
    (ContextDependentDecisionMaking, "delay", (100.0, 510.0), "500 or 520"),
    (DelayedMatchToSample, "sample_duration", 190.0, "180 or 200"),
    (MemoryAntiNumber, "fixation", (110.0, 400.0), "100 or 120"),
    (MemoryAntiAngle, "recall", 405.0, "400 or 420"),
    (NBitFlipFlop, "pulse_duration", 30.0, "20 or 40"),
])
def test_timing_not_a_multiple_of_dt_is_a_clear_error(cls, field, bad, fix):
    with pytest.raises(ConfigError) as e:
        cls(**{field: bad})
    msg = str(e.value)
    assert field in msg and "multiple of dt=20" in msg and fix in msg


def test_other_bad_parameters_are_clear_errors():
    with pytest.raises(ConfigError, match=r"delay=\(500.0, 100.0\).*lower bound"):
        ContextDependentDecisionMaking(delay=(500.0, 100.0))
    with pytest.raises(ConfigError, match="decision.*at least one step"):
        ContextDependentDecisionMaking(decision=0.0)
    with pytest.raises(ConfigError, match="num_stimuli"):
        DelayedMatchToSample(num_stimuli=1)
    with pytest.raises(ConfigError, match="pulse_prob"):
        NBitFlipFlop(pulse_prob=1.5)
    with pytest.raises(ConfigError, match="value_range"):
        MemoryAntiNumber(value_range=(2.0, -2.0))
    with pytest.raises(ConfigError, match=r"value_range\[1\] must be a finite number; got inf"):
        MemoryAntiNumber(value_range=(-2.0, float("inf")))
    with pytest.raises(ConfigError, match="num_values must be an integer >= 2; got 1"):
        MemoryAntiNumber(num_values=1)
    with pytest.raises(ConfigError, match="num_angles must be an integer >= 2; got 2.5"):
        MemoryAntiAngle(num_angles=2.5)
    with pytest.raises(ConfigError, match="amplitude must be a finite number > 0"):
        MemoryAntiAngle(amplitude=0.0)
    with pytest.raises(ConfigError, match="match_prob must be a finite number >= 0 and <= 1; got 1.5"):
        DelayedMatchToSample(match_prob=1.5)
    with pytest.raises(ConfigError, match="decision_weight must be a finite number > 0"):
        DelayedMatchToSample(decision_weight=0.0)


# --- CDDM -----------------------------------------------------------------------------------
def test_cddm_inputs_follow_the_definition():
    task = ContextDependentDecisionMaking(sigma=0.0)
    x, y, m, info = np_batch(draw(task))
    T = task.num_steps()
    t = np.arange(T)[:, None]
    valid = t < info["trial_off"][None]
    stim = (t >= info["stimulus_on"][None]) & (t < info["stimulus_off"][None])
    dec = (t >= info["decision_on"][None]) & (t < info["decision_off"][None])
    np.testing.assert_array_equal(x[..., 0], (t < info["decision_on"][None]).astype(float))
    ctx = info["context"]
    np.testing.assert_array_equal(x[..., 1], valid * (ctx == 0)[None])
    np.testing.assert_array_equal(x[..., 2], valid * (ctx == 1)[None])
    mc, cc = info["motion_coherence"], info["colour_coherence"]
    np.testing.assert_allclose(x[..., 3], stim * (0.5 + mc / 200)[None], atol=1e-6)
    np.testing.assert_allclose(x[..., 4], stim * (0.5 - mc / 200)[None], atol=1e-6)
    np.testing.assert_allclose(x[..., 5], stim * (0.5 + cc / 200)[None], atol=1e-6)
    np.testing.assert_allclose(x[..., 6], stim * (0.5 - cc / 200)[None], atol=1e-6)
    np.testing.assert_array_equal(y, np.where(dec, 1 + info["ground_truth"][None], 0))
    np.testing.assert_array_equal(m, valid.astype(float))
    assert score(task, jnp.asarray(np.eye(3)[y] * 5), draw(task))["ideal_accuracy"] == 1.0


def test_cddm_label_follows_the_cued_modality_only():
    task = ContextDependentDecisionMaking()
    b = draw_many(task, 40)
    _, _, _, info = np_batch(b)
    relevant = np.where(info["context"] == 0, info["motion_coherence"], info["colour_coherence"])
    irrelevant = np.where(info["context"] == 0, info["colour_coherence"], info["motion_coherence"])
    np.testing.assert_array_equal(info["ground_truth"], (relevant < 0).astype(int))
    np.testing.assert_array_equal(info["signed_coherence"], relevant)
    # the irrelevant modality carries no information about the label
    assert abs(np.mean((irrelevant < 0) == info["ground_truth"]) - 0.5) < 0.02
    assert abs(info["context"].mean() - 0.5) < 0.02 and abs(info["congruent"].mean() - 0.5) < 0.02
    # a readout of the *irrelevant* modality scores chance; of the relevant one, the ideal observer
    T, n = task.num_steps(), 40 * N
    t = np.arange(T)[:, None]
    dec = (t >= info["decision_on"][None]) & (t < info["decision_off"][None])
    for mod, expect in ((irrelevant, 0.5), (relevant, 1.0)):
        choice = np.where(mod > 0, 1, 2)
        out = np.eye(3)[np.where(dec, choice[None], 0)] * 5
        acc = score(task, jnp.asarray(out), b)["accuracy"]
        assert abs(acc - expect) < 0.02, (expect, acc)
    assert n == info["context"].size


def test_cddm_ideal_observer_matches_the_analytic_accuracy():
    task = ContextDependentDecisionMaking()
    b = draw_many(task, 40)
    ideal = np.asarray(jax.jit(task.ideal_observer)(b)["accuracy"])
    coh = np.asarray(b.info["coherence"])
    for c in task.coherences:
        sel = coh == np.float32(c)
        want = task.ideal_accuracy(c)
        se = math.sqrt(want * (1 - want) / sel.sum()) + 1e-3
        assert abs(ideal[sel].mean() - want) < 4 * se, (c, ideal[sel].mean(), want)


# --- DMS ------------------------------------------------------------------------------------
def test_dms_label_is_match_iff_sample_equals_test():
    task = DelayedMatchToSample(num_stimuli=4, sigma=0.0)
    b = draw_many(task, 40)
    x, y, m, info = np_batch(b)
    np.testing.assert_array_equal(info["match"], (info["sample"] == info["test"]).astype(int))
    np.testing.assert_array_equal(info["ground_truth"], 1 - info["match"])
    assert abs(info["match"].mean() - 0.5) < 0.02
    nm = info["match"] == 0
    counts = np.bincount((info["test"][nm] - info["sample"][nm]) % 4, minlength=4)
    assert counts[0] == 0 and np.allclose(counts[1:] / nm.sum(), 1 / 3, atol=0.03)  # uniform over the others
    T = task.num_steps()
    t = np.arange(T)[:, None]
    w_s = (t >= info["sample_on"][None]) & (t < info["sample_off"][None])
    w_t = (t >= info["test_on"][None]) & (t < info["test_off"][None])
    dec = (t >= info["decision_on"][None]) & (t < info["decision_off"][None])
    want = w_s[..., None] * np.eye(4)[info["sample"]][None] + w_t[..., None] * np.eye(4)[info["test"]][None]
    np.testing.assert_array_equal(x[..., 1:], want)
    np.testing.assert_array_equal(x[..., 0], (t < info["decision_on"][None]).astype(float))
    np.testing.assert_array_equal(y, np.where(dec, 1 + info["ground_truth"][None], 0))
    assert score(task, jnp.asarray(np.eye(3)[y] * 5), b)["ideal_accuracy"] == 1.0


def test_dms_ideal_observer_is_bayes_optimal():
    task = DelayedMatchToSample(num_stimuli=3, sigma=12.0, match_prob=0.5)
    b = draw_many(task, 40)
    ideal = float(np.mean(jax.jit(task.ideal_observer)(b)["accuracy"]))
    # a plainer observer: decode each stimulus by argmax and compare; Bayes must do at least as well
    x, _, _, info = np_batch(b)
    t = np.arange(task.num_steps())[:, None, None]
    s1 = (x[..., 1:] * ((t >= info["sample_on"][None, :, None]) & (t < info["sample_off"][None, :, None]))).sum(0)
    s2 = (x[..., 1:] * ((t >= info["test_on"][None, :, None]) & (t < info["test_off"][None, :, None]))).sum(0)
    plain = np.mean((s1.argmax(-1) == s2.argmax(-1)) == (info["match"] == 1))
    assert 0.55 < plain < ideal < 0.99


# --- N-bit flip-flop --------------------------------------------------------------------------
def _flipflop_reference(inputs, pulse_steps):
    """Target by the definition: the sign of the channel's last pulse (0 before the first)."""
    T, B, N = inputs.shape
    out = np.zeros_like(inputs)
    for b in range(B):
        for n in range(N):
            state, prev = 0.0, 0.0
            for t in range(T):
                if inputs[t, b, n] != 0 and (prev == 0 or t % pulse_steps == 0):
                    state = inputs[t, b, n]
                out[t, b, n] = state
                prev = inputs[t, b, n]
    return out


@pytest.mark.parametrize("pulse_duration", [20.0, 60.0])
def test_flipflop_target_is_the_sign_of_the_last_pulse(pulse_duration):
    task = NBitFlipFlop(num_bits=3, pulse_prob=0.2, pulse_duration=pulse_duration, duration=1000.0)
    x, y, m, info = np_batch(draw(task))
    p = int(pulse_duration / 20)
    assert set(np.unique(x).tolist()) <= {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(y, _flipflop_reference(x, p))
    # time is cut into slots of `p` steps: a pulse fills a whole slot; steps after the last slot are 0
    S = task.num_steps() // p
    slots = x[:S * p].reshape(S, p, *x.shape[1:])
    assert np.all(slots == slots[:, :1]) and np.all(x[S * p:] == 0)
    onset = np.zeros(x.shape, bool)
    onset[:S * p:p] = slots[:, 0] != 0
    np.testing.assert_array_equal(info["num_pulses"], onset.sum((0, 2)))
    first = np.where(onset.any(2).any(0), onset.any(2).argmax(0), task.num_steps())
    np.testing.assert_array_equal(info["first_pulse"], first)
    np.testing.assert_array_equal(info["final_state"], ((y[-1] + 1) * 3 ** np.arange(3)).sum(-1))
    # Sussillo & Barak's scoring (the default): a bit is scored from its first pulse on
    np.testing.assert_array_equal(m, (np.cumsum(np.abs(x), axis=0) > 0).astype(float))


def test_flipflop_pulse_statistics_and_scores():
    task = NBitFlipFlop()
    b = draw_many(task, 8)
    x, y, _, info = np_batch(b)
    slots = task.num_steps()  # one-step pulses: one slot per step
    assert info["num_pulses"].mean() == pytest.approx(0.05 * slots * 3, rel=0.03)
    assert abs(np.mean(x[x != 0] > 0) - 0.5) < 0.01
    # every scored target is +-1 (a bit is scored from its first pulse on): zero outputs give mse 1
    s = score(task, jnp.zeros_like(b.targets), b)
    assert s["mse"] == pytest.approx(1.0, rel=1e-6)
    assert score(task, -b.targets, b)["bit_accuracy"] == 0.0
    # the pipeline's scoring also scores the 0 before the first pulse
    pipeline = dataclasses.replace(task, score_before_first_pulse=True)
    b = draw_many(pipeline, 8)
    s = score(pipeline, jnp.zeros_like(b.targets), b)
    before_first = float(np.mean(np.asarray(b.targets) ** 2))   # the 0s before a first pulse count too
    assert s["mse"] == pytest.approx(before_first, rel=1e-5) and before_first < 1.0


def test_flipflop_default_scoring_masks_each_bit_until_its_first_pulse():
    """score_before_first_pulse=False, the default (Sussillo & Barak): per-output mask, 0 exactly
    while a channel has had no pulse; same inputs and targets as the pipeline's scoring
    (score_before_first_pulse=True, trainRNNbrain) for the same key."""
    assert NBitFlipFlop().score_before_first_pulse is False
    classic = NBitFlipFlop(num_bits=3, pulse_prob=0.1, duration=1000.0)
    pipeline = dataclasses.replace(classic, score_before_first_pulse=True)
    b0, b1 = draw(pipeline), draw(classic)
    np.testing.assert_array_equal(b0.inputs, b1.inputs)
    np.testing.assert_array_equal(b0.targets, b1.targets)
    x, y, m, _ = np_batch(b1)
    assert m.shape == y.shape
    pulsed = np.cumsum(np.abs(x), axis=0) > 0                      # has channel n had a pulse by t?
    np.testing.assert_array_equal(m, pulsed.astype(float))
    assert 0.2 < m.mean() < 0.95                                   # both parts present in the draw
    # scores count only the scored bits: outputs equal to the targets where scored and
    # arbitrary (here 5) elsewhere give mse 0 and bit_accuracy 1
    out = jnp.where(b1.mask > 0, b1.targets, 5.0)
    s = score(classic, out, b1)
    assert s["mse"] == pytest.approx(0.0, abs=1e-7) and s["bit_accuracy"] == 1.0
    assert score(pipeline, out, b0)["mse"] > 1.0                    # the pipeline scores those steps
    # the training loss honours the per-output mask too
    assert float(nt.training.masked_mse(out, b1.targets, b1.mask)) == pytest.approx(0.0, abs=1e-7)
    assert float(nt.training.masked_mse(out, b0.targets, b0.mask)) > 1.0
    with pytest.raises(ConfigError, match="score_before_first_pulse"):
        NBitFlipFlop(score_before_first_pulse="no")


# --- MemoryAnti --------------------------------------------------------------------------------
def test_memory_anti_number_answers_the_negative():
    task = MemoryAntiNumber()
    x, y, m, info = np_batch(draw(task))
    T = task.num_steps()
    t = np.arange(T)[:, None]
    stim = (t >= info["stimulus_on"][None]) & (t < info["stimulus_off"][None])
    rec = (t >= info["recall_on"][None]) & (t < info["recall_off"][None])
    v = info["value"]
    np.testing.assert_allclose(x[..., 0], stim * v[None])
    np.testing.assert_array_equal(x[..., 1], rec.astype(float))
    np.testing.assert_allclose(y[..., 0], rec * -v[None])
    np.testing.assert_allclose(info["target_value"], -v)
    grid = np.linspace(-2, 2, 32, dtype=np.float32)
    assert set(np.unique(v).tolist()) == set(grid.tolist())
    # stimulus onset is jittered over 100..400 ms = 5..20 steps
    assert info["stimulus_on"].min() == 5 and info["stimulus_on"].max() == 20
    b = draw(task)
    s = task.score(b.targets + 0.5 * b.mask[..., None], b)  # the public, eager score
    assert s["mse"] == pytest.approx(0.25, rel=1e-5) and s["recall_error"] == pytest.approx(0.5, rel=1e-5)


def test_memory_anti_angle_answers_the_opposite_angle():
    task = MemoryAntiAngle()
    b = draw_many(task, 4)
    x, y, m, info = np_batch(b)
    th = info["theta"]
    np.testing.assert_allclose(info["target_theta"], np.mod(th + np.pi, 2 * np.pi), atol=1e-6)
    np.testing.assert_allclose(info["theta_deg"], np.degrees(th), atol=1e-4)
    t = np.arange(task.num_steps())[:, None]
    stim = (t >= info["stimulus_on"][None]) & (t < info["stimulus_off"][None])
    rec = (t >= info["recall_on"][None]) & (t < info["recall_off"][None])
    np.testing.assert_allclose(x[..., 0], stim * 2 * np.cos(th)[None], atol=1e-6)
    np.testing.assert_allclose(x[..., 1], stim * 2 * np.sin(th)[None], atol=1e-6)
    np.testing.assert_array_equal(x[..., 2], rec.astype(float))
    np.testing.assert_allclose(y[..., 0], rec * 2 * np.cos(th + np.pi)[None], atol=1e-5)
    np.testing.assert_allclose(y[..., 1], rec * 2 * np.sin(th + np.pi)[None], atol=1e-5)
    assert len(np.unique(info["theta_deg"])) == 36
    # answering the *same* angle (pro instead of anti) is 180 degrees off; a 30-degree turn, 30
    code = jnp.stack([jnp.cos(b.info["theta"]), jnp.sin(b.info["theta"])], -1)
    pro = b.mask[..., None] * code[None]
    assert score(task, pro, b)["angle_error_deg"] == pytest.approx(180.0, abs=1e-3)
    turned = b.info["target_theta"] + math.radians(30)
    out = b.mask[..., None] * jnp.stack([jnp.cos(turned), jnp.sin(turned)], -1)[None]
    assert score(task, out, b)["angle_error_deg"] == pytest.approx(30.0, abs=1e-3)


def test_training_step_compiles_once_on_a_jittered_value_task():
    import brainstate
    import braintools

    brainstate.random.seed(0)
    task = MemoryAntiAngle()
    model = nt.models.RNN(nt.models.LeakyRNNCell(task.num_in, 16, dt=task.dt), num_out=task.num_out)
    res = nt.train(model, task, braintools.optim.Adam(lr=1e-3), num_steps=3, batch_size=8)
    assert res.num_traces == 1 and np.all(np.isfinite(res.loss))
