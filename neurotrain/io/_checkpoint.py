"""The checkpoint format: msgpack files of parameters and optimiser state (never pickle).

A checkpoint is a msgpack map written with :func:`braintools.file.msgpack_save` (no pickle
anywhere, so loading a file cannot run code); see :func:`save_checkpoint` for its entries.
Every write is atomic: a temporary file in the same folder is written, flushed, fsynced and
renamed over the destination, so a crash or a ``kill -9`` leaves either the old or the new
file, never a half-written one. Each checkpoint carries a SHA-256 checksum of its content; a
truncated or corrupt file is reported with a clear :class:`~neurotrain.CheckpointError`, and
:func:`latest_checkpoint` skips it (with a warning) in favour of the previous one. A run
directory keeps its checkpoints in ``checkpoints/step-<N>.msgpack``
(:class:`~neurotrain.io.RunLayout`); runs written before that folder existed kept one
``checkpoint.msgpack`` at the top, which :func:`run_checkpoint` still finds.

Heavy libraries (jax, brainstate, braintools) are imported inside the functions so that
importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import CheckpointError
from ._files import _fsync_dir, _named, _temp_file
from ._layout import CHECKPOINTS_DIR, RunLayout

__all__ = [
    "save_checkpoint", "load_checkpoint", "read_checkpoint", "checkpoint_path", "list_checkpoints",
    "latest_checkpoint", "find_checkpoint", "FoundCheckpoint", "skip_messages", "run_checkpoint",
    "FORMAT_VERSION",
]

#: format version written into every checkpoint and config
FORMAT_VERSION = 1

#: top-level checkpoint entries written by save_checkpoint itself (``extra`` may not use them)
_RESERVED = frozenset({"format", "params", "opt", "sched", "step", "checksum"})


# --------------------------------------------------------------------------------------------
# parameters <-> flat {"layers.0.W_in": array}
# --------------------------------------------------------------------------------------------
def _join(path) -> str:
    if isinstance(path, tuple):
        return ".".join(str(p) for p in path)
    return str(path)


def _model_params(model) -> dict[str, Any]:
    """``{joined path: ParamState}`` of a brainstate module (or a dict of ParamStates)."""
    import brainstate

    if isinstance(model, Mapping):
        states = dict(model)
    else:
        states = dict(model.states(brainstate.ParamState))
    return {_join(k): v for k, v in states.items()}


def _flatten_value(prefix: str, value, out: dict[str, np.ndarray]) -> None:
    """A ParamState value is an array or (for brainstate.nn.Linear) a dict of arrays."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten_value(f"{prefix}.{k}", v, out)
    else:
        out[prefix] = np.asarray(value)


