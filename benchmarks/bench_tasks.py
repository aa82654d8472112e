"""Train a leaky RNN with BPTT on the CDDM, DMS, flip-flop and memory tasks (and PDM) to a criterion.

For every task: a 128-unit leaky ReLU RNN (tau = 100 ms, dt = the task's, recurrent noise
0.05), Adam, gradient clipping at norm 1, batch 64, evaluated every ``--eval-every`` steps on
512 held-out trials; training stops at the criterion (:class:`neurotrain.training.EarlyStopping`)
or after ``--max-steps``. Criteria:

* decision tasks with an ideal observer (PDM, CDDM, DMS): held-out accuracy within 3 points
  of the ideal observer's on the same held-out trials;
* flip-flop and memory tasks: held-out MSE below a stated threshold (see ``TASKS``);
* ``ngym-pdm``: neurogym's own ``PerceptualDecisionMaking-v0`` (1 s stimulus, dt 20 ms)
  through :func:`neurotrain.tasks.from_neurogym`, trained on a pool of 8192 neurogym trials
  and evaluated on a second pool of 4096 trials drawn with another seed (trials the network
  never saw). neurogym defines no ideal observer; the one used here is PDM's: the choice of
  the evidence channel with the larger sum over the stimulus period, on the same trials.

Then a fresh evaluation on 2000 trials (``neurotrain.analysis.evaluate``, seed 1). Writes a
markdown table with the machine, versions and date.

Usage::

    python benchmarks/bench_tasks.py                      # all tasks, the committed table
    python benchmarks/bench_tasks.py --tasks cddm dms     # a subset, printed only
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import brainstate  # noqa: E402
import braintools  # noqa: E402
import jax  # noqa: E402
from _common import loadavg, machine, versions  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt  # noqa: E402
from neurotrain.training import EarlyStopping, Trainer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "tasks_to_criterion.md")

# name -> (task factory, criterion kind, value, learning rate, max steps)
TASKS = {
    "pdm": (lambda: nt.tasks.PerceptualDecisionMaking(), "ideal-3pt", 0.03, 1e-2, 3000),
    "cddm": (lambda: nt.tasks.ContextDependentDecisionMaking(), "ideal-3pt", 0.03, 1e-2, 4000),
    "dms": (lambda: nt.tasks.DelayedMatchToSample(), "ideal-3pt", 0.03, 1e-2, 4000),
    "flipflop": (lambda: nt.tasks.NBitFlipFlop(), "mse", 0.02, 1e-2, 4000),
    "anti-number": (lambda: nt.tasks.MemoryAntiNumber(), "mse", 0.005, 5e-3, 4000),
    "anti-angle": (lambda: nt.tasks.MemoryAntiAngle(), "mse", 0.01, 5e-3, 4000),
    "ngym-pdm": (lambda: (_ngym_pdm(8192, seed=0), _ngym_pdm(4096, seed=1)), "ideal-3pt", 0.03, 1e-2, 3000),
}


def _ngym_pdm(pool_size: int, seed: int):
    """neurogym's PerceptualDecisionMaking-v0 with the ideal observer of its evidence channels."""
    import warnings

    from neurotrain.tasks._adapters import NeurogymAdapter
    from neurotrain.tasks._decision import two_choice_ideal_correct

    class NeurogymPDM(NeurogymAdapter):
        def ideal_observer(self, batch):
            # neurogym PDM: observation channel 1 + g carries 0.5 + coh/200 for ground truth g
            return {"accuracy": two_choice_ideal_correct(batch)}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NeurogymPDM(dt=20.0, env="PerceptualDecisionMaking-v0", env_kwargs={"timing": {"stimulus": 1000}},
                           pool_size=pool_size, seed=seed)


