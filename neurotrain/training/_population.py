"""Populations: K networks of one architecture trained together in one compiled step.

In this field a result is a distribution over networks. ``train(..., population=Population(...))``
trains K networks at once: the pure training step is mapped (``jax.vmap``) over their
parameters, optimiser states, random keys and per-network hyper-parameters, so the K networks
share one compiled program and every kernel works on all of them. Network ``k`` is the network
a separate run with seed ``seeds[k]`` would train: its weights are drawn as
``brainstate.random.seed(seeds[k])`` followed by building the model, and its batches and noise
come from ``seeds[k]``, so a population gives the same per-network results as separate runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import ConfigError
from .._validate import check_int, check_number, check_seed

__all__ = ["Population", "HYPERPARAMETERS", "trimmed_mean", "summarize", "auto_chunk"]

#: per-network hyper-parameters a population may vary, with their checks
HYPERPARAMETERS = {
    "lr": dict(minimum=0.0, inclusive=False),
    "l2": dict(minimum=0.0),
    "rate_l2": dict(minimum=0.0),
    "sigma_in": dict(minimum=0.0),
    "sigma_rec": dict(minimum=0.0),
}


@dataclasses.dataclass(frozen=True)
class Population:
    """K networks trained together: their seeds and, optionally, their own hyper-parameters.

    Parameters
    ----------
    seeds : sequence of int
        One seed per network (weights, batches and noise, as a separate run with that seed).
    lr : sequence of float, optional
        Each network's learning rate (it scales the optimiser's schedule by ``lr[k] / base``,
        ``base`` being the optimiser's base learning rate).
    l2, rate_l2 : sequence of float, optional
        Each network's penalty coefficients (instead of the training settings').
    sigma_in, sigma_rec : sequence of float, optional
        Each network's input and recurrent noise levels (leaky cells; BPTT).

    Examples
    --------
    >>> pop = Population.of(4, seed=10)
    >>> pop.size, pop.seeds
    (4, (10, 11, 12, 13))
    >>> grid = Population.grid(seeds=(0, 1), lr=(1e-3, 1e-2))
    >>> grid.size, grid.members()[1]
    (4, {'seed': 0, 'lr': 0.01})
    """

    seeds: tuple[int, ...]
    lr: tuple[float, ...] | None = None
    l2: tuple[float, ...] | None = None
    rate_l2: tuple[float, ...] | None = None
    sigma_in: tuple[float, ...] | None = None
    sigma_rec: tuple[float, ...] | None = None

    def __post_init__(self):
        seeds = self.seeds
        if isinstance(seeds, (int, np.integer)) or not isinstance(seeds, Sequence) or not len(seeds):
            raise ConfigError(f"Population.seeds must be a non-empty list of seeds; got {seeds!r}. "
                              f"Use Population.of(K) for K networks with consecutive seeds.")
        object.__setattr__(self, "seeds", _checked_seeds(seeds))
        for name, rule in HYPERPARAMETERS.items():
            values = getattr(self, name)
            if values is None:
                continue
            if isinstance(values, (int, float)) or not isinstance(values, Sequence):
                raise ConfigError(f"Population.{name} must be a list with one value per network; got {values!r}.")
            if len(values) != len(self.seeds):
                raise ConfigError(f"Population.{name} has {len(values)} values for {len(self.seeds)} networks; "
                                  f"give one per network.")
            object.__setattr__(self, name, _checked_values(name, values, rule))
        points = list(zip(self.seeds, *(getattr(self, n) for n in self.varied)))
        if len(set(points)) != len(points):
            raise ConfigError(f"the population repeats a network (same seed and hyper-parameters): "
                              f"{self.members()}.")

    # --- building ------------------------------------------------------------------------
    @classmethod
    def of(cls, size: int, *, seed: int = 0, **hyper: Sequence[float]) -> Population:
        """``size`` networks with seeds ``seed, seed + 1, ...`` (and per-network ``hyper``)."""
        size = check_int("population", size, minimum=1, fix="A population has at least one network.")
        check_seed("seed", seed)
        return cls(seeds=tuple(range(seed, seed + size)), **hyper)

    @classmethod
    def grid(cls, *, seeds: Sequence[int] = (0,), **axes: Sequence[float]) -> Population:
        """Every combination of ``seeds`` and the values of each hyper-parameter axis.

        Network ``k`` is seed ``seeds[k // n]`` with the ``k % n``-th combination of the axes
        (``n`` combinations, last axis fastest). The combinations of one seed start from the
        same weights and see the same batches, as separate runs with that seed would: a
        controlled comparison of the hyper-parameters.
        """
        unknown = sorted(set(axes) - set(HYPERPARAMETERS))
        if unknown:
            raise ConfigError(f"{unknown[0]!r} is not a population hyper-parameter; choose from "
                              f"{', '.join(HYPERPARAMETERS)} (and seeds).")
        names = list(axes)
        for n in names:
            if isinstance(axes[n], (int, float)) or not len(axes[n]):
                raise ConfigError(f"grid axis {n!r} must be a non-empty list of values; got {axes[n]!r}.")
        if isinstance(seeds, (int, np.integer)) or not len(seeds):
            raise ConfigError(f"Population.grid needs a non-empty list of seeds; got {seeds!r}.")
        combos = list(itertools.product(*(axes[n] for n in names)))
        members = [(s, c) for s in seeds for c in combos]
        return cls(seeds=tuple(s for s, _ in members),
                   **{n: tuple(c[i] for _, c in members) for i, n in enumerate(names)})

    # --- views ---------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """K, the number of networks."""
        return len(self.seeds)

    @property
    def varied(self) -> tuple[str, ...]:
        """The hyper-parameters given per network."""
        return tuple(n for n in HYPERPARAMETERS if getattr(self, n) is not None)

    def members(self) -> list[dict[str, Any]]:
        """One dict per network: its seed and the hyper-parameters it varies."""
        return [{"seed": s, **{n: getattr(self, n)[k] for n in self.varied}} for k, s in enumerate(self.seeds)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (``Population.from_dict`` rebuilds it)."""
        out: dict[str, Any] = {"seeds": list(self.seeds)}
        out.update({n: list(getattr(self, n)) for n in self.varied})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Population:
        """Inverse of :meth:`to_dict`."""
        unknown = sorted(set(data) - {"seeds", *HYPERPARAMETERS})
        if unknown:
            raise ConfigError(f"population entry {unknown[0]!r} is not known; use seeds, "
                              f"{', '.join(HYPERPARAMETERS)}.")
        return cls(seeds=tuple(data["seeds"]), **{n: tuple(data[n]) for n in HYPERPARAMETERS if data.get(n)})

    def hyper_arrays(self, *, base_lr: float | None) -> dict[str, np.ndarray]:
        """The per-network values the compiled step takes (``lr`` as a scale of ``base_lr``)."""
        out: dict[str, np.ndarray] = {}
        if self.lr is not None:
            if not base_lr or not math.isfinite(base_lr) or base_lr <= 0:
                raise ConfigError("a population with per-network lr needs an optimiser with a positive "
                                  "base learning rate to scale.")
            out["lr_scale"] = np.asarray(self.lr, np.float32) / np.float32(base_lr)
        for name in ("l2", "rate_l2", "sigma_in", "sigma_rec"):
            if getattr(self, name) is not None:
                out[name] = np.asarray(getattr(self, name), np.float32)
        return out


def _checked_seeds(seeds) -> tuple[int, ...]:
    """The seeds as ints, checked all at once (one by one, for the message, only if one is bad)."""
    arr = np.asarray(seeds) if all(type(s) is int for s in seeds) else None
    if arr is not None and arr.dtype.kind in "iu" and arr.min() >= 0 and arr.max() <= 2 ** 31 - 1:
        return tuple(seeds)
    return tuple(check_seed(f"seeds[{i}]", s) for i, s in enumerate(seeds))


def _checked_values(name: str, values, rule) -> tuple[float, ...]:
    """Per-network values as floats, checked all at once (one by one only if one is bad)."""
    plain = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if plain:
        a = np.asarray(values, np.float64)
        lo = rule.get("minimum")
        ok = np.isfinite(a).all() and (lo is None or ((a > lo).all() if rule.get("inclusive", True) is False
                                                      else (a >= lo).all()))
        if ok:
            return tuple(float(v) for v in a)
    return tuple(check_number(f"{name}[{i}]", v, **rule) for i, v in enumerate(values))


def trimmed_mean(values, proportion: float = 0.1) -> float:
    """The mean of ``values`` without the lowest and highest ``proportion`` (10 % each by
    default: the 10-90 % trimmed mean Soo, Goudar & Wang report over their networks).

    Examples
    --------
    >>> trimmed_mean([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 100.0])
    1.0
    """
    v = np.sort(np.asarray(values, np.float64).ravel())
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan")
    cut = int(math.floor(proportion * v.size))
    kept = v[cut:v.size - cut] if v.size - 2 * cut > 0 else v
    return float(kept.mean())


def summarize(values) -> dict[str, float]:
    """``mean``, ``trimmed_mean`` (10-90 %), ``median``, ``min``, ``max`` and ``std`` of per-network
    values (NaN entries, e.g. diverged networks, left out; ``n`` says how many were used).

    Examples
    --------
    >>> summarize([0.8, 0.9, 1.0])["median"]
    0.9
    """
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return {"n": 0, "mean": float("nan"), "trimmed_mean": float("nan"), "median": float("nan"),
                "min": float("nan"), "max": float("nan"), "std": float("nan")}
    return {"n": int(v.size), "mean": float(v.mean()), "trimmed_mean": trimmed_mean(v),
            "median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
            "std": float(v.std())}


def member_params(model, seeds: Sequence[int]) -> dict:
    """The initial parameters of every network, stacked on a leading axis ``(K, ...)``.

    Network ``k`` gets the weights that ``brainstate.random.seed(seeds[k])`` followed by
    building the model (from ``model.config()``) draws, i.e. those of a separate run with
    that seed. brainstate's global seed is left at ``seeds[-1]``'s stream afterwards.
    """
    import brainstate
    import jax.numpy as jnp

    from ..models import model_from_config

    config = model.config()
    custom = [k for layer in config.get("layers", []) for k, v in layer.items()
              if isinstance(v, str) and v.startswith("<custom")]
    if custom or str(config.get("readout_init", "")).startswith("<custom"):
        raise ConfigError(f"a population rebuilds each network from model.config(), but the model uses a "
                          f"custom initialiser ({custom[0] if custom else 'readout_init'}), which cannot "
                          f"be rebuilt; use a named initialiser (e.g. 'orthogonal:0.5').")
    members = []
    for s in seeds:
        brainstate.random.seed(int(s))
        net = model_from_config(config)
        members.append({k: v.value for k, v in net.states(brainstate.ParamState).items()})
    keys = list(members[0])
    return {k: jnp.stack([m[k] for m in members]) for k in keys}


def where_active(active, new, old):
    """``new`` for the networks marked active (a ``(K,)`` bool array), ``old`` for the others."""
    import jax
    import jax.numpy as jnp

    def pick(n, o):
        return jnp.where(active.reshape((-1,) + (1,) * (jnp.ndim(n) - 1)), n, o)

    return jax.tree.map(pick, new, old)


def as_population(value) -> Population | None:
    """``None``, a :class:`Population`, or an int K (``Population.of(K)``) -> a Population or None."""
    if value is None or isinstance(value, Population):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return Population.of(int(value))
    raise ConfigError(f"population must be a number of networks (e.g. 32) or a neurotrain.training."
                      f"Population; got {value!r}.")


#: ``chunk="auto"``: the networks computed at once on a CPU (see :func:`auto_chunk`)
AUTO_CHUNK = "auto"
CPU_CHUNK = 4


def auto_chunk(population, devices=None) -> int | None:
    """The ``chunk`` that ``chunk="auto"`` means: ``CPU_CHUNK`` (4) networks at a time for a
    population of more than 4 networks on one CPU device, else ``None`` (all at once).

    On XLA-CPU a mapped step gains nothing from stacking more networks into one kernel (a
    batched matrix product costs per network what a single network's does), while the working
    set grows with every network; computed 4 at a time, 32 networks of 50 units trained at
    1.61x the throughput of one after another against 1.11x all at once
    (``benchmarks/results/population.md``). An accelerator wants the whole population at once,
    and a population split over devices is left unchunked.

    Examples
    --------
    >>> auto_chunk(None), auto_chunk(Population.of(3))
    (None, None)
    >>> import jax
    >>> auto_chunk(Population.of(32)) == (4 if jax.default_backend() == "cpu" else None)
    True
    """
    import jax

    if population is None or devices is not None:
        return None
    size = population.size if isinstance(population, Population) else int(population)
    if size <= CPU_CHUNK or jax.default_backend() != "cpu":
        return None
    return CPU_CHUNK


def population_sharding(devices, size: int):
    """A sharding that splits the population axis over ``devices`` (``None``: no sharding).

    ``devices`` is a number of devices (the first ones of ``jax.devices()``), a list of devices,
    or ``"all"``. The population must split evenly: K networks over D devices need K % D == 0.
    """
    if devices is None:
        return None
    import jax

    available = jax.devices()
    if devices == "all":
        chosen = available
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        n = check_int("devices", devices, minimum=1)
        if n > len(available):
            raise ConfigError(f"devices={n} but only {len(available)} device(s) are visible "
                              f"({available[0].platform}). On a CPU, start Python with "
                              f"XLA_FLAGS=--xla_force_host_platform_device_count={n} to test sharding.")
        chosen = available[:n]
    else:
        chosen = list(devices)
        if not chosen:
            raise ConfigError("devices must name at least one device.")
    if size % len(chosen):
        raise ConfigError(f"a population of {size} networks does not split over {len(chosen)} devices; "
                          f"use a multiple of {len(chosen)} networks (e.g. {size + len(chosen) - size % len(chosen)}).")
    mesh = jax.sharding.Mesh(np.asarray(chosen), ("network",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("network"))


def available_memory_bytes() -> int | None:
    """Free memory of the default device: the accelerator's free bytes, or the host's available
    physical memory for the CPU (``None`` if it cannot be told)."""
    import os

    import jax

    dev = jax.devices()[0]
    if dev.platform != "cpu":
        try:
            stats = dev.memory_stats() or {}
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        except Exception:  # noqa: BLE001 - a backend without memory statistics
            return None
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def estimate_memory_bytes(model, *, size: int, num_steps: int, batch_size: int, online: bool) -> int:
    """A rough upper estimate of the memory ``size`` networks need in one training step.

    Per network: the parameters, twice more for the optimiser's moments, the gradient, and
    the step's working memory: for BPTT what the backward pass keeps of every time step (the
    state, the pre-activations and the outputs of the ``T`` steps of the batch, a few arrays of
    each), for an online method the per-trial eligibility traces (one per trainable weight).
    """
    import brainstate

    n_params = sum(int(np.prod(s.value.shape)) for s in model.states(brainstate.ParamState).values())
    per_net = 4 * n_params * 4                          # params, 2 moments, gradient (float32)
    width = model.state_size + model.num_rec + model.num_out + model.num_in
    if online:
        per_net += 4 * batch_size * n_params * 2        # traces and their update
    else:
        per_net += 4 * num_steps * batch_size * width * 4
    return int(size * per_net)


def check_fits(model, *, size: int, num_steps: int, batch_size: int, online: bool) -> int:
    """Raise a clear :class:`ConfigError` when a population cannot fit in the device's free
    memory; returns the estimate in bytes."""
    need = estimate_memory_bytes(model, size=size, num_steps=num_steps, batch_size=batch_size, online=online)
    free = available_memory_bytes()
    if free is not None and need > 0.9 * free:
        per = need / size
        fits = max(1, int(0.9 * free // per))
        raise ConfigError(
            f"a population of {size} networks needs about {need / 2**30:.2f} GiB ({per / 2**20:.1f} MiB "
            f"per network, T={num_steps}, batch {batch_size}) but the device has {free / 2**30:.2f} GiB "
            f"free; train at most about {fits} networks at once (e.g. split them into jobs with "
            f"`neurotrain sweep`) or use smaller batches.")
    return need
