"""Masked losses and regularisers, and the ``Objective`` a gradient method minimises."""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
from braintools.metric import softmax_cross_entropy_with_integer_labels

from .._errors import ConfigError
from .._validate import check_number
from ._penalties import RatePenalty, check_penalties

__all__ = ["masked_cross_entropy", "masked_mse", "l2_penalty", "rate_penalty", "Objective"]


def masked_cross_entropy(logits, labels, mask):
    """Mask-weighted mean cross-entropy.

    Parameters
    ----------
    logits : array, shape ``(T, B, C)``
    labels : int array, shape ``(T, B)``
    mask : array, shape ``(T, B)``
        Non-negative weights; the result is ``sum(mask * ce) / sum(mask)``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> logits = jnp.zeros((2, 1, 4)); labels = jnp.zeros((2, 1), int); mask = jnp.ones((2, 1))
    >>> round(float(masked_cross_entropy(logits, labels, mask)), 4)   # ln 4
    1.3863
    """
    ce = softmax_cross_entropy_with_integer_labels(logits, labels)
    return (ce * mask).sum() / jnp.maximum(mask.sum(), 1e-12)


def masked_mse(outputs, targets, mask):
    """Mask-weighted mean squared error over time, trials and output channels.

    ``mask`` is ``(T, B)`` (the same weight for every channel) or ``(T, B, num_out)``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> float(masked_mse(jnp.ones((3, 2, 1)), jnp.zeros((3, 2, 1)), jnp.ones((3, 2))))
    1.0
    """
    if mask.ndim == outputs.ndim - 1:
        mask = jnp.broadcast_to(mask[..., None], outputs.shape)
    return (((outputs - targets) ** 2) * mask).sum() / jnp.maximum(mask.sum(), 1e-12)


def l2_penalty(params) -> jax.Array:
    """Sum of squares of every leaf of ``params`` (a dict of arrays or ``ParamState``s)."""
    leaves = jax.tree.leaves({k: getattr(v, "value", v) for k, v in params.items()})
    return sum(jnp.sum(x ** 2) for x in leaves)


def rate_penalty(activity) -> jax.Array:
    """Mean squared firing rate, ``mean(h ** 2)`` over time, trials and units."""
    return jnp.mean(activity ** 2)


