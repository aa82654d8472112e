"""The recurrent cells: vanilla, leaky rate (continuous time), GRU and LSTM.

Every matrix product that feeds a hidden state goes through ``braintrace.matmul`` so that
online learning (braintrace's D-RTRL and relatives) can see the weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import brainstate
import braintrace
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._validate import check_bool, check_choice, check_number, is_number
from ._activations import get_activation
from ._base import Cell, check_dt_tau
from ._constraints import (
    DALE_MODES,
    INHIBITORY,
    TauTransform,
    WeightTransform,
    check_mask,
    encode_mask,
    encode_unit_types,
    short_repr,
    unit_types,
)
from ._init import BalancedInit, initialize, make_initializer

__all__ = ["VanillaRNNCell", "LeakyRNNCell", "GRUCell", "LSTMCell", "NOISE_PROCESSES"]

#: the recurrent noise processes of the leaky cell
NOISE_PROCESSES = ("white", "ou")


def _param(spec, shape, argument):
    return brainstate.ParamState(initialize(make_initializer(spec, argument=argument), shape))


def _check_sigma(name, value):
    return check_number(name, value, minimum=0.0, fix="It is a noise standard deviation.")


class _Constrained:
    """Dale's law, connectivity masks and non-negative inputs: what the leaky and the vanilla
    cell share (see :mod:`neurotrain.models._constraints` for the parameterisation)."""

    def _setup_constraints(self, *, dale, dale_mode, positive_inputs, w_in_mask, w_rec_mask, autapses):
        n_in, n = self.num_in, self.num_rec
        self.dale_mode = check_choice("dale_mode", dale_mode, DALE_MODES,
                                      fix="'abs': W = sign * |w| (PsychRNN); 'rectify': W = sign * max(w, 0) "
                                          "(Song, Yang & Wang 2016).")
        self._dale_spec = dale
        #: ``(num_rec,)`` +1 (excitatory) / -1 (inhibitory), or ``None`` without Dale's law
        self.unit_types = None if dale is None else unit_types(n, dale)
        self.positive_inputs = check_bool("positive_inputs", positive_inputs)
        self.autapses = check_bool("autapses", autapses)
        self._w_in_mask_given = None if w_in_mask is None else check_mask("w_in_mask", w_in_mask, (n_in, n))
        self._w_rec_mask_given = None if w_rec_mask is None else check_mask("w_rec_mask", w_rec_mask, (n, n))
        rec = self._w_rec_mask_given
        if not self.autapses:
            rec = (np.ones((n, n), bool) if rec is None else rec) & ~np.eye(n, dtype=bool)
        #: the connectivity masks (``None``: all-to-all), as the network uses them
        self.w_in_mask, self.w_rec_mask = self._w_in_mask_given, rec
        self._in_fn = WeightTransform((n_in, n), mask=self.w_in_mask, sign=1 if self.positive_inputs else None,
                                      mode=self.dale_mode)
        self._rec_fn = WeightTransform((n, n), mask=self.w_rec_mask, mode=self.dale_mode,
                                       sign=None if self.unit_types is None else self.unit_types[:, None])

    @property
    def constrained(self) -> bool:
        """Whether any weight of the cell is constrained (sign or connectivity)."""
        return not (self._in_fn.identity and self._rec_fn.identity)

    def _default_rec_init(self, spec, default):
        if spec is None:
            return "balanced:0.5" if self.unit_types is not None else default
        return spec

    def _raw_rec(self, spec, argument):
        """The raw recurrent weights drawn from ``spec``: magnitudes under Dale's law, 0 where masked."""
        init = make_initializer(spec, argument=argument)
        n = self.num_rec
        if isinstance(init, BalancedInit):
            w = init((n, n), unit_types=self.unit_types, mask=self.w_rec_mask)
        else:
            w = initialize(init, (n, n))
            if self.unit_types is not None:
                w = jnp.abs(w)
        return w if self.w_rec_mask is None else jnp.where(self.w_rec_mask, w, 0.0)

    def _raw_in(self, w):
        if self.positive_inputs:
            w = jnp.abs(w)
        return w if self.w_in_mask is None else jnp.where(self.w_in_mask, w, 0.0)

    def _constraint_config(self) -> dict[str, Any]:
        """The constraint arguments that are set (a default cell's config is unchanged)."""
        out: dict[str, Any] = {}
        if self.unit_types is not None:
            spec = self._dale_spec
            out["dale"] = float(spec) if is_number(spec) else encode_unit_types(self.unit_types)
            if self.dale_mode != "abs":
                out["dale_mode"] = self.dale_mode
        elif self.positive_inputs and self.dale_mode != "abs":
            out["dale_mode"] = self.dale_mode
        if self.positive_inputs:
            out["positive_inputs"] = True
        if self._w_in_mask_given is not None:
            out["w_in_mask"] = encode_mask(self._w_in_mask_given)
        if self._w_rec_mask_given is not None:
            out["w_rec_mask"] = encode_mask(self._w_rec_mask_given)
        if not self.autapses:
            out["autapses"] = False
        return out

    def constraint_arrays(self) -> dict[str, np.ndarray]:
        """The constants of the constraints: ``unit_types`` ``(num_rec,)``, ``W_in_mask``,
        ``W_rec_mask`` (0/1), those that are set."""
        out = {}
        if self.unit_types is not None:
            out["unit_types"] = self.unit_types.copy()
        if self.w_in_mask is not None:
            out["W_in_mask"] = self.w_in_mask.astype(np.int8)
        if self.w_rec_mask is not None:
            out["W_rec_mask"] = self.w_rec_mask.astype(np.int8)
        return out

    def describe_constraints(self) -> dict[str, Any]:
        """The constraints in words and numbers (for exports and reports)."""
        out: dict[str, Any] = {}
        if self.unit_types is not None:
            out["dale"] = {"excitatory": int((self.unit_types > 0).sum()),
                           "inhibitory": int((self.unit_types == INHIBITORY).sum()),
                           "rule": "the weights from a unit keep its sign: W_rec[i, :] >= 0 for an excitatory "
                                   "unit i, <= 0 for an inhibitory one",
                           "parameterisation": ("sign * |w|" if self.dale_mode == "abs" else "sign * max(w, 0)")}
        if self.positive_inputs:
            out["positive_inputs"] = "input weights are non-negative"
        for name, m in (("W_in", self.w_in_mask), ("W_rec", self.w_rec_mask)):
            if m is not None:
                out[f"{name}_mask"] = {"connections": int(m.sum()), "of": int(m.size)}
        return out


