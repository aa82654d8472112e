"""MemoryAntiNumber and MemoryAntiAngle (the engellab/trainRNNbrain pipeline): remember a value,
recall its opposite."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._validate import check_int, check_number, check_positive
from ._base import TrialBatch
from ._periods import Duration, TimedTask, window
from ._registry import register_task

__all__ = ["MemoryAntiNumber", "MemoryAntiAngle"]


def _masked_mse(outputs, targets, mask):
    """Per-trial MSE over the steps of ``mask`` ``(T, B)`` and every output channel."""
    m = mask[..., None]
    return ((outputs - targets) ** 2 * m).sum((0, 2)) / jnp.maximum(m.sum((0, 2)) * outputs.shape[-1], 1e-12)


def _window_mean(x, on, off):
    """Mean of ``x`` ``(T, B, C)`` over steps ``[on, off)`` of each trial: ``(B, C)``."""
    w = window(x.shape[0], on, off)[..., None]
    return (x * w).sum(0) / jnp.maximum(w.sum(0), 1)


@dataclasses.dataclass(frozen=True)
class _MemoryAnti(TimedTask):
    """Shared periods, checks and scores of the two memory-anti tasks."""

    dt: float = 20.0
    fixation: Duration = (100.0, 400.0)
    stimulus: Duration = 200.0
    delay: Duration = (500.0, 1000.0)
    recall: Duration = 400.0

    target_type = "value"
    primary_metric = "mse"
    higher_is_better = False
    periods = ("fixation", "stimulus", "delay", "recall")
    nonempty_periods = ("stimulus", "recall")

    def _frame(self, key, batch_size):
        """Period boundaries and the ``(T, B)`` windows of the stimulus, recall and trial."""
        info = self.draw_periods(key, batch_size)
        T = self.num_steps()
        zero = jnp.zeros_like(info["trial_off"])
        stim = window(T, info["stimulus_on"], info["stimulus_off"]).astype(jnp.float32)
        recall = window(T, info["recall_on"], info["recall_off"]).astype(jnp.float32)
        valid = window(T, zero, info["trial_off"]).astype(jnp.float32)
        return info, stim, recall, valid

    def _value_metrics(self, outputs, batch):
        return {"mse": _masked_mse(outputs, batch.targets, batch.mask),
                "recall_mse": _masked_mse(outputs, batch.targets,
                                          window(batch.num_steps, batch.info["recall_on"], batch.info["recall_off"])
                                          * batch.mask)}


@register_task("memory-anti-number", aliases=("memoryantinumber", "memory_anti_number", "anti-number"),
               paper="the engellab/trainRNNbrain pipeline (Engel lab) MemoryAntiNumber task")
@dataclasses.dataclass(frozen=True)
class MemoryAntiNumber(_MemoryAnti):
    r"""Remember a number over a delay and, on the recall cue, report its negative.

    The MemoryAntiNumber task of the Engel lab's RNN training pipeline
    (github.com/engellab/trainRNNbrain): a scalar :math:`x` is shown briefly on input
    channel 0; after a delay, a recall cue (input channel 1 = 1) asks for :math:`-x` on the
    single output. A trained network holds the remembered value on a line attractor (the
    mechanism of Seung 1996, "How the brain keeps the eyes still", PNAS 93:13339).

    Periods (ms, each fixed or a ``(lo, hi)`` range drawn per trial in steps of ``dt``):
    ``fixation`` (its jitter jitters the stimulus onset, as trainRNNbrain's ``stim_on_range``),
    ``stimulus``, ``delay``, ``recall``. Trials are padded at the end to ``T = num_steps()``
    with zero inputs, zero targets and mask 0.

    Inputs ``(T, B, 2)``: channel 0 is :math:`x` during the stimulus, channel 1 the recall
    cue during the recall period. Targets ``(T, B, 1)`` (float): :math:`-x` during the recall
    period and 0 elsewhere (the network must stay silent before the cue). The mask is 1 on
    every step of the trial, 0 on padding. :math:`x` is drawn uniformly from
    ``num_values`` evenly spaced values over ``value_range`` (trainRNNbrain: 32 values in [-2, 2]).

    Score: ``mse`` over the masked steps (the loss, and trainRNNbrain's validation score);
    ``recall_mse`` over the recall period only; ``recall_error``, the absolute error of the
    output averaged over the recall period.

    ``info`` (each ``(B,)``): ``value`` (:math:`x`), ``target_value`` (:math:`-x`), the
    boundaries ``<period>_on``/``<period>_off`` and ``trial_off``.

    Parameters
    ----------
    dt : float
        Step in ms (20).
    fixation, stimulus, delay, recall : float or (float, float)
        Period durations in ms, or ``(lo, hi)`` ranges ((100, 400), 200, (500, 1000), 400).
    value_range : (float, float)
        Range of the remembered value ((-2, 2)).
    num_values : int
        Number of evenly spaced values in ``value_range`` (32).

    Examples
    --------
    >>> import jax
    >>> task = MemoryAntiNumber()
    >>> b = task.sample(jax.random.PRNGKey(0), 4)
    >>> b.inputs.shape, b.targets.shape
    ((100, 4, 2), (100, 4, 1))
    >>> task.score(b.targets, b)["mse"]
    0.0
    """

    value_range: tuple[float, float] = (-2.0, 2.0)
    num_values: int = 32

    condition_keys = ("value",)
    input_cues = {1: ("recall_on", "recall_off")}

    def validate(self):
        super().validate()
        r = self.value_range
        if not isinstance(r, (list, tuple)) or len(r) != 2:
            raise ConfigError(f"value_range must be a pair (lo, hi) with lo < hi; got {r!r}.")
        r = tuple(check_number(f"value_range[{i}]", v) for i, v in enumerate(r))
        if not r[0] < r[1]:
            raise ConfigError(f"value_range must be a pair (lo, hi) with lo < hi; got {r!r}.")
        object.__setattr__(self, "value_range", r)
        self.check_field("num_values", check_int, minimum=2)

    @property
    def num_in(self) -> int:
        return 2

    @property
    def num_out(self) -> int:
        return 1

    def values(self) -> np.ndarray:
        """The ``num_values`` values :math:`x` is drawn from."""
        return np.linspace(*self.value_range, self.num_values, dtype=np.float32)

    def conditions(self) -> dict[str, tuple[float, ...]]:
        """The grid of condition values: every value :math:`x` can take."""
        return {"value": tuple(float(v) for v in self.values())}

    def _sample(self, key, batch_size):
        k_per, k_val = jax.random.split(key)
        info, stim, recall, valid = self._frame(k_per, batch_size)
        x = jnp.asarray(self.values())[jax.random.randint(k_val, (batch_size,), 0, self.num_values)]
        inputs = jnp.stack([stim * x[None], recall], axis=-1)
        targets = (recall * -x[None])[..., None]
        info.update({"value": x, "target_value": -x})
        return TrialBatch(inputs=inputs, targets=targets, mask=valid, info=info)

    def trial_metrics(self, outputs, batch):
        out = self._value_metrics(outputs, batch)
        mean = _window_mean(outputs, batch.info["recall_on"], batch.info["recall_off"])[:, 0]
        out["recall_error"] = jnp.abs(mean - batch.info["target_value"])
        return out


@register_task("memory-anti-angle", aliases=("memoryantiangle", "memory_anti_angle", "anti-angle"),
               paper="the engellab/trainRNNbrain pipeline (Engel lab) MemoryAntiAngle task; "
                     "cf. Driscoll, Shenoy & Sussillo 2024")
@dataclasses.dataclass(frozen=True)
class MemoryAntiAngle(_MemoryAnti):
    r"""Remember an angle over a delay and, on the recall cue, report the opposite angle.

    The MemoryAntiAngle task of the Engel lab's RNN training pipeline
    (github.com/engellab/trainRNNbrain), a memory-guided anti response (as the delayed
    anti-saccade of Funahashi, Chafee & Goldman-Rakic 1993, Nature 365:753) and similar to the
    memory-anti task of Driscoll, Shenoy & Sussillo 2024, "Flexible multitask computation in
    recurrent networks utilizes shared dynamical motifs", Nat Neurosci 27:1349: an angle
    :math:`\theta` is shown briefly; after a delay, a recall cue asks for
    :math:`\theta + \pi`. A trained network forms a ring attractor.

    **Encoding**: angles are given and reported as cosine/sine pairs scaled by ``amplitude``
    (trainRNNbrain uses 2): inputs ``(T, B, 3)`` are :math:`A\cos\theta, A\sin\theta` during the
    stimulus and the recall cue (channel 2) during the recall period; targets ``(T, B, 2)``
    are :math:`A\cos(\theta+\pi), A\sin(\theta+\pi)` during the recall period and 0
    elsewhere. The mask is 1 on every step of the trial, 0 on padding. :math:`\theta` is drawn
    uniformly from ``num_angles`` evenly spaced angles over :math:`[0, 2\pi)` (trainRNNbrain: 36).

    Periods as :class:`MemoryAntiNumber`: ``fixation`` (jittered stimulus onset),
    ``stimulus``, ``delay``, ``recall``.

    Score: ``mse`` over the masked steps, ``recall_mse`` over the recall period, and
    ``angle_error_deg``: the absolute angular difference (degrees, in [0, 180]) between
    :math:`\theta + \pi` and the angle ``atan2`` of the outputs averaged over the recall period.

    ``info`` (each ``(B,)``): ``theta`` and ``target_theta`` (radians), ``theta_deg``
    (degrees, the condition key), the boundaries ``<period>_on``/``<period>_off`` and
    ``trial_off``.

    Parameters
    ----------
    dt : float
        Step in ms (20).
    fixation, stimulus, delay, recall : float or (float, float)
        Period durations in ms, or ``(lo, hi)`` ranges ((100, 400), 200, (500, 1000), 400).
    num_angles : int
        Number of evenly spaced angles (36, every 10 degrees).
    amplitude : float
        Scale of the cosine/sine code (2.0, as trainRNNbrain).

    Examples
    --------
    >>> import jax
    >>> task = MemoryAntiAngle()
    >>> b = task.sample(jax.random.PRNGKey(0), 4)
    >>> b.inputs.shape, b.targets.shape
    ((100, 4, 3), (100, 4, 2))
    >>> round(task.score(b.targets, b)["angle_error_deg"], 3)
    0.0
    """

    num_angles: int = 36
    amplitude: float = 2.0

    condition_keys = ("theta_deg",)
    input_cues = {2: ("recall_on", "recall_off")}

    def validate(self):
        super().validate()
        self.check_field("num_angles", check_int, minimum=2)
        self.check_field("amplitude", check_positive, fix="amplitude scales the cosine/sine code.")

    @property
    def num_in(self) -> int:
        return 3

    @property
    def num_out(self) -> int:
        return 2

    def angles(self) -> np.ndarray:
        """The ``num_angles`` angles (radians) :math:`\\theta` is drawn from."""
        return (2 * np.pi * np.arange(self.num_angles) / self.num_angles).astype(np.float32)

    def conditions(self) -> dict[str, tuple[float, ...]]:
        """The grid of condition values: every angle, in degrees."""
        return {"theta_deg": tuple(float(v) for v in np.degrees(self.angles().astype(np.float64)).round(6))}

    def _sample(self, key, batch_size):
        k_per, k_th = jax.random.split(key)
        info, stim, recall, valid = self._frame(k_per, batch_size)
        idx = jax.random.randint(k_th, (batch_size,), 0, self.num_angles)
        theta = jnp.asarray(self.angles())[idx]
        anti = jnp.mod(theta + math.pi, 2 * math.pi)
        A = self.amplitude
        code = A * jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)                 # (B, 2)
        anti_code = A * jnp.stack([jnp.cos(anti), jnp.sin(anti)], -1)
        inputs = jnp.concatenate([stim[..., None] * code[None], recall[..., None]], axis=-1)
        targets = recall[..., None] * anti_code[None]
        deg = jnp.asarray(np.degrees(self.angles().astype(np.float64)).round(6), jnp.float32)[idx]
        info.update({"theta": theta, "target_theta": anti, "theta_deg": deg})
        return TrialBatch(inputs=inputs, targets=targets, mask=valid, info=info)

    def trial_metrics(self, outputs, batch):
        out = self._value_metrics(outputs, batch)
        mean = _window_mean(outputs, batch.info["recall_on"], batch.info["recall_off"])
        decoded = jnp.arctan2(mean[:, 1], mean[:, 0])
        d = decoded - batch.info["target_theta"]
        diff = jnp.arctan2(jnp.sin(d), jnp.cos(d))
        out["angle_error_deg"] = jnp.abs(jnp.degrees(diff))
        return out
