"""Population runs: K networks trained together into one run directory.

``neurotrain train --population K`` (``RunOptions(population=K)``, and ``population_grid``)
trains K networks in one compiled step into one run directory::

    run_dir/
      config.json      the options (population, population_grid), and "population": the size,
                       the axes that vary, the networks (seed and hyper-parameters of each)
      checkpoints/     step-<N>.msgpack: every parameter stacked (K, ...), the optimiser state's
                       arrays, which networks still train and why the others stopped
      metrics.csv      per log: the median loss over the networks with its range (loss_min,
                       loss_max), how many still train (active), the held-out metrics' median
                       and range (eval_<metric>, eval_<metric>_min, eval_<metric>_max)
      summary.json     "networks": one row per network (seed, hyper-parameters, final loss,
                       held-out scores, ideal observer, stopped/diverged), and
                       "population_summary": mean, trimmed mean (10-90 %), median, min, max
      figures/         loss_curve.png (every network, median, range), population_scores.png
      networks/        net-<k>/: network k as an ordinary run directory (split_network, analyze)

Every network is scored on fresh trials at the end: network ``k`` on the trials a separate run
with its seed would be scored on (seed ``seeds[k] + 1``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import inspect
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import brainstate
import jax.numpy as jnp
import numpy as np

from .. import analysis as an
from .. import plot
from .._errors import CheckpointError, ConfigError, NeurotrainError
from .._validate import check_bool, check_int, check_seed, derive_seed
from ..io import (
    RunLayout,
    checkpoint_path,
    jsonable,
    latest_checkpoint,
    library_versions,
    read_checkpoint,
    read_json,
    save_figure,
    write_json,
)
from ..models import model_from_config
from ..training import Population, population_learning_checks, summarize
from ..training._history import History
from ._directory import FIGURE_DPI, build_run, run_summary
from ._notes import Notes, NotesCallback
from ._options import RunOptions
from ._report import PROG
from ._rundir import reading, save_evaluation

__all__ = ["final_eval_seed", "population_trainer_options", "check_population_plan", "population_config",
           "is_population_run", "PopulationRun", "read_population_run", "finish_population_run",
           "population_report", "evaluate_population_run", "PopulationEvaluateRunResult", "NETWORKS_DIR",
           "POPULATION_FIGURES", "network_dir"]

#: split networks of a population run: ``run_dir/networks/net-<k>``
NETWORKS_DIR = RunLayout.NETWORKS_DIR
#: the figures ``train`` draws for a population (``loss_curve`` is the population's version)
POPULATION_FIGURES = ("loss_curve", "population_scores")
_NOISE = ("sigma_in", "sigma_rec")


def final_eval_seed(seed: int) -> int:
    """The seed of the final evaluation of a run trained with ``seed`` (and of network ``k`` of
    a population: ``final_eval_seed(seeds[k])``, so that it is scored as its own run would be):
    ``derive_seed(seed, 1)``, ``seed + 1`` wrapped inside the seed range."""
    return derive_seed(seed, 1)


def network_dir(run_dir: str | os.PathLike, k: int) -> str:
    """``run_dir/networks/net-<k, 3 digits>``: where network ``k`` of a population is split to."""
    return RunLayout(run_dir).network_dir(k)


# --------------------------------------------------------------------------------------------
# planning: the trainer's population arguments, the checks, the config.json entry
# --------------------------------------------------------------------------------------------
def population_trainer_options(options: RunOptions) -> dict[str, Any]:
    """``{population, devices, chunk}`` for the :class:`~neurotrain.training.Trainer` (``{}``: one network)."""
    pop = options.population_spec()
    if pop is None:
        return {}
    return {"population": pop, "devices": options.devices, "chunk": options.chunk}


def check_population_plan(options: RunOptions, cell_cls, method) -> None:
    """Refuse populations the trainer cannot train as asked, before anything is written: per-network
    noise levels need BPTT and a cell with noise levels (the leaky cell)."""
    pop = options.population_spec()
    if pop is None:
        return
    allowed = inspect.signature(cell_cls.__init__).parameters
    for name in _NOISE:
        if getattr(pop, name) is None:
            continue
        if name not in allowed:
            raise ConfigError(f"population_grid.{name}: the {cell_cls.kind} cell has no {name}, so its networks "
                              f"cannot differ in it; use --cell leaky, or vary lr, l2, rate_l2 or the seeds.")
        if method.name != "bptt":
            raise ConfigError(f"population_grid.{name}: per-network noise levels need --method bptt ({method.name} "
                              f"reads the noise levels from the cells); vary lr, l2 or the seeds instead.")


def population_config(options: RunOptions) -> dict[str, Any]:
    """The ``population`` entry of ``config.json`` (``{}`` for one network): the size, the axes
    that vary, the specification and every network (its seed and hyper-parameters)."""
    pop = options.population_spec()
    if pop is None:
        return {}
    return {"population": {"size": pop.size, "varied": list(pop.varied), "spec": pop.to_dict(),
                           "members": [{"network": k, **m} for k, m in enumerate(pop.members())]}}


def is_population_run(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir``'s ``config.json`` records a population (``False`` if it has none)."""
    path = RunLayout(run_dir).config_file
    if not os.path.isfile(path):
        return False
    try:
        config = read_json(path)
    except NeurotrainError:
        return False
    return isinstance(config, dict) and isinstance(config.get("population"), dict)


