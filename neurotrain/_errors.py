"""The errors neurotrain raises for problems a user can cause.

Every message names the argument, the value received and the fix.
"""

from __future__ import annotations

__all__ = [
    "NeurotrainError",
    "ConfigError",
    "ShapeError",
    "TrainingDivergedError",
    "CheckpointError",
    "RunDirectoryError",
    "RunLockedError",
]


class NeurotrainError(Exception):
    """Base class of every error neurotrain raises on purpose."""


class ConfigError(NeurotrainError, ValueError):
    """A configuration value is invalid (bad dt, unknown name, bad timing...)."""


class ShapeError(NeurotrainError, ValueError):
    """An array has the wrong shape or dtype for the model or task it meets."""


class TrainingDivergedError(NeurotrainError, FloatingPointError):
    """The loss became NaN or infinite; the model keeps its last good weights."""

    def __init__(self, message: str, step: int | None = None):
        super().__init__(message)
        self.step = step


class CheckpointError(NeurotrainError, OSError):
    """A checkpoint or run directory is missing, corrupt or does not match the model."""


class RunDirectoryError(CheckpointError):
    """A run directory cannot be used as asked: it is not a neurotrain run (and ``force`` was
    not given), it holds a symbolic link, or one of its files cannot be written (permission,
    full disk). The message says what is left on disk and how to go on."""


class RunLockedError(RunDirectoryError):
    """Another process holds the run directory's lock (it is training into it, or replacing
    or reading it).

    Attributes
    ----------
    run_dir : str
    pid : int or None
        The process holding the lock, when it recorded itself.
    holder : dict
        What the holder recorded: ``pid``, ``host``, ``command``, ``since``.
    """

    def __init__(self, message: str, *, run_dir: str = "", pid: int | None = None,
                 holder: dict | None = None):
        super().__init__(message)
        self.run_dir, self.pid, self.holder = run_dir, pid, dict(holder or {})
