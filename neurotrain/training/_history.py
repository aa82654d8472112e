"""The record of a training run: losses, learning rates, auxiliary values, evaluations, phases.

It is what :class:`~neurotrain.training.TrainResult` reports and what a checkpoint stores so
that a resumed run ends with the same history as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import CheckpointError

__all__ = ["History"]


class History:
    """Per-step values from step ``start`` on, evaluations and finished phases."""

    def __init__(self, start: int = 0):
        self.start = int(start)
        self.loss: list[float] = []
        self.lr: list[float] = []
        self.aux: dict[str, list[float]] = {}
        self.eval_steps: list[int] = []
        self.eval_rows: list[dict[str, float]] = []
        #: finished phases: {"index", "name", "start", "stop", "reason"}
        self.phases: list[dict[str, Any]] = []

    @property
    def num_steps(self) -> int:
        """The step after the last recorded one."""
        return self.start + len(self.loss)

    @property
    def eval_metric_names(self) -> list[str]:
        return list(self.eval_rows[0]) if self.eval_rows else []

    def add_steps(self, losses, lrs, auxs: list[dict[str, float]]) -> None:
        """Record steps: one value per step (one network) or one ``(K,)`` row (a population)."""
        self.loss.extend(_value(v) for v in losses)
        self.lr.extend(_value(v) for v in lrs)
        for a in auxs:
            for k, v in a.items():
                self.aux.setdefault(k, []).append(_value(v))

    def add_eval(self, step: int, metrics: dict[str, float]) -> None:
        self.eval_steps.append(int(step))
        self.eval_rows.append({k: _value(v) for k, v in metrics.items()})

    def evaluated_at(self, step: int) -> bool:
        return step in self.eval_steps

    # --- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        evals = {k: np.asarray([r[k] for r in self.eval_rows], np.float64) for k in self.eval_metric_names}
        return {
            "start": int(self.start),
            "loss": np.asarray(self.loss, np.float64),
            "lr": np.asarray(self.lr, np.float64),
            "aux": {k: np.asarray(v, np.float64) for k, v in self.aux.items()},
            "eval_steps": np.asarray(self.eval_steps, np.int64),
            "eval": evals,
        }

    @classmethod
    def from_state_dict(cls, h, step: int, path: str) -> History:
        """Rebuild from :meth:`state_dict` (checked against the checkpoint's ``step``)."""
        fix = f"The history in checkpoint {path} is malformed; the file was not written by neurotrain."
        try:
            out = cls(int(h.get("start", 0)))
            out.loss = _rows(h["loss"])
            out.lr = _rows(h["lr"])
            out.aux = {str(k): _rows(v) for k, v in (h.get("aux") or {}).items()}
            out.eval_steps = [int(x) for x in np.asarray(h.get("eval_steps", []), np.int64).reshape(-1)]
            evals = {str(k): _rows(v) for k, v in (h.get("eval") or {}).items()}
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{fix} ({type(e).__name__}: {e})") from None
        n = len(out.loss)
        if (out.start + n != step or len(out.lr) != n or any(len(v) != n for v in out.aux.values())
                or any(len(v) != len(out.eval_steps) for v in evals.values())):
            raise CheckpointError(f"{fix} (its lengths do not match the step {step}).")
        out.eval_rows = [{k: v[i] for k, v in evals.items()} for i in range(len(out.eval_steps))]
        return out


def _value(v):
    """A float (one network) or a float64 array (one value per network of a population)."""
    return float(v) if np.ndim(v) == 0 else np.asarray(v, np.float64)


def _rows(a) -> list:
    """Stored values back as a list of floats (1-D) or of ``(K,)`` rows (2-D)."""
    a = np.asarray(a, np.float64)
    if a.ndim <= 1:
        return [float(x) for x in a.reshape(-1)]
    return [row.copy() for row in a]
