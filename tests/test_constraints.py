"""Biological constraints with known answers: Dale's law, connectivity masks, frozen weights,
per-unit time constants, regularisers, initialisers and curricula.

The parameterisation is PsychRNN's: the network uses ``W = M * S * |w|`` (mask ``M``, sign
``S`` of the presynaptic unit, raw parameter ``w``), or ``M * S * max(w, 0)`` (Song, Yang &
Wang 2016). Every expected value here is computed independently of the code under test
(numpy formulas, finite differences, closed-form fixed points).
"""

from __future__ import annotations

import os
import warnings

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import finite_difference_grads, float64, random_batch, randomize_params, relative_error

import neurotrain as nt
from neurotrain.training import BPTT, DRTRL, CustomPenalty, Objective, RatePenalty, WeightPenalty

N_IN, N, N_OUT = 3, 10, 2
TYPES = np.array([1] * 8 + [-1] * 2)            # dale=0.8 of 10 units: the first 8 excitatory


def ei_model(seed=0, *, readout_from="excitatory", positive_readout=False, freeze=None, **cell_kw):
    """A leaky E/I network: 80 % E, no autapses, non-negative inputs, E-only readout."""
    brainstate.random.seed(seed)
    kw = dict(tau=100.0, dt=20.0, dale=0.8, autapses=False, positive_inputs=True)
    kw.update(cell_kw)
    cell = nt.models.LeakyRNNCell(N_IN, N, **kw)
    return nt.models.RNN(cell, N_OUT, readout_from=readout_from, positive_readout=positive_readout, freeze=freeze)


def values(model):
    return {k: np.asarray(v.value) for k, v in model.states(brainstate.ParamState).items()}


def moments_at(opt, shape):
    """Every array of the optimiser state with ``shape`` (Adam's first and second moments)."""
    return [np.asarray(x) for x in jax.tree.leaves(opt.opt_state.value) if np.shape(x) == shape]


# --------------------------------------------------------------------------------------------
# the parameterisation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["abs", "rectify"])
def test_effective_weights_are_mask_times_presynaptic_sign_times_magnitude(mode):
    rng = np.random.default_rng(0)
    m_in = rng.random((N_IN, N)) < 0.7
    m_rec = rng.random((N, N)) < 0.6
    model = ei_model(dale_mode=mode, w_in_mask=m_in, w_rec_mask=m_rec, positive_readout=True)
    randomize_params(model, seed=3)                    # raw weights of both signs, masked entries too
    raw = values(model)
    g = np.abs if mode == "abs" else (lambda w: np.maximum(w, 0.0))
    rec_mask = m_rec & ~np.eye(N, dtype=bool)          # autapses=False removes the diagonal
    want = {
        "layers.0.W_rec": rec_mask * TYPES[:, None] * g(raw[("layers", 0, "W_rec")]),
        "layers.0.W_in": m_in * g(raw[("layers", 0, "W_in")]),
        "readout.W": (TYPES > 0)[:, None] * np.abs(raw[("readout", "W")]),
        "layers.0.b": raw[("layers", 0, "b")],
    }
    got = model.effective_weights()
    for k, w in want.items():
        np.testing.assert_allclose(got[k], w, rtol=0, atol=0, err_msg=k)
    # the forward pass uses exactly these weights: one step from a random state, by hand
    h0 = rng.normal(size=(4, N)).astype(np.float32)
    x = rng.normal(size=(4, N_IN)).astype(np.float32)
    fwd = model.forward()
    (new,), = fwd.step_cells(fwd.params(), ((jnp.asarray(h0),),), jnp.asarray(x))[0]
    pre = h0 @ want["layers.0.W_rec"] + x @ want["layers.0.W_in"] + want["layers.0.b"]
    np.testing.assert_allclose(new, 0.8 * h0 + 0.2 * np.maximum(pre, 0), rtol=1e-5, atol=1e-6)


def test_unit_types_from_a_fraction_or_explicitly():
    assert nt.models.unit_types(10, 0.8).tolist() == TYPES.tolist()
    assert nt.models.unit_types(4, "EIEI").tolist() == [1, -1, 1, -1]
    assert nt.models.unit_types(3, [True, False, True]).tolist() == [1, -1, 1]
    cell = nt.models.LeakyRNNCell(1, 4, dale=[-1, 1, 1, -1])
    W = np.asarray(cell.effective_params(cell.param_values())["W_rec"])
    assert np.all(W[[0, 3]] <= 0) and np.all(W[[1, 2]] >= 0)


