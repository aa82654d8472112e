"""Sweeps: a grid of configurations x seeds as population jobs, through submitit.

The plan is checked against hand-counted configurations and jobs; a serial sweep (in this
process) writes the results table; a sweep of 8 configurations with submitit's local
executor survives a job killed with SIGKILL (``slow``: subprocesses): run again, the killed
job resumes from its checkpoint and the table is written. The Slurm path is checked by what
would be submitted: fake ``sbatch`` / ``srun`` record the job array script submitit writes.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import stat
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

import neurotrain as nt
from neurotrain.runs import RunOptions, collect_sweep, plan_sweep, run_sweep, sweep_status

TINY = dict(task="integrator", cell="vanilla", hidden=8, batch_size=4, steps=6, eval_every=0, eval_trials=16,
            no_figures=True)


# --------------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------------
def test_configurations_that_differ_per_network_share_population_jobs(tmp_path):
    plan = plan_sweep(RunOptions(**TINY), grid={"hidden": "8,16", "lr": [1e-3, 1e-2], "l2": [0, 1e-4],
                                                "task_params.duration": [200, 400]},
                      seeds=3, out=tmp_path / "s")
    # 2 x 2 x 2 x 2 = 16 configurations; hidden and the task's duration change the compiled step (4 jobs),
    # lr and l2 are per-network hyper-parameters: 4 configurations x 3 seeds = 12 networks per job
    assert len(plan.configs) == 16 and plan.num_networks == 48
    assert [j.size for j in plan.jobs] == [12, 12, 12, 12]
    assert plan.configs[5].name == "hidden=8, lr=0.01, l2=0, task_params.duration=400"
    assert plan.configs[5].options.task_params == {"duration": 400} and plan.configs[5].seeds == (0, 1, 2)
    job = plan.jobs[0]
    assert job.options.hidden == 8 and job.options.task_params == {"duration": 200}
    pop = job.options.population_spec()
    assert pop.seeds == (0, 1, 2) * 4 and pop.lr == (1e-3,) * 6 + (1e-2,) * 6
    assert pop.l2 == ((0.0,) * 3 + (1e-4,) * 3) * 2 and job.options.lr == 1e-2   # the base rate: the largest
    assert job.members[4] == (2, 1) and plan.configs[2].values["l2"] == 1e-4   # config 2, seed 1
    # at most N networks per job
    small = plan_sweep(RunOptions(**TINY), grid={"lr": [1e-3, 1e-2]}, seeds=5, networks_per_job=4,
                       out=tmp_path / "t")
    assert [j.size for j in small.jobs] == [4, 4, 2]
    # explicit seeds, another cell and noise levels (leaky + bptt: per network too)
    noisy = plan_sweep(RunOptions(**{**TINY, "cell": "leaky"}), grid={"cell_params.sigma_rec": [0, 0.1]},
                       seeds="3,7", out=tmp_path / "u")
    assert len(noisy.jobs) == 1 and noisy.jobs[0].options.population_spec().sigma_rec == (0.0, 0.0, 0.1, 0.1)
    assert noisy.configs[0].seeds == (3, 7)
    assert "2 configuration(s) x seeds = 4 networks in 1 job(s)" in noisy.report()


@pytest.mark.parametrize("kwargs, needle", [
    ({"grid": {"tau": [1, 2]}}, "'tau' is not an option a sweep can vary"),
    ({"grid": {"seed": [1, 2]}}, "'seed' is not a grid axis; give the seeds"),
    ({"grid": {"population": [1, 2]}}, "'population' is not an option a sweep can vary"),
    ({"grid": {"hidden": [8, 8]}}, "repeats a value"),
    ({"grid": {"hidden": [8, 0]}}, "sweep configuration 1 (hidden=0): hidden = 0 is not valid"),
    ({"grid": {"task_params": [1]}}, "needs a key, e.g. task_params.delay"),
    ({"grid": {"cell_params.nope": [1, 2]}}, "cell 'vanilla' has no parameter 'nope'"),
    ({"seeds": 0}, "seeds must be an integer >= 1"),
    ({"networks_per_job": 0}, "networks_per_job must be an integer >= 1"),
])
def test_bad_sweeps_are_named(kwargs, needle, tmp_path):
    with pytest.raises(nt.ConfigError) as err:
        plan_sweep(RunOptions(**TINY), out=tmp_path, **kwargs)
    assert needle in str(err.value), str(err.value)
    with pytest.raises(nt.ConfigError, match="the sweep makes the populations itself"):
        plan_sweep(RunOptions(**TINY, population=2), out=tmp_path)


def test_sweep_command_line_errors_and_dry_run(tmp_path):
    base = ["sweep", "--task", "integrator", "--cell", "vanilla", "--hidden", "8", "--steps", "4"]
    code, out, err = run_cli(base + ["--grid", "lr=1e-3,1e-2", "--seeds", "2", "--dry-run", "--out", str(tmp_path / "d")])
    assert code == 0, err
    assert "2 configuration(s) x seeds = 4 networks in 1 job(s)" in out and "lr=0.001" in out
    assert not (tmp_path / "d").exists()   # a dry run writes nothing
    for extra, needle in [(["--grid", "tau=1,2"], "'tau' is not an option a sweep can vary"),
                          (["--grid", "lr"], "--grid expects KEY=V1,V2"),
                          (["--resume", str(tmp_path), "--grid", "lr=1,2"], "takes no run options")]:
        code, _, err = run_cli(base + extra)
        lines = [x for x in err.strip().splitlines() if x.strip()]
        assert code == 2 and len(lines) == 1 and needle in lines[0], (extra, err)
    for extra, needle in [(["--status", str(tmp_path / "none")], "is not a sweep folder: it does not exist"),
                          (["--status", str(tmp_path), "--collect", str(tmp_path)], "cannot be combined")]:
        code, _, err = run_cli(["sweep", *extra])
        lines = [x for x in err.strip().splitlines() if x.strip()]
        assert code == 2 and len(lines) == 1 and needle in lines[0], (extra, err)


# --------------------------------------------------------------------------------------------
# running: in this process, then submitit's local executor, then what Slurm would get
# --------------------------------------------------------------------------------------------
def test_a_serial_sweep_writes_the_results_table(tmp_path):
    plan = plan_sweep(RunOptions(**TINY), grid={"lr": [1e-3, 1e-2]}, seeds=2, out=tmp_path / "s")
    done = run_sweep(plan, executor="serial")
    assert done.ok and done.submitted == ("job-000",) and done.status.counts()["done"] == 1
    res = done.results
    assert [(r["config"], r["seed"], r["lr"]) for r in res.rows] == [(0, 0, 1e-3), (0, 1, 1e-3), (1, 0, 1e-2),
                                                                    (1, 1, 1e-2)]
    job = json.loads(Path(plan.job_dir(0), "summary.json").read_text())["networks"]
    assert [r["mse"] for r in res.rows] == [r["mse"] for r in job]           # the job's final evaluation
    c1 = res.configs[1]
    assert c1["networks"] == 2 and c1["min"] <= c1["median"] <= c1["max"]
    assert c1["mean"] == pytest.approx((job[2]["mse"] + job[3]["mse"]) / 2)
    with open(tmp_path / "s" / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 4
    md = (tmp_path / "s" / "results.md").read_text()
    assert "| config | lr | networks | mean | trimmed mean | median | min | max |" in md
    assert (tmp_path / "s" / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # run again: nothing to do; another plan in the same folder is refused
    again = run_sweep(plan, executor="serial")
    assert again.submitted == () and again.skipped == ("job-000",) and "resuming the sweep" in again.notes[0]
    other = plan_sweep(RunOptions(**TINY), grid={"lr": [1e-3, 3e-2]}, seeds=2, out=tmp_path / "s")
    with pytest.raises(nt.ConfigError, match="holds another sweep"):
        run_sweep(other, executor="serial")
    code, out, _ = run_cli(["sweep", "--status", str(tmp_path / "s")])
    assert code == 0 and "job-000 done 6/6 4" in " ".join(out.split())
    code, out, _ = run_cli(["sweep", "--collect", str(tmp_path / "s")])
    assert code == 0 and "mse per configuration" in out and "results.md" in out


def _wait_for(predicate, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow  # submitit's local executor: one process per job (CI's `pytest -m slow` stage)
def test_a_local_sweep_of_8_configurations_survives_a_killed_job(tmp_path):
    pytest.importorskip("submitit")
    # long enough that the job is still training when it is killed, even on a loaded machine
    # (at 60 steps it sometimes finished between two polls of its status)
    steps = 600
    opts = RunOptions(**{**TINY, "steps": steps, "checkpoint_every": 5, "keep_checkpoints": 0})
    plan = plan_sweep(opts, grid={"hidden": [8, 12], "lr": [1e-3, 3e-3, 1e-2, 3e-2]}, out=tmp_path / "s")
    assert len(plan.configs) == 8 and [j.size for j in plan.jobs] == [4, 4]
    first = run_sweep(plan, executor="local", max_parallel=2, wait=False)
    assert first.executor == "local" and set(first.submitted) == {"job-000", "job-001"} and not first.ok
    victim = plan.job_dir(1)

    def victim_running():
        st = sweep_status(plan.out).jobs[1]
        done = max((s for s, _ in nt.io.list_checkpoints(victim)), default=0)
        return st.pid if st.state == "running" and done >= 10 else None

    pid = _wait_for(victim_running, 600, "job-001 to checkpoint step 10")
    os.kill(pid, signal.SIGKILL)
    _wait_for(lambda: sweep_status(plan.out).jobs[1].state == "failed", 60, "job-001 to be seen failed")
    _wait_for(lambda: sweep_status(plan.out).jobs[0].state == "done", 600, "job-000 to finish")
    status = sweep_status(plan.out)
    assert status.jobs[1].steps < steps and "killed" in status.jobs[1].error
    assert collect_sweep(plan.out).missing == ("job-001",)
    # run again: the finished job is kept, the killed one resumes from its checkpoint
    code, out, err = run_cli(["sweep", "--resume", plan.out, "--executor", "local"])
    assert code == 0, out + err
    assert "1 submitted, 1 already done or running" in out and "2 job(s): 2 done" in out
    cfg = json.loads(Path(victim, "config.json").read_text())
    assert len(cfg["resumed"]) == 1
    with open(Path(victim, "metrics.csv"), newline="") as f:
        logged = [int(r["step"]) for r in csv.DictReader(f)]
    assert logged == sorted(set(logged)) and logged[-1] == steps    # no step logged twice, none missing
    res = collect_sweep(plan.out)
    assert res.missing == () and len(res.rows) == 8 and [c["networks"] for c in res.configs] == [1] * 8
    assert (tmp_path / "s" / "results.md").is_file() and (tmp_path / "s" / "results.png").is_file()


def _fake_slurm(bin_dir: Path, record: Path) -> None:
    """``sbatch`` that records the script and answers as Slurm does; ``sacct`` that answers what
    ``sacct.out`` holds (every job pending) and records its arguments; ``srun``, ``scancel`` stubs."""
    bin_dir.mkdir()
    scripts = {
        "sbatch": f'#!/bin/sh\ncp "$1" "{record}"\necho "Submitted batch job 4242"\n',
        "srun": "#!/bin/sh\nexit 0\n",
        "sacct": f'#!/bin/sh\necho "$@" >> "{bin_dir / "sacct.calls"}"\ncat "{bin_dir / "sacct.out"}"\n',
        "scancel": "#!/bin/sh\nexit 0\n",
    }
    (bin_dir / "sacct.out").write_text("JobID|State\n" + "".join(f"4242_{k}|PENDING\n" for k in range(3)))
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_the_slurm_submission_is_a_job_array_of_the_jobs(tmp_path, monkeypatch):
    submitit = pytest.importorskip("submitit")
    record = tmp_path / "submitted.sh"
    _fake_slurm(tmp_path / "bin", record)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    plan = plan_sweep(RunOptions(**TINY), grid={"hidden": [8, 12, 16]}, seeds=2, out=tmp_path / "s")
    done = run_sweep(plan, executor="auto", max_parallel=2, timeout_min=30,
                     slurm={"partition": "gpu", "gpus_per_node": 1, "cpus_per_task": 4, "mem_gb": 8,
                            "setup": ["export XLA_PYTHON_CLIENT_PREALLOCATE=false"],
                            "additional": {"account": "lab"}})
    assert done.executor == "slurm" and not done.waited
    assert done.job_ids == {"job-000": "4242_0", "job-001": "4242_1", "job-002": "4242_2"}
    assert [j.state for j in done.status.jobs] == ["pending"] * 3
    assert "sweep --status" in done.report()
    script = record.read_text()
    for line in ("#SBATCH --array=0-2%2", "#SBATCH --time=30", "#SBATCH --partition=gpu",
                 "#SBATCH --gpus-per-node=1", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8GB",
                 "#SBATCH --account=lab", "#SBATCH --job-name=neurotrain-sweep", "#SBATCH --signal=USR2@90",
                 "export XLA_PYTHON_CLIENT_PREALLOCATE=false"):
        assert line in script.splitlines(), (line, script)
    command = script.strip().splitlines()[-1]
    assert command.startswith("srun --unbuffered --output ") and "-u -m submitit.core._submit" in command
    assert str(tmp_path / "s" / "submitit") in command
    # each array task runs one job of the sweep: the pickled call is run_sweep_job(SWEEP_DIR, index)
    calls = []
    for k in range(3):
        with open(tmp_path / "s" / "submitit" / f"4242_{k}" / f"4242_{k}_submitted.pkl", "rb") as f:
            delayed = pickle.load(f)
        assert isinstance(delayed, submitit.helpers.DelayedSubmission)
        assert hasattr(delayed.function, "checkpoint")           # requeued on timeout / preemption
        calls.append(delayed.args)
    assert calls == [(plan.out, 0), (plan.out, 1), (plan.out, 2)]
    requeue = delayed.function.checkpoint(*delayed.args)
    assert requeue.args == (plan.out, 2)
    # a job that Slurm ended without a word from it is seen failed, by one sacct call for the sweep
    (tmp_path / "bin" / "sacct.out").write_text(
        "JobID|State\n4242_0|RUNNING\n4242_0.batch|RUNNING\n4242_1|OUT_OF_MEMORY\n4242_1.batch|OUT_OF_MEMORY\n"
        "4242_2|CANCELLED by 1000\n")
    for name in ("job-000", "job-001"):
        path = Path(plan.out, "status", f"{name}.json")
        path.write_text(json.dumps({**json.loads(path.read_text()), "state": "running", "host": "node",
                                    "pid": 1}))
    calls = (tmp_path / "bin" / "sacct.calls").read_text().count("\n")
    states = sweep_status(plan.out).jobs
    assert [j.state for j in states] == ["running", "failed", "failed"]
    assert "Slurm reports the job OUT_OF_MEMORY" in states[1].error
    assert "Slurm reports the job CANCELLED before it started" in states[2].error
    assert (tmp_path / "bin" / "sacct.calls").read_text().count("\n") == calls + 1


@pytest.mark.slow  # two training runs and a resumed one (CI's `pytest -m slow` stage)
def test_a_job_leaving_on_a_requeue_signal_writes_a_whole_checkpoint_and_resumes(tmp_path, monkeypatch):
    """submitit's handler of a timeout / preemption signal (USR2 on Slurm) requeues the job and
    calls sys.exit inside training: the checkpoint written on the way out is whole, and the
    requeued job resumes from it to the result of an uninterrupted job."""
    from neurotrain.runs import run_sweep_job
    from neurotrain.training import Trainer

    opts = RunOptions(**{**TINY, "steps": 12, "checkpoint_every": 0, "eval_every": 4})
    plan = plan_sweep(opts, grid={"lr": [1e-3, 1e-2]}, out=tmp_path / "s")
    plan.save()
    ref = plan_sweep(opts, grid={"lr": [1e-3, 1e-2]}, out=tmp_path / "ref")
    run_sweep(ref, executor="serial")

    def leave(signum, frame):   # what submitit's checkpoint_and_try_requeue ends with
        raise SystemExit(-1)

    original = Trainer._call_step

    def call_step(self, fn, i):     # the signal lands while step 10 runs: step 9 is done but not logged
        out = original(self, fn, i)
        if int(i) == 9:
            os.kill(os.getpid(), signal.SIGUSR2)
        return out

    old = signal.signal(signal.SIGUSR2, leave)
    monkeypatch.setattr(Trainer, "_call_step", call_step)
    try:
        with pytest.raises(SystemExit):
            run_sweep_job(plan.out, 0)
    finally:
        monkeypatch.undo()
        signal.signal(signal.SIGUSR2, old)
    job = plan.job_dir(0)
    assert [s for s, _ in nt.io.list_checkpoints(job)] == [0, 9]
    assert json.loads(Path(plan.out, "status", "job-000.json").read_text())["state"] == "interrupted"
    assert sweep_status(plan.out).jobs[0].state == "failed"
    assert run_sweep_job(plan.out, 0)["status"] == "completed"          # the requeued job
    a, b = (nt.io.read_checkpoint(nt.io.latest_checkpoint(d)) for d in (ref.job_dir(0), job))
    for k in a["params"]:
        np.testing.assert_array_equal(b["params"][k], a["params"][k], err_msg=k)
    np.testing.assert_array_equal(b["history"]["loss"], a["history"]["loss"])   # every step's, both networks


def test_a_slurm_array_task_records_the_id_sacct_lists(monkeypatch):
    from neurotrain.runs._sweep import _this_job_id

    monkeypatch.delenv("SUBMITIT_LOCAL_JOB_ID", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "4245")              # the array task's own number
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    assert _this_job_id() == "4242_2"
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID")
    assert _this_job_id() == "4245"
