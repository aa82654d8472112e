"""``RNN``: a stack of cells plus a linear readout kept as its own module."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence
from typing import Any

import brainstate
import jax.numpy as jnp

from .._errors import ShapeError
from .._validate import check_positive
from ._base import Cell
from ._init import initialize, make_initializer

__all__ = ["Readout", "RNN", "noise_disabled"]


class Readout(brainstate.nn.Module):
    r"""Linear readout :math:`y = h W + b` with ``W`` of shape ``(num_rec, num_out)``.

    It uses plain ``jnp`` operations on purpose: it sits outside any online learner and gets
    its exact gradient by ordinary autodiff.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> r = Readout(4, 2)
    >>> r(jnp.ones((3, 4))).shape
    (3, 2)
    """

    def __init__(self, num_rec: int, num_out: int, *, w_init="xavier_uniform", bias: bool = True):
        super().__init__()
        check_positive("num_out", num_out, integer=True, fix="Pass the task's output width, e.g. task.num_out.")
        self.num_rec, self.num_out = int(num_rec), int(num_out)
        self.W = brainstate.ParamState(initialize(make_initializer(w_init, argument="readout_init"),
                                                  (self.num_rec, self.num_out)))
        self.b = brainstate.ParamState(jnp.zeros(self.num_out)) if bias else None

    @staticmethod
    def apply(params, h):
        """The readout as a pure function of its parameters ``{"W", "b"}``."""
        y = h @ params["W"]
        return y + params["b"] if "b" in params else y

    def update(self, h):
        return self.apply({".".join(map(str, k)): s.value
                           for k, s in self.states(brainstate.ParamState).items()}, h)


class RNN(brainstate.nn.Module):
    """A stack of recurrent cells followed by a linear readout.

    Parameters
    ----------
    cells : Cell or sequence of Cell
        The layers, input first. Layer ``i`` must take ``num_in`` equal to layer ``i-1``'s
        ``num_rec``.
    num_out : int
        Output width (number of classes for classification tasks).
    readout_init : str or callable
        Initialiser of the readout matrix.

    Attributes
    ----------
    layers : list of Cell
    readout : Readout

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from neurotrain.models import RNN, LeakyRNNCell
    >>> model = RNN(LeakyRNNCell(3, 32, tau=100.0, dt=20.0), num_out=3)
    >>> outputs, hidden = model.run(jnp.zeros((60, 8, 3)))   # (T, B, num_in)
    >>> outputs.shape, hidden.shape
    ((60, 8, 3), (60, 8, 32))
    """

    def __init__(self, cells: Cell | Sequence[Cell], num_out: int, *, readout_init="xavier_uniform"):
        super().__init__()
        cells = [cells] if isinstance(cells, Cell) else list(cells)
        if not cells:
            raise ShapeError("RNN needs at least one cell; got an empty list.")
        for i, c in enumerate(cells):
            if not isinstance(c, Cell):
                raise ShapeError(f"cells[{i}] must be a neurotrain Cell; got {type(c).__name__}.")
            if i and c.num_in != cells[i - 1].num_rec:
                raise ShapeError(
                    f"cells[{i}].num_in={c.num_in} does not match cells[{i - 1}].num_rec="
                    f"{cells[i - 1].num_rec}; a stacked layer takes the previous layer's units as input."
                )
        self.layers = cells
        self.readout = Readout(cells[-1].num_rec, num_out, w_init=readout_init)
        self._readout_init = readout_init if isinstance(readout_init, str) else "<custom>"

    # --- sizes -----------------------------------------------------------------------------
    @property
    def num_in(self) -> int:
        return self.layers[0].num_in

    @property
    def num_out(self) -> int:
        return self.readout.num_out

    @property
    def num_rec(self) -> int:
        """Total recurrent units over all layers (the width of the recorded activity)."""
        return sum(c.num_rec for c in self.layers)

    @property
    def state_size(self) -> int:
        """Length of the full state vector (all layers, all state variables)."""
        return sum(c.state_size for c in self.layers)

    def config(self) -> dict[str, Any]:
        """JSON-serialisable description that :func:`neurotrain.models.build_model` rebuilds."""
        return {"cell": self.layers[0].kind, "layers": [dict(c.config(), kind=c.kind) for c in self.layers],
                "num_out": self.num_out, "readout_init": self._readout_init}

    # --- dynamics --------------------------------------------------------------------------
    def forward(self):
        """The pure forward pass of this model (:class:`~neurotrain.models.Forward`)."""
        from ._forward import forward

        return forward(self)

    def _noise_key(self):
        """A key from brainstate's global RNG when some cell draws noise (the module API)."""
        return brainstate.random.split_key() if any(c.draws_noise() for c in self.layers) else None

    def _current_state(self):
        return tuple(tuple(getattr(c, n).value for n in c.state_names) for c in self.layers)

    def _write_state(self, state):
        for c, cs in zip(self.layers, state):
            for n, v in zip(c.state_names, cs):
                getattr(c, n).value = v

    def trainable_masks(self) -> dict[tuple, Any]:
        """``{parameter path: bool or 0/1 array}`` for the parameters that are (partly) frozen.

        Training zeroes their gradient where the mask is 0 and keeps those entries
        bit-identical. Cells (and the readout) declare theirs with a ``trainable_masks()``
        method returning ``{own parameter name: mask}``; parameters not listed are trained.
        """
        out = {}
        for i, cell in enumerate(self.layers):
            for name, m in getattr(cell, "trainable_masks", dict)().items():
                out[("layers", i, *name.split("."))] = m
        for name, m in getattr(self.readout, "trainable_masks", dict)().items():
            out[("readout", *name.split("."))] = m
        return out

    def recurrent(self, *, dt: float | None = None) -> brainstate.nn.Module:
        """The cells without the readout, as a module whose ``update(x)`` advances every layer
        one step on its hidden states and returns ``(h of the last layer, activity)``.

        Online learners (braintrace) wrap this module: the readout stays outside them and gets
        its exact gradient by ordinary autodiff (inside, braintrace would give it none).
        ``dt`` integrates the cells with another time step (see ``Forward.step_cells``).
        """
        return _Recurrent(self, dt)

    def step(self, x):
        """One time step on the hidden states. Returns ``(output, activity)``, activity
        concatenated over layers. (The pure form is ``self.forward().step``.)"""
        fwd = self.forward()
        new, out, act = fwd.step(fwd.params(), self._current_state(), x, key=self._noise_key())
        self._write_state(new)
        return out, act

    def update(self, x):
        return self.step(x)[0]

    def get_state(self):
        """The full state, all layers concatenated: ``(..., state_size)``."""
        return jnp.concatenate([c.get_state() for c in self.layers], axis=-1)

    def set_state(self, value):
        i = 0
        for c in self.layers:
            c.set_state(value[..., i:i + c.state_size])
            i += c.state_size

    def check_inputs(self, inputs, argument: str = "inputs"):
        """Raise a clear :class:`ShapeError` unless ``inputs`` is ``(T, B, num_in)``."""
        shape = tuple(getattr(inputs, "shape", ()))
        if len(shape) != 3 or shape[-1] != self.num_in:
            raise ShapeError(
                f"{argument} must have shape (T, batch, {self.num_in}) (time-major, num_in={self.num_in}); "
                f"got {shape}. Transpose batch-first data with x.transpose(1, 0, 2), or build the "
                f"model with num_in={shape[-1] if shape else '?'}."
            )

    def run(self, inputs, *, init: bool = True):
        """Run a batch of trials from the initial state (module form of ``forward().run``).

        Parameters
        ----------
        inputs : array, shape ``(T, B, num_in)``
        init : bool
            Start from the initial state (inside any enclosing ``grad``, so a trainable
            initial state gets its gradient); ``False``: continue from the current hidden
            states. The hidden states hold the final state afterwards.

        Returns
        -------
        outputs : array, shape ``(T, B, num_out)``
        activity : array, shape ``(T, B, num_rec)`` (all layers' units, concatenated)
        """
        self.check_inputs(inputs)
        fwd = self.forward()
        params = fwd.params()
        if init:
            brainstate.nn.init_all_states(self, batch_size=inputs.shape[1])
        outputs, activity, final = fwd.run(params, inputs, state=self._current_state(), key=self._noise_key())
        self._write_state(final)
        return outputs, activity


