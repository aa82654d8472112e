"""Recording a network's activity: inputs, outputs, hidden units (every layer), full states.

:func:`record_activity` runs any model on a task's trials (or on given inputs) and keeps
everything an analysis needs: the hidden activity of every layer, the full state (LSTM
``c`` included) on request, the outputs, the inputs, the targets and the trial info. The
noise is off by default so that the recorded trajectories are the deterministic dynamics
that fixed points describe. :func:`period_inputs` gives the constant inputs of a task's
periods, the inputs under which to look for fixed points.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import weakref

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, ShapeError
from .._validate import check_positive
from ..models import noise_disabled

__all__ = ["Activity", "record_activity", "period_inputs"]


@dataclasses.dataclass(frozen=True)
class Activity:
    """Recorded trials of a network (from :func:`record_activity`); arrays are time-major.

    Attributes
    ----------
    inputs : ndarray ``(T, B, num_in)``
    outputs : ndarray ``(T, B, num_out)``
    hidden : ndarray ``(T, B, num_rec)``
        The units' activity ``h`` of every layer, concatenated (as ``Evaluation.activity``).
    state : ndarray ``(T, B, state_size)`` or None
        The full state after each step (all layers, ``[h, c]`` for LSTM layers), if
        recorded with ``full_state=True``.
    targets, mask : ndarray or None
        The task's targets and loss mask (None for raw inputs).
    info : dict of str to ndarray ``(B,)``
        Per-trial conditions and period boundaries (empty for raw inputs).
    layers : tuple of (str, int, int)
        ``(name, start, stop)`` of each layer's units in ``hidden``.
    state_layout : tuple of (str, int, int)
        ``(name, start, stop)`` of each state block in ``state`` (e.g. ``layers.0.c``).
    hidden_index : ndarray of int
        Columns of ``state`` that are ``hidden``.
    noise : bool
        Whether the network noise was on.
    dt : float or None
        The task's step in ms, if known.
    """

    inputs: np.ndarray
    outputs: np.ndarray
    hidden: np.ndarray
    state: np.ndarray | None
    targets: np.ndarray | None
    mask: np.ndarray | None
    info: dict[str, np.ndarray]
    layers: tuple[tuple[str, int, int], ...]
    state_layout: tuple[tuple[str, int, int], ...]
    hidden_index: np.ndarray
    noise: bool
    dt: float | None

    @property
    def num_steps(self) -> int:
        return int(self.hidden.shape[0])

    @property
    def num_trials(self) -> int:
        return int(self.hidden.shape[1])

    def layer(self, i: int) -> np.ndarray:
        """The hidden activity of layer ``i``: ``(T, B, num_rec_i)``."""
        if not -len(self.layers) <= i < len(self.layers):
            raise ConfigError(f"layer {i} does not exist: the model has {len(self.layers)} layer(s).")
        _, a, b = self.layers[i]
        return self.hidden[..., a:b]


def _layouts(model):
    layers, state_layout, hid, i, j = [], [], [], 0, 0
    for li, cell in enumerate(model.layers):
        layers.append((f"layers.{li}", j, j + cell.num_rec))
        j += cell.num_rec
        for name in cell.state_names:
            state_layout.append((f"layers.{li}.{name}", i, i + cell.num_rec))
            if name == "h":
                hid.extend(range(i, i + cell.num_rec))
            i += cell.num_rec
    return tuple(layers), tuple(state_layout), np.asarray(hid, dtype=int)


def record_activity(model, source, *, num_trials: int = 256, seed: int = 0, full_state: bool = False,
                    noise: bool = False, batch_size: int = 1024) -> Activity:
    """Run ``model`` and record its inputs, outputs, hidden activity and (optionally) full state.

    Parameters
    ----------
    model : neurotrain.models.RNN
    source : Task, TrialBatch or array ``(T, B, num_in)``
        A task (``num_trials`` trials are drawn from ``seed``), a batch of trials, or raw
        inputs (time-major).
    num_trials : int
        Trials to draw when ``source`` is a task.
    seed : int
        Seeds the trials and, with ``noise=True``, the network noise.
    full_state : bool
        Also record the full state (all layers, LSTM ``c`` included), e.g. to sample
        fixed-point candidates.
    noise : bool
        Keep the network's input and recurrent noise (off by default: the deterministic
        dynamics).
    batch_size : int
        Trials run at once (bounds memory).

    Returns
    -------
    Activity

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.NBitFlipFlop(duration=400.0)
    >>> model = nt.models.RNN(nt.models.LSTMCell(3, 8), num_out=3)
    >>> act = record_activity(model, task, num_trials=5, full_state=True)
    >>> act.hidden.shape, act.state.shape            # LSTM: state holds h and c
    ((20, 5, 8), (20, 5, 16))
    """
    from ..tasks import Task, TrialBatch

    num_trials = check_positive("num_trials", num_trials, integer=True)
    batch_size = check_positive("batch_size", batch_size, integer=True)
    key = jax.random.PRNGKey(seed)
    dt = None
    if isinstance(source, Task):
        if model.num_in != source.num_in:
            raise ConfigError(f"model num_in={model.num_in} does not fit task {source.name!r} "
                              f"(num_in={source.num_in}).")
        batch = jax.device_get(sampler(source)(jax.random.fold_in(key, 0), int(num_trials)))
        dt = float(source.dt)
    elif isinstance(source, TrialBatch):
        batch = jax.device_get(source)
    else:
        x = np.asarray(source)
        model.check_inputs(x, "source")
        batch = None
    inputs = np.asarray(batch.inputs if batch is not None else x)
    model.check_inputs(inputs, "source")
    if not np.issubdtype(inputs.dtype, np.floating):
        raise ShapeError(f"inputs must be floating point; got dtype {inputs.dtype}.")

    loop_task = source if isinstance(source, Task) and getattr(source, "closed_loop", False) else None
    run = _recorder(model, bool(full_state), bool(noise),
                    inputs.shape[0] * min(inputs.shape[1], int(batch_size)) * int(model.state_size) ** 2,
                    loop_task)
    parts = []
    params = model.forward().params()
    with contextlib.nullcontext() if noise else noise_disabled(model):
        B = inputs.shape[1]
        for i, start in enumerate(range(0, B, int(batch_size))):
            stop = start + int(batch_size)
            if loop_task is None:
                xs = jnp.asarray(inputs[:, start:stop])
            else:   # a closed loop needs the trials themselves (its feedback depends on them)
                xs = TrialBatch(inputs=jnp.asarray(batch.inputs[:, start:stop]),
                                targets=jnp.asarray(batch.targets[:, start:stop]),
                                mask=jnp.asarray(batch.mask[:, start:stop]),
                                info={k: jnp.asarray(v[start:stop]) for k, v in batch.info.items()})
            parts.append(jax.device_get(run(params, xs, jax.random.fold_in(key, i + 1))))

    def cat(j):
        return np.concatenate([np.asarray(p[j]) for p in parts], axis=1)

    if loop_task is not None:   # the inputs the network got, feedback included
        inputs = cat(-1)

    layers, state_layout, hid = _layouts(model)
    return Activity(
        inputs=inputs, outputs=cat(0), hidden=cat(1), state=cat(2) if full_state else None,
        targets=None if batch is None else np.asarray(batch.targets),
        mask=None if batch is None else np.asarray(batch.mask),
        info={} if batch is None else {k: np.asarray(v) for k, v in batch.info.items()},
        layers=layers, state_layout=state_layout, hidden_index=hid, noise=bool(noise), dt=dt)


@functools.lru_cache(maxsize=64)
def sampler(task):
    """``task.sample`` jitted once per task (tasks are hashable frozen dataclasses)."""
    return jax.jit(task.sample, static_argnums=1)


_RECORDERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _recorder(model, full_state: bool, noise: bool, work: int, loop_task=None):
    """The jitted recording function of ``model``, compiled once per setting and shape. With a
    closed-loop task it takes a TrialBatch (the loop's feedback needs its trials) and also
    returns the inputs given."""
    small = work <= 2 ** 26       # small recordings compile much faster without backend optimisation
    fns = _RECORDERS.setdefault(model, {})
    key = (full_state, noise, small, loop_task)
    if key not in fns:
        model_ref = weakref.ref(model)   # the cache must not keep the model alive

        def trace(params, x, k):
            loop = None
            if loop_task is not None:
                loop, x = loop_task.loop(x), x.inputs
            outputs, activity, _, *rest = model_ref().forward().run(
                params, x, key=k if noise else None, record_state=full_state, loop=loop)
            return (outputs, activity, *rest)

        fns[key] = jax.jit(
            trace, compiler_options={"xla_backend_optimization_level": 0} if small else None)
    return fns[key]


def period_inputs(task, *, num_trials: int = 512, seed: int = 0, decimals: int = 1,
                  include_zero: bool = False, max_levels: int = 4,
                  min_fraction: float = 0.05) -> tuple[tuple[str, ...], np.ndarray]:
    """The typical constant inputs of each period of a task, for fixed-point searches.

    For every period recorded in the trials' ``info`` (``<period>_on`` / ``<period>_off``),
    each trial's mean input over the period is computed. Channels that stay constant within
    the period on every trial and take at most ``max_levels`` values over the trials (after
    rounding to ``decimals``) are cues, such as the fixation cue, a context or a rule. Trials are grouped by their cue values, and each group
    with at least ``min_fraction`` of the trials gives one input: the mean over its trials,
    rounded to ``decimals``. Averaging removes zero-mean noise and symmetric conditions, so the
    stimulus period of perceptual decision making gives ``[1, 0.5, 0.5]`` (the coherence-0
    input), and sparse pulses, as in the flip-flop task, average to 0. Context-dependent
    decision making gives one input per context. Periods with the same input are merged (names
    joined by ``/``). A task without recorded periods gets one input, ``"trial"``, averaged over
    the whole trial.

    Parameters
    ----------
    task : Task, or recorded trials (Activity, Evaluation or TrialBatch)
        A task (``num_trials`` trials are drawn from ``seed``) or trials already recorded
        with their ``inputs`` and ``info`` (no sampling then).
    num_trials : int
    seed : int
    decimals : int
        Rounding of the means.
    include_zero : bool
        Add the zero input (named ``"zero"``) if no period has it.
    max_levels : int
        A steady channel with at most this many distinct (rounded) values over the trials is
        a cue.
    min_fraction : float
        Cue combinations seen in fewer trials than this fraction are left out.

    Returns
    -------
    names : tuple of str ``(K,)``
        The period, with the cue channels that tell its inputs apart, e.g.
        ``"stimulus (in1=1, in2=0)"``.
    inputs : ndarray ``(K, num_in)``

    Examples
    --------
    >>> import neurotrain as nt
    >>> names, u = period_inputs(nt.tasks.PerceptualDecisionMaking())
    >>> names
    ('fixation', 'stimulus', 'decision')
    >>> u.tolist()
    [[1.0, 0.0, 0.0], [1.0, 0.5, 0.5], [0.0, 0.0, 0.0]]
    """
    from ..tasks import Task

    if isinstance(task, Task):
        batch = jax.device_get(sampler(task)(jax.random.PRNGKey(seed), int(num_trials)))
    elif hasattr(task, "inputs") and hasattr(task, "info"):
        batch = task
    else:
        raise ConfigError(f"period_inputs needs a Task or recorded trials (Activity, Evaluation, TrialBatch); "
                          f"got {type(task).__name__}.")
    x = np.asarray(batch.inputs, dtype=np.float64)
    if x.ndim != 3 or x.size == 0:
        raise ShapeError(f"period_inputs needs recorded inputs of shape (T, B, num_in); got {x.shape}.")
    T, B, _ = x.shape
    t = np.arange(T)[:, None]
    info = batch.info
    periods = [k[:-3] for k in info if k.endswith("_on") and f"{k[:-3]}_off" in info]
    windows = []
    for p in periods:
        on, off = np.asarray(info[f"{p}_on"]), np.asarray(info[f"{p}_off"])
        windows.append((p, int(np.min(on)), (t >= on[None]) & (t < off[None])))
    if not windows:                                  # no periods recorded: the whole trial
        windows.append(("trial", 0, np.ones((T, B), bool)))
    rows: list[tuple[str, np.ndarray]] = []
    for p, _, sel in sorted(windows, key=lambda w: w[1]):
        n = sel.sum(axis=0)
        has = n > 0
        if not has.any():
            continue
        m = (x * sel[..., None]).sum(axis=0)[has] / n[has, None]          # per-trial means
        r = np.round(m, decimals) + 0.0
        # a cue is constant within the period on every trial and takes few values across trials
        hi = np.where(sel[..., None], x, -np.inf).max(axis=0)[has]
        lo = np.where(sel[..., None], x, np.inf).min(axis=0)[has]
        steady = np.all(hi - lo <= 0.5 * 10.0 ** -decimals, axis=0)
        cue = [c for c in range(x.shape[-1]) if steady[c] and np.unique(r[:, c]).size <= max_levels]
        combos, which = (np.unique(r[:, cue], axis=0, return_inverse=True) if cue
                         else (np.zeros((1, 0)), np.zeros(len(m), int)))
        which = np.asarray(which).ravel()
        kept = [g for g in range(len(combos)) if np.mean(which == g) >= min_fraction]
        varying = [j for j in range(len(cue)) if np.unique(combos[kept, j]).size > 1]
        for g in kept:
            label = p
            if varying:
                label += " (" + ", ".join(f"in{cue[j]}={combos[g, j]:g}" for j in varying) + ")"
            rows.append((label, np.round(m[which == g].mean(axis=0), decimals) + 0.0))
    names: list[str] = []
    vals: list[np.ndarray] = []
    for name, v in rows:
        for i, w in enumerate(vals):
            if np.array_equal(w, v):
                names[i] += f"/{name}"
                break
        else:
            names.append(name)
            vals.append(v)
    if include_zero and not any(not np.any(v) for v in vals):
        names.append("zero")
        vals.append(np.zeros(x.shape[-1]))
    dtype = brainstate.environ.dftype()
    return tuple(names), np.asarray(vals, dtype=dtype)
