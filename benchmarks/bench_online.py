"""Time and compiled memory of one training step: BPTT against the online methods.

For each trial length ``T`` the script builds one ``neurotrain.training.Trainer`` per method
on the same model (same initial weights) and the same fixed batch, and measures its jitted
step ``Trainer.step_fn`` -- the step that ``neurotrain.train`` runs: sample the batch, forward
pass, loss, gradient, gradient norm, Adam update, learning-rate schedule step.

* **Memory**: ``Trainer.lower_step(step)`` is the step lowered by ``jax.jit`` (JAX's
  ``Lowered`` object) at the trainer's current parameters and optimizer state, which are the
  step's arguments; ``.compile()`` of it gives the ``Compiled`` object. The script calls
  ``lower_step(0).compile().memory_analysis()`` and reports
  ``temp_size_in_bytes``: the scratch memory XLA allocates for one execution of the step
  (activations stored for the backward pass, eligibility traces, scan buffers), which is the
  part that depends on ``T``. Arguments (parameters, optimizer state) and outputs are
  reported separately; they do not depend on ``T``.
* **Time**: wall-clock per call of ``step_fn`` (blocked until the loss and the updated
  weights are ready), median of several calls after a warm-up call. The methods of one ``T``
  are timed round-robin in one process (A, B, C, D, then B, C, D, A, ...) so that other load
  on the machine hits all of them alike; the process CPU time per call is reported too.

Model: leaky ReLU rate RNN (``tau = 100 ms``, ``dt = 20 ms``), 128 units, 3 inputs, 3
outputs, batch 64, MSE on every time step, Adam(1e-3), float32. The task is a tiny ``Task``
subclass that returns one precomputed batch for its ``T``.

Methods: ``BPTT()``, ``DRTRL(vjp_method="multi-step")``, ``DRTRL(vjp_method="single-step")``
and ``PPProp(decay=0.9)`` (pp-prop = ES-D-RTRL, multi-step VJP). The online methods wrap only
the recurrent cell in a vmapped braintrace learner; the readout gets its exact gradient
outside it.

Requirement checked: the online methods' temporary memory at the largest ``T`` is within
1.1x of the smallest ``T`` (exit status 1 otherwise), while BPTT's grows with ``T``.

Usage::

    python benchmarks/bench_online.py            # T = 50, 200, 800, 3200; writes results/online_memory_time.md
    python benchmarks/bench_online.py --quick    # smoke test: T = 20, 60, 2 timed calls; writes nothing
    python benchmarks/bench_online.py --T 50 200 --reps 5 --out /tmp/online.md
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
import warnings
from pathlib import Path

import brainstate
import braintools
import jax
import jax.numpy as jnp
from _common import FixedBatchTask, leaky_average_batch, loadavg, machine, versions  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt
from neurotrain.training import BPTT, DRTRL, PPProp, Trainer

NUM_IN = NUM_OUT = 3
NUM_REC = 128
BATCH = 64
TAU, DT = 100.0, 20.0
LR = 1e-3
RESULTS = Path(__file__).resolve().parent / "results" / "online_memory_time.md"
FLAT_LIMIT = 1.1

METHODS = {
    "BPTT": lambda: BPTT(),
    "D-RTRL multi-step": lambda: DRTRL(vjp_method="multi-step"),
    "D-RTRL single-step": lambda: DRTRL(vjp_method="single-step"),
    "pp-prop (decay 0.9)": lambda: PPProp(decay=0.9),
}


def make_batch(T: int, seed: int = 0):
    """Random inputs; the target is a leaky running average of the input (a memory task)."""
    return leaky_average_batch(T, BATCH, NUM_IN, NUM_OUT, rate=0.05, seed=seed)


def build(method_name: str, task: FixedBatchTask, seed: int = 0) -> Trainer:
    brainstate.random.seed(seed)  # the same initial weights for every method
    model = nt.models.build_model("leaky", NUM_IN, NUM_REC, NUM_OUT, tau=TAU, dt=DT, activation="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Trainer(model, task, braintools.optim.Adam(lr=LR), method=METHODS[method_name](),
                       batch_size=BATCH, num_steps=10**9, seed=seed)


def measure_T(T: int, names, reps: int, log=print) -> list[dict]:
    x, y = make_batch(T)
    task = FixedBatchTask(dt=DT, inputs=x, targets=y)
    rows, calls = [], []
    for name in names:
        tr = build(name, task)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = tr.lower_step(0).compile()
        compile_s = time.perf_counter() - t0
        mem = compiled.memory_analysis()
        params = list(tr.params.values())
        counter = [0]

        def call(tr=tr, params=params, counter=counter):
            out = tr.step_fn(jnp.asarray(counter[0], jnp.int32))
            counter[0] += 1
            jax.block_until_ready((out, [p.value for p in params]))
            return out

        t0 = time.perf_counter()
        loss0 = float(call()[0])  # first call: reuses the compiled executable
        first_s = time.perf_counter() - t0
        row = {"T": T, "method": name, "temp": mem.temp_size_in_bytes, "arg": mem.argument_size_in_bytes,
               "out": mem.output_size_in_bytes, "compile_s": compile_s, "first_s": first_s,
               "loss0": loss0, "times": [], "cpu": [], "traces": None}
        log(f"T={T:5d} {name:<20s} XLA temp {mem.temp_size_in_bytes / 2**20:8.2f} MiB, "
            f"args {mem.argument_size_in_bytes / 2**20:.2f} MiB; compile {compile_s:.1f} s, first call "
            f"{first_s:.2f} s, loss {loss0:.4f}")
        rows.append(row)
        calls.append((call, row, tr))
    # timing: round-robin over the methods, rotating the order each round
    for r in range(reps):
        k = r % len(calls)
        for call, row, _ in calls[k:] + calls[:k]:
            c0, t0 = time.process_time(), time.perf_counter()
            call()
            row["times"].append(time.perf_counter() - t0)
            row["cpu"].append(time.process_time() - c0)
    for _, row, tr in calls:
        row["ms"] = 1e3 * statistics.median(row["times"])
        row["cpu_ms"] = 1e3 * statistics.median(row["cpu"])
        row["traces"] = tr.num_traces
        log(f"T={T:5d} {row['method']:<20s} {row['ms']:10.1f} ms/step (median of {len(row['times'])}; "
            f"min {1e3 * min(row['times']):.1f}; CPU {row['cpu_ms']:.1f} ms)")
    return rows


def reps_for(T: int, quick: bool, override: int | None) -> int:
    if override:
        return override
    if quick:
        return 2
    return 10 if T <= 200 else (5 if T <= 800 else 3)


def tables(rows, Ts, names) -> str:
    by = {(r["T"], r["method"]): r for r in rows}
    T0 = Ts[0]
    mib = 2 ** 20
    head = "| T | " + " | ".join(names) + " |"
    sep = "|---:|" + "---:|" * len(names)
    mem = [f"**XLA temporary memory per step** (MiB; ratio to T = {T0} in brackets)", "", head, sep]
    for T in Ts:
        cells = []
        for n in names:
            r = by[(T, n)]
            cells.append(f"{r['temp'] / mib:.2f} ({r['temp'] / by[(T0, n)]['temp']:.2f}x)")
        mem.append(f"| {T} | " + " | ".join(cells) + " |")
    tim = ["**Wall-clock time per training step** (ms, median; ratio to BPTT at the same T in brackets)",
           "", head, sep]
    for T in Ts:
        cells = []
        for n in names:
            r = by[(T, n)]
            ratio = r["ms"] / by[(T, names[0])]["ms"] if names[0] == "BPTT" else float("nan")
            cells.append(f"{r['ms']:.1f} ({ratio:.1f}x)")
        tim.append(f"| {T} | " + " | ".join(cells) + " |")
    cpu = ["**Process CPU time per training step** (ms, median, all threads)", "", head, sep]
    for T in Ts:
        cpu.append(f"| {T} | " + " | ".join(f"{by[(T, n)]['cpu_ms']:.1f}" for n in names) + " |")
    comp = ["**Compile time** (s, `lower_step(0).compile()`) and timed calls", "", head, sep]
    for T in Ts:
        comp.append(f"| {T} | " + " | ".join(
            f"{by[(T, n)]['compile_s']:.1f} s, {len(by[(T, n)]['times'])} calls" for n in names) + " |")
    return "\n".join(mem) + "\n\n" + "\n".join(tim) + "\n\n" + "\n".join(cpu) + "\n\n" + "\n".join(comp)


def flatness(rows, Ts, names):
    by = {(r["T"], r["method"]): r for r in rows}
    out = {}
    for n in names:
        out[n] = by[(Ts[-1], n)]["temp"] / by[(Ts[0], n)]["temp"]
    return out


def report(rows, Ts, names, flat, ok, load_before, load_after, cmd) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    growth = ", ".join(f"{n} {flat[n]:.3f}x" for n in names)
    if "BPTT" in names:
        per_step = ((rows_by(rows, Ts[-1], "BPTT")["temp"] - rows_by(rows, Ts[0], "BPTT")["temp"])
                    / (Ts[-1] - Ts[0]) / 1024)
        bptt_line = (f"so its memory grows linearly with T (about {per_step:.0f} KiB per time step here, "
                     f"{per_step * 1024 / (BATCH * NUM_REC * 4):.1f} x B x H x 4 bytes)")
    else:
        bptt_line = "so its memory grows linearly with T"
    verdict = "met" if ok else "NOT met"
    return f"""# Online learning: memory and time per training step

