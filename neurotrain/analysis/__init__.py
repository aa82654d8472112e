"""Analysis of trained networks: evaluation, behaviour, activity, fixed points, linearisation, PCA."""

from ..models import StepFunction, step_function
from ._activity import Activity, period_inputs, record_activity
from ._behaviour import (
    Chronometric,
    Psychometric,
    chronometric,
    fit_psychometric,
    psychometric,
    score_outputs,
    validation_score,
)
from ._evaluate import Evaluation, evaluate, run_trials
from ._fixed_points import FixedPoints, find_fixed_points, unique_points
from ._linearize import STABILITY_KINDS, Linearization, classify_eigenvalues, linearize
from ._pca import PCAResult, pca
from ._population import (
    SUMMARY_ROWS,
    PopulationAnalysis,
    PopulationEvaluation,
    analyze_population,
    evaluate_population,
    format_table,
)
from ._saving import DataSaver, load_result, save_figure, save_result

__all__ = ["Evaluation", "evaluate", "run_trials"]

# behaviour, activity and dynamics (the one-step map is models.step_function)
__all__ += [
    "Activity", "record_activity", "period_inputs",
    "Psychometric", "Chronometric", "psychometric", "fit_psychometric", "chronometric", "validation_score",
    "score_outputs",
    "FixedPoints", "find_fixed_points", "unique_points",
    "Linearization", "linearize", "classify_eigenvalues", "STABILITY_KINDS",
    "PCAResult", "pca",
    "StepFunction", "step_function",
    "save_result", "load_result", "save_figure", "DataSaver",
]

# populations: every network scored and analysed, summarised over the population
__all__ += ["PopulationEvaluation", "evaluate_population", "PopulationAnalysis", "analyze_population",
            "format_table", "SUMMARY_ROWS"]
