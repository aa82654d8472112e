"""Callbacks: progress, logging, checkpoints and early stopping. The library itself never prints."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import math
import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._validate import check_int, check_number

__all__ = ["Callback", "ProgressBar", "CSVLogger", "EarlyStopping", "Checkpoint", "TensorBoardLogger"]


class Callback:
    """Hooks called by :func:`neurotrain.train`.

    ``logs`` passed to :meth:`on_log` holds ``step`` (1-based count of steps done), ``loss``
    (mean over the steps since the last log), ``lr`` and any auxiliary values (``task_loss``,
    ``grad_norm``, ``max_activity``, penalties; ``max_activity`` is the largest over the steps
    since the last log, the others are means).
    ``metrics`` passed to :meth:`on_eval` holds the task's scores on held-out trials.
    Set ``trainer.stop_training = True`` (with ``trainer.stop_reason``) to stop after this step.

    A training run that is resumed (``Trainer.restore``) starts with ``trainer.step ==
    trainer.start_step > 0`` in :meth:`on_train_begin`. A callback with state that matters for
    the rest of the run returns it from :meth:`state_dict` (numbers, strings, arrays and dicts of
    them); checkpoints store it and :meth:`load_state_dict` gets it back on resume.

    Attributes
    ----------
    priority : int
        Callbacks run in increasing priority (stable, so equal priorities keep their order);
        :class:`Checkpoint` has 100 so that it saves after the loggers have logged the step.
    sync_every : int
        If positive, the trainer also synchronises (and calls :meth:`on_log`) at every
        multiple of this many steps, whatever ``log_every`` is.
    """

    priority: int = 0
    sync_every: int = 0

    def on_train_begin(self, trainer) -> None: ...
    def on_log(self, trainer, logs: dict[str, float]) -> None: ...
    def on_eval(self, trainer, step: int, metrics: dict[str, float]) -> None: ...
    def on_train_end(self, trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """The callback's state that a resumed run needs (empty by default)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def _shown(values, key) -> str:
    """``median`` or, for a population, ``median [min, max]``."""
    text = f"{values[key]:.4g}"
    if f"{key}_min" in values:
        text += f" [{values[f'{key}_min']:.3g}, {values[f'{key}_max']:.3g}]"
    return text


class ProgressBar(Callback):
    """A tqdm progress bar showing the loss (and the last evaluation's primary metric); for a
    population, their median over the networks with the range, and how many still train."""

    def __init__(self, desc: str = "training", **tqdm_kwargs: Any):
        self.desc, self.kw, self.bar, self._post = desc, tqdm_kwargs, None, {}

    def on_train_begin(self, trainer):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.num_steps, desc=self.desc, initial=trainer.start_step,
                        unit="step", dynamic_ncols=True, **self.kw)

    def on_log(self, trainer, logs):
        self.bar.update(logs["step"] - self.bar.n)
        self._post["loss"] = _shown(logs, "loss")
        if "active" in logs:          # a population: how many networks still train
            self._post["networks"] = f"{logs['active']}/{trainer.K}"
        self.bar.set_postfix(self._post, refresh=False)

    def on_eval(self, trainer, step, metrics):
        key = trainer.task.primary_metric
        if key in metrics:
            self._post[key] = _shown(metrics, key)

    def on_train_end(self, trainer):
        if self.bar is not None:
            self.bar.update(trainer.step - self.bar.n)
            self.bar.close()


