"""Network ``k`` of a population run as an ordinary run directory, and the analysis of every network.

:func:`split_network` writes what a separate ``neurotrain train`` run with network ``k``'s
seed and hyper-parameters would have written at the population's step: ``config.json`` (its
options: the seed, ``lr``, ``l2``, noise levels of network ``k``, no population), a checkpoint
with its weights, optimiser state and history (so ``neurotrain train --resume`` can go on
training it alone), ``summary.json`` (scored on the trials its own run would be scored on)
and the figures. ``neurotrain evaluate``, ``analyze`` and ``export`` take it as any run.

:func:`analyze_population_run` (``neurotrain analyze`` on a population run) splits each
network into ``RUN_DIR/networks/net-<k>``, analyses it as :func:`analyze_run` does, and
writes the population's ``analysis.json``: a row per network (score, psychometric fit, fixed
points by stability and input, explained variance) and the population's summary.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Callable, Sequence
from typing import Any

import brainstate
import braintools
import numpy as np

from .. import analysis as an
from .._errors import CheckpointError, ConfigError, NeurotrainError, RunDirectoryError
from .._validate import check_int
from ..io import RunLayout, jsonable, library_versions, read_json, write_json
from ..models import build_model
from ..training import HYPERPARAMETERS, Trainer, TrainResult, summarize
from ._constraints import model_arguments, run_penalties, run_schedule
from ._directory import run_config, run_summary, save_figures
from ._notes import Notes, NotesCallback
from ._population import _NOISE, PopulationRun, final_eval_seed, read_population_run
from ._report import PROG
from ._rundir import io_error_text, open_new_run, reading
from ._train import LOG_EVERY, plan_run

__all__ = ["split_network", "SplitNetworkResult", "analyze_population_run", "PopulationAnalyzeRunResult"]


@dataclasses.dataclass(frozen=True)
class SplitNetworkResult:
    """What :func:`split_network` wrote.

    Attributes
    ----------
    run_dir : str
        The population run.
    network : int
    member : dict
        The network's seed and hyper-parameters.
    out : str
        The run directory written.
    step : int
        The population's step the network was taken at.
    summary : dict
        The ``summary.json`` written.
    notes : tuple of str
    """

    run_dir: str
    network: int
    member: dict
    out: str
    step: int
    summary: dict
    notes: tuple[str, ...] = ()

    def report(self) -> str:
        """One line: which network went where."""
        desc = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.member.items())
        metric = self.summary.get("primary_metric")
        score = f"; {metric} {self.summary[metric]:.4g}" if metric in self.summary else ""
        return (f"{PROG}: wrote network {self.network} of {self.run_dir} ({desc}; step {self.step}{score}) as the "
                f"run directory {self.out}; evaluate, analyze or export it as any run")


def _member_options(run: PopulationRun, k: int, out: str):
    """Network ``k``'s options as those of a separate run."""
    m = run.member(k)
    o = run.options
    cell_params = dict(o.cell_params)
    for n in _NOISE:
        if n in m:
            cell_params[n] = float(m[n])
    return o.replace(seed=int(m["seed"]), lr=float(m.get("lr", o.lr)), l2=float(m.get("l2", o.l2)),
                     rate_l2=float(m.get("rate_l2", o.rate_l2)), cell_params=cell_params, population=None,
                     population_grid={}, devices=None, chunk=None, out=out)


def _check_out(out: str, run: PopulationRun, k: int) -> None:
    """``out`` must be new, empty, or an earlier split of the same network (which is replaced)."""
    layout = RunLayout(out)
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ConfigError(f"cannot split network {k} into {out}: it is a file. Choose another out.")
    if not os.listdir(out):
        return
    try:
        cfg = read_json(layout.config_file) if os.path.isfile(layout.config_file) else None
    except NeurotrainError:
        cfg = None
    source = (cfg or {}).get("split_from") if isinstance(cfg, dict) else None
    if not (isinstance(source, dict) and os.path.abspath(source.get("run_dir", "")) == os.path.abspath(run.run_dir)
            and source.get("network") == k):
        raise ConfigError(f"cannot split network {k} into {out}: the folder holds something else (not an earlier "
                          f"split of this network); choose another out or empty it.")


