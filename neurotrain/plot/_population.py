"""Plots of populations and sweeps: loss curves over the networks, scores per network and per
configuration. Each function reads result objects (or plain tables) and never recomputes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .._errors import ConfigError
from ..training import summarize, trimmed_mean
from ._training import _pick_metric

__all__ = ["population_loss_curve", "population_scores", "sweep_scores"]


def _band(ax, x, values, color, label):
    """Median line and min-max band of ``values`` ``(len(x), K)`` (NaN-safe)."""
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v).any(axis=1)
    with np.errstate(all="ignore"):
        med = np.where(ok, np.nanmedian(np.where(np.isfinite(v), v, np.nan), axis=1), np.nan)
        lo = np.where(ok, np.nanmin(np.where(np.isfinite(v), v, np.inf), axis=1), np.nan)
        hi = np.where(ok, np.nanmax(np.where(np.isfinite(v), v, -np.inf), axis=1), np.nan)
    ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0, label=f"{label}: range")
    return ax.plot(x, med, color=color, lw=2.0, label=f"{label}: median")


def population_loss_curve(result, ax=None, *, metric: str | None = None, title: str | None = None,
                          max_lines: int = 32):
    """A population's training loss: every network's curve (thin), the median and the range.

    Reads ``result.loss`` ``(num_steps, K)`` and, if held-out trials were scored,
    ``result.eval_steps`` / ``result.eval_metrics`` ``(evals, K)`` (median and range on a twin
    axis).

    Parameters
    ----------
    result : neurotrain.training.TrainResult
        Of a population (``result.population`` set).
    ax : matplotlib Axes, optional
    metric : str, optional
        The evaluation metric drawn (default ``accuracy`` or ``mse``).
    title : str, optional
    max_lines : int
        Draw at most this many networks' own curves (the first ones).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import brainstate, braintools, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> result = nt.train(nt.models.build_model("vanilla", 1, 8, 1), task, braintools.optim.Adam(1e-2),
    ...                   population=3, num_steps=20, batch_size=8)
    >>> fig = nt.plot.population_loss_curve(result)
    >>> fig.axes[0].get_yscale()
    'log'
    """
    import matplotlib.pyplot as plt

    loss = np.asarray(getattr(result, "loss", None), dtype=np.float64)
    if loss.ndim != 2 or loss.shape[0] == 0:
        raise ConfigError("population_loss_curve needs the TrainResult of a population (loss of shape "
                          f"(steps, K)); got loss of shape {loss.shape}. Use loss_curve for one network.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    else:
        fig = ax.figure
    steps = np.arange(1, loss.shape[0] + 1) + int(getattr(result, "history_start", 0))
    for k in range(min(loss.shape[1], max_lines)):
        ax.plot(steps, loss[:, k], color="C0", alpha=0.12, lw=0.6)
    _band(ax, steps, loss, "C0", "training loss")
    finite = loss[np.isfinite(loss)]
    if finite.size and (finite > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    eval_steps = np.asarray(getattr(result, "eval_steps", ()), np.float64)
    metrics = dict(getattr(result, "eval_metrics", {}) or {})
    key = _pick_metric(list(metrics), metric)
    if metric is not None and key is None:
        raise ConfigError(f"metric={metric!r} is not among the evaluation metrics {sorted(metrics)}.")
    if key is not None and eval_steps.size:
        ax2 = ax.twinx()
        vals = np.asarray(metrics[key], np.float64).reshape(len(eval_steps), -1)
        _band(ax2, eval_steps, vals, "C3", f"held-out {key}")
        ideal = metrics.get(f"ideal_{key}")
        if ideal is not None:
            ideal = np.asarray(ideal, np.float64).reshape(len(eval_steps), -1)
            ax2.plot(eval_steps, np.nanmedian(ideal, axis=1), ":", color="k", lw=1.5,
                          label=f"ideal observer {key}")
        h2, l2 = ax2.get_legend_handles_labels()
        handles += h2
        labels += l2
        ax2.set_ylabel(f"held-out {key}", color="C3")
    K = loss.shape[1]
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize="small",
              frameon=False)
    ax.set_title(title if title is not None else f"{K} networks: training loss ({loss.shape[0]} steps)")
    return fig


def _strip(ax, x, values, color, *, jitter=0.08, seed=0, label=None, size=18):
    rng = np.random.default_rng(seed)
    v = np.asarray(values, np.float64)
    ok = np.isfinite(v)
    xs = x + rng.uniform(-jitter, jitter, v.size)
    ax.scatter(xs[ok], v[ok], s=size, color=color, alpha=0.7, lw=0, label=label, zorder=3)


def population_scores(evaluation, ax=None, *, metric: str | None = None, title: str | None = None):
    """Every network's score (one point each) with the population's median, mean and trimmed
    mean, and the ideal observer's score where the task has one.

    Parameters
    ----------
    evaluation : neurotrain.analysis.PopulationEvaluation
    ax : matplotlib Axes, optional
    metric : str, optional
        Default: the task's primary metric.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> task = nt.tasks.PerceptualDecisionMaking()
    >>> models = []
    >>> for s in range(4):
    ...     brainstate.random.seed(s)
    ...     models.append(nt.models.build_model("leaky", num_rec=8, task=task))
    >>> pe = nt.analysis.evaluate_population(models, task, num_trials=32)
    >>> fig = nt.plot.population_scores(pe)
    >>> fig.axes[0].get_ylabel()
    'accuracy'
    """
    import matplotlib.pyplot as plt

    scores = evaluation.scores
    metric = metric or evaluation.primary_metric
    if metric not in scores:
        raise ConfigError(f"metric {metric!r} is not among the scores {sorted(scores)}.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
    else:
        fig = ax.figure
    v = scores[metric]
    _strip(ax, 0.0, v, "C0", label=f"{len(v)} networks")
    s = summarize(v)
    for name, key, style in (("median", "median", "-"), ("mean", "mean", "--"),
                             ("trimmed mean", "trimmed_mean", ":")):
        ax.hlines(s[key], -0.3, 0.3, colors="C1", linestyles=style, lw=1.8, label=f"{name} {s[key]:.3g}")
    ideal = scores.get(f"ideal_{metric}")
    if ideal is not None:
        ax.hlines(float(np.nanmedian(ideal)), -0.45, 0.45, colors="k", linestyles="-.", lw=1.2,
                  label="ideal observer")
    ax.set_xlim(-0.6, 0.6)
    ax.set_xticks([])
    ax.set_ylabel(metric)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small", frameon=False, loc="best")
    ax.set_title(title if title is not None else f"{metric} of each network\n{evaluation.task}", fontsize="medium")
    return fig


def sweep_scores(table: Sequence[Mapping], *, metric: str, config_key: str = "config",
                 labels: Mapping | None = None, higher_is_better: bool = True, ax=None, title: str | None = None):
    """Score per configuration of a sweep: one point per network, the trimmed mean as a bar.

    Parameters
    ----------
    table : sequence of dict
        One row per network, with ``config_key`` (the configuration's index) and ``metric``
        (e.g. :attr:`neurotrain.runs.SweepResults.rows`).
    metric : str
    config_key : str
    labels : dict, optional
        ``{config index: label}`` for the x axis.
    higher_is_better : bool
        Marks the best configuration.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rows = [{"config": c, "accuracy": a} for c, a in [(0, 0.7), (0, 0.8), (1, 0.9), (1, 0.85)]]
    >>> fig = sweep_scores(rows, metric="accuracy", labels={0: "lr=1e-3", 1: "lr=1e-2"})
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['lr=1e-3', 'lr=1e-2']
    """
    import matplotlib.pyplot as plt

    configs = sorted({int(r[config_key]) for r in table})
    if not configs:
        raise ConfigError("sweep_scores needs at least one row.")
    labels = dict(labels or {})
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(configs) + 2.0), 4.2), layout="constrained")
    else:
        fig = ax.figure
    means = []
    for i, c in enumerate(configs):
        v = np.asarray([r.get(metric, np.nan) for r in table if int(r[config_key]) == c], np.float64)
        _strip(ax, float(i), v, "C0", seed=i, label="network" if i == 0 else None)
        means.append(trimmed_mean(v))
    ax.bar(np.arange(len(configs)), means, width=0.6, color="C1", alpha=0.35, label="trimmed mean (10-90 %)")
    finite = [m if np.isfinite(m) else (-np.inf if higher_is_better else np.inf) for m in means]
    best = int(np.argmax(finite) if higher_is_better else np.argmin(finite))
    ax.bar([best], [means[best]], width=0.6, color="none", edgecolor="C3", lw=2.0, label="best")
    ax.set_xticks(np.arange(len(configs)))
    names = [str(labels.get(c, c)) for c in configs]
    for prefix in ("task_params.", "cell_params.", "method_params."):   # "tau=50" reads better
        names = [n.replace(prefix, "") for n in names]
    tilt = len(configs) > 4 or max(len(n) for n in names) * len(configs) > 48
    ax.set_xticklabels(names, rotation=30 if tilt else 0, ha="right" if tilt else "center", fontsize="small")
    ax.set_xlabel("configuration")
    ax.set_ylabel(metric)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small", frameon=False)
    ax.set_title(title if title is not None else f"{metric} per configuration")
    return fig
