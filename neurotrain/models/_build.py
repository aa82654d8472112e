"""Build models by name (for configs and the command line)."""

from __future__ import annotations

from typing import Any

from .._errors import ConfigError
from .._registry import Registry
from .._validate import check_int
from ._cells import GRUCell, LeakyRNNCell, LSTMCell, VanillaRNNCell
from ._constraints import decode_mask, short_repr
from ._rnn import RNN

__all__ = ["CELLS", "register_cell", "get_cell_class", "build_model", "model_from_config", "resolve_cell_params"]

#: the cell kinds by name (``"vanilla"``, ``"leaky"``, ``"gru"``, ``"lstm"``), with their aliases
CELLS: Registry[type] = Registry("cell", hint="Register your own with neurotrain.models.register_cell.")


def register_cell(name: str, *, aliases: tuple[str, ...] = ()):
    """Class decorator: make a :class:`~neurotrain.models.Cell` subclass buildable by ``name``.

    The class is added to :data:`CELLS` under ``name`` (and ``aliases``; case and ``-`` / ``_``
    do not matter), so :func:`build_model`, :func:`model_from_config` (and so run
    directories) and the command line's ``--cell`` find it once the module that registers it
    is imported. Its ``kind`` is set to the normalised name.

    Parameters
    ----------
    name : str
        The cell's name, e.g. ``"noisy-tanh"``.
    aliases : tuple of str
        Other names for it.

    Returns
    -------
    callable
        The decorator; it returns the class unchanged (but for ``kind``).

    Examples
    --------
    >>> import brainstate, braintrace, jax.numpy as jnp, neurotrain as nt
    >>> @register_cell("doc-tanh", aliases=("doc_tanh_rnn",))
    ... class TanhCell(nt.models.Cell):
    ...     def __init__(self, num_in, num_rec, *, train_h0=False):
    ...         super().__init__(num_in, num_rec, train_h0=train_h0)
    ...         self.W = brainstate.ParamState(jnp.zeros((num_in + num_rec, num_rec)))
    ...     def step(self, params, state, x, *, key=None, dt=None):
    ...         (h,) = state
    ...         return (jnp.tanh(braintrace.matmul(jnp.concatenate([x, h], -1), params["W"])),)
    >>> model = build_model("Doc_Tanh_RNN", num_in=2, num_rec=5, num_out=1)
    >>> type(model.layers[0]).__name__, model.layers[0].kind, model.run(jnp.ones((4, 3, 2)))[1].shape
    ('TanhCell', 'doc-tanh', (4, 3, 5))
    """
    def deco(cls):
        CELLS.add(name, cls, aliases=aliases)
        cls.kind = CELLS.key(name)
        return cls

    return deco


for _cls, _aliases in ((VanillaRNNCell, ("rnn",)), (LeakyRNNCell, ("leaky-rnn", "ctrnn", "rate")),
                       (GRUCell, ()), (LSTMCell, ())):
    CELLS.add(_cls.kind, _cls, aliases=_aliases)


def get_cell_class(name: str):
    """Return the cell class registered as ``name`` (``vanilla``, ``leaky``, ``gru``, ``lstm``)."""
    return CELLS.get(name)


def resolve_cell_params(cell: str, task=None, **cell_params: Any) -> dict[str, Any]:
    """The parameters a cell of kind ``cell`` is built with for ``task``.

    Cells that integrate in time (they take ``dt`` and ``tau``, e.g. ``"leaky"``) get the
    task's ``dt`` and the cell's default ``tau`` unless given, so that the model and the task
    step in the same ``dt``. This is the one place that default lives: ``build_model`` and the
    command line both use it.

    Examples
    --------
    >>> import neurotrain as nt
    >>> resolve_cell_params("leaky", nt.tasks.PerceptualDecisionMaking(dt=10.0), sigma_rec=0.05)
    {'dt': 10.0, 'tau': 100.0, 'sigma_rec': 0.05}
    >>> resolve_cell_params("gru", nt.tasks.Copy())
    {}
    """
    import inspect

    cls = get_cell_class(cell)
    sig = inspect.signature(cls.__init__).parameters
    out: dict[str, Any] = {}
    if task is not None and "dt" in sig and "tau" in sig:
        out["dt"] = float(task.dt)
        out["tau"] = float(sig["tau"].default)
    out.update(cell_params)
    return out


