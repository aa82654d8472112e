"""``evaluate_run``: ``neurotrain evaluate RUN_DIR`` as a Python function."""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Callable
from typing import Any

from .. import analysis as an
from .._errors import CheckpointError
from .._validate import check_bool, check_int, check_seed, derive_seed
from ..io import jsonable, library_versions, read_json
from ._directory import read_run, run_seed
from ._notes import Notes, NotesCallback
from ._options import RUN_DEFAULTS
from ._population import evaluate_population_run, is_population_run
from ._report import PROG, format_report
from ._rundir import reading, save_evaluation

__all__ = ["evaluate_run", "EvaluateRunResult"]



@dataclasses.dataclass(frozen=True)
class EvaluateRunResult:
    """What :func:`evaluate_run` did.

    Attributes
    ----------
    run_dir : str
    task, model
        Rebuilt from the run directory (its saved weights).
    evaluation : neurotrain.analysis.Evaluation
    num_trials, seed : int
        The trials scored and their seed.
    record : dict
        The content of ``evaluation.json`` (``file``); its ``source`` names the checkpoint
        scored and its step.
    train_summary : dict or None
        The run's ``summary.json``, if it has one.
    file : str or None
        ``evaluation.json``, once written (``None`` with ``save=False`` or before the write).
    notes : tuple of str
    checkpoint : str or None
        The checkpoint scored; ``checkpoint_step`` its step.
    """

    run_dir: str
    task: Any
    model: Any
    evaluation: Any
    num_trials: int
    seed: int
    record: dict
    train_summary: dict | None
    file: str | None
    notes: tuple[str, ...] = ()
    checkpoint: str | None = None
    checkpoint_step: int | None = None

    def report(self) -> str:
        """The text ``neurotrain evaluate`` prints: scores next to the ideal observer's, per condition.

        The training lines (steps, final loss) come from ``summary.json`` only when it describes
        the weights scored (the run's saved weights: its best held-out ones when it restored
        them); when another checkpoint was scored (the one it names could not be used), a
        ``weights`` line says which instead.
        """
        summary, rows = self.train_summary, []
        # the step of the weights the summary scored: its restored best ones, else the last
        described = None if summary is None else summary.get("weights_step", summary.get("steps"))
        if (self.checkpoint is not None and summary is not None and described is not None
                and described != self.checkpoint_step):
            rows.append(("weights", f"step {self.checkpoint_step} ({self.record['source']['checkpoint']}); "
                                    f"summary.json describes step {described}, whose checkpoint was not used"))
            summary = None
        return format_report(task=self.task, evaluation=self.evaluation, run_dir=self.run_dir,
                             summary=summary, seed=self.seed, rows=rows,
                             header=f"{PROG}: evaluated {self.run_dir} on {self.task.name}")


def evaluate_run(run_dir: str | os.PathLike, *, trials: int | None = None, seed: int | None = None,
                 notes: NotesCallback | None = None, save: bool = True,
                 before_write: Callable[[EvaluateRunResult], object] | None = None) -> EvaluateRunResult:
    """Score a saved run on fresh trials and write ``evaluation.json``: ``neurotrain evaluate``.

    The run is read as a snapshot (:func:`neurotrain.runs.read_run`): training into it may go
    on meanwhile. ``evaluation.json`` records which checkpoint was scored (``source``).

    Parameters
    ----------
    run_dir : str or PathLike
        A run directory (its saved weights are loaded: see :func:`~neurotrain.runs.saved_weights`).
    trials : int, optional
        Trials to score (default: the run's ``eval_trials``, else 2000).
    seed : int, optional
        Seed of the trials and the network noise, from 0 to 2**31 - 1 (default: the run's
        seed + 1, the trials of the report printed after training; see
        :func:`neurotrain._validate.derive_seed`).
    notes : callable, optional
        Receives each note (e.g. a damaged newest checkpoint that was skipped, and the one used).
    save : bool
        Write ``evaluation.json`` (``False``: only compute).
    before_write : callable, optional
        Called with the result once it is computed and before anything is written (the command
        line prints the report there, so that a failing write never costs the scores).

    Returns
    -------
    EvaluateRunResult
        Or, for a population run, a :class:`PopulationEvaluateRunResult` (every network scored,
        by default on the trials of its final evaluation: its seed + 1).

    Raises
    ------
    CheckpointError
        A missing or damaged run directory, ``config.json`` or checkpoint.
    RunDirectoryError
        ``evaluation.json`` cannot be written (the result was passed to ``before_write``), or
        a symbolic link inside the run directory.

    Examples
    --------
    >>> import tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> run = nt.runs.save_run(tempfile.mkdtemp(), model=nt.models.build_model("vanilla", num_rec=4, task=task),
    ...                        task=task, config={"seed": 3}, figures=False)
    >>> result = evaluate_run(run, trials=16)
    >>> result.num_trials, result.seed, sorted(result.record["scores"])[:1], result.record["source"]["step"]
    (16, 4, ['mse'], 0)
    """
    if is_population_run(run_dir):   # every network of the population, and their summary
        return evaluate_population_run(run_dir, trials=trials, seed=seed, notes=notes, save=save,
                                       before_write=before_write)
    note = Notes(notes)
    trials = check_int("trials", trials, minimum=1, allow_none=True)
    seed = None if seed is None else check_seed("seed", seed)
    save = check_bool("save", save)
    with reading(run_dir) as layout:
        snap = read_run(layout.root)
        for message in snap.fallback_messages():
            note(f"warning: {message}")
        config = snap.config
        if trials is None:
            trials = int((config.get("training") or {}).get("eval_trials", RUN_DEFAULTS["eval_trials"]))
        if seed is None:
            seed = derive_seed(run_seed(config, layout.config_file), 1)
        evaluation = an.evaluate(snap.model, snap.task, trials, seed=seed)
        summary = None
        if os.path.exists(layout.summary_file):
            try:
                summary = read_json(layout.summary_file)
            except CheckpointError as e:
                note(f"warning: {e}")
        record = jsonable({
            "task": snap.task.name, "num_trials": trials, "seed": seed, "primary_metric": snap.task.primary_metric,
            "scores": evaluation.scores, "per_condition": evaluation.per_condition, "source": snap.source(),
            "created": datetime.datetime.now().isoformat(timespec="seconds"), "versions": library_versions(),
        })
        result = EvaluateRunResult(layout.root, snap.task, snap.model, evaluation, trials, seed, record,
                                   summary if isinstance(summary, dict) else None, None, tuple(note.items),
                                   snap.checkpoint, snap.step)
        return save_evaluation(layout, result, record, save=save, before_write=before_write)

