"""Long-term dependencies: plain BPTT vs CD, SCTT and DASC (Soo, Goudar & Wang 2023), side by side.

Two parts:

* ``--part cost``: the cost of one training step of each method at the same fine ``dt`` (the
  skip methods in a skip stage, CD in its coarse stage), measured in one process with calls
  interleaved (medians). Target: a CD/SCTT/DASC step costs <= 1.3x a plain step.
* ``--part reproduce``: the paper's claim on this machine's budget (see the results file for the settings).
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
from _common import interleaved_times, loadavg, machine  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt

RESULTS = Path(__file__).resolve().parent / "results"
LR, BATCH, NUM_REC, SIGMA, CLIP = 2e-3, 20, 50, 0.05, 1.0
THETA, BETA0 = 10, 0.5


def dlygo(delay_ms: float, dt: float = 5.0):
    """Soo et al.'s delayed go (structure B) with a delay of ``delay_ms`` +- 100 ms."""
    return nt.tasks.SooB(dt=dt, rules=("dlygo",), timing=(("delay1", ("uniform", delay_ms - 100, delay_ms + 100)),))


def dms(delay_ms: float, dt: float = 5.0):
    """Soo et al.'s delayed match-to-sample (structure C) with a delay of ``delay_ms`` +- 100 ms."""
    return nt.tasks.SooC(dt=dt, rules=("dms",), timing=(("delay1", ("uniform", delay_ms - 100, delay_ms + 100)),))


#: every method of the comparison (the stage steps are set per run); CD's coarse step is
#: THETA fine steps, as the skip length of SCTT and DASC; a suffix "@N" sets theta = N
#: (e.g. "cd@20": a 100 ms coarse step)
METHOD_NAMES = ("base", "cd", "cd-reset", "sctt", "dasc", "dasc-fresh")


def method_name(name: str) -> str:
    """``name`` checked: one of METHOD_NAMES, optionally with ``@theta`` (an integer >= 2)."""
    base, _, theta = name.partition("@")
    if base not in METHOD_NAMES or base == "base" and theta or theta and not (theta.isdigit() and int(theta) >= 2):
        raise argparse.ArgumentTypeError(f"unknown method {name!r}: one of {', '.join(METHOD_NAMES)}, "
                                         f"optionally with @THETA (e.g. cd@20)")
    return name


def make_method(name: str, stage_steps: int, until: float):
    name, _, theta = name.partition("@")
    theta = int(theta) if theta else THETA
    if name == "base":
        return nt.training.BPTT()
    if name in ("cd", "cd-reset"):
        return nt.training.CD(factors=(theta,), stage_steps=stage_steps, until=until,
                              reset_optimizer=name == "cd-reset")
    if name == "dasc-fresh":   # DASC with each block's prediction from its own start state
        return nt.training.DASC(theta=theta, beta0=BETA0, stages=2, stage_steps=stage_steps, until=until,
                                fresh_derivative=True)
    cls = {"sctt": nt.training.SCTT, "dasc": nt.training.DASC}[name]
    return cls(theta=theta, beta0=BETA0, stages=2, stage_steps=stage_steps, until=until)


def methods(stage_steps: int, until: float = 0.9):
    return {n: make_method(n, stage_steps, until) for n in ("base", "cd", "sctt", "dasc")}


#: the initial recurrent weights: "identity" (the default of these runs) or Soo et al.'s
#: N(0, 1/N^2) entries ("soo": their Wraw = randn / N)
W_REC_INITS = {"identity": "identity", "soo": f"normal:{1.0 / NUM_REC}"}


def build(task, seed, w_rec_init: str = "identity"):
    brainstate.random.seed(seed)
    return nt.models.build_model("leaky", num_rec=NUM_REC, task=task, sigma_rec=SIGMA,
                                 w_rec_init=W_REC_INITS[w_rec_init])


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
    times = interleaved_times(call, trainers, reps)
    names = list(trainers)
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
def train_one(task, method, seed, steps, eval_every, criterion, metric, w_rec_init="identity"):
    model = build(task, seed, w_rec_init)
    stop = nt.training.EarlyStopping(target=criterion, metric=metric)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = nt.train(model, task, braintools.optim.Adam(LR), method=method, num_steps=steps,
                           batch_size=BATCH, eval_every=eval_every, eval_trials=200, seed=seed, clip_norm=CLIP,
                           callbacks=[stop])
        except nt.TrainingDivergedError as err:
            # a run that blows up is a result (it did not reach the criterion), not a crash of the sweep;
            # the model keeps its last good weights, and those are scored
            res, diverged = None, err
    wall = time.perf_counter() - t0
    final = float(nt.analysis.evaluate(model, task, 400, seed=seed + 1000).scores[metric])
    if res is None:
        return {"seed": seed, "reached_at": None, "steps": int(diverged.step or 0), "wall_s": wall,
                "final": final, "eval_steps": [], "curve": [], "phases": [],
                "stop_reason": f"diverged at step {diverged.step}", "diverged": True}
    if res.stop_reason == "interrupted":   # a signal stopped it: not a result (an interrupted sweep reruns it)
        raise KeyboardInterrupt(f"training of seed {seed} was interrupted at step {res.num_steps}")
    curve = res.eval_metrics[metric]
    reached = [int(s) for s, v in zip(res.eval_steps, curve) if v >= criterion]
    return {"seed": seed, "reached_at": reached[0] if reached else None, "steps": int(res.num_steps),
            "wall_s": wall, "final": final, "eval_steps": res.eval_steps.tolist(),
            "curve": [float(v) for v in curve], "phases": res.phases, "stop_reason": res.stop_reason}


