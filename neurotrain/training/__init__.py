"""Training: losses and regularisers, gradient methods, the train loop and callbacks."""

from ._callbacks import (
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    ProgressBar,
    TensorBoardLogger,
)
from ._config import DEFAULT_ACTIVITY_BOUND, TrainConfig
from ._loop import Trainer, TrainResult, clip_by_global_norm, train
from ._losses import Objective, l2_penalty, masked_cross_entropy, masked_mse, rate_penalty
from ._methods import BPTT, METHODS, GradientMethod, get_method, register_method
from ._online import DRTRL, ESDRTRL, OnlineMethod, PPProp

__all__ = [
    "train", "TrainConfig", "Trainer", "TrainResult", "clip_by_global_norm", "GradientMethod", "BPTT",
    "Objective", "masked_cross_entropy", "masked_mse", "l2_penalty", "rate_penalty",
    "Callback", "ProgressBar", "CSVLogger", "EarlyStopping", "get_method", "METHODS",
    "register_method", "OnlineMethod", "DRTRL", "PPProp", "ESDRTRL", "Checkpoint", "TensorBoardLogger",
    "DEFAULT_ACTIVITY_BOUND",
]