# --------------------------------------------------------------------------------------------
# training keeps the constraints
# --------------------------------------------------------------------------------------------
def test_after_training_signs_masks_and_frozen_entries_hold_and_masked_moments_stay_zero():
    task = nt.tasks.PerceptualDecisionMaking()
    rng = np.random.default_rng(1)
    m_rec = rng.random((16, 16)) < 0.5
    frozen_in = np.zeros((task.num_in, 16), bool)
    frozen_in[:, :5] = True                              # freeze the inputs to units 0-4
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", num_rec=16, task=task, dale=0.75, w_rec_mask=m_rec,
                                  readout_from="excitatory", freeze={"W_in": frozen_in, "b": True})
    types = model.layers[0].unit_types
    before = values(model)
    opt = braintools.optim.AdamW(lr=2e-2, weight_decay=0.1)   # decoupled decay would move every entry
    result = nt.train(model, task, opt, num_steps=25, batch_size=16)
    after = values(model)
    W = model.effective_weights()["layers.0.W_rec"]
    # every weight keeps the sign of its presynaptic unit; masked entries are exactly 0
    assert np.all(W[types > 0] >= 0) and np.all(W[types < 0] <= 0)
    assert np.all(W[~m_rec] == 0) and np.all(after[("layers", 0, "W_rec")][~m_rec] == 0)
    assert np.count_nonzero(W[m_rec]) > 0.9 * m_rec.sum()
    assert np.all(model.effective_weights()["readout.W"][types < 0] == 0)
    # absent connections build no optimiser state: their moments stay exactly 0
    for mom in moments_at(opt, (16, 16)):
        assert np.all(mom[~m_rec] == 0) and np.any(mom[m_rec] != 0)
    # frozen entries are bit-identical, the others trained
    w0, w1 = before[("layers", 0, "W_in")], after[("layers", 0, "W_in")]
    np.testing.assert_array_equal(w1[:, :5], w0[:, :5])
    assert np.all(w1[:, 5:] != w0[:, 5:])
    np.testing.assert_array_equal(after[("layers", 0, "b")], before[("layers", 0, "b")])
    assert result.parameters["layers.0.b"] == "fixed: frozen by the model"
    assert f"{int(m_rec.sum())} of 256 entries trained" in result.parameters["layers.0.W_rec"]
    assert result.num_traces == 1 and np.all(np.isfinite(result.loss))


def test_rectified_dale_weights_that_reach_zero_stay_there():
    """Song, Yang & Wang 2016's form: an entry whose raw value goes negative is pruned (0)."""
    task = nt.tasks.PerceptualDecisionMaking()
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", num_rec=16, task=task, dale=0.8, dale_mode="rectify")
    nt.train(model, task, braintools.optim.Adam(lr=0.1), num_steps=20, batch_size=16)
    raw = values(model)[("layers", 0, "W_rec")]
    W = model.effective_weights()["layers.0.W_rec"]
    types = model.layers[0].unit_types
    assert np.any(raw < 0)                               # some were driven below 0 ...
    assert np.all(W[raw < 0] == 0)                       # ... and are pruned
    assert np.all(W[types > 0] >= 0) and np.all(W[types < 0] <= 0)


# --------------------------------------------------------------------------------------------
# gradients: finite differences (float64)
# --------------------------------------------------------------------------------------------
FD_TOL = 1e-6


def _check_fd(model, batch, objective):
    params = model.states(brainstate.ParamState)

    @brainstate.transform.jit
    def grad_fn():
        return BPTT().loss_and_grads(model, batch, objective, params)

    grads, loss, _ = grad_fn()
    fd = finite_difference_grads(lambda: grad_fn()[1], params, eps=1e-5, max_entries=30, seed=0)
    for key, (idx, fd_vals) in fd.items():
        g = np.ravel(np.asarray(grads[key]))[idx]
        if np.linalg.norm(fd_vals) < 1e-12:              # a masked or read-out-free entry set
            assert np.all(np.abs(g) < 1e-12), key
            continue
        assert relative_error(g, fd_vals) < FD_TOL, (key, relative_error(g, fd_vals))
    return grads


