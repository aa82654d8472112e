"""The Yang et al. 2019 task family and the Soo et al. 2023 structures, against their definitions."""

import dataclasses
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain._errors import ConfigError
from neurotrain.tasks import (
    PERIODS,
    YANG_RULES,
    SooA,
    SooB,
    SooC,
    YangMultitask,
    make_task,
    popvec,
    ring_bump,
    task_from_config,
)

KEY = jax.random.PRNGKey(0)
N = 32
FIX, RING1, RING2, RULE = 0, slice(1, 1 + N), slice(1 + N, 1 + 2 * N), slice(1 + 2 * N, 1 + 2 * N + 20)
# boundary that ends the fixation input / stimulus windows per rule (Yang's task.py)
FIX_TO_END = {"reactgo", "reactanti", "dmsgo", "dmsnogo", "dmcgo", "dmcnogo"}


def circ(a, b):
    d = np.mod(np.asarray(a) - np.asarray(b), 2 * np.pi)
    return np.minimum(d, 2 * np.pi - d)


_JIT = {}


def sample(task, n, key=KEY):
    """``task.sample`` under jit (eager sampling compiles every primitive separately: slower)."""
    if (task, n) not in _JIT:
        _JIT[task, n] = jax.jit(task.sample, static_argnums=1)
    return _JIT[task, n](key, n)


def metrics(task, outputs, batch):
    if (task, "metrics") not in _JIT:
        _JIT[task, "metrics"] = jax.jit(task.trial_metrics)
    return {k: np.asarray(v) for k, v in _JIT[task, "metrics"](jnp.asarray(outputs), batch).items()}


def np_batch(task, n, key=KEY):
    b = sample(task, n, key)
    return (np.asarray(b.inputs), np.asarray(b.targets), np.asarray(b.mask),
            {k: np.asarray(v) for k, v in b.info.items()}, b)


@pytest.fixture(scope="module")
def mixed():
    """A noiseless batch with every rule, 1200 trials (about 60 per rule)."""
    task = YangMultitask(sigma_x=0.0)
    return task, np_batch(task, 1200)


# --- ring code -------------------------------------------------------------------------------
def test_ring_bump_peaks_at_the_stimulus_angle_and_decodes_back():
    for k in (0, 5, 16, 31):
        b = np.asarray(ring_bump(jnp.asarray(2 * np.pi * k / N), N))
        assert b.argmax() == k and b.max() == pytest.approx(0.8)
    b = np.asarray(ring_bump(jnp.asarray(0.0), N))
    assert b[1] == pytest.approx(0.8 * math.exp(-0.5 * ((2 * np.pi / N) / (np.pi / 8)) ** 2), rel=1e-5)
    np.testing.assert_allclose(b[1:], b[1:][::-1], rtol=1e-5)     # symmetric around the peak
    angles = jax.random.uniform(KEY, (500,), maxval=2 * np.pi)
    dec = popvec(0.05 + ring_bump(angles, N))
    assert circ(dec, angles).max() < 1e-3


def test_stimulus_inputs_peak_at_the_stimulus_angle(mixed):
    task, (x, _, _, info, _) = mixed
    t = info["stim1_on"]                     # first step of stimulus 1 (alone on the rings)
    one = [YANG_RULES.index(r) for r in ("fdgo", "delaygo", "fdanti", "delayanti", "dmsgo", "dmcnogo")]
    single = np.flatnonzero(np.isin(info["rule"], one))
    assert single.size > 50
    for b in single:
        ring = x[t[b], b, RING1] + x[t[b], b, RING2]
        k = int(np.argmax(ring))
        assert circ(2 * np.pi * k / N, info["stim1_loc"][b]) <= np.pi / N + 1e-6
        assert circ(popvec(jnp.asarray(ring)), info["stim1_loc"][b]) < 1e-3


