"""``evaluate_run``: ``neurotrain evaluate RUN_DIR`` as a Python function."""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any

from .. import analysis as an
from .._validate import check_int, check_seed
from ..io import RunLayout, jsonable, library_versions, read_json, write_json
from ._directory import load_run
from ._notes import Notes, NotesCallback
from ._options import RUN_DEFAULTS
from ._population import evaluate_population_run, is_population_run
from ._report import PROG, format_report

__all__ = ["evaluate_run", "EvaluateRunResult"]



@dataclasses.dataclass(frozen=True)
class EvaluateRunResult:
    """What :func:`evaluate_run` did.

    Attributes
    ----------
    run_dir : str
    task, model
        Rebuilt from the run directory (the newest readable checkpoint's weights).
    evaluation : neurotrain.analysis.Evaluation
    num_trials, seed : int
        The trials scored and their seed.
    record : dict
        The content of the ``evaluation.json`` written (``file``).
    train_summary : dict or None
        The run's ``summary.json``, if it has one.
    file : str
    notes : tuple of str
    """

    run_dir: str
    task: Any
    model: Any
    evaluation: Any
    num_trials: int
    seed: int
    record: dict
    train_summary: dict | None
    file: str
    notes: tuple[str, ...] = ()

    def report(self) -> str:
        """The text ``neurotrain evaluate`` prints: scores next to the ideal observer's, per condition."""
        return format_report(task=self.task, evaluation=self.evaluation, run_dir=self.run_dir,
                             summary=self.train_summary, seed=self.seed,
                             header=f"{PROG}: evaluated {self.run_dir} on {self.task.name}")


def evaluate_run(run_dir: str | os.PathLike, *, trials: int | None = None, seed: int | None = None,
                 notes: NotesCallback | None = None) -> EvaluateRunResult:
    """Score a saved run on fresh trials and write ``evaluation.json``: ``neurotrain evaluate``.

    Parameters
    ----------
    run_dir : str or PathLike
        A run directory (its newest readable checkpoint is loaded).
    trials : int, optional
        Trials to score (default: the run's ``eval_trials``, else 2000).
    seed : int, optional
        Seed of the trials and the network noise (default: the run's seed + 1, the trials of
        the report printed after training).
    notes : callable, optional
        Receives each note (e.g. a damaged newest checkpoint that was skipped).

    Returns
    -------
    EvaluateRunResult
        Or, for a population run, a :class:`PopulationEvaluateRunResult` (every network scored,
        by default on the trials of its final evaluation: its seed + 1).

    Raises
    ------
    CheckpointError
        A missing or damaged run directory, ``config.json`` or checkpoint.

    Examples
    --------
    >>> import tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> run = nt.runs.save_run(tempfile.mkdtemp(), model=nt.models.build_model("vanilla", num_rec=4, task=task),
    ...                        task=task, config={"seed": 3}, figures=False)
    >>> result = evaluate_run(run, trials=16)
    >>> result.num_trials, result.seed, sorted(result.record["scores"])[:1]
    (16, 4, ['mse'])
    """
    if is_population_run(run_dir):   # every network of the population, and their summary
        return evaluate_population_run(run_dir, trials=trials, seed=seed, notes=notes)
    note = Notes(notes)
    layout = RunLayout(run_dir)
    trials = check_int("trials", trials, minimum=1, allow_none=True)
    seed = None if seed is None else check_seed("seed", seed)
    with note.warnings():
        model, task, config = load_run(layout.root)
    if trials is None:
        trials = int((config.get("training") or {}).get("eval_trials", RUN_DEFAULTS["eval_trials"]))
    if seed is None:
        seed = int(config.get("seed", 0) or 0) + 1
    evaluation = an.evaluate(model, task, trials, seed=seed)
    summary = read_json(layout.summary_file) if os.path.exists(layout.summary_file) else None
    record = {
        "task": task.name, "num_trials": trials, "seed": seed, "primary_metric": task.primary_metric,
        "scores": evaluation.scores, "per_condition": evaluation.per_condition,
        "created": datetime.datetime.now().isoformat(timespec="seconds"), "versions": library_versions(),
    }
    record = jsonable(record)
    write_json(layout.evaluation_file, record)
    return EvaluateRunResult(layout.root, task, model, evaluation, trials, seed, record, summary,
                             layout.evaluation_file, tuple(note.items))
