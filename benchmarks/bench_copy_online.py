"""Copy task: a GRU trained with BPTT, D-RTRL and pp-prop at several delays (braintrace's
online-learning quickstart, done right).

braintrace's online-learning quickstart trained a 128-unit GRU on the copy task (10 digits out of 8, delay 50, batch 64, Adam)
online with braintrace's D-RTRL and offline with BPTT; both runs stayed at chance. This script
repeats the comparison with neurotrain at delays 10, 25 and 50:

* ``BPTT()``: the exact gradient;
* ``DRTRL(vjp_method="multi-step", warmup="auto")``: D-RTRL; the leading steps without a loss
  (the digits and the delay) only evolve the states and eligibility traces;
* ``PPProp(decay=0.9, warmup="auto")``: pp-prop (ES-D-RTRL), factorised traces.

The online methods wrap only the GRU in the braintrace learner; the readout gets its exact
gradient outside it, and every GRU weight (``W_z``, ``W_r``, ``W_xn``, ``W_hn`` and the biases)
is trained online (``result.parameters`` says so for each).

Every run starts from the same initial weights at a given delay, uses Adam with gradient-norm
clipping and stops when the held-out accuracy (512 fixed trials, every 50 steps) reaches a
stopping value slightly above its target, or at a step cap. The final score is the per-digit
recall accuracy on 2048 fresh trials from ``neurotrain.analysis.evaluate``; chance is
1/8 = 12.5 %. The settings (``FULL`` below) were tuned with short pilot runs (``TUNING``).

For the online methods the script also measures how well their gradient points along BPTT's:
the cosine similarity, per parameter, between the online gradient and the BPTT gradient of
the same loss on the same weights and batch, at delays 0, 10, 25 and 50, at the initial
weights and at trained weights.

Usage::

    python benchmarks/bench_copy_online.py             # full run (about an hour on a busy 2-core CPU)
    python benchmarks/bench_copy_online.py --quick     # smoke test: tiny net, delay 3, 10 steps; writes nothing
    python benchmarks/bench_copy_online.py --delays 10 --methods bptt d-rtrl --out /tmp/copy.md
    python benchmarks/bench_copy_online.py --json run.json ...            # keep every number
    python benchmarks/bench_copy_online.py --from-json a.json b.json --notes notes.md   # rewrite the report
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
import warnings
from pathlib import Path

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
from _common import loadavg, machine, versions  # noqa: E402  (benchmarks/ is on sys.path)

import neurotrain as nt
from neurotrain.training import BPTT, DRTRL, EarlyStopping, Objective, PPProp, Trainer

RESULTS = Path(__file__).resolve().parent / "results"
OUT_MD = RESULTS / "copy_delay_accuracy.md"
OUT_PNG = RESULTS / "copy_delay_learning_curves.png"

LENGTH, NUM_SYMBOLS = 10, 8

# What was tuned (pilot runs, see the report): learning rate, clipping, step caps.
FULL = {
    "num_rec": 128, "batch_size": 64, "delays": [10, 25, 50], "eval_every": 50, "eval_trials": 512,
    "test_trials": 2048, "align_delays": [0, 10, 25, 50], "align_trials": 256, "align_trained": True,
    "methods": {
        "bptt": {"lr": 1e-2, "lr_final": 1e-3, "clip": 1.0, "stop_at": 0.995,
                 "cap": {10: 2000, 25: 3000, 50: 5000}},
        "d-rtrl": {"lr": 1e-2, "clip": 1.0, "update_every": None, "stop_margin": 0.02,
                   "cap": {10: 3000, 25: 500, 50: 800}},
        "pp-prop": {"lr": 1e-2, "clip": 1.0, "update_every": None, "cap": {10: 600, 25: 400, 50: 400}},
    },
}
QUICK = {
    "num_rec": 16, "batch_size": 16, "delays": [3], "eval_every": 5, "eval_trials": 64,
    "test_trials": 128, "align_delays": [0, 3], "align_trials": 16, "align_trained": False,
    "methods": {
        "bptt": {"lr": 1e-2, "clip": 1.0, "cap": {3: 10}},
        "d-rtrl": {"lr": 1e-2, "clip": 1.0, "update_every": None, "cap": {3: 10}},
        "pp-prop": {"lr": 1e-2, "clip": 1.0, "update_every": None, "cap": {3: 10}},
    },
}
# How the settings above were chosen: short pilot runs before the full run (same model, batch,
# seed and Adam; held-out accuracy on 512 trials). Quoted in the report.
TUNING = """\
- BPTT, delay 50, clip 1.0: lr 3e-3 stayed on the plateau for 400 steps (16 %) and reached 36 %
  at step 1000 and 63 % at step 1500; lr 1e-2 reached 49 % at step 400, 82 % at 1000 and 84 % at 1200.
  lr 1e-2 was kept. braintrace's quickstart used lr 1e-3 (without clipping), which was still on
  the plateau at step 400 (12-17 %; see the notes below).
  BPTT, delay 10, lr 1e-2: 98 % at step 600. A first full run with a constant lr 1e-2 (stopping
  at the first held-out value >= 99 %) reached 99.3 % at delay 10 (700 steps) and 99.1 % at delay
  25 (1450 steps), but only 97.5 % at delay 50 after 4000 steps (held-out 96-98 % from step 2400
  on). Hence the learning rate decaying from 1e-2 to 1e-3 at the cap. With that decay, stopping
  at the first held-out value >= 99 % ended the delay-50 run at step 2850 with 98.8 % on new
  trials; hence the stopping threshold of 99.5 % for BPTT.
