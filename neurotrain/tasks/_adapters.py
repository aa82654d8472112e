"""Adapters: ``braintools.cogtask`` tasks and neurogym environments as neurotrain tasks.

Both give trial-aligned, padded :class:`TrialBatch` es (one trial per batch row, starting at
step 0), never neurogym-style streaming windows that cut trials.

* :func:`from_cogtask` samples in JAX: the cogtask trial generator is traced and ``vmap`` ed
  over per-trial keys, so sampling runs inside the jitted train step like any neurotrain task.
* :func:`from_neurogym` cannot: neurogym draws trials with NumPy on the host. It draws a
  fixed **pool** of trials once, when the task is built, and ``sample`` picks rows of that
  pool with the JAX key inside ``jit`` (with replacement). Trials therefore repeat: with a pool
  of ``P`` trials, ``N`` training steps of batch ``B`` show each trial about ``N * B / P``
  times. Raise ``pool_size`` (memory: ``P * T * num_in * 4`` bytes) or build a second adapter
  with another ``seed`` for held-out trials.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._validate import check_int, check_positive, check_seed, is_number
from ._base import Task, TrialBatch
from ._decision import decision_choice
from ._periods import window
from ._registry import register_task

__all__ = ["from_cogtask", "from_neurogym", "CogTaskAdapter", "NeurogymAdapter"]

_NEUROGYM_HINT = ("the neurogym adapter needs the optional neurogym package (which also imports torch): "
                  "pip install 'neurotrain[neurogym]'")


def _check_mask_mode(mask, response_weight):
    if mask not in ("response", "trial"):
        raise ConfigError(f"mask={mask!r} must be 'response' (loss on the response period only) or "
                          f"'trial' (every step of the trial, as neurogym's supervised datasets).")
    check_positive("response_weight", response_weight, fix="It is the loss weight of the response period.")


def _loss_mask(resp, valid, mask_mode, response_weight):
    """``(T, B)`` loss weights: ``response_weight`` on the response period, 1 or 0 elsewhere."""
    other = 1.0 if mask_mode == "trial" else 0.0
    return jnp.where(resp, float(response_weight), other) * valid


def _class_metrics(outputs, batch, num_out):
    on, off = batch.info["response_on"], batch.info["response_off"]
    choice = decision_choice(outputs, on, off)
    label = jnp.take_along_axis(batch.targets, jnp.clip(on, 0, batch.num_steps - 1)[None], axis=0)[0]
    out = {"accuracy": (choice == label).astype(jnp.float32),
           "no_choice": (choice == 0).astype(jnp.float32)}
    if num_out <= 5:
        out.update({f"chose_{k}": (choice == k).astype(jnp.float32) for k in range(1, num_out)})
    return out


def _value_metrics(outputs, batch):
    m = batch.mask if batch.mask.ndim == outputs.ndim else batch.mask[..., None]
    m = jnp.broadcast_to(m > 0, outputs.shape)
    err = (outputs - batch.targets) ** 2
    resp = window(batch.num_steps, batch.info["response_on"], batch.info["response_off"])[..., None] & m
    return {"mse": (err * m).sum((0, 2)) / jnp.maximum(m.sum((0, 2)), 1),
            "response_mse": (err * resp).sum((0, 2)) / jnp.maximum(resp.sum((0, 2)), 1)}


# --- braintools.cogtask ------------------------------------------------------------------------
def _ms(value) -> float:
    """A duration (brainunit Quantity or number of ms) in ms."""
    if hasattr(value, "to_decimal"):
        import brainunit as u

        return float(value.to_decimal(u.ms))
    return float(value)


@register_task("cogtask", aliases=("braintools-cogtask",),
               paper="braintools.cogtask (any of its tasks, adapted by neurotrain.tasks.from_cogtask)",
               example={"source": "PerceptualDecisionMaking", "source_kwargs": {"t_stimulus": 1000.0}, "dt": 20.0})
@dataclasses.dataclass(frozen=True, eq=False)
class CogTaskAdapter(Task):
    """A ``braintools.cogtask`` task as a neurotrain task; build it with :func:`from_cogtask`.

    See :func:`from_cogtask` for the parameters and the batch layout.
    """

    dt: float | None = None
    source: Any = None
    source_kwargs: dict | None = None
    response_phases: tuple[str, ...] | None = None
    mask: str = "response"
    response_weight: float = 1.0
    conditions_from: tuple[str, ...] | None = None

    __hash__ = object.__hash__
    __eq__ = object.__eq__

    def __post_init__(self):
        try:
            from braintools import cogtask
        except ImportError as e:  # pragma: no cover - braintools is a core dependency
            raise ImportError("from_cogtask needs braintools >= 0.3 (braintools.cogtask).") from e
        src = self.source
        if isinstance(src, str):
            cls = getattr(cogtask, src, None)
            if not (isinstance(cls, type) and issubclass(cls, cogtask.Task)):
                names = [n for n in dir(cogtask) if isinstance(getattr(cogtask, n), type)
                         and issubclass(getattr(cogtask, n), cogtask.Task) and n != "Task"]
                close = difflib.get_close_matches(src, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"source={src!r} is not a braintools.cogtask task.{hint} "
                                  f"Known: {', '.join(sorted(names))}.")
            import brainunit as u

            kw = dict(self.source_kwargs or {})
            kw = {k: (v * u.ms if k.startswith("t_") and is_number(v) else v) for k, v in kw.items()}
            if self.dt is not None:
                kw.setdefault("dt", float(self.dt) * u.ms)
            try:
                src = cls(**kw)
            except TypeError as e:
                raise ConfigError(f"could not build braintools.cogtask.{src} with {kw}: {e}") from None
        elif not isinstance(src, cogtask.Task):
            raise ConfigError(f"source must be a braintools.cogtask Task or the name of one; got {src!r}.")
        elif self.source_kwargs:
            raise ConfigError("source_kwargs only apply when source is a task name; got a task instance.")
        pinned = getattr(src, "_dt", None)
        if self.dt is None:
            try:
                dt = _ms(src.dt)
            except KeyError:
                raise ConfigError("the cogtask task has no dt and brainstate's environment sets none; pass dt= "
                                  "(ms), e.g. from_cogtask(task, dt=20.0).") from None
        else:
            dt = float(self.dt)
            if pinned is not None and not math.isclose(_ms(pinned), dt):
                raise ConfigError(f"dt={dt} ms differs from the cogtask task's own dt={_ms(pinned)} ms; "
                                  f"leave dt=None or build the cogtask task with dt={dt} * u.ms.")
        object.__setattr__(self, "dt", dt)
        object.__setattr__(self, "_src", src)
        object.__setattr__(self, "_pin_dt", pinned is None)
        _check_mask_mode(self.mask, self.response_weight)

        # leaf phases (names in trial order) and the response phases
        leaves = []

        def walk(p):
            kids = p.children()
            if not kids and not getattr(p, "IS_COMPOUND", False):
                leaves.append(p)
            for c in kids:
                walk(c)

        walk(src.phases)
        names = [p.name for p in leaves]
        if self.response_phases is None:
            resp = tuple(dict.fromkeys(p.name for p in leaves if isinstance(p, cogtask.Response)))
            if not resp:
                raise ConfigError(f"cogtask task {type(src).__name__} has no Response phase; pass "
                                  f"response_phases=(...) naming its response period among {names}.")
        else:
            resp = tuple(self.response_phases)
            bad = [r for r in resp if r not in names]
            if bad or not resp:
                raise ConfigError(f"response_phases={resp!r}: {bad or 'none'} not among the task's phases {names}.")
        object.__setattr__(self, "response_phases", resp)
        object.__setattr__(self, "_leaf_names", tuple(dict.fromkeys(names)))

        categorical = src.output_mode == "categorical"
        object.__setattr__(self, "target_type", "class" if categorical else "value")
        object.__setattr__(self, "primary_metric", "accuracy" if categorical else "mse")
        object.__setattr__(self, "higher_is_better", categorical)
        object.__setattr__(self, "_num_out", int(src.num_classes if categorical else src.num_outputs))

        # one dry trace: trial length, phase history and the scalar trial state
        shapes = jax.eval_shape(lambda k: self._one_trial(k, None), jax.random.PRNGKey(0))
        object.__setattr__(self, "_T", int(shapes[0].shape[0]))
        scal = tuple(k for k, v in shapes[3].items()
                     if v.shape == () and k != "trial_index" and (np.issubdtype(v.dtype, np.number) or v.dtype == bool))
        object.__setattr__(self, "_state_keys", scal)
        if self.conditions_from is None:
            cond = tuple(k for k in scal if np.issubdtype(shapes[3][k].dtype, np.integer)
                         or shapes[3][k].dtype == bool or "coh" in k)
        else:
            cond = tuple(self.conditions_from)
            bad = [k for k in cond if k not in scal]
            if bad:
                raise ConfigError(f"conditions_from={cond!r}: {bad} not among the scalar trial variables {list(scal)}.")
        object.__setattr__(self, "condition_keys", cond)
        super().__post_init__()

    # --- sampling ------------------------------------------------------------------------
    def _one_trial(self, key, keys):
        import brainstate
        import brainunit as u

        src = self._src
        if self._pin_dt:
            with brainstate.environ.context(dt=self.dt * u.ms):
                X, Y, info = src.sample_trial(0, key=key)
        else:
            X, Y, info = src.sample_trial(0, key=key)
        T = X.shape[0]
        valid = info.get("mask")
        valid = jnp.ones((T,), bool) if valid is None else valid
        hist = [(n, jnp.asarray(s, jnp.int32), jnp.asarray(e, jnp.int32)) for n, s, e in info["phase_history"]]
        hist = [h for h in hist if h[0] in self._leaf_names] if hasattr(self, "_leaf_names") else hist
        state = info["trial_state"]
        if keys is None:
            state = {k: v for k, v in state.items() if not isinstance(v, (str, bytes))}
            state = {k: jnp.asarray(v) for k, v in state.items() if np.ndim(v) == 0 or hasattr(v, "shape")}
            return X, Y, valid, state
        return X, Y, valid, [(s, e) for _, s, e in hist], [n for n, _, _ in hist], {k: jnp.asarray(state[k]) for k in keys}

    def _sample(self, key, batch_size):
        keys = jax.random.split(key, batch_size)
        names: list[str] = []

        def one(k):
            X, Y, valid, bounds, nm, state = self._one_trial(k, self._state_keys)
            names[:] = nm
            return X, Y, valid, bounds, state

        X, Y, valid, bounds, state = jax.vmap(one)(keys)
        T = self._T
        inputs = jnp.swapaxes(X, 0, 1).astype(jnp.float32)
        targets = jnp.swapaxes(Y, 0, 1)
        targets = targets.astype(jnp.int32) if self.target_type == "class" else targets.astype(jnp.float32)
        valid = jnp.swapaxes(valid, 0, 1)
        info: dict[str, jax.Array] = {}
        resp = jnp.zeros((T, batch_size), bool)
        r_on = jnp.full((batch_size,), T, jnp.int32)
        r_off = jnp.zeros((batch_size,), jnp.int32)
        for n, (s, e) in zip(names, bounds):
            if f"{n}_on" not in info:
                info[f"{n}_on"] = s
            info[f"{n}_off"] = e
            if n in self.response_phases:
                resp = resp | window(T, s, e)
                r_on, r_off = jnp.minimum(r_on, s), jnp.maximum(r_off, e)
        info["response_on"], info["response_off"] = r_on, r_off
        info["trial_off"] = valid.sum(0).astype(jnp.int32)
        for k, v in state.items():
            info[k] = v.astype(jnp.int32) if v.dtype == bool else v
        mask = _loss_mask(resp, valid, self.mask, self.response_weight)
        inputs = inputs * valid[..., None]
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    # --- the contract ----------------------------------------------------------------------
    @property
    def num_in(self) -> int:
        return int(self._src.num_inputs)

    @property
    def num_out(self) -> int:
        return self._num_out

    def num_steps(self) -> int:
        return self._T

    def trial_metrics(self, outputs, batch):
        if self.target_type == "class":
            return _class_metrics(outputs, batch, self.num_out)
        return _value_metrics(outputs, batch)

    def config(self) -> dict[str, Any]:
        src = self.source if isinstance(self.source, str) else f"<{type(self._src).__name__} instance>"
        return {"name": self.name, "params": {
            "dt": self.dt, "source": src, "source_kwargs": self.source_kwargs,
            "response_phases": list(self.response_phases), "mask": self.mask,
            "response_weight": self.response_weight,
            "conditions_from": None if self.conditions_from is None else list(self.conditions_from)}}

    def describe(self) -> str:
        return f"braintools.cogtask {type(self._src).__name__}, trial-aligned (response: {', '.join(self.response_phases)})"


def from_cogtask(task, *, dt: float | None = None, response_phases=None, mask: str = "response",
                 response_weight: float = 1.0, condition_keys=None, **source_kwargs) -> CogTaskAdapter:
    """Wrap a ``braintools.cogtask`` task as a neurotrain :class:`Task` (sampled in JAX).

    cogtask builds a trial from phases (``Fixation >> Stimulus >> ... >> Response``); its
    ``Response`` phases are the response period. Each neurotrain batch row is one cogtask
    trial drawn with its own key (``jax.random.split(key, B)``), starting at step 0; tasks
    with variable-length phases are padded to cogtask's ``max_trial_duration`` with zero inputs,
    zero targets and mask 0. Sampling is traced and ``vmap`` ed, so it runs inside ``jit``.

    Parameters
    ----------
    task : braintools.cogtask.Task or str
        A cogtask task, or the name of a class in ``braintools.cogtask`` (then built with
        ``dt`` and ``**source_kwargs``; plain numbers for ``t_*`` durations are taken in ms).
    dt : float, optional
        Step in ms. Default: the cogtask task's own ``dt`` (or the ambient brainstate dt).
    response_phases : tuple of str, optional
        Names of the phases that form the response period. Default: every ``Response`` phase.
    mask : {"response", "trial"}
        Loss on the response period only (default) or on every step of the trial.
    response_weight : float
        Loss weight of the response period (1.0).
    condition_keys : tuple of str, optional
        Scalar trial variables (cogtask's ``trial_state``) used as conditions. Default: the
        integer ones (e.g. ``ground_truth``) and those with ``coh`` in their name.

    Returns
    -------
    CogTaskAdapter
        ``inputs (T, B, num_inputs)``; categorical tasks give integer labels ``(T, B)``
        (``target_type="class"``, ``num_out = num_classes``) scored by ``accuracy`` (argmax of
        the outputs averaged over the response period equals the label at its first step),
        vector tasks give ``(T, B, num_outputs)`` floats scored by ``mse``. ``info`` holds
        ``<phase>_on``/``<phase>_off`` for every phase, ``response_on``/``response_off``,
        ``trial_off`` and the scalar trial variables.

    Examples
    --------
    >>> import jax, brainunit as u
    >>> from braintools import cogtask
    >>> task = from_cogtask(cogtask.PerceptualDecisionMaking(t_stimulus=1000 * u.ms, dt=20 * u.ms))
    >>> b = task.sample(jax.random.PRNGKey(0), 8)
    >>> b.inputs.shape, b.targets.shape, task.num_out, task.condition_keys
    ((60, 8, 9), (60, 8), 3, ('coherence', 'ground_truth'))
    >>> int(b.mask.sum())   # 5 response steps x 8 trials
    40
    """
    return CogTaskAdapter(dt=dt, source=task, source_kwargs=source_kwargs or None,
                          response_phases=None if response_phases is None else tuple(response_phases),
                          mask=mask, response_weight=response_weight,
                          conditions_from=None if condition_keys is None else tuple(condition_keys))


# --- neurogym ----------------------------------------------------------------------------------
def _import_neurogym():
    try:
        import neurogym
    except ImportError as e:
        raise ImportError(_NEUROGYM_HINT) from e
    return neurogym


@register_task("neurogym", aliases=("ngym",),
               paper="neurogym (any of its environments, adapted by neurotrain.tasks.from_neurogym)",
               example={"env": "PerceptualDecisionMaking-v0", "dt": 20.0, "pool_size": 64,
                        "env_kwargs": {"timing": {"stimulus": 1000}}})
@dataclasses.dataclass(frozen=True, eq=False)
class NeurogymAdapter(Task):
    """A neurogym environment as a neurotrain task, from a host-side pool; see :func:`from_neurogym`."""

    dt: float | None = None
    env: Any = None
    env_kwargs: dict | None = None
    pool_size: int = 2048
    seed: int = 0
    max_steps: int | None = None
    response_period: str = "decision"
    mask: str = "trial"
    response_weight: float = 1.0
    conditions_from: tuple[str, ...] | None = None

    target_type = "class"
    primary_metric = "accuracy"
    higher_is_better = True

    __hash__ = object.__hash__
    __eq__ = object.__eq__

    def __post_init__(self):
        ngym = _import_neurogym()
        _check_mask_mode(self.mask, self.response_weight)
        self.check_field("pool_size", check_int, minimum=1)
        self.check_field("seed", check_seed)
        env = self.env
        kwargs = dict(self.env_kwargs or {})
        if isinstance(env, str):
            if self.dt is not None:
                kwargs.setdefault("dt", self.dt)
            try:
                with warnings.catch_warnings():  # gymnasium's env checker: neurogym lacks render_modes
                    warnings.filterwarnings("ignore", message=".*render_modes.*")
                    env = ngym.make(env, **kwargs)
            except Exception as e:
                raise ConfigError(f"neurogym could not make env={self.env!r} with env_kwargs={kwargs}: {e}") from e
        elif env is None:
            raise ConfigError("env is required: a neurogym env id such as 'PerceptualDecisionMaking-v0' or an env.")
        elif self.env_kwargs:
            raise ConfigError("env_kwargs only apply when env is an env id; got an env instance.")
        base = getattr(env, "unwrapped", env)
        if not hasattr(base, "new_trial") or not hasattr(base, "start_ind"):
            raise ConfigError(f"env={self.env!r} is not a neurogym trial environment (no new_trial()).")
        from neurogym.core import TrialEnv, TrialWrapper

        top = env if isinstance(env, (TrialEnv, TrialWrapper)) else base
        dt = float(base.dt)
        if self.dt is not None and not math.isclose(float(self.dt), dt):
            raise ConfigError(f"dt={self.dt} ms differs from the env's dt={dt} ms; leave dt=None or make the env with dt={self.dt}.")
        n_act = getattr(base.action_space, "n", None)
        if n_act is None:
            raise ConfigError(f"only neurogym envs with a Discrete action space (class labels) are supported; "
                              f"{type(base).__name__} has {base.action_space}.")
        object.__setattr__(self, "dt", dt)
        object.__setattr__(self, "_env", env)
        object.__setattr__(self, "_num_in", int(np.prod(base.observation_space.shape)))
        object.__setattr__(self, "_num_out", int(n_act))
        self._build_pool(top, base)
        super().__post_init__()

    def _build_pool(self, top, base):
        base.seed(int(self.seed))
        obs, gts, trials, bounds = [], [], [], []
        for _ in range(int(self.pool_size)):
            trial = top.new_trial() or {}
            obs.append(np.asarray(base.ob, np.float32).reshape(len(base.ob), -1))
            gts.append(np.asarray(base.gt).reshape(len(base.gt)))
            trials.append(trial)
            bounds.append({p: (int(base.start_ind[p]), int(base.end_ind[p])) for p in base.start_ind})
        lengths = np.array([len(o) for o in obs])
        T = int(lengths.max()) if self.max_steps is None else int(self.max_steps)
        if lengths.max() > T:
            raise ConfigError(f"max_steps={self.max_steps} but the env made a trial of {lengths.max()} steps; "
                              f"raise max_steps or leave it None (the longest trial of the pool).")
        P = len(obs)
        X = np.zeros((P, T, self._num_in), np.float32)
        Y = np.zeros((P, T), np.int32)
        for i, (o, g) in enumerate(zip(obs, gts)):
            X[i, :len(o)], Y[i, :len(g)] = o, g
        periods = list(dict.fromkeys(p for b in bounds for p in b))
        if self.response_period not in periods:
            raise ConfigError(f"response_period={self.response_period!r} is not a period of the env; "
                              f"its periods are {periods}.")
        pool = {"inputs": X, "targets": Y, "trial_off": lengths.astype(np.int32)}
        for p in periods:
            pool[f"{p}_on"] = np.array([b.get(p, (0, 0))[0] for b in bounds], np.int32)
            pool[f"{p}_off"] = np.array([b.get(p, (0, 0))[1] for b in bounds], np.int32)
        scal = [k for k in trials[0] if all(k in t and np.ndim(t[k]) == 0
                                            and isinstance(np.asarray(t[k]).item(), (int, float, bool, np.number))
                                            for t in trials)]
        for k in scal:
            v = np.array([np.asarray(t[k]).item() for t in trials])
            pool[k] = v.astype(np.int32) if v.dtype.kind in "biu" else v.astype(np.float32)
        if self.conditions_from is None:
            cond = tuple(k for k in scal if len(np.unique(pool[k])) <= 20)
        else:
            cond = tuple(self.conditions_from)
            bad = [k for k in cond if k not in scal]
            if bad:
                raise ConfigError(f"conditions_from={cond!r}: {bad} not among the trial variables {scal}.")
        object.__setattr__(self, "condition_keys", cond)
        object.__setattr__(self, "_T", T)
        object.__setattr__(self, "_periods", tuple(periods))
        object.__setattr__(self, "_trial_keys", tuple(scal))
        # device arrays: closed over by jit as constants, without a host round trip per batch
        object.__setattr__(self, "_pool", {k: jnp.asarray(v) for k, v in pool.items()})

    @property
    def num_in(self) -> int:
        return self._num_in

    @property
    def num_out(self) -> int:
        return self._num_out

    def num_steps(self) -> int:
        return self._T

    @property
    def pool(self) -> dict[str, np.ndarray]:
        """The pool of trials, batch-major: ``inputs (P, T, num_in)``, ``targets (P, T)``, ``info`` keys ``(P,)``."""
        return {k: np.asarray(v) for k, v in self._pool.items()}

    def _sample(self, key, batch_size):
        pool, T = self._pool, self._T
        idx = jax.random.randint(key, (batch_size,), 0, self.pool_size)
        inputs = jnp.swapaxes(pool["inputs"][idx], 0, 1)
        targets = jnp.swapaxes(pool["targets"][idx], 0, 1)
        info = {k: v[idx] for k, v in pool.items() if k not in ("inputs", "targets")}
        info["response_on"] = info[f"{self.response_period}_on"]
        info["response_off"] = info[f"{self.response_period}_off"]
        info["pool_index"] = idx.astype(jnp.int32)
        zero = jnp.zeros_like(info["trial_off"])
        valid = window(T, zero, info["trial_off"])
        resp = window(T, info["response_on"], info["response_off"])
        mask = _loss_mask(resp, valid, self.mask, self.response_weight)
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    def trial_metrics(self, outputs, batch):
        return _class_metrics(outputs, batch, self.num_out)

    def config(self) -> dict[str, Any]:
        env = self.env if isinstance(self.env, str) else f"<{type(getattr(self._env, 'unwrapped', self._env)).__name__} instance>"
        return {"name": self.name, "params": {
            "dt": self.dt, "env": env, "env_kwargs": self.env_kwargs, "pool_size": self.pool_size,
            "seed": self.seed, "max_steps": self.max_steps, "response_period": self.response_period,
            "mask": self.mask, "response_weight": self.response_weight,
            "conditions_from": None if self.conditions_from is None else list(self.conditions_from)}}

    def describe(self) -> str:
        base = getattr(self._env, "unwrapped", self._env)
        return f"neurogym {type(base).__name__}, pool of {self.pool_size} trials, trial-aligned"


def from_neurogym(env, *, pool_size: int = 2048, seed: int = 0, dt: float | None = None,
                  max_steps: int | None = None, response_period: str = "decision", mask: str = "trial",
                  response_weight: float = 1.0, condition_keys=None, **env_kwargs) -> NeurogymAdapter:
    """Wrap a neurogym environment as a neurotrain :class:`Task`, trial-aligned and padded.

    neurogym draws trials with NumPy on the host, which cannot run inside ``jit``. So the
    adapter draws a **pool** of ``pool_size`` trials once, here (``env.new_trial()`` with the
    env seeded by ``seed``; observations ``env.ob`` and labels ``env.gt``, as neurogym's
    supervised ``Dataset`` reads them), pads each to the longest trial with zero inputs,
    label 0 and mask 0, and keeps the pool on the device. ``sample(key, B)`` draws ``B`` rows
    of the pool uniformly with replacement, inside ``jit``. Trials repeat (see the module
    notes); the pool costs ``pool_size * T * num_in * 4`` bytes.

    Parameters
    ----------
    env : str or neurogym env
        An env id (``"PerceptualDecisionMaking-v0"``), made with ``neurogym.make(env,
        **env_kwargs)``, or an env (wrappers that act in ``new_trial`` are honoured).
    pool_size : int
        Number of distinct trials (2048).
    seed : int
        Seeds the env for the pool.
    dt : float, optional
        Step in ms; with an env id it is passed to the env, otherwise it must equal ``env.dt``.
    max_steps : int, optional
        Pad to this many steps (default: the longest trial of the pool).
    response_period : str
        The env period scored as the response (``"decision"``).
    mask : {"trial", "response"}
        Loss on every step of the trial (default, as neurogym's supervised datasets and the
        neurogym course notebooks) or on the response period only.
    response_weight : float
        Loss weight of the response period (1.0).
    condition_keys : tuple of str, optional
        Scalar trial variables used as conditions; default: those with at most 20 distinct
        values in the pool (e.g. ``ground_truth``, ``coh``).
    **env_kwargs
        Passed to ``neurogym.make`` (e.g. ``timing={"stimulus": 1000}``).

    Returns
    -------
    NeurogymAdapter
        Class targets (``num_out = env.action_space.n``), scored by ``accuracy`` (argmax of the
        outputs averaged over the response period equals the label there), ``no_choice`` and
        ``chose_<k>``. ``info`` holds ``<period>_on``/``_off`` for the env's periods,
        ``response_on``/``_off``, ``trial_off``, ``pool_index`` and the scalar trial variables.

    Raises
    ------
    ImportError
        neurogym is not installed: ``pip install 'neurotrain[neurogym]'``.

    Examples
    --------
    >>> import jax
    >>> task = from_neurogym("PerceptualDecisionMaking-v0", dt=20, timing={"stimulus": 1000},
    ...                      pool_size=256)  # doctest: +SKIP
    >>> task.sample(jax.random.PRNGKey(0), 16).inputs.shape  # doctest: +SKIP
    (60, 16, 3)
    """
    return NeurogymAdapter(dt=dt, env=env, env_kwargs=env_kwargs or None, pool_size=pool_size, seed=seed,
                           max_steps=max_steps, response_period=response_period, mask=mask,
                           response_weight=response_weight,
                           conditions_from=None if condition_keys is None else tuple(condition_keys))
