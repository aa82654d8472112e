"""The seams of the layered core: the pure forward pass, frozen methods, explicit keys,
training in phases (schedule=) and the transform hook of the forward pass."""

from __future__ import annotations

import dataclasses
import os

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.training import BPTT, DRTRL, Phase, Trainer


def leaky_model(task, num_rec=12, seed=0, **kw):
    brainstate.random.seed(seed)
    return nt.models.build_model("leaky", num_rec=num_rec, task=task, **kw)


def values(model):
    return {k: np.asarray(v.value) for k, v in model.states(brainstate.ParamState).items()}


# --- the pure forward pass ---------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["vanilla", "leaky", "gru", "lstm"])
def test_pure_forward_equals_the_module_and_a_hand_written_loop(cell):
    brainstate.random.seed(1)
    model = nt.models.build_model(cell, 3, 7, 2, num_layers=2)
    x = jax.random.normal(jax.random.PRNGKey(0), (9, 4, 3))
    fwd = model.forward()
    params = fwd.params()
    out, act, final = fwd.run(params, x)
    out_m, act_m = model.run(x)                       # the module form
    np.testing.assert_array_equal(out, out_m)
    np.testing.assert_array_equal(act, act_m)
    # a loop of single steps gives the same trajectory
    state = fwd.initial_state(params, 4)
    outs = []
    for t in range(9):
        state, o, _ = fwd.step(params, state, x[t])
        outs.append(o)
    np.testing.assert_allclose(np.stack(outs), out, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fwd.flatten_state(final), fwd.flatten_state(state), rtol=1e-6, atol=1e-6)
    assert fwd.flatten_state(final).shape == (4, model.state_size)


def test_forward_is_a_pure_function_of_params_and_key():
    task = nt.tasks.PerceptualDecisionMaking()
    model = leaky_model(task, sigma_rec=0.2, sigma_in=0.1)
    fwd = model.forward()
    params = fwd.params()
    x = task.sample(jax.random.PRNGKey(0), 5).inputs
    run = jax.jit(lambda p, k: fwd.run(p, x, key=k)[0])
    a, b = run(params, jax.random.PRNGKey(3)), run(params, jax.random.PRNGKey(3))
    c = run(params, jax.random.PRNGKey(4))
    np.testing.assert_array_equal(a, b)                 # same key, same noise
    assert np.max(np.abs(a - c)) > 1e-3                 # another key, other noise
    clean = fwd.run(params, x)[0]                       # no key: noise-free
    with nt.models.noise_disabled(model):
        np.testing.assert_allclose(fwd.run(params, x, key=jax.random.PRNGKey(3))[0], clean, atol=1e-6)
    # mapping over two parameter sets is two separate runs
    p2 = jax.tree.map(lambda v: 1.1 * v, params)
    stacked = jax.tree.map(lambda u, v: jnp.stack([u, v]), params, p2)
    both = jax.vmap(lambda p: fwd.run(p, x)[0])(stacked)
    np.testing.assert_allclose(both[1], fwd.run(p2, x)[0], rtol=1e-5, atol=1e-6)


def test_forward_peak_is_the_largest_activity_and_leaves_the_rest_unchanged():
    task = nt.tasks.PerceptualDecisionMaking()
    model = leaky_model(task, sigma_rec=0.2)
    fwd = model.forward()
    params = fwd.params()
    x = task.sample(jax.random.PRNGKey(0), 5).inputs
    key = jax.random.PRNGKey(1)
    plain = fwd.run(params, x, key=key, record_state=True)
    *same, peak = fwd.run(params, x, key=key, record_state=True, peak=True)
    assert len(same) == len(plain)
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(same)):
        np.testing.assert_array_equal(a, b)
    assert peak.shape == () and float(peak) == float(np.max(np.abs(plain[1])))
    # no gradient flows through the monitor
    g = jax.grad(lambda p: fwd.run(p, x, peak=True)[-1])(params)
    assert all(float(jnp.max(jnp.abs(v))) == 0.0 for v in jax.tree.leaves(g))