def test_gradients_of_constrained_weights_match_finite_differences():
    with float64():
        rng = np.random.default_rng(2)
        m_in, m_rec = rng.random((N_IN, N)) < 0.7, rng.random((N, N)) < 0.6
        model = ei_model(activation="tanh", w_in_mask=m_in, w_rec_mask=m_rec, positive_readout=True,
                         tau={"E": 100.0, "I": 50.0}, train_tau=True, tau_bounds=(20.0, 400.0), train_h0=True)
        randomize_params(model, seed=1, scale=1.5)
        batch = random_batch("class", T=6, B=3, num_in=N_IN, num_out=N_OUT, seed=1)
        fwd = model.forward()
        objective = Objective("class", penalties=[
            WeightPenalty("l1", 0.01, "W_rec"), WeightPenalty("l2", 0.05, "readout.W"), RatePenalty("l1", 0.2),
            CustomPenalty(lambda p, a, b: jnp.sum(p["layers.0.W_in"] ** 2 * jnp.mean(a ** 2)), 0.3, name="mix")],
            effective=fwd.effective_params)
        grads = _check_fd(model, batch, objective)
        # masked entries get exactly 0 (so Adam builds no moments for them)
        assert np.all(np.asarray(grads[("layers", 0, "W_rec")])[~(m_rec & ~np.eye(N, dtype=bool))] == 0)
        assert np.all(np.asarray(grads[("readout", "W")])[TYPES < 0] == 0)
        assert np.abs(np.asarray(grads[("layers", 0, "tau_raw")])).min() > 0


def test_vanilla_dale_rectified_gradients_match_finite_differences():
    with float64():
        brainstate.random.seed(0)
        cell = nt.models.VanillaRNNCell(N_IN, N, activation="tanh", dale=0.8, dale_mode="rectify",
                                        positive_inputs=True, w_rec_mask=nt.models.random_mask((N, N), 0.5, seed=4))
        model = nt.models.RNN(cell, N_OUT)
        randomize_params(model, seed=2)
        _check_fd(model, random_batch("value", T=5, B=3, num_in=N_IN, num_out=N_OUT, seed=2), Objective("value"))


