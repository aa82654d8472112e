"""Time neurotrain's BPTT training step against a hand-written pure-JAX step.

Both sides train the same model from the same initial weights on the same batch:

* **neurotrain**: ``Trainer(model, task, braintools.optim.Adam(1e-3)).step_fn(step)``, the
  real jitted step of ``neurotrain.train`` (sample, forward, loss, BPTT gradient, gradient
  norm, Adam update, learning-rate schedule step, per-step noise key). The task is a tiny
  ``Task`` subclass whose ``_sample`` returns one fixed, precomputed batch, so the sampling
  inside the step is trivial (the batch is a constant of the compiled step).
* **pure JAX**: ``jax.lax.scan`` over the leaky ReLU update, readout, ``jax.grad`` of the
  mean squared error and ``optax.adam(1e-3)``, all under one ``jax.jit``; the batch is an
  argument.

Model: leaky rate RNN, ReLU, 128 units, 3 inputs, 3 outputs, batch 64, ``alpha = dt/tau =
0.2``, no noise, MSE on every time step. float32.

Before timing, one step of each is compared (loss and updated weights). Timing alternates
the two (A/B, then B/A), blocks on every output, and reports medians.

Usage::

    python benchmarks/bench_bptt_step.py            # full run, writes benchmarks/results/bptt_step.md
    python benchmarks/bench_bptt_step.py --quick    # CI smoke test: few repetitions, writes nothing
    python benchmarks/bench_bptt_step.py --T 200 --reps 30 --out /tmp/bptt.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _common import PACKAGES, FixedBatchTask, leaky_average_batch, loadavg, machine  # noqa: E402  (benchmarks/ is on sys.path)
from _common import versions as _versions  # noqa: E402

import neurotrain as nt

NUM_IN = NUM_OUT = 3
NUM_REC = 128
BATCH = 64
TAU, DT = 100.0, 20.0
LR = 1e-3
RESULTS = Path(__file__).resolve().parent / "results" / "bptt_step.md"


# --------------------------------------------------------------------------------------------
# the fixed-batch task
# --------------------------------------------------------------------------------------------
def make_batch(T: int, seed: int = 0):
    """Smooth random inputs and a target that is a leaky running sum of them."""
    return leaky_average_batch(T, BATCH, NUM_IN, NUM_OUT, rate=0.1, seed=seed)


# --------------------------------------------------------------------------------------------
# the two implementations
# --------------------------------------------------------------------------------------------
def build_neurotrain(T: int, x, y, seed: int = 0):
    brainstate.random.seed(seed)
    cell = nt.models.LeakyRNNCell(NUM_IN, NUM_REC, tau=TAU, dt=DT, activation="relu")
    model = nt.models.RNN(cell, num_out=NUM_OUT)
    task = FixedBatchTask(dt=DT, inputs=x, targets=y)
    trainer = nt.training.Trainer(model, task, braintools.optim.Adam(lr=LR), batch_size=BATCH,
                                  num_steps=10**9, seed=seed)
    return model, trainer


def neurotrain_weights(model) -> dict[str, np.ndarray]:
    cell, ro = model.layers[0], model.readout
    return {"W_in": np.asarray(cell.W_in.value), "W_rec": np.asarray(cell.W_rec.value),
            "b": np.asarray(cell.b.value), "W_out": np.asarray(ro.W.value), "b_out": np.asarray(ro.b.value)}


def build_pure_jax():
    alpha = DT / TAU
    opt = optax.adam(LR)

    def forward(p, xs):
        def body(h, x):
            h = (1.0 - alpha) * h + alpha * jax.nn.relu(h @ p["W_rec"] + x @ p["W_in"] + p["b"])
            return h, h

        h0 = jnp.zeros((xs.shape[1], p["W_rec"].shape[0]), xs.dtype)
        _, hs = jax.lax.scan(body, h0, xs)
        return hs @ p["W_out"] + p["b_out"]

    def loss_fn(p, xs, ys):
        return jnp.mean((forward(p, xs) - ys) ** 2)

    @jax.jit
    def step(p, opt_state, xs, ys):
        loss, g = jax.value_and_grad(loss_fn)(p, xs, ys)
        updates, opt_state = opt.update(g, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss

    return step, opt


# --------------------------------------------------------------------------------------------
# measurement
# --------------------------------------------------------------------------------------------
def run_one(T: int, reps: int, warmup: int, log=print) -> dict:
    x, y = make_batch(T)
    model, trainer = build_neurotrain(T, x, y)
    w0 = neurotrain_weights(model)
    pj_step, opt = build_pure_jax()
    params = {k: jnp.asarray(v) for k, v in w0.items()}
    opt_state = opt.init(params)
    xs, ys = jnp.asarray(x), jnp.asarray(y)
    counter = [0]

    def nt_call():
        out = trainer.step_fn(jnp.asarray(counter[0], jnp.int32))   # the weights come out with it
        counter[0] += 1
        jax.block_until_ready(out)
        return out

    def pj_call():
        nonlocal params, opt_state
        params, opt_state, loss = pj_step(params, opt_state, xs, ys)
        jax.block_until_ready((params, opt_state, loss))
        return loss

    # --- correctness: one step from the same weights on the same batch ---------------------
    t0 = time.perf_counter()
    nt_loss = float(nt_call()[0])
    nt_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    pj_loss = float(pj_call())
    pj_compile = time.perf_counter() - t0
    trainer.sync()                       # the trainer's weights into the model
    w1 = neurotrain_weights(model)
    dw = max(float(np.max(np.abs(w1[k] - np.asarray(params[k])))) for k in w1)
    moved = max(float(np.max(np.abs(w1[k] - w0[k]))) for k in w1)
    dloss = abs(nt_loss - pj_loss)
    log(f"T={T}: loss neurotrain {nt_loss:.7g} vs pure JAX {pj_loss:.7g} (|diff| {dloss:.2e}); "
        f"max |dw| after one step {dw:.2e} (the step moved weights by up to {moved:.2e}); "
        f"first call (compile) {nt_compile:.2f} s vs {pj_compile:.2f} s")
    ok = dloss <= 1e-5 * max(1.0, abs(pj_loss)) and dw <= 1e-6
    if not ok:
        log(f"T={T}: MISMATCH between the two implementations")

    # --- timing ----------------------------------------------------------------------------
    for _ in range(warmup):
        nt_call()
        pj_call()
    t_nt, t_pj, c_nt, c_pj = [], [], [], []
    for r in range(reps):
        order = ((nt_call, t_nt, c_nt), (pj_call, t_pj, c_pj))
        for fn, acc, cpu in (order if r % 2 == 0 else order[::-1]):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    nt_ms, pj_ms = 1e3 * statistics.median(t_nt), 1e3 * statistics.median(t_pj)
    ratios = [a / b for a, b in zip(t_nt, t_pj)]
    row = {"T": T, "nt_ms": nt_ms, "pj_ms": pj_ms, "ratio": nt_ms / pj_ms,
           "ratio_pairs": statistics.median(ratios), "dw": dw, "dloss": dloss, "ok": ok, "reps": reps,
           "nt_min": 1e3 * min(t_nt), "pj_min": 1e3 * min(t_pj),
           "nt_cpu": 1e3 * statistics.median(c_nt), "pj_cpu": 1e3 * statistics.median(c_pj)}
    log(f"T={T}: neurotrain {nt_ms:.2f} ms, pure JAX {pj_ms:.2f} ms, ratio {row['ratio']:.3f} "
        f"(median of pairwise ratios {row['ratio_pairs']:.3f}; min {row['nt_min']:.2f} vs "
        f"{row['pj_min']:.2f} ms; CPU time {row['nt_cpu']:.2f} vs {row['pj_cpu']:.2f} ms; {reps} reps)")
    return row


def table(rows) -> str:
    lines = ["| T | neurotrain (ms) | pure JAX (ms) | ratio | max \\|Δw\\| after one step "
             "| CPU time neurotrain / pure JAX (ms) | CPU ratio |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['T']} | {r['nt_ms']:.2f} | {r['pj_ms']:.2f} | {r['ratio']:.2f} | {r['dw']:.1e} "
                     f"| {r['nt_cpu']:.1f} / {r['pj_cpu']:.1f} | {r['nt_cpu'] / r['pj_cpu']:.2f} |")
    return "\n".join(lines)




def busy_note(*loads: str) -> str:
    """A warning for the report when other work was running on the machine."""
    try:
        peak = max(float(load.split()[0]) for load in loads)
    except (ValueError, IndexError):
        return ""
    if peak <= 0.75 * (os.cpu_count() or 1):
        return ""
    return (f"\nNote: the machine was busy during this run (1-minute load average up to {peak:.1f} on "
            f"{os.cpu_count()} cores), so the wall-clock times are inflated and noisy. Because the two "
            f"steps alternate, the ratio stays meaningful; the CPU-time columns (work done per step, "
            f"all threads) are the less load-sensitive comparison.\n")


def report(rows, args, load_before, load_after, extra="") -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    reps = " / ".join(f"{r['reps']} (T={r['T']})" for r in rows)
    xla_flags = os.environ.get("XLA_FLAGS", "") or "not set"
    return f"""# BPTT training step: neurotrain vs hand-written pure JAX

