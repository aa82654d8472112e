"""``RunOptions``: the one description of a ``neurotrain train`` run.

Its fields are the options of the command (the flags, the keys of a configuration file, the
``options`` entry of ``config.json`` and what ``--dry-run`` prints, in that order). The
training settings among them (``steps``, ``batch_size``, ``seed``, ``l2``, ``rate_l2``,
``clip_norm``, ``eval_every``, ``eval_trials``, ``activity_bound``) take their help text,
their checks and whether a resumed run may change them from
:class:`~neurotrain.training.TrainConfig`; only the defaults of a real run that differ from
``TrainConfig``'s (:data:`RUN_DEFAULTS`) are set here.

The options a task's recipe sets (:data:`RECIPE_OPTIONS`: the network, steps, batch size,
optimiser, learning-rate schedule, clipping, penalties, evaluation, early stop, best-weight
restore) default to :data:`FROM_RECIPE`: a ``RunOptions`` takes them from
:func:`neurotrain.training.recipe_for` of its task and method when it is made, so that
``RunOptions(task="copy")``, ``neurotrain train --task copy`` and a configuration file that
names only the task all train the copy task's recipe; options given (flags, file keys,
arguments) override it field by field.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import ConfigError
from .._validate import check_bool, check_finite_tree, check_int, check_number, check_seed
from ..io import CONFIG_FILE, read_config_file, to_toml
from ..models import get_cell_class
from ..tasks import make_task
from ..training import OPTIMIZERS, OptimizerSpec, ScheduleSpec, TrainConfig, recipe_for
from ._population_spec import (
    check_chunk,
    check_devices,
    check_population,
    check_population_grid,
    population_of,
)

__all__ = ["RunOptions", "RUN_DEFAULTS", "OptionKind", "FROM_RECIPE", "RECIPE_OPTIONS", "LEGACY_OPTIONS"]

#: the defaults of a ``neurotrain train`` run where they differ from TrainConfig's: a real run,
#: scored on held-out trials as it goes and at the end
RUN_DEFAULTS = {"steps": 2000, "eval_every": 200, "eval_trials": 2000}
#: RunOptions field -> TrainConfig field, for the training settings
TRAINING_SETTINGS = {"steps": "num_steps", "batch_size": "batch_size", "seed": "seed", "l2": "l2",
                     "rate_l2": "rate_l2", "clip_norm": "clip_norm", "eval_every": "eval_every",
                     "eval_trials": "eval_trials", "activity_bound": "activity_bound"}
_OFF_WORDS = ("none", "off", "0")


class _Invalid(Exception):
    """Raised by an :class:`OptionKind` check: the value breaks the rule ``what``."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


# --------------------------------------------------------------------------------------------
# kinds of values: the check, the rule in words, and what a command line needs to parse one
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class OptionKind:
    """What an option takes: its check (returns the normalised value) and the rule in words.

    ``number`` (``int`` or ``float``), ``minimum``, ``maximum``, ``inclusive`` (for
    ``minimum``) and ``optional`` (``"none"``, ``"off"`` or ``0`` mean off) describe numbers,
    so that a command line can parse them; ``table`` and ``flag`` mark ``KEY=VALUE`` tables and
    on/off switches (``negatable``: with a ``--no-`` form, for a switch a recipe may turn on).
    """

    what: str
    check: Callable[[str, Any], Any]
    number: type | None = None
    minimum: float | None = None
    maximum: float | None = None
    inclusive: bool = True
    optional: bool = False
    table: bool = False
    flag: bool = False
    negatable: bool = False


def _via(validator: Callable[..., Any], what: str, **kw) -> Callable[[str, Any], Any]:
    def check(name, value):
        try:
            return validator(name, value, **kw)
        except ConfigError:
            raise _Invalid(what) from None

    return check


def _integer(minimum: int) -> OptionKind:
    return OptionKind(f"an integer >= {minimum}", _via(check_int, f"an integer >= {minimum}", minimum=minimum),
                      number=int, minimum=minimum)


def _number(minimum: float, inclusive: bool) -> OptionKind:
    what = f"a number {'>=' if inclusive else '>'} {minimum:g}"
    return OptionKind(what, _via(check_number, what, minimum=minimum, inclusive=inclusive),
                      number=float, minimum=minimum, inclusive=inclusive)


def _check_optional(name, value):
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in _OFF_WORDS):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return None
    return _via(check_number, "", minimum=0.0, inclusive=False)(name, value)


def _check_name(name, value) -> str:
    if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 for c in value):
        raise _Invalid("a name (a non-empty string)")
    return value.strip()


def _check_path(name, value) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise _Invalid("a folder path (a non-empty string)")
    return value


def _check_table(name, value) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _Invalid("a table of KEY = VALUE entries (e.g. [task_params] in TOML)")
    out = {}
    for k, v in value.items():
        key = str(k).strip().replace("-", "_")
        if not key.isidentifier():
            raise _Invalid(f"a table whose keys are parameter names; {k!r} is not one")
        out[key] = v
    check_finite_tree(name, out)   # a ConfigError naming the entry, e.g. task_params.delay
    return out


def _check_switch(name, value) -> bool:
    try:
        return check_bool(name, value)
    except ConfigError:
        raise _Invalid("true or false") from None


