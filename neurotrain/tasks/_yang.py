"""The ring-encoded cognitive task family of Yang et al. (2019): shared machinery.

One engine serves every rule: per-trial period durations drawn from Yang's timing
distributions (or Soo et al.'s), ring-encoded stimuli on two modalities, a fixation input,
one-hot rule inputs, the 33 targets (fixation + 32-unit ring), Yang's cost mask and Yang's
performance definition. A rule is a few lines of data (:data:`RULE_SPECS`): which timing
family it uses, when its stimuli are shown, and how its stimuli and target are drawn.

The 20 single-rule tasks live in ``_yang_rules.py``, the Soo, Goudar & Wang (2023) trial
structures in ``_yang_soo.py``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._validate import check_bool, check_int, check_number, check_positive, is_number
from ._base import Task, TrialBatch, steps_of
from ._noise import _normal_from_key_bits, _uniform_from_key_bits
from ._registry import register_task
from ._timing import Timing, canonical_duration
from ._timing import uniform_index as _index

__all__ = [
    "YANG_RULES", "PERIODS", "RULE_SPECS", "RingTask", "YangTask", "YangMultitask",
    "ring_bump", "popvec", "circular_distance",
]

YANG_PAPER = ("Yang, Joglekar, Song, Newsome & Wang 2019, Task representations in neural networks "
              "trained to perform many cognitive tasks, Nat. Neurosci. 22:297 (github.com/gyyang/multitask)")

#: The 20 rules of Yang et al. 2019 in the order of their rule-input units.
YANG_RULES: tuple[str, ...] = (
    "fdgo", "reactgo", "delaygo", "fdanti", "reactanti", "delayanti",
    "dm1", "dm2", "contextdm1", "contextdm2", "multidm",
    "delaydm1", "delaydm2", "contextdelaydm1", "contextdelaydm2", "multidelaydm",
    "dmsgo", "dmsnogo", "dmcgo", "dmcnogo",
)

#: The canonical periods of every trial, in order. Unused periods last 0 steps. ``pre`` is a
#: rule-only lead-in without fixation or loss (0 ms for Yang, 1 s for Soo et al.).
PERIODS: tuple[str, ...] = ("pre", "fixation", "stim1", "delay1", "stim2", "delay2", "response")
_END = len(PERIODS)                 # boundary index of the trial end
_GO = PERIODS.index("response")     # boundary index of the go cue (response onset)
_FIX = PERIODS.index("fixation")

#: Yang's stimulus/target tuning: 0.8 * exp(-d^2 / (2 (pi/8)^2)) on the circular distance d.
_BUMP_AMP, _BUMP_WIDTH = 0.8, math.pi / 8
_BASELINE = 0.05          # target of every output that is not driven (Yang's lsq targets)
_THRESHOLD = 0.5          # fixation output above this = fixating (Yang's get_perf)
_ANGLE_TOL = 0.2 * math.pi  # decoded response within 36 degrees = correct


@dataclasses.dataclass(frozen=True)
class RuleSpec:
    """How one rule draws its trials (static data, no code).

    ``family`` selects the timing distribution and the stimulus windows (see
    :data:`TIMINGS` and :data:`WINDOWS`); ``content`` is ``"go"`` (one stimulus, respond to it
    or to its opposite if ``anti``), ``"dm"`` (two stimuli, respond to the stronger;
    ``dm_mode`` says which modality counts) or ``"match"`` (two sequential stimuli, respond to
    the second iff ``match == go_on_match``; ``category`` compares categories, not angles).
    """

    family: str
    content: str
    anti: bool = False
    dm_mode: str = ""
    coherences: tuple[float, ...] = ()
    category: bool = False
    go_on_match: bool = True


_DM_COH = (0.01, 0.02, 0.04, 0.08)     # Yang's dm / contextdm / multidm coherences
_DELAYDM_COH = (0.08, 0.16, 0.32)      # Yang's delayed versions

#: The 20 rules as data.
RULE_SPECS: dict[str, RuleSpec] = {
    "fdgo": RuleSpec("fd", "go"),
    "reactgo": RuleSpec("react", "go"),
    "delaygo": RuleSpec("delay", "go"),
    "fdanti": RuleSpec("fd", "go", anti=True),
    "reactanti": RuleSpec("react", "go", anti=True),
    "delayanti": RuleSpec("delay", "go", anti=True),
    "dm1": RuleSpec("dm", "dm", dm_mode="mod1", coherences=_DM_COH),
    "dm2": RuleSpec("dm", "dm", dm_mode="mod2", coherences=_DM_COH),
    "contextdm1": RuleSpec("dm", "dm", dm_mode="ctx1", coherences=_DM_COH),
    "contextdm2": RuleSpec("dm", "dm", dm_mode="ctx2", coherences=_DM_COH),
    "multidm": RuleSpec("dm", "dm", dm_mode="multi", coherences=_DM_COH),
    "delaydm1": RuleSpec("delaydm", "dm", dm_mode="mod1", coherences=_DELAYDM_COH),
    "delaydm2": RuleSpec("delaydm", "dm", dm_mode="mod2", coherences=_DELAYDM_COH),
    "contextdelaydm1": RuleSpec("delaydm", "dm", dm_mode="ctx1", coherences=_DELAYDM_COH),
    "contextdelaydm2": RuleSpec("delaydm", "dm", dm_mode="ctx2", coherences=_DELAYDM_COH),
    "multidelaydm": RuleSpec("delaydm", "dm", dm_mode="multi", coherences=_DELAYDM_COH),
    "dmsgo": RuleSpec("dms", "match", go_on_match=True),
    "dmsnogo": RuleSpec("dms", "match", go_on_match=False),
    "dmcgo": RuleSpec("dmc", "match", category=True, go_on_match=True),
    "dmcnogo": RuleSpec("dmc", "match", category=True, go_on_match=False),
}

_U, _C = "uniform", "choice"
#: Period durations in ms per (structure, family), in the timing engine's forms
#: (:mod:`neurotrain.tasks._timing`): a number is fixed, ``("choice", a, b, ...)`` one of the
#: values, ``("uniform", lo, hi)`` a uniform multiple of dt in ``[lo, hi)`` (Yang's
#: ``int(U(lo, hi) / dt)``, Soo's ``tf.random.uniform(minval, maxval, int32)``). Periods not
#: listed last 0 ms.
TIMINGS: dict[tuple[str, str], dict[str, Any]] = {
    ("yang", "fd"): {"fixation": (_U, 300, 700), "stim1": (_U, 500, 1500), "response": 500},
    ("yang", "react"): {"fixation": (_U, 500, 2500), "response": 500},
    ("yang", "delay"): {"fixation": (_C, 300, 500, 700), "stim1": (_C, 200, 400, 600),
                        "delay1": (_C, 200, 400, 800, 1600), "response": 500},
    ("yang", "dm"): {"fixation": (_U, 100, 400), "stim1": (_C, 400, 800, 1600), "response": 500},
    ("yang", "delaydm"): {"fixation": (_C, 200, 400, 600), "stim1": (_C, 200, 400, 600),
                          "delay1": (_C, 200, 400, 800, 1600), "stim2": (_C, 200, 400, 600),
                          "delay2": (_U, 100, 300), "response": 500},
    ("yang", "dms"): {"fixation": (_C, 200, 400, 600), "stim1": (_C, 200, 400, 600),
                      "delay1": (_C, 200, 400, 800, 1600), "response": 500},
    ("yang", "dmc"): {"fixation": (_C, 200, 400, 600), "stim1": (_C, 200, 400, 600),
                      "delay1": (_C, 200, 400, 800, 1600), "response": (_C, 200, 400, 600)},
}
# Soo, Goudar & Wang 2023: 1 s rule-only lead-in, 0.5 s +- 0.1 s periods, 1 s +- 0.1 s delay,
# a fixed 0.5 s response (their T_short, T_long, T_jitter, T_test).
_SOO_FIX = {"pre": 1000, "fixation": (_U, 400, 600), "stim1": (_U, 400, 600)}
_SOO_A = {**_SOO_FIX, "response": 500}
_SOO_B = {**_SOO_FIX, "delay1": (_U, 900, 1100), "response": 500}
_SOO_C = {**_SOO_FIX, "delay1": (_U, 900, 1100), "stim2": (_U, 400, 600), "response": 500}
for _fam in ("fd", "react", "dm"):
    TIMINGS[("soo-a", _fam)] = _SOO_A
TIMINGS[("soo-b", "delay")] = _SOO_B
for _fam in ("delaydm", "dms", "dmc"):
    TIMINGS[("soo-c", _fam)] = _SOO_C

_P = {p: i for i, p in enumerate(PERIODS)}


def _win(first: str, last: str | None) -> tuple[int, int]:
    """Boundary indices of the window from the start of ``first`` to the end of ``last``
    (``None``: to the end of the trial)."""
    return (_P[first], _END if last is None else _P[last] + 1)


_NONE = (0, 0)
#: (stimulus-1 window, stimulus-2 window, boundary where the fixation input goes off).
WINDOWS: dict[tuple[str, str], tuple[tuple[int, int], tuple[int, int], int]] = {
    # Yang: fd stimuli stay on through the response; react stimuli appear at the go cue with
    # the fixation input still on; dms/dmc's second stimulus is the go cue.
    ("yang", "fd"): (_win("stim1", None), _NONE, _GO),
    ("yang", "react"): (_win("response", None), _NONE, _END),
    ("yang", "delay"): (_win("stim1", "stim1"), _NONE, _GO),
    ("yang", "dm"): (_win("stim1", "stim1"), _win("stim1", "stim1"), _GO),
    ("yang", "delaydm"): (_win("stim1", "stim1"), _win("stim2", "stim2"), _GO),
    ("yang", "dms"): (_win("stim1", "stim1"), _win("response", None), _END),
    ("yang", "dmc"): (_win("stim1", "stim1"), _win("response", None), _END),
    # Soo et al.: every stimulus is shown in its own period only; the response period holds the
    # rule input alone (plus fixation and stimulus for the reaction-time rules).
    ("soo-a", "fd"): (_win("stim1", "stim1"), _NONE, _GO),
    ("soo-a", "react"): (_win("response", None), _NONE, _END),
    ("soo-a", "dm"): (_win("stim1", "stim1"), _win("stim1", "stim1"), _GO),
    ("soo-b", "delay"): (_win("stim1", "stim1"), _NONE, _GO),
    ("soo-c", "delaydm"): (_win("stim1", "stim1"), _win("stim2", "stim2"), _GO),
    ("soo-c", "dms"): (_win("stim1", "stim1"), _win("stim2", "stim2"), _GO),
    ("soo-c", "dmc"): (_win("stim1", "stim1"), _win("stim2", "stim2"), _GO),
}


# --- ring coding ---------------------------------------------------------------------------
def circular_distance(a, b):
    """Distance on the circle between angles ``a`` and ``b`` (radians), in ``[0, pi]``."""
    d = jnp.mod(a - b, 2 * jnp.pi)
    return jnp.minimum(d, 2 * jnp.pi - d)


def ring_bump(loc, n_ring: int):
    r"""Yang's ring code of angle(s) ``loc``: :math:`0.8\,e^{-d^2/(2(\pi/8)^2)}` per unit.

    Unit ``k`` prefers :math:`2\pi k / n`; ``d`` is the circular distance to ``loc``.

    Parameters
    ----------
    loc : array, shape ``(...)``
        Angles in radians.
    n_ring : int
        Units on the ring.

    Returns
    -------
    array, shape ``(..., n_ring)``

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> b = ring_bump(jnp.asarray(jnp.pi), 32)
    >>> int(b.argmax()), round(float(b.max()), 3)
    (16, 0.8)
    """
    pref = jnp.arange(n_ring) * (2 * jnp.pi / n_ring)
    d = circular_distance(jnp.asarray(loc)[..., None], pref)
    return _BUMP_AMP * jnp.exp(-0.5 * (d / _BUMP_WIDTH) ** 2)


def popvec(ring):
    r"""Population-vector angle of ring activity ``(..., n)`` in ``[0, 2\pi)`` (Yang's readout).

    :math:`\operatorname{atan2}(\sum_k y_k \sin\phi_k, \sum_k y_k \cos\phi_k)` with
    :math:`\phi_k = 2\pi k/n`. (Yang divides both sums by :math:`\sum_k y_k`, which changes
    nothing for his positive sigmoid outputs; without it the readout stays meaningful for a
    linear readout whose outputs may sum to a negative number.)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> round(float(popvec(0.05 + ring_bump(jnp.asarray(1.0), 32))), 4)
    1.0
    """
    n = ring.shape[-1]
    pref = jnp.arange(n) * (2 * jnp.pi / n)
    ang = jnp.arctan2((ring * jnp.sin(pref)).sum(-1), (ring * jnp.cos(pref)).sum(-1))
    return jnp.mod(ang, 2 * jnp.pi)


# --- trial content: locations, strengths, target --------------------------------------------
# Every random quantity of a trial is a function of one row of uniforms (no per-rule PRNG
# calls: each jax.random call is a threefry hash that XLA compiles slowly, and a mixed-rule
# batch would need hundreds of them). Trials of different rules may share uniforms; each
# trial only ever uses those of its own rule, so they stay independent.
_N_UNIFORMS = 12


def _between(u, lo, hi):
    return lo + (hi - lo) * u


def _sign(u):
    return jnp.where(u < 0.5, 1.0, -1.0)


def _genstim(u3, coherences):
    """Yang's ``contextdm_genstim``: two strengths ``mean +- coh * sign`` (three uniforms)."""
    mean = _between(u3[0], 0.8, 1.2)
    coh = jnp.asarray(coherences)[_index(u3[1], len(coherences))]
    sign = _sign(u3[2])
    return mean + coh * sign, mean - coh * sign, coh


def _content(spec: RuleSpec, u) -> dict[str, jax.Array]:
    """Per-trial stimuli and target of one rule from uniforms ``u`` ``(_N_UNIFORMS, B)``:
    ``loc`` (B, 2), ``strength`` (B, 2 stimuli, 2 modalities), ``target_loc`` (B,; -1 on no-go
    trials), ``respond``, ``coherence`` and ``match``."""
    B = u.shape[1]
    two_pi = 2 * jnp.pi
    zeros, ones = jnp.zeros((B,)), jnp.ones((B,))
    if spec.content == "go":
        loc1 = two_pi * u[0]
        s1 = jax.nn.one_hot(_index(u[1], 2), 2)                 # a random modality
        strength = jnp.stack([s1, jnp.zeros_like(s1)], axis=1)
        target = jnp.mod(loc1 + (jnp.pi if spec.anti else 0.0), two_pi)
        return {"loc": jnp.stack([loc1, zeros], 1), "strength": strength, "target_loc": target,
                "respond": ones, "coherence": zeros, "match": -ones}
    if spec.content == "dm":
        loc1 = two_pi * u[0]
        dist = _between(u[1], 0.5 * jnp.pi, 1.5 * jnp.pi) * _sign(u[2])
        loc2 = jnp.mod(loc1 + dist, two_pi)
        if spec.dm_mode in ("mod1", "mod2"):
            a, b, coh = _genstim(u[3:6], spec.coherences)
            on = 1.0 if spec.dm_mode == "mod1" else 0.0
            m1 = jnp.stack([a * on, b * on], 1)             # (B, stim) in modality 1
            m2 = jnp.stack([a * (1 - on), b * (1 - on)], 1)
            eff1, eff2 = a, b
        elif spec.dm_mode in ("ctx1", "ctx2"):
            a1, b1, c1 = _genstim(u[3:6], spec.coherences)
            a2, b2, c2 = _genstim(u[6:9], spec.coherences)
            m1, m2 = jnp.stack([a1, b1], 1), jnp.stack([a2, b2], 1)
            eff1, eff2, coh = (a1, b1, c1) if spec.dm_mode == "ctx1" else (a2, b2, c2)
        else:  # multi: the sum over modalities decides
            a, b, coh = _genstim(u[3:6], spec.coherences)
            da = a * _between(u[6], 0.2, 0.8) * _sign(u[7])
            db = b * _between(u[8], 0.2, 0.8) * _sign(u[9])
            m1 = jnp.stack([a + da / 2, b + db / 2], 1)
            m2 = jnp.stack([a - da / 2, b - db / 2], 1)
            eff1, eff2 = a, b
        strength = jnp.stack([m1, m2], axis=2)              # (B, stim, modality)
        target = jnp.where(eff1 > eff2, loc1, loc2)
        return {"loc": jnp.stack([loc1, loc2], 1), "strength": strength, "target_loc": target,
                "respond": ones, "coherence": coh, "match": -ones}
    # match-to-sample (dms) or match-to-category (dmc)
    if spec.category:
        choices = jnp.asarray([0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9]) * jnp.pi
        loc1, loc2 = choices[_index(u[0], 10)], choices[_index(u[1], 10)]
        match = (loc1 < jnp.pi) == (loc2 < jnp.pi)
    else:
        match = u[0] < 0.5
        loc1 = two_pi * u[1]
        dist = _between(u[2], jnp.pi / 9, 17 * jnp.pi / 9) * _sign(u[3])
        loc2 = jnp.mod(loc1 + jnp.where(match, 0.0, dist), two_pi)
    strength = jax.nn.one_hot(jnp.stack([_index(u[4], 2), _index(u[5], 2)], 1), 2)  # random modalities
    respond = match == spec.go_on_match
    return {"loc": jnp.stack([loc1, loc2], 1), "strength": strength,
            "target_loc": jnp.where(respond, loc2, -1.0), "respond": respond.astype(jnp.float32),
            "coherence": zeros, "match": match.astype(jnp.float32)}


# --- the task base ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RingTask(Task):
    r"""Shared engine of the ring-encoded task family (Yang et al. 2019; Soo et al. 2023).

    Not registered itself: use a rule task (``FdGo``, ``DM1``...), :class:`YangMultitask`,
    or a Soo structure (``SooA``, ``SooB``, ``SooC``).

    **Inputs** ``(T, B, 1 + 2 n_ring + 20)``: a fixation unit, two rings of ``n_ring`` units
    (modality 1 and 2) and 20 one-hot rule units (in the order of :data:`YANG_RULES`; the rule
    unit is on for the whole trial). A stimulus at angle :math:`\theta` with strength
    :math:`s` adds :math:`s\,0.8\,e^{-d^2/2(\pi/8)^2}` to the units of its ring, ``d`` being
    the circular distance to each unit's preferred angle :math:`2\pi k/n`. Input noise of
    standard deviation :math:`\sigma_x\sqrt{2\tau/dt}` is added on every channel (Yang's
    ``sigma_x * sqrt(2/alpha)``). Padding steps are exactly 0.

    **Targets** ``(T, B, 1 + n_ring)`` (float, MSE): every output is 0.05 except the fixation
    output, ``fix_target`` while the network must fixate, and, after the go cue of a trial
    that needs a response, the ring, :math:`0.05 + 0.8\,e^{-d^2/2(\pi/8)^2}` around the
    response angle. Padding is 0.

    **Mask** ``(T, B, 1 + n_ring)``: 0 in the first ``mask_start`` ms of the fixation period,
    1 until the go cue, 0 for ``grace`` ms after it, ``response_weight`` for the rest of the
    response, 0 on padding; the fixation output's column is multiplied by
    ``fixation_weight``. (Yang's TensorFlow loss squares this mask inside the mean, so its
    effective weights are 25x and 4x; :func:`neurotrain.training.masked_mse` uses it
    linearly.)

    **Performance** (``perf``, Yang's definition, per trial): the fixation output must stay
    above 0.5 at every scored step before the go cue (from ``mask_start`` on), else the trial
    is wrong; then, at the last step of the trial, a trial needing a response is correct if
    the fixation output is below 0.5 and the population-vector angle of the ring outputs
    (:func:`popvec`) is within :math:`0.2\pi` of the target; a no-go trial is correct if the
    fixation output stayed above 0.5 through the whole trial. ``fix_ok`` reports the
    pre-go fixation alone.

    **Info** (each ``(B,)``): ``<period>_on`` / ``<period>_off`` for every period of
    :data:`PERIODS` (step indices; unused periods have ``on == off``; ``response_off`` is the
    trial's end), ``rule`` (index into :data:`YANG_RULES`), ``stim1_loc``, ``stim2_loc``
    (radians), ``stim{1,2}_mod{1,2}`` (strengths; 0 where absent), ``target_loc`` (-1 on no-go
    trials), ``respond`` (1 if a response is required), ``coherence`` (dm rules) and
    ``match`` (1/0 for dms/dmc, -1 otherwise).

    Trials have random period durations and are padded to :meth:`num_steps`.

    Parameters
    ----------
    dt : float
        Step in ms.
    n_ring : int
        Units per ring (32).
    sigma_x : float
        Input noise level (0.01); per-step standard deviation ``sigma_x * sqrt(2 tau / dt)``.
    tau : float
        Network time constant in ms used to scale the input noise (100).
    mask_start, grace : float
        Unscored lead (100) and post-go-cue grace period (100), ms.
    response_weight, fixation_weight : float
        Loss weight of the response period (5) and multiplier of the fixation column (2).
    fix_target : float
        Target of the fixation output while fixating (0.8); must exceed 0.5.
    balance_response : bool
        Multiply each trial's response weight by (scored pre-go steps / scored response
        steps), so both parts weigh the same as in Soo et al.'s loss (False).
    timing : tuple of (period, duration) pairs, or dict
        Overrides of the default period durations (:data:`TIMINGS`) for the periods the rule
        has, e.g. ``{"delay1": 1000}``. A duration is a number of ms (fixed); a pair
        ``(lo, hi)`` (a multiple of ``dt`` drawn uniformly in ``[lo, hi]``, as
        :class:`~neurotrain.tasks.TimedTask`); ``("choice", a, b, ...)`` (one of the values);
        or ``("uniform", lo, hi)`` (Yang's ``int(U(lo, hi)/dt)``: a multiple of ``dt`` in
        ``[lo, hi)``). Every value must be a multiple of ``dt``.
    """

    dt: float = 20.0
    n_ring: int = 32
    sigma_x: float = 0.01
    tau: float = 100.0
    mask_start: float = 100.0
    grace: float = 100.0
    response_weight: float = 5.0
    fixation_weight: float = 2.0
    fix_target: float = 0.8
    balance_response: bool = False
    timing: tuple = ()

    target_type = "value"
    primary_metric = "perf"
    higher_is_better = True
    #: ``"yang"`` or a Soo structure ``"soo-a"``/``"soo-b"``/``"soo-c"``
    structure: ClassVar[str] = "yang"
    periods: ClassVar[tuple[str, ...]] = PERIODS

    # --- which rules a batch draws (overridden) ----------------------------------------------
    def rule_names(self) -> tuple[str, ...]:
        """The rules this task draws trials from."""
        raise NotImplementedError

    def rule_weights(self) -> tuple[float, ...] | None:
        """Relative probabilities of :meth:`rule_names` (``None``: uniform)."""
        return None

    # --- validation --------------------------------------------------------------------------
    def __post_init__(self):
        t = self.timing
        if isinstance(t, dict):
            t = tuple(t.items())
        if not isinstance(t, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in t):
            raise ConfigError(
                f"timing must be a dict or a list of (period, duration) pairs, e.g. "
                f"(('delay1', 1000),); got {self.timing!r}."
            )
        object.__setattr__(self, "timing", tuple((str(p), canonical_duration(f"timing[{str(p)!r}]", v))
                                                 for p, v in t))
        super().__post_init__()

    def validate(self):
        self.check_field("n_ring", check_int, minimum=2, fix="Yang uses 32 units per ring.")
        self.check_field("sigma_x", check_number, minimum=0.0, fix="sigma_x is the input noise level.")
        for name in ("tau", "response_weight", "fixation_weight"):
            self.check_field(name, check_positive)
        self.check_field("fix_target", check_number, minimum=_THRESHOLD, inclusive=False, maximum=1.0,
                         fix="Fixating must read as fixation (output above 0.5): Yang uses 0.8, Soo 0.85.")
        self.check_field("balance_response", check_bool)
        steps_of("mask_start", self.mask_start, self.dt)
        grace = steps_of("grace", self.grace, self.dt)
        rules = self.rule_names()
        used: set[str] = set()
        for r in rules:
            used |= set(self._default_timing(r))
        for p, _ in self.timing:
            if p not in used:
                raise ConfigError(
                    f"timing sets period {p!r}, which the rules {', '.join(rules)} do not have; "
                    f"their periods: {', '.join(q for q in PERIODS if q in used)}."
                )
        for r in rules:
            shortest = self.trial_timing(r).periods[_GO].min_steps
            if shortest <= grace:
                raise ConfigError(
                    f"rule {r!r}: the response period (at least {shortest * self.dt:g} ms) "
                    f"must outlast grace={self.grace} ms, or no response step is scored; "
                    f"shorten grace or lengthen timing['response']."
                )

    # --- timing ------------------------------------------------------------------------------
    def _default_timing(self, rule: str) -> dict[str, Any]:
        fam = RULE_SPECS[rule].family
        key = (self.structure, fam)
        if key not in TIMINGS:
            raise ConfigError(f"rule {rule!r} has no {self.structure!r} trial structure.")
        base = {"pre": 0.0} if "pre" not in TIMINGS[key] else {}
        return {**base, **{p: canonical_duration(p, v) for p, v in TIMINGS[key].items()}}

    def rule_timing(self, rule: str) -> dict[str, Any]:
        """The period durations (ms specs) of ``rule`` after the ``timing`` overrides."""
        spec = self._default_timing(rule)
        for p, v in self.timing:
            if p in spec:
                spec[p] = v
        return spec

    def trial_timing(self, rule: str | None = None) -> Timing:
        """The periods of :data:`PERIODS` for ``rule`` (default: the first rule) in steps of
        ``dt`` (:class:`~neurotrain.tasks.Timing`); the periods the rule does not use last 0."""
        rule = rule or self.rule_names()[0]
        spec = self.rule_timing(rule)
        return Timing.from_ms({p: spec.get(p, 0.0) for p in PERIODS}, self.dt,
                              labels={p: f"{rule} timing[{p!r}]" for p in PERIODS})

    def num_steps(self) -> int:
        return max(self.trial_timing(r).num_steps for r in self.rule_names())

    # --- sizes -------------------------------------------------------------------------------
    @property
    def num_in(self) -> int:
        return 1 + 2 * self.n_ring + len(YANG_RULES)

    @property
    def num_out(self) -> int:
        return 1 + self.n_ring

    # --- sampling ----------------------------------------------------------------------------
    def _sample(self, key, batch_size):
        B, T, n = batch_size, self.num_steps(), self.n_ring
        rules = self.rule_names()
        # One small threefry draw of 192 bits keys everything else: the per-trial uniforms and the
        # input noise come from the counter-based generator above (jax.random.uniform on the
        # (19, B) block ran threefry as a loop of small kernels on CPU, ~0.07 ms per batch).
        kb = jax.random.bits(key, (6,), jnp.uint32)
        n_u = len(PERIODS) + _N_UNIFORMS
        u = _uniform_from_key_bits(kb[:2], (n_u + 1, B))          # durations, content; last row: rule

        # which rule each trial follows (position in `rules`)
        if len(rules) == 1:
            pos = jnp.zeros((B,), jnp.int32)
        elif self.rule_weights() is None:
            pos = _index(u[n_u], len(rules))
        else:                                                     # inverse CDF of the rule weights
            edges = np.cumsum(self.rule_weights())[:-1]
            pos = (u[n_u][None] >= jnp.asarray(edges, jnp.float32)[:, None]).sum(0).astype(jnp.int32)
        rows = jnp.arange(B)

        def pick(stacked):          # (R, B, ...) -> (B, ...) by each trial's rule
            return stacked[pos, rows]

        # durations (B, periods) and content, per rule, from one block of uniforms
        durs, contents = [], []
        for r in rules:
            durs.append(self.trial_timing(r).durations_from_uniforms(u[:len(PERIODS)]))
            contents.append(_content(RULE_SPECS[r], u[len(PERIODS):n_u]))
        dur = pick(jnp.stack(durs))
        c = jax.tree.map(lambda *xs: pick(jnp.stack(xs)), *contents)
        win = [WINDOWS[(self.structure, RULE_SPECS[r].family)] for r in rules]
        win_idx = jnp.asarray([[w[0][0], w[0][1], w[1][0], w[1][1], w[2]] for w in win], jnp.int32)[pos]

        bounds = jnp.concatenate([jnp.zeros((B, 1), jnp.int32), jnp.cumsum(dur, axis=1)], axis=1)
        at = jnp.take_along_axis
        s_on = at(bounds, win_idx[:, [0, 2]], axis=1)           # (B, 2) stimulus on/off
        s_off = at(bounds, win_idx[:, [1, 3]], axis=1)
        fix_in_off = at(bounds, win_idx[:, 4:5], axis=1)[:, 0]
        fix_on, go, end = bounds[:, _FIX], bounds[:, _GO], bounds[:, _END]

        # Each (T, B, channel) array is one fused elementwise pass: a sum of per-(t, b) period
        # switches times per-(b, channel) rows. The rows are built by a matmul with a 0/1
        # placement matrix (exact), not a concatenate: XLA would fuse a concatenate into the big
        # pass, which then no longer vectorises over channels (several times slower on CPU).
        t = jnp.arange(T, dtype=jnp.int32)[:, None]              # (T, 1)
        valid = t < end[None]                                    # (T, B)

        def on(mask):                                            # (T, B) bool -> (T, B, 1) float
            return mask[..., None].astype(jnp.float32)

        def place(x, offset, width):                             # (B, k) -> (B, width), x at columns offset...
            return jnp.matmul(x, jnp.asarray(np.eye(x.shape[-1], width, offset, dtype=np.float32)),
                              precision=jax.lax.Precision.HIGHEST)  # exact: no TF32 / bf16 passes

        nr, n_in = len(YANG_RULES), self.num_in
        fix_in = (t >= fix_on) & (t < fix_in_off)
        amp = c["strength"][..., None] * ring_bump(c["loc"], n)[:, :, None, :]   # (B, stim, modality, n)
        rule_idx = jnp.asarray([YANG_RULES.index(r) for r in rules], jnp.int32)[pos]
        x = on(fix_in) * jnp.asarray(np.eye(1, n_in, 0, dtype=np.float32))
        x = x + place(jax.nn.one_hot(rule_idx, nr), 1 + 2 * n, n_in)[None]
        for s in (0, 1):
            shown = (t >= s_on[:, s]) & (t < s_off[:, s])
            x = x + on(shown) * place(amp[:, s].reshape(B, 2 * n), 1, n_in)[None]
        if self.sigma_x > 0:
            sd = self.sigma_x * math.sqrt(2.0 * self.tau / self.dt)
            noise = (_normal_from_key_bits(kb[2:], x.shape) if x.size < 2 ** 32
                     else jax.random.normal(jax.random.fold_in(key, 1), x.shape))
            x = x + sd * noise
        inputs = jnp.where(valid[..., None], x, 0.0)

        respond = c["respond"] > 0
        fix_out_off = jnp.where(respond, go, end)
        y_fix = jnp.where((t >= fix_on) & (t < fix_out_off), self.fix_target, _BASELINE)
        resp_on = respond[None] & (t >= go[None])
        fix_col = np.eye(1, 1 + n, 0, dtype=np.float32)[0]
        y = (y_fix[..., None] * fix_col + (1.0 - fix_col) * _BASELINE
             + on(resp_on) * place(ring_bump(c["target_loc"], n), 1, 1 + n)[None])
        targets = jnp.where(valid[..., None], y, 0.0)

        ms, gr = steps_of("mask_start", self.mask_start, self.dt), steps_of("grace", self.grace, self.dt)
        pre_w = (t >= (fix_on + ms)[None]) & (t < go[None])
        post_w = (t >= (go + gr)[None]) & valid
        rw = jnp.full((B,), float(self.response_weight))
        if self.balance_response:
            n_pre = jnp.maximum(go - fix_on - ms, 0)
            rw = rw * n_pre / jnp.maximum(end - go - gr, 1)
        w = pre_w.astype(jnp.float32) + post_w * rw[None]
        col = np.ones(1 + n, np.float32)
        col[0] = self.fixation_weight
        mask = w[..., None] * col

        info = {f"{p}_{s}": bounds[:, i + (s == "off")] for i, p in enumerate(PERIODS) for s in ("on", "off")}
        info.update({
            "rule": rule_idx, "stim1_loc": c["loc"][:, 0], "stim2_loc": c["loc"][:, 1],
            "stim1_mod1": c["strength"][:, 0, 0], "stim1_mod2": c["strength"][:, 0, 1],
            "stim2_mod1": c["strength"][:, 1, 0], "stim2_mod2": c["strength"][:, 1, 1],
            "target_loc": c["target_loc"], "respond": c["respond"], "coherence": c["coherence"],
            "match": c["match"],
        })
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    # --- scoring -----------------------------------------------------------------------------
    def _windows(self, batch):
        T = batch.num_steps
        t = jnp.arange(T)[:, None]
        info = batch.info
        ms = steps_of("mask_start", self.mask_start, self.dt)
        check_on = (info["fixation_on"] + ms)[None]
        go, end = info["response_on"][None], info["response_off"][None]
        return t, check_on, go, end

    def trial_metrics(self, outputs, batch):
        t, check_on, go, end = self._windows(batch)
        fixating = outputs[..., 0] > _THRESHOLD                        # (T, B)
        fix_ok = jnp.all(jnp.where((t >= check_on) & (t < go), fixating, True), axis=0)
        hold_all = jnp.all(jnp.where((t >= check_on) & (t < end), fixating, True), axis=0)
        last = jnp.maximum(batch.info["response_off"] - 1, 0)
        out_last = jnp.take_along_axis(outputs, last[None, :, None], axis=0)[0]   # (B, num_out)
        err = circular_distance(popvec(out_last[:, 1:]), batch.info["target_loc"])
        go_ok = fix_ok & (out_last[:, 0] < _THRESHOLD) & (err < _ANGLE_TOL)
        perf = jnp.where(batch.info["respond"] > 0, go_ok, hold_all)
        return {"perf": perf.astype(jnp.float32), "fix_ok": fix_ok.astype(jnp.float32)}

    def ideal_observer(self, batch):
        """Accuracy of a matched-filter observer on the noisy inputs of the decision rules.

        For each dm-type trial (``dm*``, ``contextdm*``, ``multidm`` and their delayed
        versions), the strength of each stimulus on each ring is estimated by projecting the
        ring input on the stimulus's bump and averaging over the stimulus's period; the observer
        picks the stimulus that is stronger on the modality the rule attends (both summed for
        the multisensory rules). It knows the stimulus angles and periods, so it is an upper
        bound on a network's accuracy given the input noise (the network also has its own
        noise). Other rules' answers are not limited by the noise: they count as correct.
        Returns ``{"perf": (B,)}``; the trainer and :func:`neurotrain.analysis.evaluate`
        report it as ``ideal_perf``.
        """
        info, n = batch.info, self.n_ring
        t = jnp.arange(batch.num_steps)[:, None]
        on1, off1 = info["stim1_on"], info["stim1_off"]
        two = info["stim2_off"] > info["stim2_on"]                       # sequential (delayed) stimuli
        on2, off2 = jnp.where(two, info["stim2_on"], on1), jnp.where(two, info["stim2_off"], off1)
        est = []
        for loc, on, off in ((info["stim1_loc"], on1, off1), (info["stim2_loc"], on2, off2)):
            f = ring_bump(loc, n)                                        # (B, n)
            w = ((t >= on) & (t < off)).astype(jnp.float32)              # (T, B)
            proj = jnp.stack([(batch.inputs[..., 1 + m * n:1 + (m + 1) * n] * f).sum(-1) for m in (0, 1)], -1)
            est.append((proj * w[..., None]).sum(0) / jnp.maximum(w.sum(0), 1)[:, None] / (f * f).sum(-1)[:, None])
        attend = {"mod1": (1.0, 0.0), "ctx1": (1.0, 0.0), "mod2": (0.0, 1.0), "ctx2": (0.0, 1.0), "multi": (1.0, 1.0)}
        table = jnp.asarray([attend.get(RULE_SPECS[r].dm_mode, (0.0, 0.0)) for r in YANG_RULES])
        wm = table[info["rule"]]                                         # (B, 2)
        choose1 = (est[0] * wm).sum(-1) > (est[1] * wm).sum(-1)
        right = choose1 == (circular_distance(info["target_loc"], info["stim1_loc"]) < 1e-4)
        is_dm = wm.sum(-1) > 0
        return {"perf": jnp.where(is_dm, right, True).astype(jnp.float32)}

    def fixed_inputs(self, rule: str | None = None) -> jax.Array:
        """The noiseless input during fixation of ``rule`` (default: the first rule), ``(num_in,)``:
        fixation and rule units on, rings silent (e.g. to look for fixed points)."""
        rule = rule or self.rule_names()[0]
        x = jnp.zeros((self.num_in,)).at[0].set(1.0)
        return x.at[1 + 2 * self.n_ring + YANG_RULES.index(rule)].set(1.0)


def _check_rules(rules, allowed: tuple[str, ...], field: str = "rules", aliases=None) -> tuple[str, ...]:
    if isinstance(rules, str):
        rules = (rules,)
    if not isinstance(rules, (list, tuple)) or not rules:
        raise ConfigError(f"{field} must be a non-empty list of rule names; got {rules!r}.")
    out = []
    for r in rules:
        key = str(r).strip().lower().replace("_", "").replace("-", "")
        key = (aliases or {}).get(key, key)
        if key not in allowed:
            raise ConfigError(f"{field} has the unknown rule {r!r}; choose from {', '.join(allowed)}.")
        out.append(key)
    if len(set(out)) != len(out):
        raise ConfigError(f"{field} lists a rule twice: {tuple(rules)}.")
    return tuple(out)


def _check_probs(probs, n: int):
    if probs is None:
        return None
    if not isinstance(probs, (list, tuple)) or len(probs) != n \
            or not all(is_number(p) and 0 <= p < math.inf for p in probs) \
            or sum(probs) <= 0:
        raise ConfigError(f"rule_probs must be {n} non-negative numbers (one per rule) with a positive sum, "
                          f"or None for uniform; got {probs!r}.")
    s = float(sum(probs))
    return tuple(float(p) / s for p in probs)


def _set_rule_subset(task, rules, allowed: tuple[str, ...], aliases=None) -> None:
    """Validate and store a mixed-rule task's ``rules`` and normalised ``rule_probs``."""
    object.__setattr__(task, "rules", _check_rules(rules, allowed, aliases=aliases))
    probs = tuple(task.rule_probs) if isinstance(task.rule_probs, list) else task.rule_probs
    object.__setattr__(task, "rule_probs", _check_probs(probs, len(task.rules)))


@dataclasses.dataclass(frozen=True)
class YangTask(RingTask):
    """Base of the 20 single-rule tasks of Yang et al. (2019); see :class:`RingTask`.

    Subclasses set the class attribute ``rule``; all parameters are :class:`RingTask`'s with
    Yang's defaults (``dt=20`` ms, 32 units per ring, ``sigma_x=0.01``).
    """

    rule: ClassVar[str] = ""

    def rule_names(self) -> tuple[str, ...]:
        if not self.rule:
            raise ConfigError("YangTask is the base of the rule tasks; build one of them, e.g. "
                              "neurotrain.tasks.FdGo() or make_task('fdgo').")
        return (self.rule,)


@register_task("yang-multitask", aliases=("yang", "multitask", "yang-all"), paper=YANG_PAPER)
@dataclasses.dataclass(frozen=True)
class YangMultitask(RingTask):
    """Mixed-rule batches of the Yang et al. (2019) family: each trial draws its own rule.

    Every trial of a batch follows one of ``rules`` (drawn with ``rule_probs``), with that
    rule's timing, stimuli, targets and mask (see :class:`RingTask`), all padded to the longest
    rule's :meth:`num_steps`. ``info["rule"]`` holds each trial's rule (index into
    :data:`YANG_RULES`), which is also the condition key, so
    :func:`neurotrain.analysis.evaluate` reports the performance per rule. (Yang et al. draw
    one rule per batch; mixing per trial gives the same expected gradient with less variance.)

    Parameters
    ----------
    rules : tuple of str
        Rule names from :data:`YANG_RULES` (all 20 by default).
    rule_probs : tuple of float, optional
        Relative probability of each rule (normalised); ``None`` for uniform. The other
        parameters are those of :class:`RingTask`.

    Examples
    --------
    >>> import jax
    >>> task = YangMultitask(rules=("fdgo", "dmsgo"), rule_probs=(3, 1))
    >>> b = task.sample(jax.random.PRNGKey(0), 4)
    >>> b.inputs.shape, b.targets.shape, task.num_in, task.num_out
    ((165, 4, 85), (165, 4, 33), 85, 33)
    >>> task.rule_names()
    ('fdgo', 'dmsgo')
    """

    rules: tuple = YANG_RULES
    rule_probs: tuple | None = None

    condition_keys = ("rule",)

    def __post_init__(self):
        _set_rule_subset(self, self.rules, YANG_RULES)
        super().__post_init__()

    def rule_names(self) -> tuple[str, ...]:
        return self.rules

    def rule_weights(self):
        return self.rule_probs

    @staticmethod
    def rule_name(index: int) -> str:
        """The name of rule ``index`` as stored in ``info["rule"]``."""
        return YANG_RULES[int(index)]
