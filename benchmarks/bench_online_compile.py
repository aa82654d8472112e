"""The online step's XLA options: a D-RTRL / pp-prop step with neurotrain's compiler options
against the same step compiled with XLA's defaults, side by side in one process.

neurotrain compiles the online methods' step with YNNPACK's library fusions for matrix
products only (``GradientMethod.compiler_options``; see ``neurotrain/training/_compile.py``).
This script measures what that buys: for each case it builds two trainers on the same model,
task and seed -- the method as neurotrain ships it, and a subclass whose ``compiler_options``
is empty (XLA's defaults) -- times their steps round-robin (medians of interleaved calls, so
that other load hits both alike), and checks that the two give the same weights after the
timed steps up to float32 summation order.

Cases: the copy task's D-RTRL recipe (GRU of 128 units, batch 64, delay 10: what
``neurotrain train --task copy --task-param delay=10 --method d-rtrl`` trains), pp-prop on the
same, and D-RTRL on a leaky ReLU RNN of 128 units (perceptual decision making, batch 64).

Usage::

    python benchmarks/bench_online_compile.py              # writes results/online_compile.md
    python benchmarks/bench_online_compile.py --quick      # small networks, 2 timed calls; writes nothing
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import statistics
import sys
import time
import warnings
from pathlib import Path

import brainstate
import jax
import numpy as np
from _common import interleaved_times, loadavg, machine, versions  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt
from neurotrain.runs import RunOptions
from neurotrain.training import DRTRL, PPProp

RESULTS = Path(__file__).resolve().parent / "results" / "online_compile.md"


@dataclasses.dataclass(frozen=True)
class DRTRLDefaults(DRTRL):
    """D-RTRL compiled with XLA's default options."""

    def compiler_options(self):
        return {}


@dataclasses.dataclass(frozen=True)
class PPPropDefaults(PPProp):
    """pp-prop compiled with XLA's default options."""

    def compiler_options(self):
        return {}


CASES = {
    "copy (delay 10), GRU 128, D-RTRL": ("copy", {"delay": 10}, "gru", DRTRL, DRTRLDefaults),
    "copy (delay 10), GRU 128, pp-prop": ("copy", {"delay": 10}, "gru", PPProp, PPPropDefaults),
    "PDM, leaky 128, D-RTRL": ("perceptual-decision-making", {}, "leaky", DRTRL, DRTRLDefaults),
}


def trainer(task_name, params, cell, method, hidden, batch):
    opts = RunOptions(task=task_name, task_params=params, method="d-rtrl")
    task = nt.tasks.make_task(task_name, **params)
    brainstate.random.seed(0)
    model = nt.models.build_model(cell, num_rec=hidden, task=task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nt.training.Trainer(model, task, opts.optimizer_spec().build(opts.steps), method=method,
                                   num_steps=10**6, batch_size=batch)


def measure(name, reps, hidden, batch, log=print) -> dict:
    task_name, params, cell, tuned_cls, default_cls = CASES[name]
    trs = {"neurotrain": trainer(task_name, params, cell, tuned_cls(), hidden, batch),
           "XLA defaults": trainer(task_name, params, cell, default_cls(), hidden, batch)}
    counters = dict.fromkeys(trs, 0)

    def call(k):
        out = trs[k].step_fn(counters[k])
        counters[k] += 1
        jax.block_until_ready(out)

    compile_s = {}
    for k in trs:
        t0 = time.perf_counter()
        call(k)
        compile_s[k] = time.perf_counter() - t0
    times = interleaved_times(call, trs, reps)
    names = list(trs)
    a, b = (jax.tree.map(np.asarray, trs[k]._carry[0]) for k in names)
    diff = max(float(np.max(np.abs(a[p] - b[p])) / max(float(np.max(np.abs(b[p]))), 1e-12)) for p in a)
    med = {k: statistics.median(v) for k, v in times.items()}
    row = {"case": name, "ms_tuned": 1e3 * med["neurotrain"], "ms_default": 1e3 * med["XLA defaults"],
           "speedup": med["XLA defaults"] / med["neurotrain"], "compile_tuned": compile_s["neurotrain"],
           "compile_default": compile_s["XLA defaults"], "rel_diff": diff, "steps": reps + 1,
           "options": trs["neurotrain"]._step_fns[0].options}
    log(f"{name}: {row['ms_tuned']:.0f} ms vs {row['ms_default']:.0f} ms with XLA's defaults "
        f"({row['speedup']:.2f}x); weights after {reps + 1} steps differ by {diff:.1e} (relative)", flush=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    hidden, batch, reps = (16, 8, 2) if args.quick else (128, 64, args.reps)
    load0 = loadavg()
    rows = [measure(name, reps, hidden, batch) for name in CASES]
    if args.quick:
        return 0
    lines = [
        "# The online step's XLA options: neurotrain's against XLA's defaults",
        "",
        f"Generated by `python benchmarks/bench_online_compile.py` on "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        f"- Machine: {machine()}; {jax.default_backend()} backend. Load average (1/5/15 min) before / after: "
        f"{load0} / {loadavg()} (the two compilations of a case are timed round-robin in one process, so "
        "load hits both alike).",
        f"- Versions: {versions(('jax', 'jaxlib', 'brainstate', 'braintools', 'braintrace', 'neurotrain'))}.",
        f"- Each case: {hidden} units, batch {batch}, the task's recipe optimiser, seed 0; one trainer compiled with "
        f"neurotrain's options for the method ({rows[0]['options'] or 'none on this backend'}), one with XLA's "
        f"defaults; median of {reps} interleaved steps after one compiling step.",
        "",
        "| case | ms per step, neurotrain | ms per step, XLA defaults | speed-up | compile s (neurotrain / "
        "defaults) | weights after the steps: largest relative difference |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['case']} | {r['ms_tuned']:.0f} | {r['ms_default']:.0f} | {r['speedup']:.2f}x | "
              f"{r['compile_tuned']:.1f} / {r['compile_default']:.1f} | {r['rel_diff']:.1e} |" for r in rows]
    lines += ["", "The weights differ only by the order of float32 sums (the per-trial gradients are "
                  "summed by another kernel)."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
