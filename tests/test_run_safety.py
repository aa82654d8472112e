"""Run directories that never lose data, and failures that read as one clear line.

One test (or a few) per defect of issue 11, each failing on the code before the fix: concurrent
writers, a failed replacement, a foreign folder, symbolic links inside a run, non-finite
parameters, write failures (a full disk is simulated by failing ``fsync`` for chosen files),
the seed range, misnamed checkpoints, fallback reporting, a run that learned nothing, a second
Ctrl-C and the API gaps (a cell's ``dt`` against the task's). The kill-and-resume tests of an
interrupted *replacement* are in ``test_resume.py`` (marked slow).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import brainstate
import braintools
import jax
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.cli import main
from neurotrain.io import (
    RunLayout,
    checkpoint_path,
    list_checkpoints,
    read_checkpoint,
    save_checkpoint,
)
from neurotrain.runs import RunOptions, analyze_run, evaluate_run, export_run, train_run
from neurotrain.training import Callback, Checkpoint

SEED_MAX = 2 ** 31 - 1
LOCK_FILES = (".neurotrain.lock", ".neurotrain-readers.lock")    # RunLayout.LOCK_FILE, READERS_LOCK_FILE
TINY = RunOptions(task="integrator", cell="vanilla", hidden=8, batch_size=4, steps=20, eval_every=0,
                  eval_trials=16, checkpoint_every=5, keep_checkpoints=3, no_progress=True, no_figures=True)
TINY_ARGS = ["--task", "integrator", "--cell", "vanilla", "--hidden", "8", "--batch-size", "4", "--steps", "20",
             "--eval-every", "0", "--eval-trials", "16", "--checkpoint-every", "5", "--no-progress",
             "--no-figures"]


def _cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(list(map(str, argv)))
    return code, out.getvalue(), err.getvalue()


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("neurotrain: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links not followed) with its bytes, hidden lock files aside."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if name in LOCK_FILES:
                continue
            out[str(path.relative_to(folder))] = path.read_bytes()
    return out


@contextlib.contextmanager
def _chdir(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _hidden_siblings(run: Path) -> list[str]:
    return [n for n in os.listdir(run.parent) if n.startswith(f".{run.name}.")]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A finished tiny run (checkpoints 10, 15, 20), copied by the tests that change it."""
    out = tmp_path_factory.mktemp("safety") / "base"
    result = train_run(TINY.replace(out=str(out)), command="pytest")
    assert result.status == "completed"
    return out


@pytest.fixture
def run(base_run, tmp_path):
    return Path(shutil.copytree(base_run, tmp_path / "run", symlinks=True))