Generated by `{cmd}` on {now}.

- Machine: {machine()}; {jax.devices()[0].platform} backend. Load average (1/5/15 min) before /
  after: {load_before} / {load_after}. The machine was shared with other jobs, so the wall-clock
  times are noisy (compare methods within one row: they were timed round-robin in one process);
  the memory numbers are exact properties of the compiled programs and do not depend on load.
- Versions: {versions()}.
- Model: leaky ReLU rate RNN, {NUM_REC} units, {NUM_IN} inputs, {NUM_OUT} outputs, tau = {TAU:g} ms,
  dt = {DT:g} ms, batch {BATCH}, MSE on every time step, Adam(lr={LR:g}), float32. One fixed batch per T.
- What is timed: `Trainer.step_fn(step)`, the jitted training step of `neurotrain.train`
  (sample the fixed batch, forward, loss, gradient, gradient norm, Adam update, schedule step),
  blocked until the loss and the updated weights are ready. Median over the timed calls after
  one warm-up call.
- What "XLA temporary memory" is: `Trainer.lower_step(0).compile()` lowers and compiles the
  training step ahead of time with `jax.jit` (the parameter and
  optimizer states become the first argument of the underlying `jax.jit`) and returns a
  `jax.stages.Compiled`; the table reports `memory_analysis().temp_size_in_bytes`, the scratch
  memory of one execution (BPTT: the stored activations of the unrolled trial; online: the
  per-trial eligibility traces and the per-step working set). Arguments (weights, Adam state:
  {rows[0]['arg'] / 2**20:.2f} MiB) and outputs are not included and do not depend on T.