def _flat_param_values(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, state in params.items():
        _flatten_value(name, state.value, out)
    return out


def _strip_param_copies(opt_state: dict) -> dict:
    """``optimizer.state_dict()`` repeats the weights under ``param_groups``; drop that copy.

    ``load_state_dict`` never reads them back (it keeps the live weights), so storing them
    would only double the file size.
    """
    state = dict(opt_state)
    groups = state.get("param_groups")
    if isinstance(groups, Mapping):
        state["param_groups"] = {k: {kk: vv for kk, vv in g.items() if kk != "params"}
                                 for k, g in groups.items()}
    return state


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------
def _to_numpy_tree(tree):
    """Nested dicts (a msgpack state dict) with every array leaf as a numpy array."""
    if isinstance(tree, Mapping):
        return {k: _to_numpy_tree(v) for k, v in tree.items()}
    if hasattr(tree, "shape") and hasattr(tree, "dtype") and not isinstance(tree, np.generic):
        return np.asarray(tree)
    return tree


def _digest(tree) -> str:
    """SHA-256 of a msgpack state dict: keys, types, dtypes, shapes and bytes of every leaf."""
    h = hashlib.sha256()

    def put(tag: bytes, data: bytes = b"") -> None:
        h.update(tag + str(len(data)).encode() + b":" + data)

    def visit(x) -> None:
        if isinstance(x, Mapping):
            put(b"{", str(len(x)).encode())
            for k in sorted(x, key=str):
                put(b"k", str(k).encode("utf-8", "surrogatepass"))
                visit(x[k])
        elif isinstance(x, (list, tuple)):
            put(b"[", str(len(x)).encode())
            for v in x:
                visit(v)
        elif x is None:
            put(b"n")
        elif isinstance(x, bool):
            put(b"b", b"1" if x else b"0")
        elif isinstance(x, int):
            put(b"i", str(x).encode())
        elif isinstance(x, float):
            put(b"f", x.hex().encode())
        elif isinstance(x, str):
            put(b"s", x.encode("utf-8", "surrogatepass"))
        elif isinstance(x, bytes):
            put(b"y", x)
        else:
            arr = np.ascontiguousarray(np.asarray(x))
            put(b"a", f"{arr.dtype.str}{arr.shape}".encode())
            put(b"d", arr.tobytes())

    visit(tree)
    return h.hexdigest()


def checkpoint_path(run_dir: str | os.PathLike, step: int) -> str:
    """The path of the checkpoint of ``step`` in a run directory.

    Examples
    --------
    >>> checkpoint_path("runs/a", 500).replace(os.sep, "/")
    'runs/a/checkpoints/step-00000500.msgpack'
    """
    return RunLayout(run_dir).checkpoint(step)


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, str]]:
    """``[(step, path), ...]`` of the checkpoint files in ``run_dir/checkpoints``, oldest first.

    Only names of the form ``step-<N>.msgpack`` count; temporary files of interrupted writes
    are ignored. The files are not opened (see :func:`latest_checkpoint`).

    Examples
    --------
    >>> import tempfile, neurotrain as nt
    >>> run = tempfile.mkdtemp()
    >>> model = nt.models.build_model("vanilla", 1, 4, 1)
    >>> for step in (0, 10):
    ...     _ = save_checkpoint(checkpoint_path(run, step), model, step=step)
    >>> [step for step, _ in list_checkpoints(run)]
    [0, 10]
    """
    folder = RunLayout(run_dir).checkpoints_dir
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as e:
        raise CheckpointError(f"cannot list the checkpoints in {folder}: {e.strerror or e}.") from None
    found = []
    for name in names:
        step = RunLayout.parse_checkpoint_name(name)
        path = os.path.join(folder, name)
        if step is not None and os.path.isfile(path):
            found.append((step, path))
    return sorted(found)


@dataclasses.dataclass(frozen=True)
class FoundCheckpoint:
    """The newest usable checkpoint of a run directory, as :func:`find_checkpoint` found it.

    Attributes
    ----------
    path : str
    step : int
        Its step, the same in its content as in its name.
    data : dict
        Its content, read and verified once (pass it to
        :func:`load_checkpoint` as ``data=``: a checkpoint deleted by rotation meanwhile then
        costs nothing).
    skipped : tuple of (str, str)
        The newer checkpoint files that could not be used, with the reason of each.
    """

    path: str
    step: int
    data: dict
    skipped: tuple[tuple[str, str], ...] = ()

    def messages(self) -> list[str]:
        """One sentence per skipped file: which, why, and the checkpoint used instead."""
        return skip_messages(self.skipped, self.path, self.step)


def skip_messages(skipped, used: str, step) -> list[str]:
    """``"skipping the unreadable checkpoint A (why); using B (step N) instead."`` for each skipped
    ``(path, why)`` (``misnamed`` for a file whose content holds another step than its name)."""
    out = []
    for bad, why in skipped:
        kind = "misnamed" if why.startswith(_MISNAMED) else "unreadable"
        out.append(f"skipping the {kind} checkpoint {bad} ({why.removeprefix(_MISNAMED)}); "
                   f"using {used} (step {step}) instead.")
    return out


_MISNAMED = "misnamed: "


def _checked(path: str, named_step: int) -> dict:
    """Read a checkpoint file of ``checkpoints/`` and check that its content's step is its name's."""
    data = read_checkpoint(path)
    step = data.get("step")
    if step is None or int(step) != named_step:
        held = "no step" if step is None or int(step) < 0 else f"step {int(step)}"
        raise CheckpointError(
            f"{_MISNAMED}its content holds {held}, not step {named_step} as its name says (was it "
            f"renamed or copied by hand?)")
    return data