# --- targets per rule ------------------------------------------------------------------------
def test_go_and_anti_targets(mixed):
    _, (_, y, _, info, _) = mixed
    for rule, shift in (("fdgo", 0.0), ("reactgo", 0.0), ("delaygo", 0.0),
                        ("fdanti", np.pi), ("reactanti", np.pi), ("delayanti", np.pi)):
        sel = np.flatnonzero(info["rule"] == YANG_RULES.index(rule))
        assert circ(info["target_loc"][sel], info["stim1_loc"][sel] + shift).max() < 1e-5, rule
        last = info["response_off"][sel] - 1
        assert circ(popvec(jnp.asarray(y[last, sel, 1:])), info["target_loc"][sel]).max() < 1e-3
        np.testing.assert_allclose(y[last, sel, 0], 0.05)                 # fixation released
        on = (info["stim1_mod1"][sel] > 0).astype(int) + (info["stim1_mod2"][sel] > 0)
        np.testing.assert_array_equal(on, 1)                               # exactly one modality
        np.testing.assert_array_equal(info["respond"][sel], 1.0)
    go = np.isin(info["rule"], np.arange(6))
    assert 0.35 < np.mean(info["stim1_mod1"][go] > 0) < 0.65


def test_dms_and_dmc_go_nogo(mixed):
    _, (_, y, _, info, _) = mixed
    r = info["rule"]
    for name in ("dmsgo", "dmsnogo", "dmcgo", "dmcnogo"):
        sel = r == YANG_RULES.index(name)
        l1, l2, match, respond = (info[k][sel] for k in ("stim1_loc", "stim2_loc", "match", "respond"))
        if name.startswith("dms"):
            same = circ(l1, l2) < 1e-6
            np.testing.assert_array_equal(match, same)
            assert circ(l1, l2)[~same].min() >= np.pi / 9 - 1e-5
        else:
            np.testing.assert_array_equal(match, (l1 < np.pi) == (l2 < np.pi))
        go_on_match = name.endswith("go") and not name.endswith("nogo")
        np.testing.assert_array_equal(respond, match if go_on_match else 1 - match)
        assert 0 < match.sum() < match.size
        # no-go trials: fixate to the end, ring silent; go trials: target at the second stimulus
        for b in np.flatnonzero(sel):
            end, go = info["response_off"][b], info["response_on"][b]
            if info["respond"][b]:
                assert circ(info["target_loc"][b], info["stim2_loc"][b]) < 1e-6
                assert y[end - 1, b, 0] == pytest.approx(0.05)
            else:
                assert info["target_loc"][b] == -1
                np.testing.assert_allclose(y[go:end, b, 0], 0.8)
                np.testing.assert_allclose(y[:end, b, 1:], 0.05)


def test_dm_targets_the_stronger_stimulus_and_context_the_cued_modality(mixed):
    _, (_, _, _, info, _) = mixed
    r = info["rule"]
    s11, s12, s21, s22 = (info[k] for k in ("stim1_mod1", "stim1_mod2", "stim2_mod1", "stim2_mod2"))
    stronger_is_1 = {
        "dm1": s11 > s21, "delaydm1": s11 > s21, "dm2": s12 > s22, "delaydm2": s12 > s22,
        "contextdm1": s11 > s21, "contextdelaydm1": s11 > s21,
        "contextdm2": s12 > s22, "contextdelaydm2": s12 > s22,
        "multidm": s11 + s12 > s21 + s22, "multidelaydm": s11 + s12 > s21 + s22,
    }
    for name, first in stronger_is_1.items():
        sel = r == YANG_RULES.index(name)
        want = np.where(first[sel], info["stim1_loc"][sel], info["stim2_loc"][sel])
        assert circ(info["target_loc"][sel], want).max() < 1e-6, name
        d = circ(info["stim1_loc"][sel], info["stim2_loc"][sel])
        assert d.min() >= 0.5 * np.pi - 1e-5
        if name in ("dm1", "delaydm1"):
            np.testing.assert_array_equal(s12[sel], 0.0)
            np.testing.assert_array_equal(s22[sel], 0.0)
        if name in ("dm2", "delaydm2"):
            np.testing.assert_array_equal(s11[sel], 0.0)
    # context rules: the other modality often disagrees, and is ignored
    sel = np.isin(r, [YANG_RULES.index("contextdm1"), YANG_RULES.index("contextdelaydm1")])
    disagree = (s11[sel] > s21[sel]) != (s12[sel] > s22[sel])
    assert disagree.sum() >= 5
    # coherences are Yang's
    dm = np.isin(r, [YANG_RULES.index(n) for n in ("dm1", "dm2", "contextdm1", "contextdm2", "multidm")])
    np.testing.assert_allclose(np.unique(info["coherence"][dm]), [0.01, 0.02, 0.04, 0.08], rtol=1e-6)
    ddm = np.isin(r, [YANG_RULES.index(n) for n in ("delaydm1", "delaydm2", "multidelaydm")])
    np.testing.assert_allclose(np.unique(info["coherence"][ddm]), [0.08, 0.16, 0.32], rtol=1e-6)


