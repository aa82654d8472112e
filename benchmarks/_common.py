"""Helpers shared by the benchmark scripts: machine and version lines, and a one-batch task.

The scripts run as ``python benchmarks/<script>.py``, so this folder is on ``sys.path``.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import jax.numpy as jnp

from neurotrain.tasks import Task, TrialBatch

PACKAGES = ("jax", "jaxlib", "brainstate", "braintools", "braintrace", "numpy", "neurotrain")


def machine() -> str:
    """``"<n> CPU cores (nproc), <model>, <system> <arch>"``."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    return f"{os.cpu_count()} CPU cores (nproc), {cpu}, {platform.system()} {platform.machine()}"


def versions(packages=PACKAGES) -> str:
    """``"python X, jax Y, ..."`` for ``packages`` (``"(not installed)"`` where missing)."""
    out = [f"python {platform.python_version()}"]
    for n in packages:
        try:
            out.append(f"{n} {metadata.version(n)}")
        except metadata.PackageNotFoundError:
            out.append(f"{n} (not installed)")
    return ", ".join(out)


def loadavg() -> str:
    """The 1/5/15-minute load averages, or ``"n/a"``."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


@dataclasses.dataclass(frozen=True, eq=False)
class FixedBatchTask(Task):
    """A task that always returns the same batch: ``inputs (T, B, num_in)``, float
    ``targets (T, B, num_out)``, mask 1, scored by MSE. Timing a step on it measures the
    training step alone, not the task's sampler."""

    inputs: Any = None
    targets: Any = None

    target_type = "value"
    name = "fixed-batch"

    @property
    def num_in(self) -> int:
        return self.inputs.shape[-1]

    @property
    def num_out(self) -> int:
        return self.targets.shape[-1]

    def num_steps(self) -> int:
        return self.inputs.shape[0]

    def _sample(self, key, batch_size):
        T, B = self.inputs.shape[:2]
        if batch_size != B:
            raise ValueError(f"this task holds a batch of {B} trials, not {batch_size}")
        return TrialBatch(inputs=jnp.asarray(self.inputs), targets=jnp.asarray(self.targets),
                          mask=jnp.ones((T, B), jnp.float32), info={})

    def trial_metrics(self, outputs, batch):
        return {"mse": jnp.mean((outputs - batch.targets) ** 2, axis=(0, 2))}