def find_checkpoint(run_dir: str | os.PathLike) -> FoundCheckpoint | None:
    """The newest usable checkpoint of a run directory, read and verified, or ``None`` if it has none.

    Each candidate of ``checkpoints/`` is read in full and its checksum verified, newest first;
    its content must hold the step its name says. A truncated or corrupt file, or one whose
    content holds another step than its name, is skipped (listed in ``skipped`` with the
    reason) and the previous one is used: an interrupted or damaged save never costs more
    than the steps since the checkpoint before it, and a misnamed file is never taken for
    a newer one.

    Raises
    ------
    CheckpointError
        Checkpoint files exist but none of them can be used.

    Examples
    --------
    >>> import tempfile, neurotrain as nt
    >>> run = tempfile.mkdtemp()
    >>> model = nt.models.build_model("vanilla", 1, 4, 1)
    >>> _ = save_checkpoint(checkpoint_path(run, 10), model, step=10)
    >>> _ = save_checkpoint(checkpoint_path(run, 30), model, step=20)     # misnamed
    >>> found = find_checkpoint(run)
    >>> found.step, [(os.path.basename(p), why[:36]) for p, why in found.skipped]
    (10, [('step-00000030.msgpack', 'misnamed: its content holds step 20,')])
    """
    found = list_checkpoints(run_dir)
    problems: list[tuple[str, str]] = []
    first_error = None
    for step, path in reversed(found):
        try:
            data = _checked(path, step)
        except CheckpointError as e:
            problems.append((path, _first_sentence(e)))
            first_error = first_error or e
            continue
        return FoundCheckpoint(path, step, data, tuple(problems))
    if problems:
        bad = problems[0][0]
        raise CheckpointError(
            f"none of the {len(problems)} checkpoint(s) in {os.path.dirname(bad)} can be used; the "
            f"newest, {os.path.basename(bad)}: {first_error}"
        )
    return None


def latest_checkpoint(run_dir: str | os.PathLike) -> str | None:
    """The path of the newest usable checkpoint of a run directory, or ``None`` if it has none.

    As :func:`find_checkpoint`; each file skipped (truncated, corrupt, or holding another step
    than its name) is reported with a warning naming it, the reason and the file used instead.

    Raises
    ------
    CheckpointError
        Checkpoint files exist but none of them can be used.

    Examples
    --------
    >>> import tempfile
    >>> latest_checkpoint(tempfile.mkdtemp()) is None
    True
    """
    found = find_checkpoint(run_dir)
    if found is None:
        return None
    for message in found.messages():
        warnings.warn(message, stacklevel=2)
    return found.path


def _first_sentence(err: Exception) -> str:
    text = str(err)
    cut = text.find(". ")
    return text if cut < 0 else text[:cut]


