"""``neurotrain analyze RUN_DIR``: behaviour and dynamics of a trained network.

Reloads a run directory and writes into it:

* ``analysis.json``: the behaviour scores (per condition too; without the network noise unless
  ``--noise``), the psychometric fit where the task defines one (bias, slope, lapse and their standard errors), the fixed points found
  under each task period's input with their stability, speeds ``q`` and eigenvalues, the PCA's
  explained variance, and the files written;
* ``analysis/``: the result objects (``fixed_points``, ``pca``, ``psychometric``) as JSON +
  NPZ, loadable with :func:`neurotrain.analysis.load_result`;
* ``figures/``: ``fixed_points_2d``, ``fixed_points_3d``, ``eigenvalues`` (and
  ``eigenvalues_ct`` for leaky cells), ``activity_heatmap`` and ``psychometric``, as PNG (PDF
  and SVG with ``--formats``).

Only the standard library is imported at module level; the command imports jax, brainstate
and matplotlib when it runs.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys

__all__ = ["add_parser", "run", "ANALYSIS_FILE", "ANALYSIS_DIR", "ANALYSIS_FIGURES"]

ANALYSIS_FILE = "analysis.json"
ANALYSIS_DIR = "analysis"
#: figure names (without extension) this command may write into ``figures/``
ANALYSIS_FIGURES = ("fixed_points_2d", "fixed_points_3d", "eigenvalues", "eigenvalues_ct",
                    "activity_heatmap", "psychometric")
#: the result files this command writes into ``analysis/`` (a regular expression on file names)
ANALYSIS_RESULT_PATTERN = r"^(fixed_points|pca|psychometric)\.(json|npz)$"
PROG = "neurotrain"


def _remove_old_analysis(run_dir: str, fig_dir: str | None, out_dir: str) -> None:
    """Delete what an earlier ``analyze`` wrote, so that a file not made this time (e.g. no
    fixed point found, so no eigenvalue figure) cannot pass for a result of this analysis.
    ``fig_dir=None`` (``--no-figures``) leaves the figures alone."""
    import re

    old = [os.path.join(run_dir, ANALYSIS_FILE)]
    folders = [(out_dir, ANALYSIS_RESULT_PATTERN)]
    if fig_dir is not None:
        folders.append((fig_dir, rf"^({'|'.join(ANALYSIS_FIGURES)})\.(png|pdf|svg)$"))
    for folder, pattern in folders:
        if os.path.isdir(folder):
            old += [os.path.join(folder, f) for f in os.listdir(folder) if re.match(pattern, f)]
    for path in old:
        if os.path.isfile(path):
            os.remove(path)


def _int_at_least(lo: int):
    """An argparse type: an integer >= ``lo``, with the rule in the error message."""
    rule = "a positive integer" if lo == 1 else f"an integer >= {lo}"

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}; got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be {rule}; got {text!r}")
        return v

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0; got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0; got {text!r}")
    return v


def _formats(text: str) -> tuple[str, ...]:
    out = tuple(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip())
    bad = [f for f in out if f not in ("png", "pdf", "svg")]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of png, pdf, svg; got {text!r}")
    return out


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``analyze`` subcommand to ``subparsers`` (from ``parser.add_subparsers()``)."""
    p = subparsers.add_parser(
        "analyze", help="behaviour, fixed points and figures of a saved run",
        description=("Reload a run directory, score the network's behaviour (psychometric fit where "
                     "the task defines one), find the fixed points of its dynamics under each task "
                     f"period's input, and write {ANALYSIS_FILE}, the result objects in "
                     f"{ANALYSIS_DIR}/ and the figures in figures/."),
        epilog=("examples:\n"
                "  neurotrain analyze runs/perceptual-decision-making-leaky-20250101-120000\n"
                "  neurotrain analyze RUN_DIR --candidates 2048 --mode approximate --formats png,pdf"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `neurotrain train`")
    p.add_argument("--trials", type=_positive_int, default=512, metavar="N",
                   help="trials for the behaviour scores and the recorded activity (default: 512)")
    p.add_argument("--candidates", type=_positive_int, default=512, metavar="N",
                   help="fixed-point candidates per constant input, sampled from the activity (default: 512)")
    p.add_argument("--mode", choices=("exact", "approximate"), default="exact",
                   help="exact fixed points (Newton-polished roots) or approximate slow points "
                        "(speed q below --q-tol) (default: exact)")
    p.add_argument("--q-tol", type=_nonneg_float, default=1e-6, metavar="Q",
                   help="largest speed q of a slow point in approximate mode (default: 1e-6)")
    p.add_argument("--noise-scale", type=_nonneg_float, default=0.02, metavar="S",
                   help="standard deviation of the noise added to the candidates (default: 0.02)")
    p.add_argument("--seed", type=_nonneg_int, default=None,
                   help="seed of the trials and candidates (default: the run's seed + 2)")
    p.add_argument("--formats", type=_formats, default=("png",), metavar="LIST",
                   help="figure formats, comma-separated: png, pdf, svg (default: png)")
    p.add_argument("--no-figures", action="store_true", help="write no figures (default: write them)")
    p.add_argument("--function", choices=("logistic", "probit"), default="logistic",
                   help="psychometric function (default: logistic)")
    p.add_argument("--noise", action="store_true",
                   help="score the behaviour with the network's input/recurrent noise on, as in training "
                        "(default: off, the deterministic network whose fixed points are analysed)")
    return p


def run(args) -> int:
    """Run ``neurotrain analyze`` with parsed ``args``; returns the exit code (0).

    Errors (missing or corrupt run directory...) raise :class:`neurotrain.NeurotrainError`
    subclasses, which the ``neurotrain`` entry point prints as one line (exit code 2).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from .. import analysis as an
    from .. import plot
    from .._errors import ConfigError
    from ..io import FIGURES_DIR, library_versions, load_run, write_json

    run_dir = os.fspath(args.run_dir)
    model, task, config = load_run(run_dir)
    seed = int(args.seed) if args.seed is not None else int(config.get("seed", 0) or 0) + 2
    out_dir = os.path.join(run_dir, ANALYSIS_DIR)
    fig_dir = os.path.join(run_dir, FIGURES_DIR)
    summary: dict = {"task": task.name, "run_dir": run_dir, "seed": seed,
                     "created": datetime.datetime.now().isoformat(timespec="seconds"),
                     "versions": library_versions()}
    results: list[tuple[object, str]] = []   # saved only once everything has been computed

    # --- behaviour -----------------------------------------------------------------------
    # one set of recorded trials serves everything: scores, psychometric fit, period inputs,
    # trajectories, PCA and fixed-point candidates
    evaluation = an.evaluate(model, task, int(args.trials), seed=seed, noise=bool(args.noise))
    behaviour = {"num_trials": evaluation.num_trials, "network_noise": bool(args.noise),
                 "primary_metric": task.primary_metric, "scores": evaluation.scores,
                 "per_condition": evaluation.per_condition,
                 "validation_mse": an.score_outputs(evaluation.outputs, evaluation.targets, evaluation.mask)}
    summary["behaviour"] = behaviour
    psy = None
    try:
        psy = an.psychometric(evaluation, function=args.function)
        summary["psychometric"] = psy.summary()
        results.append((psy, os.path.join(out_dir, "psychometric")))
    except ConfigError as e:
        summary["psychometric"] = {"defined": False, "reason": str(e)}
    try:
        an.chronometric(evaluation)
    except ConfigError as e:
        summary["chronometric"] = {"defined": False, "reason": str(e)}

    # --- dynamics ------------------------------------------------------------------------
    if model.state_size == model.num_rec and not args.noise:
        activity = evaluation            # the recorded h is the full state, noise-free
    else:                                # LSTM c, or noisy trials: record the deterministic dynamics
        activity = an.record_activity(model, task, num_trials=int(args.trials), seed=seed, full_state=True)
    names, inputs = an.period_inputs(evaluation)
    fps = an.find_fixed_points(model, inputs, activity=activity, num_candidates=int(args.candidates),
                               noise_scale=float(args.noise_scale), mode=args.mode, q_tol=float(args.q_tol),
                               seed=seed, input_names=names)
    results.append((fps, os.path.join(out_dir, "fixed_points")))
    hidden = evaluation.activity
    k = min(3, hidden.shape[-1])
    pcs = an.pca(hidden, k)
    results.append((pcs, os.path.join(out_dir, "pca")))
    summary["fixed_points"] = fps.summary()
    summary["pca"] = {"space": "hidden", "explained_variance_ratio": pcs.explained_variance_ratio.tolist()}

    # --- writing: the earlier analysis is replaced only now that this one has succeeded ---
    _remove_old_analysis(run_dir, None if args.no_figures else fig_dir, out_dir)
    files: list[str] = []
    for obj, path in results:
        files += an.save_result(obj, path)
    figures: list[str] = []
    if not args.no_figures:
        makers = []
        if fps.num_points:
            makers.append(("fixed_points_2d", lambda: plot.fixed_points(fps, pca=pcs, trajectories=hidden)))
            if k >= 3:
                makers.append(("fixed_points_3d", lambda: plot.fixed_points(fps, pca=pcs, trajectories=hidden,
                                                                            dims=3)))
            makers.append(("eigenvalues", lambda: plot.eigenvalue_spectrum(fps)))
            if fps.stability_ct is not None:
                makers.append(("eigenvalues_ct", lambda: plot.eigenvalue_spectrum(fps, continuous=True)))
        makers.append(("activity_heatmap", lambda: plot.activity_heatmap(evaluation, trial=0, dt=task.dt)))
        if psy is not None:
            makers.append(("psychometric", lambda: plot.psychometric_curve(psy)))
        for name, make in makers:
            fig = make()
            try:
                figures += an.save_figure(fig, os.path.join(fig_dir, name), args.formats)
            finally:
                plt.close(fig)
    summary["figures"] = [os.path.relpath(f, run_dir) for f in figures]
    summary["files"] = [os.path.relpath(f, run_dir) for f in files]
    write_json(os.path.join(run_dir, ANALYSIS_FILE), summary)

    # --- report --------------------------------------------------------------------------
    lines = [f"{PROG}: analysed {run_dir} ({task.name})"]
    scores = evaluation.scores
    if task.primary_metric in scores:
        lines.append(f"  {task.primary_metric:<22} {scores[task.primary_metric]:.4g} "
                     f"({evaluation.num_trials} trials, seed {seed})")
    if psy is not None:
        p, s = psy.params, psy.stderr
        lines.append(f"  psychometric ({psy.function})  bias {p['bias']:.3g} ± {s['bias']:.2g}, "
                     f"slope {p['slope']:.3g} ± {s['slope']:.2g}, lapse {p['lapse']:.3g}")
    counts = fps.counts()
    kinds = ", ".join(f"{v} {kk}" for kk, v in counts.items() if v)
    lines.append(f"  fixed points ({fps.mode})  {fps.num_points} over {len(names)} input(s)"
                 + (f": {kinds}" if kinds else ""))
    for kk, name in enumerate(names):
        sel = fps.input_index == kk
        c = {s_: int(np.sum(fps.stability[sel] == s_)) for s_ in counts}
        desc = ", ".join(f"{v} {s_}" for s_, v in c.items() if v) or "none"
        lines.append(f"    {name:<20} {inputs[kk].round(3).tolist()}: {desc}")
    lines.append(f"  wrote {os.path.join(run_dir, ANALYSIS_FILE)}, {len(files)} files in {out_dir}, "
                 f"{len(figures)} figures in {fig_dir}")
    print("\n".join(lines))
    sys.stdout.flush()
    return 0