# --------------------------------------------------------------------------------------------
# online learning still sees every weight
# --------------------------------------------------------------------------------------------
def _online_case(T, seed=0):
    rng = np.random.default_rng(seed)
    model = ei_model(seed, activation="tanh", w_in_mask=rng.random((N_IN, N)) < 0.8,
                     w_rec_mask=rng.random((N, N)) < 0.7, tau={"E": 100.0, "I": 50.0}, train_tau=True)
    x = jax.random.normal(jax.random.PRNGKey(seed), (T, 6, N_IN))
    y = jax.random.randint(jax.random.PRNGKey(seed + 1), (T, 6), 0, N_OUT)
    batch = nt.tasks.TrialBatch(x, y, jnp.ones((T, 6)), {})
    objective = Objective("class", penalties=[WeightPenalty("l2", 0.01, "W_rec"), RatePenalty("l1", 0.1)],
                          effective=model.forward().effective_params)
    params = model.states(brainstate.ParamState)
    gb, lb, _ = BPTT().loss_and_grads(model, batch, objective, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        go, lo, _ = DRTRL().loss_and_grads(model, batch, objective, params)
    return model, gb, go, float(lb), float(lo)


def test_online_gradient_of_a_dale_masked_network_is_exact_at_one_step():
    with float64():
        model, gb, go, lb, lo = _online_case(T=1)
        assert DRTRL().untrained_parameters(model) == {}   # braintrace sees every weight (tau too)
        assert lo == pytest.approx(lb, rel=1e-12)
        for k in gb:
            np.testing.assert_allclose(go[k], gb[k], rtol=1e-9, atol=1e-13, err_msg=str(k))
        assert float(jnp.abs(go[("layers", 0, "tau_raw")]).max()) > 0


def test_online_recurrent_gradient_is_exact_at_two_steps_from_rest():
    """From a zero state, W_rec's eligibility trace after one step is 0, so D-RTRL's diagonal
    approximation drops nothing for W_rec at T = 2: it must equal BPTT's (and not be 0)."""
    with float64():
        _, gb, go, lb, lo = _online_case(T=2, seed=1)
        key = ("layers", 0, "W_rec")
        assert float(jnp.abs(gb[key]).max()) > 1e-4
        np.testing.assert_allclose(go[key], gb[key], rtol=1e-9, atol=1e-13)
        assert lo == pytest.approx(lb, rel=1e-12)


# --------------------------------------------------------------------------------------------
# initialisers
# --------------------------------------------------------------------------------------------
def test_balanced_initialiser_has_the_radius_and_no_outlier():
    n, radius = 200, 1.5
    types = nt.models.unit_types(n, 0.8)
    for mask in (None, nt.models.random_mask((n, n), 0.3, seed=1, autapses=False)):
        mag = nt.models.ei_balanced(types, radius, mask=mask, key=0)
        W = types[:, None] * mag
        lam = np.linalg.eigvals(W)
        mod = np.sort(np.abs(lam))
        assert mod[-1] == pytest.approx(radius, rel=1e-9)
        assert np.all(mag >= 0) and np.abs(W.sum(axis=0)).max() < 1e-9     # exact balance
        assert mod[-1] / mod[-5] < 1.2          # no outlier: the largest are at the edge of the bulk
        assert abs(lam.mean()) < 0.02 * radius                              # centred
        if mask is not None:
            assert np.all(mag[~mask] == 0)
    # the same magnitudes unbalanced: one eigenvalue far outside the bulk (the known pitfall)
    naive = types[:, None] * np.abs(np.random.default_rng(0).standard_normal((n, n)))
    mod = np.sort(np.abs(np.linalg.eigvals(naive)))
    assert mod[-1] / mod[-2] > 5


def test_initialiser_specs_spectral_orthogonal_identity_and_balanced_in_a_cell():
    brainstate.random.seed(0)
    W = np.asarray(nt.models.initialize(nt.models.make_initializer("spectral:1.2"), (50, 50)), np.float64)
    assert nt.models.spectral_radius(W) == pytest.approx(1.2, rel=1e-5)
    Q = np.asarray(nt.models.initialize(nt.models.make_initializer("orthogonal:0.7"), (20, 20)), np.float64)
    np.testing.assert_allclose(Q @ Q.T, 0.49 * np.eye(20), atol=1e-5)
    D = np.asarray(nt.models.initialize(nt.models.make_initializer("diagonal:0.9"), (3, 3)))
    np.testing.assert_array_equal(D, np.float32(0.9) * np.eye(3, dtype=np.float32))
    cell = nt.models.LeakyRNNCell(2, 60, dale=0.8, w_rec_init="balanced:0.9", autapses=False)
    W = np.asarray(cell.effective_params(cell.param_values())["W_rec"], np.float64)
    assert nt.models.spectral_radius(W) == pytest.approx(0.9, rel=1e-5)
    assert np.all(W.diagonal() == 0)
    # Dale's law defaults to the balanced initialiser, radius 0.5 (as the orthogonal default)
    default = nt.models.LeakyRNNCell(2, 40, dale=0.8)
    assert default.config()["w_rec_init"] == "balanced:0.5"
    W = np.asarray(default.effective_params(default.param_values())["W_rec"], np.float64)
    assert nt.models.spectral_radius(W) == pytest.approx(0.5, rel=1e-5)


# --------------------------------------------------------------------------------------------
# per-unit time constants
# --------------------------------------------------------------------------------------------
def test_per_unit_time_constants_integrate_each_unit_at_its_own_rate():
    brainstate.random.seed(0)
    cell = nt.models.LeakyRNNCell(1, 4, dale=0.5, tau={"E": 100.0, "I": 25.0}, dt=20.0, activation="linear")
    for name in ("W_rec", "W_in", "b"):
        getattr(cell, name).value = jnp.zeros_like(getattr(cell, name).value)
    cell.b.value = jnp.ones(4)                          # a constant drive of 1: h_t = 1 - (1 - alpha)^t
    model = nt.models.RNN(cell, 1)
    _, h = model.run(jnp.zeros((5, 1, 1)))
    t = np.arange(1, 6)[:, None]
    alpha = np.array([0.2, 0.2, 0.8, 0.8])
    np.testing.assert_allclose(np.asarray(h[:, 0]), 1 - (1 - alpha) ** t, rtol=1e-6)
    np.testing.assert_allclose(nt.models.unit_alpha(model), alpha)


def test_trainable_time_constants_stay_within_their_bounds():
    task = nt.tasks.PerceptualDecisionMaking()
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", num_rec=12, task=task, train_tau=True, tau=50.0, tau_bounds=(40.0, 60.0),
                                  freeze=["W_in", "W_rec", "b", "readout"])      # only tau trains ...
    nt.train(model, task, braintools.optim.Adam(lr=1.0), num_steps=15, batch_size=8)   # ... with huge steps
    tau = model.layers[0].tau
    assert np.all(tau > 40.0) and np.all(tau < 60.0) and np.ptp(tau) > 0.1
    assert model.config()["layers"][0]["tau_bounds"] == [40.0, 60.0]