- D-RTRL, delay 10, clip 1.0, one update per trial: lr 3e-3 reached 45 % at step 400, lr 1e-2
  56 %. With `update_every=2` (five Adam updates during the recall): lr 3e-3 51 % at step 300
  (one update per trial: 40 %), lr 1e-2 56 % at step 300 (one update: 51 %). More updates
  help per training step, but each step costs more; per second of training the two were within
  the noise of this shared machine (56 % after 226 s vs 56 % after 257 s), so the full run uses
  one update per trial, whose gradient is the one compared with BPTT's below.
- pp-prop: not piloted separately; the D-RTRL settings.
- The step caps were set so that the whole run fits in about an hour on this machine. D-RTRL at
  delay 50: with a cap of 500 it reached 46.4 % (still rising); with a cap of 800 and stopping at
  the 50 % target it stopped at step 550 with 50.6 % held-out but 49.9 % on new trials; hence the
  2-point stopping margin for D-RTRL (the delay-25 D-RTRL run was made before it and stopped at
  52.5 % held-out, 52.0 % on new trials). D-RTRL at delay 10: with a cap of 1200 it reached
  81.2 % on new trials (held-out 62.5 % at step 500, 74.1 % at 1000, still rising); the cap was
  raised to 3000 and the run repeated on a quieter machine (the first 1200 steps are the same
  run: same seed, same batches)."""

TARGETS = {"bptt": lambda d: 0.99, "d-rtrl": lambda d: 0.9 if d <= 10 else 0.5,
           "pp-prop": lambda d: 0.9 if d <= 10 else 0.5}
LABELS = {"bptt": "BPTT", "d-rtrl": "D-RTRL (multi-step)", "pp-prop": "pp-prop (decay 0.9)"}
COLORS = {"bptt": "C0", "d-rtrl": "C3", "pp-prop": "C2"}


def make_method(name: str, cfg: dict):
    if name == "bptt":
        return BPTT()
    if name == "d-rtrl":
        return DRTRL(vjp_method="multi-step", warmup="auto", update_every=cfg.get("update_every"))
    if name == "pp-prop":
        return PPProp(decay=0.9, warmup="auto", update_every=cfg.get("update_every"))
    raise ValueError(name)


def learning_rate(mcfg: dict, delay: int):
    """A constant learning rate, or (with ``lr_final``) one decaying exponentially to it at the cap."""
    if not mcfg.get("lr_final"):
        return mcfg["lr"]
    rate = (mcfg["lr_final"] / mcfg["lr"]) ** (1.0 / mcfg["cap"][delay])
    return braintools.optim.ExponentialDecayLR(base_lr=mcfg["lr"], decay_steps=1, decay_rate=rate)


def lr_text(r: dict) -> str:
    return f"{r['lr']:g}" + (f" -> {r['lr_final']:g}" if r.get("lr_final") else "")


def make_task(delay: int):
    return nt.tasks.Copy(length=LENGTH, delay=delay, num_symbols=NUM_SYMBOLS)


def make_model(num_rec: int, seed: int):
    brainstate.random.seed(seed)  # the same initial weights for every method at a delay
    return nt.models.build_model("gru", NUM_SYMBOLS + 2, num_rec, NUM_SYMBOLS + 2)


def snapshot(model) -> dict:
    return {k: np.asarray(v.value) for k, v in model.states(brainstate.ParamState).items()}


def restore(model, snap: dict) -> None:
    for k, v in model.states(brainstate.ParamState).items():
        v.value = jnp.asarray(snap[k])


class _Log(nt.training.Callback):
    def __init__(self, tag, log, every):
        self.tag, self.log, self.every, self.t0 = tag, log, every, time.perf_counter()

    def on_eval(self, trainer, step, metrics):
        if step % self.every == 0 or trainer.stop_training:
            self.log(f"  [{self.tag}] step {step:5d}  held-out accuracy {metrics['accuracy']:.3f}  "
                     f"({time.perf_counter() - self.t0:.0f} s)")


def train_one(method_name: str, delay: int, cfg: dict, seed: int, log=print) -> dict:
    mcfg = cfg["methods"][method_name]
    task = make_task(delay)
    model = make_model(cfg["num_rec"], seed)
    target = TARGETS[method_name](delay)
    # held-out accuracy at which training stops: a margin above the target, because the first
    # crossing on the fixed held-out trials overestimates the accuracy on new trials
    stop_at = mcfg.get("stop_at") or target + mcfg.get("stop_margin", 0.0)
    method = make_method(method_name, mcfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(model, task, braintools.optim.Adam(lr=learning_rate(mcfg, delay)), method=method,
                          num_steps=mcfg["cap"][delay], batch_size=cfg["batch_size"], seed=seed,
                          clip_norm=mcfg["clip"], eval_every=cfg["eval_every"], eval_trials=cfg["eval_trials"],
                          callbacks=[EarlyStopping(stop_at), _Log(f"{method_name} d={delay}", log,
                                                                  10 * cfg["eval_every"])])
    # time the evaluations so that ms/step counts training steps only
    eval_time = [0.0]
    inner = trainer.evaluate_now

    def timed_eval():
        t0 = time.perf_counter()
        out = inner()
        eval_time[0] += time.perf_counter() - t0
        return out

    trainer.evaluate_now = timed_eval
    log(f"{method_name} delay={delay}: lr {lr_text(mcfg)}, clip {mcfg['clip']}, "
        f"update_every {mcfg.get('update_every')}, cap {mcfg['cap'][delay]}, target {target:.0%}, "
        f"stop at {stop_at:.1%} held-out")
    diverged = None
    try:
        res = trainer.run()
    except nt.TrainingDivergedError as e:  # weights are left at the last good step
        diverged = str(e)
        res = None
    test = nt.analysis.evaluate(model, task, num_trials=cfg["test_trials"], seed=10_000 + seed,
                                batch_size=min(1024, cfg["test_trials"]), record=False)
    acc = float(test.scores["accuracy"])
    out = {"method": method_name, "delay": delay, "target": target, "lr": mcfg["lr"],
           "lr_final": mcfg.get("lr_final"), "stop_at": stop_at, "clip": mcfg["clip"],
           "update_every": mcfg.get("update_every"), "cap": mcfg["cap"][delay], "test_accuracy": acc,
           "test_trials": cfg["test_trials"], "diverged": diverged, "weights": snapshot(model)}
    if res is not None:
        steps = res.num_steps
        train_s = res.wall_time_s - eval_time[0]
        ms = 1e3 * (train_s - res.compile_time_s) / max(1, steps - 1)
        out.update({"steps": steps, "wall_s": res.wall_time_s, "train_s": train_s, "compile_s": res.compile_time_s,
                    "ms_per_step": ms, "stop_reason": res.stop_reason, "loss": res.loss.tolist(),
                    "eval_steps": res.eval_steps.tolist(),
                    "eval_accuracy": res.eval_metrics["accuracy"].tolist(),
                    "best_eval": float(res.eval_metrics["accuracy"].max()),
                    "parameters": res.parameters, "untrained": res.untrained})
        log(f"{method_name} delay={delay}: {steps} steps, {res.wall_time_s:.0f} s ({ms:.0f} ms/step, "
            f"compile {res.compile_time_s:.1f} s), test accuracy {acc:.3f} on {cfg['test_trials']} trials; "
            f"{res.stop_reason}")
    else:
        log(f"{method_name} delay={delay}: DIVERGED ({diverged}); test accuracy {acc:.3f}")
    return out


# --------------------------------------------------------------------------------------------
# gradient alignment
# --------------------------------------------------------------------------------------------
def gradient_alignment(weights: dict | None, method_name: str, delays, cfg: dict, seed: int) -> dict:
    """Cosine similarity per parameter between the online gradient and BPTT's (same weights, batch)."""
    out = {}
    obj = Objective("class")
    for d in delays:
        task = make_task(d)
        model = make_model(cfg["num_rec"], seed)
        if weights is not None:
            restore(model, weights)
        method = make_method(method_name, {"update_every": None})
        params = model.states(brainstate.ParamState)
        batch = task.sample(jax.random.PRNGKey(777 + d), cfg["align_trials"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepared = method.prepare(model, task)      # frozen methods: a prepared copy
            gb, _, _ = BPTT().loss_and_grads(model, batch, obj, params)
            go, _, _ = prepared.loss_and_grads(model, batch, obj, params)
        row = {}
        for k in gb:
            a, b = np.ravel(np.asarray(gb[k], np.float64)), np.ravel(np.asarray(go[k], np.float64))
            na, nb = np.linalg.norm(a), np.linalg.norm(b)
            row[".".join(map(str, k))] = {"cos": float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan"),
                                          "norm_ratio": float(nb / na) if na > 0 else float("nan")}
        a = np.concatenate([np.ravel(np.asarray(gb[k])) for k in gb if k[0] != "readout"])
        b = np.concatenate([np.ravel(np.asarray(go[k])) for k in gb if k[0] != "readout"])
        row["all recurrent"] = {"cos": float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))),
                                "norm_ratio": float(np.linalg.norm(b) / np.linalg.norm(a))}
        out[d] = row
    return out


