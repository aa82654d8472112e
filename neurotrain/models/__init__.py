"""Recurrent cells, the ``RNN`` stack with its readout, its pure forward pass, and initialisers.

Every cell implements one pure ``step(params, state, x, *, key, dt)``. :func:`forward` (or
``model.forward()``) is the model's functional view, :class:`Forward`, whose ``run`` is the
one forward pass that training, evaluation and analysis use; :func:`step_function` is the
noise-free one-step map built on it. :func:`build_model` builds a model by cell name (the
:data:`CELLS` registry; :func:`register_cell` adds one), for a task with ``task=``.
"""

from ._activations import ACTIVATIONS, get_activation
from ._base import Cell
from ._build import (
    CELLS,
    build_model,
    get_cell_class,
    model_from_config,
    register_cell,
    resolve_cell_params,
)
from ._cells import GRUCell, LeakyRNNCell, LSTMCell, VanillaRNNCell
from ._constraints import (
    DALE_MODES,
    EXCITATORY,
    INHIBITORY,
    Areas,
    WeightTransform,
    check_mask,
    decode_mask,
    encode_mask,
    multi_area,
    no_autapses,
    random_mask,
    unit_types,
)
from ._forward import ClosedLoop, Forward, ForwardTransform, forward
from ._init import INITIALIZER_NAMES, ei_balanced, initialize, make_initializer, spectral_radius
from ._rnn import RNN, Readout, noise_disabled
from ._step import StepFunction, step_function, unit_alpha

__all__ = [
    "Cell", "VanillaRNNCell", "LeakyRNNCell", "GRUCell", "LSTMCell", "RNN", "Readout",
    "noise_disabled", "StepFunction", "step_function", "Forward", "ForwardTransform", "ClosedLoop", "forward", "build_model", "resolve_cell_params", "model_from_config", "get_cell_class", "CELLS", "register_cell",
    "make_initializer", "initialize", "INITIALIZER_NAMES", "get_activation", "ACTIVATIONS",
    "unit_types", "random_mask", "no_autapses", "multi_area", "Areas", "WeightTransform", "ei_balanced",
    "spectral_radius", "encode_mask", "decode_mask", "check_mask", "unit_alpha", "EXCITATORY", "INHIBITORY", "DALE_MODES",
]
