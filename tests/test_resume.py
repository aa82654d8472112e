"""Runs that survive: kill, interrupt or diverge, then resume, and end as if nothing happened.

The central check: a ``neurotrain train`` process killed with SIGKILL at a random moment and
resumed with ``--resume`` ends with parameters (and ``metrics.csv``) bit-identical to the same
run done in one go, for BPTT, D-RTRL and SCTT (a staged method); each killed run was replacing an earlier run in
its directory. A second slow test kills a replacement just before and just after it swaps
the new run in: the old run is then whole (and evaluable, resumable), or the new one resumable. Four small processes run side by side (two
references, two victims), then the two resumptions; being subprocess training runs, these two
tests are marked ``slow`` (``pytest -m slow``). The in-process tests below (Ctrl-C, SIGTERM,
``Trainer.restore``, damaged checkpoints, exploding activity) run by default.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import brainstate
import braintools
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.cli import main
from neurotrain.io import checkpoint_path, latest_checkpoint, list_checkpoints, read_checkpoint
from neurotrain.training import Trainer
from neurotrain.training._callbacks import Callback, Checkpoint, CSVLogger

METHODS = ("bptt", "d-rtrl", "sctt")
#: the staged method (Soo et al.'s skip connections) gets two stages of 75 steps: the kill lands
#: in the skip stage or in the plain one, and the resumption must pick up inside it
METHOD_ARGS = {"sctt": ["--method-param", "theta=2", "--method-param", "beta0=0.5",
                        "--method-param", "stage_steps=75"]}


def _method(m):
    return ["--method", m, *METHOD_ARGS.get(m, [])]
STEPS = 150
RUN = ["train", "--task", "copy", "--task-param", "length=2", "--task-param", "delay=3",
       "--cell", "leaky", "--cell-param", "sigma_rec=0.1", "--hidden", "8", "--batch-size", "4",
       "--steps", str(STEPS), "--eval-every", "0", "--eval-trials", "16", "--checkpoint-every", "3",
       "--keep-checkpoints", "2", "--no-progress", "--no-figures", "--seed", "5"]


#: a small earlier run that the killed runs replace
EARLIER = ["train", "--task", "integrator", "--cell", "vanilla", "--hidden", "6", "--batch-size", "4",
           "--steps", "10", "--eval-every", "0", "--eval-trials", "8", "--checkpoint-every", "5",
           "--no-progress", "--no-figures", "--seed", "1"]


def _command():
    script = Path(sys.executable).with_name("neurotrain")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from neurotrain.cli import main; sys.exit(main())"]


def _start(args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.Popen(_command() + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=cwd)


def _params(run_dir):
    """The parameters load_run would give (those of the newest checkpoint), without a model."""
    return read_checkpoint(latest_checkpoint(run_dir))["params"]


def _is_new_run(run_dir):
    """Whether ``run_dir`` holds the run of ``RUN`` (the copy task), not the earlier one."""
    try:
        return json.loads((Path(run_dir) / "config.json").read_text())["task"]["name"] == "copy"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _kill_at_random_step(proc, run_dir, rng):
    """SIGKILL ``proc`` a random moment after its checkpoint of a random step has appeared."""
    target = rng.randint(1, STEPS * 2 // 3)
    while proc.poll() is None:
        # until the new run is swapped in, the folder holds the earlier run and its checkpoints
        done = max((s for s, _ in list_checkpoints(run_dir)), default=0) if _is_new_run(run_dir) else 0
        if done >= target:
            time.sleep(rng.uniform(0.0, 0.02))  # land between checkpoints, or during a write
            proc.kill()
            break
        time.sleep(0.001 if done else 0.02)  # poll fast once the steps run (after compiling)
    proc.communicate(timeout=120)
    return target


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("killed")
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    for m in METHODS:   # each victim replaces an earlier run: the kill lands in a replacement
        code, _, err = _cli(EARLIER + ["--out", str(base / f"{m}-killed")])
        assert code == 0, err
    refs = {m: _start(RUN + _method(m) + ["--out", str(base / f"{m}-ref")], base) for m in METHODS}
    victims = {m: _start(RUN + _method(m) + ["--out", str(base / f"{m}-killed")], base) for m in METHODS}
    info = {}
    for m in METHODS:  # the victims run side by side; kill each at its own random step
        target = _kill_at_random_step(victims[m], base / f"{m}-killed", rng)
        code = victims[m].returncode
        if code == 0:  # it finished before the kill landed (a very fast machine): kill a new one early
            victims[m] = _start(RUN + _method(m) + ["--out", str(base / f"{m}-killed")], base)
            target = _kill_at_random_step(victims[m], base / f"{m}-killed", random.Random(0))
            code = victims[m].returncode
        info[m] = {"seed": seed, "target": target, "killed_code": code,
                   "left": [s for s, _ in list_checkpoints(base / f"{m}-killed")]}
    resumed = {m: _start(["train", "--resume", str(base / f"{m}-killed")], base) for m in METHODS}
    for m in METHODS:
        out, err = resumed[m].communicate(timeout=600)
        info[m].update(resume_code=resumed[m].returncode, resume_out=out, resume_err=err)
        out, err = refs[m].communicate(timeout=600)
        info[m].update(ref_code=refs[m].returncode, ref_err=err)
    return base, info


@pytest.mark.slow  # subprocess training runs; CI's second stage (`pytest -m slow`)
@pytest.mark.parametrize("method", METHODS)
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(killed_runs, method):
    base, info = killed_runs
    i = info[method]
    why = f"(random seed {i['seed']}, killed after the checkpoint of step {i['target']}; left {i['left']})"
    print(f"{method}: {why}")   # shown by pytest -rA
    assert i["ref_code"] == 0, i["ref_err"]
    assert i["killed_code"] == -signal.SIGKILL, why
    assert i["resume_code"] == 0, i["resume_err"] + why
    assert "Traceback" not in i["resume_err"]
    assert f"resuming {base / f'{method}-killed'} from step" in i["resume_err"], i["resume_err"]
    ref, resumed = base / f"{method}-ref", base / f"{method}-killed"
    a, b = _params(ref), _params(resumed)
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(b[k], a[k], err_msg=f"{k} {why}")
    # the log, the history and the summary are those of the uninterrupted run too
    assert (resumed / "metrics.csv").read_text() == (ref / "metrics.csv").read_text(), why
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (ref, resumed))
    assert sb["final_loss"] == sa["final_loss"] and sb["accuracy"] == sa["accuracy"]
    assert sb["steps"] == sa["steps"] == STEPS
    assert "resumed_from" in sb and "resumed_from" not in sa
    ha, hb = (read_checkpoint(checkpoint_path(d, STEPS))["history"] for d in (ref, resumed))
    np.testing.assert_array_equal(hb["loss"], ha["loss"])
    assert len(hb["loss"]) == STEPS
    cfg = json.loads((resumed / "config.json").read_text())
    assert cfg["options"]["method"] == method and len(cfg["resumed"]) == 1
    # no temporary file survives the resumed run, and nothing of the replaced run is left
    assert all(name.startswith("step-") for name in os.listdir(resumed / "checkpoints"))
    assert not [n for n in os.listdir(base) if n.startswith(f".{method}-killed.")]


# --------------------------------------------------------------------------------------------
# SIGKILL during a replacement: the old run stays whole until the new one has started
# --------------------------------------------------------------------------------------------
_KILL_AT_SWAP = """
import os, signal, sys
import neurotrain.runs._rundir as rundir
from neurotrain.io import exchange_paths
when = sys.argv[1]
def swap(a, b):
    if when == "after":
        exchange_paths(a, b)
    os.kill(os.getpid(), signal.SIGKILL)
