"""CD, SCTT and DASC (Soo, Goudar & Wang 2023) and closed-loop tasks (rule reversal)."""

from __future__ import annotations

import warnings

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.training import (
    BPTT,
    CD,
    DASC,
    DRTRL,
    SCTT,
    Objective,
    SkipTransform,
    StepContext,
    skip_blocks,
)


def leaky(task, num_rec=10, seed=0, **kw):
    brainstate.random.seed(seed)
    return nt.models.build_model("leaky", num_rec=num_rec, task=task, **kw)


# --- the skip transform against Soo et al.'s loop -------------------------------------------------
def soo_loop(cell, params, x, theta, beta, aligned, period_starts, fresh=False):
    """A hand-written loop after the authors' compute_uall, called once per period; ``fresh``:
    each block's prediction from the increment of its own first step instead."""
    h = jnp.zeros((x.shape[1], cell.num_rec))
    hs = []
    bounds = list(period_starts) + [x.shape[0]]
    for a, b in zip(bounds[:-1], bounds[1:]):
        first = cell.step(params, (h,), x[a])[0]
        uskip = h + theta * (first - h) if aligned else h
        for i, t in enumerate(range(a, b)):
            new = cell.step(params, (h,), x[t])[0]
            du = new - h
            if fresh and aligned and i % theta == 0:
                uskip = h + theta * du
            if i % theta == theta - 1:
                new = beta * new + (1 - beta) * uskip
                uskip = new + theta * du if aligned else new
            h = new
            hs.append(h)
    return jnp.stack(hs)


@pytest.mark.parametrize("aligned", [False, True])
def test_skip_transform_follows_the_authors_loop_with_blocks_aligned_to_periods(aligned):
    brainstate.random.seed(1)
    model = nt.models.build_model("leaky", 2, 6, 1, tau=100.0, dt=10.0)
    fwd = model.forward()
    params = fwd.params()
    T, theta, beta = 23, 4, 0.3
    x = jax.random.normal(jax.random.PRNGKey(0), (T, 3, 2))
    info = {"a_on": jnp.zeros(3, jnp.int32), "a_off": jnp.full(3, 9, jnp.int32),
            "b_on": jnp.full(3, 9, jnp.int32), "b_off": jnp.full(3, 9, jnp.int32),     # empty
            "c_on": jnp.full(3, 9, jnp.int32), "c_off": jnp.full(3, T, jnp.int32)}
    start, end = skip_blocks(info, T, theta)
    assert np.flatnonzero(np.asarray(start[:, 0])).tolist() == [0, 9]
    assert np.flatnonzero(np.asarray(end[:, 0])).tolist() == [3, 7, 12, 16, 20]
    runs = {}
    for fresh in (False, True):
        transform = SkipTransform(theta=theta, beta=beta, aligned=aligned, period_start=start, block_end=end,
                                  fresh=fresh)
        _, act, _ = fwd.run(params, x, transform=transform)
        want = soo_loop(model.layers[0], fwd.cell_params(params, 0), x, theta, beta, aligned, [0, 9], fresh=fresh)
        np.testing.assert_allclose(act, want, rtol=1e-5, atol=1e-6)
        runs[fresh] = np.asarray(act)
    # DASC: the two predictions differ after a period's first block; SCTT: they are the same
    assert (np.max(np.abs(runs[True] - runs[False])) > 1e-4) == aligned


@pytest.mark.parametrize("method", [SCTT(theta=5), DASC(theta=5)])
def test_skip_methods_with_beta_one_are_bptt_exactly(method):
    task = nt.tasks.SooB(dt=50.0)
    model = leaky(task)
    fwd = model.forward()
    batch = task.sample(jax.random.PRNGKey(0), 4)
    obj = Objective(task.target_type)

    def grads(m, beta):
        ctx = StepContext(forward=fwd, objective=obj, update=None, options={"beta": beta}, monitor=False)
        return m.gradients(ctx, fwd.params(), batch, None)[0]

    g_bptt, g_plain, g_skip = grads(BPTT(), 1.0), grads(method, 1.0), grads(method, 0.5)
    for k in g_bptt:
        np.testing.assert_array_equal(g_plain[k], g_bptt[k])
    assert max(float(jnp.max(jnp.abs(g_skip[k] - g_bptt[k]))) for k in g_bptt) > 1e-6


