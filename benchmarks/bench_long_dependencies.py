"""Long-term dependencies: plain BPTT vs CD, SCTT and DASC (Soo, Goudar & Wang 2023), side by side.

Two parts:

* ``--part cost``: the cost of one training step of each method at the same fine ``dt`` (the
  skip methods in a skip stage, CD in its coarse stage), measured in one process with calls
  interleaved (medians). Target: a CD/SCTT/DASC step costs <= 1.3x a plain step.
* ``--part reproduce``: the paper's claim on this machine's budget. Leaky ReLU RNNs (50 units,
  dt = 5 ms, white recurrent noise, Adam 2e-3, batch 20) learn Soo et al.'s delayed-go task
  (structure B, ``dlygo``) with a 1 s delay and longer delays, and the rule-reversal task; each
  method trains ``--networks`` networks (seeds) for at most ``--steps`` steps, stopping at the
  criterion (held-out ``perf`` >= ``--criterion`` on 200 trials, evaluated every ``--eval-every``
  steps; for rule reversal ``accuracy``). The table gives, per task and method, how many
  networks reached the criterion, the median steps and wall time to it, and the final score
  (median, min, max).

Usage::

    python benchmarks/bench_long_dependencies.py --part cost
    python benchmarks/bench_long_dependencies.py --part reproduce --networks 4 --steps 1500
    python benchmarks/bench_long_dependencies.py --quick          # a smoke run of both parts

Results: benchmarks/results/long_dependencies.md (and .json with every run's curve).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import brainstate
import braintools
import jax
import numpy as np
from _common import loadavg, machine  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt

RESULTS = Path(__file__).resolve().parent / "results"
LR, BATCH, NUM_REC, SIGMA = 2e-3, 20, 50, 0.05


def dlygo(delay_ms: float, dt: float = 5.0):
    """Soo et al.'s delayed go (structure B) with a delay of ``delay_ms`` +- 100 ms."""
    return nt.tasks.SooB(dt=dt, rules=("dlygo",), timing=(("delay1", ("uniform", delay_ms - 100, delay_ms + 100)),))


def methods(stage_steps: int, theta: int = 10):
    return {
        "base": nt.training.BPTT(),
        "cd": nt.training.CD(theta=theta, stages=2, stage_steps=stage_steps),
        "sctt": nt.training.SCTT(theta=theta, beta0=0.5, stages=2, stage_steps=stage_steps),
        "dasc": nt.training.DASC(theta=theta, beta0=0.5, stages=2, stage_steps=stage_steps),
    }


def build(task, seed):
    brainstate.random.seed(seed)
    return nt.models.build_model("leaky", num_rec=NUM_REC, task=task, sigma_rec=SIGMA)


# --------------------------------------------------------------------------------------------
# part 1: the cost of a step
# --------------------------------------------------------------------------------------------
def step_cost(reps: int, log=print) -> list[dict]:
    task = dlygo(1000.0)
    trainers = {}
    for name, m in methods(stage_steps=10**6).items():
        tr = nt.training.Trainer(build(task, 0), task, braintools.optim.Adam(LR), method=m,
                                 num_steps=10**7, batch_size=BATCH)
        trainers[name] = tr
    counters = dict.fromkeys(trainers, 0)

    def call(name):
        out = trainers[name].step_fn(counters[name])
        counters[name] += 1
        jax.block_until_ready(out)

    for name in trainers:          # compile, warm up
        for _ in range(2):
            call(name)
    times = {n: [] for n in trainers}
    names = list(trainers)
    for r in range(reps):
        for n in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            call(n)
            times[n].append(time.perf_counter() - t0)
    base = statistics.median(times["base"])
    rows = []
    for n in names:
        med = statistics.median(times[n])
        phase = trainers[n].phase
        rows.append({"method": n, "ms": 1e3 * med, "ratio": med / base, "phase": phase.name,
                     "T": phase.task.num_steps()})
        log(f"{n:5s} {1e3 * med:8.1f} ms  x{med / base:.2f}  ({phase.name}, T={phase.task.num_steps()})")
    return rows


# --------------------------------------------------------------------------------------------
# part 2: the reproduction
# --------------------------------------------------------------------------------------------
def train_one(task, method, seed, steps, eval_every, criterion, metric):
    model = build(task, seed)
    stop = nt.training.EarlyStopping(target=criterion, metric=metric)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nt.train(model, task, braintools.optim.Adam(LR), method=method, num_steps=steps, batch_size=BATCH,
                       eval_every=eval_every, eval_trials=200, seed=seed, callbacks=[stop])
    wall = time.perf_counter() - t0
    curve = res.eval_metrics[metric]
    reached = [int(s) for s, v in zip(res.eval_steps, curve) if v >= criterion]
    final = nt.analysis.evaluate(model, task, 400, seed=seed + 1000).scores[metric]
    return {"seed": seed, "reached_at": reached[0] if reached else None, "steps": int(res.num_steps),
            "wall_s": wall, "final": float(final), "eval_steps": res.eval_steps.tolist(),
            "curve": [float(v) for v in curve], "phases": res.phases}


