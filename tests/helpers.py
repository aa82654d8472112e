"""Shared test utilities: tiny float64 models, a finite-difference oracle, pure-JAX references.

Everything here is independent of the code under test where that matters:

* :func:`reference_run` / :func:`reference_loss` re-implement every cell, the readout and
  the losses from the equations in the cell docstrings with plain ``jax.numpy`` and
  ``jax.lax.scan``. They take the same weights as a neurotrain model (a dict keyed like
  ``model.states(brainstate.ParamState)``) but no neurotrain code.
* :func:`finite_difference_grads` is a central-difference gradient oracle over a dict of
  ``ParamState``; it only calls the loss.

Use :func:`float64` (a context manager) around anything that needs double precision; it
restores the previous precision so the rest of the test suite stays float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence

import brainstate
import jax
import jax.numpy as jnp
import numpy as np

import neurotrain as nt
from neurotrain.tasks import TrialBatch

__all__ = [
    "CELL_KINDS", "float64", "make_cell", "make_model", "randomize_params", "random_batch",
    "param_values", "model_layout", "reference_run", "reference_objective", "reference_loss",
    "finite_difference_grads", "relative_error", "global_norm",
]

#: the cell variants a test can ask :func:`make_cell` for
CELL_KINDS = ("vanilla", "leaky_tanh", "leaky_relu", "gru", "lstm")


# --------------------------------------------------------------------------------------------
# precision
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def float64() -> Iterator[None]:
    """Switch JAX and brainstate to float64 inside the block, then restore the old setting.

    Examples
    --------
    >>> with float64():
    ...     jnp.ones(2).dtype
    dtype('float64')
    """
    old_x64 = bool(jax.config.jax_enable_x64)
    old_precision = brainstate.environ.get_precision()
    jax.config.update("jax_enable_x64", True)
    brainstate.environ.set(precision=64)
    try:
        yield
    finally:
        # brainstate.environ.set(precision=...) also sets jax_enable_x64; set both back.
        brainstate.environ.set(precision=old_precision)
        jax.config.update("jax_enable_x64", old_x64)


# --------------------------------------------------------------------------------------------
# tiny models and batches
# --------------------------------------------------------------------------------------------
def make_cell(kind: str, num_in: int, num_rec: int, *, train_h0: bool = True, tau: float = 100.0,
              dt: float = 20.0):
    """A noise-free neurotrain cell of variant ``kind`` (one of :data:`CELL_KINDS`)."""
    if kind == "vanilla":
        return nt.models.VanillaRNNCell(num_in, num_rec, train_h0=train_h0)
    if kind == "vanilla_tanh":
        return nt.models.VanillaRNNCell(num_in, num_rec, activation="tanh", train_h0=train_h0)
    if kind in ("leaky_tanh", "leaky_relu"):
        return nt.models.LeakyRNNCell(num_in, num_rec, tau=tau, dt=dt, activation=kind.split("_")[1],
                                      train_h0=train_h0)
    if kind == "gru":
        return nt.models.GRUCell(num_in, num_rec, train_h0=train_h0)
    if kind == "lstm":
        return nt.models.LSTMCell(num_in, num_rec, train_h0=train_h0)
    raise ValueError(f"unknown cell kind {kind!r}; choose from {CELL_KINDS}")


def make_model(kinds: str | Sequence[str], *, num_in: int = 3, num_rec: int | Sequence[int] = 5,
               num_out: int = 2, train_h0: bool = True, seed: int = 0, scale: float = 1.0):
    """A small ``nt.models.RNN`` whose every parameter is random and non-zero (float64 if active).

    Parameters
    ----------
    kinds : str or sequence of str
        One cell kind, or one per layer (input layer first).
    num_rec : int or sequence of int
        Units per layer.
    seed : int
        Seeds both the constructor's initialisers and :func:`randomize_params`.
    scale : float
        Gain of the random weights (see :func:`randomize_params`).
    """
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    sizes = [num_rec] * len(kinds) if isinstance(num_rec, int) else list(num_rec)
    brainstate.random.seed(seed)
    cells, n_in = [], num_in
    for kind, n in zip(kinds, sizes):
        cells.append(make_cell(kind, n_in, n, train_h0=train_h0))
        n_in = n
    model = nt.models.RNN(cells, num_out=num_out)
    randomize_params(model, seed=seed, scale=scale)
    return model


def randomize_params(model, *, seed: int = 0, scale: float = 1.0) -> None:
    """Overwrite every ``ParamState`` with seeded random values in the current default float dtype.

    Matrices get ``N(0, scale^2 / fan_in)`` entries, vectors (biases, initial states)
    ``N(0, 0.5^2)``, so no gradient is zero by symmetry (zero biases or a zero initial state
    would hide bugs in their gradients).
    """
    rng = np.random.default_rng(seed)
    dtype = brainstate.environ.dftype()
    for _, state in sorted(model.states(brainstate.ParamState).items(), key=lambda kv: str(kv[0])):
        shape = np.shape(state.value)
        if len(shape) == 2:
            v = rng.normal(0.0, scale / np.sqrt(shape[0]), shape)
        else:
            v = rng.normal(0.0, 0.5, shape)
        state.value = jnp.asarray(v, dtype=dtype)


def random_batch(target_type: str, *, T: int = 6, B: int = 3, num_in: int = 3, num_out: int = 2,
                 seed: int = 0) -> TrialBatch:
    """A random time-major :class:`TrialBatch` with a non-trivial mask.

    ``target_type="class"`` gives integer labels ``(T, B)``; ``"value"`` float targets
    ``(T, B, num_out)``. The mask ``(T, B)`` mixes weights 0, 0.5 and 1 (and is 1 at the
    last step so no trial is fully masked).
    """
    rng = np.random.default_rng(1000 + seed)
    dtype = brainstate.environ.dftype()
    inputs = jnp.asarray(rng.normal(size=(T, B, num_in)), dtype=dtype)
    mask = rng.choice([0.0, 0.5, 1.0], size=(T, B))
    mask[-1] = 1.0
    if target_type == "class":
        targets = jnp.asarray(rng.integers(0, num_out, size=(T, B)), dtype=jnp.int32)
    elif target_type == "value":
        targets = jnp.asarray(rng.normal(size=(T, B, num_out)), dtype=dtype)
    else:
        raise ValueError(f"target_type must be 'class' or 'value'; got {target_type!r}")
    return TrialBatch(inputs=inputs, targets=targets, mask=jnp.asarray(mask, dtype=dtype), info={})


def param_values(params: Mapping) -> dict:
    """``{path: array}`` from a dict of ``ParamState`` (copies of the current values)."""
    return {k: jnp.asarray(v.value) for k, v in params.items()}


def model_layout(model) -> tuple:
    """The static description :func:`reference_run` needs: one tuple per layer.

    Each entry is ``(kind, activation_name, alpha, num_rec)`` (``alpha`` and the activation are
    ``None`` where the cell has none).
    """
    layers = []
    for cell in model.layers:
        layers.append((cell.kind, getattr(cell, "activation_name", None), getattr(cell, "alpha", None),
                       cell.num_rec))
    return tuple(layers)


# --------------------------------------------------------------------------------------------
# pure-JAX reference implementation (written from the docstring equations)
# --------------------------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + jnp.exp(-x))


_ACTIVATIONS: dict[str, Callable] = {
    "relu": lambda x: jnp.where(x > 0, x, 0.0),
    "tanh": jnp.tanh,
    "linear": lambda x: x,
}


def _vanilla_step(p, act, state, x):
    (h,) = state
    h = act(jnp.concatenate([x, h], -1) @ p["W"] + p["b"])
    return (h,), h


def _leaky_step(p, act, alpha, state, x):
    (h,) = state
    drive = h @ p["W_rec"] + x @ p["W_in"] + p["b"]
    h = (1.0 - alpha) * h + alpha * act(drive)
    return (h,), h


def _gate(p, name, combined, index, n_h):
    """Weight and bias of one gate: ``W_<name>``/``b_<name>`` or slice ``index`` of a combined
    ``W_<combined>``/``b_<combined>`` (both storage layouts have been used by the cells)."""
    if f"W_{name}" in p:
        return p[f"W_{name}"], p[f"b_{name}"]
    W, b = (p["W"], p["b"]) if combined == "" else (p[f"W_{combined}"], p[f"b_{combined}"])
    cols = slice(index * n_h, (index + 1) * n_h)
    return W[:, cols], b[cols]


def _gru_step(p, n_h, state, x):
    (h,) = state
    xh = jnp.concatenate([x, h], -1)
    W_z, b_z = _gate(p, "z", "zr", 0, n_h)
    W_r, b_r = _gate(p, "r", "zr", 1, n_h)
    z = _sigmoid(xh @ W_z + b_z)
    r = _sigmoid(xh @ W_r + b_r)
    n = jnp.tanh(x @ p["W_xn"] + p["b_xn"] + r * (h @ p["W_hn"] + p["b_hn"]))
    h = (1.0 - z) * n + z * h
    return (h,), h


def _lstm_step(p, n_h, state, x):
    h, c = state
    xh = jnp.concatenate([x, h], -1)
    i, f, g, o = (xh @ W + b for W, b in (_gate(p, name, "", k, n_h) for k, name in enumerate("ifgo")))
    c = _sigmoid(f) * c + _sigmoid(i) * jnp.tanh(g)
    h = _sigmoid(o) * jnp.tanh(c)
    return (h, c), h


def _layer_params(values: Mapping, i: int) -> dict:
    return {k[-1]: v for k, v in values.items() if len(k) == 3 and k[0] == "layers" and k[1] == i}


def reference_run(layout: tuple, values: Mapping, inputs):
    """Pure-JAX forward pass of an RNN stack with readout.

    Parameters
    ----------
    layout : tuple
        From :func:`model_layout`.
    values : dict
        ``{path: array}`` keyed like ``model.states(brainstate.ParamState)``, e.g.
        ``('layers', 0, 'W_rec')`` and ``('readout', 'W')``.
    inputs : array, shape ``(T, B, num_in)``

    Returns
    -------
    outputs : ``(T, B, num_out)``; activity : ``(T, B, sum of num_rec)``
    """
    B = inputs.shape[1]
    layer_params = [_layer_params(values, i) for i in range(len(layout))]
    steps, init = [], []
    for (kind, act_name, alpha, n_h), p in zip(layout, layer_params):
        names = ("h", "c") if kind == "lstm" else ("h",)
        init.append(tuple(
            jnp.broadcast_to(p[f"{n}0"], (B, n_h)) if f"{n}0" in p
            else jnp.zeros((B, n_h), inputs.dtype) for n in names))
        if kind == "vanilla":
            steps.append(lambda s, x, p=p, a=_ACTIVATIONS[act_name]: _vanilla_step(p, a, s, x))
        elif kind == "leaky":
            steps.append(lambda s, x, p=p, a=_ACTIVATIONS[act_name], al=alpha: _leaky_step(p, a, al, s, x))
        elif kind == "gru":
            steps.append(lambda s, x, p=p, n=n_h: _gru_step(p, n, s, x))
        elif kind == "lstm":
            steps.append(lambda s, x, p=p, n=n_h: _lstm_step(p, n, s, x))
        else:
            raise ValueError(f"no reference for cell kind {kind!r}")

    def body(carry, x):
        new, hs = [], []
        for step, s in zip(steps, carry):
            s, x = step(s, x)
            new.append(s)
            hs.append(x)
        y = x @ values[("readout", "W")]
        if ("readout", "b") in values:
            y = y + values[("readout", "b")]
        return tuple(new), (y, jnp.concatenate(hs, -1))

    _, (outputs, activity) = jax.lax.scan(body, tuple(init), inputs)
    return outputs, activity


def reference_objective(outputs, activity, batch: TrialBatch, target_type: str, values=None, *,
                        l2: float = 0.0, rate_l2: float = 0.0):
    """Task loss + ``l2 * sum(w^2)`` + ``rate_l2 * mean(h^2)``, computed independently.

    The class loss is ``sum(mask * CE) / sum(mask)`` with ``CE = logsumexp(z) - z[label]``; the
    value loss is ``sum(mask * (y - target)^2) / (sum(mask) * num_out)``. ``values`` (the
    parameter arrays) is needed only when ``l2 > 0``.
    """
    mask = batch.mask
    if target_type == "class":
        zmax = jnp.max(outputs, -1, keepdims=True)
        lse = jnp.log(jnp.sum(jnp.exp(outputs - zmax), -1)) + zmax[..., 0]
        picked = jnp.take_along_axis(outputs, batch.targets[..., None], -1)[..., 0]
        loss = jnp.sum(mask * (lse - picked)) / jnp.sum(mask)
    else:
        err = jnp.sum((outputs - batch.targets) ** 2, -1)
        loss = jnp.sum(mask * err) / (jnp.sum(mask) * outputs.shape[-1])
    if l2:
        loss = loss + l2 * sum(jnp.sum(v ** 2) for v in values.values())
    if rate_l2:
        loss = loss + rate_l2 * jnp.mean(activity ** 2)
    return loss


def reference_loss(layout: tuple, values: Mapping, batch: TrialBatch, target_type: str, *,
                   l2: float = 0.0, rate_l2: float = 0.0):
    """:func:`reference_objective` of :func:`reference_run`: a pure function of ``values``
    (differentiate it with ``jax.grad`` for an independent BPTT gradient)."""
    outputs, activity = reference_run(layout, values, batch.inputs)
    return reference_objective(outputs, activity, batch, target_type, values, l2=l2, rate_l2=rate_l2)


# --------------------------------------------------------------------------------------------
# finite differences and norms
# --------------------------------------------------------------------------------------------
def finite_difference_grads(loss_fn: Callable[[], float], params: Mapping, *, eps: float = 1e-5,
                            max_entries: int | None = None, seed: int = 0) -> dict:
    """Central finite-difference gradient of ``loss_fn()`` w.r.t. entries of ``params``.

    Parameters
    ----------
    loss_fn : callable
        Takes no argument, reads the ``ParamState`` values and returns a scalar (jit it for
        speed: it is called twice per entry).
    params : dict of ParamState
        Perturbed one entry at a time, ``(L(w + eps e_i) - L(w - eps e_i)) / (2 eps)``;
        every value is restored afterwards, even on error.
    max_entries : int, optional
        Check at most this many entries per parameter, drawn without replacement with
        ``numpy.random.default_rng(seed)``; all entries if ``None``.

    Returns
    -------
    dict
        ``{path: (flat_indices, fd_values)}``: the flat (C-order) indices checked and the
        finite-difference derivative at each.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for key in sorted(params, key=str):
        state = params[key]
        base = state.value
        size = int(np.size(base))
        if max_entries is None or size <= max_entries:
            idx = np.arange(size)
        else:
            idx = np.sort(rng.choice(size, size=max_entries, replace=False))
        flat = jnp.ravel(base)
        fd = np.empty(len(idx))
        try:
            for j, i in enumerate(idx):
                state.value = flat.at[i].add(eps).reshape(base.shape)
                up = float(loss_fn())
                state.value = flat.at[i].add(-eps).reshape(base.shape)
                down = float(loss_fn())
                fd[j] = (up - down) / (2.0 * eps)
        finally:
            state.value = base
        out[key] = (idx, fd)
    return out


def relative_error(a, b) -> float:
    """``||a - b||_2 / ||b||_2`` over all entries (``b`` is the reference)."""
    a, b = np.ravel(np.asarray(a, np.float64)), np.ravel(np.asarray(b, np.float64))
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def global_norm(tree) -> float:
    """L2 norm over every leaf of a pytree."""
    return float(np.sqrt(sum(np.sum(np.asarray(x, np.float64) ** 2) for x in jax.tree.leaves(tree))))


def run_cli(argv) -> tuple[int, str, str]:
    """``neurotrain.cli.main(argv)`` in this process: ``(exit code, stdout, stderr)``, warnings off."""
    import io
    import warnings

    from neurotrain.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    return code, out.getvalue(), err.getvalue()