- Online methods: the cell is wrapped in a vmapped braintrace learner (per-trial traces), the
  readout is differentiated exactly outside it; one update per trial.

{tables(rows, Ts, names)}

Requirement: the online methods' temporary memory at T = {Ts[-1]} is within {FLAT_LIMIT}x of
T = {Ts[0]}, while BPTT's grows. Growth T = {Ts[0]} -> {Ts[-1]}: {growth}. Requirement {verdict}.

How to read it: BPTT stores the hidden state and the intermediate values of every time step
for the backward pass, {bptt_line}. The online methods keep eligibility traces whose size depends on
the number of weights and the batch (D-RTRL: one B x H x H trace for `W_rec`, so more memory
than BPTT at small T; pp-prop: factorised traces of size B x (inputs + H)), not on T. Their
cost is time: every time step propagates the traces, so a training step is several times
slower than BPTT's on this CPU, and the single-step VJP variant is the slowest.
"""


def rows_by(rows, T, name):
    return next(r for r in rows if r["T"] == T and r["method"] == name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: T = 20, 60, 2 timed calls; writes no file")
    ap.add_argument("--T", type=int, nargs="+", help="trial lengths (default 50 200 800 3200)")
    ap.add_argument("--reps", type=int, help="timed calls per method and T (default 10 / 5 / 3 by T)")
    ap.add_argument("--methods", nargs="+", choices=list(METHODS), help="subset of methods")
    ap.add_argument("--out", type=Path, help=f"write the markdown report here (default {RESULTS})")
    args = ap.parse_args(argv)
    Ts = sorted(args.T or ([20, 60] if args.quick else [50, 200, 800, 3200]))
    names = args.methods or list(METHODS)

    load_before = loadavg()
    rows = []
    for T in Ts:
        rows.extend(measure_T(T, names, reps_for(T, args.quick, args.reps)))
    load_after = loadavg()

    flat = flatness(rows, Ts, names)
    online = [n for n in names if n != "BPTT"]
    ok = all(flat[n] <= FLAT_LIMIT for n in online)
    text = tables(rows, Ts, names)
    print()
    print(text)
    print(f"\ntemporary memory growth T={Ts[0]} -> {Ts[-1]}: "
          + ", ".join(f"{n} {flat[n]:.3f}x" for n in names)
          + f"; online within {FLAT_LIMIT}x: {'yes' if ok else 'NO'}")
    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        cmd = "python benchmarks/bench_online.py" + ("" if argv is None else " " + " ".join(argv))
        if argv is None and len(sys.argv) > 1:
            cmd = "python benchmarks/bench_online.py " + " ".join(sys.argv[1:])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report(rows, Ts, names, flat, ok, load_before, load_after, cmd))
        print(f"written to {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
