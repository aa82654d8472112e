"""The Task / TrialBatch contract (DESIGN.md section 4), checked on every registered task.

The tests iterate the task registry, so a newly registered task is checked without being
listed here. Each task is built at its defaults; a task without usable defaults (the
adapters) declares working parameters as registry metadata ``example=``. What is checked:
shapes and dtypes of a batch; zero inputs, targets and mask on padding; purity (same key,
same batch, also eagerly; another key, another batch); no retrace of the jitted sampler;
period boundaries ordered, within the trial, and tiling it for the tasks that declare their
``periods``; the declared cue inputs (``input_cues``) on exactly in their windows; condition
values inside the task's grid; a perfect score for outputs equal to the targets; and the
config round trip through :func:`neurotrain.tasks.task_from_config`.
"""

import collections
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.tasks._registry import TASKS

B = 8
KEY = jax.random.PRNGKey(0)
NAMES = TASKS.names()
TRACES = collections.Counter()
_CACHE = {}


def _setup(name):
    """``(task, jitted sampler, batch at KEY)`` for the registered ``name``, built once."""
    if name not in _CACHE:
        try:
            task = nt.tasks.make_task(name, **TASKS.meta(name).get("example", {}))
        except ImportError as e:        # an adapter's optional dependency (neurogym)
            _CACHE[name] = e
        else:
            def sample(key, n, task=task):
                TRACES[name] += 1       # runs only while tracing
                return task.sample(key, n)

            draw = jax.jit(sample, static_argnums=1)
            _CACHE[name] = (task, draw, _np(draw(KEY, B)))
    if isinstance(_CACHE[name], ImportError):
        pytest.skip(str(_CACHE[name]))
    return _CACHE[name]


def _np(batch):
    return {"inputs": np.asarray(batch.inputs), "targets": np.asarray(batch.targets),
            "mask": np.asarray(batch.mask), "info": {k: np.asarray(v) for k, v in batch.info.items()}}


def _trial_end(task, info):
    """Each trial's end ``(B,)``: ``info["trial_off"]``, else the end of the last declared period."""
    if "trial_off" in info:
        return info["trial_off"]
    if task.periods:
        return info[f"{task.periods[-1]}_off"]
    return None


def _window(T, on, off):
    t = np.arange(T)[:, None]
    return (t >= on[None]) & (t < off[None])


#: the tasks whose jit/retrace check runs by default (each compiles a sampler twice: the others
#: run in the slow stage); every other contract test runs over every registered task
QUICK = {"perceptual-decision-making", "copy", "integrator", "n-bit-flip-flop", "soo-b", "rule-reversal"}


