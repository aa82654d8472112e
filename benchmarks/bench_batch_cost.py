"""Cost of drawing a batch (jitted ``task.sample`` alone) vs a full BPTT training step.

DESIGN.md section 5: drawing a batch costs under 5 % of a training step. For every registered
task (built with its defaults), plus the two adapters (``from_cogtask`` on
``braintools.cogtask.PerceptualDecisionMaking`` and, when neurogym is installed,
``from_neurogym("PerceptualDecisionMaking-v0")``), this times

* ``sample``: ``jax.jit(lambda k: task.sample(k, B))``, and
* ``step``: ``neurotrain.training.Trainer(...).step_fn`` (sample + forward + loss + BPTT
  gradient + Adam update) for a 128-unit leaky RNN,

both after compilation, as the median over ``--repeats`` rounds of ``--calls`` calls, each
call waited for with ``block_until_ready``. Writes a markdown table.

Usage::

    python benchmarks/bench_batch_cost.py                       # every task, the committed table
    python benchmarks/bench_batch_cost.py --tasks pdm cddm      # a subset, printed only
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import brainstate  # noqa: E402
import braintools  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from _common import loadavg, machine, versions  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt  # noqa: E402
from neurotrain.training import Trainer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "batch_cost.md")
TARGET = 0.05


def all_tasks(names=None):
    """``[(label, task)]``: every registered task with its defaults, then the adapters."""
    out = []
    for row in nt.tasks.list_tasks():
        if row["name"] in ("cogtask", "neurogym"):
            continue
        if names and row["name"] not in names:
            continue
        out.append((row["name"], nt.tasks.make_task(row["name"])))
    if not names or "cogtask" in names:
        import brainunit as u
        from braintools import cogtask

        out.append(("cogtask: PerceptualDecisionMaking",
                    nt.tasks.from_cogtask(cogtask.PerceptualDecisionMaking(t_stimulus=1000 * u.ms, dt=20 * u.ms))))
    if not names or "neurogym" in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(("neurogym: PerceptualDecisionMaking-v0 (pool 2048)",
                            nt.tasks.from_neurogym("PerceptualDecisionMaking-v0", dt=20,
                                                   timing={"stimulus": 1000}, pool_size=2048)))
        except ImportError:
            print("neurogym not installed: skipping its adapter", file=sys.stderr)
    return out


def timed(fn, calls, repeats):
    """Median seconds per call over ``repeats`` rounds of ``calls`` calls."""
    per = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            jax.block_until_ready(fn())
        per.append((time.perf_counter() - t0) / calls)
    return statistics.median(per)


def measure(task, batch_size, calls, repeats, num_rec=128):
    brainstate.random.seed(0)
    cell = nt.models.LeakyRNNCell(task.num_in, num_rec, tau=100.0, dt=task.dt)
    model = nt.models.RNN(cell, num_out=task.num_out)
    trainer = Trainer(model, task, braintools.optim.Adam(lr=1e-4), num_steps=10 ** 6, batch_size=batch_size)
    sample = jax.jit(lambda k: task.sample(k, batch_size))
    keys = iter(jax.random.split(jax.random.PRNGKey(0), calls * repeats + 1))
    jax.block_until_ready(sample(next(keys)))                         # compile
    counter = iter(range(10 ** 6))
    jax.block_until_ready(trainer.step_fn(jnp.asarray(next(counter), jnp.int32)))
    t_sample = timed(lambda: sample(next(keys)), calls, repeats)
    t_step = timed(lambda: trainer.step_fn(jnp.asarray(next(counter), jnp.int32)), calls, repeats)
    return t_sample, t_step, trainer.num_traces


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="*", default=None, help="registry names (default: all)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    load0 = loadavg()
    rows = []
    header = ("| task | T | num_in | sample (ms) | BPTT step (ms) | sample / step | < 5 % |\n"
              "|---|---|---|---|---|---|---|")
    print(header)
    for label, task in all_tasks(args.tasks):
        ts, tt, traces = measure(task, args.batch_size, args.calls, args.repeats)
        ratio = ts / tt
        row = (f"| {label} | {task.num_steps()} | {task.num_in} | {1e3 * ts:.3f} | {1e3 * tt:.2f} | "
               f"{100 * ratio:.2f} % | {'yes' if ratio < TARGET else '**no**'} |")
        print(row, flush=True)
        assert traces == 1, f"{label}: the train step traced {traces} times"
        rows.append((ratio, row))
    worst = max(r for r, _ in rows)
    out = args.out or (OUT if args.tasks is None else None)
    text = "\n".join([
        "# Drawing a batch vs a BPTT training step",
        "",
        f"Run on {datetime.date.today().isoformat()} with `python benchmarks/bench_batch_cost.py`.",
        f"Machine: {machine()}; JAX backend {jax.default_backend()}.",
        f"Versions: {versions()}.",
        f"Load average (1/5/15 min) at start / end: {load0} / {loadavg()} "
        "(other jobs share the CPUs; wall times scale with it).",
        "",
        f"Batch {args.batch_size}; model `LeakyRNNCell(num_in, 128, tau=100, dt=task.dt)` + readout; "
        "`sample` is `jax.jit(lambda k: task.sample(k, B))`; `BPTT step` is `Trainer(...).step_fn` "
        "(sample + forward + loss + gradient + Adam update; it compiled once for every task). Median over "
        f"{args.repeats} rounds of {args.calls} calls after compilation. DESIGN.md target: sample under "
        f"5 % of a step. Largest ratio: {100 * worst:.2f} %.",
        "",
        header, *[r for _, r in rows], ""])
    if out:
        with open(out, "w") as f:
            f.write(text)
        print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
