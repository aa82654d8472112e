"""The integrator task of brainstate's RNN tutorial."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from .._validate import check_number, check_positive
from ._base import Task, TrialBatch, steps_of
from ._noise import standard_normal
from ._registry import register_task

__all__ = ["Integrator"]


@register_task("integrator", paper="brainstate's RNN tutorial (training an RNN on an integrator task)")
@dataclasses.dataclass(frozen=True)
class Integrator(Task):
    r"""Integrate a noisy input: the target is the running sum of the input.

    The integrator task of brainstate's tutorial on training recurrent networks (a vanilla RNN
    with a trainable initial state learns to integrate a noisy input).

    Each trial has a constant bias :math:`\beta = 2\,m\,(\zeta - 1/2)`, with
    :math:`\zeta \sim N(0, 1)` drawn once per trial, plus white noise of standard deviation
    :math:`s / \sqrt{dt}` (``dt`` in seconds), exactly as in the tutorial:

    .. math:: x_t = \beta + \frac{s}{\sqrt{dt}} \xi_t, \qquad y_t = \sum_{t' \le t} x_{t'}

    Defaults give 25 steps of 40 ms, ``m = 0.025``, ``s = 0.01``. Scored by mean squared
    error (``mse``); the mask is 1 everywhere.

    Parameters
    ----------
    dt : float
        Step in ms (40).
    duration : float
        Trial length in ms (1000).
    bias_mean : float
        ``m``, the scale of the per-trial bias (0.025).
    noise_scale : float
        ``s``, the white-noise scale (0.01).

    Examples
    --------
    >>> import jax
    >>> task = Integrator()
    >>> batch = task.sample(jax.random.PRNGKey(0), 4)
    >>> batch.inputs.shape, batch.targets.shape
    ((25, 4, 1), (25, 4, 1))
    """

    dt: float = 40.0
    duration: float = 1000.0
    bias_mean: float = 0.025
    noise_scale: float = 0.01

    target_type = "value"
    primary_metric = "mse"
    higher_is_better = False

    def validate(self):
        self.check_field("duration", check_positive, fix="duration is the trial length in ms.")
        steps_of("duration", self.duration, self.dt)
        self.check_field("bias_mean", check_number)
        self.check_field("noise_scale", check_number, minimum=0.0)

    @property
    def num_in(self) -> int:
        return 1

    @property
    def num_out(self) -> int:
        return 1

    def num_steps(self) -> int:
        return steps_of("duration", self.duration, self.dt)

    def _sample(self, key, batch_size):
        T = self.num_steps()
        # One draw of T + 1 standard normals per trial (row 0: zeta, rows 1...: xi), from the
        # fused counter-based generator: with jax.random (two threefry calls, a split and
        # erf_inv) the draw cost about 5 % of a training step of this small task.
        z = standard_normal(key, (T + 1, batch_size, 1))
        bias = self.bias_mean * 2.0 * (z[:1] - 0.5)
        noise = self.noise_scale / (self.dt / 1000.0) ** 0.5 * z[1:]
        inputs = bias + noise
        return TrialBatch(inputs=inputs, targets=jnp.cumsum(inputs, axis=0),
                          mask=jnp.ones((T, batch_size)), info={"bias": bias[0, :, 0]})

    def trial_metrics(self, outputs, batch):
        err = (outputs - batch.targets) ** 2 * batch.mask[..., None]
        return {"mse": err.sum(axis=(0, 2)) / (batch.mask.sum(axis=0) * self.num_out)}
