"""Optimisers and learning-rate schedules by name: small frozen specs that build braintools
optimisers (for recipes, configuration files and the command line).

:class:`OptimizerSpec` names an optimiser of ``braintools.optim`` (Adam, AdamW, SGD with
momentum, RMSprop), its learning rate, its other hyper-parameters and a
:class:`ScheduleSpec`: a constant rate, exponential decay per step (as in brainstate's RNN
tutorial: ``ExponentialDecayLR(decay_steps=1)``), step decay, cosine annealing (Loshchilov &
Hutter 2017), each with an optional linear warm-up (Goyal et al. 2017). Every value is checked
when a spec is made, with an error naming the option as the command line spells it
(``lr_decay``, ``optimizer_params.momentum``...). :meth:`OptimizerSpec.build` makes the
braintools optimiser; the trainer then reads the learning rate of every training step from the
schedule's closed form inside the compiled step (see :mod:`neurotrain.training._optim`), so
the schedule advances once per training step.

Gradient clipping by global norm is not part of the spec: it is the trainer's ``clip_norm``
(:class:`~neurotrain.training.TrainConfig`), the same arithmetic as braintools'
``grad_clip_norm`` (``optax.clip_by_global_norm``), applied after frozen entries are masked
and per network in a population.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import braintools
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._registry import Registry, normalise
from .._validate import check_bool, check_int, check_number, is_number
from ._optim import closed_form_lr, learning_rates

__all__ = ["OptimizerSpec", "ScheduleSpec", "LinearWarmupLR", "OPTIMIZERS", "SCHEDULES"]

#: the learning-rate schedules a :class:`ScheduleSpec` can name
SCHEDULES = ("constant", "exponential", "step", "cosine")


def _beta_pair(name, value):
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(is_number(v) and 0.0 <= float(v) < 1.0 for v in value)):
        raise ConfigError(f"{name} must be two numbers in [0, 1), e.g. [0.9, 0.999]; got {value!r}.")
    return (float(value[0]), float(value[1]))


def _unit(name, value):
    v = check_number(name, value, minimum=0.0)
    if v >= 1.0:
        raise ConfigError(f"{name} must be a number in [0, 1); got {value!r}.")
    return v


def _positive(name, value):
    return check_number(name, value, minimum=0.0, inclusive=False)


def _non_negative(name, value):
    return check_number(name, value, minimum=0.0)


def _flag(name, value):
    return check_bool(name, value)


#: the hyper-parameters each optimiser takes (besides the learning rate), with their checks
_PARAMS = {
    "adam": {"betas": _beta_pair, "eps": _positive, "weight_decay": _non_negative, "amsgrad": _flag},
    "adamw": {"betas": _beta_pair, "eps": _positive, "weight_decay": _non_negative},
    "sgd": {"momentum": _unit, "nesterov": _flag, "weight_decay": _non_negative},
    "rmsprop": {"alpha": _unit, "eps": _positive, "momentum": _unit, "centered": _flag,
                "weight_decay": _non_negative},
}

#: optimiser name -> braintools class name, with a one-line description
OPTIMIZERS: Registry[str] = Registry("optimizer")
OPTIMIZERS.add("adam", "Adam", help="Adam (Kingma & Ba 2015); weight_decay adds an L2 term to the gradient")
OPTIMIZERS.add("adamw", "AdamW", help="Adam with decoupled weight decay (Loshchilov & Hutter 2019; "
                                      "braintools' default weight_decay 0.01)")
OPTIMIZERS.add("sgd", "SGD", aliases=("momentum",),
               help="stochastic gradient descent, with momentum=... (and nesterov=true) if given")
OPTIMIZERS.add("rmsprop", "RMSprop", help="RMSprop (Tieleman & Hinton 2012)")


def _check_name(value, argument: str, allowed) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{argument} must be a name (one of {', '.join(allowed)}); got {value!r}.")
    return normalise(value)


# --------------------------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate schedule by name; :meth:`build` makes the braintools scheduler.

    The field names are those of the command line's options (``--lr-schedule``,
    ``--lr-decay``, ``--lr-decay-every``, ``--lr-min``, ``--warmup-steps``), and so are the
    names in the errors.

    Parameters
    ----------
    name : {"constant", "exponential", "step", "cosine"}
        ``constant``: the base rate throughout. ``exponential``: multiplied by ``lr_decay``
        every ``lr_decay_every`` steps, continuously (``lr * lr_decay ** (t / every)``;
        braintools' ``ExponentialDecayLR``; ``every = 1`` is brainstate's tutorial's per-step
        decay), floored at ``lr_min``. ``step``: multiplied by ``lr_decay`` after every
        ``lr_decay_every`` steps (``StepLR``). ``cosine``: from the base rate down to ``lr_min``
        (default 0) along half a cosine over ``lr_decay_every`` steps (default: the run's steps
        after the warm-up), then held (``CosineAnnealingLR``).
    lr_decay : float, optional
        The factor of ``exponential`` and ``step`` (> 0; below 1 decays).
    lr_decay_every : int, optional
        Steps per factor (``exponential``, default 1; ``step``, required) or the length of the
        cosine (``cosine``).
    lr_min : float, optional
        The floor of ``exponential``, the end of ``cosine``.
    warmup_steps : int
        A linear warm-up first: the rate of step ``t < warmup_steps`` is the base rate times
        ``(t + 1) / warmup_steps``; the schedule starts after it (0: none).

    Examples
    --------
    >>> s = ScheduleSpec("exponential", lr_decay=0.99975)          # brainstate's tutorial
    >>> [round(float(v), 6) for v in s.learning_rates(0.025, [0, 1, 2500])]
    [0.025, 0.024994, 0.013381]
    >>> [round(float(v), 4) for v in ScheduleSpec("cosine", warmup_steps=2).learning_rates(0.1, [0, 1, 2, 7], num_steps=7)]
    [0.05, 0.1, 0.1, 0.0]
    >>> ScheduleSpec("step", lr_decay=0.5)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: lr_schedule='step' needs lr_decay_every (the steps between drops), e.g. lr_decay_every=1000.
    """

    name: str = "constant"
    lr_decay: float | None = None
    lr_decay_every: int | None = None
    lr_min: float | None = None
    warmup_steps: int = 0

    def __post_init__(self):
        set_ = object.__setattr__
        name = _check_name(self.name, "lr_schedule", SCHEDULES)
        if name not in SCHEDULES:
            raise ConfigError(f"lr_schedule={self.name!r} is not a learning-rate schedule; choose one of "
                              f"{', '.join(SCHEDULES)}.")
        set_(self, "name", name)
        set_(self, "lr_decay", check_number("lr_decay", self.lr_decay, minimum=0.0, inclusive=False,
                                            allow_none=True))
        set_(self, "lr_decay_every", check_int("lr_decay_every", self.lr_decay_every, minimum=1,
                                               allow_none=True))
        set_(self, "lr_min", check_number("lr_min", self.lr_min, minimum=0.0, allow_none=True))
        set_(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps, minimum=0))
        used = {"constant": (), "exponential": ("lr_decay", "lr_decay_every", "lr_min"),
                "step": ("lr_decay", "lr_decay_every"), "cosine": ("lr_decay_every", "lr_min")}[name]
        for opt in ("lr_decay", "lr_decay_every", "lr_min"):
            if getattr(self, opt) is not None and opt not in used:
                takes = f"takes only {', '.join(used)}" if used else "takes none of them"
                raise ConfigError(f"{opt}={getattr(self, opt)!r} does not apply to lr_schedule={name!r}, which "
                                  f"{takes}; leave {opt} out or choose another schedule.")
        if name in ("exponential", "step") and self.lr_decay is None:
            example = "0.99975 (per step)" if name == "exponential" else "0.1"
            raise ConfigError(f"lr_schedule={name!r} needs lr_decay (the factor), e.g. lr_decay={example}.")
        if name == "step" and self.lr_decay_every is None:
            raise ConfigError("lr_schedule='step' needs lr_decay_every (the steps between drops), "
                              "e.g. lr_decay_every=1000.")

    # --- building -----------------------------------------------------------------------
    def build(self, lr: float, num_steps: int | None = None):
        """The braintools scheduler of this schedule from base rate ``lr`` (a float for a
        constant rate without warm-up). ``num_steps`` (the run's steps) sets the default
        length of ``cosine``."""
        lr = check_number("lr", lr, minimum=0.0, inclusive=False)
        optim = braintools.optim
        if self.name == "constant":
            inner = None
        elif self.name == "exponential":
            inner = optim.ExponentialDecayLR(base_lr=lr, decay_steps=self.lr_decay_every or 1,
                                             decay_rate=self.lr_decay, end_value=self.lr_min)
        elif self.name == "step":
            inner = optim.StepLR(base_lr=lr, step_size=self.lr_decay_every, gamma=self.lr_decay)
        else:
            period = self.lr_decay_every
            if period is None:
                if num_steps is None:
                    raise ConfigError("lr_schedule='cosine' needs lr_decay_every (its length in steps) "
                                      "or the run's num_steps to take it from.")
                period = max(int(num_steps) - self.warmup_steps, 1)
            inner = optim.CosineAnnealingLR(base_lr=lr, T_max=period, eta_min=self.lr_min or 0.0)
        if self.warmup_steps:
            return LinearWarmupLR(lr if inner is None else inner, self.warmup_steps)
        return lr if inner is None else inner

    def learning_rates(self, lr: float, steps, num_steps: int | None = None) -> np.ndarray:
        """The learning rate at each training step of ``steps`` (0-based), as the trainer uses it."""
        sched = self.build(lr, num_steps)
        steps = np.asarray(steps, int).reshape(-1)
        if not isinstance(sched, braintools.optim.LRScheduler):
            return np.full(steps.shape, float(lr), np.float32)
        n = int(steps.max()) + 1 if steps.size else 0
        return learning_rates(sched, 0, n)[steps]

    def describe(self, lr: float, num_steps: int | None = None) -> str:
        """One line, e.g. ``exponential: x0.99975 every step from 0.025 (0.01338 at step 2500)``."""
        if self.name == "constant":
            text = f"constant {lr:g}"
        elif self.name == "exponential":
            every = self.lr_decay_every or 1
            text = f"exponential: x{self.lr_decay:g} every {'step' if every == 1 else f'{every} steps'} from {lr:g}"
            if self.lr_min is not None:
                text += f", floor {self.lr_min:g}"
        elif self.name == "step":
            text = f"step: x{self.lr_decay:g} every {self.lr_decay_every} steps from {lr:g}"
        else:
            length = (f"{self.lr_decay_every} steps" if self.lr_decay_every is not None
                      else "the steps after the warm-up")
            text = f"cosine from {lr:g} to {self.lr_min or 0.0:g} over {length}"
        if self.warmup_steps:
            text += f", after a linear warm-up of {self.warmup_steps} steps"
        if num_steps and self.name != "constant":
            last = float(self.learning_rates(lr, [num_steps - 1], num_steps)[0])
            text += f" ({last:.3g} at the last step)"
        return text

    # --- records ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The non-default fields, as JSON values (``name`` always)."""
        out: dict[str, Any] = {"name": self.name}
        for f in dataclasses.fields(self)[1:]:
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleSpec:
        """The inverse of :meth:`to_dict` (unknown keys are an error naming them)."""
        return cls(**_known(cls, data, "a learning-rate schedule"))


