"""The population options of a run (``population``, ``population_grid``, ``devices``, ``chunk``):
their checks and the :class:`~neurotrain.training.Population` they describe.

A run trains one network unless ``population`` or ``population_grid`` is set:

* ``population = K``: K networks with seeds ``seed, seed + 1, ..., seed + K - 1``;
* ``population_grid = {lr = [1e-3, 1e-2], l2 = [0, 1e-4]}``: every combination of the axes,
  trained with each of the K seeds (K = ``population``, default 1), so K x combinations
  networks; a ``seed`` axis lists the seeds instead of ``population``;
* ``population = {seeds = [...], lr = [...]}`` (a table, as :meth:`Population.to_dict`
  writes it): the networks one by one, e.g. one job of a sweep.

``devices`` splits the networks over devices and ``chunk`` computes them a few at a time;
neither changes what is computed beyond float rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ConfigError
from .._validate import check_int, check_number, check_seed
from ..training import HYPERPARAMETERS, Population

__all__ = ["GRID_AXES", "check_population", "check_population_grid", "check_devices", "check_chunk",
           "population_of"]

#: the axes ``population_grid`` may vary: the seeds and the per-network hyper-parameters
GRID_AXES = ("seed", *HYPERPARAMETERS)
_OFF = ("none", "off")


def _off(value) -> bool:
    return value is None or value is False or (isinstance(value, str) and value.strip().lower() in _OFF)


def _count(name: str, value, what: str) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ConfigError(f"{name} = {value!r} is not valid; {name} must be {what}.") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} = {value!r} is not valid; {name} must be {what}.")
    return int(value)


def check_population(name: str, value) -> int | dict | None:
    """``None`` (one network), a number of networks K >= 1, or a table of explicit networks
    (``seeds`` and per-network hyper-parameter lists, as :meth:`Population.to_dict`)."""
    if _off(value):
        return None
    if isinstance(value, Mapping):
        try:
            return Population.from_dict(dict(value)).to_dict()
        except KeyError as e:
            raise ConfigError(f"{name} as a table needs 'seeds' (one per network); missing {e}.") from None
        except ConfigError as e:
            raise ConfigError(f"{name}: {e}") from None
    return _count(name, value, 'the number of networks trained together, an integer >= 1 (or "none" for one '
                               'network; a population has at least one network)')


def _values(name: str, axis: str, raw) -> list:
    if isinstance(raw, str):
        parts = [p.strip() for p in raw.strip().strip("[]").split(",") if p.strip()]
        try:
            raw = [int(p) if axis == "seed" else float(p) for p in parts]
        except ValueError:
            raise ConfigError(f"{name}.{axis} = {raw!r} is not a list of numbers; write e.g. "
                              f"{axis}=1e-3,1e-2.") from None
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ConfigError(f"{name}.{axis} = {raw!r} is not valid; give a non-empty list of values (e.g. "
                          f"{axis}=1e-3,1e-2).")
    if axis == "seed":
        out = [check_seed(f"{name}.seed", v) for v in raw]
    else:
        out = [float(check_number(f"{name}.{axis}", v, **HYPERPARAMETERS[axis])) for v in raw]
    if len(set(out)) != len(out):
        raise ConfigError(f"{name}.{axis} repeats a value ({raw!r}); list each value once.")
    return out


def check_population_grid(name: str, value) -> dict[str, list]:
    """A table of axes (``seed``, ``lr``, ``l2``, ``rate_l2``, ``sigma_in``, ``sigma_rec``) to
    lists of values (a list, a comma-separated string, or one number)."""
    if _off(value) or value == {}:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} = {value!r} is not valid; {name} must be a table of axes to lists of values "
                          f"(e.g. --population-grid lr=1e-3,1e-2, or [population_grid] lr = [1e-3, 1e-2] in TOML).")
    out: dict[str, list] = {}
    for raw_key, raw in value.items():
        axis = str(raw_key).strip().replace("-", "_")
        axis = "seed" if axis == "seeds" else axis
        if axis not in GRID_AXES:
            raise ConfigError(f"{name}: {str(raw_key)!r} is not a population axis; choose from "
                              f"{', '.join(GRID_AXES)} (other options vary between the jobs of "
                              f"`neurotrain sweep --grid`).")
        if axis in out:
            raise ConfigError(f"{name}: axis {axis!r} is given twice.")
        out[axis] = _values(name, axis, raw)
    return out


def check_devices(name: str, value) -> int | str | None:
    """``None`` (the default device), a number of devices >= 1, or ``"all"``."""
    if _off(value):
        return None
    if isinstance(value, str) and value.strip().lower() == "all":
        return "all"
    return _count(name, value, 'a number of devices >= 1, "all", or "none"')


def check_chunk(name: str, value) -> int | str | None:
    """``"auto"`` (4 at a time on a CPU, see :func:`~neurotrain.training.auto_chunk`), ``None``
    (every network at once) or a number of networks computed at once, >= 1.

    >>> check_chunk("chunk", "AUTO"), check_chunk("chunk", "none"), check_chunk("chunk", "8")
    ('auto', None, 8)
    """
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if _off(value):
        return None
    return _count(name, value, 'a number of networks computed at once, an integer >= 1, "auto" (4 at a time on a '
                               'CPU) or "none" for all')


def population_of(*, population, population_grid: Mapping[str, list], seed: int) -> Population | None:
    """The :class:`~neurotrain.training.Population` the options describe (``None``: one network).

    Examples
    --------
    >>> population_of(population=3, population_grid={}, seed=5).seeds
    (5, 6, 7)
    >>> pop = population_of(population=2, population_grid={"lr": [1e-3, 1e-2]}, seed=0)
    >>> pop.size, pop.members()[1]
    (4, {'seed': 0, 'lr': 0.01})
    >>> population_of(population=None, population_grid={"seed": [3, 9]}, seed=0).seeds
    (3, 9)
    """
    grid = dict(population_grid or {})
    if isinstance(population, Mapping):
        if grid:
            raise ConfigError("population is a table of explicit networks; it cannot be combined with "
                              "population_grid. Put the combinations in the table, or use population = K "
                              "with the grid.")
        return Population.from_dict(population)
    if population is None and not grid:
        return None
    if "seed" in grid:
        if population is not None:
            raise ConfigError(f"population = {population} and population_grid.seed = {grid['seed']} both give "
                              f"the seeds; use one: population = K (seeds seed..seed+K-1) or the seed axis.")
        seeds = tuple(grid.pop("seed"))
    else:
        k = check_int("population", 1 if population is None else population, minimum=1)
        if seed + k - 1 > 2 ** 31 - 1:
            raise ConfigError(f"population = {k} from seed {seed} runs past the largest seed 2147483647; "
                              f"start from a smaller seed.")
        seeds = tuple(range(seed, seed + k))
    return Population.grid(seeds=seeds, **grid) if grid else Population(seeds=seeds)


def population_size(options: Any) -> int | None:
    """K, the number of networks of a run's options (``None``: one network, no population)."""
    pop = population_of(population=options.population, population_grid=options.population_grid, seed=options.seed)
    return None if pop is None else pop.size