# --------------------------------------------------------------------------------------------
# regularisers: known values and gradients, reported per step
# --------------------------------------------------------------------------------------------
def test_weight_penalties_act_on_effective_weights_with_known_gradients():
    with float64():
        model = ei_model(w_rec_mask=np.random.default_rng(0).random((N, N)) < 0.5)
        randomize_params(model, seed=5)
        batch = random_batch("class", T=4, B=3, num_in=N_IN, num_out=N_OUT, seed=3)
        params = model.states(brainstate.ParamState)
        fwd = model.forward()
        plain = Objective("class")
        pen = Objective("class", penalties=[WeightPenalty("l1", 0.3, "W_rec"), WeightPenalty("l2", 0.2, "W_in")],
                        effective=fwd.effective_params)
        g0, l0, _ = BPTT().loss_and_grads(model, batch, plain, params)
        g1, l1, aux = BPTT().loss_and_grads(model, batch, pen, params)
        eff = model.effective_weights()
        w_rec, w_in = (np.asarray(params[("layers", 0, k)].value) for k in ("W_rec", "W_in"))
        mask = model.layers[0].w_rec_mask
        # |M S |w|| = M |w|: d/dw = M sign(w); (M_in |w_in|)^2 = w_in^2: d/dw = 2 w_in
        np.testing.assert_allclose(g1[("layers", 0, "W_rec")] - g0[("layers", 0, "W_rec")],
                                   0.3 * mask * np.sign(w_rec), atol=1e-12)
        np.testing.assert_allclose(g1[("layers", 0, "W_in")] - g0[("layers", 0, "W_in")], 0.4 * w_in, atol=1e-12)
        assert float(aux["l1_W_rec"]) == pytest.approx(np.abs(eff["layers.0.W_rec"]).sum(), rel=1e-12)
        assert float(aux["l2_W_in"]) == pytest.approx((eff["layers.0.W_in"] ** 2).sum(), rel=1e-12)
        assert float(l1) - float(l0) == pytest.approx(0.3 * float(aux["l1_W_rec"]) + 0.2 * float(aux["l2_W_in"]),
                                                      rel=1e-12)


def test_penalties_are_reported_per_step_in_the_result_and_the_csv(tmp_path):
    task = nt.tasks.PerceptualDecisionMaking()
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", num_rec=12, task=task, dale=0.8)
    cost = CustomPenalty(lambda p, a, b: jnp.mean(jnp.abs(a[..., :3])), 0.1, name="first3")
    csv = tmp_path / "metrics.csv"
    result = nt.train(model, task, braintools.optim.Adam(1e-2), num_steps=6, batch_size=8, log_every=2,
                      penalties=[WeightPenalty("l1", 1e-3, "W_rec"), RatePenalty("l1", 1e-2), cost],
                      callbacks=[nt.training.CSVLogger(csv)])
    for name in ("l1_W_rec", "rate_l1", "first3"):
        assert result.aux[name].shape == (6,) and np.all(result.aux[name] > 0), name
    header = csv.read_text().splitlines()[0].split(",")
    assert {"l1_W_rec", "rate_l1", "first3"} <= set(header)


# --------------------------------------------------------------------------------------------
# curricula
# --------------------------------------------------------------------------------------------
def curriculum_run(num_steps=60, callbacks=(), restore=None):
    task = nt.tasks.PerceptualDecisionMaking(dt=20.0)
    easy = nt.tasks.PerceptualDecisionMaking(dt=20.0, coherences=(51.2,))
    medium = nt.tasks.PerceptualDecisionMaking(dt=20.0, coherences=(25.6, 51.2))
    schedule = nt.training.curriculum([easy, medium], thresholds=[0.8, 1.01], max_steps=[40, 20])
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", num_rec=24, task=task)
    trainer = nt.training.Trainer(model, task, braintools.optim.Adam(2e-2), schedule=schedule, num_steps=num_steps,
                                  batch_size=16, eval_every=5, eval_trials=128, callbacks=list(callbacks))
    if restore is not None:
        trainer.restore(restore)
    return model, trainer.run()