# --------------------------------------------------------------------------------------------
# reading a population run directory
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PopulationRun:
    """A population run directory read back: its options, networks and one checkpoint.

    Attributes
    ----------
    run_dir : str
    config : dict
        ``config.json``.
    options : RunOptions
        The recorded options.
    population : neurotrain.training.Population
    task, model
        The task, and a model of the networks' architecture (its own weights are not the
        networks'; see :meth:`network`).
    checkpoint : str
        The checkpoint read; ``step`` its step.
    params : dict
        ``{path: (K, ...) array}``, every network's parameters.
    opt_state : list of ndarray
        The optimiser state's arrays, each ``(K, ...)``.
    history : dict
        The checkpoint's history (``loss`` ``(steps, K)``, ``lr``, ``aux``, ``eval_steps``, ``eval``).
    active : ndarray of bool ``(K,)``
    stopped : dict of int to (int, str)
        The networks that stopped early: the step and why.
    phase : dict or None
        The phase record of the checkpoint.
    summary : dict or None
        ``summary.json``, if the run has one.
    """

    run_dir: str
    config: dict
    options: RunOptions
    population: Population
    task: Any
    model: Any
    checkpoint: str
    step: int
    params: dict
    opt_state: list
    history: dict
    active: np.ndarray
    stopped: dict
    phase: dict | None
    summary: dict | None

    @property
    def size(self) -> int:
        return self.population.size

    def member(self, k: int) -> dict[str, Any]:
        """Network ``k``'s seed and hyper-parameters."""
        return self.population.members()[check_int("network", k, minimum=0, maximum=self.size - 1)]

    def network(self, k: int):
        """Network ``k`` as an ordinary model (its architecture, noise levels and weights)."""
        k = check_int("network", k, minimum=0, maximum=self.size - 1)
        config = self.model.config()
        m = self.member(k)
        config = dict(config, layers=[{**layer, **{n: float(m[n]) for n in _NOISE if n in m and n in layer}}
                                      for layer in config["layers"]])
        net = model_from_config(config)
        for key, s in net.states(brainstate.ParamState).items():
            s.value = jnp.asarray(self.params[key][k])
        return net

    def network_history(self, k: int) -> History:
        """Network ``k``'s history (its columns of the stored one)."""
        h = self.history or {}
        out = History(int(h.get("start", 0)))
        out.loss = [float(x) for x in np.asarray(h.get("loss", np.zeros((0, self.size))))[:, k]]
        out.lr = [float(x) for x in np.asarray(h.get("lr", np.zeros((0, self.size))))[:, k]]
        out.aux = {name: [float(x) for x in np.asarray(v)[:, k]] for name, v in (h.get("aux") or {}).items()}
        out.eval_steps = [int(x) for x in np.asarray(h.get("eval_steps", []), np.int64).reshape(-1)]
        evals = {name: np.asarray(v, np.float64) for name, v in (h.get("eval") or {}).items()}
        out.eval_rows = [{name: float(v[i, k]) for name, v in evals.items()} for i in range(len(out.eval_steps))]
        if self.phase is not None:
            out.phases = list(self.phase.get("finished", []))
        return out