rundir.exchange_paths = swap
from neurotrain.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _files(folder):
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            if name not in (".neurotrain.lock", ".neurotrain-readers.lock"):
                path = Path(root) / name
                out[str(path.relative_to(folder))] = path.read_bytes()
    return out


@pytest.mark.slow  # subprocess training runs
def test_sigkill_during_a_replacement_leaves_the_old_run_whole_or_the_new_one_resumable(tmp_path):
    out = tmp_path / "run"
    code, _, err = _cli(EARLIER + ["--out", str(out)])
    assert code == 0, err
    before = _files(out)
    _, report, _ = _cli(["evaluate", str(out)])
    os.remove(out / "evaluation.json")
    new = ["train", "--task", "integrator", "--cell", "vanilla", "--hidden", "6", "--batch-size", "4",
           "--steps", "30", "--eval-every", "0", "--eval-trials", "8", "--checkpoint-every", "5", "--no-progress",
           "--no-figures", "--seed", "2", "--out", str(out)]
    env = dict(os.environ, MPLBACKEND="Agg")

    # killed just before the swap: the new run is complete beside the old one, which is whole
    proc = subprocess.run([sys.executable, "-c", _KILL_AT_SWAP, "before", *new], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _files(out) == before
    hidden = [n for n in os.listdir(tmp_path) if n.startswith(".run.neurotrain-new-")]
    assert len(hidden) == 1 and os.path.exists(tmp_path / hidden[0] / "checkpoints" / "step-00000000.msgpack")
    code, again, err = _cli(["evaluate", str(out)])
    assert code == 0 and again == report, err              # evaluable, the same scores
    code, _, err = _cli(["train", "--resume", str(out)])
    assert code == 0 and "nothing to resume" in err         # resumable: it had finished
    os.remove(out / "evaluation.json")

    # killed just after the swap: the new run has started (config + step-0 checkpoint) and resumes
    proc = subprocess.run([sys.executable, "-c", _KILL_AT_SWAP, "after", *new], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert json.loads((out / "config.json").read_text())["seed"] == 2
    assert [s for s, _ in list_checkpoints(out)] == [0]
    code, _, err = _cli(["train", "--resume", str(out)])
    assert code == 0, err
    assert f"resuming {out} from step 0 of 30" in err
    assert json.loads((out / "summary.json").read_text())["steps"] == 30
    # the folders the kills left behind are cleaned up by the next replacement
    code, _, err = _cli(new)
    assert code == 0, err
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".run.")]


