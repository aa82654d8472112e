"""Gradient methods: frozen strategy objects that turn a batch into a loss, gradients and updates.

A method is passed as ``train(..., method=...)``. It is immutable: :meth:`GradientMethod.prepare`
returns a prepared copy (e.g. with a warm-up resolved from the task) and never changes the
method in place. Inside the compiled training step the method receives a :class:`StepContext`
(the model's pure forward pass, the objective, the phase's settings and the update function)
and explicit values: the parameters, the optimiser state, the batch and a random key. Nothing
is read from brainstate's global state, so one step can be mapped over many networks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import brainstate
import jax
import jax.numpy as jnp

from .._errors import ConfigError
from .._registry import Registry

__all__ = ["GradientMethod", "BPTT", "StepContext", "METHODS", "get_method", "register_method"]

#: the gradient methods by name (``"bptt"``, ``"d-rtrl"``...); see :func:`register_method`
METHODS: Registry[type] = Registry("gradient method", argument="method",
                                   hint="See `neurotrain train --help` for what each one is.")


def register_method(cls):
    """Class decorator: make a :class:`GradientMethod` available by its ``name`` (and ``aliases``).

    Examples
    --------
    >>> import dataclasses
    >>> @register_method
    ... @dataclasses.dataclass(frozen=True)
    ... class Doubled(BPTT):
    ...     name = "doubled-bptt"
    >>> type(get_method("doubled_bptt")).__name__
    'Doubled'
    """
    METHODS.add(cls.name, cls, aliases=tuple(getattr(cls, "aliases", ())))
    return cls


def get_method(name: str, **params: Any) -> GradientMethod:
    """Build the gradient method registered as ``name`` (``"bptt"``, ``"d-rtrl"``, ``"pp-prop"``...).

    Examples
    --------
    >>> get_method("d_rtrl", warmup=5)
    DRTRL(vjp_method='multi-step', warmup=5, update_every=None)
    """
    cls = METHODS.get(name)
    try:
        return cls(**params)
    except TypeError as e:
        fields = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
        allowed = f" Its options: {', '.join(fields)}." if fields else " It takes no options."
        raise ConfigError(f"bad option for method {cls.name!r}: {e}.{allowed}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class StepContext:
    """What a method gets inside the compiled step, besides explicit values.

    Attributes
    ----------
    forward : neurotrain.models.Forward
        The model's pure forward pass.
    objective : neurotrain.training.Objective
        The loss (task loss and penalties).
    update : callable
        ``update(params, opt_state, grads) -> (params, opt_state, grad_norm)``: clips the
        gradient (if asked) and applies the optimiser at this step's learning rate.
    dt : float or None
        The model's integration step in this phase (``None``: each cell's own).
    options : dict
        The phase's method options (e.g. a mixing ratio), empty by default.
    monitor : bool
        Report ``max_activity`` (the largest ``|h|`` of the batch) in the auxiliary values.
    overrides : dict
        Cell settings for the forward pass (the noise levels of one network of a population);
        pass them to ``forward.run(..., overrides=ctx.overrides)``.
    task : Task or None
        The phase's training task (:meth:`loop` reads it).

    Examples
    --------
    The trainer builds one per phase; by hand, e.g. to call a method outside training:

    >>> import brainstate, jax, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> model = nt.models.build_model("vanilla", 1, 8, 1)
    >>> ctx = StepContext(forward=model.forward(), objective=nt.training.Objective(task.target_type),
    ...                   update=None, monitor=False)
    >>> ctx.dt, dict(ctx.options)
    (None, {})
    >>> batch = task.sample(jax.random.PRNGKey(0), 4)      # inputs (T, B, 1)
    >>> grads, loss, aux = BPTT().gradients(ctx, ctx.forward.params(), batch, None)
    >>> sorted(k[-1] for k in grads), sorted(aux)
    (['W', 'W', 'b', 'b'], ['task_loss'])
    """

    forward: Any
    objective: Any
    update: Callable
    dt: float | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    monitor: bool = True
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    task: Any = None

    def loop(self, batch):
        """The closed loop of ``batch`` when the phase's task is closed-loop (its inputs depend
        on the network's answers), else ``None``; pass it to ``forward.run(..., loop=...)``."""
        if self.task is not None and getattr(self.task, "closed_loop", False):
            return self.task.loop(batch)
        return None


