"""Delayed match-to-sample (Miller, Erickson & Desimone 1996), as in the engellab/trainRNNbrain
pipeline."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from .._validate import check_int, check_number
from ._base import TrialBatch
from ._decision import check_noise_and_weight, choice_metrics
from ._periods import Duration, TimedTask, place, window
from ._registry import register_task

__all__ = ["DelayedMatchToSample"]


@register_task("delayed-match-to-sample", aliases=("dms", "dmts", "delayed_match_to_sample"),
               paper="Miller, Erickson & Desimone 1996, J Neurosci 16:5154; the engellab/trainRNNbrain "
                     "pipeline (Engel lab) DMS task")
@dataclasses.dataclass(frozen=True)
class DelayedMatchToSample(TimedTask):
    r"""Delayed match-to-sample: is the test stimulus the same as the sample seen before the delay?

    Miller, Erickson & Desimone (1996), "Neural mechanisms of visual working memory in
    prefrontal cortex of the macaque", J Neurosci 16:5154-5167, in the form of the delayed
    match-to-sample task of the Engel lab's RNN training pipeline
    (github.com/engellab/trainRNNbrain): sample, delay, test, then a match / non-match decision.

    Periods (ms, each fixed or a ``(lo, hi)`` range drawn per trial in steps of ``dt``):
    ``fixation``, ``sample``, ``delay``, ``test``, ``decision``. Trials start at step 0 and are
    padded at the end to ``T = num_steps()`` with zero inputs, zero labels and mask 0.

    Inputs, shape ``(T, B, 1 + num_stimuli)``: channel 0 is the fixation cue (1 from the trial
    start until the decision period); channels ``1..num_stimuli`` are a one-hot code of the
    sample stimulus during the sample period and of the test stimulus during the test period,
    plus white noise of standard deviation :math:`\sigma/\sqrt{dt}` in those two periods.
    The test matches the sample with probability ``match_prob``; a non-matching test is drawn
    uniformly among the other stimuli. (trainRNNbrain gives the sample and the test on one-hot
    channels the same way and regresses two outputs, match and non-match, in the decision
    period; neurotrain scores that choice with a three-way readout.)

    Targets: integer labels ``(T, B)``: 0 (fixate) outside the decision period, 1 (match) or
    2 (non-match) during it. The mask is 1 on every step of the trial (``decision_weight`` in
    the decision period), 0 on padding.

    Score: ``accuracy`` (the argmax of the outputs averaged over the decision period equals the
    label), ``chose_match`` and ``no_choice``. :meth:`ideal_observer` gives the accuracy of the
    Bayes-optimal decision from the noisy sample and test inputs (exactly 1 when
    ``sigma = 0``).

    ``info`` (each ``(B,)``): ``sample`` and ``test`` (stimulus indices), ``match`` (1 if they
    are equal), ``ground_truth`` (0 match, 1 non-match), the boundaries
    ``<period>_on``/``<period>_off`` and ``trial_off``.

    Parameters
    ----------
    dt : float
        Step in ms (20).
    fixation, sample_duration, delay, test, decision : float or (float, float)
        Durations in ms of the fixation, sample, delay, test and decision periods, or
        ``(lo, hi)`` ranges (100, 200, (200, 600), 200, 100). (The sample period's field is
        ``sample_duration`` because ``sample`` is the method that draws trials.)
    num_stimuli : int
        Number of distinct stimuli (2, as trainRNNbrain).
    match_prob : float
        Probability that the test matches the sample (0.5).
    sigma : float
        Input noise level on the stimulus channels; per-step standard deviation
        ``sigma / sqrt(dt)`` (1.0).
    decision_weight : float
        Loss weight of the decision period relative to the others (1.0).

    Examples
    --------
    >>> import jax
    >>> task = DelayedMatchToSample()
    >>> b = task.sample(jax.random.PRNGKey(0), 8)
    >>> b.inputs.shape, b.targets.shape, task.num_out
    ((60, 8, 3), (60, 8), 3)
    >>> bool(((b.info["sample"] == b.info["test"]) == (b.info["ground_truth"] == 0)).all())
    True
    """

    dt: float = 20.0
    fixation: Duration = 100.0
    sample_duration: Duration = 200.0
    delay: Duration = (200.0, 600.0)
    test: Duration = 200.0
    decision: Duration = 100.0
    num_stimuli: int = 2
    match_prob: float = 0.5
    sigma: float = 1.0
    decision_weight: float = 1.0

    target_type = "class"
    condition_keys = ("match", "sample", "test")
    primary_metric = "accuracy"
    higher_is_better = True
    periods = ("fixation", "sample", "delay", "test", "decision")
    period_fields = {"sample": "sample_duration"}  # ``sample`` is the method that draws trials
    nonempty_periods = ("sample", "test", "decision")
    input_cues = {0: ("fixation_on", "decision_on")}

    def validate(self):
        super().validate()
        self.check_field("num_stimuli", check_int, minimum=2)
        self.check_field("match_prob", check_number, minimum=0.0, maximum=1.0,
                         fix="match_prob is the probability that the test matches the sample.")
        check_noise_and_weight(self)

    @property
    def num_in(self) -> int:
        return 1 + self.num_stimuli

    @property
    def num_out(self) -> int:
        return 3

    def conditions(self) -> dict[str, tuple[int, ...]]:
        """The grid of condition values, for each key of ``condition_keys``."""
        stims = tuple(range(self.num_stimuli))
        return {"match": (0, 1), "sample": stims, "test": stims}

    def _sample(self, key, batch_size):
        k_per, k_s, k_m, k_t, k_noise = jax.random.split(key, 5)
        B, T, K = batch_size, self.num_steps(), self.num_stimuli
        info = self.draw_periods(k_per, B)
        sample = jax.random.randint(k_s, (B,), 0, K)
        match = jax.random.bernoulli(k_m, self.match_prob, (B,))
        other = (sample + jax.random.randint(k_t, (B,), 1, K)) % K
        test = jnp.where(match, sample, other)

        zero = jnp.zeros_like(info["trial_off"])
        w_s = window(T, info["sample_on"], info["sample_off"]).astype(jnp.float32)
        w_t = window(T, info["test_on"], info["test_off"]).astype(jnp.float32)
        stim = w_s[..., None] * jax.nn.one_hot(sample, K)[None] + w_t[..., None] * jax.nn.one_hot(test, K)[None]
        spec = self.period_spec()
        S1, S2 = spec["sample"][1], spec["test"][1]
        noise = self.sigma / math.sqrt(self.dt) * jax.random.normal(k_noise, (S1 + S2, B, K))
        stim = stim + w_s[..., None] * place(noise[:S1], info["sample_on"], T) \
            + w_t[..., None] * place(noise[S1:], info["test_on"], T)
        fix = window(T, zero, info["decision_on"]).astype(jnp.float32)
        inputs = jnp.concatenate([fix[..., None], stim], axis=-1)
        gt = jnp.where(match, 0, 1).astype(jnp.int32)
        dec = window(T, info["decision_on"], info["decision_off"])
        valid = window(T, zero, info["trial_off"])
        targets = jnp.where(dec, 1 + gt[None], 0).astype(jnp.int32)
        mask = jnp.where(dec, self.decision_weight, 1.0) * valid
        info.update({"sample": sample.astype(jnp.int32), "test": test.astype(jnp.int32),
                     "match": match.astype(jnp.int32), "ground_truth": gt})
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    def trial_metrics(self, outputs, batch):
        return choice_metrics(outputs, batch, "chose_match")

    def ideal_observer(self, batch):
        r"""Bayes-optimal match decision from the noisy sample and test inputs.

        With per-step noise variance :math:`s^2 = \sigma^2/dt`, the posterior over the sample
        is :math:`q_1 = \mathrm{softmax}(S_1/s^2)` where :math:`S_1` sums the stimulus channels
        over the sample period (likewise :math:`q_2` for the test). With
        :math:`a = \sum_k q_1(k) q_2(k)`, "match" is optimal iff
        :math:`p\,a > (1-p)(1-a)/(K-1)` (``p = match_prob``, ``K = num_stimuli``).
        """
        K, T = self.num_stimuli, batch.num_steps
        x = batch.inputs[..., 1:1 + K]
        s1 = (x * window(T, batch.info["sample_on"], batch.info["sample_off"])[..., None]).sum(0)
        s2 = (x * window(T, batch.info["test_on"], batch.info["test_off"])[..., None]).sum(0)
        if self.sigma == 0:
            q1, q2 = jax.nn.one_hot(jnp.argmax(s1, -1), K), jax.nn.one_hot(jnp.argmax(s2, -1), K)
        else:
            var = self.sigma ** 2 / self.dt
            q1, q2 = jax.nn.softmax(s1 / var, -1), jax.nn.softmax(s2 / var, -1)
        a = (q1 * q2).sum(-1)
        says_match = self.match_prob * a > (1.0 - self.match_prob) * (1.0 - a) / (K - 1)
        return {"accuracy": (says_match == (batch.info["match"] == 1)).astype(jnp.float32)}
