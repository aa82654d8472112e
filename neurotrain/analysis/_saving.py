"""Saving analysis results without pickle: JSON for the structure, ``.npz`` for the arrays.

:func:`save_result` writes a frozen result object (``FixedPoints``, ``Linearization``,
``PCAResult``, ``Psychometric``, ``Chronometric``, ``Activity``, ``Evaluation``) as two files:
``<path>.json`` (the type, the scalars, strings and nesting) and ``<path>.npz`` (every array,
read back with ``allow_pickle=False``). :func:`load_result` rebuilds the object.
:func:`save_figure` (:func:`neurotrain.io.save_figure`) writes a matplotlib figure as PNG (and
PDF / SVG on request).
:class:`DataSaver` bundles both for one folder.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._errors import CheckpointError, ConfigError
from ..io import atomic_write_bytes, read_json, save_figure, write_json

__all__ = ["save_result", "load_result", "save_figure", "DataSaver", "RESULT_TYPES"]

FORMAT = 1


def _result_types() -> dict[str, type]:
    from ._activity import Activity
    from ._behaviour import Chronometric, Psychometric
    from ._evaluate import Evaluation
    from ._fixed_points import FixedPoints
    from ._linearize import Linearization
    from ._pca import PCAResult

    return {t.__name__: t for t in (FixedPoints, Linearization, PCAResult, Psychometric, Chronometric,
                                   Activity, Evaluation)}


#: the names of the result classes :func:`load_result` can rebuild
RESULT_TYPES = ("FixedPoints", "Linearization", "PCAResult", "Psychometric", "Chronometric", "Activity",
                "Evaluation")


def _encode(obj: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able tree; arrays go to ``arrays`` under ``key`` and are referenced by name."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__type__": type(obj).__name__,
                "fields": {f.name: _encode(getattr(obj, f.name), f"{key}.{f.name}" if key else f.name, arrays)
                           for f in dataclasses.fields(obj)}}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else {"__float__": repr(v)}
    if isinstance(obj, (complex, np.complexfloating)):
        return {"__complex__": [float(np.real(obj)), float(np.imag(obj))]}
    if isinstance(obj, Mapping):
        return {"__dict__": [[str(k), _encode(v, f"{key}.{k}", arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{key}.{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{key}.{i}", arrays) for i, v in enumerate(obj)]
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        arr = np.asarray(obj)
        if arr.dtype == object:
            raise ConfigError(f"cannot save {key!r}: object arrays need pickle; convert it to numbers or strings.")
        name = key or "array"
        arrays[name] = arr
        return {"__array__": name}
    raise ConfigError(f"cannot save {key!r} of type {type(obj).__name__} without pickle.")


def _decode(tree: Any, arrays, types: dict[str, type]) -> Any:
    if isinstance(tree, list):
        return [_decode(v, arrays, types) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "__array__" in tree:
        return np.asarray(arrays[tree["__array__"]])
    if "__float__" in tree:
        return float(tree["__float__"])
    if "__complex__" in tree:
        re, im = tree["__complex__"]
        return complex(re, im)
    if "__tuple__" in tree:
        return tuple(_decode(v, arrays, types) for v in tree["__tuple__"])
    if "__dict__" in tree:
        return {k: _decode(v, arrays, types) for k, v in tree["__dict__"]}
    if "__type__" in tree:
        cls = types.get(tree["__type__"])
        if cls is None:
            raise CheckpointError(f"unknown result type {tree['__type__']!r}; known: {sorted(types)}.")
        fields = {k: _decode(v, arrays, types) for k, v in tree["fields"].items()}
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in fields.items() if k in names})
    return {k: _decode(v, arrays, types) for k, v in tree.items()}


def _base(path) -> str:
    path = os.fspath(path)
    for ext in (".json", ".npz"):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


def save_result(result, path) -> tuple[str, str]:
    """Save a result object as ``<path>.json`` plus ``<path>.npz`` (no pickle).

    Parameters
    ----------
    result : dataclass
        ``FixedPoints``, ``Linearization``, ``PCAResult``, ``Psychometric``, ``Chronometric``,
        ``Activity`` or ``Evaluation`` (nested results are saved with it).
    path : str or PathLike
        File name without extension (a ``.json`` / ``.npz`` suffix is stripped); folders are
        created.

    Returns
    -------
    (str, str)
        The JSON and NPZ paths written.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from neurotrain.analysis import pca
    >>> p = pca(np.random.default_rng(0).standard_normal((50, 4)), 2)
    >>> j, z = save_result(p, os.path.join(tempfile.mkdtemp(), "pca"))
    >>> q = load_result(j)
    >>> bool(np.array_equal(p.components, q.components))
    True
    """
    if not (dataclasses.is_dataclass(result) and not isinstance(result, type)):
        raise ConfigError(f"save_result saves neurotrain result objects (dataclasses); got {type(result).__name__}.")
    base = _base(path)
    os.makedirs(os.path.dirname(os.path.abspath(base)), exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(result, "", arrays)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    npz_path, json_path = base + ".npz", base + ".json"
    atomic_write_bytes(npz_path, buf.getvalue())
    write_json(json_path, {"format": FORMAT, "type": type(result).__name__, "arrays": os.path.basename(npz_path),
                           "result": tree})
    return json_path, npz_path


def load_result(path):
    """Load a result saved by :func:`save_result` (``<path>.json`` + ``<path>.npz``).

    Parameters
    ----------
    path : str or PathLike
        With or without the ``.json`` / ``.npz`` suffix.

    Returns
    -------
    The result object, of the class it was saved from.
    """
    base = _base(path)
    meta = read_json(base + ".json")
    if not isinstance(meta, dict) or "result" not in meta:
        raise CheckpointError(f"{base}.json is not a neurotrain result file (no 'result' entry).")
    arrays_name = meta.get("arrays", os.path.basename(base) + ".npz")
    # the arrays file is resolved inside the result's folder: a name with a folder part (or an
    # absolute path) written into the JSON would read a file elsewhere
    if (not isinstance(arrays_name, str) or not arrays_name or os.path.basename(arrays_name) != arrays_name
            or arrays_name in (".", "..") or "/" in arrays_name or "\\" in arrays_name):
        raise CheckpointError(f"{base}.json names its arrays file {arrays_name!r}, which is not a file name "
                              f"in its own folder; the file was edited or is damaged.")
    npz = os.path.join(os.path.dirname(base + ".json"), arrays_name)
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise CheckpointError(f"{npz} is missing: a result is saved as a .json and a .npz file side by side.") from None
    except (ValueError, OSError) as e:
        raise CheckpointError(f"cannot read {npz}: {e}") from None
    return _decode(meta["result"], arrays, _result_types())


class DataSaver:
    """A folder for analysis data and figures: result objects, plain JSON data and figures (no pickle).

    Parameters
    ----------
    folder : str or PathLike
        Created if needed.
    formats : str or iterable of str
        Default figure formats.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> saver = DataSaver(tempfile.mkdtemp())
    >>> path = saver.save_data({"accuracy": 0.9}, "scores")      # plain data: JSON
    >>> saver.load_data("scores")
    {'accuracy': 0.9}
    """

    def __init__(self, folder, formats: str | Iterable[str] = ("png",)):
        self.data_folder = os.fspath(folder)
        os.makedirs(self.data_folder, exist_ok=True)
        self.formats = formats

    def save_data(self, data, filename: str):
        """A result object (JSON + NPZ) or plain JSON data (dicts, lists, numbers, arrays)."""
        path = os.path.join(self.data_folder, filename)
        if dataclasses.is_dataclass(data) and not isinstance(data, type):
            return save_result(data, path)
        p = _base(path) + ".json"
        write_json(p, data)
        return p

    def load_data(self, filename: str):
        """Inverse of :meth:`save_data`."""
        base = _base(os.path.join(self.data_folder, filename))
        meta = read_json(base + ".json")
        if isinstance(meta, dict) and "result" in meta and "type" in meta:
            return load_result(base)
        return meta

    def save_figure(self, fig, filename: str, formats: str | Iterable[str] | None = None, **kw) -> list[str]:
        """The figure as ``<folder>/<filename>.<format>`` for each format."""
        return save_figure(fig, os.path.join(self.data_folder, filename),
                           self.formats if formats is None else formats, **kw)