@dataclasses.dataclass(frozen=True)
class GradientMethod:
    """Base class of the strategies passed as ``train(..., method=...)``.

    A method computes, for one batch, the loss and a gradient for **every** trainable
    parameter (a dict with the same keys as the parameters). Methods whose gradient is not
    exact say so in ``exact`` and in their docstring. A method that cannot train some
    parameter names it in :meth:`untrained_parameters`; the trainer tells the user once.

    Subclasses are frozen dataclasses (their fields are their options) and override
    :meth:`gradients` (one gradient per batch) or :meth:`train_step` (methods that update
    several times per batch, like truly online learning, or that act after the update). Both
    are pure: they get a :class:`StepContext` and explicit values (parameters
    ``{path: array}``, the batch, the step's random key) and never read brainstate's global
    state. :func:`register_method` makes a method available by its ``name``.

    Examples
    --------
    BPTT's gradient, halved, checked against BPTT on one batch:

    >>> import dataclasses, brainstate, jax, jax.numpy as jnp, neurotrain as nt
    >>> @dataclasses.dataclass(frozen=True)
    ... class HalfBPTT(GradientMethod):
    ...     name = "half-bptt"
    ...     exact = False
    ...     def gradients(self, ctx, params, batch, key):
    ...         grads, loss, aux = BPTT().gradients(ctx, params, batch, key)
    ...         return jax.tree.map(lambda g: 0.5 * g, grads), loss, aux
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> model = nt.models.build_model("vanilla", 1, 8, 1)
    >>> batch, objective = task.sample(jax.random.PRNGKey(0), 4), nt.training.Objective("value")
    >>> half, _, _ = HalfBPTT().loss_and_grads(model, batch, objective)
    >>> full, _, _ = BPTT().loss_and_grads(model, batch, objective)
    >>> all(bool(jnp.allclose(half[k], 0.5 * full[k])) for k in full)
    True
    >>> nt.train(model, task, method=HalfBPTT(), num_steps=5, batch_size=4).num_steps
    5
    """

    #: registry name used in configs and on the command line
    name: ClassVar[str] = "method"
    #: whether the gradient equals the true gradient of the loss
    exact: ClassVar[bool] = True

    # --- before compiling ----------------------------------------------------------------
    def prepare(self, model, task) -> GradientMethod:
        """Validate the model/task pairing; return the method to train with (a copy if
        anything had to be resolved; ``self`` otherwise). Never modifies ``self``."""
        return self

    def untrained_parameters(self, model) -> dict[tuple, str]:
        """``{parameter path: reason}`` for parameters this method gives no gradient."""
        return {}

    def schedule(self, model, task, num_steps: int):
        """The phases this method trains in when ``train`` is given no ``schedule=`` (a list of
        :class:`~neurotrain.training.Phase`), or ``None`` for one plain phase. Methods that are
        themselves a schedule (coarsened discretisation, skip connections) return theirs."""
        return None

    def describe_parameters(self, keys, untrained: Mapping[tuple, str]) -> dict[str, str]:
        """``{dotted path: how it is trained}`` for every parameter (recorded in run directories)."""
        out = {}
        for k in keys:
            name = ".".join(map(str, k))
            out[name] = f"fixed: {untrained[k]}" if k in untrained else self._how(k)
        return out

    def _how(self, path) -> str:
        return f"exact gradient ({self.name})"

    def compiler_options(self) -> dict[str, str]:
        """XLA compiler options for this method's compiled step (none by default).

        The options apply to the step's own compilation only (``jax.jit(...,
        compiler_options=...)``), not to the process; an option this jaxlib rejects is dropped
        with a note (see :mod:`neurotrain.training._compile`).
        """
        return {}

    def config(self) -> dict[str, Any]:
        """The method's name and options (JSON-serialisable; :func:`get_method` rebuilds it)."""
        out: dict[str, Any] = {"name": self.name}
        out.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        return out

    # --- inside the compiled step --------------------------------------------------------
    def forward_transform(self, ctx: StepContext, batch):
        """A forward-pass transform for this batch (see :mod:`neurotrain.models`), or ``None``."""
        return None

    def gradients(self, ctx: StepContext, params, batch, key):
        """``(grads, loss, aux)`` of one batch (pure)."""
        raise NotImplementedError

    def train_step(self, ctx: StepContext, params, opt_state, batch, key):
        """One training step on ``batch``: ``(params, opt_state, loss, aux)`` (pure).

        The default computes :meth:`gradients` and applies one update.
        """
        grads, loss, aux = self.gradients(ctx, params, batch, key)
        params, opt_state, norm = ctx.update(params, opt_state, grads)
        return params, opt_state, loss, {**aux, "grad_norm": norm}

    # --- convenience ---------------------------------------------------------------------
    def loss_and_grads(self, model, batch, objective, params=None, *, key=None):
        """``(grads, loss, aux)`` at the model's current weights, keyed like ``params``.

        A convenience for comparing methods outside training (e.g. gradient checks): the
        gradient of the whole batch is computed (compiled) and returned, not applied. Call it
        directly, not inside a brainstate transformation.

        Parameters
        ----------
        model : neurotrain.models.RNN
        batch : TrialBatch
        objective : Objective
        params : dict of ParamState, optional
            Which parameters to return gradients for (default: all of the model's).
        key : jax PRNG key, optional
            The network noise (default: noise-free).
        """
        fwd = model.forward()

        def compute(values, batch, key):
            ctx = StepContext(forward=fwd, objective=objective, update=None, monitor=False)
            return self.gradients(ctx, values, batch, key)

        grads, loss, aux = jax.jit(compute)(fwd.params(), batch, key)
        if params is not None:
            grads = {k: grads[k] for k in params}
        return grads, loss, aux


