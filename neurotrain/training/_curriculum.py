"""Curricula: train on easier versions of a task first, moving on as each is mastered.

A curriculum is a training schedule (:class:`~neurotrain.training.Phase`): one phase per
stage, each compiled once, ending as soon as the held-out score **on that stage's own task**
passes its threshold (``Phase(until=..., until_on="phase")``), or after its most steps; then
the task given to ``train`` itself, until ``num_steps``. Because it is a schedule, a resumed run
continues inside the right stage, bit for bit, and ``result.phases`` says when and why each
stage ended (as PsychRNN's ``Curriculum`` of tasks and thresholds, built on neurotrain's phases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ConfigError
from .._validate import check_bool, check_int, check_number
from ._schedule import Phase

__all__ = ["curriculum", "curriculum_stages"]


def curriculum(stages: Sequence[Any], thresholds: Sequence[float] | float, *, max_steps: int | Sequence[int],
               metric: str | None = None, reset_optimizer: bool = False, final_name: str = "final") -> list[Phase]:
    """A schedule that trains on ``stages`` in turn, then on the task given to ``train``.

    Parameters
    ----------
    stages : sequence of Task
        The easier tasks, easiest first (e.g. a shorter delay, higher coherences). Each must
        have the final task's ``num_in`` and ``num_out``; its trial length may differ.
    thresholds : float or sequence of float
        The held-out score (``metric`` on ``eval_trials`` trials of the stage's own task) at
        which each stage is passed; one for all or one per stage.
    max_steps : int or sequence of int
        The most steps of each stage: a stage that has not passed its threshold by then ends
        anyway (``result.phases`` then gives ``"steps"`` as its reason).
    metric : str, optional
        The score (default: each stage task's primary metric, e.g. ``accuracy``; for metrics
        where lower is better, such as ``mse``, a stage passes at or below its threshold).
    reset_optimizer : bool
        Start every stage with fresh optimiser moments.
    final_name : str
        The name of the last phase (the task given to ``train``).

    Returns
    -------
    list of Phase
        Pass it as ``train(..., schedule=...)`` with ``eval_every > 0`` (the scores are checked
        at the evaluations).

    Examples
    --------
    >>> import brainstate, braintools, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking(dt=20.0)
    >>> easy = nt.tasks.PerceptualDecisionMaking(dt=20.0, coherences=(51.2,))
    >>> schedule = nt.training.curriculum([easy], thresholds=0.8, max_steps=40)
    >>> [(p.name, p.steps, p.until, p.until_on) for p in schedule]
    [('stage 0', 40, 0.8, 'phase'), ('final', None, None, 'task')]
    >>> model = nt.models.build_model("leaky", num_rec=32, task=task)
    >>> result = nt.train(model, task, braintools.optim.Adam(1e-2), schedule=schedule, num_steps=60,
    ...                   batch_size=16, eval_every=10, eval_trials=64)
    >>> result.phases[0]["reason"].startswith("accuracy=")      # the easy stage was passed early
    True
    """
    stages = list(stages)
    if not stages:
        raise ConfigError("curriculum needs at least one stage (an easier task) before the final task.")
    n = len(stages)
    thr = [thresholds] * n if not isinstance(thresholds, Sequence) else list(thresholds)
    steps = [max_steps] * n if not isinstance(max_steps, Sequence) else list(max_steps)
    for name, values in (("thresholds", thr), ("max_steps", steps)):
        if len(values) != n:
            raise ConfigError(f"curriculum: {name} has {len(values)} entries for {n} stages; give one per stage "
                              f"(or a single value for all).")
    thr = [check_number(f"thresholds[{i}]", t) for i, t in enumerate(thr)]
    steps = [check_int(f"max_steps[{i}]", s, minimum=1) for i, s in enumerate(steps)]
    reset_optimizer = check_bool("reset_optimizer", reset_optimizer)
    out = []
    for i, (task, t, s) in enumerate(zip(stages, thr, steps)):
        if not hasattr(task, "sample") or not hasattr(task, "num_in"):
            raise ConfigError(f"curriculum: stages[{i}] must be a neurotrain Task; got {task!r}.")
        out.append(Phase(s, task=task, until=t, until_on="phase", metric=metric, name=f"stage {i}",
                         reset_optimizer=reset_optimizer))
    out.append(Phase(None, name=final_name, reset_optimizer=reset_optimizer))
    return out


def curriculum_stages(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The task parameters of each stage of a curriculum recipe (a run option or a config table).

    A recipe gives the stages either as ``stages``, a list of task-parameter tables (each
    overrides the run's task parameters), or as ``param`` and ``values`` (one stage per value
    of one parameter); ``thresholds`` and ``max_steps`` are one value or one per stage, and
    ``metric`` and ``reset_optimizer`` are optional.

    Examples
    --------
    >>> curriculum_stages({"param": "coherences", "values": [[51.2], [25.6, 51.2]],
    ...                    "thresholds": 0.85, "max_steps": 500})
    [{'coherences': [51.2]}, {'coherences': [25.6, 51.2]}]
    """
    known = {"stages", "param", "values", "thresholds", "max_steps", "metric", "reset_optimizer"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(f"curriculum: unknown entry {unknown[0]!r}; a curriculum has {', '.join(sorted(known))}.")
    for need in ("thresholds", "max_steps"):
        if need not in spec:
            raise ConfigError(f"curriculum: {need!r} is missing (e.g. thresholds = 0.9, max_steps = 1000).")
    if "stages" in spec:
        if "param" in spec or "values" in spec:
            raise ConfigError("curriculum: give either stages (a list of task-parameter tables) or param and "
                              "values, not both.")
        stages = spec["stages"]
        if not isinstance(stages, Sequence) or isinstance(stages, str) or not all(
                isinstance(s, Mapping) for s in stages):
            raise ConfigError(f"curriculum: stages must be a list of task-parameter tables, e.g. "
                              f"[{{delay = 100}}, {{delay = 300}}]; got {stages!r}.")
        return [dict(s) for s in stages]
    if "param" not in spec or "values" not in spec:
        raise ConfigError("curriculum: give the stages as stages = [...] or as param = NAME with values = [...].")
    values = spec["values"]
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ConfigError(f"curriculum: values must be a non-empty list (one value of {spec['param']!r} per "
                          f"stage); got {values!r}.")
    return [{str(spec["param"]): v} for v in values]
