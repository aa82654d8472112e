"""Closed-loop tasks, whose inputs depend on the network's own answers, and Soo, Goudar & Wang's
rule-reversal task.

A :class:`ClosedLoopTask` samples the open-loop part of its trials as any task does (stimuli,
timing, targets, mask) and gives, per batch, a loop object (:meth:`ClosedLoopTask.loop`) that
the forward pass calls at every step: ``input(state, t, x)`` completes the input of step ``t``
from what the network did before (e.g. feedback on its last choice) and ``update(state, t,
output)`` records what it does now. Everything stays pure JAX inside the compiled step (no
host round trip); the network's choices reach the inputs without a gradient (they are
decisions: argmax), as in the authors' code.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._validate import check_int
from ._base import Task, TrialBatch, steps_of
from ._registry import register_task
from ._timing import Timing, canonical_duration

__all__ = ["ClosedLoopTask", "RuleReversal", "RULE_PATTERNS"]


@dataclasses.dataclass(frozen=True)
class ClosedLoopTask(Task):
    """A task whose input at step ``t`` may depend on the network's outputs before ``t``.

    Subclasses implement :meth:`loop`. Training, evaluation and recording pass it to the
    model's forward pass (``forward.run(..., loop=task.loop(batch))``), which returns the
    inputs actually given; ``batch.inputs`` holds only the open-loop part.
    """

    closed_loop: ClassVar[bool] = True

    def loop(self, batch: TrialBatch):
        """The environment of ``batch``: an object with ``init``, ``input`` and ``update``
        (see :class:`neurotrain.models.ClosedLoop`)."""
        raise NotImplementedError


#: Soo et al.'s rule sequences over the 5 trials of a sequence (0: answer the stimulus, 1: the
#: other one), each used for an eighth of their batch
RULE_PATTERNS = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 1], [0, 1, 1, 1, 1],
                          [1, 0, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 1, 1], [1, 1, 1, 1, 1]], np.int32)
_PHASES = ("stimulus", "response", "reward", "wait")


@dataclasses.dataclass(frozen=True, eq=False)
class _ReversalLoop:
    """Feedback of one batch: after each trial's response, "right" or "wrong" during its reward."""

    response_last: Any      # (B, K) the last response step of each trial
    reward_on: Any          # (B, K)
    reward_off: Any         # (B, K)
    correct: Any            # (B, K) the answer under the trial's rule

    def init(self, batch_size: int):
        return -jnp.ones(self.correct.shape, jnp.int32)        # no choice yet

    def input(self, choices, t, x):
        during = (t >= self.reward_on) & (t < self.reward_off)          # (B, K)
        made = choices >= 0
        right = jnp.any(during & made & (choices == self.correct), axis=1)
        wrong = jnp.any(during & made & (choices != self.correct), axis=1)
        return x.at[:, 2].add(right.astype(x.dtype)).at[:, 3].add(wrong.astype(x.dtype))

    def update(self, choices, t, output):
        choice = jnp.argmax(output, axis=-1).astype(jnp.int32)           # (B,)
        now = t == self.response_last                                     # (B, K)
        return jnp.where(now, choice[:, None], choices)


@register_task("rule-reversal", aliases=("rulereversal", "soo-rule-reversal"),
               paper="Soo, Goudar & Wang 2023 (NeurIPS), rule-reversal task")
