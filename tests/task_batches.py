"""Fingerprints of task batches: a SHA-256 of every array of a ``TrialBatch``.

``tests/data/task_batches.json`` holds the fingerprints of batches drawn from every registered
task (at its defaults, the adapters with a small example source), each Yang et al. 2019 rule,
the Soo et al. 2023 structures A/B/C and a few non-default configurations that reach the
other timing paths (jitter, choice, overrides, ``dt``), each at several keys and batch sizes.
``tests/test_task_batches.py`` checks that today's code draws exactly those bits, so a
refactor of the tasks cannot change a batch (and with it a training run) unnoticed.

Regenerate the file only for a change of behaviour that is meant (and say so in the change
log)::

    PYTHONPATH=. python tests/task_batches.py          # rewrites tests/data/task_batches.json
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys

import jax
import numpy as np

import neurotrain as nt
from neurotrain.tasks._registry import TASKS

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "data", "task_batches.json")

KEYS = (0, 1, 2024)
BATCH_SIZES = (3, 16)

#: (case id, registry name, parameters) beyond every registered task at its defaults
EXTRA_CASES = [
    ("perceptual-decision-making[delay,dt,weight]", "pdm",
     {"dt": 10.0, "delay": 200.0, "decision_weight": 5.0, "coherences": (0.0, 12.8, 51.2)}),
    ("context-dependent-decision-making[jitter]", "cddm",
     {"fixation": (100.0, 300.0), "stimulus": (400.0, 800.0), "sigma": 0.5}),
    ("delayed-match-to-sample[fixed,4 stimuli]", "dms",
     {"delay": 400.0, "num_stimuli": 4, "match_prob": 0.3}),
    ("n-bit-flip-flop[slots,classic]", "flip-flop",
     {"pulse_duration": 60.0, "duration": 1000.0, "score_before_first_pulse": False, "pulse_prob": 0.2}),
    ("memory-anti-angle[fixed]", "memory-anti-angle", {"fixation": 200.0, "delay": 600.0}),
    ("memory-anti-number[dt 10]", "memory-anti-number", {"dt": 10.0, "recall": (200.0, 400.0)}),
    ("yang-multitask[subset,probs,timing]", "yang-multitask",
     {"rules": ("fdgo", "dmsgo", "delaydm1", "reactanti"), "rule_probs": (3.0, 1.0, 2.0, 1.0),
      "timing": {"delay1": ("choice", 200.0, 400.0), "stim1": (400.0, 800.0)}}),
    ("delaygo[dt 10,timing]", "delaygo",
     {"dt": 10.0, "timing": {"delay1": ("uniform", 300.0, 900.0), "fixation": 250.0}}),
    ("dm1[no noise,balanced]", "dm1", {"sigma_x": 0.0, "balance_response": True}),
    ("soo-a[all rules]", "soo-a", {"rules": nt.tasks.SooA.allowed_rules()}),
    ("soo-b[all rules]", "soo-b", {"rules": nt.tasks.SooB.allowed_rules()}),
    ("soo-c[all rules]", "soo-c", {"rules": nt.tasks.SooC.allowed_rules()}),
]

def cases():
    """``[(case id, registry name, parameters)]``: every registered task (at its defaults, or its
    registry ``example`` parameters), then :data:`EXTRA_CASES`."""
    out = [(name, name, TASKS.meta(name).get("example", {})) for name in TASKS.names()]
    return out + EXTRA_CASES


def digest(x) -> str:
    """SHA-256 of an array's dtype, shape and bytes."""
    a = np.ascontiguousarray(np.asarray(x))
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def fingerprint(batch) -> dict[str, str]:
    """``{"inputs": sha, "targets": sha, "mask": sha, "info.<key>": sha, ...}``."""
    out = {f: digest(getattr(batch, f)) for f in ("inputs", "targets", "mask")}
    out.update({f"info.{k}": digest(v) for k, v in sorted(batch.info.items())})
    return out


def fingerprints(task) -> dict[str, dict[str, str]]:
    """Fingerprints of ``task``'s jitted ``sample`` (as in a training step) at every key and batch size."""
    draw = jax.jit(task.sample, static_argnums=1)
    return {f"key={k},B={n}": fingerprint(draw(jax.random.PRNGKey(k), n)) for n in BATCH_SIZES for k in KEYS}


def build(name, params):
    return nt.tasks.make_task(name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()})


def main():
    result = {"about": __doc__.strip().splitlines()[0],
              "generated_with": {"jax": jax.__version__, "python": platform.python_version(),
                                 "machine": platform.machine(), "backend": jax.default_backend()},
              "keys": list(KEYS), "batch_sizes": list(BATCH_SIZES), "cases": {}}
    for case, name, params in cases():
        try:
            task = build(name, params)
        except ImportError as e:
            print(f"skipped {case}: {e}", file=sys.stderr)
            continue
        result["cases"][case] = {"name": name, "params": json.loads(json.dumps(params)),
                                 "batches": fingerprints(task)}
        print(case, file=sys.stderr)
    with open(PATH, "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
