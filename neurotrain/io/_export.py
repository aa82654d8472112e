"""Export trained weights as plain numpy arrays plus a JSON description.

For people who analyse networks in numpy (or MATLAB, R, Julia...) without installing JAX:
``neurotrain export RUN_DIR --format npz`` (or :func:`neurotrain.runs.export_run`, or
:func:`export_weights` for a model in memory) writes

``weights.npz``
    one array per parameter, named by its dotted path (``layers.0.W_rec``, ``readout.W``...).
    For a constrained model (Dale's law, connectivity masks, non-negative or E-only readout)
    these are the **effective** weights the network uses (masked and signed), and the
    constraints' constants come too: ``layers.<i>.unit_types`` (+1 excitatory, -1
    inhibitory), ``layers.<i>.W_in_mask`` / ``W_rec_mask`` / ``W_mask`` and ``readout.W_mask``
    (0/1), ``layers.<i>.tau`` (per-unit or trained time constants, ms)
``description.json``
    the task, the model config, each layer's kind, update equations, activation and which
    array plays which role, its constraints, and every array's shape and dtype

and :func:`read_export` reads them back. :func:`numpy_forward` runs the exported network
with numpy alone (noise-free), which shows that the export is self-sufficient.

Conventions: arrays are time-major (inputs ``(T, B, num_in)``), vectors are rows and
weights multiply from the right (``x @ W``), so ``W_in`` has shape ``(num_in, num_rec)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import CheckpointError, ConfigError
from .._version import __version__
from ._checkpoint import _flat_param_values, _model_params
from ._files import atomic_write_bytes, atomic_write_text, jsonable

__all__ = ["export_weights", "read_export", "numpy_forward", "EXPORT_FORMATS", "WEIGHTS_FILE",
           "DESCRIPTION_FILE"]

EXPORT_FORMATS = ("npz",)
WEIGHTS_FILE = "weights.npz"
DESCRIPTION_FILE = "description.json"
_FORMAT_NAME = "neurotrain-export"
_FORMAT_VERSION = 1

_EQUATIONS = {
    "vanilla": ["h_t = f([x_t, h_{t-1}] @ W + b)"],
    "leaky": ["h_t = (1 - alpha) * h_{t-1} + alpha * f(h_{t-1} @ W_rec + x_t @ W_in + b)",
              "alpha = dt / tau; the training noise (sigma_in, sigma_rec) is left out"],
    "gru": ["z = sigmoid([x_t, h_{t-1}] @ W_z + b_z)",
            "r = sigmoid([x_t, h_{t-1}] @ W_r + b_r)",
            "n = tanh(x_t @ W_xn + b_xn + r * (h_{t-1} @ W_hn + b_hn))",
            "h_t = (1 - z) * n + z * h_{t-1}"],
    "lstm": ["i = sigmoid([x_t, h_{t-1}] @ W_i + b_i)", "f = sigmoid([x_t, h_{t-1}] @ W_f + b_f)",
             "g = tanh([x_t, h_{t-1}] @ W_g + b_g)", "o = sigmoid([x_t, h_{t-1}] @ W_o + b_o)",
             "c_t = f * c_{t-1} + i * g", "h_t = o * tanh(c_t)"],
}
_STATES = {"vanilla": ["h"], "leaky": ["h"], "gru": ["h"], "lstm": ["h", "c"]}
_ACTIVATION_TEXT = {
    "relu": "max(x, 0)", "tanh": "tanh(x)", "softplus": "log(1 + exp(x))",
    "sigmoid": "1 / (1 + exp(-x))", "retanh": "max(tanh(x), 0)", "linear": "x",
}


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


_NP_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "sigmoid": _sigmoid,
    "retanh": lambda x: np.maximum(np.tanh(x), 0.0),
    "linear": lambda x: x,
}


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _flat_weights(model) -> dict[str, np.ndarray]:
    """The parameters by dotted path; the effective weights of a constrained model."""
    weights = _flat_param_values(_model_params(model))
    effective = getattr(model, "effective_weights", None)
    if effective is not None:
        for k, v in effective().items():
            if k in weights:
                weights[k] = np.asarray(v, dtype=weights[k].dtype)
    return weights


def _constraint_arrays(model) -> dict[str, np.ndarray]:
    get = getattr(model, "constraint_arrays", None)
    return {} if get is None else {k: np.asarray(v) for k, v in get().items()}


def _describe(model, task, weights: Mapping[str, np.ndarray], extra: Mapping[str, Any] | None,
              constants: Mapping[str, np.ndarray] | None = None):
    config = model.config()
    constants = dict(constants or {})
    cells = list(getattr(model, "layers", ()))
    layers = []
    for i, layer in enumerate(config["layers"]):
        kind = layer["kind"]
        prefix = f"layers.{i}."
        entry = {
            "kind": kind,
            "num_in": layer["num_in"],
            "num_rec": layer["num_rec"],
            "equations": _EQUATIONS.get(kind, ["see the cell's docstring"]),
            "states": _STATES.get(kind, ["h"]),
            "parameters": {k[len(prefix):]: k for k in weights if k.startswith(prefix)},
        }
        if "activation" in layer:
            entry["activation"] = layer["activation"]
            entry["f"] = _ACTIVATION_TEXT.get(layer["activation"], "custom")
        if kind == "leaky":
            tau = constants.get(f"{prefix}tau")
            if tau is None:
                entry.update(alpha=layer["dt"] / layer["tau"], dt=layer["dt"], tau=layer["tau"])
            else:   # per-unit (or trained) time constants: alpha is a vector
                entry.update(alpha=(layer["dt"] / np.asarray(tau, np.float64)).tolist(), dt=layer["dt"],
                             tau=f"per unit: the array {prefix}tau (ms)")
            entry.update(sigma_in=layer.get("sigma_in", 0.0), sigma_rec=layer.get("sigma_rec", 0.0))
        entry["initial_state"] = ("the <state>0 arrays (trained)" if layer.get("train_h0")
                                  else "zeros")
        described = cells[i].describe_constraints() if i < len(cells) and hasattr(
            cells[i], "describe_constraints") else {}
        if described:
            entry["constraints"] = {**described, "arrays": sorted(k for k in constants if k.startswith(prefix)),
                                    "note": "the weight arrays are the effective weights the network uses "
                                            "(masked and signed); the raw parameters are in the checkpoint"}
        layers.append(entry)
    desc: dict[str, Any] = {
        "format": _FORMAT_NAME,
        "format_version": _FORMAT_VERSION,
        "neurotrain_version": __version__,
        "weights_file": WEIGHTS_FILE,
        "conventions": ("time-major arrays: inputs (T, B, num_in), outputs (T, B, num_out), activity "
                        "(T, B, num_rec); row vectors, weights multiply from the right (x @ W); "
                        "[a, b] is concatenation on the last axis; times in ms"),
        "model": config,
        "layers": layers,
        "readout": {"equation": "y_t = h_t @ W + b (h_t of the last layer)",
                    "parameters": {k[len("readout."):]: k for k in weights if k.startswith("readout.")}},
        "parameters": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in weights.items()},
    }
    readout = getattr(model, "readout", None)
    if readout is not None and (getattr(readout, "mask", None) is not None or getattr(readout, "positive", False)):
        desc["readout"]["constraints"] = {
            "from": config.get("readout_from", "all"), "positive": bool(getattr(readout, "positive", False)),
            "arrays": sorted(k for k in constants if k.startswith("readout.")),
            "note": "readout.W is the effective readout (masked and signed)"}
    if constants:
        desc["constants"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in constants.items()}
    if task is not None:
        desc["task"] = {**task.config(), "num_in": task.num_in, "num_out": task.num_out,
                        "dt": task.dt, "num_steps": task.num_steps(), "target_type": task.target_type}
    if extra:
        desc.update(extra)
    return jsonable(desc)


def export_weights(model, out_dir: str | os.PathLike, *, task=None, format: str = "npz",
                   extra: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """Write ``model``'s weights to ``out_dir/weights.npz`` and ``out_dir/description.json``.

    Parameters
    ----------
    model : neurotrain.models.RNN
    out_dir : str or PathLike
        Created if needed; existing export files are replaced (atomically).
    task : neurotrain.tasks.Task, optional
        Described in the JSON (name, parameters, sizes, ``dt``, ``T``).
    format : {"npz"}
        The only format so far: numpy's ``.npz`` (no pickle: every entry is a plain array).
    extra : dict, optional
        More entries for the description (:func:`neurotrain.runs.export_run` adds the run
        directory and the step).

    Returns
    -------
    (str, str)
        The paths of the weights and of the description.

    Examples
    --------
    >>> import tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> model = nt.models.build_model("vanilla", 1, 4, 1)
    >>> npz, js = export_weights(model, tempfile.mkdtemp())
    >>> weights, desc = read_export(npz)
    >>> sorted(weights), desc["layers"][0]["kind"]
    (['layers.0.W', 'layers.0.b', 'readout.W', 'readout.b'], 'vanilla')
    """
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"format={format!r} is not an export format; choose one of "
                          f"{', '.join(EXPORT_FORMATS)}.")
    out_dir = os.fspath(out_dir)
    weights = _flat_weights(model)
    constants = _constraint_arrays(model)
    desc = _describe(model, task, weights, extra, constants)
    import io as _io

    buf = _io.BytesIO()
    np.savez(buf, **weights, **constants)
    npz_path = os.path.join(out_dir, WEIGHTS_FILE)
    json_path = os.path.join(out_dir, DESCRIPTION_FILE)
    atomic_write_bytes(npz_path, buf.getvalue())
    atomic_write_text(json_path, json.dumps(desc, indent=2, allow_nan=False) + "\n")
    return npz_path, json_path


# --------------------------------------------------------------------------------------------
# reading and running
# --------------------------------------------------------------------------------------------
def read_export(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read an export: ``(weights, description)``.

    Parameters
    ----------
    path : str or PathLike
        The export folder, its ``weights.npz`` or its ``description.json``.

    Returns
    -------
    weights : dict of str to ndarray
        One array per parameter, keyed by dotted path (the effective weights of a constrained
        model), and the constraints' constants (``layers.0.unit_types``, masks, ``tau``).
    description : dict
        The content of ``description.json``.

    Raises
    ------
    CheckpointError
        A file is missing or unreadable, or the arrays do not match the description.
    """
    path = os.fspath(path)
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    npz_path = path if path.endswith(".npz") else os.path.join(folder, WEIGHTS_FILE)
    json_path = os.path.join(folder, DESCRIPTION_FILE) if not path.endswith(".json") else path
    try:
        with open(json_path, encoding="utf-8") as f:
            desc = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{json_path} does not exist; an export has {WEIGHTS_FILE} and "
                              f"{DESCRIPTION_FILE} side by side.") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read the export description {json_path}: {e}.") from None
    if not isinstance(desc, dict) or desc.get("format") != _FORMAT_NAME:
        raise CheckpointError(f"{json_path} is not a neurotrain export description.")
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            weights = {k: np.array(data[k]) for k in data.files}
    except FileNotFoundError:
        raise CheckpointError(f"{npz_path} does not exist; an export has {WEIGHTS_FILE} and "
                              f"{DESCRIPTION_FILE} side by side.") from None
    except Exception as e:  # zipfile / numpy raise many types on a damaged file
        raise CheckpointError(f"cannot read the exported weights {npz_path}: {type(e).__name__}: {e}. "
                              f"Export the run again.") from None
    for name, spec in {**desc.get("parameters", {}), **desc.get("constants", {})}.items():
        if name not in weights:
            raise CheckpointError(f"the export {npz_path} lacks parameter {name!r} named in {json_path}.")
        if list(weights[name].shape) != list(spec["shape"]):
            raise CheckpointError(f"parameter {name!r} has shape {weights[name].shape} in {npz_path} but "
                                  f"{tuple(spec['shape'])} in {json_path}.")
    return weights, desc


