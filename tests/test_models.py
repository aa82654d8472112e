"""Cells and the RNN stack against their definitions."""

import brainstate
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.models import (
    RNN,
    GRUCell,
    LeakyRNNCell,
    LSTMCell,
    VanillaRNNCell,
    build_model,
    make_initializer,
    model_from_config,
    noise_disabled,
)

CELLS = [
    lambda **kw: VanillaRNNCell(3, 6, **kw),
    lambda **kw: LeakyRNNCell(3, 6, **kw),
    lambda **kw: GRUCell(3, 6, **kw),
    lambda **kw: LSTMCell(3, 6, **kw),
]


@pytest.mark.parametrize("make", CELLS)
def test_cell_shapes_and_initial_state(make):
    brainstate.random.seed(0)
    cell = make(train_h0=True)
    model = RNN(cell, num_out=2)
    for name in cell.state_names:
        p = getattr(cell, f"{name}0")
        assert isinstance(p, brainstate.ParamState) and p.value.shape == (6,)
        p.value = jnp.arange(6.0) / 10 + (1.0 if name == "c" else 0.0)
    brainstate.nn.init_all_states(model, batch_size=4)
    for name in cell.state_names:
        np.testing.assert_allclose(getattr(cell, name).value, np.broadcast_to(getattr(cell, f"{name}0").value, (4, 6)))
    out, act = model.run(jnp.ones((5, 4, 3)))
    assert out.shape == (5, 4, 2) and act.shape == (5, 4, 6)
    assert model.get_state().shape == (4, cell.state_size)


def test_leaky_cell_one_step_matches_equation():
    brainstate.random.seed(1)
    cell = LeakyRNNCell(2, 4, tau=50.0, dt=10.0, activation="tanh")
    brainstate.nn.init_all_states(cell, batch_size=3)
    h0 = jnp.asarray(np.random.default_rng(0).normal(size=(3, 4)), jnp.float32)
    cell.h.value = h0
    x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 2)), jnp.float32)
    h1 = cell.update(x)
    want = 0.8 * h0 + 0.2 * jnp.tanh(h0 @ cell.W_rec.value + x @ cell.W_in.value + cell.b.value)
    np.testing.assert_allclose(h1, want, rtol=1e-5, atol=1e-6)
    assert cell.alpha == pytest.approx(0.2)


def test_vanilla_cell_one_step_matches_equation():
    brainstate.random.seed(2)
    cell = VanillaRNNCell(2, 4)
    brainstate.nn.init_all_states(cell, batch_size=3)
    cell.h.value = jnp.full((3, 4), 0.3)
    x = jnp.ones((3, 2))
    want = jax.nn.relu(jnp.concatenate([x, cell.h.value], -1) @ cell.W.value + cell.b.value)
    np.testing.assert_allclose(cell.update(x), want, rtol=1e-6)


def test_gru_and_lstm_one_step_match_equations():
    brainstate.random.seed(3)
    g = GRUCell(2, 3)
    brainstate.nn.init_all_states(g, batch_size=1)
    h = jnp.array([[0.1, -0.2, 0.3]])
    g.h.value = h
    x = jnp.array([[1.0, -1.0]])
    xh = jnp.concatenate([x, h], -1)
    z = jax.nn.sigmoid(xh @ g.W_z.value + g.b_z.value)
    r = jax.nn.sigmoid(xh @ g.W_r.value + g.b_r.value)
    n = jnp.tanh(x @ g.W_xn.value + g.b_xn.value + r * (h @ g.W_hn.value + g.b_hn.value))
    np.testing.assert_allclose(g.update(x), (1 - z) * n + z * h, rtol=1e-5)

    np.testing.assert_allclose(g.b_z.value, 0.0)     # update gate unbiased by default

    cell = LSTMCell(2, 3)
    brainstate.nn.init_all_states(cell, batch_size=1)
    np.testing.assert_allclose(cell.b_f.value, 1.0)  # forget bias
    np.testing.assert_allclose(cell.b_i.value, 0.0)
    xh = jnp.concatenate([x, cell.h.value], -1)
    i, f, gg, o = (xh @ getattr(cell, f"W_{k}").value + getattr(cell, f"b_{k}").value for k in "ifgo")
    c = jax.nn.sigmoid(f) * 0 + jax.nn.sigmoid(i) * jnp.tanh(gg)
    np.testing.assert_allclose(cell.update(x), jax.nn.sigmoid(o) * jnp.tanh(c), rtol=1e-5)
    np.testing.assert_allclose(cell.c.value, c, rtol=1e-5)


def test_gru_update_bias_starts_units_keeping_their_state():
    """update_bias is the initial b_z: with zero weights, h' = (1 - z) n + z h with z = sigmoid(b)."""
    g = GRUCell(2, 3, update_bias=1.0, w_init="zeros", w_rec_init="zeros")
    np.testing.assert_allclose(g.b_z.value, 1.0)
    brainstate.nn.init_all_states(g, batch_size=1)
    g.h.value = jnp.full((1, 3), 0.5)
    z = 1.0 / (1.0 + np.exp(-1.0))
    np.testing.assert_allclose(g.update(jnp.zeros((1, 2))), z * 0.5, rtol=1e-6)   # n = tanh(0) = 0
    assert g.config()["update_bias"] == 1.0
    model = nt.models.build_model("gru", 2, 3, 1, update_bias=2.0)
    np.testing.assert_allclose(model.layers[0].b_z.value, 2.0)
    with pytest.raises(nt.ConfigError, match="update_bias"):
        GRUCell(2, 3, update_bias=float("nan"))