def run(name: str, max_steps: int | None, eval_every: int, seed: int = 0) -> dict:
    make, kind, value, lr, default_max = TASKS[name]
    task = make()
    task, test_task = task if isinstance(task, tuple) else (task, task)   # held-out pool for neurogym
    brainstate.random.seed(seed)
    cell = nt.models.LeakyRNNCell(task.num_in, 128, tau=100.0, dt=task.dt, sigma_rec=0.05)
    model = nt.models.RNN(cell, num_out=task.num_out)
    trainer = Trainer(model, task, braintools.optim.Adam(lr=lr), num_steps=max_steps or default_max,
                      batch_size=64, seed=seed, clip_norm=1.0, eval_every=eval_every, eval_trials=512,
                      log_every=eval_every)
    before = trainer.evaluate_now()
    if kind == "ideal-3pt":
        ideal = before["ideal_accuracy"]
        target = ideal - value
        crit = f"accuracy >= ideal - {value:g} = {target:.3f}"
        trainer.callbacks.append(EarlyStopping(target, metric="accuracy"))
    else:
        ideal, target = None, value
        crit = f"mse <= {value:g}"
        trainer.callbacks.append(EarlyStopping(target))
    t0 = time.perf_counter()
    result = trainer.run()
    wall = time.perf_counter() - t0
    reached = result.stop_reason.startswith(task.primary_metric if kind == "mse" else "accuracy")
    ev = nt.analysis.evaluate(model, test_task, num_trials=2000, seed=1, batch_size=500, record=False)
    row = {"task": name, "registry": task.name, "T": task.num_steps(), "criterion": crit,
           "reached": reached, "steps": result.num_steps, "wall_s": wall, "compile_s": result.compile_time_s,
           "ms_per_step": 1000 * (wall - result.compile_time_s) / max(result.num_steps - 1, 1),
           "held_out": ev.scores, "ideal": ideal}
    return row


def fmt(row) -> str:
    s = row["held_out"]
    if "accuracy" in s:
        held = f"accuracy {s['accuracy']:.3f}" + (f" (ideal {s['ideal_accuracy']:.3f})" if "ideal_accuracy" in s else "")
    else:
        held = f"mse {s['mse']:.4f}"
        if "angle_error_deg" in s:
            held += f", angle error {s['angle_error_deg']:.1f} deg"
        if "recall_error" in s:
            held += f", recall error {s['recall_error']:.3f}"
        if "bit_accuracy" in s:
            held += f", bit accuracy {s['bit_accuracy']:.3f}"
    steps = f"{row['steps']}" if row["reached"] else f"not reached in {row['steps']}"
    return (f"| {row['task']} (`{row['registry']}`) | {row['T']} | {row['criterion']} | {steps} | "
            f"{row['wall_s']:.1f} | {row['ms_per_step']:.1f} | {held} |")


HEADER = ("| task | T | criterion (held-out, 512 trials) | steps to criterion | wall s | ms/step | "
          "fresh evaluation (2000 trials) |\n|---|---|---|---|---|---|---|")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--out", default=None, help=f"markdown file (default {OUT} when all tasks run)")
    args = ap.parse_args(argv)
    load0 = loadavg()
    rows = []
    for name in args.tasks:
        row = run(name, args.max_steps, args.eval_every)
        print(fmt(row), flush=True)
        rows.append(row)
    out = args.out or (OUT if args.tasks == list(TASKS) and args.max_steps is None else None)
    text = "\n".join([
        "# Steps and wall time to criterion: the Engel lab's tasks (CDDM, DMS, flip-flop, "
        "memory-anti) and PDM (BPTT)",
        "",
        f"Run on {datetime.date.today().isoformat()} with `python benchmarks/bench_tasks.py`.",
        f"Machine: {machine()}; JAX backend {jax.default_backend()}.",
        f"Versions: {versions()}.",
        f"Load average (1/5/15 min) at start / end: {load0} / {loadavg()} "
        "(other jobs share the CPUs; wall times scale with it).",
        "",
        "Model: `LeakyRNNCell(num_in, 128, tau=100, dt=task.dt, sigma_rec=0.05)` + linear readout; "
        "Adam (lr per task in `TASKS`), clip_norm 1, batch 64, seed 0; held-out evaluation every "
        f"{args.eval_every} steps on 512 trials; `EarlyStopping` at the criterion. Wall time includes "
        "compilation and the periodic evaluations; ms/step excludes the first (compiling) step.",
        "",
        HEADER, *[fmt(r) for r in rows], ""])
    if out:
        with open(out, "w") as f:
            f.write(text)
        print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