def reproduce(tasks, networks, steps, eval_every, criterion, log=print):
    runs = []
    for label, task, metric in tasks:
        for name, m in methods(stage_steps=steps // 3).items():
            for seed in range(networks):
                r = train_one(task, m, seed, steps, eval_every, criterion, metric)
                r.update(task=label, method=name, metric=metric)
                runs.append(r)
                log(f"{label:22s} {name:5s} seed {seed}: reached at {r['reached_at']}, final {metric} "
                    f"{r['final']:.3f}, {r['steps']} steps in {r['wall_s']:.0f} s")
    return runs


def table(runs, networks, criterion) -> str:
    lines = ["| task | method | reached criterion | median steps to it | median wall time to it (s) "
             "| final score: median [min, max] |", "|---|---|---:|---:|---:|---:|"]
    keys = []
    for r in runs:
        if (r["task"], r["method"]) not in keys:
            keys.append((r["task"], r["method"]))
    for task, method in keys:
        rs = [r for r in runs if r["task"] == task and r["method"] == method]
        ok = [r for r in rs if r["reached_at"] is not None]
        steps = f"{statistics.median(r['reached_at'] for r in ok):.0f}" if ok else "-"
        wall = f"{statistics.median(r['wall_s'] for r in ok):.0f}" if ok else "-"
        f = [r["final"] for r in rs]
        lines.append(f"| {task} | {method} | {len(ok)}/{len(rs)} | {steps} | {wall} | "
                     f"{np.median(f):.3f} [{min(f):.3f}, {max(f):.3f}] |")
    return "\n".join(lines)


def figure(runs, path: Path, criterion: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in runs))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    colors = {"base": "0.4", "cd": "tab:blue", "sctt": "tab:orange", "dasc": "tab:green"}
    for ax, task in zip(axes[0], tasks):
        for r in runs:
            if r["task"] == task:
                ax.plot(r["eval_steps"], r["curve"], color=colors[r["method"]], alpha=0.7, lw=1,
                        label=r["method"] if r["seed"] == 0 else None)
        ax.axhline(criterion, color="k", ls=":", lw=0.8)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel("held-out score")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("cost", "reproduce", "both"), default="both")
    ap.add_argument("--quick", action="store_true", help="a smoke run: tiny budgets, writes nothing")
    ap.add_argument("--networks", type=int, default=4, help="networks (seeds) per method and task")
    ap.add_argument("--steps", type=int, default=1500, help="training budget per network")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--criterion", type=float, default=0.9)
    ap.add_argument("--delays", type=float, nargs="+", default=[1000.0, 2000.0], help="delays (ms) of dlygo")
    ap.add_argument("--rule-reversal", action="store_true", help="include the rule-reversal task")
    ap.add_argument("--reps", type=int, default=20, help="timed steps per method (cost part)")
    args = ap.parse_args(argv)
    if args.quick:
        args.networks, args.steps, args.eval_every, args.reps, args.delays = 1, 12, 6, 3, [1000.0]
    load_before = loadavg()
    out = {"machine": machine(), "args": vars(args)}
    text = ["# Long-term dependencies: base BPTT vs CD, SCTT, DASC\n",
            f"Generated by `python benchmarks/bench_long_dependencies.py {' '.join(argv or sys.argv[1:])}`.",
            f"\n- Machine: {machine()}; load before {load_before}."]
    if args.part in ("cost", "both"):
        rows = step_cost(args.reps)
        out["cost"] = rows
        text += ["\n## The cost of a training step (dlygo, 1 s delay, dt 5 ms, 50 units, batch 20)\n",
                 "| method | ms per step | x plain | phase timed | T (steps) |", "|---|---:|---:|---|---:|"]
        text += [f"| {r['method']} | {r['ms']:.1f} | {r['ratio']:.2f} | {r['phase']} | {r['T']} |" for r in rows]
    if args.part in ("reproduce", "both"):
        tasks = [(f"dlygo, {d / 1000:g} s delay", dlygo(d), "perf") for d in args.delays]
        if args.rule_reversal:
            tasks.append(("rule reversal", nt.tasks.RuleReversal(), "accuracy"))
        runs = reproduce(tasks, args.networks, args.steps, args.eval_every, args.criterion)
        out["runs"] = runs
        text += [f"\n## Within a budget of {args.steps} steps ({args.networks} networks per method, criterion "
                 f"{args.criterion} on 200 held-out trials every {args.eval_every} steps)\n",
                 table(runs, args.networks, args.criterion)]
        if not args.quick:
            figure(runs, RESULTS / "long_dependencies.png", args.criterion)
            text.append("\n![held-out score per network](long_dependencies.png)")
    text.append(f"\n- Load after: {loadavg()}.")
    report = "\n".join(text) + "\n"
    print(report)
    if not args.quick:
        (RESULTS / "long_dependencies.md").write_text(report)
        (RESULTS / "long_dependencies.json").write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