def _check_dale(name, value):
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("none", "off")):
        return None
    what = 'a fraction of excitatory units in (0, 1), e.g. 0.8 (80 % excitatory), or "none"'
    try:
        v = float(value) if isinstance(value, str) else value
    except ValueError:
        raise _Invalid(what) from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0:
        raise _Invalid(what)
    return float(v)


def _check_choice_of(*choices: str):
    what = " or ".join(repr(c) for c in choices)

    def check(name, value):
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise _Invalid(what)
        return value.strip().lower()

    return OptionKind(what, check)


def _check_coefficients(name, value):
    table = _check_table(name, value)
    for k, v in table.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise _Invalid(f"a table of non-negative coefficients by weight name (e.g. W_rec = 1e-4); "
                           f"{k} = {v!r} is not one")
        table[k] = float(v)
    return table


def _check_freeze(name, value):
    table = _check_table(name, value)
    for k, v in table.items():
        if not isinstance(v, (bool, str)):
            raise _Invalid(f"a table of parameter names set to true (frozen) or to a .npy file of frozen "
                           f"entries (1 = frozen); {k} = {v!r} is not one")
    return table


INTEGER_1 = _integer(1)
INTEGER_0 = _integer(0)
POSITIVE = _number(0.0, False)
NON_NEGATIVE = _number(0.0, True)
OPTIONAL_POSITIVE = OptionKind('a positive number, or "none"', _check_optional, number=float, minimum=0.0,
                               inclusive=False, optional=True)
SEED = OptionKind("an integer from 0 to 2147483647", _via(check_seed, "an integer from 0 to 2147483647"),
                  number=int, minimum=0, maximum=2 ** 31 - 1)
NAME = OptionKind("a name (a non-empty string)", _check_name)
PATH = OptionKind("a folder path (a non-empty string)", _check_path)
TABLE = OptionKind("a table of KEY = VALUE entries", _check_table, table=True)
SWITCH = OptionKind("true or false", _check_switch, flag=True)
# populations (their checks raise ConfigErrors that name the entry; see _population_spec)
POPULATION = OptionKind('a number of networks >= 1, a table of networks, or "none"', check_population,
                        optional=True)
POPULATION_GRID = OptionKind("a table of population axes to lists of values", check_population_grid, table=True)
DEVICES = OptionKind('a number of devices >= 1, "all", or "none"', check_devices, optional=True)
CHUNK = OptionKind('an integer >= 1, "auto" or "none"', check_chunk, optional=True)
DALE = OptionKind('a fraction of excitatory units in (0, 1), or "none"', _check_dale, optional=True)
COEFFICIENTS = OptionKind("a table of non-negative coefficients by weight name", _check_coefficients, table=True)
FREEZE = OptionKind("a table of parameter names (true or a .npy mask)", _check_freeze, table=True)


# --- the kinds of the optimiser, schedule and best-weight options (recipes) -------------------
def _check_optional_int(name, value):
    if value is None or (isinstance(value, str) and value.strip().lower() in _OFF_WORDS):
        return None
    return _via(check_int, "", minimum=1)(name, value)


def _check_optional_number(name, value):
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off")):
        return None
    return _via(check_number, "")(name, value)


OPTIONAL_INTEGER_1 = OptionKind('an integer >= 1, or "none"', _check_optional_int, number=int, minimum=1,
                                optional=True)
OPTIONAL_NUMBER = OptionKind('a number, or "none"', _check_optional_number, number=float, optional=True)
NEGATABLE_SWITCH = OptionKind("true or false", _check_switch, flag=True, negatable=True)


