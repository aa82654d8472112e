"""The timing engine (neurotrain.tasks.Timing / Period) and the tasks that use it."""

import collections
import json

import jax
import numpy as np
import pytest

import neurotrain as nt
from neurotrain import ConfigError
from neurotrain.tasks import (
    ContextDependentDecisionMaking,
    MemoryAntiNumber,
    PerceptualDecisionMaking,
    Period,
    Timing,
    make_task,
    task_from_config,
)
from neurotrain.tasks._timing import canonical_duration

KEY = jax.random.PRNGKey(0)


# --- the four forms -------------------------------------------------------------------------
@pytest.mark.parametrize("spec, kind, steps", [
    (200, "fixed", (10,)),
    (0.0, "fixed", (0,)),
    ((200, 600), "uniform", (10, 30)),                       # [200, 600] ms, both ends
    ([200.0, 200.0], "fixed", (10,)),                        # a range of one value is fixed
    (("uniform", 300, 700), "uniform", (15, 34)),            # Yang's [300, 700) ms
    (("uniform", 300, 320), "fixed", (15,)),
    (("choice", 200, 400, 800), "choice", (10, 20, 40)),
    (["choice", 400], "fixed", (20,)),
    (("choice", 200, 200, 400), "choice", (10, 10, 20)),     # a repeated value weighs double
])
def test_period_forms_in_steps(spec, kind, steps):
    p = Period.from_ms("delay", spec, dt=20.0)
    assert (p.kind, p.steps) == (kind, steps)
    assert p.min_steps == min(steps) and p.max_steps == max(steps)
    support = p.support()
    assert sum(q for _, q in support) == pytest.approx(1.0)
    assert {n for n, _ in support} == (set(range(steps[0], steps[1] + 1)) if kind == "uniform" else set(steps))


def test_canonical_forms_are_floats_and_tuples():
    assert canonical_duration("d", 200) == 200.0 and isinstance(canonical_duration("d", 200), float)
    assert canonical_duration("d", [100, 300]) == (100.0, 300.0)
    assert canonical_duration("d", ["uniform", 100, 300]) == ("uniform", 100.0, 300.0)
    assert canonical_duration("d", ("choice", 1, 2)) == ("choice", 1.0, 2.0)


@pytest.mark.parametrize("spec, message", [
    (210.0, r"delay=210.0 ms is not a multiple of dt=20.0 ms; use 200 or 220 ms"),
    ((200.0, 610.0), r"delay \(high\)=610.0 ms is not a multiple of dt=20.0 ms; use 600 or 620 ms"),
    ((190.0, 600.0), r"delay \(low\)=190.0 ms is not a multiple of dt=20.0 ms; use 180 or 200 ms"),
    (("uniform", 300, 710), r"delay \(high\)=710.0 ms is not a multiple of dt=20.0 ms; use 700 or 720"),
    (("choice", 200, 410), r"delay \(choice 2\)=410.0 ms is not a multiple of dt=20.0 ms; use 400 or 420"),
    ((600.0, 200.0), r"delay=\(600.0, 200.0\): the lower bound must not exceed the upper bound"),
    (("uniform", 600, 200), r"delay=\('uniform', 600, 200\): \('uniform', lo, hi\) draws from \[lo, hi\)"),
    (("uniform", 200, 200), r"needs lo < hi"),
    ((100, 200, 300), r"delay: a period duration must be a number of ms .*; got \(100, 200, 300\)"),
    (("choice",), r"a period duration must be"),
    ("200", r"a period duration must be"),
    (True, r"a period duration must be"),
    (-20.0, r"delay must be a finite number >= 0; got -20.0"),
    (float("nan"), r"delay must be a finite number >= 0; got nan"),
    ((0.0, float("inf")), r"delay \(high\) must be a finite number >= 0; got inf"),
])
def test_bad_durations_name_the_field_the_value_and_the_fix(spec, message):
    with pytest.raises(ConfigError, match=message):
        Period.from_ms("delay", spec, dt=20.0)