def test_curriculum_advances_at_its_thresholds():
    _, result = curriculum_run()
    stage0, stage1, final = result.phases
    steps, stage_acc = result.eval_steps, result.eval_metrics["stage_accuracy"]
    in0 = steps <= stage0["stop"]
    passed = np.flatnonzero(in0 & (stage_acc >= 0.8))
    # the easy stage ends at the first evaluation whose held-out score on the easy task reaches 0.8
    assert passed.size and steps[passed[0]] == stage0["stop"] < 40
    assert np.all(stage_acc[in0 & (steps < stage0["stop"])] < 0.8)
    assert stage0["reason"].startswith("accuracy=") and "reached 0.8" in stage0["reason"]
    # the second stage cannot pass 1.01: it runs its 20 steps; the final task follows
    assert (stage1["start"], stage1["stop"], stage1["reason"]) == (stage0["stop"], stage0["stop"] + 20, "steps")
    assert (final["name"], final["start"], final["stop"]) == ("final", stage1["stop"], 60)
    # the stage scores are those of each stage's own task; NaN in the final phase
    assert np.all(np.isnan(stage_acc[steps > stage1["stop"]]))
    assert result.num_traces == 3


@pytest.mark.slow  # 30 s; the curriculum's thresholds are tested by default
def test_curriculum_resumes_inside_its_stage_bit_identically(tmp_path):
    full_model, full = curriculum_run()
    cut_at = full.phases[1]["start"] + 5               # inside the second stage

    class StopAt(nt.training.Callback):
        def on_log(self, trainer, logs):
            if logs["step"] >= cut_at:
                trainer.stop_training = True

    ckpt = nt.training.Checkpoint(str(tmp_path), every=0, keep=0)
    curriculum_run(callbacks=[StopAt(), ckpt])
    model, resumed = curriculum_run(restore=nt.io.latest_checkpoint(str(tmp_path)))
    for k, v in values(full_model).items():
        np.testing.assert_array_equal(values(model)[k], v, err_msg=str(k))
    assert resumed.phases == full.phases
    np.testing.assert_array_equal(resumed.eval_metrics["stage_accuracy"], full.eval_metrics["stage_accuracy"])


# --------------------------------------------------------------------------------------------
# config, run directories, export, analysis
# --------------------------------------------------------------------------------------------
def test_config_and_run_directory_rebuild_the_same_constrained_model(tmp_path):
    rng = np.random.default_rng(0)
    frozen = rng.random((N, N)) < 0.3
    model = ei_model(w_in_mask=rng.random((N_IN, N)) < 0.5, w_rec_mask=rng.random((N, N)) < 0.5,
                     tau=list(np.linspace(50, 150, N)), train_tau=True, freeze={"W_rec": frozen})
    task = nt.tasks.PerceptualDecisionMaking()
    run = nt.runs.save_run(tmp_path / "run", model=model, task=task, figures=False)
    again, _, config = nt.runs.load_run(run)
    assert again.config() == model.config() == config["model"]
    for k, v in model.constraint_arrays().items():
        np.testing.assert_array_equal(again.constraint_arrays()[k], v, err_msg=k)
    np.testing.assert_array_equal(again.trainable_masks()[("layers", 0, "W_rec")],
                                  model.trainable_masks()[("layers", 0, "W_rec")])
    x = task.sample(jax.random.PRNGKey(0), 4).inputs
    np.testing.assert_array_equal(again.run(x)[0], model.run(x)[0])


