"""One timing engine for every timed task: period durations in ms, validated against ``dt``.

A trial is a sequence of named periods laid end to end from step 0. Each period's duration
is written in ms in one of four forms (the same everywhere: task fields, the Yang family's
``timing=`` overrides, config files):

==============================  ==============================================================
``200``                          fixed: 200 ms
``(200, 600)``                   uniform: a multiple of ``dt`` in ``[200, 600]`` (both ends
                                 included), drawn per trial
``("uniform", 200, 600)``        uniform, Yang et al.'s ``int(U(200, 600) / dt)``: a multiple
                                 of ``dt`` in ``[200, 600)`` (the upper end excluded)
``("choice", 200, 400, 800)``    one of the values, each equally likely (repeat a value to
                                 weight it)
==============================  ==============================================================

Every value must be a whole number of steps of ``dt``; a :class:`~neurotrain.ConfigError`
names the field, the value and the two nearest valid values. :class:`Timing` holds the
periods of a trial in steps (each a :class:`Period`), gives ``T`` (:attr:`Timing.num_steps`,
the sum of the longest durations: shorter trials are padded at the end) and draws per-trial
boundaries ``<period>_on`` / ``<period>_off`` and ``trial_off`` (int32, ``(B,)``), either
from a PRNG key (:meth:`Timing.draw`) or from uniforms the caller already has
(:meth:`Timing.durations_from_uniforms`, for the Yang family's one-pass batch building).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from .._errors import ConfigError
from .._validate import is_number
from ._base import steps_of

__all__ = ["DurationSpec", "Period", "Timing", "canonical_duration", "uniform_index"]

#: A duration as written in ms: a number, ``(lo, hi)``, ``("uniform", lo, hi)`` or
#: ``("choice", a, b, ...)``.
DurationSpec = float | tuple

_FORMS = ("a period duration must be a number of ms (fixed), a pair (lo, hi) of ms (a multiple of dt "
          "drawn uniformly in [lo, hi]), ('choice', a, b, ...) (one of the values, uniformly) or "
          "('uniform', lo, hi) (Yang's int(U(lo, hi) / dt): a multiple of dt in [lo, hi))")


def uniform_index(u, n: int):
    """Uniform integers in ``[0, n)`` (int32) from uniforms ``u`` in ``[0, 1)``."""
    return jnp.minimum(jnp.floor(u * n), n - 1).astype(jnp.int32)


def canonical_duration(name: str, value: Any) -> DurationSpec:
    """The canonical form of a duration written in ms: numbers as floats, lists as tuples.

    Raises :class:`~neurotrain.ConfigError` naming ``name`` for a form that is not one of the
    four (see the module notes) or a range whose ends are in the wrong order.

    Examples
    --------
    >>> canonical_duration("delay", [200, 600])
    (200.0, 600.0)
    >>> canonical_duration("delay1", ["choice", 200, 400])
    ('choice', 200.0, 400.0)
    """
    if is_number(value):
        return float(value)
    if isinstance(value, (list, tuple)) and value:
        v = tuple(value)
        if v[0] in ("uniform", "choice") and len(v) >= 2 and all(is_number(x) for x in v[1:]):
            if v[0] == "choice":
                return ("choice",) + tuple(float(x) for x in v[1:])
            if len(v) == 3:
                if not v[1] < v[2]:
                    raise ConfigError(f"{name}={value!r}: ('uniform', lo, hi) draws from [lo, hi), "
                                      f"so it needs lo < hi; for a fixed duration write one number.")
                return ("uniform", float(v[1]), float(v[2]))
        elif len(v) == 2 and all(is_number(x) for x in v):
            if v[0] > v[1]:
                raise ConfigError(f"{name}={value!r}: the lower bound must not exceed the upper bound.")
            return (float(v[0]), float(v[1]))
    raise ConfigError(f"{name}: {_FORMS}; got {value!r}.")


@dataclasses.dataclass(frozen=True)
class Period:
    """One period of a trial and the distribution of its duration, in steps.

    ``kind`` is ``"fixed"`` (``steps = (n,)``), ``"uniform"`` (``steps = (lo, hi)``, every
    integer in ``[lo, hi]`` equally likely) or ``"choice"`` (``steps = (a, b, ...)``, each
    entry equally likely). Build one with :meth:`from_ms`.

    Examples
    --------
    >>> Period.from_ms("delay", (200.0, 600.0), dt=20.0)
    Period(name='delay', kind='uniform', steps=(10, 30))
    >>> Period.from_ms("stim1", ("uniform", 300, 700), dt=20.0).steps      # [300, 700) ms
    (15, 34)
    >>> Period.from_ms("fixation", 210.0, dt=20.0)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: fixation=210.0 ms is not a multiple of dt=20.0 ms; use 200 or 220 ms, or change dt.
    """

    name: str
    kind: str
    steps: tuple[int, ...]

    @classmethod
    def from_ms(cls, name: str, value: Any, dt: float, *, label: str | None = None) -> Period:
        """The period ``name`` lasting ``value`` (any of the four ms forms) at step ``dt`` ms.

        ``label`` names the value in error messages (default ``name``), e.g. the dataclass
        field that holds it.
        """
        label = label or name
        spec = canonical_duration(label, value)
        if isinstance(spec, float):
            return cls(name, "fixed", (steps_of(label, spec, dt),))
        if spec[0] == "choice":
            n = len(spec) - 1
            values = tuple(steps_of(label if n == 1 else f"{label} (choice {i + 1})", x, dt)
                           for i, x in enumerate(spec[1:]))
            return cls(name, "fixed", values[:1]) if len(set(values)) == 1 else cls(name, "choice", values)
        if spec[0] == "uniform":        # [lo, hi) in ms: the last step is excluded
            lo, hi = steps_of(f"{label} (low)", spec[1], dt), steps_of(f"{label} (high)", spec[2], dt) - 1
        else:
            lo, hi = steps_of(f"{label} (low)", spec[0], dt), steps_of(f"{label} (high)", spec[1], dt)
        return cls(name, "fixed", (lo,)) if lo == hi else cls(name, "uniform", (lo, hi))

    @property
    def min_steps(self) -> int:
        return min(self.steps)

    @property
    def max_steps(self) -> int:
        return max(self.steps)

    @property
    def is_fixed(self) -> bool:
        return self.kind == "fixed"

    def support(self) -> tuple[tuple[int, float], ...]:
        """``((steps, probability), ...)``: every duration the period can take and its probability."""
        if self.kind == "uniform":
            lo, hi = self.steps
            return tuple((n, 1.0 / (hi - lo + 1)) for n in range(lo, hi + 1))
        counts: dict[int, int] = {}
        for n in self.steps:
            counts[n] = counts.get(n, 0) + 1
        return tuple((n, c / len(self.steps)) for n, c in sorted(counts.items()))

    def draw(self, key, batch_size: int) -> jax.Array:
        """Durations in steps, int32 ``(B,)``, drawn with ``jax.random`` from ``key``."""
        if self.kind == "fixed":
            return jnp.full((batch_size,), self.steps[0], jnp.int32)
        if self.kind == "uniform":
            lo, hi = self.steps
            return jax.random.randint(key, (batch_size,), lo, hi + 1).astype(jnp.int32)
        return jnp.asarray(self.steps, jnp.int32)[jax.random.randint(key, (batch_size,), 0, len(self.steps))]

    def from_uniforms(self, u) -> jax.Array:
        """Durations in steps, int32, from uniforms ``u`` in ``[0, 1)`` (one per trial)."""
        if self.kind == "fixed":
            return jnp.full(u.shape, self.steps[0], jnp.int32)
        if self.kind == "uniform":
            lo, hi = self.steps
            return lo + uniform_index(u, hi - lo + 1)
        return jnp.asarray(self.steps, jnp.int32)[uniform_index(u, len(self.steps))]


@dataclasses.dataclass(frozen=True)
class Timing:
    """The periods of a trial, in order, laid end to end from step 0.

    Build it with :meth:`from_ms`. ``num_steps`` (``T``) is the sum of the periods' longest
    durations; a trial that draws shorter ones ends at ``trial_off < T`` and is padded.

    Examples
    --------
    >>> import jax
    >>> timing = Timing.from_ms({"fixation": 100, "stimulus": (200, 400), "decision": 100}, dt=20.0)
    >>> timing.num_steps, timing.names, timing.is_fixed
    (30, ('fixation', 'stimulus', 'decision'), False)
    >>> b = timing.draw(jax.random.PRNGKey(0), 4)
    >>> bool((b["stimulus_on"] == 5).all()), bool((b["decision_off"] == b["trial_off"]).all())
    (True, True)
    >>> Timing.from_ms({"fixation": 100, "decision": 100}, dt=20.0).fixed_bounds()
    {'fixation': (0, 5), 'decision': (5, 10)}
    """

    periods: tuple[Period, ...]

    @classmethod
    def from_ms(cls, durations: Mapping[str, Any], dt: float, *, labels: Mapping[str, str] | None = None,
                nonempty: tuple[str, ...] = ()) -> Timing:
        """Periods ``{name: duration in ms}`` in trial order, at step ``dt`` ms.

        ``labels`` maps a period to the name its value goes by in error messages (the field
        holding it); the periods in ``nonempty`` must last at least one step on every trial.
        """
        labels = labels or {}
        periods = tuple(Period.from_ms(p, v, dt, label=labels.get(p, p)) for p, v in durations.items())
        for p in periods:
            if p.name in nonempty and p.min_steps < 1:
                label = labels.get(p.name, p.name)
                raise ConfigError(f"{label}={durations[p.name]!r} ms must last at least one step of dt={dt} ms; "
                                  f"use {label}>={dt:g}.")
        return cls(periods)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.periods)

    def __getitem__(self, name: str) -> Period:
        for p in self.periods:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def num_steps(self) -> int:
        """``T``: the sum of the longest durations."""
        return sum(p.max_steps for p in self.periods)

    @property
    def min_steps(self) -> int:
        """The shortest possible trial, in steps."""
        return sum(p.min_steps for p in self.periods)

    @property
    def is_fixed(self) -> bool:
        """Whether every period has a fixed duration (no padding, no randomness)."""
        return all(p.is_fixed for p in self.periods)

    def step_ranges(self) -> dict[str, tuple[int, int]]:
        """``{period: (min_steps, max_steps)}`` in trial order."""
        return {p.name: (p.min_steps, p.max_steps) for p in self.periods}

    def fixed_bounds(self) -> dict[str, tuple[int, int]]:
        """``{period: (first_step, stop_step)}`` of a timing without jitter."""
        if not self.is_fixed:
            jittered = ", ".join(p.name for p in self.periods if not p.is_fixed)
            raise ConfigError(f"the periods {jittered} have jittered durations, so their steps differ "
                              f"from trial to trial; read them per trial from batch.info "
                              f"('<period>_on', '<period>_off').")
        out, t = {}, 0
        for p in self.periods:
            out[p.name] = (t, t + p.steps[0])
            t += p.steps[0]
        return out

    def draw(self, key, batch_size: int) -> dict[str, jax.Array]:
        """Per-trial boundaries from ``key`` (one ``jax.random`` key per period).

        Returns ``<period>_on`` and ``<period>_off`` for every period and ``trial_off`` (the
        end of the last period: the trial's length), each int32 ``(B,)``. ``key`` may be
        ``None`` for a timing without jitter.
        """
        if key is None:
            if not self.is_fixed:
                raise ConfigError("a jittered timing needs a PRNG key to draw its durations.")
            keys = [None] * len(self.periods)
        else:
            keys = jax.random.split(key, max(len(self.periods), 1))
        out, t = {}, jnp.zeros((batch_size,), jnp.int32)
        for k, p in zip(keys, self.periods):
            n = p.draw(k, batch_size)
            out[f"{p.name}_on"], out[f"{p.name}_off"] = t, t + n
            t = t + n
        out["trial_off"] = t
        return out

    def durations_from_uniforms(self, u) -> jax.Array:
        """Durations in steps, int32 ``(B, periods)``, from uniforms ``u`` ``(periods, B)`` in ``[0, 1)``."""
        return jnp.stack([p.from_uniforms(u[j]) for j, p in enumerate(self.periods)], 1)