def test_staged_schedules_and_their_settings():
    assert CD(theta=10, stages=6).stage_factors() == [10, 8, 6, 4, 2]          # 50, 40, 30, 20, 10 ms
    assert CD(theta=10, stages=2).stage_factors() == [10]
    assert CD(factors=(10, 5, 2)).stage_factors() == [10, 5, 2]
    assert [round(b, 3) for b in DASC(beta0=0.2, stages=4).stage_betas()] == [0.2, 0.467, 0.733]
    task = nt.tasks.SooB()
    phases = CD(factors=(10, 5), stage_steps=3).schedule(None, task, 100)
    assert [p.dt for p in phases] == [50.0, 25.0, None] and phases[-1].steps is None
    assert phases[0].task.dt == 50.0 and phases[0].task.num_steps() < task.num_steps()
    assert [p.options for p in SCTT(beta0=0.5, stages=3, stage_steps=4).schedule(None, task, 100)] == [
        {"beta": 0.5}, {"beta": 0.75}, {}]


def test_bad_settings_are_clear_errors():
    with pytest.raises(nt.ConfigError, match="theta must be an integer >= 2 for SCTT"):
        SCTT(theta=1)
    with pytest.raises(nt.ConfigError, match="theta must be an integer >= 1"):
        DASC(theta=0)
    with pytest.raises(nt.ConfigError, match="fresh_derivative"):
        DASC(fresh_derivative="maybe")
    assert nt.training.get_method("dasc", fresh_derivative=True).config()["fresh_derivative"] is True
    with pytest.raises(nt.ConfigError, match="beta0 must be a finite number >= 0 and <= 1"):
        SCTT(beta0=1.5)
    with pytest.raises(nt.ConfigError, match="stages must be an integer >= 1"):
        CD(stages=0)
    task = nt.tasks.SooB()
    with pytest.raises(nt.ConfigError, match="CD stage 0: the task does not fit a step of 8 x 5 = 40 ms"):
        CD(factors=(8,)).schedule(None, task, 100)
    brainstate.random.seed(0)
    gru = nt.models.build_model("gru", num_rec=8, task=task)
    for method in (CD(), SCTT(), DASC()):
        with pytest.raises(nt.ConfigError, match="trains continuous-time \\(leaky\\) RNNs"):
            nt.training.Trainer(gru, task, method=method, num_steps=10)
    with pytest.raises(nt.ConfigError, match="trains in its own stages"):
        nt.training.Trainer(leaky(task), task, method=SCTT(), schedule=[nt.training.Phase(None)], num_steps=10)


@pytest.mark.parametrize("method", [CD(factors=(2,), stage_steps=6),
                                    pytest.param(DASC(theta=5, beta0=0.2, stages=3, stage_steps=4),
                                                 marks=pytest.mark.slow)])   # CD by default, DASC slow
def test_resume_inside_a_stage_is_bit_identical(tmp_path, method):
    task = nt.tasks.SooB(dt=25.0)

    def make(cbs=()):
        model = leaky(task, sigma_rec=0.05)
        return model, nt.training.Trainer(model, task, braintools.optim.Adam(2e-3), method=method, num_steps=14,
                                          batch_size=4, eval_every=0, log_every=1, callbacks=list(cbs))

    class StopAt(nt.training.Callback):
        def on_log(self, trainer, logs):
            if logs["step"] >= 3:
                trainer.stop_training = True

    full_model, full = make()
    ref = full.run()
    make([StopAt(), nt.training.Checkpoint(str(tmp_path), every=0, keep=0)])[1].run()
    model, again = make()
    assert again.restore(str(tmp_path)) == 3 and again.phase_index == 0
    res = again.run()
    np.testing.assert_array_equal(res.loss, ref.loss)
    for k, v in full_model.states(brainstate.ParamState).items():
        np.testing.assert_array_equal(np.asarray(model.states(brainstate.ParamState)[k].value), np.asarray(v.value))
    assert [p["name"] for p in res.phases] == [p["name"] for p in ref.phases]


