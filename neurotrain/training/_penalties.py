"""Regularisers added to the training loss: L1/L2 on chosen weight matrices, on firing rates,
and custom penalties.

A penalty has a coefficient and a value; the loss gains ``coef * value`` and the value is
reported at every step under the penalty's :attr:`~Penalty.name` (in
``TrainResult.aux``, the callbacks' logs and ``metrics.csv``), as the built-in ``l2`` and
``rate`` terms are. Weight penalties act on the **effective** weights, those the network
uses (masked and signed under Dale's law or connectivity masks; for an unconstrained model
the parameters themselves). Pass them as ``train(..., penalties=[...])``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from .._errors import ConfigError
from .._validate import check_choice, check_number

__all__ = ["Penalty", "WeightPenalty", "RatePenalty", "CustomPenalty", "check_penalties"]


class Penalty:
    """Base class of the regularisers passed as ``train(..., penalties=[...])``.

    Subclasses define :attr:`name`, :attr:`coef`, :meth:`value` and whether the value
    depends on the activity (:attr:`uses_activity`).
    """

    #: whether :meth:`value` reads the activity (online methods need to know)
    uses_activity: ClassVar[bool] = True
    coef: float
    name: str

    def value(self, params: Mapping[str, Any], activity, batch) -> jax.Array:
        """The penalty's value (before ``coef``).

        Parameters
        ----------
        params : dict of str to array
            The effective weights by dotted path (``"layers.0.W_rec"``, ``"readout.W"``...).
        activity : array, shape ``(T, B, num_rec)``
            Every layer's ``h``, concatenated.
        batch : TrialBatch
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description (recorded in checkpoints and run directories)."""
        return {"penalty": type(self).__name__, "name": self.name, "coef": self.coef}


def _norm(kind: str, x) -> jax.Array:
    return jnp.sum(jnp.abs(x)) if kind == "l1" else jnp.sum(x ** 2)


@dataclasses.dataclass(frozen=True)
class WeightPenalty(Penalty):
    """L1 (``sum |W|``) or L2 (``sum W**2``) of chosen weight matrices, times ``coef``.

    Parameters
    ----------
    norm : {"l1", "l2"}
    coef : float
        Non-negative coefficient.
    params : str or sequence of str, optional
        Which parameters: dotted paths (``"layers.0.W_rec"``, ``"readout.W"``) or a cell
        parameter's name (``"W_rec"``: that parameter of every layer). Default: every weight
        matrix (the parameters named ``W...``: input, recurrent, gate and readout weights; not
        the biases, initial states or time constants).
    name : str, optional
        The name reported in the metrics; default ``"<norm>_<params>"``, e.g. ``"l1_W_rec"``
        (``"l2_weights"`` for every weight matrix).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> p = WeightPenalty("l1", 1e-3, "W_rec")
    >>> p.name, float(p.value({"layers.0.W_rec": jnp.array([[1.0, -2.0]]), "readout.W": jnp.ones((2, 1))}, None, None))
    ('l1_W_rec', 3.0)
    """

    norm: str
    coef: float
    params: str | Sequence[str] | None = None
    name: str = ""

    uses_activity: ClassVar[bool] = False

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "norm", check_choice("norm", self.norm, ("l1", "l2")))
        set_(self, "coef", check_number("coef", self.coef, minimum=0.0))
        if isinstance(self.params, str):
            set_(self, "params", (self.params,))
        elif self.params is not None:
            names = tuple(str(p) for p in self.params)
            if not names:
                raise ConfigError("WeightPenalty.params is empty; name the weights (e.g. 'W_rec') or pass None "
                                  "for every weight matrix.")
            set_(self, "params", names)
        if not self.name:
            label = "weights" if self.params is None else "+".join(self.params)
            set_(self, "name", f"{self.norm}_{label}")

    def select(self, names: Sequence[str]) -> list[str]:
        """The dotted names (of ``names``) this penalty covers; an unknown name is a clear error."""
        names = list(names)
        if self.params is None:
            return [n for n in names if n.split(".")[-1].startswith("W") or n == "readout.W"]
        out = []
        for p in self.params:
            hit = [n for n in names if n == p or (n.startswith("layers.") and n.split(".")[-1] == p)]
            if not hit:
                raise ConfigError(f"{type(self).__name__}(params={p!r}): the model has no such parameter; its "
                                  f"parameters are {', '.join(names)} (a cell parameter's name such as 'W_rec' "
                                  f"covers every layer).")
            out += [n for n in hit if n not in out]
        return out

    def value(self, params, activity, batch):
        return sum(_norm(self.norm, params[n]) for n in self.select(params))

    def describe(self):
        return {**super().describe(), "norm": self.norm, "params": None if self.params is None else list(self.params)}


@dataclasses.dataclass(frozen=True)
class RatePenalty(Penalty):
    """L1 (``mean |h|``) or L2 (``mean h**2``) of the firing rates over time, trials and units.

    Parameters
    ----------
    norm : {"l1", "l2"}
    coef : float
        Non-negative coefficient.
    name : str, optional
        Default ``"rate_l1"`` / ``"rate_l2"``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> float(RatePenalty("l1", 0.1).value({}, jnp.array([[[1.0, -3.0]]]), None))
    2.0
    """

    norm: str
    coef: float
    name: str = ""

    uses_activity: ClassVar[bool] = True

    def __post_init__(self):
        object.__setattr__(self, "norm", check_choice("norm", self.norm, ("l1", "l2")))
        object.__setattr__(self, "coef", check_number("coef", self.coef, minimum=0.0))
        if not self.name:
            object.__setattr__(self, "name", f"rate_{self.norm}")

    def step_sum(self, activity_t) -> jax.Array:
        """The sum of the penalised quantity over one time step (online methods divide by
        ``T * B * num_rec``)."""
        return _norm(self.norm, activity_t)

    def value(self, params, activity, batch):
        return _norm(self.norm, activity) / activity.size

    def describe(self):
        return {**super().describe(), "norm": self.norm}


@dataclasses.dataclass(frozen=True)
class CustomPenalty(Penalty):
    """A penalty of your own: ``coef * fn(params, activity, batch)``.

    Parameters
    ----------
    fn : callable
        ``fn(params, activity, batch) -> scalar``, a pure JAX function: ``params`` are the
        effective weights by dotted path, ``activity`` is ``(T, B, num_rec)``, ``batch`` the
        :class:`~neurotrain.tasks.TrialBatch` (``batch.mask``, ``batch.info``...).
    coef : float
        Non-negative coefficient.
    name : str
        The name reported in the metrics.
    uses_activity : bool
        Whether ``fn`` reads ``activity`` or ``batch``. Online methods can train penalties of
        the weights only (``uses_activity=False``; they get ``activity=None, batch=None``).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> # a metabolic cost on the summed recurrent input of every unit
    >>> cost = CustomPenalty(lambda p, a, b: jnp.sum(jnp.abs(p["layers.0.W_rec"]).sum(0) ** 2), 1e-4,
    ...                      name="input_load", uses_activity=False)
    >>> float(cost.value({"layers.0.W_rec": jnp.ones((2, 2))}, None, None))
    8.0
    """

    fn: Callable
    coef: float = 1.0
    name: str = "custom"
    uses_activity: bool = True

    def __post_init__(self):
        if not callable(self.fn):
            raise ConfigError(f"CustomPenalty.fn must be a function (params, activity, batch) -> scalar; "
                              f"got {self.fn!r}.")
        object.__setattr__(self, "coef", check_number("coef", self.coef, minimum=0.0))
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"CustomPenalty.name must be a non-empty string; got {self.name!r}.")

    def value(self, params, activity, batch):
        v = jnp.asarray(self.fn(params, activity, batch))
        if v.shape != ():
            raise ConfigError(f"CustomPenalty {self.name!r} returned shape {v.shape}; it must return a scalar "
                              f"(e.g. jnp.sum(...)).")
        return v

    def describe(self):
        return {**super().describe(), "fn": getattr(self.fn, "__name__", type(self.fn).__name__),
                "uses_activity": self.uses_activity}


#: names the objective reports itself
_RESERVED = ("task_loss", "l2", "rate", "grad_norm", "max_activity")


def check_penalties(penalties, names: Sequence[str] | None = None) -> tuple[Penalty, ...]:
    """``penalties`` as a checked tuple: each a :class:`Penalty`, names unique and not those
    of the built-in terms; with the model's parameter ``names``, weight penalties must name
    existing parameters.

    Examples
    --------
    >>> [p.name for p in check_penalties([RatePenalty("l1", 0.1)], ["layers.0.W_rec"])]
    ['rate_l1']
    >>> check_penalties([WeightPenalty("l1", 0.1, "W_out")], ["layers.0.W_rec", "readout.W"])
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: WeightPenalty(params='W_out'): the model has no such parameter; its parameters are layers.0.W_rec, readout.W (a cell parameter's name such as 'W_rec' covers every layer).
    """
    if penalties is None:
        return ()
    if isinstance(penalties, Penalty):
        penalties = [penalties]
    out = tuple(penalties)
    seen: set[str] = set()
    for i, p in enumerate(out):
        if not isinstance(p, Penalty):
            raise ConfigError(f"penalties[{i}] must be a neurotrain.training penalty (WeightPenalty, RatePenalty, "
                              f"CustomPenalty); got {p!r}.")
        if p.name in seen or p.name in _RESERVED:
            what = "is used twice" if p.name in seen else "is a built-in term of the loss"
            raise ConfigError(f"penalties[{i}]: the name {p.name!r} {what}; give it another with name=...")
        seen.add(p.name)
        if names is not None and isinstance(p, WeightPenalty):
            p.select(names)
    return out
