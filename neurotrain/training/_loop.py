"""``train()``: one jitted step (sample, forward, loss, gradient, update, schedule) that compiles once."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import CheckpointError, ConfigError, ShapeError, TrainingDivergedError
from ._callbacks import Callback
from ._config import DEFAULT_ACTIVITY_BOUND, TrainConfig
from ._losses import Objective
from ._methods import BPTT, GradientMethod

__all__ = ["train", "Trainer", "TrainResult", "clip_by_global_norm", "DEFAULT_ACTIVITY_BOUND"]


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns: the loss history, evaluations and timings.

    Attributes
    ----------
    loss : ndarray, shape ``(num_steps_done,)``
        Training loss at every step.
    lr : ndarray, shape ``(num_steps_done,)``
        Learning rate used at every step.
    eval_steps : ndarray
        Steps at which held-out scores were computed.
    eval_metrics : dict of str to ndarray
        Held-out scores at ``eval_steps`` (e.g. ``accuracy``, ``ideal_accuracy``, ``mse``).
    num_steps : int
        Steps done (less than asked if stopped early).
    wall_time_s, compile_time_s : float
        Total time of :func:`train` and the time of the first (compiling) step.
    stop_reason : str
        ``"completed"``, the early-stopping message, or ``"interrupted"``.
    num_traces : int
        How many times the train step was traced (1 unless something retraced).
    aux : dict of str to ndarray
        Per-step auxiliary values (``task_loss``, ``grad_norm``, penalties).
    untrained : dict of str to str
        Parameters the gradient method could not train (dotted path: reason); empty for BPTT.
    parameters : dict of str to str
        How each parameter was trained (dotted path: e.g. "exact gradient (bptt)").
    history_start : int
        The step that ``loss[0]`` belongs to: 0, unless training was resumed from a checkpoint
        that held no history (e.g. one written by :func:`neurotrain.io.save_run`).
    resumed_from : int or None
        The step this call started from when the trainer was restored from a checkpoint.
    """

    loss: np.ndarray
    lr: np.ndarray
    eval_steps: np.ndarray
    eval_metrics: dict[str, np.ndarray]
    num_steps: int
    wall_time_s: float
    compile_time_s: float
    stop_reason: str
    num_traces: int
    aux: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    untrained: dict[str, str] = dataclasses.field(default_factory=dict)
    parameters: dict[str, str] = dataclasses.field(default_factory=dict)
    history_start: int = 0
    resumed_from: int | None = None

    @property
    def final_loss(self) -> float:
        """Mean training loss over the last 1 % of steps (at least the last step)."""
        n = max(1, len(self.loss) // 100)
        return float(np.mean(self.loss[-n:])) if len(self.loss) else float("nan")


def clip_by_global_norm(grads, max_norm: float):
    """Scale ``grads`` so that their global L2 norm is at most ``max_norm``."""
    leaves = jax.tree.leaves(grads)
    norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in leaves))
    scale = jnp.minimum(1.0, max_norm / (norm + 1e-12))
    return jax.tree.map(lambda g: g * scale, grads), norm