@contextlib.contextmanager
def failing_writes(monkeypatch, pattern: str, code: int = errno.ENOSPC):
    """Make the durable write (``fsync``) of every file whose name matches ``pattern`` fail with
    ``code`` (a full disk by default): what atomic writes and checkpoints do on a full disk."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to see which file is written")
    real = os.fsync
    hits = []

    def fsync(fd):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if re.search(pattern, os.path.basename(path)):
            hits.append(path)
            raise OSError(code, os.strerror(code))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    try:
        yield hits
    finally:
        monkeypatch.setattr(os, "fsync", real)


# --------------------------------------------------------------------------------------------
# one writer at a time
# --------------------------------------------------------------------------------------------
class _During(Callback):
    """Call ``fn`` once, when step ``at`` is logged (the run is then training; after the
    checkpoint of that step is written)."""

    priority = 200

    def __init__(self, at, fn):
        self.at, self.fn, self.outcome = at, fn, None

    def on_log(self, trainer, logs):
        if logs["step"] == self.at and self.outcome is None:
            try:
                self.outcome = ("ok", self.fn())
            except Exception as e:   # noqa: BLE001 - recorded for the test
                self.outcome = ("error", e)


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
    out = tmp_path / "run"

    def second_python_run():
        return train_run(TINY.replace(out=str(out), task="copy", cell="gru", steps=5))

    def second_command():
        return _cli(["train", *TINY_ARGS, "--out", out])

    def resume():
        return train_run(resume=out)

    during = [_During(5, second_python_run), _During(10, second_command), _During(15, resume)]
    first = train_run(TINY.replace(out=str(out)), callbacks=during)
    assert first.status == "completed"
    kind, err = during[0].outcome
    assert kind == "error" and isinstance(err, nt.RunLockedError), during[0].outcome
    assert err.pid == os.getpid() and f"pid {os.getpid()}" in str(err) and "training into" in str(err)
    code, _, stderr = during[1].outcome[1]
    assert code == 2 and f"pid {os.getpid()}" in _one_error_line(stderr)
    assert isinstance(during[2].outcome[1], nt.RunLockedError)
    # the first run is whole: one task's log under one header, its own checkpoints and config
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss") and [r.split(",")[0] for r in rows[1:]] == ["5", "10", "15", "20"]
    assert [s for s, _ in list_checkpoints(out)] == [10, 15, 20]
    assert json.loads((out / "config.json").read_text())["task"]["name"] == "integrator"
    assert json.loads((out / "summary.json").read_text())["steps"] == 20


def test_the_lock_dies_with_its_process(tmp_path):
    """A SIGKILLed holder leaves no stale lock: the kernel drops it with the process."""
    path = tmp_path / RunLayout.LOCK_FILE
    code = ("import sys, time; from neurotrain.io import RunLock; RunLock(sys.argv[1]).acquire('holder'); "
            "print('locked', flush=True); time.sleep(120)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(nt.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(nt.RunLockedError) as err:
            nt.io.RunLock(path).acquire()
        assert err.value.pid == proc.pid and err.value.holder["command"] == "holder"
        proc.kill()
        proc.wait(timeout=30)
        nt.io.RunLock(path).acquire().release()      # free again, though the file stays
        assert path.exists()
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_readers_work_on_a_snapshot_while_training_goes_on(tmp_path):
    out = tmp_path / "run"
    seen = {}

    def peek():
        seen["evaluate"] = evaluate_run(out, trials=8)
        seen["export"] = export_run(out, tmp_path / "exported")
        return True

    during = _During(15, peek)
    result = train_run(TINY.replace(out=str(out)), callbacks=[during])
    assert result.status == "completed" and during.outcome == ("ok", True)
    ev = seen["evaluate"]
    # the newest complete checkpoint then was step 15's, and the record says so
    assert ev.record["source"] == {"checkpoint": "checkpoints/step-00000015.msgpack", "step": 15}
    assert ev.checkpoint_step == 15
    assert ev.train_summary is None                     # no summary yet: no training lines
    assert seen["export"].step == 15


def test_a_run_is_not_replaced_under_a_reader(run):
    before = _snapshot(run)
    reader = nt.io.RunLock(RunLayout(run).readers_lock_file, shared=True).acquire()
    try:
        with pytest.raises(nt.RunLockedError, match="another neurotrain process is reading it"):
            train_run(TINY.replace(out=str(run), seed=1))
    finally:
        reader.release()
    assert _snapshot(run) == before and not _hidden_siblings(run)
    assert train_run(TINY.replace(out=str(run), seed=1)).status == "completed"   # free again


# --------------------------------------------------------------------------------------------
# replacing a run: only neurotrain runs, atomically
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("native", [True, False])
def test_exchange_paths_swaps_two_folders(tmp_path, monkeypatch, native):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / f"in_{folder.name}").write_text(folder.name)
    if not native:   # a platform or file system without an atomic exchange: two renames
        monkeypatch.setattr("neurotrain.io._files._native_exchange", lambda: None)
    nt.io.exchange_paths(a, b)
    assert os.listdir(a) == ["in_b"] and os.listdir(b) == ["in_a"]
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


def test_replacing_a_run_swaps_it_in_whole(run):
    seen = []
    result = train_run(TINY.replace(out=str(run), seed=7), notes=seen.append)
    assert result.status == "completed"
    assert seen[0] == f"note: replacing the earlier run in {run}; it stays whole until the new run has started"
    assert json.loads((run / "config.json").read_text())["seed"] == 7
    assert [s for s, _ in list_checkpoints(run)] == [10, 15, 20]
    assert not _hidden_siblings(run)                        # the old run is deleted, nothing left over
    assert RunLayout(run).read_marker()["run_id"]


@pytest.mark.parametrize("failure", ["step-0 checkpoint", "config.json", "swap", "ctrl-c"])
def test_a_failed_replacement_leaves_the_old_run_whole(run, monkeypatch, failure):
    before = _snapshot(run)
    if failure == "ctrl-c":
        def boom(self, path):
            raise KeyboardInterrupt
        monkeypatch.setattr(nt.training.Trainer, "save_checkpoint", boom)
        with pytest.raises(KeyboardInterrupt) as interrupted:
            train_run(TINY.replace(out=str(run), seed=7))
    elif failure == "swap":
        def refuse(a, b):
            raise PermissionError(errno.EACCES, "Permission denied", str(b))
        monkeypatch.setattr("neurotrain.runs._rundir.exchange_paths", refuse)
        with pytest.raises(nt.CheckpointError, match="Permission denied.*is unchanged"):
            train_run(TINY.replace(out=str(run), seed=7))
    else:
        pattern = r"^\.step-00000000\.msgpack" if failure == "step-0 checkpoint" else r"^\.config\.json"
        with failing_writes(monkeypatch, pattern) as hits:
            with pytest.raises(nt.CheckpointError) as err:
                train_run(TINY.replace(out=str(run), seed=7))
        assert hits and "No space left on device" in str(err.value)
        assert "Nothing was trained" in str(err.value) and "is unchanged" in str(err.value)
    monkeypatch.undo()
    assert _snapshot(run) == before and not _hidden_siblings(run)
    if failure == "ctrl-c":    # a KeyboardInterrupt that says nothing was written
        assert "nothing was written" in str(interrupted.value) and not interrupted.value.started
    # still evaluable and resumable
    assert evaluate_run(run, trials=8, save=False).checkpoint_step == 20
    assert train_run(resume=run).status == "already-done"


def test_cli_failed_replacement_is_one_line_and_exit_2(run, monkeypatch):
    before = _snapshot(run)
    with failing_writes(monkeypatch, r"^\.step-00000000\.msgpack"):
        code, _, err = _cli(["train", *TINY_ARGS, "--seed", "7", "--out", run])
    assert code == 2
    line = _one_error_line(err)
    assert "cannot start the run" in line and "No space left on device" in line and "unchanged" in line
    assert _snapshot(run) == before


def test_a_folder_that_is_not_a_run_is_refused_unless_forced(tmp_path):
    mine = tmp_path / "mine"
    (mine / "analysis").mkdir(parents=True)
    for name, text in [("config.json", '{"mine": 1}'), ("metrics.csv", "a,b\n1,2\n"), ("analysis/x.json", "{}")]:
        (mine / name).write_text(text)
    before = sorted(os.listdir(mine)), _snapshot(mine)
    with pytest.raises(nt.CheckpointError, match="is not a neurotrain run directory.*--force"):
        train_run(TINY.replace(out=str(mine)))
    code, _, err = _cli(["train", *TINY_ARGS, "--out", mine])
    assert code == 2 and "not a neurotrain run directory" in _one_error_line(err)
    assert (sorted(os.listdir(mine)), _snapshot(mine)) == before          # not touched (no lock file either)
    # --force replaces the whole folder, and says so
    code, out, err = _cli(["train", *TINY_ARGS, "--out", mine, "--force"])
    assert code == 0, err
    assert f"replacing {mine} (not a neurotrain run directory; forced)" in err
    assert not (mine / "analysis" / "x.json").exists() and RunLayout(mine).looks_like_a_run()
    code, _, err = _cli(["train", "--resume", mine, "--force"])
    assert code == 2 and "--force does not go with --resume" in err
    # not even --force replaces the folder the command runs in
    os.makedirs(mine / "sub")
    with _chdir(mine / "sub"):
        code, _, err = _cli(["train", *TINY_ARGS, "--out", mine, "--force"])
    assert code == 2 and "holds the current directory" in _one_error_line(err)


def test_a_run_holding_the_users_files_is_not_replaced_without_force(run, tmp_path):
    (run / "notes.txt").write_text("my notes")
    (run / "figures").mkdir()
    (run / "figures" / "mine.png").write_bytes(b"png")
    before = _snapshot(run)
    with pytest.raises(nt.CheckpointError, match=r"files neurotrain did not write \(figures/mine.png, notes.txt\)"):
        train_run(TINY.replace(out=str(run), seed=7))
    assert _snapshot(run) == before
    # an empty folder, or one with only empty folders of neurotrain's names, is fine as it is
    empty = tmp_path / "empty"
    (empty / "export").mkdir(parents=True)
    assert train_run(TINY.replace(out=str(empty))).status == "completed"


# --------------------------------------------------------------------------------------------
# symbolic links
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", ["checkpoints", "figures", "export", "analysis"])
def test_symlinked_sub_folders_are_refused_by_every_command(run, tmp_path, folder):
    outside = tmp_path / "outside"
    if (run / folder).exists():
        shutil.move(str(run / folder), str(outside))
    else:
        outside.mkdir()
        (outside / "keep.txt").write_text("not yours")
    os.symlink(outside, run / folder)
    before = _snapshot(outside)
    calls = {"resume": lambda: train_run(resume=run, steps=30), "evaluate": lambda: evaluate_run(run),
             "analyze": lambda: analyze_run(run, trials=8, candidates=4), "export": lambda: export_run(run),
             "train": lambda: train_run(TINY.replace(out=str(run), seed=2))}
    for name, call in calls.items():
        with pytest.raises(nt.CheckpointError, match=f"{folder} is a symbolic link"):
            call()
        assert (run / folder).is_symlink(), name
    code, _, err = _cli(["analyze", run, "--trials", "8"])
    assert code == 2 and "never follows links inside a run directory" in _one_error_line(err)
    assert _snapshot(outside) == before and (run / folder).is_symlink()


def test_a_symlinked_file_is_refused_and_result_paths_stay_in_their_folder(run, tmp_path):
    target = tmp_path / "elsewhere.csv"
    target.write_text("precious\n")
    os.remove(run / "metrics.csv")
    os.symlink(target, run / "metrics.csv")
    with pytest.raises(nt.CheckpointError, match="metrics.csv is a symbolic link"):
        train_run(resume=run, steps=30)
    assert target.read_text() == "precious\n"
    # a result file naming its arrays outside its folder is refused, not followed
    os.remove(run / "metrics.csv")
    result = analyze_run(run, trials=16, candidates=4, figures=False)
    pca = Path(result.layout.analysis_result("pca") + ".json")
    meta = json.loads(pca.read_text())
    np.savez(tmp_path / "planted.npz", x=np.zeros(1))
    for bad in (str(tmp_path / "planted.npz"), "../../planted.npz", "sub/pca.npz"):
        pca.write_text(json.dumps({**meta, "arrays": bad}))
        with pytest.raises(nt.CheckpointError, match="not a file name in its own folder"):
            nt.analysis.load_result(pca)


# --------------------------------------------------------------------------------------------
# non-finite values, from every source
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["--lr", "nan"], "--lr"), (["--lr", "inf"], "--lr"), (["--l2", "nan"], "--l2"),
    (["--clip-norm", "inf"], "--clip-norm"),
    (["--cell-param", "sigma_rec=NaN"], "cell_params.sigma_rec"),
    (["--cell-param", "tau=Infinity"], "cell_params.tau"),
    (["--task-param", "sigma=NaN"], "task_params.sigma"),
    (["--task-param", "coherences=[0, NaN]"], "task_params.coherences[1]"),
    (["--method-param", "decay=-Infinity"], "method_params.decay"),
])
def test_non_finite_flags_are_refused_naming_the_argument(tmp_path, argv, needle):
    code, _, err = _cli(["train", "--task", "pdm", "--out", tmp_path / "x", *argv])
    assert code == 2 and needle in _one_error_line(err)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("text, needle", [
    ("lr = nan\n", "lr = nan"), ("l2 = inf\n", "l2 = inf"),
    ("[cell_params]\nsigma_rec = nan\n", "cell_params.sigma_rec"),
    ("[task_params]\nsigma = -inf\n", "task_params.sigma"),
])
def test_non_finite_values_in_config_files_are_refused(tmp_path, text, needle):
    path = tmp_path / "run.toml"
    path.write_text(text)
    code, _, err = _cli(["train", "--config", path, "--dry-run"])
    assert code == 2 and needle in _one_error_line(err) and str(path) in err
    path = tmp_path / "run.json"
    path.write_text('{"lr": NaN}')
    code, _, err = _cli(["train", "--config", path, "--dry-run"])
    assert code == 2 and "NaN is not allowed in a configuration file" in _one_error_line(err)


def test_non_finite_values_in_the_python_api_are_refused():
    task = nt.tasks.Integrator()
    nan = float("nan")
    model = nt.models.build_model("vanilla", num_rec=4, task=task)
    cases = [
        (lambda: nt.train(model, task, num_steps=2, batch_size=2, l2=nan), "l2 must be a finite number"),
        (lambda: nt.train(model, task, num_steps=2, batch_size=2, rate_l2=float("inf")), "rate_l2"),
        (lambda: nt.train(model, task, braintools.optim.Adam(lr=nan), num_steps=2, batch_size=2),
         "the optimizer's learning rate must be a finite number"),
        (lambda: nt.models.build_model("leaky", num_rec=4, task=task, sigma_rec=nan), "sigma_rec"),
        (lambda: nt.models.build_model("leaky", num_rec=4, task=task, tau=float("inf")), "tau"),
        (lambda: nt.tasks.make_task("pdm", sigma=nan), "sigma"),
        (lambda: nt.training.get_method("pp-prop", decay=nan), "decay"),
        (lambda: nt.training.EarlyStopping(target=nan), "EarlyStopping target"),
        (lambda: RunOptions(cell_params={"sigma_rec": nan}), "cell_params.sigma_rec"),
        (lambda: train_run(TINY, lr=nan), "lr = nan"),
    ]
    for call, needle in cases:
        with pytest.raises(nt.ConfigError, match=re.escape(needle)):
            call()


# --------------------------------------------------------------------------------------------
# I/O failures: one line, exit code 2, nothing half-written, the report first
# --------------------------------------------------------------------------------------------
def test_a_full_disk_during_training_is_one_line_with_the_resume_command(tmp_path, monkeypatch):
    out = tmp_path / "run"
    with failing_writes(monkeypatch, r"^\.step-00000015\.msgpack"):
        code, _, err = _cli(["train", *TINY_ARGS, "--out", out])
    assert code == 2
    line = _one_error_line(err)
    assert "No space left on device" in line and "step-00000015.msgpack" in line
    assert "Training stopped at step 15 of 20" in line and f"neurotrain train --resume {out}" in line
    assert f"the newest complete checkpoint is {checkpoint_path(out, 10)} (step 10)" in line
    assert [s for s, _ in list_checkpoints(out)] == [0, 5, 10]
    assert not [n for n in os.listdir(out / "checkpoints") if n.endswith(".tmp") or ".tmp" in n]
    code, _, err = _cli(["train", "--resume", out])          # space again: it finishes
    assert code == 0 and f"resuming {out} from step 10 of 20" in err


def test_evaluate_and_analyze_print_their_report_before_a_failing_write(run, monkeypatch, capsys):
    before = _snapshot(run)
    with failing_writes(monkeypatch, r"^\.evaluation\.json"):
        code, out, err = _cli(["evaluate", run, "--trials", "8"])
    assert code == 2
    assert out.startswith(f"neurotrain: evaluated {run} on integrator") and "mse" in out
    assert "cannot write" in _one_error_line(err) and "evaluation.json: No space left on device" in err
    with failing_writes(monkeypatch, r"^\.(fixed_points|pca)\.(npz|json)"):
        code, out, err = _cli(["analyze", run, "--trials", "16", "--candidates", "4", "--no-figures"])
    assert code == 2 and out.startswith(f"neurotrain: analysed {run}") and "fixed points" in out
    assert "wrote" not in out and "It was computed but not saved" in _one_error_line(err)
    assert _snapshot(run) == before                 # no evaluation.json, no half an analysis
    with failing_writes(monkeypatch, r"^\.description\.json"):
        code, out, err = _cli(["export", run])
    assert code == 2 and "No space left on device" in _one_error_line(err)
    assert not (run / "export" / "weights.npz").exists()    # never half an export
    code, _, err = _cli(["evaluate", run / "missing"])
    assert code == 2 and "does not exist" in _one_error_line(err)


def test_an_os_error_anywhere_is_one_line(run, monkeypatch):
    """Whatever raises it, an OSError reaches the user as one line and exit code 2."""
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(run / "figures"))

    monkeypatch.setattr("neurotrain.runs._analyze.save_figure", denied)
    code, out, err = _cli(["analyze", run, "--trials", "16", "--candidates", "4"])
    assert code == 2 and "Permission denied" in _one_error_line(err) and out.startswith("neurotrain: analysed")

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", "/dev/sdb1")

    monkeypatch.setattr(nt.analysis, "evaluate", broken)
    code, out, err = _cli(["evaluate", run])
    assert code == 2 and _one_error_line(err) == "neurotrain: error: /dev/sdb1: Input/output error"


# --------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["train", "--seed", str(2 ** 31)], ["train", "--seed", "-1"], ["train", "--seed", str(2 ** 32)],
    ["evaluate", "RUN", "--seed", str(2 ** 31)], ["analyze", "RUN", "--seed", str(2 ** 31)],
])
def test_seeds_out_of_range_are_refused_everywhere(run, argv):
    code, _, err = _cli([str(run) if a == "RUN" else a for a in argv])
    assert code == 2 and "2147483647" in _one_error_line(err)


def test_seed_range_is_one_rule_in_python_and_files(run, tmp_path):
    task = nt.tasks.Integrator()
    model = nt.models.build_model("vanilla", num_rec=4, task=task)
    rule = "seed must be an integer from 0 to 2147483647 (2**31 - 1)"
    for call in (lambda: nt.train(model, task, num_steps=1, batch_size=2, seed=2 ** 31),
                 lambda: nt.analysis.evaluate(model, task, 4, seed=-1),
                 lambda: evaluate_run(run, seed=2 ** 31), lambda: analyze_run(run, seed=2 ** 40)):
        with pytest.raises(nt.ConfigError, match=re.escape(rule)):
            call()
    path = tmp_path / "run.toml"
    path.write_text(f"seed = {2 ** 31}\n")
    code, _, err = _cli(["train", "--config", path, "--dry-run"])
    assert code == 2 and "seed = 2147483648 is not valid" in err
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**cfg, "seed": 2 ** 40}))      # edited by hand
    with pytest.raises(nt.CheckpointError, match="the seed in .*config.json must be an integer from 0"):
        evaluate_run(run, trials=4)


def test_the_largest_seed_trains_evaluates_and_analyzes(tmp_path):
    """Derived seeds (evaluation seed + 1, analysis seed + 2) wrap around inside the range."""
    out = tmp_path / "max"
    result = train_run(TINY.replace(out=str(out), seed=SEED_MAX, steps=5))
    assert result.status == "completed" and result.eval_seed == 0
    assert evaluate_run(out, trials=8, save=False).seed == 0
    assert analyze_run(out, trials=8, candidates=4, save=False).seed == 1
    from neurotrain._validate import derive_seed
    assert [derive_seed(s, 1) for s in (0, 5, SEED_MAX - 1, SEED_MAX)] == [1, 6, SEED_MAX, 0]
    assert len({derive_seed(s, 2) for s in range(SEED_MAX - 5, SEED_MAX + 1)}) == 6     # no two alias


# --------------------------------------------------------------------------------------------
# checkpoints: the content's step is the truth
# --------------------------------------------------------------------------------------------
def test_a_misnamed_checkpoint_is_never_taken_for_a_newer_one(run):
    shutil.copy(checkpoint_path(run, 10), run / "checkpoints" / "step-00000099.msgpack")   # holds step 10
    seen = []
    result = train_run(resume=run, steps=30, notes=seen.append)
    assert result.status == "completed" and result.resumed_from == 20
    assert any(n.startswith(f"warning: skipping the misnamed checkpoint {run / 'checkpoints' / 'step-00000099.msgpack'}")
               and "its content holds step 10, not step 99" in n for n in seen), seen
    # rotation kept the real newest three, and left the misnamed file alone
    assert [s for s, _ in list_checkpoints(run)] == [20, 25, 30, 99]
    ev = evaluate_run(run, trials=8, notes=seen.append)
    assert ev.checkpoint_step == 30 and ev.record["source"]["step"] == 30
    assert ev.notes and "misnamed" in ev.notes[0] and "using" in ev.notes[0]


def test_rotation_never_counts_or_deletes_a_misnamed_checkpoint(tmp_path):
    brainstate.random.seed(0)
    task = nt.tasks.Integrator()
    model = nt.models.build_model("vanilla", num_rec=4, task=task)
    save_checkpoint(checkpoint_path(tmp_path, 8), model, step=3)          # misnamed: step 3 inside
    save_checkpoint(checkpoint_path(tmp_path, 4), model, step=4)          # a real one, older by name
    cb = Checkpoint(tmp_path, every=6, keep=2)
    nt.train(model, task, braintools.optim.Adam(1e-2), num_steps=12, batch_size=2, callbacks=[cb])
    # real checkpoints 0, 4, 6, 12 compete for keep=2: 6 and 12 stay; the misnamed 8 is untouched
    assert [s for s, _ in list_checkpoints(tmp_path)] == [6, 8, 12]
    assert read_checkpoint(checkpoint_path(tmp_path, 8))["step"] == 3


# --------------------------------------------------------------------------------------------
# fallbacks are notes; results say which checkpoint they scored
# --------------------------------------------------------------------------------------------
def test_a_fallback_is_a_note_and_the_results_name_the_checkpoint(run):
    with open(checkpoint_path(run, 20), "r+b") as f:
        f.truncate(60)                                            # the newest is damaged
    code, out, err = _cli(["evaluate", run, "--trials", "8"])
    assert code == 0, err
    assert err.startswith(f"neurotrain: warning: skipping the unreadable checkpoint {checkpoint_path(run, 20)}")
    assert f"using {checkpoint_path(run, 15)} (step 15) instead." in err
    assert "Warning" not in err and "warnings.warn" not in err
    # the report does not show the summary of step 20 while scoring step 15's weights
    assert "trained      20 steps" not in out and "final loss" not in out
    assert ("weights      step 15 (checkpoints/step-00000015.msgpack); summary.json describes step 20, "
            "whose checkpoint was not used") in out
    record = json.loads((run / "evaluation.json").read_text())
    assert record["source"] == {"checkpoint": "checkpoints/step-00000015.msgpack", "step": 15}
    seen = []
    result = analyze_run(run, trials=16, candidates=4, figures=False, notes=seen.append)
    assert json.loads((run / "analysis.json").read_text())["source"] == record["source"]
    assert seen and "step 15" in seen[0] and "  weights      step 15 (checkpoints/step-00000015.msgpack)" in result.report()
    assert export_run(run).step == 15


# --------------------------------------------------------------------------------------------
# a run that learned nothing says so
# --------------------------------------------------------------------------------------------
def test_chance_loss_is_computed_from_the_task():
    # class targets: the entropy of the label frequencies; Copy recalls uniform random symbols
    assert nt.training.chance_loss(nt.tasks.Copy(length=4, delay=2, num_symbols=4), num_trials=2048) \
        == pytest.approx(math.log(4), abs=0.01)
    # value targets: the loss of the best constant, the masked variance (checked with numpy)
    task = nt.tasks.Integrator()
    batch = task.sample(jax.random.PRNGKey(0), 1024)
    t, m = np.asarray(batch.targets)[..., 0], np.asarray(batch.mask)
    m = m[..., 0] if m.ndim == 3 else m
    mean = (t * m).sum() / m.sum()
    assert nt.training.chance_loss(task, num_trials=1024, seed=0) == pytest.approx(
        ((t - mean) ** 2 * m).sum() / m.sum(), rel=1e-4)


def test_a_run_that_learned_nothing_ends_with_a_warning(tmp_path):
    out = tmp_path / "gru"
    code, stdout, err = _cli(["train", "--task", "pdm", "--cell", "gru", "--lr", "100", "--hidden", "8",
                              "--batch-size", "8", "--steps", "20", "--eval-every", "0", "--eval-trials", "32",
                              "--no-progress", "--no-figures", "--out", out])
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["warning"].startswith("this run learned nothing: its final task loss")
    assert summary["learning"]["learned"] is False
    assert summary["learning"]["final_loss"] > summary["learning"]["chance_loss"]
    assert summary["learning"]["chance_loss"] == pytest.approx(nt.training.chance_loss(
        nt.tasks.make_task("pdm"), seed=1), rel=1e-6)
    assert stdout.rstrip().splitlines()[-1] == f"  warning      {summary['warning']}"
    assert f"neurotrain: warning: {summary['warning']}" in err
    # a run that learned is not warned about
    good = train_run(TINY.replace(out=str(tmp_path / "good"), steps=60, checkpoint_every=0))
    assert good.summary["learning"]["learned"] and "warning" not in good.summary


# --------------------------------------------------------------------------------------------
# signals: a second Ctrl-C
# --------------------------------------------------------------------------------------------
def test_ctrl_c_during_shutdown_exits_130_with_the_resume_command(tmp_path, monkeypatch):
    """The first Ctrl-C stops training; a second one while the final checkpoint is written
    still ends with exit code 130 and the resume command (no traceback)."""
    original = Checkpoint.on_train_end

    def second_ctrl_c(self, trainer):
        raise KeyboardInterrupt

    class FirstCtrlC(Callback):
        def on_log(self, trainer, logs):
            if logs["step"] == 10:
                trainer.interrupted_by = signal.SIGINT

    monkeypatch.setattr(Checkpoint, "on_train_end", second_ctrl_c)
    out = tmp_path / "run"
    import neurotrain.runs._train as rt

    real_trainer = rt.Trainer

    def trainer(*args, callbacks=(), **kw):
        return real_trainer(*args, callbacks=[*callbacks, FirstCtrlC()], **kw)

    monkeypatch.setattr(rt, "Trainer", trainer)
    code, _, err = _cli(["train", *TINY_ARGS, "--out", out])
    monkeypatch.setattr(Checkpoint, "on_train_end", original)
    assert code == 130, err
    assert f"neurotrain: interrupted; resume with: neurotrain train --resume {out}" in err
    assert "Traceback" not in err


@pytest.mark.slow  # a real process, signalled repeatedly (the in-process twin above runs by default)
def test_repeated_ctrl_c_in_a_real_process_never_gives_a_traceback_or_minus_2(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(Path(nt.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    args = [*TINY_ARGS, "--steps", "100000", "--checkpoint-every", "50", "--out", str(out)]
    # the child starts with Ctrl-C's default action: a test run in the background (`.ci/run &`,
    # nohup) inherits SIGINT ignored, and neurotrain, as Python itself, leaves an ignored signal ignored
    proc = subprocess.Popen([sys.executable, "-m", "neurotrain.cli", "train", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not any(s >= 100 for s, _ in list_checkpoints(out)) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    for _ in range(40):                   # keep pressing Ctrl-C while it shuts down
        time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"stderr: {err}\nstdout: {stdout}"
    assert "Traceback" not in err and f"neurotrain train --resume {out}" in err


# --------------------------------------------------------------------------------------------
# API gaps
# --------------------------------------------------------------------------------------------
def test_a_cell_stepping_with_another_dt_than_the_task_is_refused():
    task = nt.tasks.Integrator()                       # dt = 40 ms
    brainstate.random.seed(0)
    wrong = nt.models.build_model("leaky", 1, 4, 1, tau=100.0, dt=20.0)
    with pytest.raises(nt.ConfigError) as err:
        nt.training.Trainer(wrong, task, num_steps=2, batch_size=2)
    msg = str(err.value)
    assert "dt=20 ms" in msg and "dt=40 ms" in msg and "build_model(..., task=task)" in msg
    assert "tau=100 ms would act as 200 ms" in msg
    right = nt.models.build_model("leaky", num_rec=4, task=task)
    assert nt.train(right, task, num_steps=2, batch_size=2).num_steps == 2
    # phases that set their own dt integrate with it, whatever the cell's: still allowed
    phases = [nt.training.Phase(2, dt=40.0), nt.training.Phase(None, dt=40.0)]
    assert nt.train(wrong, task, schedule=phases, num_steps=3, batch_size=2).num_steps == 3
    with pytest.raises(nt.ConfigError, match="dt=20 ms"):
        nt.train(wrong, task, schedule=[nt.training.Phase(2, dt=40.0), nt.training.Phase(None)], num_steps=3,
                 batch_size=2)


def test_the_new_errors_are_neurotrain_errors():
    assert issubclass(nt.RunLockedError, nt.RunDirectoryError)
    assert issubclass(nt.RunDirectoryError, nt.CheckpointError) and issubclass(nt.RunDirectoryError, OSError)
    assert issubclass(nt.runs.RunInterrupted, KeyboardInterrupt)
    assert (RunLayout.LOCK_FILE, RunLayout.READERS_LOCK_FILE) == LOCK_FILES


def test_wrong_optimizer_and_callbacks_are_clear_errors():
    task = nt.tasks.Integrator()
    model = nt.models.build_model("vanilla", num_rec=4, task=task)
    with pytest.raises(nt.ConfigError, match="optimizer must be a braintools optimiser"):
        nt.train(model, task, "adam", num_steps=1, batch_size=2)
    with pytest.raises(nt.ConfigError, match=r"callbacks\[0\] must be a neurotrain.training.Callback"):
        nt.train(model, task, callbacks=[None], num_steps=1, batch_size=2)


def test_a_population_names_the_networks_that_learned_nothing(tmp_path):
    """Judged per network: the one trained at lr 100 learned nothing, the other did."""
    result = train_run(TINY.replace(out=str(tmp_path / "pop"), cell="gru", task="pdm", steps=60, checkpoint_every=0,
                                    population=1, population_grid={"lr": [100.0, 1e-2]}, eval_trials=32))
    summary = result.summary
    assert [r["learned"] for r in summary["networks"]] == [False, True]
    assert summary["learning"]["networks_learned"] == 1 and summary["learning"]["networks"] == 2
    assert summary["warning"].startswith("1 of 2 networks learned nothing (network 0): its final task loss")
    assert f"warning: {summary['warning']}" in result.notes
    report = result.report()
    assert report.rstrip().splitlines()[-1] == f"  warning      {summary['warning']}"
    assert "learned nothing" in [line for line in report.splitlines() if line.startswith("0 ")][0]
    # the checks themselves, on known curves: falling to a tenth of chance vs flat at its start
    steps = np.linspace(0.0, 1.0, 200)
    loss = np.stack([1.0 - 0.9 * steps, np.ones_like(steps)], axis=1)
    fake = types.SimpleNamespace(aux={}, loss=loss, history_start=0)
    checks = nt.training.population_learning_checks(nt.tasks.make_task("pdm"), fake, chance=1.0)
    assert [c["learned"] for c in checks] == [True, False]
    assert checks[1]["warning"].startswith("this run learned nothing: its final task loss 1 is not below")