# --- closed-loop tasks: rule reversal ---------------------------------------------------------------
def test_rule_reversal_feedback_answers_the_networks_own_choice():
    task = nt.tasks.RuleReversal(dt=50.0)
    batch = task.sample(jax.random.PRNGKey(3), 6)
    loop = task.loop(batch)
    rule, stim = task.per_trial(batch.info, "rule"), task.per_trial(batch.info, "stimulus")
    correct, target = task.per_trial(batch.info, "correct"), task.per_trial(batch.info, "target")
    np.testing.assert_array_equal(correct, np.where(rule == 0, stim, 1 - stim))
    prev = np.concatenate([np.zeros((6, 1), int), np.asarray(rule)[:, :-1]], 1)
    np.testing.assert_array_equal(target, np.where(prev == 0, stim, 1 - stim))
    # an "agent" that always answers 0: feedback is "right" exactly when 0 was correct
    state = loop.init(6)
    x_given = []
    for t in range(batch.num_steps):
        x = loop.input(state, t, batch.inputs[t])
        x_given.append(x)
        state = loop.update(state, t, jnp.tile(jnp.array([1.0, 0.0]), (6, 1)))
    x_given = np.stack(x_given)
    assert np.all(np.asarray(state) == 0)
    for k in range(task.num_trials):
        on = np.asarray(batch.info[f"trial{k}_reward_on"])
        for b in range(6):
            right = correct[b, k] == 0
            assert x_given[on[b], b, 2] == float(right) and x_given[on[b], b, 3] == float(not right)
            assert x_given[on[b] - 1, b, 2:].sum() == 0      # before the reward: no feedback
    # targets: the previous trial's rule, on the scored response steps only
    r_on = np.asarray(batch.info["trial2_response_on"])
    assert batch.mask[r_on[0] + 1, 0] == 0 and batch.mask[r_on[0] + 2, 0] == 1      # 100 ms grace
    assert int(batch.targets[r_on[0] + 2, 0]) == int(target[0, 2])


def test_closed_loop_training_evaluation_and_recording():
    task = nt.tasks.RuleReversal(dt=50.0, num_trials=3)
    model = leaky(task, num_rec=16)
    result = nt.train(model, task, braintools.optim.Adam(1e-2), method=SCTT(theta=2, stage_steps=3),
                      num_steps=6, batch_size=8, eval_every=3, eval_trials=16)
    assert np.all(np.isfinite(result.loss)) and result.num_traces == 2
    ev = nt.analysis.evaluate(model, task, 16, seed=2)
    assert set(ev.scores) >= {"accuracy", "rewarded", "choice_accuracy"}
    choices = np.asarray(task.choices(ev.outputs, jax.tree.map(jnp.asarray, nt.tasks.TrialBatch(
        ev.inputs, ev.targets, ev.mask, ev.info))))
    rewarded = choices == np.asarray(task.per_trial(ev.info, "correct"))
    # the recorded inputs carry the feedback the network earned
    for k in range(task.num_trials):
        on = np.asarray(ev.info[f"trial{k}_reward_on"])
        got = ev.inputs[on, np.arange(16), 2]
        np.testing.assert_array_equal(got, rewarded[:, k].astype(float))
    act = nt.analysis.record_activity(model, task, num_trials=4)
    assert act.inputs[..., 2:].sum() > 0
    with warnings.catch_warnings(), pytest.raises(nt.ConfigError, match="cannot train on the closed-loop task"):
        warnings.simplefilter("ignore")
        nt.train(model, task, method=DRTRL(), num_steps=2, batch_size=4)


# --- Soo et al.'s model options: OU recurrent noise, sigmoid population readout -------------------
def test_ou_noise_has_the_stationary_variance_and_correlation_time_of_its_definition():
    """eta_{t+1} = (1 - a) eta_t + sqrt(2a) xi_t, a = dt/tau_noise: var 1/(1 - a/2) ~ 1 and
    lag-k autocorrelation (1 - a)^k; the noise enters as sigma_rec * eta inside f."""
    cell = nt.models.LeakyRNNCell(2, 200, tau=100.0, dt=5.0, sigma_rec=0.1, noise="ou", tau_noise=50.0)
    assert cell.state_names == ("h", "eta") and cell.tau_noise == 50.0
    fwd = nt.models.RNN(cell, 1).forward()
    out = fwd.run(fwd.params(), jnp.zeros((3000, 1, 2)), key=jax.random.PRNGKey(3), record_state=True)
    eta = np.asarray(out[3][500:, 0, 200:], np.float64)     # past the start from eta = 0
    a = 5.0 / 50.0
    assert abs(eta.var() - 1.0 / (1.0 - a / 2.0)) < 0.05
    for lag in (5, 10, 20):
        rho = np.mean(eta[lag:] * eta[:-lag]) / eta.var()
        assert abs(rho - (1.0 - a) ** lag) < 0.03, (lag, rho)
    # one step by hand: the pre-activation holds sigma_rec * eta, eta decays and gets its drive
    p = cell.param_values()
    h0, e0 = jnp.full((1, 200), 0.3), jnp.full((1, 200), 0.7)
    x = jnp.ones((1, 2))
    k = jax.random.PRNGKey(7)
    h1, e1 = cell.step(p, (h0, e0), x, key=k)
    xi = jax.random.normal(jax.random.split(k)[1], (1, 200))
    pre = h0 @ p["W_rec"] + x @ p["W_in"] + p["b"] + 0.1 * e0
    np.testing.assert_allclose(h1, 0.95 * h0 + 0.05 * jax.nn.relu(pre), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e1, 0.9 * e0 + np.sqrt(0.2) * xi, rtol=1e-5, atol=1e-6)
    # a coarse step (CD) uses its own constants; without a key the drive is off
    _, e_cd = cell.step(p, (h0, e0), x, dt=25.0)
    np.testing.assert_allclose(e_cd, 0.5 * e0, rtol=1e-6)


