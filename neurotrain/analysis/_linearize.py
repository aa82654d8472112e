"""Linearisation of a network's one-step map at any state: Jacobians, eigenvalues, eigenvectors.

For one step ``h' = F(h, u)`` of the model (:func:`neurotrain.models.step_function`), the
linearisation at ``(h*, u*)`` is ``dh' = J dh + B du`` with ``J = dF/dh`` and ``B = dF/du``.
The eigenvalues ``lambda`` of ``J`` describe the discrete-time map the network simulates: a
fixed point is stable when every ``|lambda| < 1``. For leaky (continuous-time) cells the
underlying system ``tau dh/dt = -h + f(...)`` has the Jacobian ``J_ct = (J - I) / alpha``
(``alpha = dt / tau``, per unit), in units of ``1 / tau``; it is stable when every eigenvalue
has a negative real part.
"""

from __future__ import annotations

import dataclasses
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, ShapeError
from ..models import StepFunction, step_function, unit_alpha

__all__ = ["Linearization", "linearize", "classify_eigenvalues", "STABILITY_KINDS"]

#: the names :func:`classify_eigenvalues` gives
STABILITY_KINDS = ("stable", "marginal", "saddle", "unstable")


@dataclasses.dataclass(frozen=True)
class Linearization:
    """Jacobians and their eigen-decomposition at ``P`` points (from :func:`linearize`).

    Attributes
    ----------
    points : ndarray ``(P, S)``
        The full states (``S = state_size``).
    inputs : ndarray ``(P, num_in)``
        The constant input at each point.
    q : ndarray ``(P,)``
        Speed ``1/2 |F(h, u) - h|^2`` (per step) at each point.
    jac_state : ndarray ``(P, S, S)``
        ``J = dF/dh``.
    jac_input : ndarray ``(P, S, num_in)``
        ``B = dF/du``.
    eigenvalues : complex ndarray ``(P, S)``
        Eigenvalues of ``J``, sorted by decreasing magnitude.
    right_eigenvectors : complex ndarray ``(P, S, S)``
        ``right_eigenvectors[p, k]`` is the unit right eigenvector ``v_k`` of eigenvalue
        ``k`` (``J v_k = lambda_k v_k``).
    left_eigenvectors : complex ndarray ``(P, S, S)``
        ``left_eigenvectors[p, k]`` is the left eigenvector ``w_k`` (``w_k J = lambda_k w_k``),
        scaled so that ``w_k . v_k = 1`` (the rows of the inverse of the right eigenvector
        matrix).
    stability : ndarray of str ``(P,)``
        ``"stable"``, ``"marginal"``, ``"saddle"`` or ``"unstable"`` for the discrete-time map
        (see :func:`classify_eigenvalues`).
    num_unstable : ndarray of int ``(P,)``
        Eigenvalues with ``|lambda| > 1 + tol``.
    alpha : ndarray ``(S,)`` or None
        ``dt / tau`` per state unit for leaky cells, else None.
    eigenvalues_ct : complex ndarray ``(P, S)`` or None
        Eigenvalues of ``J_ct = (J - I) / alpha`` (units of ``1/tau``), sorted by decreasing
        real part; None unless every layer is leaky.
    stability_ct : ndarray of str ``(P,)`` or None
        The classification of the continuous-time system (sign of the real parts).
    num_unstable_ct : ndarray of int ``(P,)`` or None
    tol : float
        Tolerance of the classification.
    """

    points: np.ndarray
    inputs: np.ndarray
    q: np.ndarray
    jac_state: np.ndarray
    jac_input: np.ndarray
    eigenvalues: np.ndarray
    right_eigenvectors: np.ndarray
    left_eigenvectors: np.ndarray
    stability: np.ndarray
    num_unstable: np.ndarray
    alpha: np.ndarray | None
    eigenvalues_ct: np.ndarray | None
    stability_ct: np.ndarray | None
    num_unstable_ct: np.ndarray | None
    tol: float

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    def time_constants(self) -> np.ndarray:
        """Decay time constants ``-1 / Re(mu)`` of the continuous-time modes, ``(P, S)``, in units of tau.

        Negative values are growth time constants of unstable modes; raises for non-leaky cells.
        """
        if self.eigenvalues_ct is None:
            raise ConfigError("time_constants needs leaky (continuous-time) cells; this model has none.")
        with np.errstate(divide="ignore"):
            return -1.0 / np.real(self.eigenvalues_ct)

    def subset(self, index) -> Linearization:
        """The linearisation at a subset of the points (any numpy index along ``P``)."""
        def take(x):
            return None if x is None or np.ndim(x) == 0 else np.asarray(x)[index]
        kw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for k in kw:
            if k not in ("alpha", "tol"):
                kw[k] = take(kw[k])
        return Linearization(**kw)


