"""The recurrent cells: vanilla, leaky rate (continuous time), GRU and LSTM.

Every matrix product that feeds a hidden state goes through ``braintrace.matmul`` so that
online learning (braintrace's D-RTRL and relatives) can see the weight.
"""

from __future__ import annotations

from typing import Any

import brainstate
import braintrace
import jax
import jax.numpy as jnp

from .._validate import check_number
from ._activations import get_activation
from ._base import Cell, check_dt_tau
from ._init import initialize, make_initializer

__all__ = ["VanillaRNNCell", "LeakyRNNCell", "GRUCell", "LSTMCell"]


def _param(spec, shape, argument):
    return brainstate.ParamState(initialize(make_initializer(spec, argument=argument), shape))


def _check_sigma(name, value):
    return check_number(name, value, minimum=0.0, fix="It is a noise standard deviation.")


class VanillaRNNCell(Cell):
    r"""Discrete-time RNN cell: :math:`h_t = f(W [x_t; h_{t-1}] + b)` (brainstate's RNN tutorial).

    Parameters
    ----------
    num_in, num_rec : int
        Input width and number of units.
    activation : str or callable
        ``"relu"`` (default), ``"tanh"``, ``"softplus"``, ``"sigmoid"``, ``"retanh"``, ``"linear"``.
    w_init : str or callable
        Initialiser of ``W``, shape ``(num_in + num_rec, num_rec)``; default ``"xavier_normal"``.
    bias : bool
        Learn a bias ``b`` of shape ``(num_rec,)``.
    train_h0 : bool
        Learn the initial state.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> cell = VanillaRNNCell(1, 8, train_h0=True)
    >>> _ = brainstate.nn.init_all_states(cell, batch_size=4)
    >>> cell.update(jnp.ones((4, 1))).shape
    (4, 8)
    """

    kind = "vanilla"

    def __init__(self, num_in: int, num_rec: int, *, activation="relu", w_init="xavier_normal",
                 bias: bool = True, train_h0: bool = False):
        super().__init__(num_in, num_rec, train_h0=train_h0)
        self.activation_name, self.activation = get_activation(activation)
        self._inits = {"w_init": w_init}
        self.W = _param(w_init, (self.num_in + self.num_rec, self.num_rec), "w_init")
        self.b = brainstate.ParamState(jnp.zeros(self.num_rec)) if bias else None

    def config(self) -> dict[str, Any]:
        return {**super().config(), "activation": self.activation_name,
                "bias": self.b is not None, **_json_inits(self._inits)}

    def step(self, params, state, x, *, key=None, dt=None):
        self._refuse_dt(dt)
        (h,) = state
        xh = jnp.concatenate([x, h], axis=-1)
        return (self.activation(braintrace.matmul(xh, params["W"], params.get("b"))),)