def test_recurrent_noise_has_sqrt_2_over_alpha_scaling():
    # With zero weights and a linear activation, h_1 = alpha * sqrt(2/alpha) * sigma * N(0, 1).
    brainstate.random.seed(4)
    cell = LeakyRNNCell(1, 50, tau=100.0, dt=20.0, activation="linear", sigma_rec=0.1,
                        w_in_init="zeros", w_rec_init="zeros")
    brainstate.nn.init_all_states(cell, batch_size=2000)
    h1 = np.asarray(cell.update(jnp.zeros((2000, 1))))
    expected = 0.2 * np.sqrt(2 / 0.2) * 0.1
    assert np.std(h1) == pytest.approx(expected, rel=0.02)
    assert abs(np.mean(h1)) < 0.005


def test_input_noise_and_noise_disabled():
    brainstate.random.seed(5)
    cell = LeakyRNNCell(1, 1, tau=20.0, dt=20.0, activation="linear", sigma_in=0.5, w_rec_init="zeros",
                        w_in_init="identity")
    model = RNN(cell, num_out=1)
    out1, act1 = model.run(jnp.zeros((1, 4000, 1)))
    assert np.std(np.asarray(act1)) == pytest.approx(0.5, rel=0.05)  # alpha = 1: h = x + noise
    with noise_disabled(model):
        _, act2 = model.run(jnp.zeros((1, 10, 1)))
    np.testing.assert_array_equal(np.asarray(act2), 0.0)
    assert cell.noise is True


def test_initializers_by_name():
    brainstate.random.seed(6)
    w = np.asarray(nt.models.initialize(make_initializer("orthogonal:0.5"), (8, 8)))
    np.testing.assert_allclose(w @ w.T, 0.25 * np.eye(8), atol=1e-5)
    np.testing.assert_allclose(nt.models.initialize(make_initializer("identity:0.9"), (3, 3)), 0.9 * np.eye(3))
    w = np.asarray(nt.models.initialize(make_initializer("normal:0.1"), (400, 400)))
    assert np.std(w) == pytest.approx(0.1, rel=0.02)
    cell = LeakyRNNCell(2, 5, w_rec_init="identity:0.7")
    np.testing.assert_allclose(cell.W_rec.value, 0.7 * np.eye(5))


def test_stacked_layers_and_config_round_trip():
    brainstate.random.seed(7)
    model = build_model("leaky", num_in=3, num_rec=8, num_out=2, num_layers=2, tau=60.0, dt=20.0, train_h0=True)
    assert [c.num_in for c in model.layers] == [3, 8]
    out, act = model.run(jnp.ones((4, 2, 3)))
    assert act.shape == (4, 2, 16) and model.num_rec == 16
    again = model_from_config(model.config())
    assert again.config() == model.config()
    params = model.states(brainstate.ParamState)
    assert ("layers", 1, "h0") in params and ("readout", "W") in params


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LeakyRNNCell(3, 8, dt=0.0), "dt must be a finite number > 0"),
        (lambda: LeakyRNNCell(3, 8, dt=-5.0), "dt must be a finite number > 0"),
        (lambda: LeakyRNNCell(3, 8, dt=200.0, tau=100.0), "larger than tau"),
        (lambda: LeakyRNNCell(3, 8, sigma_rec=-0.1), "sigma_rec must be a finite number >= 0"),
        (lambda: LeakyRNNCell(3, 8, activation="relux"), "Did you mean 'relu'"),
        (lambda: LeakyRNNCell(3, 8, w_rec_init="orthogonl:0.5"), "Did you mean 'orthogonal'"),
        (lambda: LeakyRNNCell(3, 8, w_rec_init="orthogonal:big"), "must be a number"),
        (lambda: VanillaRNNCell(3, 0), "num_rec must be an integer >= 1"),
        (lambda: RNN([LeakyRNNCell(3, 8), LeakyRNNCell(4, 8)], 2), r"cells\[1\].num_in=4"),
        (lambda: build_model("lstn", 3, 8, 2), "Did you mean 'lstm'"),
        (lambda: build_model("gru", 3, 8, 2, tau=10.0), "Allowed: "),
    ],
)
def test_bad_configuration_errors(make, match):
    with pytest.raises(nt.NeurotrainError, match=match):
        make()


def test_wrong_input_width_is_a_clear_error():
    model = RNN(LeakyRNNCell(3, 8), num_out=2)
    with pytest.raises(nt.ShapeError, match=r"\(T, batch, 3\).*got \(10, 4, 5\)"):
        model.run(jnp.zeros((10, 4, 5)))
    with pytest.raises(nt.ShapeError, match="time-major"):
        model.run(jnp.zeros((4, 3)))


@pytest.mark.parametrize("make", CELLS)
def test_every_cell_weight_is_visible_to_online_learning(make):
    """Each weight (not the initial state) feeds a hidden state through a braintrace ETP op."""
    import warnings

    import braintrace

    brainstate.random.seed(0)
    cell = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = braintrace.compile(cell, braintrace.D_RTRL, jnp.ones((2, 3)), batch_size=2)
    seen = {p for r in report.graph.hidden_param_op_relations for p in r.trainable_paths.values()}
    weights = set(cell.states(brainstate.ParamState).keys())
    assert weights and seen == weights
