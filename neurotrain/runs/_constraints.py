"""The constraint, regulariser and curriculum options of a run, turned into model arguments,
penalties and a training schedule.

``neurotrain train --dale 0.8 --mask W_rec=conn.npy --freeze W_in --weight-l2 W_rec=1e-4
--rate-l1 1e-3 --curriculum ...`` records these options in ``config.json`` as given (file
paths for masks). The arrays themselves are recorded in the model entry of ``config.json``
(bit-packed, :func:`neurotrain.models.encode_mask`): :func:`~neurotrain.runs.load_run` and a
resumed run rebuild the model from them, so a run directory does not depend on the ``.npy``
files staying where they were.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import ConfigError
from ..models import check_mask, decode_mask
from ..tasks import make_task
from ..training import RatePenalty, WeightPenalty, curriculum, curriculum_stages

__all__ = ["MASK_NAMES", "CONSTRAINT_CELL_PARAMS", "model_arguments", "run_penalties", "run_schedule"]

#: ``--mask NAME=FILE.npy``: which weight each name masks (cell argument or readout)
MASK_NAMES = {"W_in": "w_in_mask", "W_rec": "w_rec_mask", "readout": "readout_mask"}
#: cell parameters that are biological constraints (validated with the real layer sizes)
CONSTRAINT_CELL_PARAMS = ("dale", "dale_mode", "positive_inputs", "w_in_mask", "w_rec_mask", "autapses",
                          "train_tau", "tau_bounds")


def _load_npy(option: str, key: str, path: Any) -> np.ndarray:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"{option}.{key} = {path!r}: give the path of a .npy file (np.save), e.g. "
                          f"{option}.{key} = \"conn.npy\".")
    path = os.fspath(path)
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ConfigError(f"{option}.{key} = {path!r}: the file does not exist.") from None
    except Exception as e:  # numpy raises several types on a bad file
        raise ConfigError(f"{option}.{key} = {path!r} is not a readable .npy array ({type(e).__name__}: {e}); "
                          f"write it with numpy.save.") from None


def _recorded_layer(recorded: Mapping | None, key: str):
    """A constraint array of the first layer of a run's recorded model config (or ``None``)."""
    model = (recorded or {}).get("model") if isinstance(recorded, Mapping) else None
    if not isinstance(model, Mapping):
        return None
    if key == "readout_mask":
        return decode_mask(model.get("readout_mask"))
    layers = model.get("layers") or [{}]
    return decode_mask(layers[0].get(key))


