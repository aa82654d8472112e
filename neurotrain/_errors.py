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
