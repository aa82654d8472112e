"""Plots of evaluated trials: example trials, prediction vs truth, performance per condition.

Every function reads a :class:`neurotrain.analysis.Evaluation` and never runs the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._errors import ConfigError
from .._validate import check_positive

__all__ = ["example_trials", "prediction_vs_truth", "performance_by_condition", "softmax"]

#: above this many channels, inputs/outputs are drawn as a heat map instead of lines
_MAX_LINES = 6


def softmax(x, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (numpy).

    Examples
    --------
    >>> softmax(np.array([0.0, np.log(3.0)])).round(3)
    array([0.25, 0.75])
    """
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _check_recorded(evaluation, fn: str) -> None:
    out = np.asarray(getattr(evaluation, "outputs", np.zeros(0)))
    if out.ndim != 3 or out.size == 0:
        raise ConfigError(
            f"{fn} needs the recorded trials of the evaluation (outputs of shape (T, B, num_out)); "
            f"got outputs of shape {out.shape}. Run neurotrain.analysis.evaluate(..., record=True)."
        )


def _is_class(evaluation) -> bool:
    t = np.asarray(evaluation.targets)
    return t.ndim == 2 and np.issubdtype(t.dtype, np.integer)


def _trial_indices(evaluation, trials, num_trials: int, *, spread: bool = False) -> list[int]:
    B = np.asarray(evaluation.outputs).shape[1]
    if trials is None:
        n = min(check_positive("num_trials", num_trials, integer=True), B)
        per = getattr(evaluation, "per_condition", None) or {}
        key = next(iter(per), None)
        if spread and key is not None and key in evaluation.info:
            # the first trial of conditions spread from the lowest to the highest value
            cond = np.asarray(evaluation.info[key])[:B]
            values = np.unique(cond)
            picks = values[np.unique(np.round(np.linspace(0, len(values) - 1, n)).astype(int))]
            idx = [int(np.flatnonzero(cond == v)[0]) for v in picks]
            idx += [i for i in range(B) if i not in idx][:n - len(idx)]
            return idx
        return list(range(n))
    idx = [int(trials)] if np.ndim(trials) == 0 else [int(i) for i in trials]
    for i in idx:
        if not -B <= i < B:
            raise ConfigError(f"trial {i} is out of range: the evaluation recorded {B} trials.")
    return [i % B for i in idx]