Generated by `python benchmarks/bench_bptt_step.py{' --quick' if args.quick else ''}` on {now}.

- Machine: {machine()}; {jax.devices()[0].platform} backend.
- Versions: {_versions((*PACKAGES[:-2], "optax", *PACKAGES[-2:]))}.
- Load average (1/5/15 min) before / after: {load_before} / {load_after}. XLA_FLAGS: {xla_flags}.
- Model: leaky ReLU RNN, {NUM_REC} units, {NUM_IN} inputs, {NUM_OUT} outputs, batch {BATCH},
  alpha = dt/tau = {DT / TAU:g}, MSE at every step, Adam(lr={LR:g}), float32.
- neurotrain: `Trainer(...).step_fn(step)`, the real jitted step of `neurotrain.train`. Its task
  returns one fixed precomputed batch, so the step includes a (trivial) sampling of that batch,
  plus the per-step noise key, the gradient norm and the learning-rate schedule step.
- pure JAX: `jax.lax.scan` + `jax.grad` + `optax.adam` under one `jax.jit`, batch passed as an
  argument. Readout applied once to all hidden states after the scan.
- Same initial weights and batch; one step of each compared before timing. Timing alternates
  the two implementations (A/B then B/A), {reps} timed repetitions of each after warm-up, each call
  blocked until its outputs (loss and updated weights) are ready; the table shows medians of
  wall-clock time and, as a check against other load on the machine, of the process CPU time
  (all threads) per call.

{table(rows)}

Target (DESIGN.md section 5): ratio <= 1.2 at T = 200 and 800.
{extra}"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few repetitions, T = 50 and 200; writes no file")
    ap.add_argument("--T", type=int, nargs="+", help="trial lengths (default 50 200 800)")
    ap.add_argument("--reps", type=int, help="timed repetitions per implementation")
    ap.add_argument("--out", type=Path, help=f"write the markdown report here (default {RESULTS})")
    args = ap.parse_args(argv)
    Ts = args.T or ([50, 200] if args.quick else [50, 200, 800])
    warmup = 2 if args.quick else 5

    load_before = loadavg()
    rows = []
    for T in Ts:
        reps = args.reps or (5 if args.quick else (60 if T <= 200 else 30))
        rows.append(run_one(T, reps, warmup))
    load_after = loadavg()

    print()
    print(table(rows))
    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report(rows, args, load_before, load_after, busy_note(load_before, load_after)))
        print(f"\nwritten to {out}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