def test_forward_transform_hook_changes_the_time_stepping_as_specified():
    brainstate.random.seed(0)
    model = nt.models.build_model("leaky", 2, 5, 1, tau=100.0, dt=20.0)
    fwd = model.forward()
    params = fwd.params()
    x = jax.random.normal(jax.random.PRNGKey(1), (6, 3, 2))

    class Identity:
        def init(self, state):
            return None

        def apply(self, t, previous, new, carry):
            return new, carry

    np.testing.assert_array_equal(fwd.run(params, x, transform=Identity())[0], fwd.run(params, x)[0])

    class MixEveryTwo:
        """Every second step, mix in the state of two steps before (a skip connection through time)."""

        def init(self, state):
            return state

        def apply(self, t, previous, new, block_start):
            end = (t % 2) == 1
            mixed = jax.tree.map(lambda n, s: jnp.where(end, 0.5 * n + 0.5 * s, n), new, block_start)
            return mixed, jax.tree.map(lambda m, s: jnp.where(end, m, s), mixed, block_start)

    out, _, _ = fwd.run(params, x, transform=MixEveryTwo())
    # by hand
    state = fwd.initial_state(params, 3)
    start, outs = state, []
    for t in range(6):
        state, _, _ = fwd.step(params, state, x[t])
        if t % 2 == 1:
            state = jax.tree.map(lambda n, s: 0.5 * n + 0.5 * s, state, start)
            start = state
        outs.append(fwd.readout(params, state[-1][0]))
    np.testing.assert_allclose(out, np.stack(outs), rtol=1e-6, atol=1e-6)


def test_dt_can_be_changed_for_leaky_cells_only():
    brainstate.random.seed(0)
    leaky = nt.models.build_model("leaky", 1, 4, 1, tau=100.0, dt=20.0)
    fwd = leaky.forward()
    x = jnp.ones((5, 2, 1))
    coarse = fwd.run(fwd.params(), x, dt=50.0)[1]
    assert not np.allclose(coarse, fwd.run(fwd.params(), x)[1])
    gru = nt.models.build_model("gru", 1, 4, 1).forward()
    with pytest.raises(nt.ConfigError, match="GRUCell has no time step"):
        gru.run(gru.params(), x, dt=50.0)


# --- frozen methods and the registry -----------------------------------------------------------
def test_methods_are_frozen_and_prepare_returns_a_copy():
    method = DRTRL(warmup="auto")
    with pytest.raises(dataclasses.FrozenInstanceError):
        method.warmup = 3
    prepared = method.prepare(None, nt.tasks.Copy(length=4, delay=6))
    assert (method.warmup, prepared.warmup) == ("auto", 10)
    assert BPTT().prepare(None, None) == BPTT()
    assert nt.training.get_method("D_RTRL").name == nt.training.get_method("d-rtrl").name


def test_one_name_normaliser_for_cells_tasks_and_methods():
    assert nt.models.get_cell_class("Leaky") is nt.models.LeakyRNNCell
    assert nt.tasks.get_task_class("perceptual_decision-making") is nt.tasks.PerceptualDecisionMaking
    assert type(nt.training.get_method("pp_prop")) is nt.training.PPProp
    with pytest.raises(nt.ConfigError, match="Did you mean 'd-rtrl'"):
        nt.training.get_method("d-rtr")