def test_every_registered_task_is_checked():
    assert len(NAMES) >= 30 and {"perceptual-decision-making", "fdgo", "soo-c", "cogtask"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_dtypes(name):
    task, _, b = _setup(name)
    T = task.num_steps()
    assert isinstance(T, int) and T >= 1
    x, y, m = b["inputs"], b["targets"], b["mask"]
    assert x.shape == (T, B, task.num_in) and x.dtype == np.float32
    if task.target_type == "class":
        assert y.shape == (T, B) and y.dtype == np.int32
        assert y.min() >= 0 and y.max() < task.num_out
    else:
        assert task.target_type == "value"
        assert y.shape == (T, B, task.num_out) and y.dtype == np.float32
    assert m.shape in ((T, B), (T, B, task.num_out)) and m.dtype == np.float32
    assert np.all(m >= 0) and m.sum() > 0
    assert b["info"], "info holds at least the trial conditions"
    for k, v in b["info"].items():
        assert v.shape == (B,), k
        assert v.dtype in (np.int32, np.float32), (k, v.dtype)
    assert all(np.isfinite(a).all() for a in (x, y, m, *b["info"].values()))


@pytest.mark.parametrize("name", NAMES)
def test_padding_is_zero_and_unscored(name):
    task, _, b = _setup(name)
    end = _trial_end(task, b["info"])
    T = task.num_steps()
    if end is None:
        pytest.skip(f"{name} has no padding: every trial fills the {T} steps")
    assert end.min() >= 1 and end.max() <= T
    pad = np.arange(T)[:, None] >= end[None]                       # (T, B)
    assert np.all(b["mask"][pad] == 0)
    assert np.all(b["inputs"][pad] == 0)
    assert np.all(b["targets"][pad] == 0)


@pytest.mark.parametrize("name", [n if n in QUICK else pytest.param(n, marks=pytest.mark.slow) for n in NAMES])
def test_sampling_is_pure_and_jit_does_not_retrace(name):
    task, draw, b = _setup(name)
    again = _np(draw(jax.random.PRNGKey(0), B))
    other = _np(draw(jax.random.PRNGKey(1), B))
    draw(jax.random.PRNGKey(2), B)
    assert TRACES[name] == 1, "a new key must not retrace the jitted sampler"
    for f in ("inputs", "targets", "mask"):
        np.testing.assert_array_equal(again[f], b[f])
    for k in b["info"]:
        np.testing.assert_array_equal(again["info"][k], b["info"][k])
    leaves = lambda d: [d["inputs"], d["targets"], *d["info"].values()]  # noqa: E731
    assert any(not np.array_equal(u, v) for u, v in zip(leaves(b), leaves(other))), \
        "another key must draw other trials"
    # eager sampling draws the same trials (no hidden state, no host randomness)
    eager = _np(task.sample(KEY, B))
    for f in ("inputs", "targets", "mask"):
        np.testing.assert_allclose(eager[f], b[f], rtol=1e-5, atol=1e-6)
    for k in b["info"]:
        np.testing.assert_allclose(eager["info"][k], b["info"][k], rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_period_boundaries_are_ordered_and_tile_the_trial(name):
    task, _, b = _setup(name)
    info, T = b["info"], task.num_steps()
    pairs = [k[:-3] for k in info if k.endswith("_on") and f"{k[:-3]}_off" in info]
    assert pairs or not task.periods
    for p in pairs:
        on, off = info[f"{p}_on"], info[f"{p}_off"]
        assert on.dtype == off.dtype == np.int32, p
        assert np.all(0 <= on) and np.all(on <= off) and np.all(off <= T), p
    if task.periods:
        ps = task.periods
        assert all(f"{p}_on" in info and f"{p}_off" in info for p in ps)
        np.testing.assert_array_equal(info[f"{ps[0]}_on"], 0)
        for a, c in zip(ps[:-1], ps[1:]):
            np.testing.assert_array_equal(info[f"{a}_off"], info[f"{c}_on"], err_msg=f"{a} -> {c}")
        if "trial_off" in info:
            np.testing.assert_array_equal(info[f"{ps[-1]}_off"], info["trial_off"])
        else:
            assert np.all(info[f"{ps[-1]}_off"] <= T)


@pytest.mark.parametrize("name", [n for n in NAMES if TASKS.get(n).input_cues])
def test_cue_inputs_are_on_exactly_in_their_periods(name):
    task, _, b = _setup(name)
    cues = task.input_cues
    assert cues
    for ch, (on, off) in cues.items():
        assert 0 <= ch < task.num_in
        want = _window(task.num_steps(), b["info"][on], b["info"][off])
        np.testing.assert_array_equal(b["inputs"][..., ch] != 0, want, err_msg=f"input {ch}: [{on}, {off})")


@pytest.mark.parametrize("name", NAMES)
def test_condition_values_lie_in_the_grid(name):
    task, _, b = _setup(name)
    assert set(task.condition_keys) <= set(b["info"])
    grid = task.conditions()
    assert set(grid) <= set(task.condition_keys)
    for k, values in grid.items():
        allowed = set(np.float32(values).tolist()) | set(values)
        assert set(b["info"][k].tolist()) <= allowed, k


@pytest.mark.parametrize("name", NAMES)
def test_outputs_equal_to_the_targets_score_perfectly(name):
    task, draw, _ = _setup(name)
    batch = draw(KEY, B)
    if task.target_type == "class":
        outputs = 10.0 * jax.nn.one_hot(batch.targets, task.num_out)
    else:
        outputs = batch.targets
    s = task.score(outputs, batch)
    assert task.primary_metric in s and all(math.isfinite(v) for v in s.values())
    best = 1.0 if task.higher_is_better else 0.0
    assert s[task.primary_metric] == pytest.approx(best, abs=1e-6)
    with pytest.raises(nt.ShapeError, match="outputs must have shape"):
        task.score(jnp.zeros((task.num_steps(), B, task.num_out + 1)), batch)


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips_through_task_from_config(name):
    task, _, _ = _setup(name)
    cfg = json.loads(json.dumps(task.config()))
    assert cfg["name"] == name == task.name
    again = nt.tasks.task_from_config(cfg)
    assert type(again) is type(task) and again.config() == cfg
    if type(task).__eq__ is not object.__eq__:      # dataclass equality (not the adapters)
        assert again == task and hash(again) == hash(task)
    assert again.num_steps() == task.num_steps()