def _check_int(name, v, minimum=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {v!r}.")
    return int(v)


#: settings that may change between a checkpoint and its resumption without breaking the run
_RESUMABLE_CHANGES = ("num_steps", "eval_every", "log_every")


class _MonitoredObjective(Objective):
    """The objective, plus ``max_activity`` (the largest ``|h|`` of the batch) in its aux values."""

    def __call__(self, outputs, activity, batch, params):
        total, aux = super().__call__(outputs, activity, batch, params)
        aux = dict(aux)
        aux["max_activity"] = jnp.max(jnp.abs(jax.lax.stop_gradient(activity)))
        return total, aux


class Trainer:
    """The training loop behind :func:`train`; use it directly to step by hand or to resume.

    Build it, then call :meth:`run`. The jitted step is :attr:`step_fn` (argument: the step
    index as an int32 scalar); it samples the batch for that step and the network noise from
    ``seed`` and the index only (``jax.random.fold_in``), so a run is reproducible bit for bit
    and can be resumed at any step: :meth:`save_checkpoint` writes everything the remaining
    steps depend on (weights, optimizer moments and step count, the learning-rate schedule,
    the step, brainstate's RNG key, the history and the callbacks' state) and :meth:`restore`
    reads it back.

    The parameters are those of :func:`train`, plus:

    Parameters
    ----------
    activity_bound : float or None
        Stop with :class:`~neurotrain.TrainingDivergedError` when the hidden activity
        ``max |h|`` of a training batch exceeds this bound (default ``1e4``; ``None``: no
        check). The value is computed inside the jitted step and logged as ``max_activity``:
        over every time step for BPTT, at the last time step for the online methods.
    handle_signals : bool
        While :meth:`run` runs in the main thread, the first Ctrl-C (SIGINT) or SIGTERM
        finishes the current step, calls the callbacks (so a :class:`Checkpoint` is written)
        and returns with ``stop_reason == "interrupted"``; a second Ctrl-C interrupts at once.

    Examples
    --------
    >>> import os, tempfile, brainstate, braintools, neurotrain as nt
    >>> run_dir = tempfile.mkdtemp()
    >>> def make(steps):
    ...     brainstate.random.seed(0)
    ...     model = nt.models.build_model("vanilla", 1, 8, 1)
    ...     return model, nt.training.Trainer(model, nt.tasks.Integrator(), braintools.optim.Adam(1e-2),
    ...                                      num_steps=steps, batch_size=4)
    >>> model, trainer = make(10)
    >>> _ = trainer.run()
    >>> path = trainer.save_checkpoint(os.path.join(run_dir, "step-10.msgpack"))
    >>> model2, trainer2 = make(20)           # a new process would do the same
    >>> trainer2.restore(path)
    10
    >>> trainer2.run().num_steps
    20
    """

    def __init__(self, model, task, optimizer=None, *, method: GradientMethod | None = None,
                 config: TrainConfig | None = None, callbacks: Sequence[Callback] = (),
                 handle_signals: bool = True, **settings):
        config = (config or TrainConfig()).replace(**settings) if settings else (config or TrainConfig())
        self.config = config
        self.num_steps = config.num_steps
        self.batch_size = config.batch_size
        self.seed = config.seed
        self.eval_every = config.eval_every
        self.eval_trials = config.eval_trials
        self.log_every = config.log_every
        l2, rate_l2, clip_norm, activity_bound = config.l2, config.rate_l2, config.clip_norm, config.activity_bound
        if model.num_in != task.num_in:
            raise ShapeError(
                f"the model takes num_in={model.num_in} inputs but task {task.name!r} gives "
                f"{task.num_in}; build the first cell with num_in=task.num_in."
            )
        if model.num_out != task.num_out:
            raise ShapeError(
                f"the model has num_out={model.num_out} outputs but task {task.name!r} needs "
                f"{task.num_out}; build the RNN with num_out=task.num_out."
            )
        self.model, self.task = model, task
        self.method = method if method is not None else BPTT()
        if not isinstance(self.method, GradientMethod):
            raise ConfigError(f"method must be a neurotrain GradientMethod such as BPTT(); got {self.method!r}.")
        self.activity_bound = None if activity_bound is None else float(activity_bound)
        objective_cls = Objective if self.activity_bound is None else _MonitoredObjective
        self.objective = objective_cls(task.target_type, l2=l2, rate_l2=rate_l2)
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self.params = model.states(brainstate.ParamState)
        self.optimizer = optimizer if optimizer is not None else braintools.optim.Adam(lr=1e-3)
        if getattr(self.optimizer, "opt_state", None) is None:
            self.optimizer.register_trainable_weights(self.params)
        # stable sort: callbacks that act on a finished step (Checkpoint) run after the loggers
        self.callbacks = sorted(callbacks, key=lambda cb: getattr(cb, "priority", 0))
        self.handle_signals = bool(handle_signals)
        self.method.prepare(model, task, self.params)
        self.untrained = self.method.untrained_parameters(model, self.params)

        key = jax.random.PRNGKey(self.seed)
        self._data_key, self._noise_key, self._eval_key = jax.random.split(key, 3)
        self.num_traces = 0
        self.step_fn = brainstate.transform.jit(self._step)
        self._eval_fn = brainstate.transform.jit(self._eval)
        self.eval_metric_names: list[str] = []
        self.step = 0
        self.start_step = 0
        self.stop_training = False
        self.stop_reason = "completed"
        #: the signal (``signal.SIGINT`` or ``signal.SIGTERM``) that stopped the last run, if any
        self.interrupted_by: int | None = None
        #: False after a hard interrupt, when weights and optimizer state may disagree
        self.consistent = True
        self.resumed_from: int | None = None
        # the history of the whole run (restored from a checkpoint when resuming)
        self.history_start = 0
        self._losses: list[float] = []
        self._lrs: list[float] = []
        self._auxs: dict[str, list[float]] = {}
        self._eval_steps: list[int] = []
        self._eval_rows: list[dict[str, float]] = []

    # --- the jitted pieces -----------------------------------------------------------------
    def _step(self, step):
        self.num_traces += 1  # runs only while tracing
        batch = self.task.sample(jax.random.fold_in(self._data_key, step), self.batch_size)
        brainstate.random.set_key(jax.random.fold_in(self._noise_key, step))
        lr = self.optimizer.current_lr
        loss, aux = self.method.train_step(self.model, batch, self.objective, self.params, self._apply_update)
        if self.activity_bound is not None and "max_activity" not in aux:
            final = self._final_activity()
            if final is not None:
                aux = {**aux, "max_activity": final}
        self.optimizer.lr.step()
        return loss, jnp.asarray(lr, jnp.float32), aux

    def _final_activity(self):
        """``max |state|`` at the trial's last time step, for methods that do not report it."""
        peaks = []
        for cell in getattr(self.model, "layers", ()):
            for name in getattr(cell, "state_names", ("h",)):
                try:
                    value = getattr(cell, name).value
                except Exception:  # a state that lived only inside an inner transform
                    return None
                peaks.append(jnp.max(jnp.abs(jax.lax.stop_gradient(value))))
        if not peaks:
            return None
        out = peaks[0]
        for p in peaks[1:]:
            out = jnp.maximum(out, p)
        return out

    def _apply_update(self, grads):
        """Clip (if asked), apply the optimizer; return the gradient's global norm before clipping."""
        if self.clip_norm is not None:
            grads, norm = clip_by_global_norm(grads, self.clip_norm)
        else:
            norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grads)))
        self.optimizer.update(grads)
        return norm

    def _eval(self):
        batch = self.task.sample(self._eval_key, self.eval_trials)
        brainstate.random.set_key(jax.random.fold_in(self._eval_key, 1))
        outputs, _ = self.model.run(batch.inputs)
        out = {k: jnp.mean(v) for k, v in self.task.trial_metrics(outputs, batch).items()}
        out.update({f"ideal_{k}": jnp.mean(v) for k, v in self.task.ideal_observer(batch).items()})
        return out

    def evaluate_now(self) -> dict[str, float]:
        """Score the model on the fixed held-out batch (``eval_trials`` trials)."""
        return {k: float(v) for k, v in self._eval_fn().items()}

    # --- checkpoints -----------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """The settings the remaining steps depend on (stored in checkpoints, compared on restore)."""
        return {"seed": self.seed, "batch_size": self.batch_size, "num_steps": self.num_steps,
                "l2": self.objective.l2, "rate_l2": self.objective.rate_l2, "clip_norm": self.clip_norm,
                "eval_every": self.eval_every, "eval_trials": self.eval_trials, "log_every": self.log_every,
                "activity_bound": self.activity_bound, "task": self.task.config(),
                "method": self.method.config(), "optimizer": type(self.optimizer).__name__}

    def state_dict(self) -> dict[str, Any]:
        """The trainer's own state for a checkpoint (weights and optimizer are saved apart).

        ``rng`` (brainstate's global key), ``history`` (losses, learning rates, auxiliary
        values and evaluations so far), ``callbacks`` (each callback's :meth:`~Callback.state_dict`)
        and ``trainer`` (:meth:`settings`, as JSON).
        """
        import json

        evals = {k: np.asarray([r.get(k, np.nan) for r in self._eval_rows], np.float64)
                 for k in (self._eval_rows[0] if self._eval_rows else ())}
        callbacks = {}
        for name, cb in self._named_callbacks():
            state = cb.state_dict()
            if state:
                callbacks[name] = state
        return {
            "rng": {"key": np.asarray(jax.random.key_data(brainstate.random.DEFAULT.value))},
            "history": {
                "start": int(self.history_start),
                "loss": np.asarray(self._losses, np.float64),
                "lr": np.asarray(self._lrs, np.float64),
                "aux": {k: np.asarray(v, np.float64) for k, v in self._auxs.items()},
                "eval_steps": np.asarray(self._eval_steps, np.int64),
                "eval": evals,
            },
            "callbacks": callbacks,
            "trainer": json.dumps(self.settings(), sort_keys=True, default=str),
        }

    def _named_callbacks(self):
        seen: dict[str, int] = {}
        for cb in self.callbacks:
            cls = type(cb).__name__
            n = seen.get(cls, 0)
            seen[cls] = n + 1
            yield f"{cls}-{n}", cb

    def save_checkpoint(self, path: str | os.PathLike) -> str:
        """Write a checkpoint of the current step to ``path`` (atomically); returns the path.

        It holds the weights, the optimizer state (moments, step count), the learning-rate
        schedule, the step and :meth:`state_dict`, so that :meth:`restore` continues the run
        exactly. See :func:`neurotrain.io.save_checkpoint` for the file format.
        """
        from ..io import save_checkpoint

        return save_checkpoint(path, self.params, self.optimizer, step=self.step, extra=self.state_dict())

    def restore(self, path: str | os.PathLike) -> int:
        """Continue from a checkpoint: load it and set the step; returns the step.

        Everything is checked before anything is changed: the parameters' names and shapes
        (the first mismatch is named with both shapes), the optimizer state's structure, the
        step (at most ``num_steps``). The history and the callbacks' state are restored when the
        checkpoint holds them (those written by :meth:`save_checkpoint` and the
        :class:`Checkpoint` callback do). A warning names any setting (seed, batch size,
        method...) that differs from the checkpoint's, since the run would then not match an
        uninterrupted one.

        Parameters
        ----------
        path : str or PathLike
            A checkpoint file, or a run directory (its newest readable checkpoint is used, see
            :func:`neurotrain.io.latest_checkpoint`).

        Returns
        -------
        int
            The step training continues from.

        Raises
        ------
        CheckpointError
            No checkpoint, an unreadable one, or one that does not fit this model and optimizer.
        ConfigError
            The checkpoint's step is past ``num_steps``.
        """
        import json

        from ..io import latest_checkpoint, load_checkpoint, read_checkpoint

        path = os.fspath(path)
        if os.path.isdir(path):
            found = latest_checkpoint(path)
            if found is None:
                raise CheckpointError(f"{path} holds no checkpoint to resume from (its checkpoints/ "
                                      f"folder is missing or empty).")
            path = found
        data = read_checkpoint(path)
        step = data.get("step")
        if step is None or int(step) < 0:
            raise CheckpointError(f"checkpoint {path} records no step, so training cannot continue from it.")
        step = int(step)
        if step > self.num_steps:
            raise ConfigError(f"checkpoint {path} is at step {step}, past num_steps={self.num_steps}; "
                              f"pass num_steps >= {step} to continue from it.")
        history = _parse_history(data.get("history"), step, path)
        load_checkpoint(path, self.params, self.optimizer, data=data)

        key = (data.get("rng") or {}).get("key")
        if key is not None:
            _set_global_key(key, path)
        if history is not None:
            (self.history_start, self._losses, self._lrs, self._auxs, self._eval_steps,
             self._eval_rows) = history
            if self._eval_rows:
                self.eval_metric_names = list(self._eval_rows[0])
        else:
            self.history_start, self._losses, self._lrs, self._auxs = step, [], [], {}
            self._eval_steps, self._eval_rows = [], []
        states = data.get("callbacks") or {}
        for name, cb in self._named_callbacks():
            if isinstance(states.get(name), Mapping):
                cb.load_state_dict(states[name])
        saved = data.get("trainer")
        if isinstance(saved, str):
            try:
                old = json.loads(saved)
            except ValueError:
                old = {}
            new = json.loads(json.dumps(self.settings(), sort_keys=True, default=str))
            changed = [k for k in new if k in old and old[k] != new[k] and k not in _RESUMABLE_CHANGES]
            if changed:
                diffs = "; ".join(f"{k}: {old[k]!r} -> {new[k]!r}" for k in changed)
                warnings.warn(f"resuming from {path} with other settings than it was trained with "
                              f"({diffs}); the result will differ from an uninterrupted run.", stacklevel=2)
        self.step = self.start_step = step
        self.resumed_from = step
        return step

    # --- the loop --------------------------------------------------------------------------
    def _snapshot(self):
        return {k: jax.tree.map(np.asarray, v.value) for k, v in self.params.items()}

    def _restore(self, snap):
        for k, v in snap.items():
            self.params[k].value = jax.tree.map(jnp.asarray, v)

    @contextlib.contextmanager
    def _signal_handlers(self):
        """First SIGINT/SIGTERM: stop after the current step; second SIGINT: KeyboardInterrupt."""
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self.interrupted_by is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.interrupted_by = signum

        old = {}
        for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
            if sig is None:
                continue
            try:
                if signal.getsignal(sig) is signal.SIG_IGN:
                    continue  # e.g. a background job: keep ignoring it
                old[sig] = signal.signal(sig, handler)
            except (ValueError, OSError):
                continue
        try:
            yield
        finally:
            for sig, h in old.items():
                with contextlib.suppress(ValueError, OSError, TypeError):
                    # None: the old handler was not set from Python; give the default back
                    signal.signal(sig, signal.SIG_DFL if h is None else h)

    def _divergence_message(self, kind, value, step, last_good, lr):
        if kind == "loss":
            return (f"the training loss became {value} at step {step}. The model keeps its weights "
                    f"from step {last_good}. Likely causes: a learning rate too high (now {lr:.3g}), "
                    f"exploding recurrent activity or gradients; try a lower learning rate, "
                    f"clip_norm=1.0, or a smaller recurrent weight scale.")
        return (f"the hidden activity exploded: max |h| = {value:.3g} at step {step}, above "
                f"activity_bound={self.activity_bound:g}. The model keeps its weights from step "
                f"{last_good}. Likely cause: the recurrent weights grew too large for a "
                f"non-saturating activation (relu, linear, softplus), from a learning rate too high "
                f"(now {lr:.3g}) or unclipped gradients; try a lower learning rate, clip_norm=1.0, "
                f"a tanh activation or a smaller recurrent weight scale (or raise activity_bound if "
                f"such activity is intended).")

    def run(self) -> TrainResult:
        """Run the remaining steps (from :attr:`step` to ``num_steps``); return a :class:`TrainResult`.

        Raises
        ------
        TrainingDivergedError
            The loss became NaN or infinite, or the activity exceeded ``activity_bound``; the
            model is left with the weights of the last logged step, and callbacks are told
            through ``stop_reason == "diverged"`` (a :class:`Checkpoint` then writes nothing, so
            the last good checkpoint stays the newest on disk).
        """
        t0 = time.perf_counter()
        pending: list[tuple[int, Any]] = []
        good = self._snapshot()
        compile_time = 0.0
        start = self.step
        self.stop_training = False
        self.stop_reason = "completed"
        self.interrupted_by = None
        self.consistent = True
        sync = sorted({int(n) for n in (getattr(cb, "sync_every", 0) for cb in self.callbacks) if n})

        def flush():
            nonlocal good
            if not pending:
                return
            vals = jax.device_get([p[1] for p in pending])
            chunk = np.array([float(v[0]) for v in vals])
            bad_loss = ~np.isfinite(chunk)
            bad = bad_loss.copy()
            peaks = None
            if self.activity_bound is not None and "max_activity" in vals[0][2]:
                peaks = np.array([float(v[2]["max_activity"]) for v in vals])
                bad |= ~(peaks <= self.activity_bound)
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                last_good = pending[0][0]
                self._restore(good)
                self.stop_reason = "diverged"
                kind, value = ("loss", chunk[j]) if bad_loss[j] else ("activity", peaks[j])
                raise TrainingDivergedError(
                    self._divergence_message(kind, value, pending[j][0] + 1, last_good, float(vals[j][1])),
                    step=pending[j][0] + 1,
                )
            self._losses.extend(chunk.tolist())
            self._lrs.extend(float(v[1]) for v in vals)
            for v in vals:
                for k, a in v[2].items():
                    self._auxs.setdefault(k, []).append(float(a))
            logs = {"step": pending[-1][0] + 1, "loss": float(chunk.mean()), "lr": float(vals[-1][1])}
            for k in vals[-1][2]:
                xs = [float(v[2][k]) for v in vals]
                logs[k] = float(np.max(xs)) if k.startswith("max_") else float(np.mean(xs))
            pending.clear()
            good = self._snapshot()
            for cb in self.callbacks:
                cb.on_log(self, logs)

        def evaluate(step):
            metrics = self.evaluate_now()
            self.eval_metric_names = list(metrics)
            self._eval_steps.append(step)
            self._eval_rows.append(metrics)
            for cb in self.callbacks:
                cb.on_eval(self, step, metrics)

        with self._signal_handlers():
            for cb in self.callbacks:
                cb.on_train_begin(self)
            try:
                if self.eval_every and self.step == 0 and 0 not in self._eval_steps:
                    evaluate(0)  # the learning curve starts from the untrained network
                while (self.step < self.num_steps and not self.stop_training
                       and self.interrupted_by is None):
                    i = self.step
                    if i == start:
                        tc = time.perf_counter()
                        out = self.step_fn(jnp.asarray(i, jnp.int32))
                        jax.block_until_ready(out[0])
                        compile_time = time.perf_counter() - tc
                    else:
                        out = self.step_fn(jnp.asarray(i, jnp.int32))
                    pending.append((i, out))
                    self.step = i + 1
                    is_last = self.step == self.num_steps
                    is_eval = self.eval_every and (self.step % self.eval_every == 0 or is_last)
                    if is_eval:
                        evaluate(self.step)
                    if (is_eval or self.step % self.log_every == 0 or is_last
                            or any(self.step % n == 0 for n in sync)):
                        flush()
                flush()
            except KeyboardInterrupt:
                # a second Ctrl-C (or one with handle_signals=False): the step in flight may have
                # been cut between updating the weights and the optimizer state
                pending.clear()
                self.stop_reason = "interrupted"
                self.consistent = False
            except TrainingDivergedError:
                self.stop_reason = "diverged"
                raise
            else:
                if self.interrupted_by is not None:
                    self.stop_reason = "interrupted"
                elif self.stop_training and self.stop_reason == "completed":
                    self.stop_reason = "stopped by a callback"
            finally:
                for cb in self.callbacks:
                    cb.on_train_end(self)
        keys = self._eval_rows[0].keys() if self._eval_rows else ()
        return TrainResult(
            loss=np.asarray(self._losses), lr=np.asarray(self._lrs),
            eval_steps=np.asarray(self._eval_steps, dtype=int),
            eval_metrics={k: np.asarray([r[k] for r in self._eval_rows]) for k in keys},
            num_steps=self.history_start + len(self._losses), wall_time_s=time.perf_counter() - t0,
            compile_time_s=compile_time, stop_reason=self.stop_reason, num_traces=self.num_traces,
            aux={k: np.asarray(v) for k, v in self._auxs.items()},
            untrained={".".join(map(str, k)): v for k, v in self.untrained.items()},
            parameters=self.method.describe_parameters(self.params, self.untrained),
            history_start=self.history_start, resumed_from=self.resumed_from,
        )


