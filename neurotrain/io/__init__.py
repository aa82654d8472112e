"""Files, checkpoints and the run-directory layout: the layer every other one builds on.

``io`` imports nothing of neurotrain but the base modules: atomic writes, JSON, figures and
library versions (``_files``), the checkpoint format (``_checkpoint``), the names of a run
directory (``_layout``: :class:`RunLayout`), the run-directory locks (``_lock``:
:class:`RunLock`), configuration files (``_config``) and numpy exports (``_export``).
Building a model or a task from a run directory is :mod:`neurotrain.runs`' job
(:func:`neurotrain.runs.load_run`).
"""

from ._checkpoint import (
    FORMAT_VERSION,
    FoundCheckpoint,
    checkpoint_path,
    find_checkpoint,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    read_checkpoint,
    run_checkpoint,
    save_checkpoint,
    skip_messages,
)
from ._config import parse_config_text, read_config_file, to_toml
from ._export import EXPORT_FORMATS, export_weights, numpy_forward, read_export
from ._files import (
    FIGURE_FORMATS,
    atomic_write_bytes,
    atomic_write_text,
    exchange_paths,
    jsonable,
    library_versions,
    read_json,
    save_figure,
    versions_text,
    write_json,
)
from ._layout import (
    ANALYSIS_DIR,
    ANALYSIS_FILE,
    CHECKPOINT_FILE,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    EVALUATION_FILE,
    EXPORT_DIR,
    FIGURES_DIR,
    METRICS_FILE,
    SUMMARY_FILE,
    TENSORBOARD_DIR,
    RunLayout,
)
from ._lock import RunLock

__all__ = [
    "atomic_write_bytes", "atomic_write_text", "jsonable", "write_json", "read_json", "save_figure",
    "FIGURE_FORMATS", "library_versions", "versions_text",
    "save_checkpoint", "load_checkpoint", "read_checkpoint", "checkpoint_path", "list_checkpoints",
    "latest_checkpoint", "find_checkpoint", "FoundCheckpoint", "skip_messages", "run_checkpoint", "FORMAT_VERSION",
    "exchange_paths", "RunLock",
    "RunLayout", "CHECKPOINTS_DIR", "CHECKPOINT_FILE", "CONFIG_FILE", "SUMMARY_FILE", "METRICS_FILE",
    "FIGURES_DIR", "TENSORBOARD_DIR", "EVALUATION_FILE", "ANALYSIS_FILE", "ANALYSIS_DIR", "EXPORT_DIR",
    "read_config_file", "parse_config_text", "to_toml",
    "export_weights", "read_export", "numpy_forward", "EXPORT_FORMATS",
]
