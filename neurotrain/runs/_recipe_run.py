"""What a run adds for its recipe: the early stop and the best-weight callbacks, the records in
``config.json`` and ``summary.json``, and the lines of the report (best and final held-out
scores, which weights were kept, the recipe's criterion)."""

from __future__ import annotations

import math
import os
from typing import Any

from .._errors import NeurotrainError
from ..io import RunLayout, checkpoint_path
from ..training import BestCheckpoint, Criterion, EarlyStopping

__all__ = ["recipe_callbacks", "recipe_record", "recipe_summary", "held_out_lines", "criterion_line"]


def recipe_callbacks(opts, layout: RunLayout, *, population: bool = False) -> tuple[list[Any], BestCheckpoint | None]:
    """The callbacks of ``opts.stop_at`` and of the best checkpoint (kept whenever the run is
    evaluated, restored when ``opts.restore_best``); returns ``(callbacks, best)``.

    A population keeps no best checkpoint (its networks have their own best steps; each stops
    on its own at ``stop_at``): ``restore_best`` does not apply to it, and each network keeps
    its last weights (the summary's table says so per network).
    """
    cbs: list[Any] = []
    best = None
    if opts.eval_every and not population:
        best = BestCheckpoint(layout.best_checkpoint, restore=opts.restore_best)
        cbs.append(best)
    if opts.stop_at is not None:
        cbs.append(EarlyStopping(opts.stop_at))
    return cbs, best


def recipe_record(opts) -> dict[str, Any]:
    """The ``optimizer`` and ``recipe`` entries of ``config.json``: the optimiser as trained (an
    :class:`~neurotrain.training.OptimizerSpec`), the recipe of the task and which options came
    from it."""
    recipe = opts.recipe()
    return {"optimizer": opts.optimizer_spec().to_dict(),
            "recipe": {**recipe.to_dict(), "options_taken": list(opts.from_recipe)}}


def recipe_summary(opts, task, evaluation, best: BestCheckpoint | None, *, final_step: int) -> dict[str, Any]:
    """The ``summary.json`` entries of the best and final held-out scores, the weights kept and
    the recipe's criterion on the final (fresh-trial) evaluation."""
    out: dict[str, Any] = {"weights": "final"}
    if best is not None and best.best_step is not None:
        restored = bool(best.restored)
        out["weights"] = "best" if restored else "final"
        out["held_out"] = {"metric": best.metric or task.primary_metric, "trials": opts.eval_trials,
                           "best": {"step": best.best_step, "value": best.best_value, "scores": best.best_metrics},
                           "final": {"step": best.last_step, "value": best.last_value, "scores": best.last_metrics}}
        out["best_checkpoint"] = best.path
        out["weights_step"] = best.best_step if restored else final_step
    recipe = opts.recipe()
    out["recipe"] = recipe.name + (f" ({recipe.method})" if recipe.method else "")
    if recipe.criterion is not None and evaluation is not None:
        scores = {**evaluation.scores}
        try:
            met, value = recipe.criterion.met(scores), recipe.criterion.value(scores)
        except Exception:  # noqa: BLE001 - a score the criterion needs is missing
            met, value = None, None
        out["criterion"] = {"text": recipe.criterion.describe(), "met": met, "value": value,
                            "spec": recipe.criterion.to_dict()}
    return out


def _show(metric: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{100 * value:.1f} %" if metric in ("accuracy", "perf", "bit_accuracy") else f"{value:.4g}"


def held_out_lines(summary: dict, run_dir: str | None) -> list[tuple[str, str]]:
    """The report's ``held-out``, ``weights`` and ``criterion`` rows from a ``summary.json``."""
    rows: list[tuple[str, str]] = []
    held = summary.get("held_out")
    if held:
        m, b, f = held["metric"], held["best"], held["final"]
        if b["step"] == f["step"]:
            rows.append(("held-out", f"{m} {_show(m, f['value'])} at the last evaluation (step {f['step']}), "
                                     f"the best; {held['trials']} trials"))
        else:
            rows.append(("held-out", f"{m} {_show(m, b['value'])} best (step {b['step']}), "
                                     f"{_show(m, f['value'])} last (step {f['step']}); {held['trials']} trials"))
        if summary.get("weights") == "best":
            last = checkpoint_path(run_dir, f["step"]) if run_dir else f"step {f['step']}"
            rows.append(("weights", f"the best held-out ones (step {b['step']}), restored; the last ones are "
                                    f"in {os.path.relpath(last, run_dir) if run_dir else last}"))
        elif b["step"] != f["step"]:
            where = summary.get("best_checkpoint")
            shown = os.path.relpath(where, run_dir) if (where and run_dir) else where
            rows.append(("weights", f"the last ones (step {f['step']}); the best held-out ones (step {b['step']}) "
                                    f"are in {shown} (--restore-best makes them the run's)"))
    return rows


def criterion_line(summary: dict, scores: dict) -> str | None:
    """``"<criterion>: met"`` (or ``NOT met``) for ``scores``, with the criterion a run's
    ``summary.json`` records; ``None`` without one (or without the scores it needs)."""
    spec = (summary.get("criterion") or {}).get("spec")
    if not spec:
        return None
    try:
        crit = Criterion(**spec)
        return f"{crit.describe()}: {'met' if crit.met(scores) else 'NOT met'}"
    except NeurotrainError:
        return None