def _network_result(run: PopulationRun, k: int, history, reason: str) -> TrainResult:
    summary = run.summary or {}
    loss = np.asarray(history.loss, np.float64)
    return TrainResult(
        loss=loss, lr=np.asarray(history.lr), eval_steps=np.asarray(history.eval_steps, dtype=int),
        eval_metrics={m: np.asarray([r[m] for r in history.eval_rows]) for m in history.eval_metric_names},
        num_steps=run.step, wall_time_s=float(summary.get("wall_time_s") or 0.0),
        compile_time_s=float(summary.get("compile_time_s") or 0.0), stop_reason=reason, num_traces=0,
        aux={name: np.asarray(v) for name, v in history.aux.items()},
        parameters=dict(summary.get("parameters") or {}), untrained=dict(summary.get("not_trained") or {}),
        history_start=history.start)


def _final_loss(loss) -> float | None:
    col = np.asarray(loss, np.float64)
    col = col[np.isfinite(col)]
    return float(col[-max(1, col.size // 100):].mean()) if col.size else None


def split_network(run_dir: str | os.PathLike, network: int, out: str | os.PathLike | None = None, *,
                  step: int | None = None, figures: bool = True, notes: NotesCallback | None = None,
                  _run: PopulationRun | None = None) -> SplitNetworkResult:
    """Write network ``network`` of a population run as an ordinary run directory.

    Parameters
    ----------
    run_dir : str or PathLike
        A run directory trained with ``population`` (``neurotrain train --population K``).
    network : int
        Which network (0 to K - 1; :attr:`PopulationRun.population` lists their seeds and
        hyper-parameters).
    out : str or PathLike, optional
        The run directory to write (default ``RUN_DIR/networks/net-<k>``); it must be new,
        empty, or an earlier split of the same network (replaced).
    step : int, optional
        The population checkpoint to take it from (default: the newest readable one).
    figures : bool
        Draw the run's figures (loss curve, example trials, performance by condition).
    notes : callable, optional

    Returns
    -------
    SplitNetworkResult

    Raises
    ------
    CheckpointError
        ``run_dir`` is not a population run or has no readable checkpoint.
    ConfigError
        ``network`` is out of range, or ``out`` holds something else.

    Examples
    --------
    >>> import tempfile, neurotrain as nt
    >>> opts = nt.runs.RunOptions(task="integrator", cell="vanilla", hidden=8, batch_size=8, steps=10,
    ...                           population=3, eval_every=0, eval_trials=32, no_progress=True,
    ...                           no_figures=True, out=tempfile.mkdtemp())
    >>> pop = nt.runs.train_run(opts)
    >>> one = split_network(pop.run_dir, 2, figures=False)
    >>> one.member, one.step, nt.runs.load_run(one.out)[2]["options"]["seed"]
    ({'seed': 2}, 10, 2)
    >>> nt.runs.evaluate_run(one.out, trials=16).num_trials
    16
    """
    note = Notes(notes)
    if _run is not None:   # analyze_population_run holds the readers' lock and has read the run
        return _split(_run, network, out, figures=figures, note=note)
    with reading(run_dir) as layout:
        run = read_population_run(layout.root, step=step, notes=note)
        return _split(run, network, out, figures=figures, note=note)


def _split(run: PopulationRun, network: int, out, *, figures: bool, note: Notes) -> SplitNetworkResult:
    k = check_int("network", network, minimum=0, maximum=run.size - 1,
                  fix=f"The population of {run.run_dir} has {run.size} networks (0 to {run.size - 1}).")
    out = os.fspath(out) if out is not None else RunLayout(run.run_dir).network_dir(k)
    _check_out(out, run, k)
    options = _member_options(run, k, out)
    plan = plan_run(options)
    opts, task = plan.options, plan.task
    brainstate.random.seed(opts.seed)
    cell_params, model_params = model_arguments(opts, run.config)
    model = build_model(opts.cell, num_rec=opts.hidden, task=task, num_layers=opts.layers, **cell_params,
                        **model_params)
    optimizer = braintools.optim.Adam(lr=opts.lr)
    trainer = Trainer(model, task, optimizer, method=plan.method, handle_signals=False,
                      config=opts.train_config().replace(log_every=LOG_EVERY), penalties=run_penalties(opts),
                      schedule=run_schedule(opts))
    history = run.network_history(k)
    phase = (int(run.phase["index"]), int(run.phase["start"])) if run.phase else (0, 0)
    trainer.set_state({key: v[k] for key, v in run.params.items()}, opt_leaves=[leaf[k] for leaf in run.opt_state],
                      step=run.step, history=history, phase=phase)
    member = run.member(k)
    at, why = run.stopped.get(k, (None, None))
    split_from = {"run_dir": os.path.abspath(run.run_dir), "network": k, "member": member, "step": run.step,
                  "checkpoint": os.path.abspath(run.checkpoint), "stopped_at": at, "stop_reason": why}
    now = datetime.datetime.now().isoformat(timespec="seconds")
    training = {**trainer.config.to_dict(), "checkpoint_every": opts.checkpoint_every,
                "keep_checkpoints": opts.keep_checkpoints}
    command = f"neurotrain.runs.split_network({run.run_dir!r}, {k})"
    config = {"command": command, "created": now, "seed": opts.seed,
              "method": plan.method.config(), "training": training,
              "cli": {"task": opts.task, "task_params": opts.task_params, "cell": opts.cell, "hidden": opts.hidden,
                      "layers": opts.layers, "cell_params": opts.cell_params},
              "options": opts.to_dict(), "split_from": split_from}
    # the network's run directory is taken as train_run takes one: its lock, the marker, and an
    # earlier split of the same network replaced atomically once the new one is whole
    target = open_new_run(out, note=note, command=command)
    failed = True
    try:
        first = RunLayout(target.write_root)
        layout = RunLayout(target.root)
        write_json(first.config_file, run_config(model=model, task=task, config=config, optimizer=optimizer))
        trainer.save_checkpoint(first.checkpoint(run.step))
        target.start()
        done = run.summary or {}   # the population finished (all steps, or every network stopped early)
        finished = run.step >= opts.steps or (done.get("steps") == run.step
                                              and done.get("stop_reason") not in (None, "interrupted", "diverged"))
        reason = why or (done.get("stop_reason") or "completed")
        if finished:
            trainer.sync()
            evaluation = an.evaluate(model, task, opts.eval_trials, seed=final_eval_seed(opts.seed))
            result = _network_result(run, k, history, reason)
            summary = run_summary(task, result, evaluation, {"split_from": split_from})
            summary["final_loss"] = _final_loss(history.loss)
            if figures and len(result.loss):
                save_figures(layout.root, task=task, result=result, evaluation=evaluation)
        else:
            summary = {"task": task.name, "steps": run.step, "num_steps": opts.steps, "stop_reason": "interrupted",
                       "primary_metric": task.primary_metric, "final_loss": _final_loss(history.loss),
                       "split_from": split_from}
        summary = jsonable(summary)
        write_json(layout.summary_file, summary)
        failed = False
    except OSError as e:
        if isinstance(e, RunDirectoryError):
            raise
        where = "nothing was written" if not target.started else f"{out} holds the network's checkpoint"
        raise RunDirectoryError(f"cannot write network {k} into {out}: {io_error_text(e)}; {where}.") from None
    finally:
        target.close(failed)
    return SplitNetworkResult(run.run_dir, k, member, out, run.step, summary, tuple(note.items))


# --------------------------------------------------------------------------------------------
# analysis of every network
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PopulationAnalyzeRunResult:
    """What :func:`analyze_population_run` (``neurotrain analyze`` on a population run) did.

    Attributes
    ----------
    run_dir : str
    task
    networks : tuple of int
        The networks analysed.
    results : tuple of AnalyzeRunResult
        Each network's analysis (of its split run directory, ``network_dirs``).
    rows : tuple of dict
        One row per network: its seed and hyper-parameters, score, psychometric fit, fixed
        points by stability and per input, explained variance.
    summary : dict
        The population's ``analysis.json``.
    summary_file : str
    notes : tuple of str
    """

    run_dir: str
    task: Any
    networks: tuple[int, ...]
    results: tuple
    rows: tuple[dict, ...]
    summary: dict
    summary_file: str
    network_dirs: tuple[str, ...]
    notes: tuple[str, ...] = ()
    saved: bool = False

    def table(self) -> str:
        """A row per network and the population's summary rows."""
        rows = list(self.rows)
        numeric = _numeric_columns(rows)
        described = [c for c in rows[0] if c not in numeric and c != "dir"]
        headers = [*described, *numeric]
        body = [[r.get(c) for c in headers] for r in rows]
        stats = self.summary["population_summary"]
        footer = [[label, *[None] * (len(described) - 1), *[stats[c][key] for c in numeric]]
                  for label, key in an.SUMMARY_ROWS]
        return an.format_table(headers, body, footer=footer, align_left=1)

    def report(self) -> str:
        """What ``neurotrain analyze`` prints for a population: the table and (once written) where."""
        lines = [f"{PROG}: analysed {len(self.networks)} networks of {self.run_dir} ({self.task.name}); each one's "
                 f"analysis is in {os.path.join(self.run_dir, RunLayout.NETWORKS_DIR)}/net-<k>", ""]
        lines += self.table().splitlines()
        if self.saved:
            lines += ["", self.files_line()]
        return "\n".join(lines)

    def files_line(self) -> str:
        """The last line of :meth:`report`: what was written where."""
        return f"  wrote {self.summary_file}"


def _analysis_row(k: int, member: dict, result, out: str, run_dir: str) -> dict[str, Any]:
    s = result.summary
    row: dict[str, Any] = {"network": k, **member}
    metric = result.task.primary_metric
    scores = s.get("behaviour", {}).get("scores", {})
    if metric in scores:
        row[metric] = float(scores[metric])
    psy = s.get("psychometric") or {}
    if psy.get("params"):
        row["psy_bias"] = float(psy["params"]["bias"])
        row["psy_slope"] = float(psy["params"]["slope"])
    fps = result.fixed_points
    counts = fps.counts()
    row["fixed_points"] = int(fps.num_points)
    for kind in ("stable", "saddle", "unstable"):
        row[kind] = int(counts[kind])
    for i, name in enumerate(result.input_names):
        row[f"stable[{name}]"] = int(np.sum((fps.input_index == i) & (fps.stability == "stable")))
    ratio = np.asarray(result.pca.explained_variance_ratio)
    row[f"pc1-{ratio.size} variance"] = float(ratio.sum())
    row["dir"] = os.path.relpath(out, run_dir)
    return row


def analyze_population_run(run_dir: str | os.PathLike, *, networks: Sequence[int] | None = None,
                           analyze: Callable[..., Any], notes: NotesCallback | None = None, save: bool = True,
                           before_write: Callable[[Any], object] | None = None,
                           **options: Any) -> PopulationAnalyzeRunResult:
    """Analyse every network (or ``networks``) of a population run, each as a run of its own.

    Each network is split into ``RUN_DIR/networks/net-<k>`` (:func:`split_network`; an
    earlier split of the same checkpoint is reused) and analysed there by ``analyze``
    (:func:`~neurotrain.runs.analyze_run`, with ``options``: its behaviour, psychometric fit,
    fixed points, PCA and figures, seeded as its own run would be). The population's
    ``analysis.json`` gets one row per network and the summary over them.

    Parameters
    ----------
    run_dir : str or PathLike
    networks : sequence of int, optional
        The networks to analyse (default: all).
    analyze : callable
        The one-network analysis (``neurotrain.runs.analyze_run``).
    notes : callable, optional
    save : bool
        Write each network's analysis and the population's ``analysis.json`` (``False``: only
        compute; the networks are still split into their folders).
    before_write : callable, optional
        Called with the result before the population's ``analysis.json`` is written.
    **options
        Passed to ``analyze`` (``trials``, ``candidates``, ``mode``, ``seed``, ``figures``...).

    Returns
    -------
    PopulationAnalyzeRunResult
    """
    note = Notes(notes)
    with reading(run_dir) as layout:
        run = read_population_run(layout.root, notes=note)
        chosen = list(range(run.size)) if networks is None else [
            check_int("networks", k, minimum=0, maximum=run.size - 1,
                      fix=f"The population of {run.run_dir} has {run.size} networks (0 to {run.size - 1}).")
            for k in networks]
        if not chosen:
            raise ConfigError("networks is empty; name at least one network (or leave it out for all).")
        results, rows, dirs = [], [], []
        for k in chosen:
            out = layout.network_dir(k)
            if not _split_is_current(out, run, k):
                split_network(run.run_dir, k, out, figures=False, notes=note, _run=run)
            result = analyze(out, notes=note, save=save, **options)
            results.append(result)
            rows.append(_analysis_row(k, run.member(k), result, out, run.run_dir))
            dirs.append(out)
        numeric = _numeric_columns(rows)
        summary = jsonable({
            "task": run.task.name, "run_dir": run.run_dir, "step": run.step, "population": run.population.size,
            "source": {"checkpoint": os.path.relpath(run.checkpoint, layout.root), "step": run.step},
            "networks": rows, "population_summary": {c: summarize([r.get(c, np.nan) for r in rows]) for c in numeric},
            "created": datetime.datetime.now().isoformat(timespec="seconds"), "versions": library_versions()})
        result = PopulationAnalyzeRunResult(run.run_dir, run.task, tuple(chosen), tuple(results), tuple(rows),
                                            summary, layout.analysis_file, tuple(dirs), tuple(note.items))
        if before_write is not None:
            before_write(result)
        if not save:
            return result
        try:
            for path in layout.analysis_outputs(figures=False):
                os.remove(path)
            write_json(layout.analysis_file, summary)
        except OSError as e:
            raise RunDirectoryError(f"cannot write {layout.analysis_file}: {io_error_text(e)}; each network's "
                                    f"analysis is in its folder under {os.path.join(layout.root, layout.NETWORKS_DIR)}"
                                    f".") from None
    return dataclasses.replace(result, saved=True)


def _numeric_columns(rows) -> list[str]:
    """The measured columns of the analysis rows (not the network's index, seed, hyper-parameters or folder)."""
    fixed = {"network", "seed", "dir", *HYPERPARAMETERS}
    return [c for c in rows[0] if c not in fixed and isinstance(rows[0][c], (int, float))
            and not isinstance(rows[0][c], bool)]


def _split_is_current(out: str, run: PopulationRun, k: int) -> bool:
    """Whether ``out`` holds network ``k`` split from the same checkpoint step of ``run``."""
    layout = RunLayout(out)
    try:
        cfg = read_json(layout.config_file)
    except (NeurotrainError, CheckpointError):
        return False
    src = cfg.get("split_from") if isinstance(cfg, dict) else None
    return (isinstance(src, dict) and src.get("network") == k and src.get("step") == run.step
            and os.path.abspath(src.get("run_dir", "")) == os.path.abspath(run.run_dir)
            and os.path.isfile(layout.checkpoint(run.step)))
