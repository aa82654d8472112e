"""``neurotrain sweep`` and ``neurotrain split``: the shells of :func:`neurotrain.runs.run_sweep`
(with :func:`~neurotrain.runs.plan_sweep`, :func:`~neurotrain.runs.sweep_status`,
:func:`~neurotrain.runs.collect_sweep`) and :func:`neurotrain.runs.split_network`.

Only the standard library is imported at module level.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._shell import UsageError, number, parse_key_values, print_note

__all__ = ["add_sweep_parser", "add_sweep_arguments", "run_sweep_command", "add_split_parser",
           "add_split_arguments", "run_split_command", "SWEEP_EXCLUDED", "EXIT_UNFINISHED"]

#: the run options a sweep sets itself (the populations and the folders)
SWEEP_EXCLUDED = ("out", "population", "population_grid")
#: ``neurotrain sweep``: some jobs ended without finishing (run it again to resume them)
EXIT_UNFINISHED = 4
_RAW = argparse.RawDescriptionHelpFormatter


def add_sweep_parser(subparsers) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        "sweep", help="train a grid of configurations x seeds as population jobs (local processes or Slurm)",
        description=(
            "Train every combination of the --grid axes (and of the --configs files), each with --seeds "
            "networks. Configurations that differ only in seed, lr, l2, rate_l2 (or the noise of leaky "
            "cells) share population jobs; each job is a population run directory in SWEEP_DIR/jobs/, run "
            "through submitit: local processes, or a Slurm job array where sbatch exists. A killed, preempted "
            "or failed job resumes from its checkpoints when the sweep is run again (--resume, or the same "
            "command). Results: SWEEP_DIR/results.csv (a row per network), results.md (a row per "
            "configuration: mean, trimmed mean, median, min, max) and results.png. The other options are "
            "those of `neurotrain train` and set every configuration's base."),
        epilog=("examples:\n"
                "  neurotrain sweep --task pdm --steps 500 --grid hidden=64,128 --grid lr=1e-3,1e-2 --seeds 8 \\\n"
                "                   --out sweeps/pdm\n"
                "  neurotrain sweep --configs a.toml b.toml --seeds 10 --executor slurm --partition gpu \\\n"
                "                   --gpus-per-node 1 --timeout-min 120 --out sweeps/ab\n"
                "  neurotrain sweep --status sweeps/pdm     # each job: pending, running, done or failed\n"
                "  neurotrain sweep --resume sweeps/pdm     # resubmit the jobs that did not finish\n"
                "  neurotrain sweep --collect sweeps/pdm    # (re)write results.csv, results.md, results.png"),
        formatter_class=_RAW, argument_default=argparse.SUPPRESS)


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``sweep`` itself (the run options are added by the caller)."""
    g = p.add_argument_group("sweep")
    g.add_argument("--config", metavar="FILE", help="base options from a TOML or JSON file (default: none)")
    g.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                   help="an axis of the grid, repeatable: an option (hidden, lr, cell, task, steps...) or "
                        "task_params.KEY / cell_params.KEY / method_params.KEY, with comma-separated values "
                        "(default: none)")
    g.add_argument("--configs", nargs="+", metavar="FILE",
                   help="configuration files, each one a configuration (crossed with the grid) (default: none)")
    g.add_argument("--seeds", metavar="N|LIST",
                   help="networks per configuration: N (seeds seed..seed+N-1) or a comma-separated list "
                        "(default: 1)")
    g.add_argument("--networks-per-job", type=number(int, 1), metavar="N",
                   help="at most N networks in one job (default: every network that can share one)")
    g.add_argument("--out", metavar="SWEEP_DIR", help="the sweep folder (default: sweeps/sweep-<YYYYmmdd-HHMMSS>)")
    g.add_argument("--dry-run", action="store_true", help="print the configurations and jobs and exit "
                                                           "(default: run)")
    modes = p.add_argument_group("an existing sweep")
    modes.add_argument("--resume", metavar="SWEEP_DIR", help="run the jobs of SWEEP_DIR that are not done")
    modes.add_argument("--status", metavar="SWEEP_DIR", help="print each job's state and steps, and exit")
    modes.add_argument("--collect", metavar="SWEEP_DIR", help="write the results table and figure of the finished "
                                                              "jobs, and exit")
    ex = p.add_argument_group("executor")
    ex.add_argument("--executor", choices=("auto", "local", "slurm", "serial"),
                    help="auto: Slurm where sbatch exists, else local processes; serial: one after another in "
                         "this process (default: auto)")
    ex.add_argument("--max-parallel", type=number(int, 1), metavar="N",
                    help="local processes at once, or the Slurm array's parallelism (default: CPUs // 2)")
    ex.add_argument("--no-wait", action="store_true",
                    help="return once the jobs are submitted (default: wait, but for Slurm)")
    ex.add_argument("--timeout-min", type=number(int, 1), metavar="M", help="each job's time limit (default: 60)")
    ex.add_argument("--partition", metavar="NAME", help="Slurm partition (default: the cluster's)")
    ex.add_argument("--cpus-per-task", type=number(int, 1), metavar="N", help="Slurm CPUs per job (default: 1)")
    ex.add_argument("--gpus-per-node", type=number(int, 1), metavar="N",
                    help="Slurm GPUs per job: one process per GPU (default: none)")
    ex.add_argument("--mem-gb", type=number(float, 0, inclusive=False), metavar="G",
                    help="Slurm memory per job (default: the cluster's)")
    ex.add_argument("--slurm-setup", action="append", metavar="CMD",
                    help="a shell line run before each Slurm job, repeatable (e.g. 'module load cuda') "
                         "(default: none)")
    ex.add_argument("--slurm-param", action="append", metavar="KEY=VALUE",
                    help="any other sbatch option, repeatable (e.g. --slurm-param account=lab) (default: none)")