class _Recurrent(brainstate.nn.Module):
    """:meth:`RNN.recurrent`: the model's cells (shared, not copied) stepped on their states."""

    def __init__(self, model: RNN, dt: float | None = None):
        super().__init__()
        self.layers = model.layers
        self._model = weakref.ref(model)   # not a child module: the readout stays outside
        self._dt = dt

    def update(self, x):
        model = self._model()
        fwd = model.forward()
        params = {k: s.value for k, s in self.states(brainstate.ParamState).items()}
        new, act = fwd.step_cells(params, model._current_state(), x, key=model._noise_key(), dt=self._dt)
        model._write_state(new)
        return new[-1][0], act


@contextlib.contextmanager
def noise_disabled(model: brainstate.nn.Module):
    """Context manager that switches off the input and recurrent noise of every cell.

    Examples
    --------
    >>> from neurotrain.models import RNN, LeakyRNNCell
    >>> model = RNN(LeakyRNNCell(1, 4, sigma_rec=0.1), num_out=1)
    >>> with noise_disabled(model):
    ...     model.layers[0].noise
    False
    """
    cells = [m for m in model.nodes().values() if isinstance(m, Cell)]
    old = [c.noise for c in cells]
    try:
        for c in cells:
            c.noise = False
        yield model
    finally:
        for c, o in zip(cells, old):
            c.noise = o
