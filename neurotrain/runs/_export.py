"""``export_run``: ``neurotrain export RUN_DIR`` as a Python function."""

from __future__ import annotations

import contextlib
import dataclasses
import os

from .._errors import ConfigError, RunDirectoryError
from .._validate import check_choice
from ..io import EXPORT_FORMATS, export_weights
from ..io._export import DESCRIPTION_FILE, WEIGHTS_FILE
from ._directory import read_run
from ._notes import Notes, NotesCallback
from ._population import is_population_run
from ._report import PROG
from ._rundir import io_error_text, reading

__all__ = ["export_run", "ExportRunResult"]



@dataclasses.dataclass(frozen=True)
class ExportRunResult:
    """What :func:`export_run` wrote.

    Attributes
    ----------
    run_dir, out_dir : str
        The run and the export folder.
    weights_file, description_file : str
        ``weights.npz`` and ``description.json`` (read them with
        :func:`neurotrain.io.read_export`).
    checkpoint : str
        The checkpoint exported; ``step`` its step (``None`` if it records none).
    notes : tuple of str
    """

    run_dir: str
    out_dir: str
    weights_file: str
    description_file: str
    checkpoint: str
    step: int | None
    notes: tuple[str, ...] = ()

    def report(self) -> str:
        """The text ``neurotrain export`` prints: the files and how to read them."""
        return (f"{PROG}: exported {self.run_dir}\n  weights      {self.weights_file}\n"
                f"  description  {self.description_file}\n"
                f"Read them with: weights, description = neurotrain.io.read_export({os.path.dirname(self.weights_file)!r})")


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *, format: str = "npz",
               notes: NotesCallback | None = None) -> ExportRunResult:
    """Export the saved weights of a run (see :func:`~neurotrain.runs.saved_weights`) as numpy arrays plus a JSON description.

    The run is read as a snapshot (:func:`neurotrain.runs.read_run`); if writing fails, neither
    file of the export is left behind (a :class:`~neurotrain.RunDirectoryError` says why).

    Parameters
    ----------
    run_dir : str or PathLike
        A run directory.
    out_dir : str or PathLike, optional
        Where to write ``weights.npz`` and ``description.json`` (default: ``run_dir/export``).
    format : {"npz"}
        The export format (see :func:`neurotrain.io.export_weights`).
    notes : callable, optional
        Receives each note (e.g. a damaged newest checkpoint that was skipped, and the one used).

    Returns
    -------
    ExportRunResult

    Examples
    --------
    >>> import tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.Integrator()
    >>> run = nt.runs.save_run(tempfile.mkdtemp(), model=nt.models.build_model("vanilla", num_rec=4, task=task),
    ...                        task=task, figures=False)
    >>> result = export_run(run)
    >>> weights, description = nt.io.read_export(result.out_dir)
    >>> result.step, sorted(weights)[:2], description["source"]["step"]
    (0, ['layers.0.W', 'layers.0.b'], 0)
    """
    check_choice("format", format, EXPORT_FORMATS)   # before loading anything
    if is_population_run(run_dir):
        raise ConfigError(f"{run_dir} holds a population of networks; export one network at a time: split it "
                          f"first (neurotrain split {run_dir} --network K, or neurotrain.runs.split_network) and "
                          f"export the run directory that writes.")
    note = Notes(notes)
    with reading(run_dir) as layout:
        snap = read_run(layout.root)
        for message in snap.fallback_messages():
            note(f"warning: {message}")
        config, ckpt, step = snap.config, snap.checkpoint, snap.step
        extra = {"source": {"run_dir": os.path.abspath(layout.root), "checkpoint": os.path.abspath(ckpt),
                            "step": step, "seed": config.get("seed"), "method": config.get("method")}}
        out = layout.export_dir if out_dir is None else os.fspath(out_dir)
        try:
            weights, description = export_weights(snap.model, out, task=snap.task, format=format, extra=extra)
        except OSError as e:
            for name in (WEIGHTS_FILE, DESCRIPTION_FILE):   # never half an export
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(out, name))
            raise RunDirectoryError(f"cannot write the export into {out}: {io_error_text(e)}; neither "
                                    f"{WEIGHTS_FILE} nor {DESCRIPTION_FILE} is left there, so no export "
                                    f"mixes two versions.") from None
    return ExportRunResult(layout.root, out, weights, description, ckpt, step, tuple(note.items))