# --- timing, inputs and mask -----------------------------------------------------------------
def test_yang_timing_distributions(mixed):
    _, (_, _, _, info, _) = mixed
    dur = {p: info[f"{p}_off"] - info[f"{p}_on"] for p in PERIODS}
    np.testing.assert_array_equal(dur["pre"], 0)
    sel = np.isin(info["rule"], [YANG_RULES.index("delaygo"), YANG_RULES.index("delayanti")])
    assert set(dur["fixation"][sel]) == {15, 25, 35}
    assert set(dur["stim1"][sel]) == {10, 20, 30}
    assert set(dur["delay1"][sel]) == {10, 20, 40, 80}
    assert set(dur["response"][sel]) == {25}
    sel = np.isin(info["rule"], [YANG_RULES.index("fdgo"), YANG_RULES.index("fdanti")])
    fix, stim = dur["fixation"][sel], dur["stim1"][sel]
    assert fix.min() >= 15 and fix.max() <= 34 and len(set(fix)) > 12       # U(300, 700) ms
    assert stim.min() >= 25 and stim.max() <= 74 and len(set(stim)) > 30     # U(500, 1500) ms
    sel = np.isin(info["rule"], [YANG_RULES.index("dmcgo"), YANG_RULES.index("dmcnogo")])
    assert set(dur["response"][sel]) == {10, 20, 30}
    sel = info["rule"] == YANG_RULES.index("delaydm1")
    assert set(dur["delay2"][sel]) <= set(range(5, 15)) and set(dur["stim2"][sel]) == {10, 20, 30}


def test_period_boundaries_match_the_inputs(mixed):
    task, (x, _, _, info, _) = mixed
    T = task.num_steps()
    t = np.arange(T)
    for b in range(x.shape[1]):
        rule = YANG_RULES[info["rule"][b]]
        on = {p: info[f"{p}_on"][b] for p in PERIODS}
        off = {p: info[f"{p}_off"][b] for p in PERIODS}
        end = off["response"]
        fix_off = end if rule in FIX_TO_END else on["response"]
        np.testing.assert_array_equal(x[:, b, FIX], (t >= on["fixation"]) & (t < fix_off))
        np.testing.assert_array_equal(x[:, b, RULE].argmax(-1)[:end], info["rule"][b])
        np.testing.assert_array_equal(x[:end, b, RULE].sum(-1), 1.0)
        np.testing.assert_array_equal(x[end:, b], 0.0)                       # padding
        shown = np.abs(x[:, b, RING1]).sum(-1) + np.abs(x[:, b, RING2]).sum(-1) > 0
        if rule in ("reactgo", "reactanti"):
            want = t >= on["response"]
        elif rule in ("fdgo", "fdanti"):
            want = t >= on["stim1"]
        elif rule.startswith(("dms", "dmc")):
            want = ((t >= on["stim1"]) & (t < off["stim1"])) | (t >= on["response"])
        elif "delaydm" in rule:
            want = ((t >= on["stim1"]) & (t < off["stim1"])) | ((t >= on["stim2"]) & (t < off["stim2"]))
        else:
            want = (t >= on["stim1"]) & (t < off["stim1"])
        np.testing.assert_array_equal(shown, want & (t < end), err_msg=rule)
        for p in PERIODS[:-1]:
            assert off[p] == on[PERIODS[PERIODS.index(p) + 1]]


