"""Run directories as a whole: write one (config, checkpoint, summary, figures) and rebuild it.

:func:`save_run` writes what :func:`load_run` reads back: ``config.json`` (everything needed
to rebuild the task, the model and the optimiser), a checkpoint, ``summary.json`` and the
standard figures. The file names are :class:`~neurotrain.io.RunLayout`'s; the checkpoint
format is :mod:`neurotrain.io`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import plot
from .._errors import CheckpointError, ConfigError, NeurotrainError
from .._validate import check_seed
from ..io import (
    FORMAT_VERSION,
    RunLayout,
    find_checkpoint,
    jsonable,
    library_versions,
    load_checkpoint,
    read_checkpoint,
    read_json,
    save_checkpoint,
    save_figure,
    skip_messages,
    write_json,
)
from ..models import model_from_config
from ..tasks import task_from_config
from ._rundir import reading

__all__ = ["run_config", "run_summary", "save_run", "load_run", "build_run", "save_figures",
           "default_run_dir", "saved_weights", "read_run", "RunSnapshot", "run_seed"]

#: figures are drawn at this resolution
FIGURE_DPI = 110


def default_run_dir(task_name: str, cell: str, *, parent: str = "runs") -> str:
    """A new ``runs/<task>-<cell>-<YYYYmmdd-HHMMSS>`` (with ``-2``, ``-3``... if it exists).

    Examples
    --------
    >>> default_run_dir("copy", "gru").startswith(os.path.join("runs", "copy-gru-20"))
    True
    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(parent, f"{task_name}-{cell}-{stamp}")
    out, i = base, 1
    while os.path.exists(out):
        i += 1
        out = f"{base}-{i}"
    return out


def _plain(v) -> bool:
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    return isinstance(v, (tuple, list)) and all(isinstance(x, (int, float)) for x in v)


_OPTIMIZER_SETTINGS = ("betas", "eps", "weight_decay", "amsgrad", "momentum", "nesterov",
                       "grad_clip_norm", "grad_clip_value")


def _optimizer_config(optimizer) -> dict[str, Any]:
    """``{"name", "lr", <hyperparameters>, "schedule": {"name", <its parameters>}}``."""
    out: dict[str, Any] = {"name": type(optimizer).__name__.lower()}
    try:
        out["lr"] = float(optimizer.base_lr)
    except Exception:
        with contextlib.suppress(Exception):
            out["lr"] = float(optimizer.current_lr)
    for key in _OPTIMIZER_SETTINGS:
        value = getattr(optimizer, key, None)
        if value is not None and _plain(value):
            out[key] = value
    sched = getattr(optimizer, "lr", None)
    if sched is not None and hasattr(sched, "base_lrs"):
        skip = ("optimizer", "last_epoch", "base_lrs")
        out["schedule"] = {"name": type(sched).__name__,
                           **{k: v for k, v in vars(sched).items()
                              if not k.startswith("_") and k not in skip and _plain(v)}}
    return out