def save_checkpoint(path: str | os.PathLike, model, optimizer=None, step: int | None = None, *,
                    extra: Mapping[str, Any] | None = None) -> str:
    """Save the model's parameters (and the optimizer state) to a msgpack file.

    The file is a msgpack map written with :func:`braintools.file.msgpack_save` (never
    pickle)::

        format    1
        step      training steps done (-1 if unknown)
        params    {"layers.0.W_rec": array, ...}     one array per parameter, dotted paths
        opt       optimizer.state_dict() (moments, step count, learning rate), if given
        sched     the learning-rate scheduler's state (its epoch counter), if given
        checksum  SHA-256 of everything else, checked by read_checkpoint
        ...       the entries of ``extra`` (the trainer adds rng, history, callbacks, trainer)

    The write is atomic: a temporary file in the same directory is flushed, fsynced and
    renamed over ``path``, so a crash leaves either the old or the new checkpoint.

    Parameters
    ----------
    path : str or PathLike
        Destination file, e.g. ``checkpoint_path(run_dir, step)``; parent folders are created.
    model : brainstate.nn.Module or dict of ParamState
        The network; every ``brainstate.ParamState`` is saved under its joined path
        (``('layers', 0, 'W_rec')`` becomes ``"layers.0.W_rec"``), arrays of any shape.
    optimizer : braintools.optim optimizer, optional
        Its ``state_dict()`` (moments, step count, learning rate) and its scheduler's state
        are saved too, so that training can be resumed exactly.
    step : int, optional
        Training steps done; defaults to the optimizer's step count when one is given.
    extra : dict, optional
        More entries (nested dicts of arrays, numbers and strings) stored in the file.

    Returns
    -------
    str
        The path written.

    Examples
    --------
    >>> import os, tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> model = nt.models.build_model("gru", num_in=3, num_rec=8, num_out=2)
    >>> path = save_checkpoint(os.path.join(tempfile.mkdtemp(), "ckpt.msgpack"), model, step=10)
    >>> load_checkpoint(path, model)
    10
    """
    import braintools

    path = os.fspath(path)
    params = _model_params(model)
    if not params:
        raise CheckpointError(f"the model has no ParamState to save to {path}.")
    payload: dict[str, Any] = {"format": FORMAT_VERSION, "params": _flat_param_values(params)}
    if optimizer is not None:
        if getattr(optimizer, "opt_state", None) is None:
            raise CheckpointError(
                "the optimizer has no state yet; call optimizer.register_trainable_weights(...) "
                "(train() does it) before saving it, or pass optimizer=None."
            )
        payload["opt"] = _strip_param_copies(optimizer.state_dict())
        sched = _scheduler_state(optimizer)
        if sched is not None:
            payload["sched"] = sched
        if step is None:
            step = int(np.asarray(optimizer.step_count.value))
    payload["step"] = -1 if step is None else int(step)
    for key, value in (extra or {}).items():
        if key in _RESERVED:
            raise CheckpointError(f"extra entry {key!r} would overwrite the checkpoint's own {key!r}.")
        payload[key] = value

    try:
        state = _to_numpy_tree(braintools.file.msgpack_to_state_dict(payload))
        state["checksum"] = _digest(state)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"cannot write the checkpoint {path}: {e}") from e

    dirname = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(dirname, exist_ok=True)
        fd, tmp = _temp_file(path)
    except OSError as e:
        raise _named(e, path) from None
    os.close(fd)
    try:
        braintools.file.msgpack_save(tmp, state, overwrite=True)
        with open(tmp, "rb+") as f:  # msgpack_save closes without fsync: make it durable
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        # remove our temporary file and any that msgpack_save made next to it
        prefix = os.path.basename(tmp)
        for name in os.listdir(dirname):
            if name.startswith(prefix):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(dirname, name))
        if isinstance(e, (TypeError, ValueError)):
            raise CheckpointError(f"cannot write the checkpoint {path}: {e}") from e
        if isinstance(e, OSError) and not isinstance(e, CheckpointError):
            raise _named(e, path) from None    # a full disk, a read-only folder: name the file
        raise
    _fsync_dir(dirname)
    return path


def _scheduler_state(optimizer) -> dict[str, Any] | None:
    """The learning-rate scheduler's epoch counter and rates (not in ``optimizer.state_dict()``)."""
    sched = getattr(optimizer, "lr", None)
    if sched is None or not callable(getattr(sched, "state_dict", None)):
        return None
    sd = sched.state_dict()
    return {"last_epoch": np.asarray(sd["last_epoch"]),
            "base_lrs": np.asarray([float(v) for v in sd["base_lrs"]], dtype=np.float64),
            "current_lrs": np.asarray([np.asarray(v) for v in sd["current_lrs"]])}


