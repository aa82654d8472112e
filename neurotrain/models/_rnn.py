"""``RNN``: a stack of cells plus a linear readout kept as its own module."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, ShapeError
from .._validate import check_bool, check_choice, check_positive
from ._base import Cell
from ._constraints import (
    EXCITATORY,
    WeightTransform,
    check_mask,
    decode_mask,
    encode_mask,
    short_repr,
)
from ._init import initialize, make_initializer

__all__ = ["Readout", "RNN", "noise_disabled", "READOUT_ACTIVATIONS"]

#: the readout's output functions
READOUT_ACTIVATIONS = ("linear", "sigmoid")


class Readout(brainstate.nn.Module):
    r"""Linear readout :math:`y = h W + b` with ``W`` of shape ``(num_rec, num_out)``.

    It uses plain ``jnp`` operations on purpose: it sits outside any online learner and gets
    its exact gradient by ordinary autodiff.

    Parameters
    ----------
    num_rec, num_out : int
        Input (units of the last layer) and output widths.
    w_init : str or callable
        Initialiser of ``W``.
    bias : bool
        Learn a bias ``b`` ``(num_out,)``.
    mask : array of 0/1, shape ``(num_rec, num_out)``, optional
        Connectivity: the readout uses only the entries marked 1 (the others are exactly 0
        and frozen), e.g. excitatory units only.
    positive : bool
        Non-negative readout weights (``|W|``, as PsychRNN's readout under Dale's law).
    activation : {"linear", "sigmoid"}
        ``"sigmoid"``: :math:`y = \sigma(h W + b)`, outputs in (0, 1), as the population
        readout of Soo, Goudar & Wang 2023 (``sigmoid(W_out u)`` read from a subset of units:
        combine with ``mask``). Meant for tasks with targets in [0, 1] and a squared-error loss
        (the ring tasks); with a cross-entropy task the outputs are the logits' sigmoid.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> r = Readout(4, 2)
    >>> r(jnp.ones((3, 4))).shape
    (3, 2)
    >>> r = Readout(4, 2, mask=[[1, 1], [1, 1], [0, 0], [0, 0]], positive=True)
    >>> W = r.effective_params({"W": r.W.value})["W"]
    >>> bool((W[2:] == 0).all() and (W >= 0).all())
    True
    >>> y = Readout(4, 2, activation="sigmoid")(jnp.ones((3, 4)))
    >>> bool(((y > 0) & (y < 1)).all())
    True
    """

    def __init__(self, num_rec: int, num_out: int, *, w_init="xavier_uniform", bias: bool = True,
                 mask=None, positive: bool = False, activation: str = "linear"):
        super().__init__()
        self.activation = check_choice("readout_activation", activation, READOUT_ACTIVATIONS,
                                       fix="'linear': y = h W + b; 'sigmoid': y = sigmoid(h W + b).")
        check_positive("num_out", num_out, integer=True, fix="Pass the task's output width, e.g. task.num_out.")
        self.num_rec, self.num_out = int(num_rec), int(num_out)
        self.mask = None if mask is None else check_mask("readout_mask", mask, (self.num_rec, self.num_out))
        self.positive = check_bool("positive_readout", positive)
        w = initialize(make_initializer(w_init, argument="readout_init"), (self.num_rec, self.num_out))
        transform = WeightTransform((self.num_rec, self.num_out), mask=self.mask, sign=1 if self.positive else None)
        self._transform = None if transform.identity else transform
        if self._transform is not None:
            w = jnp.abs(w) if self.positive else w
            w = w if self.mask is None else jnp.where(self.mask, w, 0.0)
        self.W = brainstate.ParamState(w)
        self.b = brainstate.ParamState(jnp.zeros(self.num_out)) if bias else None

    def effective_params(self, params):
        """The readout weights the network uses (``{"W", "b"}``, masked and signed)."""
        if self._transform is None:
            return dict(params)
        return {**params, "W": self._transform(params["W"])}

    def trainable_masks(self):
        """Absent readout connections are frozen at 0."""
        return {} if self.mask is None else {"W": self.mask}

    def apply(self, params, h):
        """The readout as a pure function of its parameters ``{"W", "b"}``."""
        W = params["W"] if self._transform is None else self._transform(params["W"])
        y = h @ W
        y = y + params["b"] if "b" in params else y
        return jax.nn.sigmoid(y) if self.activation == "sigmoid" else y

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
    readout_mask : array of 0/1, shape ``(num_rec, num_out)``, optional
        Which units of the last layer the readout may use, per output.
    readout_from : {"all", "excitatory"}
        ``"excitatory"``: read out from the excitatory units of the last layer only (it needs
        Dale's law there; Song, Yang & Wang 2016).
    positive_readout : bool
        Non-negative readout weights (PsychRNN's readout under Dale's law).
    readout_activation : {"linear", "sigmoid"}
        The readout's output function (see :class:`Readout`).
    freeze : str, sequence of str or dict, optional
        Parameters kept at their initial value during training: names, or ``{name: True or
        mask}`` where a mask (the parameter's shape) marks frozen entries with 1. A name is a
        dotted path (``"layers.0.W_rec"``, ``"readout.W"``), a cell parameter's name (``"W_in"``:
        that parameter of every layer) or ``"readout"``. Frozen entries stay bit-identical.

    Attributes
    ----------
    layers : list of Cell
    readout : Readout

    Raises
    ------
    ConfigError
        ``readout_from="excitatory"`` without Dale's law in the last layer; an unknown name
        in ``freeze``, a freeze mask with every entry frozen (pass ``True`` for a whole
        matrix) or a ``freeze`` that leaves nothing to train.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from neurotrain.models import RNN, LeakyRNNCell
    >>> model = RNN(LeakyRNNCell(3, 32, tau=100.0, dt=20.0), num_out=3)
    >>> outputs, hidden = model.run(jnp.zeros((60, 8, 3)))   # (T, B, num_in)
    >>> outputs.shape, hidden.shape
    ((60, 8, 3), (60, 8, 32))

    An E/I network read out from its excitatory units, with its input weights frozen:

    >>> ei = RNN(LeakyRNNCell(3, 10, dale=0.8), num_out=2, readout_from="excitatory", freeze=["W_in"])
    >>> W = ei.effective_weights()["readout.W"]
    >>> bool((W[8:] == 0).all()), ei.trainable_masks()[("layers", 0, "W_in")]
    (True, False)
    """

    def __init__(self, cells: Cell | Sequence[Cell], num_out: int, *, readout_init="xavier_uniform",
                 readout_mask=None, readout_from: str = "all", positive_readout: bool = False, freeze=None,
                 readout_activation: str = "linear"):
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
        self.readout_from = check_choice("readout_from", readout_from, ("all", "excitatory"),
                                         fix="'excitatory' reads out from the excitatory units only.")
        user_mask = None if readout_mask is None else check_mask("readout_mask", readout_mask,
                                                                 (cells[-1].num_rec, num_out))
        mask = user_mask
        if self.readout_from == "excitatory":
            types = getattr(cells[-1], "unit_types", None)
            if types is None:
                raise ConfigError(f"readout_from='excitatory' needs Dale's law in the last layer (a "
                                  f"{cells[-1].kind!r} cell without unit types was given); build it with "
                                  f"dale=0.8 (leaky or vanilla cells) or use readout_from='all'.")
            exc = np.broadcast_to((np.asarray(types) == EXCITATORY)[:, None], (cells[-1].num_rec, num_out))
            mask = exc.copy() if mask is None else (mask & exc)
        self._readout_mask_given = user_mask
        self.readout = Readout(cells[-1].num_rec, num_out, w_init=readout_init, mask=mask,
                               positive=positive_readout, activation=readout_activation)
        self._readout_init = readout_init if isinstance(readout_init, str) else "<custom>"
        self._freeze = self._resolve_freeze(freeze)

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
        """JSON-serialisable description that :func:`neurotrain.models.model_from_config` rebuilds
        (masks and unit types included, bit-packed; see :func:`~neurotrain.models.encode_mask`)."""
        cfg = {"cell": self.layers[0].kind, "layers": [dict(c.config(), kind=c.kind) for c in self.layers],
               "num_out": self.num_out, "readout_init": self._readout_init}
        if self._readout_mask_given is not None:
            cfg["readout_mask"] = encode_mask(self._readout_mask_given)
        if self.readout_from != "all":
            cfg["readout_from"] = self.readout_from
        if self.readout.positive:
            cfg["positive_readout"] = True
        if self.readout.activation != "linear":
            cfg["readout_activation"] = self.readout.activation
        if self._freeze:
            cfg["freeze"] = {".".join(map(str, k)): (True if v is True else encode_mask(v))
                             for k, v in self._freeze.items()}
        return cfg

    # --- constraints -----------------------------------------------------------------------
    def _param_paths(self) -> dict[str, tuple]:
        return {".".join(map(str, k)): k for k in self.states(brainstate.ParamState)}

    def _resolve_freeze(self, freeze) -> dict[tuple, Any]:
        """``freeze`` as ``{path: True or bool mask (True = frozen)}``, checked."""
        if freeze is None:
            return {}
        if isinstance(freeze, str):
            freeze = [freeze]
        items = freeze.items() if isinstance(freeze, Mapping) else ((name, True) for name in freeze)
        paths = self._param_paths()
        shapes = {k: tuple(np.shape(s.value)) for k, s in self.states(brainstate.ParamState).items()}
        out: dict[tuple, Any] = {}
        for name, value in items:
            name = str(name)
            hit = [p for d, p in paths.items() if d == name or d.startswith(name + ".")
                   or (p[0] == "layers" and str(p[-1]) == name)]
            if not hit:
                raise ConfigError(f"freeze names {name!r}, which is no parameter of this model; its parameters "
                                  f"are {', '.join(paths)} (a cell parameter's name, e.g. 'W_in', freezes it in "
                                  f"every layer; 'readout' freezes the readout).")
            for p in hit:
                dotted = ".".join(map(str, p))
                if isinstance(value, (bool, np.bool_)):
                    if value:
                        out[p] = True
                    continue
                m = check_mask(f"freeze[{name!r}]", decode_mask(value), shapes[p], what="freeze mask (1 = frozen)")
                if m.all():
                    raise ConfigError(f"freeze[{name!r}] marks every entry of {dotted} as frozen (1 = frozen). "
                                      f"To freeze the whole matrix pass True; if you meant the connections to "
                                      f"keep training, invert the mask (1 marks a frozen entry).")
                if m.any():
                    out[p] = m
        trainable = self._combined_masks(out)
        if all((m is False) or (m is not True and not np.asarray(m).any()) for m in
               (trainable.get(p, True) for p in paths.values())):
            raise ConfigError(f"freeze={short_repr(freeze)} freezes every parameter of the model, so there is "
                              f"nothing left to train; freeze fewer (e.g. freeze=['W_in']) or do not train.")
        return out

    def _combined_masks(self, freeze: Mapping[tuple, Any]) -> dict[tuple, Any]:
        out = {}
        for i, cell in enumerate(self.layers):
            for name, m in getattr(cell, "trainable_masks", dict)().items():
                out[("layers", i, *name.split("."))] = m
        for name, m in getattr(self.readout, "trainable_masks", dict)().items():
            out[("readout", *name.split("."))] = m
        for path, frozen in freeze.items():
            base = out.get(path, True)
            if frozen is True or base is False:
                out[path] = False
            else:
                out[path] = ~frozen if base is True else (np.asarray(base, bool) & ~frozen)
        return out

    def effective_weights(self) -> dict[str, np.ndarray]:
        """The weights the network uses now, ``{dotted path: array}`` (masked and signed where
        constrained; the parameters themselves otherwise)."""
        fwd = self.forward()
        return {".".join(map(str, k)): np.asarray(v) for k, v in fwd.effective_params(fwd.params()).items()}

    def constraint_arrays(self) -> dict[str, np.ndarray]:
        """The constants of the constraints by dotted name: ``layers.<i>.unit_types`` (+1 E,
        -1 I), ``layers.<i>.W_rec_mask`` ... (0/1), ``layers.<i>.tau`` (per-unit time
        constants), ``readout.W_mask``; empty for an unconstrained model."""
        out = {}
        for i, cell in enumerate(self.layers):
            out.update({f"layers.{i}.{k}": v for k, v in cell.constraint_arrays().items()})
        if self.readout.mask is not None:
            out["readout.W_mask"] = self.readout.mask.astype(np.int8)
        return out

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
        method returning ``{own parameter name: mask}`` (absent connections); ``freeze``
        adds the frozen parameters and entries. Parameters not listed are trained.
        """
        return self._combined_masks(self._freeze)

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
