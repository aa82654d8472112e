"""Scoring a trained network on fresh trials, overall and per condition."""

from __future__ import annotations

import contextlib
import dataclasses
import weakref
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._validate import check_positive, check_seed
from ..models import Cell, noise_disabled

__all__ = ["Evaluation", "evaluate", "run_trials"]


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate`: scores and the recorded trials.

    Attributes
    ----------
    task : str
        The task's registry name.
    num_trials : int
    scores : dict of str to float
        Mean of each per-trial metric (``accuracy``, ``mse``...), and ``ideal_<metric>`` for
        the task's ideal observer where one is defined.
    per_condition : dict of str to list of dict
        For each condition key (e.g. ``coherence``), one row per value with ``n`` and the mean
        of every metric (ideal observer included).
    trial_metrics : dict of str to ndarray ``(B,)``
        Per-trial metrics (``ideal_`` prefixed for the ideal observer).
    inputs, outputs, activity : ndarray
        ``(T, B, num_in)``, ``(T, B, num_out)`` and ``(T, B, num_rec)`` (all layers).
    targets, mask : ndarray
    info : dict of str to ndarray ``(B,)``
    """

    task: str
    num_trials: int
    scores: dict[str, float]
    per_condition: dict[str, list[dict[str, float]]]
    trial_metrics: dict[str, np.ndarray]
    inputs: np.ndarray
    outputs: np.ndarray
    activity: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    info: dict[str, np.ndarray]

    def table(self, key: str | None = None) -> str:
        """A plain-text table of the per-condition scores for ``key`` (first condition key)."""
        if not self.per_condition:
            return "\n".join(f"{k}: {v:.4g}" for k, v in self.scores.items())
        key = key or next(iter(self.per_condition))
        rows = self.per_condition[key]
        cols = [c for c in rows[0] if c != key]
        lines = [" | ".join([key] + cols)]
        lines += [" | ".join([f"{r[key]:g}"] + [f"{r[c]:.4g}" if c != "n" else str(int(r[c])) for c in cols])
                  for r in rows]
        return "\n".join(lines)


def run_trials(model, inputs, *, seed: int = 0):
    """Run ``model`` on ``inputs`` ``(T, B, num_in)``; returns numpy ``(outputs, activity)``.

    The network noise (if any) is drawn from ``seed``.
    """
    model.check_inputs(inputs)
    fwd = model.forward()
    out, act, _ = jax.jit(lambda p, x, k: fwd.run(p, x, key=k))(fwd.params(), jnp.asarray(inputs),
                                                               jax.random.PRNGKey(seed))
    return np.asarray(out), np.asarray(act)


def evaluate(model, task, num_trials: int = 1000, *, seed: int = 0, batch_size: int = 1000,
             noise: bool = True, record: bool = True) -> Evaluation:
    """Score ``model`` on ``num_trials`` fresh trials of ``task``.

    Parameters
    ----------
    model : neurotrain.models.RNN
    task : neurotrain.tasks.Task
    num_trials : int
        Number of held-out trials.
    seed : int
        Seeds the trials and the network noise; the same seed gives the same evaluation.
    batch_size : int
        Trials run at once (bounds memory). The trials drawn depend on ``seed`` and
        ``batch_size``: keep both fixed to reproduce an evaluation.
    noise : bool
        Keep the network's input/recurrent noise (as in training); ``False`` switches it off.
    record : bool
        Keep the inputs, outputs, activity and targets of every trial in the result.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking()
    >>> model = nt.models.RNN(nt.models.LeakyRNNCell(3, 16), num_out=3)
    >>> ev = nt.analysis.evaluate(model, task, num_trials=100, seed=1)
    >>> sorted(ev.scores)
    ['accuracy', 'chose_side0', 'ideal_accuracy', 'no_choice']
    >>> ev.activity.shape
    (60, 100, 16)
    """
    num_trials = check_positive("num_trials", num_trials, integer=True)
    batch_size = check_positive("batch_size", batch_size, integer=True)
    seed = check_seed("seed", seed)
    if model.num_in != task.num_in or model.num_out != task.num_out:
        raise ConfigError(
            f"model (num_in={model.num_in}, num_out={model.num_out}) does not fit task {task.name!r} "
            f"(num_in={task.num_in}, num_out={task.num_out})."
        )
    key = jax.random.PRNGKey(seed)
    parts = []
    with contextlib.nullcontext() if noise else noise_disabled(model):
        chunk = _chunk_fn(model, task)
        params = model.forward().params()
        done, i = 0, 0
        while done < num_trials:
            n = min(int(batch_size), num_trials - done)
            parts.append(jax.device_get(chunk(params, jax.random.fold_in(key, i), n)))
            done, i = done + n, i + 1

    return evaluation_from_chunks(task, num_trials, parts, record)


def evaluation_from_chunks(task, num_trials: int, parts, record: bool) -> Evaluation:
    """An :class:`Evaluation` from chunks of trials, each ``(batch, outputs, activity, metrics)``."""
    def cat(xs, axis):
        return np.concatenate([np.asarray(x) for x in xs], axis=axis)

    metrics = {k: cat([p[3][k] for p in parts], 0) for k in parts[0][3]}
    info = {k: cat([p[0].info[k] for p in parts], 0) for k in parts[0][0].info}
    trials = None
    if record:
        trials = {"inputs": cat([p[0].inputs for p in parts], 1), "outputs": cat([p[1] for p in parts], 1),
                  "activity": cat([p[2] for p in parts], 1), "targets": cat([p[0].targets for p in parts], 1),
                  "mask": cat([p[0].mask for p in parts], 1)}
    return evaluation_of(task, num_trials, metrics, info, trials)


def evaluation_of(task, num_trials: int, metrics: dict, info: dict, trials: dict | None = None) -> Evaluation:
    """An :class:`Evaluation` from per-trial ``metrics`` and ``info`` (each ``(B,)``): the mean
    scores and the per-condition table; ``trials`` holds the recorded ``inputs``, ``outputs``,
    ``activity``, ``targets`` and ``mask`` (``None``: not recorded)."""
    scores = {k: float(np.mean(v)) for k, v in metrics.items()}
    per_condition = {}
    for ck in task.condition_keys:
        rows = []
        for val in np.unique(info[ck]):
            sel = info[ck] == val
            row: dict[str, Any] = {ck: float(val), "n": int(sel.sum())}
            row.update({k: float(np.mean(v[sel])) for k, v in metrics.items()})
            rows.append(row)
        per_condition[ck] = rows
    empty = np.zeros((0,))
    trials = trials or {}
    return Evaluation(
        task=task.name, num_trials=int(num_trials), scores=scores, per_condition=per_condition,
        trial_metrics=metrics, inputs=trials.get("inputs", empty), outputs=trials.get("outputs", empty),
        activity=trials.get("activity", empty), targets=trials.get("targets", empty),
        mask=trials.get("mask", empty), info=info)


# model -> {(task, noise flags of the cells): jitted chunk}; evaluating the same network again
# (after more training, in a notebook loop, in `neurotrain analyze`) reuses the compiled code
_CHUNK_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _chunk_fn(model, task):
    """The jitted ``(params, key, n) -> (batch, outputs, activity, metrics)`` of ``model`` on ``task``.

    Cached per model, task and noise setting: the weights are an argument, but Python-level
    settings (the task, whether a cell draws noise) are fixed when it is traced.
    """
    model_ref = weakref.ref(model)   # the cache must not keep the model alive

    def chunk(params, k, n):
        kd, kn = jax.random.split(k)
        batch = task.sample(kd, n)
        loop = task.loop(batch) if getattr(task, "closed_loop", False) else None
        outputs, activity, _, *given = model_ref().forward().run(params, batch.inputs, key=kn, loop=loop)
        if loop is not None:   # record the inputs the network got (feedback included)
            batch = dataclasses.replace(batch, inputs=given[0])
        metrics = dict(task.trial_metrics(outputs, batch))
        metrics.update({f"ideal_{m}": v for m, v in task.ideal_observer(batch).items()})
        return batch, outputs, activity, metrics

    noise = tuple(bool(getattr(m, "noise", False)) for m in model.nodes().values() if isinstance(m, Cell))
    try:
        cache_key = (task, noise)
        hash(cache_key)
        per_model = _CHUNK_CACHE.setdefault(model, {})
    except TypeError:          # an unhashable task or model: compile for this call only
        return jax.jit(chunk, static_argnums=2)
    if cache_key not in per_model:
        per_model[cache_key] = jax.jit(chunk, static_argnums=2)
    return per_model[cache_key]
