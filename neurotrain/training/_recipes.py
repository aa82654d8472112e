"""Recipes: how a task is trained by default, stored with the task's registry entry.

A :class:`Recipe` holds everything a default run of a task needs beyond the task itself: the
network (cell, units, cell parameters), the steps and batch size, the optimiser with its
learning-rate schedule (an :class:`~neurotrain.training.OptimizerSpec`), clipping and
regularisers, the evaluation cadence, whether to stop early and whether to restore the best
held-out checkpoint, and the success :class:`Criterion` the benchmark
``benchmarks/bench_recipes.py`` checks over seeds. A recipe may differ per gradient method
(:attr:`Recipe.methods`: the copy task under D-RTRL) and may depend on the task's parameters
(a recipe *function* ``task -> Recipe``: the copy task's steps grow with its delay).

Recipes live in the task registry's metadata (``TASKS.meta(name)["recipe"]``):
``register_task("my-task", recipe=Recipe(...))`` gives a new task one, and
:func:`register_recipe` sets or replaces one later. :func:`recipe_for` returns the recipe of a
task (a generic one for a task registered without), which ``neurotrain train --task NAME``
uses for every option not given, and ``neurotrain tasks --recipe NAME`` shows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import ConfigError
from .._validate import check_bool, check_int, check_number
from ..tasks import make_task
from ..tasks._registry import TASKS
from ._methods import METHODS
from ._optimizers import OptimizerSpec, ScheduleSpec

__all__ = ["Recipe", "Criterion", "recipe_for", "register_recipe", "GENERIC_RECIPE"]


# --------------------------------------------------------------------------------------------
# the success criterion
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Criterion:
    """When a trained network counts as having learnt its task.

    Either a threshold on a score (``metric >= threshold`` when higher is better, else
    ``<=``) or a gap to the ideal observer on the same trials (``ideal_<metric> - metric <=
    gap_to_ideal``; 0.03 is 3 points of accuracy).

    Parameters
    ----------
    metric : str
        A score of the task's evaluation (``accuracy``, ``mse``, ``perf``...).
    threshold : float, optional
    gap_to_ideal : float, optional
        Exactly one of ``threshold`` and ``gap_to_ideal``.
    higher_is_better : bool
        Direction of ``metric`` (``True`` for accuracies, ``False`` for errors).

    Examples
    --------
    >>> c = Criterion("accuracy", gap_to_ideal=0.03)
    >>> c.describe(), c.met({"accuracy": 0.86, "ideal_accuracy": 0.887})
    ('accuracy within 3 points of the ideal observer', True)
    >>> Criterion("mse", threshold=1e-3, higher_is_better=False).met({"mse": 3.4e-3})
    False
    """

    metric: str
    threshold: float | None = None
    gap_to_ideal: float | None = None
    higher_is_better: bool = True

    def __post_init__(self):
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(f"Criterion.metric must be a score name such as 'accuracy'; got {self.metric!r}.")
        if (self.threshold is None) == (self.gap_to_ideal is None):
            raise ConfigError("a Criterion needs exactly one of threshold= (e.g. accuracy >= 0.99) and "
                              "gap_to_ideal= (e.g. 0.03: within 3 points of the ideal observer).")
        object.__setattr__(self, "threshold", check_number("Criterion.threshold", self.threshold, allow_none=True))
        object.__setattr__(self, "gap_to_ideal", check_number("Criterion.gap_to_ideal", self.gap_to_ideal,
                                                              minimum=0.0, allow_none=True))
        object.__setattr__(self, "higher_is_better", check_bool("Criterion.higher_is_better",
                                                                self.higher_is_better))

    def value(self, scores: Mapping[str, float]) -> float:
        """The number the criterion compares: the metric, or its gap to the ideal observer."""
        if self.metric not in scores:
            raise ConfigError(f"the criterion needs the score {self.metric!r}; the scores are {sorted(scores)}.")
        v = float(scores[self.metric])
        if self.gap_to_ideal is None:
            return v
        ideal = scores.get(f"ideal_{self.metric}")
        if ideal is None:
            raise ConfigError(f"the criterion compares {self.metric!r} with the ideal observer, but the "
                              f"scores have no 'ideal_{self.metric}'.")
        gap = float(ideal) - v
        return gap if self.higher_is_better else -gap

    def met(self, scores: Mapping[str, float]) -> bool:
        """Whether ``scores`` (an evaluation's, with the ideal observer's) meet the criterion."""
        v = self.value(scores)
        if math.isnan(v):
            return False
        if self.gap_to_ideal is not None:
            return v <= self.gap_to_ideal + 1e-12
        return v >= self.threshold if self.higher_is_better else v <= self.threshold

    def describe(self) -> str:
        """The criterion in words."""
        if self.gap_to_ideal is not None:
            points = 100 * self.gap_to_ideal
            unit = f"{points:g} points" if self.metric == "accuracy" else f"{self.gap_to_ideal:g}"
            return f"{self.metric} within {unit} of the ideal observer"
        return f"{self.metric} {'>=' if self.higher_is_better else '<='} {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


# --------------------------------------------------------------------------------------------
# the recipe
# --------------------------------------------------------------------------------------------
#: Recipe fields and the RunOptions options they set (the optimiser fields come from ``optimizer``)
_OPTION_FIELDS = ("cell", "hidden", "cell_params", "steps", "batch_size", "clip_norm", "l2", "rate_l2",
                  "eval_every", "eval_trials", "stop_at", "restore_best")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The default training of one task: network, optimiser, schedule, steps, checks.

    Parameters
    ----------
    cell, hidden, cell_params
        The network: ``build_model(cell, num_rec=hidden, task=task, **cell_params)``. The
        cell parameters apply only when the run uses this cell.
    steps, batch_size : int
        Training steps and trials per step.
    optimizer : OptimizerSpec
        The optimiser, its learning rate and schedule.
    clip_norm : float or None
        Clip the gradient's global norm (the trainer's clipping).
    l2, rate_l2 : float
        Weight and firing-rate penalties.
    eval_every, eval_trials : int
        Held-out evaluation every this many steps, on this many trials (the final evaluation
        uses as many fresh trials).
    stop_at : float or None
        Stop early once the held-out primary metric reaches this value (``>=`` if higher is
        better, else ``<=``); ``None``: train all steps.
    restore_best : bool
        Keep, evaluate and save the weights with the best held-out score rather than the last
        ones (a late loss spike then cannot decide the run).
    criterion : Criterion or None
        When the trained network counts as having learnt the task (checked on the final
        evaluation's fresh trials, and over seeds by ``benchmarks/bench_recipes.py``).
    source : str
        Where the settings come from (a paper, a tutorial, a benchmark).
    methods : dict
        Per gradient method (``"d-rtrl"``...), the fields that differ (see :meth:`for_method`).
    name : str
        The recipe's label (the task's name; :func:`recipe_for` fills it in).
    method : str or None
        The method of a variant made by :meth:`for_method`.

    Examples
    --------
    >>> r = Recipe(steps=500, optimizer=OptimizerSpec("adam", 1e-2), criterion=Criterion("mse", 1e-3, higher_is_better=False),
    ...            methods={"d-rtrl": {"steps": 1500}})
    >>> r.steps, r.for_method("d_rtrl").steps, r.for_method("bptt").steps
    (500, 1500, 500)
    >>> r.options()["lr"], r.options()["lr_schedule"]
    (0.01, 'constant')
    """

    cell: str = "leaky"
    hidden: int = 128
    cell_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    steps: int = 2000
    batch_size: int = 32
    optimizer: OptimizerSpec = dataclasses.field(default_factory=lambda: OptimizerSpec("adam", 1e-2))
    clip_norm: float | None = 1.0
    l2: float = 0.0
    rate_l2: float = 0.0
    eval_every: int = 200
    eval_trials: int = 2000
    stop_at: float | None = None
    restore_best: bool = True
    criterion: Criterion | None = None
    source: str = ""
    methods: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    name: str = ""
    method: str | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        if not isinstance(self.cell, str) or not self.cell:
            raise ConfigError(f"Recipe.cell must be a cell name; got {self.cell!r}.")
        set_(self, "hidden", check_int("Recipe.hidden", self.hidden, minimum=1))
        set_(self, "steps", check_int("Recipe.steps", self.steps, minimum=1))
        set_(self, "batch_size", check_int("Recipe.batch_size", self.batch_size, minimum=1))
        if not isinstance(self.optimizer, OptimizerSpec):
            raise ConfigError(f"Recipe.optimizer must be an OptimizerSpec; got {self.optimizer!r}.")
        set_(self, "clip_norm", check_number("Recipe.clip_norm", self.clip_norm, minimum=0.0, inclusive=False,
                                             allow_none=True))
        set_(self, "l2", check_number("Recipe.l2", self.l2, minimum=0.0))
        set_(self, "rate_l2", check_number("Recipe.rate_l2", self.rate_l2, minimum=0.0))
        set_(self, "eval_every", check_int("Recipe.eval_every", self.eval_every, minimum=0))
        set_(self, "eval_trials", check_int("Recipe.eval_trials", self.eval_trials, minimum=1))
        set_(self, "stop_at", check_number("Recipe.stop_at", self.stop_at, allow_none=True))
        set_(self, "restore_best", check_bool("Recipe.restore_best", self.restore_best))
        if (self.restore_best or self.stop_at is not None) and not self.eval_every:
            raise ConfigError("a recipe that restores the best weights or stops early needs held-out "
                              "evaluations: set Recipe.eval_every > 0.")
        if self.criterion is not None and not isinstance(self.criterion, Criterion):
            raise ConfigError(f"Recipe.criterion must be a Criterion or None; got {self.criterion!r}.")
        set_(self, "cell_params", dict(self.cell_params))
        methods = {}
        for m, changes in dict(self.methods).items():
            key = METHODS.key(m)
            bad = sorted(set(changes) - {f.name for f in dataclasses.fields(self)} | ({"methods"} & set(changes)))
            if bad:
                raise ConfigError(f"Recipe.methods[{m!r}]: {bad[0]!r} is not a recipe field.")
            methods[key] = dict(changes)
        set_(self, "methods", methods)

    def __hash__(self):
        return hash((self.name, self.method, self.steps, self.optimizer))

    def for_method(self, method: str | None) -> Recipe:
        """The recipe for gradient method ``method``: this one with the fields of
        ``methods[method]`` replaced (this one when it has none for ``method``)."""
        if method is None:
            return self
        key = METHODS.key(method)
        changes = self.methods.get(key)
        if not changes:
            return self
        return dataclasses.replace(self, **changes, method=key)

    def options(self) -> dict[str, Any]:
        """The run options this recipe sets (``RunOptions`` names)."""
        out = {name: getattr(self, name) for name in _OPTION_FIELDS}
        out["cell_params"] = dict(self.cell_params)
        spec, sched = self.optimizer, self.optimizer.schedule
        out.update(optimizer=spec.name, optimizer_params=dict(spec.params), lr=spec.lr, lr_schedule=sched.name,
                   lr_decay=sched.lr_decay, lr_decay_every=sched.lr_decay_every, lr_min=sched.lr_min,
                   warmup_steps=sched.warmup_steps)
        return out

    def describe(self) -> str:
        """The recipe as text (what ``neurotrain tasks --recipe NAME`` prints)."""
        title = self.name or "recipe"
        if self.method:
            title += f" (with {self.method})"
        params = ", ".join(f"{k}={v!r}" for k, v in self.cell_params.items())
        lines = [title,
                 f"  network      {self.cell} RNN, {self.hidden} units" + (f" ({params})" if params else ""),
                 f"  training     {self.steps} steps of {self.batch_size} trials",
                 f"  optimizer    {self.optimizer.describe(self.steps)}",
                 f"  clipping     {'none' if self.clip_norm is None else f'global norm {self.clip_norm:g}'}",
                 f"  penalties    l2 {self.l2:g}, rate_l2 {self.rate_l2:g}",
                 f"  evaluation   every {self.eval_every} steps on {self.eval_trials} held-out trials"
                 + (f"; stop early at {self.stop_at:g}" if self.stop_at is not None else ""),
                 f"  best weights {'restored at the end' if self.restore_best else 'not restored (the last ones are kept)'}",
                 f"  criterion    {self.criterion.describe() if self.criterion else 'none'}"]
        if self.methods and self.method is None:
            for m, c in self.methods.items():
                lines.append(f"  with {m:<8}{_changes(c)}")
        if self.source:
            lines.append(f"  source       {self.source}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as JSON values (recorded in a run's ``config.json``)."""
        out = {k: v for k, v in self.options().items() if k not in ("optimizer", "optimizer_params", "lr",
                                                                     "lr_schedule", "lr_decay", "lr_decay_every",
                                                                     "lr_min", "warmup_steps")}
        out = {"name": self.name, "method": self.method, **out, "optimizer": self.optimizer.to_dict(),
               "criterion": None if self.criterion is None else self.criterion.to_dict(), "source": self.source}
        return out


def _changes(changes: Mapping[str, Any]) -> str:
    parts = []
    for k, v in changes.items():
        if isinstance(v, OptimizerSpec):
            v = v.describe(changes.get("steps"))
        elif isinstance(v, Criterion):
            v = v.describe()
        parts.append(f"{k} {v}")
    return "; ".join(parts)


#: the recipe of a task registered without one: a leaky ReLU RNN of 128 units, Adam at 1e-2
#: decaying tenfold over 2000 steps, clipping at 1, best held-out weights restored
GENERIC_RECIPE = Recipe(
    optimizer=OptimizerSpec("adam", 1e-2, ScheduleSpec("exponential", lr_decay=0.1 ** (1 / 2000))),
    source="generic (no recipe registered for this task)", name="generic")


# --------------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------------
def register_recipe(task: str, recipe: Recipe | Callable[[Any], Recipe]) -> None:
    """Set the recipe of registered task ``task``: a :class:`Recipe`, or a function of the
    task instance that returns one (for a recipe that depends on the task's parameters).

    Examples
    --------
    >>> register_recipe("integrator", Recipe(steps=10))        # doctest: +SKIP
    """
    if not (isinstance(recipe, Recipe) or callable(recipe)):
        raise ConfigError(f"recipe must be a Recipe or a function task -> Recipe; got {recipe!r}.")
    TASKS.update_meta(task, recipe=recipe)


def recipe_for(task, method: str | None = None, **task_params: Any) -> Recipe:
    """The recipe of ``task`` (a :class:`~neurotrain.tasks.Task` or a registered name, built
    with ``task_params``) for gradient ``method``.

    A task registered without a recipe gets :data:`GENERIC_RECIPE`.

    Examples
    --------
    >>> r = recipe_for("pdm")
    >>> r.name, r.cell, r.criterion.describe()
    ('perceptual-decision-making', 'leaky', 'accuracy within 3 points of the ideal observer')
    >>> recipe_for("copy", delay=10).steps < recipe_for("copy", delay=50).steps
    True
    """
    if isinstance(task, str):
        task = make_task(task, **task_params)
    elif task_params:
        raise ConfigError("recipe_for: pass task parameters only with a task name, not with a task object.")
    name = getattr(task, "name", None)
    entry = TASKS.meta(name).get("recipe") if name in TASKS else None
    if entry is None:
        recipe = dataclasses.replace(GENERIC_RECIPE, name=name or "generic")
    else:
        recipe = entry if isinstance(entry, Recipe) else entry(task)
        if not isinstance(recipe, Recipe):
            raise ConfigError(f"the recipe function of task {name!r} returned {recipe!r}, not a Recipe.")
        if not recipe.name:
            recipe = dataclasses.replace(recipe, name=name)
    return recipe.for_method(method)
