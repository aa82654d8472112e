"""The pure forward pass of an :class:`~neurotrain.models.RNN`: ``(params, state, inputs) -> (outputs, states)``.

A model is a brainstate module: its weights live in ``ParamState`` s and its state in
``HiddenState`` s. :class:`Forward` is its functional view: every method takes the parameters
as an explicit dict (the model's ``ParamState`` paths as keys, e.g. ``("layers", 0, "W_rec")``)
and the state as an explicit pytree, and returns new values without touching the module. It is
what BPTT differentiates, what the online learners' modules call step by step (every cell's
``update`` is its pure ``step`` applied to its own states), what evaluation and the fixed-point
finder run, and what population training maps over many networks: one forward pass for all.

Randomness is explicit: the network noise of time step ``t`` of a run is drawn from
``fold_in(key, t)`` (and ``fold_in(., layer)``), never from brainstate's global key.

A **forward-pass transform** lets a training method change the time stepping without a second
forward pass: an object with ``init(state) -> carry`` and
``apply(t, previous_state, new_state, carry) -> (new_state, carry)`` is applied after every
time step (skip connections through time mix a block's start state into its end state).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

import brainstate
import jax
import jax.numpy as jnp

from .._errors import ShapeError

__all__ = ["Forward", "ForwardTransform", "ClosedLoop", "forward"]

#: one cell's state: one array per name of ``cell.state_names``
CellState = tuple
#: the model's state: one :data:`CellState` per layer
State = tuple


class ClosedLoop(Protocol):
    """What :meth:`Forward.run` accepts as ``loop=``: an environment that answers the network.

    ``init(batch_size) -> state``; ``input(state, t, x) -> x`` (the input of step ``t``, from
    the open-loop input ``x`` and what the network did before); ``update(state, t, output) ->
    state`` (after step ``t``). A closed-loop task makes one per batch (``task.loop(batch)``).
    """

    def init(self, batch_size: int) -> Any: ...

    def input(self, state: Any, t, x) -> Any: ...

    def update(self, state: Any, t, output) -> Any: ...


class ForwardTransform(Protocol):
    """What :meth:`Forward.run` accepts as ``transform=``: a change of the time stepping.

    Any object with these two methods is one (no base class is needed). After every time step
    ``t`` of :meth:`Forward.run`, ``apply`` receives the state before the step and the state
    the cells computed, and returns the state the run continues from; ``init`` makes the
    transform's own carry from the initial state. Both are traced inside a ``jax.lax.scan``
    (``t`` is a traced int32: branch with ``jnp.where``), and BPTT differentiates through
    them. A gradient method supplies one with
    :meth:`~neurotrain.training.GradientMethod.forward_transform`.

    Examples
    --------
    Every second step, average the new state with the state of two steps before (a skip
    connection through time):

    >>> import brainstate, jax, jax.numpy as jnp, neurotrain as nt
    >>> class SkipTwo:
    ...     def init(self, state):
    ...         return state                      # the state at the start of the block
    ...     def apply(self, t, previous, new, start):
    ...         end = t % 2 == 1
    ...         new = jax.tree.map(lambda n, s: jnp.where(end, 0.5 * (n + s), n), new, start)
    ...         return new, jax.tree.map(lambda n, s: jnp.where(end, n, s), new, start)
    >>> brainstate.random.seed(0)
    >>> fwd = nt.models.build_model("leaky", 2, 8, 1).forward()
    >>> x = jnp.ones((6, 3, 2))
    >>> plain = fwd.run(fwd.params(), x)[0]
    >>> skipped = fwd.run(fwd.params(), x, transform=SkipTwo())[0]
    >>> skipped.shape, bool(jnp.allclose(plain[0], skipped[0])), bool(jnp.allclose(plain[1], skipped[1]))
    ((6, 3, 1), True, False)
    """

    def init(self, state: State) -> Any:
        """The transform's carry at the start of a run, from the initial ``state``."""
        ...

    def apply(self, t, previous: State, new: State, carry: Any) -> tuple[State, Any]:
        """``(state to continue from, carry)`` after time step ``t`` (``previous``: the state
        before the step; ``new``: the state the cells computed)."""
        ...