def test_mask_yang_weights(mixed):
    _, (_, y, m, info, _) = mixed
    T = m.shape[0]
    for b in range(m.shape[1]):
        go, end = info["response_on"][b], info["response_off"][b]
        w = m[:, b, 1]
        np.testing.assert_array_equal(w[:5], 0.0)                 # first 100 ms unscored
        np.testing.assert_array_equal(w[5:go], 1.0)
        np.testing.assert_array_equal(w[go:go + 5], 0.0)          # 100 ms grace after the go cue
        np.testing.assert_array_equal(w[go + 5:end], 5.0)         # response weighted 5x
        np.testing.assert_array_equal(w[end:], 0.0)               # padding
        np.testing.assert_array_equal(m[:, b, 0], 2.0 * w)        # fixation output counts double
        np.testing.assert_array_equal(m[:, b, 1:], np.broadcast_to(w[:, None], (T, N)))
        np.testing.assert_array_equal(y[end:, b], 0.0)


def test_input_noise_is_yang_scaled_and_absent_on_padding():
    task = make_task("delaydm1")                        # sigma_x = 0.01, dt = 20, tau = 100
    x, y, _, info, batch = np_batch(task, 256)
    valid = np.arange(x.shape[0])[:, None] < info["response_off"][None]
    # the fixation and rule inputs are exactly 0/1 without noise
    clean = np.concatenate([x[..., :1].round(), np.broadcast_to(np.eye(20)[info["rule"]], (x.shape[0], 256, 20))], -1)
    noise = np.concatenate([x[..., :1], x[..., RULE]], -1) - clean
    assert noise[valid].std() == pytest.approx(0.01 * math.sqrt(2 / 0.2), rel=0.02)
    assert abs(noise[valid].mean()) < 1e-3
    np.testing.assert_array_equal(x[~valid], 0.0)
    np.testing.assert_array_equal(y[~valid], 0.0)
    # the matched-filter observer is not limited by this noise (Yang's coherences are large
    # enough); with 100x more noise it errs, more at low coherence
    ideal_fn = jax.jit(task.ideal_observer)
    assert np.asarray(ideal_fn(batch)["perf"]).mean() > 0.99
    loud = dataclasses.replace(batch, inputs=batch.inputs + jax.random.normal(KEY, batch.inputs.shape))
    ideal = np.asarray(ideal_fn(loud)["perf"])
    lo, hi = ideal[info["coherence"] < 0.1].mean(), ideal[info["coherence"] > 0.3].mean()
    assert 0.6 < lo < 0.95 and hi > 0.97


@pytest.mark.parametrize("name", ["fdgo", "yang-multitask"])
def test_input_noise_on_every_channel_has_yang_sd_zero_mean_and_no_padding(name):
    # The noise comes from its own key bits, so the same key without noise gives the clean
    # inputs and the difference is the noise itself, on every channel.
    task = make_task(name)
    x, _, _, info, _ = np_batch(task, 256)
    x0, _, _, info0, _ = np_batch(dataclasses.replace(task, sigma_x=0.0), 256)
    for k in info:
        np.testing.assert_array_equal(info[k], info0[k])
    noise = (x - x0).astype(np.float64)
    valid = np.arange(x.shape[0])[:, None] < info["response_off"][None]
    np.testing.assert_array_equal(noise[~valid], 0.0)
    np.testing.assert_array_equal(x[~valid], 0.0)
    v = noise[valid]                                              # (valid steps, 85)
    sd = 0.01 * math.sqrt(2 * 100.0 / 20.0)                       # sigma_x sqrt(2 tau / dt)
    assert v.std() == pytest.approx(sd, rel=0.005)
    assert abs(v.mean()) < 4 * sd / math.sqrt(v.size)
    np.testing.assert_allclose(v.std(0), sd, rtol=0.05)          # each channel
    assert abs(v.mean(0)).max() < 5 * sd / math.sqrt(v.shape[0])


