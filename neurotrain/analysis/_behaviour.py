"""Behaviour of a trained network: psychometric and chronometric curves, validation scores.

Per-condition scores are in :class:`neurotrain.analysis.Evaluation` (``per_condition``); this
module adds the curves and fits of psychophysics:

* :func:`psychometric` fits ``P(choice) = lapse + (1 - 2 lapse) F(slope (x - bias))`` with
  ``F`` the logistic or the normal CDF (probit) by maximum likelihood (binomial, scipy's
  L-BFGS-B with exact gradients), and reports standard errors from the observed Fisher
  information (the inverse Hessian of the negative log-likelihood);
* :func:`chronometric` averages a reaction time per condition where a task records one;
* :func:`validation_score` is the ``get_validation_score`` of the Engel lab's trainRNNbrain
  pipeline: the mean of a chosen metric (MSE, cross-entropy, accuracy, any task metric or your
  own function) on fresh trials without noise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from .._errors import ConfigError

__all__ = ["Psychometric", "Chronometric", "fit_psychometric", "psychometric", "chronometric",
           "validation_score", "score_outputs", "PSYCHOMETRIC_DEFAULTS"]

#: ``(x, y)`` keys tried in order by :func:`psychometric` when none are given
PSYCHOMETRIC_DEFAULTS = (("signed_coherence", "chose_side0"),)


@dataclasses.dataclass(frozen=True)
class Psychometric:
    """A psychometric curve with its maximum-likelihood fit (from :func:`psychometric`).

    The fitted model is ``P(x) = lapse + (1 - 2 lapse) F(slope (x - bias))``: ``bias`` is the
    point of subjective equality (``P = 0.5``), ``slope`` the steepness in units of ``1/x``
    (the curve's slope at the bias is ``(1 - 2 lapse) slope / 4`` for the logistic and
    ``(1 - 2 lapse) slope / sqrt(2 pi)`` for the probit), ``lapse`` the rate of stimulus-blind
    choices at either end.

    Attributes
    ----------
    x : ndarray ``(C,)``
        Condition values (e.g. signed coherence in %).
    n : ndarray of int ``(C,)``
        Trials per condition.
    k : ndarray ``(C,)``
        Trials with ``y = 1`` per condition.
    p : ndarray ``(C,)``
        ``k / n``.
    p_err : ndarray ``(C,)``
        Binomial standard error ``sqrt(p (1 - p) / n)``.
    function : str
        ``"logistic"`` or ``"probit"``.
    params : dict of str to float
        ``bias``, ``slope``, ``lapse``.
    stderr : dict of str to float
        Standard errors of the parameters (NaN for a lapse fitted at 0, on its bound, or not
        fitted).
    log_likelihood : float
        At the maximum.
    num_trials : int
    x_key, y_key : str
        What was plotted against what.
    converged : bool
        The optimiser's report.
    """

    x: np.ndarray
    n: np.ndarray
    k: np.ndarray
    p: np.ndarray
    p_err: np.ndarray
    function: str
    params: dict[str, float]
    stderr: dict[str, float]
    log_likelihood: float
    num_trials: int
    x_key: str
    y_key: str
    converged: bool

    def predict(self, x) -> np.ndarray:
        """The fitted ``P(x)`` at any ``x``."""
        p = self.params
        return _curve(np.asarray(x, np.float64), p["bias"], p["slope"], p["lapse"], self.function)[0]

    def summary(self) -> dict:
        """JSON-ready: parameters with their standard errors, counts per condition."""
        return {"function": self.function, "x": self.x_key, "y": self.y_key, "num_trials": self.num_trials,
                "params": dict(self.params), "stderr": dict(self.stderr),
                "log_likelihood": self.log_likelihood, "converged": self.converged,
                "conditions": [{"x": float(a), "n": int(b), "p": float(c)}
                               for a, b, c in zip(self.x, self.n, self.p)]}


@dataclasses.dataclass(frozen=True)
class Chronometric:
    """Mean reaction time per condition (from :func:`chronometric`).

    Attributes
    ----------
    x : ndarray ``(C,)``
    mean_rt, sem_rt : ndarray ``(C,)``
        Mean reaction time and its standard error (units of the task's metric).
    n : ndarray of int ``(C,)``
    x_key, rt_key : str
    """

    x: np.ndarray
    mean_rt: np.ndarray
    sem_rt: np.ndarray
    n: np.ndarray
    x_key: str
    rt_key: str


# --------------------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------------------
_FUNCTIONS = ("logistic", "probit")


def _curve(x, bias, slope, lapse, function):
    """``P``, ``dP/dz`` of ``F`` and ``F`` at ``x``."""
    z = slope * (x - bias)
    if function == "logistic":
        F = 0.5 * (1.0 + np.tanh(0.5 * z))
        f = F * (1.0 - F)
    else:
        from scipy.special import ndtr

        F = ndtr(z)
        f = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return lapse + (1.0 - 2.0 * lapse) * F, f, F


def _nll_grad(theta, x, n, k, function, fit_lapse):
    bias, slope = theta[0], theta[1]
    lapse = theta[2] if fit_lapse else 0.0
    P, f, F = _curve(x, bias, slope, lapse, function)
    P = np.clip(P, 1e-15, 1.0 - 1e-15)
    nll = -np.sum(k * np.log(P) + (n - k) * np.log1p(-P))
    dP = -(k / P - (n - k) / (1.0 - P))                 # d nll / d P
    g = [np.sum(dP * (1 - 2 * lapse) * f * (-slope)), np.sum(dP * (1 - 2 * lapse) * f * (x - bias))]
    if fit_lapse:
        g.append(np.sum(dP * (1.0 - 2.0 * F)))
    return float(nll), np.asarray(g, np.float64)


def fit_psychometric(x, y, *, function: str = "logistic", lapse: bool = True, x_key: str = "x",
                     y_key: str = "y") -> Psychometric:
    """Fit a psychometric function to binary choices by maximum likelihood.

    Parameters
    ----------
    x : array ``(N,)``
        The stimulus of each trial (e.g. signed coherence).
    y : array ``(N,)``
        The choice of each trial, 0 or 1 (e.g. chose side 0).
    function : {"logistic", "probit"}
    lapse : bool
        Fit a symmetric lapse rate in ``[0, 0.5)``; otherwise it is 0.
    x_key, y_key : str
        Names kept in the result (axis labels).

    Returns
    -------
    Psychometric

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.choice([-20.0, -10.0, -5.0, 0.0, 5.0, 10.0, 20.0], 20000)
    >>> y = rng.random(20000) < 1 / (1 + np.exp(-0.2 * (x - 1.0)))
    >>> fit = fit_psychometric(x, y, lapse=False)
    >>> round(fit.params["slope"], 2), abs(fit.params["bias"] - 1.0) < 3 * fit.stderr["bias"]
    (0.2, True)
    """
    from scipy.optimize import minimize

    if function not in _FUNCTIONS:
        raise ConfigError(f"function must be one of {_FUNCTIONS}; got {function!r}.")
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    if x.shape != y.shape or x.size == 0:
        raise ConfigError(f"x and y must be non-empty and of the same length; got {x.shape} and {y.shape}.")
    if not np.all((y == 0) | (y == 1)):
        raise ConfigError("y must hold binary choices (0 or 1).")
    xs, inv = np.unique(x, return_inverse=True)
    n = np.bincount(inv, minlength=xs.size).astype(np.float64)
    k = np.bincount(inv, weights=y, minlength=xs.size)
    p = k / n

    span = float(xs.max() - xs.min()) or 1.0
    # starts: a logistic-regression-like guess from the proportions, and a few spreads
    sign = 1.0 if np.mean((x - x.mean()) * (y - y.mean())) >= 0 else -1.0
    mid = float(np.interp(0.5, p, xs)) if np.all(np.diff(p) >= 0) else float(np.average(xs, weights=n))
    starts = [(mid, sign * s / span) for s in (2.0, 8.0, 32.0)] + [(0.0, sign * 4.0 / span)]
    fit_lapse = bool(lapse)
    best = None
    for b0, s0 in starts:
        th0 = [b0, s0] + ([0.02] if fit_lapse else [])
        bounds = [(None, None), (None, None)] + ([(0.0, 0.499)] if fit_lapse else [])
        res = minimize(_nll_grad, th0, args=(xs, n, k, function, fit_lapse), jac=True, method="L-BFGS-B",
                       bounds=bounds, options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-9})
        if best is None or res.fun < best.fun:
            best = res
    theta = np.asarray(best.x, np.float64)
    names = ["bias", "slope"] + (["lapse"] if fit_lapse else [])
    H = _hessian(lambda t: _nll_grad(t, xs, n, k, function, fit_lapse)[1], theta)
    free = list(range(len(names)))
    if fit_lapse and theta[2] < 1e-6:
        free = [0, 1]                      # lapse on its bound: no standard error
    se = np.full(len(names), np.nan)
    try:
        cov = np.linalg.inv(H[np.ix_(free, free)])
        d = np.diag(cov)
        se[free] = np.where(d > 0, np.sqrt(np.abs(d)), np.nan)
    except np.linalg.LinAlgError:
        pass
    params = {nm: float(v) for nm, v in zip(names, theta)}
    stderr = {nm: float(v) for nm, v in zip(names, se)}
    if not fit_lapse:
        params["lapse"], stderr["lapse"] = 0.0, float("nan")
    return Psychometric(x=xs, n=n.astype(int), k=k, p=p, p_err=np.sqrt(p * (1 - p) / n), function=function,
                        params=params, stderr=stderr, log_likelihood=float(-best.fun),
                        num_trials=int(x.size), x_key=str(x_key), y_key=str(y_key),
                        converged=bool(best.success))


def _hessian(grad: Callable, theta: np.ndarray) -> np.ndarray:
    """Central differences of an exact gradient, symmetrised."""
    d = theta.size
    H = np.zeros((d, d))
    for i in range(d):
        h = 1e-5 * max(1.0, abs(theta[i]))
        e = np.zeros(d)
        e[i] = h
        H[i] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    return 0.5 * (H + H.T)


def _trial_arrays(evaluation, fn: str):
    tm = getattr(evaluation, "trial_metrics", None)
    info = getattr(evaluation, "info", None)
    if tm is None or info is None:
        raise ConfigError(f"{fn} needs an Evaluation (from neurotrain.analysis.evaluate); "
                          f"got {type(evaluation).__name__}.")
    return tm, info


def psychometric(evaluation, x: str | None = None, y: str | None = None, *, function: str = "logistic",
                 lapse: bool = True, where=None, exclude_no_choice: bool = True) -> Psychometric:
    """The psychometric curve of an evaluation, with a maximum-likelihood fit.

    Parameters
    ----------
    evaluation : neurotrain.analysis.Evaluation
        Per-trial metrics and conditions of the evaluated trials.
    x : str, optional
        ``info`` key of the stimulus axis (default ``signed_coherence``).
    y : str, optional
        Per-trial binary metric (default ``chose_side0``).
    function : {"logistic", "probit"}
    lapse : bool
        Fit a lapse rate.
    where : array of bool ``(B,)``, optional
        Use only these trials (e.g. one context of context-dependent decision making).
    exclude_no_choice : bool
        Leave out trials whose ``no_choice`` metric is 1 (the network kept fixating), which
        would otherwise count as "not side 0".

    Returns
    -------
    Psychometric

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking()
    >>> model = nt.models.build_model("leaky", 3, 16, 3)
    >>> ev = nt.analysis.evaluate(model, task, num_trials=200, seed=1)
    >>> fit = psychometric(ev)                           # untrained: a flat curve
    >>> sorted(fit.params)
    ['bias', 'lapse', 'slope']
    """
    tm, info = _trial_arrays(evaluation, "psychometric")
    if x is None or y is None:
        for xk, yk in PSYCHOMETRIC_DEFAULTS:
            if (x or xk) in info and (y or yk) in tm:
                x, y = x or xk, y or yk
                break
        else:
            raise ConfigError(
                "psychometric: this evaluation has no default stimulus/choice pair "
                f"{PSYCHOMETRIC_DEFAULTS}; pass x= (one of the info keys {sorted(info)}) and y= "
                f"(a binary per-trial metric among {sorted(tm)}).")
    if x not in info:
        raise ConfigError(f"psychometric: x={x!r} is not an info key; choose from {sorted(info)}.")
    if y not in tm:
        raise ConfigError(f"psychometric: y={y!r} is not a per-trial metric; choose from {sorted(tm)}.")
    xv, yv = np.asarray(info[x]), np.asarray(tm[y])
    sel = np.ones(xv.shape, bool) if where is None else np.asarray(where, bool)
    if sel.shape != xv.shape:
        raise ConfigError(f"where must have one entry per trial, shape {xv.shape}; got {sel.shape}.")
    if exclude_no_choice and "no_choice" in tm:
        sel = sel & (np.asarray(tm["no_choice"]) == 0)
    if not sel.any():
        raise ConfigError("psychometric: no trial left to fit (all excluded or where= selects none).")
    return fit_psychometric(xv[sel], yv[sel], function=function, lapse=lapse, x_key=x, y_key=y)


def chronometric(evaluation, x: str | None = None, rt: str = "reaction_time", *, where=None) -> Chronometric:
    """Mean reaction time per condition, for tasks whose trials record one.

    No neurotrain task records a reaction time at present: their decisions are read out in a
    fixed response window (``decision`` / ``response`` periods), so there is no
    chronometric curve to draw; tasks (or adapters) that add a per-trial ``reaction_time``
    metric get one here.

    Parameters
    ----------
    evaluation : neurotrain.analysis.Evaluation
    x : str, optional
        ``info`` key of the stimulus axis (default ``signed_coherence``).
    rt : str
        Per-trial metric holding the reaction time.
    where : array of bool ``(B,)``, optional

    Returns
    -------
    Chronometric

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> ev = SimpleNamespace(info={"signed_coherence": np.array([0.0, 0.0, 50.0])},
    ...                      trial_metrics={"reaction_time": np.array([300.0, 500.0, 200.0])})
    >>> chronometric(ev).mean_rt
    array([400., 200.])
    """
    tm, info = _trial_arrays(evaluation, "chronometric")
    if rt not in tm:
        raise ConfigError(
            f"chronometric: the evaluated task records no reaction time (no per-trial metric {rt!r}; "
            f"it has {sorted(tm)}). No neurotrain task defines one yet: decisions are read out in a "
            f"fixed response window.")
    x = x or "signed_coherence"
    if x not in info:
        raise ConfigError(f"chronometric: x={x!r} is not an info key; choose from {sorted(info)}.")
    xv, rv = np.asarray(info[x], np.float64), np.asarray(tm[rt], np.float64)
    sel = np.isfinite(rv) & (np.ones(xv.shape, bool) if where is None else np.asarray(where, bool))
    xs = np.unique(xv[sel])
    mean, sem, n = [], [], []
    for v in xs:
        r = rv[sel & (xv == v)]
        mean.append(r.mean())
        sem.append(r.std(ddof=1) / math.sqrt(r.size) if r.size > 1 else np.nan)
        n.append(r.size)
    return Chronometric(x=xs, mean_rt=np.asarray(mean), sem_rt=np.asarray(sem), n=np.asarray(n, int),
                        x_key=x, rt_key=rt)


# --------------------------------------------------------------------------------------------
# the validation score of the Engel lab's trainRNNbrain pipeline
# --------------------------------------------------------------------------------------------
def score_outputs(outputs, targets, mask, metric: str = "mse") -> float:
    """Masked mean error of recorded outputs against targets.

    Parameters
    ----------
    outputs : array ``(T, B, num_out)``
    targets : array
        Integer labels ``(T, B)`` (compared one-hot, as trainRNNbrain regresses them) or float
        targets ``(T, B, num_out)``.
    mask : array ``(T, B)`` or ``(T, B, num_out)``
        Loss weights.
    metric : {"mse", "cross_entropy"}
        Mean squared error, or softmax cross-entropy (class targets only).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> out = np.zeros((2, 1, 2)); tgt = np.array([[0], [1]]); mask = np.ones((2, 1))
    >>> score_outputs(out, tgt, mask, "mse")
    0.5
    >>> round(score_outputs(out, tgt, mask, "cross_entropy"), 4)      # log 2
    0.6931
    """
    out = np.asarray(outputs, np.float64)
    targets = np.asarray(targets)
    mask = np.asarray(mask, np.float64)
    if metric not in ("mse", "cross_entropy"):
        raise ConfigError(f"metric must be 'mse' or 'cross_entropy'; got {metric!r}.")
    is_class = targets.ndim == 2 and np.issubdtype(targets.dtype, np.integer)
    if is_class:
        onehot = np.eye(out.shape[-1])[targets]
    elif metric == "cross_entropy":
        raise ConfigError("metric='cross_entropy' needs a class task (integer targets).")
    if metric == "mse":
        m = mask if mask.ndim == 3 else mask[..., None]
        err = (out - (onehot if is_class else targets)) ** 2
        return float((err * m).sum() / (np.broadcast_to(m, err.shape).sum() or 1.0))
    m = mask if mask.ndim == 2 else mask.mean(-1)
    logp = out - out.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    ce = -(onehot * logp).sum(-1)
    return float((ce * m).sum() / (m.sum() or 1.0))


# --------------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------------
def validation_score(model, data, metric: str | Callable = "mse", *, num_trials: int = 1000, seed: int = 0,
                     noise: bool = False) -> float:
    """Mean score of the network on a batch of trials with a chosen metric (the
    ``PerformanceAnalyzer.get_validation_score`` of the Engel lab's trainRNNbrain pipeline).

    Parameters
    ----------
    model : neurotrain.models.RNN
    data : Task or TrialBatch
        A task (``num_trials`` fresh trials from ``seed``) or a given batch
        (``inputs`` ``(T, B, num_in)``, ``targets``, ``mask``).
    metric : str or callable
        ``"mse"``: masked mean squared error between outputs and targets (one-hot targets for
        class tasks, as trainRNNbrain regresses them); ``"cross_entropy"``: masked softmax
        cross-entropy (class tasks); any per-trial metric of the task (``"accuracy"``,
        ``"bit_accuracy"``...); or ``fn(outputs, batch) -> float``.
    num_trials, seed : int
    noise : bool
        Keep the network noise (off by default).

    Returns
    -------
    float

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.NBitFlipFlop(duration=400.0)
    >>> model = nt.models.build_model("leaky", 3, 16, 3)
    >>> score = validation_score(model, task, "mse", num_trials=50)
    >>> score > 0
    True
    """
    import jax
    import jax.numpy as jnp

    from ..tasks import Task, TrialBatch
    from ._activity import record_activity, sampler

    task = data if isinstance(data, Task) else None
    if task is not None:
        batch = jax.device_get(sampler(task)(jax.random.PRNGKey(seed), int(num_trials)))
    elif isinstance(data, TrialBatch):
        batch = data
    else:
        raise ConfigError(f"validation_score needs a Task or a TrialBatch; got {type(data).__name__}.")
    act = record_activity(model, batch, seed=seed, noise=noise)
    if callable(metric):
        return float(metric(act.outputs, batch))
    if metric in ("mse", "cross_entropy"):
        return score_outputs(act.outputs, batch.targets, batch.mask, metric)
    if task is None:
        raise ConfigError(f"metric={metric!r} is a task metric: pass the Task, not a batch.")
    tm = task.trial_metrics(jnp.asarray(act.outputs), jax.tree.map(jnp.asarray, batch))
    if metric not in tm:
        raise ConfigError(f"metric={metric!r} is not 'mse', 'cross_entropy' or one of the task's metrics "
                          f"{sorted(tm)}.")
    return float(np.mean(np.asarray(tm[metric])))
