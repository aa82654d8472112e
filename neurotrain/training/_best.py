"""``BestCheckpoint``: keep the weights with the best held-out score, and restore them.

A run's held-out score can fall in its last steps (a loss spike, a learning rate that is
still too high); the weights of the last step then describe the run worse than an earlier
evaluation did. :class:`BestCheckpoint` keeps the weights of the best held-out evaluation
(in memory, and in ``checkpoints/best.msgpack`` when given a run directory or a path), records
the step and score of the best and of the last evaluation, and with ``restore=True`` puts the
best weights into the model when training ends, after the final checkpoint of the last step
was written (so a resumed run still continues from the last step).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from .._errors import ConfigError
from .._validate import check_bool
from ..io import CHECKPOINTS_DIR, read_checkpoint
from ._callbacks import Callback

__all__ = ["BestCheckpoint"]


class BestCheckpoint(Callback):
    """Keep the weights with the best held-out score (needs ``eval_every > 0``).

    Parameters
    ----------
    path : str or PathLike, optional
        Where to write the best checkpoint (a full trainer checkpoint of the best step): a
        file, or a run directory (then ``<run_dir>/checkpoints/best.msgpack``). ``None``: keep
        the best weights in memory only.
    metric : str, optional
        The held-out score (default: the task's primary metric).
    higher_is_better : bool, optional
        Its direction (default: the task's for its primary metric, else inferred from the
        name: ``mse``, ``*error*`` and ``*loss*`` are lower-is-better).
    restore : bool
        When training ends normally (completed or stopped by a callback, not interrupted and
        not diverged), put the best weights into the model's parameters.

    Attributes
    ----------
    best_step, best_value : int, float
        The step and score of the best evaluation (``None`` before the first).
    last_step, last_value : int, float
        Those of the last evaluation.
    restored : bool
        Whether the model was given the best weights at the end (``False`` also when the
        last evaluation was the best: the weights are then the same).

    Examples
    --------
    A run whose weights are spoilt after step 20 ends with those of the best evaluation:

    >>> import brainstate, braintools, neurotrain as nt
    >>> class Spoil(nt.training.Callback):            # flips the readout's sign after step 30
    ...     def on_log(self, trainer, logs):
    ...         if logs["step"] == 30:
    ...             params, opt = trainer._carry
    ...             params = {**params, ("readout", "W"): -params[("readout", "W")]}
    ...             trainer._carry = (params, opt)
    >>> brainstate.random.seed(0)
    >>> model = nt.models.build_model("vanilla", 1, 8, 1)
    >>> best = BestCheckpoint(restore=True)
    >>> result = nt.train(model, nt.tasks.Integrator(), braintools.optim.Adam(1e-2), num_steps=40, batch_size=16,
    ...                   eval_every=10, eval_trials=64, callbacks=[Spoil(), best])
    >>> best.best_step, best.last_step, best.best_value < best.last_value, best.restored
    (30, 40, True, True)
    >>> after = nt.analysis.evaluate(model, nt.tasks.Integrator(), 64, seed=1).scores["mse"]
    >>> bool(after < best.last_value)                  # the model holds the best weights
    True
    """

    #: after the Checkpoint callback (100), so that the last step's checkpoint keeps the last weights
    priority = 200
    FILE_NAME = "best.msgpack"

    def __init__(self, path: str | os.PathLike | None = None, *, metric: str | None = None,
                 higher_is_better: bool | None = None, restore: bool = False):
        if path is not None:
            path = os.fspath(path)
            if os.path.isdir(path) or not path.endswith(".msgpack"):
                path = os.path.join(path, CHECKPOINTS_DIR, self.FILE_NAME)
        self.path = path
        self.metric = metric
        self.higher_is_better = None if higher_is_better is None else check_bool("higher_is_better",
                                                                                 higher_is_better)
        self.restore = check_bool("restore", restore)
        self.best_step: int | None = None
        self.best_value: float | None = None
        self.last_step: int | None = None
        self.last_value: float | None = None
        self.best_metrics: dict[str, float] = {}
        self.last_metrics: dict[str, float] = {}
        self.restored = False
        self._params: dict | None = None

    # --- the score -------------------------------------------------------------------------
    def _key(self, trainer) -> str:
        return self.metric or trainer.task.primary_metric

    def _higher(self, trainer, key: str) -> bool:
        if self.higher_is_better is not None:
            return self.higher_is_better
        if key == trainer.task.primary_metric:
            return trainer.task.higher_is_better
        return not any(w in key for w in ("mse", "error", "loss"))

    def better(self, trainer, value: float) -> bool:
        """Whether ``value`` is at least as good as the best so far (a tie goes to the later step)."""
        if value is None or math.isnan(value):
            return False
        if self.best_value is None or math.isnan(self.best_value):
            return True
        higher = self._higher(trainer, self._key(trainer))
        return value >= self.best_value if higher else value <= self.best_value

    # --- the hooks -------------------------------------------------------------------------
    def on_train_begin(self, trainer):
        if getattr(trainer, "K", None) is not None:
            raise ConfigError("BestCheckpoint keeps one network's best weights; a population's networks "
                              "each have their own held-out scores (trainer.population_metrics).")
        if not trainer.eval_every:
            raise ConfigError("BestCheckpoint needs held-out evaluations: pass eval_every > 0 "
                              "(e.g. eval_every=200).")
        self.restored = False

    def on_eval(self, trainer, step, metrics):
        key = self._key(trainer)
        if key not in metrics:
            raise ConfigError(f"BestCheckpoint: metric {key!r} is not among the evaluation metrics "
                              f"{sorted(metrics)}.")
        value = float(metrics[key])
        self.last_step, self.last_value = int(step), value
        self.last_metrics = {k: float(v) for k, v in metrics.items()}
        if not self.better(trainer, value):
            return
        self.best_step, self.best_value = int(step), value
        self.best_metrics = dict(self.last_metrics)
        self._params = jax.device_get(dict(trainer._ensure_carry()[0]))
        if self.path is not None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            trainer.save_checkpoint(self.path)

    def on_train_end(self, trainer):
        if not self.restore or self.best_step is None or self.best_step == trainer.step:
            return
        if trainer.stop_reason in ("diverged", "interrupted"):
            return
        params = self.best_params(trainer)
        if params is None:
            warnings.warn("BestCheckpoint: the best weights are neither in memory nor on disk; the model "
                          "keeps its last weights.", stacklevel=2)
            return
        for k, state in trainer.params.items():
            state.value = jax.numpy.asarray(params[k], dtype=state.value.dtype)
        self.restored = True

    def best_params(self, trainer) -> dict | None:
        """The best weights, ``{path: array}`` keyed like ``trainer.params``, from memory or
        from the best checkpoint file (``None`` when neither has them)."""
        if self._params is not None:
            return self._params
        if self.path is None or not os.path.exists(self.path):
            return None
        saved = read_checkpoint(self.path)["params"]
        out = {}
        for k in trainer.params:
            name = ".".join(map(str, k))
            if name not in saved:
                raise ConfigError(f"the best checkpoint {self.path} has no parameter {name!r}; it belongs "
                                  f"to another model.")
            out[k] = np.asarray(saved[name])
        return out

    # --- resuming --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        if self.best_step is None:
            return {}
        out: dict[str, Any] = {"best_step": np.asarray(self.best_step, np.int64),
                               "best_value": np.asarray(self.best_value, np.float64)}
        if self.last_step is not None:
            out.update(last_step=np.asarray(self.last_step, np.int64),
                       last_value=np.asarray(self.last_value, np.float64))
        out["best_metrics"] = {k: np.asarray(v, np.float64) for k, v in self.best_metrics.items()}
        out["last_metrics"] = {k: np.asarray(v, np.float64) for k, v in self.last_metrics.items()}
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "best_step" not in state:
            return
        self.best_step, self.best_value = int(np.asarray(state["best_step"])), float(np.asarray(state["best_value"]))
        if "last_step" in state:
            self.last_step = int(np.asarray(state["last_step"]))
            self.last_value = float(np.asarray(state["last_value"]))
        self.best_metrics = {k: float(np.asarray(v)) for k, v in (state.get("best_metrics") or {}).items()}
        self.last_metrics = {k: float(np.asarray(v)) for k, v in (state.get("last_metrics") or {}).items()}
        self._params = None   # a resumed process: read the best weights back from the file