def alignment_table(al: dict, title: str) -> str:
    delays = sorted(al)
    keys = list(al[delays[0]])
    lines = [f"**{title}**: cosine(online gradient, BPTT gradient) per parameter, "
             "with |online| / |BPTT| in brackets", "",
             "| parameter | " + " | ".join(f"delay {d} (T={2 * LENGTH + d})" for d in delays) + " |",
             "|---|" + "---:|" * len(delays)]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(
            f"{al[d][k]['cos']:.3f} ({al[d][k]['norm_ratio']:.2f})" for d in delays) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def results_table(runs) -> str:
    lines = ["| method | delay (T) | test accuracy | best held-out | target | reached | steps (cap) "
             "| wall time (s) | ms/step | lr, clip |", "|---|---:|---:|---:|---:|:-:|---:|---:|---:|---|"]
    for r in runs:
        reached = "yes" if r["test_accuracy"] >= r["target"] else "no"
        if r.get("steps") is None:
            lines.append(f"| {LABELS[r['method']]} | {r['delay']} ({2 * LENGTH + r['delay']}) | "
                         f"{100 * r['test_accuracy']:.1f} % | | {100 * r['target']:.0f} % | {reached} | diverged | "
                         f"| | {lr_text(r)}, {r['clip']} |")
            continue
        lines.append(f"| {LABELS[r['method']]} | {r['delay']} ({2 * LENGTH + r['delay']}) | "
                     f"{100 * r['test_accuracy']:.1f} % | {100 * r['best_eval']:.1f} % | {100 * r['target']:.0f} % "
                     f"| {reached} | {r['steps']} ({r['cap']}) | {r['wall_s']:.0f} | {r['ms_per_step']:.0f} | "
                     f"{lr_text(r)}, {r['clip']} |")
    return "\n".join(lines)