def read_population_run(run_dir: str | os.PathLike, *, step: int | None = None,
                        notes: Notes | None = None) -> PopulationRun:
    """Read a population run directory: its options, networks and newest readable checkpoint
    (or that of ``step``).

    Raises
    ------
    CheckpointError
        Not a population run, no (readable) checkpoint, or one that does not fit the recorded
        architecture and networks.
    """
    layout = RunLayout(run_dir)
    model, task, config = build_run(layout.root)
    if not isinstance(config.get("population"), dict):
        raise CheckpointError(f"{layout.root} holds one network, not a population (its config.json records no "
                              f"population); use it as it is.")
    recorded = config.get("options") or {}
    names = RunOptions.names()
    try:
        options = RunOptions.from_dict({k: v for k, v in recorded.items() if k in names},
                                       source=layout.config_file)
        population = Population.from_dict(config["population"]["spec"])
    except (ConfigError, KeyError, TypeError) as e:
        raise CheckpointError(f"{layout.config_file} does not describe a valid population ({e}); restore it or "
                              f"train the run again.") from None
    if step is None:
        with notes.warnings() if notes is not None else contextlib.nullcontext():
            path = latest_checkpoint(layout.root)
        if path is None:
            raise CheckpointError(f"{layout.root} has no checkpoint yet (training has not started or was "
                                  f"stopped before its first one); resume it with: {PROG} train --resume "
                                  f"{layout.root}")
    else:
        path = checkpoint_path(layout.root, check_int("step", step, minimum=0))
    data = read_checkpoint(path)
    saved = data.get("population")
    if not isinstance(saved, Mapping):
        raise CheckpointError(f"checkpoint {path} holds one network, but {layout.config_file} records a "
                              f"population of {population.size}; the run directory is inconsistent.")
    try:
        spec = Population.from_dict(json.loads(saved["spec"]))
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        raise CheckpointError(f"the population record in {path} is malformed ({e}).") from None
    if spec != population:
        raise CheckpointError(f"checkpoint {path} holds the networks {spec.to_dict()}, not those of "
                              f"{layout.config_file} ({population.to_dict()}).")
    params = {}
    K = population.size
    for key, s in model.states(brainstate.ParamState).items():
        name = ".".join(map(str, key))
        if name not in data["params"]:
            raise CheckpointError(f"parameter {name!r} is missing from checkpoint {path}; the architecture in "
                                  f"{layout.config_file} does not match it.")
        arr = np.asarray(data["params"][name])
        want = (K, *tuple(s.value.shape))
        if arr.shape != want:
            raise CheckpointError(f"parameter {name!r} has shape {arr.shape} in checkpoint {path}; expected "
                                  f"{want} (networks x shape).")
        params[key] = arr
    opt = saved.get("opt") or {}
    opt_state = [np.asarray(opt[str(i)]) for i in range(len(opt))]
    active = np.asarray(saved.get("active", np.ones(K)), bool).reshape(-1)
    stopped = {int(k): (int(v[0]), str(v[1])) for k, v in json.loads(saved.get("stopped", "{}")).items()}
    phase = data.get("phase")
    phase = json.loads(phase) if isinstance(phase, str) else (dict(phase) if isinstance(phase, Mapping) else None)
    summary = None
    if os.path.isfile(layout.summary_file):
        try:
            summary = read_json(layout.summary_file)
        except NeurotrainError:
            summary = None
    return PopulationRun(layout.root, config, options, population, task, model, path, int(data["step"]), params,
                         opt_state, data.get("history") or {}, active, stopped, phase, summary)


