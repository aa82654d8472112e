"""Analysis of populations: every network scored in one mapped program, and analysed one by one,
gives what the one-network functions give for each network alone."""

from __future__ import annotations

import brainstate
import braintools
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.analysis import analyze_population, evaluate_population
from neurotrain.training import Population, Trainer, summarize

TASK = nt.tasks.PerceptualDecisionMaking()


def models(n=3, num_rec=8, **kw):
    out = []
    for s in range(n):
        brainstate.random.seed(s)
        out.append(nt.models.build_model("leaky", num_rec=num_rec, task=TASK,
                                         **{k: (v[s] if isinstance(v, list) else v) for k, v in kw.items()}))
    return out


@pytest.mark.slow  # compiles the evaluation 4 times; the quick check of the same claim is test_population_runs' each network of the run is the separate run (CI's `pytest -m slow` stage)
@pytest.mark.parametrize("record", [False, True])
def test_each_network_scores_as_evaluated_alone(record):
    nets = models(sigma_rec=[0.0, 0.05, 0.2])          # per-network noise levels
    pe = evaluate_population(nets, TASK, num_trials=300, seed=[4, 5, 6], batch_size=128, chunk=2, record=record)
    assert pe.size == 3 and pe.seeds == (4, 5, 6)
    for k, net in enumerate(nets):
        alone = nt.analysis.evaluate(net, TASK, 300, seed=4 + k, batch_size=128, record=record)
        for m, v in alone.scores.items():
            assert pe.scores[m][k] == pytest.approx(v, rel=1e-6, abs=1e-7), m
        assert [r["n"] for r in pe[k].per_condition["coherence"]] == [r["n"] for r in alone.per_condition["coherence"]]
        if record:
            np.testing.assert_allclose(pe[k].activity, alone.activity, rtol=1e-5, atol=1e-6)
        else:
            assert pe[k].activity.size == 0
    # the table: a row per network, then the summary rows with summarize's values
    lines = pe.table().splitlines()
    assert lines[0].split() == ["network", "accuracy", "ideal_accuracy"] and len(lines) == 2 + 3 + 1 + 5
    s = summarize(pe.scores["accuracy"])
    assert float(lines[6].split()[-2]) == pytest.approx(s["mean"], abs=1e-4)             # "mean"
    assert lines[7].startswith("trimmed mean") and lines[10].startswith("max")
    assert pe.best() == int(np.argmax(pe.scores["accuracy"]))


@pytest.mark.slow  # trains a population, then 5 evaluations compiled (CI's `pytest -m slow` stage)
def test_a_population_trainer_is_evaluated_with_its_networks_noise_and_hyper_parameters():
    brainstate.random.seed(0)
    pop = Population(seeds=(2, 2, 5), sigma_rec=(0.0, 0.3, 0.1), lr=(1e-2, 1e-2, 3e-3))
    trainer = Trainer(nt.models.build_model("leaky", num_rec=8, task=TASK), TASK, braintools.optim.Adam(1e-2),
                      population=pop, num_steps=5, batch_size=8)
    trainer.run()
    pe = evaluate_population(trainer, TASK, num_trials=200, seed=9)        # the same trials for all
    assert [m["sigma_rec"] for m in pe.members] == [0.0, 0.3, 0.1] and len(set(pe.scores["ideal_accuracy"])) == 1
    for k in range(3):
        net = trainer.network(k)
        for layer in net.layers:
            layer.sigma_rec = pop.sigma_rec[k]            # what a separate run with its noise level has
        alone = nt.analysis.evaluate(net, TASK, 200, seed=9)
        assert pe.scores["accuracy"][k] == pytest.approx(alone.scores["accuracy"], abs=1e-6)
    # stacked parameters and a template model give the same
    again = evaluate_population(trainer.model, TASK, 200, params=trainer.population_params(), seed=9,
                                members=pop.members())
    np.testing.assert_allclose(again.scores["accuracy"], pe.scores["accuracy"])


def test_bad_populations_to_evaluate_are_named():
    nets = models(2)
    with pytest.raises(nt.ConfigError, match="seed has 3 values for 2 networks"):
        evaluate_population(nets, TASK, 10, seed=[1, 2, 3])
    with pytest.raises(nt.ConfigError, match=r"networks\[1\] has another architecture"):
        evaluate_population([nets[0], nt.models.build_model("leaky", num_rec=9, task=TASK)], TASK, 10)
    with pytest.raises(nt.ConfigError, match="one model needs params="):
        evaluate_population(nets[0], TASK, 10)
    with pytest.raises(nt.ConfigError, match=r"expected \(K, 8, 8\)"):
        evaluate_population(nets[0], TASK, 10, params={"layers.0.W_rec": np.zeros((2, 9, 9)),
                                                        **{k: np.zeros((2, *np.shape(v.value))) for k, v in
                                                           nets[0].states(brainstate.ParamState).items()
                                                           if k != ("layers", 0, "W_rec")}})
    with pytest.raises(nt.ConfigError, match="this Trainer trains one network"):
        evaluate_population(Trainer(nets[0], TASK, num_steps=1, batch_size=2), TASK, 10)


def test_each_network_is_analysed_as_alone():
    nets = models(2)
    pa = analyze_population(nets, TASK, num_trials=64, num_candidates=16, seed=[3, 4])
    names, inputs = nt.analysis.period_inputs(TASK, seed=3)
    assert pa.input_names == names
    for k, net in enumerate(nets):
        ev = nt.analysis.evaluate(net, TASK, 64, seed=3 + k, noise=False)
        fp = nt.analysis.find_fixed_points(net, inputs, activity=ev, num_candidates=16, noise_scale=0.02,
                                           seed=3 + k, input_names=names)
        assert pa.fixed_points[k].counts() == fp.counts()
        np.testing.assert_allclose(pa.fixed_points[k].points, fp.points, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(pa.pca[k].explained_variance_ratio,
                                   nt.analysis.pca(ev.activity, 3).explained_variance_ratio, rtol=1e-5)
    values = pa.values()
    assert values["fixed_points"].tolist() == [f.num_points for f in pa.fixed_points]
    assert values["stable"].sum() == sum(f.counts()["stable"] for f in pa.fixed_points)
    assert "stable[stimulus]" in pa.table().splitlines()[0] and pa.summary()["fixed_points"]["n"] == 2