# --------------------------------------------------------------------------------------------
# in-process: Ctrl-C / SIGTERM, Trainer.restore, train(resume_from=...)
# --------------------------------------------------------------------------------------------
class _SignalAt(Callback):
    """Send ``sig`` to this process when step ``at`` is logged (as a user pressing Ctrl-C would)."""

    def __init__(self, at, sig=signal.SIGINT):
        self.at, self.sig = at, sig

    def on_log(self, trainer, logs):
        if logs["step"] == self.at:
            os.kill(os.getpid(), self.sig)


def _trainer(run_dir, steps, extra=(), **kw):
    brainstate.random.seed(2)
    task = nt.tasks.Integrator()
    model = nt.models.build_model("leaky", 1, 6, 1, tau=80.0, dt=40.0, sigma_rec=0.2)
    sched = braintools.optim.ExponentialDecayLR(base_lr=0.02, decay_steps=1, decay_rate=0.97)
    callbacks = [CSVLogger(os.path.join(run_dir, "metrics.csv")), Checkpoint(run_dir, every=4, keep=0),
                 nt.training.EarlyStopping(target=-1.0, metric="mse"), *extra]
    kw = {"num_steps": steps, "batch_size": 4, "seed": 9, "eval_every": 5, "eval_trials": 8,
          "log_every": 3, **kw}
    return model, Trainer(model, task, braintools.optim.Adam(lr=sched), callbacks=callbacks, **kw)