class LeakyRNNCell(Cell):
    r"""Continuous-time leaky rate RNN, Euler-discretised (as in G. R. Yang's RNN
    tutorial with neurogym, the Engel lab's trainRNNbrain pipeline and Soo, Goudar & Wang 2023).

    .. math::
        h_{t+1} = (1-\alpha) h_t + \alpha f(W_{rec} h_t + W_{in}(x_t + \sigma_{in}\xi_t) + b
        + \sqrt{2/\alpha}\,\sigma_{rec}\,\eta_t), \qquad \alpha = dt/\tau

    with independent standard normal :math:`\xi_t, \eta_t`.

    Parameters
    ----------
    num_in, num_rec : int
        Input width and number of units.
    tau, dt : float
        Time constant and integration step in ms; ``0 < dt <= tau``.
    activation : str or callable
        ``"relu"`` (default), ``"tanh"``, ``"softplus"``, ``"sigmoid"``, ``"retanh"``, ``"linear"``.
    sigma_in : float
        Standard deviation of the noise added to the input at each step.
    sigma_rec : float
        Recurrent noise level; the per-step standard deviation is ``sqrt(2/alpha) * sigma_rec``
        so that the continuous-time noise does not depend on ``dt``.
    w_in_init, w_rec_init : str or callable
        Initialisers of ``W_in`` ``(num_in, num_rec)`` and ``W_rec`` ``(num_rec, num_rec)``.
    bias, train_h0 : bool
        Learn a bias; learn the initial state.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> cell = LeakyRNNCell(3, 16, tau=100.0, dt=20.0, sigma_rec=0.05)
    >>> cell.alpha
    0.2
    >>> _ = brainstate.nn.init_all_states(cell, batch_size=2)
    >>> cell.update(jnp.ones((2, 3))).shape
    (2, 16)
    """

    kind = "leaky"

    def __init__(self, num_in: int, num_rec: int, *, tau: float = 100.0, dt: float = 20.0,
                 activation="relu", sigma_in: float = 0.0, sigma_rec: float = 0.0,
                 w_in_init="kaiming_uniform", w_rec_init="orthogonal:0.5", bias: bool = True,
                 train_h0: bool = False):
        super().__init__(num_in, num_rec, train_h0=train_h0)
        self.alpha = check_dt_tau(dt, tau)
        self.tau, self.dt = float(tau), float(dt)
        self.activation_name, self.activation = get_activation(activation)
        self.sigma_in = _check_sigma("sigma_in", sigma_in)
        self.sigma_rec = _check_sigma("sigma_rec", sigma_rec)
        self._inits = {"w_in_init": w_in_init, "w_rec_init": w_rec_init}
        self.W_in = _param(w_in_init, (self.num_in, self.num_rec), "w_in_init")
        self.W_rec = _param(w_rec_init, (self.num_rec, self.num_rec), "w_rec_init")
        self.b = brainstate.ParamState(jnp.zeros(self.num_rec)) if bias else None

    @property
    def sigma_rec_step(self) -> float:
        """Per-step standard deviation of the recurrent noise, ``sqrt(2/alpha) * sigma_rec``."""
        return (2.0 / self.alpha) ** 0.5 * self.sigma_rec

    def config(self) -> dict[str, Any]:
        return {**super().config(), "tau": self.tau, "dt": self.dt, "activation": self.activation_name,
                "sigma_in": self.sigma_in, "sigma_rec": self.sigma_rec, "bias": self.b is not None,
                **_json_inits(self._inits)}

    def draws_noise(self) -> bool:
        return self.noise and (self.sigma_in > 0 or self.sigma_rec > 0)

    def step(self, params, state, x, *, key=None, dt=None):
        (h,) = state
        alpha = self.alpha if dt is None else check_dt_tau(dt, self.tau)
        noisy = key is not None and self.noise
        # the noise levels may come with the parameters (one per network of a population)
        sigma_in, sigma_rec = params.get("sigma_in", self.sigma_in), params.get("sigma_rec", self.sigma_rec)
        if noisy:
            k_in, k_rec = jax.random.split(key)
        if noisy and ("sigma_in" in params or self.sigma_in > 0):
            x = x + sigma_in * jax.random.normal(k_in, x.shape, x.dtype)
        pre = braintrace.matmul(h, params["W_rec"]) + braintrace.matmul(x, params["W_in"], params.get("b"))
        if noisy and ("sigma_rec" in params or self.sigma_rec > 0):
            pre = pre + (2.0 / alpha) ** 0.5 * sigma_rec * jax.random.normal(k_rec, h.shape, h.dtype)
        return ((1.0 - alpha) * h + alpha * self.activation(pre),)