def classify_eigenvalues(eigenvalues, *, tol: float = 1e-3, continuous: bool = False):
    """Stability of fixed points from their eigenvalues.

    Parameters
    ----------
    eigenvalues : array ``(P, S)`` or ``(S,)``
        Of the discrete-time Jacobian ``J`` (``continuous=False``: stable when ``|lambda| < 1``)
        or of the continuous-time ``J_ct`` (``continuous=True``: stable when ``Re mu < 0``).
    tol : float
        Band around the boundary (``| |lambda| - 1 | <= tol`` or ``|Re mu| <= tol``) counted
        as marginal.

    Returns
    -------
    stability : ndarray of str ``(P,)``
        ``"stable"`` (every mode decays), ``"marginal"`` (none grows, at least one is on the
        boundary: a line or ring attractor direction), ``"saddle"`` (some grow, some decay or
        are marginal) or ``"unstable"`` (every mode grows: a repeller).
    num_unstable : ndarray of int ``(P,)``
        Number of growing modes (the saddle's index).

    Examples
    --------
    >>> classify_eigenvalues([[0.5, 0.2], [1.5, 0.3], [1.0, 0.1], [2.0, 1.2]])
    (array(['stable', 'saddle', 'marginal', 'unstable'], dtype='<U8'), array([0, 1, 0, 2]))
    >>> classify_eigenvalues([[-0.5, 0.1j]], continuous=True)[0]
    array(['marginal'], dtype='<U8')
    """
    ev = np.atleast_2d(np.asarray(eigenvalues))
    x = np.real(ev) if continuous else np.abs(ev) - 1.0
    grow = x > tol
    edge = np.abs(x) <= tol
    n_up, n_edge, S = grow.sum(-1), edge.sum(-1), ev.shape[-1]
    out = np.where(n_up == 0, np.where(n_edge == 0, "stable", "marginal"),
                   np.where(n_up == S, "unstable", "saddle")).astype("<U8")
    return out, n_up.astype(int)


# --------------------------------------------------------------------------------------------
# compiled Jacobians, cached per model
# --------------------------------------------------------------------------------------------
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: compiled functions shared by every model whose step traces to the same program
_COMPILED: dict[str, dict] = {}


def _signature(model) -> tuple:
    import brainstate

    sig = tuple((".".join(map(str, k)), tuple(np.shape(jax.tree.leaves(s.value)[0])),
                 str(jax.tree.leaves(s.value)[0].dtype))
                for k, s in model.states(brainstate.ParamState).items())
    return sig + tuple((type(c).__name__, repr(sorted(c.config().items()))) for c in model.layers)


