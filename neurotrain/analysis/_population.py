"""Populations of networks: every network scored on fresh trials, analysed, and summarised.

In this field a result is a distribution over networks. :func:`evaluate_population` scores K
networks of one architecture at once: the evaluation is mapped (``jax.vmap``) over their
stacked parameters, keys and noise levels, so network ``k``'s scores are those
:func:`~neurotrain.analysis.evaluate` gives for it alone with the same seed (within float
rounding: the mapped matrix products sum in another order). :func:`analyze_population` runs
the dynamics analysis (fixed points under each task period's input, PCA) network by network.
Both return frozen results whose ``table()`` lists every network and the population's
summary (mean, 10-90 % trimmed mean, median, min, max), as Soo, Goudar & Wang (2023) report
over their 100 networks per condition.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from .._validate import check_int, check_positive, check_seed
from ..models import Cell, model_from_config, noise_disabled
from ..training import Population, summarize
from ._activity import period_inputs, record_activity
from ._evaluate import Evaluation, evaluate, evaluation_from_chunks, evaluation_of
from ._fixed_points import FixedPoints, find_fixed_points
from ._pca import PCAResult, pca

__all__ = ["PopulationEvaluation", "evaluate_population", "PopulationAnalysis", "analyze_population",
           "population_networks", "format_table", "SUMMARY_ROWS"]

#: the summary rows of a population table, in order: (label, key of :func:`~neurotrain.training.summarize`)
SUMMARY_ROWS = (("mean", "mean"), ("trimmed mean", "trimmed_mean"), ("median", "median"),
                ("min", "min"), ("max", "max"))
_NOISE = ("sigma_in", "sigma_rec")


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "nan" if not np.isfinite(v) else f"{float(v):.4g}"
    return str(v)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, footer: Sequence[Sequence[Any]] = (),
                 align_left: int = 0) -> str:
    """A plain-text table: numbers right-aligned to 4 significant digits, one space-padded column each.

    ``footer`` rows (e.g. the population summary) come after a rule; the first ``align_left``
    columns are left-aligned.

    Examples
    --------
    >>> print(format_table(["network", "accuracy"], [[0, 0.8125], [1, 0.75]], footer=[["mean", 0.78125]],
    ...                    align_left=1))
    network  accuracy
    -------  --------
    0          0.8125
    1            0.75
    -------  --------
    mean       0.7812
    """
    body = [[_cell(v) for v in r] for r in rows]
    foot = [[_cell(v) for v in r] for r in footer]
    widths = [max(len(h), *(len(r[i]) for r in body + foot)) if body or foot else len(h)
              for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join((c.ljust(w) if i < align_left else c.rjust(w))
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(headers), rule] + [line(r) for r in body]
    if foot:
        out += [rule] + [line(r) for r in foot]
    return "\n".join(out)


def _summary_footer(columns: Sequence[str], values: Mapping[str, np.ndarray], width: int) -> list[list[Any]]:
    """The summary rows under a per-network table: label, blanks, then each column's statistic."""
    stats = {c: summarize(values[c]) for c in columns}
    return [[label] + [None] * (width - 1 - len(columns)) + [stats[c][key] for c in columns]
            for label, key in SUMMARY_ROWS]


# --------------------------------------------------------------------------------------------
# the networks of a population: one template model, stacked parameters, noise levels
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Networks:
    template: Any                      # an RNN of the architecture (its own weights are not used)
    params: dict                       # {path: (K, ...) array}
    overrides: dict                    # {"sigma_in" | "sigma_rec": (K,) array}, per-network noise
    members: tuple[dict, ...]          # one description per network

    @property
    def size(self) -> int:
        return len(self.members)

    def model(self, k: int, into=None):
        """Network ``k`` as an RNN (``into``: an RNN of the architecture to write its weights into)."""
        import brainstate

        net = into if into is not None else _rebuild(self.template, self.overrides, k)
        for key, s in net.states(brainstate.ParamState).items():
            s.value = jnp.asarray(self.params[key][k])
        return net