class VanillaRNNCell(_Constrained, Cell):
    r"""Discrete-time RNN cell: :math:`h_t = f(W [x_t; h_{t-1}] + b)` (brainstate's RNN tutorial).

    ``W`` stacks the input weights (its first ``num_in`` rows) on the recurrent ones.

    Parameters
    ----------
    num_in, num_rec : int
        Input width and number of units.
    activation : str or callable
        ``"relu"`` (default), ``"tanh"``, ``"softplus"``, ``"sigmoid"``, ``"retanh"``, ``"linear"``.
    w_init : str or callable
        Initialiser of ``W``, shape ``(num_in + num_rec, num_rec)``; default ``"xavier_normal"``.
    w_rec_init : str or callable, optional
        Initialiser of the recurrent rows of ``W`` (e.g. ``"identity:1.0"`` for the IRNN of
        Le, Jaitly & Hinton 2015, ``"spectral:1.1"``); default: from ``w_init``, or
        ``"balanced:0.5"`` with Dale's law.
    bias : bool
        Learn a bias ``b`` of shape ``(num_rec,)``.
    train_h0 : bool
        Learn the initial state.
    dale, dale_mode, positive_inputs, w_in_mask, w_rec_mask, autapses
        Biological constraints, as for :class:`LeakyRNNCell` (the masks are of the input rows
        ``(num_in, num_rec)`` and of the recurrent rows ``(num_rec, num_rec)`` of ``W``).

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> cell = VanillaRNNCell(1, 8, train_h0=True)
    >>> _ = brainstate.nn.init_all_states(cell, batch_size=4)
    >>> cell.update(jnp.ones((4, 1))).shape
    (4, 8)
    >>> ei = VanillaRNNCell(1, 10, dale=0.8, autapses=False)
    >>> W = ei.effective_params(ei.param_values())["W"]
    >>> bool((W[1:9] >= 0).all() and (W[9:] <= 0).all()), float(W[1:].diagonal().max())
    (True, 0.0)
    """

    kind = "vanilla"

    def __init__(self, num_in: int, num_rec: int, *, activation="relu", w_init="xavier_normal",
                 w_rec_init=None, bias: bool = True, train_h0: bool = False, dale=None, dale_mode: str = "abs",
                 positive_inputs: bool = False, w_in_mask=None, w_rec_mask=None, autapses: bool = True):
        super().__init__(num_in, num_rec, train_h0=train_h0)
        self.activation_name, self.activation = get_activation(activation)
        self._setup_constraints(dale=dale, dale_mode=dale_mode, positive_inputs=positive_inputs,
                                w_in_mask=w_in_mask, w_rec_mask=w_rec_mask, autapses=autapses)
        w_rec_init = self._default_rec_init(w_rec_init, None)
        self._inits = {"w_init": w_init} if w_rec_init is None else {"w_init": w_init, "w_rec_init": w_rec_init}
        self.W = _param(w_init, (self.num_in + self.num_rec, self.num_rec), "w_init")
        if self.constrained or w_rec_init is not None:
            w = self.W.value
            if w_rec_init is None:   # no Dale's law here (it defaults to a balanced w_rec_init)
                rec = w[self.num_in:] if self.w_rec_mask is None else jnp.where(self.w_rec_mask, w[self.num_in:], 0.0)
            else:
                rec = self._raw_rec(w_rec_init, "w_rec_init")
            self.W.value = jnp.concatenate([self._raw_in(w[:self.num_in]), rec.astype(w.dtype)], axis=0)
        self.b = brainstate.ParamState(jnp.zeros(self.num_rec)) if bias else None
        self._w_fn = None
        if self.constrained:
            self._w_fn = WeightTransform(
                (self.num_in + self.num_rec, self.num_rec), mode=self.dale_mode,
                mask=None if self.w_in_mask is None and self.w_rec_mask is None else self._stacked_mask(),
                sign=np.concatenate([np.full((self.num_in, 1), 1 if self.positive_inputs else 0, np.int8),
                                     (np.zeros((self.num_rec, 1), np.int8) if self.unit_types is None
                                      else self.unit_types[:, None])]))

    def _stacked_mask(self):
        n_in, n = self.num_in, self.num_rec
        m_in = np.ones((n_in, n), bool) if self.w_in_mask is None else self.w_in_mask
        m_rec = np.ones((n, n), bool) if self.w_rec_mask is None else self.w_rec_mask
        return np.concatenate([m_in, m_rec], axis=0)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "activation": self.activation_name,
                "bias": self.b is not None, **_json_inits(self._inits), **self._constraint_config()}

    def trainable_masks(self) -> dict[str, Any]:
        """Absent connections (masked entries of ``W``) are frozen at 0."""
        if self.w_in_mask is None and self.w_rec_mask is None:
            return {}
        return {"W": self._stacked_mask()}

    def effective_params(self, params):
        if self._w_fn is None:
            return dict(params)
        return {**params, "W": self._w_fn(params["W"])}

    def constraint_arrays(self) -> dict[str, np.ndarray]:
        out = super().constraint_arrays()
        if "W_in_mask" in out or "W_rec_mask" in out:
            out = {k: v for k, v in out.items() if not k.endswith("_mask")}
            out["W_mask"] = self._stacked_mask().astype(np.int8)
        return out

    def step(self, params, state, x, *, key=None, dt=None):
        self._refuse_dt(dt)
        (h,) = state
        xh = jnp.concatenate([x, h], axis=-1)
        return (self.activation(braintrace.matmul(xh, params["W"], params.get("b"), weight_fn=self._w_fn)),)


