"""Context-dependent decision making (Mante, Sussillo, Shenoy & Newsome 2013), as in the
engellab/trainRNNbrain pipeline."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from ._base import TrialBatch
from ._decision import EvidenceTask
from ._periods import Duration, place, window
from ._registry import register_task

__all__ = ["ContextDependentDecisionMaking"]


@register_task("context-dependent-decision-making",
               aliases=("cddm", "context_dependent_decision_making", "mante"),
               paper="Mante, Sussillo, Shenoy & Newsome 2013, Nature 503:78; the engellab/trainRNNbrain "
                     "pipeline (Engel lab) CDDM task")
@dataclasses.dataclass(frozen=True)
class ContextDependentDecisionMaking(EvidenceTask):
    r"""Context-dependent decision making: report the sign of the cued modality's evidence.

    Mante, Sussillo, Shenoy & Newsome (2013), "Context-dependent computation by recurrent
    dynamics in prefrontal cortex", Nature 503:78-84, in the form of the CDDM task of the
    Engel lab's RNN training pipeline (github.com/engellab/trainRNNbrain). Each trial
    shows two noisy evidence streams at once, *motion* and *colour*, each with its own signed
    coherence drawn independently; a context cue says which one matters. The network must
    fixate, then choose the side the cued modality points to, ignoring the other one.

    Periods (ms, each a fixed duration or a ``(lo, hi)`` range drawn per trial in steps of
    ``dt``): ``fixation``, ``stimulus``, ``delay``, ``decision``. Trials start at step 0 and
    are padded at the end to ``T = num_steps()`` (sum of the upper bounds) with zero inputs,
    zero labels and mask 0.

    Inputs, shape ``(T, B, 7)``:

    ====  ==========================================================================
    0     fixation cue: 1 from the trial start until the decision period
    1, 2  context cue, one-hot (1: motion, 2: colour), on for the whole trial
    3, 4  motion evidence for side 0 / side 1: :math:`0.5 \pm c_m/200` during the stimulus
    5, 6  colour evidence for side 0 / side 1: :math:`0.5 \pm c_c/200` during the stimulus
    ====  ==========================================================================

    Channels 3-6 carry white noise of standard deviation :math:`\sigma/\sqrt{dt}` during the
    stimulus, as :class:`PerceptualDecisionMaking`. The trainRNNbrain task encodes each modality
    the same way (``(1 + coh)/2`` and ``(1 - coh)/2`` with ``coh`` in [-1, 1]); the network
    noise stands in for the input noise there, here it is part of the task.

    Targets: integer labels ``(T, B)``: 0 (fixate) outside the decision period, ``1 + g``
    during it, where ``g`` = 0 if the cued modality's signed coherence is positive and 1 if
    negative (at coherence 0 the side is drawn at random). The mask is 1 on every step of the
    trial (``decision_weight`` in the decision period), 0 on padding. (trainRNNbrain regresses two
    output channels to a one-hot decision; neurotrain scores the same choice with the
    three-way fixate/side-0/side-1 readout of :class:`PerceptualDecisionMaking`.)

    Score (:meth:`trial_metrics`): ``accuracy``, the argmax of the outputs averaged over the
    decision period equals the label, as trainRNNbrain's analysis reads out the choice at the
    decision; also ``chose_side0`` (for psychometric curves against ``motion_coherence`` and
    ``colour_coherence`` within a context) and ``no_choice``. :meth:`ideal_observer` reports
    the accuracy of the sign of the summed evidence (side 0 minus side 1) of the cued
    modality over the stimulus period, on the same trials.

    ``info`` (each ``(B,)``): ``context`` (0 motion, 1 colour), ``ground_truth`` (``g``),
    ``motion_coherence`` and ``colour_coherence`` (signed, positive for side 0),
    ``signed_coherence`` and ``coherence`` (the cued modality's, signed and unsigned),
    ``congruent`` (1 if both modalities point to the same side), the boundaries
    ``<period>_on``/``<period>_off`` and ``trial_off`` (the trial's length in steps).

    Parameters
    ----------
    dt : float
        Step in ms (20).
    fixation, stimulus, delay, decision : float or (float, float)
        Period durations in ms, or ``(lo, hi)`` ranges (200, 800, (100, 500), 100).
    coherences : tuple of float
        Unsigned coherences in percent, drawn uniformly and independently per modality, each
        with a random sign (3.2, 6.4, 12.8, 25.6, 51.2).
    sigma : float
        Input noise level; per-step standard deviation ``sigma / sqrt(dt)`` (1.0).
    decision_weight : float
        Loss weight of the decision period relative to the others (1.0).

    Examples
    --------
    >>> import jax
    >>> task = ContextDependentDecisionMaking()
    >>> b = task.sample(jax.random.PRNGKey(0), 16)
    >>> b.inputs.shape, b.targets.shape, task.num_out
    ((80, 16, 7), (80, 16), 3)
    >>> task.score(jax.nn.one_hot(b.targets, 3), b)["accuracy"]
    1.0
    """

    dt: float = 20.0
    fixation: Duration = 200.0
    stimulus: Duration = 800.0
    delay: Duration = (100.0, 500.0)
    decision: Duration = 100.0
    coherences: tuple[float, ...] = (3.2, 6.4, 12.8, 25.6, 51.2)
    sigma: float = 1.0
    decision_weight: float = 1.0

    condition_keys = ("context", "signed_coherence", "motion_coherence", "colour_coherence", "congruent")

    @property
    def num_in(self) -> int:
        return 7

    def conditions(self) -> dict[str, tuple[float, ...]]:
        """The grid of condition values, for each key of ``condition_keys``."""
        signed = tuple(sorted({s * c for c in self.coherences for s in (-1.0, 1.0)}))
        return {"context": (0, 1), "signed_coherence": signed, "motion_coherence": signed,
                "colour_coherence": signed, "congruent": (0, 1)}

    def _sample(self, key, batch_size):
        k_per, k_ctx, k_coh, k_sign, k_noise = jax.random.split(key, 5)
        B, T = batch_size, self.num_steps()
        info = self.draw_periods(k_per, B)
        ctx = jax.random.randint(k_ctx, (B,), 0, 2)
        cohs = jnp.asarray(self.coherences, jnp.float32)
        coh = cohs[jax.random.randint(k_coh, (2, B), 0, len(self.coherences))]       # (2, B)
        sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (2, B)), 1.0, -1.0)          # + : side 0
        rel_sign = jnp.where(ctx == 0, sign[0], sign[1])
        gt = jnp.where(rel_sign > 0, 0, 1).astype(jnp.int32)

        stim_w = window(T, info["stimulus_on"], info["stimulus_off"]).astype(jnp.float32)
        dec = window(T, info["decision_on"], info["decision_off"])
        valid = window(T, jnp.zeros_like(info["trial_off"]), info["trial_off"])
        fix = window(T, jnp.zeros_like(info["trial_off"]), info["decision_on"]).astype(jnp.float32)
        cue = valid[..., None] * jax.nn.one_hot(ctx, 2)[None]
        half = sign * coh / 200.0                                                        # (2, B)
        mean = 0.5 + jnp.stack([half[0], -half[0], half[1], -half[1]], -1)               # (B, 4)
        S = self.period_spec()["stimulus"][1]
        noise = self.sigma / math.sqrt(self.dt) * jax.random.normal(k_noise, (S, B, 4))
        evidence = stim_w[..., None] * (mean[None] + place(noise, info["stimulus_on"], T))
        inputs = jnp.concatenate([fix[..., None], cue, evidence], axis=-1)
        targets = jnp.where(dec, 1 + gt[None], 0).astype(jnp.int32)
        mask = jnp.where(dec, self.decision_weight, 1.0) * valid

        signed = sign * coh
        info.update({
            "context": ctx, "ground_truth": gt,
            "motion_coherence": signed[0], "colour_coherence": signed[1],
            "signed_coherence": jnp.where(ctx == 0, signed[0], signed[1]),
            "coherence": jnp.where(ctx == 0, coh[0], coh[1]),
            "congruent": (sign[0] == sign[1]).astype(jnp.int32),
        })
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    def ideal_observer(self, batch):
        """Sign of the summed evidence (side 0 minus side 1) of the cued modality over the stimulus."""
        w = window(batch.num_steps, batch.info["stimulus_on"], batch.info["stimulus_off"])
        x = batch.inputs
        motion = ((x[..., 3] - x[..., 4]) * w).sum(0)
        colour = ((x[..., 5] - x[..., 6]) * w).sum(0)
        evidence = jnp.where(batch.info["context"] == 0, motion, colour)
        choice = jnp.where(evidence > 0, 0, 1)
        return {"accuracy": (choice == batch.info["ground_truth"]).astype(jnp.float32)}