def max_abs(x) -> jax.Array:
    """``max |x|`` without a gradient (the activity monitor)."""
    return jnp.max(jnp.abs(jax.lax.stop_gradient(x)))


@register_method
@dataclasses.dataclass(frozen=True)
class BPTT(GradientMethod):
    """Back-propagation through time: the exact gradient, by ``jax.value_and_grad`` of the
    pure forward pass.

    The initial state is computed inside the differentiated function, so a trainable initial
    state (``train_h0=True``) receives its exact gradient.

    Examples
    --------
    >>> import neurotrain as nt
    >>> method = nt.training.BPTT()
    >>> method.exact, method.config()
    (True, {'name': 'bptt'})
    """

    name: ClassVar[str] = "bptt"
    exact: ClassVar[bool] = True

    def gradients(self, ctx: StepContext, params, batch, key):
        transform = self.forward_transform(ctx, batch)

        def loss_fn(p):
            outputs, activity, *rest = ctx.forward.run(p, batch.inputs, key=key, dt=ctx.dt, transform=transform,
                                                       overrides=ctx.overrides, loop=ctx.loop(batch),
                                                       peak=ctx.monitor)
            total, aux = ctx.objective(outputs, activity, batch, p)
            if ctx.monitor:
                aux = {**aux, "max_activity": rest[-1]}
            return total, aux

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        return grads, loss, aux


def _readable(states):
    """The states whose value can be read here (not dead tracers of an earlier trace)."""
    out = []
    for s in states:
        try:
            _ = s.value
        except Exception:  # noqa: BLE001 - brainstate refuses to hand out a leaked tracer
            continue
        out.append(s)
    return out


def stateful_to_pure(fun: Callable, model, example_args: tuple):
    """Turn ``fun(*args)``, which reads and writes ``model``'s ``ParamState`` s through
    brainstate, into ``pure(params, *args)`` (``params``: ``{path: value}``).

    brainstate traces ``fun`` once (:class:`brainstate.transform.StatefulFunction`); the
    parameters enter the traced program as arguments, so ``pure`` works under ``jax.jit``,
    ``jax.vmap`` and ``jax.grad`` like any JAX function. Other states ``fun`` touches (e.g.
    hidden states it initialises, the random key it sets) take their current values, which
    ``fun`` must overwrite before reading.
    """
    sf = brainstate.transform.StatefulFunction(fun)
    # tracing may replace the model's hidden states (online learners make per-trial ones) and
    # leave traced values in them; put the original state objects and values back afterwards,
    # so that nothing of the trace escapes into an enclosing transformation
    saved = [(s, s.value) for s in _readable(model.states().values())]
    attrs = {id(m): dict(vars(m)) for m in model.nodes().values()}
    try:
        sf.make_jaxpr(*example_args)
        states = sf.get_states(*example_args)
    finally:
        for m in model.nodes().values():
            if id(m) in attrs:
                for name, value in attrs[id(m)].items():
                    if isinstance(value, brainstate.HiddenState):
                        setattr(m, name, value)
        for st, value in saved:
            st.value = value
    key_of = {id(s): k for k, s in model.states(brainstate.ParamState).items()}

    def pure(params, *args):
        values = [params[key_of[id(s)]] if id(s) in key_of else s.value for s in states]
        _, out = sf.jaxpr_call(values, *args)
        return out

    return pure
