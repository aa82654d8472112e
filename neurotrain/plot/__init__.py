"""Plots of analysis results (matplotlib)."""

from ._behaviour import chronometric_curve, loss_comparison, psychometric_curve
from ._dynamics import STABILITY_MARKERS, activity_heatmap, eigenvalue_spectrum, fixed_points
from ._population import population_loss_curve, population_scores, sweep_scores
from ._training import loss_curve, moving_average
from ._trials import example_trials, performance_by_condition, prediction_vs_truth, softmax

__all__ = [
    "loss_curve", "example_trials", "prediction_vs_truth", "performance_by_condition",
    "moving_average", "softmax",
]

# behaviour and dynamics (issue 5): _behaviour, _dynamics
__all__ += [
    "psychometric_curve", "chronometric_curve", "loss_comparison",
    "fixed_points", "eigenvalue_spectrum", "activity_heatmap", "STABILITY_MARKERS",
]

# populations and sweeps
__all__ += ["population_loss_curve", "population_scores", "sweep_scores"]
