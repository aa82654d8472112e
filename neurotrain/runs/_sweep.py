"""Sweeps: many configurations x seeds, split into population jobs, run through submitit.

A sweep is a grid over the options of a run (or a list of configuration files, or both),
each configuration trained with ``seeds`` networks. The configurations that differ only in
what a population can vary per network (the seed, ``lr``, ``l2``, ``rate_l2`` and, for leaky
cells with BPTT, ``cell_params.sigma_in`` / ``sigma_rec``) share jobs: one job is one
population run (networks of one architecture and task in one compiled step), at most
``networks_per_job`` networks. Different architectures, tasks or training settings are
different jobs. The jobs run through `submitit <https://github.com/facebookincubator/submitit>`_:
local processes on a laptop (``LocalExecutor``), a Slurm job array where ``sbatch`` exists
(``SlurmExecutor``), or one after another in this process (``executor="serial"``, no
submitit needed). A sweep folder::

    SWEEP_DIR/
      sweep.json       the plan: base options, grid, seeds, configurations, jobs (options and networks)
      jobs/job-000/    each job a population run directory (neurotrain train --population ...)
      status/job-000.json   the job's state as it last wrote it (running, done, failed; pid, host)
      submitit/        submitit's submission files and logs (%j_0_log.out / .err)
      results.csv      one row per network: configuration, its values, job, seed, final loss, scores
      results.md       one row per configuration: networks, mean, trimmed mean, median, min, max
      results.png      score per configuration, one point per network

A job killed, preempted or failed resumes from its newest checkpoint when the sweep is run
again (:func:`run_sweep` on the same folder, ``neurotrain sweep --resume SWEEP_DIR`` or the
same command again); finished jobs are not run again.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import io as _io
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import plot
from .._errors import ConfigError, NeurotrainError
from .._validate import check_int, check_seed
from ..io import (
    RunLayout,
    atomic_write_text,
    jsonable,
    library_versions,
    list_checkpoints,
    read_json,
    save_figure,
    write_json,
)
from ..training import trimmed_mean
from ._directory import FIGURE_DPI
from ._notes import Notes, NotesCallback
from ._options import RunOptions
from ._report import PROG
from ._train import plan_run, train_run

__all__ = ["SweepPlan", "SweepConfig", "SweepJob", "plan_sweep", "run_sweep", "run_sweep_job", "SweepRunResult",
           "sweep_status", "SweepStatus", "JobStatus", "collect_sweep", "SweepResults", "EXECUTORS", "SWEEP_FILE",
           "slurm_parameters"]

SWEEP_FILE = "sweep.json"
JOBS_DIR = "jobs"
STATUS_DIR = "status"
SUBMITIT_DIR = "submitit"
RESULTS_CSV, RESULTS_MD, RESULTS_FIGURE = "results.csv", "results.md", "results"
#: how the jobs are run: "auto" (Slurm where sbatch exists, else local processes), "local",
#: "slurm", or "serial" (one after another in this process, without submitit)
EXECUTORS = ("auto", "local", "slurm", "serial")
#: options a population varies per network (they do not split configurations into jobs)
_PER_NETWORK = ("seed", "lr", "l2", "rate_l2")
_NOISE = ("sigma_in", "sigma_rec")
#: options a sweep sets itself
_NOT_SWEPT = ("out", "population", "population_grid")
_TABLES = ("task_params", "cell_params", "method_params")


# --------------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """One configuration of a sweep: its grid values, its options and seeds.

    Attributes
    ----------
    index : int
    name : str
        ``"hidden=64, lr=0.001"`` (its grid values), or its file's name.
    values : dict
        The grid values (``{"hidden": 64, "lr": 0.001}``).
    options : RunOptions
        The options of one of its networks (resolved; ``seed`` the first seed).
    seeds : tuple of int
    """

    index: int
    name: str
    values: dict
    options: RunOptions
    seeds: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class SweepJob:
    """One job of a sweep: a population run of networks of one architecture and task.

    Attributes
    ----------
    index : int
    name : str
        ``job-000``; its run directory is ``SWEEP_DIR/jobs/<name>``.
    options : RunOptions
        The population run's options (``population`` lists its networks).
    members : tuple of (int, int)
        Each network's configuration index and seed, in the population's order.
    """

    index: int
    name: str
    options: RunOptions
    members: tuple[tuple[int, int], ...]

    @property
    def size(self) -> int:
        return len(self.members)


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """A sweep ready to run: its configurations and the jobs that train them.

    Attributes
    ----------
    out : str
        The sweep folder.
    base : RunOptions
    grid : dict
        The grid axes (option name, or ``table.key`` for ``task_params`` / ``cell_params`` /
        ``method_params``) to their values.
    configs : tuple of SweepConfig
    jobs : tuple of SweepJob
    networks_per_job : int or None
    """

    out: str
    base: RunOptions
    grid: dict
    configs: tuple[SweepConfig, ...]
    jobs: tuple[SweepJob, ...]
    networks_per_job: int | None = None

    @property
    def num_networks(self) -> int:
        return sum(j.size for j in self.jobs)

    def job_dir(self, job: int | SweepJob) -> str:
        job = self.jobs[job] if isinstance(job, int) else job
        return os.path.join(self.out, JOBS_DIR, job.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (what ``sweep.json`` holds; :meth:`from_dict` reads it back)."""
        return jsonable({
            "format": 1, "base": self.base.to_dict(), "grid": self.grid, "networks_per_job": self.networks_per_job,
            "configs": [{"index": c.index, "name": c.name, "values": c.values, "seeds": list(c.seeds),
                         "options": c.options.to_dict()} for c in self.configs],
            "jobs": [{"index": j.index, "name": j.name, "members": [list(m) for m in j.members],
                      "options": {k: v for k, v in j.options.to_dict().items() if k != "out"}} for j in self.jobs]})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], out: str) -> SweepPlan:
        try:
            base = RunOptions.from_dict(data["base"], source=os.path.join(out, SWEEP_FILE))
            configs = tuple(SweepConfig(int(c["index"]), str(c["name"]), dict(c["values"]),
                                        RunOptions.from_dict(c["options"]), tuple(int(s) for s in c["seeds"]))
                            for c in data["configs"])
            jobs = tuple(SweepJob(int(j["index"]), str(j["name"]),
                                  RunOptions.from_dict({**j["options"], "out": os.path.join(out, JOBS_DIR, j["name"])}),
                                  tuple((int(a), int(b)) for a, b in j["members"])) for j in data["jobs"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{os.path.join(out, SWEEP_FILE)} is not a valid sweep plan ({type(e).__name__}: {e}); "
                              f"it was not written by neurotrain or was edited.") from None
        return cls(out, base, dict(data.get("grid") or {}), configs, jobs, data.get("networks_per_job"))

    @classmethod
    def load(cls, sweep_dir: str | os.PathLike) -> SweepPlan:
        """Read ``SWEEP_DIR/sweep.json``."""
        sweep_dir = os.fspath(sweep_dir)
        path = os.path.join(sweep_dir, SWEEP_FILE)
        if not os.path.isfile(path):
            what = "does not exist" if not os.path.exists(sweep_dir) else f"holds no {SWEEP_FILE}"
            raise ConfigError(f"{sweep_dir} is not a sweep folder: it {what}. Start a sweep with "
                              f"`{PROG} sweep --grid KEY=V1,V2 --out {sweep_dir}`.")
        return cls.from_dict(read_json(path), sweep_dir)

    def save(self) -> str:
        os.makedirs(self.out, exist_ok=True)
        return write_json(os.path.join(self.out, SWEEP_FILE), {**self.to_dict(), "versions": library_versions()})

    def same_as(self, other: SweepPlan) -> bool:
        """Whether two plans train the same networks in the same jobs."""
        a, b = self.to_dict(), other.to_dict()
        return a["configs"] == b["configs"] and a["jobs"] == b["jobs"]

    def report(self) -> str:
        """The plan as text: the configurations and the jobs (what ``--dry-run`` prints)."""
        lines = [f"{PROG} sweep: {len(self.configs)} configuration(s) x seeds = {self.num_networks} networks in "
                 f"{len(self.jobs)} job(s); sweep folder {self.out}", "", "configurations:"]
        for c in self.configs:
            lines.append(f"  {c.index:>3}  {c.name}  (seeds {_ranges(c.seeds)})")
        lines += ["", "jobs (each one population run: one architecture and task, one compiled step):"]
        for j in self.jobs:
            configs = sorted({c for c, _ in j.members})
            o = j.options
            lines.append(f"  {j.name}  {j.size} networks  configs {_ranges(configs)}  ({o.task}, {o.cell} x "
                         f"{o.hidden}, {o.method}, {o.steps} steps, batch {o.batch_size})")
        return "\n".join(lines)


def _ranges(values: Sequence[int]) -> str:
    """``0-3, 7, 9-10``."""
    values = sorted(values)
    out, start, prev = [], None, None
    for v in values + [None]:
        if start is None:
            start = prev = v
        elif v is not None and v == prev + 1:
            prev = v
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = v
    return ", ".join(out)


def _grid_value(text):
    if isinstance(text, str):
        t = text.strip()
        try:
            return json.loads(t)
        except ValueError:
            return t
    return text


def _grid_axes(grid: Mapping[str, Any]) -> dict[str, list]:
    """``{axis: [values]}`` checked: option names or ``table.key``; values a list or ``"a,b,c"``."""
    names = RunOptions.names()
    out: dict[str, list] = {}
    for raw_key, raw in (grid or {}).items():
        key = str(raw_key).strip().replace("-", "_")
        head, _, sub = key.partition(".")
        if head == "seed" or head == "seeds":
            raise ConfigError("sweep grid: 'seed' is not a grid axis; give the seeds of every configuration with "
                              "seeds= (--seeds N for seeds seed..seed+N-1, or --seeds 0,5,9).")
        if head in _NOT_SWEPT or head not in names:
            allowed = ", ".join(n for n in names if n not in _NOT_SWEPT)
            raise ConfigError(f"sweep grid: {str(raw_key)!r} is not an option a sweep can vary; use one of {allowed} "
                              f"(or task_params.KEY, cell_params.KEY, method_params.KEY).")
        if sub and head not in _TABLES:
            raise ConfigError(f"sweep grid: {str(raw_key)!r}: only {', '.join(_TABLES)} take a .KEY.")
        if head in _TABLES and not sub:
            raise ConfigError(f"sweep grid: {str(raw_key)!r} needs a key, e.g. {head}.delay=5,10.")
        if isinstance(raw, str):
            parsed = _grid_value(raw)
            values = parsed if isinstance(parsed, list) else [_grid_value(v) for v in raw.split(",") if v.strip()]
        elif isinstance(raw, (list, tuple)):
            values = list(raw)
        else:
            values = [raw]
        if not values:
            raise ConfigError(f"sweep grid: {str(raw_key)!r} has no values; write e.g. {key}=1,2.")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ConfigError(f"sweep grid: {str(raw_key)!r} repeats a value ({values}); list each once.")
        if key in out:
            raise ConfigError(f"sweep grid: axis {key!r} is given twice.")
        out[key] = values
    return out


def _apply(options: RunOptions, values: Mapping[str, Any], source: str) -> RunOptions:
    change: dict[str, Any] = {}
    for key, v in values.items():
        head, _, sub = key.partition(".")
        if sub:
            change.setdefault(head, {})[sub] = v
        else:
            change[head] = v
    return options.updated(change, source=source)


def _seeds(seeds, base_seed: int) -> tuple[int, ...]:
    if isinstance(seeds, str):
        parts = [p.strip() for p in seeds.split(",") if p.strip()]
        seeds = int(parts[0]) if len(parts) == 1 else [int(p) for p in parts]
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        n = check_int("seeds", seeds, minimum=1, fix="(the number of networks per configuration)")
        return tuple(range(base_seed, base_seed + n))
    out = tuple(check_seed(f"seeds[{i}]", s) for i, s in enumerate(seeds))
    if not out or len(set(out)) != len(out):
        raise ConfigError(f"seeds must be a number of networks per configuration, or a list of distinct seeds; "
                          f"got {seeds!r}.")
    return out


def _per_network_keys(options: RunOptions) -> tuple[str, ...]:
    """What may differ between the networks of one job for these options."""
    keys = list(_PER_NETWORK)
    if options.method == "bptt" and options.cell == "leaky":
        keys += [f"cell_params.{n}" for n in _NOISE]
    return tuple(keys)


def _group_key(options: RunOptions) -> str:
    d = options.to_dict()
    for k in ("out", *_PER_NETWORK):
        d.pop(k, None)
    if options.method == "bptt" and options.cell == "leaky":
        d["cell_params"] = {k: v for k, v in d["cell_params"].items() if k not in _NOISE}
    return json.dumps(d, sort_keys=True, default=str)


def plan_sweep(base: RunOptions | None = None, *, grid: Mapping[str, Any] | None = None,
               configs: Sequence[RunOptions | str | os.PathLike] = (), seeds: int | Sequence[int] | str = 1,
               networks_per_job: int | None = None, out: str | os.PathLike | None = None) -> SweepPlan:
    """The configurations and jobs of a sweep, checked; nothing is written.

    Parameters
    ----------
    base : RunOptions, optional
        The options every configuration starts from (default ``RunOptions()``).
    grid : dict, optional
        Axes to vary: an option name (``hidden``, ``lr``, ``cell``, ``task``...) or ``table.key``
        (``task_params.delay``, ``cell_params.tau``...) to a list of values (or a string
        ``"64,128"``). Every combination is a configuration.
    configs : sequence of RunOptions or configuration files, optional
        More configurations (each crossed with the grid); without them the base is the one.
    seeds : int, sequence of int or str
        Networks per configuration: ``N`` (seeds ``seed`` to ``seed + N - 1``) or the seeds.
    networks_per_job : int, optional
        At most this many networks in one job (default: all the networks that can share one).
    out : str or PathLike, optional
        The sweep folder (default ``sweeps/sweep-<YYYYmmdd-HHMMSS>``).

    Returns
    -------
    SweepPlan

    Raises
    ------
    ConfigError
        An unknown grid key or option, a bad value (naming the configuration), repeated
        configurations.

    Examples
    --------
    >>> plan = plan_sweep(RunOptions(task="integrator", cell="vanilla", steps=10),
    ...                   grid={"hidden": [8, 16], "lr": [1e-3, 1e-2]}, seeds=2, out="sweeps/demo")
    >>> len(plan.configs), len(plan.jobs), [j.size for j in plan.jobs]
    (4, 2, [4, 4])
    >>> plan.configs[1].name, plan.jobs[0].options.population["lr"]
    ('hidden=8, lr=0.01', [0.001, 0.001, 0.01, 0.01])
    """
    base = base if base is not None else RunOptions()
    if not isinstance(base, RunOptions):
        raise ConfigError(f"base must be a RunOptions; got {type(base).__name__}.")
    for name in ("population", "population_grid"):
        if getattr(base, name) not in (None, {}):
            raise ConfigError(f"the sweep makes the populations itself; leave {name} out of its base options "
                              f"(give the networks per configuration with seeds=, and vary lr, l2... with the grid).")
    axes = _grid_axes(grid or {})
    starts: list[tuple[str | None, RunOptions]] = []
    for i, c in enumerate(configs or ()):
        if isinstance(c, RunOptions):
            starts.append((f"configs[{i}]", c))
        else:
            path = os.fspath(c)
            opts = RunOptions.from_file(path)
            starts.append((os.path.splitext(os.path.basename(path))[0], base.updated(
                {k: v for k, v in opts.to_dict().items() if v != RunOptions.default(k)}, source=path)))
    for label, o in starts:
        for name in ("population", "population_grid"):
            if getattr(o, name) not in (None, {}):
                raise ConfigError(f"configuration {label}: the sweep makes the populations itself; leave {name} out.")
    if not starts:
        starts = [(None, base)]
    combos = list(itertools.product(*axes.values())) if axes else [()]
    configs_out: list[SweepConfig] = []
    seen: dict[str, int] = {}
    for label, start in starts:
        for combo in combos:
            values = dict(zip(axes, combo))
            name = ", ".join(f"{k}={_show(v)}" for k, v in values.items())
            name = ", ".join(p for p in (label, name) if p) or "base"
            where = f"sweep configuration {len(configs_out)} ({name})"
            opts = _apply(start, values, where)
            try:
                opts = plan_run(opts.replace(out="."))
            except ConfigError as e:
                raise ConfigError(f"{where}: {e}") from None
            opts = dataclasses.replace(opts.options, out=None)
            key = json.dumps(opts.to_dict(), sort_keys=True, default=str)
            if key in seen:
                raise ConfigError(f"{where} is the same as configuration {seen[key]}; list each configuration once.")
            seen[key] = len(configs_out)
            configs_out.append(SweepConfig(len(configs_out), name, jsonable(values), opts, _seeds(seeds, opts.seed)))
    per_job = check_int("networks_per_job", networks_per_job, minimum=1, allow_none=True)
    out = os.fspath(out) if out is not None else _default_sweep_dir()
    groups: dict[str, list[tuple[int, int]]] = {}
    for c in configs_out:
        groups.setdefault(_group_key(c.options), []).extend((c.index, s) for s in c.seeds)
    jobs: list[SweepJob] = []
    for members in groups.values():
        size = per_job or len(members)
        for start in range(0, len(members), size):
            chunk = tuple(members[start:start + size])
            name = f"job-{len(jobs):03d}"
            jobs.append(SweepJob(len(jobs), name, _job_options(configs_out, chunk, os.path.join(out, JOBS_DIR, name)),
                                 chunk))
    return SweepPlan(out, base, axes, tuple(configs_out), tuple(jobs), per_job)


def _show(v) -> str:
    return f"{v:g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def _default_sweep_dir() -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join("sweeps", f"sweep-{stamp}")
    out, i = base, 1
    while os.path.exists(out):
        i += 1
        out = f"{base}-{i}"
    return out


def _job_options(configs: Sequence[SweepConfig], members: Sequence[tuple[int, int]], out: str) -> RunOptions:
    """The population run of ``members`` (configuration index, seed): what they share, and an
    explicit population table of what varies per network."""
    first = configs[members[0][0]].options
    per: dict[str, list] = {"seeds": [s for _, s in members]}
    change: dict[str, Any] = {"seed": members[0][1]}
    for key in _per_network_keys(first):
        if key == "seed":
            continue
        head, _, sub = key.partition(".")
        vals = [(configs[c].options.cell_params.get(sub, 0.0) if sub else getattr(configs[c].options, head))
                for c, _ in members]
        if len(set(vals)) > 1:
            per[sub or head] = [float(v) for v in vals]
    if "lr" in per:
        change["lr"] = max(per["lr"])   # the optimiser's base rate; each network's is per["lr"]
    return first.replace(**change, population=per, out=out, no_progress=True)


# --------------------------------------------------------------------------------------------
# one job (what submitit runs)
# --------------------------------------------------------------------------------------------
def _status_path(sweep_dir: str, name: str) -> str:
    return os.path.join(sweep_dir, STATUS_DIR, f"{name}.json")


def _write_status(sweep_dir: str, name: str, **fields) -> None:
    path = _status_path(sweep_dir, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = {}
    with contextlib.suppress(NeurotrainError, OSError):
        old = read_json(path) if os.path.isfile(path) else {}
    write_json(path, {**old, **fields, "updated": _now()})


def _this_job_id() -> str | None:
    """This process's job id as it was submitted: an array task's ``ARRAYID_TASK`` (as ``sacct``
    lists it and submitit names it; ``SLURM_JOB_ID`` is the task's own number), a Slurm job's
    id, or the local executor's."""
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return env.get("SLURM_JOB_ID") or env.get("SUBMITIT_LOCAL_JOB_ID")


def _now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def _job_done(run_dir: str) -> bool:
    """Whether a job's run directory holds the summary of a finished population run."""
    path = RunLayout(run_dir).summary_file
    try:
        s = read_json(path) if os.path.isfile(path) else None
    except NeurotrainError:
        return False
    return isinstance(s, dict) and isinstance(s.get("networks"), list) and s.get("stop_reason") not in (
        None, "interrupted", "diverged")


def run_sweep_job(sweep_dir: str | os.PathLike, index: int) -> dict[str, Any]:
    """Run job ``index`` of the sweep in ``sweep_dir``: train its population run (resumed from its
    newest checkpoint if it has started) and write its status. What each submitit job calls.

    Returns
    -------
    dict
        ``{"job", "status", "steps"}``.

    Raises
    ------
    RuntimeError
        The run stopped before finishing (interrupted, terminated, diverged); the sweep can
        be run again to resume it.
    """
    sweep_dir = os.fspath(sweep_dir)
    plan = SweepPlan.load(sweep_dir)
    job = plan.jobs[check_int("index", index, minimum=0, maximum=len(plan.jobs) - 1)]
    run_dir = plan.job_dir(job)
    _write_status(sweep_dir, job.name, state="running", pid=os.getpid(), host=socket.gethostname(),
                  started=_now(), job_id=_this_job_id(), error=None)
    state, error, steps = "failed", None, None
    try:
        started = os.path.isfile(RunLayout(run_dir).config_file) and list_checkpoints(run_dir)
        if started:
            result = train_run(resume=run_dir, command=f"{PROG} sweep (job {job.name})")
        else:
            result = train_run(job.options, command=f"{PROG} sweep (job {job.name})")
        steps = result.steps_done
        if result.ok:
            state = "done"
        else:
            state = "interrupted" if result.status in ("interrupted", "terminated") else "failed"
            error = result.report()
            raise RuntimeError(f"{job.name}: {result.report()}")
        return {"job": job.name, "status": result.status, "steps": steps}
    except BaseException as e:
        if error is None:
            error = f"{type(e).__name__}: {e}"
            state = "interrupted" if isinstance(e, (KeyboardInterrupt, SystemExit)) else "failed"
        raise
    finally:
        _write_status(sweep_dir, job.name, state=state, finished=_now(), error=error, steps=steps)


class _SweepJobFunction:
    """The callable submitit pickles: runs one job; on a timeout or preemption signal
    (submitit's USR2) it asks to be requeued, and the job resumes from its checkpoints."""

    def __call__(self, sweep_dir: str, index: int) -> dict[str, Any]:
        return run_sweep_job(sweep_dir, index)

    def checkpoint(self, sweep_dir: str, index: int):
        import submitit

        return submitit.helpers.DelayedSubmission(self, sweep_dir, index)


# --------------------------------------------------------------------------------------------
# running: submitit's executors (or this process)
# --------------------------------------------------------------------------------------------
def slurm_parameters(*, timeout_min: int, partition: str | None = None, cpus_per_task: int | None = None,
                     gpus_per_node: int | None = None, mem_gb: float | None = None,
                     array_parallelism: int | None = None, job_name: str = "neurotrain-sweep",
                     setup: Sequence[str] = (), additional: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """submitit ``SlurmExecutor`` parameters of a sweep (sbatch's names). With GPUs, each job
    gets its own (``gpus_per_node`` per job, one process each); ``setup`` lines run before it."""
    params: dict[str, Any] = {"time": check_int("timeout_min", timeout_min, minimum=1), "job_name": job_name}
    if partition:
        params["partition"] = str(partition)
    if cpus_per_task:
        params["cpus_per_task"] = check_int("cpus_per_task", cpus_per_task, minimum=1)
    if gpus_per_node:
        params["gpus_per_node"] = check_int("gpus_per_node", gpus_per_node, minimum=1)
    if mem_gb:
        params["mem"] = f"{int(mem_gb)}GB" if float(mem_gb) == int(mem_gb) else f"{int(float(mem_gb) * 1024)}MB"
    if array_parallelism:
        params["array_parallelism"] = check_int("array_parallelism", array_parallelism, minimum=1)
    if setup:
        params["setup"] = list(setup)
    if additional:
        params["additional_parameters"] = dict(additional)
    return params


def _which_executor(executor: str) -> str:
    if executor not in EXECUTORS:
        raise ConfigError(f"executor = {executor!r} is not known; choose from {', '.join(EXECUTORS)}.")
    if executor == "serial":
        return executor
    try:
        import submitit  # noqa: F401
    except ImportError:
        if executor == "auto":
            return "serial"
        raise ConfigError(f"executor {executor!r} needs submitit; install it with `pip install neurotrain[cluster]` "
                          f"(or run the jobs in this process with executor='serial').") from None
    if executor == "auto":
        return "slurm" if shutil.which("sbatch") and shutil.which("srun") else "local"
    if executor == "slurm" and not (shutil.which("sbatch") and shutil.which("srun")):
        raise ConfigError("executor 'slurm' needs sbatch and srun on the PATH (a Slurm login node); use "
                          "executor='local' on this machine.")
    return executor


@dataclasses.dataclass(frozen=True)
class SweepRunResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    plan : SweepPlan
    executor : str
        The executor used (``local``, ``slurm`` or ``serial``).
    submitted : tuple of str
        The jobs submitted (or run) by this call; ``skipped`` those already done or running.
    job_ids : dict
        submitit's job id of each submitted job.
    waited : bool
        Whether the call waited for the jobs to end.
    status : SweepStatus
        The jobs' states when the call returned.
    results : SweepResults or None
        The collected results (written when every job is done).
    notes : tuple of str
    """

    plan: SweepPlan
    executor: str
    submitted: tuple[str, ...]
    skipped: tuple[str, ...]
    job_ids: dict
    waited: bool
    status: SweepStatus
    results: SweepResults | None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(j.state == "done" for j in self.status.jobs)

    def report(self) -> str:
        lines = [f"{PROG} sweep: {len(self.plan.configs)} configurations, {self.plan.num_networks} networks in "
                 f"{len(self.plan.jobs)} jobs ({self.executor}); {len(self.submitted)} submitted, "
                 f"{len(self.skipped)} already done or running", ""]
        lines += self.status.table().splitlines()
        if self.results is not None:
            lines += ["", *self.results.table().splitlines(), "",
                      f"  wrote {', '.join(self.results.files)}"]
        elif not self.waited:
            lines += ["", f"  follow it with: {PROG} sweep --status {self.plan.out}; collect the results with: "
                          f"{PROG} sweep --collect {self.plan.out}"]
        else:
            lines += ["", f"  some jobs did not finish; run again to resume them: {PROG} sweep --resume "
                          f"{self.plan.out}"]
        return "\n".join(lines)


def run_sweep(plan: SweepPlan | str | os.PathLike, *, executor: str = "auto", max_parallel: int | None = None,
              wait: bool | None = None, timeout_min: int = 60, slurm: Mapping[str, Any] | None = None,
              poll_s: float = 1.0, notes: NotesCallback | None = None) -> SweepRunResult:
    """Run (or resume) a sweep: every job not done yet, through submitit.

    Parameters
    ----------
    plan : SweepPlan or str
        A plan (:func:`plan_sweep`; its folder may hold the same sweep already: its finished
        jobs are kept, the others resumed) or a sweep folder (resume it).
    executor : {"auto", "local", "slurm", "serial"}
        ``auto``: Slurm where ``sbatch`` exists, else local processes (else ``serial`` when
        submitit is not installed).
    max_parallel : int, optional
        Local processes at once (default: the CPU count // 2, at least 1) or, on Slurm, the
        array's parallelism.
    wait : bool, optional
        Wait for the jobs to end (default: yes, but for Slurm), then collect the results.
    timeout_min : int
        Each job's time limit (Slurm ``--time``; locally submitit's timeout).
    slurm : dict, optional
        More :func:`slurm_parameters` (``partition``, ``cpus_per_task``, ``gpus_per_node``,
        ``mem_gb``, ``setup``, ``additional``).
    poll_s : float
        Seconds between checks of running jobs.
    notes : callable, optional

    Returns
    -------
    SweepRunResult
    """
    note = Notes(notes)
    if not isinstance(plan, SweepPlan):
        plan = SweepPlan.load(plan)
    path = os.path.join(plan.out, SWEEP_FILE)
    if os.path.isfile(path):
        saved = SweepPlan.load(plan.out)
        if not saved.same_as(plan):
            raise ConfigError(f"{plan.out} holds another sweep ({path} plans other configurations or jobs); "
                              f"resume it with `{PROG} sweep --resume {plan.out}`, or choose another --out.")
        plan = saved
        note(f"resuming the sweep in {plan.out}")
    else:
        plan.save()
    kind = _which_executor(executor)
    if kind == "serial" and executor == "auto":
        note("note: submitit is not installed; running the jobs one after another in this process "
             "(pip install neurotrain[cluster] for parallel local processes or Slurm)")
    wait = (kind != "slurm") if wait is None else bool(wait)
    parallel = check_int("max_parallel", max_parallel, minimum=1, allow_none=True) or max(1, (os.cpu_count() or 2) // 2)
    status = sweep_status(plan.out)
    todo = [j for j, s in zip(plan.jobs, status.jobs) if s.state not in ("done", "running")]
    skipped = tuple(j.name for j, s in zip(plan.jobs, status.jobs) if s.state in ("done", "running"))
    for j, s in zip(plan.jobs, status.jobs):
        if s.state == "running":
            note(f"note: {j.name} is running (pid {s.pid} on {s.host}); it is not submitted again")
    job_ids: dict[str, str] = {}
    if todo:
        for j in todo:
            _write_status(plan.out, j.name, state="submitted", submitted=_now(), executor=kind, error=None)
        if kind == "serial":
            for j in todo:
                with contextlib.suppress(Exception):
                    run_sweep_job(plan.out, j.index)
        else:
            job_ids = _submit(plan, todo, kind, parallel=parallel, wait=wait, timeout_min=timeout_min,
                              slurm=slurm, poll_s=poll_s, note=note)
    status = sweep_status(plan.out)
    results = None
    if all(j.state == "done" for j in status.jobs) and (wait or not todo):
        results = collect_sweep(plan.out)
    return SweepRunResult(plan, kind, tuple(j.name for j in todo), skipped, job_ids, wait, status, results,
                          tuple(note.items))


def _submit(plan: SweepPlan, todo: Sequence[SweepJob], kind: str, *, parallel: int, wait: bool,
            timeout_min: int, slurm, poll_s: float, note: Notes) -> dict[str, str]:
    import submitit

    folder = os.path.join(plan.out, SUBMITIT_DIR, "%j")
    fn = _SweepJobFunction()
    ids: dict[str, str] = {}
    if kind == "slurm":
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=3)
        params = slurm_parameters(timeout_min=timeout_min, array_parallelism=parallel, **dict(slurm or {}))
        executor.update_parameters(**params)
        jobs = executor.map_array(fn, [plan.out] * len(todo), [j.index for j in todo])
        for j, sub in zip(todo, jobs):
            ids[j.name] = sub.job_id
            _write_status(plan.out, j.name, job_id=sub.job_id)
        note(f"submitted {len(jobs)} jobs to Slurm as the array {jobs[0].job_id.split('_')[0]}")
        if wait:
            for sub in jobs:
                with contextlib.suppress(Exception):
                    sub.wait()
        return ids
    executor = submitit.LocalExecutor(folder=folder, max_num_timeout=3)
    executor.update_parameters(timeout_min=timeout_min)
    queue = list(todo)
    running: list[tuple[SweepJob, Any]] = []
    while queue:
        # without waiting nothing is left here to start jobs later: they all start now
        while queue and (len(running) < parallel or not wait):
            j = queue.pop(0)
            sub = executor.submit(fn, plan.out, j.index)
            ids[j.name] = str(sub.job_id)
            _write_status(plan.out, j.name, job_id=str(sub.job_id))
            running.append((j, sub))
        if not wait:
            return ids
        running = _still_running(running, poll_s)
    while wait and running:
        running = _still_running(running, poll_s)
    return ids


def _still_running(running, poll_s: float):
    """Wait ``poll_s``; the submitted jobs that have not ended (the others' errors are in their status)."""
    time.sleep(poll_s)
    still = []
    for j, sub in running:
        if sub.done():
            with contextlib.suppress(Exception):
                sub.result()
        else:
            still.append((j, sub))
    return still


# --------------------------------------------------------------------------------------------
# status
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class JobStatus:
    """The state of one job: ``pending`` (not started or queued), ``running``, ``done`` or
    ``failed`` (stopped before finishing: killed, interrupted, an error; run the sweep again
    to resume it)."""

    name: str
    state: str
    steps: int | None
    num_steps: int
    networks: int
    run_dir: str
    job_id: str | None = None
    host: str | None = None
    pid: int | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class SweepStatus:
    """Every job's state (from :func:`sweep_status`)."""

    sweep_dir: str
    jobs: tuple[JobStatus, ...]

    def counts(self) -> dict[str, int]:
        return {s: sum(j.state == s for j in self.jobs) for s in ("pending", "running", "done", "failed")}

    def table(self) -> str:
        from ..analysis import format_table

        rows = [[j.name, j.state, f"{j.steps if j.steps is not None else 0}/{j.num_steps}", j.networks,
                 j.job_id or "", (j.error or "")[:70]] for j in self.jobs]
        c = self.counts()
        head = ", ".join(f"{v} {k}" for k, v in c.items() if v)
        return f"{len(self.jobs)} job(s): {head}\n" + format_table(
            ["job", "state", "steps", "networks", "job id", "error"], rows, align_left=2)

    def report(self) -> str:
        return f"{PROG} sweep --status {self.sweep_dir}\n" + self.table()


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def _steps_done(run_dir: str) -> int | None:
    best = max((s for s, _ in list_checkpoints(run_dir)), default=None)
    path = RunLayout(run_dir).metrics_file
    if os.path.isfile(path):
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(path, encoding="utf-8", errors="replace") as f:
                last = [line for line in f.read().splitlines() if line.strip()][-1]
            step = int(last.split(",")[0])
            best = step if best is None else max(best, step)
    return best


#: Slurm states of a job that ended without finishing (sacct's names)
_SLURM_ENDED = ("FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
                "DEADLINE")


def _slurm_ended(job_ids: Sequence[str]) -> dict[str, str]:
    """The jobs among ``job_ids`` (Slurm ids, array tasks as ``4242_0``) that Slurm reports
    ended without finishing, with their state, from one ``sacct`` call; empty when it cannot
    be told (no ``sacct`` on this host, ``sacct`` failing or too slow)."""
    if not job_ids or not shutil.which("sacct"):
        return {}
    try:
        proc = subprocess.run(["sacct", "-o", "JobID,State", "--parsable2", "-j", ",".join(job_ids)],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    wanted, ended = set(job_ids), {}
    for line in proc.stdout.splitlines():
        fields = line.strip().split("|")
        if len(fields) < 2 or fields[0] not in wanted:   # the header, a job's steps (4242_0.batch)
            continue
        state = (fields[1].split() or [""])[0].upper()   # "CANCELLED by 1000" -> CANCELLED
        if state in _SLURM_ENDED:
            ended[fields[0]] = state
    return ended


def sweep_status(sweep_dir: str | os.PathLike) -> SweepStatus:
    """The state of every job of a sweep: pending, running, done or failed, and its steps.

    A job whose status says running but whose process is gone (on this host), or that Slurm
    reports ended (``sacct``: failed, cancelled, timed out, out of memory...), is reported
    failed; running the sweep again resumes it from its checkpoints.
    """
    plan = SweepPlan.load(sweep_dir)
    host = socket.gethostname()
    statuses = {}
    for j in plan.jobs:
        st = {}
        with contextlib.suppress(NeurotrainError, OSError):
            p = _status_path(plan.out, j.name)
            st = read_json(p) if os.path.isfile(p) else {}
        statuses[j.name] = st
    slurm_ended = _slurm_ended([str(st["job_id"]) for st in statuses.values()
                                if st.get("executor") == "slurm" and st.get("job_id")
                                and st.get("state") in ("running", "submitted")])
    out = []
    for j in plan.jobs:
        run_dir = plan.job_dir(j)
        st = statuses[j.name]
        steps = _steps_done(run_dir)
        error = st.get("error")
        ended = slurm_ended.get(str(st.get("job_id")))
        if _job_done(run_dir):
            state, error = "done", None
        elif st.get("state") == "running":
            if ended:   # Slurm ended it without the job saying so (out of memory, node failure...)
                state, error = "failed", error or f"Slurm reports the job {ended}"
            elif st.get("host") == host and not _pid_alive(st.get("pid")):
                state, error = "failed", error or f"its process (pid {st.get('pid')}) ended without a word: killed?"
            else:
                state = "running"
        elif st.get("state") in ("failed", "interrupted", "done"):   # done: but its summary is gone
            state = "failed"
        elif st.get("state") == "submitted" and ended:
            state, error = "failed", error or f"Slurm reports the job {ended} before it started"
        else:
            state = "pending"
        out.append(JobStatus(j.name, state, steps, j.options.steps, j.size, run_dir, st.get("job_id"),
                             st.get("host"), st.get("pid"), error))
    return SweepStatus(plan.out, tuple(out))


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SweepResults:
    """The collected results of a sweep (from :func:`collect_sweep`).

    Attributes
    ----------
    sweep_dir : str
    metric : str
        The primary metric of the tasks (``accuracy`` or ``mse``).
    rows : tuple of dict
        One row per network of a finished job: ``config``, ``config_name``, the grid values,
        ``job``, ``network`` (its index in the job), ``seed``, ``final_loss``, the scores,
        ``stopped``, ``diverged``.
    configs : tuple of dict
        One row per configuration: its values and the summary of ``metric`` over its
        networks (``networks``, ``mean``, ``trimmed_mean``, ``median``, ``min``, ``max``).
    missing : tuple of str
        Jobs without results yet.
    files : tuple of str
        ``results.csv``, ``results.md``, ``results.png``.
    """

    sweep_dir: str
    metric: str
    rows: tuple[dict, ...]
    configs: tuple[dict, ...]
    missing: tuple[str, ...]
    files: tuple[str, ...]

    def table(self) -> str:
        from ..analysis import format_table

        if not self.configs:
            return "no results yet"
        axes = [k for k in self.configs[0] if k not in ("config", "name", "networks", "mean", "trimmed_mean", "median",
                                                         "min", "max", "ideal")]
        cols = ["networks", "mean", "trimmed_mean", "median", "min", "max"] + (
            ["ideal"] if "ideal" in self.configs[0] else [])
        rows = [[c["config"], *(_show(c[a]) for a in axes), *(c[k] for k in cols)] for c in self.configs]
        return f"{self.metric} per configuration:\n" + format_table(["config", *axes, *cols], rows,
                                                                   align_left=1 + len(axes))


def collect_sweep(sweep_dir: str | os.PathLike, *, figure: bool = True) -> SweepResults:
    """Collect the finished jobs' per-network results into ``results.csv`` (one row per
    network), ``results.md`` (one row per configuration: mean, trimmed mean, median, min, max
    over its networks) and ``results.png`` (score per configuration, a point per network).

    Examples
    --------
    >>> import tempfile
    >>> plan = plan_sweep(RunOptions(task="integrator", cell="vanilla", hidden=8, steps=5, batch_size=4,
    ...                              eval_every=0, eval_trials=16, no_figures=True),
    ...                   grid={"lr": [1e-3, 1e-2]}, seeds=2, out=tempfile.mkdtemp())
    >>> done = run_sweep(plan, executor="serial")
    >>> done.ok, len(done.results.rows), [c["networks"] for c in done.results.configs]
    (True, 4, [2, 2])
    """
    plan = SweepPlan.load(sweep_dir)
    metric = None
    rows: list[dict[str, Any]] = []
    missing = []
    for j in plan.jobs:
        run_dir = plan.job_dir(j)
        if not _job_done(run_dir):
            missing.append(j.name)
            continue
        s = read_json(RunLayout(run_dir).summary_file)
        metric = metric or s.get("primary_metric")
        for r, (ci, seed) in zip(s["networks"], j.members):
            c = plan.configs[ci]
            row = {"config": ci, "config_name": c.name, **c.values, "job": j.name, "network": r["network"],
                   "seed": seed, "final_loss": r.get("final_loss")}
            for k in (metric, f"ideal_{metric}", f"heldout_{metric}"):
                if k in r:
                    row[k] = r[k]
            row.update(stopped=r.get("stopped"), diverged=r.get("diverged"))
            rows.append(row)
    metric = metric or "accuracy"
    higher = metric != "mse" and "error" not in metric and "loss" not in metric
    configs = []
    for c in plan.configs:
        v = np.asarray([r.get(metric, np.nan) for r in rows if r["config"] == c.index], np.float64)
        if not v.size:
            continue
        fin = v[np.isfinite(v)]
        entry = {"config": c.index, "name": c.name, **c.values, "networks": int(v.size),
                 "mean": float(fin.mean()) if fin.size else float("nan"), "trimmed_mean": trimmed_mean(v),
                 "median": float(np.median(fin)) if fin.size else float("nan"),
                 "min": float(fin.min()) if fin.size else float("nan"),
                 "max": float(fin.max()) if fin.size else float("nan")}
        ideal = [r[f"ideal_{metric}"] for r in rows if r["config"] == c.index and f"ideal_{metric}" in r]
        if ideal:
            entry["ideal"] = float(np.median(ideal))
        configs.append(entry)
    files = []
    if rows:
        files.append(_write_csv(os.path.join(plan.out, RESULTS_CSV), rows))
        result = SweepResults(plan.out, metric, tuple(rows), tuple(configs), tuple(missing), ())
        md = [f"# Sweep results: {plan.out}", "",
              f"{len(plan.configs)} configurations, {len(rows)} networks"
              + (f"; {len(missing)} job(s) without results yet: {', '.join(missing)}" if missing else "") + ".",
              f"Summaries of `{metric}` over each configuration's networks (trimmed mean: 10-90 %).", "",
              *_markdown(result)]
        path = os.path.join(plan.out, RESULTS_MD)
        atomic_write_text(path, "\n".join(md) + "\n")
        files.append(path)
        if figure:
            fig = plot.sweep_scores(rows, metric=metric, labels={c.index: c.name for c in plan.configs},
                                    higher_is_better=higher, title=f"{metric} per configuration ({len(rows)} networks)")
            files += save_figure(fig, os.path.join(plan.out, RESULTS_FIGURE), "png", dpi=FIGURE_DPI, close=True)
    return SweepResults(plan.out, metric, tuple(rows), tuple(configs), tuple(missing), tuple(files))


def _markdown(result: SweepResults) -> list[str]:
    axes = [k for k in result.configs[0] if k not in ("config", "name", "networks", "mean", "trimmed_mean", "median",
                                                       "min", "max", "ideal")]
    cols = ["networks", "mean", "trimmed_mean", "median", "min", "max"] + (
        ["ideal"] if "ideal" in result.configs[0] else [])
    heads = ["config", *axes, *[c.replace("_", " ") for c in cols]]
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" if i <= len(axes) else "---:"
                                                             for i in range(len(heads))) + "|"]
    for c in result.configs:
        cells = [str(c["config"]), *(_show(c[a]) for a in axes)]
        cells += [str(c[k]) if k == "networks" else f"{c[k]:.4g}" for k in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _write_csv(path: str, rows: Sequence[Mapping[str, Any]]) -> str:
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    return atomic_write_text(path, buf.getvalue())

