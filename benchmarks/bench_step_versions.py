"""Time the BPTT training step of this tree against another version of neurotrain, side by side.

A regression check for changes to the training core: both versions train the same leaky ReLU
RNN (128 units, batch 64, Adam 1e-3, MSE) from the same initial weights on the same fixed
batch, in one process, with calls alternating (A/B then B/A). The other version is imported
from a checkout under another package name, e.g. a git worktree of an older commit::

    git worktree add --detach /tmp/nt-ref <commit>
    python benchmarks/bench_step_versions.py --against /tmp/nt-ref            # T = 50, 200, 800
    python benchmarks/bench_step_versions.py --against /tmp/nt-ref --quick    # few repetitions

What is timed is ``Trainer(...).step_fn(step)`` of each version (sample the fixed batch,
forward, loss, gradient, norm, Adam update, learning-rate step), blocked until its outputs are
ready. Before timing, one step of each is compared (loss and updated weights).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import sys
from pathlib import Path
from typing import Any

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
from _common import interleaved_times, loadavg, machine  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt

NUM_IN = NUM_OUT = 3
NUM_REC = 128
BATCH = 64
TAU, DT = 100.0, 20.0
LR = 1e-3


def import_as(name: str, root: Path):
    """Import the ``neurotrain`` package found in ``root`` under the module name ``name``."""
    pkg = root / "neurotrain"
    spec = importlib.util.spec_from_file_location(name, pkg / "__init__.py",
                                                  submodule_search_locations=[str(pkg)])
    if spec is None or spec.loader is None:
        raise SystemExit(f"no neurotrain package in {root}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fixed_batch_task(pkg, x, y):
    """A task of version ``pkg`` that always returns the batch ``(x, y)``."""
    Task, TrialBatch = pkg.tasks.Task, pkg.tasks.TrialBatch

    @dataclasses.dataclass(frozen=True)
    class Fixed(Task):
        inputs: Any = None
        targets: Any = None
        target_type = "value"
        name = "fixed-batch"

        @property
        def num_in(self):
            return NUM_IN

        @property
        def num_out(self):
            return NUM_OUT

        def num_steps(self):
            return self.inputs.shape[0]

        def _sample(self, key, batch_size):
            T = self.inputs.shape[0]
            return TrialBatch(inputs=jnp.asarray(self.inputs), targets=jnp.asarray(self.targets),
                              mask=jnp.ones((T, BATCH), jnp.float32), info={})

        def trial_metrics(self, outputs, batch):
            return {"mse": jnp.mean((outputs - batch.targets) ** 2, axis=(0, 2))}

        __hash__ = object.__hash__
        __eq__ = object.__eq__

    return Fixed(dt=DT, inputs=x, targets=y)


def build(pkg, x, y):
    brainstate.random.seed(0)
    cell = pkg.models.LeakyRNNCell(NUM_IN, NUM_REC, tau=TAU, dt=DT, activation="relu")
    model = pkg.models.RNN(cell, num_out=NUM_OUT)
    trainer = pkg.training.Trainer(model, fixed_batch_task(pkg, x, y), braintools.optim.Adam(lr=LR),
                                   batch_size=BATCH, num_steps=10**7, seed=0)
    return model, trainer


def weights(trainer) -> list[np.ndarray]:
    if hasattr(trainer, "sync"):
        trainer.sync()
    return [np.asarray(v.value) for _, v in sorted(trainer.params.items(), key=lambda kv: str(kv[0]))]


def run_one(T: int, reps: int, ref) -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, BATCH, NUM_IN)).astype(np.float32)
    y = np.cumsum(x, axis=0).astype(np.float32) * 0.1
    versions = {"this tree": build(nt, x, y)[1], "reference": build(ref, x, y)[1]}
    counters = {k: 0 for k in versions}

    def call(name):
        tr = versions[name]
        out = tr.step_fn(jnp.asarray(counters[name], jnp.int32))
        counters[name] += 1
        jax.block_until_ready(out)
        return out

    losses = {k: float(call(k)[0]) for k in versions}
    w = {k: weights(tr) for k, tr in versions.items()}
    dw = max(float(np.max(np.abs(a - b))) for a, b in zip(w["this tree"], w["reference"]))
    for _ in range(3):
        for k in versions:
            call(k)
    times = interleaved_times(call, versions, reps)
    names = list(versions)
    new, old = (1e3 * statistics.median(times[k]) for k in names)
    pairs = statistics.median(a / b for a, b in zip(times[names[0]], times[names[1]]))
    return {"T": T, "new_ms": new, "old_ms": old, "ratio": new / old, "pairs": pairs, "dw": dw,
            "dloss": abs(losses["this tree"] - losses["reference"]), "reps": reps}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", type=Path, required=True, help="a checkout holding the reference neurotrain/")
    ap.add_argument("--quick", action="store_true", help="T = 50 and 200, few repetitions")
    ap.add_argument("--T", type=int, nargs="+", help="trial lengths (default 50 200 800)")
    ap.add_argument("--reps", type=int, help="timed repetitions of each version")
    args = ap.parse_args(argv)
    ref = import_as("neurotrain_reference", args.against.resolve())
    Ts = args.T or ([50, 200] if args.quick else [50, 200, 800])
    before = loadavg()
    rows = [run_one(T, args.reps or (6 if args.quick else (60 if T <= 200 else 30)), ref) for T in Ts]
    after = loadavg()
    print(f"# BPTT step: this tree vs {args.against}\n\n- Machine: {machine()}; load {before} -> {after}\n")
    print("| T | this tree (ms) | reference (ms) | ratio of medians | median of pairwise ratios "
          "| max \\|Δw\\| after one step | \\|Δloss\\| |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['T']} | {r['new_ms']:.2f} | {r['old_ms']:.2f} | {r['ratio']:.3f} | {r['pairs']:.3f} "
              f"| {r['dw']:.1e} | {r['dloss']:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
