"""Online gradient methods built on braintrace: D-RTRL and pp-prop (ES-D-RTRL).

The recurrent cells are wrapped in a braintrace learner with per-trial (vmapped) states; the
readout stays outside the learner, so it gets its exact instantaneous gradient by ordinary
autodiff (inside the learner braintrace would give it exactly zero; see the notes on
braintrace 0.2.x). The per-step loss is the step's share of the batch objective, normalised by
the whole batch's mask weight, so the gradients summed over a sequence estimate the gradient
of exactly the loss that :class:`~neurotrain.training.BPTT` differentiates.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, ClassVar

import brainstate
import braintrace
import jax
import jax.numpy as jnp

from .._errors import ConfigError
from .._validate import check_choice, check_int, is_number
from ..models import noise_disabled
from ._compile import YNN_DOT_ONLY
from ._losses import l2_penalty
from ._methods import GradientMethod, max_abs, register_method, stateful_to_pure
from ._penalties import RatePenalty

__all__ = ["OnlineMethod", "DRTRL", "PPProp", "ESDRTRL"]


def _is_initial_state(path) -> bool:
    return isinstance(path, tuple) and bool(path) and path[-1] in ("h0", "c0")


@dataclasses.dataclass(frozen=True)
class OnlineMethod(GradientMethod):
    """Base class of the braintrace-based online methods.

    Parameters
    ----------
    vjp_method : {"multi-step", "single-step"}
        braintrace's VJP variant. ``"multi-step"`` (default) is exact at ``T = 1`` for every
        cell and better aligned with BPTT beyond (measured: cosine 0.93 vs 0.88 for a leaky
        tanh cell at ``T = 20``). ``"single-step"`` mis-scales the LSTM's input and cell gates
        in braintrace 0.2.6 (twice the true gradient already at ``T = 1``); a warning says so.
    warmup : int or "auto"
        Leading time steps run without computing gradients (the hidden states and eligibility
        traces still evolve, as the ``n_sim`` warm-up of braintrace's copy-task example). Any
        loss weight inside the warm-up is dropped from the gradient (not from the reported
        loss). ``"auto"``: the number of leading steps with zero loss weight in 1024 sampled
        trials of the task, resolved by :meth:`prepare`.
    update_every : int, optional
        ``None`` (default): accumulate the gradient over the whole trial and update once at
        its end. ``k``: apply an optimizer update every ``k`` time steps within the trial,
        truly online; the L2 penalty's gradient is spread over the updates in proportion to
        their length.

    Notes
    -----
    **Trainable initial states** (``train_h0=True``) get no online gradient: the initial
    state is consumed before the first eligibility-trace step. They are kept fixed (at their
    current value) and named once in a warning; train them with BPTT first, or build the
    cells with ``train_h0=False``.
    """

    vjp_method: str = "multi-step"
    warmup: int | str = 0
    update_every: int | None = None

    exact: ClassVar[bool] = False
    algorithm: ClassVar[Any] = None

    def __post_init__(self):
        check_choice("vjp_method", self.vjp_method, ("single-step", "multi-step"))
        if self.warmup != "auto":
            object.__setattr__(self, "warmup", check_int("warmup", self.warmup, minimum=0,
                                                         fix="Or pass warmup='auto'."))
        object.__setattr__(self, "update_every", check_int("update_every", self.update_every, minimum=1,
                                                           allow_none=True))

    # --- configuration -------------------------------------------------------------------------
    def algorithm_options(self) -> dict[str, Any]:
        return {"vjp_method": self.vjp_method}

    def compiler_options(self) -> dict[str, str]:
        """On the CPU, YNNPACK fusions for matrix products only: its fusion of reductions makes
        the sum of the per-trial weight gradients of braintrace's vmapped learner about two
        thirds of a step (measured: a D-RTRL step of a GRU of 128 units on the copy task is
        about 3x faster without it, with the same numbers)."""
        return dict(YNN_DOT_ONLY) if jax.default_backend() == "cpu" else {}

    def _how(self, path) -> str:
        if path and path[0] == "readout":
            return "exact instantaneous gradient (readout, kept outside the online learner)"
        return f"online, approximate ({self.name}, {self.vjp_method} VJP)"

    # --- checks --------------------------------------------------------------------------------
    def prepare(self, model, task) -> OnlineMethod:
        """Check the pairing and resolve ``warmup="auto"`` from ``task``; returns a copy."""
        if self.vjp_method == "single-step" and model is not None and any(
                c.kind == "lstm" for c in model.layers):
            warnings.warn(
                f"{self.name}: braintrace's single-step VJP gives the LSTM's input and cell gates twice "
                f"their true gradient (measured at T=1 against BPTT); use vjp_method='multi-step'.",
                stacklevel=3,
            )
        if task is None:
            return self
        T = task.num_steps()
        warmup = self.warmup
        if warmup == "auto":
            batch = task.sample(jax.random.PRNGKey(0), 1024)
            m = batch.mask.reshape(batch.mask.shape[0], -1).max(axis=1)
            nz = jnp.flatnonzero(m > 0, size=1, fill_value=T)
            warmup = int(nz[0])
        if warmup >= T:
            raise ConfigError(
                f"warmup={warmup} leaves no time step to learn from: the task's trials "
                f"have T={T} steps. Use a warm-up shorter than the trial."
            )
        return dataclasses.replace(self, warmup=warmup)

    def untrained_parameters(self, model) -> dict[Any, str]:
        """The parameters this method cannot train, with the reason, found from braintrace itself."""
        keys = list(model.states(brainstate.ParamState))
        out = {k: ("a trainable initial state gets no online gradient (it is consumed before the "
                   "first eligibility-trace step); it stays fixed. Train it with BPTT or use "
                   "train_h0=False.") for k in keys if _is_initial_state(k)}
        x0 = jnp.zeros((1, model.num_in))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = braintrace.compile(model.recurrent(), self.algorithm, x0, batch_size=1,
                                        **self.algorithm_options())
        seen = {tuple(p) for r in report.graph.hidden_param_op_relations for p in r.trainable_paths.values()}
        for k in keys:
            if k[0] == "layers" and not _is_initial_state(k) and k not in seen:
                out[k] = ("braintrace finds no eligibility-trace path from this weight to a hidden "
                          "state (is its matrix product a braintrace op whose output has the hidden "
                          "state's shape?); it would get no online gradient and stays fixed.")
        return out

    # --- the step ------------------------------------------------------------------------------
    def train_step(self, ctx, params, opt_state, batch, key):
        return self._pure_step(ctx, params, opt_state, batch, key, apply=True)

    def gradients(self, ctx, params, batch, key):
        """The gradient accumulated over the trial, not applied (``update_every=None`` only)."""
        if self.update_every is not None:
            raise ConfigError(f"{self.name}: the gradient of a whole batch is defined for update_every=None "
                              f"(one update per sequence); got update_every={self.update_every}.")
        _, grads, loss, aux = self._pure_step(ctx, params, None, batch, key, apply=False)
        return grads, loss, aux

    def _pure_step(self, ctx, params, opt_state, batch, key, *, apply: bool):
        if self.warmup == "auto":
            raise ConfigError(f"{self.name}: warmup='auto' must be resolved first: use "
                              f"method.prepare(model, task) (train() does it).")
        if self.forward_transform(ctx, batch) is not None:
            raise ConfigError(f"{self.name} cannot train with a forward-pass transform.")
        if ctx.loop(batch) is not None:
            raise ConfigError(f"{self.name} cannot train on the closed-loop task {ctx.task.name!r} (its inputs "
                              f"depend on the network's answers within the trial); use BPTT or its CD, "
                              f"SCTT and DASC variants.")
        if ctx.overrides:
            raise ConfigError(f"{self.name} reads the noise levels from the cells; per-network noise levels "
                              f"need BPTT.")
        model = ctx.forward.model

        def inner(opt_state, batch, key):
            if key is None:
                with noise_disabled(model):
                    return self._stateful_step(ctx, model, opt_state, batch, apply)
            brainstate.random.set_key(key)
            return self._stateful_step(ctx, model, opt_state, batch, apply)

        pure = stateful_to_pure(inner, model, (opt_state, batch, key))
        return pure(params, opt_state, batch, key)

    def _stateful_step(self, ctx, model, opt_state, batch, apply: bool):
        """The step on the model's own states (braintrace needs modules); made pure by
        :func:`~neurotrain.training._methods.stateful_to_pure`. With ``apply=False`` the
        accumulated gradient is returned in place of the optimiser state."""
        objective = ctx.objective
        objective.check_online(self.name)
        pstates = model.states(brainstate.ParamState)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # braintrace notes h0 "not found in the compiled model"
            learner = braintrace.compile(model.recurrent(dt=ctx.dt), self.algorithm, batch.inputs[0],
                                         batch_size=batch.batch_size, vmap=True, **self.algorithm_options())
        online = {k: v for k, v in pstates.items() if not _is_initial_state(k)}
        T, W = batch.num_steps, int(self.warmup)
        denom = objective.normaliser(batch.mask, model.num_out)
        rate_scale = objective.rate_l2 / (T * batch.batch_size * model.num_rec)
        zeros = {k: jnp.zeros_like(v.value) for k, v in pstates.items() if _is_initial_state(k)}
        # penalties: of the rates, per step (their share of the trial mean); of the weights, at the update
        rate_pens = tuple(p for p in objective.penalties if isinstance(p, RatePenalty))
        step_scale = 1.0 / (T * batch.batch_size * model.num_rec)
        start = {key: s.value for key, s in pstates.items()}
        weight_total, weight_terms = objective.weight_penalty(start) if objective.penalties else (0.0, {})

        def weight_penalty_grad():
            values = {key: s.value for key, s in pstates.items()}
            g = jax.grad(lambda v: objective.weight_penalty(v)[0])(values)
            return {key: g[key] for key in online}

        def losses(x, y, m):
            h, activity = learner(x)
            task = objective.step_loss_sum(model.readout(h), y, m) / denom
            rate = rate_scale * jnp.sum(activity ** 2) if objective.uses_rate else 0.0
            if rate_pens:
                pens = tuple(step_scale * p.step_sum(activity) for p in rate_pens)
                return task, rate, max_abs(activity), pens
            return task, rate, max_abs(activity)

        def step_loss(x, y, m):
            task, rate, peak, *pens = losses(x, y, m)
            total = task + rate
            for p, v in zip(rate_pens, pens[0] if pens else ()):
                total = total + p.coef * v
            return total, (task, rate, peak, *pens)

        grad_fn = brainstate.transform.grad(step_loss, online, has_aux=True, return_value=True)

        # warm-up: evolve states and traces, no gradient; the loss is still reported
        seq = (batch.inputs, batch.targets, batch.mask)
        warm_pens = tuple(0.0 for _ in rate_pens)
        if W:
            wt, wr, wp, *wq = brainstate.transform.for_loop(losses, *jax.tree.map(lambda a: a[:W], seq))
            warm_task, warm_rate, warm_peak = wt.sum(), jnp.sum(wr), jnp.max(wp)
            if wq:
                warm_pens = tuple(jnp.sum(v) for v in wq[0])
        else:
            warm_task = warm_rate = warm_peak = 0.0
        rest = jax.tree.map(lambda a: a[W:], seq)
        n = T - W
        k = n if self.update_every is None else min(self.update_every, n)
        init = {key: jnp.zeros_like(v.value) for key, v in online.items()}

        def update(acc, length, opt_state):
            if objective.uses_l2:  # the L2 gradient, spread over the updates by their length
                acc = {key: acc[key] + (length / n) * 2.0 * objective.l2 * online[key].value for key in acc}
            if weight_terms:      # so are the weight penalties' gradients
                g = weight_penalty_grad()
                acc = {key: acc[key] + (length / n) * g[key] for key in acc}
            current = {key: s.value for key, s in pstates.items()}
            new, opt_state, norm = ctx.update(current, opt_state, {**acc, **zeros})
            for key, s in pstates.items():
                s.value = new[key]
            return opt_state, norm

        if k == n:  # one update per sequence
            def body(acc, s):
                g, _, (task, rate, peak, *pens) = grad_fn(*s)
                return jax.tree.map(jnp.add, acc, g), (task, rate, peak, *pens)

            acc, (task, rate, peak, *pens) = brainstate.transform.scan(body, init, rest)
            if apply:
                opt_state, norm = update(acc, n, opt_state)
            else:   # the gradient of the batch, as BPTT's (the L2 term and the penalties included)
                if objective.uses_l2:
                    acc = {key: acc[key] + 2.0 * objective.l2 * online[key].value for key in acc}
                if weight_terms:
                    g = weight_penalty_grad()
                    acc = {key: acc[key] + g[key] for key in acc}
                opt_state = {**acc, **zeros}
                norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(opt_state)))
        else:  # an update every k steps (and at the end), in one scan with a conditional update
            ends = (jnp.arange(n) + 1) % k == 0
            ends = ends.at[-1].set(True)
            lengths = jnp.where(jnp.arange(n) == n - 1, n - (n - 1) // k * k, k).astype(jnp.float32)

            def body(carry, s):
                acc, opt_state, norm = carry
                (x, y, m), end, length = s
                g, _, (task, rate, peak, *pens) = grad_fn(x, y, m)
                acc = jax.tree.map(jnp.add, acc, g)

                def do_update(acc, opt_state, norm):
                    opt_state, norm = update(acc, length, opt_state)
                    return jax.tree.map(jnp.zeros_like, acc), opt_state, norm

                carry = brainstate.transform.cond(end, do_update, lambda a, o, nm: (a, o, nm),
                                                  acc, opt_state, norm)
                return carry, (task, rate, peak, *pens)

            (_, opt_state, norm), (task, rate, peak, *pens) = brainstate.transform.scan(
                body, (init, opt_state, jnp.zeros((), jnp.float32)), (rest, ends, lengths))
        task_loss = warm_task + task.sum()
        aux = {"task_loss": task_loss, "grad_norm": norm}
        loss = task_loss
        if objective.uses_l2:
            aux["l2"] = l2_penalty({key: s.value for key, s in pstates.items()})
            loss = loss + objective.l2 * aux["l2"]
        if objective.uses_rate:
            aux["rate"] = (warm_rate + jnp.sum(rate)) / objective.rate_l2
            loss = loss + objective.rate_l2 * aux["rate"]
        for p, w, v in zip(rate_pens, warm_pens, pens[0] if pens else ()):
            aux[p.name] = w + jnp.sum(v)
            loss = loss + p.coef * aux[p.name]
        for name, v in weight_terms.items():
            aux[name] = v
        if weight_terms:
            loss = loss + weight_total
        if ctx.monitor:
            aux["max_activity"] = jnp.maximum(warm_peak, jnp.max(peak))
        return {key: s.value for key, s in pstates.items()}, opt_state, loss, aux


@register_method
@dataclasses.dataclass(frozen=True)
class DRTRL(OnlineMethod):
    """Diagonal real-time recurrent learning (braintrace ``D_RTRL``): approximate, online.

    Memory per trial is ``O(num_params)`` eligibility traces and does not grow with the trial
    length ``T`` (BPTT's grows linearly). The gradient is exact at ``T = 1`` and approximate
    beyond (diagonal approximation of the recurrent Jacobian); it is best for leaky cells at
    moderate recurrence. See :class:`OnlineMethod` for the options.

    Examples
    --------
    >>> import neurotrain as nt
    >>> method = nt.training.DRTRL(vjp_method="multi-step", update_every=None)
    >>> method.exact
    False
    """

    name: ClassVar[str] = "d-rtrl"
    algorithm: ClassVar[Any] = braintrace.D_RTRL


@register_method
@dataclasses.dataclass(frozen=True)
class PPProp(OnlineMethod):
    """pp-prop / ES-D-RTRL (braintrace ``pp_prop``): online, with input-output-sized traces.

    Cheaper than :class:`DRTRL` (traces of size ``O(num_in + num_rec)`` per weight matrix
    instead of ``O(num_in * num_rec)``), at the price of a further approximation: the
    eligibility trace is factorised and smoothed with ``decay`` (or an integer ``rank``).

    Parameters
    ----------
    decay : float or int
        braintrace's ``decay_or_rank`` (default 0.9).

    Examples
    --------
    >>> import neurotrain as nt
    >>> nt.training.PPProp(decay=0.95).name
    'pp-prop'
    """

    decay: float | int = 0.9

    name: ClassVar[str] = "pp-prop"
    algorithm: ClassVar[Any] = braintrace.pp_prop

    def __post_init__(self):
        super().__post_init__()
        d = self.decay
        rank = isinstance(d, int) and not isinstance(d, bool) and d >= 1
        decay = is_number(d) and not isinstance(d, int) and 0.0 < float(d) < 1.0
        if not (rank or decay):
            raise ConfigError(f"decay must be in (0, 1) (or an integer rank >= 1); got {d!r}.")

    def algorithm_options(self):
        return {"vjp_method": self.vjp_method, "decay_or_rank": self.decay}


@register_method
@dataclasses.dataclass(frozen=True)
class ESDRTRL(PPProp):
    """ES-D-RTRL: braintrace's other name for pp-prop (:class:`PPProp`); identical gradients."""

    name: ClassVar[str] = "es-d-rtrl"