def test_standard_normal_is_iid_standard_normal():
    from neurotrain.tasks._noise import standard_normal

    shape = (209, 64, 85)
    draw = jax.jit(standard_normal, static_argnums=1)
    z32 = draw(KEY, shape)
    assert z32.dtype == jnp.float32 and z32.shape == shape
    np.testing.assert_array_equal(np.asarray(draw(KEY, shape)), np.asarray(z32))   # same key, same values
    z = np.asarray(z32).astype(np.float64)
    z2 = np.asarray(draw(jax.random.PRNGKey(1), shape)).astype(np.float64)
    x, n = z.ravel(), z.size
    assert abs(x.mean()) < 4 / math.sqrt(n)
    assert x.var() == pytest.approx(1.0, abs=4 * math.sqrt(2 / n))
    assert abs(np.mean(x ** 3)) < 4 * math.sqrt(15 / n)                     # skewness
    assert np.mean(x ** 4) == pytest.approx(3.0, abs=4 * math.sqrt(96 / n))  # kurtosis
    # the CDF at a few points and the tails, against Phi
    for a, phi in ((-2.0, 0.02275013), (-1.0, 0.15865525), (0.0, 0.5), (0.5, 0.69146246), (1.5, 0.93319280)):
        assert np.mean(x < a) == pytest.approx(phi, abs=4 * math.sqrt(phi * (1 - phi) / n))
    p3, p4 = 2.6997960e-3, 6.3342484e-5                                      # P(|z| > 3), P(|z| > 4)
    assert np.mean(np.abs(x) > 3) == pytest.approx(p3, abs=4 * math.sqrt(p3 / n))
    assert np.mean(np.abs(x) > 4) == pytest.approx(p4, abs=4 * math.sqrt(p4 / n))
    # no correlation between neighbours (channel, time, trial), between keys, or of squares
    lim = 4 / math.sqrt(n)
    for a, b in ((z[..., 1:], z[..., :-1]), (z[1:], z[:-1]), (z[:, 1:], z[:, :-1]), (z, z2),
                 (z[..., 1:] ** 2, z[..., :-1] ** 2)):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < lim


# --- performance -----------------------------------------------------------------------------
def test_perf_is_one_for_the_ideal_output_and_zero_when_broken(mixed):
    task, (_, y, _, info, batch) = mixed
    B = y.shape[1]
    rows = np.arange(B)
    m = metrics(task, y, batch)
    np.testing.assert_array_equal(m["perf"], 1.0)
    np.testing.assert_array_equal(np.asarray(jax.jit(task.ideal_observer)(batch)["perf"]), 1.0)   # no noise
    # a fixation break before the go cue (after the unscored 100 ms) makes any trial wrong
    broken = y.copy()
    t_break = (info["fixation_on"] + 5 + info["response_on"]) // 2
    ok = t_break < info["response_on"]
    broken[t_break, rows, 0] = 0.3
    p = metrics(task, broken, batch)["perf"]
    np.testing.assert_array_equal(p[ok], 0.0)
    # ...but not in the first 100 ms, which are not scored
    early = y.copy()
    early[info["fixation_on"] + 2, rows, 0] = 0.0
    np.testing.assert_array_equal(metrics(task, early, batch)["perf"], 1.0)
    # response off by more / less than 0.2 pi at the last step
    go = info["respond"] > 0
    last = info["response_off"] - 1
    for shift, want in ((0.25 * np.pi, 0.0), (-0.22 * np.pi, 0.0), (0.15 * np.pi, 1.0)):
        out = y.copy()
        out[last[go], rows[go], 1:] = 0.05 + np.asarray(ring_bump(jnp.asarray(info["target_loc"][go] + shift), N))
        p = metrics(task, out, batch)["perf"]
        np.testing.assert_array_equal(p[go], want)
        np.testing.assert_array_equal(p[~go], 1.0)
    # no-go trials: releasing fixation in the response period is an error
    out = y.copy()
    out[last, rows, 0] = 0.05
    p = metrics(task, out, batch)["perf"]
    np.testing.assert_array_equal(p[~go], 0.0)
    np.testing.assert_array_equal(p[go], 1.0)
    # a go trial that keeps fixating is wrong
    out = y.copy()
    out[last, rows, 0] = 0.8
    np.testing.assert_array_equal(metrics(task, out, batch)["perf"][go], 0.0)
    assert (~go).sum() > 20 and go.sum() > 400


