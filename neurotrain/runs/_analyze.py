"""``analyze_run``: ``neurotrain analyze RUN_DIR`` as a Python function.

Reloads a run directory and writes into it:

* ``analysis.json``: the behaviour scores (per condition too; without the network noise unless
  ``noise=True``), the psychometric fit where the task defines one (bias, slope, lapse and
  their standard errors), the fixed points found under each task period's input with their
  stability, speeds ``q`` and eigenvalues, the PCA's explained variance, and the files written;
* ``analysis/``: the result objects (``fixed_points``, ``pca``, ``psychometric``) as JSON +
  NPZ, loadable with :func:`neurotrain.analysis.load_result`;
* ``figures/``: ``fixed_points_2d``, ``fixed_points_3d``, ``eigenvalues`` (and
  ``eigenvalues_ct`` for leaky cells), ``activity_heatmap`` and ``psychometric``.

The fixed points are those of the noise-free dynamics, found as in Sussillo & Barak (2013),
"Opening the black box"; the psychometric function is a logistic or probit fit with a lapse
rate (Wichmann & Hill 2001).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .. import analysis as an
from .. import plot
from .._errors import ConfigError, RunDirectoryError
from .._validate import check_bool, check_choice, check_int, check_number, check_seed, derive_seed
from ..io import FIGURE_FORMATS, RunLayout, jsonable, library_versions, save_figure, write_json
from ._directory import read_run, run_seed
from ._notes import Notes, NotesCallback
from ._population import is_population_run
from ._report import PROG
from ._rundir import io_error_text, reading
from ._split import analyze_population_run

__all__ = ["analyze_run", "AnalyzeRunResult", "ANALYSIS_MODES", "PSYCHOMETRIC_FUNCTIONS"]

ANALYSIS_MODES = ("exact", "approximate")
PSYCHOMETRIC_FUNCTIONS = ("logistic", "probit")


@dataclasses.dataclass(frozen=True)
class AnalyzeRunResult:
    """What :func:`analyze_run` computed and wrote.

    Attributes
    ----------
    run_dir : str
    task
    summary : dict
        The content of ``analysis.json`` (``summary_file``); its ``source`` names the
        checkpoint analysed and its step.
    evaluation : neurotrain.analysis.Evaluation
        The recorded trials (behaviour, activity).
    fixed_points : neurotrain.analysis.FixedPoints
    pca : neurotrain.analysis.PCAResult
    psychometric : neurotrain.analysis.Psychometric or None
        ``None`` where the task defines no psychometric curve.
    input_names : tuple of str
        The task periods whose constant input the fixed points were searched under; ``inputs``
        their input vectors, shape ``(len(input_names), num_in)``.
    seed : int
    files, figures : tuple of str
        The result files in ``analysis/`` and the figures written (empty before the write).
    summary_file : str or None
        ``analysis.json``, once written (``None`` with ``save=False`` or before the write).
    notes : tuple of str
    """

    run_dir: str
    task: Any
    summary: dict
    evaluation: Any
    fixed_points: Any
    pca: Any
    psychometric: Any
    input_names: tuple[str, ...]
    inputs: Any
    seed: int
    files: tuple[str, ...]
    figures: tuple[str, ...]
    summary_file: str | None
    notes: tuple[str, ...] = ()
    _results: tuple = dataclasses.field(default=(), repr=False, compare=False)   # (object, path) to save

    @property
    def layout(self) -> RunLayout:
        """The paths of the run directory."""
        return RunLayout(self.run_dir)

    def report(self) -> str:
        """The text ``neurotrain analyze`` prints: score, psychometric fit, fixed points per input,
        and (once written) the files."""
        task, ev, fps, psy = self.task, self.evaluation, self.fixed_points, self.psychometric
        lines = [f"{PROG}: analysed {self.run_dir} ({task.name})"]
        scores = ev.scores
        if task.primary_metric in scores:
            lines.append(f"  {task.primary_metric:<22} {scores[task.primary_metric]:.4g} "
                         f"({ev.num_trials} trials, seed {self.seed})")
        if psy is not None:
            p, s = psy.params, psy.stderr
            lines.append(f"  psychometric ({psy.function})  bias {p['bias']:.3g} ± {s['bias']:.2g}, "
                         f"slope {p['slope']:.3g} ± {s['slope']:.2g}, lapse {p['lapse']:.3g}")
        counts = fps.counts()
        kinds = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        lines.append(f"  fixed points ({fps.mode})  {fps.num_points} over {len(self.input_names)} input(s)"
                     + (f": {kinds}" if kinds else ""))
        for k, name in enumerate(self.input_names):
            sel = fps.input_index == k
            c = {s_: int(np.sum(fps.stability[sel] == s_)) for s_ in counts}
            desc = ", ".join(f"{v} {s_}" for s_, v in c.items() if v) or "none"
            lines.append(f"    {name:<20} {np.asarray(self.inputs[k]).round(3).tolist()}: {desc}")
        source = self.summary.get("source") or {}
        if source.get("checkpoint"):
            lines.append(f"  weights      step {source.get('step')} ({source['checkpoint']})")
        if self.summary_file is not None:
            lines.append(self.files_line())
        return "\n".join(lines)

    def files_line(self) -> str:
        """The last line of :meth:`report`: what was written where."""
        layout = self.layout
        return (f"  wrote {layout.analysis_file}, {len(self.files)} files in {layout.analysis_dir}, "
                f"{len(self.figures)} figures in {layout.figures_dir}")


def analyze_run(run_dir: str | os.PathLike, *, trials: int = 512, candidates: int = 512, mode: str = "exact",
                q_tol: float = 1e-6, noise_scale: float = 0.02, seed: int | None = None,
                formats: str | Iterable[str] = ("png",), figures: bool = True, function: str = "logistic",
                noise: bool = False, networks: Sequence[int] | None = None,
                notes: NotesCallback | None = None, save: bool = True,
                before_write: Callable[[Any], object] | None = None) -> AnalyzeRunResult:
    """Behaviour, fixed points, PCA and figures of a saved run: ``neurotrain analyze``.

    One set of recorded trials serves everything: the behaviour scores, the psychometric fit,
    the task periods' inputs, the trajectories, the PCA and the fixed-point candidates. The
    earlier analysis of the run (``analysis.json``, ``analysis/`` and its figures) is replaced
    only once this one has been computed; if writing fails, the files this call wrote are
    removed again and ``analysis.json`` is absent (the analysis is then incomplete on disk, and
    says so). The run is read as a snapshot (:func:`neurotrain.runs.read_run`).

    Parameters
    ----------
    run_dir : str or PathLike
        A run directory (its saved weights are loaded: see :func:`~neurotrain.runs.saved_weights`).
    trials : int
        Trials for the behaviour scores and the recorded activity.
    candidates : int
        Fixed-point candidates per constant input, sampled from the activity.
    mode : {"exact", "approximate"}
        Exact fixed points (Newton-polished roots) or slow points (speed ``q`` below ``q_tol``).
    q_tol : float
        The largest speed of a slow point in approximate mode.
    noise_scale : float
        Standard deviation of the noise added to the candidates.
    seed : int, optional
        Seed of the trials and the candidates, from 0 to 2**31 - 1 (default: the run's seed + 2,
        see :func:`neurotrain._validate.derive_seed`).
    formats : str or iterable of str
        Figure formats among ``png``, ``pdf``, ``svg``.
    figures : bool
        Draw the figures (``False`` leaves the figures of an earlier analysis alone).
    function : {"logistic", "probit"}
        The psychometric function.
    noise : bool
        Score the behaviour with the network's noise on, as in training (default: the
        deterministic network whose fixed points are analysed).
    networks : sequence of int, optional
        For a population run: the networks to analyse (default all). Each is split into
        ``RUN_DIR/networks/net-<k>`` and analysed there; the population's ``analysis.json``
        gets a row per network and the summary (a :class:`PopulationAnalyzeRunResult` is
        returned; ``save=False`` still writes each network's split run, not its analysis).
    notes : callable, optional
        Receives each note (e.g. a damaged newest checkpoint that was skipped, and the one used).
    save : bool
        Write ``analysis.json``, the results and the figures (``False``: only compute).
    before_write : callable, optional
        Called with the computed result before anything is written (the command line prints
        the report there, so that a failing write never costs it).

    Returns
    -------
    AnalyzeRunResult

    Raises
    ------
    RunDirectoryError
        A file cannot be written (the result was passed to ``before_write``), or a symbolic
        link inside the run directory.

    Examples
    --------
    >>> import tempfile, brainstate, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking(stimulus=300.0)
    >>> run = nt.runs.save_run(tempfile.mkdtemp(), model=nt.models.build_model("leaky", num_rec=8, task=task),
    ...                        task=task, config={"seed": 4}, figures=False)
    >>> result = analyze_run(run, trials=32, candidates=8, figures=False)
    >>> result.seed, result.input_names, sorted(result.summary)[:3]
    (6, ('fixation', 'stimulus', 'decision'), ['behaviour', 'chronometric', 'created'])
    >>> saved = nt.analysis.load_result(result.layout.analysis_result("fixed_points"))
    >>> saved.num_points == result.fixed_points.num_points == result.summary["fixed_points"]["num_points"]
    True
    """
    if is_population_run(run_dir):   # each network as a run of its own, and the population's table
        return analyze_population_run(
            run_dir, networks=networks, analyze=analyze_run, notes=notes, trials=trials, candidates=candidates,
            mode=mode, q_tol=q_tol, noise_scale=noise_scale, seed=seed, formats=formats, figures=figures,
            function=function, noise=noise, save=save, before_write=before_write)
    if networks is not None:
        raise ConfigError(f"networks= selects networks of a population run; {run_dir} holds one network.")
    trials = check_int("trials", trials, minimum=1)
    candidates = check_int("candidates", candidates, minimum=1)
    mode = check_choice("mode", mode, ANALYSIS_MODES)
    q_tol = check_number("q_tol", q_tol, minimum=0.0)
    noise_scale = check_number("noise_scale", noise_scale, minimum=0.0)
    seed = None if seed is None else check_seed("seed", seed)
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    for f in formats:
        check_choice("formats", f, FIGURE_FORMATS)
    if not formats:
        raise ConfigError(f"formats must name at least one of {', '.join(FIGURE_FORMATS)}; got none.")
    figures = check_bool("figures", figures)
    function = check_choice("function", function, PSYCHOMETRIC_FUNCTIONS)
    noise = check_bool("noise", noise)
    save = check_bool("save", save)

    note = Notes(notes)
    with reading(run_dir) as layout:
        snap = read_run(layout.root)
        for message in snap.fallback_messages():
            note(f"warning: {message}")
        if seed is None:
            seed = derive_seed(run_seed(snap.config, layout.config_file), 2)
        result = _analyze(snap, layout, note, trials=trials, candidates=candidates, mode=mode, q_tol=q_tol,
                          noise_scale=noise_scale, seed=seed, function=function, noise=noise)
        if before_write is not None:
            before_write(result)
        if not save:
            return result
        return _write(result, layout, formats=formats, figures=figures)


def _analyze(snap, layout: RunLayout, note: Notes, *, trials, candidates, mode, q_tol, noise_scale, seed,
             function, noise) -> AnalyzeRunResult:
    """Everything ``analyze`` computes, without writing anything."""
    model, task = snap.model, snap.task
    summary: dict = {"task": task.name, "run_dir": layout.root, "seed": seed, "source": snap.source(),
                     "created": datetime.datetime.now().isoformat(timespec="seconds"),
                     "versions": library_versions()}
    results: list[tuple[object, str]] = []   # saved only once everything has been computed

    # --- behaviour -----------------------------------------------------------------------
    evaluation = an.evaluate(model, task, trials, seed=seed, noise=noise)
    summary["behaviour"] = {
        "num_trials": evaluation.num_trials, "network_noise": noise, "primary_metric": task.primary_metric,
        "scores": evaluation.scores, "per_condition": evaluation.per_condition,
        "validation_mse": an.score_outputs(evaluation.outputs, evaluation.targets, evaluation.mask)}
    psy = None
    try:
        psy = an.psychometric(evaluation, function=function)
        summary["psychometric"] = psy.summary()
        results.append((psy, layout.analysis_result("psychometric")))
    except ConfigError as e:
        summary["psychometric"] = {"defined": False, "reason": str(e)}
    try:
        an.chronometric(evaluation)
    except ConfigError as e:
        summary["chronometric"] = {"defined": False, "reason": str(e)}

    # --- dynamics ------------------------------------------------------------------------
    if model.state_size == model.num_rec and not noise:
        activity = evaluation            # the recorded h is the full state, noise-free
    else:                                # LSTM c, or noisy trials: record the deterministic dynamics
        activity = an.record_activity(model, task, num_trials=trials, seed=seed, full_state=True)
    names, inputs = an.period_inputs(evaluation)
    fps = an.find_fixed_points(model, inputs, activity=activity, num_candidates=candidates,
                               noise_scale=noise_scale, mode=mode, q_tol=q_tol, seed=seed, input_names=names)
    results.append((fps, layout.analysis_result("fixed_points")))
    hidden = evaluation.activity
    k = min(3, hidden.shape[-1])
    pcs = an.pca(hidden, k)
    results.append((pcs, layout.analysis_result("pca")))
    summary["fixed_points"] = fps.summary()
    summary["pca"] = {"space": "hidden", "explained_variance_ratio": pcs.explained_variance_ratio.tolist()}

    return AnalyzeRunResult(layout.root, task, summary, evaluation, fps, pcs, psy, tuple(names), inputs, seed,
                            (), (), None, tuple(note.items), tuple(results))


def _write(result: AnalyzeRunResult, layout: RunLayout, *, formats, figures: bool) -> AnalyzeRunResult:
    """Write the analysis: the results and figures first, then ``analysis.json`` (the index)."""
    fps, pcs, psy = result.fixed_points, result.pca, result.psychometric
    evaluation, task = result.evaluation, result.task
    hidden = evaluation.activity
    k = min(3, hidden.shape[-1])
    old = layout.analysis_outputs(figures=figures)
    written: list[str] = []        # every file this call may have written, for the clean-up
    files: list[str] = []
    drawn: list[str] = []
    try:
        if os.path.lexists(layout.analysis_file):   # the index goes first: a half-written analysis has none
            os.remove(layout.analysis_file)
        for obj, path in result._results:
            written += [path + ".json", path + ".npz"]
            files += an.save_result(obj, path)
        if figures:
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
                base = os.path.join(layout.figures_dir, name)
                written += [f"{base}.{f}" for f in formats]
                drawn += save_figure(make(), base, formats, close=True)
        for path in set(old) - set(files) - set(drawn):   # the earlier analysis's other files
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        summary = dict(result.summary)
        summary["figures"] = [os.path.relpath(f, layout.root) for f in drawn]
        summary["files"] = [os.path.relpath(f, layout.root) for f in files]
        summary = jsonable(summary)
        write_json(layout.analysis_file, summary)
    except OSError as e:
        for path in written:
            with contextlib.suppress(OSError):
                os.remove(path)
        raise RunDirectoryError(
            f"cannot write the analysis of {layout.root}: {io_error_text(e)}. It was computed but not saved: "
            f"the files this analysis wrote were removed again and {layout.ANALYSIS_FILE} is absent.") from None
    return dataclasses.replace(result, summary=summary, files=tuple(files), figures=tuple(drawn),
                               summary_file=layout.analysis_file)
