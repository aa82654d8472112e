"""Optimisers as pure functions: a braintools optimiser seen as an optax transform plus a
learning-rate table.

braintools optimisers (``braintools.optim.Adam`` and the others) keep their state inside the
object and read the learning rate from their scheduler's state, which ``scheduler.step()``
advances. A pure training step (one that can be mapped over many networks, and whose
interruption can never leave weights and moments out of step) needs the same arithmetic as
functions of explicit arrays. :func:`functional_optimizer` builds them from the optimiser the
user passed:

* ``tx``: the optimiser's own optax chain (clipping, weight decay, Adam's moments...) with its
  learning-rate scale replaced by ``-1``; the update is ``params + lr_t * tx_update``, which
  is bit for bit what the optimiser computes with ``lr_t`` (multiplying by -1 is exact);
* ``lr(step)``: the learning rate of training step ``step``, computed inside the compiled step
  from the scheduler's closed form (the value it would hold after ``step`` calls of
  ``step()``), so the schedule advances once per training step, as before; schedules with
  Python logic on the epoch are tabulated instead.

:meth:`FunctionalOptimizer.write_back` puts the functional state back into the optimiser
object (moments, step count, the scheduler's epoch), so checkpoints keep their format.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._errors import ConfigError

__all__ = ["FunctionalOptimizer", "functional_optimizer", "closed_form_lr", "learning_rates"]


def _minus_one(count):
    return -1.0


def _optax_tx(optimizer) -> optax.GradientTransformation:
    """The optimiser's chain with its learning-rate scale replaced by -1."""
    sched = optimizer._lr_scheduler
    optimizer._lr_scheduler = _minus_one
    try:
        return optimizer.default_tx()
    finally:
        optimizer._lr_scheduler = sched


def _stepped_lrs(sched, start: int, n: int) -> np.ndarray:
    """The scheduler's learning rate after ``start .. start + n - 1`` steps, by stepping it."""
    saved = sched.state_dict()
    try:
        sched.last_epoch.value = start
        sched.apply(lambda v: v)
        out = []
        for _ in range(n):
            out.append(float(np.asarray(sched.current_lrs.value[0])))
            sched.step()
    finally:
        sched.load_state_dict(saved)
    return np.asarray(out, np.float32)


def learning_rates(sched, start: int, n: int) -> np.ndarray:
    """``(n,)`` float32: the learning rate of steps ``start, ..., start + n - 1``.

    The closed-form schedules of braintools (constant, exponential, step, cosine, warm-up...)
    are evaluated for all steps at once; others (Python logic on the epoch, or sub-schedulers
    with epochs of their own such as ``ChainedScheduler``) are stepped one by one on a saved
    copy of their state.
    """
    if n <= 0:
        return np.zeros((0,), np.float32)
    try:
        if not _agrees_with_stepping(sched, start):
            raise ValueError("the closed form differs from stepping")
        values = np.asarray(closed_form_lr(sched, jnp.arange(start, start + n)), np.float32)
        if values.shape not in ((), (n,)) or not np.all(np.isfinite(values)):
            raise ValueError("not a closed-form schedule")
        return np.broadcast_to(values, (n,)).copy()
    except Exception:  # noqa: BLE001 - a schedule with Python logic: step it instead
        return _stepped_lrs(sched, start, n)


class _Epoch:
    """Stands in for a scheduler's ``last_epoch`` state: ``get_lr`` reads ``.value``."""

    def __init__(self, value):
        self.value = value


def closed_form_lr(sched, epoch):
    """The scheduler's learning rate at ``epoch`` (a traced or concrete int, or an array of
    them), from its ``get_lr``; the scheduler itself is not changed."""
    view = copy.copy(sched)          # a shallow view whose epoch is ours; the scheduler is untouched
    view.last_epoch = _Epoch(epoch)
    return view.get_lr()[0]


_closed_form = closed_form_lr

#: steps on which a closed form is checked against stepping the scheduler
_CHECKED_STEPS = 8


