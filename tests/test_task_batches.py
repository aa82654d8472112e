"""Every task draws the same bits as when ``tests/data/task_batches.json`` was written.

The fixture holds a SHA-256 of every array of batches drawn by jitted ``task.sample`` (as in a
training step) from every registered task, each Yang rule, Soo A/B/C and a few non-default
configurations (see ``tests/task_batches.py``, which also regenerates it). A refactor of
the tasks must keep them all: the default training run (PDM) and every recipe depend on them.

The bits are those of XLA on the CPU: on another backend the test is skipped. The default run
checks the cases of :data:`DEFAULT_CASES`; CI's slow stage checks them all.
"""

import json

import jax
import pytest
from task_batches import PATH, build, fingerprints

with open(PATH) as f:
    FIXTURE = json.load(f)

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu",
                                reason="the fixture holds the CPU's bits")


#: checked in the default run (the default run's task and the tasks of the README's recipes); the
#: other cases, every registered task and configuration, in the slow stage (``pytest -m slow``)
DEFAULT_CASES = ("perceptual-decision-making", "copy", "integrator", "context-dependent-decision-making",
                 "n-bit-flip-flop", "soo-b")


@pytest.mark.parametrize("case", [c if c in DEFAULT_CASES else pytest.param(c, marks=pytest.mark.slow)
                                  for c in FIXTURE["cases"]])
def test_batches_are_bit_identical_to_the_fixture(case):
    entry = FIXTURE["cases"][case]
    try:
        task = build(entry["name"], entry["params"])
    except ImportError as e:   # the neurogym adapter without neurogym
        pytest.skip(str(e))
    got = fingerprints(task)
    assert set(got) == set(entry["batches"])
    for draw, want in entry["batches"].items():
        assert sorted(got[draw]) == sorted(want), f"{case} {draw}: the batch has other fields"
        changed = [k for k in want if got[draw][k] != want[k]]
        assert not changed, (f"{case} {draw}: {', '.join(changed)} differ from the fixture "
                             f"(generated with {FIXTURE['generated_with']})")