class CSVLogger(Callback):
    """Write one CSV row per log: ``step,loss,lr,<aux terms>,eval_<metric>...``.

    Evaluation columns are filled on the rows of the steps where the model was evaluated
    (including a row for step 0 when the trainer evaluates before training), and are empty
    elsewhere. A fresh run (starting at step 0) replaces the file. A resumed run keeps the
    rows up to the step it resumes from, drops those written after that checkpoint (the run
    will write them again) and appends, so the file ends up as an uninterrupted run's.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._fields: list[str] | None = None
        self._eval: dict[int, dict[str, float]] = {}

    def on_train_begin(self, trainer):
        self._eval.clear()
        self._fields = None
        start = trainer.step
        if start == 0 or not os.path.exists(self.path):
            return
        with open(self.path, newline="", encoding="utf-8", errors="replace") as f:
            rows = list(csv.reader(f))
        header = rows[0] if rows else []
        if "step" not in header:
            backup = self.path + ".unreadable"
            os.replace(self.path, backup)
            warnings.warn(f"{self.path} has no 'step' column; it was moved to {backup} and a new "
                          f"log is started.", stacklevel=2)
            return
        col = header.index("step")
        keep = []
        for row in rows[1:]:
            if len(row) != len(header):
                continue  # a line cut short by a crash
            try:
                step = int(row[col])
            except ValueError:
                continue
            if step <= start:  # written before the checkpoint the run resumes from
                keep.append(row)
        import io as _io

        from ..io import atomic_write_bytes as _atomic_write_bytes

        buf = _io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(keep)
        _atomic_write_bytes(self.path, buf.getvalue().encode("utf-8"))
        self._fields = header

    def on_eval(self, trainer, step, metrics):
        self._eval[step] = {f"eval_{k}": v for k, v in metrics.items()}

    def _write(self, rows):
        new = self._fields is None
        if new:
            keys = list(rows[-1])
            evals = [f"eval_{k}" for k in getattr(self, "_eval_names", [])]
            self._fields = keys + [k for k in evals if k not in keys]
        with open(self.path, "w" if new else "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
            if new:
                w.writeheader()
            for row in rows:
                w.writerow({k: row.get(k, "") for k in self._fields})

    def on_log(self, trainer, logs):
        self._eval_names = trainer.eval_metric_names
        rows = [{"step": s, **e} for s, e in sorted(self._eval.items()) if s < logs["step"]]
        rows.append({**logs, **self._eval.get(logs["step"], {})})
        self._eval.clear()
        self._write(rows)


class EarlyStopping(Callback):
    """Stop when the held-out ``metric`` reaches ``target`` (needs ``eval_every > 0``).

    For a population, each network stops on its own when it reaches the target (it keeps
    its weights of that evaluation and stops updating), and training ends when none is left.

    Parameters
    ----------
    target : float
        The value to reach: ``>= target`` if higher is better for the metric, else ``<=``.
    metric : str, optional
        Defaults to the task's primary metric (``accuracy`` or ``mse``).
    patience : int
        Number of consecutive evaluations that must meet the target (1).
    higher_is_better : bool, optional
        Direction of ``metric``; by default the task's for its primary metric, and inferred from
        the name otherwise (``mse``, ``*error*`` and ``*loss*`` are lower-is-better).
    """

    def __init__(self, target: float, metric: str | None = None, patience: int = 1,
                 higher_is_better: bool | None = None):
        self.target = check_number("EarlyStopping target", target)
        self.metric, self.patience = metric, check_int("patience", patience, minimum=1)
        self._hits = 0
        self.higher_is_better = higher_is_better

    def _direction(self, trainer, key) -> bool:
        if self.higher_is_better is not None:
            return self.higher_is_better
        if self.metric in (None, trainer.task.primary_metric):
            return trainer.task.higher_is_better
        return not any(w in key for w in ("mse", "error", "loss"))

    def on_eval(self, trainer, step, metrics):
        key = self.metric or trainer.task.primary_metric
        if key not in metrics:
            raise KeyError(f"EarlyStopping: metric {key!r} not among the evaluation metrics {sorted(metrics)}.")
        higher = self._direction(trainer, key)
        if getattr(trainer, "K", None) is not None:         # a population: one decision per network
            v = np.asarray(trainer.population_metrics[key], np.float64)
            ok = ((v >= self.target) if higher else (v <= self.target)) & np.isfinite(v)
            hits = np.asarray(self._hits) if np.ndim(self._hits) else np.zeros(v.shape, int)
            self._hits = np.where(ok, hits + 1, 0)
            done = (self._hits >= self.patience) & trainer.active
            if done.any():
                trainer.stop_networks(done, f"{key} reached the target {self.target:g} at step {step}")
            return
        v = metrics[key]
        ok = (v >= self.target) if higher else (v <= self.target)
        self._hits = self._hits + 1 if (ok and not math.isnan(v)) else 0
        if self._hits >= self.patience:
            trainer.stop_training = True
            trainer.stop_reason = f"{key}={v:.4g} reached the target {self.target:g} at step {step}"

    def state_dict(self):
        return {"hits": np.asarray(self._hits, np.int64)}

    def load_state_dict(self, state):
        hits = np.asarray(state.get("hits", 0))
        self._hits = int(hits) if hits.ndim == 0 else hits.astype(int)


def _check_count(name, value, what):
    return check_int(name, value, minimum=0, fix=f"({what})")


class Checkpoint(Callback):
    """Save checkpoints into ``run_dir/checkpoints/`` during training, keeping the last ``keep``.

    A checkpoint (see :meth:`Trainer.save_checkpoint`) is written before the first step of a
    fresh run (step 0), every ``every`` steps, and when training ends (completed, stopped early
    or interrupted by Ctrl-C / SIGTERM). Nothing is written when training diverged, so the last
    good checkpoint stays the newest on disk. Files are named ``step-<8 digits>.msgpack`` and
    written atomically; older ones beyond the last ``keep`` are deleted. Only real checkpoints
    count and are deleted: a file whose content holds another step than its name says (or that
    cannot be read) is left alone, so a misnamed file never pushes out a real one. Temporary
    files left by a process killed during a save are removed when training starts.

    Parameters
    ----------
    run_dir : str or PathLike
        The run directory; checkpoints go to its ``checkpoints/`` folder.
    every : int
        Steps between checkpoints (0: only at the start and the end).
    keep : int
        How many of the newest checkpoints to keep (0: all).

    Examples
    --------
    >>> import tempfile, brainstate, braintools, neurotrain as nt
    >>> run_dir = tempfile.mkdtemp()
    >>> brainstate.random.seed(0)
    >>> model = nt.models.build_model("vanilla", 1, 8, 1)
    >>> _ = nt.train(model, nt.tasks.Integrator(), braintools.optim.Adam(1e-2), num_steps=30,
    ...              batch_size=4, callbacks=[nt.training.Checkpoint(run_dir, every=10, keep=2)])
    >>> [step for step, _ in nt.io.list_checkpoints(run_dir)]
    [20, 30]
    """

    priority = 100

    def __init__(self, run_dir: str | os.PathLike, every: int = 500, keep: int = 3):
        self.run_dir = os.fspath(run_dir)
        self.every = _check_count("every", every, "0: only at the start and the end")
        self.keep = _check_count("keep", keep, "0: keep all")
        self.sync_every = self.every
        self.last_path: str | None = None
        self.last_step: int | None = None
        self._verified: dict[str, tuple[Any, bool]] = {}   # path -> (file identity, content step ok)

    def _real(self, step: int, path: str) -> bool:
        """Whether ``path`` holds the checkpoint of ``step`` (files this run wrote are known; others
        are read once)."""
        from .._errors import CheckpointError
        from ..io import read_checkpoint

        try:
            st = os.stat(path)
        except OSError:
            return False
        ident = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._verified.get(path)
        if cached is not None and cached[0] == ident:
            return cached[1]
        try:
            ok = read_checkpoint(path).get("step") == step
        except CheckpointError:
            ok = False
        self._verified[path] = (ident, ok)
        return ok

    def on_train_begin(self, trainer):
        from ..io import CHECKPOINTS_DIR

        folder = os.path.join(self.run_dir, CHECKPOINTS_DIR)
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):  # leftovers of a save cut short by a crash
            if name.startswith(".step-") and ".tmp" in name:
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(folder, name))
        self.last_step = None
        if trainer.step == 0:
            self._save(trainer)

    def on_log(self, trainer, logs):
        if self.every and logs["step"] % self.every == 0:
            self._save(trainer)

    def on_train_end(self, trainer):
        if trainer.stop_reason == "diverged" or not getattr(trainer, "consistent", True):
            return
        if self.last_step != trainer.step:
            self._save(trainer)

    def _save(self, trainer):
        from ..io import checkpoint_path, list_checkpoints

        path = trainer.save_checkpoint(checkpoint_path(self.run_dir, trainer.step))
        self.last_path, self.last_step = path, trainer.step
        st = os.stat(path)
        self._verified[path] = ((st.st_mtime_ns, st.st_size, st.st_ino), True)
        if self.keep:
            # only files up to this step compete: newer ones (from before a resume) are
            # overwritten when the run reaches their step; misnamed files neither count nor go
            older = [p for step, p in list_checkpoints(self.run_dir)
                     if step <= trainer.step and (p == path or self._real(step, p))]
            for p in older[:-self.keep]:
                with contextlib.suppress(OSError):
                    os.remove(p)
                self._verified.pop(p, None)


def _summary_writer_class():
    """tensorboardX's SummaryWriter, else torch's, else None (checked without importing torch)."""
    if importlib.util.find_spec("tensorboardX") is not None:
        try:
            from tensorboardX import SummaryWriter

            return SummaryWriter
        except Exception:
            pass
    if importlib.util.find_spec("tensorboard") is not None and importlib.util.find_spec("torch") is not None:
        try:
            from torch.utils.tensorboard import SummaryWriter

            return SummaryWriter
        except Exception:
            pass
    return None


class TensorBoardLogger(Callback):
    """Write the logged values and evaluations as TensorBoard scalars, when possible.

    Uses ``tensorboardX`` or ``torch.utils.tensorboard`` if one is installed and does nothing
    otherwise (:attr:`available` says which). Training values go under ``train/<name>`` and
    evaluations under ``eval/<metric>``, against the step. A resumed run purges the events
    after the step it resumes from.

    Parameters
    ----------
    log_dir : str or PathLike
        Folder of the event files (e.g. ``run_dir/tensorboard``).
    """

    def __init__(self, log_dir: str | os.PathLike):
        self.log_dir = os.fspath(log_dir)
        self.writer = None

    @property
    def available(self) -> bool:
        """Whether a TensorBoard writer can be imported."""
        return _summary_writer_class() is not None

    def on_train_begin(self, trainer):
        cls = _summary_writer_class()
        if cls is None:
            return
        try:
            kw = {"purge_step": trainer.step + 1} if trainer.step else {}
            self.writer = cls(self.log_dir, **kw)
        except Exception as e:  # an optional extra must never stop training
            warnings.warn(f"TensorBoard logging is off: {type(e).__name__}: {e}", stacklevel=2)
            self.writer = None

    def on_log(self, trainer, logs):
        if self.writer is not None:
            for k, v in logs.items():
                if k != "step":
                    self.writer.add_scalar(f"train/{k}", v, logs["step"])

    def on_eval(self, trainer, step, metrics):
        if self.writer is not None:
            for k, v in metrics.items():
                self.writer.add_scalar(f"eval/{k}", v, step)

    def on_train_end(self, trainer):
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
            self.writer = None
