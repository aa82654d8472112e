"""The chance loss of a task: what a network that learned nothing scores.

A network that ignores its inputs can still learn the best *constant* answer; "chance" is the
loss of that answer, computed from the task's own trials (never a hard-coded number):

* **class targets** (cross-entropy): always predicting the label frequencies ``p_c`` over the
  scored (masked) time steps, whose loss is their entropy ``-sum_c p_c log p_c``;
* **value targets** (MSE): always predicting each output channel's mean target over the
  scored time steps, whose loss is the targets' masked variance.

:func:`learning_check` compares a training run's task loss with it and with the loss it
started from, and says when a run completed without learning anything.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import check_int, check_seed
from ._losses import masked_mse

__all__ = ["chance_loss", "learning_check", "population_learning_checks", "CHANCE_MARGIN"]

#: a final loss within this fraction of chance (or above the initial loss) counts as "learned nothing"
CHANCE_MARGIN = 0.02


def chance_loss(task, *, num_trials: int = 1024, seed: int = 0) -> float:
    """The task loss of the best input-independent answer (see the module docstring).

    Parameters
    ----------
    task : neurotrain.tasks.Task
    num_trials : int
        Trials drawn to measure the label frequencies or target means.
    seed : int
        Seed of those trials.

    Examples
    --------
    >>> import neurotrain as nt
    >>> round(chance_loss(nt.tasks.PerceptualDecisionMaking(), num_trials=256), 2) > 0
    True
    """
    num_trials = check_int("num_trials", num_trials, minimum=1)
    batch = task.sample(jax.random.PRNGKey(check_seed("seed", seed)), num_trials)
    mask = jnp.asarray(batch.mask, jnp.float32)
    if task.target_type == "class":
        labels = jnp.asarray(batch.targets)
        counts = np.asarray([float(jnp.sum(mask * (labels == c))) for c in range(task.num_out)])
        total = counts.sum()
        if total <= 0:
            return float("nan")
        p = counts[counts > 0] / total
        return float(-np.sum(p * np.log(p)))
    targets = jnp.asarray(batch.targets, jnp.float32)
    m = mask if mask.ndim == targets.ndim else jnp.broadcast_to(mask[..., None], targets.shape)
    means = jnp.sum(m * targets, axis=(0, 1)) / jnp.maximum(jnp.sum(m, axis=(0, 1)), 1e-12)
    return float(masked_mse(jnp.broadcast_to(means, targets.shape), targets, batch.mask))


def _edge_mean(values: np.ndarray, last: bool) -> float:
    n = max(1, len(values) // 100)         # as TrainResult.final_loss: the last (or first) 1 %
    part = values[-n:] if last else values[:n]
    return float(np.mean(part))


def _verdict(loss: np.ndarray, chance: float, *, from_start: bool, target_type: str) -> dict:
    """The learning check of one network's task-loss curve (its finite values)."""
    loss = loss[np.isfinite(loss)]
    out = {"chance_loss": chance, "initial_loss": None, "final_loss": None, "learned": True, "warning": None}
    if not len(loss):
        return out
    final = _edge_mean(loss, last=True)
    initial = _edge_mean(loss, last=False) if from_start and len(loss) >= 2 else None
    out.update(initial_loss=initial, final_loss=final)
    reasons = []
    if math.isfinite(chance) and final >= chance * (1.0 - CHANCE_MARGIN):
        reasons.append(f"its final task loss {final:.4g} is not below the chance loss {chance:.4g} "
                       f"(always {'predicting the label frequencies' if target_type == 'class' else 'answering the mean target'})")
    if initial is not None and final >= initial:
        reasons.append(f"it did not fall from the initial loss {initial:.4g}")
    if reasons:
        out["learned"] = False
        out["warning"] = ("this run learned nothing: " + " and ".join(reasons) + ". Try a lower learning "
                          "rate, more steps or another seed.")
    return out


def learning_check(task, result, *, chance: float | None = None, seed: int = 0) -> dict:
    """Whether a training run learned anything: its task loss against chance and its start.

    The run "learned nothing" when its final task loss (the mean of the last 1 % of steps,
    without penalties) is within :data:`CHANCE_MARGIN` of the :func:`chance_loss` or above,
    or not below the loss it started from (the first 1 % of steps; known when the history
    starts at step 0).

    Returns
    -------
    dict
        ``chance_loss``, ``initial_loss`` (or ``None``), ``final_loss``, ``learned`` (bool) and
        ``warning`` (one sentence, or ``None``).
    """
    loss = np.asarray(result.aux.get("task_loss", result.loss), dtype=float)
    chance = chance_loss(task, seed=seed) if chance is None else float(chance)
    if loss.ndim > 1:
        raise ValueError("learning_check is for one network; use population_learning_checks for a population")
    return _verdict(loss, chance, from_start=result.history_start == 0, target_type=task.target_type)


def population_learning_checks(task, result, *, chance: float | None = None, seed: int = 0) -> list[dict]:
    """:func:`learning_check` of every network of a population's training result (one dict
    per network, in order; a network that stopped early is judged on the steps it trained).

    Examples
    --------
    >>> import brainstate, braintools, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> result = nt.train(nt.models.build_model("vanilla", 1, 8, 1), task, braintools.optim.Adam(1e-2),
    ...                   population=2, num_steps=30, batch_size=8)
    >>> [sorted(c) for c in population_learning_checks(task, result)][0][:3]
    ['chance_loss', 'final_loss', 'initial_loss']
    """
    loss = np.asarray(result.aux.get("task_loss", result.loss), dtype=float)
    chance = chance_loss(task, seed=seed) if chance is None else float(chance)
    if loss.ndim == 1:
        loss = loss[:, None]
    return [_verdict(loss[:, k], chance, from_start=result.history_start == 0, target_type=task.target_type)
            for k in range(loss.shape[1])]
