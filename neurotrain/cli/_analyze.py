"""``neurotrain analyze RUN_DIR``: the shell of :func:`neurotrain.runs.analyze_run`.

Only the standard library is imported at module level; the options are built (with the
defaults of :func:`~neurotrain.runs.analyze_run`) when the subcommand runs.
"""

from __future__ import annotations

import argparse
import inspect
import sys

from ._shell import comma_list, number, print_note, show_default

__all__ = ["add_parser", "add_arguments", "run"]


def add_parser(subparsers, *, arguments: bool = True) -> argparse.ArgumentParser:
    """Add the ``analyze`` subcommand to ``subparsers`` (from ``parser.add_subparsers()``);
    with ``arguments``, its options too (:func:`add_arguments`)."""
    p = subparsers.add_parser(
        "analyze", help="behaviour, fixed points and figures of a saved run",
        description=("Reload a run directory, score the network's behaviour (psychometric fit where "
                     "the task defines one), find the fixed points of its dynamics under each task "
                     "period's input, and write analysis.json, the result objects in analysis/ and "
                     "the figures in figures/."),
        epilog=("examples:\n"
                "  neurotrain analyze runs/perceptual-decision-making-leaky-20250101-120000\n"
                "  neurotrain analyze RUN_DIR --candidates 2048 --mode approximate --formats png,pdf"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if arguments:
        add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``analyze``, one per parameter of :func:`neurotrain.runs.analyze_run`."""
    from .._validate import SEED_MAX
    from ..io import FIGURE_FORMATS
    from ..runs import ANALYSIS_MODES, PSYCHOMETRIC_FUNCTIONS, analyze_run

    default = {k: v.default for k, v in inspect.signature(analyze_run).parameters.items()}
    shown = {k: show_default(v) for k, v in default.items()}
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `neurotrain train`")
    p.add_argument("--trials", type=number(int, 1), default=default["trials"], metavar="N",
                   help=f"trials for the behaviour scores and the recorded activity (default: {shown['trials']})")
    p.add_argument("--candidates", type=number(int, 1), default=default["candidates"], metavar="N",
                   help="fixed-point candidates per constant input, sampled from the activity "
                        f"(default: {shown['candidates']})")
    p.add_argument("--mode", choices=ANALYSIS_MODES, default=default["mode"],
                   help="exact fixed points (Newton-polished roots) or approximate slow points "
                        f"(speed q below --q-tol) (default: {shown['mode']})")
    p.add_argument("--q-tol", type=number(float, 0), default=default["q_tol"], metavar="Q",
                   help=f"largest speed q of a slow point in approximate mode (default: {shown['q_tol']})")
    p.add_argument("--noise-scale", type=number(float, 0), default=default["noise_scale"], metavar="S",
                   help="standard deviation of the noise added to the candidates "
                        f"(default: {shown['noise_scale']})")
    p.add_argument("--seed", type=number(int, 0, maximum=SEED_MAX), default=None,
                   help=f"seed of the trials and candidates, 0 to {SEED_MAX} (default: the run's seed + 2)")
    p.add_argument("--formats", type=comma_list(FIGURE_FORMATS), default=tuple(default["formats"]), metavar="LIST",
                   help=f"figure formats, comma-separated: {', '.join(FIGURE_FORMATS)} "
                        f"(default: {shown['formats']})")
    p.add_argument("--no-figures", action="store_true", help="write no figures (default: write them)")
    p.add_argument("--function", choices=PSYCHOMETRIC_FUNCTIONS, default=default["function"],
                   help=f"psychometric function (default: {shown['function']})")
    p.add_argument("--noise", action="store_true",
                   help="score the behaviour with the network's input/recurrent noise on, as in training "
                        "(default: off, the deterministic network whose fixed points are analysed)")


def run(args) -> int:
    """Run ``neurotrain analyze`` with parsed ``args``: print the report; returns the exit code (0).

    The report is printed as soon as the analysis is computed, before anything is written; the
    line naming the files written follows. Errors (missing or corrupt run directory, a file that
    cannot be written...) raise :class:`neurotrain.NeurotrainError` subclasses, which the
    ``neurotrain`` entry point prints as one line (exit code 2).
    """
    import matplotlib

    matplotlib.use("Agg")
    from ..runs import analyze_run

    def report(computed) -> None:
        print(computed.report())
        sys.stdout.flush()

    result = analyze_run(args.run_dir, trials=args.trials, candidates=args.candidates, mode=args.mode,
                         q_tol=args.q_tol, noise_scale=args.noise_scale, seed=args.seed, formats=args.formats,
                         figures=not args.no_figures, function=args.function, noise=args.noise,
                         notes=print_note, before_write=report)
    print(result.files_line())
    sys.stdout.flush()
    return 0