def _time_axis(T: int, dt: float | None):
    if dt is None:
        return np.arange(T, dtype=np.float64), 1.0, "time step"
    dt = check_positive("dt", dt, fix="It is the time step in ms (e.g. task.dt).")
    return np.arange(T) * float(dt), float(dt), "time (ms)"


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the runs of True in a 1-D boolean array."""
    flags = np.asarray(flags, dtype=bool)
    if not flags.any():
        return []
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _periods(info, b: int) -> list[tuple[str, int, int]]:
    """Named periods of trial ``b`` from ``info['<name>_on'/'<name>_off']`` (in steps)."""
    out = []
    for k in info:
        if k.endswith("_on") and f"{k[:-3]}_off" in info:
            a, z = int(np.asarray(info[k])[b]), int(np.asarray(info[f"{k[:-3]}_off"])[b])
            if z > a:
                out.append((k[:-3], a, z))
    return sorted(out, key=lambda p: p[1])


def _fmt(v) -> str:
    v = float(v) + 0.0  # no "-0"
    return f"{v:.3g}" if abs(v) >= 0.01 or v == 0 else f"{v:.2e}"


def _trial_title(evaluation, b: int) -> str:
    parts = [f"trial {b}"]
    info = evaluation.info
    conds = [k for k in info if not (k.endswith("_on") or k.endswith("_off"))]
    for k in conds[:3]:
        parts.append(f"{k}={_fmt(np.asarray(info[k])[b])}")
    tm = evaluation.trial_metrics
    if "accuracy" in tm:
        acc = float(np.asarray(tm["accuracy"])[b])
        parts.append("correct" if acc == 1.0 else ("wrong" if acc == 0.0 else f"accuracy={acc:.2f}"))
    elif "mse" in tm:
        parts.append(f"mse={float(np.asarray(tm['mse'])[b]):.3g}")
    line, lines = "", []
    for p in parts:  # wrap at about 40 characters
        if line and len(line) + len(p) > 40:
            lines.append(line)
            line = p
        else:
            line = f"{line}, {p}" if line else p
    lines.append(line)
    return "\n".join(lines)


def _draw_channels(ax, t, step, values, *, labels, heat_label: str, ylim=None, style="-"):
    """Lines for few channels, a heat map (channel x time) for many."""
    n = values.shape[-1]
    if n <= _MAX_LINES:
        for c in range(n):
            ax.plot(t, values[:, c], style, color=f"C{c % 10}", lw=1.5, label=labels[c])
        if ylim is not None:
            ax.set_ylim(*ylim)
        return None
    im = ax.imshow(values.T, aspect="auto", origin="lower", interpolation="nearest", cmap="viridis",
                   extent=(t[0] - step / 2, t[-1] + step / 2, -0.5, n - 0.5),
                   vmin=None if ylim is None else max(ylim[0], 0.0),
                   vmax=None if ylim is None else min(ylim[1], 1.0))
    ax.set_ylabel(heat_label)
    ax.grid(False)
    return im


# --------------------------------------------------------------------------------------------
# example trials
# --------------------------------------------------------------------------------------------
def example_trials(evaluation, num_trials: int = 3, *, trials: int | Sequence[int] | None = None,
                   dt: float | None = None):
    """Inputs, outputs and targets over time for a few evaluated trials, one column per trial.

    Rows: the inputs; the outputs (softmax probabilities for class tasks, raw values with the
    target dashed for value tasks); the targets (the label over time with the network's
    argmax dotted, for class tasks). Periods where the loss mask is 0 (not scored) are shaded
    grey, and task periods recorded in ``evaluation.info`` (``<period>_on``/``_off``) are
    marked by vertical lines. Channels beyond six are drawn as a heat map.

    Parameters
    ----------
    evaluation : neurotrain.analysis.Evaluation
        Recorded with ``record=True``: ``inputs`` ``(T, B, num_in)``, ``outputs``
        ``(T, B, num_out)``, ``targets`` ``(T, B)`` or ``(T, B, num_out)``, ``mask``.
    num_trials : int
        How many trials (the first ones) to show.
    trials : int or sequence of int, optional
        Which trials to show instead.
    dt : float, optional
        Time step in ms (``task.dt``); the time axis is in ms if given, in steps otherwise.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking()
    >>> model = nt.models.build_model("leaky", 3, 16, 3)
    >>> ev = nt.analysis.evaluate(model, task, num_trials=8, seed=1)
    >>> fig = nt.plot.example_trials(ev, num_trials=2, dt=task.dt)
    >>> len(fig.axes)
    6
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    _check_recorded(evaluation, "example_trials")
    idx = _trial_indices(evaluation, trials, num_trials, spread=True)
    inputs = np.asarray(evaluation.inputs, dtype=np.float64)
    outputs = np.asarray(evaluation.outputs, dtype=np.float64)
    targets = np.asarray(evaluation.targets)
    mask = np.asarray(evaluation.mask, dtype=np.float64)
    T, _, num_out = outputs.shape
    num_in = inputs.shape[-1]
    t, step, xlabel = _time_axis(T, dt)
    is_class = _is_class(evaluation)
    probs = softmax(outputs) if is_class else outputs

    n = len(idx)
    fig, axes = plt.subplots(3, n, figsize=(4.3 * n + 1.2, 7.4), sharex=True, squeeze=False,
                             layout="constrained")
    in_labels = [f"input {c}" for c in range(num_in)]
    out_labels = [f"p(class {c})" if is_class else f"output {c}" for c in range(num_out)]
    images: dict[int, object] = {}
    shaded = False
    for j, b in enumerate(idx):
        a_in, a_out, a_tgt = axes[:, j]
        for ax in (a_in, a_out, a_tgt):
            ax.grid(True, alpha=0.25)
        im = _draw_channels(a_in, t, step, inputs[:, b], labels=in_labels, heat_label="input channel")
        if im is not None:
            images[0] = im
        im = _draw_channels(a_out, t, step, probs[:, b], labels=out_labels,
                            heat_label="class" if is_class else "output channel",
                            ylim=(-0.03, 1.03) if is_class else None)
        if im is not None:
            images[1] = im
        if is_class:
            a_tgt.step(t, targets[:, b], where="mid", color="k", lw=2.0, label="target label")
            a_tgt.step(t, np.argmax(outputs[:, b], -1), where="mid", color="C3", lw=1.2, ls=":",
                       label="network argmax")
            a_tgt.set_ylim(-0.5, num_out - 0.5)
            if num_out <= 12:
                a_tgt.set_yticks(range(num_out))
        else:
            for c in range(num_out):
                a_tgt.plot(t, targets[:, b, c], color=f"C{c % 10}", lw=2.0, label=f"target {c}")
                if num_out <= _MAX_LINES:
                    a_out.plot(t, targets[:, b, c], "--", color="k", lw=1.0, alpha=0.7,
                               label="target" if c == 0 else None)
        # periods where nothing is scored (shaded on line plots; heat maps stay unobscured)
        m = mask[:, b] if mask.ndim == 2 else mask[:, b].max(-1)
        for a, z in _runs(m == 0):
            for row, ax in enumerate((a_in, a_out, a_tgt)):
                if row not in images:
                    ax.axvspan(t[a] - step / 2, t[z - 1] + step / 2, color="0.5", alpha=0.18, lw=0,
                               zorder=0)
            shaded = True
        periods = _periods(evaluation.info, b)
        for k, (name, a, z) in enumerate(periods):
            for ax in (a_in, a_out, a_tgt):
                if a > 0:
                    ax.axvline(t[a] - step / 2, color="0.3", lw=0.8, ls="--", zorder=2)
            mid = (t[a] + t[z - 1]) / 2
            a_in.text(mid, 1.0 + 0.07 * (k % 2), name, transform=a_in.get_xaxis_transform(),
                      ha="center", va="bottom", fontsize="x-small", color="0.25", clip_on=False)
        a_in.set_title(_trial_title(evaluation, b), fontsize="small", pad=24 if periods else 6)
        a_tgt.set_xlabel(xlabel)
    axes[0, 0].set_ylabel("inputs" if num_in <= _MAX_LINES else "input channel")
    axes[1, 0].set_ylabel("outputs (softmax)" if is_class else "outputs")
    axes[2, 0].set_ylabel("target")
    for row in range(3):
        if row in images:
            fig.colorbar(images[row], ax=list(axes[row, :]), pad=0.01, fraction=0.03,
                         label="probability" if (row == 1 and is_class) else "value")
            continue
        handles, labels = axes[row, 0].get_legend_handles_labels()
        if row == 2 and shaded:
            handles.append(Patch(color="0.5", alpha=0.3))
            labels.append("not scored\n(mask 0)")
        if handles:
            axes[row, -1].legend(handles, labels, loc="center left", bbox_to_anchor=(1.01, 0.5),
                                 fontsize="x-small", frameon=False)
    return fig


