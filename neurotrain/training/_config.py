"""``TrainConfig``: the one description of the training settings.

``train()``, :class:`~neurotrain.training.Trainer`, the command line's training flags and the
``training`` entry of a run's ``config.json`` are all derived from this frozen dataclass: its
fields are the settings, its field metadata their help text and whether a resumed run may
change them, and its ``__post_init__`` the one place they are checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigError
from .._validate import check_int, check_number, check_seed

__all__ = ["TrainConfig", "DEFAULT_ACTIVITY_BOUND"]

#: the default bound on the hidden activity, ``max |h|`` (see :class:`TrainConfig`)
DEFAULT_ACTIVITY_BOUND = 1e4


def _field(default, help: str, *, resumable: bool = False):
    return dataclasses.field(default=default, metadata={"help": help, "resumable": resumable})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run (everything but the model, task, optimiser and method).

    Parameters
    ----------
    num_steps : int
        Training steps, one batch each (>= 1).
    batch_size : int
        Trials per training step (>= 1).
    seed : int
        Seeds the training batches and the network noise (0 to 2**31 - 1). The weights are
        seeded when the model is built (e.g. ``brainstate.random.seed(seed)``).
    l2 : float
        Coefficient of the L2 penalty on every trainable parameter (>= 0).
    rate_l2 : float
        Coefficient of the firing-rate penalty ``mean(h**2)`` (>= 0).
    clip_norm : float or None
        Clip the gradient's global norm to this value (> 0); ``None``: no clipping.
    eval_every : int
        Score on ``eval_trials`` held-out trials before training and every this many steps
        (0: never).
    eval_trials : int
        Held-out trials of those evaluations (the same trials every time).
    log_every : int
        Steps between host synchronisations (loss logging, divergence checks, callbacks).
    activity_bound : float or None
        Stop when the hidden activity ``max |h|`` of a training batch exceeds this (exploding
        dynamics); ``None``: no check.

    Examples
    --------
    >>> cfg = TrainConfig(num_steps=500, clip_norm=1.0)
    >>> cfg.replace(seed=3).seed, cfg.to_dict()["clip_norm"]
    (3, 1.0)
    >>> TrainConfig(batch_size=0)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: batch_size must be an integer >= 1; got 0.
    """

    num_steps: int = _field(1000, "training steps, one batch each", resumable=True)
    batch_size: int = _field(32, "trials per training step")
    seed: int = _field(0, "seeds the training batches and the network noise")
    l2: float = _field(0.0, "coefficient of the L2 penalty on all weights")
    rate_l2: float = _field(0.0, "coefficient of the firing-rate penalty mean(h^2)")
    clip_norm: float | None = _field(None, "clip the gradient's global norm to X (none: no clipping)")
    eval_every: int = _field(0, "evaluate on held-out trials every N steps, 0 for never", resumable=True)
    eval_trials: int = _field(512, "held-out trials of the evaluations during training")
    log_every: int = _field(10, "steps between host synchronisations (logging, checks)", resumable=True)
    activity_bound: float | None = _field(
        DEFAULT_ACTIVITY_BOUND, "stop when the hidden activity max|h| exceeds X (none: no check)")

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "num_steps", check_int("num_steps", self.num_steps, minimum=1))
        set_(self, "batch_size", check_int("batch_size", self.batch_size, minimum=1))
        set_(self, "seed", check_seed("seed", self.seed))
        set_(self, "l2", check_number("l2", self.l2, minimum=0.0))
        set_(self, "rate_l2", check_number("rate_l2", self.rate_l2, minimum=0.0))
        set_(self, "clip_norm", check_number("clip_norm", self.clip_norm, minimum=0.0, inclusive=False,
                                             allow_none=True))
        set_(self, "eval_every", check_int("eval_every", self.eval_every, minimum=0))
        set_(self, "eval_trials", check_int("eval_trials", self.eval_trials, minimum=1))
        set_(self, "log_every", check_int("log_every", self.log_every, minimum=1))
        set_(self, "activity_bound", check_number(
            "activity_bound", self.activity_bound, minimum=0.0, inclusive=False, allow_none=True,
            fix="Pass None for no check."))

    # --- derived views -------------------------------------------------------------------
    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (checked like the constructor's arguments)."""
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise ConfigError(_unknown_message(unknown[0]))
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-serialisable dict (the ``training`` entry of ``config.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, ignore_unknown: bool = False) -> TrainConfig:
        """Build from :meth:`to_dict` output; unknown keys are an error unless ``ignore_unknown``."""
        names = set(cls.names())
        unknown = sorted(set(data) - names)
        if unknown and not ignore_unknown:
            raise ConfigError(_unknown_message(unknown[0]))
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The setting names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def help(cls, name: str) -> str:
        """The one-line help of setting ``name``."""
        return cls._field(name).metadata["help"]

    @classmethod
    def resumable(cls, name: str) -> bool:
        """Whether a resumed run may change setting ``name`` without changing its trajectory."""
        return bool(cls._field(name).metadata["resumable"])

    @classmethod
    def default(cls, name: str) -> Any:
        """The default value of setting ``name``."""
        return cls._field(name).default

    @classmethod
    def _field(cls, name: str) -> dataclasses.Field:
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f
        raise ConfigError(_unknown_message(name))


def _unknown_message(name: str) -> str:
    import difflib

    names = TrainConfig.names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{name!r} is not a training setting.{hint} Settings: {', '.join(names)}."