def _agrees_with_stepping(sched, first: int) -> bool:
    """Whether the closed form gives the rates that stepping the scheduler gives (schedulers
    made of sub-schedulers with their own epochs, e.g. ``ChainedScheduler``, do not)."""
    try:
        closed = np.asarray(closed_form_lr(sched, jnp.arange(first, first + _CHECKED_STEPS)), np.float64)
        closed = np.broadcast_to(closed, (_CHECKED_STEPS,))
    except Exception:  # noqa: BLE001 - not vectorisable: compare step by step
        closed = np.asarray([float(closed_form_lr(sched, first + i)) for i in range(_CHECKED_STEPS)])
    stepped = _stepped_lrs(sched, first, _CHECKED_STEPS).astype(np.float64)
    return bool(np.allclose(closed, stepped, rtol=1e-5, atol=0.0))


@dataclasses.dataclass(frozen=True, eq=False)
class FunctionalOptimizer:
    """The pure form of an optimiser (see the module docstring). Build with :func:`functional_optimizer`.

    Attributes
    ----------
    tx : optax.GradientTransformation
        The update rule without the learning rate.
    source : object
        The optimiser object it was made from (``None`` for a raw optax transform).
    first_epoch : int
        The scheduler's epoch at training step 0.
    closed_form : bool
        Whether the scheduler's learning rate is computed in the step from the step index
        (braintools' closed-form schedules); otherwise from a table of the run's steps.
    table : ndarray ``(num_steps,)`` or None
        That table (:meth:`with_steps`), for schedules without a closed form.

    Examples
    --------
    A raw optax transform is applied as it is, with its own learning rate:

    >>> import jax.numpy as jnp, optax
    >>> fopt = functional_optimizer(optax.sgd(0.1), None)
    >>> params = {"w": jnp.array([1.0])}
    >>> new, state = fopt.update({"w": jnp.array([2.0])}, fopt.init(params), params, fopt.lr(0))
    >>> round(float(new["w"][0]), 6), bool(jnp.isnan(fopt.lr(0)))        # 1 - 0.1 * 2
    (0.8, True)
    """

    tx: optax.GradientTransformation
    source: Any
    first_epoch: int = 0
    closed_form: bool = True
    table: Any = None

    def init(self, params) -> Any:
        """The initial optimiser state for ``params``: ``(transform state, update count)``."""
        return self.tx.init(params), jnp.zeros((), jnp.int32)

    def lr(self, step) -> jax.Array:
        """The learning rate of training step ``step`` (traceable), float32."""
        if self.source is None:
            return jnp.asarray(jnp.nan, jnp.float32)
        if self.closed_form:
            return jnp.asarray(_closed_form(self.source.lr, self.first_epoch + step), jnp.float32)
        return jnp.asarray(self.table)[step]

    def with_steps(self, num_steps: int, first_epoch: int | None = None) -> FunctionalOptimizer:
        """A copy for a run of ``num_steps`` steps starting at scheduler epoch ``first_epoch``."""
        first = self.first_epoch if first_epoch is None else int(first_epoch)
        if self.source is None or self.closed_form:
            return dataclasses.replace(self, first_epoch=first)
        if num_steps > _MAX_TABLE:
            raise ConfigError(f"the learning-rate schedule {type(self.source.lr).__name__} has no closed "
                              f"form, so its rate is tabulated per step; num_steps={num_steps} is too many "
                              f"(at most {_MAX_TABLE}).")
        return dataclasses.replace(self, first_epoch=first,
                                   table=learning_rates(self.source.lr, first, num_steps))

    def update(self, grads, opt_state, params, lr):
        """One update: ``(new_params, new_opt_state)``."""
        state, count = opt_state
        updates, state = self.tx.update(grads, state, params)
        if self.source is not None:
            updates = jax.tree.map(lambda u: lr * u, updates)
        return optax.apply_updates(params, updates), (state, count + 1)

    # --- the optimiser object ------------------------------------------------------------
    def read_state(self, params):
        """The optimiser object's current state (after a restore), or a fresh one."""
        src = self.source
        if src is not None and getattr(src, "opt_state", None) is not None:
            return src.opt_state.value, jnp.asarray(src.step_count.value, jnp.int32)
        return self.init(params)

    def write_back(self, opt_state, *, steps: int) -> None:
        """Store the functional state in the optimiser object (for checkpoints and users):
        its moments, its update count and its scheduler's epoch after ``steps`` training steps."""
        src = self.source
        if src is None:
            return
        state, count = opt_state
        src.opt_state.value = state
        src.step_count.value = int(count)
        sched = src.lr
        sched.last_epoch.value = self.first_epoch + int(steps)
        sched.apply(lambda v: v)


