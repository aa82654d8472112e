"""Every registered task's default recipe over seeds: does ``neurotrain train --task NAME`` learn?

Each case is what ``neurotrain train --task NAME [--task-param ...] [--method ...] --seed S``
does (``neurotrain.runs.train_run`` with the task's recipe and nothing else set), for seeds
0-9 or fewer where a run is long (the table says how many and why). Per case the table gives
the recipe's criterion (checked on the run's final evaluation: ``eval_trials`` fresh trials of
seed ``S + 1``, scored on the saved weights, which are the best held-out ones where the recipe
restores them), how many seeds met it, the median / min / max of that fresh score and of the
best and the last held-out scores (``eval_trials`` held-out trials during training), the steps
trained and the median training time (``train()``'s wall time: compilation and held-out
evaluations included, the final evaluation not). For the flip-flop it also runs
``neurotrain analyze`` on every run and counts the stable fixed points (and the distinct 3-bit
patterns their readouts store).

Runs are sequential (one process, one run at a time): on a 2-core CPU a population of these
sizes trained together measured slower than the same networks one after the other.

Results are kept per (case, seed) in ``results/recipes.json``, so an interrupted sweep goes on
where it stopped; ``results/recipes.md`` is rendered from it.

Usage::

    python benchmarks/bench_recipes.py --time-only           # ms per step of each recipe, the sweep's cost
    python benchmarks/bench_recipes.py                       # the sweep (resumable), writes results/
    python benchmarks/bench_recipes.py --cases pdm copy-50 --seeds 0 1 2
    python benchmarks/bench_recipes.py --render-only         # rewrite the markdown from the JSON
    python benchmarks/bench_recipes.py --quick               # smoke test: 2 cases, tiny runs, writes nothing
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import brainstate  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
from _common import loadavg, machine, versions  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt  # noqa: E402
from neurotrain.runs import RunOptions, analyze_run, train_run  # noqa: E402
from neurotrain.tasks import YANG_RULES  # noqa: E402
from neurotrain.tasks._registry import TASKS  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results" / "recipes.json"
RESULTS_MD = HERE / "results" / "recipes.md"
ALL_SEEDS = tuple(range(10))

# (case, task, task parameters, method, seeds, why fewer seeds), in the order of priority:
# the explicit targets first, then every other registered task
CASES: list[tuple[str, str, dict, str | None, tuple[int, ...], str]] = [
    ("pdm", "perceptual-decision-making", {}, None, ALL_SEEDS, ""),
    ("copy-10", "copy", {"delay": 10}, None, ALL_SEEDS, ""),
    ("copy-20", "copy", {"delay": 20}, None, ALL_SEEDS, ""),
    ("copy-50", "copy", {"delay": 50}, None, ALL_SEEDS, ""),
    ("copy-10-drtrl", "copy", {"delay": 10}, "d-rtrl", ALL_SEEDS, ""),
    ("integrator", "integrator", {}, None, ALL_SEEDS, ""),
    ("cddm", "context-dependent-decision-making", {}, None, ALL_SEEDS, ""),
    ("dms", "delayed-match-to-sample", {}, None, ALL_SEEDS, ""),
    ("anti-number", "memory-anti-number", {}, None, ALL_SEEDS, ""),
    ("anti-angle", "memory-anti-angle", {}, None, ALL_SEEDS, ""),
    ("flip-flop", "n-bit-flip-flop", {}, None, ALL_SEEDS, ""),
    *[(rule, rule, {}, None, (0, 1, 2), "20 rules x 10 seeds is about a day of this shared CPU; 3 seeds each")
      for rule in YANG_RULES],
    ("soo-a", "soo-a", {}, None, ALL_SEEDS, ""),
    ("soo-b", "soo-b", {}, None, ALL_SEEDS, ""),
    ("soo-c", "soo-c", {}, None, ALL_SEEDS, ""),
    ("cogtask", "cogtask", TASKS.meta("cogtask").get("example", {}), None, (0, 1, 2), "an adapter"),
    ("neurogym", "neurogym", TASKS.meta("neurogym").get("example", {}), None, (0, 1, 2), "an adapter"),
    ("yang-multitask", "yang-multitask", {}, None, (0,), "all 20 rules interleaved: hours per seed"),
    ("rule-reversal", "rule-reversal", {}, None, (0,), "2580 steps of 5 ms per trial"),
]
CASE_NAMES = [c[0] for c in CASES]


def git_commit() -> str:
    if os.environ.get("BENCH_COMMIT"):          # a run from an exported snapshot of a commit
        return os.environ["BENCH_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "neurotrain"], cwd=HERE, capture_output=True,
                               text=True)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "?"


def _fixed_points(run_dir: str) -> dict:
    """``neurotrain analyze`` of a flip-flop run: stable points, saddles, distinct patterns."""
    res = analyze_run(run_dir, figures=False)
    fps = res.fixed_points
    stable = fps.stability == "stable"
    patterns = {tuple(int(v) for v in np.sign(o)) for o in np.asarray(fps.outputs)[stable]}
    counts = fps.counts()
    return {"stable": int(stable.sum()), "saddles": int(counts.get("saddle", 0)),
            "points": int(fps.num_points), "patterns": len(patterns)}


def run_case(case: str, seed: int, *, quick: bool = False) -> dict:
    _, task, params, method, _, _ = next(c for c in CASES if c[0] == case)
    changes = {"steps": 20, "eval_every": 10, "eval_trials": 64, "hidden": 16} if quick else {}
    with tempfile.TemporaryDirectory(prefix="bench-recipes-") as out:
        opts = RunOptions(task=task, task_params=params, method=method or "bptt", seed=seed, out=out,
                          no_progress=True, no_figures=True, **changes)
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = train_run(opts)
        row = {"case": case, "seed": seed, "status": result.status, "wall_s": time.perf_counter() - t0,
               "load_1min": [load0, os.getloadavg()[0]], "date": datetime.date.today().isoformat(),
               "commit": git_commit()}
        s = result.summary
        if result.status in ("interrupted", "terminated"):
            # a signal stopped the run: not a result. Stop the sweep without recording it, so that
            # the next run of the sweep trains this (case, seed) again
            raise KeyboardInterrupt(f"{case} seed {seed} was {result.status} at step {s.get('steps')}")
        if result.status != "completed":
            row["error"] = result.error or s.get("stop_reason")
            return row
        metric = result.task.primary_metric
        crit = s.get("criterion") or {}
        held = s.get("held_out") or {}
        row.update(steps=s["steps"], train_s=s["wall_time_s"], compile_s=s["compile_time_s"],
                   stop_reason=s["stop_reason"], weights=s.get("weights"), metric=metric,
                   fresh=s["scores"].get(metric), fresh_ideal=s["scores"].get(f"ideal_{metric}"),
                   criterion=crit.get("text"), met=crit.get("met"), criterion_value=crit.get("value"),
                   best=held.get("best", {}).get("value"), best_step=held.get("best", {}).get("step"),
                   last=held.get("final", {}).get("value"), last_step=held.get("final", {}).get("step"),
                   eval_trials=s.get("eval_trials"))
        if task == "n-bit-flip-flop":
            row["fixed_points"] = _fixed_points(out)
        return row


def time_recipes(cases, reps: int = 5) -> list[dict]:
    """ms per training step of each case's recipe (after compilation), and the sweep's cost."""
    rows = []
    for case, task_name, params, method, seeds, _ in cases:
        opts = RunOptions(task=task_name, task_params=params, method=method or "bptt")
        task = nt.tasks.make_task(task_name, **params)
        brainstate.random.seed(0)
        model = nt.models.build_model(opts.cell, num_rec=opts.hidden, task=task, **opts.cell_params)
        trainer = nt.training.Trainer(model, task, opts.optimizer_spec().build(opts.steps),
                                      method=nt.training.get_method(opts.method, **opts.method_params),
                                      config=opts.train_config())
        jax.block_until_ready(trainer.step_fn(0)[0])
        t0 = time.perf_counter()
        for i in range(1, reps + 1):
            out = trainer.step_fn(i)
        jax.block_until_ready(out[0])
        ms = 1000 * (time.perf_counter() - t0) / reps
        full = ms * opts.steps / 1000
        rows.append({"case": case, "T": task.num_steps(), "steps": opts.steps, "ms_step": ms,
                     "run_s": full, "seeds": len(seeds), "sweep_s": full * len(seeds),
                     "stop_at": opts.stop_at})
        print(f"{case:18s} T={task.num_steps():5d} {ms:8.1f} ms/step x {opts.steps:5d} steps = {full:7.0f} s "
              f"per run (at most), x {len(seeds)} seeds = {full * len(seeds) / 60:6.1f} min", flush=True)
    total = sum(r["sweep_s"] for r in rows)
    print(f"total (no early stops, no evaluations): {total / 3600:.1f} h at load {loadavg()}")
    return rows


def _stats(values, fmt) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{fmt(med)} [{fmt(min(values))}, {fmt(max(values))}]"


def _score_fmt(metric):
    if metric in ("accuracy", "perf"):
        return lambda v: f"{100 * v:.1f}"
    return lambda v: f"{v:.2g}"


def render(rows: list[dict], settings: dict) -> str:
    commits = sorted({r.get("commit", "?") for r in rows})
    lines = [
        "# Recipes over seeds: `neurotrain train --task NAME` for every registered task",
        "",
        f"- date: {settings['date']}; rendered at commit {settings['commit']}"
        + (f"; the runs are of commits {', '.join(commits)} (per case below)" if len(commits) > 1 else ""),
        f"- machine: {settings['machine']}; shared with other jobs: the 1-minute load average, read "
        f"before and after each run, was {settings['load']} (on 2 cores), so the times are upper bounds "
        "for an idle machine",
        f"- software: {settings['software']}",
        "- each run: `neurotrain.runs.train_run(RunOptions(task=..., task_params=..., method=..., seed=S))`, "
        "i.e. the task's recipe (`neurotrain tasks --recipe NAME`) with nothing else set, one run at a time",
        "- criterion: the recipe's, on the run's final evaluation (its eval_trials fresh trials of seed S + 1, "
        "scored on the saved weights: the best held-out ones, which every recipe restores); *met* counts the "
        "seeds that reached it",
        "- fresh: that score (median [min, max] over the seeds; accuracy and perf in %; for a criterion on the ideal "
        "observer, the gap to it in points too); best / last: the best "
        "and the last held-out evaluation during training (eval_trials held-out trials); steps: steps trained "
        "(recipes with an early stop end at their `stop_at`); train s: `train()`'s wall time, compilation and "
        "held-out evaluations included",
        "- floating-point results differ between CPUs (and thread counts): another machine gives other numbers "
        "for the same seed; compare the ranges",
        "",
        "| case | recipe | criterion | seeds | met | fresh | best held-out | last held-out | steps | train s (median) "
        "| commit |",
        "|---|---|---|---:|---:|---|---|---|---|---:|---|",
    ]
    notes = []
    partial: dict[str, list[str]] = {}
    for case, task_name, params, method, _seeds, why in CASES:
        rs = [r for r in rows if r["case"] == case]
        if not rs:
            continue
        done = [r for r in rs if r["status"] == "completed"]
        metric = done[0]["metric"] if done else "?"
        fmt = _score_fmt(metric)
        met = sum(bool(r.get("met")) for r in done)
        crit = done[0]["criterion"] if done else "-"
        recipe = f"`--task {task_name}`" + "".join(f" `--task-param {k}={v}`" for k, v in params.items()
                                                  if case not in ("cogtask", "neurogym"))
        if method:
            recipe += f" `--method {method}`"
        steps = _stats([r.get("steps") for r in done], lambda v: f"{v:.0f}")
        train = statistics.median([r["train_s"] for r in done]) if done else float("nan")
        failed = [f"seed {r['seed']}: {r['status']}" for r in rs if r["status"] != "completed"]
        fresh = _stats([r.get('fresh') for r in done], fmt)
        if done and "ideal observer" in (crit or ""):      # the gap itself, in points
            fresh += " (gap " + _stats([r.get("criterion_value") for r in done], lambda v: f"{100 * v:.1f}") + ")"
        lines.append(f"| {case} | {recipe} | {crit} | {len(rs)} | **{met}/{len(rs)}** | "
                     f"{fresh} | {_stats([r.get('best') for r in done], fmt)} | "
                     f"{_stats([r.get('last') for r in done], fmt)} | {steps} | {train:.0f} | "
                     f"{', '.join(sorted({r.get('commit', '?') for r in rs}))} |")
        ran = ", ".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
        if len(rs) < len(_seeds):     # cases cut alike share one note (the 20 Yang rules)
            partial.setdefault(f"{len(rs)} of the case's {len(_seeds)} seeds (seeds {ran}); the others did not fit "
                               f"in the sweep's CPU budget ({settings.get('budget', 'not run yet')})"
                               + (f"; the case has fewer seeds because {why}" if why else ""), []).append(case)
        elif len(rs) < len(ALL_SEEDS):
            notes.append(f"- {case}: seeds {ran} ({why or 'fewer seeds'})")
        if failed:
            notes.append(f"- {case}: " + "; ".join(failed))
        missed = [r for r in done if not r.get("met")]
        for r in missed:
            notes.append(f"- {case}, seed {r['seed']}: {metric} {fmt(r['fresh'])} on fresh trials "
                         f"(best held-out {fmt(r['best'])} at step {r['best_step']}), criterion not met")
    notes = [f"- {', '.join(cases)}: {text}" for text, cases in partial.items()] + notes
    ff = [r for r in rows if r["case"] == "flip-flop" and "fixed_points" in r]
    if ff:
        eight = sum(r["fixed_points"]["stable"] == 8 and r["fixed_points"]["patterns"] == 8 for r in ff)
        lines += ["", f"Flip-flop fixed points (`neurotrain analyze RUN_DIR` with its defaults, zero input): "
                      f"**{eight}/{len(ff)}** seeds have exactly 8 stable points storing the 8 patterns.", "",
                  "| seed | stable | storing distinct patterns | saddles | points |", "|---:|---:|---:|---:|---:|"]
        for r in sorted(ff, key=lambda r: r["seed"]):
            fp = r["fixed_points"]
            lines.append(f"| {r['seed']} | {fp['stable']} | {fp['patterns']} | {fp['saddles']} | {fp['points']} |")
    not_run = [c[0] for c in CASES if not any(r["case"] == c[0] for r in rows)]
    if not_run:
        notes.append(f"- not run in this sweep ({settings.get('budget', 'CPU budget')}): {', '.join(not_run)}; "
                     "`python benchmarks/bench_recipes.py` runs them (`--time-only` prints their cost)")
    if notes:
        lines += ["", "Notes:", "", *notes]
    if settings.get("notes"):
        lines += ["", settings["notes"]]
    return "\n".join(lines) + "\n"


NOTES = """\
The copy rows at delays 10 and 20 are of the copy recipe of commit e218ce6 (Adam 0.01 along a
cosine to 1e-4 over 2000 + 70 x delay steps). The recipe before it (commit 90b5d1c: an
exponential decay to 1e-3 over 1500 + 70 x delay steps) met the criterion on 5/5 seeds at delay
10 (99.6-100.0 %), 4/5 at delay 20 (seed 0: 96.8 %; the others 99.5-99.8 %) and 3/3 at delay 50
(99.4-99.6 %); that miss is why it changed. Extended to ten seeds at delay 50 (commit c13f73c),
the cosine recipe left seed 6 at chance (12.5 %, loss ln 8) for all 5500 steps (seeds 3-5 met
it); since commit 61243c1 the recipe starts the GRU's update gate biased to keep its state at
delays above 20 (`update_bias=1`), and the copy-50 row is of that recipe (seeds 0-9, seed 6
included). Rows of other tasks ran at commits 90b5d1c, e218ce6, c13f73c or later; their recipes
are the same in all of them unless a note says otherwise.