class _FromRecipe:
    """The default of an option a task's recipe sets (see :data:`RECIPE_OPTIONS`)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "FROM_RECIPE"

    def __reduce__(self):
        return (_FromRecipe, ())


#: the default of the options a recipe sets: "take it from the task's recipe"
FROM_RECIPE = _FromRecipe()
#: the options a task's recipe sets (:meth:`neurotrain.training.Recipe.options`)
RECIPE_OPTIONS = ("cell", "hidden", "cell_params", "steps", "batch_size", "lr", "optimizer", "optimizer_params",
                  "lr_schedule", "lr_decay", "lr_decay_every", "lr_min", "warmup_steps", "l2", "rate_l2",
                  "clip_norm", "eval_every", "eval_trials", "stop_at", "restore_best")
#: the recipe tables: their entries follow the recipe's cell / optimiser (see RunOptions)
_RECIPE_TABLES = {"cell_params": "cell", "optimizer_params": "optimizer"}
#: the schedule parameters: they follow the recipe's schedule
_SCHEDULE_PARAMS = ("lr_decay", "lr_decay_every", "lr_min")


class _Partial(dict):
    """A recipe table's given entries, to be merged over the recipe's again (``RunOptions._with``)."""


#: the options of runs recorded before recipes (a constant-rate Adam, the last weights kept)
LEGACY_OPTIONS = {"optimizer": "adam", "optimizer_params": {}, "lr_schedule": "constant", "lr_decay": None,
                  "lr_decay_every": None, "lr_min": None, "warmup_steps": 0, "stop_at": None,
                  "restore_best": False}
_KIND_OF_SETTING = {"steps": INTEGER_1, "batch_size": INTEGER_1, "seed": SEED, "l2": NON_NEGATIVE,
                    "rate_l2": NON_NEGATIVE, "clip_norm": OPTIONAL_POSITIVE, "eval_every": INTEGER_0,
                    "eval_trials": INTEGER_1, "activity_bound": OPTIONAL_POSITIVE}


def _leaky_tau() -> float:
    return float(inspect.signature(get_cell_class("leaky").__init__).parameters["tau"].default)


# --------------------------------------------------------------------------------------------
# the fields
# --------------------------------------------------------------------------------------------
def _option(default, kind: OptionKind, help: str, *, group: str, resumable: bool = False,
            metavar: str | None = None, shown_default: str | None = None):
    meta = {"kind": kind, "help": help, "group": group, "resumable": resumable, "metavar": metavar,
            "shown_default": shown_default, "training": None}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


_OPTIMIZER = "optimizer and learning-rate schedule"


def _setting(name: str, *, group: str = "training", metavar: str | None = None, extra_help: str = ""):
    """A training setting: help text, resumability and (unless in RUN_DEFAULTS) default from
    TrainConfig."""
    train_name = TRAINING_SETTINGS[name]
    default = FROM_RECIPE if name in RECIPE_OPTIONS else RUN_DEFAULTS.get(name, TrainConfig.default(train_name))
    meta = {"kind": _KIND_OF_SETTING[name], "help": TrainConfig.help(train_name) + extra_help,
            "group": group, "resumable": TrainConfig.resumable(train_name), "metavar": metavar,
            "shown_default": None, "training": train_name}
    return dataclasses.field(default=default, metadata=meta)


_MODEL = "task and model"
_TRAINING = "training"
_OUTPUT = "evaluation, checkpoints and output"
_POPULATION = "populations (K networks trained together in one compiled step)"
_CONSTRAINTS = "biological constraints, regularisers and curricula"
DEFAULT_TASK = "perceptual-decision-making"
DEFAULT_CELL = "leaky"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The options of one training run: task, model, method, optimiser, settings and output.

    Every value is checked when the object is made (a :class:`~neurotrain.ConfigError` names
    the option, the value and what it must be; NaN and infinities are refused anywhere in the
    parameter tables). The defaults are those of ``neurotrain train``: perceptual decision
    making (the random-dot motion task of Britten et al. 1992, with neurogym's timing) trained
    with BPTT and the task's recipe (:func:`neurotrain.training.recipe_for`): a leaky RNN of 128
    units, Adam at 0.01 decaying tenfold over 2000 steps of 32 trials, clipping at 1, the best
    held-out weights restored. Every option a recipe sets (:data:`RECIPE_OPTIONS`) defaults to
    :data:`FROM_RECIPE` and is taken from the recipe of the task and method when the object is
    made, unless given: ``RunOptions(task="copy")`` is the copy task's recipe.

    Parameters
    ----------
    task : str
        A task name or alias (:func:`neurotrain.tasks.list_tasks`).
    task_params, cell_params, method_params : dict
        Parameters of the task class, the cell class and the gradient method.
    cell : str
        ``"vanilla"``, ``"leaky"``, ``"gru"`` or ``"lstm"``.
    hidden, layers : int
        Units per layer and stacked layers.
    method : str
        The gradient method (``"bptt"``, ``"d-rtrl"``, ``"pp-prop"``, ``"es-d-rtrl"``).
    lr : float
        The optimiser's base learning rate.
    optimizer, optimizer_params : str, dict
        ``adam``, ``adamw``, ``sgd`` or ``rmsprop`` and its other hyper-parameters (see
        :class:`~neurotrain.training.OptimizerSpec`; a recipe's parameters apply to its own
        optimiser only).
    lr_schedule, lr_decay, lr_decay_every, lr_min, warmup_steps
        The learning-rate schedule (see :class:`~neurotrain.training.ScheduleSpec`); a
        recipe's schedule parameters apply to its own schedule only. A cosine's length
        (``lr_decay_every``) defaults to the steps after the warm-up, and is recorded.
    stop_at : float or None
        Stop early when the held-out primary metric reaches it.
    restore_best : bool
        Make the best held-out weights the run's (:class:`~neurotrain.training.BestCheckpoint`).
    steps, batch_size, seed, l2, rate_l2, clip_norm, eval_every, eval_trials, activity_bound
        The training settings, as in :class:`~neurotrain.training.TrainConfig` (``steps`` is
        its ``num_steps``). ``seed`` (0 to 2**31 - 1) also seeds the weights; the final
        evaluation uses ``seed + 1`` and ``eval_trials`` fresh trials (derived seeds wrap around
        inside the range, see :func:`neurotrain._validate.derive_seed`).
    checkpoint_every, keep_checkpoints : int
        A checkpoint every N steps (and at the start and the end; 0: only then); how many of
        the newest to keep (0: all).
    population : int, dict or None
        Train this many networks together (seeds ``seed`` to ``seed + K - 1``), or a table of
        explicit networks (``seeds`` and per-network ``lr``, ``l2``... lists); ``None``: one.
    population_grid : dict
        Population axes (``seed``, ``lr``, ``l2``, ``rate_l2``, ``sigma_in``, ``sigma_rec``) to
        lists of values: every combination, with each seed.
    devices : int, "all" or None
        Split the population's networks over this many devices.
    chunk : int, "auto" or None
        Compute the population this many networks at a time (``"auto"``: 4 on a CPU, all at
        once on an accelerator; ``None``: all at once).
    out : str or None
        The run directory; ``None``: a new ``runs/<task>-<cell>-<YYYYmmdd-HHMMSS>``. An
        existing folder must be empty or an earlier neurotrain run (replaced atomically), unless
        :func:`~neurotrain.runs.train_run` is given ``force=True``.
    no_progress, no_figures : bool
        Hide the progress bar; draw no figures.
    dale : float or None
        Dale's law with this fraction of excitatory units (the cell's ``dale``).
    masks : dict
        ``{"W_in" | "W_rec" | "readout": path of a .npy 0/1 array}``.
    freeze : dict
        ``{parameter name: True or path of a .npy array, 1 = frozen}``.
    readout_from : {"all", "excitatory"}
    positive_readout : bool
    readout_activation : {"linear", "sigmoid"}
    weight_l1, weight_l2 : dict
        ``{weight name or "all": coefficient}``: L1 / L2 penalties on the effective weights.
    rate_l1 : float
        Coefficient of ``mean(|h|)``.
    curriculum : dict
        A curriculum recipe (:func:`neurotrain.training.curriculum_stages`): ``param`` and
        ``values`` (or ``stages``), ``thresholds``, ``max_steps``, optional ``metric`` and
        ``reset_optimizer``.

    Examples
    --------
    >>> opts = RunOptions(task="copy", cell="gru", task_params={"delay": 5}, steps=20)
    >>> opts.steps, opts.train_config().num_steps, opts.to_dict()["task_params"]
    (20, 20, {'delay': 5})
    >>> RunOptions(steps=0)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: RunOptions: steps = 0 is not valid; steps must be an integer >= 1
    >>> RunOptions(task_params={"delay": float("nan")})
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: RunOptions: task_params.delay must be a finite number; got nan. NaN and infinities are not valid parameter values.
    >>> [n for n in RunOptions.names() if RunOptions.resumable(n)]
    ['steps', 'devices', 'chunk', 'eval_every', 'stop_at', 'restore_best', 'checkpoint_every', 'keep_checkpoints', 'no_progress', 'no_figures']

    The options a task's recipe sets come from it unless given:

    >>> copy = RunOptions(task="copy", task_params={"delay": 20}, lr=3e-3)
    >>> copy.cell, copy.lr, copy.lr_schedule, copy.restore_best, "lr" in copy.from_recipe
    ('gru', 0.003, 'cosine', True, False)
    """

    task: str = _option(DEFAULT_TASK, NAME, "task name or alias, see `neurotrain tasks`", group=_MODEL)
    task_params: dict[str, Any] = _option(
        {}, TABLE, "set a task parameter, repeatable; VALUE is parsed as JSON when possible, else kept "
        "as a string (e.g. --task-param delay=20)", group=_MODEL, shown_default="none")
    cell: str = _option(FROM_RECIPE, NAME, "recurrent cell: vanilla, leaky, gru or lstm", group=_MODEL)
    cell_params: dict[str, Any] = _option(
        FROM_RECIPE, TABLE, "set a cell parameter, repeatable (e.g. --cell-param tau=50 --cell-param "
        "activation=tanh). For the leaky cell dt defaults to the task's dt and tau to "
        f"{_leaky_tau():g} ms; a recipe's cell parameters apply to its own cell only", group=_MODEL)
    hidden: int = _option(FROM_RECIPE, INTEGER_1, "recurrent units per layer", group=_MODEL, metavar="N")
    layers: int = _option(1, INTEGER_1, "number of stacked recurrent layers", group=_MODEL, metavar="N")
    method: str = _option(
        "bptt", NAME, "gradient method: bptt (exact), d-rtrl or pp-prop / es-d-rtrl (online, approximate; "
        "built on braintrace)", group=_TRAINING)
    method_params: dict[str, Any] = _option(
        {}, TABLE, "set an option of the gradient method, repeatable; online methods take "
        "vjp_method=multi-step|single-step, warmup=N|auto, update_every=K, and pp-prop decay=0.9",
        group=_TRAINING, shown_default="none")
    steps: int = _setting("steps", metavar="N")
    batch_size: int = _setting("batch_size", metavar="N")
    lr: float = _option(FROM_RECIPE, POSITIVE, "the optimizer's base learning rate", group=_OPTIMIZER)
    # --- recipes: the optimiser and the learning-rate schedule (neurotrain.training.OptimizerSpec)
    optimizer: str = _option(FROM_RECIPE, NAME, "optimizer: adam, adamw, sgd or rmsprop (braintools.optim)",
                             group=_OPTIMIZER)
    optimizer_params: dict[str, Any] = _option(
        FROM_RECIPE, TABLE, "set a parameter of the optimizer, repeatable: adam/adamw betas, eps, weight_decay "
        "(adam amsgrad); sgd momentum, nesterov, weight_decay; rmsprop alpha, eps, momentum, centered, "
        "weight_decay (e.g. --optimizer-param momentum=0.9); a recipe's apply to its own optimizer only",
        group=_OPTIMIZER)
    lr_schedule: str = _option(
        FROM_RECIPE, NAME, "learning-rate schedule, stepped once per training step: constant, exponential "
        "(x LR_DECAY every LR_DECAY_EVERY steps, continuously), step (x LR_DECAY after every LR_DECAY_EVERY "
        "steps) or cosine (to LR_MIN over LR_DECAY_EVERY steps, default the steps after the warm-up)",
        group=_OPTIMIZER)
    lr_decay: float | None = _option(FROM_RECIPE, OPTIONAL_POSITIVE, "the factor of the exponential and step "
                                     "schedules (e.g. 0.99975 per step)", group=_OPTIMIZER, metavar="X")
    lr_decay_every: int | None = _option(FROM_RECIPE, OPTIONAL_INTEGER_1, "steps per LR_DECAY factor "
                                         "(exponential: 1; step: required), or the length of the cosine",
                                         group=_OPTIMIZER, metavar="N")
    lr_min: float | None = _option(FROM_RECIPE, OPTIONAL_POSITIVE, "the floor of the exponential schedule, the "
                                   "end of the cosine (none: no floor / 0)", group=_OPTIMIZER, metavar="X")
    warmup_steps: int = _option(FROM_RECIPE, INTEGER_0, "a linear warm-up of N steps before the schedule "
                                "(0: none)", group=_OPTIMIZER, metavar="N")
    l2: float = _setting("l2")
    rate_l2: float = _setting("rate_l2")
    clip_norm: float | None = _setting("clip_norm", metavar="X")
    seed: int = _setting("seed", extra_help=", 0 to 2147483647; it seeds the weights too, the final "
                                            "evaluation uses seed+1 and analyze seed+2 (wrapping "
                                            "around inside the range)")
    population: int | dict | None = _option(
        None, POPULATION, "train K networks together in one compiled step, with seeds seed..seed+K-1; each is "
        "the network a separate run with its seed trains (with --population-grid: K seeds per combination)",
        group=_POPULATION, metavar="K")
    population_grid: dict[str, Any] = _option(
        {}, POPULATION_GRID, "a per-network axis of the population, repeatable: AXIS=V1,V2,... with AXIS one of "
        "seed, lr, l2, rate_l2, sigma_in, sigma_rec (noise: leaky cells, bptt); every combination is trained "
        "(e.g. --population-grid lr=1e-3,1e-2 --population-grid l2=0,1e-4)", group=_POPULATION,
        metavar="AXIS=VALUES", shown_default="none")
    devices: int | str | None = _option(
        None, DEVICES, "split the population's networks over N devices (or all); K must be a multiple of N",
        group=_POPULATION, resumable=True, metavar="N")
    chunk: int | str | None = _option(
        "auto", CHUNK, "compute the population N networks at a time (a smaller working set; same results within "
        "float rounding); auto: 4 on a CPU, all at once on an accelerator; none: all at once",
        group=_POPULATION, resumable=True, metavar="N")
    eval_trials: int = _setting("eval_trials", group=_OUTPUT, metavar="N",
                                extra_help="; the final evaluation uses as many fresh trials")
    eval_every: int = _setting("eval_every", group=_OUTPUT, metavar="N")
    # --- recipes: early stop and the best held-out weights (neurotrain.training.BestCheckpoint)
    stop_at: float | None = _option(
        FROM_RECIPE, OPTIONAL_NUMBER, "stop early once the held-out primary metric reaches X (>= X if higher is "
        "better, else <= X; none: train every step)", group=_OUTPUT, resumable=True, metavar="X")
    restore_best: bool = _option(
        FROM_RECIPE, NEGATABLE_SWITCH, "keep the held-out evaluation's best weights in checkpoints/best.msgpack "
        "and make them the run's saved and evaluated weights (--no-restore-best: the last step's)",
        group=_OUTPUT, resumable=True)
    checkpoint_every: int = _option(
        500, INTEGER_0, "write a checkpoint every N steps into RUN_DIR/checkpoints (also at the start and "
        "the end), 0 for only at the start and the end", group=_OUTPUT, resumable=True, metavar="N")
    keep_checkpoints: int = _option(3, INTEGER_0, "keep the newest N checkpoints, 0 for all", group=_OUTPUT,
                                    resumable=True, metavar="N")
    activity_bound: float | None = _setting("activity_bound", metavar="X")
    out: str | None = _option(None, PATH, "run directory to write: a new or empty folder, or an earlier "
                              "run, replaced once the new run has started (any other folder needs "
                              "--force)", group=_OUTPUT, metavar="DIR",
                              shown_default="runs/<task>-<cell>-<YYYYmmdd-HHMMSS>")
    no_progress: bool = _option(False, SWITCH, "hide the progress bar", group=_OUTPUT, resumable=True,
                                shown_default="shown")
    no_figures: bool = _option(False, SWITCH, "do not draw the PNG figures", group=_OUTPUT, resumable=True,
                               shown_default="drawn")
    dale: float | None = _option(
        None, DALE, "Dale's law: the fraction of excitatory units (e.g. 0.8); the weights from a unit keep its "
        "sign; leaky and vanilla cells (more in --cell-param: positive_inputs, autapses=false, dale_mode, "
        "tau={\"E\": 100, \"I\": 50}, train_tau)", group=_CONSTRAINTS, metavar="FRACTION", shown_default="none")
    masks: dict[str, Any] = _option(
        {}, TABLE, "a connectivity mask from a .npy file of 0/1 (np.save), repeatable: W_in (num_in, hidden), "
        "W_rec (hidden, hidden) or readout (hidden, num_out), e.g. --mask W_rec=conn.npy; absent connections "
        "stay exactly 0", group=_CONSTRAINTS, shown_default="none")
    freeze: dict[str, Any] = _option(
        {}, FREEZE, "keep a parameter at its initial value, repeatable: a name (W_in, W_rec, b, h0, readout: "
        "in every layer) or NAME=FILE.npy with 1 marking the frozen entries, e.g. --freeze W_in",
        group=_CONSTRAINTS, shown_default="none")
    readout_from: str = _option("all", _check_choice_of("all", "excitatory"),
                                "read out from all units or from the excitatory ones only (needs --dale)",
                                group=_CONSTRAINTS)
    positive_readout: bool = _option(False, SWITCH, "non-negative readout weights", group=_CONSTRAINTS,
                                     shown_default="any sign")
    readout_activation: str = _option("linear", _check_choice_of("linear", "sigmoid"),
                                      "the readout's output function: linear, or sigmoid (outputs in (0, 1); "
                                      "Soo et al.'s population readout, for tasks with targets in [0, 1])",
                                      group=_CONSTRAINTS)
    weight_l1: dict[str, Any] = _option(
        {}, COEFFICIENTS, "L1 penalty on chosen weights (sum |W| of the effective weights), repeatable: "
        "--weight-l1 W_rec=1e-4 (a name, a dotted path, or all for every weight matrix)", group=_CONSTRAINTS,
        shown_default="none")
    weight_l2: dict[str, Any] = _option(
        {}, COEFFICIENTS, "L2 penalty on chosen weights (sum W^2), repeatable, e.g. --weight-l2 W_rec=1e-4",
        group=_CONSTRAINTS, shown_default="none")
    rate_l1: float = _option(0.0, NON_NEGATIVE, "coefficient of the firing-rate penalty mean(|h|)",
                             group=_CONSTRAINTS)
    curriculum: dict[str, Any] = _option(
        {}, TABLE, "train on easier stages first, each until its held-out score passes its threshold: "
        "param=NAME values=[...] (or stages=[{...}, ...] of task parameters) thresholds=X max_steps=N, "
        "e.g. --curriculum param=coherences --curriculum 'values=[[51.2],[25.6,51.2]]' --curriculum "
        "thresholds=0.85 --curriculum max_steps=500", group=_CONSTRAINTS, shown_default="none")

    def __post_init__(self):
        partial = {t for t in _RECIPE_TABLES if isinstance(getattr(self, t), _Partial)}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if (f.name == "out" and value is None) or value is FROM_RECIPE:
                continue
            object.__setattr__(self, f.name, _check(f.name, value, "RunOptions"))
        self._take_recipe(partial)
        if self.lr_schedule.strip().lower() == "cosine" and self.lr_decay_every is None:
            # the cosine's length, recorded: a resumed run that trains longer keeps it
            object.__setattr__(self, "lr_decay_every", max(self.steps - self.warmup_steps, 1))
            object.__setattr__(self, "_from_recipe", self._from_recipe | {"lr_decay_every"})
        self.train_config()   # the settings together, as the trainer will check them
        # the networks, resolved once (not a field: equality and replace() see the options only)
        object.__setattr__(self, "_population", population_of(
            population=self.population, population_grid=self.population_grid, seed=self.seed))
        if self.population_spec() is None and (self.devices is not None or self.chunk not in (None, "auto")):
            raise ConfigError(f"RunOptions: {'devices' if self.devices is not None else 'chunk'} applies to "
                              f"populations; set population (e.g. --population 8) too, or leave it out.")
        self.optimizer_spec()

    # --- the recipe ------------------------------------------------------------------------
    def _take_recipe(self, partial=()) -> None:
        """Fill the options left at FROM_RECIPE from the task's recipe (see the module docstring).

        A recipe's cell parameters apply only to its cell, its optimizer parameters only to its
        optimizer and its schedule parameters only to its schedule; a recipe's early stop and
        best-weight restore yield to ``eval_every=0``.
        """
        set_ = object.__setattr__
        missing = {n for n in RECIPE_OPTIONS if getattr(self, n) is FROM_RECIPE}
        given_tables = {t: ({} if getattr(self, t) is FROM_RECIPE else dict(getattr(self, t)))
                        for t in _RECIPE_TABLES}
        set_(self, "_given_tables", given_tables)
        if not missing and not partial:
            set_(self, "_from_recipe", frozenset())
            return
        try:
            task = make_task(self.task, **self.task_params)
        except Exception as e:  # noqa: BLE001 - a task constructor met a value of the wrong type
            if isinstance(e, ConfigError):
                raise ConfigError(f"RunOptions: {e}") from None
            raise ConfigError(f"RunOptions: bad task_params for task {self.task!r}: {type(e).__name__}: "
                              f"{e}") from None
        recipe = recipe_for(task, self.method).options()
        taken = set()

        def take(name, value):
            set_(self, name, value)
            taken.add(name)

        for name in ("cell", "optimizer", "lr_schedule"):
            if name in missing:
                take(name, _check(name, recipe[name], "the task's recipe"))
        try:
            same = {"cell": get_cell_class(self.cell).kind == get_cell_class(recipe["cell"]).kind,
                    "optimizer": OPTIMIZERS.key(self.optimizer) == OPTIMIZERS.key(recipe["optimizer"])}
        except ConfigError as e:
            raise ConfigError(f"RunOptions: {e}") from None
        for table, choice in _RECIPE_TABLES.items():
            base = recipe[table] if same[choice] else {}
            given = given_tables[table]
            set_(self, table, {**base, **given})
            taken.update(f"{table}.{k}" for k in base if k not in given)
            if table in missing:
                taken.add(table)
        same_schedule = self.lr_schedule.strip().lower() == recipe["lr_schedule"]
        for name in RECIPE_OPTIONS:
            if name in missing and name not in taken and name not in _RECIPE_TABLES:
                value = recipe[name] if (same_schedule or name not in _SCHEDULE_PARAMS) else None
                if name in ("stop_at", "restore_best") and self.eval_every == 0 and "eval_every" not in missing:
                    value = None if name == "stop_at" else False     # no held-out evaluations were asked for
                take(name, value if value is None else _check(name, value, "the task's recipe"))
        set_(self, "_from_recipe", frozenset(taken))

    def resolved(self, **values: Any) -> RunOptions:
        """A copy with ``values`` set as they are (already checked and resolved, e.g. the cell
        parameters as the model is built), keeping the record of what came from the recipe."""
        new = dataclasses.replace(self, **values)
        object.__setattr__(new, "_from_recipe", self._from_recipe)
        object.__setattr__(new, "_given_tables", self._given_tables)
        return new

    @property
    def from_recipe(self) -> tuple[str, ...]:
        """The options (and ``table.key`` entries) this object took from its task's recipe."""
        return tuple(n for n in self.names() if n in self._from_recipe) + tuple(
            sorted(k for k in self._from_recipe if "." in k))

    def recipe(self):
        """The task's recipe for this run's method (:func:`neurotrain.training.recipe_for`)."""
        return recipe_for(make_task(self.task, **self.task_params), self.method)

    def optimizer_spec(self) -> OptimizerSpec:
        """The optimiser and schedule as the :class:`~neurotrain.training.OptimizerSpec` the run
        trains with (its errors name the options)."""
        try:
            schedule = ScheduleSpec(self.lr_schedule, lr_decay=self.lr_decay, lr_decay_every=self.lr_decay_every,
                                    lr_min=self.lr_min, warmup_steps=self.warmup_steps)
            spec = OptimizerSpec(self.optimizer, self.lr, schedule, self.optimizer_params)
        except ConfigError as e:
            raise ConfigError(f"RunOptions: {e}") from None
        if self.warmup_steps >= self.steps:
            raise ConfigError(f"RunOptions: warmup_steps = {self.warmup_steps} leaves no step of the schedule in "
                              f"{self.steps} steps; use fewer warm-up steps or more steps.")
        for name, value in (("restore_best", self.restore_best), ("stop_at", self.stop_at)):
            if value not in (None, False) and not self.eval_every:
                raise ConfigError(f"RunOptions: {name} = {value!r} needs held-out evaluations, but eval_every = 0; "
                                  f"set eval_every (e.g. 200) or turn {name} off.")
        return spec

    # --- the table of options --------------------------------------------------------------
    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in the order of ``--dry-run`` and ``config.json``."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def meta(cls, name: str) -> dict[str, Any]:
        """An option's description: ``kind`` (:class:`OptionKind`), ``help``, ``group``,
        ``resumable``, ``metavar``, ``shown_default`` (how ``--help`` describes a default that
        is not a plain value, e.g. ``"none"`` for an empty table) and ``training`` (its
        TrainConfig name or ``None``)."""
        return dict(_field(name).metadata)

    @classmethod
    def help(cls, name: str) -> str:
        """The one-line help of option ``name`` (a training setting's is TrainConfig's)."""
        return _field(name).metadata["help"]

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of option ``name`` (a copy, for tables)."""
        f = _field(name)
        return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default

    @classmethod
    def resumable(cls, name: str) -> bool:
        """Whether a resumed run may change option ``name`` without changing what it computes."""
        return bool(_field(name).metadata["resumable"])

    @classmethod
    def resumable_names(cls) -> tuple[str, ...]:
        """The options a resumed run may change."""
        return tuple(n for n in cls.names() if cls.resumable(n))

    # --- conversions ---------------------------------------------------------------------
    @classmethod
    def check_values(cls, data: Mapping[str, Any], *, source: str = "options") -> dict[str, Any]:
        """Check a (partial) table of options; returns them normalised.

        Keys may use ``-`` or ``_`` (``batch-size``). An unknown key (with the closest known
        one), a key given twice or a bad value raises :class:`~neurotrain.ConfigError`, its
        message starting with ``source``.

        Examples
        --------
        >>> RunOptions.check_values({"batch-size": 16, "task_params": {"delay": 3}})
        {'batch_size': 16, 'task_params': {'delay': 3}}
        >>> RunOptions.check_values({"stepz": 5}, source="run.toml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        neurotrain._errors.ConfigError: run.toml: unknown option 'stepz'. Did you mean 'steps'? Allowed options: task, task_params, cell, ...
        """
        names = cls.names()
        out: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = str(raw_key).strip().replace("-", "_")
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{source}: unknown option {str(raw_key)!r}.{hint} Allowed options: "
                                  f"{', '.join(names)}.")
            if key in out:
                raise ConfigError(f"{source}: option {key!r} is given twice.")
            out[key] = _check(key, value, source)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "options") -> RunOptions:
        """The defaults updated with ``data`` (a partial table, checked as :meth:`check_values`)."""
        return cls().updated(data, source=source)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> RunOptions:
        """Read options from a TOML (``.toml``) or JSON (``.json``) configuration file.

        A run's ``config.json`` works too: its recorded ``options`` are used, all but ``out``
        (so that a new run from them gets its own directory).

        Examples
        --------
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "run.toml")
        >>> _ = open(path, "w").write('task = "copy"\\nsteps = 50\\n[task_params]\\ndelay = 4\\n')
        >>> opts = RunOptions.from_file(path)
        >>> opts.task, opts.steps, opts.task_params, opts.hidden
        ('copy', 50, {'delay': 4}, 128)
        """
        path = os.fspath(path)
        data = read_config_file(path)
        if os.path.basename(path) == CONFIG_FILE and isinstance(data.get("options"), dict):
            data = {k: v for k, v in data["options"].items() if k != "out"}
            data = {**{k: v for k, v in LEGACY_OPTIONS.items() if k not in data}, **data}
        return cls.from_dict(data, source=f"configuration file {path}")

    def updated(self, data: Mapping[str, Any], *, source: str = "options") -> RunOptions:
        """A copy with the options of ``data`` (checked); tables are merged key by key.

        Examples
        --------
        >>> base = RunOptions(task="copy", task_params={"delay": 3, "length": 2})
        >>> base.updated({"task-params": {"delay": 5}, "steps": 10}).task_params
        {'delay': 5, 'length': 2}
        """
        return self._with(self.check_values(data, source=source), merge=True)

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with ``changes`` (whole values: a table replaces the old one)."""
        return self._with(self.check_values(changes, source="RunOptions.replace"), merge=False)

    def _with(self, given: Mapping[str, Any], *, merge: bool) -> RunOptions:
        """A copy with the options ``given``; those taken from the recipe are taken again (from
        the recipe of the new task or method, if they changed)."""
        recipe_part = getattr(self, "_from_recipe", frozenset())
        kwargs = {}
        for n in self.names():
            if n in given:
                value = given[n]
                if merge and _is_table(n):
                    old = self._given_tables[n] if n in _RECIPE_TABLES else getattr(self, n)
                    value = {**old, **value}
                    if n in recipe_part or any(k.startswith(n + ".") for k in recipe_part):
                        value = _Partial(value)
                kwargs[n] = value
            elif n in recipe_part:
                kwargs[n] = FROM_RECIPE if not (n in _RECIPE_TABLES and self._given_tables[n]) \
                    else _Partial(self._given_tables[n])
            elif n in _RECIPE_TABLES and any(k.startswith(n + ".") for k in recipe_part):
                kwargs[n] = _Partial(self._given_tables[n])
            else:
                kwargs[n] = getattr(self, n)
        return RunOptions(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Every option, in order, as JSON-serialisable values (the ``options`` of ``config.json``)."""
        return {n: (dict(getattr(self, n)) if _is_table(n) else getattr(self, n)) for n in self.names()}

    def to_text(self, fmt: str = "toml", *, header: str | None = None, omit: tuple[str, ...] = ()) -> str:
        """The options as a configuration file (``"toml"`` or ``"json"``) that reads back the same.

        TOML has no null: optional numbers that are off are written ``"none"``. ``header``
        becomes ``#`` comment lines (TOML only); ``omit`` leaves options out.

        Examples
        --------
        >>> from neurotrain.io import parse_config_text
        >>> text = RunOptions(task="copy").to_text(omit=("out",))
        >>> text.splitlines()[:2], 'lr_decay = "none"' in text
        (['task = "copy"', 'cell = "gru"'], True)
        >>> RunOptions.from_dict(parse_config_text(text, "toml")) == RunOptions(task="copy")
        True
        """
        shown = {k: v for k, v in self.to_dict().items() if k not in omit}
        if fmt == "json":
            return json.dumps(shown, indent=2, allow_nan=False) + "\n"
        if fmt != "toml":
            raise ConfigError(f"fmt={fmt!r} is not a configuration format; use 'toml' or 'json'.")
        shown = {k: ("none" if v is None and _field(k).metadata["kind"].optional else v)
                 for k, v in shown.items()}
        return to_toml(shown, header=header)

    def population_spec(self):
        """The :class:`~neurotrain.training.Population` of ``population`` and ``population_grid``
        (``None``: one network)."""
        return self._population

    def train_config(self) -> TrainConfig:
        """The training settings as the :class:`~neurotrain.training.TrainConfig` the run trains with."""
        return TrainConfig(**{train: getattr(self, name) for name, train in TRAINING_SETTINGS.items()})


# --------------------------------------------------------------------------------------------
def _field(name: str) -> dataclasses.Field:
    for f in dataclasses.fields(RunOptions):
        if f.name == name:
            return f
    close = difflib.get_close_matches(name, RunOptions.names(), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"{name!r} is not an option of a run.{hint} Options: {', '.join(RunOptions.names())}.")


def _is_table(name: str) -> bool:
    return _field(name).metadata["kind"].table


def _check(name: str, value: Any, source: str) -> Any:
    """Check one option's value; a ConfigError names ``source``, the option, the value and the rule."""
    if name == "out" and value is None:
        return None
    kind: OptionKind = _field(name).metadata["kind"]
    try:
        return kind.check(name, value)
    except _Invalid as e:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise ConfigError(f"{source}: {name} = {shown} is not valid; {name} must be {e.what or kind.what}") from None
    except ConfigError as e:   # a parameter table's entry, named by check_finite_tree
        raise ConfigError(f"{source}: {e}") from None
