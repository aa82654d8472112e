"""One noise-free step of a model as a pure function of (parameters, full state, input).

Fixed points, Jacobians and linearisations need the map :math:`F(h, u)` that one time step
of the network applies to its full state ``h`` (all layers, LSTM ``c`` included) under the
input ``u``. :func:`step_function` gives it from the model's pure forward pass
(:class:`~neurotrain.models.Forward`, the same code training runs), with the parameters as
an argument keyed by dotted path: ``jax.jit``, ``jax.vmap``, ``jax.jacfwd`` and
``jax.lax.while_loop`` work on it like on any JAX function, and new weights are passed as
arguments (no retracing after training).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ShapeError
from ._cells import LeakyRNNCell
from ._forward import forward

__all__ = ["StepFunction", "step_function", "unit_alpha"]


@dataclasses.dataclass(frozen=True, eq=False)
class StepFunction:
    """The pure one-step map of a model, from :func:`step_function`.

    Attributes
    ----------
    params : dict of str to jax.Array
        The model's current parameter values, keyed by dotted path (``"layers.0.W_rec"``).
    state_size, num_in, num_out : int
        Widths of the full state, the input and the readout.
    alpha : ndarray ``(state_size,)`` or None
        ``dt / tau`` of every state unit when every layer is a leaky (continuous-time) cell,
        else ``None`` (per-unit time constants give one value per unit; trained ones their
        values when the step function was made, see :func:`unit_alpha`). The
        continuous-time Jacobian is ``(J - I) / alpha`` (rows scaled).
    state_layout : list of (str, int, int)
        ``(name, start, stop)`` of each state block, e.g. ``("layers.1.c", 64, 96)``.
    hidden_index : ndarray of int
        Indices of the state entries that are the units' activity ``h`` (all layers), i.e.
        the columns of the recorded ``activity``; ``c`` of LSTM layers is left out.
    dtype : numpy dtype
        Float dtype of the parameters; states and inputs are cast to it.
    fingerprint : str
        A hash of the step's program (and its constants): two models with the same
        fingerprint compute the same function of their parameters, so compiled analyses
        are shared between them.
    """

    params: dict[str, jax.Array]
    state_size: int
    num_in: int
    num_out: int
    alpha: np.ndarray | None
    state_layout: list[tuple[str, int, int]]
    hidden_index: np.ndarray
    dtype: Any
    fingerprint: str
    _step: Callable = dataclasses.field(repr=False)
    _readout: Callable = dataclasses.field(repr=False)

    def __call__(self, params, h, u):
        """``F(h, u)``: the state after one noise-free step; ``h`` ``(state_size,)``, ``u`` ``(num_in,)``."""
        return self._step(params, h, u)

    def output(self, params, h):
        """The readout of full state ``h`` ``(state_size,)``: ``(num_out,)``."""
        return self._readout(params, h)

    def residual(self, params, h, u):
        """``F(h, u) - h``."""
        return self._step(params, h, u) - h


def unit_alpha(model) -> np.ndarray | None:
    """``dt / tau`` of every state unit, ``(state_size,)``, when every layer is a leaky cell
    (per-unit and trained time constants at their current values; ``dt / tau_noise`` for the
    state of Ornstein-Uhlenbeck noise); else ``None``.

    Examples
    --------
    >>> import neurotrain as nt
    >>> cell = nt.models.LeakyRNNCell(1, 4, dale=0.5, tau={"E": 100.0, "I": 50.0}, dt=20.0)
    >>> unit_alpha(nt.models.RNN(cell, num_out=1)).tolist()
    [0.2, 0.2, 0.4, 0.4]
    """
    alphas = []
    for cell in getattr(model, "layers", ()):
        if not isinstance(cell, LeakyRNNCell):
            return None
        alphas.append(np.broadcast_to(np.asarray(cell.alpha, np.float64), (cell.num_rec,)))
        if cell.noise_process == "ou":   # the OU noise state relaxes with its own time constant
            alphas.append(np.full(cell.num_rec, cell.dt / cell.tau_noise))
    return np.concatenate(alphas) if alphas else None


def step_function(model) -> StepFunction:
    """The noise-free one-step map ``F(h, u)`` of ``model`` as a pure JAX function.

    Parameters
    ----------
    model : neurotrain.models.RNN
        Any stack of cells (vanilla, leaky, GRU, LSTM or a custom :class:`~neurotrain.models.Cell`).

    Returns
    -------
    StepFunction
        ``F = step_function(model)``; ``F(F.params, h, u)`` maps a full state ``h`` of shape
        ``(state_size,)`` and an input ``u`` ``(num_in,)`` to the next state
        ``(state_size,)``; ``F.output(F.params, h)`` is the readout ``(num_out,)``. Both are
        pure: use ``jax.vmap`` for batches and ``jax.jacfwd`` for Jacobians.

    Notes
    -----
    ``F`` is noise-free and does not touch the model's hidden states.

    Examples
    --------
    >>> import brainstate, jax, jax.numpy as jnp, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> model = nt.models.RNN(nt.models.LSTMCell(2, 4), num_out=1)
    >>> F = step_function(model)
    >>> F.state_size                       # h and c
    8
    >>> F(F.params, jnp.zeros(8), jnp.ones(2)).shape
    (8,)
    >>> jax.jacfwd(F, argnums=1)(F.params, jnp.zeros(8), jnp.ones(2)).shape
    (8, 8)
    """
    layers = list(getattr(model, "layers", ()))
    if not layers or not hasattr(model, "get_state"):
        raise ShapeError(f"step_function needs a neurotrain RNN (with .layers and get_state); "
                         f"got {type(model).__name__}.")
    fwd = forward(model)
    if not fwd.keys:
        raise ShapeError("the model has no ParamState; nothing to analyse.")
    names = {".".join(str(p) for p in k): k for k in fwd.keys}
    current = fwd.params()
    params = {name: current[k] for name, k in names.items()}
    dtype = np.dtype(jax.tree.leaves(params)[0].dtype)
    S, n_in = int(model.state_size), int(model.num_in)

    def by_path(p):
        return {k: p[name] for name, k in names.items()}

    def step(p, h, u):
        new, _ = fwd.step_cells(by_path(p), fwd.unflatten_state(h), u)
        return fwd.flatten_state(new)

    def readout(p, h):
        return fwd.readout(by_path(p), fwd.unflatten_state(h)[-1][0])

    h0 = jnp.zeros((S,), dtype)
    u0 = jnp.zeros((n_in,), dtype)
    digest = hashlib.sha256()
    for jaxpr in (jax.make_jaxpr(step)(params, h0, u0), jax.make_jaxpr(readout)(params, h0)):
        digest.update(str(jaxpr).encode())
        for c in jaxpr.consts:
            a = np.asarray(c)
            digest.update(f"{a.dtype}{a.shape}".encode())
            digest.update(a.tobytes())

    layout, hid_idx, i = [], [], 0
    for li, cell in enumerate(layers):
        for name in cell.state_names:
            layout.append((f"layers.{li}.{name}", i, i + cell.num_rec))
            if name == "h":
                hid_idx.extend(range(i, i + cell.num_rec))
            i += cell.num_rec
    if i != S:
        raise ShapeError(f"the layers' states add up to {i} entries but model.state_size is {S}.")
    alpha = unit_alpha(model)
    return StepFunction(params=params, state_size=S, num_in=n_in, num_out=int(model.num_out),
                        alpha=alpha, state_layout=layout, hidden_index=np.asarray(hid_idx, dtype=int),
                        dtype=dtype, fingerprint=digest.hexdigest(), _step=step, _readout=readout)
