"""Biological constraints on a network's weights: Dale's law, connectivity masks, frozen entries.

Conventions (as everywhere in neurotrain): activity is a row vector and weights multiply from
the right, ``pre = h @ W_rec``, so ``W_rec[i, j]`` is the weight **from** presynaptic unit ``i``
(row) **to** postsynaptic unit ``j`` (column). Dale's law fixes the sign of a whole row.

**Parameterisation.** A constrained weight keeps an unconstrained raw parameter ``w`` (the
``ParamState`` that the optimiser updates) and the network uses the *effective* weight

.. math::  W = M \\odot \\big(S \\odot g(w) \\text{ where } S \\neq 0, \\; w \\text{ elsewhere}\\big)

with a 0/1 connectivity mask ``M``, a per-entry sign ``S`` in ``{+1, -1, 0}`` (0: free sign)
and ``g = |.|`` (PsychRNN's ``|W| @ D``; the gradient is exact, ``S sign(w)``) or
``g = max(., 0)`` (the rectified form of Song, Yang & Wang 2016, whose entries that reach 0
stay there). The transform is a :class:`WeightTransform`, applied *inside*
``braintrace.matmul(..., weight_fn=...)``: BPTT, the online learners (whose eligibility
traces are taken with respect to the raw weight), evaluation and the fixed-point finder all
see the same effective weights.

**Unit types** are ``+1`` (excitatory) and ``-1`` (inhibitory), one per unit
(:func:`unit_types`); a fraction ``f`` makes the first ``round(f * num_rec)`` units excitatory
(PsychRNN's convention).

**Masks** are 0/1 (boolean) arrays of a weight's shape; :func:`random_mask`,
:func:`no_autapses` and :func:`multi_area` make common ones. In a model's ``config()`` masks
and unit types are stored bit-packed (:func:`encode_mask`), so ``config.json`` rebuilds the
same constrained network.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import ConfigError, ShapeError
from .._validate import check_number, is_number

__all__ = [
    "EXCITATORY", "INHIBITORY", "DALE_MODES", "unit_types", "random_mask", "no_autapses", "multi_area",
    "Areas", "WeightTransform", "TauTransform", "check_mask", "encode_mask", "decode_mask",
    "encode_unit_types", "decode_unit_types",
]

EXCITATORY = 1
INHIBITORY = -1
#: how a sign-constrained weight is made from its raw parameter: ``|w|`` or ``max(w, 0)``
DALE_MODES = ("abs", "rectify")


# --------------------------------------------------------------------------------------------
# unit types
# --------------------------------------------------------------------------------------------
def unit_types(num_rec: int, dale, *, argument: str = "dale") -> np.ndarray:
    """The type of every unit, ``+1`` (excitatory) or ``-1`` (inhibitory).

    Parameters
    ----------
    num_rec : int
        Number of units.
    dale : float or sequence
        A fraction of excitatory units in ``(0, 1)``: the first ``round(dale * num_rec)`` units
        are excitatory, the rest inhibitory (as PsychRNN's ``dale_ratio``). Or one type per
        unit: ``"E"``/``"I"``, ``+1``/``-1`` or ``True``/``False`` (``True`` excitatory).
    argument : str
        The argument's name, for error messages.

    Returns
    -------
    ndarray of int8, shape ``(num_rec,)``

    Examples
    --------
    >>> unit_types(5, 0.8).tolist()
    [1, 1, 1, 1, -1]
    >>> unit_types(3, "EIE").tolist()
    [1, -1, 1]
    >>> unit_types(10, 1.0)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: dale=1.0 is not a fraction of excitatory units in (0, 1). Use e.g. dale=0.8 (80 % excitatory, Song, Yang & Wang 2016), or pass one type per unit ('E'/'I' or +1/-1).
    """
    if is_number(dale) and not isinstance(dale, bool):
        f = float(dale)
        if not 0.0 < f < 1.0:
            raise ConfigError(f"{argument}={dale!r} is not a fraction of excitatory units in (0, 1). Use e.g. "
                              f"{argument}=0.8 (80 % excitatory, Song, Yang & Wang 2016), or pass one type per "
                              f"unit ('E'/'I' or +1/-1).")
        n_e = int(round(f * num_rec))
        if n_e in (0, num_rec):
            raise ConfigError(f"{argument}={f:g} with num_rec={num_rec} gives {n_e} excitatory and "
                              f"{num_rec - n_e} inhibitory units; Dale's law needs both. Use more units or "
                              f"a fraction between {1 / num_rec:.3g} and {1 - 1 / num_rec:.3g}.")
        return np.where(np.arange(num_rec) < n_e, EXCITATORY, INHIBITORY).astype(np.int8)
    if isinstance(dale, str):
        dale = list(dale)
    try:
        items = list(np.asarray(dale).reshape(-1)) if not isinstance(dale, (list, tuple)) else list(dale)
    except Exception:
        items = None
    if items is None or len(items) != num_rec:
        got = "a value" if items is None else f"{len(items)} types"
        raise ConfigError(f"{argument} must be a fraction of excitatory units in (0, 1) or one type per unit "
                          f"(num_rec={num_rec}); got {got}: {short_repr(dale)}.")
    out = np.empty(num_rec, np.int8)
    for i, t in enumerate(items):
        t = t.item() if hasattr(t, "item") else t
        if isinstance(t, str) and t.strip().upper() in ("E", "I"):
            out[i] = EXCITATORY if t.strip().upper() == "E" else INHIBITORY
        elif isinstance(t, (bool, np.bool_)):
            out[i] = EXCITATORY if t else INHIBITORY
        elif is_number(t) and float(t) in (1.0, -1.0):
            out[i] = int(t)
        else:
            raise ConfigError(f"{argument}[{i}]={t!r} is not a unit type; use 'E' or 'I' (or +1 / -1).")
    if not (out == EXCITATORY).any() or not (out == INHIBITORY).any():
        kind = "excitatory" if (out == EXCITATORY).all() else "inhibitory"
        raise ConfigError(f"{argument}: every unit is {kind}; Dale's law needs both types. Drop the "
                          f"constraint (dale=None) or give some units the other type.")
    return out


def short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------
# masks
# --------------------------------------------------------------------------------------------
def check_mask(name: str, mask, shape: tuple[int, ...], *, what: str = "connectivity mask") -> np.ndarray:
    """``mask`` as a boolean array of ``shape``; a clear error for a wrong shape or values.

    Examples
    --------
    >>> check_mask("w_rec_mask", [[1, 0], [0, 1]], (2, 2)).tolist()
    [[True, False], [False, True]]
    >>> check_mask("w_rec_mask", np.ones((3, 2)), (2, 2))
    Traceback (most recent call last):
    ...
    neurotrain._errors.ShapeError: w_rec_mask has shape (3, 2), but the weight it masks has shape (2, 2) (rows: presynaptic units or inputs, columns: postsynaptic units). Pass a 0/1 array of shape (2, 2).
    """
    try:
        arr = np.asarray(mask)
    except Exception:
        raise ConfigError(f"{name} must be a 0/1 array of shape {tuple(shape)}; got {short_repr(mask)}.") from None
    if arr.shape != tuple(shape):
        raise ShapeError(f"{name} has shape {arr.shape}, but the weight it masks has shape {tuple(shape)} "
                         f"(rows: presynaptic units or inputs, columns: postsynaptic units). Pass a 0/1 "
                         f"array of shape {tuple(shape)}.")
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isin(arr, (0, 1))):
            bad = arr.ravel()[~np.isin(arr.ravel(), (0, 1))][:1] if np.issubdtype(arr.dtype, np.number) else arr.dtype
            raise ConfigError(f"{name} must hold only 0 and 1 (or False/True) as a {what}; found {bad!r}. "
                              f"Threshold it, e.g. mask > 0.")
        arr = arr.astype(bool)
    return arr


def random_mask(shape, density: float, *, seed: int = 0, autapses: bool = True) -> np.ndarray:
    """A random 0/1 connectivity mask: each connection present with probability ``density``.

    Parameters
    ----------
    shape : tuple of int
        The weight's shape, e.g. ``(num_rec, num_rec)``.
    density : float
        Connection probability in ``(0, 1]``.
    seed : int
        Seed of the draw (numpy's ``default_rng``).
    autapses : bool
        Keep self-connections (``False`` zeroes the diagonal of a square mask).

    Returns
    -------
    ndarray of bool, shape ``shape``

    Examples
    --------
    >>> m = random_mask((100, 100), 0.2, seed=1, autapses=False)
    >>> round(float(m.mean()), 2), bool(m.diagonal().any())
    (0.2, False)
    """
    density = check_number("density", density, minimum=0.0, maximum=1.0, inclusive=False,
                           fix="It is the probability that a connection exists, e.g. 0.2.")
    shape = tuple(int(s) for s in shape)
    m = np.random.default_rng(seed).random(shape) < density
    if not autapses:
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ShapeError(f"autapses=False needs a square (recurrent) shape; got {shape}.")
        np.fill_diagonal(m, False)
    return m


def no_autapses(num_rec: int) -> np.ndarray:
    """The all-to-all recurrent mask without self-connections, ``(num_rec, num_rec)``.

    Examples
    --------
    >>> no_autapses(3).astype(int).tolist()
    [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    """
    return ~np.eye(int(num_rec), dtype=bool)


@dataclasses.dataclass(frozen=True)
class Areas:
    """A multi-area network from :func:`multi_area`.

    Attributes
    ----------
    sizes : tuple of int
        Units per area, in order.
    mask : ndarray of bool, shape ``(num_rec, num_rec)``
        The recurrent connectivity (``mask[i, j]``: from unit ``i`` to unit ``j``).
    unit_types : ndarray of int8, shape ``(num_rec,)``
        ``+1`` excitatory, ``-1`` inhibitory (the first units of every area are excitatory).

    Examples
    --------
    >>> areas = multi_area([4, 6])
    >>> areas.num_rec, areas.slice(1), areas.input_mask(2).sum(axis=1).tolist()
    (10, slice(4, 10, None), [4, 4])
    """

    sizes: tuple[int, ...]
    mask: np.ndarray
    unit_types: np.ndarray

    @property
    def num_rec(self) -> int:
        return int(sum(self.sizes))

    def slice(self, area: int) -> slice:
        """The units of area ``area`` (negative counts from the last)."""
        area = range(len(self.sizes))[area]
        start = int(sum(self.sizes[:area]))
        return slice(start, start + self.sizes[area])

    def input_mask(self, num_in: int, area: int = 0) -> np.ndarray:
        """``(num_in, num_rec)``: every input reaches the units of ``area`` only."""
        m = np.zeros((int(num_in), self.num_rec), bool)
        m[:, self.slice(area)] = True
        return m

    def readout_mask(self, num_out: int, area: int = -1, *, excitatory_only: bool = True) -> np.ndarray:
        """``(num_rec, num_out)``: the readout sees the (excitatory) units of ``area`` only."""
        m = np.zeros((self.num_rec, int(num_out)), bool)
        m[self.slice(area)] = True
        if excitatory_only:
            m &= (self.unit_types == EXCITATORY)[:, None]
        return m


def multi_area(sizes: Sequence[int], e_fraction: float = 0.8, *, feedforward: float = 1.0,
               feedback: float = 0.0, within: float = 1.0, seed: int = 0, autapses: bool = True) -> Areas:
    """Connectivity of a chain of areas, each with its own E and I units.

    Within an area every unit may connect to every other (with probability ``within``).
    Between areas only excitatory units project (as in the multi-area RNNs of Kleinman,
    Chandrasekaran & Kao 2021): from area ``a`` to ``a + 1`` with probability ``feedforward``,
    from ``a + 1`` back to ``a`` with probability ``feedback``; areas further apart are not
    connected.

    Parameters
    ----------
    sizes : sequence of int
        Units per area (each >= 2).
    e_fraction : float
        Fraction of excitatory units in every area, in ``(0, 1)``.
    feedforward, feedback, within : float
        Connection probabilities in ``[0, 1]``.
    seed : int
        Seed of the random connections.
    autapses : bool
        Keep self-connections.

    Returns
    -------
    Areas
        The mask, the unit types and helpers for input and readout masks.

    Examples
    --------
    >>> areas = multi_area([4, 4], e_fraction=0.5, feedforward=1.0, feedback=0.0)
    >>> areas.unit_types.tolist()
    [1, 1, -1, -1, 1, 1, -1, -1]
    >>> areas.mask[:4, 4:].astype(int).tolist()      # area 0 -> area 1: from its E units only
    [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    >>> bool(areas.mask[4:, :4].any())                # no feedback
    False
    """
    sizes = tuple(int(s) for s in sizes)
    if not sizes or any(s < 2 for s in sizes):
        raise ConfigError(f"sizes must list the units of each area (each >= 2); got {sizes}.")
    for name, p in (("feedforward", feedforward), ("feedback", feedback), ("within", within)):
        check_number(name, p, minimum=0.0, maximum=1.0, fix="It is a connection probability.")
    types = np.concatenate([unit_types(s, e_fraction, argument="e_fraction") for s in sizes])
    n = int(sum(sizes))
    rng = np.random.default_rng(seed)
    mask = np.zeros((n, n), bool)
    starts = np.cumsum((0,) + sizes[:-1])
    for a, (s, size) in enumerate(zip(starts, sizes)):
        blk = slice(s, s + size)
        mask[blk, blk] = rng.random((size, size)) < within if within < 1 else True
        if a + 1 < len(sizes):
            nxt = slice(starts[a + 1], starts[a + 1] + sizes[a + 1])
            ff = rng.random((size, sizes[a + 1])) < feedforward
            fb = rng.random((sizes[a + 1], size)) < feedback
            mask[blk, nxt] = ff & (types[blk] == EXCITATORY)[:, None]
            mask[nxt, blk] = fb & (types[nxt] == EXCITATORY)[:, None]
    if not autapses:
        np.fill_diagonal(mask, False)
    return Areas(sizes=sizes, mask=mask, unit_types=types)


# --------------------------------------------------------------------------------------------
# the transforms applied inside the braintrace ops
# --------------------------------------------------------------------------------------------
class WeightTransform:
    """The effective weight of a constrained matrix: ``mask * (sign * g(w) where sign != 0, w elsewhere)``.

    Made once per weight when a cell is built and passed as ``weight_fn`` to
    ``braintrace.matmul`` (which applies it inside the op and takes eligibility traces with
    respect to the raw ``w``). It is elementwise, so its Jacobian is diagonal and every
    gradient through it is exact. Two transforms with the same constants compare equal and
    have the same ``repr`` (a digest of the constants), so models with the same constraints
    trace to the same program.

    Parameters
    ----------
    shape : tuple of int
        The weight's shape.
    mask : array of bool, optional
        Connectivity: 0 entries are absent (their effective weight is exactly 0).
    sign : array of {-1, 0, +1}, optional
        The sign each entry must keep (0: free). Broadcast to ``shape``.
    mode : {"abs", "rectify"}
        ``g(w) = |w|`` (exact gradient ``sign(w)``; PsychRNN) or ``max(w, 0)`` (Song, Yang &
        Wang 2016: an entry that reaches 0 gets no gradient and stays pruned).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> f = WeightTransform((2, 2), sign=np.array([[1], [-1]]), mask=np.array([[1, 1], [1, 0]]))
    >>> f(jnp.array([[-0.5, 2.0], [0.25, 4.0]])).tolist()
    [[0.5, 2.0], [-0.25, 0.0]]
    """

    def __init__(self, shape, *, mask=None, sign=None, mode: str = "abs"):
        if mode not in DALE_MODES:
            raise ConfigError(f"dale_mode={mode!r} is not a parameterisation; use one of {', '.join(DALE_MODES)} "
                              f"('abs': W = sign * |w|, exact gradient; 'rectify': W = sign * max(w, 0)).")
        self.shape = tuple(int(s) for s in shape)
        self.mode = mode
        self.mask = None if mask is None else np.asarray(mask, bool)
        self.sign = None if sign is None else np.broadcast_to(np.asarray(sign, np.int8), self.shape).copy()
        if self.sign is not None and not self.sign.any():
            self.sign = None
        digest = hashlib.sha256(f"{self.shape}{mode}".encode())
        for a in (self.mask, self.sign):
            digest.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
        self._digest = digest.hexdigest()[:16]

    @property
    def identity(self) -> bool:
        """Whether the transform changes nothing (no mask, no sign)."""
        return self.mask is None and self.sign is None

    def __call__(self, w):
        import jax.numpy as jnp

        if self.sign is not None:
            g = jnp.abs(w) if self.mode == "abs" else jnp.maximum(w, 0)
            s = jnp.asarray(self.sign, w.dtype)
            w = jnp.where(jnp.asarray(self.sign != 0), s * g, w) if not np.all(self.sign) else s * g
        if self.mask is not None:
            w = jnp.where(jnp.asarray(self.mask), w, jnp.zeros((), w.dtype))
        return w

    def numpy(self, w) -> np.ndarray:
        """The same transform in numpy (for exports and checks)."""
        w = np.asarray(w)
        if self.sign is not None:
            g = np.abs(w) if self.mode == "abs" else np.maximum(w, 0)
            w = np.where(self.sign != 0, self.sign.astype(w.dtype) * g, w)
        if self.mask is not None:
            w = np.where(self.mask, w, np.zeros((), w.dtype))
        return w

    def __eq__(self, other):
        return isinstance(other, WeightTransform) and other._digest == self._digest

    def __hash__(self):
        return hash(self._digest)

    def __repr__(self):
        parts = [self.mode if self.sign is not None else "free"]
        if self.mask is not None:
            parts.append(f"{int(self.mask.sum())}/{self.mask.size} connections")
        return f"WeightTransform({', '.join(parts)}, {self._digest})"


class TauTransform:
    """Trainable time constants within bounds: ``tau = lo + (hi - lo) * sigmoid(raw)``.

    Passed as ``weight_fn`` to ``braintrace.element_wise`` so that online learners see the
    raw parameter. :meth:`inverse` gives the raw value of a time constant.

    Examples
    --------
    >>> f = TauTransform(20.0, 200.0)
    >>> float(f(f.inverse(np.array([100.0])))[0])
    100.0
    """

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = float(lo), float(hi)

    def __call__(self, raw):
        import jax

        return self.lo + (self.hi - self.lo) * jax.nn.sigmoid(raw)

    def numpy(self, raw) -> np.ndarray:
        return self.lo + (self.hi - self.lo) / (1.0 + np.exp(-np.asarray(raw, np.float64)))

    def inverse(self, tau) -> np.ndarray:
        p = (np.asarray(tau, np.float64) - self.lo) / (self.hi - self.lo)
        return np.log(p) - np.log1p(-p)

    def __eq__(self, other):
        return isinstance(other, TauTransform) and (other.lo, other.hi) == (self.lo, self.hi)

    def __hash__(self):
        return hash(("tau", self.lo, self.hi))

    def __repr__(self):
        return f"TauTransform({self.lo:g}, {self.hi:g})"


# --------------------------------------------------------------------------------------------
# JSON encodings (config.json)
# --------------------------------------------------------------------------------------------
def encode_mask(mask) -> dict[str, Any] | None:
    """A boolean array as ``{"shape", "packbits"}`` (numpy ``packbits``, base64): 1 bit an entry.

    Examples
    --------
    >>> enc = encode_mask(np.eye(3, dtype=bool))
    >>> enc
    {'shape': [3, 3], 'packbits': 'iIA='}
    >>> decode_mask(enc).astype(int).tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    if mask is None:
        return None
    m = np.asarray(mask, bool)
    return {"shape": list(m.shape), "packbits": base64.b64encode(np.packbits(m.ravel())).decode("ascii")}


def decode_mask(data) -> np.ndarray | None:
    """Inverse of :func:`encode_mask` (arrays and nested lists are accepted as they are)."""
    if data is None:
        return None
    if isinstance(data, Mapping) and "packbits" in data:
        try:
            shape = tuple(int(s) for s in data["shape"])
            bits = np.unpackbits(np.frombuffer(base64.b64decode(data["packbits"]), np.uint8))
            return bits[:int(np.prod(shape))].reshape(shape).astype(bool)
        except Exception as e:
            raise ConfigError(f"a mask in the model config is damaged ({type(e).__name__}: {e}); "
                              f"rebuild the model or restore config.json.") from None
    return np.asarray(data, bool)


def encode_unit_types(types) -> str | None:
    """Unit types as a string of ``E`` and ``I`` (one character a unit)."""
    if types is None:
        return None
    return "".join("E" if t > 0 else "I" for t in np.asarray(types))


def decode_unit_types(text) -> np.ndarray | None:
    """Inverse of :func:`encode_unit_types`."""
    if text is None:
        return None
    return unit_types(len(text), text, argument="unit_types")