def _grid(items) -> dict[str, str]:
    """``--grid KEY=V1,V2`` items as ``{KEY: "V1,V2"}`` (the sweep parses the values)."""
    grid: dict[str, str] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise UsageError(f"--grid expects KEY=V1,V2,... (e.g. --grid hidden=64,128); got {item!r}")
        if key.strip() in grid:
            raise UsageError(f"--grid {key.strip()} is given twice; list all its values once: "
                             f"--grid {key.strip()}=V1,V2")
        grid[key.strip()] = values
    return grid


def _exit_code(result) -> int:
    return 0 if (result.ok or not result.waited) else EXIT_UNFINISHED


def run_sweep_command(args, base_flags: dict[str, Any]) -> int:
    """Run ``neurotrain sweep`` with parsed ``args``; ``base_flags`` are the run options given
    (checked). Prints the report; returns the exit code."""
    import matplotlib

    from ..runs import RunOptions, collect_sweep, plan_sweep, run_sweep, sweep_status

    a = vars(args)
    modes = [m for m in ("resume", "status", "collect") if m in a]
    if len(modes) > 1:
        raise UsageError(f"--{modes[0]} and --{modes[1]} cannot be combined; choose one.")
    if modes and (base_flags or "grid" in a or "configs" in a or "config" in a or "seeds" in a or "out" in a):
        raise UsageError(f"--{modes[0]} works on the sweep recorded in SWEEP_DIR/sweep.json; it takes no run "
                         f"options, --grid, --configs, --seeds or --out.")
    if "status" in a:
        print(sweep_status(a["status"]).report())
        return 0
    if "collect" in a:
        results = collect_sweep(a["collect"])
        print(results.table())
        if results.missing:
            print(f"  {len(results.missing)} job(s) without results yet: {', '.join(results.missing)}")
        if results.files:
            print(f"  wrote {', '.join(results.files)}")
        return 0
    slurm: dict[str, Any] = {}
    for key, name in (("partition", "partition"), ("cpus_per_task", "cpus_per_task"),
                      ("gpus_per_node", "gpus_per_node"), ("mem_gb", "mem_gb")):
        if key in a:
            slurm[name] = a[key]
    if "slurm_setup" in a:
        slurm["setup"] = a["slurm_setup"]
    if "slurm_param" in a:
        slurm["additional"] = parse_key_values(a["slurm_param"], "--slurm-param")
    run_kw = {"executor": a.get("executor", "auto"), "max_parallel": a.get("max_parallel"),
              "wait": False if a.get("no_wait") else None, "timeout_min": a.get("timeout_min", 60),
              "slurm": slurm, "notes": print_note}
    matplotlib.use("Agg")
    if "resume" in a:
        result = run_sweep(a["resume"], **run_kw)
    else:
        base = RunOptions.from_file(a["config"]) if "config" in a else RunOptions()
        base = base.updated(base_flags, source="the command line")
        grid = _grid(a.get("grid") or [])
        plan = plan_sweep(base, grid=grid, configs=a.get("configs", ()), seeds=a.get("seeds", 1),
                          networks_per_job=a.get("networks_per_job"), out=a.get("out"))
        if a.get("dry_run"):
            print(plan.report())
            return 0
        result = run_sweep(plan, **run_kw)
    print(result.report())
    sys.stdout.flush()
    return _exit_code(result)


# --------------------------------------------------------------------------------------------
# split
# --------------------------------------------------------------------------------------------
def add_split_parser(subparsers) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        "split", help="write network K of a population run as an ordinary run directory",
        description=("Write network K of a population run (neurotrain train --population ...) as a run directory "
                     "of its own: its options (seed, lr, l2, noise), a checkpoint with its weights, optimiser "
                     "state and history, summary.json and figures, as a separate run would have written them. "
                     "neurotrain evaluate, analyze and export take it as any run."),
        epilog=("examples:\n"
                "  neurotrain split RUN_DIR --network 3                 # into RUN_DIR/networks/net-003\n"
                "  neurotrain split RUN_DIR --network 3 --out runs/best\n"
                "  neurotrain split RUN_DIR --network all"),
        formatter_class=_RAW)


def add_split_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a population run directory")
    p.add_argument("--network", required=True, metavar="K|all",
                   help="the network's index (0 to K-1; see summary.json), or all")
    p.add_argument("--out", default=None, metavar="DIR", help="the run directory to write (default: "
                                                              "RUN_DIR/networks/net-<K>; not with all)")
    p.add_argument("--step", type=number(int, 0), default=None, metavar="N",
                   help="take the network from the checkpoint of step N (default: the newest)")
    p.add_argument("--no-figures", action="store_true", help="draw no figures (default: draw them)")


def run_split_command(args) -> int:
    import matplotlib

    from ..runs import read_population_run, split_network

    matplotlib.use("Agg")
    which = args.network.strip().lower()
    if which == "all":
        if args.out is not None:
            raise UsageError("--out names one run directory; with --network all each network goes to "
                             "RUN_DIR/networks/net-<K>.")
        networks = list(range(read_population_run(args.run_dir, step=args.step).size))
    else:
        try:
            networks = [int(which)]
        except ValueError:
            raise UsageError(f"--network must be a network's index or all; got {args.network!r}") from None
    for k in networks:
        print(split_network(args.run_dir, k, args.out, step=args.step, figures=not args.no_figures,
                            notes=print_note).report())
    return 0