def cached_step(model) -> tuple[StepFunction, dict]:
    """``(step_function(model), cache)``; the step is traced once per model.

    ``cache`` holds the compiled analyses. It is shared by all models whose step traces to
    the same program (same cells, sizes and settings: :attr:`StepFunction.fingerprint`), so
    analysing many networks of one architecture compiles once. The parameters are re-read
    from the model on every call, so trained or edited weights are always used.
    """
    import brainstate

    entry = _CACHE.get(model)
    sig = _signature(model)
    if entry is None or entry[0] != sig:
        F = step_function(model)
        entry = (sig, F, _COMPILED.setdefault(F.fingerprint, {}))
        _CACHE[model] = entry
    _, F, cache = entry
    params = {".".join(str(p) for p in k): s.value for k, s in model.states(brainstate.ParamState).items()}
    # the time constants may be trained (they are parameters): alpha from the current values too
    return dataclasses.replace(F, params=params, alpha=unit_alpha(model)), cache


def _jacobians_fn(F: StepFunction, cache: dict):
    if "jacobians" not in cache:
        def one(params, h, u):
            jh, ju = jax.jacfwd(F, argnums=(1, 2))(params, h, u)
            r = F(params, h, u) - h
            return jh, ju, 0.5 * jnp.sum(r * r)
        # a handful of points: compile fast (XLA backend optimisation off), run time is negligible
        cache["jacobians"] = jax.jit(jax.vmap(one, in_axes=(None, 0, 0)),
                                     compiler_options={"xla_backend_optimization_level": 0})
    return cache["jacobians"]


def pow2(n: int, least: int = 4) -> int:
    """The smallest power of two >= ``n`` (and >= ``least``): padded batch sizes compile once."""
    b = least
    while b < n:
        b *= 2
    return b