# --- explicit keys: the step is pure ------------------------------------------------------------
def test_training_step_is_pure_and_maps_over_networks():
    task = nt.tasks.PerceptualDecisionMaking()
    model = leaky_model(task, sigma_rec=0.1)
    trainer = Trainer(model, task, braintools.optim.Adam(1e-2), num_steps=10, batch_size=8)
    step = trainer._phase_fn(0)
    carry = trainer._ensure_carry()
    i = jnp.int32(3)
    (c1, out1), (c2, out2) = step(carry, i, jax.random.PRNGKey(0)), step(carry, i, jax.random.PRNGKey(0))
    assert float(out1[0]) == float(out2[0])
    jax.tree.map(np.testing.assert_array_equal, c1, c2)          # no hidden state: same in, same out
    _, out3 = step(carry, i, jax.random.PRNGKey(1))
    assert float(out1[0]) != float(out3[0])                       # the key decides batch and noise
    # two networks (carries and keys) in one mapped call = two separate calls
    carry_b = jax.tree.map(lambda v: v * 0.9 if v.dtype.kind == "f" else v, carry)
    keys = jnp.stack([jax.random.PRNGKey(0), jax.random.PRNGKey(1)])
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), carry, carry_b)
    mapped, mouts = jax.jit(jax.vmap(step, in_axes=(0, None, 0)))(stacked, i, keys)
    sep, _ = step(carry_b, i, jax.random.PRNGKey(1))
    for a, b in zip(jax.tree.leaves(mapped), jax.tree.leaves(sep)):
        np.testing.assert_allclose(np.asarray(a)[1], b, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(mouts[0][0], out1[0], rtol=1e-5)


# --- schedules ------------------------------------------------------------------------------------
def two_phase_run(steps, *, restore=None, callbacks=()):
    task = nt.tasks.PerceptualDecisionMaking(dt=20.0)
    model = leaky_model(task)
    schedule = [Phase(12, dt=50.0, name="coarse"), Phase(None, name="fine")]
    trainer = Trainer(model, task, braintools.optim.Adam(1e-2), schedule=schedule, num_steps=steps,
                      batch_size=8, eval_every=5, callbacks=list(callbacks))
    if restore is not None:
        trainer.restore(restore)
    return model, trainer, trainer.run()


def test_two_phase_schedule_changes_the_task_dt_and_compiles_once_per_phase():
    model, trainer, result = two_phase_run(25)
    assert result.num_traces == 2
    assert [(p["name"], p["start"], p["stop"], p["reason"]) for p in result.phases] == [
        ("coarse", 0, 12, "steps"), ("fine", 12, 25, "end of training")]
    assert trainer.phases[0].task.dt == 50.0 and trainer.phases[0].task.num_steps() == 24
    assert trainer.phases[1].task.dt == 20.0 and trainer.phases[1].dt is None
    assert len(result.loss) == 25 and np.all(np.isfinite(result.loss))


@pytest.mark.parametrize("stop_at", [5, pytest.param(15, marks=pytest.mark.slow)])
def test_resume_restarts_inside_the_right_phase_bit_identically(tmp_path, stop_at):
    full_model, _, full = two_phase_run(25)

    class StopAt(nt.training.Callback):      # a run cut at `stop_at` (phase 1 or phase 2)
        def on_log(self, trainer, logs):
            if logs["step"] >= stop_at:
                trainer.stop_training = True

    ckpt = nt.training.Checkpoint(str(tmp_path), every=0, keep=0)
    _, trainer, cut = two_phase_run(25, callbacks=[StopAt(), ckpt])
    assert cut.num_steps == stop_at
    path = nt.io.checkpoint_path(str(tmp_path), stop_at)
    assert os.path.exists(path)
    model, trainer, resumed = two_phase_run(25, restore=path)
    assert trainer.resumed_from == stop_at
    for k, v in values(full_model).items():
        np.testing.assert_array_equal(values(model)[k], v, err_msg=str(k))
    np.testing.assert_array_equal(resumed.loss, full.loss)
    assert resumed.phases == full.phases


def test_phase_ends_early_at_its_target_and_can_reset_the_optimizer():
    task = nt.tasks.PerceptualDecisionMaking(dt=20.0)
    model = leaky_model(task)
    schedule = [Phase(200, until=0.0, name="first"),           # any accuracy meets 0.0
                Phase(None, reset_optimizer=True, lr_scale=0.5, name="second")]
    result = nt.train(model, task, braintools.optim.Adam(1e-2), schedule=schedule, num_steps=30,
                      batch_size=8, eval_every=10)
    first, second = result.phases
    assert (first["stop"], second["start"]) == (10, 10) and first["reason"].startswith("accuracy=")
    np.testing.assert_allclose(result.lr[10:], 0.005)
    np.testing.assert_allclose(result.lr[:10], 0.01)


def test_bad_schedules_are_clear_errors():
    task = nt.tasks.Copy(length=3, delay=2)
    brainstate.random.seed(0)
    gru = nt.models.build_model("gru", num_rec=8, task=task)
    with pytest.raises(nt.ConfigError, match="phases add up to 20 steps but num_steps=30"):
        nt.train(gru, task, schedule=[Phase(10), Phase(10)], num_steps=30)
    with pytest.raises(nt.ConfigError, match="a phase can change dt for leaky"):
        nt.train(gru, task, schedule=[Phase(10, dt=2.0), Phase(None)], num_steps=30)
    with pytest.raises(nt.ConfigError, match="only the last phase"):
        nt.train(gru, task, schedule=[Phase(None), Phase(10)], num_steps=30)
    with pytest.raises(nt.ConfigError, match="Phase.steps must be an integer >= 1"):
        Phase(0)


# --- frozen parameters (the seam biological constraints use) ------------------------------------
def test_entries_a_model_marks_frozen_stay_bit_identical_whatever_the_optimizer():
    task = nt.tasks.PerceptualDecisionMaking()
    model = leaky_model(task)
    cell = model.layers[0]
    mask = np.ones((12, 12), bool)
    mask[:, :4] = False                                   # freeze the inputs to units 0-3
    cell.trainable_masks = lambda: {"W_rec": mask, "b": False}
    before = values(model)
    opt = braintools.optim.AdamW(lr=1e-2, weight_decay=0.1)   # decoupled decay moves every weight
    result = nt.train(model, task, opt, num_steps=15, batch_size=8, l2=1e-3)
    after = values(model)
    w0, w1 = before[("layers", 0, "W_rec")], after[("layers", 0, "W_rec")]
    np.testing.assert_array_equal(w1[:, :4], w0[:, :4])
    assert np.all(w1[:, 4:] != w0[:, 4:])
    np.testing.assert_array_equal(after[("layers", 0, "b")], before[("layers", 0, "b")])
    assert result.parameters["layers.0.b"] == "fixed: frozen by the model"
    assert "96 of 144 entries trained" in result.parameters["layers.0.W_rec"]
