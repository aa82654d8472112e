"""Run directories from Python: train, evaluate, analyse and export them, as the commands do.

Each function does everything its ``neurotrain`` command does and returns a frozen result
object whose ``report()`` is the text the command prints: :func:`train_run`
(``neurotrain train``, new or ``resume=``), :func:`evaluate_run`, :func:`analyze_run` and
:func:`export_run`. :class:`RunOptions` describes a training run (the command's options);
:func:`save_run`, :func:`load_run` and :func:`build_run` write and rebuild a run directory.
A population run (``RunOptions(population=K)``) holds K networks in one directory:
:func:`split_network` writes any of them as a run of its own, and ``evaluate_run`` /
``analyze_run`` score and analyse every network. :func:`plan_sweep` / :func:`run_sweep` /
:func:`sweep_status` / :func:`collect_sweep` run a grid of configurations as population jobs
through submitit (``neurotrain sweep``).
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
from ._population import (
    PopulationEvaluateRunResult,
    PopulationRun,
    evaluate_population_run,
    is_population_run,
    read_population_run,
)
from ._split import (
    PopulationAnalyzeRunResult,
    SplitNetworkResult,
    analyze_population_run,
    split_network,
)
from ._sweep import (
    EXECUTORS,
    JobStatus,
    SweepConfig,
    SweepJob,
    SweepPlan,
    SweepResults,
    SweepRunResult,
    SweepStatus,
    collect_sweep,
    plan_sweep,
    run_sweep,
    run_sweep_job,
    slurm_parameters,
    sweep_status,
)
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
# populations: one run directory for K networks, and any of them as a run of its own
__all__ += ["split_network", "SplitNetworkResult", "read_population_run", "PopulationRun", "is_population_run",
            "evaluate_population_run", "PopulationEvaluateRunResult", "analyze_population_run",
            "PopulationAnalyzeRunResult"]
# sweeps: configurations x seeds in population jobs, through submitit
__all__ += ["plan_sweep", "run_sweep", "run_sweep_job", "sweep_status", "collect_sweep", "SweepPlan", "SweepConfig",
            "SweepJob", "SweepRunResult", "SweepStatus", "JobStatus", "SweepResults", "EXECUTORS",
            "slurm_parameters"]
