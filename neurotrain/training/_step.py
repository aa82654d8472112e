"""The compiled training step and the held-out evaluation, as pure functions.

``step(carry, step, key, hyper) -> (carry, (loss, lr, aux))`` samples the batch of training step
``step`` from ``key`` (the network's root key: batches from ``fold_in(data_key, step)``, noise
from ``fold_in(noise_key, step)``), runs the gradient method, clips the gradient and applies
the optimiser at the learning rate of that step. ``hyper`` (optional) holds per-network
hyper-parameters of a population (``lr_scale``, ``l2``, ``rate_l2``, ``sigma_in``,
``sigma_rec``). ``carry`` is ``(params, opt_state)``: every
value the next step depends on is an argument, nothing is read from global state, so the
step can be mapped over many networks (their parameters, optimiser states and keys) and an
interrupted step never leaves half-updated weights.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._methods import StepContext

__all__ = ["split_key", "clip_by_global_norm", "make_train_step", "make_eval_fn"]


def split_key(key):
    """``(data_key, noise_key, eval_key)`` of a network's root key."""
    return jax.random.split(key, 3)


def global_norm(tree) -> jax.Array:
    """The L2 norm of all leaves of ``tree``."""
    return jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(tree)))


def clip_by_global_norm(grads, max_norm: float):
    """Scale ``grads`` so that their global L2 norm is at most ``max_norm``; returns
    ``(clipped, norm_before)``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> g, n = clip_by_global_norm({"w": jnp.array([3.0, 4.0])}, 1.0)
    >>> float(n), [round(float(v), 3) for v in g["w"]]
    (5.0, [0.6, 0.8])
    """
    norm = global_norm(grads)
    scale = jnp.minimum(1.0, max_norm / (norm + 1e-12))
    return jax.tree.map(lambda g: g * scale, grads), norm


def apply_masks(tree, masks, fill):
    """``tree`` with every entry whose mask is 0/False replaced by ``fill``'s (same structure);
    ``masks`` maps some keys of ``tree`` to a bool or a 0/1 array of the parameter's shape."""
    if not masks:
        return tree
    out = dict(tree)
    for k, m in masks.items():
        if m is True:
            continue
        out[k] = fill[k] if m is False else jnp.where(m, tree[k], fill[k])
    return out


def make_train_step(*, forward, task, method, objective, optimizer, batch_size: int,
                    clip_norm: float | None, phase, monitor: bool, on_trace=None, trainable=None):
    """The pure training step of one phase (see the module docstring).

    Parameters
    ----------
    forward : neurotrain.models.Forward
    task : Task
        The phase's training task.
    method : GradientMethod
        Prepared.
    objective : Objective
    optimizer : FunctionalOptimizer
    batch_size : int
    clip_norm : float or None
    phase : Phase
        Resolved (its task, dt, learning-rate scale and method options are used).
    monitor : bool
        Report ``max_activity``.
    on_trace : callable, optional
        Called (with no argument) each time the step is traced, to count compilations.
    trainable : dict, optional
        ``{parameter path: bool or 0/1 array}``: entries marked 0 are frozen. Their gradient
        is zeroed before the optimiser (so they add nothing to the gradient norm or the
        moments) and their value is put back after it (so they stay bit-identical, whatever
        the optimiser does, weight decay included).
    """
    masks = {k: (m if isinstance(m, bool) else jnp.asarray(m, bool)) for k, m in (trainable or {}).items()}

    def update_fn(lr):
        def update(params, opt_state, grads):
            grads = apply_masks(grads, masks, jax.tree.map(jnp.zeros_like, grads))
            if clip_norm is not None:
                grads, norm = clip_by_global_norm(grads, clip_norm)
            else:
                norm = global_norm(grads)
            new, opt_state = optimizer.update(grads, opt_state, params, lr)
            return apply_masks(new, masks, params), opt_state, norm

        return update

    def step(carry, step, key, hyper=None):
        if on_trace is not None:
            on_trace()
        hyper = hyper or {}
        params, opt_state = carry
        data_key, noise_key, _ = split_key(key)
        batch = task.sample(jax.random.fold_in(data_key, step), batch_size)
        lr = optimizer.lr(step)
        if phase.lr_scale != 1.0:
            lr = lr * phase.lr_scale
        if "lr_scale" in hyper:
            lr = lr * hyper["lr_scale"]
        coefficients = {k: hyper[k] for k in ("l2", "rate_l2") if k in hyper}
        ctx = StepContext(forward=forward, objective=objective.with_coefficients(**coefficients),
                          update=update_fn(lr), dt=phase.dt, options=phase.options, monitor=monitor,
                          overrides={k: hyper[k] for k in ("sigma_in", "sigma_rec") if k in hyper}, task=task)
        params, opt_state, loss, aux = method.train_step(ctx, params, opt_state, batch,
                                                         jax.random.fold_in(noise_key, step))
        return (params, opt_state), (loss, jnp.asarray(lr, jnp.float32), aux)

    return step


def make_eval_fn(*, forward, task, num_trials: int):
    """``evaluate(params, key, hyper) -> {metric: mean}`` on the fixed held-out batch of
    ``key``'s eval key (the same trials at every evaluation), with the ideal observer's scores
    as ``ideal_<metric>``; ``hyper``'s noise levels apply."""
    def evaluate(params, key, hyper=None):
        eval_key = split_key(key)[2]
        batch = task.sample(eval_key, num_trials)
        overrides = {k: v for k, v in (hyper or {}).items() if k in ("sigma_in", "sigma_rec")}
        loop = task.loop(batch) if getattr(task, "closed_loop", False) else None
        outputs, *_ = forward.run(params, batch.inputs, key=jax.random.fold_in(eval_key, 1),
                                  overrides=overrides, loop=loop)
        out = {k: jnp.mean(v) for k, v in task.trial_metrics(outputs, batch).items()}
        out.update({f"ideal_{k}": jnp.mean(v) for k, v in task.ideal_observer(batch).items()})
        return out

    return evaluate
