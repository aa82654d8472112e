"""``train_run``: what ``neurotrain train`` does, as a Python function returning a result object.

The life of a run directory: a new run clears the files of an earlier run in the same folder
(saying so), writes ``config.json`` before the first step, trains with checkpoints, a CSV log
and (when installed) TensorBoard, then scores the network on fresh trials and writes
``summary.json`` and the figures. A resumed run (``resume=RUN_DIR``) takes the options
recorded in ``config.json``, refuses changes that would alter its trajectory, continues from
the newest readable checkpoint and ends as the uninterrupted run would; one that already
finished says there is nothing to resume, and one stopped during its final evaluation gets
it written. An interrupted or diverged run still gets a short ``summary.json`` that says why
it stopped and where its last checkpoint is.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import os
import signal
from collections.abc import Mapping, Sequence
from typing import Any

import brainstate

from .. import analysis as an
from .._errors import ConfigError, NeurotrainError, RunDirectoryError, TrainingDivergedError
from .._validate import check_bool
from ..io import (
    RunLayout,
    checkpoint_path,
    find_checkpoint,
    jsonable,
    latest_checkpoint,
    read_checkpoint,
    read_json,
    write_json,
)
from ..models import build_model, get_cell_class, resolve_cell_params
from ..tasks import make_task
from ..training import (
    Checkpoint,
    CSVLogger,
    ProgressBar,
    TensorBoardLogger,
    Trainer,
    check_penalties,
    get_method,
    learning_check,
)
from ._constraints import CONSTRAINT_CELL_PARAMS, model_arguments, run_penalties, run_schedule
from ._directory import default_run_dir, run_config, run_summary, save_figures
from ._notes import Notes, NotesCallback
from ._options import LEGACY_OPTIONS, RunOptions
from ._population import (
    check_population_plan,
    final_eval_seed,
    finish_population_run,
    population_config,
    population_report,
    population_trainer_options,
    short_population_extra,
)
from ._recipe_run import recipe_callbacks, recipe_record, recipe_summary
from ._report import PROG, format_report
from ._rundir import io_error_text, open_new_run, open_resumed_run

__all__ = ["train_run", "plan_run", "RunPlan", "TrainRunResult", "ResumeError", "RunInterrupted",
           "TRAIN_STATUSES"]

#: what a call of :func:`train_run` can end with (:attr:`TrainRunResult.status`)
TRAIN_STATUSES = ("completed", "interrupted", "terminated", "diverged", "already-done")
#: steps between host synchronisations (logging, checks) of a run
LOG_EVERY = 10


class ResumeError(ConfigError):
    """A resumed run was asked to change an option that its checkpoints fix.

    Attributes
    ----------
    option : str
        The option (e.g. ``"lr"``).
    config_file : str
        The run's ``config.json``, where the options are recorded.
    allowed : tuple of str
        The options a resumed run may change.
    """

    def __init__(self, option: str, config_file: str, allowed: Sequence[str]):
        self.option, self.config_file, self.allowed = option, config_file, tuple(allowed)
        super().__init__(
            f"{option} cannot be changed when resuming: the run's options are fixed in {config_file} "
            f"(only {', '.join(allowed)} can). To train with other options, start a new run: "
            f"train_run(RunOptions.from_file({config_file!r}).replace({option}=..., out=NEW_DIR))"
        )


# --------------------------------------------------------------------------------------------
# planning: the resolved options of a new or resumed run, checked before anything is written
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunPlan:
    """A run ready to train: its resolved options, task and gradient method.

    ``options`` has the canonical cell name, the cell parameters as the model is built with
    them (the leaky cell's ``dt`` and ``tau`` filled in) and ``out`` set (given, recorded, or a
    new time-stamped folder when ``out_given`` is false).
    """

    options: RunOptions
    task: Any
    method: Any
    resume: bool = False
    out_given: bool = True
    recorded: dict | None = None

    @property
    def run_dir(self) -> str:
        return self.options.out

    def to_text(self, fmt: str = "toml") -> str:
        """The resolved options as a configuration file (what ``neurotrain train --dry-run`` prints).

        A new run without a chosen ``out`` leaves it out, so that every run from the file gets
        its own directory (a header line says so).
        """
        what = f"resuming {self.run_dir}" if self.resume else "a new run"
        header = f"{PROG} train: resolved options ({what}); train with: {PROG} train --config FILE"
        omit: tuple[str, ...] = ()
        if not self.out_given and not self.resume:
            omit = ("out",)
            header += (f"\nout is not set: each run from this file gets a new directory "
                       f"(runs/{self.task.name}-{self.options.cell}-<time>); set out = \"DIR\" to fix one")
        return self.options.to_text(fmt, header=header, omit=omit)


def plan_run(options: RunOptions | None = None, *, resume: str | os.PathLike | None = None,
             **changes: Any) -> RunPlan:
    """Resolve and check the options of a run, new or resumed, without writing anything.

    Parameters
    ----------
    options : RunOptions, optional
        A new run's options (default: ``RunOptions()``); not with ``resume``.
    resume : str or PathLike, optional
        A run directory to continue: its ``config.json``'s recorded options are used.
    **changes
        Options that override ``options`` (tables merge key by key); with ``resume`` only those
        of :meth:`RunOptions.resumable_names` may differ from the recorded ones.

    Raises
    ------
    ConfigError
        A bad option, task, cell or method parameter; a run directory that cannot be resumed;
        or (:class:`ResumeError`) a change a resumed run cannot take.

    Examples
    --------
    >>> plan = plan_run(RunOptions(task="pdm", out="runs/x"), cell_params={"tau": 50.0})
    >>> plan.options.cell_params, plan.task.name
    ({'dt': 20.0, 'tau': 50.0}, 'perceptual-decision-making')
    """
    recorded = None
    if resume is not None:
        if options is not None:
            raise ConfigError("plan_run: pass either options (a new run) or resume=RUN_DIR, not both; "
                              "a resumed run keeps the options recorded in its config.json.")
        options, recorded = _resume_options(os.fspath(resume), changes)
    else:
        options = options if options is not None else RunOptions()
        if not isinstance(options, RunOptions):
            raise ConfigError(f"options must be a RunOptions; got {type(options).__name__}. "
                              f"Build one with RunOptions(...) or RunOptions.from_file(path).")
        if changes:
            options = options.updated(changes, source="train_run")
    task, kind, cell_params, method = _build(options, recorded)
    resolved = options.resolved(cell=kind, cell_params=cell_params)
    out_given = resolved.out is not None
    if not out_given:
        resolved = resolved.resolved(out=default_run_dir(task.name, kind))
    return RunPlan(resolved, task, method, resume=resume is not None, out_given=out_given, recorded=recorded)


def _resume_options(run_dir: str, changes: Mapping[str, Any]) -> tuple[RunOptions, dict]:
    layout = RunLayout(run_dir)
    if not os.path.isdir(run_dir):
        what = "is a file, not a directory" if os.path.exists(run_dir) else "does not exist"
        raise ConfigError(f"cannot resume {run_dir}: the run directory {what}.")
    layout.check_no_links()   # before reading anything through a link
    path = layout.config_file
    if not os.path.exists(path):
        raise ConfigError(f"cannot resume {run_dir}: it holds no {layout.CONFIG_FILE}, so it is not a "
                          f"neurotrain run directory.")
    config = read_json(path)
    recorded = config.get("options") if isinstance(config, dict) else None
    if not isinstance(recorded, dict):
        raise ConfigError(f"{path} records no 'options' (it was written by an older neurotrain), so "
                          f"the run cannot be resumed; train it again.")
    names = RunOptions.names()
    recorded = {**{k: v for k, v in LEGACY_OPTIONS.items() if k not in recorded}, **recorded}  # older runs
    options = RunOptions.from_dict({k: v for k, v in recorded.items() if k in names}, source=path)
    given = RunOptions.check_values(changes, source="train_run")
    fixed = [k for k, v in given.items() if not RunOptions.resumable(k) and v != getattr(options, k)]
    if fixed:
        raise ResumeError(fixed[0], path, RunOptions.resumable_names())
    return dataclasses.replace(options, **{**given, "out": run_dir}), config


def _build(options: RunOptions, recorded: dict | None = None):
    """The task, the canonical cell name, the resolved cell parameters and the method."""
    try:
        task = make_task(options.task, **options.task_params)
    except NeurotrainError:
        raise
    except Exception as e:  # a task constructor met a value of the wrong type
        raise ConfigError(f"bad task_params for task {options.task!r}: {type(e).__name__}: {e}") from None
    cls = get_cell_class(options.cell)
    cell_params = resolve_cell_params(cls.kind, task, **options.cell_params)
    try:
        method = get_method(options.method, **options.method_params)
    except NeurotrainError:
        raise
    except Exception as e:
        raise ConfigError(f"bad method_params for method {options.method!r}: {type(e).__name__}: {e}") from None
    if not _constrained(options, cell_params):
        _check_cell(cls, cell_params)
    else:   # the constraints need the real sizes (e.g. an E fraction of `hidden` units)
        _check_cell(cls, {k: v for k, v in cell_params.items() if not _constraint_param(k, v)})
        _check_constraints(options, task, cls.kind, cell_params, recorded)
    check_population_plan(options, cls, method)
    return task, cls.kind, cell_params, method


def _constraint_param(name, value) -> bool:
    """A cell parameter that needs the real layer size to be checked (a per-unit tau too)."""
    return name in CONSTRAINT_CELL_PARAMS or (name == "tau" and not isinstance(value, (int, float)))


def _constrained(options, cell_params) -> bool:
    return bool(options.dale is not None or options.masks or options.freeze or options.readout_from != "all"
                or options.positive_readout or options.readout_activation != "linear" or options.weight_l1 or options.weight_l2 or options.rate_l1
                or options.curriculum or any(_constraint_param(k, v) for k, v in cell_params.items()))


def _check_constraints(options, task, kind, cell_params, recorded=None) -> None:
    """Build the model once with the run's constraints, penalties and curriculum: a bad one
    (a mask of the wrong shape, an E fraction outside (0, 1), Dale's law on a GRU...) fails
    here, before any file is written."""
    cell, model = model_arguments(dataclasses.replace(options, cell_params=cell_params), recorded, task=task)
    with brainstate.random.seed_context(0):
        net = build_model(kind, num_rec=options.hidden, task=task, num_layers=options.layers, **cell, **model)
    check_penalties(run_penalties(options), [".".join(map(str, k)) for k in net.states(brainstate.ParamState)])
    run_schedule(options)


def _check_cell(cls, cell_params) -> None:
    """Build a 1 x 2 cell with ``cell_params``: a bad name or value fails here, before any file."""
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "num_in", "num_rec")]
    unknown = sorted(set(cell_params) - set(allowed))
    if unknown:
        raise ConfigError(f"cell {cls.kind!r} has no parameter {unknown[0]!r}. Allowed: {', '.join(allowed)}.")
    try:
        cls(1, 2, **cell_params)
    except NeurotrainError:
        raise
    except Exception as e:
        raise ConfigError(f"bad cell_params for cell {cls.kind!r}: {type(e).__name__}: {e}") from None


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TrainRunResult:
    """What :func:`train_run` did.

    Attributes
    ----------
    status : str
        ``"completed"`` (trained, evaluated and saved; also when a callback stopped training
        early), ``"interrupted"`` (Ctrl-C) or ``"terminated"`` (SIGTERM; a checkpoint of the
        step reached is written), ``"diverged"`` (NaN loss or exploding activity; the last good
        checkpoint is the newest) or ``"already-done"`` (a resumed run had nothing to do).
    run_dir : str
    options : RunOptions
        The resolved options (``out`` set, the cell's parameters as built).
    steps_done, num_steps : int
        The steps reached (``None`` if unknown) and the steps asked for.
    summary : dict
        The content of ``summary.json`` (``{}`` for ``"already-done"``).
    notes : tuple of str
        What the run said while it worked (see :mod:`neurotrain.runs`).
    model, task
        The network (with the weights it ended with) and the task.
    method : str
        The gradient method's name.
    train_result : neurotrain.training.TrainResult or None
    evaluation : neurotrain.analysis.Evaluation or None
        The final evaluation on ``eval_trials`` fresh trials of seed ``eval_seed``.
    eval_seed : int or None
    resumed_from : int or None
        The step the run continued from.
    checkpoint : str or None
        The newest checkpoint on disk; ``checkpoint_step`` its step; ``checkpoint_written``
        whether this call wrote it as training stopped.
    error : str or None
        Why training diverged.
    figures : tuple of str
        The figures written.
    """

    status: str
    run_dir: str
    options: RunOptions
    steps_done: int | None
    num_steps: int
    summary: dict
    notes: tuple[str, ...] = ()
    model: Any = None
    task: Any = None
    method: str = ""
    train_result: Any = None
    evaluation: Any = None
    eval_seed: int | None = None
    resumed_from: int | None = None
    checkpoint: str | None = None
    checkpoint_step: int | None = None
    checkpoint_written: bool = False
    error: str | None = None
    figures: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the run is finished: ``"completed"`` or ``"already-done"``."""
        return self.status in ("completed", "already-done")

    @property
    def layout(self) -> RunLayout:
        """The paths of the run directory."""
        return RunLayout(self.run_dir)

    def report(self) -> str:
        """The text ``neurotrain train`` prints: the scores of a completed run (its last line the
        per-condition table), or one line saying why training stopped and how to go on."""
        out, steps = self.run_dir, self.num_steps
        if self.status == "completed":
            o = self.options
            header = (f"{PROG}: trained a {o.cell} RNN ({o.layers} x {o.hidden} units) on "
                      f"{self.task.name} with {self.method}")
            pop = o.population_spec()
            if pop is not None:
                header = (f"{PROG}: trained {pop.size} {o.cell} RNNs ({o.layers} x {o.hidden} units) together on "
                          f"{self.task.name} with {self.method}")
            if self.resumed_from is not None:
                header += f" (resumed at step {self.resumed_from})"
            if pop is not None:
                return population_report(header=header, run_dir=out, summary=self.summary, task=self.task)
            return format_report(task=self.task, evaluation=self.evaluation, run_dir=out, summary=self.summary,
                                 seed=self.eval_seed, header=header)
        if self.status == "already-done":
            return (f"nothing to resume: {out} already finished its {steps} steps (checkpoint "
                    f"{self.checkpoint}). Pass --steps N with N > {steps} to train further.")
        if self.status == "diverged":
            where = (f"the last good checkpoint is {self.checkpoint} (step {self.checkpoint_step})"
                     if self.checkpoint else "no checkpoint was written")
            return f"training diverged: {self.error} Stopped; {where} in the run directory {out}."
        what = "stopped by SIGTERM" if self.status == "terminated" else "interrupted"
        if self.checkpoint_written:
            saved = f"checkpoint {self.checkpoint} written"
        else:
            saved = f"the newest checkpoint is {self.checkpoint}" if self.checkpoint else "no checkpoint was written"
        return (f"{what} at step {self.steps_done} of {steps}; {saved}. Resume with: "
                f"{PROG} train --resume {out}")


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def train_run(options: RunOptions | None = None, *, resume: str | os.PathLike | None = None,
              notes: NotesCallback | None = None, callbacks: Sequence[Any] = (), command: str | None = None,
              force: bool = False, **changes: Any) -> TrainRunResult:
    """Train a network and save its run directory, or resume one: ``neurotrain train`` in Python.

    The run directory is held with an exclusive lock while this runs (a second writer fails at
    once, naming this process). A new run goes into a new or empty folder, or replaces an
    earlier neurotrain run there atomically: it is written beside it and swapped in once it
    has started (``config.json`` and the step-0 checkpoint written), so a failure before
    that leaves the earlier run whole. A folder that is not a neurotrain run is refused
    unless ``force``. See the guide's "Runs" page for every guarantee.

    Parameters
    ----------
    options : RunOptions, optional
        The run (default: ``RunOptions()``, the default ``neurotrain train``); not with ``resume``.
    resume : str or PathLike, optional
        Continue this run directory from its newest usable checkpoint, with its recorded
        options.
    notes : callable, optional
        Called with each note as it arises (e.g. ``print``); the notes are also in the result.
    callbacks : sequence of neurotrain.training.Callback
        More callbacks for the trainer (e.g. ``EarlyStopping``), after the CSV log, the
        checkpoints, TensorBoard and the progress bar.
    command : str, optional
        The command recorded in ``config.json`` (the command line passes its own).
    force : bool
        Replace ``out`` even if it is not a neurotrain run directory, or holds files that
        neurotrain did not write (everything in it is deleted once the new run has started).
    **changes
        Options overriding ``options`` (with ``resume``: only the resumable ones, e.g. ``steps``).

    Returns
    -------
    TrainRunResult
        Its ``report()`` is what ``neurotrain train`` prints. A completed run whose loss stayed
        at chance or above its initial loss has a ``warning`` in its summary (and a note).

    Raises
    ------
    ConfigError
        Bad options (nothing is written then), or a run that cannot be resumed as asked.
    RunLockedError
        Another process is training into (or replacing) the run directory.
    RunDirectoryError
        ``out`` is not a neurotrain run (without ``force``), holds a symbolic link, or a file
        cannot be written (permission, full disk); the message says what is on disk and how to
        go on (usually ``resume=``).
    RunInterrupted
        Ctrl-C outside the training steps (e.g. during the final evaluation); the final
        checkpoint is then on disk and ``resume=`` writes the evaluation. It is a
        ``KeyboardInterrupt``.

    Examples
    --------
    >>> import tempfile
    >>> opts = RunOptions(task="integrator", cell="vanilla", hidden=8, batch_size=8, steps=20,
    ...                   eval_every=10, eval_trials=32, no_progress=True, no_figures=True,
    ...                   out=tempfile.mkdtemp())
    >>> result = train_run(opts)
    >>> result.status, result.steps_done, sorted(result.summary)[:3]
    ('completed', 20, ['best_checkpoint', 'compile_time_s', 'criterion'])
    >>> train_run(resume=result.run_dir).status
    'already-done'
    """
    note = Notes(notes)
    force = check_bool("force", force)
    plan = plan_run(options, resume=resume, **changes)
    if plan.resume and force:
        raise ConfigError("force=True does not go with resume=: a resumed run continues in its own "
                          "directory and replaces nothing.")
    command = command if command is not None else "neurotrain.runs.train_run(...)"
    if plan.resume:
        lock, target = open_resumed_run(plan.run_dir, command=command), None
    else:
        target = open_new_run(plan.run_dir, force=force, out_given=plan.out_given, note=note,
                              command=command, force_name="--force (force=True in Python)")
        lock = None
        if target.root != plan.run_dir:   # a time-stamped name taken meanwhile by another process
            plan = dataclasses.replace(plan, options=dataclasses.replace(plan.options, out=target.root))
    failed = True
    try:
        result = _train(plan, target, note, callbacks, command)
        failed = False
        return result
    except KeyboardInterrupt:
        raise RunInterrupted(plan.run_dir, started=target is None or target.started) from None
    finally:
        if target is not None:
            target.close(failed)
        if lock is not None:
            lock.release()


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a second one) outside the training steps of :func:`train_run`.

    Attributes
    ----------
    run_dir : str
    started : bool
        Whether the run had started (it can then be resumed); a new run interrupted before
        that left nothing behind (an earlier run it was replacing is whole).
    """

    def __init__(self, run_dir: str, *, started: bool = True):
        self.run_dir, self.started = run_dir, started
        if started:
            text = f"interrupted; resume with: {PROG} train --resume {run_dir}"
        else:
            text = f"interrupted before the run started; nothing was written into {run_dir}"
        super().__init__(text)


def _train(plan: RunPlan, target, note: Notes, callbacks: Sequence[Any], command: str) -> TrainRunResult:
    """Train the planned run into its taken directory (``target``: a new run, else resumed)."""
    opts, task, layout = plan.options, plan.task, RunLayout(plan.run_dir)
    first = RunLayout(target.write_root) if target is not None else layout   # config.json, step 0
    out, steps = layout.root, opts.steps

    brainstate.random.seed(opts.seed)
    cell_params, model_params = model_arguments(opts, plan.recorded if plan.resume else None)
    model = build_model(opts.cell, num_rec=opts.hidden, task=task, num_layers=opts.layers, **cell_params,
                        **model_params)
    optimizer = opts.optimizer_spec().build(opts.steps)
    checkpointer = Checkpoint(out, every=opts.checkpoint_every, keep=opts.keep_checkpoints)
    cbs: list[Any] = [CSVLogger(layout.metrics_file), checkpointer]
    population = population_trainer_options(opts)
    extra_cbs, best = recipe_callbacks(opts, layout, population=bool(population))
    cbs += extra_cbs
    board = TensorBoardLogger(layout.tensorboard_dir)
    if board.available:
        cbs.append(board)
    if not opts.no_progress:
        what = f", {population['population'].size} networks" if population else ""
        cbs.insert(0, ProgressBar(desc=f"{task.name} ({opts.cell}, {plan.method.name}{what})"))
    cbs += list(callbacks)
    train_config = opts.train_config().replace(log_every=LOG_EVERY)
    trainer = Trainer(model, task, optimizer, method=plan.method, config=train_config, callbacks=cbs,
                      penalties=run_penalties(opts), schedule=run_schedule(opts), **population)
    training = {**train_config.to_dict(), "checkpoint_every": opts.checkpoint_every,
                "keep_checkpoints": opts.keep_checkpoints}
    now = datetime.datetime.now().isoformat(timespec="seconds")
    common = {"run_dir": out, "options": opts, "num_steps": steps, "model": model, "task": task,
              "method": plan.method.name}

    if plan.resume:
        with note.warnings():
            ckpt = latest_checkpoint(out)
        if ckpt is None:
            note(f"note: {out} has no checkpoint yet; starting it again from step 0")
        else:
            with note.warnings():
                step = trainer.restore(ckpt)
            if step >= steps and _finished(layout, steps):
                return TrainRunResult("already-done", steps_done=step, summary={}, notes=tuple(note.items),
                                      checkpoint=ckpt, checkpoint_step=step, **common)
            if step >= steps:   # stopped after the last step, before the final evaluation was saved
                note(f"{out} finished training ({ckpt}) but not its final evaluation; writing it now")
            else:
                note(f"resuming {out} from step {step} of {steps} ({ckpt})")
            stale = layout.weight_derived_outputs()
            if stale:
                note(f"note: {', '.join(stale)} in {out} describe the weights before resuming; they are "
                     f"kept as they are. Run `{PROG} evaluate/analyze/export {out}` again after training.")
        config = dict(plan.recorded)
        config["options"] = opts.to_dict()
        config["training"] = {**config.get("training", {}), **training}
        config["resumed"] = [*config.get("resumed", []), {"at": now, "command": command}]
    else:
        config = {
            "command": command,
            "created": now,
            "seed": opts.seed,
            "method": plan.method.config(),
            "training": training,
            "cli": {"task": opts.task, "task_params": opts.task_params, "cell": opts.cell,
                    "hidden": opts.hidden, "layers": opts.layers, "cell_params": opts.cell_params},
            "options": opts.to_dict(),
            **population_config(opts),
            **recipe_record(opts),
        }
    stage = "start"
    try:
        # written before training, so that a crashed run still says what it was (and can resume)
        write_json(first.config_file, run_config(model=model, task=task, config=config, optimizer=optimizer))
        if target is not None:
            if target.replacing:   # the new run must be whole before it replaces the old one
                trainer.save_checkpoint(first.checkpoint(0))
            target.start()
        stage = "training"
        try:
            result = trainer.run()
        except TrainingDivergedError as e:
            with note.warnings():
                last = latest_checkpoint(out)
            last_step = None if last is None else int(read_checkpoint(last)["step"])
            extra = {"error": str(e), "diverged_at_step": e.step, "last_checkpoint": last,
                     "last_checkpoint_step": last_step}
            if best is not None and best.best_step is not None and best.path and os.path.exists(best.path):
                extra.update(best_checkpoint=best.path, best_step=best.best_step, best_held_out=best.best_value)
            summary = _short_summary(layout, task, steps_done=last_step, steps=steps, stop_reason="diverged",
                                     extra=extra)
            return TrainRunResult("diverged", steps_done=last_step, summary=summary, notes=tuple(note.items),
                                  checkpoint=last, checkpoint_step=last_step, error=str(e), **common)

        if result.stop_reason == "diverged":   # a population: every network diverged (each one stopped)
            with note.warnings():
                last = latest_checkpoint(out)
            last_step = None if last is None else int(read_checkpoint(last)["step"])
            error = "every network of the population diverged (" + "; ".join(
                f"network {k}: {why}" for k, (_, why) in sorted(trainer.stopped.items())) + ")."
            summary = _short_summary(layout, task, steps_done=last_step, steps=steps, stop_reason="diverged",
                                     extra={"error": error, "last_checkpoint": last,
                                            "last_checkpoint_step": last_step, **short_population_extra(trainer)})
            return TrainRunResult("diverged", steps_done=last_step, summary=summary, notes=tuple(note.items),
                                  checkpoint=last, checkpoint_step=last_step, error=error, **common)

        if result.stop_reason == "interrupted":
            stage = "interrupted"
            terminated = trainer.interrupted_by == getattr(signal, "SIGTERM", None)
            written = trainer.consistent and checkpointer.last_step == trainer.step
            if written:
                ckpt = checkpoint_path(out, trainer.step)
            else:
                with note.warnings():
                    ckpt = latest_checkpoint(out)
            summary = _short_summary(layout, task, steps_done=trainer.step, steps=steps, stop_reason="interrupted",
                                     extra={"final_loss": float(result.final_loss) if len(result.loss) else None,
                                            **short_population_extra(trainer)})
            return TrainRunResult("terminated" if terminated else "interrupted", steps_done=trainer.step,
                                  summary=summary, notes=tuple(note.items), train_result=result,
                                  resumed_from=result.resumed_from, checkpoint=ckpt, checkpoint_written=written,
                                  **common)

        stage = "final"
        extra: dict[str, Any] = {}
        if result.resumed_from is not None:
            extra["resumed_from"] = result.resumed_from
        eval_seed = final_eval_seed(opts.seed)
        if trainer.K is not None:   # every network scored on fresh trials; a table per network
            write_json(layout.config_file, run_config(model=model, task=task, config=config, optimizer=optimizer))
            evaluation, summary, figures = finish_population_run(trainer=trainer, result=result, task=task,
                                                                 options=opts, layout=layout, extra=extra or None)
            if summary.get("warning"):
                note(f"warning: {summary['warning']}")
        else:
            evaluation = an.evaluate(model, task, opts.eval_trials, seed=eval_seed)   # the best weights, if restored
            learning = learning_check(task, result, seed=eval_seed)
            write_json(layout.config_file, run_config(model=model, task=task, config=config, optimizer=optimizer))
            extra = {"learning": {k: v for k, v in learning.items() if k != "warning"}, **extra}
            if learning["warning"]:
                extra["warning"] = learning["warning"]
                note(f"warning: {learning['warning']}")
            extra.update(recipe_summary(opts, task, evaluation, best, final_step=trainer.step))
            summary = jsonable(run_summary(task, result, evaluation, extra))
            write_json(layout.summary_file, summary)
            figures = () if opts.no_figures else tuple(save_figures(out, task=task, result=result,
                                                                    evaluation=evaluation))
    except OSError as e:
        if isinstance(e, RunDirectoryError) and stage == "start":
            raise
        raise _write_failure(e, stage, layout, trainer, steps, first.root) from None
    return TrainRunResult("completed", steps_done=int(result.num_steps), summary=summary, notes=tuple(note.items),
                          train_result=result, evaluation=evaluation, eval_seed=eval_seed,
                          resumed_from=result.resumed_from, checkpoint=checkpointer.last_path,
                          checkpoint_step=checkpointer.last_step, figures=figures, **common)


def _write_failure(e: OSError, stage: str, layout: RunLayout, trainer, steps: int,
                   staging: str) -> RunDirectoryError:
    """The one-line error of a file that could not be written, saying what is on disk."""
    out = layout.root
    what = io_error_text(e)
    if staging != out:   # name the file as it would be in the run directory, not the hidden one
        what = what.replace(staging, out)
    if stage == "start":
        return RunDirectoryError(f"cannot start the run in {out}: {what}. Nothing was trained; an earlier "
                                 f"run in {out}, if any, is unchanged.")
    try:
        found = find_checkpoint(out)
    except NeurotrainError:
        found = None
    where = (f"the newest complete checkpoint is {found.path} (step {found.step})" if found is not None
             else "no checkpoint was written")
    resume = f"{PROG} train --resume {out}"
    if stage in ("training", "interrupted"):
        return RunDirectoryError(f"cannot write {what}. Training stopped at step {trainer.step} of {steps}; "
                                 f"{where}. Free some space or fix the permissions, then resume with: {resume}")
    return RunDirectoryError(f"cannot write {what}. Training finished ({where}) but its final evaluation "
                             f"or figures were not all saved; free some space or fix the permissions, then "
                             f"run: {resume}")


def _short_summary(layout: RunLayout, task, *, steps_done, steps, stop_reason, extra) -> dict:
    """The ``summary.json`` of a run that stopped before its final evaluation."""
    summary = jsonable({"task": task.name, "steps": steps_done, "num_steps": steps, "stop_reason": stop_reason,
                        "primary_metric": task.primary_metric, **extra})
    write_json(layout.summary_file, summary)
    return summary


def _finished(layout: RunLayout, steps: int) -> bool:
    """Whether the run directory holds the summary of a run that completed its ``steps`` steps."""
    try:
        summary = read_json(layout.summary_file)
    except NeurotrainError:   # missing or unreadable: the final evaluation was not written
        return False
    return (isinstance(summary, dict) and summary.get("steps") == steps
            and summary.get("stop_reason") not in ("interrupted", "diverged"))