def build_model(cell: str, num_in: int | None = None, num_rec: int = 128, num_out: int | None = None, *,
                task=None, num_layers: int = 1, readout_init="xavier_uniform", readout_mask=None,
                readout_from: str = "all", positive_readout: bool = False, freeze=None,
                readout_activation: str = "linear", **cell_params: Any) -> RNN:
    """Build an :class:`RNN` of ``num_layers`` cells of one kind.

    Parameters
    ----------
    cell : str
        ``"vanilla"``, ``"leaky"``, ``"gru"`` or ``"lstm"``.
    num_in, num_rec, num_out : int
        Input width, units per layer, output width. ``num_in`` and ``num_out`` default to the
        task's when ``task`` is given.
    task : neurotrain.tasks.Task, optional
        The task the model is for: gives ``num_in``, ``num_out`` and, for cells that take a time
        step, ``dt`` (see :func:`resolve_cell_params`).
    num_layers : int
        Number of stacked layers.
    readout_init, readout_mask, readout_from, positive_readout, freeze, readout_activation
        Passed to :class:`RNN` (the readout and frozen parameters).
    **cell_params
        Passed to every cell (e.g. ``tau=100.0, dt=20.0, sigma_rec=0.05`` for ``"leaky"``;
        ``dale=0.8``, ``w_rec_mask=...`` for constraints).

    Examples
    --------
    >>> model = build_model("gru", num_in=10, num_rec=32, num_out=10, num_layers=2)
    >>> [type(c).__name__ for c in model.layers]
    ['GRUCell', 'GRUCell']
    >>> import neurotrain as nt
    >>> build_model("leaky", num_rec=16, task=nt.tasks.PerceptualDecisionMaking(dt=10.0)).layers[0].dt
    10.0
    """
    cls = get_cell_class(cell)
    num_layers = check_int("num_layers", num_layers, minimum=1)
    if task is not None:
        for name, given, wanted in (("num_in", num_in, task.num_in), ("num_out", num_out, task.num_out)):
            if given is not None and given != wanted:
                raise ConfigError(f"{name}={given} does not match task {task.name!r}, which has "
                                  f"{name}={wanted}; leave {name} out to take the task's.")
        num_in, num_out = task.num_in, task.num_out
        cell_params = resolve_cell_params(cell, task, **cell_params)
    if num_in is None or num_out is None:
        raise ConfigError("build_model needs num_in and num_out, or task= to take them from.")
    try:
        cells = [cls(num_in if i == 0 else num_rec, num_rec, **cell_params) for i in range(num_layers)]
    except TypeError as e:
        import inspect
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "num_in", "num_rec")]
        constraints = sorted(set(cell_params) & {"dale_mode", "positive_inputs", "w_in_mask", "w_rec_mask",
                                                 "autapses", "train_tau", "tau_bounds"} - set(allowed))
        if constraints:
            raise ConfigError(f"{constraints[0]}={short_repr(cell_params[constraints[0]])}: cell {cls.kind!r} takes no "
                              f"biological constraints (Dale's law, connectivity masks, trainable time "
                              f"constants); they are available for the leaky and vanilla cells. Use "
                              f"cell='leaky' or drop {constraints[0]}.") from None
        raise ConfigError(f"bad parameter for cell {cell!r}: {e}. Allowed: {', '.join(allowed)}.") from None
    return RNN(cells, num_out, readout_init=readout_init, readout_mask=readout_mask, readout_from=readout_from,
               positive_readout=positive_readout, freeze=freeze, readout_activation=readout_activation)


def model_from_config(config: dict[str, Any]) -> RNN:
    """Rebuild an :class:`RNN` from :meth:`RNN.config` (weights are drawn fresh; constraints,
    masks and unit types are those recorded).

    Examples
    --------
    >>> import numpy as np
    >>> model = build_model("leaky", 3, 10, 2, dale=0.8, w_rec_mask=np.eye(10) == 0, readout_from="excitatory")
    >>> again = model_from_config(model.config())
    >>> bool((again.layers[0].w_rec_mask == model.layers[0].w_rec_mask).all()), int(again.layers[0].unit_types.sum())
    (True, 6)
    """
    cells = []
    for layer in config["layers"]:
        layer = dict(layer)
        cls = get_cell_class(layer.pop("kind"))
        for key in ("w_in_mask", "w_rec_mask"):
            if key in layer:
                layer[key] = decode_mask(layer[key])
        if "tau_bounds" in layer and layer["tau_bounds"] is not None:
            layer["tau_bounds"] = tuple(layer["tau_bounds"])
        cells.append(cls(**layer))
    return RNN(cells, config["num_out"], readout_init=config.get("readout_init", "xavier_uniform"),
               readout_mask=decode_mask(config.get("readout_mask")), readout_from=config.get("readout_from", "all"),
               positive_readout=bool(config.get("positive_readout", False)), freeze=config.get("freeze"),
               readout_activation=config.get("readout_activation", "linear"))