def test_export_holds_effective_weights_masks_and_signs_and_numpy_reproduces_the_network(tmp_path):
    model = ei_model(w_rec_mask=np.random.default_rng(0).random((N, N)) < 0.5, tau={"E": 100.0, "I": 40.0},
                     positive_readout=True)
    randomize_params(model, seed=1)                    # raw weights of both signs: export must sign them
    weights, desc = nt.io.read_export(nt.io.export_weights(model, tmp_path)[0])
    eff = model.effective_weights()
    for k in ("layers.0.W_rec", "layers.0.W_in", "readout.W"):
        np.testing.assert_array_equal(weights[k], eff[k])
    np.testing.assert_array_equal(weights["layers.0.unit_types"], TYPES)
    np.testing.assert_array_equal(weights["layers.0.W_rec_mask"], model.layers[0].w_rec_mask)
    np.testing.assert_array_equal(weights["readout.W_mask"][:, 0], TYPES > 0)
    np.testing.assert_allclose(weights["layers.0.tau"], np.where(TYPES > 0, 100.0, 40.0))
    assert desc["layers"][0]["constraints"]["dale"]["inhibitory"] == 2
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (12, 3, N_IN)))
    out, act = nt.io.numpy_forward(weights, desc, x)
    ref_out, ref_act = model.run(jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(act, ref_act, atol=1e-5)


def test_fixed_points_and_linearisation_use_the_effective_weights():
    """A linear E/I network has one fixed point, h* = (u W_in + b)(I - W)^-1, and the Jacobian
    (1 - alpha) I + alpha W^T, with the effective (signed, masked) W."""
    model = ei_model(activation="linear", positive_inputs=False)
    randomize_params(model, seed=2, scale=0.3)
    c = model.layers[0]
    # balanced magnitudes of spectral radius 0.6, stored with random signs: raw != effective
    mag = nt.models.ei_balanced(TYPES, 0.6, mask=~np.eye(N, dtype=bool), key=0)
    flips = np.where(np.random.default_rng(2).random((N, N)) < 0.5, -1.0, 1.0)
    c.W_rec.value = jnp.asarray(mag * flips, jnp.float32)
    eff = {k: v.astype(np.float64) for k, v in model.effective_weights().items()}
    W, W_in, b = eff["layers.0.W_rec"], eff["layers.0.W_in"], eff["layers.0.b"]
    assert nt.models.spectral_radius(W) < 1 and not np.allclose(W, np.asarray(c.W_rec.value))
    u = np.array([0.5, -1.0, 0.3])
    h_star = np.linalg.solve((np.eye(N) - W).T, u @ W_in + b)
    candidates = np.random.default_rng(0).normal(0, 1, (32, N)).astype(np.float32)
    fps = nt.analysis.find_fixed_points(model, inputs=u, candidates=candidates, seed=0)
    assert len(fps.points) >= 1
    np.testing.assert_allclose(fps.points[0], h_star, atol=1e-4)
    lin = nt.analysis.linearize(model, h_star.astype(np.float32), u.astype(np.float32))
    np.testing.assert_allclose(lin.jac_state[0], 0.8 * np.eye(N) + 0.2 * W.T, atol=1e-6)


# --------------------------------------------------------------------------------------------
# bad constraints are clear errors
# --------------------------------------------------------------------------------------------
def test_bad_constraints_are_clear_errors():
    with pytest.raises(nt.ShapeError, match=r"w_rec_mask has shape \(9, 9\).*shape \(10, 10\).*Pass a 0/1 array"):
        nt.models.LeakyRNNCell(N_IN, N, w_rec_mask=np.ones((9, 9)))
    with pytest.raises(nt.ConfigError, match="w_in_mask must hold only 0 and 1"):
        nt.models.LeakyRNNCell(N_IN, N, w_in_mask=np.full((N_IN, N), 0.5))
    for bad in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(nt.ConfigError, match=rf"dale={bad!r} is not a fraction of excitatory units in \(0, 1\)"):
            nt.models.LeakyRNNCell(N_IN, N, dale=bad)
    with pytest.raises(nt.ConfigError, match="0 inhibitory units"):
        nt.models.LeakyRNNCell(N_IN, 4, dale=0.9)
    for cell in ("gru", "lstm"):
        with pytest.raises(nt.ConfigError, match=r"dale=0\.8: Dale's law is available for the leaky and vanilla "
                                                 r"cells only.*Use cell='leaky'"):
            nt.models.build_model(cell, N_IN, N, N_OUT, dale=0.8)
    with pytest.raises(nt.ConfigError, match="(?s)w_rec_mask=.*cell 'gru' takes no biological constraints"):
        nt.models.build_model("gru", N_IN, N, N_OUT, w_rec_mask=np.ones((N, N)))
    with pytest.raises(nt.ConfigError, match="freezes every parameter of the model.*freeze fewer"):
        ei_model(freeze=["W_in", "W_rec", "b", "readout"])
    with pytest.raises(nt.ConfigError, match=r"freeze\['W_rec'\] marks every entry of layers.0.W_rec as frozen "
                                             r"\(1 = frozen\)\. To freeze the whole matrix pass True"):
        ei_model(freeze={"W_rec": np.ones((N, N))})
    with pytest.raises(nt.ConfigError, match="freeze names 'W_out'.*its parameters are layers.0.W_in"):
        ei_model(freeze=["W_out"])
    with pytest.raises(nt.ConfigError, match="readout_from='excitatory' needs Dale's law in the last layer"):
        nt.models.build_model("gru", N_IN, N, N_OUT, readout_from="excitatory")
    with pytest.raises(nt.ConfigError, match="gives time constants by unit type, which needs Dale's law"):
        nt.models.LeakyRNNCell(N_IN, N, tau={"E": 100.0, "I": 50.0})
    with pytest.raises(nt.ConfigError, match=r"tau_bounds=\(10, 20\) must contain the initial time constants"):
        nt.models.LeakyRNNCell(N_IN, N, train_tau=True, tau_bounds=(10.0, 20.0), dt=10.0)
    with pytest.raises(nt.ConfigError, match="the 'balanced' initialiser .* needs Dale's law"):
        nt.models.LeakyRNNCell(N_IN, N, w_rec_init="balanced:1.0")
    with pytest.raises(nt.ConfigError, match="WeightPenalty.params='W_foo'.*no such parameter"):
        task = nt.tasks.PerceptualDecisionMaking()
        nt.train(nt.models.build_model("leaky", num_rec=8, task=task), task, num_steps=1,
                 penalties=[WeightPenalty("l1", 1.0, "W_foo")])


def test_online_methods_refuse_penalties_of_the_whole_trials_activity():
    task = nt.tasks.PerceptualDecisionMaking()
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", num_rec=8, task=task)
    cost = CustomPenalty(lambda p, a, b: jnp.mean(a ** 4), 1.0, name="quartic")
    with pytest.raises(nt.ConfigError, match="d-rtrl: penalty 'quartic' uses the activity of the whole trial"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nt.train(model, task, method=DRTRL(), num_steps=1, batch_size=2, penalties=[cost])


# --------------------------------------------------------------------------------------------
# the command line and run options
# --------------------------------------------------------------------------------------------
def test_train_run_with_constraint_options_records_and_rebuilds_them(tmp_path):
    mask = np.random.default_rng(0).random((12, 12)) < 0.5
    np.save(tmp_path / "conn.npy", mask.astype(np.int8))
    opts = nt.runs.RunOptions(hidden=12, steps=6, batch_size=8, eval_every=3, eval_trials=64, no_progress=True,
                              no_figures=True, out=str(tmp_path / "run"), dale=0.75,
                              masks={"W_rec": str(tmp_path / "conn.npy")}, freeze={"W_in": True},
                              readout_from="excitatory", weight_l2={"W_rec": 1e-3}, rate_l1=1e-3,
                              cell_params={"tau": {"E": 100.0, "I": 50.0}},
                              curriculum={"param": "coherences", "values": [[51.2]], "thresholds": 2.0,
                                          "max_steps": 3})
    result = nt.runs.train_run(opts)
    assert result.status == "completed"
    assert [p["name"] for p in result.train_result.phases] == ["stage 0", "final"]
    assert {"l2_W_rec", "rate_l1"} <= set(result.train_result.aux)
    os.remove(tmp_path / "conn.npy")                 # the run directory does not need the file
    model, _, config = nt.runs.load_run(result.run_dir)
    np.testing.assert_array_equal(model.layers[0].w_rec_mask, mask)
    assert config["options"]["dale"] == 0.75 and model.layers[0].unit_types.tolist() == [1] * 9 + [-1] * 3
    W = model.effective_weights()["layers.0.W_rec"]
    assert np.all(W[~mask] == 0) and np.all(W[9:] <= 0) and np.all(W[:9] >= 0)
    assert nt.runs.train_run(resume=result.run_dir, steps=8, no_progress=True).status == "completed"


def test_command_line_flags_for_constraints(tmp_path, capsys):
    from neurotrain.cli import main

    np.save(tmp_path / "m.npy", np.ones((7, 7), np.int8))
    code = main(["train", "--dale", "0.8", "--mask", f"W_rec={tmp_path / 'm.npy'}", "--hidden", "8",
                 "--freeze", "W_in", "--weight-l1", "W_rec=1e-4", "--readout-from", "excitatory", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 2 and "masks.W_rec" in err and "has shape (7, 7)" in err and "(8, 8)" in err
    code = main(["train", "--dale", "0.8", "--hidden", "8", "--freeze", "W_in", "--weight-l1", "W_rec=1e-4",
                 "--readout-from", "excitatory", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "dale = 0.8" in out and 'readout_from = "excitatory"' in out and "W_in = true" in out
    code = main(["train", "--dale", "0.8", "--cell", "lstm", "--dry-run"])
    assert code == 2 and "Dale's law is available for the leaky and vanilla cells only" in capsys.readouterr().err
    code = main(["train", "--dale", "2", "--dry-run"])
    assert code == 2 and "dale must be a fraction of excitatory units in (0, 1)" in capsys.readouterr().err
