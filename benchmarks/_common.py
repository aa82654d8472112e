"""Helpers shared by the benchmark scripts: machine, version and load lines, the fixed batch.

The scripts run as ``python benchmarks/<script>.py``, so this folder is on ``sys.path``.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from neurotrain.io import versions_text
from neurotrain.tasks import Task, TrialBatch

PACKAGES = ("jax", "jaxlib", "brainstate", "braintools", "braintrace", "numpy", "neurotrain")


def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> str:
    """``"<n> CPU cores (nproc), <model>, <system> <arch>"``."""
    return f"{os.cpu_count()} CPU cores (nproc), {cpu_model()}, {platform.system()} {platform.machine()}"


def versions(packages=PACKAGES) -> str:
    """``"python X, jax Y, ..."`` for ``packages`` (``"(not installed)"`` where missing), as
    :func:`neurotrain.io.versions_text` writes it."""
    return versions_text(("python", *packages))


def loadavg() -> str:
    """The 1/5/15-minute load averages, or ``"n/a"``."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def interleaved_times(call, names, reps: int) -> dict[str, list[float]]:
    """Seconds per ``call(name)`` for every name, ``reps`` calls each, round-robin (A, B, C, then
    C, B, A, ...) so that other load on the machine hits every name alike; compile and warm up
    before calling this."""
    import time

    times: dict[str, list[float]] = {n: [] for n in names}
    names = list(names)
    for r in range(reps):
        for n in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            call(n)
            times[n].append(time.perf_counter() - t0)
    return times


def leaky_average_batch(T: int, batch: int, num_in: int, num_out: int, *, rate: float, seed: int = 0):
    """Random inputs ``(T, batch, num_in)`` and, as float targets ``(T, batch, num_out)``, their
    leaky running average ``y_t = (1 - rate) y_{t-1} + rate x_t`` (a memory task; needs
    ``num_out <= num_in``)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, batch, num_in)).astype(np.float32)
    y = np.zeros((T, batch, num_out), np.float32)
    acc = np.zeros((batch, num_out), np.float32)
    for t in range(T):
        acc = (1.0 - rate) * acc + rate * x[t, :, :num_out]
        y[t] = acc
    return x, y


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
