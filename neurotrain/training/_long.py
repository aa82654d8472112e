"""Training leaky RNNs on long-term dependencies: coarsened discretisation (CD), skip connections
through time (SCTT) and dynamics-aligned skip connections (DASC).

Soo, Goudar & Wang (NeurIPS 2023, "Training biologically plausible recurrent neural networks
on cognitive tasks with long-term dependencies") show that a leaky rate RNN integrated with a
fine Euler step (5 ms) fails to learn tasks with second-long delays by BPTT, and that three
changes to the *training* dynamics fix it, each annealed back to the plain model:

* **CD** trains with a coarse step ``theta * dt`` (the task's periods and the per-step noise
  constants follow the step; ``tau`` stays), then refines it stage by stage back to ``dt``.
* **SCTT** mixes, every ``theta`` fine steps, the state of ``theta`` steps before into the
  current one: ``r <- beta r + (1 - beta) r_blockstart``.
* **DASC** mixes in the coarse Euler prediction of the block instead:
  ``r <- beta r + (1 - beta) (r_blockstart + theta dr)``, ``dr`` being one fine step's increment.

Blocks start at each task period's first step (every trial's own period boundaries from
``batch.info``), as in the authors' code. ``beta`` is fixed within a stage and annealed
``beta0 -> 1`` over the stages; the last phase trains the plain model. Evaluation always runs
the plain model at the task's ``dt``. All three are strategy objects built on BPTT: their
schedules are :class:`~neurotrain.training.Phase` s (each compiled once, resumable inside a
stage) and SCTT/DASC change the time stepping through the forward pass's transform hook.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from .._errors import ConfigError
from .._validate import check_bool, check_int, check_number
from ._methods import BPTT, register_method
from ._schedule import Phase

__all__ = ["SkipTransform", "CD", "SCTT", "DASC", "skip_blocks"]


def skip_blocks(info, num_steps: int, theta: int):
    """``(period_start, block_end)``, two ``(T, B)`` bool arrays: step ``t`` of trial ``b``
    starts a period, or ends a block of ``theta`` steps counted from its period's start.

    Periods are read from ``info["<name>_on"]`` / ``info["<name>_off"]`` (empty ones are
    skipped); without any, the whole trial is one period starting at step 0.
    """
    names = [k[:-3] for k in info if k.endswith("_on") and f"{k[:-3]}_off" in info]
    t = jnp.arange(num_steps, dtype=jnp.int32)[:, None]
    if not names:
        start = jnp.zeros((num_steps, 1), bool).at[0].set(True)
        rel = t
        return start, ((rel % theta) == theta - 1)
    ons = jnp.stack([jnp.asarray(info[f"{p}_on"], jnp.int32) for p in names])     # (P, B)
    offs = jnp.stack([jnp.asarray(info[f"{p}_off"], jnp.int32) for p in names])
    live = offs > ons
    start = jnp.any((t[None] == ons[:, None]) & live[:, None], axis=0)              # (T, B)
    # the start of the period step t lies in: the largest live onset <= t
    last_on = jnp.max(jnp.where((ons[:, None] <= t[None]) & live[:, None], ons[:, None], 0), axis=0)
    rel = t - last_on
    return start, ((rel % theta) == theta - 1)


@dataclasses.dataclass(frozen=True, eq=False)
class SkipTransform:
    """The forward-pass transform of SCTT and DASC (see the module docstring).

    Attributes
    ----------
    theta : int
        Block length in fine steps.
    beta : float
        Weight of the current state at a block's end (1: no skip).
    aligned : bool
        DASC (``True``: the block's coarse Euler prediction) or SCTT (``False``: the state at
        the block's start).
    period_start, block_end : arrays ``(T, B)``
        From :func:`skip_blocks`.
    fresh : bool
        DASC's prediction of a block that follows another: ``False`` (the authors' code) takes
        the increment of the previous block's last step, before its mix; ``True`` the increment
        of the block's own first step, from the state the block starts in (the derivative at
        ``r_blockstart``, as the paper's equation reads). Equal for SCTT.
    """

    theta: int
    beta: float
    aligned: bool
    period_start: Any
    block_end: Any
    fresh: bool = False

    def _prediction(self, state, increment):
        if not self.aligned:
            return state
        return jax.tree.map(lambda s, d: s + self.theta * d, state, increment)

    def init(self, state):
        return _h(state)

    def apply(self, t, previous, new, block):
        prev_h, new_h = _h(previous), _h(new)
        du = jax.tree.map(jnp.subtract, new_h, prev_h)
        starts = self.period_start[t][:, None]
        ends = self.block_end[t][:, None]
        if self.fresh:   # every block opens at its first step, from the state before it
            opens = starts | ((t > 0) & self.block_end[jnp.maximum(t - 1, 0)][:, None])
        else:            # a period's first step opens a block from the state before it
            opens = starts
        block = jax.tree.map(lambda p, b: jnp.where(opens, p, b), self._prediction(prev_h, du), block)
        mixed = jax.tree.map(lambda n, b: self.beta * n + (1.0 - self.beta) * b, new_h, block)
        out = jax.tree.map(lambda m, n: jnp.where(ends, m, n), mixed, new_h)
        if not self.fresh:   # the authors' code: the next block's prediction from this step's increment
            block = jax.tree.map(lambda o, b: jnp.where(ends, o, b), self._prediction(out, du), block)
        return _with_h(new, out), block


def _h(state):
    """The units' state of every layer (the first entry of each cell's state)."""
    return tuple(cell_state[0] for cell_state in state)


def _with_h(state, hs):
    return tuple((h, *cell_state[1:]) for h, cell_state in zip(hs, state))


def _check_leaky(model, name: str) -> None:
    bad = sorted({c.kind for c in model.layers if not hasattr(c, "tau")})
    if bad:
        raise ConfigError(f"{name} trains continuous-time (leaky) RNNs: its coarse or skipped steps are "
                          f"Euler steps of tau dr/dt = -r + f(...). The model has {', '.join(bad)} "
                          f"cells; use cell='leaky'.")


def _anneal(start: float, stages: int) -> list[float]:
    """``stages`` values from ``start`` to 1, evenly spaced (``[start]`` for one stage)."""
    if stages == 1:
        return [start]
    return [start + (1.0 - start) * e / (stages - 1) for e in range(stages)]


@dataclasses.dataclass(frozen=True)
class _Staged(BPTT):
    """Shared options and schedule building of CD, SCTT and DASC."""

    theta: int = 10
    stages: int = 2
    stage_steps: int = 500
    until: float | None = None
    metric: str | None = None
    reset_optimizer: bool = False

    exact: ClassVar[bool] = False

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "theta", check_int("theta", self.theta, minimum=1,
                                      fix="theta is the skip length in fine steps (Soo et al.: 10, 20 or 40)."))
        set_(self, "stages", check_int("stages", self.stages, minimum=1,
                                       fix="stages is the number of annealing stages (Soo et al.: 1, 2, 6 or 11)."))
        set_(self, "stage_steps", check_int("stage_steps", self.stage_steps, minimum=1))
        set_(self, "until", check_number("until", self.until, allow_none=True))
        set_(self, "reset_optimizer", check_bool("reset_optimizer", self.reset_optimizer))

    def prepare(self, model, task):
        if model is not None:
            _check_leaky(model, self.name.upper())
        return self

    def _stage_options(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def schedule(self, model, task, num_steps: int) -> list[Phase]:
        """The stages (each at most ``stage_steps`` steps, ending early at ``until``), then the
        plain model until ``num_steps``."""
        phases = [Phase(self.stage_steps, until=self.until, metric=self.metric, name=f"{self.name} stage {e}",
                        reset_optimizer=self.reset_optimizer and e > 0, **opts)
                  for e, opts in enumerate(self._stage_options())]
        phases.append(Phase(None, name="plain", reset_optimizer=self.reset_optimizer))
        return phases


@register_method
@dataclasses.dataclass(frozen=True)
class CD(_Staged):
    """Coarsened discretisation: train with Euler step ``m * dt``, ``m`` annealed from ``theta``
    to 1 over ``stages`` stages (``m_e = theta (S-1-e)/(S-1)``, 0 read as 1, as Soo, Goudar &
    Wang), then the plain model at ``dt``. The task is rebuilt at each stage's ``dt`` (its
    periods keep their length in ms, so they must be multiples of it: a clear error says which
    stage does not fit; ``factors=`` picks the multipliers by hand); the recurrent noise
    constants and ``alpha = dt/tau`` follow the step, ``tau`` stays. The optimiser's moments carry
    over between stages unless ``reset_optimizer=True`` (what the authors' code does).

    Parameters
    ----------
    theta : int
        The coarsest step, in fine steps (10: 50 ms for a 5 ms task).
    stages : int
        Soo et al.'s number of stages ``S`` (1, 2, 6 or 11): ``S - 1`` coarse stages, then the
        plain phase at ``dt``.
    factors : tuple of int, optional
        The step multipliers of the stages, instead of ``theta``/``stages`` (e.g. ``(10, 5, 2)``).
    stage_steps, until, metric, reset_optimizer
        Each stage's most steps, its held-out target and metric, fresh optimiser moments per stage.

    Examples
    --------
    >>> CD(theta=10, stages=6).stage_factors()
    [10, 8, 6, 4, 2]
    """

    factors: tuple | None = None

    name: ClassVar[str] = "cd"

    def __post_init__(self):
        super().__post_init__()
        if self.factors is not None:
            f = tuple(self.factors) if not isinstance(self.factors, (int, float)) else (self.factors,)
            object.__setattr__(self, "factors", tuple(check_int(f"factors[{i}]", v, minimum=2)
                                                      for i, v in enumerate(f)))
        elif self.theta < 2:
            raise ConfigError(f"theta must be an integer >= 2 for CD (the coarse step is theta * dt); got "
                              f"{self.theta}. theta=1 is the plain model.")

    def stage_factors(self) -> list[int]:
        """The Euler-step multipliers of the coarse stages."""
        if self.factors is not None:
            return list(self.factors)
        S = self.stages   # Soo et al.'s S stages, the last of which is at dt (the plain phase here)
        return [m for m in (round(self.theta * (S - 1 - e) / (S - 1)) for e in range(S - 1)) if m > 1]

    def schedule(self, model, task, num_steps: int) -> list[Phase]:
        phases = []
        for e, m in enumerate(self.stage_factors()):
            dt = float(task.dt) * m
            try:
                coarse = dataclasses.replace(task, dt=dt)
            except ConfigError as err:
                raise ConfigError(f"CD stage {e}: the task does not fit a step of {m} x {task.dt:g} = {dt:g} ms "
                                  f"({err}). Choose factors whose steps divide every period, e.g. "
                                  f"factors=(10, 5, 2) for 0.5 s periods at 5 ms.") from None
            phases.append(Phase(self.stage_steps, task=coarse, dt=dt, until=self.until, metric=self.metric,
                                reset_optimizer=self.reset_optimizer and e > 0, name=f"cd x{m} ({dt:g} ms)"))
        phases.append(Phase(None, name="plain", reset_optimizer=self.reset_optimizer))
        return phases

    def _how(self, path) -> str:
        return "exact gradient of the coarsened model (cd)"


@dataclasses.dataclass(frozen=True)
class _Skip(_Staged):
    beta0: float = 0.5

    aligned: ClassVar[bool] = False

    def __post_init__(self):
        super().__post_init__()
        b = check_number("beta0", self.beta0, minimum=0.0, maximum=1.0,
                         fix="beta0 is the first stage's weight of the current state (Soo et al.: 0, 0.2, 0.5, 0.8).")
        object.__setattr__(self, "beta0", b)
        if self.theta < 2:
            raise ConfigError(f"theta must be an integer >= 2 for {self.name.upper()} (the skip spans theta "
                              f"fine steps); got {self.theta}. theta=1 is the plain model.")

    def stage_betas(self) -> list[float]:
        """``beta`` of each skip stage: ``beta0`` annealed towards 1 (the plain phase has 1)."""
        return _anneal(self.beta0, self.stages)[:-1]

    def _stage_options(self) -> list[dict[str, Any]]:
        return [{"options": {"beta": b}} for b in self.stage_betas()]

    def forward_transform(self, ctx, batch):
        beta = float(ctx.options.get("beta", 1.0))
        if beta == 1.0:
            return None     # the plain model
        start, end = skip_blocks(batch.info, batch.num_steps, self.theta)
        return SkipTransform(theta=self.theta, beta=beta, aligned=self.aligned, period_start=start,
                             block_end=end, fresh=bool(getattr(self, "fresh_derivative", False)))

    def _how(self, path) -> str:
        return f"exact gradient of the skip-connected model ({self.name})"


@register_method
@dataclasses.dataclass(frozen=True)
class SCTT(_Skip):
    """Skip connections through time: every ``theta`` fine steps (blocks start at each period's
    first step), ``r <- beta r + (1 - beta) r_blockstart``; ``beta`` goes ``beta0 -> 1`` over the
    stages, then the plain model trains (Soo, Goudar & Wang 2023).

    Parameters
    ----------
    theta : int
        Skip length in fine steps (10, 20 or 40 in the paper).
    beta0 : float
        The first stage's ``beta`` (0, 0.2, 0.5 or 0.8 in the paper).
    stages : int
        Soo et al.'s number of stages ``S``: ``S - 1`` skip stages, then the plain phase.
    stage_steps, until, metric, reset_optimizer
        Each stage's most steps, its held-out target and metric, fresh optimiser moments per stage.

    Examples
    --------
    >>> [round(b, 3) for b in SCTT(theta=20, beta0=0.2, stages=4).stage_betas()]
    [0.2, 0.467, 0.733]
    """

    name: ClassVar[str] = "sctt"


@register_method
@dataclasses.dataclass(frozen=True)
class DASC(_Skip):
    """Dynamics-aligned skip connections: as :class:`SCTT`, but the skip mixes in the block's
    coarse Euler prediction ``r_blockstart + theta dr`` (``dr`` a fine step's increment), the
    state a step of ``theta * dt`` would reach (Soo, Goudar & Wang 2023).

    Parameters
    ----------
    theta, beta0, stages, stage_steps, until, metric, reset_optimizer
        As :class:`SCTT`.
    fresh_derivative : bool
        Which increment ``dr`` predicts a block that follows another. ``False`` (default, the
        authors' code): the last step's increment of the block before, taken before its mix;
        ``True``: the increment of the block's own first step, from the mixed state it starts
        in. The first block of every period is the same either way.

    Examples
    --------
    >>> import neurotrain as nt
    >>> nt.training.get_method("dasc", theta=10, beta0=0.5).stage_betas()
    [0.5]
    """

    name: ClassVar[str] = "dasc"
    aligned: ClassVar[bool] = True
    #: ``False``: the authors' code (a block's prediction uses the previous block's last
    #: increment); ``True``: the increment at the block's own start state (see SkipTransform)
    fresh_derivative: bool = False

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "fresh_derivative", check_bool("fresh_derivative", self.fresh_derivative))
