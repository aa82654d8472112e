"""Time neurotrain's batched fixed-point finder against scipy ``fsolve`` per candidate.

Target (DESIGN.md section 5): 1024 candidates of a 128-unit network, optimised and
Newton-polished, de-duplicated and classified, in under 5 s on the CPU (after compilation;
the compilation time is reported separately).

The network is a leaky tanh RNN (128 units, ``alpha = dt/tau = 0.2``, one input held at 0)
whose recurrent matrix stores three random +-1 patterns (a Hopfield-like structure) plus a
weak random part, ``W = 2 xi xi^T / N + 0.05 G / sqrt(N)``: it has a few tens of fixed
points (stable pattern and mixture states, saddles between them, an unstable origin).
Candidates: 256 random initial states (standard normal) run for 30 steps without input give
the recorded trajectories; 1024 states are sampled from them with Gaussian noise (sd 0.05).

* **neurotrain**: ``neurotrain.analysis.find_fixed_points(model, zeros, activity=...,
  num_candidates=1024, noise_scale=0.05, mode="exact")``: batched Adam on
  ``q = 1/2 |F(h) - h|^2`` with per-candidate stopping, a batched Newton / Levenberg-Marquardt
  polish, filtering, de-duplication and the eigen-decomposition and classification of the
  unique points. Called once to compile and then ``--reps`` times; the table shows the median.
* **fsolve per candidate** (root finding one start at a time): for each of the same 1024 starting states,
  ``scipy.optimize.fsolve`` on the continuous-time right-hand side ``-h + tanh(W h + b)``
  (whose roots are the fixed points of the Euler map) with its analytic Jacobian, in float64;
  points with ``max |rhs| < 1e-6`` are kept, de-duplicated with the same tolerance (1e-3) and
  classified from the eigenvalues of their Jacobians (numpy).

Both point sets are then matched (nearest neighbour, tolerance 1e-3): the script reports how
many points each found, how many match, the largest distance between matched points, and
whether their stability agrees. Exit status 1 if the sets differ.

``OPENBLAS_NUM_THREADS`` defaults to 1 here (numpy's eigen-decompositions and fsolve's
Jacobians use OpenBLAS; on a busy 2-core machine its threads spin and slow everything down).

Usage::

    python benchmarks/bench_fixed_points.py            # writes benchmarks/results/fixed_points.md
    python benchmarks/bench_fixed_points.py --quick    # smoke test (256 candidates), writes nothing
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import brainstate  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _common import loadavg, machine, versions  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fixed_points.md"
N, P, GAIN, NOISE = 128, 3, 2.0, 0.05
TAU, DT = 100.0, 20.0
UNIQUE_TOL = 1e-3


def build_network(seed: int = 0):
    """The 128-unit leaky tanh network and its float64 recurrent matrix (``h W^T`` convention)."""
    rng = np.random.default_rng(seed)
    brainstate.random.seed(seed)
    cell = nt.models.LeakyRNNCell(1, N, tau=TAU, dt=DT, activation="tanh")
    model = nt.models.RNN(cell, num_out=1)
    xi = rng.choice([-1.0, 1.0], size=(N, P))
    W = GAIN * xi @ xi.T / N + NOISE * rng.standard_normal((N, N)) / np.sqrt(N)
    cell.W_rec.value = jnp.asarray(W.T, jnp.float32)          # the cell computes h @ W_rec
    cell.b.value = jnp.zeros(N, jnp.float32)
    W32 = np.asarray(cell.W_rec.value, np.float64).T            # what the float32 model holds
    return model, W32, rng


def record(model, rng, num_starts=256, steps=30):
    """Trajectories ``(steps + 1, num_starts, N)`` from random states, input 0."""
    F = nt.analysis.step_function(model)
    step = jax.jit(jax.vmap(F, in_axes=(None, 0, None)))
    h = rng.standard_normal((num_starts, N)).astype(np.float32)
    out = [h]
    for _ in range(steps):
        h = np.asarray(step(F.params, h, jnp.zeros(1)))
        out.append(h)
    return np.stack(out)


def run_ours(model, act, num_candidates, reps):
    kw = dict(activity=act, num_candidates=num_candidates, noise_scale=0.05, mode="exact", seed=0,
              unique_tol=UNIQUE_TOL)
    t0 = time.perf_counter()
    first = nt.analysis.find_fixed_points(model, np.zeros(1), **kw)
    first_s = time.perf_counter() - t0
    walls, cpus, stages, fps = [], [], [], first
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fps = nt.analysis.find_fixed_points(model, np.zeros(1), **kw)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        stages.append(fps.timings)
    med = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
    return fps, first_s, statistics.median(walls), statistics.median(cpus), med


def run_fsolve(W, starts, max_starts=None):
    """The exact mode of the Engel lab's trainRNNbrain pipeline: fsolve from every start, keep
    roots, de-duplicate, classify."""
    from scipy.optimize import fsolve

    def rhs(x):
        return -x + np.tanh(W @ x)

    def jac(x):
        return -np.eye(N) + (1.0 - np.tanh(W @ x) ** 2)[:, None] * W

    starts = np.asarray(starts, np.float64)
    if max_starts is not None:
        starts = starts[:max_starts]
    t0, c0 = time.perf_counter(), time.process_time()
    roots = []
    with warnings.catch_warnings():          # "not making good progress": the slow points
        warnings.simplefilter("ignore", RuntimeWarning)
        for x0 in starts:
            x = fsolve(rhs, x0, fprime=jac, xtol=1e-10)
            if np.max(np.abs(rhs(x))) < 1e-6:
                roots.append(x)
    roots = np.asarray(roots).reshape(-1, N)
    keep, _ = nt.analysis.unique_points(roots, UNIQUE_TOL,
                                        order=np.array([np.sum(rhs(x) ** 2) for x in roots]))
    pts = roots[keep]
    J_dt = np.eye(N) + (DT / TAU) * np.array([jac(x) for x in pts]).reshape(-1, N, N)
    lam = np.linalg.eigvals(J_dt) if len(pts) else np.zeros((0, N))
    stab, _ = nt.analysis.classify_eigenvalues(lam, tol=1e-3)
    return pts, stab, time.perf_counter() - t0, time.process_time() - c0, len(starts)


def match(a, b, tol):
    """Nearest-neighbour matching of two point sets; returns (pairs, distances)."""
    if len(a) == 0 or len(b) == 0:
        return [], np.zeros(0)
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    pairs, dist = [], []
    for i in range(len(a)):
        j = int(np.argmin(d[i]))
        if d[i, j] <= tol and int(np.argmin(d[:, j])) == i:
            pairs.append((i, j))
            dist.append(d[i, j])
    return pairs, np.asarray(dist)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256 candidates, 1 repetition, write nothing")
    ap.add_argument("--candidates", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions after the compiling call")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.quick:
        args.candidates, args.reps = 256, 1

    load0 = loadavg()
    model, W, rng = build_network(0)
    act = record(model, rng)
    fps, first_s, wall, cpu, stages = run_ours(model, act, args.candidates, args.reps)
    print(f"neurotrain: {fps.num_points} points {fps.counts()}; first call {first_s:.2f} s, "
          f"then median {wall:.2f} s wall / {cpu:.2f} s CPU", flush=True)
    pts, stab, fs_wall, fs_cpu, n_starts = run_fsolve(W, fps.candidate_start)
    print(f"fsolve: {len(pts)} points; {fs_wall:.2f} s wall / {fs_cpu:.2f} s CPU", flush=True)
    load1 = loadavg()

    ours = fps.points.astype(np.float64)
    pairs, dist = match(ours, pts, UNIQUE_TOL)
    agree = sum(fps.stability[i] == stab[j] for i, j in pairs)
    same = len(pairs) == len(ours) == len(pts) and agree == len(pairs)
    c_ours = fps.counts()
    c_fs = {k: int(np.sum(stab == k)) for k in c_ours}
    status = dict(zip(*np.unique(fps.candidate_status, return_counts=True)))
    compile_s = first_s - wall

    lines = [
        "# Fixed points: batched JAX finder vs scipy fsolve per candidate (trainRNNbrain's exact mode)",
        "",
        f"Generated by `python benchmarks/bench_fixed_points.py` on "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        f"- Machine: {machine()}; JAX backend {jax.default_backend()}.",
        f"- Versions: {versions(('jax', 'jaxlib', 'brainstate', 'numpy', 'scipy', 'neurotrain'))}.",
        f"- Load average (1/5/15 min) before / after: {load0} / {load1}. "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', 'not set')}.",
        f"- Network: leaky tanh RNN, {N} units, alpha = dt/tau = {DT / TAU:g}, input 0; "
        f"W = {GAIN:g} xi xi^T / N + {NOISE:g} G / sqrt(N) with {P} random +-1 patterns xi. float32 "
        "for neurotrain, float64 for fsolve (same weights).",
        f"- Candidates: {args.candidates} states sampled from 256 trajectories (30 steps from random "
        "states), plus noise of sd 0.05; both methods start from the same states.",
        f"- neurotrain: `find_fixed_points(..., mode='exact')`; first call (compilation included) then "
        f"the median of {args.reps} calls. fsolve: `scipy.optimize.fsolve` with the analytic "
        "Jacobian per candidate, roots with max|rhs| < 1e-6, same de-duplication (1e-3) and "
        "classification (eigenvalues of the Euler map's Jacobian, numpy float64).",
        "",
        "| | neurotrain (batched JAX) | scipy fsolve per candidate |",
        "|---|---:|---:|",
        f"| wall time, {args.candidates} candidates (s) | **{wall:.2f}** | {fs_wall:.2f} |",
        f"| CPU time, all threads (s) | {cpu:.2f} | {fs_cpu:.2f} |",
        f"| speed-up (wall / CPU) | **{fs_wall / wall:.1f}x** / {fs_cpu / cpu:.1f}x | 1 |",
        f"| compilation (first call minus a later one, s) | {compile_s:.1f} | - |",
        f"| unique fixed points | {len(ours)} | {len(pts)} |",
        "| stable / saddle / marginal / unstable | "
        f"{c_ours['stable']} / {c_ours['saddle']} / {c_ours['marginal']} / {c_ours['unstable']} | "
        f"{c_fs['stable']} / {c_fs['saddle']} / {c_fs['marginal']} / {c_fs['unstable']} |",
        f"| matched within {UNIQUE_TOL:g} (same stability) | {len(pairs)} ({agree}) | {len(pairs)} ({agree}) |",
        f"| largest distance between matched points | {dist.max() if dist.size else float('nan'):.1e} | |",
        "",
        "neurotrain stages (median, s): " + ", ".join(f"{k} {v:.3f}" for k, v in stages.items()) + ".",
        "Candidate outcomes (last call): " + ", ".join(f"{k} {int(v)}" for k, v in status.items()) + ".",
        "",
        f"Target (DESIGN.md section 5): under 5 s after compilation: "
        f"{'met' if wall < 5.0 else 'NOT met'} ({wall:.2f} s wall). Same fixed points: "
        f"{'yes' if same else 'NO'}.",
    ]
    if float(load0.split()[0]) > 1.5 * (os.cpu_count() or 1):
        lines += ["", f"Note: the machine was busy (1-minute load average {load0.split()[0]} on "
                      f"{os.cpu_count()} cores), so wall-clock times are inflated; the CPU-time row "
                      "is the less load-sensitive comparison."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