class GRUCell(Cell):
    r"""Gated recurrent unit in the "reset-after" form (as cuDNN and PyTorch):

    .. math::
        z &= \sigma(W_{z}[x; h] + b_z), \quad r = \sigma(W_{r}[x; h] + b_r) \\
        n &= \tanh(W_{xn} x + b_{xn} + r \odot (W_{hn} h + b_{hn})) \\
        h' &= (1 - z) \odot n + z \odot h

    ``W_z`` and ``W_r`` have shape ``(num_in + num_rec, num_rec)``, ``W_xn`` ``(num_in, num_rec)``
    and ``W_hn`` ``(num_rec, num_rec)``. Each gate has its own matrix product whose output has
    the hidden state's shape, and (unlike the "reset-before" form ``tanh(W [x; r*h])``) each
    reaches the hidden state through element-wise operations only: online learning with
    braintrace can see and train every weight.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> cell = GRUCell(10, 32)
    >>> _ = brainstate.nn.init_all_states(cell, batch_size=5)
    >>> cell.update(jnp.zeros((5, 10))).shape
    (5, 32)
    """

    kind = "gru"

    def __init__(self, num_in: int, num_rec: int, *, w_init="xavier_uniform", w_rec_init="orthogonal",
                 train_h0: bool = False):
        super().__init__(num_in, num_rec, train_h0=train_h0)
        n_i, n_h = self.num_in, self.num_rec
        self._inits = {"w_init": w_init, "w_rec_init": w_rec_init}
        self.W_z = _param(w_init, (n_i + n_h, n_h), "w_init")
        self.b_z = brainstate.ParamState(jnp.zeros(n_h))
        self.W_r = _param(w_init, (n_i + n_h, n_h), "w_init")
        self.b_r = brainstate.ParamState(jnp.zeros(n_h))
        self.W_xn = _param(w_init, (n_i, n_h), "w_init")
        self.b_xn = brainstate.ParamState(jnp.zeros(n_h))
        self.W_hn = _param(w_rec_init, (n_h, n_h), "w_rec_init")
        self.b_hn = brainstate.ParamState(jnp.zeros(n_h))

    def config(self) -> dict[str, Any]:
        return {**super().config(), **_json_inits(self._inits)}

    def step(self, params, state, x, *, key=None, dt=None):
        self._refuse_dt(dt)
        (h,) = state
        p = params
        xh = jnp.concatenate([x, h], -1)
        z = jax.nn.sigmoid(braintrace.matmul(xh, p["W_z"], p["b_z"]))
        r = jax.nn.sigmoid(braintrace.matmul(xh, p["W_r"], p["b_r"]))
        n = jnp.tanh(braintrace.matmul(x, p["W_xn"], p["b_xn"])
                     + r * braintrace.matmul(h, p["W_hn"], p["b_hn"]))
        return ((1.0 - z) * n + z * h,)


class LSTMCell(Cell):
    r"""Long short-term memory cell with states ``h`` and ``c``.

    .. math::
        i, f, o = \sigma(W_{i,f,o} [x; h] + b_{i,f,o}), \quad g = \tanh(W_g [x; h] + b_g), \quad
        c' = f \odot c + i \odot g, \quad h' = o \odot \tanh(c')

    Each gate has its own ``(num_in + num_rec, num_rec)`` matrix (so online learning can see
    every weight); the forget-gate bias ``b_f`` starts at ``forget_bias`` (1.0). With
    ``train_h0=True`` both ``h0`` and ``c0`` are learned. :meth:`get_state` returns ``[h, c]``.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> cell = LSTMCell(4, 8)
    >>> cell.state_size
    16
    >>> _ = brainstate.nn.init_all_states(cell, batch_size=3)
    >>> cell.update(jnp.zeros((3, 4))).shape
    (3, 8)
    """

    kind = "lstm"
    state_names = ("h", "c")
    gates = ("i", "f", "g", "o")

    def __init__(self, num_in: int, num_rec: int, *, w_init="xavier_uniform", forget_bias: float = 1.0,
                 train_h0: bool = False):
        super().__init__(num_in, num_rec, train_h0=train_h0)
        n_h = self.num_rec
        self._inits = {"w_init": w_init}
        self.forget_bias = float(forget_bias)
        for g in self.gates:
            setattr(self, f"W_{g}", _param(w_init, (self.num_in + n_h, n_h), "w_init"))
            setattr(self, f"b_{g}", brainstate.ParamState(jnp.full(n_h, self.forget_bias if g == "f" else 0.0)))

    def config(self) -> dict[str, Any]:
        return {**super().config(), "forget_bias": self.forget_bias, **_json_inits(self._inits)}

    def step(self, params, state, x, *, key=None, dt=None):
        self._refuse_dt(dt)
        h, c = state
        xh = jnp.concatenate([x, h], -1)
        pre = {g: braintrace.matmul(xh, params[f"W_{g}"], params[f"b_{g}"]) for g in self.gates}
        i, f, o = jax.nn.sigmoid(pre["i"]), jax.nn.sigmoid(pre["f"]), jax.nn.sigmoid(pre["o"])
        c = f * c + i * jnp.tanh(pre["g"])
        return (o * jnp.tanh(c), c)


def _json_inits(inits: dict) -> dict:
    """Initialiser specs for ``config()``: names are kept, custom callables are noted."""
    return {k: (v if isinstance(v, str) else f"<custom {getattr(v, '__name__', type(v).__name__)}>")
            for k, v in inits.items()}
