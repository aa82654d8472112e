"""Tasks made of named periods (:class:`TimedTask`), and windows over per-trial boundaries (pure JAX).

The durations, their validation and the per-trial draws are the timing engine's
(:mod:`neurotrain.tasks._timing`): a period lasts a fixed number of ms, a ``(lo, hi)`` range,
``("uniform", lo, hi)`` or ``("choice", a, b, ...)``. Periods are laid end to end from step 0;
a batch is padded to the longest possible trial (the sum of the longest durations), and the
steps after a trial's end are padding.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from ._base import Task
from ._timing import DurationSpec, Timing, canonical_duration

__all__ = ["Duration", "window", "place", "TimedTask"]

#: a duration field's type: ms, ``(lo, hi)``, ``("uniform", lo, hi)`` or ``("choice", a, b, ...)``
Duration = DurationSpec


def window(num_steps: int, on, off):
    """``(T, B)`` boolean: step ``t`` lies in ``[on, off)`` of trial ``b``."""
    t = jnp.arange(num_steps, dtype=jnp.int32)[:, None]
    return (t >= on[None]) & (t < off[None])


def place(values, on, num_steps: int):
    """Lay ``values`` ``(S, B, C)`` along time from each trial's step ``on`` ``(B,)``: ``(T, B, C)``.

    Step ``t`` of trial ``b`` gets ``values[t - on[b], b]`` for ``0 <= t - on[b] < S`` and 0
    otherwise. Drawing noise for a period's ``S`` steps only and placing it is cheaper than
    drawing it for all ``T`` steps (random normals dominate the cost of a batch).
    """
    S = values.shape[0]
    rel = jnp.arange(num_steps, dtype=jnp.int32)[:, None] - on[None]                # (T, B)
    inside = (rel >= 0) & (rel < S)
    got = jnp.take_along_axis(values, jnp.clip(rel, 0, S - 1)[..., None], axis=0)    # (T, B, C)
    return jnp.where(inside[..., None], got, 0.0)


@dataclasses.dataclass(frozen=True)
class TimedTask(Task):
    """A :class:`Task` whose trials are a sequence of named periods (fixed or jittered).

    Subclasses list their periods in order in ``periods`` (each a dataclass field holding a
    :data:`Duration`), those that must last at least one step in ``nonempty_periods``, and in
    ``period_fields`` the field of a period whose field has another name. The durations are
    validated against ``dt`` when the task is built (:class:`~neurotrain.tasks.Timing`);
    ``T`` is the sum of the longest durations and shorter trials are padded at the end.
    """

    nonempty_periods: ClassVar[tuple[str, ...]] = ()
    #: field holding a period's duration where it differs from the period's name
    period_fields: ClassVar[dict[str, str]] = {}

    def __post_init__(self):
        for p in self.periods:
            f = self.period_fields.get(p, p)
            object.__setattr__(self, f, canonical_duration(f, getattr(self, f)))
        super().__post_init__()

    def duration_of(self, period: str):
        """The duration spec (ms, or a ``(lo, hi)`` range...) of ``period``."""
        return getattr(self, self.period_fields.get(period, period))

    def trial_timing(self) -> Timing:
        """The periods of a trial in steps of ``dt`` (:class:`~neurotrain.tasks.Timing`)."""
        return Timing.from_ms({p: self.duration_of(p) for p in self.periods}, self.dt,
                              labels=self.period_fields, nonempty=self.nonempty_periods)

    def validate(self) -> None:
        self.trial_timing()

    def period_spec(self) -> dict[str, tuple[int, int]]:
        """``{period: (min_steps, max_steps)}`` in trial order."""
        return self.trial_timing().step_ranges()

    def num_steps(self) -> int:
        return self.trial_timing().num_steps

    def draw_periods(self, key, batch_size: int) -> dict[str, jax.Array]:
        """Per-trial boundaries ``<period>_on/_off`` and ``trial_off``, each ``(B,)``."""
        return self.trial_timing().draw(key, batch_size)
