"""The cell base class: shared state handling, trainable initial states and input checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import brainstate
import jax.numpy as jnp

from .._errors import ConfigError, ShapeError
from .._validate import check_positive

__all__ = ["Cell"]


class Cell(brainstate.nn.Module):
    """Base class of neurotrain's recurrent cells.

    A cell owns its weights as ``brainstate.ParamState`` and its state as one or more
    ``brainstate.HiddenState`` made in :meth:`init_state`. :meth:`update` advances one time
    step and returns the cell's output (its firing rates / hidden vector ``h``).

    Subclasses set ``state_names`` (e.g. ``("h",)`` or ``("h", "c")``); with ``train_h0=True``
    each state gets a trainable initial value ``<name>0`` (a ``ParamState`` of shape
    ``(num_rec,)``) shared by all trials.

    A new cell subclasses it, creates its weights as ``ParamState`` s in ``__init__`` and
    implements the pure :meth:`step`; :meth:`update`, the initial state, stacking in an
    :class:`~neurotrain.models.RNN`, the pure forward pass and training all come from there. A
    noisy cell also overrides :meth:`draws_noise`, and :meth:`config` returns its constructor
    arguments so that run directories can rebuild it. Matrix products that feed the hidden
    state should be ``braintrace.matmul`` so that online methods can train their weights.
    :func:`~neurotrain.models.register_cell` makes the cell buildable by name.

    Parameters
    ----------
    num_in : int
        Input width.
    num_rec : int
        Number of recurrent units.
    train_h0 : bool
        Learn the initial state (exact gradient under BPTT).

    Examples
    --------
    A linear leaky integrator, :math:`h' = (1 - a) h + a W x`:

    >>> import brainstate, braintrace, jax.numpy as jnp, neurotrain as nt
    >>> class LinearLeak(nt.models.Cell):
    ...     def __init__(self, num_in, num_rec, *, a=0.1, train_h0=False):
    ...         super().__init__(num_in, num_rec, train_h0=train_h0)
    ...         self.a = a
    ...         self.W = brainstate.ParamState(jnp.ones((num_in, num_rec)))
    ...     def config(self):
    ...         return {**super().config(), "a": self.a}
    ...     def step(self, params, state, x, *, key=None, dt=None):
    ...         (h,) = state
    ...         return ((1 - self.a) * h + self.a * braintrace.matmul(x, params["W"]),)
    >>> model = nt.models.RNN(LinearLeak(1, 2, a=0.5), num_out=1)
    >>> _, activity = model.run(jnp.ones((3, 1, 1)))      # (T, B, num_rec)
    >>> activity[:, 0, 0].tolist()
    [0.5, 0.75, 0.875]
    """

    #: names of the hidden-state attributes, in the order of :meth:`get_state`
    state_names: tuple[str, ...] = ("h",)
    #: registry name of the cell kind (``"leaky"``, ``"gru"``...)
    kind: str = "cell"

    def __init__(self, num_in: int, num_rec: int, *, train_h0: bool = False):
        super().__init__()
        check_positive("num_in", num_in, integer=True, fix="Pass the task's input width, e.g. task.num_in.")
        check_positive("num_rec", num_rec, integer=True, fix="Pass the number of recurrent units, e.g. 128.")
        self.num_in = int(num_in)
        self.num_rec = int(num_rec)
        self.train_h0 = bool(train_h0)
        self.noise = True  # switched off by ``neurotrain.models.noise_disabled``
        if self.train_h0:
            for name in self.learned_state_names():
                setattr(self, f"{name}0", brainstate.ParamState(jnp.zeros(self.num_rec)))

    def learned_state_names(self) -> tuple[str, ...]:
        """The states whose initial value ``train_h0=True`` learns (a noise process has none)."""
        return self.state_names

    # --- configuration ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable) that rebuild this cell."""
        return {"num_in": self.num_in, "num_rec": self.num_rec, "train_h0": self.train_h0}

    # --- parameters ----------------------------------------------------------------------
    def param_names(self) -> tuple[str, ...]:
        """The names of this cell's parameters (its ``ParamState`` attributes), e.g. ``("W_in", "W_rec", "b")``."""
        return tuple(".".join(map(str, k)) for k in self.states(brainstate.ParamState))

    def param_values(self) -> dict[str, Any]:
        """``{name: current value}`` of this cell's parameters (see :meth:`param_names`)."""
        return {".".join(map(str, k)): s.value for k, s in self.states(brainstate.ParamState).items()}

    def effective_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The weights the cell uses, from its raw parameters (``{name: value}``, the same keys).

        Constrained cells (Dale's law, connectivity masks) compute their weights from raw
        parameters (:mod:`neurotrain.models._constraints`); this applies that transform. For an
        unconstrained cell it returns the parameters as they are.
        """
        return dict(params)

    def constraint_arrays(self) -> dict[str, Any]:
        """The constants of the cell's constraints (unit types, masks, per-unit ``tau``), by name."""
        return {}

    def describe_constraints(self) -> dict[str, Any]:
        """The cell's constraints in words and numbers (empty: none)."""
        return {}

    # --- the pure step ---------------------------------------------------------------------
    def draws_noise(self) -> bool:
        """Whether :meth:`step` draws noise when given a key (noise on and a positive level)."""
        return False

    def initial_state(self, params: Mapping[str, Any], batch_size: int | None = None) -> tuple:
        """The initial state, one array per name of ``state_names``: the trainable ``<name>0``
        (from ``params``) or zeros, broadcast to ``(batch_size, num_rec)`` if given."""
        out = []
        for name in self.state_names:
            if self.train_h0 and name in self.learned_state_names():
                v = params[f"{name}0"]
            else:
                v = jnp.zeros(self.num_rec, dtype=brainstate.environ.dftype())
            out.append(v if batch_size is None else jnp.broadcast_to(v, (batch_size, self.num_rec)))
        return tuple(out)

    def step(self, params: Mapping[str, Any], state: tuple, x, *, key=None, dt: float | None = None) -> tuple:
        """One time step as a pure function: the new state (a tuple like ``state``).

        Parameters
        ----------
        params : dict of str to array
            This cell's parameters by name (:meth:`param_values`).
        state : tuple of arrays
            One array per name of ``state_names``, each ``(batch, num_rec)`` or ``(num_rec,)``.
        x : array, shape ``(batch, num_in)`` or ``(num_in,)``
        key : jax PRNG key, optional
            Draw this step's noise from ``key``; ``None``: no noise.
        dt : float, optional
            Integrate with this time step (ms) instead of the cell's own ``dt`` (cells that
            integrate in time only; others refuse it).

        Returns
        -------
        tuple of arrays
            The new state; its first entry is the cell's output ``h``.

        Subclasses implement it; :meth:`update` (the brainstate module step that braintrace's
        online learners trace) calls it with the cell's current parameters and state, so the
        stateful and the pure form of a cell are one piece of code.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement step(params, state, x)")

    def update(self, x):
        """One time step on the cell's hidden states (brainstate module form of :meth:`step`)."""
        self._check_input(x)
        state = tuple(getattr(self, n).value for n in self.state_names)
        key = brainstate.random.split_key() if self.draws_noise() else None
        new = self.step(self.param_values(), state, x, key=key)
        for n, v in zip(self.state_names, new):
            getattr(self, n).value = v
        return new[0]

    def _refuse_dt(self, dt) -> None:
        if dt is not None:
            raise ConfigError(f"{type(self).__name__} has no time step: dt={dt!r} can only be changed for "
                              f"cells that integrate in time (the leaky cell). Leave dt unset for "
                              f"{self.kind!r} cells.")

    # --- state -----------------------------------------------------------------------------
    @property
    def state_size(self) -> int:
        """Length of the full state vector returned by :meth:`get_state`."""
        return self.num_rec * len(self.state_names)

    def initial_value(self, name: str, batch_size: int | None = None):
        """The initial value of state ``name``: its trainable ``<name>0`` or zeros."""
        return self.initial_state(self.param_values() if self.train_h0 else {}, batch_size)[
            self.state_names.index(name)]

    def init_state(self, batch_size: int | None = None, **kwargs):
        for name in self.state_names:
            setattr(self, name, brainstate.HiddenState(self.initial_value(name, batch_size)))

    def reset_state(self, batch_size: int | None = None, **kwargs):
        for name in self.state_names:
            getattr(self, name).value = self.initial_value(name, batch_size)

    def get_state(self):
        """All hidden states concatenated on the last axis: ``(..., state_size)``."""
        return jnp.concatenate([getattr(self, n).value for n in self.state_names], axis=-1)

    def set_state(self, value):
        """Inverse of :meth:`get_state`."""
        for i, n in enumerate(self.state_names):
            getattr(self, n).value = value[..., i * self.num_rec:(i + 1) * self.num_rec]

    # --- checks ----------------------------------------------------------------------------
    def _check_input(self, x):
        if x.ndim not in (1, 2) or x.shape[-1] != self.num_in:
            raise ShapeError(
                f"{type(self).__name__}.update got an input of shape {tuple(x.shape)}; it expects "
                f"(batch, {self.num_in}) or ({self.num_in},). Build the cell with num_in equal to "
                f"the task's input width (task.num_in) or fix the input array."
            )


def check_dt_tau(dt: float, tau: float, *, name: str = "tau") -> float:
    """Validate ``dt`` and the time constant ``name`` (both in ms) and return ``alpha = dt / tau``."""
    check_positive("dt", dt, fix="dt is the integration step in ms, e.g. dt=20.0.")
    check_positive(name, tau, fix=f"{name} is a time constant in ms, e.g. {name}=100.0.")
    if dt > tau:
        raise ConfigError(
            f"dt={dt} ms is larger than {name}={tau} ms, so alpha=dt/{name}={dt / tau:.3g} > 1 and the "
            f"Euler step overshoots. Use dt <= {name} (e.g. dt={tau / 5:g}) or a larger {name}."
        )
    return float(dt) / float(tau)
