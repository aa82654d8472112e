"""Weight initialisers selectable by name.

A spec is a braintools initialiser, any callable ``f(shape) -> array``, or a string
``"name"`` / ``"name:scale"``: ``"orthogonal:0.5"`` (the scale is the gain), ``"identity:0.9"``
(alias ``"diagonal"``), ``"xavier_normal"``, ``"xavier_uniform"``, ``"kaiming_uniform"``,
``"kaiming_normal"``, ``"normal:0.1"`` (the scale of ``normal`` is its standard deviation),
``"zeros"``, ``"spectral:1.1"`` (Gaussian, rescaled to the given spectral radius; PsychRNN's
default recurrent initialisation) and ``"balanced:1.0"`` (an E/I-balanced Dale matrix with the
given spectral radius, :func:`ei_balanced`; only for cells with Dale's law, which pass it their
unit types).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import brainstate
import braintools
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, ShapeError

__all__ = ["make_initializer", "initialize", "INITIALIZER_NAMES", "spectral_radius", "ei_balanced",
           "BalancedInit", "SpectralInit"]


def _scaled_identity(scale: float) -> Callable:
    def init(shape, **kw):
        if len(shape) != 2:
            raise ConfigError(f"the 'identity' initialiser needs a matrix shape; got {tuple(shape)}.")
        return scale * jnp.eye(*shape)

    return init


def _one(scale):
    return 1.0 if scale is None else scale


def spectral_radius(w) -> float:
    """The largest eigenvalue modulus of the square matrix ``w``.

    Examples
    --------
    >>> spectral_radius(np.diag([0.5, -2.0]))
    2.0
    """
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, np.float64)))))


def _check_square(name, shape):
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeError(f"the {name!r} initialiser makes square recurrent matrices; got shape {tuple(shape)}. "
                         f"Use it for W_rec (w_rec_init), not for input or readout weights.")


def _check_radius(radius):
    if not radius > 0:
        raise ConfigError(f"a spectral radius must be positive; got {radius!r} (e.g. 'spectral:1.1').")
    return float(radius)


class SpectralInit:
    """Gaussian ``N(0, 1/n)`` entries, rescaled so that the spectral radius is exactly ``radius``.

    PsychRNN initialises its recurrent weights this way (radius 1.1 by default). Square
    shapes only.

    Examples
    --------
    >>> brainstate.random.seed(0)
    >>> round(spectral_radius(SpectralInit(0.9)((30, 30))), 5)
    0.9
    """

    def __init__(self, radius: float = 1.1):
        self.radius = _check_radius(radius)

    def __call__(self, shape, **kw):
        _check_square("spectral", shape)
        n = int(shape[0])
        w = np.asarray(brainstate.random.randn(n, n), np.float64) / np.sqrt(n)
        return jnp.asarray(w * (self.radius / spectral_radius(w)), brainstate.environ.dftype())


def ei_balanced(types, radius: float = 1.0, *, mask=None, key=None) -> np.ndarray:
    """Magnitudes of an E/I-balanced Dale matrix with spectral radius ``radius``.

    A random matrix whose rows keep the sign of their presynaptic unit has a mean that is
    not zero, and that rank-one mean gives it one eigenvalue far outside the bulk (about
    ``n * (f_E mean_E - f_I mean_I)``; a known pitfall, e.g. rkim35/spikeRNN#3). Here every
    postsynaptic unit's inhibitory weights are scaled so that its excitatory and inhibitory
    inputs cancel exactly (each column of the signed matrix sums to 0, the "exact balance"
    under which Rajan & Abbott 2006 found the spectrum to stay a disc), and the whole matrix
    is then scaled to the requested spectral radius. Magnitudes are half-normal.

    Parameters
    ----------
    types : array of +1/-1, shape ``(n,)``
        The unit types (:func:`~neurotrain.models.unit_types`).
    radius : float
        Spectral radius of the signed matrix ``types[:, None] * magnitudes``.
    mask : array of bool, shape ``(n, n)``, optional
        Connectivity: absent entries are 0 (balance is kept among the present ones).
    key : optional
        Drawn from brainstate's global RNG when ``None`` (seed it with
        ``brainstate.random.seed``); else a numpy ``Generator`` or a seed.

    Returns
    -------
    ndarray, shape ``(n, n)``
        The non-negative magnitudes (the raw parameter of a Dale-constrained ``W_rec``).

    Examples
    --------
    >>> types = np.where(np.arange(100) < 80, 1, -1)
    >>> w = ei_balanced(types, 1.5, key=0)
    >>> signed = types[:, None] * w
    >>> round(spectral_radius(signed), 6), float(np.abs(signed.sum(axis=0)).max()) < 1e-9
    (1.5, True)
    """
    t = np.asarray(types).reshape(-1)
    n = t.size
    if key is None:
        a = np.abs(np.asarray(brainstate.random.randn(n, n), np.float64))
    else:
        rng = key if isinstance(key, np.random.Generator) else np.random.default_rng(key)
        a = np.abs(rng.standard_normal((n, n)))
    if mask is not None:
        a = a * np.asarray(mask, bool)
    exc = t > 0
    e_sum, i_sum = a[exc].sum(0), a[~exc].sum(0)
    scale = np.divide(e_sum, i_sum, out=np.ones(n), where=i_sum > 0)
    a[~exc] *= scale
    rho = spectral_radius(t[:, None] * a)
    if rho == 0:
        raise ConfigError("the balanced initialisation met a matrix with no eigenvalue away from 0 (is the "
                          "connectivity mask empty or strictly feed-forward?); use another w_rec_init.")
    return a * (_check_radius(radius) / rho)


class BalancedInit:
    """The ``"balanced:<radius>"`` spec: :func:`ei_balanced` with the cell's unit types.

    Cells with Dale's law call it as ``init(shape, unit_types=..., mask=...)``; without unit
    types it is an error.

    Examples
    --------
    >>> brainstate.random.seed(0)
    >>> types = np.array([1, 1, 1, -1])
    >>> w = np.asarray(BalancedInit(0.5)((4, 4), unit_types=types), np.float64)
    >>> round(spectral_radius(types[:, None] * w), 5), bool((w >= 0).all())
    (0.5, True)
    """

    def __init__(self, radius: float = 1.0):
        self.radius = _check_radius(radius)

    def __call__(self, shape, *, unit_types=None, mask=None, **kw):
        if unit_types is None:
            raise ConfigError("the 'balanced' initialiser balances excitatory against inhibitory weights, so it "
                              "needs Dale's law: build the cell with dale=0.8 (or unit types), or use "
                              "'spectral:1.1' or 'orthogonal' for an unconstrained W_rec.")
        _check_square("balanced", shape)
        return jnp.asarray(ei_balanced(unit_types, self.radius, mask=mask), brainstate.environ.dftype())


_FACTORIES: dict[str, Callable[[float | None], Callable]] = {
    "orthogonal": lambda s: braintools.init.Orthogonal(scale=_one(s)),
    "identity": lambda s: _scaled_identity(_one(s)),
    "diagonal": lambda s: _scaled_identity(_one(s)),
    "xavier_normal": lambda s: braintools.init.XavierNormal(scale=_one(s)),
    "xavier_uniform": lambda s: braintools.init.XavierUniform(scale=_one(s)),
    "kaiming_uniform": lambda s: braintools.init.KaimingUniform(scale=s),
    "kaiming_normal": lambda s: braintools.init.KaimingNormal(scale=s),
    "normal": lambda s: braintools.init.Normal(0.0, _one(s)),
    "zeros": lambda s: braintools.init.ZeroInit(),
    "spectral": lambda s: SpectralInit(1.1 if s is None else s),
    "balanced": lambda s: BalancedInit(_one(s)),
}
INITIALIZER_NAMES = tuple(_FACTORIES)


def make_initializer(spec, *, argument: str = "init") -> Callable:
    """Turn an initialiser spec into a callable ``init(shape) -> array``.

    Parameters
    ----------
    spec : str or callable
        ``"name"`` or ``"name:scale"`` (see the module docstring), or a braintools initialiser
        or any callable taking a shape.
    argument : str
        The argument's name, used in error messages.

    Examples
    --------
    >>> import brainstate
    >>> brainstate.random.seed(0)
    >>> w = initialize(make_initializer("identity:0.5"), (2, 2))
    >>> w.tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(
            f"{argument} must be an initialiser name such as 'orthogonal:0.5' or a callable; got {spec!r}."
        )
    name, _, scale_text = spec.partition(":")
    name = name.strip().lower().replace("-", "_")
    if name not in _FACTORIES:
        close = difflib.get_close_matches(name, INITIALIZER_NAMES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{argument}={spec!r} is not a known initialiser.{hint} "
            f"Known: {', '.join(INITIALIZER_NAMES)} (optionally 'name:scale')."
        )
    scale = None
    if scale_text:
        try:
            scale = float(scale_text)
        except ValueError:
            raise ConfigError(
                f"{argument}={spec!r}: the scale after ':' must be a number, e.g. 'orthogonal:0.5'."
            ) from None
    return _FACTORIES[name](scale)


def initialize(init: Callable, shape) -> jnp.ndarray:
    """Draw an array of ``shape`` from ``init`` using brainstate's global RNG."""
    return jnp.asarray(braintools.init.param(init, tuple(shape)))
