"""Perceptual decision making (random-dot motion), neurogym's semantics (seed 002)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from .._errors import ConfigError
from ._base import Task, TrialBatch, steps_of
from ._registry import register_task

__all__ = ["PerceptualDecisionMaking", "decision_choice"]


def decision_choice(outputs, start, stop):
    """Choice per trial: argmax of the outputs averaged over steps ``[start, stop)``.

    ``outputs`` is ``(T, B, C)``; ``start``/``stop`` are ``(B,)`` step indices.
    """
    t = jnp.arange(outputs.shape[0])[:, None]
    w = ((t >= start[None]) & (t < stop[None])).astype(outputs.dtype)
    mean = (outputs * w[..., None]).sum(0) / jnp.maximum(w.sum(0), 1.0)[:, None]
    return jnp.argmax(mean, axis=-1)


def check_evidence_params(task) -> None:
    """Shared checks of the evidence tasks (PDM, CDDM): ``coherences``, ``sigma`` and
    ``decision_weight``; raises :class:`ConfigError` naming the value."""
    if not task.coherences or any(c < 0 or c > 100 for c in task.coherences):
        raise ConfigError(f"coherences must be a non-empty list of values in [0, 100]; got {task.coherences}.")
    if task.sigma < 0 or task.decision_weight <= 0:
        raise ConfigError(f"need sigma >= 0 and decision_weight > 0; got sigma={task.sigma}, "
                          f"decision_weight={task.decision_weight}.")


def two_choice_ideal_correct(batch) -> jax.Array:
    """Ideal observer of a two-choice evidence task laid out as neurogym's: per trial, 1.0 if
    the evidence channel (input 1 or 2) with the larger sum over the stimulus period
    (``info["stimulus_on"/"stimulus_off"]``) is the one of ``info["ground_truth"]`` (0 or 1)."""
    t = jnp.arange(batch.num_steps)[:, None]
    w = (t >= batch.info["stimulus_on"][None]) & (t < batch.info["stimulus_off"][None])
    evidence = ((batch.inputs[..., 1] - batch.inputs[..., 2]) * w).sum(0)
    choice = jnp.where(evidence > 0, 0, 1)
    return (choice == batch.info["ground_truth"]).astype(jnp.float32)


@register_task("perceptual-decision-making", aliases=("pdm", "perceptual_decision_making", "rdm"),
               paper="Britten et al. 1992; neurogym PerceptualDecisionMaking-v0 (seed 002)")
@dataclasses.dataclass(frozen=True)
class PerceptualDecisionMaking(Task):
    r"""Two-alternative forced choice on noisy evidence (random-dot motion), as neurogym.

    One difference from neurogym 2.3: the fixation cue stays on until the decision period (as in
    the neurogym of seed 002); neurogym 2.3's ``PerceptualDecisionMaking-v0`` shows it during the
    fixation period only. Stimuli, noise, labels and periods are the same.

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
    side 0) and the period boundaries ``<period>_on``/``<period>_off`` in steps.

    Parameters
    ----------
    dt : float
        Step in ms (20).
    fixation, stimulus, delay, decision : float
        Period durations in ms (100, 1000, 0, 100); multiples of ``dt``.
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
    """

    dt: float = 20.0
    fixation: float = 100.0
    stimulus: float = 1000.0
    delay: float = 0.0
    decision: float = 100.0
    coherences: tuple[float, ...] = (0.0, 6.4, 12.8, 25.6, 51.2)
    sigma: float = 1.0
    decision_weight: float = 1.0

    target_type = "class"
    condition_keys = ("coherence", "signed_coherence")
    primary_metric = "accuracy"
    higher_is_better = True
    periods = ("fixation", "stimulus", "delay", "decision")

    def __post_init__(self):
        object.__setattr__(self, "coherences", tuple(float(c) for c in self.coherences))
        super().__post_init__()

    def validate(self):
        for p in self.periods:
            steps_of(p, getattr(self, p), self.dt)
        if steps_of("stimulus", self.stimulus, self.dt) < 1 or steps_of("decision", self.decision, self.dt) < 1:
            raise ConfigError(
                f"stimulus and decision must last at least one step of dt={self.dt} ms; "
                f"got stimulus={self.stimulus}, decision={self.decision}."
            )
        check_evidence_params(self)

    @property
    def num_in(self) -> int:
        return 3

    @property
    def num_out(self) -> int:
        return 3

    def period_bounds(self) -> dict[str, tuple[int, int]]:
        """``{period: (first_step, stop_step)}``."""
        out, t = {}, 0
        for p in self.periods:
            n = steps_of(p, getattr(self, p), self.dt)
            out[p] = (t, t + n)
            t += n
        return out

    def num_steps(self) -> int:
        return self.period_bounds()["decision"][1]

    def _sample(self, key, batch_size):
        k_gt, k_coh, k_noise = jax.random.split(key, 3)
        T, bounds = self.num_steps(), self.period_bounds()
        gt = jax.random.randint(k_gt, (batch_size,), 0, 2)
        coh = jnp.asarray(self.coherences)[jax.random.randint(k_coh, (batch_size,), 0, len(self.coherences))]
        sign = jnp.where(gt == 0, 1.0, -1.0)
        t = jnp.arange(T)[:, None]
        s0, s1 = bounds["stimulus"]
        d0, d1 = bounds["decision"]
        in_stim = ((t >= s0) & (t < s1)).astype(jnp.float32)           # (T, 1)
        fix = (t < d0).astype(jnp.float32) * jnp.ones((1, batch_size))
        stim = 0.5 + jnp.stack([sign, -sign], -1) * coh[:, None] / 200.0  # (B, 2)
        noise = self.sigma / math.sqrt(self.dt) * jax.random.normal(k_noise, (T, batch_size, 2))
        stim = in_stim[..., None] * (stim[None] + noise)
        inputs = jnp.concatenate([fix[..., None], stim], axis=-1)
        in_dec = (t >= d0) & (t < d1)
        targets = jnp.where(in_dec, 1 + gt[None], 0).astype(jnp.int32)
        mask = jnp.where(in_dec, self.decision_weight, 1.0) * jnp.ones((1, batch_size))
        ones = jnp.ones((batch_size,), jnp.int32)
        info = {"ground_truth": gt, "coherence": coh, "signed_coherence": sign * coh}
        for p, (a, b) in bounds.items():
            info[f"{p}_on"], info[f"{p}_off"] = ones * a, ones * b
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    def trial_metrics(self, outputs, batch):
        choice = decision_choice(outputs, batch.info["decision_on"], batch.info["decision_off"])
        correct = choice == 1 + batch.info["ground_truth"]
        return {"accuracy": correct.astype(jnp.float32),
                "chose_side0": (choice == 1).astype(jnp.float32),
                "no_choice": (choice == 0).astype(jnp.float32)}

    def ideal_observer(self, batch):
        """The sign of the summed evidence (channel 1 minus channel 2) over the stimulus."""
        return {"accuracy": two_choice_ideal_correct(batch)}

    def ideal_accuracy(self, coherence: float) -> float:
        r"""Analytic ideal-observer accuracy at one coherence (percent):
        :math:`\Phi\big((c/100)\sqrt{N}\,/\,(\sqrt{2}\,\sigma/\sqrt{dt})\big)` with ``N`` stimulus steps."""
        n = steps_of("stimulus", self.stimulus, self.dt)
        if self.sigma == 0:
            return 1.0 if coherence > 0 else 0.5
        z = (coherence / 100.0) * math.sqrt(n) / (math.sqrt(2.0) * self.sigma / math.sqrt(self.dt))
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