@dataclasses.dataclass(frozen=True, eq=False)
class Forward:
    """The functional (pure) view of an RNN. Build it with :func:`forward`.

    Attributes
    ----------
    model : neurotrain.models.RNN
        The module whose cells define the dynamics (its static settings, e.g. ``alpha``, the
        activation or whether noise is on, are read when a function is traced).
    keys : tuple of tuple
        The parameter paths, in the order of ``model.states(brainstate.ParamState)``.

    Examples
    --------
    >>> import brainstate, jax, jax.numpy as jnp, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> model = nt.models.RNN(nt.models.LeakyRNNCell(3, 8, sigma_rec=0.1), num_out=2)
    >>> fwd = nt.models.forward(model)
    >>> params = fwd.params()                      # a dict of arrays: differentiate it, map it
    >>> outputs, activity, final = fwd.run(params, jnp.ones((20, 4, 3)), key=jax.random.PRNGKey(0))
    >>> outputs.shape, activity.shape, final[0][0].shape
    ((20, 4, 2), (20, 4, 8), (4, 8))
    >>> grads = jax.grad(lambda p: fwd.run(p, jnp.ones((20, 4, 3)))[0].sum())(params)
    >>> sorted(k[-1] for k in grads)
    ['W', 'W_in', 'W_rec', 'b', 'b']
    """

    model: Any
    keys: tuple

    # --- parameters ----------------------------------------------------------------------
    def params(self) -> dict[tuple, jax.Array]:
        """The model's current parameter values, ``{path: array}``."""
        states = self.model.states(brainstate.ParamState)
        return {k: states[k].value for k in self.keys}

    def cell_params(self, params: Mapping[tuple, Any], layer: int) -> dict[str, Any]:
        """The parameters of layer ``layer`` by the cell's own names (``{"W_rec": ...}``)."""
        prefix = ("layers", layer)
        return {".".join(map(str, k[2:])): v for k, v in params.items() if k[:2] == prefix}

    def readout_params(self, params: Mapping[tuple, Any]) -> dict[str, Any]:
        """The readout's parameters (``{"W": ..., "b": ...}``)."""
        return {".".join(map(str, k[1:])): v for k, v in params.items() if k[:1] == ("readout",)}

    def effective_params(self, params: Mapping[tuple, Any]) -> dict[tuple, Any]:
        """The weights the network uses, keyed like ``params``: every constrained matrix
        (Dale's law, connectivity masks, non-negative inputs or readout) masked and signed,
        the other parameters as they are. Pure; penalties on weights are computed on it.

        Examples
        --------
        >>> import neurotrain as nt
        >>> model = nt.models.RNN(nt.models.LeakyRNNCell(1, 4, dale=0.5), num_out=1)
        >>> fwd = nt.models.forward(model)
        >>> params = {k: -abs(v) for k, v in fwd.params().items()}      # raw weights, all <= 0
        >>> W = fwd.effective_params(params)[("layers", 0, "W_rec")]
        >>> bool((W[:2] >= 0).all() and (W[2:] <= 0).all())             # rows keep their unit's sign
        True
        """
        out = dict(params)
        for i, cell in enumerate(self.cells):
            own = self.cell_params(params, i)
            for name, v in cell.effective_params(own).items():
                out[("layers", i, *name.split("."))] = v
        for name, v in self.model.readout.effective_params(self.readout_params(params)).items():
            out[("readout", *name.split("."))] = v
        return {k: out[k] for k in params}

    # --- state ---------------------------------------------------------------------------
    @property
    def cells(self) -> list:
        """The model's cells (layers), input first."""
        return list(self.model.layers)

    def initial_state(self, params: Mapping[tuple, Any], batch_size: int | None = None) -> State:
        """Every layer's initial state (trainable ``h0``/``c0`` or zeros), ``(batch_size, num_rec)`` each."""
        return tuple(cell.initial_state(self.cell_params(params, i), batch_size)
                     for i, cell in enumerate(self.cells))

    def flatten_state(self, state: State) -> jax.Array:
        """The state as one vector per trial, ``(..., state_size)`` (as ``RNN.get_state``)."""
        return jnp.concatenate([a for cell_state in state for a in cell_state], axis=-1)

    def unflatten_state(self, vector) -> State:
        """Inverse of :meth:`flatten_state`."""
        out, i = [], 0
        for cell in self.cells:
            parts = []
            for _ in cell.state_names:
                parts.append(vector[..., i:i + cell.num_rec])
                i += cell.num_rec
            out.append(tuple(parts))
        return tuple(out)

    def activity(self, state: State) -> jax.Array:
        """The units' activity ``h`` of every layer, concatenated: ``(..., num_rec)``."""
        hs = [cell_state[0] for cell_state in state]
        return hs[0] if len(hs) == 1 else jnp.concatenate(hs, axis=-1)

    # --- dynamics ------------------------------------------------------------------------
    def readout(self, params: Mapping[tuple, Any], h) -> jax.Array:
        """The linear readout of the last layer's activity ``h``."""
        return self.model.readout.apply(self.readout_params(params), h)

    def step_cells(self, params: Mapping[tuple, Any], state: State, x, *, key=None, dt: float | None = None,
                   overrides: Mapping[str, Any] | None = None):
        """One time step of every layer, without the readout: ``(new_state, activity)``.

        Noise is drawn from ``key`` (layer ``i`` from ``fold_in(key, i)``); ``key=None`` runs
        noise-free. ``overrides`` replaces cell settings that a cell reads from its parameters
        (the noise levels ``sigma_in``/``sigma_rec`` of leaky cells: one value per network of a
        population). This is the one loop over the layers: :meth:`step`, :meth:`run` and the
        module form used by online learners (:meth:`RNN.recurrent`) all call it.
        """
        new = []
        for i, cell in enumerate(self.cells):
            extra = {k: v for k, v in (overrides or {}).items() if hasattr(cell, k)}
            noisy = cell.draws_noise() or (bool(extra) and getattr(cell, "noise", False))
            k = jax.random.fold_in(key, i) if key is not None and noisy else None
            cs = tuple(cell.step({**self.cell_params(params, i), **extra}, state[i], x, key=k, dt=dt))
            new.append(cs)
            x = cs[0]
        new = tuple(new)
        return new, self.activity(new)

    def step(self, params: Mapping[tuple, Any], state: State, x, *, key=None, dt: float | None = None,
             overrides: Mapping[str, Any] | None = None):
        """One time step of every layer and the readout: ``(new_state, output, activity)``.

        ``output`` is ``(batch, num_out)``; ``activity`` the layers' ``h`` concatenated.
        """
        new, act = self.step_cells(params, state, x, key=key, dt=dt, overrides=overrides)
        return new, self.readout(params, new[-1][0]), act

    def run(self, params: Mapping[tuple, Any], inputs, *, state: State | None = None, key=None,
            dt: float | None = None, transform: ForwardTransform | None = None,
            record_state: bool = False, overrides: Mapping[str, Any] | None = None,
            loop: ClosedLoop | None = None, peak: bool = False):
        """Run a batch of trials.

        Parameters
        ----------
        params : dict
            Parameter values by path (:meth:`params`).
        inputs : array, shape ``(T, B, num_in)``
        state : pytree, optional
            The state to start from (default: :meth:`initial_state`).
        key : jax PRNG key, optional
            The network noise of step ``t`` comes from ``fold_in(key, t)``; ``None``: noise-free.
        dt : float, optional
            Integrate with this step (ms) instead of each cell's ``dt`` (time-integrating cells).
        transform : ForwardTransform, optional
            Applied after every step (see the module docstring).
        record_state : bool
            Also return the full state after every step, ``(T, B, state_size)``.
        overrides : dict, optional
            Cell settings read from the parameters instead (see :meth:`step_cells`).
        loop : ClosedLoop, optional
            A closed loop with the environment: the input of step ``t`` is ``loop.input(state, t,
            inputs[t])``, computed from what the network did before ``t``; after each step
            ``loop.update(state, t, output)`` sees the output (without a gradient through it).
            The inputs actually given are then returned last, ``(T, B, num_in)``.
        peak : bool
            Also return the largest ``|activity|`` of the run (a scalar without a gradient; the
            activity monitor of training), after everything else. It is reduced inside the
            time loop, step by step: taking ``max |activity|`` of the returned activity instead
            makes XLA keep a second copy of the whole activity, which costs more than the
            optimiser when the run is mapped over a population.

        Returns
        -------
        outputs : array ``(T, B, num_out)``
        activity : array ``(T, B, num_rec)``
            Every layer's ``h``, concatenated.
        final_state : pytree
            The state after the last step.
        states : array ``(T, B, state_size)``
            Only with ``record_state=True``.
        inputs : array ``(T, B, num_in)``
            Only with ``loop``.
        peak : scalar
            Only with ``peak=True``.
        """
        self.model.check_inputs(inputs)
        if state is None:
            state = self.initial_state(params, inputs.shape[1])
        carry0 = (state, transform.init(state) if transform is not None else None,
                  loop.init(inputs.shape[1]) if loop is not None else None)

        def body(carry, tx):
            t, x = tx
            s, tc, lc = carry
            if loop is not None:
                x = loop.input(lc, t, x)
            k = jax.random.fold_in(key, t) if key is not None else None
            new, _ = self.step_cells(params, s, x, key=k, dt=dt, overrides=overrides)
            if transform is not None:
                new, tc = transform.apply(t, s, new, tc)
            out = self.readout(params, new[-1][0])
            act = self.activity(new)
            ys = (out, act)
            if record_state:
                ys = ys + (self.flatten_state(new),)
            if loop is not None:
                lc = loop.update(lc, t, jax.lax.stop_gradient(out))
                ys = ys + (x,)
            if peak:
                ys = ys + (jnp.max(jnp.abs(jax.lax.stop_gradient(act))),)
            return (new, tc, lc), ys

        ts = jnp.arange(inputs.shape[0], dtype=jnp.int32)
        (final, _, _), ys = jax.lax.scan(body, carry0, (ts, inputs))
        if peak:
            ys = ys[:-1] + (jnp.max(ys[-1]),)
        return (*ys[:2], final, *ys[2:])


