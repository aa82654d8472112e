"""``neurotrain``: train, resume, evaluate, analyse, export and list tasks from the shell.

A thin shell over :mod:`neurotrain.runs`: it parses the arguments (the options of ``train``
come from :class:`neurotrain.runs.RunOptions`), calls the run function, prints its notes on
stderr and its report on stdout, and turns the outcome into an exit code. Only the standard
library is imported at module level, and a subcommand's options are built only when that
subcommand runs, so ``neurotrain --help`` stays fast.

Exit codes: 0 success, 2 a usage or configuration error or a file that cannot be read or
written (one line on stderr, no traceback), 3 training diverged (the last good checkpoint stays
on disk), 4 some jobs of a sweep did not finish (run it again to resume them), 130 interrupted
by Ctrl-C and 143 stopped by SIGTERM (a checkpoint is written; resume with ``neurotrain train
--resume``). Once a run has been interrupted, further Ctrl-C presses while the command shuts
down are ignored, so it always ends with exit code 130 and the resume command.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from . import _analyze, _sweep  # standard library only at import time
from ._shell import (
    EXIT_USAGE,
    PROG,
    Parser,
    UsageError,
    number,
    one_line,
    os_error_text,
    parse_key_values,
    print_note,
    show_default,
)

__all__ = ["main", "build_parser", "UsageError", "parse_key_values", "COMMANDS", "EXIT_CODES"]

EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
#: the exit code of each outcome of ``neurotrain train`` (``TrainRunResult.status``)
EXIT_CODES = {"completed": 0, "already-done": 0, "diverged": EXIT_DIVERGED,
              "interrupted": EXIT_INTERRUPTED, "terminated": EXIT_TERMINATED}
COMMANDS = ("train", "evaluate", "analyze", "export", "split", "sweep", "tasks")
_TABLE_FLAGS = {"task_params": "--task-param", "cell_params": "--cell-param", "method_params": "--method-param",
                "population_grid": "--population-grid", "optimizer_params": "--optimizer-param",
                "masks": "--mask", "freeze": "--freeze",
                "weight_l1": "--weight-l1", "weight_l2": "--weight-l2", "curriculum": "--curriculum"}
_RAW = argparse.RawDescriptionHelpFormatter


def _flag(name: str) -> str:
    return _TABLE_FLAGS.get(name, "--" + name.replace("_", "-"))


# --------------------------------------------------------------------------------------------
# the parser
# --------------------------------------------------------------------------------------------
def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``neurotrain`` command.

    Parameters
    ----------
    commands : iterable of str, optional
        The subcommands whose options to build (default: all). The others are listed but take
        no options; :func:`main` builds only the one it runs.
    """
    wanted = set(COMMANDS if commands is None else commands)
    parser = Parser(
        prog=PROG,
        description="Train and analyse recurrent neural networks on neuroscience tasks.",
        epilog=("examples:\n"
                "  neurotrain train                                  # leaky RNN on perceptual decision making\n"
                "  neurotrain train --task copy --cell gru --task-param delay=20\n"
                "  neurotrain train --config run.toml --steps 500    # options from a file, one overridden\n"
                "  neurotrain train --resume runs/copy-gru-20250101-120000\n"
                "  neurotrain evaluate runs/perceptual-decision-making-leaky-20250101-120000\n"
                "  neurotrain analyze runs/perceptual-decision-making-leaky-20250101-120000\n"
                "  neurotrain export runs/perceptual-decision-making-leaky-20250101-120000\n"
                "  neurotrain train --population 16 --population-grid lr=1e-3,1e-2   # 32 networks together\n"
                "  neurotrain sweep --grid hidden=64,128 --seeds 8 --out sweeps/a    # population jobs via submitit\n"
                "  neurotrain tasks"),
        formatter_class=_RAW,
    )
    parser.add_argument("--version", action="store_true", help="print the versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    tr = sub.add_parser(
        "train", help="train a network and save a run directory (or resume one)",
        description=("Train an RNN on a task, evaluate it on fresh trials and save a run directory "
                     "(config.json, checkpoints/, metrics.csv, summary.json, figures/). Options come "
                     "from the defaults, then a --config file, then the command line."),
        epilog=("examples:\n"
                "  neurotrain train --steps 500 --hidden 64\n"
                "  neurotrain train --task copy --cell gru --task-param delay=20 --lr 0.005\n"
                "  neurotrain train --cell-param tau=50 --cell-param activation=tanh --cell-param sigma_rec=0.05\n"
                "  neurotrain train --config run.toml --dry-run     # print the resolved options\n"
                "  neurotrain train --resume RUN_DIR                # continue from the last checkpoint"),
        formatter_class=_RAW, argument_default=argparse.SUPPRESS)
    ev = sub.add_parser(
        "evaluate", help="score a saved run on fresh trials",
        description=("Reload a run directory (its newest checkpoint), score the network on fresh "
                     "trials, print the report and write evaluation.json into the run directory."))
    ex = sub.add_parser(
        "export", help="write a run's weights as plain numpy arrays plus a JSON description",
        description=("Write the newest checkpoint of a run as weights.npz (one array per parameter, "
                     "named by its dotted path, e.g. layers.0.W_rec) and description.json (task, "
                     "model, each cell's equations, shapes). Read them with "
                     "neurotrain.io.read_export; neurotrain.io.numpy_forward runs the network "
                     "with numpy alone."))
    an = _analyze.add_parser(sub, arguments=False)
    ta = sub.add_parser("tasks", help="list the tasks, or show a task's default training recipe",
                        description=("List every registered task with its aliases, paper and description; "
                                     "with --recipe NAME, show the recipe `neurotrain train --task NAME` "
                                     "trains with (network, optimizer, schedule, steps, criterion)."),
                        epilog=("examples:\n"
                                "  neurotrain tasks\n"
                                "  neurotrain tasks --recipe copy --task-param delay=20\n"
                                "  neurotrain tasks --recipe copy --method d-rtrl"),
                        formatter_class=_RAW)
    sp = _sweep.add_split_parser(sub)
    sw = _sweep.add_sweep_parser(sub)
    for name, p, add in (("train", tr, _train_arguments), ("evaluate", ev, _evaluate_arguments),
                         ("export", ex, _export_arguments), ("analyze", an, _analyze.add_arguments),
                         ("tasks", ta, _tasks_arguments), ("split", sp, _sweep.add_split_arguments),
                         ("sweep", sw, _sweep_arguments)):
        if name in wanted:
            add(p)
    return parser


