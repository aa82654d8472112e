"""Populations: K networks in one compiled step give what K separate runs give."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import brainstate
import braintools
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.training import DRTRL, EarlyStopping, Population, Trainer

TASK = nt.tasks.PerceptualDecisionMaking()


def build(seed, num_rec=10, **kw):
    brainstate.random.seed(seed)
    return nt.models.build_model("leaky", num_rec=num_rec, task=TASK, **kw)


def values(model):
    return {k: np.asarray(v.value) for k, v in model.states(brainstate.ParamState).items()}


def separate(seed, steps, lr=1e-2, **settings):
    model = build(seed, **settings.pop("cell", {}))
    res = nt.train(model, TASK, braintools.optim.Adam(lr), num_steps=steps, batch_size=8, seed=seed,
                   **settings)
    return model, res


def assert_same_network(net, model, rtol=2e-5, atol=2e-6):
    """Same values within float rounding: mapping over networks turns matrix products into
    batched ones, whose sums may run in another order."""
    got, want = values(net), values(model)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=str(k))


# --- the specification ---------------------------------------------------------------------------
def test_population_specs_and_their_errors():
    assert Population.of(3, seed=5).seeds == (5, 6, 7)
    grid = Population.grid(seeds=(0, 1), lr=(1e-3, 1e-2), l2=(0.0, 1e-4))
    assert grid.size == 8 and grid.members()[3] == {"seed": 0, "lr": 1e-2, "l2": 1e-4}
    assert Population.from_dict(grid.to_dict()) == grid
    with pytest.raises(nt.ConfigError, match="population must be an integer >= 1"):
        Population.of(0)
    with pytest.raises(nt.ConfigError, match="'tau' is not a population hyper-parameter"):
        Population.grid(tau=(10.0, 20.0))
    with pytest.raises(nt.ConfigError, match="has 2 values for 3 networks"):
        Population(seeds=(0, 1, 2), lr=(1e-3, 1e-2))
    with pytest.raises(nt.ConfigError, match="repeats a network"):
        Population(seeds=(0, 0))
    with pytest.raises(nt.ConfigError, match="lr\\[1\\] must be a finite number > 0"):
        Population(seeds=(0, 1), lr=(1e-3, float("nan")))
    with pytest.raises(nt.ConfigError, match="population must be a number of networks"):
        Trainer(build(0), TASK, population="many")


def test_summaries_over_networks():
    s = nt.training.summarize([0.5, 0.9, np.nan, 1.0, 0.8])
    assert s["n"] == 4 and s["min"] == 0.5 and s["max"] == 1.0 and s["median"] == pytest.approx(0.85)
    assert nt.training.trimmed_mean(np.r_[np.zeros(1), np.ones(8), 100.0]) == 1.0


# --- the networks are those of separate runs -----------------------------------------------------
@pytest.mark.slow  # 32 s; test_per_network_hyper_parameters_match_separate_runs compares with separate runs by default
def test_each_network_is_the_separate_run_with_its_seed():
    pop = Population.of(3, seed=4)
    trainer = Trainer(build(0, sigma_rec=0.1), TASK, braintools.optim.Adam(1e-2), population=pop,
                      num_steps=20, batch_size=8, eval_every=10, l2=1e-4)
    result = trainer.run()
    assert result.loss.shape == (20, 3) and result.eval_metrics["accuracy"].shape == (3, 3)
    assert result.num_traces == 1
    for k, seed in enumerate(pop.seeds):
        model, res = separate(seed, 20, l2=1e-4, eval_every=10, cell={"sigma_rec": 0.1})
        assert_same_network(trainer.network(k), model)
        np.testing.assert_allclose(result.loss[:, k], res.loss, rtol=1e-5)
        np.testing.assert_allclose(result.eval_metrics["accuracy"][:, k], res.eval_metrics["accuracy"])


def test_per_network_hyper_parameters_match_separate_runs():
    pop = Population(seeds=(1, 1, 2), lr=(1e-2, 3e-3, 1e-2), l2=(0.0, 1e-3, 1e-4))
    trainer = Trainer(build(0), TASK, braintools.optim.Adam(1e-2), population=pop, num_steps=15, batch_size=8)
    result = trainer.run()
    np.testing.assert_allclose(result.lr[0], [1e-2, 3e-3, 1e-2], rtol=1e-6)
    for k, m in enumerate(pop.members()):
        model, _ = separate(m["seed"], 15, lr=m["lr"], l2=m["l2"])
        assert_same_network(trainer.network(k), model)


def test_per_network_noise_levels():
    pop = Population(seeds=(3, 3), sigma_rec=(0.0, 0.3))
    trainer = Trainer(build(0, sigma_rec=0.05), TASK, braintools.optim.Adam(1e-2), population=pop,
                      num_steps=10, batch_size=8)
    trainer.run()
    for k, sigma in enumerate((0.0, 0.3)):
        model, _ = separate(3, 10, cell={"sigma_rec": sigma})
        assert_same_network(trainer.network(k), model)


def test_online_methods_train_populations_too():
    task = nt.tasks.Copy(length=2, delay=2, num_symbols=4)
    brainstate.random.seed(0)
    model = nt.models.build_model("gru", num_rec=8, task=task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(model, task, braintools.optim.Adam(1e-2), method=DRTRL(), population=2,
                          num_steps=6, batch_size=4)
        trainer.run()
        for k in range(2):
            brainstate.random.seed(k)
            single = nt.models.build_model("gru", num_rec=8, task=task)
            nt.train(single, task, braintools.optim.Adam(1e-2), method=DRTRL(), num_steps=6, batch_size=4, seed=k)
            assert_same_network(trainer.network(k), single, rtol=1e-4, atol=1e-5)


def test_chunked_computation_gives_the_same_networks():
    kw = dict(population=4, num_steps=8, batch_size=8)
    a = Trainer(build(0), TASK, braintools.optim.Adam(1e-2), **kw)
    b = Trainer(build(0), TASK, braintools.optim.Adam(1e-2), chunk=3, **kw)   # 4 = 3 + 1
    ra, rb = a.run(), b.run()
    np.testing.assert_allclose(ra.loss, rb.loss, rtol=1e-5)
    assert_same_network(b.network(3), a.network(3))


# --- stopping one network, keeping the others -----------------------------------------------------
def test_early_stopping_stops_each_network_on_its_own():
    trainer = Trainer(build(0), TASK, braintools.optim.Adam(1e-2), population=3, num_steps=40, batch_size=8,
                      eval_every=10, callbacks=[EarlyStopping(target=0.0, patience=2)])   # met at steps 0, 10
    result = trainer.run()
    assert result.num_steps == 10 and result.stop_reason == "every network stopped"
    assert sorted(result.stopped) == [0, 1, 2] and all(s == 10 for s, _ in result.stopped.values())
    reference = Trainer(build(0), TASK, braintools.optim.Adam(1e-2), population=3, num_steps=10, batch_size=8)
    reference.run()
    assert_same_network(trainer.network(1), reference.network(1), rtol=0, atol=0)


def test_a_diverging_network_stops_and_keeps_its_last_good_weights_while_the_others_train():
    brainstate.random.seed(0)
    model = nt.models.build_model("vanilla", num_rec=8, task=nt.tasks.Integrator(), activation="linear",
                                  w_init="identity:0.9")
    pop = Population(seeds=(0, 1), lr=(1e-3, 1e4))                      # network 1 explodes
    trainer = Trainer(model, nt.tasks.Integrator(), braintools.optim.SGD(lr=1e-3), population=pop,
                      num_steps=30, batch_size=4, log_every=1)
    result = trainer.run()
    assert list(result.stopped) == [1] and "diverged" in result.stopped[1][1]
    assert np.all(np.isfinite(result.loss[:, 0])) and np.isnan(result.loss[-1, 1])
    assert result.num_steps == 30
    assert all(np.all(np.isfinite(v)) for v in values(trainer.network(1)).values())


# --- checkpoints and devices -----------------------------------------------------------------------
@pytest.mark.slow  # 30 s of training and resuming; CI's slow stage
def test_population_checkpoints_resume_bit_identically(tmp_path):
    def make(cbs=()):
        return Trainer(build(0, sigma_rec=0.1), TASK, braintools.optim.Adam(1e-2), population=3, num_steps=30,
                       batch_size=8, eval_every=10, callbacks=list(cbs))

    class StopAt(nt.training.Callback):
        def on_log(self, trainer, logs):
            if logs["step"] >= 20:
                trainer.stop_training = True

    full = make()
    ref = full.run()
    make([StopAt(), nt.training.Checkpoint(str(tmp_path), every=0, keep=0)]).run()
    again = make()
    assert again.restore(str(tmp_path)) == 20
    res = again.run()
    np.testing.assert_array_equal(res.loss, ref.loss)
    assert_same_network(again.network(2), full.network(2), rtol=0, atol=0)
    with pytest.raises(nt.CheckpointError, match="holds a population of networks"):
        Trainer(build(0), TASK, num_steps=30, batch_size=8).restore(str(tmp_path))
    with pytest.raises(nt.CheckpointError, match="not .*resume with the same networks"):
        Trainer(build(0), TASK, population=Population.of(3, seed=9), num_steps=30, batch_size=8).restore(
            str(tmp_path))


def test_sharded_over_two_devices_gives_the_results_of_one():
    script = textwrap.dedent("""
        import json, sys, brainstate, braintools, numpy as np, jax, neurotrain as nt
        task = nt.tasks.PerceptualDecisionMaking()
        out = {"devices": len(jax.devices())}
        for devices in (None, 2):
            brainstate.random.seed(0)
            model = nt.models.build_model("leaky", num_rec=8, task=task, sigma_rec=0.1)
            tr = nt.training.Trainer(model, task, braintools.optim.Adam(1e-2), population=4, devices=devices,
                                     num_steps=6, batch_size=4)
            res = tr.run()
            params = jax.device_get(tr._carry[0])
            out[str(devices)] = {"loss": res.loss.tolist(),
                                 "params": {".".join(map(str, k)): np.asarray(v).tolist() for k, v in params.items()}}
        print(json.dumps(out))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2
    # the same values within float rounding: XLA partitions the batched products (networks x
    # trials) differently on two devices, so sums may run in another order (measured: 5e-7)
    np.testing.assert_allclose(out["2"]["loss"], out["None"]["loss"], rtol=1e-5)
    for k, v in out["None"]["params"].items():
        np.testing.assert_allclose(out["2"]["params"][k], v, rtol=1e-5, atol=1e-6, err_msg=k)


def test_bad_population_settings_are_clear_errors():
    with pytest.raises(nt.ConfigError, match=r"needs about .* GiB .* free; train at most about"):
        Trainer(build(0, num_rec=256), TASK, population=2_000_000, batch_size=256)
    with pytest.raises(nt.ConfigError, match="does not split over"):
        from neurotrain.training._population import population_sharding
        population_sharding([object(), object()], 3)
    with pytest.raises(nt.ConfigError, match="devices=.* shards a population"):
        Trainer(build(0), TASK, devices=2)
    with pytest.raises(nt.ConfigError, match="network\\(k\\) is for populations"):
        Trainer(build(0), TASK).network(0)