def pad_rows(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` with its last row repeated up to ``n`` rows (``n >= len(a) >= 1``)."""
    a = np.asarray(a)
    if a.shape[0] >= n:
        return a
    return np.concatenate([a, np.repeat(a[-1:], n - a.shape[0], axis=0)])


def _as_points(F: StepFunction, points, inputs, fn: str):
    h = np.asarray(points, dtype=F.dtype)
    if h.ndim == 1:
        h = h[None]
    if h.ndim != 2 or h.shape[1] != F.state_size:
        raise ShapeError(f"{fn}: points must have shape (P, {F.state_size}) or ({F.state_size},) "
                         f"(full states: all layers, LSTM c included); got {np.shape(points)}.")
    u = np.asarray(0.0 if inputs is None else inputs, dtype=F.dtype)
    if u.ndim == 0 and F.num_in:
        u = np.full((F.num_in,), u, dtype=F.dtype)
    if u.ndim == 1:
        u = np.broadcast_to(u, (h.shape[0], u.shape[0]))
    if u.ndim != 2 or u.shape != (h.shape[0], F.num_in):
        raise ShapeError(f"{fn}: inputs must have shape ({F.num_in},) or ({h.shape[0]}, {F.num_in}); "
                         f"got {np.shape(inputs)}.")
    return h, np.ascontiguousarray(u)


def _eig_sorted(J: np.ndarray):
    """Eigenvalues by decreasing magnitude, unit right eigenvectors, matched left ones."""
    lam, V = np.linalg.eig(J)                          # V[..., :, k]
    order = np.argsort(-np.abs(lam), axis=-1, kind="stable")
    lam = np.take_along_axis(lam, order, -1)
    V = np.take_along_axis(V, order[..., None, :], -1)
    try:
        W = np.linalg.inv(V)                           # rows: left eigenvectors, W V = I
    except np.linalg.LinAlgError:
        W = np.linalg.pinv(V)
    return lam, np.swapaxes(V, -1, -2), W


def linearize_arrays(F: StepFunction, cache: dict, h: np.ndarray, u: np.ndarray, *, tol: float = 1e-3,
                     chunk: int = 256) -> Linearization:
    """:func:`linearize` on prepared arrays (``h`` ``(P, S)``, ``u`` ``(P, num_in)``)."""
    jac = _jacobians_fn(F, cache)
    P, S = h.shape
    Js, Bs, qs = [], [], []
    for i in range(0, P, chunk):
        n = min(chunk, P - i)
        size = pow2(n)           # padded, so that a few sizes cover every number of points
        j, b, q = jax.device_get(jac(F.params, pad_rows(h[i:i + n], size), pad_rows(u[i:i + n], size)))
        Js.append(np.asarray(j)[:n])
        Bs.append(np.asarray(b)[:n])
        qs.append(np.asarray(q)[:n])
    J = np.concatenate(Js) if Js else np.zeros((0, S, S), F.dtype)
    B = np.concatenate(Bs) if Bs else np.zeros((0, S, F.num_in), F.dtype)
    q = np.concatenate(qs) if qs else np.zeros((0,), F.dtype)
    J64 = J.astype(np.float64)
    if P:
        lam, V, W = _eig_sorted(J64)
    else:
        lam = np.zeros((0, S), complex)
        V = W = np.zeros((0, S, S), complex)
    stab, n_up = classify_eigenvalues(lam, tol=tol) if P else (np.zeros(0, "<U8"), np.zeros(0, int))
    lam_ct = stab_ct = n_up_ct = None
    alpha = None if F.alpha is None else np.asarray(F.alpha, np.float64)
    if alpha is not None:
        if np.all(alpha == alpha[0]):        # one alpha: mu = (lambda - 1) / alpha exactly
            lam_ct = (lam - 1.0) / alpha[0]
        else:
            Jct = (J64 - np.eye(S)) / alpha[:, None]
            lam_ct = np.linalg.eigvals(Jct) if P else np.zeros((0, S), complex)
        lam_ct = np.take_along_axis(lam_ct, np.argsort(-np.real(lam_ct), axis=-1, kind="stable"), -1)
        # the band |Re mu| <= tol / alpha matches the band | |lambda| - 1 | <= tol of the map
        if P:
            stab_ct, n_up_ct = classify_eigenvalues(lam_ct, tol=tol / float(alpha.max()), continuous=True)
        else:
            stab_ct, n_up_ct = np.zeros(0, "<U8"), np.zeros(0, int)
    return Linearization(points=h.copy(), inputs=u.copy(), q=q, jac_state=J, jac_input=B, eigenvalues=lam,
                         right_eigenvectors=V, left_eigenvectors=W, stability=stab, num_unstable=n_up,
                         alpha=alpha, eigenvalues_ct=lam_ct, stability_ct=stab_ct,
                         num_unstable_ct=n_up_ct, tol=float(tol))


def linearize(model, points, inputs=None, *, tol: float = 1e-3) -> Linearization:
    """Linearise the model's noise-free one-step map at the given states and inputs.

    The "point analytics" of the Engel lab's trainRNNbrain pipeline: the speed ``q``, the
    Jacobians with respect to the state and the input, the eigenvalues sorted by magnitude with
    their right and left eigenvectors, and the stability (discrete-time map; and continuous-time
    for leaky cells).

    Parameters
    ----------
    model : neurotrain.models.RNN
    points : array ``(P, state_size)`` or ``(state_size,)``
        Full states (all layers; for LSTM layers ``[h, c]``), e.g. ``fixed_points.points``.
    inputs : array ``(num_in,)`` or ``(P, num_in)``, optional
        The constant input at each point (zeros by default).
    tol : float
        Marginal band of the stability classification (see :func:`classify_eigenvalues`).

    Returns
    -------
    Linearization

    Examples
    --------
    >>> import brainstate, numpy as np, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> cell = nt.models.VanillaRNNCell(1, 2, activation="linear")
    >>> model = nt.models.RNN(cell, num_out=1)
    >>> cell.W.value = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.9]], np.float32)  # [W_in; W_rec]
    >>> lin = linearize(model, np.zeros(2), np.zeros(1))
    >>> np.round(lin.eigenvalues[0].real, 3).tolist(), str(lin.stability[0])
    ([0.9, 0.5], 'stable')
    """
    F, cache = cached_step(model)
    h, u = _as_points(F, points, inputs, "linearize")
    return linearize_arrays(F, cache, h, u, tol=tol)
