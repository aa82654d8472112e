"""Tasks by name, for configs and the command line (on :class:`neurotrain._registry.Registry`).

Names are normalised as everywhere in neurotrain: case is ignored and ``-`` and ``_`` are the
same character. Each entry carries metadata: ``paper`` (the source, shown by
``neurotrain tasks``) and, for tasks without usable defaults (the adapters), ``example``:
parameters that build a working instance (used by the contract tests and the benchmarks).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._errors import ConfigError
from .._registry import Registry, normalise
from .._validate import check_finite_tree

__all__ = ["TASKS", "register_task", "get_task_class", "make_task", "task_from_config", "list_tasks"]

#: every registered task class, by canonical name
TASKS: Registry[type] = Registry("task", hint="Run `neurotrain tasks` for descriptions.")


def register_task(name: str, *, aliases: tuple[str, ...] = (), paper: str = "", **meta: Any):
    """Class decorator registering a :class:`Task` subclass under ``name`` (and ``aliases``).

    ``paper`` (the source of the task) and any other keyword (e.g. ``example={...}``, the
    parameters of a working instance for a task without usable defaults) are stored as
    registry metadata. The class's ``name`` becomes the canonical spelling of ``name``.
    """

    def deco(cls):
        TASKS.add(name, cls, aliases=aliases, paper=paper, **meta)
        cls.name = normalise(name)
        return cls

    return deco


def get_task_class(name: str) -> type:
    """The task class registered as ``name`` (or one of its aliases).

    Examples
    --------
    >>> get_task_class("Perceptual_Decision_Making").__name__
    'PerceptualDecisionMaking'
    """
    return TASKS.get(name)


def make_task(name: str, **params: Any):
    """Build the task registered as ``name`` with ``params``.

    Unknown parameters and NaN or infinite values (anywhere in a parameter, e.g. in a timing
    override) are refused with a :class:`~neurotrain.ConfigError` naming the parameter; lists
    become tuples (as parameters read from JSON).

    Examples
    --------
    >>> make_task("copy", delay=10).num_steps()
    30
    >>> make_task("pdm", sigma=float("nan"))
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: sigma must be a finite number; got nan. NaN and infinities are not valid parameter values.
    """
    cls = get_task_class(name)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ConfigError(
            f"task {cls.name!r} has no parameter {unknown[0]!r}. Its parameters: {', '.join(sorted(fields))}."
        )
    for k, v in params.items():
        check_finite_tree(k, v)
        if isinstance(v, list):
            params[k] = tuple(v)
    return cls(**params)


def task_from_config(config: dict[str, Any]):
    """Rebuild a task from :meth:`Task.config` (``{"name": ..., "params": {...}}``)."""
    if not isinstance(config, dict) or "name" not in config:
        raise ConfigError(f"a task config is a dict with a 'name' and 'params' (from Task.config()); "
                          f"got {config!r}.")
    params = config.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"the task config's 'params' must be a dict of parameters; got {params!r}.")
    return make_task(config["name"], **params)


def list_tasks() -> list[dict[str, str]]:
    """Every registered task: ``name``, ``aliases`` (comma-separated), ``paper`` and a one-line
    ``description``, sorted by name."""
    out = []
    for key, cls in TASKS.items():
        doc = (cls.__doc__ or "").strip().splitlines()
        out.append({"name": key, "aliases": ", ".join(TASKS.aliases(key)),
                    "paper": TASKS.meta(key).get("paper", ""), "description": doc[0] if doc else ""})
    return out
