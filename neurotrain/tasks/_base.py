"""The Task / TrialBatch contract (DESIGN.md section 4)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from .._errors import ConfigError, ShapeError
from .._validate import check_int, check_number, check_positive

__all__ = ["TrialBatch", "Task", "steps_of"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrialBatch:
    """A batch of trials, time-major and aligned to the batch row.

    Attributes
    ----------
    inputs : array, shape ``(T, B, num_in)``
    targets : array
        Integer class labels ``(T, B)`` or float targets ``(T, B, num_out)``.
    mask : array
        Loss weights, ``(T, B)`` or ``(T, B, num_out)``; 0 on padding.
    info : dict of str to array
        Per-trial conditions and period boundaries (time-step indices), each ``(B,)``.
    """

    inputs: jax.Array
    targets: jax.Array
    mask: jax.Array
    info: dict[str, jax.Array]

    @property
    def num_steps(self) -> int:
        """``T``, the number of time steps."""
        return self.inputs.shape[0]

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[1]


def steps_of(name: str, ms: float, dt: float) -> int:
    """Convert a duration in ms to a whole number of steps of ``dt`` ms, or raise a clear error.

    Examples
    --------
    >>> steps_of("delay", 200.0, 20.0)
    10
    >>> steps_of("delay", 210.0, 20.0)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: delay=210.0 ms is not a multiple of dt=20.0 ms; use 200 or 220 ms, or change dt.
    """
    ms = check_number(name, ms, minimum=0.0, fix="Durations are in ms.")
    n = ms / dt
    if abs(n - round(n)) > 1e-6:
        lo, hi = math.floor(n) * dt, math.ceil(n) * dt
        raise ConfigError(
            f"{name}={ms} ms is not a multiple of dt={dt} ms; use {lo:g} or {hi:g} ms, or change dt."
        )
    return int(round(n))


@dataclasses.dataclass(frozen=True)
class Task:
    """Base class of neurotrain's tasks: a small immutable config with a pure ``sample``.

    Subclasses are frozen dataclasses whose fields are the task parameters (durations in ms,
    ``dt`` in ms). They define ``num_in``, ``num_out``, ``target_type`` (``"class"`` for integer
    labels scored by cross-entropy, ``"value"`` for float targets scored by MSE),
    :meth:`num_steps`, :meth:`sample` and :meth:`trial_metrics`.

    Tasks are hashable, so a jitted function may close over one; ``sample`` draws everything
    from the explicit ``key`` and runs inside ``jit`` without a host round trip.
    """

    dt: float = 20.0

    #: registry name (set by :func:`neurotrain.tasks.register_task`)
    name: ClassVar[str] = "task"
    #: ``"class"`` (integer labels, cross-entropy) or ``"value"`` (float targets, MSE)
    target_type: ClassVar[str] = "value"
    #: ``info`` keys that define a condition, for per-condition scores
    condition_keys: ClassVar[tuple[str, ...]] = ()
    #: the headline metric of :meth:`score` and whether higher is better
    primary_metric: ClassVar[str] = "mse"
    higher_is_better: ClassVar[bool] = False
    #: the trial's periods in order, for tasks whose ``info`` holds ``<period>_on``/``_off``
    #: boundaries that tile the trial from step 0 (empty: none declared)
    periods: ClassVar[tuple[str, ...]] = ()
    #: noiseless cue inputs: ``{input channel: (on key, off key)}``, the channel is non-zero
    #: exactly on the steps ``[info[on key], info[off key])`` of each trial
    input_cues: ClassVar[dict[int, tuple[str, str]]] = {}

    def __post_init__(self):
        check_positive("dt", self.dt, fix="dt is the time step in ms, e.g. dt=20.0.")
        self.validate()

    # --- to override -----------------------------------------------------------------------
    def validate(self) -> None:
        """Check the parameters; raise :class:`ConfigError` with the fix."""

    def check_field(self, name: str, check, **kwargs) -> None:
        """Validate the field ``name`` with a :mod:`neurotrain._validate` check (``check_int``,
        ``check_number``...) and store the normalised value (e.g. ``3.0`` -> ``3``); for
        :meth:`validate`."""
        object.__setattr__(self, name, check(name, getattr(self, name), **kwargs))

    @property
    def num_in(self) -> int:
        raise NotImplementedError

    @property
    def num_out(self) -> int:
        raise NotImplementedError

    def num_steps(self) -> int:
        """``T``, the fixed (padded) number of time steps of a trial."""
        raise NotImplementedError

    def _sample(self, key: jax.Array, batch_size: int) -> TrialBatch:
        raise NotImplementedError

    def trial_metrics(self, outputs: jax.Array, batch: TrialBatch) -> dict[str, jax.Array]:
        """Per-trial metrics, each of shape ``(B,)`` (e.g. ``correct``, ``mse``)."""
        raise NotImplementedError

    def conditions(self) -> dict[str, list]:
        """The grid of condition values for evaluation, ``{condition key: values}``; empty if none."""
        return {}

    def ideal_observer(self, batch: TrialBatch) -> dict[str, jax.Array]:
        """Per-trial metrics of the ideal observer on the same trials; empty if not defined."""
        return {}

    # --- shared ----------------------------------------------------------------------------
    def sample(self, key: jax.Array, batch_size: int) -> TrialBatch:
        """Draw a batch of ``batch_size`` trials from ``key`` (pure; works under ``jit``).

        Parameters
        ----------
        key : jax.Array
            A JAX PRNG key, e.g. ``jax.random.PRNGKey(0)``.
        batch_size : int
            Number of trials (a Python int).

        Returns
        -------
        TrialBatch
        """
        return self._sample(key, check_int("batch_size", batch_size, minimum=1))

    def score(self, outputs: jax.Array, batch: TrialBatch) -> dict[str, float]:
        """Mean of :meth:`trial_metrics` over the batch, plus the ideal observer's where defined.

        Parameters
        ----------
        outputs : array, shape ``(T, B, num_out)``
            The network's outputs (logits for class tasks).
        batch : TrialBatch
        """
        self.check_outputs(outputs, batch)
        out = {k: float(jnp.mean(v)) for k, v in self.trial_metrics(outputs, batch).items()}
        out.update({f"ideal_{k}": float(jnp.mean(v)) for k, v in self.ideal_observer(batch).items()})
        return out

    def check_outputs(self, outputs, batch: TrialBatch) -> None:
        want = (batch.num_steps, batch.batch_size, self.num_out)
        if tuple(outputs.shape) != want:
            raise ShapeError(f"outputs must have shape (T, B, num_out) = {want}; got {tuple(outputs.shape)}.")

    def config(self) -> dict[str, Any]:
        """The task's parameters as a JSON-serialisable dict (with its registry ``name``)."""
        params = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            params[f.name] = list(v) if isinstance(v, tuple) else v
        return {"name": self.name, "params": params}

    def describe(self) -> str:
        """One line: the first line of the docstring."""
        return (type(self).__doc__ or "").strip().splitlines()[0]
