"""Training: losses and regularisers, gradient methods, the train loop and callbacks.

:func:`train` (and :class:`Trainer`) takes a model, a task and an optimiser, plus separate
concerns: ``method=`` (a frozen :class:`GradientMethod`: :class:`BPTT`, :class:`DRTRL`,
:class:`PPProp` or your own, see :func:`register_method`), ``schedule=`` (a list of
:class:`Phase`), ``config=`` (:class:`TrainConfig`, the settings) and ``callbacks=``. Each step
is one compiled pure function of the parameters, the optimiser state (its
:class:`FunctionalOptimizer` form) and an explicit random key.
"""

from ._best import BestCheckpoint
from ._callbacks import (
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    ProgressBar,
    TensorBoardLogger,
)
from ._chance import chance_loss, learning_check, population_learning_checks
from ._config import DEFAULT_ACTIVITY_BOUND, TrainConfig
from ._curriculum import curriculum, curriculum_stages
from ._long import CD, DASC, SCTT, SkipTransform, skip_blocks
from ._loop import Trainer, TrainResult, train
from ._losses import Objective, l2_penalty, masked_cross_entropy, masked_mse, rate_penalty
from ._methods import BPTT, METHODS, GradientMethod, StepContext, get_method, register_method
from ._online import DRTRL, ESDRTRL, OnlineMethod, PPProp
from ._optim import FunctionalOptimizer, functional_optimizer
from ._optimizers import OPTIMIZERS, SCHEDULES, LinearWarmupLR, OptimizerSpec, ScheduleSpec
from ._penalties import CustomPenalty, Penalty, RatePenalty, WeightPenalty, check_penalties
from ._population import HYPERPARAMETERS, Population, summarize, trimmed_mean
from ._recipe_book import BUILTIN_RECIPES  # registers the recipes of the built-in tasks
from ._recipes import GENERIC_RECIPE, Criterion, Recipe, recipe_for, register_recipe
from ._schedule import Phase
from ._step import clip_by_global_norm

__all__ = [
    "train", "TrainConfig", "Trainer", "CD", "SCTT", "DASC", "SkipTransform", "skip_blocks", "Population", "HYPERPARAMETERS", "summarize", "trimmed_mean", "Phase", "StepContext", "FunctionalOptimizer", "functional_optimizer", "TrainResult", "clip_by_global_norm", "GradientMethod", "BPTT",
    "Objective", "masked_cross_entropy", "masked_mse", "l2_penalty", "rate_penalty",
    "Callback", "ProgressBar", "CSVLogger", "EarlyStopping", "get_method", "METHODS",
    "register_method", "OnlineMethod", "DRTRL", "PPProp", "ESDRTRL", "Checkpoint", "TensorBoardLogger",
    "DEFAULT_ACTIVITY_BOUND", "chance_loss", "learning_check", "population_learning_checks",
    "curriculum", "curriculum_stages", "Penalty", "WeightPenalty", "RatePenalty", "CustomPenalty",
    "check_penalties",
]

__all__ += [
    "Recipe", "Criterion", "recipe_for", "register_recipe", "GENERIC_RECIPE", "BUILTIN_RECIPES",
    "OptimizerSpec", "ScheduleSpec", "LinearWarmupLR", "OPTIMIZERS", "SCHEDULES", "BestCheckpoint",
]