def _values(model):
    return {k: np.asarray(v.value) for k, v in model.states(brainstate.ParamState).items()}


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """An uninterrupted 14-step run, and the same run stopped by Ctrl-C at step 6."""
    base = tmp_path_factory.mktemp("interrupted")
    ref_dir, run_dir = base / "ref", base / "run"
    model_a, ref = _trainer(ref_dir, 14)
    res_a = ref.run()
    # a shell's background job ignores SIGINT (and so does the trainer then); press Ctrl-C as
    # in an interactive session
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _, first = _trainer(run_dir, 14, extra=[_SignalAt(6)])  # logs at steps 3 4 5 6 8 9 10 12 14
        res_b = first.run()
        handler_restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, ignored)
    return ref_dir, run_dir, _values(model_a), res_a, first, res_b, handler_restored


def test_ctrl_c_writes_a_checkpoint_and_the_run_resumes_exactly(interrupted):
    ref_dir, run_dir, params_a, res_a, first, res_b, handler_restored = interrupted
    assert handler_restored  # the trainer's SIGINT handler is gone again
    assert res_b.stop_reason == "interrupted" and first.interrupted_by == signal.SIGINT
    assert first.step == 6 and res_b.num_steps == 6
    assert latest_checkpoint(run_dir) == checkpoint_path(run_dir, 6)  # written on the way out
    assert [s for s, _ in list_checkpoints(run_dir)] == [0, 4, 6]

    model_c, second = _trainer(run_dir, 14)
    assert second.restore(run_dir) == 6 and second.start_step == 6
    res_c = second.run()
    assert res_c.resumed_from == 6 and res_c.num_steps == 14 and res_c.history_start == 0
    for k, v in params_a.items():
        np.testing.assert_array_equal(_values(model_c)[k], v)
    np.testing.assert_array_equal(res_c.loss, res_a.loss)
    np.testing.assert_array_equal(res_c.lr, res_a.lr)  # the schedule went on where it was
    np.testing.assert_array_equal(res_c.eval_steps, res_a.eval_steps)
    np.testing.assert_array_equal(res_c.eval_metrics["mse"], res_a.eval_metrics["mse"])
    for k in res_a.aux:
        np.testing.assert_array_equal(res_c.aux[k], res_a.aux[k])
    assert (run_dir / "metrics.csv").read_text() == (ref_dir / "metrics.csv").read_text()
    assert [s for s, _ in list_checkpoints(ref_dir)] == [0, 4, 8, 12, 14]
    assert [s for s, _ in list_checkpoints(run_dir)] == [0, 4, 6, 8, 12, 14]  # keep=0: all kept


def test_train_resume_from_argument_and_settings_check(interrupted, tmp_path):
    ref_dir, params_a = interrupted[0], interrupted[2]
    # train(..., resume_from=<a checkpoint file>) continues the same run
    brainstate.random.seed(2)
    model = nt.models.build_model("leaky", 1, 6, 1, tau=80.0, dt=40.0, sigma_rec=0.2)
    sched = braintools.optim.ExponentialDecayLR(base_lr=0.02, decay_steps=1, decay_rate=0.97)
    res = nt.train(model, nt.tasks.Integrator(), braintools.optim.Adam(lr=sched), num_steps=14,
                   batch_size=4, seed=9, eval_every=5, eval_trials=8, log_every=7,
                   resume_from=checkpoint_path(ref_dir, 8))
    assert res.resumed_from == 8 and res.num_steps == 14 and len(res.loss) == 14
    for k, v in params_a.items():
        np.testing.assert_array_equal(_values(model)[k], v)
    # another seed than the checkpoint's: allowed, with a warning naming it
    _, other = _trainer(tmp_path / "b", 20, seed=10)
    with pytest.warns(UserWarning, match=r"seed: 9 -> 10"):
        other.restore(ref_dir)
    # a step past num_steps, an empty directory, another architecture: clear errors
    _, short = _trainer(tmp_path / "c", 3)
    with pytest.raises(nt.ConfigError, match="at step 14, past num_steps=3"):
        short.restore(ref_dir)
    (tmp_path / "empty").mkdir()
    with pytest.raises(nt.CheckpointError, match="holds no checkpoint"):
        short.restore(tmp_path / "empty")
    brainstate.random.seed(0)
    wide = nt.models.build_model("leaky", 1, 7, 1, tau=80.0, dt=40.0)
    trainer = Trainer(wide, nt.tasks.Integrator(), braintools.optim.Adam(1e-2), num_steps=20, batch_size=4)
    before = _values(wide)
    with pytest.raises(nt.CheckpointError, match=r"'layers.0.W_in' has shape \(1, 6\).*\(1, 7\)"):
        trainer.restore(ref_dir)
    for k, v in _values(wide).items():
        np.testing.assert_array_equal(v, before[k])
    assert trainer.step == 0