# --------------------------------------------------------------------------------------------
# prediction vs truth
# --------------------------------------------------------------------------------------------
def prediction_vs_truth(evaluation, trial: int | Sequence[int] = 0, *, output: int | None = None,
                        dt: float | None = None, ax=None):
    """Network output against the target over time for value tasks (the plot of brainstate's
    RNN tutorial).

    Parameters
    ----------
    evaluation : neurotrain.analysis.Evaluation
        Of a value task (float targets ``(T, B, num_out)``), recorded with ``record=True``.
    trial : int or sequence of int
        The trial(s) to draw, each in its own colour: truth solid, prediction dashed.
    output : int, optional
        The output channel; all channels if ``None``.
    dt : float, optional
        Time step in ms for a time axis in ms.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> model = nt.models.build_model("vanilla", 1, 8, 1)
    >>> ev = nt.analysis.evaluate(model, task, num_trials=4, seed=1)
    >>> fig = nt.plot.prediction_vs_truth(ev, trial=[0, 1], dt=task.dt)
    >>> len(fig.axes[0].lines)
    4
    """
    import matplotlib.pyplot as plt

    _check_recorded(evaluation, "prediction_vs_truth")
    if _is_class(evaluation):
        raise ConfigError(
            "prediction_vs_truth is for tasks with continuous targets (e.g. integrator); this "
            "evaluation has class labels. Use neurotrain.plot.example_trials instead."
        )
    outputs = np.asarray(evaluation.outputs, dtype=np.float64)
    targets = np.asarray(evaluation.targets, dtype=np.float64)
    T, _, num_out = outputs.shape
    idx = _trial_indices(evaluation, trial, 1)
    if output is not None and not 0 <= int(output) < num_out:
        raise ConfigError(f"output={output!r} is out of range: the network has {num_out} outputs.")
    chans = range(num_out) if output is None else [int(output)]
    t, _, xlabel = _time_axis(T, dt)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    else:
        fig = ax.figure
    k = 0
    for b in idx:
        for c in chans:
            suffix = f" (trial {b}" + (f", output {c})" if num_out > 1 else ")") if len(idx) * len(chans) > 1 else ""
            color = f"C{k % 10}"
            ax.plot(t, targets[:, b, c], "-", color=color, lw=2.0, alpha=0.75, label=f"ground truth{suffix}")
            ax.plot(t, outputs[:, b, c], "--", color=color if k else "C3", lw=2.0, alpha=0.9,
                    label=f"network{suffix}")
            k += 1
    tm = evaluation.trial_metrics
    if "mse" in tm:
        err = np.mean([float(np.asarray(tm["mse"])[b]) for b in idx])
        ax.set_title(f"prediction vs truth (mse {err:.3g})")
    else:
        ax.set_title("prediction vs truth")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("output")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