def _train_arguments(tr: argparse.ArgumentParser) -> None:
    """The options of ``train``: one flag per :class:`~neurotrain.runs.RunOptions` field."""
    from ..runs import RunOptions

    g = tr.add_argument_group("configuration")
    g.add_argument("--config", metavar="FILE",
                   help="read options from a TOML (.toml) or JSON (.json) file; flags given on the "
                        "command line override it (default: none)")
    g.add_argument("--dry-run", nargs="?", const="toml", choices=("toml", "json"), metavar="FORMAT",
                   help="print the resolved options (as TOML, or JSON with --dry-run json) and exit "
                        "without training (default: train)")
    resumable = [_flag(n) for n in RunOptions.resumable_names()]
    g.add_argument("--force", action="store_true",
                   help="let --out replace a folder that is not a neurotrain run directory (or a run "
                        "that holds files neurotrain did not write): everything in it is deleted once "
                        "the new run has started (default: refuse; an earlier neurotrain run is "
                        "replaced without it)")
    g.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its newest checkpoint, with its recorded "
                        f"options; only {', '.join(resumable[:-1])} and {resumable[-1]} may be changed "
                        "(default: a new run)")
    _run_option_flags(tr)


def _sweep_arguments(sw: argparse.ArgumentParser) -> None:
    """The options of ``sweep``: its own, and the run options that set every configuration's base."""
    _sweep.add_sweep_arguments(sw)
    _run_option_flags(sw, exclude=_sweep.SWEEP_EXCLUDED)


def _run_option_flags(parser: argparse.ArgumentParser, exclude: Sequence[str] = ()) -> None:
    """One flag per :class:`~neurotrain.runs.RunOptions` field (but ``exclude``), in its groups."""
    from ..runs import RunOptions

    groups: dict[str, Any] = {}
    default_run = RunOptions()          # the default task's recipe, for the defaults shown
    for name in RunOptions.names():
        if name in exclude:
            continue
        meta = RunOptions.meta(name)
        kind = meta["kind"]
        if meta["group"] not in groups:
            groups[meta["group"]] = parser.add_argument_group(meta["group"])
        g = groups[meta["group"]]
        shown = meta["shown_default"] or show_default(RunOptions.default(name))
        if RunOptions.default(name) is _from_recipe():
            value = getattr(default_run, name)
            value = ("none" if not value else ",".join(f"{k}={v}" for k, v in value.items())) \
                if isinstance(value, dict) else show_default(value)
            shown = f"the task's recipe; {value} for the default task"
        text = f"{meta['help']} (default: {shown})"
        if kind.table:
            g.add_argument(_flag(name), dest=name, action="append", metavar="KEY=VALUE", help=text)
        elif kind.flag and kind.negatable:
            g.add_argument(_flag(name), action=argparse.BooleanOptionalAction, help=text)
        elif kind.flag:
            g.add_argument(_flag(name), action="store_true", help=text)
        elif kind.number is not None:
            g.add_argument(_flag(name), metavar=meta["metavar"], help=text,
                           type=number(kind.number, kind.minimum, inclusive=kind.inclusive,
                                       maximum=kind.maximum, optional=kind.optional))
        else:
            g.add_argument(_flag(name), metavar=meta["metavar"], help=text)