def test_ou_noise_cell_options_round_trip_and_bad_values():
    cell = nt.models.LeakyRNNCell(3, 8, dt=10.0, sigma_rec=0.1, noise="ou", train_h0=True)
    assert cell.tau_noise == 100.0 and "eta0" not in cell.param_names() and "h0" in cell.param_names()
    h, eta = cell.initial_state(cell.param_values(), 4)
    assert h.shape == eta.shape == (4, 8) and not np.asarray(eta).any()
    model = nt.models.RNN(cell, 2, readout_activation="sigmoid")
    again = nt.models.model_from_config(model.config())
    assert again.layers[0].noise_process == "ou" and again.layers[0].tau_noise == 100.0
    assert again.readout.activation == "sigmoid" and again.state_size == 16
    with pytest.raises(nt.ConfigError, match="noise must be one of 'white', 'ou'; got 'pink'"):
        nt.models.LeakyRNNCell(3, 8, noise="pink")
    with pytest.raises(nt.ConfigError, match="tau_noise=50.0 only applies"):
        nt.models.LeakyRNNCell(3, 8, tau_noise=50.0)
    with pytest.raises(nt.ConfigError, match="tau_noise"):
        nt.models.LeakyRNNCell(3, 8, dt=20.0, noise="ou", tau_noise=10.0)
    with pytest.raises(nt.ConfigError, match="readout_activation"):
        nt.models.RNN(nt.models.LeakyRNNCell(3, 8), 2, readout_activation="softmax")


@pytest.mark.slow  # 20 s of training; the OU process and the readout are tested by default
def test_sigmoid_readout_and_ou_noise_train_with_skip_methods_and_analysis():
    """Soo et al.'s model: inputs to the first 40 % of units, readout sigmoid(W u[20:40]) of a
    subset, OU noise, tau/2 for the last 20 %; DASC trains it, the fixed points have eta = 0."""
    task = nt.tasks.SooA(dt=20.0, rules=("go",))
    n = 50
    w_in_mask = np.zeros((task.num_in, n), bool)
    w_in_mask[:, :20] = True
    readout_mask = np.zeros((n, task.num_out), bool)
    readout_mask[20:40] = True
    tau = np.where(np.arange(n) < 40, 100.0, 50.0)
    model = leaky(task, num_rec=n, noise="ou", sigma_rec=0.1, tau=tau, w_in_mask=w_in_mask,
                  readout_mask=readout_mask, readout_activation="sigmoid")
    fwd = model.forward()
    batch = task.sample(jax.random.PRNGKey(0), 4)
    y, h, _ = fwd.run(fwd.params(), batch.inputs)
    lin = h @ fwd.params()[("readout", "W")] + fwd.params()[("readout", "b")]
    np.testing.assert_allclose(y, jax.nn.sigmoid(lin), rtol=1e-5, atol=1e-6)
    result = nt.train(model, task, braintools.optim.Adam(2e-3), method=DASC(theta=5, beta0=0.5, stages=2,
                      stage_steps=4), num_steps=8, batch_size=8, eval_every=4, eval_trials=16)
    assert np.isfinite(np.asarray(result.loss)).all() and [p["name"] for p in result.phases] == ["dasc stage 0", "plain"]
    W_in = model.effective_weights()["layers.0.W_in"]
    assert not np.asarray(W_in)[:, 20:].any()
    act = nt.analysis.record_activity(model, task, num_trials=8, full_state=True)
    fp = nt.analysis.find_fixed_points(model, np.zeros(task.num_in), activity=act)
    assert fp.points.shape[1] == 2 * n and np.abs(np.asarray(fp.points)[:, n:]).max() < 1e-6