def numpy_forward(weights: Mapping[str, np.ndarray], description: Mapping[str, Any], inputs,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Run an exported network with numpy only (no JAX): noise-free, from the initial state.

    Parameters
    ----------
    weights, description
        As returned by :func:`read_export`.
    inputs : array, shape ``(T, B, num_in)``

    Returns
    -------
    outputs : ndarray, shape ``(T, B, num_out)``
    activity : ndarray, shape ``(T, B, num_rec)``
        The ``h`` of every layer, concatenated.

    Examples
    --------
    >>> import tempfile, brainstate, numpy as np, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> model = nt.models.build_model("leaky", 2, 8, 1, tau=100.0, dt=20.0)
    >>> weights, desc = read_export(export_weights(model, tempfile.mkdtemp())[0])
    >>> x = np.ones((5, 3, 2), np.float32)
    >>> out, act = numpy_forward(weights, desc, x)
    >>> bool(np.allclose(out, np.asarray(model.run(x)[0]), atol=1e-5))
    True

    A constrained network (Dale's law, no autapses, faster inhibition, excitatory readout) runs
    the same way, from its effective weights:

    >>> ei = nt.models.build_model("leaky", 2, 10, 1, dt=20.0, tau={"E": 100.0, "I": 50.0}, dale=0.8,
    ...                            autapses=False, readout_from="excitatory")
    >>> weights, desc = read_export(export_weights(ei, tempfile.mkdtemp())[0])
    >>> weights["layers.0.unit_types"].tolist()
    [1, 1, 1, 1, 1, 1, 1, 1, -1, -1]
    >>> bool(np.allclose(numpy_forward(weights, desc, x)[0], np.asarray(ei.run(x)[0]), atol=1e-5))
    True
    """
    x = np.asarray(inputs, dtype=np.float64)
    layers = description["layers"]
    if x.ndim != 3 or x.shape[-1] != layers[0]["num_in"]:
        raise ConfigError(f"inputs must have shape (T, batch, {layers[0]['num_in']}); got {x.shape}.")
    T, B = x.shape[:2]

    def w(i, name):
        return np.asarray(weights[f"layers.{i}.{name}"], dtype=np.float64)

    def has(i, name):
        return f"layers.{i}.{name}" in weights

    states = []
    for i, layer in enumerate(layers):
        if layer["kind"] not in _EQUATIONS:
            raise ConfigError(f"numpy_forward does not know cell kind {layer['kind']!r}.")
        s = {}
        for name in _STATES[layer["kind"]]:
            s[name] = (np.broadcast_to(w(i, f"{name}0"), (B, layer["num_rec"])).copy()
                       if has(i, f"{name}0") else np.zeros((B, layer["num_rec"])))
        states.append(s)
    fs = []
    for layer in layers:
        act = layer.get("activation")
        if act is not None and act not in _NP_ACTIVATIONS:
            raise ConfigError(f"numpy_forward cannot run the custom activation {act!r}.")
        fs.append(_NP_ACTIVATIONS.get(act))

    outs, acts = [], []
    for t in range(T):
        inp = x[t]
        hs = []
        for i, layer in enumerate(layers):
            s, kind, f = states[i], layer["kind"], fs[i]
            h = s["h"]
            if kind == "vanilla":
                pre = np.concatenate([inp, h], -1) @ w(i, "W")
                if has(i, "b"):
                    pre = pre + w(i, "b")
                h = f(pre)
            elif kind == "leaky":
                pre = h @ w(i, "W_rec") + inp @ w(i, "W_in")
                if has(i, "b"):
                    pre = pre + w(i, "b")
                a = np.asarray(layer["alpha"], np.float64)   # a number, or one per unit
                h = (1.0 - a) * h + a * f(pre)
            elif kind == "gru":
                xh = np.concatenate([inp, h], -1)
                z = _sigmoid(xh @ w(i, "W_z") + w(i, "b_z"))
                r = _sigmoid(xh @ w(i, "W_r") + w(i, "b_r"))
                n = np.tanh(inp @ w(i, "W_xn") + w(i, "b_xn") + r * (h @ w(i, "W_hn") + w(i, "b_hn")))
                h = (1.0 - z) * n + z * h
            else:  # lstm
                xh = np.concatenate([inp, h], -1)
                gate = {g: xh @ w(i, f"W_{g}") + w(i, f"b_{g}") for g in ("i", "f", "g", "o")}
                c = _sigmoid(gate["f"]) * s["c"] + _sigmoid(gate["i"]) * np.tanh(gate["g"])
                h = _sigmoid(gate["o"]) * np.tanh(c)
                s["c"] = c
            s["h"] = h
            hs.append(h)
            inp = h
        y = inp @ np.asarray(weights["readout.W"], np.float64)
        if "readout.b" in weights:
            y = y + np.asarray(weights["readout.b"], np.float64)
        outs.append(y)
        acts.append(np.concatenate(hs, -1))
    return np.stack(outs), np.stack(acts)