class LinearWarmupLR(braintools.optim.LRScheduler):
    """A linear warm-up before another schedule (or a constant rate), in closed form.

    Step ``t < warmup_steps`` uses ``(t + 1) / warmup_steps`` times the rate the schedule
    starts with; step ``t >= warmup_steps`` uses the schedule's rate of step
    ``t - warmup_steps``. braintools' ``ChainedScheduler`` and ``SequentialLR`` keep their own
    sub-schedulers' epochs, which the trainer's closed-form learning rate (one epoch per
    training step, read inside the compiled step) does not advance; this scheduler evaluates
    the inner schedule's closed form at the shifted epoch instead.

    Parameters
    ----------
    schedule : float or braintools LRScheduler
        The rate (constant) or the schedule that follows the warm-up.
    warmup_steps : int
        Steps of warm-up (>= 1).

    Examples
    --------
    >>> import braintools
    >>> s = LinearWarmupLR(braintools.optim.StepLR(base_lr=0.1, step_size=2, gamma=0.5), 2)
    >>> [round(float(s.lr_at(t)), 4) for t in range(6)]
    [0.05, 0.1, 0.1, 0.1, 0.05, 0.05]
    """

    def __init__(self, schedule, warmup_steps: int, last_epoch: int = 0):
        self.warmup_steps = check_int("warmup_steps", warmup_steps, minimum=1)
        if isinstance(schedule, braintools.optim.LRScheduler):
            self.inner = schedule
            base = schedule.base_lrs[0]
        else:
            self.inner = None
            base = check_number("lr", schedule, minimum=0.0, inclusive=False)
        super().__init__(base_lr=base, last_epoch=last_epoch)

    def lr_at(self, epoch):
        """The rate at epoch (training step) ``epoch``; traceable and vectorised."""
        epoch = jnp.asarray(epoch)
        factor = jnp.minimum((epoch + 1.0) / self.warmup_steps, 1.0)
        if self.inner is None:
            return self.base_lrs[0] * factor
        return factor * closed_form_lr(self.inner, jnp.maximum(epoch - self.warmup_steps, 0))

    def get_lr(self):
        return [self.lr_at(self.last_epoch.value)]


