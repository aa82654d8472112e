"""Time a constrained BPTT training step against an unconstrained one, side by side.

Target (issue 14): a constrained BPTT step costs at most 1.15x an unconstrained one.

Both networks are leaky ReLU RNNs of 128 units (tau 100 ms, dt 20 ms), 3 inputs, 3 outputs,
batch 64, MSE on a fixed batch (a leaky running average of the inputs), Adam 1e-3, float32:

- **unconstrained**: ``LeakyRNNCell(3, 128)`` (orthogonal ``W_rec``), plain readout;
- **constrained**: the same cell with Dale's law (80 % excitatory, ``dale=0.8``, balanced
  initialisation), no autapses, a random 50 % connectivity mask on ``W_rec``, non-negative
  inputs, the readout from the excitatory units only, and the recurrent weights of a fixed
  10 % of the connections frozen (``freeze``). The effective weights ``M * S * |w|`` are
  computed inside braintrace's ops at every step, and the masks are applied to the gradient
  and the update.

What is timed is ``Trainer(...).step_fn(step)`` of each (sample the fixed batch, forward,
loss, gradient, frozen-entry masks, norm, Adam update, learning-rate step), blocked until its
outputs are ready; the two are called alternately (A/B then B/A) in one process, and the table
reports the medians of the wall-clock and of the process CPU time per step and their ratios.

Usage::

    python benchmarks/bench_constraints_step.py            # T = 50, 200, 800; writes results/constraints_step.md
    python benchmarks/bench_constraints_step.py --quick    # T = 50, few repetitions; writes nothing
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import brainstate  # noqa: E402
import braintools  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import FixedBatchTask, leaky_average_batch, loadavg, machine, versions  # noqa: E402

import neurotrain as nt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "constraints_step.md")
NUM_IN = NUM_OUT = 3
NUM_REC, BATCH, TAU, DT, LR = 128, 64, 100.0, 20.0, 1e-3
TARGET = 1.15


def build(constrained: bool, task):
    brainstate.random.seed(0)
    if constrained:
        rng = np.random.default_rng(0)
        mask = rng.random((NUM_REC, NUM_REC)) < 0.5
        frozen = mask & (rng.random((NUM_REC, NUM_REC)) < 0.1)
        cell = nt.models.LeakyRNNCell(NUM_IN, NUM_REC, tau=TAU, dt=DT, dale=0.8, autapses=False, w_rec_mask=mask,
                                      positive_inputs=True)
        model = nt.models.RNN(cell, NUM_OUT, readout_from="excitatory", freeze={"W_rec": frozen})
    else:
        model = nt.models.RNN(nt.models.LeakyRNNCell(NUM_IN, NUM_REC, tau=TAU, dt=DT), NUM_OUT)
    return nt.training.Trainer(model, task, braintools.optim.Adam(lr=LR), batch_size=BATCH, num_steps=10**7,
                               seed=0)


def run_one(T: int, reps: int) -> dict:
    x, y = leaky_average_batch(T, BATCH, NUM_IN, NUM_OUT, rate=0.1)
    task = FixedBatchTask(dt=DT, inputs=x, targets=y)
    trainers = {"unconstrained": build(False, task), "constrained": build(True, task)}
    counters = {k: 0 for k in trainers}

    def call(name):
        out = trainers[name].step_fn(jnp.asarray(counters[name], jnp.int32))
        counters[name] += 1
        jax.block_until_ready(out)

    for _ in range(3):            # compile and warm up
        for k in trainers:
            call(k)
    wall = {k: [] for k in trainers}
    cpu = {k: [] for k in trainers}
    names = list(trainers)
    for r in range(reps):
        for k in (names if r % 2 == 0 else names[::-1]):
            t0, c0 = time.perf_counter(), time.process_time()
            call(k)
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    # the constraints hold after the timed steps (a sanity check of what was timed)
    tr = trainers["constrained"]
    tr.sync()
    W = tr.model.effective_weights()["layers.0.W_rec"]
    types = tr.model.layers[0].unit_types
    ok = bool(np.all(W[types > 0] >= 0) and np.all(W[types < 0] <= 0)
              and np.all(W[~tr.model.layers[0].w_rec_mask] == 0))
    med = {k: 1e3 * statistics.median(v) for k, v in wall.items()}
    cmed = {k: 1e3 * statistics.median(v) for k, v in cpu.items()}
    pairs = statistics.median(a / b for a, b in zip(wall["constrained"], wall["unconstrained"]))
    return {"T": T, "reps": reps, "free": med["unconstrained"], "con": med["constrained"],
            "ratio": med["constrained"] / med["unconstrained"], "pairs": pairs,
            "cpu_free": cmed["unconstrained"], "cpu_con": cmed["constrained"],
            "cpu_ratio": cmed["constrained"] / cmed["unconstrained"], "ok": ok}


HEADER = ("| T | unconstrained (ms) | constrained (ms) | ratio of medians | median of pairwise ratios "
          "| CPU ms (unconstr. / constr.) | CPU ratio | constraints hold |\n"
          "|---:|---:|---:|---:|---:|---:|---:|:---:|")


def fmt(r) -> str:
    return (f"| {r['T']} | {r['free']:.2f} | {r['con']:.2f} | {r['ratio']:.3f} | {r['pairs']:.3f} | "
            f"{r['cpu_free']:.2f} / {r['cpu_con']:.2f} | {r['cpu_ratio']:.3f} | {'yes' if r['ok'] else 'NO'} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T = 50, few repetitions, writes nothing")
    ap.add_argument("--T", type=int, nargs="+", help="trial lengths (default 50 200 800)")
    ap.add_argument("--reps", type=int, help="timed repetitions of each network")
    ap.add_argument("--out", default=None, help=f"markdown file (default {OUT} for the full run)")
    args = ap.parse_args(argv)
    Ts = args.T or ([50] if args.quick else [50, 200, 800])
    load0 = loadavg()
    rows = []
    for T in Ts:
        rows.append(run_one(T, args.reps or (8 if args.quick else (60 if T <= 200 else 30))))
        print(fmt(rows[-1]), flush=True)
    worst = max(r["ratio"] for r in rows)
    text = "\n".join([
        "# Constrained vs unconstrained BPTT step",
        "",
        f"Run on {datetime.date.today().isoformat()} with `python benchmarks/bench_constraints_step.py"
        f"{' --quick' if args.quick else ''}`.",
        f"Machine: {machine()}; JAX backend {jax.default_backend()}.",
        f"Versions: {versions()}.",
        f"Load average (1/5/15 min) at start / end: {load0} / {loadavg()} (other jobs share the CPUs).",
        "",
        "Leaky ReLU RNN, 128 units, batch 64, MSE on a fixed batch, Adam 1e-3, float32. Constrained: Dale's law "
        "(80 % E, balanced init), no autapses, 50 % random W_rec mask, non-negative inputs, readout from E units, "
        "10 % of the connections frozen. Both steps timed alternately in one process; medians over the "
        "repetitions (60 at T <= 200, 30 at T = 800).",
        "",
        HEADER, *[fmt(r) for r in rows], "",
        f"Target: constrained / unconstrained <= {TARGET}. Largest ratio of medians: {worst:.3f} "
        f"({'met' if worst <= TARGET else 'NOT met'}).", ""])
    out = args.out or (None if args.quick or args.T else OUT)
    if out:
        with open(out, "w") as f:
            f.write(text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