def _from_recipe():
    from ..runs import FROM_RECIPE

    return FROM_RECIPE


def _tasks_arguments(ta: argparse.ArgumentParser) -> None:
    ta.add_argument("--recipe", metavar="NAME", default=None,
                    help="show the default training recipe of task NAME (default: list the tasks)")
    ta.add_argument("--task-param", dest="task_params", action="append", metavar="KEY=VALUE",
                    help="with --recipe: a task parameter the recipe may depend on (e.g. delay=50), repeatable")
    ta.add_argument("--method", default=None,
                    help="with --recipe: the gradient method's recipe (e.g. d-rtrl; default: bptt)")


def _evaluate_arguments(ev: argparse.ArgumentParser) -> None:
    from .._validate import SEED_MAX
    from ..runs import RUN_DEFAULTS

    ev.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `neurotrain train`")
    ev.add_argument("--trials", type=number(int, 1), default=None, metavar="N",
                    help=f"number of trials (default: the run's --eval-trials, else {RUN_DEFAULTS['eval_trials']})")
    ev.add_argument("--seed", type=number(int, 0, maximum=SEED_MAX), default=None,
                    help=f"seed of the trials and the network noise, 0 to {SEED_MAX} (default: the "
                         "run's seed + 1, the trials of the report printed after training)")


def _export_arguments(ex: argparse.ArgumentParser) -> None:
    from ..io import EXPORT_FORMATS

    ex.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `neurotrain train`")
    ex.add_argument("--format", choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0],
                    help=f"export format (default: {EXPORT_FORMATS[0]})")
    ex.add_argument("--out", default=None, metavar="DIR", help="folder to write (default: RUN_DIR/export)")


# --------------------------------------------------------------------------------------------
# the commands
# --------------------------------------------------------------------------------------------
def _use_agg() -> None:
    """Render figures off-screen: the command line never opens windows."""
    import matplotlib

    matplotlib.use("Agg")


