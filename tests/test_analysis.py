"""Evaluation on fresh trials: overall, per condition, recorded activity."""

import brainstate
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.models import RNN, LeakyRNNCell
from neurotrain.tasks import PerceptualDecisionMaking


@pytest.fixture(scope="module")
def model():
    brainstate.random.seed(0)
    return RNN(LeakyRNNCell(3, 12, sigma_rec=0.1), num_out=3)


def test_evaluate_scores_per_condition_and_records(model):
    task = PerceptualDecisionMaking()
    ev = nt.analysis.evaluate(model, task, num_trials=300, seed=1, batch_size=128)
    assert ev.num_trials == 300
    assert ev.activity.shape == (60, 300, 12) and ev.outputs.shape == (60, 300, 3)
    assert ev.inputs.shape == (60, 300, 3) and ev.info["coherence"].shape == (300,)
    rows = ev.per_condition["coherence"]
    assert [r["coherence"] for r in rows] == pytest.approx([0, 6.4, 12.8, 25.6, 51.2])
    assert sum(r["n"] for r in rows) == 300
    # overall accuracy is the n-weighted mean of the per-condition accuracies
    assert ev.scores["accuracy"] == pytest.approx(sum(r["n"] * r["accuracy"] for r in rows) / 300)
    # the score agrees with the task's own scoring of the recorded outputs
    correct = ev.trial_metrics["accuracy"]
    assert correct.shape == (300,) and set(np.unique(correct)) <= {0.0, 1.0}
    assert ev.scores["ideal_accuracy"] > 0.75
    assert "coherence" in ev.table()


def test_evaluate_is_reproducible_and_noise_switch(model):
    task = PerceptualDecisionMaking()
    a = nt.analysis.evaluate(model, task, num_trials=50, seed=3)
    b = nt.analysis.evaluate(model, task, num_trials=50, seed=3)
    np.testing.assert_array_equal(a.activity, b.activity)
    c = nt.analysis.evaluate(model, task, num_trials=50, seed=3, noise=False)
    assert not np.array_equal(a.activity, c.activity)
    assert model.layers[0].noise is True  # switched back on afterwards
    with nt.models.noise_disabled(model):
        out, act = nt.analysis.run_trials(model, c.inputs)
    np.testing.assert_allclose(act, c.activity, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, c.outputs, rtol=1e-5, atol=1e-6)


def test_evaluate_errors(model):
    with pytest.raises(nt.ConfigError, match="num_trials must be an integer >= 1; got 0"):
        nt.analysis.evaluate(model, PerceptualDecisionMaking(), num_trials=0)
    with pytest.raises(nt.ConfigError, match="does not fit task 'copy'"):
        nt.analysis.evaluate(model, nt.tasks.Copy(), num_trials=5)


def test_evaluate_reuses_its_compiled_code_and_sees_new_weights():
    """A second evaluate of the same network and task does not recompile, yet it reads the
    current weights (and the noise setting), and the cache does not keep the model alive."""
    import gc
    import time
    import weakref

    import jax.numpy as jnp

    from neurotrain.analysis import _evaluate

    brainstate.random.seed(1)
    net = RNN(LeakyRNNCell(3, 8, sigma_rec=0.1), num_out=3)
    task = PerceptualDecisionMaking()
    a = nt.analysis.evaluate(net, task, num_trials=40, seed=2)
    t0 = time.perf_counter()
    b = nt.analysis.evaluate(net, task, num_trials=40, seed=2)
    again = time.perf_counter() - t0
    np.testing.assert_array_equal(a.outputs, b.outputs)
    assert len(_evaluate._CHUNK_CACHE[net]) == 1 and again < 1.0     # no recompilation (compiling takes seconds)
    net.readout.W.value = net.readout.W.value + 1.0                  # new weights, same code
    c = nt.analysis.evaluate(net, task, num_trials=40, seed=2)
    np.testing.assert_array_equal(a.activity, c.activity)
    assert not np.allclose(a.outputs, c.outputs)
    np.testing.assert_allclose(c.outputs - a.outputs,
                               jnp.einsum("tbh,ho->tbo", a.activity, jnp.ones_like(net.readout.W.value)),
                               rtol=1e-4, atol=1e-4)
    d = nt.analysis.evaluate(net, task, num_trials=40, seed=2, noise=False)   # a second entry
    assert len(_evaluate._CHUNK_CACHE[net]) == 2 and not np.array_equal(c.activity, d.activity)
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is None