class Objective:
    """The training loss: task loss + ``l2`` * L2 of the weights + ``rate_l2`` * mean rate²
    + the ``penalties``.

    The task loss is :func:`masked_cross_entropy` for class targets and :func:`masked_mse` for
    value targets. The L2 term covers every trainable parameter, as in brainstate's RNN
    (integrator) tutorial.

    Calling it as ``objective(outputs, activity, batch, params)`` (outputs ``(T, B, num_out)``,
    activity ``(T, B, num_rec)``, the batch's ``targets`` and ``mask``, the parameters as a
    dict of arrays) returns ``(total, {"task_loss", "l2", "rate"})``, the penalties only when
    their coefficient is positive.

    Parameters
    ----------
    target_type : {"class", "value"}
    l2, rate_l2 : float
        Non-negative penalty coefficients.
    penalties : sequence of Penalty
        More regularisers (:class:`~neurotrain.training.WeightPenalty`,
        :class:`~neurotrain.training.RatePenalty`, :class:`~neurotrain.training.CustomPenalty`);
        each adds ``coef * value`` to the loss and reports ``value`` under its name.
    effective : callable, optional
        ``effective(params) -> params``: the weights the network uses (e.g.
        ``neurotrain.models.forward(model).effective_params``), on which weight penalties are
        computed; default: the parameters as they are.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from neurotrain.tasks import TrialBatch
    >>> from neurotrain.training import RatePenalty, WeightPenalty
    >>> obj = Objective("value", penalties=[WeightPenalty("l1", 0.5, "W_rec"), RatePenalty("l2", 1.0)])
    >>> batch = TrialBatch(jnp.zeros((2, 1, 1)), jnp.zeros((2, 1, 1)), jnp.ones((2, 1)), {})
    >>> params = {("layers", 0, "W_rec"): jnp.array([[2.0]]), ("readout", "W"): jnp.ones((1, 1))}
    >>> total, aux = obj(jnp.ones((2, 1, 1)), jnp.full((2, 1, 1), 3.0), batch, params)
    >>> float(total), {k: float(v) for k, v in aux.items()}
    (11.0, {'task_loss': 1.0, 'l1_W_rec': 2.0, 'rate_l2': 9.0})

    The built-in coefficients:

    >>> import jax, jax.numpy as jnp, neurotrain as nt
    >>> batch = nt.tasks.Integrator().sample(jax.random.PRNGKey(0), 2)
    >>> outputs, activity = batch.targets, jnp.ones((batch.num_steps, 2, 4))
    >>> total, aux = Objective("value", l2=0.5, rate_l2=0.1)(outputs, activity, batch,
    ...                                                       {"w": jnp.array([1.0, 2.0])})
    >>> [round(float(v), 4) for v in (aux["task_loss"], aux["l2"], aux["rate"], total)]
    [0.0, 5.0, 1.0, 2.6]
    """

    def __init__(self, target_type: str, *, l2: float = 0.0, rate_l2: float = 0.0, penalties=(),
                 effective=None):
        if target_type not in ("class", "value"):
            raise ConfigError(f"target_type must be 'class' or 'value'; got {target_type!r}.")
        self.target_type = target_type
        self.l2 = check_number("l2", l2, minimum=0.0)
        self.rate_l2 = check_number("rate_l2", rate_l2, minimum=0.0)
        #: which penalty terms are computed (static, decided when the objective is built)
        self.uses_l2, self.uses_rate = self.l2 > 0, self.rate_l2 > 0
        self.penalties = check_penalties(penalties)
        self.effective = effective

    def with_coefficients(self, **values) -> Objective:
        """A copy with other coefficient values (``l2=``, ``rate_l2=``; traced arrays are fine,
        e.g. one per network of a population); which terms are computed does not change."""
        new = copy.copy(self)
        for name, v in values.items():
            if name not in ("l2", "rate_l2"):
                raise ConfigError(f"{name!r} is not a coefficient of the objective (l2, rate_l2).")
            setattr(new, name, v)
        return new

    # --- penalties -----------------------------------------------------------------------------
    def named_params(self, params) -> dict[str, jax.Array]:
        """The effective weights by dotted path (what penalties see)."""
        values = {k: getattr(v, "value", v) for k, v in params.items()}
        if self.effective is not None:
            values = self.effective(values)
        return {(".".join(map(str, k)) if isinstance(k, tuple) else str(k)): v for k, v in values.items()}

    def penalty_terms(self, params, activity, batch, *, which=None) -> dict[str, jax.Array]:
        """``{name: value}`` of the penalties (all, or those for which ``which(p)`` is true)."""
        pens = [p for p in self.penalties if which is None or which(p)]
        if not pens:
            return {}
        named = self.named_params(params)
        return {p.name: p.value(named, activity, batch) for p in pens}

    def weight_penalty(self, params):
        """``(coef-weighted sum, {name: value})`` of the penalties that do not use the activity
        (online methods differentiate it apart, at the update)."""
        terms = self.penalty_terms(params, None, None, which=lambda p: not p.uses_activity)
        coefs = {p.name: p.coef for p in self.penalties}
        return sum((coefs[k] * v for k, v in terms.items()), jnp.zeros(())), terms

    def check_online(self, method_name: str) -> None:
        """Refuse penalties that an online method cannot differentiate step by step."""
        for p in self.penalties:
            if p.uses_activity and not isinstance(p, RatePenalty):
                raise ConfigError(
                    f"{method_name}: penalty {p.name!r} uses the activity of the whole trial, which an online "
                    f"method cannot differentiate step by step. Train with BPTT, or, if it reads the weights "
                    f"only, build it with {type(p).__name__}(..., uses_activity=False).")

    def task_loss(self, outputs, targets, mask):
        if self.target_type == "class":
            return masked_cross_entropy(outputs, targets, mask)
        return masked_mse(outputs, targets, mask)

    # --- per-step pieces, for online methods --------------------------------------------------
    def normaliser(self, mask, num_out: int):
        """The denominator of :meth:`task_loss` for ``mask`` ``(T, B)`` or ``(T, B, num_out)``."""
        total = mask.sum()
        if self.target_type == "value" and mask.ndim == 2:
            total = total * num_out
        return jnp.maximum(total, 1e-12)

    def step_loss_sum(self, outputs_t, targets_t, mask_t):
        """The numerator of :meth:`task_loss` at one time step (``outputs_t`` is ``(B, num_out)``).

        Summing it over time and dividing by :meth:`normaliser` gives :meth:`task_loss` exactly.
        """
        if self.target_type == "class":
            return (softmax_cross_entropy_with_integer_labels(outputs_t, targets_t) * mask_t).sum()
        if mask_t.ndim == outputs_t.ndim - 1:
            mask_t = mask_t[..., None]
        return (((outputs_t - targets_t) ** 2) * mask_t).sum()

    def __call__(self, outputs, activity, batch, params):
        """Return ``(total_loss, {"task_loss", "l2", "rate", <penalty names>})``."""
        task = self.task_loss(outputs, batch.targets, batch.mask)
        aux = {"task_loss": task}
        total = task
        if self.uses_l2:
            aux["l2"] = l2_penalty(params)
            total = total + self.l2 * aux["l2"]
        if self.uses_rate:
            aux["rate"] = rate_penalty(activity)
            total = total + self.rate_l2 * aux["rate"]
        if self.penalties:
            terms = self.penalty_terms(params, activity, batch)
            for p in self.penalties:
                aux[p.name] = terms[p.name]
                total = total + p.coef * terms[p.name]
        return total, aux