def _given_options(args, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """The options given as flags, checked (tables from their KEY=VALUE items)."""
    from ..runs import RunOptions

    given = {}
    for name in RunOptions.names():
        if name in vars(args) and name not in exclude:
            value = getattr(args, name)
            if name == "freeze":   # --freeze W_in: a bare name freezes the whole parameter
                value = [v if "=" in v else f"{v}=true" for v in value]
            given[name] = parse_key_values(value, _TABLE_FLAGS[name]) if name in _TABLE_FLAGS else value
    return RunOptions.check_values(given, source="the command line")


def _cmd_train(args, argv: Sequence[str]) -> int:
    from ..runs import ResumeError, RunInterrupted, RunOptions, plan_run, train_run

    flags = _given_options(args)
    resume = vars(args).get("resume")
    force = bool(vars(args).get("force", False))
    if resume is not None:
        if force:
            raise UsageError("--force does not go with --resume: a resumed run continues in its own "
                             "directory and replaces nothing.")
        if "config" in vars(args):
            from ..io import RunLayout

            raise UsageError("--resume and --config cannot be combined: a resumed run keeps the options "
                             f"recorded in {RunLayout(resume).config_file}.")
        request: dict[str, Any] = {"resume": resume, **flags}
    else:
        options = RunOptions.from_file(args.config) if "config" in vars(args) else RunOptions()
        request = {"options": options.updated(flags, source="the command line")}
    _use_agg()
    try:
        if vars(args).get("dry_run"):
            print(plan_run(**request).to_text(args.dry_run), end="")
            return 0
        if resume is None:
            request["force"] = force
        result = train_run(**request, notes=print_note, command=" ".join([PROG, *argv]))
    except RunInterrupted as e:
        _shutting_down()
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ResumeError as e:
        allowed = ", ".join(_flag(n) for n in e.allowed)
        flag = _flag(e.option)
        raise UsageError(
            f"{flag} cannot be changed when resuming: the run's options are fixed in {e.config_file} "
            f"(only {allowed} can). To train with other options, start a new run: "
            f"neurotrain train --config {e.config_file} {flag} ... --out NEW_DIR") from None
    if result.status in ("interrupted", "terminated"):
        _shutting_down()
    if result.status == "completed":
        print(result.report())
    elif result.status == "diverged":
        print(f"{PROG}: error: {one_line(result.report())}", file=sys.stderr)
    else:
        print(f"{PROG}: {result.report()}", file=sys.stderr)
    return EXIT_CODES[result.status]


def _print_report(result) -> None:
    print(result.report())
    sys.stdout.flush()


def _cmd_evaluate(args) -> int:
    from ..runs import evaluate_run

    _use_agg()
    # the report is printed before evaluation.json is written: a failing write never costs it
    evaluate_run(args.run_dir, trials=args.trials, seed=args.seed, notes=print_note, before_write=_print_report)
    return 0


def _cmd_export(args) -> int:
    from ..runs import export_run

    print(export_run(args.run_dir, args.out, format=args.format, notes=print_note).report())
    return 0


def _cmd_tasks(args) -> int:
    from ..tasks import list_tasks

    if getattr(args, "recipe", None) is not None:
        return _cmd_recipe(args)
    if getattr(args, "task_params", None) or getattr(args, "method", None):
        raise UsageError("--task-param and --method go with --recipe NAME (e.g. neurotrain tasks --recipe copy "
                         "--task-param delay=20)")
    tasks = list_tasks()
    for t in tasks:
        names = [a.strip() for a in t["aliases"].split(",") if a.strip() and a.strip() != t["name"]]
        aliases = f"  (aliases: {', '.join(names)})" if names else ""
        print(f"{t['name']}{aliases}")
        if t["description"]:
            print(f"    {t['description']}")
        if t["paper"]:
            print(f"    paper: {t['paper']}")
    print(f"\n{len(tasks)} tasks. Set parameters with `neurotrain train --task NAME --task-param KEY=VALUE`; "
          f"show the training recipe of one with `neurotrain tasks --recipe NAME`.")
    return 0


def _cmd_recipe(args) -> int:
    from ..runs import RunOptions
    from ..tasks import make_task
    from ..training import recipe_for

    params = parse_key_values(args.task_params, "--task-param")
    task = make_task(args.recipe, **params)
    recipe = recipe_for(task, args.method)
    print(recipe.describe())
    RunOptions(task=task.name, task_params=params, method=args.method or "bptt")   # the recipe is a valid run
    flags = [f"--task {task.name}"] + [f"--task-param {k}={v}" for k, v in params.items()]
    if args.method:
        flags.append(f"--method {args.method}")
    print(f"\n  train it with: {PROG} train {' '.join(flags)}   (flags override the recipe one by one;"
          f" `--dry-run` prints every option)")
    return 0


def _cmd_version() -> int:
    from ..io import versions_text

    print(versions_text(("neurotrain", "jax", "brainstate", "braintools", "braintrace")))
    return 0


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``neurotrain`` command; returns the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a usage or configuration error or a file that cannot be read or
        written (one line on stderr), 3 if training
        diverged (the last good checkpoint stays on disk), 130 if interrupted by Ctrl-C and 143
        if stopped by SIGTERM (a checkpoint is written first; resume with ``--resume``).

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    neurotrain ..., jax ..., brainstate ..., braintools ..., braintrace ...
    0
    >>> main(["train", "--steps", "0"])
    2
    """
    global _PROGRAM
    _PROGRAM = argv is None      # run as the program (not called from Python): see _shutting_down
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(() if command is None else (command,))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if args.version:
        return _cmd_version()
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: choose a command: {', '.join(COMMANDS[:-1])} or {COMMANDS[-1]} "
              f"(see '{PROG} --help')", file=sys.stderr)
        return EXIT_USAGE

    from .._errors import NeurotrainError

    commands = {"train": lambda: _cmd_train(args, argv), "evaluate": lambda: _cmd_evaluate(args),
                "export": lambda: _cmd_export(args), "analyze": lambda: _analyze.run(args),
                "split": lambda: _sweep.run_split_command(args),
                "sweep": lambda: _sweep.run_sweep_command(args, _given_options(args, _sweep.SWEEP_EXCLUDED)),
                "tasks": lambda: _cmd_tasks(args)}
    try:
        return commands[args.command]()
    except (UsageError, NeurotrainError) as e:
        print(f"{PROG}: error: {one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:          # a file that cannot be read or written, whatever raised it
        print(f"{PROG}: error: {one_line(os_error_text(e))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _shutting_down()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


#: whether main() runs as the program (``neurotrain`` / ``python -m neurotrain.cli``)
_PROGRAM = False


def _shutting_down() -> None:
    """The command was interrupted and is on its way out: ignore further Ctrl-C / SIGTERM.

    Only when running as the program: a repeated Ctrl-C would otherwise land in the
    interpreter's exit handlers (JAX's clean-up), printing a traceback, or after them, killing
    the process with -2 instead of exit code 130. A function called from Python leaves the
    caller's handlers alone.
    """
    if not _PROGRAM:
        return
    for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if sig is not None:
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (ValueError, OSError):
                pass
