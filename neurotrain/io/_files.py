"""Files: atomic writes, JSON, figures and the library versions recorded with every result.

Every file neurotrain writes goes through :func:`atomic_write_bytes`: the data is written to
a temporary file in the destination's folder, flushed, fsynced and renamed over the
destination (then the folder is fsynced), so a crash or a ``kill -9`` leaves either the old
file or the new one, never a half-written one. :func:`write_json`, :func:`save_figure` and
the checkpoint and export writers are built on it.

Only the standard library and numpy are imported here; matplotlib figures are passed in.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import CheckpointError, ConfigError

__all__ = [
    "atomic_write_bytes", "atomic_write_text", "exchange_paths", "jsonable", "write_json", "read_json",
    "save_figure", "FIGURE_FORMATS", "library_versions", "versions_text", "VERSION_PACKAGES",
]

#: the formats :func:`save_figure` writes
FIGURE_FORMATS = ("png", "pdf", "svg")
#: the packages :func:`library_versions` reports by default (``python``: the interpreter)
VERSION_PACKAGES = ("python", "neurotrain", "jax", "jaxlib", "brainstate", "braintools", "braintrace",
                    "numpy")
NOT_INSTALLED = "not installed"


# --------------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------------
def _fsync_dir(dirname: str) -> None:
    """Make a rename durable (best effort; not every platform can open a directory)."""
    try:
        fd = os.open(dirname or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_file(path: str) -> tuple[int, str]:
    """Open a new temporary file next to ``path`` (mode 0o666 minus the umask, like ``open``).

    Its name is ``.<name>.<random>.tmp``: hidden, and never one that a run directory's file
    patterns match.
    """
    dirname = os.path.dirname(os.path.abspath(path))
    for _ in range(100):
        tmp = os.path.join(dirname, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise CheckpointError(f"cannot create a temporary file next to {path}.")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> str:
    """Write ``data`` to ``path`` through a temporary file in the same folder; returns the path.

    The folder is created if needed. The temporary file is flushed, fsynced and renamed over
    ``path``; if anything fails (or Ctrl-C arrives) it is removed and ``path`` keeps its old
    content. An ``OSError`` (a full disk, a read-only folder) names ``path``, not the
    temporary file.

    Examples
    --------
    >>> import os, tempfile
    >>> path = atomic_write_bytes(os.path.join(tempfile.mkdtemp(), "sub", "a.bin"), b"\\x00\\x01")
    >>> open(path, "rb").read(), os.listdir(os.path.dirname(path))
    (b'\\x00\\x01', ['a.bin'])
    """
    path = os.fspath(path)
    dirname = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(dirname, exist_ok=True)
        fd, tmp = _temp_file(path)
    except OSError as e:
        raise _named(e, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError) and not isinstance(e, CheckpointError):
            raise _named(e, path) from None
        raise
    _fsync_dir(dirname)
    return path


def _named(e: OSError, path: str) -> OSError:
    """The same error, naming the file that was being written rather than a temporary one."""
    if e.errno is None:
        return e
    try:
        return type(e)(e.errno, e.strerror, path)
    except TypeError:   # an OSError subclass with another signature
        return OSError(e.errno, e.strerror, path)


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> str:
    """:func:`atomic_write_bytes` for text (UTF-8 by default); returns the path.

    Examples
    --------
    >>> import os, tempfile
    >>> path = atomic_write_text(os.path.join(tempfile.mkdtemp(), "notes.txt"), "héllo\\n")
    >>> open(path, encoding="utf-8").read()
    'héllo\\n'
    """
    return atomic_write_bytes(path, text.encode(encoding))


def _native_exchange():
    """The system call that swaps two paths atomically, if this platform has one."""
    import ctypes
    import ctypes.util
    import sys

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        fn = libc.renameat2
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        return lambda a, b: fn(-100, a, -100, b, 2)          # AT_FDCWD, RENAME_EXCHANGE
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        fn = libc.renamex_np
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        return lambda a, b: fn(a, b, 2)                        # RENAME_SWAP
    return None


def exchange_paths(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap two existing paths of one file system (``a`` gets ``b``'s content and back).

    On Linux (``renameat2`` with ``RENAME_EXCHANGE``) and macOS (``renamex_np`` with
    ``RENAME_SWAP``) the swap is one atomic system call: at every instant both paths exist,
    each with one whole content. Elsewhere, or where the file system refuses it, ``b`` is
    renamed aside, ``a`` renamed to ``b`` and the first moved to ``a``, undoing the first rename
    if the second fails. Returns whether the swap was atomic.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in "ab":
    ...     os.makedirs(os.path.join(root, name, name))
    >>> _ = exchange_paths(os.path.join(root, "a"), os.path.join(root, "b"))
    >>> os.listdir(os.path.join(root, "a")), os.listdir(os.path.join(root, "b"))
    (['b'], ['a'])
    """
    import ctypes

    a, b = os.fspath(a), os.fspath(b)
    swap = _native_exchange()
    if swap is not None:
        if swap(os.fsencode(a), os.fsencode(b)) == 0:
            _fsync_dir(os.path.dirname(os.path.abspath(b)))
            return True
        err = ctypes.get_errno()
        if err not in (22, 38, 95, 18, 1):   # EINVAL, ENOSYS, EOPNOTSUPP, EXDEV, EPERM: fall back
            raise OSError(err, os.strerror(err), a)
    aside = os.path.join(os.path.dirname(os.path.abspath(b)),
                         f".{os.path.basename(b)}.{uuid.uuid4().hex[:12]}.swap")
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except BaseException:
        os.rename(aside, b)
        raise
    os.rename(aside, a)
    _fsync_dir(os.path.dirname(os.path.abspath(b)))
    return False


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------
def jsonable(obj: Any) -> Any:
    """``obj`` with numpy / JAX scalars and arrays, tuples and paths made JSON-serialisable.

    Mappings get string keys, tuples become lists, arrays nested lists, paths strings and
    non-finite floats ``None`` (JSON has no NaN); anything else unknown becomes its ``str``.

    Examples
    --------
    >>> jsonable({"a": np.float32(0.5), "b": (1, np.arange(2)), 3: float("nan")})
    {'a': 0.5, 'b': [1, [0, 1]], '3': None}
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (str, bool)) or obj is None:
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):  # numpy / jax arrays and scalars
        arr = np.asarray(obj)
        if arr.ndim == 0:
            return jsonable(arr.item())
        return [jsonable(v) for v in arr.tolist()]
    return str(obj)


def write_json(path: str | os.PathLike, obj: Any) -> str:
    """Write ``obj`` as indented JSON, atomically; numpy values and NaN (as ``null``) are fine.

    Returns the path written.

    Examples
    --------
    >>> import tempfile, os
    >>> p = write_json(os.path.join(tempfile.mkdtemp(), "x.json"), {"a": np.float32(0.5), "b": (1, 2)})
    >>> read_json(p)
    {'a': 0.5, 'b': [1, 2]}
    """
    return atomic_write_text(path, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a missing or malformed file raises :class:`~neurotrain.CheckpointError`.

    Examples
    --------
    >>> import tempfile, os
    >>> read_json(os.path.join(tempfile.mkdtemp(), "missing.json"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    neurotrain._errors.CheckpointError: .../missing.json does not exist. Is this a neurotrain run directory?
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist. Is this a neurotrain run directory?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"{path} is not valid JSON ({e}). The file is corrupt or was edited by hand; "
            f"fix or restore it, or train the run again."
        ) from None
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e}.") from None


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def save_figure(fig, path: str | os.PathLike, formats: str | Iterable[str] = ("png",), *,
                dpi: int = 120, close: bool = False) -> list[str]:
    """Save a matplotlib figure atomically in one or several formats (``png``, ``pdf``, ``svg``).

    Each file is rendered in memory and written with :func:`atomic_write_bytes`, so an
    interrupted save never leaves a half-drawn figure under the final name.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or PathLike
        File name without extension (an extension in ``formats`` is stripped); folders are
        created.
    formats : str or iterable of str
        E.g. ``"png"`` or ``("png", "pdf", "svg")``.
    dpi : int
        Resolution of raster formats.
    close : bool
        Close the figure afterwards (``matplotlib.pyplot.close``).

    Returns
    -------
    list of str
        The files written, one per format.

    Examples
    --------
    >>> import os, tempfile, matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> paths = save_figure(fig, os.path.join(tempfile.mkdtemp(), "line.png"), ("png", "svg"), close=True)
    >>> [os.path.basename(p) for p in paths], open(paths[0], "rb").read(4)
    (['line.png', 'line.svg'], b'\\x89PNG')
    """
    formats = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad or not formats:
        raise ConfigError(f"formats must be among {FIGURE_FORMATS}; got {formats!r}.")
    base = os.fspath(path)
    root, ext = os.path.splitext(base)
    if ext.lstrip(".") in FIGURE_FORMATS:
        base = root
    out = []
    try:
        for f in formats:
            buf = io.BytesIO()
            fig.savefig(buf, dpi=dpi, format=f)
            out.append(atomic_write_bytes(f"{base}.{f}", buf.getvalue()))
    finally:
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------------------------
def library_versions(packages: Sequence[str] = VERSION_PACKAGES) -> dict[str, str]:
    """The installed version of each of ``packages`` (``"not installed"`` where missing).

    ``"python"`` is the interpreter's version and ``"neurotrain"`` this package's; the default
    list is the one every ``config.json`` and analysis records.

    Examples
    --------
    >>> import platform
    >>> v = library_versions()
    >>> list(v)[:3], v["python"] == platform.python_version()
    (['python', 'neurotrain', 'jax'], True)
    >>> library_versions(["no-such-package-xyz"])
    {'no-such-package-xyz': 'not installed'}
    """
    import platform
    from importlib import metadata

    from .._version import __version__

    out = {}
    for pkg in packages:
        if pkg == "python":
            out[pkg] = platform.python_version()
        elif pkg == "neurotrain":
            out[pkg] = __version__
        else:
            try:
                out[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                out[pkg] = NOT_INSTALLED
    return out


def versions_text(packages: Sequence[str] = VERSION_PACKAGES) -> str:
    """``"name version, ..."`` for ``packages``, as ``neurotrain --version`` and the benchmarks
    print it (a missing package reads ``name (not installed)``).

    Examples
    --------
    >>> from neurotrain import __version__
    >>> versions_text(["neurotrain", "no-such-package-xyz"]) == f"neurotrain {__version__}, no-such-package-xyz (not installed)"
    True
    """
    return ", ".join(f"{k} ({v})" if v == NOT_INSTALLED else f"{k} {v}"
                     for k, v in library_versions(packages).items())
