"""Fixed and slow points of a network's noise-free dynamics, batched in JAX.

For the one-step map ``h' = F(h, u)`` (:func:`neurotrain.models.step_function`) and a
constant input ``u``, a fixed point satisfies ``F(h, u) = h``; a slow point is a local minimum
of the speed ``q(h) = 1/2 |F(h, u) - h|^2`` that is small but not zero (Sussillo & Barak 2013).

:func:`find_fixed_points` works on many candidate states at once (all inputs in one batch):

1. **optimise**: Adam on ``q`` for every candidate in parallel, each candidate stopping on
   its own once ``q`` or its gradient is small (the others go on);
2. **polish**: batched Newton steps on ``F(h, u) - h = 0`` (one LU solve of ``J - I`` per
   candidate, ``jax.vmap`` of exact Jacobians) that fall back to Levenberg-Marquardt when a
   step does not lower ``q``; each candidate stops once its residual is below ``tol``
   (``mode="exact"``, the fsolve mode of the Engel lab's trainRNNbrain pipeline), or, in
   ``mode="approximate"``, once it sits at a minimum of ``q`` (slow points are kept when
   ``q <= q_tol``, trainRNNbrain's ``fun_tol``). Between chunks of iterations the candidates
   still running are gathered into smaller batches, so finished ones cost nothing;
3. **filter**: drop non-finite points, points that did not converge and outliers far from
   the candidates' cloud;
4. **de-duplicate** (per input) before any eigen-decomposition;
5. **classify** the unique points from the eigenvalues of their Jacobians
   (:func:`neurotrain.analysis.linearize`): stable, marginal, saddle or unstable, for the
   discrete-time map and, for leaky cells, the continuous-time system.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, ShapeError
from .._validate import check_int, check_number
from ._linearize import Linearization, _as_points, cached_step, linearize_arrays, pad_rows, pow2

__all__ = ["FixedPoints", "find_fixed_points", "unique_points"]

#: per-candidate outcome codes of :attr:`FixedPoints.candidate_status`
CANDIDATE_STATUS = ("kept", "duplicate", "not_converged", "outlier", "non_finite")


@dataclasses.dataclass(frozen=True)
class FixedPoints:
    """The fixed (or slow) points found by :func:`find_fixed_points`.

    ``P`` unique points over ``K`` constant inputs, found from ``M`` candidates; ``S`` is the
    full state size (all layers, LSTM ``c`` included).

    Attributes
    ----------
    points : ndarray ``(P, S)``
        The unique fixed points, sorted by input, then by speed ``q``.
    input_index : ndarray of int ``(P,)``
        Which of :attr:`inputs` each point belongs to.
    inputs : ndarray ``(K, num_in)``
        The constant inputs.
    input_names : tuple of str ``(K,)``
        Labels of the inputs (e.g. the task period they come from).
    q : ndarray ``(P,)``
        Speed ``1/2 |F(h, u) - h|^2`` per step at each point.
    residual : ndarray ``(P,)``
        ``max |F(h, u) - h|`` at each point.
    num_merged : ndarray of int ``(P,)``
        How many candidates ended at this point (within ``unique_tol``).
    outputs : ndarray ``(P, num_out)``
        The network's readout at each point.
    linearization : Linearization
        Jacobians, sorted eigenvalues, left and right eigenvectors and the stability of every
        point (:attr:`stability` and :attr:`eigenvalues` are shortcuts).
    hidden_index : ndarray of int
        Indices of the state entries that are unit activities ``h`` (to compare with recorded
        ``activity``, which holds no LSTM ``c``).
    mode : str
        ``"exact"`` or ``"approximate"``.
    candidate_input_index : ndarray of int ``(M,)``
    candidate_start : ndarray ``(M, S)``
        The initial states (sampled from activity, noise added).
    candidate_q_start, candidate_q : ndarray ``(M,)``
        Speed before and after optimisation and polishing.
    candidate_iterations : ndarray of int ``(M,)``
        Adam iterations each candidate ran before it stopped.
    candidate_polish_iterations : ndarray of int ``(M,)``
        Newton / Levenberg-Marquardt iterations (0 with ``polish=False``).
    candidate_status : ndarray of str ``(M,)``
        ``"kept"`` (the representative of a unique point), ``"duplicate"``,
        ``"not_converged"``, ``"outlier"`` or ``"non_finite"``.
    candidate_point : ndarray of int ``(M,)``
        Index into :attr:`points` of the point a candidate ended at, -1 if excluded.
    settings : dict
        The options used (tolerances, iterations...).
    timings : dict of str to float
        Seconds spent in each stage (``sample``, ``optimise``, ``polish``, ``filter``,
        ``linearize``, ``total``); the first call of a model includes compilation.
    """

    points: np.ndarray
    input_index: np.ndarray
    inputs: np.ndarray
    input_names: tuple[str, ...]
    q: np.ndarray
    residual: np.ndarray
    num_merged: np.ndarray
    outputs: np.ndarray
    linearization: Linearization
    hidden_index: np.ndarray
    mode: str
    candidate_input_index: np.ndarray
    candidate_start: np.ndarray
    candidate_q_start: np.ndarray
    candidate_q: np.ndarray
    candidate_iterations: np.ndarray
    candidate_polish_iterations: np.ndarray
    candidate_status: np.ndarray
    candidate_point: np.ndarray
    settings: dict[str, Any]
    timings: dict[str, float]

    # --- shortcuts -------------------------------------------------------------------------
    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def stability(self) -> np.ndarray:
        """``(P,)`` ``"stable"``, ``"marginal"``, ``"saddle"`` or ``"unstable"`` (discrete-time map)."""
        return self.linearization.stability

    @property
    def stability_ct(self) -> np.ndarray | None:
        """``(P,)`` stability of the continuous-time system (leaky cells), else None."""
        return self.linearization.stability_ct

    @property
    def eigenvalues(self) -> np.ndarray:
        """``(P, S)`` eigenvalues of the Jacobians, by decreasing magnitude."""
        return self.linearization.eigenvalues

    @property
    def num_unstable(self) -> np.ndarray:
        """``(P,)`` number of unstable modes (the saddle index)."""
        return self.linearization.num_unstable

    @property
    def hidden(self) -> np.ndarray:
        """``(P, num_rec)`` the unit activities of the points (no LSTM ``c``)."""
        return self.points[:, self.hidden_index]

    def counts(self, continuous: bool = False) -> dict[str, int]:
        """Number of points of each stability kind, e.g. ``{"stable": 8, "saddle": 19, ...}``."""
        from ._linearize import STABILITY_KINDS

        stab = self.stability_ct if continuous else self.stability
        if stab is None:
            raise ConfigError("continuous-time stability needs leaky cells; this model has none.")
        return {k: int(np.sum(stab == k)) for k in STABILITY_KINDS}

    def select(self, index) -> FixedPoints:
        """A copy restricted to some points (any numpy index along ``P``, e.g. a mask).

        Candidate records are kept as they are (their ``candidate_point`` indices refer to
        the full set).
        """
        idx = np.arange(self.num_points)[index]
        return dataclasses.replace(
            self, points=self.points[idx], input_index=self.input_index[idx], q=self.q[idx],
            residual=self.residual[idx], num_merged=self.num_merged[idx], outputs=self.outputs[idx],
            linearization=self.linearization.subset(idx))

    def for_input(self, k: int) -> FixedPoints:
        """The points of input ``k``."""
        return self.select(self.input_index == int(k))

    def summary(self) -> dict[str, Any]:
        """JSON-ready overview: counts per kind and input, speeds, candidate outcomes, timings."""
        out: dict[str, Any] = {"mode": self.mode, "num_points": self.num_points,
                               "num_candidates": int(self.candidate_status.size),
                               "counts": self.counts()}
        if self.stability_ct is not None:
            out["counts_continuous_time"] = self.counts(continuous=True)
        out["candidates"] = {s: int(np.sum(self.candidate_status == s)) for s in CANDIDATE_STATUS}
        per_input = []
        for k, name in enumerate(self.input_names):
            sel = self.input_index == k
            row: dict[str, Any] = {"name": name, "input": self.inputs[k].tolist(),
                                   "num_points": int(sel.sum()),
                                   "counts": {s: int(np.sum(self.stability[sel] == s))
                                              for s in ("stable", "marginal", "saddle", "unstable")}}
            row["points"] = [
                {"q": float(self.q[i]), "residual": float(self.residual[i]),
                 "stability": str(self.stability[i]), "num_unstable": int(self.num_unstable[i]),
                 **({"stability_ct": str(self.stability_ct[i])} if self.stability_ct is not None else {}),
                 "max_abs_eigenvalue": float(np.abs(self.eigenvalues[i, 0])) if self.eigenvalues.size else None,
                 "num_merged": int(self.num_merged[i]), "output": self.outputs[i].tolist()}
                for i in np.flatnonzero(sel)]
            per_input.append(row)
        out["inputs"] = per_input
        out["timings_s"] = dict(self.timings)
        out["settings"] = dict(self.settings)
        return out

    def table(self) -> str:
        """One line per point: input, stability, unstable modes, ``q``, largest ``|lambda|``."""
        lines = ["#  input                stability  unstable  q          max|lambda|  merged"]
        for i in range(self.num_points):
            k = int(self.input_index[i])
            lam = float(np.abs(self.eigenvalues[i, 0])) if self.eigenvalues.size else float("nan")
            lines.append(f"{i:<2d} {self.input_names[k][:20]:<20} {self.stability[i]:<10} "
                         f"{int(self.num_unstable[i]):<9d} {self.q[i]:<10.2e} {lam:<12.5f} "
                         f"{int(self.num_merged[i])}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------------------------
def _state_pool(activity, F) -> np.ndarray:
    """Recorded states as ``(N, S)`` from an Activity, an Evaluation or an array."""
    arr = getattr(activity, "state", None)
    if arr is None or np.size(arr) == 0:
        arr = getattr(activity, "activity", None)          # Evaluation
    if arr is None:
        arr = getattr(activity, "hidden", None)            # Activity without full state
    if arr is None:
        arr = activity
    arr = np.asarray(arr)
    if arr.ndim < 1 or arr.shape[-1] != F.state_size:
        extra = ""
        if arr.ndim >= 1 and arr.shape[-1] == len(F.hidden_index):
            extra = (" It holds the units' activity h only; record the full state (LSTM c "
                     "included) with neurotrain.analysis.record_activity(model, ..., full_state=True).")
        raise ShapeError(f"activity must end with the full state size {F.state_size}; got shape "
                         f"{arr.shape}.{extra}")
    pool = arr.reshape(-1, F.state_size).astype(F.dtype)
    pool = pool[np.all(np.isfinite(pool), axis=1)]
    if pool.shape[0] == 0:
        raise ShapeError("activity holds no finite state to sample candidates from.")
    return pool


def _as_inputs(inputs, F, names) -> tuple[np.ndarray, tuple[str, ...]]:
    if inputs is None:
        u = np.zeros((1, F.num_in), F.dtype)
    else:
        u = np.asarray(inputs, dtype=F.dtype)
        if u.ndim == 1:
            u = u[None]
    if u.ndim != 2 or u.shape[1] != F.num_in or u.shape[0] == 0:
        raise ShapeError(f"inputs must have shape ({F.num_in},) or (K, {F.num_in}) (one constant input "
                         f"per row); got {np.shape(inputs)}.")
    if not np.all(np.isfinite(u)):
        raise ConfigError("inputs must be finite.")
    K = u.shape[0]
    if names is None:
        names = tuple(f"input {k}" for k in range(K)) if K > 1 else ("input",)
    names = tuple(str(n) for n in names)
    if len(names) != K:
        raise ConfigError(f"input_names has {len(names)} names for {K} inputs.")
    return u, names


def _check_pos(name, v, integer=False, allow_zero=False):
    if integer:
        return check_int(name, v, minimum=0 if allow_zero else 1)
    return check_number(name, v, minimum=0.0, inclusive=allow_zero)


# --------------------------------------------------------------------------------------------
# the batched solver
# --------------------------------------------------------------------------------------------
def _solver(F, cache):
    """Jitted pieces of the search for one model (compiled once per batch shape).

    ``adam`` and ``lm`` run at most ``k`` iterations on a batch of candidates, every
    candidate stopping on its own; the host loop in :func:`_run_compacted` calls them
    repeatedly on the candidates still running, gathered into smaller batches.
    """
    if "solver" in cache:
        return cache["solver"]

    def q_of(params, h, u):
        r = F(params, h, u) - h
        return 0.5 * jnp.sum(r * r)

    vq = jax.vmap(q_of, in_axes=(None, 0, 0))
    vqg = jax.vmap(jax.value_and_grad(q_of, argnums=1), in_axes=(None, 0, 0))
    vres = jax.vmap(lambda p, h, u: F(p, h, u) - h, in_axes=(None, 0, 0))
    vjac = jax.vmap(jax.jacfwd(F, argnums=1), in_axes=(None, 0, 0))

    def adam(params, carry, u, k, lr, q_stop, g_stop):
        """At most ``k`` Adam steps on q; a candidate stops once q < q_stop or |grad|_inf < g_stop.

        ``carry = (h, m, v, t, lr_c, q_prev, active, n_it)``, all per candidate.
        """
        b1, b2, eps = 0.9, 0.999, 1e-8

        def cond(c):
            i, cc = c
            return (i < k) & jnp.any(cc[6])

        def body(c):
            i, (h, m, v, t, lr_c, q_prev, active, n_it) = c
            qv, g = vqg(params, h, u)
            done = (qv < q_stop) | (jnp.max(jnp.abs(g), axis=1) < g_stop) | ~jnp.isfinite(qv)
            still = active & ~done
            # per-candidate step size: halve when q went up, recover slowly otherwise
            lr_c = jnp.where(qv > q_prev, lr_c * 0.5, jnp.minimum(lr_c * 1.02, lr))
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            t1 = t + 1.0
            step = lr_c[:, None] * (m / (1 - b1 ** t1)[:, None]) / (
                jnp.sqrt(v / (1 - b2 ** t1)[:, None]) + eps)
            h = jnp.where(still[:, None], h - step, h)
            n_it = n_it + still.astype(n_it.dtype)
            return i + 1, (h, m, v, t1, lr_c, jnp.where(active, qv, q_prev), still, n_it)

        _, carry = jax.lax.while_loop(cond, body, (jnp.asarray(0), carry))
        return carry

    def lm(params, carry, u, k, tol, root, g_tol):
        """At most ``k`` Newton / Levenberg-Marquardt steps on F(h, u) - h = 0.

        ``carry = (h, q, r_max, mu, active, n_it, slow)``. A candidate with ``mu = 0`` takes a plain
        Newton step (one LU solve of ``J - I``); when a step does not lower ``q`` its damping
        ``mu`` is raised and it takes Levenberg-Marquardt steps
        ``(A^T A + mu s I) d = -A^T r`` until steps succeed again (``mu`` decays back to 0).
        A candidate stops once ``max |r| <= tol``, or when no root is near: ``slow`` counts the
        steps in a row that failed to halve ``q`` (stop at 8), and ``mu`` explodes when no
        step lowers ``q`` at all (a slow point, not a root). With ``root=False`` (slow points)
        the steps minimise ``q`` instead: a candidate stops once ``max |grad q| <= g_tol`` or
        a step lowers ``q`` by less than a relative 1e-6.
        """
        S = carry[0].shape[1]
        eye = jnp.eye(S, dtype=carry[0].dtype)

        def cond(c):
            i, cc = c
            return (i < k) & jnp.any(cc[4])

        def body(c):
            i, (h, q, r_max, mu, active, n_it, slow) = c
            r = vres(params, h, u)
            A = vjac(params, h, u) - eye
            At = jnp.swapaxes(A, 1, 2)
            g = jnp.einsum("mij,mj->mi", At, r)                                   # grad q
            g_max = jnp.max(jnp.abs(g), axis=1)
            damped = active & (mu > 0)

            def damped_system():
                H = At @ A
                scale = jnp.maximum(jnp.max(jnp.diagonal(H, axis1=1, axis2=2), axis=1), 1e-30)
                H = H + (jnp.maximum(mu, 1e-12) * scale)[:, None, None] * eye
                return jnp.where(damped[:, None, None], H, A), jnp.where(damped[:, None], -g, -r)

            # Newton: (J - I) d = -r; Levenberg-Marquardt: (A^T A + mu s I) d = -A^T r. One
            # batched LU solve either way (the normal equations are only formed when needed).
            system, rhs = jax.lax.cond(jnp.any(damped), damped_system, lambda: (A, -r))
            delta = jnp.linalg.solve(system, rhs[..., None])[..., 0]
            delta = jnp.where(jnp.isfinite(delta), delta, 0.0)
            h_try = h + delta
            r_try = vres(params, h_try, u)
            q_try = 0.5 * jnp.sum(r_try * r_try, axis=1)
            accept = active & (q_try < q) & jnp.isfinite(q_try)
            # steps that do not halve q: a root is not near (Newton's q ratio near a root is
            # tiny, and at worst 1/4 at a singular one); after 8 in a row, give up
            slow = jnp.where(accept & (q_try <= 0.5 * q), 0, slow + 1)
            stall = accept & (q - q_try <= 1e-6 * q)
            h = jnp.where(accept[:, None], h_try, h)
            q = jnp.where(accept, q_try, q)
            r_max = jnp.where(accept, jnp.max(jnp.abs(r_try), axis=1), r_max)
            mu_up = jnp.where(mu > 0, mu * 8.0, 1e-4)
            mu_down = jnp.where(mu * 0.2 < 1e-7, 0.0, mu * 0.2)
            mu = jnp.where(active, jnp.where(accept, mu_down, mu_up), mu)
            gave_up = jnp.where(root, slow >= 8, (g_max <= g_tol) | stall)
            still = active & ~((r_max <= tol) | gave_up | (mu > 1e8) | ~jnp.isfinite(q))
            n_it = n_it + active.astype(n_it.dtype)
            return i + 1, (h, q, r_max, mu, still, n_it, slow)

        _, carry = jax.lax.while_loop(cond, body, (jnp.asarray(0), carry))
        return carry

    def start_lm(params, h, u):
        r = vres(params, h, u)
        return 0.5 * jnp.sum(r * r, axis=1), jnp.max(jnp.abs(r), axis=1)

    fns = {"adam": adam, "lm": lm, "start_lm": start_lm, "q": vq,
           "output": jax.vmap(F.output, in_axes=(None, 0))}
    out = _Compiled(fns, F.state_size)
    cache["solver"] = out
    return out


#: batches with ``M * S**2`` at most this are compiled with XLA's backend optimisation off
SMALL_WORK = 2 ** 22


class _Compiled:
    """Jitted variants of the solver's functions, picked by the size of the batch.

    Small batches are compiled with ``xla_backend_optimization_level=0``: about 2-3x faster
    to compile, and their run time is negligible anyway; large batches get the fully
    optimised code (about 2x faster to run at 1024 x 128 units).
    """

    def __init__(self, fns, state_size):
        self.fns, self.S, self.jitted = fns, state_size, {}

    def __call__(self, name, batch):
        small = batch * self.S * self.S <= SMALL_WORK
        key = (name, small)
        if key not in self.jitted:
            opts = {"xla_backend_optimization_level": 0} if small else None
            self.jitted[key] = jax.jit(self.fns[name], compiler_options=opts)
        return self.jitted[key]


def _buckets(M: int) -> list[int]:
    """Batch sizes the host loop compacts into: ``M`` (at least 16) and the powers of 4 from
    16 below it.

    Each size compiles once per model; powers of 4 keep the compilations few while finished
    candidates stop costing time.
    """
    out, b = [max(M, 16)], 16
    while b < M:
        out.append(b)
        b *= 4
    return sorted(set(out))


def _run_compacted(step, carry, u, active_index: int, total: int, chunk: int, buckets: list[int]):
    """Call ``step(carry, u, k)`` until no candidate is active or ``total`` iterations ran.

    After every ``chunk`` iterations the candidates still active are gathered into the
    smallest bucket size that holds them (padding rows are inactive copies), so finished
    candidates cost nothing. ``carry`` is a tuple of numpy arrays with the candidate on
    axis 0; ``carry[active_index]`` is the boolean active flag.
    """
    carry = [np.array(a) for a in carry]
    done = 0
    while done < total:
        live = np.flatnonzero(carry[active_index])
        if live.size == 0:
            break
        size = next(b for b in buckets if b >= live.size)
        pad = np.concatenate([live, np.full(size - live.size, live[0])])
        sub = [a[pad] for a in carry]
        sub[active_index][live.size:] = False
        k = min(chunk, total - done)
        out = jax.device_get(step(tuple(sub), u[pad], k))
        for a, b in zip(carry, out):
            a[live] = np.asarray(b)[:live.size]
        done += k
    return carry


# --------------------------------------------------------------------------------------------
# de-duplication
# --------------------------------------------------------------------------------------------
def unique_points(points, tol: float, *, order=None, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """Greedy de-duplication: a point joins the first kept point within ``tol`` (Euclidean).

    Parameters
    ----------
    points : array ``(N, S)``
    tol : float
        Points closer than this are the same point.
    order : array ``(N,)``, optional
        Priority (lower first, e.g. the speed ``q``): the kept representative of a cluster is
        its first point in this order.
    groups : array of int ``(N,)``, optional
        Points of different groups (e.g. inputs) are never merged.

    Returns
    -------
    keep : ndarray of int ``(P,)``
        Indices of the representatives, in priority order.
    label : ndarray of int ``(N,)``
        For every point, the position in ``keep`` of its representative.

    Examples
    --------
    >>> keep, label = unique_points([[0.0, 0.0], [1.0, 0.0], [1e-5, 0.0]], tol=1e-3)
    >>> keep.tolist(), label.tolist()
    ([0, 1], [0, 1, 0])
    """
    x = np.asarray(points, dtype=np.float64)
    N = x.shape[0]
    label = np.full(N, -1, dtype=int)
    if N == 0:
        return np.zeros(0, int), label
    g = np.zeros(N, int) if groups is None else np.asarray(groups)
    idx = np.argsort(np.zeros(N) if order is None else np.asarray(order, np.float64), kind="stable")
    keep: list[int] = []
    sq = np.einsum("ij,ij->i", x, x)
    for i in idx:
        if label[i] >= 0:
            continue
        d2 = sq + sq[i] - 2.0 * (x @ x[i])
        near = (d2 <= tol * tol) & (label < 0) & (g == g[i])
        label[near] = len(keep)
        label[i] = len(keep)
        keep.append(int(i))
    return np.asarray(keep, dtype=int), label


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------
def find_fixed_points(model, inputs=None, *, activity=None, candidates=None, num_candidates: int = 1024,
                      noise_scale: float = 0.0, mode: str = "exact", seed: int = 0,
                      max_iters: int = 1000, learning_rate: float = 0.02, opt_q_tol: float | None = None,
                      opt_grad_tol: float | None = None, polish: bool | None = None,
                      polish_iters: int = 40, tol: float | None = None, q_tol: float = 1e-6,
                      unique_tol: float | None = None, outlier_scale: float | None = 2.0,
                      stability_tol: float = 1e-3,
                      input_names: Sequence[str] | None = None) -> FixedPoints:
    """Find the fixed points (``mode="exact"``) or slow points (``"approximate"``) of a model.

    Parameters
    ----------
    model : neurotrain.models.RNN
        Any cells, any number of layers; the search runs on the full state
        (``model.state_size`` entries: all layers, LSTM ``c`` included) without noise.
    inputs : array ``(num_in,)`` or ``(K, num_in)``, optional
        One or several constant inputs, searched in one batch (zeros by default); e.g.
        :func:`neurotrain.analysis.period_inputs`.
    activity : Activity, Evaluation or array ``(..., state_size)``, optional
        Recorded states to sample the initial candidates from
        (:func:`neurotrain.analysis.record_activity` with ``full_state=True``; an
        ``Evaluation`` works for cells whose state is just ``h``).
    candidates : array ``(N, state_size)`` or ``(K, N, state_size)``, optional
        Explicit initial states (used for every input, or one set per input) instead of
        sampling ``activity``.
    num_candidates : int
        Candidates sampled per input from ``activity``.
    noise_scale : float
        Standard deviation of Gaussian noise added to the sampled candidates.
    mode : {"exact", "approximate"}
        ``"exact"``: polish every candidate to a root of ``F(h, u) - h`` and keep those with
        ``max |F(h, u) - h| <= tol`` (the fsolve mode of the Engel lab's trainRNNbrain
        pipeline). ``"approximate"``: keep the minima of ``q`` below ``q_tol`` (slow points;
        trainRNNbrain's ``fun_tol``).
    seed : int
        Seeds the sampling of candidates and their noise.
    max_iters : int
        Most Adam iterations; each candidate stops earlier once converged.
    learning_rate : float
        Adam step size (in state units).
    opt_q_tol, opt_grad_tol : float, optional
        A candidate's Adam phase stops once ``q < opt_q_tol`` or ``max |grad q| < opt_grad_tol``
        (defaults 1e-6 and 1e-5, since the polish finishes the job; with ``polish=False``
        1e-10 and 1e-7 in float32, 1e-20 and 1e-12 in float64).
    polish : bool, optional
        Run the Newton / Levenberg-Marquardt polish (default True). In exact mode it solves
        ``F(h, u) = h``; in approximate mode it minimises ``q`` (Gauss-Newton steps), which
        pins slow points down far better than Adam alone. ``False`` keeps Adam's result.
    polish_iters : int
        Most Newton / Levenberg-Marquardt iterations.
    tol : float, optional
        Exact mode: largest ``max |F(h, u) - h|`` of a fixed point (1e-5 in float32, 1e-10 in
        float64).
    q_tol : float
        Approximate mode: largest ``q`` of a slow point.
    unique_tol : float, optional
        Points closer than this (Euclidean) are one point (1e-3 with polishing, 1e-2 without).
    outlier_scale : float or None
        Drop points farther from the candidates' centroid than ``outlier_scale`` times the
        farthest candidate; None keeps all.
    stability_tol : float
        Marginal band of the stability classification (see
        :func:`neurotrain.analysis.classify_eigenvalues`).
    input_names : sequence of str, optional
        Labels of the ``K`` inputs.

    Returns
    -------
    FixedPoints

    Examples
    --------
    A 2-unit tanh network with one bistable unit has two stable points and a saddle:

    >>> import brainstate, numpy as np, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> cell = nt.models.VanillaRNNCell(1, 2, activation="tanh")
    >>> model = nt.models.RNN(cell, num_out=1)
    >>> cell.W.value = np.array([[0, 0], [2.0, 0], [0, 0.5]], np.float32)   # [W_in; W_rec]
    >>> grid = np.stack(np.meshgrid(np.linspace(-1, 1, 8), np.linspace(-1, 1, 8)), -1).reshape(-1, 2)
    >>> fps = nt.analysis.find_fixed_points(model, np.zeros(1), candidates=grid)
    >>> fps.counts()
    {'stable': 2, 'marginal': 0, 'saddle': 1, 'unstable': 0}
    """
    t_all = time.perf_counter()
    if mode not in ("exact", "approximate"):
        raise ConfigError(f"mode must be 'exact' or 'approximate'; got {mode!r}.")
    _check_pos("num_candidates", num_candidates, integer=True)
    _check_pos("max_iters", max_iters, integer=True, allow_zero=True)
    _check_pos("polish_iters", polish_iters, integer=True, allow_zero=True)
    _check_pos("learning_rate", learning_rate)
    _check_pos("noise_scale", noise_scale, allow_zero=True)
    _check_pos("q_tol", q_tol)
    _check_pos("stability_tol", stability_tol, allow_zero=True)
    if outlier_scale is not None:
        _check_pos("outlier_scale", outlier_scale)
    F, cache = cached_step(model)
    exact = mode == "exact"
    polish = True if polish is None else bool(polish)
    f64 = F.dtype == np.float64
    if tol is None:
        tol = 1e-10 if f64 else 1e-5
    if opt_q_tol is None:
        opt_q_tol = 1e-6 if polish else (1e-20 if f64 else 1e-10)
    if opt_grad_tol is None:
        opt_grad_tol = 1e-5 if polish else (1e-12 if f64 else 1e-7)
    if unique_tol is None:
        unique_tol = 1e-3 if polish else 1e-2
    _check_pos("tol", tol)
    _check_pos("unique_tol", unique_tol)
    u, names = _as_inputs(inputs, F, input_names)
    K = u.shape[0]

    # --- candidates ------------------------------------------------------------------------
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    if candidates is not None:
        c = np.asarray(candidates, dtype=F.dtype)
        if c.ndim == 1:
            c = c[None]
        if c.ndim == 2:
            c = np.broadcast_to(c, (K,) + c.shape)
        if c.ndim != 3 or c.shape[0] != K or c.shape[2] != F.state_size or c.shape[1] == 0:
            raise ShapeError(f"candidates must have shape (N, {F.state_size}) or ({K}, N, {F.state_size}); "
                             f"got {np.shape(candidates)}.")
        pool = c.reshape(-1, F.state_size)
        starts = c
    elif activity is not None:
        pool = _state_pool(activity, F)
        n = int(num_candidates)
        idx = np.stack([rng.choice(pool.shape[0], n, replace=pool.shape[0] < n) for _ in range(K)])
        starts = pool[idx]
    else:
        raise ConfigError("find_fixed_points needs candidates: pass activity= (recorded states, e.g. "
                          "record_activity(model, task, full_state=True)) or candidates= (initial states).")
    if noise_scale > 0:
        starts = starts + noise_scale * rng.standard_normal(starts.shape).astype(F.dtype)
    N = starts.shape[1]
    h0 = np.ascontiguousarray(starts.reshape(K * N, F.state_size), dtype=F.dtype)
    cu = np.repeat(u, N, axis=0)
    cin = np.repeat(np.arange(K), N)
    t_sample = time.perf_counter() - t0

    # --- optimise and polish ---------------------------------------------------------------
    sol = _solver(F, cache)
    dt = F.dtype.type
    buckets = _buckets(h0.shape[0])
    t0 = time.perf_counter()
    M = h0.shape[0]
    top = buckets[-1]
    q_start = np.asarray(sol("q", top)(F.params, pad_rows(h0, top), pad_rows(cu, top)))[:M]
    params = F.params
    zeros = np.zeros_like(h0)
    carry = (h0, zeros, zeros, np.zeros(M, F.dtype), np.full(M, learning_rate, F.dtype),
             np.full(M, np.inf, F.dtype), np.ones(M, bool), np.zeros(M, np.int32))
    lr_, qs_, gs_ = dt(learning_rate), dt(opt_q_tol), dt(opt_grad_tol)
    carry = _run_compacted(lambda c, uu, k: sol("adam", len(uu))(params, c, uu, k, lr_, qs_, gs_),
                           carry, cu, 6, int(max_iters), 100, buckets)
    h, n_it = carry[0], carry[7]
    t_opt = time.perf_counter() - t0
    t0 = time.perf_counter()
    q_fin, res = (np.asarray(a)[:M] for a in jax.device_get(
        sol("start_lm", top)(params, pad_rows(h, top), pad_rows(cu, top))))
    n_pol = np.zeros(M, np.int32)
    if polish and polish_iters > 0:
        tol_ = dt(tol)
        gt_ = dt(1e-12 if f64 else 1e-7)        # slow points: stop once max |grad q| is below
        carry = (h, q_fin, res, np.zeros(M, F.dtype), res > tol, n_pol, np.zeros(M, np.int32))
        carry = _run_compacted(lambda c, uu, k: sol("lm", len(uu))(params, c, uu, k, tol_, exact, gt_),
                               carry, cu, 4, int(polish_iters), 1, buckets)
        h, q_fin, res, n_pol = carry[0], carry[1], carry[2], carry[5]
    t_pol = time.perf_counter() - t0

    # --- filter, de-duplicate --------------------------------------------------------------
    t0 = time.perf_counter()
    status = np.full(M, "kept", dtype="<U13")
    finite = np.all(np.isfinite(h), axis=1) & np.isfinite(q_fin)
    status[~finite] = "non_finite"
    good = (res <= tol) if exact else (q_fin <= q_tol)
    status[finite & ~good] = "not_converged"
    if outlier_scale is not None:
        centre = pool.mean(axis=0)
        radius = float(np.sqrt(((pool - centre) ** 2).sum(axis=1)).max())
        dist = np.sqrt(((np.where(finite[:, None], h, 0.0) - centre) ** 2).sum(axis=1))
        far = finite & good & (dist > outlier_scale * max(radius, 1e-12))
        status[far] = "outlier"
    ok = np.flatnonzero(status == "kept")
    order = np.lexsort((q_fin[ok], cin[ok]))            # by input, then speed
    ok = ok[order]
    keep, label = unique_points(h[ok], unique_tol, order=np.arange(ok.size), groups=cin[ok])
    status[ok] = "duplicate"
    status[ok[keep]] = "kept"
    point_of = np.full(M, -1, dtype=int)
    point_of[ok] = label
    merged = np.bincount(label, minlength=keep.size) if keep.size else np.zeros(0, int)
    rep = ok[keep]
    t_filter = time.perf_counter() - t0

    # --- linearise the unique points -------------------------------------------------------
    t0 = time.perf_counter()
    pts, pu = _as_points(F, h[rep], u[cin[rep]], "find_fixed_points")
    lin = linearize_arrays(F, cache, pts, pu, tol=stability_tol)
    n_out = pow2(len(pts))
    outputs = (np.asarray(sol("output", n_out)(F.params, pad_rows(pts, n_out)))[:len(pts)] if rep.size
               else np.zeros((0, F.num_out), F.dtype))
    t_lin = time.perf_counter() - t0

    settings = {"mode": mode, "num_candidates": int(N), "num_inputs": int(K), "noise_scale": float(noise_scale),
                "seed": int(seed), "max_iters": int(max_iters), "learning_rate": float(learning_rate),
                "opt_q_tol": float(opt_q_tol), "opt_grad_tol": float(opt_grad_tol), "polish": bool(polish),
                "polish_iters": int(polish_iters), "tol": float(tol), "q_tol": float(q_tol),
                "unique_tol": float(unique_tol),
                "outlier_scale": None if outlier_scale is None else float(outlier_scale),
                "stability_tol": float(stability_tol), "dtype": str(F.dtype)}
    timings = {"sample": t_sample, "optimise": t_opt, "polish": t_pol, "filter": t_filter,
               "linearize": t_lin, "total": time.perf_counter() - t_all}
    return FixedPoints(
        points=pts, input_index=cin[rep].astype(int), inputs=u, input_names=names,
        q=lin.q.astype(F.dtype), residual=res[rep], num_merged=merged.astype(int), outputs=outputs,
        linearization=lin, hidden_index=np.asarray(F.hidden_index), mode=mode,
        candidate_input_index=cin.astype(int), candidate_start=h0, candidate_q_start=q_start,
        candidate_q=q_fin, candidate_iterations=n_it.astype(int), candidate_polish_iterations=n_pol.astype(int),
        candidate_status=status, candidate_point=point_of, settings=settings, timings=timings)