def run_summary(task, result=None, evaluation=None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The content of ``summary.json``: the training result's and the evaluation's headline numbers.

    Parameters
    ----------
    task : neurotrain.tasks.Task
    result : neurotrain.training.TrainResult, optional
        Gives ``steps``, ``wall_time_s``, ``compile_time_s``, ``final_loss``, ``stop_reason`` and
        how each parameter was trained.
    evaluation : neurotrain.analysis.Evaluation, optional
        Gives the scores (``accuracy``, ``ideal_accuracy`` and ``gap_points`` for class tasks,
        ``mse`` for value tasks) and ``per_condition``.
    extra : dict, optional
        More entries (they win over the computed ones).

    Examples
    --------
    >>> import neurotrain as nt
    >>> s = run_summary(nt.tasks.Integrator(), extra={"note": "untrained"})
    >>> s["task"], s["steps"], s["primary_metric"], s["note"]
    ('integrator', None, 'mse', 'untrained')
    """
    s: dict[str, Any] = {"task": task.name}
    if result is not None:
        s.update({
            "steps": int(result.num_steps),
            "wall_time_s": float(result.wall_time_s),
            "compile_time_s": float(result.compile_time_s),
            "final_loss": float(result.final_loss),
            "stop_reason": result.stop_reason,
            "parameters": dict(result.parameters),
            "not_trained": dict(result.untrained),
        })
    else:
        s.update({"steps": None, "wall_time_s": None, "final_loss": None})
    s["primary_metric"] = task.primary_metric
    if evaluation is not None:
        scores = evaluation.scores
        s["eval_trials"] = int(evaluation.num_trials)
        if task.target_type == "class":
            if "accuracy" in scores:
                s["accuracy"] = scores["accuracy"]
            if "ideal_accuracy" in scores:
                s["ideal_accuracy"] = scores["ideal_accuracy"]
                if "accuracy" in scores:
                    s["gap_points"] = 100.0 * (scores["ideal_accuracy"] - scores["accuracy"])
        else:
            if "mse" in scores:
                s["mse"] = scores["mse"]
        s["scores"] = dict(scores)
        if evaluation.per_condition:
            s["per_condition"] = evaluation.per_condition
    if extra:
        s.update(extra)
    return s


def run_config(*, model, task, config: Mapping[str, Any] | None = None, optimizer=None) -> dict[str, Any]:
    """The content of ``config.json``: ``config`` plus the task, model, versions and a timestamp.

    Parameters
    ----------
    model : neurotrain.models.RNN
    task : neurotrain.tasks.Task
    config : dict, optional
        Method, optimizer, training settings, seed... (kept as given).
    optimizer : braintools.optim optimizer, optional
        Gives ``optimizer`` (``{"name", "lr"}``, its other settings and its learning-rate
        ``schedule`` with the schedule's parameters) when ``config`` has none.

    Returns
    -------
    dict
        JSON-serialisable; :func:`load_run` rebuilds the task and model from it.

    Examples
    --------
    >>> import neurotrain as nt
    >>> task = nt.tasks.Integrator()
    >>> cfg = run_config(model=nt.models.build_model("vanilla", num_rec=4, task=task), task=task, config={"seed": 3})
    >>> cfg["seed"], cfg["task"]["name"], sorted(cfg["versions"])[:3]
    (3, 'integrator', ['brainstate', 'braintools', 'braintrace'])
    """
    cfg: dict[str, Any] = {"format": FORMAT_VERSION}
    cfg.update(dict(config or {}))
    cfg["task"] = task.config()
    cfg["model"] = model.config()
    if optimizer is not None and "optimizer" not in cfg:
        cfg["optimizer"] = _optimizer_config(optimizer)
    cfg["versions"] = library_versions()
    cfg.setdefault("created", datetime.datetime.now().isoformat(timespec="seconds"))
    return jsonable(cfg)


def save_run(run_dir: str | os.PathLike, *, model, task, config: Mapping[str, Any] | None = None,
             result=None, evaluation=None, optimizer=None, figures: bool = True,
             summary: Mapping[str, Any] | None = None, checkpoint: bool = True) -> str:
    """Write a run directory: ``config.json``, a checkpoint, ``summary.json``, ``figures/``.

    Parameters
    ----------
    run_dir : str or PathLike
        Created if needed; existing files of the same names are replaced.
    model : neurotrain.models.RNN
        Its ``config()`` goes into ``config.json`` and its weights into the checkpoint.
    task : neurotrain.tasks.Task
        Its ``config()`` goes into ``config.json``.
    config : dict, optional
        The rest of the recipe: ``method``, ``optimizer`` (``{"name", "lr"}``), ``training``
        (``num_steps``, ``batch_size``, ``l2``...), ``seed``... Stored as given; ``task``,
        ``model``, ``versions`` and ``created`` are filled in, and ``optimizer`` is derived
        from ``optimizer`` when absent.
    result : neurotrain.training.TrainResult, optional
        Gives ``steps``, ``wall_time_s``, ``final_loss`` in ``summary.json`` and the loss curve.
    evaluation : neurotrain.analysis.Evaluation, optional
        Gives the scores (``accuracy`` and ``ideal_accuracy`` for class tasks, ``mse`` for
        value tasks) and ``per_condition`` in ``summary.json``, and the example-trial figure.
    optimizer : braintools.optim optimizer, optional
        Its state is saved in the checkpoint (so training can be resumed).
    figures : bool
        Write ``figures/loss_curve.png``, ``figures/example_trials.png`` and, for tasks with
        conditions, ``figures/performance_by_condition.png`` (needs matplotlib).
    summary : dict, optional
        Extra entries for ``summary.json`` (e.g. why training stopped).
    checkpoint : bool
        Write ``checkpoints/step-<N>.msgpack`` with ``N = result.num_steps`` (0 without a
        result). Pass ``False`` when a :class:`~neurotrain.training.Checkpoint` callback
        already wrote the final checkpoint.

    Returns
    -------
    str
        ``run_dir``.

    Examples
    --------
    >>> import tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Copy(length=3, delay=2)
    >>> model = nt.models.build_model("gru", num_rec=16, task=task)
    >>> run = save_run(tempfile.mkdtemp(), model=model, task=task, config={"seed": 0}, figures=False)
    >>> model2, task2, cfg = load_run(run)
    >>> task2 == task, cfg["model"]["cell"]
    (True, 'gru')
    """
    layout = RunLayout(run_dir)
    os.makedirs(layout.root, exist_ok=True)
    write_json(layout.config_file, run_config(model=model, task=task, config=config, optimizer=optimizer))
    if checkpoint:
        step = 0 if result is None else int(result.num_steps)
        save_checkpoint(layout.checkpoint(step), model, optimizer, step=step)
    write_json(layout.summary_file, run_summary(task, result, evaluation, summary))
    if figures and (result is not None or evaluation is not None):
        save_figures(layout.root, task=task, result=result, evaluation=evaluation)
    return layout.root


def save_figures(run_dir: str | os.PathLike, *, task, result=None, evaluation=None) -> list[str]:
    """Write the standard figures of a run into ``run_dir/figures``; returns their paths.

    ``loss_curve.png`` (with a ``result`` that has a loss history), ``example_trials.png`` and,
    for tasks with conditions, ``performance_by_condition.png`` (with an ``evaluation``). Each
    is written atomically (:func:`neurotrain.io.save_figure`).
    """
    layout = RunLayout(run_dir)
    loss_curve, example_trials, by_condition = RunLayout.TRAIN_FIGURES[:3]
    made: list[tuple[str, Any]] = []
    if result is not None and len(result.loss):
        made.append((loss_curve, lambda: plot.loss_curve(result)))
    if evaluation is not None and np.size(evaluation.outputs):
        made.append((example_trials, lambda: plot.example_trials(evaluation, dt=task.dt)))
        if evaluation.per_condition:
            made.append((by_condition, lambda: plot.performance_by_condition(evaluation)))
    paths = []
    for name, make in made:
        paths += save_figure(make(), layout.figure(name), "png", dpi=FIGURE_DPI, close=True)
    return paths


def _check_weights(weights) -> str:
    if weights not in ("saved", "last", "best"):
        raise CheckpointError(f"weights={weights!r} is not a choice; use 'saved' (the run's result), 'last' "
                              f"(the newest checkpoint) or 'best' (the best held-out weights).")
    return weights


def _best_file(layout: RunLayout, weights: str) -> str | None:
    """``checkpoints/best.msgpack`` when ``weights`` asks for it (``"best"``, or ``"saved"`` of a
    run whose ``summary.json`` says it restored its best held-out weights), else ``None``."""
    best = layout.best_checkpoint
    if weights == "best":
        if not os.path.exists(best):
            raise CheckpointError(f"{layout.root} has no {os.path.relpath(best, layout.root)}: the run kept no "
                                  f"best held-out weights (it was trained without held-out evaluations, or "
                                  f"by an older neurotrain).")
        return best
    if weights == "saved" and os.path.exists(best):
        try:
            summary = read_json(layout.summary_file) if os.path.exists(layout.summary_file) else {}
        except NeurotrainError:
            summary = {}
        if isinstance(summary, dict) and summary.get("weights") == "best":
            return best
    return None


def saved_weights(run_dir: str | os.PathLike, weights: str = "saved") -> str:
    """The checkpoint file of a run's weights.

    ``weights="saved"`` (default): the weights the run saved as its result, i.e.
    ``checkpoints/best.msgpack`` when training ended by restoring its best held-out weights
    (``summary.json`` says ``"weights": "best"``), else the newest usable checkpoint.
    ``"last"``: the newest usable checkpoint (the last step reached; where a resumed run
    continues from). ``"best"``: ``checkpoints/best.msgpack``.

    Raises
    ------
    CheckpointError
        No such checkpoint.
    """
    layout = RunLayout(run_dir)
    best = _best_file(layout, _check_weights(weights))
    if best is not None:
        return best
    found = find_checkpoint(layout.root)
    if found is not None:
        return found.path
    if os.path.exists(layout.legacy_checkpoint_file):
        return layout.legacy_checkpoint_file
    raise CheckpointError(f"{layout.root} holds no checkpoint: {layout.checkpoints_dir} does not exist or is "
                          f"empty (was training stopped before the first checkpoint was written?).")


@dataclasses.dataclass(frozen=True)
class RunSnapshot:
    """A run directory read as one consistent picture (what :func:`read_run` returns).

    ``config`` is ``config.json`` as it was read, and ``model`` holds the weights of the newest
    usable checkpoint, read once and verified (its checksum, and the step in its content
    against its name). Training may go on meanwhile: the snapshot does not change.

    Attributes
    ----------
    run_dir : str
    model, task
    config : dict
    checkpoint : str
        The checkpoint file the weights come from; ``step`` its step (``None`` if it records none).
    skipped : tuple of (str, str)
        Newer checkpoint files that could not be used, with the reason of each.
    """

    run_dir: str
    model: Any
    task: Any
    config: dict
    checkpoint: str
    step: int | None
    skipped: tuple[tuple[str, str], ...] = ()

    def fallback_messages(self) -> list[str]:
        """One sentence per skipped newer checkpoint: which file, why, and the checkpoint used
        (``[]`` when the newest was used)."""
        return skip_messages(self.skipped, self.checkpoint, self.step)

    @property
    def checkpoint_name(self) -> str:
        """The checkpoint's path relative to the run directory (e.g. ``checkpoints/step-00000500.msgpack``)."""
        return os.path.relpath(self.checkpoint, self.run_dir).replace(os.sep, "/")

    def source(self) -> dict[str, Any]:
        """``{"checkpoint": <relative path>, "step": N}``: what ``evaluation.json`` and
        ``analysis.json`` record of the weights they scored."""
        return {"checkpoint": self.checkpoint_name, "step": self.step}


def run_seed(config: Mapping[str, Any], where: str = "config.json") -> int:
    """The seed recorded in a run's ``config.json`` (0 if none), checked like every seed."""
    value = config.get("seed", 0)
    try:
        return check_seed(f"the seed in {where}", 0 if value is None else value)
    except ConfigError as e:
        raise CheckpointError(f"{e} The file was edited or is damaged; restore it.") from None


def read_run(run_dir: str | os.PathLike, weights: str = "saved") -> RunSnapshot:
    """Read a run directory as a consistent snapshot: its config and its saved weights.

    The readers' lock is held while reading, so the run is not replaced by a new one meanwhile
    (training into it may go on: checkpoints are written atomically and the chosen one is read
    once, in full). Damaged or misnamed newer checkpoints are skipped and listed in the
    snapshot's ``skipped`` (:meth:`RunSnapshot.fallback_messages` says which and why). A symbolic link among
    the run directory's files or folders is refused.

    ``weights`` chooses the checkpoint (see :func:`saved_weights`): ``"saved"`` (default) the
    run's result, i.e. ``checkpoints/best.msgpack`` when training restored its best held-out
    weights, else the newest usable checkpoint; ``"last"`` the newest usable checkpoint;
    ``"best"`` the best held-out weights.

    Raises
    ------
    CheckpointError
        The directory, ``config.json`` or every checkpoint is missing or damaged, or the
        checkpoint does not fit the model of ``config.json``.
    RunDirectoryError
        A link inside the run directory; a run being swapped for a new one for too long.

    Examples
    --------
    >>> import tempfile, neurotrain as nt
    >>> task = nt.tasks.Integrator()
    >>> run = save_run(tempfile.mkdtemp(), model=nt.models.build_model("vanilla", num_rec=4, task=task),
    ...                task=task, figures=False)
    >>> snap = read_run(run)
    >>> snap.source(), snap.fallback_messages()
    ({'checkpoint': 'checkpoints/step-00000000.msgpack', 'step': 0}, [])
    """
    _check_weights(weights)
    with reading(run_dir) as layout:
        model, task, config = build_run(layout.root)
        if isinstance(config.get("population"), dict):
            root = layout.root
            raise CheckpointError(f"{root} holds a population of {config['population'].get('size')} networks, not "
                                  f"one model; read it with neurotrain.runs.read_population_run, or write one "
                                  f"network as a run of its own with neurotrain.runs.split_network({root!r}, k).")
        best, best_skipped = _best_file(layout, weights), ()
        if best is not None and weights == "saved":   # a damaged best.msgpack: the newest checkpoint, said
            try:
                best_data = read_checkpoint(best)
            except CheckpointError as e:
                best, best_skipped = None, ((best, str(e)),)
        elif best is not None:
            best_data = read_checkpoint(best)
        found = None if best is not None else find_checkpoint(layout.root)
        if best is not None:
            path, data, skipped = best, best_data, ()
        elif found is not None:
            path, data, skipped = found.path, found.data, (*best_skipped, *found.skipped)
        elif os.path.exists(layout.legacy_checkpoint_file):
            path, skipped = layout.legacy_checkpoint_file, ()
            data = read_checkpoint(path)
        else:
            raise CheckpointError(
                f"{layout.root} holds no checkpoint: {layout.checkpoints_dir} does not exist or "
                f"is empty (was training stopped before the first checkpoint was written?).")
        step = load_checkpoint(path, model, data=data)
        return RunSnapshot(layout.root, model, task, config, path, step, tuple(skipped))


def load_run(run_dir: str | os.PathLike, weights: str = "saved"):
    """Rebuild the model and task of a run directory and load its saved weights.

    Parameters
    ----------
    run_dir : str or PathLike
        A directory written by :func:`save_run` (e.g. by ``neurotrain train``).
    weights : {"saved", "last", "best"}
        Which weights (see :func:`saved_weights`): the run's result (the best held-out weights
        when it restored them, else the newest checkpoint), the newest checkpoint, or the best.

    Returns
    -------
    model : neurotrain.models.RNN
        With the weights asked for (by default: the final weights of a finished run, or its
        best held-out weights when it restored them; the last good weights of a diverged or
        interrupted one). A damaged or misnamed newer checkpoint is skipped with a warning
        naming it, why, and the one used.
    task : neurotrain.tasks.Task
    config : dict
        The content of ``config.json``.

    Raises
    ------
    CheckpointError
        The directory, ``config.json`` or the checkpoint is missing or corrupt, or the
        checkpoint does not match the model described by ``config.json``.

    See Also
    --------
    read_run : the same, as a :class:`RunSnapshot` that also says which checkpoint was used.

    Examples
    --------
    >>> import tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking(dt=20.0)
    >>> saved = nt.models.build_model("leaky", num_rec=8, task=task)
    >>> run = save_run(tempfile.mkdtemp(), model=saved, task=task, config={"training": {"num_steps": 0}},
    ...                figures=False)
    >>> model, task2, config = load_run(run)
    >>> bool((model.readout.W.value == saved.readout.W.value).all()), config["training"]["num_steps"]
    (True, 0)
    """
    snap = read_run(run_dir, weights)
    for message in snap.fallback_messages():
        warnings.warn(message, stacklevel=2)
    return snap.model, snap.task, snap.config


def build_run(run_dir: str | os.PathLike):
    """Rebuild the task and a freshly initialised model from a run's ``config.json``.

    Returns ``(model, task, config)`` like :func:`load_run`, without loading any weights.

    Examples
    --------
    >>> import tempfile, neurotrain as nt
    >>> task = nt.tasks.Integrator()
    >>> run = save_run(tempfile.mkdtemp(), model=nt.models.build_model("vanilla", num_rec=4, task=task),
    ...                task=task, figures=False)
    >>> model, task2, config = build_run(run)
    >>> model.num_rec, task2 == task
    (4, True)
    """
    layout = RunLayout(run_dir)
    run_dir = layout.root
    if not os.path.isdir(run_dir):
        what = "is a file, not a directory" if os.path.exists(run_dir) else "does not exist"
        raise CheckpointError(f"run directory {run_dir} {what}. Pass the folder `neurotrain train` "
                              f"wrote (it holds {layout.CONFIG_FILE} and {layout.CHECKPOINTS_DIR}/).")
    cfg_path = layout.config_file
    if not os.path.exists(cfg_path):
        raise CheckpointError(f"{run_dir} holds no {layout.CONFIG_FILE}, so it is not a complete neurotrain "
                              f"run directory (was training interrupted before it was saved?).")
    config = read_json(cfg_path)
    if not isinstance(config, dict) or "task" not in config or "model" not in config:
        raise CheckpointError(f"{cfg_path} lacks the 'task' or 'model' entry; it was not written by "
                              f"neurotrain or was edited. Restore it or train the run again.")
    try:
        task = task_from_config(config["task"])
        model = model_from_config(config["model"])
    except NeurotrainError as e:
        raise CheckpointError(f"{cfg_path} does not describe a valid task and model: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{cfg_path} does not describe a valid task and model "
                              f"({type(e).__name__}: {e}). Restore it or train the run again.") from None
    return model, task, config
