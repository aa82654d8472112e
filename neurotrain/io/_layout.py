"""``RunLayout``: the one place that names the files and folders of a run directory.

A run directory, as ``neurotrain train`` / :func:`neurotrain.runs.train_run` writes it::

    run_dir/
      config.json          the complete recipe (task, model, method, optimiser, settings, versions)
      checkpoints/         step-00000000.msgpack, step-00000500.msgpack, ... and best.msgpack (the
                           weights of the best held-out evaluation)
      metrics.csv          the training log
      summary.json         headline numbers of the training run
      figures/             loss_curve.png, example_trials.png, performance_by_condition.png
                           (a population: loss_curve.png, population_scores.png),
                           and the figures of ``analyze`` (fixed_points_2d.png, ...)
      tensorboard/         TensorBoard event files (only with tensorboardX or torch installed)
      evaluation.json      written by ``evaluate``
      analysis.json        written by ``analyze``
      analysis/            written by ``analyze``: fixed_points, pca, psychometric (.json + .npz)
      export/              written by ``export``: weights.npz, description.json
      networks/            a population's networks split out as run directories (net-000, ...)
      checkpoint.msgpack   the single checkpoint of runs written before checkpoints/ (read only)
      .neurotrain-run      the marker: this folder is a neurotrain run (its run id, when made)
      .neurotrain.lock     the writers' lock; .neurotrain-readers.lock the readers' (see io._lock)

Every other module takes these names from :class:`RunLayout` (``neurotrain.io.CONFIG_FILE``
and the other module constants are the same strings), and the lists of what each command
replaces (:meth:`RunLayout.train_outputs`, :meth:`RunLayout.analysis_outputs`) are made here.
It also tells what a folder is (:meth:`RunLayout.state`: missing, empty, a neurotrain run, or
something else) and finds symbolic links where neurotrain would read or write
(:meth:`RunLayout.check_no_links`): a run directory is only ever touched through its own
names, never through a link.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import uuid
from typing import ClassVar

import numpy as np

from .._errors import CheckpointError, RunDirectoryError

__all__ = [
    "RunLayout", "CHECKPOINTS_DIR", "CHECKPOINT_FILE", "CONFIG_FILE", "SUMMARY_FILE", "METRICS_FILE",
    "FIGURES_DIR", "TENSORBOARD_DIR", "EVALUATION_FILE", "ANALYSIS_FILE", "ANALYSIS_DIR", "EXPORT_DIR",
]


def _names_pattern(names, extensions) -> re.Pattern:
    return re.compile(rf"^({'|'.join(map(re.escape, names))})\.({'|'.join(extensions)})$")


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """The paths of one run directory, and the names every run directory uses.

    Parameters
    ----------
    root : str or PathLike
        The run directory (it need not exist).

    Examples
    --------
    >>> layout = RunLayout("runs/a")
    >>> layout.config_file.replace(os.sep, "/"), layout.checkpoint(500).replace(os.sep, "/")
    ('runs/a/config.json', 'runs/a/checkpoints/step-00000500.msgpack')
    >>> layout.figure("loss_curve").replace(os.sep, "/"), RunLayout.parse_checkpoint_name("step-00000500.msgpack")
    ('runs/a/figures/loss_curve.png', 500)
    """

    root: str

    CONFIG_FILE: ClassVar[str] = "config.json"
    SUMMARY_FILE: ClassVar[str] = "summary.json"
    METRICS_FILE: ClassVar[str] = "metrics.csv"
    EVALUATION_FILE: ClassVar[str] = "evaluation.json"
    ANALYSIS_FILE: ClassVar[str] = "analysis.json"
    #: the single checkpoint of run directories written before ``checkpoints/`` (read only)
    LEGACY_CHECKPOINT_FILE: ClassVar[str] = "checkpoint.msgpack"
    CHECKPOINTS_DIR: ClassVar[str] = "checkpoints"
    FIGURES_DIR: ClassVar[str] = "figures"
    ANALYSIS_DIR: ClassVar[str] = "analysis"
    EXPORT_DIR: ClassVar[str] = "export"
    TENSORBOARD_DIR: ClassVar[str] = "tensorboard"
    #: a population's networks split out as ordinary run directories (``net-<k>``)
    NETWORKS_DIR: ClassVar[str] = "networks"
    #: the marker that says "this folder is a neurotrain run" (JSON: run id, creation time)
    MARKER_FILE: ClassVar[str] = ".neurotrain-run"
    #: the writers' lock (training, replacing) and the readers' lock (evaluate, analyze, export)
    LOCK_FILE: ClassVar[str] = ".neurotrain.lock"
    READERS_LOCK_FILE: ClassVar[str] = ".neurotrain-readers.lock"
    #: figures ``train`` draws into ``figures/`` (names without extension)
    TRAIN_FIGURES: ClassVar[tuple[str, ...]] = ("loss_curve", "example_trials", "performance_by_condition",
                                                "population_scores")
    #: figures ``analyze`` draws into ``figures/``
    ANALYSIS_FIGURES: ClassVar[tuple[str, ...]] = ("fixed_points_2d", "fixed_points_3d", "eigenvalues",
                                                   "eigenvalues_ct", "activity_heatmap", "psychometric")
    #: result objects ``analyze`` saves into ``analysis/`` (each as ``<name>.json`` + ``<name>.npz``)
    ANALYSIS_RESULTS: ClassVar[tuple[str, ...]] = ("fixed_points", "pca", "psychometric")
    FIGURE_FORMATS: ClassVar[tuple[str, ...]] = ("png", "pdf", "svg")
    #: checkpoint files in ``checkpoints/``: ``step-<8 digits>.msgpack``
    CHECKPOINT_PATTERN: ClassVar[re.Pattern] = re.compile(r"^step-(\d+)\.msgpack$")
    #: the checkpoint of the best held-out evaluation in ``checkpoints/`` (not a step to resume from)
    BEST_CHECKPOINT_FILE: ClassVar[str] = "best.msgpack"
    TENSORBOARD_PATTERN: ClassVar[re.Pattern] = re.compile(r"^events\.out\.tfevents\.")
    #: the split networks of a population (``networks/net-000``, ...): run directories of their own
    NETWORK_PATTERN: ClassVar[re.Pattern] = re.compile(r"^net-\d{3,}$")
    #: the files of ``export/`` (``neurotrain.io.export_weights``)
    EXPORT_FILES: ClassVar[tuple[str, ...]] = ("weights.npz", "description.json")
    #: temporary files of interrupted atomic writes (``.<name>.<random>.tmp...``)
    TEMP_PATTERN: ClassVar[re.Pattern] = re.compile(r"^\..+\.tmp")
    ANALYSIS_RESULT_PATTERN: ClassVar[re.Pattern] = _names_pattern(ANALYSIS_RESULTS, ("json", "npz"))

    def __post_init__(self):
        object.__setattr__(self, "root", os.fspath(self.root))

    # --- paths ---------------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def config_file(self) -> str:
        return self._path(self.CONFIG_FILE)

    @property
    def summary_file(self) -> str:
        return self._path(self.SUMMARY_FILE)

    @property
    def metrics_file(self) -> str:
        return self._path(self.METRICS_FILE)

    @property
    def evaluation_file(self) -> str:
        return self._path(self.EVALUATION_FILE)

    @property
    def analysis_file(self) -> str:
        return self._path(self.ANALYSIS_FILE)

    @property
    def legacy_checkpoint_file(self) -> str:
        return self._path(self.LEGACY_CHECKPOINT_FILE)

    @property
    def checkpoints_dir(self) -> str:
        return self._path(self.CHECKPOINTS_DIR)

    @property
    def figures_dir(self) -> str:
        return self._path(self.FIGURES_DIR)

    @property
    def analysis_dir(self) -> str:
        return self._path(self.ANALYSIS_DIR)

    @property
    def export_dir(self) -> str:
        return self._path(self.EXPORT_DIR)

    @property
    def tensorboard_dir(self) -> str:
        return self._path(self.TENSORBOARD_DIR)

    @property
    def best_checkpoint(self) -> str:
        """``checkpoints/best.msgpack``: the weights of the best held-out evaluation."""
        return self._path(self.CHECKPOINTS_DIR, self.BEST_CHECKPOINT_FILE)

    @property
    def marker_file(self) -> str:
        return self._path(self.MARKER_FILE)

    @property
    def lock_file(self) -> str:
        return self._path(self.LOCK_FILE)

    @property
    def readers_lock_file(self) -> str:
        return self._path(self.READERS_LOCK_FILE)

    def checkpoint(self, step: int) -> str:
        """The checkpoint file of ``step`` (an integer >= 0)."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise CheckpointError(f"a checkpoint step must be an integer >= 0; got {step!r}.")
        return self._path(self.CHECKPOINTS_DIR, f"step-{int(step):08d}.msgpack")

    @classmethod
    def parse_checkpoint_name(cls, name: str) -> int | None:
        """The step of a checkpoint file name (``step-00000500.msgpack`` -> 500), else ``None``."""
        m = cls.CHECKPOINT_PATTERN.match(name)
        return int(m.group(1)) if m else None

    def figure(self, name: str, fmt: str = "png") -> str:
        """``figures/<name>.<fmt>``."""
        return self._path(self.FIGURES_DIR, f"{name}.{fmt}")

    def network_dir(self, k: int) -> str:
        """``networks/net-<k, 3 digits>``: network ``k`` of a population as a run directory of its own."""
        return self._path(self.NETWORKS_DIR, f"net-{int(k):03d}")

    def analysis_result(self, name: str) -> str:
        """``analysis/<name>`` (without extension: a result is saved as ``.json`` + ``.npz``)."""
        return self._path(self.ANALYSIS_DIR, name)

    # --- what the folder is ----------------------------------------------------------------
    def _files(self) -> tuple[str, ...]:
        return (self.CONFIG_FILE, self.SUMMARY_FILE, self.METRICS_FILE, self.EVALUATION_FILE,
                self.ANALYSIS_FILE, self.LEGACY_CHECKPOINT_FILE, self.MARKER_FILE, self.LOCK_FILE,
                self.READERS_LOCK_FILE)

    def _folders(self) -> tuple[str, ...]:
        return (self.CHECKPOINTS_DIR, self.FIGURES_DIR, self.ANALYSIS_DIR, self.EXPORT_DIR,
                self.TENSORBOARD_DIR, self.NETWORKS_DIR)

    def links(self) -> list[str]:
        """The symbolic links where neurotrain reads or writes: its own files and folders in the
        run directory and every entry of those folders (the run directory itself may be a link)."""
        found = []
        for name in self._files() + self._folders():
            path = self._path(name)
            if os.path.islink(path):
                found.append(path)
            elif name in self._folders() and os.path.isdir(path):
                try:
                    with os.scandir(path) as entries:
                        found += sorted(e.path for e in entries if e.is_symlink())
                except OSError:
                    continue
        return found

    def check_no_links(self) -> None:
        """Raise :class:`~neurotrain.RunDirectoryError` if :meth:`links` finds one.

        Examples
        --------
        >>> import tempfile
        >>> layout = RunLayout(tempfile.mkdtemp())
        >>> os.symlink(tempfile.mkdtemp(), layout.checkpoints_dir)
        >>> layout.check_no_links()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        neurotrain._errors.RunDirectoryError: .../checkpoints is a symbolic link (to ...); neurotrain never follows links inside a run directory...
        """
        found = self.links()
        if not found:
            return
        try:
            target = os.readlink(found[0])
        except OSError:
            target = "?"
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise RunDirectoryError(
            f"{found[0]} is a symbolic link (to {target}){more}; neurotrain never follows links inside a "
            f"run directory, so that it never reads, writes or deletes files outside it. Replace the "
            f"link with a real file or folder (to keep a run on another disk, link or move the whole run "
            f"directory instead).")

    def foreign_entries(self) -> list[str]:
        """The entries of the run directory that neurotrain did not write (paths relative to it):
        anything but its own files and folders and, inside those folders, the names it gives.

        Examples
        --------
        >>> import tempfile
        >>> layout = RunLayout(tempfile.mkdtemp())
        >>> os.makedirs(layout.figures_dir)
        >>> for path in (layout.config_file, layout.figure("loss_curve"), layout.figure("mine")):
        ...     _ = open(path, "w").write("x")
        >>> [p.replace(os.sep, "/") for p in layout.foreign_entries()]
        ['figures/mine.png']
        """
        figures = _names_pattern(self.TRAIN_FIGURES + self.ANALYSIS_FIGURES, self.FIGURE_FORMATS)
        checkpoints = re.compile(rf"{self.CHECKPOINT_PATTERN.pattern}|^{re.escape(self.BEST_CHECKPOINT_FILE)}$")
        inside = {self.CHECKPOINTS_DIR: checkpoints, self.FIGURES_DIR: figures,
                  self.ANALYSIS_DIR: self.ANALYSIS_RESULT_PATTERN,
                  self.EXPORT_DIR: _names_pattern([os.path.splitext(n)[0] for n in self.EXPORT_FILES],
                                                  ("npz", "json")),
                  self.TENSORBOARD_DIR: self.TENSORBOARD_PATTERN, self.NETWORKS_DIR: self.NETWORK_PATTERN}
        own = set(self._files()) | {self.METRICS_FILE + ".unreadable"}
        try:
            names = sorted(os.listdir(self.root))
        except OSError:
            return []
        found = []
        for name in names:
            path = self._path(name)
            if name in inside and os.path.isdir(path) and not os.path.islink(path):
                try:
                    entries = sorted(os.listdir(path))
                except OSError:
                    entries = []
                found += [os.path.join(name, e) for e in entries
                          if not (inside[name].match(e) or self.TEMP_PATTERN.match(e))]
            elif not (name in own or self.TEMP_PATTERN.match(name)):
                found.append(name)
        return found

    def read_marker(self) -> dict | None:
        """The content of the marker file (``None`` if there is none or it is unreadable)."""
        try:
            with open(self.marker_file, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def marker_content(self) -> dict:
        """A new marker: a fresh run id and the time (what :func:`neurotrain.runs.train_run` writes)."""
        return {"neurotrain": "run directory", "format": 1, "run_id": uuid.uuid4().hex,
                "created": datetime.datetime.now().isoformat(timespec="seconds")}

    def looks_like_a_run(self) -> bool:
        """Whether the folder is a neurotrain run: it has the marker, or (runs written before the
        marker existed) a ``config.json`` that neurotrain wrote (with the task, the model and
        the neurotrain version)."""
        if os.path.isfile(self.marker_file):
            return True
        try:
            with open(self.config_file, encoding="utf-8") as f:
                cfg = json.load(f)
        except (OSError, ValueError):
            return False
        return (isinstance(cfg, dict) and isinstance(cfg.get("versions"), dict)
                and "neurotrain" in cfg["versions"] and "model" in cfg and "task" in cfg)

    def state(self) -> str:
        """What the folder is: ``"missing"``, ``"file"`` (not a folder), ``"empty"`` (nothing in
        it but neurotrain's lock files and empty folders of neurotrain's names), ``"run"``
        (:meth:`looks_like_a_run`) or ``"foreign"`` (a folder with other content).

        Examples
        --------
        >>> import tempfile
        >>> layout = RunLayout(tempfile.mkdtemp())
        >>> layout.state()
        'empty'
        >>> _ = open(layout.config_file, "w").write('{"mine": 1}')
        >>> layout.state()
        'foreign'
        """
        if not os.path.lexists(self.root):
            return "missing"
        if not os.path.isdir(self.root):
            return "file"
        if self.looks_like_a_run():
            return "run"
        try:
            names = set(os.listdir(self.root))
        except OSError as e:
            raise RunDirectoryError(f"cannot read the folder {self.root}: {e.strerror or e}.") from None
        for name in names - {self.LOCK_FILE, self.READERS_LOCK_FILE}:
            path = self._path(name)
            if name not in self._folders() or os.path.islink(path) or not os.path.isdir(path):
                return "foreign"
            try:
                if os.listdir(path):
                    return "foreign"
            except OSError:
                return "foreign"
        return "empty"

    # --- what the commands write ---------------------------------------------------------
    def _existing(self, names, folders) -> list[str]:
        found = [self._path(n) for n in names]
        for folder, pattern in folders:
            path = self._path(folder)
            if os.path.isdir(path):
                found += [os.path.join(path, f) for f in sorted(os.listdir(path)) if pattern.match(f)]
        return [p for p in found if os.path.isfile(p)]

    def train_outputs(self) -> list[str]:
        """The files of an earlier run that a new run in this directory makes stale.

        (A new run replaces the whole folder once it has started, see
        :func:`neurotrain.runs.train_run`; this list is what neurotrain itself wrote there.)

        Everything ``train``, ``evaluate`` and ``analyze`` write that exists now: the config,
        summary, log, evaluation and analysis files, the checkpoints (and the legacy
        ``checkpoint.msgpack``), the TensorBoard event files, the analysis results and the
        figures of both commands. ``export/`` and files of other names are not listed.

        Examples
        --------
        >>> import tempfile
        >>> layout = RunLayout(tempfile.mkdtemp())
        >>> os.makedirs(layout.figures_dir)
        >>> for path in (layout.config_file, layout.figure("loss_curve"), layout.figure("mine")):
        ...     _ = open(path, "w").write("x")
        >>> [os.path.relpath(p, layout.root).replace(os.sep, "/") for p in layout.train_outputs()]
        ['config.json', 'figures/loss_curve.png']
        """
        figures = _names_pattern(self.TRAIN_FIGURES + self.ANALYSIS_FIGURES, self.FIGURE_FORMATS)
        return self._existing(
            (self.CONFIG_FILE, self.LEGACY_CHECKPOINT_FILE, self.SUMMARY_FILE, self.METRICS_FILE,
             self.EVALUATION_FILE, self.ANALYSIS_FILE),
            ((self.CHECKPOINTS_DIR, self.CHECKPOINT_PATTERN),
             (self.CHECKPOINTS_DIR, re.compile(rf"^{re.escape(self.BEST_CHECKPOINT_FILE)}$")),
             (self.TENSORBOARD_DIR, self.TENSORBOARD_PATTERN),
             (self.FIGURES_DIR, figures), (self.ANALYSIS_DIR, self.ANALYSIS_RESULT_PATTERN)))

    def analysis_outputs(self, *, figures: bool = True) -> list[str]:
        """The files of an earlier ``analyze`` that exist now: ``analysis.json``, the results in
        ``analysis/`` and (with ``figures``) its figures in every format."""
        folders = [(self.ANALYSIS_DIR, self.ANALYSIS_RESULT_PATTERN)]
        if figures:
            folders.append((self.FIGURES_DIR, _names_pattern(self.ANALYSIS_FIGURES, self.FIGURE_FORMATS)))
        return self._existing((self.ANALYSIS_FILE,), folders)

    def weight_derived_outputs(self) -> list[str]:
        """The names of the outputs computed from the weights by ``evaluate``, ``analyze`` and
        ``export`` that exist now (``evaluation.json``, ``analysis.json``, ``export``); a
        resumed run keeps them, though they describe the weights from before."""
        return [n for n in (self.EVALUATION_FILE, self.ANALYSIS_FILE, self.EXPORT_DIR)
                if os.path.exists(self._path(n))]


CHECKPOINTS_DIR = RunLayout.CHECKPOINTS_DIR
CHECKPOINT_FILE = RunLayout.LEGACY_CHECKPOINT_FILE
CONFIG_FILE = RunLayout.CONFIG_FILE
SUMMARY_FILE = RunLayout.SUMMARY_FILE
METRICS_FILE = RunLayout.METRICS_FILE
FIGURES_DIR = RunLayout.FIGURES_DIR
TENSORBOARD_DIR = RunLayout.TENSORBOARD_DIR
EVALUATION_FILE = RunLayout.EVALUATION_FILE
ANALYSIS_FILE = RunLayout.ANALYSIS_FILE
ANALYSIS_DIR = RunLayout.ANALYSIS_DIR
EXPORT_DIR = RunLayout.EXPORT_DIR