def _prepare_scheduler(optimizer, saved: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    """Check the saved scheduler state against ``optimizer``'s and build the dict to load."""
    import jax.numpy as jnp

    sched = getattr(optimizer, "lr", None)
    if sched is None or not callable(getattr(sched, "load_state_dict", None)):
        return None
    live = sched.state_dict()
    try:
        base = [float(v) for v in np.asarray(saved["base_lrs"]).reshape(-1)]
        cur = np.asarray(saved["current_lrs"]).reshape(-1)
        epoch = np.asarray(saved["last_epoch"])
        if epoch.ndim != 0 or epoch.dtype.kind not in "iu":
            raise ValueError(f"last_epoch is {epoch!r}, not an integer")
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"the learning-rate schedule state in {path} is malformed ({e}).") from None
    if len(base) != len(live["base_lrs"]) or len(cur) != len(live["current_lrs"]):
        raise CheckpointError(
            f"the learning-rate schedule in {path} has {len(base)} parameter group(s) but the "
            f"optimizer's has {len(live['base_lrs'])}. Use the same optimizer and schedule."
        )
    live_epoch = live["last_epoch"]
    new_epoch = (jnp.asarray(epoch, dtype=jnp.asarray(live_epoch).dtype)
                 if hasattr(live_epoch, "dtype") else int(epoch))
    return {"last_epoch": new_epoch, "base_lrs": base,
            "current_lrs": [jnp.asarray(c, dtype=jnp.asarray(old).dtype)
                            for c, old in zip(cur, live["current_lrs"])]}


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and verify a checkpoint file; returns its content as nested dicts of numpy arrays.

    No model is needed: use it to look at the step, the parameters' shapes or the training
    history stored in a checkpoint. :func:`load_checkpoint` accepts the returned dict as ``data=``.

    Raises
    ------
    CheckpointError
        The file is missing, is a directory, is truncated or corrupt (unreadable msgpack, or a
        checksum that does not match its content), or is not a neurotrain checkpoint.

    Examples
    --------
    >>> import os, tempfile, brainstate, neurotrain as nt
    >>> model = nt.models.build_model("vanilla", 1, 4, 1)
    >>> path = save_checkpoint(os.path.join(tempfile.mkdtemp(), "c.msgpack"), model, step=3)
    >>> data = read_checkpoint(path)
    >>> data["step"], sorted(data["params"])[:2]
    (3, ['layers.0.W', 'layers.0.b'])
    """
    import braintools

    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(
            f"{path} is a directory, not a checkpoint file; pass a file from "
            f"{os.path.join(path, CHECKPOINTS_DIR)} (latest_checkpoint({path!r}) finds the newest) "
            f"or use neurotrain.runs.load_run({path!r})."
        )
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path} does not exist. Check the path (a run directory "
                              f"keeps its checkpoints in {CHECKPOINTS_DIR}/).")
    fix = ("The file is truncated or corrupt (was the save interrupted, or the file copied "
           "partially?); use an earlier checkpoint, restore it from a copy or train the run again.")
    try:
        raw = braintools.file.msgpack_load(path, parallel=False)
    except RecursionError:
        raise CheckpointError(f"cannot read checkpoint {path}: it is nested too deeply. {fix}") from None
    except MemoryError:
        raise CheckpointError(f"cannot read checkpoint {path}: it claims more memory than there "
                              f"is. {fix}") from None
    except Exception as e:  # msgpack raises many types on bad bytes
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}. {fix}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("params"), dict):
        raise CheckpointError(f"{path} is not a neurotrain checkpoint (no 'params' table). {fix}")
    checksum = raw.pop("checksum", None)
    if checksum is not None:  # files of the first format version had none
        try:
            ok = isinstance(checksum, str) and checksum == _digest(raw)
        except Exception:
            ok = False
        if not ok:
            raise CheckpointError(f"checkpoint {path} is corrupt: its content does not match its "
                                  f"checksum. {fix}")
    for name, value in raw["params"].items():
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            raise CheckpointError(f"parameter {name!r} in {path} is not a numeric array. {fix}")
    step = raw.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, np.integer))):
        raise CheckpointError(f"the step recorded in {path} is not an integer ({step!r}). {fix}")
    return raw


def load_checkpoint(path: str | os.PathLike, model, optimizer=None, *,
                    data: Mapping[str, Any] | None = None) -> int | None:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` in place.

    Every ``ParamState`` of the model must be in the file with the same shape, and the file
    must hold no parameter the model lacks; nothing is modified unless all of them match.
    Values are cast to the dtype of the model's parameters.

    Parameters
    ----------
    path : str or PathLike
        The ``.msgpack`` file.
    model : brainstate.nn.Module or dict of ParamState
        A model of the same architecture (e.g. from :func:`neurotrain.models.model_from_config`).
    optimizer : braintools.optim optimizer, optional
        Restored from the saved optimizer state (moments, step count, learning rate and the
        scheduler's epoch). If it has no registered weights yet, the model's parameters are
        registered first.
    data : dict, optional
        The file's content as already read by :func:`read_checkpoint` (then ``path`` is only
        used in messages).

    Returns
    -------
    int or None
        The saved step, or ``None`` if none was recorded.

    Raises
    ------
    CheckpointError
        The file is missing, truncated or corrupt; a parameter is missing, unexpected or has
        another shape (the message names the first one and both shapes); or the optimizer
        state does not fit ``optimizer``.

    Examples
    --------
    >>> import os, tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> a = nt.models.build_model("vanilla", 1, 4, 1)
    >>> path = save_checkpoint(os.path.join(tempfile.mkdtemp(), "c.msgpack"), a)
    >>> b = nt.models.build_model("vanilla", 1, 4, 1)      # other random weights
    >>> load_checkpoint(path, b) is None
    True
    >>> bool((a.layers[0].W.value == b.layers[0].W.value).all())
    True
    """
    import braintools
    import jax.numpy as jnp

    path = os.fspath(path)
    raw = read_checkpoint(path) if data is None else data
    saved = raw["params"]
    params = _model_params(model)

    # check everything first, then write: a failed load leaves the model untouched
    updates: list[tuple[Any, Any]] = []
    used: set[str] = set()
    for name, state in params.items():
        value = state.value
        expected: dict[str, Any] = {}
        _flatten_value(name, value, expected)
        new_leaves = {}
        for leaf_name, current in expected.items():
            if leaf_name not in saved:
                raise CheckpointError(
                    f"parameter {leaf_name!r} (shape {tuple(current.shape)}) is missing from checkpoint "
                    f"{path}; the checkpoint has {_list_names(saved)}. The model's architecture does "
                    f"not match the saved one (another cell, layer count or train_h0?)."
                )
            arr = np.asarray(saved[leaf_name])
            if tuple(arr.shape) != tuple(current.shape):
                raise CheckpointError(
                    f"parameter {leaf_name!r} has shape {tuple(arr.shape)} in checkpoint {path} but "
                    f"{tuple(current.shape)} in the model. Build the model with the sizes it was "
                    f"trained with (see the run's config.json)."
                )
            new_leaves[leaf_name] = jnp.asarray(arr, dtype=current.dtype)
            used.add(leaf_name)
        updates.append((state, _unflatten_value(name, value, new_leaves)))
    extra = sorted(set(saved) - used)
    if extra:
        raise CheckpointError(
            f"checkpoint {path} has parameter {extra[0]!r} (shape {tuple(np.shape(saved[extra[0]]))}) "
            f"that the model does not have. The model's architecture does not match the saved one."
        )

    restored_opt = restored_sched = None
    if optimizer is not None:
        if "opt" not in raw:
            raise CheckpointError(f"checkpoint {path} holds no optimizer state; load it with optimizer=None.")
        if getattr(optimizer, "opt_state", None) is None:
            import brainstate

            optimizer.register_trainable_weights(model.states(brainstate.ParamState)
                                                 if not isinstance(model, Mapping) else dict(model))
        target = _strip_param_copies(optimizer.state_dict())
        try:
            restored_opt = braintools.file.msgpack_from_state_dict(target, raw["opt"])
        except Exception as e:
            raise CheckpointError(
                f"the optimizer state in {path} does not fit the optimizer given "
                f"({type(optimizer).__name__}): {e}. Use the same optimizer class and the same model."
            ) from None
        if "sched" in raw:
            restored_sched = _prepare_scheduler(optimizer, raw["sched"], path)

    for state, value in updates:
        state.value = value
    if restored_opt is not None:
        optimizer.load_state_dict(restored_opt)
    if restored_sched is not None:
        optimizer.lr.load_state_dict(restored_sched)
    step = raw.get("step")
    return None if step is None or int(step) < 0 else int(step)


def _unflatten_value(prefix: str, template, leaves: dict[str, Any]):
    if isinstance(template, Mapping):
        return {k: _unflatten_value(f"{prefix}.{k}", v, leaves) for k, v in template.items()}
    return leaves[prefix]


def _list_names(saved: Mapping[str, Any], limit: int = 8) -> str:
    names = sorted(saved)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") if names else "nothing"


def run_checkpoint(run_dir: str | os.PathLike) -> str:
    """The checkpoint a run directory's weights are read from: the newest readable one in
    ``checkpoints/`` (what :func:`neurotrain.runs.load_run` loads).

    Runs written before ``checkpoints/`` existed have a single ``checkpoint.msgpack``, used
    when the folder holds none.

    Raises
    ------
    CheckpointError
        The run directory has no checkpoint, or none that can be read.
    """
    layout = RunLayout(run_dir)
    path = latest_checkpoint(layout.root)
    if path is not None:
        return path
    if os.path.exists(layout.legacy_checkpoint_file):
        return layout.legacy_checkpoint_file
    raise CheckpointError(
        f"{layout.root} holds no checkpoint: {layout.checkpoints_dir} does not exist or "
        f"is empty (was training stopped before the first checkpoint was written?)."
    )
