"""neurotrain: train and analyse recurrent neural networks on neuroscience tasks.

Built on JAX and brainstate / braintools / braintrace. The sub-packages are
:mod:`neurotrain.models` (cells and the RNN stack), :mod:`neurotrain.tasks`,
:mod:`neurotrain.training` (``train``, gradient methods, callbacks),
:mod:`neurotrain.analysis`, :mod:`neurotrain.plot`, :mod:`neurotrain.io` (files, checkpoints,
the run-directory layout) and :mod:`neurotrain.runs` (train, evaluate, analyse and export run
directories, as the ``neurotrain`` command does).
"""

import importlib

from ._errors import (
    CheckpointError,
    ConfigError,
    NeurotrainError,
    RunDirectoryError,
    RunLockedError,
    ShapeError,
    TrainingDivergedError,
)
from ._version import __version__

_SUBMODULES = ("analysis", "io", "models", "plot", "runs", "tasks", "training")


def __getattr__(name):
    # Sub-packages load on first use, so ``neurotrain --help`` does not import JAX.
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name == "train":
        from .training import train

        globals()["train"] = train
        return train
    raise AttributeError(f"module 'neurotrain' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

__all__ = [
    "__version__", "train", "models", "tasks", "training", "analysis", "plot", "io", "runs",
    "NeurotrainError", "ConfigError", "ShapeError", "TrainingDivergedError", "CheckpointError",
    "RunDirectoryError", "RunLockedError",
]