The Yang et al. rows are of seed 0 only (commit 05e69a0, 2026-12-07): every one of the 20 rules
met perf >= 0.9 on 1000 fresh trials (91.5-98.4 %); the decision-making rules without a delay
(dm1, dm2, contextdm1, contextdm2, multidm) need 2400-4000 steps of 256 units, 9-14 min each
here, the others 200-800 steps; seed 0 of all 20 took 1.5 h (two at a time), nine more seeds of
each about 13 h of this CPU.

The D-RTRL row (copy-10-drtrl) ran after the online step was compiled with YNNPACK fusions for
matrix products only (commit 61243c1; `benchmarks/results/online_compile.md`): a step of this
GRU takes about 0.3 s on this CPU instead of about 1 s, so its 3000 steps take about 15 min.

Regenerate with `python benchmarks/bench_recipes.py` (resumable; `--render-only` rewrites this
file from `recipes.json`; sweeps run in parallel with their own `--json` are joined with
`--merge`). The recipes themselves are in `neurotrain/training/_recipe_book.py`;
`neurotrain tasks --recipe NAME` prints one."""


def merge_rows(rows: list[dict], *others: list[dict]) -> list[dict]:
    """The runs of ``rows`` and ``others``, one per (case, seed): where two files hold the same
    (case, seed), the run of the later date (then the later file) is kept. Runs a signal stopped
    (status ``interrupted`` or ``terminated``, written by sweeps before they stopped on one) are
    not results and are dropped.

    >>> a = [{"case": "pdm", "seed": 0, "date": "2026-12-01", "x": 1}]
    >>> b = [{"case": "pdm", "seed": 0, "date": "2026-12-07", "x": 2}, {"case": "pdm", "seed": 1, "date": "2026-12-07"}]
    >>> [(r["seed"], r.get("x")) for r in merge_rows(a, b)]
    [(0, 2), (1, None)]
    >>> len(merge_rows(a, [{"case": "pdm", "seed": 0, "date": "2026-12-08", "status": "terminated"}]))
    1
    """
    out: dict[tuple, dict] = {}
    for group in (rows, *others):
        for r in group:
            if r.get("status") in ("interrupted", "terminated"):
                continue
            k = (r["case"], r["seed"])
            if k not in out or r.get("date", "") >= out[k].get("date", ""):
                out[k] = r
    order = {c: i for i, c in enumerate(CASE_NAMES)}
    return sorted(out.values(), key=lambda r: (order.get(r["case"], len(order)), r["seed"]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="*", default=CASE_NAMES, choices=CASE_NAMES, metavar="CASE",
                   help=f"cases to run (default: all): {', '.join(CASE_NAMES)}")
    p.add_argument("--seeds", nargs="*", type=int, default=None,
                   help="seeds (default: each case's, 0-9 for most)")
    p.add_argument("--redo", action="store_true", help="rerun (case, seed) pairs already in the JSON file")
    p.add_argument("--time-only", action="store_true", help="print the step time of every recipe and the "
                                                            "sweep's cost; train nothing")
    p.add_argument("--render-only", action="store_true", help="rewrite the markdown from the JSON file")
    p.add_argument("--quick", action="store_true", help="smoke test: pdm and integrator, 20 steps, 16 units, "
                                                        "seed 0; writes nothing")
    p.add_argument("--budget", default="about 50 min of a shared 2-core CPU",
                   help="the CPU budget the sweep ran under, for the table's notes on seeds not run")
    p.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                   help="merge the runs of other result files (e.g. of sweeps run in parallel with their own "
                        "--json) into --json, the newer run of a (case, seed) winning; then render and exit")
    p.add_argument("--json", type=Path, default=RESULTS_JSON)
    p.add_argument("--out", type=Path, default=RESULTS_MD)
    args = p.parse_args(argv)
    cases = [c for c in CASES if c[0] in args.cases]
    if args.time_only:
        time_recipes(cases)
        return 0
    rows: list[dict] = []
    if args.json.exists() and not args.quick:
        rows = merge_rows(json.loads(args.json.read_text()))    # drops runs a signal stopped
    settings = {"date": datetime.date.today().isoformat(), "commit": git_commit(), "machine": machine(),
                "software": versions(("jax", "brainstate", "braintools", "braintrace", "neurotrain")),
                "notes": NOTES, "budget": args.budget}

    def load_range():
        loads = [v for r in rows for v in r.get("load_1min", [])]
        return f"{min(loads):.1f} to {max(loads):.1f}" if loads else "n/a"

    if args.merge:
        rows = merge_rows(rows, *(json.loads(f.read_text()) for f in args.merge))
        args.json.write_text(json.dumps(rows, indent=1))
        args.render_only = True
    if args.render_only:
        settings["load"] = load_range()
        args.out.write_text(render(rows, settings))
        return 0
    if args.quick:
        cases = [c for c in CASES if c[0] in ("pdm", "integrator")]
    for case, *_, seeds, _why in cases:
        for seed in (args.seeds if args.seeds is not None else seeds):
            if args.quick and seed != 0:
                continue
            if not args.redo and any(r["case"] == case and r["seed"] == seed for r in rows):
                continue
            print(f"[{time.strftime('%H:%M:%S')}] {case} seed {seed} (load {loadavg()})", flush=True)
            try:
                row = run_case(case, seed, quick=args.quick)
            except KeyboardInterrupt as err:
                print(f"stopped ({err}); the runs before it are in {args.json}: run the same command to "
                      "go on", flush=True)
                return 130
            print(f"[{time.strftime('%H:%M:%S')}] {json.dumps(row)}", flush=True)
            rows = [r for r in rows if not (r["case"] == case and r["seed"] == seed)] + [row]
            if not args.quick:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(rows, indent=1))
                settings["load"] = load_range()
                args.out.write_text(render(rows, settings))
    if args.quick:
        settings["load"] = load_range()
        print(render(rows, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