# --------------------------------------------------------------------------------------------
# optimisers
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """An optimiser of ``braintools.optim`` by name, with its learning rate and schedule.

    Parameters
    ----------
    name : {"adam", "adamw", "sgd", "rmsprop"}
        ``braintools.optim.Adam``, ``AdamW``, ``SGD`` (with momentum when ``momentum`` is
        given; alias ``momentum``) or ``RMSprop``.
    lr : float
        The base learning rate (> 0).
    schedule : ScheduleSpec
        How the rate changes over training (default: constant).
    params : dict
        The optimiser's other hyper-parameters (the command line's ``--optimizer-param``):
        adam ``betas``, ``eps``, ``weight_decay``, ``amsgrad``; adamw ``betas``, ``eps``,
        ``weight_decay``; sgd ``momentum``, ``nesterov``, ``weight_decay``; rmsprop ``alpha``,
        ``eps``, ``momentum``, ``centered``, ``weight_decay``. Unset ones take braintools'
        defaults.

    Examples
    --------
    >>> spec = OptimizerSpec("adam", 0.025, ScheduleSpec("exponential", lr_decay=0.99975), {"eps": 0.1})
    >>> opt = spec.build(num_steps=2500)
    >>> type(opt).__name__, type(opt.lr).__name__, opt.eps
    ('Adam', 'ExponentialDecayLR', 0.1)
    >>> OptimizerSpec.from_dict(spec.to_dict()) == spec
    True
    >>> OptimizerSpec("sgd", 0.1, params={"betas": [0.9, 0.99]})
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: optimizer_params.betas is not a parameter of optimizer 'sgd'; it takes momentum, nesterov, weight_decay.
    """

    name: str = "adam"
    lr: float = 1e-3
    schedule: ScheduleSpec = dataclasses.field(default_factory=ScheduleSpec)
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        set_ = object.__setattr__
        name = OPTIMIZERS.key(_check_name(self.name, "optimizer", OPTIMIZERS.names()))
        set_(self, "name", name)
        set_(self, "lr", check_number("lr", self.lr, minimum=0.0, inclusive=False))
        schedule = self.schedule
        if isinstance(schedule, Mapping):
            schedule = ScheduleSpec.from_dict(schedule)
        if not isinstance(schedule, ScheduleSpec):
            raise ConfigError(f"schedule must be a ScheduleSpec (or its dict); got {schedule!r}.")
        set_(self, "schedule", schedule)
        if not isinstance(self.params, Mapping):
            raise ConfigError(f"optimizer_params must be a table of NAME = VALUE; got {self.params!r}.")
        checks = _PARAMS[name]
        params = {}
        for key, value in self.params.items():
            key = str(key).strip().replace("-", "_")
            if key == "lr":
                raise ConfigError("optimizer_params.lr: the learning rate is its own option; pass lr=... "
                                  "(--lr) instead.")
            if key not in checks:
                raise ConfigError(f"optimizer_params.{key} is not a parameter of optimizer {name!r}; it "
                                  f"takes {', '.join(sorted(checks))}.")
            params[key] = checks[key](f"optimizer_params.{key}", value)
        if params.get("nesterov") and not params.get("momentum"):
            raise ConfigError("optimizer_params.nesterov=true needs a momentum > 0 (e.g. "
                              "optimizer_params.momentum=0.9).")
        set_(self, "params", dict(sorted(params.items())))

    def __hash__(self):
        return hash((self.name, self.lr, self.schedule, tuple(self.params.items())))

    def build(self, num_steps: int | None = None):
        """The braintools optimiser (its learning rate a scheduler when the schedule is not a
        constant rate). ``num_steps``: the run's steps (the default length of a cosine)."""
        cls = getattr(braintools.optim, OPTIMIZERS.get(self.name))
        params = dict(self.params)
        if "betas" in params:
            params["betas"] = tuple(params["betas"])
        return cls(lr=self.schedule.build(self.lr, num_steps), **params)

    def describe(self, num_steps: int | None = None) -> str:
        """One line, e.g. ``adam (eps 0.1), lr exponential: x0.99975 every step from 0.025``."""
        extra = ", ".join(f"{k} {_show(v)}" for k, v in self.params.items())
        return f"{self.name}{f' ({extra})' if extra else ''}, lr {self.schedule.describe(self.lr, num_steps)}"

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "lr", "schedule": {...}, "params": {...}}`` as JSON values."""
        return {"name": self.name, "lr": self.lr, "schedule": self.schedule.to_dict(),
                "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OptimizerSpec:
        """The inverse of :meth:`to_dict`."""
        data = dict(_known(cls, data, "an optimizer"))
        if isinstance(data.get("schedule"), Mapping):
            data["schedule"] = ScheduleSpec.from_dict(data["schedule"])
        return cls(**data)


def _show(v) -> str:
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    if isinstance(v, bool):
        return str(v).lower()
    return f"{v:g}" if isinstance(v, float) and math.isfinite(v) else str(v)


def _known(cls, data, what: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} record must be a dict; got {data!r}.")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{unknown[0]!r} is not a field of {what} ({cls.__name__}); fields: {', '.join(names)}.")
    return dict(data)