# --------------------------------------------------------------------------------------------
# performance by condition
# --------------------------------------------------------------------------------------------
def _default_metric(row_keys, key):
    names = [k for k in row_keys if k not in (key, "n") and not k.startswith("ideal_")]
    for k in ("accuracy", "mse"):
        if k in names:
            return k
    if not names:
        raise ConfigError("the per-condition rows hold no metric to plot.")
    return names[0]


def performance_by_condition(evaluation, key: str | None = None, *, metric: str | None = None, ax=None):
    """The network's score per condition next to the ideal observer's (e.g. accuracy vs coherence).

    Error bars are the standard error of the per-trial metric in each condition, from
    ``evaluation.trial_metrics`` and ``evaluation.info`` (nothing is rerun).

    Parameters
    ----------
    evaluation : neurotrain.analysis.Evaluation
        With ``per_condition`` rows (tasks that define condition keys).
    key : str, optional
        The condition (``"coherence"``, ``"signed_coherence"``...); default the first one.
    metric : str, optional
        Default ``accuracy`` (or ``mse``); e.g. ``"chose_side0"`` against
        ``"signed_coherence"`` gives a psychometric curve.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking()
    >>> model = nt.models.build_model("leaky", 3, 16, 3)
    >>> ev = nt.analysis.evaluate(model, task, num_trials=100, seed=1)
    >>> fig = nt.plot.performance_by_condition(ev, "coherence")
    >>> fig.axes[0].get_xlabel()
    'coherence'
    """
    import matplotlib.pyplot as plt

    per = getattr(evaluation, "per_condition", None) or {}
    if not per:
        raise ConfigError(
            f"the evaluation of task {getattr(evaluation, 'task', '?')!r} has no per-condition "
            "scores (the task defines no condition keys); nothing to plot."
        )
    key = key if key is not None else next(iter(per))
    if key not in per:
        raise ConfigError(f"key={key!r} is not a condition of this evaluation; choose from {sorted(per)}.")
    rows = per[key]
    metric = metric if metric is not None else _default_metric(rows[0], key)
    if metric not in rows[0]:
        names = sorted(k for k in rows[0] if k not in (key, "n"))
        raise ConfigError(f"metric={metric!r} is not in the per-condition rows; choose from {names}.")
    x = np.array([r[key] for r in rows], dtype=np.float64)
    y = np.array([r[metric] for r in rows], dtype=np.float64)
    counts = np.array([r.get("n", 0) for r in rows], dtype=np.float64)

    se = None
    tm, info = evaluation.trial_metrics, evaluation.info
    if metric in tm and key in info:
        vals, cond = np.asarray(tm[metric], dtype=np.float64), np.asarray(info[key], dtype=np.float64)
        se = np.array([np.std(vals[cond == v]) / np.sqrt(max((cond == v).sum(), 1)) for v in x])

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    else:
        fig = ax.figure
    ax.errorbar(x, y, yerr=se, fmt="o-", color="C0", lw=2, ms=6, capsize=3, label="network")
    ideal_key = f"ideal_{metric}"
    if ideal_key in rows[0]:
        yi = np.array([r[ideal_key] for r in rows], dtype=np.float64)
        ax.plot(x, yi, "s--", color="k", lw=1.5, ms=5, label="ideal observer")
    if metric == "accuracy":
        lo = np.nanmin(np.concatenate([y, yi if ideal_key in rows[0] else y]))
        ax.set_ylim(min(0.4, lo - 0.05), 1.03)
    ax.set_xlabel(key)
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(f"{metric} by {key} ({int(counts.sum())} trials)")
    return fig