# --- a timing: T, bounds, draws ---------------------------------------------------------------
def test_timing_steps_bounds_and_checks():
    t = Timing.from_ms({"fixation": 100, "stimulus": (200, 400), "delay": ("choice", 0, 200), "go": 100},
                       dt=20.0)
    assert t.names == ("fixation", "stimulus", "delay", "go")
    assert t.num_steps == 5 + 20 + 10 + 5 and t.min_steps == 5 + 10 + 0 + 5 and not t.is_fixed
    assert t.step_ranges() == {"fixation": (5, 5), "stimulus": (10, 20), "delay": (0, 10), "go": (5, 5)}
    assert t["delay"].kind == "choice"
    with pytest.raises(KeyError):
        t["response"]
    with pytest.raises(ConfigError, match="stimulus, delay have jittered durations"):
        t.fixed_bounds()
    with pytest.raises(ConfigError, match="needs a PRNG key"):
        t.draw(None, 4)
    fixed = Timing.from_ms({"a": 40, "b": 0, "c": 60}, dt=20.0)
    assert fixed.is_fixed and fixed.fixed_bounds() == {"a": (0, 2), "b": (2, 2), "c": (2, 5)}
    with pytest.raises(ConfigError, match=r"gap=0.0 ms must last at least one step of dt=20.0 ms; use gap>=20"):
        Timing.from_ms({"a": 40, "b": 0.0}, dt=20.0, labels={"b": "gap"}, nonempty=("b",))


def test_draw_from_a_key_tiles_the_trial_with_the_right_distributions():
    t = Timing.from_ms({"fixation": 100, "stimulus": (200, 400), "delay": ("choice", 0, 200, 200), "go": 100},
                       dt=20.0)
    n = 6000
    b = {k: np.asarray(v) for k, v in jax.jit(t.draw, static_argnums=1)(KEY, n).items()}
    assert all(v.dtype == np.int32 and v.shape == (n,) for v in b.values())
    np.testing.assert_array_equal(b["fixation_on"], 0)
    for a, c in zip(t.names[:-1], t.names[1:]):
        np.testing.assert_array_equal(b[f"{a}_off"], b[f"{c}_on"])
    np.testing.assert_array_equal(b["go_off"], b["trial_off"])
    np.testing.assert_array_equal(b["fixation_off"], 5)
    stim = collections.Counter((b["stimulus_off"] - b["stimulus_on"]).tolist())
    assert set(stim) == set(range(10, 21))                           # both ends included
    assert max(stim.values()) / min(stim.values()) < 1.4             # ~545 each
    delay = collections.Counter((b["delay_off"] - b["delay_on"]).tolist())
    assert set(delay) == {0, 10} and delay[10] / n == pytest.approx(2 / 3, abs=0.03)
    assert b["trial_off"].max() <= t.num_steps
    # another key, other durations; the same key, the same ones
    again = {k: np.asarray(v) for k, v in t.draw(KEY, n).items()}
    np.testing.assert_array_equal(again["trial_off"], b["trial_off"])
    assert not np.array_equal(np.asarray(t.draw(jax.random.PRNGKey(1), n)["trial_off"]), b["trial_off"])


def test_durations_from_uniforms():
    t = Timing.from_ms({"pre": 0, "fix": ("uniform", 300, 700), "stim": ("choice", 200, 400, 600),
                        "go": (100, 140)}, dt=20.0)
    u = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.3, 0.5, 0.99999994], [0.0, 0.34, 0.67, 0.99999994],
                  [0.0, 0.3, 0.5, 0.99999994]], np.float32)                     # (periods, B)
    d = np.asarray(t.durations_from_uniforms(u))
    assert d.dtype == np.int32 and d.shape == (4, 4)
    np.testing.assert_array_equal(d[:, 0], 0)                                   # pre: 0 ms
    np.testing.assert_array_equal(d[:, 1], [15, 21, 25, 34])                    # [15, 35) steps
    np.testing.assert_array_equal(d[:, 2], [10, 20, 30, 30])
    np.testing.assert_array_equal(d[:, 3], [5, 5, 6, 7])                        # [5, 7] steps


