"""Plots of behaviour and of training comparisons: psychometric and chronometric curves,
loss curves of several runs (e.g. online learning against BPTT, as in
braintrace's online-learning quickstart).

Every function reads result objects and recomputes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .._errors import ConfigError
from ._training import moving_average

__all__ = ["psychometric_curve", "chronometric_curve", "loss_comparison"]


def _as_named(objs, labels, what: str) -> list[tuple[str, object]]:
    if isinstance(objs, Mapping):
        items = [(str(k), v) for k, v in objs.items()]
    elif isinstance(objs, (list, tuple)):
        items = [(None, v) for v in objs]
    else:
        items = [(None, objs)]
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else list(labels)
        if len(labels) != len(items):
            raise ConfigError(f"{len(labels)} labels for {len(items)} {what}.")
        items = [(lab, v) for lab, (_, v) in zip(labels, items)]
    if not items:
        raise ConfigError(f"no {what} to draw.")
    return items


def psychometric_curve(psychometric, ax=None, *, labels: str | Sequence[str] | None = None,
                       show_params: bool = True, title: str | None = None):
    """Choice proportions per condition with binomial error bars and the fitted curve.

    Parameters
    ----------
    psychometric : Psychometric, sequence of Psychometric or dict of str to Psychometric
        One curve, or several overlaid (e.g. the two contexts of context-dependent decision
        making).
    ax : matplotlib Axes, optional
    labels : str or sequence of str, optional
        Legend labels (default: the dict keys, or none for one curve).
    show_params : bool
        Write the fitted bias, slope and lapse with their standard errors in the legend.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, neurotrain as nt
    >>> rng = np.random.default_rng(0)
    >>> x = rng.choice([-50.0, -10.0, 0.0, 10.0, 50.0], 2000)
    >>> fit = nt.analysis.fit_psychometric(x, rng.random(2000) < 1 / (1 + np.exp(-0.1 * x)))
    >>> fig = psychometric_curve(fit)
    >>> fig.axes[0].get_ylabel()
    'P(y)'
    """
    import matplotlib.pyplot as plt

    items = _as_named(psychometric, labels, "psychometric curves")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    else:
        fig = ax.figure
    for j, (label, psy) in enumerate(items):
        colour = f"C{j % 10}"
        ax.errorbar(psy.x, psy.p, yerr=psy.p_err, fmt="o", color=colour, ms=5, capsize=2)
        lo, hi = float(np.min(psy.x)), float(np.max(psy.x))
        pad = 0.05 * ((hi - lo) or 1.0)
        xs = np.linspace(lo - pad, hi + pad, 300)
        text = label or ""
        if show_params:
            fit_txt = ", ".join(f"{name} {_pm(psy, name)}" for name in ("bias", "slope", "lapse"))
            text = f"{text}: {fit_txt}" if text else f"{psy.function} fit: {fit_txt}"
        ax.plot(xs, psy.predict(xs), "-", color=colour, lw=1.8, label=text or None)
    ax.axhline(0.5, color="0.7", lw=0.8, ls=":")
    ax.axvline(0.0, color="0.7", lw=0.8, ls=":")
    first = items[0][1]
    ax.set_xlabel(first.x_key.replace("_", " "))
    ax.set_ylabel(f"P({first.y_key.replace('_', ' ')})")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    if any(lab for lab in ax.get_legend_handles_labels()[1]):
        ax.legend(fontsize="small", loc="best")
    n = sum(p.num_trials for _, p in items)
    ax.set_title(title if title is not None else f"psychometric curve ({n} trials)")
    return fig


def _pm(psy, name: str) -> str:
    """``value ± stderr`` of a fitted parameter (no ``±`` when the error is undefined)."""
    v, s = psy.params[name], psy.stderr.get(name, float("nan"))
    return f"{v:.3g}" + ("" if not np.isfinite(s) else f" ± {s:.2g}")


def chronometric_curve(chronometric, ax=None, *, labels: str | Sequence[str] | None = None,
                       title: str | None = None):
    """Mean reaction time per condition with standard errors.

    Parameters
    ----------
    chronometric : Chronometric, sequence or dict of them
    ax : matplotlib Axes, optional
    labels : str or sequence of str, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from neurotrain.analysis import Chronometric
    >>> c = Chronometric(x=np.array([0.0, 50.0]), mean_rt=np.array([400.0, 200.0]),
    ...                  sem_rt=np.array([10.0, 5.0]), n=np.array([20, 20]), x_key="coherence",
    ...                  rt_key="reaction_time")
    >>> fig = chronometric_curve(c)
    """
    import matplotlib.pyplot as plt

    items = _as_named(chronometric, labels, "chronometric curves")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    else:
        fig = ax.figure
    for j, (label, c) in enumerate(items):
        ax.errorbar(c.x, c.mean_rt, yerr=c.sem_rt, fmt="o-", color=f"C{j % 10}", ms=5, capsize=2, label=label)
    ax.set_xlabel(items[0][1].x_key.replace("_", " "))
    ax.set_ylabel(f"mean {items[0][1].rt_key.replace('_', ' ')}")
    ax.grid(True, alpha=0.3)
    if any(lab for lab, _ in items):
        ax.legend(fontsize="small")
    ax.set_title(title if title is not None else "chronometric curve")
    return fig


def loss_comparison(results, ax=None, *, labels: str | Sequence[str] | None = None, smooth: int | None = None,
                    x: str = "step", log: bool | None = None, title: str | None = None):
    """Training-loss curves of several runs on one axes (e.g. D-RTRL against BPTT, as in braintrace's
    online-learning quickstart).

    :func:`loss_curve` draws one run with its held-out metric; this overlays several runs'
    losses: each run's loss per step (faint) and its moving average (bold).

    Parameters
    ----------
    results : dict of str to TrainResult, or sequence of TrainResult
        The runs; dict keys are the labels.
    ax : matplotlib Axes, optional
    labels : str or sequence of str, optional
        Labels for a sequence (default ``run 0``, ``run 1``...).
    smooth : int, optional
        Moving-average window in steps (default about 2 % of the longest run; 1 = off).
    x : {"step", "time"}
        Horizontal axis: training step, or wall-clock seconds (the first step takes the
        compile time, later steps share the rest of ``wall_time_s`` evenly).
    log : bool, optional
        Logarithmic loss axis (default: when every loss is positive).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> a = SimpleNamespace(loss=np.linspace(2.0, 0.1, 100), wall_time_s=2.0, compile_time_s=0.5)
    >>> b = SimpleNamespace(loss=np.linspace(2.0, 0.5, 100), wall_time_s=1.0, compile_time_s=0.4)
    >>> fig = loss_comparison({"BPTT": a, "D-RTRL": b})
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['BPTT', 'D-RTRL']
    """
    import matplotlib.pyplot as plt

    if x not in ("step", "time"):
        raise ConfigError(f"x must be 'step' or 'time'; got {x!r}.")
    items = _as_named(results, labels, "training results")
    items = [(lab if lab is not None else f"run {i}", r) for i, (lab, r) in enumerate(items)]
    losses = []
    for lab, r in items:
        loss = np.asarray(getattr(r, "loss", None), dtype=np.float64)
        if loss.ndim != 1 or loss.size == 0:
            raise ConfigError(f"{lab!r} is not a TrainResult with a loss history (got loss of shape {loss.shape}).")
        losses.append(loss)
    if smooth is None:
        smooth = max(1, max(len(lo) for lo in losses) // 50)
    if log is None:
        log = all(bool((lo > 0).all()) for lo in losses)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    else:
        fig = ax.figure
    for j, ((lab, r), loss) in enumerate(zip(items, losses)):
        n = loss.size
        if x == "step":
            xs = np.arange(1, n + 1)
        else:
            first = float(getattr(r, "compile_time_s", 0.0))
            rest = max(float(getattr(r, "wall_time_s", 0.0)) - first, 0.0)
            xs = first + rest * np.arange(n) / max(n - 1, 1)
        colour = f"C{j % 10}"
        if smooth > 1:
            ax.plot(xs, loss, color=colour, alpha=0.25, lw=0.8)
            ax.plot(xs, moving_average(loss, smooth), color=colour, lw=2.0, label=lab)
        else:
            ax.plot(xs, loss, color=colour, lw=1.5, label=lab)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step" if x == "step" else "wall-clock time (s)")
    ax.set_ylabel("training loss" + (" (log scale)" if log else ""))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title if title is not None else "training loss"
                 + (f" (moving average over {smooth} steps)" if smooth > 1 else ""))
    return fig