def _rebuild(template, overrides, k):
    """A new RNN of ``template``'s architecture, with network ``k``'s noise levels."""
    config = template.config()
    if overrides:
        config = dict(config, layers=[{**layer, **{n: float(v[k]) for n, v in overrides.items() if n in layer}}
                                      for layer in config["layers"]])
    return model_from_config(config)


def _noise_levels(model) -> dict[str, tuple[float, ...]]:
    return {n: tuple(float(getattr(c, n)) for c in model.layers if hasattr(c, n)) for n in _NOISE}


def _key_of(params: Mapping, key):
    """Find a parameter by path (tuple) or by its dotted name."""
    if key in params:
        return params[key]
    name = ".".join(map(str, key))
    if name in params:
        return params[name]
    raise ConfigError(f"params has no entry for parameter {name!r}; give the stacked parameters of every "
                      f"parameter of the model (keys: {', '.join(sorted(map(str, params)))[:200]}).")


def population_networks(networks, *, params: Mapping | None = None, members: Sequence[Mapping] | None = None):
    """The template model, stacked parameters, per-network noise levels and descriptions of
    ``networks`` (a population :class:`~neurotrain.training.Trainer`, a list of models of one
    architecture, or one model with ``params`` stacked ``(K, ...)``). Used by
    :func:`evaluate_population` and :func:`analyze_population`."""
    import brainstate

    overrides: dict[str, np.ndarray] = {}
    if hasattr(networks, "population") and hasattr(networks, "population_params"):   # a Trainer
        pop: Population | None = networks.population
        if pop is None:
            raise ConfigError("this Trainer trains one network; evaluate it with neurotrain.analysis.evaluate, "
                              "or build the Trainer with population=K.")
        template = networks.model
        stacked = dict(networks.population_params())
        overrides = {n: np.asarray(getattr(pop, n), np.float32) for n in _NOISE if getattr(pop, n) is not None}
        described = [{"network": k, **m} for k, m in enumerate(pop.members())]
    elif isinstance(networks, Sequence) and not isinstance(networks, str):
        models = list(networks)
        if not models:
            raise ConfigError("networks is empty; give at least one model.")
        if params is not None:
            raise ConfigError("params= goes with one template model, not with a list of models.")
        template = models[0]
        base = _strip_noise(template.config())
        for i, m in enumerate(models[1:], 1):
            if _strip_noise(m.config()) != base:
                raise ConfigError(f"networks[{i}] has another architecture than networks[0] (its config() "
                                  f"differs); a population shares one architecture. Evaluate it on its own.")
        levels = [_noise_levels(m) for m in models]
        for n in _NOISE:
            per = [lv[n] for lv in levels]
            if len(set(per)) > 1:          # per-network noise: one level per network (all layers)
                if any(len(set(p)) > 1 for p in per):
                    raise ConfigError(f"the networks differ in {n} and some use several levels across their "
                                      f"layers; per-network noise needs one level per network.")
                overrides[n] = np.asarray([p[0] for p in per], np.float32)
        keys = list(template.states(brainstate.ParamState))
        stacked = {k: jnp.stack([jnp.asarray(m.states(brainstate.ParamState)[k].value) for m in models])
                   for k in keys}
        described = [{"network": k} for k in range(len(models))]
    elif hasattr(networks, "forward") and hasattr(networks, "config"):
        if params is None:
            raise ConfigError("one model needs params= (its parameters stacked over the networks, "
                              "{path: (K, ...) array}); or pass a list of models or a population Trainer.")
        template = networks
        keys = list(template.states(brainstate.ParamState))
        stacked = {k: jnp.asarray(_key_of(params, k)) for k in keys}
        sizes = {int(v.shape[0]) for v in stacked.values()}
        if len(sizes) != 1:
            raise ConfigError(f"params must stack the same number of networks on every parameter's first "
                              f"axis; got sizes {sorted(sizes)}.")
        for k, v in stacked.items():
            want = tuple(template.states(brainstate.ParamState)[k].value.shape)
            if tuple(v.shape[1:]) != want:
                raise ConfigError(f"params[{'.'.join(map(str, k))!r}] has shape {tuple(v.shape)}; expected "
                                  f"(K, {', '.join(map(str, want))}).")
        described = [{"network": k} for k in range(sizes.pop())]
    else:
        raise ConfigError(f"networks must be a population Trainer, a list of models or one model with params=; "
                          f"got {type(networks).__name__}.")
    K = len(described)
    if members is not None:
        members = list(members)
        if len(members) != K:
            raise ConfigError(f"members has {len(members)} entries for {K} networks; give one per network.")
        described = [{"network": k, **dict(m)} for k, m in enumerate(members)]
        for n in _NOISE:   # a population's members carry the noise levels they vary
            if n not in overrides and all(n in m for m in members):
                overrides[n] = np.asarray([float(m[n]) for m in members], np.float32)
    return _Networks(template, stacked, overrides, tuple(described))