class LeakyRNNCell(_Constrained, Cell):
    r"""Continuous-time leaky rate RNN, Euler-discretised (as in G. R. Yang's RNN
    tutorial with neurogym, the Engel lab's trainRNNbrain pipeline and Soo, Goudar & Wang 2023).

    .. math::
        h_{t+1} = (1-\alpha) h_t + \alpha f(W_{rec} h_t + W_{in}(x_t + \sigma_{in}\xi_t) + b
        + \sqrt{2/\alpha}\,\sigma_{rec}\,\eta_t), \qquad \alpha = dt/\tau

    with independent standard normal :math:`\xi_t, \eta_t`. With per-unit time constants
    ``alpha`` is a vector (one value per unit).

    Parameters
    ----------
    num_in, num_rec : int
        Input width and number of units.
    tau : float, sequence of float or dict
        Time constant(s) in ms: one for all units, one per unit (``(num_rec,)``), or by unit
        type with Dale's law, e.g. ``{"E": 100.0, "I": 50.0}`` (faster inhibition, as the
        inhibitory units of Soo et al. 2024 with ``tau / 2``). Every ``tau >= dt``.
    dt : float
        Integration step in ms, ``0 < dt <= tau``.
    activation : str or callable
        ``"relu"`` (default), ``"tanh"``, ``"softplus"``, ``"sigmoid"``, ``"retanh"``, ``"linear"``.
    sigma_in : float
        Standard deviation of the noise added to the input at each step.
    sigma_rec : float
        Recurrent noise level. White noise (``noise="white"``): the per-step standard deviation
        is ``sqrt(2/alpha) * sigma_rec`` so that the continuous-time noise does not depend on
        ``dt``. Ornstein-Uhlenbeck noise (``noise="ou"``): the stationary standard deviation of
        the noise added to each unit's input.
    noise : {"white", "ou"}
        The recurrent noise process. ``"ou"``: temporally correlated noise as Soo, Goudar &
        Wang 2023, :math:`\eta_{t+1} = (1 - dt/\tau_\eta)\eta_t + \sqrt{2 dt/\tau_\eta}\,\xi_t`
        with :math:`\eta_0 = 0`, entering as :math:`\sigma_{rec}\eta_t` inside the
        nonlinearity. The cell then has a second state ``eta`` (``state_names = ("h", "eta")``):
        its constants follow the step's ``dt`` (coarsened discretisation included), skip
        methods mix ``h`` only, and without noise (evaluation, fixed points) ``eta`` decays as
        the OU process does without its drive, so it is 0 at every fixed point; the
        linearisation has ``num_rec`` extra eigenvalues ``1 - dt/tau_noise`` from it.
    tau_noise : float, optional
        Correlation time of the OU noise in ms (``>= dt``); default: ``tau`` (the largest one
        with per-unit time constants). Only with ``noise="ou"``.
    w_in_init, w_rec_init : str or callable
        Initialisers of ``W_in`` ``(num_in, num_rec)`` and ``W_rec`` ``(num_rec, num_rec)``
        (see :func:`~neurotrain.models.make_initializer`). ``w_rec_init`` defaults to
        ``"orthogonal:0.5"``, and to ``"balanced:0.5"`` (E/I balanced, spectral radius 0.5 as
        the orthogonal default, no outlier eigenvalue) with Dale's law; under Dale's law any
        other initialiser gives the magnitudes ``|W|``.
    bias, train_h0 : bool
        Learn a bias; learn the initial state.
    dale : float or sequence, optional
        Dale's law: the fraction of excitatory units in ``(0, 1)`` (the first
        ``round(dale * num_rec)`` units; e.g. 0.8 as Song, Yang & Wang 2016) or one type per
        unit (``"E"``/``"I"``, ``+1``/``-1``). The weights from a unit then keep its sign:
        ``W_rec[i, :] >= 0`` for an excitatory unit ``i``, ``<= 0`` for an inhibitory one.
    dale_mode : {"abs", "rectify"}
        How a signed weight is made from its raw parameter ``w``: ``sign * |w|`` (exact
        gradient; PsychRNN) or ``sign * max(w, 0)`` (Song, Yang & Wang 2016: an entry that
        reaches 0 is pruned). Also used for ``positive_inputs``.
    positive_inputs : bool
        Non-negative input weights (``|W_in|``), as PsychRNN with Dale's law.
    w_in_mask, w_rec_mask : array of 0/1, optional
        Connectivity masks of shapes ``(num_in, num_rec)`` and ``(num_rec, num_rec)``
        (``mask[i, j]``: from input or unit ``i`` to unit ``j``). Absent entries are exactly 0
        in the effective weights and are frozen at 0 during training (no optimiser moments).
    autapses : bool
        Allow self-connections (``False`` zeroes the diagonal of ``W_rec``).
    train_tau : bool
        Learn the time constants (one per unit) within ``tau_bounds``, parameterised as
        ``tau = lo + (hi - lo) * sigmoid(tau_raw)`` (a parameter ``tau_raw`` of shape
        ``(num_rec,)``; exact gradients).
    tau_bounds : (float, float), optional
        ``(lo, hi)`` of trainable time constants; default ``(dt, 10 * max(tau))``. ``lo >= dt``.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp
    >>> cell = LeakyRNNCell(3, 16, tau=100.0, dt=20.0, sigma_rec=0.05)
    >>> cell.alpha
    0.2
    >>> _ = brainstate.nn.init_all_states(cell, batch_size=2)
    >>> cell.update(jnp.ones((2, 3))).shape
    (2, 16)

    An E/I network, 80 % excitatory, whose inhibitory units are twice as fast:

    >>> ei = LeakyRNNCell(3, 10, dale=0.8, tau={"E": 100.0, "I": 50.0}, dt=20.0, autapses=False)
    >>> ei.unit_types.tolist()
    [1, 1, 1, 1, 1, 1, 1, 1, -1, -1]
    >>> ei.alpha.tolist()
    [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.4, 0.4]
    >>> W = ei.effective_params(ei.param_values())["W_rec"]
    >>> bool((W[:8] >= 0).all() and (W[8:] <= 0).all() and (W.diagonal() == 0).all())
    True
    """

    kind = "leaky"

    def __init__(self, num_in: int, num_rec: int, *, tau=100.0, dt: float = 20.0,
                 activation="relu", sigma_in: float = 0.0, sigma_rec: float = 0.0,
                 noise: str = "white", tau_noise: float | None = None,
                 w_in_init="kaiming_uniform", w_rec_init=None, bias: bool = True,
                 train_h0: bool = False, dale=None, dale_mode: str = "abs", positive_inputs: bool = False,
                 w_in_mask=None, w_rec_mask=None, autapses: bool = True, train_tau: bool = False,
                 tau_bounds=None):
        self.noise_process = check_choice(
            "noise", noise, NOISE_PROCESSES,
            fix="'white': independent noise each step; 'ou': Ornstein-Uhlenbeck noise with correlation "
                "time tau_noise (Soo, Goudar & Wang 2023).")
        if self.noise_process == "ou":
            self.state_names = ("h", "eta")
        super().__init__(num_in, num_rec, train_h0=train_h0)
        self._setup_constraints(dale=dale, dale_mode=dale_mode, positive_inputs=positive_inputs,
                                w_in_mask=w_in_mask, w_rec_mask=w_rec_mask, autapses=autapses)
        self._setup_tau(tau, dt, train_tau, tau_bounds)
        self.activation_name, self.activation = get_activation(activation)
        self.sigma_in = _check_sigma("sigma_in", sigma_in)
        self.sigma_rec = _check_sigma("sigma_rec", sigma_rec)
        self.tau_noise = None
        if self.noise_process == "ou":
            default = float(np.max(self._tau0))
            self.tau_noise = default if tau_noise is None else float(check_number(
                "tau_noise", tau_noise, minimum=0.0, inclusive=False,
                fix="It is the correlation time of the OU noise in ms, e.g. tau_noise=100.0."))
            check_dt_tau(self.dt, self.tau_noise, name="tau_noise")
        elif tau_noise is not None:
            raise ConfigError(f"tau_noise={tau_noise!r} only applies to Ornstein-Uhlenbeck noise; pass "
                              f"noise='ou' or drop tau_noise.")
        w_rec_init = self._default_rec_init(w_rec_init, "orthogonal:0.5")
        self._inits = {"w_in_init": w_in_init, "w_rec_init": w_rec_init}
        if self.constrained:
            self.W_in = brainstate.ParamState(self._raw_in(initialize(make_initializer(
                w_in_init, argument="w_in_init"), (self.num_in, self.num_rec))))
            self.W_rec = brainstate.ParamState(self._raw_rec(w_rec_init, "w_rec_init"))
        else:
            self.W_in = _param(w_in_init, (self.num_in, self.num_rec), "w_in_init")
            self.W_rec = _param(w_rec_init, (self.num_rec, self.num_rec), "w_rec_init")
        self.b = brainstate.ParamState(jnp.zeros(self.num_rec)) if bias else None
        if self.train_tau:
            self.tau_raw = brainstate.ParamState(jnp.asarray(
                self._tau_fn.inverse(np.broadcast_to(self._tau0, (self.num_rec,))), brainstate.environ.dftype()))
        # weight_fn of the braintrace ops: None (a plain matmul, as an unconstrained cell) or the transform
        self._w_in_fn = None if self._in_fn.identity else self._in_fn
        self._w_rec_fn = None if self._rec_fn.identity else self._rec_fn

    # --- time constants --------------------------------------------------------------------
    def _setup_tau(self, tau, dt, train_tau, tau_bounds):
        n = self.num_rec
        self.dt = float(check_number("dt", dt, minimum=0.0, inclusive=False,
                                     fix="dt is the integration step in ms, e.g. dt=20.0."))
        self._tau_spec = tau
        if is_number(tau):
            self._alpha = check_dt_tau(dt, tau)
            self._tau0: Any = float(tau)
        else:
            if isinstance(tau, Mapping):
                if self.unit_types is None:
                    raise ConfigError(f"tau={tau!r} gives time constants by unit type, which needs Dale's law: "
                                      f"pass dale=0.8 (or unit types), or one tau per unit.")
                keys = {str(k).strip().upper()[:1]: v for k, v in tau.items()}
                if set(keys) != {"E", "I"}:
                    raise ConfigError(f"tau={tau!r}: give the time constant of each type as {{'E': 100.0, "
                                      f"'I': 50.0}}.")
                vec = np.where(self.unit_types > 0, float(keys["E"]), float(keys["I"]))
                self._tau_spec = {"E": float(keys["E"]), "I": float(keys["I"])}
            else:
                try:
                    vec = np.asarray(tau, np.float64).reshape(-1)
                except (TypeError, ValueError):
                    vec = None
                if vec is None or vec.size != n:
                    raise ConfigError(f"tau must be a number, one time constant per unit ({n} values) or "
                                      f"{{'E': ..., 'I': ...}}; got {short_repr(tau)}.")
                self._tau_spec = [float(v) for v in vec]
            if not np.all(np.isfinite(vec)) or np.any(vec <= 0):
                raise ConfigError(f"tau must be positive and finite for every unit; got {short_repr(tau)}.")
            check_dt_tau(dt, float(vec.min()))
            self._tau0 = vec
            self._alpha = self.dt / vec
        self.train_tau = check_bool("train_tau", train_tau)
        self._tau_fn = None
        self.tau_bounds = None
        if self.train_tau:
            taus = np.broadcast_to(np.asarray(self._tau0, np.float64), (n,))
            lo, hi = (self.dt, 10.0 * float(taus.max())) if tau_bounds is None else tau_bounds
            lo = check_number("tau_bounds[0]", lo, minimum=0.0, inclusive=False)
            hi = check_number("tau_bounds[1]", hi, minimum=0.0, inclusive=False)
            check_dt_tau(dt, lo)
            if not (lo < taus.min() and taus.max() < hi):
                raise ConfigError(f"tau_bounds=({lo:g}, {hi:g}) must contain the initial time constants strictly "
                                  f"(they span {taus.min():g} to {taus.max():g} ms); widen the bounds, e.g. "
                                  f"tau_bounds=({min(lo, taus.min() / 2):g}, {max(hi, 2 * taus.max()):g}).")
            self.tau_bounds = (lo, hi)
            self._tau_fn = TauTransform(lo, hi)
        elif tau_bounds is not None:
            raise ConfigError("tau_bounds only applies to trainable time constants; pass train_tau=True or drop "
                              "tau_bounds.")

    @property
    def tau(self):
        """The time constant in ms: a float, or ``(num_rec,)`` per unit (trained ones: current values)."""
        if self.train_tau:
            return self._tau_fn.numpy(self.tau_raw.value)
        return self._tau0

    @property
    def alpha(self):
        """``dt / tau``: a float, or ``(num_rec,)`` for per-unit time constants."""
        if self.train_tau:
            return self.dt / self.tau
        return self._alpha

    @property
    def sigma_rec_step(self):
        """Per-step standard deviation of the recurrent noise, ``sqrt(2/alpha) * sigma_rec``."""
        return (2.0 / self.alpha) ** 0.5 * self.sigma_rec

    def _step_alpha(self, params, dt, dtype):
        """``alpha`` of one step: the cell's own, or for another ``dt`` (checked against ``tau``)."""
        if self.train_tau:
            if dt is not None:
                check_dt_tau(dt, self.tau_bounds[0])
            tau = braintrace.element_wise(params["tau_raw"], weight_fn=self._tau_fn)
            return (self.dt if dt is None else float(dt)) / tau
        if isinstance(self._tau0, float):
            return self._alpha if dt is None else check_dt_tau(dt, self._tau0)
        if dt is not None:
            check_dt_tau(dt, float(self._tau0.min()))
        return jnp.asarray((self.dt if dt is None else float(dt)) / self._tau0, dtype)

    # --- configuration ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        cfg = {**super().config(), "tau": self._tau_spec if not is_number(self._tau_spec) else float(self._tau_spec),
               "dt": self.dt, "activation": self.activation_name, "sigma_in": self.sigma_in,
               "sigma_rec": self.sigma_rec, "bias": self.b is not None, **_json_inits(self._inits),
               **self._constraint_config()}
        if self.noise_process == "ou":
            cfg.update(noise="ou", tau_noise=self.tau_noise)
        if self.train_tau:
            cfg.update(train_tau=True, tau_bounds=list(self.tau_bounds))
        return cfg

    def trainable_masks(self) -> dict[str, Any]:
        """Absent connections (masked entries of ``W_in``, ``W_rec``) are frozen at 0."""
        out = {}
        if self.w_in_mask is not None:
            out["W_in"] = self.w_in_mask
        if self.w_rec_mask is not None:
            out["W_rec"] = self.w_rec_mask
        return out

    def effective_params(self, params):
        out = dict(params)
        if self._w_in_fn is not None:
            out["W_in"] = self._w_in_fn(params["W_in"])
        if self._w_rec_fn is not None:
            out["W_rec"] = self._w_rec_fn(params["W_rec"])
        return out

    def constraint_arrays(self) -> dict[str, np.ndarray]:
        out = super().constraint_arrays()
        if self.train_tau or not isinstance(self._tau0, float):
            out["tau"] = np.asarray(np.broadcast_to(self.tau, (self.num_rec,)), np.float64)
        return out

    def describe_constraints(self) -> dict[str, Any]:
        out = super().describe_constraints()
        if self.train_tau:
            out["tau"] = (f"trained per unit within {list(self.tau_bounds)} ms: tau = lo + (hi - lo) * "
                          f"sigmoid(tau_raw); the export holds the current values as tau")
        elif not isinstance(self._tau0, float):
            out["tau"] = "one time constant per unit (the export holds them as tau)"
        return out

    def draws_noise(self) -> bool:
        return self.noise and (self.sigma_in > 0 or self.sigma_rec > 0)

    def learned_state_names(self) -> tuple[str, ...]:
        return ("h",)

    # --- the pure step ---------------------------------------------------------------------
    def step(self, params, state, x, *, key=None, dt=None):
        h = state[0]
        alpha = self._step_alpha(params, dt, h.dtype)
        noisy = key is not None and self.noise
        # the noise levels may come with the parameters (one per network of a population)
        sigma_in, sigma_rec = params.get("sigma_in", self.sigma_in), params.get("sigma_rec", self.sigma_rec)
        rec_noise = noisy and ("sigma_rec" in params or self.sigma_rec > 0)
        if noisy:
            k_in, k_rec = jax.random.split(key)
        if noisy and ("sigma_in" in params or self.sigma_in > 0):
            x = x + sigma_in * jax.random.normal(k_in, x.shape, x.dtype)
        pre = (braintrace.matmul(h, params["W_rec"], weight_fn=self._w_rec_fn)
               + braintrace.matmul(x, params["W_in"], params.get("b"), weight_fn=self._w_in_fn))
        if self.noise_process == "ou":   # the noise is a state: sigma_rec * eta now, then eta moves on
            eta = state[1]
            pre = pre + sigma_rec * eta
            a_eta = check_dt_tau(self.dt if dt is None else float(dt), self.tau_noise, name="tau_noise")
            eta = (1.0 - a_eta) * eta
            if rec_noise:
                eta = eta + (2.0 * a_eta) ** 0.5 * jax.random.normal(k_rec, h.shape, h.dtype)
            return (1.0 - alpha) * h + alpha * self.activation(pre), eta
        if rec_noise:
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

    ``update_bias`` is the initial ``b_z``. A positive value starts every unit keeping most of
    its state at each step (``z = sigmoid(b_z)``), the GRU's form of the LSTM's forget-gate
    bias (Gers et al. 2000; Tallec & Ollivier 2018): it lets the gradient of a memory reach
    back over long delays from the first step (the copy task's recipe uses 1 at delays above
    20: with 0 one seed in ten stayed at chance at delay 50).

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
                 update_bias: float = 0.0, train_h0: bool = False, dale=None):
        super().__init__(num_in, num_rec, train_h0=train_h0)
        _refuse_dale(self, dale)
        n_i, n_h = self.num_in, self.num_rec
        self._inits = {"w_init": w_init, "w_rec_init": w_rec_init}
        self.update_bias = check_number("update_bias", update_bias,
                                        fix="update_bias is the initial b_z: 0 (default), or e.g. 1 to start "
                                            "the units keeping their state (z = sigmoid(1) = 0.73).")
        self.W_z = _param(w_init, (n_i + n_h, n_h), "w_init")
        self.b_z = brainstate.ParamState(jnp.full(n_h, self.update_bias))
        self.W_r = _param(w_init, (n_i + n_h, n_h), "w_init")
        self.b_r = brainstate.ParamState(jnp.zeros(n_h))
        self.W_xn = _param(w_init, (n_i, n_h), "w_init")
        self.b_xn = brainstate.ParamState(jnp.zeros(n_h))
        self.W_hn = _param(w_rec_init, (n_h, n_h), "w_rec_init")
        self.b_hn = brainstate.ParamState(jnp.zeros(n_h))

    def config(self) -> dict[str, Any]:
        return {**super().config(), "update_bias": self.update_bias, **_json_inits(self._inits)}

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
                 train_h0: bool = False, dale=None):
        super().__init__(num_in, num_rec, train_h0=train_h0)
        _refuse_dale(self, dale)
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


def _refuse_dale(cell, dale) -> None:
    """Gated cells have no Dale's law: their gates multiply the recurrent input, so a unit's
    sign does not survive to its targets."""
    if dale is not None:
        raise ConfigError(
            f"dale={dale!r}: Dale's law is available for the leaky and vanilla cells only; a {cell.kind!r} "
            f"cell's gates multiply its recurrent input, so the sign of a unit's effect on its targets is "
            f"not fixed by its weights. Use cell='leaky' (LeakyRNNCell(..., dale={dale!r})) or drop dale.")


def _json_inits(inits: dict) -> dict:
    """Initialiser specs for ``config()``: names are kept, custom callables are noted."""
    return {k: (v if isinstance(v, str) else f"<custom {getattr(v, '__name__', type(v).__name__)}>")
            for k, v in inits.items()}
