"""Run directories from Python: train, evaluate, analyse and export them, as the commands do.

Each function does everything its ``neurotrain`` command does and returns a frozen result
object whose ``report()`` is the text the command prints: :func:`train_run`
(``neurotrain train``, new or ``resume=``), :func:`evaluate_run`, :func:`analyze_run` and
:func:`export_run`. :class:`RunOptions` describes a training run (the command's options);
:func:`save_run`, :func:`load_run` and :func:`build_run` write and rebuild a run directory.
The library never prints: messages arising while a function works are passed to its
``notes=`` callback and kept in the result's ``notes``.
"""

from ._analyze import ANALYSIS_MODES, PSYCHOMETRIC_FUNCTIONS, AnalyzeRunResult, analyze_run
from ._directory import (
    RunSnapshot,
    build_run,
    default_run_dir,
    load_run,
    read_run,
    run_config,
    run_summary,
    save_figures,
    save_run,
    saved_weights,
)
from ._evaluate import EvaluateRunResult, evaluate_run
from ._export import ExportRunResult, export_run
from ._notes import Notes
from ._options import FROM_RECIPE, RECIPE_OPTIONS, RUN_DEFAULTS, OptionKind, RunOptions
from ._train import (
    TRAIN_STATUSES,
    ResumeError,
    RunInterrupted,
    RunPlan,
    TrainRunResult,
    plan_run,
    train_run,
)

__all__ = [
    "train_run", "plan_run", "evaluate_run", "analyze_run", "export_run",
    "TrainRunResult", "RunPlan", "EvaluateRunResult", "AnalyzeRunResult", "ExportRunResult",
    "RunOptions", "OptionKind", "RUN_DEFAULTS", "ResumeError", "RunInterrupted", "TRAIN_STATUSES", "Notes",
    "save_run", "load_run", "read_run", "RunSnapshot", "build_run", "save_figures", "run_config", "run_summary",
    "default_run_dir", "ANALYSIS_MODES", "PSYCHOMETRIC_FUNCTIONS", "FROM_RECIPE", "RECIPE_OPTIONS", "saved_weights",
]
