"""Perceptual decision making (random-dot motion; Britten et al. 1992) with neurogym's semantics,
and the decision readout and checks shared with the other two-choice tasks."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from .._errors import ConfigError
from .._validate import check_number, check_positive
from ._base import TrialBatch
from ._periods import Duration, TimedTask, window
from ._registry import register_task
from ._timing import Period

__all__ = ["PerceptualDecisionMaking", "EvidenceTask", "decision_choice"]


def decision_choice(outputs, start, stop):
    """Choice per trial: argmax of the outputs averaged over steps ``[start, stop)``.

    ``outputs`` is ``(T, B, C)``; ``start``/``stop`` are ``(B,)`` step indices.
    """
    t = jnp.arange(outputs.shape[0])[:, None]
    w = ((t >= start[None]) & (t < stop[None])).astype(outputs.dtype)
    mean = (outputs * w[..., None]).sum(0) / jnp.maximum(w.sum(0), 1.0)[:, None]
    return jnp.argmax(mean, axis=-1)


def check_noise_and_weight(task) -> None:
    """Shared checks of the decision tasks (PDM, CDDM, DMS): ``sigma >= 0`` and
    ``decision_weight > 0``, finite; raises :class:`ConfigError` naming the value."""
    task.check_field("sigma", check_number, minimum=0.0, fix="sigma is the input noise level.")
    task.check_field("decision_weight", check_positive,
                     fix="decision_weight is the loss weight of the decision period (1.0: as the others).")


def choice_metrics(outputs, batch, chose: str = "chose_side0") -> dict[str, jax.Array]:
    """Per-trial scores of a three-way (fixate / option 1 / option 2) decision read out over
    the decision period: ``accuracy`` (the choice is ``1 + info["ground_truth"]``), ``chose``
    (the first option was chosen) and ``no_choice`` (the network kept fixating)."""
    choice = decision_choice(outputs, batch.info["decision_on"], batch.info["decision_off"])
    return {"accuracy": (choice == 1 + batch.info["ground_truth"]).astype(jnp.float32),
            chose: (choice == 1).astype(jnp.float32),
            "no_choice": (choice == 0).astype(jnp.float32)}


def ideal_accuracy_over(stimulus: Period, coherence: float, sigma: float, dt: float) -> float:
    r"""Analytic accuracy of the ideal observer of a two-choice evidence task at one coherence
    (percent), averaged over the distribution of the stimulus duration ``stimulus`` (``N``
    steps): :math:`\Phi\big((c/100)\sqrt{N}\,/\,(\sqrt{2}\,\sigma/\sqrt{dt})\big)`."""
    if sigma == 0:
        return 1.0 if coherence > 0 else 0.5
    acc = 0.0
    for n, prob in stimulus.support():
        z = (coherence / 100.0) * math.sqrt(n) / (math.sqrt(2.0) * sigma / math.sqrt(dt))
        acc += prob * 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    return acc


def two_choice_ideal_correct(batch) -> jax.Array:
    """Ideal observer of a two-choice evidence task laid out as neurogym's: per trial, 1.0 if
    the evidence channel (input 1 or 2) with the larger sum over the stimulus period
    (``info["stimulus_on"/"stimulus_off"]``) is the one of ``info["ground_truth"]`` (0 or 1)."""
    t = jnp.arange(batch.num_steps)[:, None]
    w = (t >= batch.info["stimulus_on"][None]) & (t < batch.info["stimulus_off"][None])
    evidence = ((batch.inputs[..., 1] - batch.inputs[..., 2]) * w).sum(0)
    choice = jnp.where(evidence > 0, 0, 1)
    return (choice == batch.info["ground_truth"]).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class EvidenceTask(TimedTask):
    """Shared parameters, checks and scores of the two-choice evidence tasks (PDM, CDDM).

    Periods ``fixation``, ``stimulus``, ``delay``, ``decision``; a fixation cue on input 0
    from the trial start until the decision; labels 0 (fixate), then ``1 + ground_truth`` in
    the decision period; evidence of coherence ``c`` (percent, from ``coherences``) with
    white noise of standard deviation ``sigma / sqrt(dt)``; scored by the decision accuracy
    (:func:`choice_metrics`).
    """

    dt: float = 20.0
    fixation: Duration = 100.0
    stimulus: Duration = 1000.0
    delay: Duration = 0.0
    decision: Duration = 100.0
    coherences: tuple[float, ...] = (0.0, 6.4, 12.8, 25.6, 51.2)
    sigma: float = 1.0
    decision_weight: float = 1.0

    target_type = "class"
    primary_metric = "accuracy"
    higher_is_better = True
    periods = ("fixation", "stimulus", "delay", "decision")
    nonempty_periods = ("stimulus", "decision")
    input_cues = {0: ("fixation_on", "decision_on")}

    def validate(self):
        super().validate()
        c = self.coherences
        if not isinstance(c, (list, tuple)) or not c:
            raise ConfigError(f"coherences must be a non-empty list of values in [0, 100]; got {c!r}.")
        object.__setattr__(self, "coherences", tuple(
            check_number(f"coherences[{i}]", v, minimum=0.0, maximum=100.0, fix="Coherences are in percent.")
            for i, v in enumerate(c)))
        check_noise_and_weight(self)

    @property
    def num_out(self) -> int:
        return 3

    def trial_metrics(self, outputs, batch):
        return choice_metrics(outputs, batch, "chose_side0")

    def ideal_accuracy(self, coherence: float) -> float:
        r"""Analytic ideal-observer accuracy at one (cued) coherence, in percent:
        :math:`\Phi\big((c/100)\sqrt{N}\,/\,(\sqrt{2}\,\sigma/\sqrt{dt})\big)` with ``N``
        stimulus steps (averaged over ``N`` if the stimulus duration is jittered)."""
        return ideal_accuracy_over(self.trial_timing()["stimulus"], coherence, self.sigma, self.dt)


@register_task("perceptual-decision-making", aliases=("pdm", "perceptual_decision_making", "rdm"),
               paper="Britten, Shadlen, Newsome & Movshon 1992; neurogym's PerceptualDecisionMaking-v0")
@dataclasses.dataclass(frozen=True)
class PerceptualDecisionMaking(EvidenceTask):
    r"""Two-alternative forced choice on noisy evidence (random-dot motion), as neurogym.

    The random-dot motion discrimination of Britten, Shadlen, Newsome & Movshon (1992), "The
    analysis of visual motion: a comparison of neuronal and psychophysical performance",
    J Neurosci 12:4745-4765, in the form of neurogym's ``PerceptualDecisionMaking-v0``
    (Molano-Mazon et al., neurogym). One difference from neurogym 2.3: the fixation cue stays
    on until the decision period (as in earlier neurogym releases); neurogym 2.3's
    ``PerceptualDecisionMaking-v0`` shows it during the fixation period only. Stimuli, noise,
    labels and periods are the same.

    Periods: fixation, stimulus, delay, decision (durations in ms). Inputs (3 channels):
    a fixation cue (1 until the decision period) and two stimulus channels
    :math:`0.5 \pm c/200` (``+`` for the correct side) plus white noise of standard deviation
    :math:`\sigma/\sqrt{dt}` during the stimulus. Labels: 0 = fixate (all periods but the
    decision), 1 or 2 = choose side 0 or 1 during the decision. The mask is 1 everywhere
    (as neurogym), times ``decision_weight`` in the decision period.

    The score is the decision accuracy: the argmax of the outputs averaged over the decision
    period must equal the label. Per trial, ``chose_side0`` (for psychometric curves against
    ``signed_coherence``) and ``no_choice`` (the network kept fixating) are reported too.
    :meth:`ideal_observer` gives the accuracy of the sign of the summed evidence on the same
    trials, the best any observer can do.

    ``info`` holds ``ground_truth`` (0/1), ``coherence``, ``signed_coherence`` (positive for
    side 0) and the period boundaries ``<period>_on``/``<period>_off`` in steps. With jittered
    periods, trials are padded at the end to ``T = num_steps()`` (the sum of the longest
    durations) with zero inputs, label 0 and mask 0, and ``info["trial_off"]`` is each trial's
    length (with the default fixed timing every trial fills the ``T`` steps).

    Parameters
    ----------
    dt : float
        Step in ms (20).
    fixation, stimulus, delay, decision : float or duration spec
        Period durations in ms (100, 1000, 0, 100), multiples of ``dt``; or jittered per trial:
        ``(lo, hi)``, ``("uniform", lo, hi)`` or ``("choice", a, b, ...)`` (see
        :class:`~neurotrain.tasks.Timing`).
    coherences : tuple of float
        Coherences in percent, drawn uniformly (0, 6.4, 12.8, 25.6, 51.2).
    sigma : float
        Input noise level; per-step standard deviation ``sigma / sqrt(dt)`` (1.0).
    decision_weight : float
        Loss weight of the decision period relative to the others (1.0, as neurogym).

    Examples
    --------
    >>> import jax
    >>> task = PerceptualDecisionMaking()
    >>> b = task.sample(jax.random.PRNGKey(0), 8)
    >>> b.inputs.shape, b.targets.shape, task.num_out
    ((60, 8, 3), (60, 8), 3)
    >>> task.period_bounds()["decision"]
    (55, 60)
    """

    condition_keys = ("coherence", "signed_coherence")

    @property
    def num_in(self) -> int:
        return 3

    def period_bounds(self) -> dict[str, tuple[int, int]]:
        """``{period: (first_step, stop_step)}`` (fixed durations only; jittered periods differ
        per trial: read ``batch.info``)."""
        return self.trial_timing().fixed_bounds()

    def _sample(self, key, batch_size):
        timing = self.trial_timing()
        if timing.is_fixed:
            # no key for the timing, and no ``trial_off`` in ``info``: trials fill all T steps
            # (and the batches of the default timing stay those of earlier versions)
            k_gt, k_coh, k_noise = jax.random.split(key, 3)
            info = timing.draw(None, batch_size)
            del info["trial_off"]
            valid = jnp.ones((timing.num_steps, batch_size))
        else:
            k_gt, k_coh, k_noise, k_per = jax.random.split(key, 4)
            info = timing.draw(k_per, batch_size)
            valid = window(timing.num_steps, info["fixation_on"], info["trial_off"]).astype(jnp.float32)
        T = timing.num_steps
        gt = jax.random.randint(k_gt, (batch_size,), 0, 2)
        coh = jnp.asarray(self.coherences)[jax.random.randint(k_coh, (batch_size,), 0, len(self.coherences))]
        sign = jnp.where(gt == 0, 1.0, -1.0)
        in_stim = window(T, info["stimulus_on"], info["stimulus_off"]).astype(jnp.float32)   # (T, B)
        fix = window(T, info["fixation_on"], info["decision_on"]).astype(jnp.float32)
        stim = 0.5 + jnp.stack([sign, -sign], -1) * coh[:, None] / 200.0  # (B, 2)
        noise = self.sigma / math.sqrt(self.dt) * jax.random.normal(k_noise, (T, batch_size, 2))
        stim = in_stim[..., None] * (stim[None] + noise)
        inputs = jnp.concatenate([fix[..., None], stim], axis=-1)
        in_dec = window(T, info["decision_on"], info["decision_off"])
        targets = jnp.where(in_dec, 1 + gt[None], 0).astype(jnp.int32)
        mask = jnp.where(in_dec, self.decision_weight, 1.0) * valid
        info.update({"ground_truth": gt, "coherence": coh, "signed_coherence": sign * coh})
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    def ideal_observer(self, batch):
        """The sign of the summed evidence (channel 1 minus channel 2) over the stimulus."""
        return {"accuracy": two_choice_ideal_correct(batch)}