def forward(model) -> Forward:
    """The pure forward pass of ``model``; the same as ``model.forward()``.

    Parameters
    ----------
    model : neurotrain.models.RNN
        Any stack of cells with a readout (built-in or custom :class:`~neurotrain.models.Cell` s).

    Returns
    -------
    Forward
        Its functional view: :meth:`Forward.params` (``{path: array}``), :meth:`Forward.run`
        (inputs ``(T, B, num_in)`` to outputs ``(T, B, num_out)``, activity
        ``(T, B, num_rec)`` and the final state) and :meth:`Forward.step` (one step, ``x``
        ``(B, num_in)``). The model's parameters are read by :meth:`Forward.params` only; the
        functions never change the module.

    Examples
    --------
    >>> import brainstate, jax.numpy as jnp, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> model = nt.models.build_model("gru", 2, 4, 1, num_layers=2)
    >>> fwd = nt.models.forward(model)
    >>> params = fwd.params()
    >>> state = fwd.initial_state(params, 3)          # one (h,) tuple per layer
    >>> state, out, act = fwd.step(params, state, jnp.ones((3, 2)))
    >>> out.shape, act.shape, len(state)              # activity: both layers' h
    ((3, 1), (3, 8), 2)
    """
    if not hasattr(model, "layers") or not hasattr(model, "readout"):
        raise ShapeError(f"forward needs a neurotrain RNN (cells in .layers and a .readout); "
                         f"got {type(model).__name__}.")
    return Forward(model=model, keys=tuple(model.states(brainstate.ParamState)))
