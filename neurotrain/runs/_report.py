"""The text reports of trained and evaluated runs (what ``neurotrain train`` and ``evaluate`` print)."""

from __future__ import annotations

from ._recipe_run import criterion_line, held_out_lines

__all__ = ["format_report", "PROG"]

#: the command's name, which starts the reports it prints
PROG = "neurotrain"


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def format_report(*, task, evaluation, run_dir: str | None = None, summary: dict | None = None,
                  seed: int | None = None, header: str | None = None, rows=()) -> str:
    """The short text report of an evaluation: scores next to the ideal observer's, per condition.

    Parameters
    ----------
    task : neurotrain.tasks.Task
    evaluation : neurotrain.analysis.Evaluation
    run_dir : str, optional
        Shown as ``run dir``.
    summary : dict, optional
        A run's ``summary.json``: gives the ``trained`` (steps, stop reason, times) and
        ``final loss`` lines, and the ``warning`` that ends the report of a run that learned
        nothing.
    seed : int, optional
        The seed of the evaluation's trials, shown with the score.
    header : str, optional
        The first line.
    rows : sequence of (str, str)
        More ``label  text`` lines after the run directory.

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> model = nt.models.build_model("vanilla", num_rec=4, task=task)
    >>> ev = nt.analysis.evaluate(model, task, 8, seed=1)
    >>> print(format_report(task=task, evaluation=ev, seed=1, header="untrained"))  # doctest: +ELLIPSIS
    untrained
      mse          ... on 8 fresh trials (seed 1)
    """
    lines = [header] if header else []

    def row(label: str, text: str) -> None:
        lines.append(f"  {label:<13}{text}")

    if run_dir is not None:
        row("run dir", run_dir)
    for label, text in rows:
        row(label, text)
    if summary:
        if summary.get("steps") is not None and summary.get("wall_time_s") is not None:
            extra = f", compile {summary['compile_time_s']:.1f} s" if summary.get("compile_time_s") else ""
            reason = summary.get("stop_reason", "completed")
            row("trained", f"{summary['steps']} steps ({reason}) in {summary['wall_time_s']:.1f} s{extra}")
        if summary.get("final_loss") is not None:
            row("final loss", f"{summary['final_loss']:.4g}")
        for label, text in held_out_lines(summary, run_dir):
            row(label, text)

    scores = evaluation.scores
    where = f"on {evaluation.num_trials} fresh trials" + (f" (seed {seed})" if seed is not None else "")
    metric = task.primary_metric
    if task.target_type == "class" and "accuracy" in scores:
        row("accuracy", f"{_pct(scores['accuracy'])} {where}")
        if "ideal_accuracy" in scores:
            gap = 100.0 * (scores["ideal_accuracy"] - scores["accuracy"])
            row("ideal", f"{_pct(scores['ideal_accuracy'])} (ideal observer, same trials): "
                         f"gap {gap:.1f} points")
    elif metric in scores:
        row(metric, f"{scores[metric]:.4g} {where}")
        if f"ideal_{metric}" in scores:
            row("ideal", f"{scores[f'ideal_{metric}']:.4g} (ideal observer, same trials)")
    else:
        for k, v in scores.items():
            row(k, f"{v:.4g}")
    crit = criterion_line(summary or {}, scores)
    if crit:
        row("criterion", crit)
    if evaluation.per_condition:
        key = next(iter(evaluation.per_condition))
        lines.append(f"  per {key}:")
        lines.extend("    " + t for t in _condition_table(evaluation.per_condition[key], key, metric,
                                                         percent=metric == "accuracy"))
    if summary and summary.get("warning"):
        row("warning", summary["warning"])
    return "\n".join(lines)


def _condition_table(rows, key: str, metric: str, *, percent: bool) -> list[str]:
    ideal = f"ideal_{metric}" in rows[0]
    heads = [key, "n", metric] + (["ideal", "gap"] if ideal else [])
    body = []
    for r in rows:
        v = r.get(metric, float("nan"))
        cells = [f"{r[key]:g}", str(int(r.get("n", 0))), f"{100 * v:.1f}" if percent else f"{v:.4g}"]
        if ideal:
            iv = r[f"ideal_{metric}"]
            cells += [f"{100 * iv:.1f}" if percent else f"{iv:.4g}",
                      f"{100 * (iv - v):.1f}" if percent else f"{iv - v:.3g}"]
        body.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(heads)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    out = [fmt.format(*heads)]
    out += [fmt.format(*c) for c in body]
    if percent:
        out.append(f"({metric}, ideal and gap in %)")
    return out