def task_list(names, delays):
    """(label, task, metric) of each task asked for."""
    out = []
    for name in names:
        if name == "rule-reversal":
            out.append(("rule reversal (dt 10 ms)", nt.tasks.RuleReversal(dt=10.0), "accuracy"))
            continue
        for d in delays:
            make = {"dlygo": dlygo, "dms": dms}[name]
            out.append((f"{name}, {d / 1000:g} s delay", make(d), "perf"))
    return out


def reproduce(tasks, method_names, seeds, steps, eval_every, criterion, done, save, log=print,
              w_rec_init="identity"):
    """Train every (task, method, seed, budget) not in ``done`` (keyed by label/method/seed, and
    the budget where it is not 1500 steps); ``save`` after each run so that an interrupted sweep
    goes on where it stopped."""
    for label, task, metric in tasks:
        if w_rec_init != "identity":
            label = f"{label}, W_rec {w_rec_init}"
        for name in method_names:
            for seed in seeds:
                key = f"{label}|{name}|{seed}" + (f"|{steps}" if steps != 1500 else "")
                if key in done:
                    continue
                r = train_one(task, make_method(name, steps // 2, criterion), seed, steps, eval_every,
                              criterion, metric, w_rec_init)
                r.update(task=label, method=name, metric=metric, budget=steps, w_rec_init=w_rec_init)
                done[key] = r
                save()
                log(f"{label:24s} {name:8s} seed {seed}: reached at {r['reached_at']}, final {metric} "
                    f"{r['final']:.3f}, {r['steps']} steps in {r['wall_s']:.0f} s"
                    + (f" ({r['stop_reason']})" if r.get("diverged") else ""), flush=True)
    return done


def table(runs, criterion) -> str:
    lines = ["| task | method | networks reaching the criterion | median steps to it | median wall time to it "
             "(s) | final score: median [min, max] | budget (steps) |", "|---|---|---:|---:|---:|---:|---:|"]
    keys = []
    for r in runs:
        if (r["task"], r["method"], r["budget"]) not in keys:
            keys.append((r["task"], r["method"], r["budget"]))
    for task, method, budget in keys:
        rs = [r for r in runs if r["task"] == task and r["method"] == method and r["budget"] == budget]
        ok = [r for r in rs if r["reached_at"] is not None]
        steps = f"{statistics.median(r['reached_at'] for r in ok):.0f}" if ok else "-"
        wall = f"{statistics.median(r['wall_s'] for r in ok):.0f}" if ok else "-"
        f = [r["final"] for r in rs]
        budgets = sorted({r["budget"] for r in rs})
        blown = sum(bool(r.get("diverged")) for r in rs)
        reached = f"{len(ok)}/{len(rs)}" + (f" ({blown} diverged)" if blown else "")
        lines.append(f"| {task} | {method} | {reached} | {steps} | {wall} | "
                     f"{np.median(f):.3f} [{min(f):.3f}, {max(f):.3f}] | {'/'.join(map(str, budgets))} |")
    return "\n".join(lines)


def figure(runs, path: Path, criterion: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def panel(r):     # one panel per task and budget (the default budget unnamed)
        return r["task"] + (f", {r['budget']}-step budget" if r.get("budget", 1500) != 1500 else "")

    tasks = list(dict.fromkeys(panel(r) for r in runs))
    ncols = min(4, len(tasks))
    nrows = -(-len(tasks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax in axes.flat[len(tasks):]:
        ax.set_visible(False)
    colors = {"base": "0.3", "cd": "tab:blue", "cd-reset": "tab:cyan", "sctt": "tab:orange", "dasc": "tab:green", "dasc-fresh": "tab:olive"}
    for ax, task in zip(axes.flat, tasks):
        seen = set()
        for r in runs:
            if panel(r) == task:
                ax.plot(r["eval_steps"], r["curve"], color=colors[r["method"].split("@")[0]], alpha=0.75, lw=1,
                        ls="--" if "@" in r["method"] else "-",
                        label=None if r["method"] in seen else r["method"])
                seen.add(r["method"])
        ax.axhline(criterion, color="k", ls=":", lw=0.8)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7, loc="lower right")
    for row in axes:
        row[0].set_ylabel("held-out score (plain model)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(data, criterion) -> str:
    text = ["# Long-term dependencies: base BPTT vs CD, SCTT, DASC (Soo, Goudar & Wang 2023)\n",
            "Generated by `benchmarks/bench_long_dependencies.py` (runs: "
            + "; ".join(f"`{c}`" for c in data.get("commands", [])) + ").",
            f"\n- Machine: {data.get('machine')}; load averages: {', '.join(data.get('loads', []))}.",
            f"- Networks: leaky ReLU, {NUM_REC} units, tau 100 ms, dt 5 ms, white recurrent noise "
            f"sigma_rec {SIGMA}, identity initial W_rec; Adam {LR}, batch {BATCH}, gradient clipping "
            f"{CLIP}; one network per seed (seeds 0, 1, ...), one after another.",
            f"- Methods: base = plain BPTT at 5 ms; cd = CD with a {THETA * 5} ms step ({THETA} x 5 ms) for "
            f"up to half the budget, then 5 ms, Adam's moments carried over; cd-reset = the same with Adam "
            f"restarted at the stage change (what the authors' code does); sctt / dasc = skip length "
            f"{THETA} fine steps, beta {BETA0} then 1 (2 stages, the first up to half the budget). Every stage "
            f"ends early at the criterion; every evaluation runs the plain 5 ms model; dasc-fresh = dasc with "
            f"each block's prediction from the increment at its own start state (`fresh_derivative=True`) "
            f"instead of the previous block's last increment (the authors' code).",
            f"- Criterion: held-out score >= {criterion} on 200 fresh trials, every {data.get('eval_every')} "
            f"steps (`perf` of the Soo tasks: response direction within 0.2 pi and fixation kept; rule "
            f"reversal: `accuracy` of the response steps). Training stops at the criterion. Final score: "
            f"`evaluate` on 400 trials of another seed."]
    if data.get("cost"):
        text += ["\n## The cost of a training step (dlygo, 1 s delay, dt 5 ms, 50 units, batch 20)\n",
                 "Medians of interleaved calls in one process; each method timed in its first stage (CD in its "
                 "coarse stage: fewer steps; SCTT/DASC in their skip stage).\n",
                 "| method | ms per step | x base | phase timed | T (steps) |", "|---|---:|---:|---|---:|"]
        text += [f"| {r['method']} | {r['ms']:.1f} | {r['ratio']:.2f} | {r['phase']} | {r['T']} |"
                 for r in data["cost"]]
    runs = list(data.get("runs", {}).values())
    if runs:
        text += ["\n## Within a budget of steps\n", table(runs, criterion),
                 "\n![held-out score per network](long_dependencies.png)"]
    return "\n".join(text) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("cost", "reproduce", "both", "render"), default="both")
    ap.add_argument("--quick", action="store_true", help="a smoke run: tiny budgets, writes nothing")
    ap.add_argument("--tasks", nargs="+", default=["dlygo"], choices=("dlygo", "dms", "rule-reversal"))
    ap.add_argument("--delays", type=float, nargs="+", default=[1000.0, 4000.0], help="delays (ms)")
    ap.add_argument("--methods", nargs="+", default=list(METHOD_NAMES), type=method_name,
                    help=f"{', '.join(METHOD_NAMES)}; a suffix @THETA sets the coarse step / skip length (cd@20)")
    ap.add_argument("--w-rec-init", choices=tuple(W_REC_INITS), default="identity",
                    help="initial W_rec: identity (default) or soo (Soo et al.'s randn / N)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one network per seed")
    ap.add_argument("--steps", type=int, default=1500, help="training budget per network")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--criterion", type=float, default=0.9)
    ap.add_argument("--reps", type=int, default=20, help="timed steps per method (cost part)")
    args = ap.parse_args(argv)
    json_path = RESULTS / "long_dependencies.json"
    if args.quick:
        args.seeds, args.steps, args.eval_every, args.reps, args.delays = [0], 12, 6, 3, [1000.0]
        data: dict = {"runs": {}}
    else:
        data = json.loads(json_path.read_text()) if json_path.exists() else {"runs": {}}
        data.setdefault("runs", {})
    if not args.quick and args.part != "render":
        data["machine"] = machine()
        data["eval_every"] = args.eval_every
        data.setdefault("commands", []).append(
            "python benchmarks/bench_long_dependencies.py " + " ".join(argv if argv is not None else sys.argv[1:]))
        data.setdefault("loads", []).append(loadavg())

    def save():
        if not args.quick:
            json_path.write_text(json.dumps(data, indent=1, default=str))

    if args.part in ("cost", "both"):
        data["cost"] = step_cost(args.reps)
        save()
    if args.part in ("reproduce", "both"):
        reproduce(task_list(args.tasks, args.delays), args.methods, args.seeds, args.steps, args.eval_every,
                  args.criterion, data["runs"], save, w_rec_init=args.w_rec_init)
    report = render(data, args.criterion)
    print(report)
    if not args.quick:
        if data["runs"]:
            figure(list(data["runs"].values()), RESULTS / "long_dependencies.png", args.criterion)
        (RESULTS / "long_dependencies.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