# --- mixing (purity and jit: tests/test_task_contract.py) ------------------------------------
def test_multitask_mixes_rules_in_proportion(mixed):
    _, (_, _, _, info, _) = mixed
    counts = np.bincount(info["rule"], minlength=20)
    assert (counts > 10).all()                                  # all 20 rules, ~30 each
    task = YangMultitask(rules=("dm1", "delayanti"), rule_probs=(3, 1), sigma_x=0.0)
    _, _, _, info, _ = np_batch(task, 4000)
    r = info["rule"]
    assert set(np.unique(r)) == {YANG_RULES.index("dm1"), YANG_RULES.index("delayanti")}
    assert np.mean(r == YANG_RULES.index("dm1")) == pytest.approx(0.75, abs=0.025)
    assert task.condition_keys == ("rule",) and task.rule_probs == (0.75, 0.25)
    assert task.num_steps() == max(make_task("dm1").num_steps(), make_task("delayanti").num_steps())


def test_evaluate_reports_performance_per_rule():
    import brainstate

    brainstate.random.seed(0)
    task = YangMultitask(rules=("fdgo", "dmsnogo"))
    model = nt.models.build_model("leaky", task.num_in, 8, task.num_out, tau=100.0, dt=task.dt)
    ev = nt.analysis.evaluate(model, task, num_trials=64, seed=0)
    rows = ev.per_condition["rule"]
    assert [r["rule"] for r in rows] == [YANG_RULES.index("fdgo"), YANG_RULES.index("dmsnogo")]
    assert sum(r["n"] for r in rows) == 64 and 0.0 <= ev.scores["perf"] <= 1.0


# --- Soo et al. 2023 structures --------------------------------------------------------------
def test_soo_structures_timing_inputs_and_mask():
    A = SooA(rules=("go", "rtgo", "dm1"))
    assert A.rules == ("fdgo", "reactgo", "dm1") and A.dt == 5.0 and A.sigma_x == 0.0
    x, y, m, info, _ = np_batch(A, 300)
    dur = {p: info[f"{p}_off"] - info[f"{p}_on"] for p in PERIODS}
    np.testing.assert_array_equal(dur["pre"], 200)                             # 1 s lead-in
    for p in ("fixation", "stim1"):
        assert dur[p].min() >= 80 and dur[p].max() <= 119 and len(set(dur[p])) > 30   # 0.5 +- 0.1 s
    np.testing.assert_array_equal(dur["response"], 100)
    np.testing.assert_array_equal(dur["delay1"], 0)
    t = np.arange(A.num_steps())
    for b in range(40):
        rule = YANG_RULES[info["rule"][b]]
        on, off = info["fixation_on"][b], info["response_off"][b]
        go = info["response_on"][b]
        np.testing.assert_array_equal(x[:on, b, :1 + 2 * N], 0.0)              # rule only in the lead-in
        assert x[:on, b, RULE].sum(-1).min() == 1.0
        shown = np.abs(x[:, b, 1:1 + 2 * N]).sum(-1) > 0
        if rule == "reactgo":
            np.testing.assert_array_equal(shown, (t >= go) & (t < off))
            np.testing.assert_array_equal(x[:, b, FIX], (t >= on) & (t < off))
        else:   # Soo: stimuli only during their own period
            np.testing.assert_array_equal(shown, (t >= info["stim1_on"][b]) & (t < info["stim1_off"][b]))
            np.testing.assert_array_equal(x[:, b, FIX], (t >= on) & (t < go))
        w = m[:, b, 0]
        np.testing.assert_array_equal(w[:on + 40], 0.0)                        # lead-in + 200 ms wait
        np.testing.assert_array_equal(w[on + 40:go], 1.0)
        np.testing.assert_array_equal(w[go:go + 40], 0.0)                      # 200 ms grace
        n_pre, n_post = go - on - 40, off - go - 40
        np.testing.assert_allclose(w[go + 40:off], n_pre / n_post, rtol=1e-6)  # balanced
        np.testing.assert_array_equal(m[:, b, 1], w)                           # no extra fixation weight
        assert y[on, b, 0] == pytest.approx(0.85)
    B = SooB()
    _, _, _, info, _ = np_batch(B, 200)
    d = info["delay1_off"] - info["delay1_on"]
    assert B.rules == ("delaygo",) and d.min() >= 180 and d.max() <= 219
    C = SooC(rules=("dnms", "dlydm1"))
    assert C.rules == ("dmsnogo", "delaydm1")
    x, y, _, info, batch = np_batch(C, 200)
    assert (info["stim2_off"] - info["stim2_on"]).min() >= 80
    sel = info["rule"] == YANG_RULES.index("dmsnogo")
    np.testing.assert_array_equal(info["respond"][sel], 1 - info["match"][sel])
    m = metrics(C, y, batch)
    np.testing.assert_array_equal(m["perf"], 1.0)
    np.testing.assert_allclose(m["soo_perf"], 1.0)