# --- the tasks on the engine ------------------------------------------------------------------
def test_every_timed_task_accepts_every_form_and_round_trips():
    task = ContextDependentDecisionMaking(delay=("choice", 100, 300), fixation=("uniform", 200, 300))
    assert task.delay == ("choice", 100.0, 300.0)
    assert task.period_spec() == {"fixation": (10, 14), "stimulus": (40, 40), "delay": (5, 15),
                                  "decision": (5, 5)}
    assert task.num_steps() == 14 + 40 + 15 + 5
    info = {k: np.asarray(v) for k, v in jax.jit(task.sample, static_argnums=1)(KEY, 512).info.items()}
    assert set((info["delay_off"] - info["delay_on"]).tolist()) == {5, 15}
    assert set((info["fixation_off"] - info["fixation_on"]).tolist()) == set(range(10, 15))
    assert task_from_config(json.loads(json.dumps(task.config()))) == task
    m = MemoryAntiNumber(recall=[400, 400])                        # lists become tuples
    assert m.recall == (400.0, 400.0) and hash(m) == hash(MemoryAntiNumber(recall=(400, 400)))
    # the same timing forms in the Yang family's overrides
    ring = make_task("delaygo", timing={"delay1": ("choice", 1000, 2000)})
    assert ring.trial_timing()["delay1"].steps == (50, 100)
    assert ring.trial_timing().names == nt.tasks.PERIODS
    assert ring.num_steps() == ring.trial_timing().num_steps


def test_yang_rule_timings_are_yang_distributions():
    t = make_task("fdgo").trial_timing()
    assert t["fixation"] == Period("fixation", "uniform", (15, 34))             # U(300, 700) ms
    assert t["stim1"] == Period("stim1", "uniform", (25, 74))
    assert t["response"] == Period("response", "fixed", (25,)) and t["pre"].steps == (0,)
    d = make_task("delaydm1").trial_timing()
    assert d["delay1"] == Period("delay1", "choice", (10, 20, 40, 80))
    assert make_task("yang-multitask").num_steps() == max(make_task(r).num_steps() for r in nt.tasks.YANG_RULES)


def test_pdm_default_timing_is_fixed_and_unpadded():
    task = PerceptualDecisionMaking()
    assert task.trial_timing().is_fixed and task.num_steps() == 60
    b = task.sample(KEY, 4)
    assert "trial_off" not in b.info                               # every trial fills T steps
    np.testing.assert_array_equal(np.asarray(b.mask), 1.0)


def test_pdm_with_jittered_periods_pads_and_masks():
    task = PerceptualDecisionMaking(fixation=(100.0, 300.0), stimulus=("choice", 400.0, 800.0), sigma=0.0)
    T = task.num_steps()
    assert T == 15 + 40 + 0 + 5
    b = jax.jit(task.sample, static_argnums=1)(KEY, 512)
    x, y, m = np.asarray(b.inputs), np.asarray(b.targets), np.asarray(b.mask)
    info = {k: np.asarray(v) for k, v in b.info.items()}
    t = np.arange(T)[:, None]
    valid = t < info["trial_off"][None]
    assert set((info["stimulus_off"] - info["stimulus_on"]).tolist()) == {20, 40}
    assert set(info["fixation_off"].tolist()) == set(range(5, 16))
    assert (~valid).any()                                          # some trials are padded
    np.testing.assert_array_equal(m, valid.astype(np.float32))
    np.testing.assert_array_equal(x[~valid], 0.0)
    np.testing.assert_array_equal(y[~valid], 0)
    np.testing.assert_array_equal(x[..., 0], (t < info["decision_on"][None]).astype(np.float32))
    stim = (t >= info["stimulus_on"][None]) & (t < info["stimulus_off"][None])
    np.testing.assert_array_equal(x[..., 1] != 0, stim)
    dec = (t >= info["decision_on"][None]) & (t < info["decision_off"][None])
    np.testing.assert_array_equal(y, np.where(dec, 1 + info["ground_truth"][None], 0))
    assert task.score(10.0 * jax.nn.one_hot(b.targets, 3), b)["accuracy"] == 1.0
    with pytest.raises(ConfigError, match="fixation, stimulus have jittered durations"):
        task.period_bounds()
    # the analytic ideal observer averages over the stimulus durations
    noisy = PerceptualDecisionMaking(stimulus=("choice", 400.0, 800.0))
    short, long_ = PerceptualDecisionMaking(stimulus=400.0), PerceptualDecisionMaking(stimulus=800.0)
    assert noisy.ideal_accuracy(6.4) == pytest.approx((short.ideal_accuracy(6.4) + long_.ideal_accuracy(6.4)) / 2)
