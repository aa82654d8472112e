"""``export_run``: ``neurotrain export RUN_DIR`` as a Python function."""

from __future__ import annotations

import dataclasses
import os

from .._validate import check_choice
from ..io import EXPORT_FORMATS, RunLayout, export_weights, read_checkpoint
from ._directory import load_run, saved_weights
from ._notes import Notes, NotesCallback
from ._report import PROG

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
    """Export the newest checkpoint of a run as numpy arrays plus a JSON description.

    Parameters
    ----------
    run_dir : str or PathLike
        A run directory.
    out_dir : str or PathLike, optional
        Where to write ``weights.npz`` and ``description.json`` (default: ``run_dir/export``).
    format : {"npz"}
        The export format (see :func:`neurotrain.io.export_weights`).
    notes : callable, optional
        Receives each note (e.g. a damaged newest checkpoint that was skipped).

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
    note = Notes(notes)
    layout = RunLayout(run_dir)
    with note.warnings():
        model, task, config = load_run(layout.root)
        ckpt = saved_weights(layout.root)
    step = read_checkpoint(ckpt).get("step")
    step = None if step is None or int(step) < 0 else int(step)
    extra = {"source": {"run_dir": os.path.abspath(layout.root), "checkpoint": os.path.abspath(ckpt),
                        "step": step, "seed": config.get("seed"), "method": config.get("method")}}
    out = layout.export_dir if out_dir is None else os.fspath(out_dir)
    weights, description = export_weights(model, out, task=task, format=format, extra=extra)
    return ExportRunResult(layout.root, out, weights, description, ckpt, step, tuple(note.items))