def test_soo_rejects_rules_of_another_structure():
    with pytest.raises(ConfigError, match="unknown rule 'delaygo'"):
        SooA(rules=("delaygo",))
    with pytest.raises(ConfigError, match="unknown rule"):
        SooC(rules=("fdgo",))


# --- config and registry ---------------------------------------------------------------------
def test_registry_config_roundtrip_and_errors():
    assert type(make_task("yang-dmcnogo")).__name__ == "DMCNoGo"
    assert type(make_task("soo-b")).__name__ == "SooB"
    task = make_task("delaygo", timing={"delay1": ["choice", 1000, 2000], "stim1": [100, 300]}, dt=10.0)
    assert task.timing == (("delay1", ("choice", 1000.0, 2000.0)), ("stim1", (100.0, 300.0)))
    again = task_from_config(json.loads(json.dumps(task.config())))
    assert again == task and hash(again) == hash(task)
    multi = YangMultitask(rules=("dm1", "fdgo"), rule_probs=(1, 3), timing={"stim1": ("uniform", 400, 800)})
    assert task_from_config(json.loads(json.dumps(multi.config()))) == multi
    _, _, _, info, _ = np_batch(task, 400)
    assert set(info["delay1_off"] - info["delay1_on"]) == {100, 200}
    assert set(info["stim1_off"] - info["stim1_on"]) == set(range(10, 31))    # [100, 300] ms inclusive
    with pytest.raises(ConfigError, match=r"fdgo timing\['fixation'\] \(high\)=700.* not a multiple of dt=30"):
        make_task("fdgo", dt=30.0, mask_start=0.0, grace=0.0)
    with pytest.raises(ConfigError, match="a period duration must be"):
        make_task("fdgo", timing={"stim1": (300, 200, 100)})
    with pytest.raises(ConfigError, match="period 'delay2'"):
        make_task("fdgo", timing={"delay2": 100})
    with pytest.raises(ConfigError, match="grace"):
        make_task("dmcgo", grace=200.0)
    with pytest.raises(ConfigError, match="mask_start=50"):
        make_task("dm1", mask_start=50.0)
    with pytest.raises(ConfigError, match="rule_probs"):
        YangMultitask(rules=("dm1", "dm2"), rule_probs=(1.0,))
    with pytest.raises(ConfigError, match="unknown rule"):
        YangMultitask(rules=("dm3",))