def _strip_noise(config: dict) -> dict:
    return {**config, "layers": [{k: v for k, v in layer.items() if k not in _NOISE}
                                 for layer in config.get("layers", [])]}


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PopulationEvaluation:
    """Every network of a population scored on fresh trials (from :func:`evaluate_population`).

    Attributes
    ----------
    task : str
    primary_metric : str
        The task's headline metric (``accuracy`` or ``mse``).
    higher_is_better : bool
    num_trials : int
        Trials per network.
    seeds : tuple of int
        The seed of each network's trials and noise.
    members : tuple of dict
        Each network's description: ``network`` (its index) and, for a population, ``seed``
        and the hyper-parameters it varies.
    evaluations : tuple of Evaluation
        One :class:`~neurotrain.analysis.Evaluation` per network (with the trials recorded
        only if asked: ``record=True``).

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> task = nt.tasks.PerceptualDecisionMaking()
    >>> models = []
    >>> for s in range(3):
    ...     brainstate.random.seed(s)
    ...     models.append(nt.models.build_model("leaky", num_rec=8, task=task))
    >>> pe = nt.analysis.evaluate_population(models, task, num_trials=64, seed=1)
    >>> pe.size, pe.scores["accuracy"].shape, sorted(pe.summary()["accuracy"])[:3]
    (3, (3,), ['max', 'mean', 'median'])
    >>> print(pe.table().splitlines()[0])
    network       accuracy  ideal_accuracy
    """

    task: str
    primary_metric: str
    higher_is_better: bool
    num_trials: int
    seeds: tuple[int, ...]
    members: tuple[dict, ...]
    evaluations: tuple[Evaluation, ...]

    @property
    def size(self) -> int:
        """K, the number of networks."""
        return len(self.evaluations)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, k: int) -> Evaluation:
        return self.evaluations[k]

    @property
    def scores(self) -> dict[str, np.ndarray]:
        """``{metric: (K,) array}``: each network's mean of each per-trial metric."""
        names = list(self.evaluations[0].scores)
        return {m: np.asarray([e.scores[m] for e in self.evaluations], np.float64) for m in names}

    def summary(self, metric: str | None = None) -> dict[str, Any]:
        """:func:`~neurotrain.training.summarize` of every metric over the networks
        (``{metric: {"n", "mean", "trimmed_mean", "median", "min", "max", "std"}}``), or of one."""
        scores = self.scores
        if metric is not None:
            if metric not in scores:
                raise ConfigError(f"metric {metric!r} is not among the scores {sorted(scores)}.")
            return summarize(scores[metric])
        return {m: summarize(v) for m, v in scores.items()}

    def best(self, metric: str | None = None) -> int:
        """The index of the best network by ``metric`` (default: the primary metric)."""
        metric = metric or self.primary_metric
        v = self.scores[metric]
        v = np.where(np.isfinite(v), v, -np.inf if self.higher_is_better else np.inf)
        return int(np.argmax(v) if self.higher_is_better else np.argmin(v))

    def median_network(self, metric: str | None = None) -> int:
        """The index of the network whose ``metric`` is closest to the population's median."""
        v = self.scores[metric or self.primary_metric]
        med = np.nanmedian(v) if np.isfinite(v).any() else 0.0
        return int(np.nanargmin(np.where(np.isfinite(v), np.abs(v - med), np.inf)))

    def headline_metrics(self) -> list[str]:
        """The primary metric and its ideal observer's score, when the task has them."""
        scores = self.scores
        out = [m for m in (self.primary_metric, f"ideal_{self.primary_metric}") if m in scores]
        return out or list(scores)

    def rows(self, metrics: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """One dict per network: its description and its scores (all, or ``metrics``)."""
        scores = self.scores
        metrics = list(scores) if metrics is None else list(metrics)
        return [{**m, **{k: float(scores[k][i]) for k in metrics}} for i, m in enumerate(self.members)]

    def table(self, metrics: Sequence[str] | None = None) -> str:
        """Every network's scores (``metrics``; default the primary metric and the ideal
        observer's) with its seed and hyper-parameters, then the population's mean, trimmed
        mean (10-90 %), median, min and max."""
        metrics = self.headline_metrics() if metrics is None else list(metrics)
        described = [k for k in self.members[0] if k != "network"]
        headers = ["network", *described, *metrics]
        scores = self.scores
        rows = [[m["network"], *(m.get(k) for k in described), *(scores[c][i] for c in metrics)]
                for i, m in enumerate(self.members)]
        return format_table(headers, rows, footer=_summary_footer(metrics, scores, len(headers)), align_left=1)


# model -> {(task, n, noise flags, override names): jitted mapped chunk}
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _mapped_chunk(model, task, n: int, noise: tuple, names: tuple, record: bool):
    model_ref = weakref.ref(model)

    def one(params, key, overrides):
        kd, kn = jax.random.split(key)
        batch = task.sample(kd, n)
        outputs, activity, _ = model_ref().forward().run(params, batch.inputs, key=kn, overrides=overrides)
        metrics = dict(task.trial_metrics(outputs, batch))
        metrics.update({f"ideal_{m}": v for m, v in task.ideal_observer(batch).items()})
        if record:
            return batch, outputs, activity, metrics
        return batch.info, metrics

    fn = jax.jit(jax.vmap(one, in_axes=(0, 0, 0)))
    try:
        cache_key = (task, n, noise, names, record)
        hash(cache_key)
    except TypeError:
        return fn
    per_model = _CACHE.setdefault(model, {})
    return per_model.setdefault(cache_key, fn)


def _auto_chunk(model, task, batch_size: int, record: bool, K: int) -> int:
    """Networks evaluated at once: about 512 MiB of per-trial arrays (far less without ``record``)."""
    width = model.num_in + model.num_out + model.num_rec + model.state_size
    per_net = 4 * task.num_steps() * batch_size * width * (2 if record else 1)
    return int(max(1, min(K, (512 * 2 ** 20) // max(per_net, 1))))


def evaluate_population(networks, task, num_trials: int = 1000, *, params: Mapping | None = None,
                        seed: int | Sequence[int] = 0, members: Sequence[Mapping] | None = None,
                        batch_size: int = 1000, chunk: int | None = None, noise: bool = True,
                        record: bool = False) -> PopulationEvaluation:
    """Score every network of a population on fresh trials, all networks in one mapped program.

    Parameters
    ----------
    networks : Trainer, list of RNN, or RNN
        A population :class:`~neurotrain.training.Trainer` (its networks, their seeds,
        hyper-parameters and noise levels), a list of models of one architecture (they may
        differ in their noise levels), or one model whose architecture ``params`` fills.
    task : neurotrain.tasks.Task
    num_trials : int
        Fresh trials per network.
    params : dict, optional
        With one model: every parameter stacked over the networks, ``{path: (K, ...)}``
        (paths as tuples or dotted names, e.g. ``"layers.0.W_rec"``).
    seed : int or sequence of int
        One seed for every network (the same trials and noise draws for all: a paired
        comparison), or one per network. Network ``k`` gets the trials and noise that
        ``evaluate(network_k, task, num_trials, seed=seed_k, batch_size=batch_size)`` draws,
        so its scores are those of evaluating it alone (within float rounding).
    members : sequence of dict, optional
        A description per network for the tables (e.g. ``{"seed": 3, "lr": 0.01}``, as
        :meth:`Population.members` gives); their ``sigma_in`` / ``sigma_rec`` entries, if every
        network has one, are the networks' noise levels.
    batch_size : int
        Trials per network run at once (as :func:`~neurotrain.analysis.evaluate`'s).
    chunk : int, optional
        Networks run at once (default: as many as fit in about 512 MiB of trial arrays).
    noise : bool
        Keep the networks' input and recurrent noise (as in training).
    record : bool
        Keep every network's trials (inputs, outputs, activity) in its ``Evaluation``;
        ``K x num_trials x T x num_rec`` values, so off by default.

    Returns
    -------
    PopulationEvaluation

    Examples
    --------
    >>> import brainstate, braintools, neurotrain as nt
    >>> brainstate.random.seed(0)
    >>> task = nt.tasks.PerceptualDecisionMaking()
    >>> trainer = nt.training.Trainer(nt.models.build_model("leaky", num_rec=8, task=task), task,
    ...                               braintools.optim.Adam(1e-2), population=4, num_steps=5, batch_size=8)
    >>> _ = trainer.run()
    >>> pe = nt.analysis.evaluate_population(trainer, task, num_trials=100, seed=[1, 2, 3, 4])
    >>> [m["seed"] for m in pe.members], pe.seeds
    ([0, 1, 2, 3], (1, 2, 3, 4))
    >>> alone = nt.analysis.evaluate(trainer.network(2), task, 100, seed=3)
    >>> bool(abs(alone.scores["accuracy"] - pe.scores["accuracy"][2]) < 1e-6)
    True
    """
    num_trials = check_positive("num_trials", num_trials, integer=True)
    batch_size = check_positive("batch_size", batch_size, integer=True)
    nets = population_networks(networks, params=params, members=members)
    K, template = nets.size, nets.template
    if template.num_in != task.num_in or template.num_out != task.num_out:
        raise ConfigError(f"the networks (num_in={template.num_in}, num_out={template.num_out}) do not fit task "
                          f"{task.name!r} (num_in={task.num_in}, num_out={task.num_out}).")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seeds = (check_seed("seed", seed),) * K
    else:
        seeds = tuple(check_seed(f"seed[{i}]", s) for i, s in enumerate(seed))
        if len(seeds) != K:
            raise ConfigError(f"seed has {len(seeds)} values for {K} networks; give one seed, or one per network.")
    chunk = _auto_chunk(template, task, min(batch_size, num_trials), record, K) if chunk is None else \
        check_int("chunk", chunk, minimum=1)
    chunk = min(chunk, K)
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, jnp.uint32))
    names = tuple(sorted(nets.overrides))
    parts: list[list] = [[] for _ in range(K)]
    with contextlib.nullcontext() if noise else noise_disabled(template):
        flags = tuple(bool(getattr(m, "noise", False)) for m in template.nodes().values() if isinstance(m, Cell))
        for start in range(0, K, chunk):
            idx = np.arange(start, start + chunk) % K           # the last chunk is padded (one compilation)
            p = {k: v[idx] for k, v in nets.params.items()}
            ov = {n: jnp.asarray(nets.overrides[n][idx]) for n in names}
            done, i = 0, 0
            while done < num_trials:
                n = min(batch_size, num_trials - done)
                fn = _mapped_chunk(template, task, n, flags, names, record)
                ks = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys[idx], i)
                with warnings.catch_warnings():   # braintrace's ops mapped over the weights: plain JAX
                    warnings.filterwarnings("ignore", message="ETP primitive")
                    out = jax.device_get(fn(p, ks, ov))
                for j, k in enumerate(idx[:min(chunk, K - start)]):
                    parts[k].append(jax.tree.map(lambda a, j=j: a[j], out))
                done, i = done + n, i + 1
    evaluations = tuple(_evaluation(task, parts[k], record, num_trials) for k in range(K))
    return PopulationEvaluation(task=task.name, primary_metric=task.primary_metric,
                                higher_is_better=bool(task.higher_is_better), num_trials=int(num_trials),
                                seeds=seeds, members=nets.members, evaluations=evaluations)


def _evaluation(task, parts, record: bool, num_trials: int) -> Evaluation:
    """One network's :class:`Evaluation` from its chunks of trials (as ``evaluate`` builds it):
    ``(batch, outputs, activity, metrics)`` each when recorded, else ``(info, metrics)``."""
    if record:
        return evaluation_from_chunks(task, num_trials, parts, True)
    metrics = {k: np.concatenate([np.asarray(p[1][k]) for p in parts]) for k in parts[0][1]}
    info = {k: np.concatenate([np.asarray(p[0][k]) for p in parts]) for k in parts[0][0]}
    return evaluation_of(task, num_trials, metrics, info)


# --------------------------------------------------------------------------------------------
# dynamics, network by network
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PopulationAnalysis:
    """The dynamics of every network of a population (from :func:`analyze_population`).

    Attributes
    ----------
    task : str
    primary_metric : str
    members : tuple of dict
    evaluations : tuple of Evaluation
        Each network's behaviour on the analysed trials (noise-free unless asked).
    fixed_points : tuple of FixedPoints
        Each network's fixed (or slow) points under every input of ``input_names``.
    pca : tuple of PCAResult
        Each network's principal axes of its hidden activity.
    input_names : tuple of str
        The task periods whose constant inputs were searched (``inputs``: their vectors).
    """

    task: str
    primary_metric: str
    members: tuple[dict, ...]
    evaluations: tuple[Evaluation, ...]
    fixed_points: tuple[FixedPoints, ...]
    pca: tuple[PCAResult, ...]
    input_names: tuple[str, ...]
    inputs: np.ndarray

    @property
    def size(self) -> int:
        return len(self.members)

    def values(self) -> dict[str, np.ndarray]:
        """Per-network numbers, ``{name: (K,) array}``: the primary metric, the number of fixed
        points and of each stability kind, the stable points under each input, and the
        variance explained by the first principal components."""
        out: dict[str, np.ndarray] = {
            self.primary_metric: np.asarray([e.scores.get(self.primary_metric, np.nan) for e in self.evaluations]),
            "fixed_points": np.asarray([f.num_points for f in self.fixed_points], np.float64)}
        for kind in ("stable", "saddle", "unstable", "marginal"):
            out[kind] = np.asarray([f.counts()[kind] for f in self.fixed_points], np.float64)
        for i, name in enumerate(self.input_names):
            out[f"stable[{name}]"] = np.asarray(
                [np.sum((f.input_index == i) & (f.stability == "stable")) for f in self.fixed_points], np.float64)
        k = min(p.num_components for p in self.pca)
        out[f"pc1-{k} variance"] = np.asarray([float(np.sum(p.explained_variance_ratio[:k])) for p in self.pca])
        return out

    def summary(self) -> dict[str, dict[str, float]]:
        """:func:`~neurotrain.training.summarize` of each of :meth:`values` over the networks."""
        return {k: summarize(v) for k, v in self.values().items()}

    def table(self) -> str:
        """One row per network (score, fixed points by stability, stable points per input,
        explained variance), then the population's summary rows."""
        values = self.values()
        cols = list(values)
        described = [k for k in self.members[0] if k != "network"]
        headers = ["network", *described, *cols]
        rows = [[m["network"], *(m.get(k) for k in described), *(values[c][i] for c in cols)]
                for i, m in enumerate(self.members)]
        return format_table(headers, rows, footer=_summary_footer(cols, values, len(headers)), align_left=1)


def analyze_population(networks, task, *, params: Mapping | None = None, members: Sequence[Mapping] | None = None,
                       num_trials: int = 512, num_candidates: int = 512, seed: int | Sequence[int] = 0,
                       mode: str = "exact", noise_scale: float = 0.02, q_tol: float = 1e-6,
                       num_components: int = 3, noise: bool = False) -> PopulationAnalysis:
    """Behaviour, fixed points and PCA of every network of a population, one network at a time.

    For each network: ``num_trials`` trials (noise-free unless ``noise``) are recorded, the
    fixed points are searched under each task period's constant input
    (:func:`~neurotrain.analysis.period_inputs`, the same inputs for every network) from
    ``num_candidates`` states sampled from its activity, and the principal axes of its hidden
    activity are fitted. The compiled analyses are shared by the networks (one architecture).

    Parameters
    ----------
    networks, params, members
        As for :func:`evaluate_population`.
    task : neurotrain.tasks.Task
    num_trials, num_candidates : int
    seed : int or sequence of int
        The seed of each network's trials and candidates (one for all, or one per network).
    mode, noise_scale, q_tol
        As for :func:`~neurotrain.analysis.find_fixed_points`.
    num_components : int
        Principal components kept per network.
    noise : bool
        Score the behaviour with the network noise on (the dynamics are always noise-free).

    Returns
    -------
    PopulationAnalysis

    Examples
    --------
    >>> import brainstate, neurotrain as nt
    >>> task = nt.tasks.PerceptualDecisionMaking()
    >>> models = []
    >>> for s in range(2):
    ...     brainstate.random.seed(s)
    ...     models.append(nt.models.build_model("leaky", num_rec=8, task=task))
    >>> pa = nt.analysis.analyze_population(models, task, num_trials=32, num_candidates=16)
    >>> pa.size, pa.input_names, len(pa.fixed_points)
    (2, ('fixation', 'stimulus', 'decision'), 2)
    >>> "stable" in pa.table().splitlines()[0]
    True
    """
    num_trials = check_positive("num_trials", num_trials, integer=True)
    num_candidates = check_positive("num_candidates", num_candidates, integer=True)
    num_components = check_positive("num_components", num_components, integer=True)
    nets = population_networks(networks, params=params, members=members)
    K = nets.size
    seeds = ((check_seed("seed", seed),) * K if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
             else tuple(check_seed(f"seed[{i}]", s) for i, s in enumerate(seed)))
    if len(seeds) != K:
        raise ConfigError(f"seed has {len(seeds)} values for {K} networks; give one seed, or one per network.")
    names, inputs = period_inputs(task, seed=seeds[0])
    evaluations, fps, pcs = [], [], []
    net = None
    for k in range(K):
        # one model for every network's weights: the compiled evaluation and analyses are reused
        net = _rebuild(nets.template, nets.overrides, k) if (net is None or nets.overrides) else net
        nets.model(k, into=net)
        ev = evaluate(net, task, num_trials, seed=seeds[k], noise=noise)
        if net.state_size == net.num_rec and not noise:
            activity = ev
        else:
            activity = record_activity(net, task, num_trials=num_trials, seed=seeds[k], full_state=True)
        fp = find_fixed_points(net, inputs, activity=activity, num_candidates=num_candidates,
                               noise_scale=noise_scale, mode=mode, q_tol=q_tol, seed=seeds[k], input_names=names)
        evaluations.append(ev)
        fps.append(fp)
        pcs.append(pca(ev.activity, min(num_components, ev.activity.shape[-1])))
    return PopulationAnalysis(task=task.name, primary_metric=task.primary_metric, members=nets.members,
                              evaluations=tuple(evaluations), fixed_points=tuple(fps), pca=tuple(pcs),
                              input_names=tuple(names), inputs=np.asarray(inputs))