def test_resume_skips_a_corrupt_newest_checkpoint(interrupted, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(interrupted[0], run)  # the finished reference run: checkpoints 0 4 8 12 14
    newest = checkpoint_path(run, 14)
    data = open(newest, "rb").read()
    open(newest, "wb").write(data[:-7])  # truncated, e.g. a disk that filled up
    _, again = _trainer(run, 14, eval_every=0)
    with pytest.warns(UserWarning, match="skipping the unreadable checkpoint"):
        assert again.restore(run) == 12
    again.run()  # redoes steps 13 and 14 and rewrites the damaged file
    assert read_checkpoint(newest)["step"] == 14
    np.testing.assert_array_equal(read_checkpoint(newest)["params"]["readout.W"],
                                  read_checkpoint(checkpoint_path(interrupted[0], 14))["params"]["readout.W"])


def test_exploding_activity_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    brainstate.random.seed(0)
    model = nt.models.RNN(nt.models.VanillaRNNCell(1, 8, activation="linear", w_init="identity:1.0"),
                          num_out=1)
    trainer = Trainer(model, nt.tasks.Integrator(), braintools.optim.SGD(lr=0.05), num_steps=30,
                      batch_size=4, log_every=1, activity_bound=0.9,
                      callbacks=[Checkpoint(tmp_path, every=1, keep=0)])
    with pytest.raises(nt.TrainingDivergedError) as err:
        trainer.run()
    msg, bad = str(err.value), err.value.step     # the step depends on the drawn batches
    assert 1 <= bad < 30 and "hidden activity exploded" in msg and f"at step {bad}" in msg
    assert "activity_bound=0.9" in msg and f"weights from step {bad - 1}" in msg
    assert trainer.stop_reason == "diverged"
    assert [s for s, _ in list_checkpoints(tmp_path)] == list(range(bad))  # nothing written after
    saved = read_checkpoint(latest_checkpoint(tmp_path))["params"]
    for k, v in _values(model).items():  # the model holds the last good weights, as on disk
        np.testing.assert_array_equal(v, saved[".".join(map(str, k))])


def test_a_hard_interrupt_keeps_the_last_finished_step(tmp_path):
    """A KeyboardInterrupt in the middle of training (a second Ctrl-C) drops the step in flight:
    a step is one pure function call, so weights and optimizer state stay those of the last
    finished step, the final checkpoint is written there, and resuming from it ends as an
    uninterrupted run."""
    class Boom(Callback):
        def on_log(self, trainer, logs):
            if logs["step"] == 3:
                raise KeyboardInterrupt

    _, t = _trainer(tmp_path / "cut", 9, extra=[Boom()], handle_signals=False, eval_every=0)
    res = t.run()
    assert res.stop_reason == "interrupted" and t.consistent and t.step == 3
    assert [s for s, _ in list_checkpoints(tmp_path / "cut")] == [0, 3]
    ref_model, ref = _trainer(tmp_path / "ref", 9, eval_every=0)
    ref.run()
    model, again = _trainer(tmp_path / "cut", 9, eval_every=0)
    assert again.restore(tmp_path / "cut") == 3
    again.run()
    for k, v in _values(ref_model).items():
        np.testing.assert_array_equal(_values(model)[k], v)


# --------------------------------------------------------------------------------------------
# the command line: SIGTERM, --resume, what may change
# --------------------------------------------------------------------------------------------
def _cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_cli_sigterm_then_resume(tmp_path, monkeypatch):
    out = tmp_path / "run"
    argv = ["train", "--task", "integrator", "--cell", "vanilla", "--hidden", "6", "--batch-size", "4",
            "--steps", "20", "--eval-every", "0", "--eval-trials", "8", "--checkpoint-every", "5",
            "--no-progress", "--no-figures", "--out", str(out)]
    original = CSVLogger.on_log

    def on_log(self, trainer, logs):  # a cluster's SIGTERM arriving at step 15
        original(self, trainer, logs)
        if logs["step"] == 15:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(CSVLogger, "on_log", on_log)
    code, stdout, err = _cli(argv)
    monkeypatch.undo()
    assert code == 143, err
    assert "stopped by SIGTERM at step 15 of 20" in err
    assert f"Resume with: neurotrain train --resume {out}" in err
    assert json.loads((out / "summary.json").read_text())["stop_reason"] == "interrupted"
    assert latest_checkpoint(out) == checkpoint_path(out, 15)

    # only options that leave the trajectory unchanged may be given with --resume
    code, _, err = _cli(["train", "--resume", str(out), "--lr", "0.5"])
    assert code == 2 and "--lr cannot be changed when resuming" in err
    code, _, err = _cli(["train", "--resume", str(out), "--config", "x.toml"])
    assert code == 2 and "cannot be combined" in err
    code, dry, _ = _cli(["train", "--resume", str(out), "--dry-run", "json"])
    assert code == 0 and json.loads(dry)["out"] == str(out) and json.loads(dry)["steps"] == 20

    code, stdout, err = _cli(["train", "--resume", str(out), "--no-progress"])
    assert code == 0, err
    assert f"resuming {out} from step 15 of 20" in err and "resumed at step 15" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 20 and summary["stop_reason"] == "completed"
    assert summary["resumed_from"] == 15

    code, _, err = _cli(["train", "--resume", str(out)])
    assert code == 0 and "nothing to resume" in err
    assert "Pass --steps N with N > 20 to train further" in err

    code, _, err = _cli(["train", "--resume", str(tmp_path / "missing")])
    assert code == 2 and "does not exist" in err


def test_resume_after_an_interrupt_in_the_final_evaluation_writes_the_summary(tmp_path, monkeypatch):
    """SIGTERM after the last training step (during the final evaluation) leaves no summary;
    ``--resume`` then writes the final evaluation instead of saying there is nothing to do."""
    import neurotrain.analysis as an

    out = tmp_path / "run"
    (out / "export").mkdir(parents=True)
    argv = ["train", "--task", "integrator", "--cell", "vanilla", "--hidden", "6", "--batch-size", "4",
            "--steps", "10", "--eval-every", "0", "--eval-trials", "8", "--checkpoint-every", "5",
            "--no-progress", "--no-figures", "--out", str(out)]

    def killed_evaluate(*args, **kwargs):
        raise KeyboardInterrupt          # what Ctrl-C / the default SIGTERM does at that point

    monkeypatch.setattr(an, "evaluate", killed_evaluate)
    code, _, _ = _cli(argv)
    monkeypatch.undo()
    assert code == 130
    assert not (out / "summary.json").exists() and latest_checkpoint(out) == checkpoint_path(out, 10)

    code, stdout, err = _cli(["train", "--resume", str(out), "--no-progress"])
    assert code == 0, err
    assert "finished training" in err and "writing it now" in err
    assert "export in" in err and "describe the weights before resuming" in err   # kept, but named
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 10 and summary["stop_reason"] == "completed" and "mse" in summary["scores"]
    assert (out / "export").is_dir()

    code, _, err = _cli(["train", "--resume", str(out)])
    assert code == 0 and "nothing to resume" in err