#: the longest learning-rate table made for schedules without a closed form
_MAX_TABLE = 10_000_000


def functional_optimizer(optimizer, params_states) -> FunctionalOptimizer:
    """Make the pure form of ``optimizer`` and register ``params_states`` with it if needed.

    Parameters
    ----------
    optimizer : braintools.optim optimiser or optax.GradientTransformation
        A braintools optimiser (its learning rate or scheduler is honoured and stepped once per
        training step), or a raw optax transform (applied as is; its learning rate is its own
        and ``TrainResult.lr`` is NaN).
    params_states : dict of ParamState
        The model's parameters (registered with a braintools optimiser that has no state yet).

    Returns
    -------
    FunctionalOptimizer
        ``lr(step)`` is the learning rate of training step ``step`` (a traceable int32 scalar),
        ``init(params)`` the initial state and ``update(grads, state, params, lr)`` one update
        (``params`` and ``grads``: dicts of arrays with the same keys and shapes).

    Examples
    --------
    >>> import brainstate, braintools, jax, jax.numpy as jnp, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> model = nt.models.build_model("vanilla", 1, 4, 1)
    >>> states = model.states(brainstate.ParamState)
    >>> decay = braintools.optim.ExponentialDecayLR(base_lr=0.1, decay_steps=1, decay_rate=0.5)
    >>> fopt = functional_optimizer(braintools.optim.Adam(lr=decay), states)
    >>> fopt.closed_form, [round(float(fopt.lr(i)), 4) for i in range(3)]   # steps 0, 1, 2
    (True, [0.1, 0.05, 0.025])
    >>> params = {k: s.value for k, s in states.items()}
    >>> grads = jax.tree.map(jnp.ones_like, params)
    >>> new, _ = fopt.update(grads, fopt.init(params), params, fopt.lr(0))
    >>> round(float(params[("readout", "b")][0] - new[("readout", "b")][0]), 4)   # Adam's first step
    0.1
    """
    if isinstance(optimizer, optax.GradientTransformation):
        return FunctionalOptimizer(tx=optimizer, source=None)
    if not (hasattr(optimizer, "default_tx") and hasattr(optimizer, "lr") and hasattr(optimizer, "opt_state")):
        raise ConfigError(
            f"optimizer must be a braintools optimiser (e.g. braintools.optim.Adam(lr=1e-3)) or an "
            f"optax GradientTransformation; got {optimizer!r}."
        )
    if type(optimizer).__name__ == "OptaxOptimizer":   # the base class wraps a custom transform
        raise ConfigError("a braintools OptaxOptimizer built around a custom optax transform cannot be "
                          "trained functionally; pass that optax transform itself as optimizer=.")
    if getattr(optimizer, "opt_state", None) is None:
        optimizer.register_trainable_weights(params_states)
    sched = optimizer.lr
    first = int(np.asarray(sched.last_epoch.value))
    try:
        jax.eval_shape(lambda t: jnp.asarray(_closed_form(sched, t), jnp.float32), jnp.int32(0))
        closed = _agrees_with_stepping(sched, first)
    except Exception:  # noqa: BLE001 - Python logic on the epoch: tabulate instead
        closed = False
    return FunctionalOptimizer(tx=_optax_tx(optimizer), source=optimizer, first_epoch=first, closed_form=closed)