def _parse_history(h, step: int, path: str):
    """Validate a checkpoint's ``history`` entry; ``None`` if there is none."""
    if h is None:
        return None
    fix = f"The history in checkpoint {path} is malformed; the file was not written by neurotrain."
    try:
        start = int(h.get("start", 0))
        loss = [float(x) for x in np.asarray(h["loss"], np.float64).reshape(-1)]
        lr = [float(x) for x in np.asarray(h["lr"], np.float64).reshape(-1)]
        aux = {str(k): [float(x) for x in np.asarray(v, np.float64).reshape(-1)]
               for k, v in (h.get("aux") or {}).items()}
        eval_steps = [int(x) for x in np.asarray(h.get("eval_steps", []), np.int64).reshape(-1)]
        evals = {str(k): np.asarray(v, np.float64).reshape(-1) for k, v in (h.get("eval") or {}).items()}
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{fix} ({type(e).__name__}: {e})") from None
    n = len(loss)
    if (start + n != step or len(lr) != n or any(len(v) != n for v in aux.values())
            or any(len(v) != len(eval_steps) for v in evals.values())):
        raise CheckpointError(f"{fix} (its lengths do not match the step {step}).")
    rows = [{k: float(v[i]) for k, v in evals.items()} for i in range(len(eval_steps))]
    return start, loss, lr, aux, eval_steps, rows