@dataclasses.dataclass(frozen=True)
class RuleReversal(ClosedLoopTask):
    """Infer a hidden rule from feedback on your own choices, and follow it when it reverses.

    A sequence has ``num_trials`` trials after a 1 s lead-in. Each trial: a **stimulus** (one
    of two stimulus inputs on; Soo et al.'s "sample"), a **response** (answer 0 or 1: under rule
    0 the stimulus' index,
    under rule 1 the other one), a **reward** period (input "right" or "wrong", set by whether
    the network's own answer at the last response step matched the trial's rule: the task is
    closed loop) and a **wait**, each 0.5 s +- 0.1 s (whole steps in ``[400, 600)`` ms, per
    trial). The rule follows one of Soo et al.'s eight sequences (:data:`RULE_PATTERNS`: it
    stays, or reverses after one, two or three trials), drawn per sequence.

    The network cannot know a trial's rule before its feedback, so its target, as in the
    authors' code, is the answer under the rule of the *previous* trial (the rule it can infer
    from its last choice and the feedback on it; rule 0 before the first trial): the target
    holds on the response steps after ``grace`` ms, and ``accuracy`` is the fraction of those
    steps answered so. ``rewarded`` is the fraction of trials the network's answer earned
    "right".

    Inputs (4): stimulus 0, stimulus 1, right, wrong. Outputs (2): the two answers
    (cross-entropy). ``info`` holds ``trial<k>_rule``, ``_stimulus``, ``_correct`` and ``_target``
    (``(B,)`` each; :meth:`per_trial` stacks them), the pattern index, and the period
    boundaries ``trial<k>_<period>_on/_off``.

    Parameters
    ----------
    dt : float
        Step in ms (5).
    num_trials : int
        Trials per sequence (5; the rule patterns are Soo et al.'s for 5 and are cut or
        extended with the last rule for other lengths).
    pre : float
        Lead-in in ms with no input and no loss (1000).
    stimulus, response, reward, wait : duration
        Period durations in ms (each ``("uniform", 400, 600)``).
    grace : float
        Response steps at the start of each response period that are not scored (100 ms,
        their ``T_wait``).

    Examples
    --------
    >>> import jax, neurotrain as nt
    >>> task = RuleReversal(dt=50.0)
    >>> b = task.sample(jax.random.PRNGKey(0), 3)
    >>> b.inputs.shape, task.num_out, task.per_trial(b.info, "rule").shape
    ((240, 3, 4), 2, (3, 5))
    """

    dt: float = 5.0
    num_trials: int = 5
    pre: float = 1000.0
    stimulus: Any = ("uniform", 400.0, 600.0)
    response: Any = ("uniform", 400.0, 600.0)
    reward: Any = ("uniform", 400.0, 600.0)
    wait: Any = ("uniform", 400.0, 600.0)
    grace: float = 100.0

    target_type = "class"
    primary_metric = "accuracy"
    higher_is_better = True
    condition_keys = ("pattern",)

    def __post_init__(self):
        object.__setattr__(self, "num_trials", check_int("num_trials", self.num_trials, minimum=1))
        for name in _PHASES:
            object.__setattr__(self, name, canonical_duration(name, getattr(self, name)))
        object.__setattr__(self, "periods", ("pre",) + tuple(
            f"trial{k}_{p}" for k in range(self.num_trials) for p in _PHASES))
        super().__post_init__()

    def validate(self):
        timing = self.trial_timing()
        grace = steps_of("grace", self.grace, self.dt)
        if timing["trial0_response"].min_steps <= grace:
            raise ConfigError(f"the response period must outlast grace={self.grace} ms, or no step is "
                              f"scored; shorten grace or lengthen response.")

    def trial_timing(self) -> Timing:
        """The lead-in and every trial's four periods (:class:`~neurotrain.tasks.Timing`)."""
        spec = {"pre": self.pre}
        labels = {"pre": "pre"}
        for k in range(self.num_trials):
            for p in _PHASES:
                spec[f"trial{k}_{p}"] = getattr(self, p)
                labels[f"trial{k}_{p}"] = p
        return Timing.from_ms(spec, self.dt, labels=labels,
                              nonempty=tuple(f"trial{k}_{p}" for k in range(self.num_trials) for p in _PHASES))

    @property
    def num_in(self) -> int:
        return 4

    @property
    def num_out(self) -> int:
        return 2

    def num_steps(self) -> int:
        return self.trial_timing().num_steps

    def conditions(self) -> dict[str, list]:
        return {"pattern": list(range(len(RULE_PATTERNS)))}

    def _patterns(self) -> np.ndarray:
        K = self.num_trials
        if K <= RULE_PATTERNS.shape[1]:
            return RULE_PATTERNS[:, :K]
        return np.concatenate([RULE_PATTERNS, np.repeat(RULE_PATTERNS[:, -1:], K - RULE_PATTERNS.shape[1], 1)], 1)

    def _sample(self, key, batch_size):
        B, K, T = batch_size, self.num_trials, self.num_steps()
        k_time, k_pat, k_stim = jax.random.split(key, 3)
        info = self.trial_timing().draw(k_time, B)
        pattern = jax.random.randint(k_pat, (B,), 0, len(RULE_PATTERNS))
        rule = jnp.asarray(self._patterns())[pattern]                          # (B, K)
        stim = jax.random.randint(k_stim, (B, K), 0, 2).astype(jnp.int32)
        correct = jnp.where(rule == 0, stim, 1 - stim)
        prev_rule = jnp.concatenate([jnp.zeros((B, 1), jnp.int32), rule[:, :-1]], axis=1)
        target = jnp.where(prev_rule == 0, stim, 1 - stim)
        t = jnp.arange(T, dtype=jnp.int32)[:, None, None]                      # (T, 1, 1)

        def bounds(p):
            on = jnp.stack([info[f"trial{k}_{p}_on"] for k in range(K)], 1)   # (B, K)
            off = jnp.stack([info[f"trial{k}_{p}_off"] for k in range(K)], 1)
            return on, off

        s_on, s_off = bounds("stimulus")
        r_on, r_off = bounds("response")
        in_sample = (t >= s_on[None]) & (t < s_off[None])                      # (T, B, K)
        stim_in = jax.nn.one_hot(stim, 2)                                       # (B, K, 2)
        inputs = jnp.einsum("tbk,bkc->tbc", in_sample.astype(jnp.float32), stim_in)
        inputs = jnp.concatenate([inputs, jnp.zeros((T, B, 2), jnp.float32)], axis=-1)
        grace = steps_of("grace", self.grace, self.dt)
        scored = (t >= (r_on + grace)[None]) & (t < r_off[None])                # (T, B, K)
        mask = scored.any(axis=2).astype(jnp.float32)
        targets = jnp.sum(jnp.where(scored, target[None], 0), axis=2).astype(jnp.int32)
        info = dict(info, pattern=pattern)
        for name, values in (("rule", rule), ("stimulus", stim), ("correct", correct), ("target", target)):
            info.update({f"trial{k}_{name}": values[:, k] for k in range(K)})
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    def per_trial(self, info, name: str):
        """``info``'s per-trial entry ``name`` (``rule``, ``stimulus``, ``correct``, ``target`` or a
        period bound such as ``response_off``) as one ``(B, num_trials)`` array."""
        return jnp.stack([jnp.asarray(info[f"trial{k}_{name}"]) for k in range(self.num_trials)], 1)

    def loop(self, batch: TrialBatch) -> _ReversalLoop:
        info = batch.info
        return _ReversalLoop(response_last=self.per_trial(info, "response_off") - 1,
                             reward_on=self.per_trial(info, "reward_on"),
                             reward_off=self.per_trial(info, "reward_off"),
                             correct=self.per_trial(info, "correct"))

    def choices(self, outputs, batch):
        """The network's answer of every trial (argmax at its last response step): ``(B, K)``."""
        last = self.per_trial(batch.info, "response_off") - 1                  # (B, K)
        picked = jnp.take_along_axis(outputs, last.T[..., None], axis=0)        # (K, B, C)
        return jnp.argmax(picked, axis=-1).T

    def trial_metrics(self, outputs, batch):
        hit = (jnp.argmax(outputs, axis=-1) == batch.targets) * batch.mask
        choice = self.choices(outputs, batch)
        return {"accuracy": hit.sum(0) / jnp.maximum(batch.mask.sum(0), 1.0),
                "rewarded": jnp.mean(choice == self.per_trial(batch.info, "correct"), axis=1).astype(jnp.float32),
                "choice_accuracy": jnp.mean(choice == self.per_trial(batch.info, "target"), axis=1).astype(jnp.float32)}