def plot(runs, path: Path, cfg: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    delays = sorted({r["delay"] for r in runs})
    fig, axes = plt.subplots(2, len(delays), figsize=(4.2 * len(delays), 6.5), squeeze=False)
    for j, d in enumerate(delays):
        for r in runs:
            if r["delay"] != d or r.get("loss") is None:
                continue
            c, lab = COLORS[r["method"]], LABELS[r["method"]]
            loss = np.asarray(r["loss"])
            w = max(1, min(25, len(loss) // 10))
            smooth = np.convolve(loss, np.ones(w) / w, mode="valid")
            axes[0, j].plot(np.arange(len(loss)) + 1, loss, color=c, alpha=0.15, lw=0.6)
            axes[0, j].plot(np.arange(len(smooth)) + w, smooth, color=c, label=lab)
            axes[1, j].plot(r["eval_steps"], 100 * np.asarray(r["eval_accuracy"]), color=c, marker=".",
                            label=lab)
        axes[0, j].axhline(np.log(NUM_SYMBOLS), color="0.5", ls=":", lw=1, label="chance (ln 8)")
        axes[0, j].set(title=f"delay {d} (T = {2 * LENGTH + d})", xlabel="training step",
                       ylabel="training loss (cross-entropy)")
        axes[1, j].axhline(100 / NUM_SYMBOLS, color="0.5", ls=":", lw=1, label="chance (12.5 %)")
        axes[1, j].set(xlabel="training step", ylabel="held-out recall accuracy (%)", ylim=(0, 101))
    axes[0, 0].legend(fontsize=8, frameon=False)
    axes[1, 0].legend(fontsize=8, frameon=False)
    fig.suptitle(f"Copy task, GRU with {cfg['num_rec']} units, batch {cfg['batch_size']}: BPTT vs online learning")
    fig.tight_layout()
    nt.io.save_figure(fig, path, "png", dpi=110, close=True)


def report(runs, alignments, cfg, cmd, loads, total_s, png_name, now=None, notes="") -> str:
    now = now or datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    m = cfg["methods"]
    params = next((r["parameters"] for r in runs if r["method"] != "bptt" and r.get("parameters")), {})
    ptab = "\n".join(f"| `{k}` | {v} |" for k, v in params.items())
    al_text = "\n\n".join(alignment_table(al, title) for title, al in alignments.items())
    return f"""# Copy task: BPTT vs online learning (D-RTRL, pp-prop) at delays {', '.join(map(str, cfg['delays']))}

Generated by {cmd if cmd.startswith("`") else f"`{cmd}` on {now}"}; total {total_s / 60:.0f} min of runs.

- Machine: {machine()}; {jax.devices()[0].platform} backend. Load average (1/5/15 min) at start /
  end: {loads[0]} / {loads[1]}. The machine was shared with other jobs: wall times and ms/step
  are inflated by that load and noisy; the runs were done one after another in one process.
- Versions: {versions()}.
- Task: `Copy(length={LENGTH}, delay=D, num_symbols={NUM_SYMBOLS})`, T = 2 x {LENGTH} + D steps; loss
  (cross-entropy) on the {LENGTH} recall steps only. Chance: 12.5 % per digit, loss ln 8 = 2.08.
- Model: `build_model("gru", 10, {cfg['num_rec']}, 10)` (reset-after GRU, per-gate matmuls), same initial
  weights for every method at a given delay. Batch {cfg['batch_size']}, Adam.
- Methods: BPTT (lr {lr_text(m['bptt'])}, clip {m['bptt']['clip']}); D-RTRL `DRTRL(vjp_method="multi-step",
  warmup="auto", update_every={m['d-rtrl']['update_every']})` (lr {m['d-rtrl']['lr']:g}, clip
  {m['d-rtrl']['clip']}); pp-prop `PPProp(decay=0.9, warmup="auto", update_every={m['pp-prop']['update_every']})`
  (lr {m['pp-prop']['lr']:g}, clip {m['pp-prop']['clip']}). warmup="auto" = the {LENGTH} + D steps
  before the recall, which only evolve states and traces. "a -> b": the learning rate decays
  exponentially from a at step 0 to b at the step cap.
- Stopping: EarlyStopping when the held-out accuracy ({cfg['eval_trials']} fixed trials, every
  {cfg['eval_every']} steps) reaches a stopping value, else at the step cap. The stopping value is
  a margin above the target (BPTT: {100 * (m['bptt'].get('stop_at') or 0.99):.1f} %; D-RTRL: target + {100 * m['d-rtrl'].get('stop_margin', 0):.0f}
  points; pp-prop: the target), because the first crossing on these 512 trials overestimates the
  accuracy on new trials.
- Test accuracy: per-digit recall accuracy on {cfg['test_trials']} fresh trials
  (`nt.analysis.evaluate`, a seed not used in training). ms/step: training time without
  compilation and evaluations, divided by the steps. Wall time includes compilation and evaluations.
  Best held-out: the highest accuracy on the 512 held-out trials during training.

{results_table(runs)}

Learning curves: `{png_name}` (training loss per step, held-out accuracy vs step).

How the learning rates, clipping and update schedule were chosen (pilot runs):

{TUNING}

How every parameter was trained online (`result.parameters` of the D-RTRL run):

| parameter | how it is trained |
|---|---|
{ptab}

## Gradient alignment with BPTT

Same weights, same batch of {cfg['align_trials']} trials; per-parameter cosine similarity between the
online gradient (accumulated over the trial, as used for one update) and the BPTT gradient
of the same loss. The readout's gradient is exact by construction (cosine 1).

{al_text}
{notes}"""


def jsonable(runs):
    return [{k: v for k, v in r.items() if k != "weights"} for r in runs]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 16 units, delay 3, 10 steps; writes no files")
    ap.add_argument("--delays", type=int, nargs="+", help="delays (default 10 25 50)")
    ap.add_argument("--methods", nargs="+", choices=list(LABELS), help="methods (default all)")
    ap.add_argument("--cap", type=int, help="step cap for every selected method and delay (default: per method)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-alignment", action="store_true", help="skip the gradient-alignment measurement")
    ap.add_argument("--out", type=Path, help=f"markdown report (default {OUT_MD})")
    ap.add_argument("--png", type=Path, help=f"learning curves (default {OUT_PNG})")
    ap.add_argument("--json", type=Path, help="also dump all numbers (curves, alignments) as JSON here")
    ap.add_argument("--from-json", type=Path, nargs="+",
                    help="rewrite the report and the figure from --json dumps; no training. With several "
                         "dumps, a later dump's runs replace the earlier ones of the same method and delay")
    ap.add_argument("--notes", type=Path, help="markdown file appended to the report (e.g. a discussion)")
    args = ap.parse_args(argv)
    notes = "\n" + args.notes.read_text() if args.notes else ""
    if args.from_json:
        dumps = [json.loads(p.read_text()) for p in args.from_json]
        cfg, merged, alignments = dumps[0]["config"], {}, {}
        cmds, loads, total = [], [], 0.0
        for dump in dumps:
            for r in dump["runs"]:
                merged[(r["method"], r["delay"])] = r
                cfg["methods"][r["method"]] = dump["config"]["methods"][r["method"]]
            for t, al in dump["alignments"].items():
                alignments[t] = {int(d): v for d, v in al.items()}
            cmds.append(f"`{dump['meta']['cmd']}` on {dump['meta']['date']}")
            loads.append(dump["meta"]["loads"])
            total += dump["meta"]["total_s"]
        runs = sorted(merged.values(), key=lambda r: (r["delay"], list(LABELS).index(r["method"])))
        cfg["delays"] = sorted({r["delay"] for r in runs})
        out, png = args.out or OUT_MD, args.png or OUT_PNG
        plot(runs, png, cfg)
        cmd = " and then ".join(cmds) + (" (merged with `--from-json`)" if len(cmds) > 1 else "")
        load_text = (loads[0][0], loads[-1][1])
        out.write_text(report(runs, alignments, cfg, cmd, load_text, total, png.name,
                              now=dumps[-1]["meta"]["date"], notes=notes))
        print(f"written {out} and {png}")
        return 0
    cfg = json.loads(json.dumps(QUICK if args.quick else FULL, default=str))
    for mc in cfg["methods"].values():  # json turned the int keys of the caps into strings
        mc["cap"] = {int(k): v for k, v in mc["cap"].items()}
    if args.delays:
        cfg["delays"] = args.delays
        for mc in cfg["methods"].values():
            for d in args.delays:
                mc["cap"].setdefault(d, max(mc["cap"].values()))
    if args.cap:
        for mc in cfg["methods"].values():
            mc["cap"] = {d: args.cap for d in cfg["delays"]}
    methods = args.methods or list(LABELS)

    t_start, load0 = time.perf_counter(), loadavg()
    runs = []
    for d in cfg["delays"]:
        for name in methods:
            runs.append(train_one(name, d, cfg, args.seed))
            sys.stdout.flush()

    alignments = {}
    if not args.no_alignment:
        for name in [n for n in methods if n != "bptt"]:
            print(f"gradient alignment of {name} with BPTT ...", flush=True)
            alignments[f"{LABELS[name]}, initial weights"] = gradient_alignment(
                None, name, cfg["align_delays"], cfg, args.seed)
            dmax = max(cfg["delays"])
            for src in (("bptt", name) if cfg["align_trained"] else ()):
                trained = next((r for r in runs if r["method"] == src and r["delay"] == dmax), None)
                if trained is not None:
                    alignments[f"{LABELS[name]}, weights trained by {LABELS[src]} at delay {dmax} "
                               f"(test accuracy {100 * trained['test_accuracy']:.1f} %)"] = gradient_alignment(
                        trained["weights"], name, cfg["align_delays"], cfg, args.seed)
        for title, al in alignments.items():
            print()
            print(alignment_table(al, title))
    total = time.perf_counter() - t_start
    load1 = loadavg()

    print()
    print(results_table(runs))
    cmd = "python benchmarks/bench_copy_online.py" + (" " + " ".join(sys.argv[1:]) if len(sys.argv) > 1 else "")
    meta = {"cmd": cmd, "loads": [load0, load1], "total_s": total,
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
    if args.json:
        args.json.write_text(json.dumps({"config": cfg, "meta": meta, "runs": jsonable(runs),
                                         "alignments": {t: {str(d): v for d, v in al.items()}
                                                        for t, al in alignments.items()}}, indent=1))
    out = args.out or (None if args.quick else OUT_MD)
    png = args.png or (None if args.quick else OUT_PNG)
    if png is not None:
        plot(runs, png, cfg)
        print(f"learning curves written to {png}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report(runs, alignments, cfg, cmd, (load0, load1), total,
                              png.name if png is not None else "(not written)", now=meta["date"], notes=notes))
        print(f"report written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
