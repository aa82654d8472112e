"""``train()`` and the :class:`Trainer` that runs it: compiled pure steps, callbacks, phases,
checkpoint state, signals and divergence checks.

The step itself (sample, forward, loss, gradient, update, learning rate) is a pure function
(:mod:`neurotrain.training._step`); the trainer holds its carry (parameters and optimiser
state), calls it, and keeps the model's ``ParamState`` s and the optimiser object in sync with
it at every log, checkpoint and at the end.
"""

from __future__ import annotations

import dataclasses
import json
import os
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
from .._validate import check_int, check_number
from ..models import forward as make_forward
from ._callbacks import Callback
from ._compile import jit_step
from ._config import TrainConfig
from ._history import History
from ._losses import Objective
from ._methods import BPTT, GradientMethod, get_method
from ._optim import functional_optimizer
from ._penalties import check_penalties
from ._population import (
    AUTO_CHUNK,
    Population,
    as_population,
    auto_chunk,
    check_fits,
    member_params,
    population_sharding,
    trimmed_mean,
    where_active,
)
from ._schedule import Phase, resolve_schedule
from ._signals import stop_on_signals
from ._step import make_eval_fn, make_train_step

__all__ = ["train", "Trainer", "TrainResult"]


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
        Total time of :func:`train` and the time of the first (compiling) step of each phase.
    stop_reason : str
        ``"completed"``, the early-stopping message, or ``"interrupted"``.
    num_traces : int
        How many times a train step was traced (one per phase unless something retraced).
    aux : dict of str to ndarray
        Per-step auxiliary values (``task_loss``, ``grad_norm``, penalties).
    untrained : dict of str to str
        Parameters the gradient method could not train (dotted path: reason); empty for BPTT.
    parameters : dict of str to str
        How each parameter was trained (dotted path: e.g. "exact gradient (bptt)").
    history_start : int
        The step that ``loss[0]`` belongs to: 0, unless training was resumed from a checkpoint
        that held no history (e.g. one written by :func:`neurotrain.io.save_checkpoint`).
    resumed_from : int or None
        The step this call started from when the trainer was restored from a checkpoint.
    population : Population or None
        The networks trained together; per-step arrays (``loss``, ``lr``, ``aux``) and
        ``eval_metrics`` then have one column per network.
    stopped : dict of int to (int, str)
        For a population: the networks that stopped before the end, with the step and why
        (early stopping, divergence).
    phases : list of dict
        The phases of the schedule that ran: ``name``, ``start``, ``stop`` (steps) and the
        ``reason`` each ended (``"steps"``: its length; the target it reached; for the phase
        training ended in, ``"end of training"`` or why training stopped).
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
    phases: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    population: Population | None = None
    stopped: dict[int, tuple[int, str]] = dataclasses.field(default_factory=dict)

    @property
    def final_losses(self) -> np.ndarray:
        """Mean training loss over the last 1 % of steps (at least the last step): one value,
        or one per network of a population (NaN for a network with no finite value)."""
        if not len(self.loss):
            return np.asarray(float("nan"))
        n = max(1, len(self.loss) // 100)
        tail = np.asarray(self.loss[-n:], np.float64)
        if tail.ndim == 1:
            return np.asarray(tail.mean())
        out = np.full(tail.shape[1], np.nan)
        for k in range(tail.shape[1]):          # a network stopped early: its last finite values
            col = np.asarray(self.loss, np.float64)[:, k]
            col = col[np.isfinite(col)]
            if col.size:
                out[k] = col[-max(1, col.size // 100):].mean()
        return out

    @property
    def final_loss(self) -> float:
        """Mean training loss over the last 1 % of steps (the median over a population's networks)."""
        v = self.final_losses
        return float(v) if v.ndim == 0 else _nanmedian(v)


#: what a checkpoint's trainer settings may differ in without breaking the run's trajectory
_RESUMABLE_CHANGES = tuple(n for n in TrainConfig.names() if TrainConfig.resumable(n))


def _divergence_message(kind, value, step, last_good, lr, bound) -> str:
    if kind == "loss":
        return (f"the training loss became {value} at step {step}. The model keeps its weights "
                f"from step {last_good}. Likely causes: a learning rate too high (now {lr:.3g}), "
                f"exploding recurrent activity or gradients; try a lower learning rate, "
                f"clip_norm=1.0, or a smaller recurrent weight scale.")
    return (f"the hidden activity exploded: max |h| = {value:.3g} at step {step}, above "
            f"activity_bound={bound:g}. The model keeps its weights from step "
            f"{last_good}. Likely cause: the recurrent weights grew too large for a "
            f"non-saturating activation (relu, linear, softplus), from a learning rate too high "
            f"(now {lr:.3g}) or unclipped gradients; try a lower learning rate, clip_norm=1.0, "
            f"a tanh activation or a smaller recurrent weight scale (or raise activity_bound if "
            f"such activity is intended).")


class Trainer:
    """The training loop behind :func:`train`; use it directly to step by hand or to resume.

    Build it, then call :meth:`run`. Each training step is one call of a compiled pure function
    of the parameters, the optimiser state, the step index and the run's random key: the batch
    of step ``i`` and its network noise depend on ``seed`` and ``i`` only
    (``jax.random.fold_in``), so a run is reproducible bit for bit and can be resumed at any
    step. :meth:`save_checkpoint` writes everything the remaining steps depend on (weights,
    optimizer moments and step count, the learning-rate schedule, the step, the phase, the
    history and the callbacks' state) and :meth:`restore` reads it back.

    The parameters are those of :func:`train`, plus:

    Parameters
    ----------
    population : Population or int, optional
        Train K networks together (see :func:`train`).
    devices : int, list of devices or "all", optional
        Split a population's networks over these devices (``jax.sharding``; K must be a
        multiple of their number). Results are those of one device.
    chunk : int, "auto" or None
        Compute a population's networks this many at a time (``jax.lax.map`` with
        ``batch_size``); ``None``: all at once (one ``jax.vmap``). ``"auto"`` (default): 4 on
        a CPU for populations of more than 4 networks on one device, else all at once; on
        XLA-CPU a smaller working set is faster (``benchmarks/results/population.md``:
        1.3-1.6x the throughput of all at once), an accelerator wants the whole population.
        Results are the same within float rounding.
    handle_signals : bool
        While :meth:`run` runs in the main thread, the first Ctrl-C (SIGINT) or SIGTERM
        finishes the current step, calls the callbacks (so a :class:`Checkpoint` is written)
        and returns with ``stop_reason == "interrupted"``; a second Ctrl-C interrupts at once
        (the weights stay those of the last finished step).

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
                 schedule: Sequence[Phase] | None = None, config: TrainConfig | None = None,
                 callbacks: Sequence[Callback] = (), population: Population | int | None = None,
                 devices=None, chunk: int | str | None = "auto", handle_signals: bool = True, penalties=(),
                 **settings):
        config = config if config is not None else TrainConfig()
        if not isinstance(config, TrainConfig):
            raise ConfigError(f"config must be a neurotrain.training.TrainConfig; got {config!r}.")
        self.config = config.replace(**settings) if settings else config
        if model.num_in != task.num_in:
            raise ShapeError(
                f"the model takes num_in={model.num_in} inputs but task {task.name!r} gives "
                f"{task.num_in}; build the first cell with num_in=task.num_in (or the model with "
                f"build_model(..., task=task))."
            )
        if model.num_out != task.num_out:
            raise ShapeError(
                f"the model has num_out={model.num_out} outputs but task {task.name!r} needs "
                f"{task.num_out}; build the RNN with num_out=task.num_out (or the model with "
                f"build_model(..., task=task))."
            )
        method = method if method is not None else BPTT()
        if isinstance(method, str):   # a registered name, with its default parameters
            method = get_method(method)
        if not isinstance(method, GradientMethod):
            raise ConfigError(f"method must be a neurotrain GradientMethod such as BPTT(); got {method!r}.")
        callbacks = list(callbacks)
        for i, cb in enumerate(callbacks):
            if not isinstance(cb, Callback):
                raise ConfigError(f"callbacks[{i}] must be a neurotrain.training.Callback (e.g. "
                                  f"ProgressBar()); got {cb!r}.")
        self.model, self.task = model, task
        self.forward = make_forward(model)
        self.params = model.states(brainstate.ParamState)
        self.optimizer = optimizer if optimizer is not None else braintools.optim.Adam(lr=1e-3)
        self._fopt = functional_optimizer(self.optimizer, self.params).with_steps(self.config.num_steps)
        _check_learning_rate(self.optimizer)
        self.population = as_population(population)
        pop = self.population
        l2, rate_l2 = self.config.l2, self.config.rate_l2
        if pop is not None:   # the terms any network uses are computed; values are per network
            l2 = max(pop.l2) if pop.l2 is not None else l2
            rate_l2 = max(pop.rate_l2) if pop.rate_l2 is not None else rate_l2
        self.penalties = check_penalties(penalties, [".".join(map(str, k)) for k in self.params])
        self.objective = Objective(task.target_type, l2=l2, rate_l2=rate_l2,
                                   penalties=self.penalties, effective=self.forward.effective_params)
        self.method = method.prepare(model, task)
        own = self.method.schedule(model, task, self.config.num_steps)
        if own is not None and schedule is not None:
            raise ConfigError(f"method {method.name!r} trains in its own stages; pass its options (e.g. "
                              f"theta, stages, stage_steps) instead of schedule=.")
        self.phases = resolve_schedule(own if own is not None else schedule, task, model, self.config.num_steps)
        if self.population is not None and any(p.until_on == "phase" for p in self.phases):
            raise ConfigError("a population scores its phases on the training task; Phase(until_on='phase') "
                              "(stage scores on the phase's own task) is for one network.")
        _check_time_steps(model, task, self.phases)
        self._methods: list[GradientMethod] = []
        for phase in self.phases:
            self._methods.append(self.method if phase.task == task else method.prepare(model, phase.task))
        #: ``{path: bool or 0/1 array}`` the model marks as (partly) frozen
        self.trainable = dict(model.trainable_masks()) if hasattr(model, "trainable_masks") else {}
        self.untrained = self.method.untrained_parameters(model)
        if self.untrained:
            names = "; ".join(f"{'.'.join(map(str, k))}: {why}" for k, why in self.untrained.items())
            warnings.warn(f"{self.method.name}: these parameters are not trained online: {names}",
                          stacklevel=2)
        # stable sort: callbacks that act on a finished step (Checkpoint) run after the loggers
        self.callbacks = sorted(callbacks, key=lambda cb: getattr(cb, "priority", 0))
        self.handle_signals = bool(handle_signals)

        #: K, the number of networks trained together (None: one network)
        self.K = None if pop is None else pop.size
        self._hyper: dict[str, Any] = {}
        self._sharding = None
        if pop is None:
            if devices is not None:
                raise ConfigError("devices= shards a population over devices; pass population= too.")
            self._key = jax.random.PRNGKey(self.seed)
        else:
            base_lr = getattr(self.optimizer, "base_lr", None)
            self._hyper = {k: jnp.asarray(v) for k, v in pop.hyper_arrays(base_lr=base_lr).items()}
            if ({"sigma_in", "sigma_rec"} & set(self._hyper)) and not isinstance(self.method, BPTT):
                raise ConfigError(f"per-network noise levels need BPTT; {self.method.name} reads the noise "
                                  f"levels from the cells. Vary lr, l2 or seeds instead.")
            self._sharding = population_sharding(devices, pop.size)
            n_dev = 1 if self._sharding is None else len(self._sharding.mesh.devices.ravel())
            #: the estimated memory of one training step of the population (bytes)
            self.memory_estimate = check_fits(
                model, size=pop.size // n_dev, batch_size=self.batch_size,
                num_steps=max(p.task.num_steps() for p in self.phases), online=not isinstance(self.method, BPTT))
            self._key = jax.vmap(jax.random.PRNGKey)(jnp.asarray(pop.seeds, jnp.uint32))
        #: networks of a population computed at once (``None``: all; see :class:`Trainer`)
        if isinstance(chunk, str) and chunk == AUTO_CHUNK:
            chunk = auto_chunk(pop, devices)
        elif chunk is not None and pop is None:
            raise ConfigError("chunk= applies to populations; pass population= too.")
        self.chunk = check_int("chunk", chunk, minimum=1, allow_none=True,
                               fix='Or chunk=None (all networks at once) or chunk="auto".')
        #: per network of a population: still training (early stopping and divergence stop one)
        self.active = None if pop is None else np.ones(pop.size, bool)
        #: per network of a population: ``{k: (step, reason)}`` of the networks that stopped
        self.stopped: dict[int, tuple[int, str]] = {}
        #: a population's last held-out scores, ``{metric: (K,) array}``
        self.population_metrics: dict[str, np.ndarray] | None = None
        self.num_traces = 0
        self._step_fns: dict[int, Any] = {}
        evaluate = make_eval_fn(forward=self.forward, task=task, num_trials=self.eval_trials)
        self._eval_fn = jax.jit(evaluate if pop is None else jax.vmap(evaluate, in_axes=(0, 0, 0)))
        self._stage_fns: dict[int, Any] = {}
        self._stage_keys: list[str] | None = None
        self._carry = None           # (params, opt_state) once training starts or is restored
        self.step = 0
        self.start_step = 0
        self.phase_index = 0
        self.phase_start = 0
        self.stop_training = False
        self.stop_reason = "completed"
        #: the signal (``signal.SIGINT`` or ``signal.SIGTERM``) that stopped the last run, if any
        self.interrupted_by: int | None = None
        #: whether the weights and the optimizer state are those of one finished step (always,
        #: since a step is one pure function call; kept for callbacks written against it)
        self.consistent = True
        self.resumed_from: int | None = None
        self.history = History()

    # --- settings (read from the config) -------------------------------------------------
    @property
    def num_steps(self) -> int:
        return self.config.num_steps

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def eval_every(self) -> int:
        return self.config.eval_every

    @property
    def eval_trials(self) -> int:
        return self.config.eval_trials

    @property
    def log_every(self) -> int:
        return self.config.log_every

    @property
    def clip_norm(self):
        return self.config.clip_norm

    @property
    def activity_bound(self):
        return self.config.activity_bound

    @property
    def eval_metric_names(self) -> list[str]:
        return self.history.eval_metric_names

    @property
    def phase(self) -> Phase:
        """The phase training is in."""
        return self.phases[min(self.phase_index, len(self.phases) - 1)]

    # --- the compiled step ---------------------------------------------------------------
    def _count_trace(self):
        self.num_traces += 1

    def _phase_fn(self, index: int):
        if index not in self._step_fns:
            phase = self.phases[index]
            step = make_train_step(
                forward=self.forward, task=phase.task, method=self._methods[index],
                objective=self.objective, optimizer=self._fopt, batch_size=self.batch_size,
                clip_norm=self.clip_norm, phase=phase, monitor=self.activity_bound is not None,
                on_trace=self._count_trace, trainable=self.trainable)
            options = self._methods[index].compiler_options()
            if self.K is None:
                self._step_fns[index] = jit_step(step, options)
            else:
                chunk = self.chunk

                def population_step(carry, i, keys, hyper, active):
                    if chunk is None:
                        new, out = jax.vmap(step, in_axes=(0, None, 0, 0))(carry, i, keys, hyper)
                    else:   # `chunk` networks at a time: a smaller working set (CPU caches)
                        new, out = jax.lax.map(lambda a: step(a[0], i, a[1], a[2]), (carry, keys, hyper),
                                               batch_size=chunk)
                    return where_active(active, new, carry), out   # stopped networks keep still

                self._step_fns[index] = jit_step(population_step, options)
        return self._step_fns[index]

    def _call_step(self, fn, i):
        i = jnp.asarray(i, jnp.int32)
        if self.K is None:
            return fn(self._carry, i, self._key)
        with warnings.catch_warnings():
            # braintrace's ops fall back to plain JAX ops when mapped over the weights (exact)
            warnings.filterwarnings("ignore", message="ETP primitive")
            return fn(self._carry, i, self._key, self._hyper, jnp.asarray(self.active))

    def _ensure_carry(self):
        if self._carry is None:
            if self.K is None:
                values = {k: s.value for k, s in self.params.items()}
                opt_state = self._fopt.read_state(values)
            else:
                values = member_params(self.model, self.population.seeds)
                opt_state = jax.vmap(self._fopt.init)(values)
            # strong dtypes: a weakly typed value (e.g. set from a Python float) would make the
            # step's output types differ from its input's and cost a second compilation
            self._carry = jax.tree.map(lambda v: jnp.asarray(v, dtype=jnp.result_type(v)), (values, opt_state))
            if self._sharding is not None:
                self._carry = jax.device_put(self._carry, self._sharding)
                self._key = jax.device_put(self._key, self._sharding)
                self._hyper = jax.device_put(self._hyper, self._sharding)
        return self._carry

    def step_fn(self, step):
        """Run training step ``step`` of the current phase on the trainer's parameters.

        For benchmarks and stepping by hand: the compiled step runs once (its batch and noise
        are those of step ``step``) and its outputs stay on the device (no host round trip).
        The new parameters and optimizer state are kept in the trainer; :meth:`sync` writes
        them into the model. It does not advance :attr:`step`, log, evaluate or call
        callbacks, which is what :meth:`run` adds.

        Parameters
        ----------
        step : int or int32 scalar
            The training step whose batch, noise and learning rate to use.

        Returns
        -------
        loss, lr : scalar arrays
        aux : dict of scalar arrays
            ``task_loss``, ``grad_norm``, ``max_activity`` and the penalties that are on.

        Examples
        --------
        >>> import brainstate, braintools, neurotrain as nt
        >>> brainstate.random.seed(0)
        >>> model = nt.models.build_model("vanilla", 1, 4, 1)
        >>> trainer = nt.training.Trainer(model, nt.tasks.Integrator(), braintools.optim.Adam(1e-2),
        ...                               num_steps=3, batch_size=2)
        >>> loss, lr, aux = trainer.step_fn(0)
        >>> round(float(lr), 4), sorted(aux), trainer.step
        (0.01, ['grad_norm', 'max_activity', 'task_loss'], 0)
        >>> trainer.sync()                       # the model now holds the weights after step 0
        """
        self._ensure_carry()
        self._carry, out = self._call_step(self._phase_fn(self.phase_index), step)
        return out

    def lower_step(self, step=0):
        """The lowered (not yet compiled) step of the current phase, e.g. for
        ``trainer.lower_step().compile().memory_analysis()`` (XLA's memory for one step)."""
        fn, i = self._phase_fn(self.phase_index), jnp.asarray(step, jnp.int32)
        if self.K is None:
            return fn.lower(self._ensure_carry(), i, self._key)
        return fn.lower(self._ensure_carry(), i, self._key, self._hyper, jnp.asarray(self.active))

    def sync(self) -> None:
        """Write the trainer's current parameters and optimizer state into the model's
        ``ParamState`` s and the optimizer object (done at every log, checkpoint and at the
        end of :meth:`run`; call it after stepping by hand with :meth:`step_fn`)."""
        self._sync()

    def _sync(self) -> None:
        """Write the carry into the model's ParamStates and the optimizer object (one network;
        a population's networks are read with :meth:`network`)."""
        if self._carry is None or self.K is not None:
            return
        values, opt_state = self._carry
        for k, s in self.params.items():
            s.value = values[k]
        self._fopt.write_back(opt_state, steps=self.step)

    # --- evaluation ----------------------------------------------------------------------
    def evaluate_now(self) -> dict[str, Any]:
        """Score the model on the fixed held-out batch (``eval_trials`` trials): floats, or
        ``(K,)`` arrays for a population (each network on its own held-out trials). With a
        phase scored on its own task (``Phase(until_on="phase")``), also on that task's
        held-out trials, as ``stage_<metric>`` (one network)."""
        params = self._ensure_carry()[0]
        if self.K is None:
            out = {k: float(v) for k, v in self._eval_fn(params, self._key).items()}
            return {**out, **self._stage_scores(params)} if self._stage_names() else out
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="ETP primitive")
            out = self._eval_fn(params, self._key, self._hyper)
        return {k: np.asarray(v, np.float64) for k, v in jax.device_get(out).items()}

    def _stage_fn(self, index: int):
        if index not in self._stage_fns:
            self._stage_fns[index] = jax.jit(make_eval_fn(forward=self.forward, task=self.phases[index].task,
                                                          num_trials=self.eval_trials))
        return self._stage_fns[index]

    def _stage_names(self) -> list[str]:
        """The ``stage_<metric>`` names (empty without a phase scored on its own task)."""
        if self._stage_keys is None:
            first = next((i for i, p in enumerate(self.phases) if p.until_on == "phase"), None)
            if first is None:
                self._stage_keys = []
            else:
                shapes = jax.eval_shape(self._stage_fn(first), self._ensure_carry()[0], self._key)
                self._stage_keys = [f"stage_{k}" for k in shapes]
        return self._stage_keys

    def _stage_scores(self, params) -> dict[str, float]:
        index = min(self.phase_index, len(self.phases) - 1)
        got = {}
        if self.phases[index].until_on == "phase":
            got = {f"stage_{k}": float(v) for k, v in self._stage_fn(index)(params, self._key).items()}
        return {k: got.get(k, float("nan")) for k in self._stage_names()}

    # --- populations ---------------------------------------------------------------------
    def network(self, k: int):
        """Network ``k`` of a population as an ordinary model (a new RNN holding its weights)."""
        import brainstate as bst

        from ..models import model_from_config

        if self.K is None:
            raise ConfigError("network(k) is for populations; this trainer trains one network (self.model).")
        k = check_int("k", k, minimum=0, maximum=self.K - 1)
        params = self._ensure_carry()[0]
        net = model_from_config(self.model.config())
        for key, s in net.states(bst.ParamState).items():
            s.value = jnp.asarray(params[key][k])
        return net

    def population_params(self) -> dict:
        """A population's parameters, ``{path: (K, ...) array}`` (row ``k`` is network ``k``'s;
        numpy copies, on the host)."""
        if self.K is None:
            raise ConfigError("population_params() is for populations; this trainer trains one network "
                              "(read self.model's parameters).")
        return {k: np.asarray(v) for k, v in jax.device_get(self._ensure_carry()[0]).items()}

    def set_state(self, params: Mapping, opt_state=None, *, opt_leaves: Sequence | None = None, step: int,
                  history: History | None = None, phase: tuple[int, int] = (0, 0)) -> None:
        """Put a one-network trainer at ``step`` with these parameters and optimiser state, as if
        it had trained there; :meth:`save_checkpoint` then writes what a run of its own would.

        Used to write network ``k`` of a population as an ordinary run
        (:func:`neurotrain.runs.split_network`): ``params`` is ``{path: array}`` (the model's
        paths and shapes), ``opt_state`` has the structure of this trainer's optimiser state,
        ``history`` is the run's :class:`~neurotrain.training._history.History` up to ``step``
        and ``phase`` the phase index and the step it began at.
        """
        if self.K is not None:
            raise ConfigError("set_state is for one network; a population resumes with restore().")
        template = self._ensure_carry()
        for k, current in template[0].items():
            if k not in params:
                raise CheckpointError(f"set_state: parameter {'.'.join(map(str, k))!r} is missing.")
            if tuple(np.shape(params[k])) != tuple(current.shape):
                raise CheckpointError(f"set_state: parameter {'.'.join(map(str, k))!r} has shape "
                                      f"{tuple(np.shape(params[k]))}, expected {tuple(current.shape)}.")
        if (opt_state is None) == (opt_leaves is None):
            raise ConfigError("set_state takes the optimiser state as opt_state= or as opt_leaves=, one of them.")
        if opt_leaves is not None:
            leaves, treedef = jax.tree.flatten(template[1])
            if len(opt_leaves) != len(leaves):
                raise CheckpointError(f"set_state: {len(opt_leaves)} optimiser arrays given, this optimiser has "
                                      f"{len(leaves)}; use the same optimiser class.")
            for i, (a, t) in enumerate(zip(opt_leaves, leaves)):
                if tuple(np.shape(a)) != tuple(np.shape(t)):
                    raise CheckpointError(f"set_state: optimiser array {i} has shape {tuple(np.shape(a))}, "
                                          f"expected {tuple(np.shape(t))}.")
            opt_state = jax.tree.unflatten(treedef, list(opt_leaves))
        if jax.tree.structure(opt_state) != jax.tree.structure(template[1]):
            raise CheckpointError("set_state: the optimiser state does not have this optimiser's structure; "
                                  "use the same optimiser class.")
        values = {k: jnp.asarray(params[k], dtype=v.dtype) for k, v in template[0].items()}
        opt = jax.tree.map(lambda v, t: jnp.asarray(v, dtype=jnp.result_type(t)), opt_state, template[1])
        self._carry = (values, opt)
        self.step = self.start_step = int(step)
        self.history = history if history is not None else History(self.step)
        self.phase_index, self.phase_start = int(phase[0]), int(phase[1])
        self._sync()

    def stop_networks(self, which, reason: str) -> None:
        """Stop updating the networks in ``which`` (indices or a ``(K,)`` bool mask) from now on;
        training ends once no network is left."""
        idx = np.flatnonzero(np.asarray(which, bool)) if np.asarray(which).dtype == bool else np.asarray(which)
        for k in idx.astype(int).tolist():
            if self.active[k]:
                self.active[k] = False
                self.stopped[k] = (self.step, reason)
        if not self.active.any():
            self.stop_training = True
            if self.stop_reason == "completed":
                self.stop_reason = "every network stopped"

    # --- checkpoints ---------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """The settings the remaining steps depend on (stored in checkpoints, compared on restore)."""
        out = {**self.config.to_dict(), "task": self.task.config(), "method": self.method.config(),
               "optimizer": type(self.optimizer).__name__}
        if len(self.phases) > 1 or self.phases[0].task != self.task:
            out["schedule"] = [p.describe() for p in self.phases]
        if self.penalties:
            out["penalties"] = [p.describe() for p in self.penalties]
        return out

    def state_dict(self) -> dict[str, Any]:
        """The trainer's own state for a checkpoint (weights and optimizer are saved apart).

        ``rng`` (brainstate's global key), ``history`` (losses, learning rates, auxiliary
        values and evaluations so far), ``phase`` (the phase and where it began, the phases
        finished), ``callbacks`` (each callback's :meth:`~Callback.state_dict`) and
        ``trainer`` (:meth:`settings`, as JSON).
        """
        callbacks = {}
        for name, cb in self._named_callbacks():
            state = cb.state_dict()
            if state:
                callbacks[name] = state
        return {
            "rng": {"key": np.asarray(jax.random.key_data(brainstate.random.DEFAULT.value))},
            "history": self.history.state_dict(),
            "phase": json.dumps({"index": self.phase_index, "start": self.phase_start,
                                 "finished": self.history.phases}),
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

        self._ensure_carry()
        if self.K is None:
            self._sync()
            return save_checkpoint(path, self.params, self.optimizer, step=self.step, extra=self.state_dict())
        # a population: every parameter with its leading network axis, the optimiser state's
        # leaves, which networks still train and why the others stopped
        params, opt_state = jax.device_get(self._carry)
        extra = self.state_dict()
        extra["population"] = {
            "spec": json.dumps(self.population.to_dict()),
            "opt": {str(i): np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(opt_state))},
            "active": self.active.astype(np.uint8),
            "stopped": json.dumps({str(k): list(v) for k, v in self.stopped.items()}),
        }
        held = {k: _Held(np.asarray(v)) for k, v in params.items()}
        return save_checkpoint(path, held, None, step=self.step, extra=extra)

    def restore(self, path: str | os.PathLike) -> int:
        """Continue from a checkpoint: load it and set the step; returns the step.

        Everything is checked before anything is changed: the parameters' names and shapes
        (the first mismatch is named with both shapes), the optimizer state's structure, the
        step (at most ``num_steps``). The history, the phase and the callbacks' state are
        restored when the checkpoint holds them (those written by :meth:`save_checkpoint` and
        the :class:`Checkpoint` callback do). A warning names any setting (seed, batch size,
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
        history = None if data.get("history") is None else History.from_state_dict(data["history"], step, path)
        phase = _parse_phase(data.get("phase"), path)
        if self.K is None:
            if data.get("population") is not None:
                raise CheckpointError(f"checkpoint {path} holds a population of networks; resume it with "
                                      f"population= (the same networks it was trained with).")
            load_checkpoint(path, self.params, self.optimizer, data=data)
        else:
            carry, active, stopped = self._read_population(data, path)

        key = (data.get("rng") or {}).get("key")
        if key is not None:
            _set_global_key(key, path)
        self.history = history if history is not None else History(step)
        if phase is not None:
            self.phase_index, self.phase_start = int(phase["index"]), int(phase["start"])
            self.history.phases = list(phase.get("finished", []))
        else:
            self.phase_index, self.phase_start = self._phase_at(step)
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
        # the functional state from the restored objects; the schedule's epoch at step 0
        if self.K is None:
            if self._fopt.source is not None:
                epoch = int(np.asarray(self.optimizer.lr.last_epoch.value))
                self._fopt = self._fopt.with_steps(self.num_steps, first_epoch=epoch - step)
                self._step_fns.clear()
            self._carry = None
            self._ensure_carry()
        else:
            self._carry = carry if self._sharding is None else jax.device_put(carry, self._sharding)
            self.active, self.stopped = active, stopped
        self.step = self.start_step = step
        self.resumed_from = step
        return step

    def _read_population(self, data, path: str):
        """The carry, active mask and stopped networks of a population checkpoint (checked)."""
        saved = data.get("population")
        if saved is None:
            raise CheckpointError(f"checkpoint {path} holds one network, not a population; resume it "
                                  f"without population=.")
        try:
            spec = Population.from_dict(json.loads(saved["spec"]))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"the population record in {path} is malformed ({e}).") from None
        if spec != self.population:
            raise CheckpointError(f"checkpoint {path} holds the population {spec.to_dict()}, not "
                                  f"{self.population.to_dict()}; resume with the same networks.")
        template = self._ensure_carry()
        params = {}
        for k, current in template[0].items():
            name = ".".join(map(str, k))
            if name not in data["params"]:
                raise CheckpointError(f"parameter {name!r} is missing from checkpoint {path}; the model's "
                                      f"architecture does not match the saved one.")
            arr = np.asarray(data["params"][name])
            if arr.shape != tuple(current.shape):
                raise CheckpointError(f"parameter {name!r} has shape {arr.shape} in checkpoint {path} but "
                                      f"{tuple(current.shape)} here (networks x shape).")
            params[k] = jnp.asarray(arr, dtype=current.dtype)
        leaves, treedef = jax.tree.flatten(template[1])
        got = saved.get("opt") or {}
        if len(got) != len(leaves):
            raise CheckpointError(f"the optimiser state in {path} has {len(got)} arrays but this optimiser "
                                  f"needs {len(leaves)}; use the same optimiser class.")
        new_leaves = []
        for i, leaf in enumerate(leaves):
            arr = np.asarray(got[str(i)])
            if arr.shape != tuple(np.shape(leaf)):
                raise CheckpointError(f"optimiser array {i} in {path} has shape {arr.shape}, expected "
                                      f"{tuple(np.shape(leaf))}; use the same optimiser class.")
            new_leaves.append(jnp.asarray(arr, dtype=jnp.result_type(leaf)))
        active = np.asarray(saved.get("active", np.ones(self.K)), bool).reshape(-1)
        stopped = {int(k): (int(v[0]), str(v[1])) for k, v in json.loads(saved.get("stopped", "{}")).items()}
        return (params, jax.tree.unflatten(treedef, new_leaves)), active, stopped

    def _phase_at(self, step: int) -> tuple[int, int]:
        """The phase (and its start) that ``step`` falls in when no checkpoint says it."""
        start = 0
        for i, p in enumerate(self.phases):
            stop = self.num_steps if p.steps is None else start + p.steps
            if step < stop or i == len(self.phases) - 1:
                return i, start
            start = stop
        return len(self.phases) - 1, start

    def _phase_stop(self) -> int | None:
        """The step at which the current phase ends by its length (``None``: an open last phase)."""
        p = self.phase
        return None if p.steps is None else self.phase_start + p.steps

    def _phase_target_met(self, metrics: Mapping[str, float]) -> str | None:
        p = self.phase
        if p.until is None:
            return None
        task = p.task if p.until_on == "phase" else self.task
        key = p.metric or task.primary_metric
        if p.until_on == "phase":
            metrics = {k[len("stage_"):]: v for k, v in metrics.items() if k.startswith("stage_")}
        if key not in metrics:
            raise ConfigError(f"phase {p.name!r}: metric {key!r} is not among the evaluation metrics "
                              f"{sorted(metrics)}.")
        if key == task.primary_metric:
            higher = task.higher_is_better
        else:
            higher = not any(w in key for w in ("mse", "error", "loss"))
        v = metrics[key] if self.K is None else trimmed_mean(metrics[key])   # Soo et al.'s criterion
        ok = (v >= p.until) if higher else (v <= p.until)
        where = f" on {task.name}" if p.until_on == "phase" else ""
        return f"{key}={v:.4g}{where} reached {p.until:g}" if ok and not np.isnan(v) else None

    def _end_phase(self, reason: str) -> None:
        p = self.phase
        self.history.phases.append({"index": self.phase_index, "name": p.name, "start": self.phase_start,
                                    "stop": self.step, "reason": reason})
        self.phase_index += 1
        self.phase_start = self.step
        if self.phase_index < len(self.phases) and self.phases[self.phase_index].reset_optimizer:
            params = self._carry[0]
            init = self._fopt.init if self.K is None else jax.vmap(self._fopt.init)
            self._carry = (params, init(params))

    def _describe_parameters(self) -> dict[str, str]:
        """How each parameter was trained: the method's word, or frozen by the model."""
        out = self.method.describe_parameters(list(self.params), self.untrained)
        for k, m in self.trainable.items():
            name = ".".join(map(str, k))
            if m is False:
                out[name] = "fixed: frozen by the model"
            elif m is not True:
                m = np.asarray(m, bool)
                out[name] = f"{out[name]}; {int(m.sum())} of {m.size} entries trained, the rest frozen"
        return out

    # --- the loop --------------------------------------------------------------------------
    def _on_signal(self, signum) -> bool:
        if self.interrupted_by is not None:
            return False
        self.interrupted_by = signum
        return True

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
        carry = self._ensure_carry()
        good = carry
        compile_time = 0.0
        compiled: set[int] = set()
        self.stop_training = False
        self.stop_reason = "completed"
        self.interrupted_by = None
        self.consistent = True
        bound = self.activity_bound
        sync = sorted({int(n) for n in (getattr(cb, "sync_every", 0) for cb in self.callbacks) if n})

        def flush():
            nonlocal good
            if not pending:
                return
            vals = jax.device_get([p[1] for p in pending])
            losses = np.asarray([np.asarray(v[0], np.float64) for v in vals])     # (n,) or (n, K)
            peaks = None
            if bound is not None and "max_activity" in vals[0][2]:
                peaks = np.asarray([np.asarray(v[2]["max_activity"], np.float64) for v in vals])
            bad = ~np.isfinite(losses) if peaks is None else ~np.isfinite(losses) | ~(peaks <= bound)
            if self.K is None and bad.any():
                j = int(np.flatnonzero(bad)[0])
                last_good = pending[0][0]
                self._carry = good
                self.step = last_good
                self._sync()
                self.stop_reason = "diverged"
                kind, value = ("loss", losses[j]) if not np.isfinite(losses[j]) else ("activity", peaks[j])
                raise TrainingDivergedError(
                    _divergence_message(kind, value, pending[j][0] + 1, last_good, float(vals[j][1]), bound),
                    step=pending[j][0] + 1,
                )
            lrs = [v[1] for v in vals]
            auxs = [v[2] for v in vals]
            if self.K is not None:
                # a network that diverged keeps its last good weights and stops; its values from
                # the first bad step on, and those of networks stopped before, are recorded as NaN
                was_active = self.active.copy()
                bad &= was_active[None, :]
                dead = bad.any(axis=0)
                if dead.any():
                    first = {int(k): int(np.flatnonzero(bad[:, k])[0]) for k in np.flatnonzero(dead)}
                    self._carry = where_active(jnp.asarray(~dead), self._carry, good)
                    for k, j in first.items():
                        kind = "loss" if not np.isfinite(losses[j, k]) else "activity"
                        self.active[k] = False
                        self.stopped[k] = (pending[j][0], f"diverged ({kind}) at step {pending[j][0] + 1}")
                        losses[j:, k] = np.nan
                    if not self.active.any():
                        self.stop_training = True
                        self.stop_reason = "diverged"
                losses[:, ~was_active] = np.nan
            self.history.add_steps(losses, lrs, auxs)
            logs = {"step": pending[-1][0] + 1}
            if self.K is None:
                logs["loss"], logs["lr"] = float(losses.mean()), float(vals[-1][1])
                for k in auxs[-1]:
                    xs = [float(a[k]) for a in auxs]
                    logs[k] = float(np.max(xs)) if k.startswith("max_") else float(np.mean(xs))
            else:   # the population's median, and its range
                per_net = _column_means(losses)
                logs.update(loss=_nanmedian(per_net), loss_min=_nanmin(per_net), loss_max=_nanmax(per_net),
                            lr=float(np.median(np.asarray(vals[-1][1]))), active=int(self.active.sum()))
                for k in auxs[-1]:
                    xs = np.asarray([np.asarray(a[k], np.float64) for a in auxs])
                    xs[:, ~self.active] = np.nan
                    logs[k] = _nanmax(xs) if k.startswith("max_") else _nanmedian(_column_means(xs))
            pending.clear()
            good = self._carry
            self._sync()
            for cb in self.callbacks:
                cb.on_log(self, logs)

        def evaluate(step):
            metrics = self.evaluate_now()
            self.history.add_eval(step, metrics)
            shown = metrics
            if self.K is not None:   # callbacks see the population's median (and its range)
                self.population_metrics = metrics
                shown = {}
                for k, v in metrics.items():
                    shown.update({k: _nanmedian(v), f"{k}_min": _nanmin(v), f"{k}_max": _nanmax(v)})
            for cb in self.callbacks:
                cb.on_eval(self, step, shown)
            return metrics

        with stop_on_signals(self.handle_signals, self._on_signal):
            self._sync()
            for cb in self.callbacks:
                cb.on_train_begin(self)
            try:
                if self.eval_every and self.step == 0 and not self.history.evaluated_at(0):
                    evaluate(0)  # the learning curve starts from the untrained network
                while (self.step < self.num_steps and self.phase_index < len(self.phases)
                       and not self.stop_training and self.interrupted_by is None):
                    stop = self._phase_stop()
                    if stop is not None and self.step >= stop:
                        self._end_phase("steps")
                        continue
                    i, pi = self.step, self.phase_index
                    fn = self._phase_fn(pi)
                    if pi not in compiled:
                        tc = time.perf_counter()
                        new, out = self._call_step(fn, i)
                        jax.block_until_ready(out[0])
                        compile_time += time.perf_counter() - tc
                        compiled.add(pi)
                    else:
                        new, out = self._call_step(fn, i)
                    self._carry = new
                    pending.append((i, out))
                    self.step = i + 1
                    stop = self._phase_stop()
                    phase_over = stop is not None and self.step >= stop
                    is_last = self.step == self.num_steps or (phase_over and pi == len(self.phases) - 1)
                    is_eval = bool(self.eval_every) and (self.step % self.eval_every == 0 or is_last)
                    if is_eval:
                        reached = self._phase_target_met(evaluate(self.step))
                        if reached and not phase_over:
                            flush()
                            self._end_phase(reached)
                            continue
                    if (is_eval or self.step % self.log_every == 0 or is_last or phase_over
                            or any(self.step % n == 0 for n in sync)):
                        flush()
                    if phase_over:
                        self._end_phase("steps")
                flush()
            except (KeyboardInterrupt, SystemExit) as e:
                # a second Ctrl-C: the step in flight is dropped; the carry is the last finished
                # step. SystemExit: the process is leaving (e.g. submitit's handler of a Slurm
                # timeout or preemption signal, which requeues the job). Either way the finished
                # steps are recorded, so that the checkpoint the callbacks write is whole.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        flush()
                    except TrainingDivergedError:
                        pass
                self.stop_reason = "interrupted"
                if isinstance(e, SystemExit):
                    raise
            except TrainingDivergedError:
                self.stop_reason = "diverged"
                raise
            else:
                if self.interrupted_by is not None:
                    self.stop_reason = "interrupted"
                elif self.stop_training and self.stop_reason == "completed":
                    self.stop_reason = "stopped by a callback"
            finally:
                self._sync()
                for cb in self.callbacks:
                    cb.on_train_end(self)
        h = self.history
        keys = h.eval_metric_names
        phases = list(h.phases)
        if self.phase_index < len(self.phases):
            reason = "end of training" if self.step == self.num_steps else self.stop_reason
            phases.append({"index": self.phase_index, "name": self.phase.name, "start": self.phase_start,
                           "stop": self.step, "reason": reason})
        return TrainResult(
            loss=np.asarray(h.loss), lr=np.asarray(h.lr),
            eval_steps=np.asarray(h.eval_steps, dtype=int),
            eval_metrics={k: np.asarray([r[k] for r in h.eval_rows]) for k in keys},
            num_steps=h.num_steps, wall_time_s=time.perf_counter() - t0,
            compile_time_s=compile_time, stop_reason=self.stop_reason, num_traces=self.num_traces,
            aux={k: np.asarray(v) for k, v in h.aux.items()},
            untrained={".".join(map(str, k)): v for k, v in self.untrained.items()},
            parameters=self._describe_parameters(),
            history_start=h.start, resumed_from=self.resumed_from, phases=phases,
            population=self.population, stopped=dict(self.stopped),
        )


def _check_learning_rate(optimizer) -> None:
    """Refuse a braintools optimiser whose learning rate is not a finite number >= 0."""
    sched = getattr(optimizer, "lr", None)
    for value in getattr(sched, "base_lrs", None) or ():
        try:
            lr = float(np.asarray(value))
        except (TypeError, ValueError):
            continue
        check_number("the optimizer's learning rate", lr, minimum=0.0,
                     fix="Build it with a finite rate, e.g. braintools.optim.Adam(lr=1e-3).")


def _check_time_steps(model, task, phases) -> None:
    """A cell that integrates in time (``dt``, ``tau``) must step with the task's ``dt``.

    Phases that set their own ``dt`` (``schedule=``) integrate the cells with it; only the
    phases that keep the task's time step need the cells' own ``dt`` to match.
    """
    if all(p.dt is not None for p in phases):
        return
    for i, cell in enumerate(getattr(model, "layers", ())):
        dt = getattr(cell, "dt", None)
        if dt is None or not hasattr(cell, "tau") or float(dt) == float(task.dt):
            continue
        raise ConfigError(
            f"layer {i} ({type(cell).__name__}) integrates with dt={float(dt):g} ms but task {task.name!r} "
            f"has dt={float(task.dt):g} ms: its tau={float(cell.tau):g} ms would act as "
            f"{float(cell.tau) * float(task.dt) / float(dt):g} ms. Build the model for the task: build_model(..., task=task) "
            f"(or pass dt=task.dt to the cell); to train at another dt, use schedule=[Phase(..., dt=...)].")


class _Held:
    """A value with a ``.value``, as ``save_checkpoint`` reads parameters."""

    def __init__(self, value):
        self.value = value


def _column_means(a) -> np.ndarray:
    """The mean of each column over its finite entries (NaN for a column with none)."""
    a = np.asarray(a, np.float64)
    finite = np.isfinite(a)
    n = finite.sum(axis=0)
    return np.where(n > 0, np.where(finite, a, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


def _nanmedian(v) -> float:
    v = np.asarray(v, np.float64)
    return float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")


def _nanmin(v) -> float:
    v = np.asarray(v, np.float64)
    return float(np.nanmin(v)) if np.isfinite(v).any() else float("nan")


def _nanmax(v) -> float:
    v = np.asarray(v, np.float64)
    return float(np.nanmax(v)) if np.isfinite(v).any() else float("nan")


def _parse_phase(text, path: str):
    if text is None:
        return None
    try:
        phase = json.loads(text) if isinstance(text, str) else dict(text)
        int(phase["index"]), int(phase["start"])
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"the phase record in checkpoint {path} is malformed ({e}); the file was "
                              f"not written by neurotrain.") from None
    return phase


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
          schedule: Sequence[Phase] | None = None, config: TrainConfig | None = None,
          callbacks: Sequence[Callback] = (), population: Population | int | None = None,
          devices=None, chunk: int | str | None = "auto", resume_from: str | os.PathLike | None = None,
          penalties=(), **settings) -> TrainResult:
    """Train ``model`` on ``task``.

    Each step draws a fresh batch inside the compiled step (from ``seed`` and the step index),
    runs the model, computes the loss, the gradient with ``method``, clips it, updates the
    weights with ``optimizer`` and advances the optimizer's learning-rate schedule.

    Parameters
    ----------
    model : neurotrain.models.RNN
        The network; its ``num_in``/``num_out`` must match the task's.
    task : neurotrain.tasks.Task
    optimizer : braintools.optim optimizer or optax.GradientTransformation, optional
        Default ``braintools.optim.Adam(lr=1e-3)``. A scheduler passed as its ``lr`` is stepped
        once per training step.
    method : GradientMethod or str, optional
        How gradients are computed: :class:`BPTT` (default), an online method or a
        long-dependency method, or a registered name (``"bptt"``, ``"d-rtrl"``, ``"cd"``...;
        see :data:`~neurotrain.training.METHODS`) for that method with its defaults.
    schedule : list of Phase, optional
        Train in phases, each compiled once (another task or ``dt``, a learning-rate scale,
        method options, an early end on a held-out target); see :class:`Phase`.
    config : TrainConfig, optional
        The training settings; keyword ``settings`` override it.
    callbacks : sequence of Callback
        E.g. :class:`ProgressBar`, :class:`CSVLogger`, :class:`EarlyStopping`, :class:`Checkpoint`.
    population : Population or int, optional
        Train K networks of ``model``'s architecture together in one compiled step (mapped
        over their parameters, optimiser states, keys and per-network hyper-parameters; see
        :class:`Population`). Network ``k`` is what a separate run with seed ``seeds[k]``
        would train (same initial weights, batches and noise; the same values within float
        rounding). The result's per-step arrays then have one column per network;
        :meth:`Trainer.network` gives network ``k`` as a model. ``model`` only gives the
        architecture (its own weights are not used).
    devices, chunk
        Where and how a population is computed (see :class:`Trainer`).
    resume_from : str or PathLike, optional
        A checkpoint file or a run directory: continue from it (see :meth:`Trainer.restore`).
        Build ``model`` and ``optimizer`` as for the original run; with the same ``seed`` the
        result is bit-identical on the CPU to a run done in one go.
    penalties : sequence of Penalty, optional
        Regularisers added to the loss (:class:`WeightPenalty`, :class:`RatePenalty`,
        :class:`CustomPenalty`), each reported per step under its name in ``result.aux``.
    **settings
        Any field of :class:`TrainConfig`: ``num_steps``, ``batch_size``, ``seed``, ``l2``,
        ``rate_l2``, ``clip_norm``, ``eval_every``, ``eval_trials``, ``log_every``,
        ``activity_bound``.

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
    trainer = Trainer(model, task, optimizer, method=method, schedule=schedule, config=config,
                      callbacks=callbacks, population=population, devices=devices, chunk=chunk,
                      penalties=penalties, **settings)
    if resume_from is not None:
        trainer.restore(resume_from)
    return trainer.run()