def model_arguments(options, recorded: Mapping | None = None, *, task=None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(cell_params, model_params)`` that ``build_model`` takes for the run's options.

    ``cell_params`` are the options' ``cell_params`` plus ``dale`` (``--dale``), the masks of
    ``masks`` (``W_in``, ``W_rec``: loaded from their ``.npy`` files) and a per-unit ``tau``
    given as a ``.npy`` path. ``model_params`` are ``readout_mask``, ``readout_from``,
    ``positive_readout`` and ``freeze`` (``True`` or a ``.npy`` mask of frozen entries). With
    ``recorded`` (a resumed run's ``config.json``) the arrays come from its model entry. With
    ``task``, the masks' shapes are checked against the options (an error names the option).

    Examples
    --------
    >>> from neurotrain.runs import RunOptions
    >>> cell, model = model_arguments(RunOptions(dale=0.8, readout_from="excitatory", freeze={"W_in": True}))
    >>> cell, model
    ({'dale': 0.8}, {'readout_from': 'excitatory', 'freeze': {'W_in': True}})
    """
    cell = dict(options.cell_params)
    model: dict[str, Any] = {}
    if options.dale is not None:
        if "dale" in cell and cell["dale"] != options.dale:
            raise ConfigError(f"dale is given twice, as --dale {options.dale} and as cell_params.dale = "
                              f"{cell['dale']!r}; give it once.")
        cell["dale"] = options.dale
    if isinstance(cell.get("tau"), str) and cell["tau"].endswith(".npy"):
        layers = (((recorded or {}).get("model") or {}).get("layers") or [{}]) if recorded is not None else [{}]
        taus = layers[0].get("tau")
        if not isinstance(taus, list):
            taus = [float(v) for v in np.asarray(_load_npy("cell_params", "tau", cell["tau"]), float).ravel()]
        cell["tau"] = taus
    for key, path in options.masks.items():
        if key not in MASK_NAMES:
            raise ConfigError(f"masks.{key}: no such weight; masks are given for {', '.join(MASK_NAMES)} "
                              f"(e.g. --mask W_rec=conn.npy).")
        arg = MASK_NAMES[key]
        if arg in cell:
            raise ConfigError(f"the {key} mask is given twice (masks.{key} and cell_params.{arg}); give it once.")
        arr = _recorded_layer(recorded, arg) if recorded is not None else None
        arr = arr if arr is not None else _load_npy("masks", key, path)
        if task is not None:
            n = options.hidden
            shape = {"W_in": (task.num_in, n), "W_rec": (n, n), "readout": (n, task.num_out)}[key]
            check_mask(f"masks.{key} ({path})", arr, shape)
        (model if arg == "readout_mask" else cell)[arg] = arr
    if options.readout_from != "all":
        model["readout_from"] = options.readout_from
    if options.positive_readout:
        model["positive_readout"] = True
    if options.readout_activation != "linear":
        model["readout_activation"] = options.readout_activation
    if options.freeze:
        rec_freeze = ((recorded or {}).get("model") or {}).get("freeze") if recorded is not None else None
        if rec_freeze:
            model["freeze"] = dict(rec_freeze)
        else:
            freeze = {}
            for key, value in options.freeze.items():
                if isinstance(value, bool):
                    freeze[key] = value
                else:
                    freeze[key] = _load_npy("freeze", key, value)
            model["freeze"] = freeze
    return cell, model


def run_penalties(options) -> list:
    """The penalties of ``weight_l1``, ``weight_l2`` (``{weight: coef}``) and ``rate_l1``.

    Examples
    --------
    >>> from neurotrain.runs import RunOptions
    >>> [p.name for p in run_penalties(RunOptions(weight_l2={"W_rec": 1e-4}, rate_l1=1e-3))]
    ['l2_W_rec', 'rate_l1']
    """
    out: list = []
    for norm, table in (("l1", options.weight_l1), ("l2", options.weight_l2)):
        for key, coef in table.items():
            try:
                out.append(WeightPenalty(norm, coef, None if key == "all" else key))
            except ConfigError as e:
                raise ConfigError(f"weight_{norm}.{key}: {e}") from None
    if options.rate_l1:
        out.append(RatePenalty("l1", options.rate_l1))
    return out


def run_schedule(options):
    """The curriculum of the run's ``curriculum`` option as a schedule (``None`` without one).

    Each stage is the run's task with its task parameters updated by the stage's.

    Examples
    --------
    >>> from neurotrain.runs import RunOptions
    >>> opts = RunOptions(eval_every=50, curriculum={"param": "coherences", "values": [[51.2]],
    ...                                              "thresholds": 0.9, "max_steps": 300})
    >>> [(p.name, p.steps, p.until) for p in run_schedule(opts)]
    [('stage 0', 300, 0.9), ('final', None, None)]
    """
    spec = options.curriculum
    if not spec:
        return None
    if not options.eval_every:
        raise ConfigError("a curriculum moves on at the held-out evaluations, but eval_every = 0; set "
                          "eval_every > 0 (e.g. --eval-every 50).")
    stages = []
    for i, params in enumerate(curriculum_stages(spec)):
        try:
            stages.append(make_task(options.task, **{**options.task_params, **params}))
        except ConfigError as e:
            raise ConfigError(f"curriculum stage {i} ({params}): {e}") from None
        except Exception as e:  # a task constructor met a value of the wrong type
            raise ConfigError(f"curriculum stage {i} ({params}): {type(e).__name__}: {e}") from None
    return curriculum(stages, spec["thresholds"], max_steps=spec["max_steps"], metric=spec.get("metric"),
                      reset_optimizer=bool(spec.get("reset_optimizer", False)))