def _set_global_key(key, path: str) -> None:
    """Set brainstate's global RNG key from its saved key data (same key type as now)."""
    current = brainstate.random.DEFAULT.value
    data = jnp.asarray(np.asarray(key))
    try:
        if jax.dtypes.issubdtype(current.dtype, jax.dtypes.prng_key):
            new = jax.random.wrap_key_data(data, impl=jax.random.key_impl(current))
        else:
            new = data.astype(current.dtype)
        if new.shape != current.shape:
            raise ValueError(f"shape {new.shape} instead of {current.shape}")
    except Exception as e:
        warnings.warn(f"the random key saved in {path} does not fit brainstate's ({e}); it was not "
                      f"restored.", stacklevel=3)
        return
    brainstate.random.DEFAULT.value = new


def train(model, task, optimizer=None, *, method: GradientMethod | None = None,
          config: TrainConfig | None = None, callbacks: Sequence[Callback] = (),
          resume_from: str | os.PathLike | None = None, **settings) -> TrainResult:
    """Train ``model`` on ``task``.

    Each step draws a fresh batch inside the jitted step (from ``seed`` and the step index),
    runs the model, computes the loss, the gradient with ``method``, clips it, updates the
    weights with ``optimizer`` and advances the optimizer's learning-rate schedule.

    Parameters
    ----------
    model : neurotrain.models.RNN
        The network; its ``num_in``/``num_out`` must match the task's.
    task : neurotrain.tasks.Task
    optimizer : braintools.optim optimizer, optional
        Default ``braintools.optim.Adam(lr=1e-3)``. A scheduler passed as its ``lr`` is stepped
        once per training step.
    method : GradientMethod, optional
        Default :class:`BPTT`.
    num_steps, batch_size : int
        Training steps and trials per step.
    seed : int
        Seeds the batches and the network noise (the weights are seeded when the model is
        built, e.g. with ``brainstate.random.seed``).
    l2 : float
        Coefficient of the L2 penalty on every trainable parameter (seed 000 uses 2e-4).
    rate_l2 : float
        Coefficient of the firing-rate penalty ``mean(h**2)``.
    clip_norm : float, optional
        Clip the gradient's global norm to this value.
    eval_every : int
        Score on ``eval_trials`` held-out trials before training and every this many steps
        (0: never). The held-out trials are the same at every evaluation.
    log_every : int
        Steps between host synchronisations (loss logging, NaN checks, callbacks).
    callbacks : sequence of Callback
        E.g. :class:`ProgressBar`, :class:`CSVLogger`, :class:`EarlyStopping`, :class:`Checkpoint`.
    activity_bound : float or None
        Stop when the hidden activity ``max |h|`` exceeds this (default ``1e4``; ``None``: never).
    resume_from : str or PathLike, optional
        A checkpoint file or a run directory: continue from it (see :meth:`Trainer.restore`).
        Build ``model`` and ``optimizer`` as for the original run; with the same ``seed`` the
        result is bit-identical on the CPU to a run done in one go.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingDivergedError
        The loss became NaN or infinite, or the activity exceeded ``activity_bound``; the model
        is left with the last good weights.

    Examples
    --------
    >>> import brainstate, braintools, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> model = nt.models.RNN(nt.models.VanillaRNNCell(1, 16, train_h0=True), num_out=1)
    >>> result = nt.train(model, task, braintools.optim.Adam(lr=1e-2), num_steps=20, batch_size=16)
    >>> result.num_steps, result.num_traces
    (20, 1)
    """
    trainer = Trainer(model, task, optimizer, method=method, config=config, callbacks=callbacks, **settings)
    if resume_from is not None:
        trainer.restore(resume_from)
    return trainer.run()