# --------------------------------------------------------------------------------------------
# the end of training: every network scored on fresh trials, the summary, the figures
# --------------------------------------------------------------------------------------------
def _member_rows(population: Population, final_losses, evaluation, stopped, stop_reason: str,
                 task, heldout: Mapping[str, np.ndarray] | None) -> list[dict[str, Any]]:
    scores = evaluation.scores if evaluation is not None else {}
    metric = task.primary_metric
    rows = []
    for k, m in enumerate(population.members()):
        row: dict[str, Any] = {"network": k, **m, "final_loss": float(final_losses[k])}
        if metric in scores:
            row[metric] = float(scores[metric][k])
        if f"ideal_{metric}" in scores:
            row[f"ideal_{metric}"] = float(scores[f"ideal_{metric}"][k])
            if task.target_type == "class":
                row["gap_points"] = 100.0 * (row[f"ideal_{metric}"] - row[metric])
        if heldout and metric in heldout:
            row[f"heldout_{metric}"] = float(heldout[metric][k])
        at, why = stopped.get(k, (None, None))
        row.update(stopped=k in stopped, stopped_at=at, diverged=bool(why and why.startswith("diverged")),
                   stop_reason=why if why else stop_reason)
        rows.append(row)
    return rows


def population_summary(task, result, evaluation, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``summary.json`` of a population run: the training result's headline numbers (the
    final loss is the median over the networks), one row per network and the population's
    summary of each score (mean, trimmed mean, median, min, max, std, n)."""
    pop: Population = result.population
    s = run_summary(task, result, None)
    s["eval_trials"] = int(evaluation.num_trials)
    heldout = None
    if len(result.eval_steps):
        heldout = {k: np.asarray(v)[-1] for k, v in result.eval_metrics.items()}
    rows = _member_rows(pop, result.final_losses, evaluation, result.stopped, result.stop_reason, task, heldout)
    checks = population_learning_checks(task, result, seed=final_eval_seed(pop.seeds[0]))
    for row, check in zip(rows, checks):
        row["learned"] = bool(check["learned"])
    failed = [k for k, c in enumerate(checks) if not c["learned"]]
    if failed:
        s["warning"] = (f"{len(failed)} of {pop.size} networks learned nothing (network "
                        f"{', '.join(map(str, failed[:10]))}{', ...' if len(failed) > 10 else ''}): "
                        f"{checks[failed[0]]['warning'].removeprefix('this run learned nothing: ')}")
    s["learning"] = {"chance_loss": checks[0]["chance_loss"] if checks else None, "networks_learned":
                     pop.size - len(failed), "networks": pop.size}
    s["population"] = {"size": pop.size, "varied": list(pop.varied), "stopped": len(result.stopped),
                       "diverged": sum(bool(r["diverged"]) for r in rows),
                       "final_evaluation": "each network on fresh trials of seed = its seed + 1"}
    s["networks"] = rows
    columns = [c for c in (task.primary_metric, f"ideal_{task.primary_metric}", "gap_points", "final_loss")
               if c in rows[0]]
    s["population_summary"] = {c: summarize([r[c] for r in rows]) for c in columns}
    if extra:
        s.update(extra)
    return s


def finish_population_run(*, trainer, result, task, options: RunOptions, layout: RunLayout,
                          extra: Mapping[str, Any] | None = None) -> tuple[Any, dict, tuple[str, ...]]:
    """Score every network on fresh trials, write ``summary.json`` and the figures; returns
    ``(evaluation, summary, figures)``."""
    seeds = [final_eval_seed(s) for s in trainer.population.seeds]
    evaluation = an.evaluate_population(trainer, task, options.eval_trials, seed=seeds)
    summary = jsonable(population_summary(task, result, evaluation, extra=extra))
    write_json(layout.summary_file, summary)
    figures: tuple[str, ...] = ()
    if not options.no_figures:
        figures = tuple(save_population_figures(layout.root, result=result, evaluation=evaluation))
    return evaluation, summary, figures


def save_population_figures(run_dir, *, result, evaluation) -> list[str]:
    """``figures/loss_curve.png`` (every network, the median and the range) and
    ``figures/population_scores.png`` (each network's score)."""
    layout = RunLayout(run_dir)
    paths: list[str] = []
    if len(result.loss):
        paths += save_figure(plot.population_loss_curve(result), layout.figure("loss_curve"), "png",
                             dpi=FIGURE_DPI, close=True)
    paths += save_figure(plot.population_scores(evaluation), layout.figure("population_scores"), "png",
                         dpi=FIGURE_DPI, close=True)
    return paths


def short_population_extra(trainer) -> dict[str, Any]:
    """What the short ``summary.json`` of an interrupted or diverged population run adds: the
    networks that stopped, and why."""
    if trainer.K is None:
        return {}
    return {"population": {"size": trainer.K, "active": int(np.sum(trainer.active)),
                           "stopped": {str(k): {"step": s, "reason": r} for k, (s, r) in trainer.stopped.items()}}}


# --------------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------------
def _table_columns(rows: Sequence[Mapping], metric: str) -> list[str]:
    varied = [k for k in rows[0] if k not in ("network", "final_loss", "stopped", "stopped_at", "diverged",
                                              "stop_reason", "learned") and not k.endswith(metric) and k != "gap_points"]
    cols = ["network", *varied, "final_loss"]
    cols += [c for c in (f"heldout_{metric}", metric, f"ideal_{metric}") if c in rows[0]]
    return cols


def network_table(rows: Sequence[Mapping], summary: Mapping[str, Mapping], metric: str) -> str:
    """The per-network table of a population's summary, with its summary rows."""
    cols = _table_columns(rows, metric)
    body = []
    for r in rows:
        cells = [r.get(c) for c in cols]
        note = ""
        if r.get("stopped"):
            note = "diverged" if r.get("diverged") else f"stopped at {r.get('stopped_at')}"
        if r.get("learned") is False:
            note = f"{note}; learned nothing" if note else "learned nothing"
        body.append([*cells, note])
    footer = [[label, *[summary[c][key] if c in summary else None for c in cols[1:]], ""]
              for label, key in an.SUMMARY_ROWS]
    return an.format_table([*cols, "notes"], body, footer=footer, align_left=1)


def population_report(*, header: str, run_dir: str, summary: Mapping, task) -> str:
    """What ``neurotrain train`` prints for a population: the training line, each network's
    row (seed, hyper-parameters, final loss, scores, stopped) and the summary rows."""
    lines = [header, f"  run dir      {run_dir}"]
    if summary.get("steps") is not None and summary.get("wall_time_s") is not None:
        extra = f", compile {summary['compile_time_s']:.1f} s" if summary.get("compile_time_s") else ""
        lines.append(f"  trained      {summary['steps']} steps ({summary.get('stop_reason', 'completed')}) in "
                     f"{summary['wall_time_s']:.1f} s{extra}")
    ps = summary.get("population_summary", {})
    if "final_loss" in ps:
        f = ps["final_loss"]
        lines.append(f"  final loss   median {f['median']:.4g}, range [{f['min']:.4g}, {f['max']:.4g}]")
    metric = task.primary_metric
    if metric in ps:
        m = ps[metric]
        lines.append(f"  {metric:<12} trimmed mean {m['trimmed_mean']:.4g}, median {m['median']:.4g}, range "
                     f"[{m['min']:.4g}, {m['max']:.4g}] on {summary.get('eval_trials')} fresh trials per network "
                     f"(seed: its seed + 1)")
    rows = summary.get("networks") or []
    if rows:
        lines.append("")
        lines.extend(network_table(rows, ps, metric).splitlines())
    if summary.get("warning"):
        lines.append(f"  warning      {summary['warning']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# evaluate: every network of a saved population on fresh trials
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PopulationEvaluateRunResult:
    """What :func:`evaluate_population_run` (``neurotrain evaluate`` on a population run) did.

    Attributes
    ----------
    run_dir : str
    task
    evaluation : neurotrain.analysis.PopulationEvaluation
    num_trials : int
    seed : int or None
        The seed of every network's trials, or ``None``: each network's seed + 1 (the trials of
        the report printed after training).
    record : dict
        The content of ``evaluation.json``.
    step : int
        The checkpoint's step.
    file : str
    notes : tuple of str
    """

    run_dir: str
    task: Any
    evaluation: Any
    num_trials: int
    seed: int | None
    record: dict
    step: int
    file: str | None
    notes: tuple[str, ...] = ()

    def report(self) -> str:
        """The text ``neurotrain evaluate`` prints: each network's scores and the summary rows."""
        where = "seed: each network's seed + 1" if self.seed is None else f"seed {self.seed} for every network"
        lines = [f"{PROG}: evaluated the {self.evaluation.size} networks of {self.run_dir} (step {self.step}) on "
                 f"{self.task.name}, {self.num_trials} fresh trials each ({where})", ""]
        lines.extend(self.evaluation.table().splitlines())
        return "\n".join(lines)


def evaluate_population_run(run_dir: str | os.PathLike, *, trials: int | None = None, seed: int | None = None,
                            notes: NotesCallback | None = None, save: bool = True,
                            before_write: Callable[[Any], object] | None = None) -> PopulationEvaluateRunResult:
    """Score every network of a population run on fresh trials; write ``evaluation.json``.

    The run is read under its readers' lock (as :func:`~neurotrain.runs.evaluate_run` reads
    one network), so it is never replaced while it is scored.

    Parameters
    ----------
    run_dir : str or PathLike
    trials : int, optional
        Trials per network (default: the run's ``eval_trials``).
    seed : int, optional
        One seed for every network's trials (a paired comparison); default each network's
        seed + 1, the trials of the final evaluation after training.
    notes : callable, optional
    save : bool
        Write ``evaluation.json`` (``False``: only compute).
    before_write : callable, optional
        Called with the result once it is computed, before anything is written.

    Returns
    -------
    PopulationEvaluateRunResult

    Raises
    ------
    RunDirectoryError
        ``evaluation.json`` cannot be written, or a symbolic link inside the run directory.
    """
    note = Notes(notes)
    trials = check_int("trials", trials, minimum=1, allow_none=True)
    seed = None if seed is None else check_seed("seed", seed)
    save = check_bool("save", save)
    with reading(run_dir) as layout:
        run = read_population_run(layout.root, notes=note)
        trials = run.options.eval_trials if trials is None else trials
        seeds = [final_eval_seed(s) for s in run.population.seeds] if seed is None else seed
        members = run.population.members()
        evaluation = an.evaluate_population(run.model, run.task, trials, params=run.params, seed=seeds,
                                            members=members)
        scores = evaluation.scores
        metric = run.task.primary_metric
        rows = evaluation.rows([m for m in (metric, f"ideal_{metric}") if m in scores])
        record = jsonable({
            "task": run.task.name, "num_trials": trials, "seeds": list(evaluation.seeds), "step": run.step,
            "primary_metric": metric, "networks": rows,
            "source": {"checkpoint": os.path.relpath(run.checkpoint, layout.root), "step": run.step},
            "population_summary": {m: summarize(v) for m, v in scores.items()},
            "created": datetime.datetime.now().isoformat(timespec="seconds"), "versions": library_versions()})
        result = PopulationEvaluateRunResult(layout.root, run.task, evaluation, trials, seed, record, run.step,
                                             None, tuple(note.items))
        return save_evaluation(layout, result, record, save=save, before_write=before_write)
