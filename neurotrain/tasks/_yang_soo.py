"""The trial structures A, B and C of Soo, Goudar & Wang (2023) as configurations of the Yang family."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax.numpy as jnp

from .._errors import ConfigError
from ._base import steps_of
from ._registry import register_task
from ._yang import (
    _ANGLE_TOL,
    _THRESHOLD,
    RULE_SPECS,
    TIMINGS,
    YANG_RULES,
    RingTask,
    _set_rule_subset,
    circular_distance,
    popvec,
)

__all__ = ["SooTask", "SooA", "SooB", "SooC", "SOO_RULE_NAMES"]

SOO_PAPER = ("Soo, Goudar & Wang 2023, Training biologically plausible recurrent neural networks on "
             "cognitive tasks with long-term dependencies, NeurIPS (github.com/wmws2/temporalskip)")

#: Soo et al.'s task names -> Yang's rule names.
SOO_RULE_NAMES = {
    "go": "fdgo", "anti": "fdanti", "rtgo": "reactgo", "rtanti": "reactanti",
    "ctxdm1": "contextdm1", "ctxdm2": "contextdm2", "multsendm": "multidm",
    "dlygo": "delaygo", "dlyanti": "delayanti", "dlydm1": "delaydm1", "dlydm2": "delaydm2",
    "ctxdlydm1": "contextdelaydm1", "ctxdlydm2": "contextdelaydm2", "multsendlydm": "multidelaydm",
    "dms": "dmsgo", "dnms": "dmsnogo", "dmc": "dmcgo", "dnmc": "dmcnogo",
}


def _structure_rules(structure: str) -> tuple[str, ...]:
    return tuple(r for r in YANG_RULES if (structure, RULE_SPECS[r].family) in TIMINGS)


@dataclasses.dataclass(frozen=True)
class SooTask(RingTask):
    r"""Base of the Soo, Goudar & Wang (2023) trial structures; see :class:`SooA`.

    Yang's rules (stimuli, targets, rule inputs, ``perf``) with Soo et al.'s trial structure:
    ``dt = 5`` ms; a 1 s lead-in (``pre``) with only the rule input and no loss; fixation
    and stimulus periods of 0.5 s +- 0.1 s, delays of 1 s +- 0.1 s (uniform whole steps in
    ``[400, 600)`` and ``[900, 1100)`` ms, drawn per trial); a fixed 0.5 s response. Every
    stimulus is shown during its own period only; the response period holds the rule input
    alone, except for the reaction-time rules, whose stimulus appears at the response with the
    fixation input still on. The fixation target is 0.85; the loss skips the first 200 ms of
    fixation and 200 ms after the go cue (their ``T_wait``), weighs all outputs alike and
    balances the pre-go and response parts of each trial (``balance_response``), as their
    sum of two means; there is no input noise (their noise is recurrent: give the model
    ``sigma_rec``).

    Besides Yang's trial-wise ``perf`` (the primary metric), ``soo_perf`` is their
    time-averaged score: :math:`w\,f_1 + (1-w)\,f_2\,r`, with :math:`f_1` the fraction of
    scored pre-go steps with the fixation output above 0.5, :math:`f_2` the fraction of scored
    response steps with it below 0.5 (above, on no-go trials), :math:`r` the fraction of them
    whose decoded angle is within :math:`0.2\pi` (1 on no-go trials), and
    :math:`w = 2/3, 4/5, 5/6` for A, B, C.

    Differences from the published code, on purpose: stimulus distributions are Yang's (Soo
    et al. use dm strengths :math:`m \pm \delta`, :math:`\delta \sim U(0.1, 0.2)`, and a
    "match" within +-10 degrees); their ``dnms``/``dnmc`` repeat ``dms``/``dmc``'s response
    rule, here they are the non-match rules; jitter is drawn per trial, not per batch; the
    lead-in is part of the backpropagated trial (with zero loss) where they run it outside the
    gradient tape. Their rule-reversal task is not provided: its feedback input depends on the
    network's own response within the trial (closed loop), which a precomputed
    :class:`TrialBatch` cannot express.

    Parameters
    ----------
    rules : tuple of str
        Rules of this structure, by Yang's or Soo et al.'s name (``go``, ``rtgo``, ``dlydm1``,
        ``dnms``...); several are mixed per trial like :class:`YangMultitask`.
    rule_probs : tuple of float, optional
        Relative rule probabilities; ``None`` for uniform. The other parameters are those of
        :class:`RingTask`, with Soo et al.'s defaults.
    """

    dt: float = 5.0
    sigma_x: float = 0.0
    mask_start: float = 200.0
    grace: float = 200.0
    response_weight: float = 1.0
    fixation_weight: float = 1.0
    fix_target: float = 0.85
    balance_response: bool = True
    rules: tuple = ()
    rule_probs: tuple | None = None

    condition_keys = ("rule",)
    #: weight of the fixation part in ``soo_perf``
    soo_weight: ClassVar[float] = 2 / 3

    def __post_init__(self):
        if not self.structure.startswith("soo-"):
            raise ConfigError("SooTask is the base of the Soo et al. structures; build SooA, SooB or SooC.")
        allowed = _structure_rules(self.structure)
        rules = self.rules or (allowed[0],)
        _set_rule_subset(self, rules, allowed, aliases=SOO_RULE_NAMES)
        super().__post_init__()

    def rule_names(self) -> tuple[str, ...]:
        return self.rules

    def rule_weights(self):
        return self.rule_probs

    @classmethod
    def allowed_rules(cls) -> tuple[str, ...]:
        """The Yang rules that have this trial structure in Soo et al."""
        return _structure_rules(cls.structure)

    def trial_metrics(self, outputs, batch):
        out = super().trial_metrics(outputs, batch)
        t, check_on, go, end = self._windows(batch)
        gr = steps_of("grace", self.grace, self.dt)
        pre = (t >= check_on) & (t < go)
        post = (t >= go + gr) & (t < end)

        def frac(x, w):
            return (x & w).sum(0) / jnp.maximum(w.sum(0), 1)

        fixating = outputs[..., 0] > _THRESHOLD
        respond = batch.info["respond"] > 0
        err = circular_distance(popvec(outputs[..., 1:]), batch.info["target_loc"][None])
        f1 = frac(fixating, pre)
        f2 = jnp.where(respond, frac(~fixating, post), frac(fixating, post))
        r = jnp.where(respond, frac(err < _ANGLE_TOL, post), 1.0)
        w = self.soo_weight
        out["soo_perf"] = (w * f1 + (1 - w) * f2 * r).astype(jnp.float32)
        return out


@register_task("soo-a", aliases=("soo2023-a", "soo-structure-a"), paper=SOO_PAPER)
@dataclasses.dataclass(frozen=True)
class SooA(SooTask):
    """Soo et al. (2023) trial structure A: fixation, stimulus, response (dt = 5 ms).

    Lead-in 1 s (rule input only), fixation 0.5 +- 0.1 s, stimulus 0.5 +- 0.1 s, response
    0.5 s. Rules: ``fdgo`` (their ``go``), ``fdanti``, ``reactgo``, ``reactanti``, ``dm1``,
    ``dm2``, ``contextdm1``, ``contextdm2``, ``multidm``; default ``("fdgo",)``.
    Conventions, scores and differences from their code: :class:`SooTask`.

    Examples
    --------
    >>> import jax
    >>> task = SooA(rules=("go", "anti"))
    >>> task.rules, task.num_steps()
    (('fdgo', 'fdanti'), 538)
    >>> b = task.sample(jax.random.PRNGKey(0), 4)
    >>> b.inputs.shape, b.mask.shape
    ((538, 4, 85), (538, 4, 33))
    """

    structure = "soo-a"
    soo_weight = 2 / 3


@register_task("soo-b", aliases=("soo2023-b", "soo-structure-b"), paper=SOO_PAPER)
@dataclasses.dataclass(frozen=True)
class SooB(SooTask):
    """Soo et al. (2023) trial structure B: fixation, stimulus, 1 s delay, response (dt = 5 ms).

    Lead-in 1 s, fixation 0.5 +- 0.1 s, stimulus 0.5 +- 0.1 s, delay 1 +- 0.1 s, response
    0.5 s. Rules: ``delaygo`` (their ``dlygo``), ``delayanti``; default ``("delaygo",)``.
    See :class:`SooTask`.

    Examples
    --------
    >>> import jax
    >>> SooB().sample(jax.random.PRNGKey(0), 2).inputs.shape
    (757, 2, 85)
    """

    structure = "soo-b"
    soo_weight = 4 / 5


@register_task("soo-c", aliases=("soo2023-c", "soo-structure-c"), paper=SOO_PAPER)
@dataclasses.dataclass(frozen=True)
class SooC(SooTask):
    """Soo et al. (2023) trial structure C: two stimuli around a 1 s delay, then respond (dt = 5 ms).

    Lead-in 1 s, fixation 0.5 +- 0.1 s, stimulus 1 0.5 +- 0.1 s, delay 1 +- 0.1 s,
    stimulus 2 0.5 +- 0.1 s, response 0.5 s. Rules: ``delaydm1`` (their ``dlydm1``),
    ``delaydm2``, ``contextdelaydm1``, ``contextdelaydm2``, ``multidelaydm``, ``dmsgo``
    (``dms``), ``dmsnogo`` (``dnms``), ``dmcgo`` (``dmc``), ``dmcnogo`` (``dnmc``); default
    ``("delaydm1",)``. In the match rules the go or no-go answer is due in the response
    period, after the second stimulus. See :class:`SooTask`.

    Examples
    --------
    >>> import jax
    >>> SooC(rules=("dms",)).sample(jax.random.PRNGKey(0), 2).inputs.shape
    (876, 2, 85)
    """

    structure = "soo-c"
    soo_weight = 5 / 6
