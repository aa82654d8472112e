"""Training in phases: ``train(..., schedule=[Phase(...), Phase(...)])``.

Each phase is compiled once. A phase may train on another task (or the same task at another
``dt``: the model then integrates with that ``dt`` too), scale the learning rate, pass options
to the gradient method (e.g. a mixing ratio), start with fresh optimiser moments, and end
early when the held-out score reaches a target. Coarsened discretisation, skip connections
through time and curricula are schedules. The phase a run is in (and where it began) is part
of every checkpoint, so a resumed run continues inside the right phase, bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ConfigError
from .._validate import check_bool, check_choice, check_int, check_number

__all__ = ["Phase", "resolve_schedule"]


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase of a training schedule.

    Parameters
    ----------
    steps : int or None
        The most training steps of this phase. ``None`` (the last phase only): until
        ``num_steps``.
    task : Task, optional
        The training task of this phase (default: the task given to ``train``).
    dt : float, optional
        The integration step in ms of this phase, for the model's time-integrating (leaky)
        cells and, when ``task`` is not given, for the task (``dataclasses.replace(task,
        dt=dt)``: every period keeps its length in ms). ``tau`` and the noise levels in
        continuous time stay; the per-step constants follow ``dt``. When only ``task`` is
        given and its ``dt`` differs from the training task's, the model follows it.
    lr_scale : float
        Multiplies the learning rate in this phase.
    options : dict
        Options for the gradient method in this phase (e.g. ``{"beta": 0.5}``); methods say
        which they read.
    until : float, optional
        End the phase early at the first evaluation (``eval_every``) where the held-out
        ``metric`` reaches this value (``>=`` if higher is better, else ``<=``).
    metric : str, optional
        The metric ``until`` refers to (default: the task's primary metric).
    until_on : {"task", "phase"}
        Which held-out trials ``until`` is scored on: those of the task given to ``train``
        (``"task"``, default) or those of this phase's own task (``"phase"``: a curriculum
        stage passes when it is mastered; see :func:`~neurotrain.training.curriculum`). With
        ``"phase"`` in a schedule, every evaluation also reports the current phase's scores as
        ``stage_<metric>`` (NaN in phases scored on the training task).
    reset_optimizer : bool
        Start the phase with fresh optimiser moments (default: carry them over).
    name : str
        A label for logs and results (default ``"phase <i>"``).

    Examples
    --------
    >>> import brainstate, braintools, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking(dt=20.0)
    >>> model = nt.models.build_model("leaky", num_rec=16, task=task)
    >>> coarse_then_fine = [nt.training.Phase(20, dt=50.0, name="coarse"), nt.training.Phase(None)]
    >>> result = nt.train(model, task, braintools.optim.Adam(1e-2), schedule=coarse_then_fine,
    ...                   num_steps=30, batch_size=8)
    >>> [(p["name"], p["start"], p["stop"]) for p in result.phases]
    [('coarse', 0, 20), ('phase 1', 20, 30)]
    >>> result.num_traces                 # one compilation per phase
    2
    """

    steps: int | None
    task: Any = None
    dt: float | None = None
    lr_scale: float = 1.0
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    until: float | None = None
    metric: str | None = None
    reset_optimizer: bool = False
    name: str = ""
    until_on: str = "task"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "steps", check_int("Phase.steps", self.steps, minimum=1, allow_none=True))
        set_(self, "dt", check_number("Phase.dt", self.dt, minimum=0.0, inclusive=False, allow_none=True))
        set_(self, "lr_scale", check_number("Phase.lr_scale", self.lr_scale, minimum=0.0))
        set_(self, "until", check_number("Phase.until", self.until, allow_none=True))
        set_(self, "reset_optimizer", check_bool("Phase.reset_optimizer", self.reset_optimizer))
        set_(self, "until_on", check_choice("Phase.until_on", self.until_on, ("task", "phase"),
                                            fix="'phase' scores until on this phase's own task."))
        if not isinstance(self.options, Mapping):
            raise ConfigError(f"Phase.options must be a dict of method options; got {self.options!r}.")
        set_(self, "options", dict(self.options))

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description (for results and run directories)."""
        return {"name": self.name, "steps": self.steps, "dt": self.dt, "lr_scale": self.lr_scale,
                "options": dict(self.options), "until": self.until, "metric": self.metric,
                "reset_optimizer": self.reset_optimizer, "until_on": self.until_on,
                "task": None if self.task is None else self.task.config()}


def resolve_schedule(schedule: Sequence[Phase] | None, task, model, num_steps: int) -> tuple[Phase, ...]:
    """Check a schedule against the task, the model and ``num_steps``; fill in every phase's
    task, ``dt`` and name. ``None`` is one open phase on ``task``.

    ``num_steps`` caps the run: phases run in order, each for its ``steps`` (or less, when it
    reaches its ``until`` target), and training stops at ``num_steps`` in whichever phase it
    is. A schedule of finite phases must be able to fill ``num_steps``.
    """
    if schedule is None:   # one open phase: a resumed run may train further than planned
        return (Phase(None, task=task, name="phase 0"),)
    if isinstance(schedule, Phase):
        schedule = [schedule]
    phases = list(schedule)
    if not phases or not all(isinstance(p, Phase) for p in phases):
        raise ConfigError(f"schedule must be a non-empty list of neurotrain.training.Phase; got {schedule!r}.")
    open_ = [i for i, p in enumerate(phases) if p.steps is None]
    if open_ and open_ != [len(phases) - 1]:
        raise ConfigError("only the last phase of a schedule may have steps=None (it runs until num_steps).")
    fixed = sum(p.steps for p in phases if p.steps is not None)
    if not open_ and fixed < num_steps:
        raise ConfigError(f"the phases add up to {fixed} steps but num_steps={num_steps}; lengthen them "
                          f"or give the last phase steps=None (it then runs until num_steps).")
    integrating = all(hasattr(c, "tau") for c in model.layers)
    out = []
    for i, p in enumerate(phases):
        ptask = p.task
        if ptask is None:
            ptask = task if p.dt is None else dataclasses.replace(task, dt=p.dt)
        elif p.dt is not None and float(ptask.dt) != p.dt:
            raise ConfigError(f"schedule[{i}]: task.dt={ptask.dt} ms and dt={p.dt} ms disagree; give one.")
        if (ptask.num_in, ptask.num_out) != (task.num_in, task.num_out):
            raise ConfigError(f"schedule[{i}]: its task {ptask.name!r} has num_in={ptask.num_in}, "
                              f"num_out={ptask.num_out}, but the model needs {task.num_in}, {task.num_out}.")
        # the model steps with the phase's task: its dt follows when the task's differs
        dt = p.dt if p.dt is not None else (float(ptask.dt) if float(ptask.dt) != float(task.dt) else None)
        if dt is not None and not integrating:
            kinds = sorted({c.kind for c in model.layers if not hasattr(c, "tau")})
            raise ConfigError(f"schedule[{i}] changes dt to {dt} ms, but {', '.join(kinds)} cells have no "
                              f"time step; a phase can change dt for leaky (continuous-time) cells only.")
        out.append(dataclasses.replace(p, task=ptask, dt=dt, name=p.name or f"phase {i}"))
    return tuple(out)
