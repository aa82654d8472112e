"""io: checkpoints (round trips, strict checks, corrupt files), atomic files, the run layout, exports."""

from __future__ import annotations

import json
import os

import brainstate
import braintools
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurotrain as nt
from neurotrain.io import (
    CHECKPOINTS_DIR,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)


def _model(seed=0, num_rec=8, layers=2, train_h0=True, cell="leaky"):
    brainstate.random.seed(seed)
    kw = {"tau": 100.0, "dt": 20.0} if cell == "leaky" else {}
    return nt.models.build_model(cell, 3, num_rec, 3, num_layers=layers, train_h0=train_h0, **kw)


def _values(model):
    return {k: np.asarray(v.value) for k, v in model.states(brainstate.ParamState).items()}


def _outputs(model, seed=0):
    x = jax.random.normal(jax.random.PRNGKey(seed), (6, 4, model.num_in))
    out, act = model.run(x)
    return np.asarray(out), np.asarray(act)


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------
def test_checkpoint_round_trip_restores_identical_outputs(tmp_path):
    a = _model(seed=0)
    # make h0 and biases non-zero so that every parameter matters
    for k, s in a.states(brainstate.ParamState).items():
        s.value = s.value + 0.1 * jax.random.normal(jax.random.PRNGKey(hash(k) % 1000), s.value.shape)
    path = save_checkpoint(tmp_path / "ckpt.msgpack", a, step=17)
    assert path == os.fspath(tmp_path / "ckpt.msgpack")

    b = _model(seed=1)
    out_a, act_a = _outputs(a)
    out_b, _ = _outputs(b)
    assert not np.allclose(out_a, out_b)  # really different weights before loading

    assert load_checkpoint(path, b) == 17
    out_b, act_b = _outputs(b)
    np.testing.assert_array_equal(out_b, out_a)
    np.testing.assert_array_equal(act_b, act_a)
    for k, v in _values(a).items():
        np.testing.assert_array_equal(_values(b)[k], v)


def test_checkpoint_file_layout_is_plain_msgpack(tmp_path):
    model = _model(layers=1)
    path = save_checkpoint(tmp_path / "c.msgpack", model, step=3)
    raw = braintools.file.msgpack_load(path)
    assert raw["step"] == 3 and raw["format"] == 1
    assert set(raw) == {"format", "step", "params", "checksum"}
    assert len(raw["checksum"]) == 64  # SHA-256 of the rest, checked on load
    assert set(raw["params"]) == {"layers.0.W_in", "layers.0.W_rec", "layers.0.b", "layers.0.h0",
                                  "readout.W", "readout.b"}
    np.testing.assert_array_equal(raw["params"]["layers.0.W_rec"], np.asarray(model.layers[0].W_rec.value))
    assert "opt" not in raw
    assert not open(path, "rb").read(2).startswith(b"\x80")  # not a pickle
    # the atomic write leaves no temporary file behind
    assert sorted(os.listdir(tmp_path)) == ["c.msgpack"]


def test_optimizer_state_round_trip_resumes_identically(tmp_path):
    def grads_for(model, seed):
        params = model.states(brainstate.ParamState)
        return {k: jax.random.normal(jax.random.PRNGKey(seed + i), v.value.shape)
                for i, (k, v) in enumerate(sorted(params.items(), key=lambda kv: str(kv[0])))}

    a, opt_a = _model(seed=0, layers=1), braintools.optim.Adam(lr=1e-2)
    opt_a.register_trainable_weights(a.states(brainstate.ParamState))
    for s in range(3):  # non-trivial Adam moments and step count
        opt_a.update(grads_for(a, 10 * s))
    save_checkpoint(tmp_path / "c.msgpack", a, opt_a)

    b, opt_b = _model(seed=5, layers=1), braintools.optim.Adam(lr=1e-2)
    assert load_checkpoint(tmp_path / "c.msgpack", b, opt_b) == 3  # step from the optimizer
    assert int(np.asarray(opt_b.step_count.value)) == 3
    mu_a = opt_a.state_dict()["opt_state"][0].mu
    mu_b = opt_b.state_dict()["opt_state"][0].mu
    assert set(mu_a) == set(mu_b)
    for k in mu_a:
        np.testing.assert_array_equal(np.asarray(mu_b[k]), np.asarray(mu_a[k]))

    # one more identical update gives identical weights only if moments and count were restored
    g = grads_for(a, 99)
    opt_a.update(g)
    opt_b.update(g)
    for k, v in _values(a).items():
        np.testing.assert_array_equal(_values(b)[k], v)


def test_shape_mismatch_names_parameter_and_both_shapes(tmp_path):
    save_checkpoint(tmp_path / "c.msgpack", _model(num_rec=8))
    small = _model(num_rec=6)
    before = _values(small)
    with pytest.raises(nt.CheckpointError) as err:
        load_checkpoint(tmp_path / "c.msgpack", small)
    msg = str(err.value)
    assert "'layers.0.W_in'" in msg
    assert "(3, 8)" in msg and "(3, 6)" in msg
    # a failed load leaves the model untouched
    for k, v in _values(small).items():
        np.testing.assert_array_equal(v, before[k])


def test_missing_and_unexpected_parameters_are_named(tmp_path):
    save_checkpoint(tmp_path / "no_h0.msgpack", _model(train_h0=False, layers=1))
    with pytest.raises(nt.CheckpointError, match=r"'layers\.0\.h0'.*missing"):
        load_checkpoint(tmp_path / "no_h0.msgpack", _model(train_h0=True, layers=1))
    save_checkpoint(tmp_path / "h0.msgpack", _model(train_h0=True, layers=1))
    with pytest.raises(nt.CheckpointError, match=r"'layers\.0\.h0'.*does not have"):
        load_checkpoint(tmp_path / "h0.msgpack", _model(train_h0=False, layers=1))


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_corrupt_checkpoint_raises_checkpoint_error(tmp_path, damage):
    path = tmp_path / "c.msgpack"
    save_checkpoint(path, _model())
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "empty": b"",
                      "garbage": b"not a checkpoint at all" * 10}[damage])
    with pytest.raises(nt.CheckpointError) as err:
        load_checkpoint(path, _model())
    assert str(path) in str(err.value)
    assert "train the run again" in str(err.value) or "not a neurotrain checkpoint" in str(err.value)


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(nt.CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.msgpack", _model())


def test_optimizer_state_missing_is_reported(tmp_path):
    save_checkpoint(tmp_path / "c.msgpack", _model())
    with pytest.raises(nt.CheckpointError, match="no optimizer state"):
        load_checkpoint(tmp_path / "c.msgpack", _model(), braintools.optim.Adam(1e-3))


def test_dtype_follows_the_model(tmp_path):
    model = _model(layers=1)
    save_checkpoint(tmp_path / "c.msgpack", model)
    other = _model(seed=3, layers=1)
    load_checkpoint(tmp_path / "c.msgpack", other)
    assert all(s.value.dtype == jnp.float32 for s in other.states(brainstate.ParamState).values())


# --------------------------------------------------------------------------------------------
# damaged files: clear errors, and earlier checkpoints stay usable
# --------------------------------------------------------------------------------------------
def test_bit_flip_in_the_weights_is_caught_by_the_checksum(tmp_path):
    model = _model(layers=1)
    path = save_checkpoint(tmp_path / "c.msgpack", model, step=5)
    data = bytearray(path_bytes := open(path, "rb").read())
    # flip one bit inside W_rec's raw float data (msgpack itself cannot notice this)
    w = np.asarray(model.layers[0].W_rec.value).tobytes()
    at = bytes(path_bytes).find(w[:16])
    assert at > 0
    data[at + 3] ^= 0x10
    open(path, "wb").write(bytes(data))
    raw = braintools.file.msgpack_load(path)  # still decodes...
    assert not np.array_equal(raw["params"]["layers.0.W_rec"], np.asarray(model.layers[0].W_rec.value))
    with pytest.raises(nt.CheckpointError, match="does not match its checksum"):  # ...but is refused
        load_checkpoint(path, _model(layers=1))


def test_every_truncation_is_a_clear_error(tmp_path):
    model = _model(layers=1)
    opt = braintools.optim.Adam(1e-2)
    opt.register_trainable_weights(model.states(brainstate.ParamState))
    path = save_checkpoint(tmp_path / "c.msgpack", model, opt, step=1)
    data = open(path, "rb").read()
    rng = np.random.default_rng(0)
    cuts = sorted({0, 1, 2, len(data) - 1, *rng.integers(1, len(data), 40).tolist()})
    for cut in cuts:
        open(path, "wb").write(data[:cut])
        with pytest.raises(nt.CheckpointError, match="truncated or corrupt"):
            read_checkpoint(path)


def test_checkpoints_never_go_through_pickle(tmp_path, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    class NoUnpickler:
        def __init__(self, *a, **k):
            refuse()

    for name in ("load", "loads", "dump", "dumps"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", NoUnpickler)
    monkeypatch.setattr(pickle, "Pickler", NoUnpickler)
    a = _model(seed=0, layers=1)
    opt = braintools.optim.Adam(1e-2)
    opt.register_trainable_weights(a.states(brainstate.ParamState))
    path = save_checkpoint(tmp_path / "c.msgpack", a, opt, step=2, extra={"note": {"x": np.arange(3)}})
    b = _model(seed=1, layers=1)
    assert load_checkpoint(path, b, braintools.optim.Adam(1e-2)) == 2
    for k, v in _values(a).items():
        np.testing.assert_array_equal(_values(b)[k], v)
    np.testing.assert_array_equal(read_checkpoint(path)["note"]["x"], np.arange(3))
    assert open(path, "rb").read(1) != b"\x80"  # no pickle protocol header


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "c.msgpack"
    old = _model(seed=0, layers=1)
    save_checkpoint(path, old, step=1)
    before = path.read_bytes()

    real_replace = os.replace

    def crash(src, dst):  # Ctrl-C at the last rename, then at braintools' own rename
        if os.fspath(dst) == os.fspath(path) or crash.inner:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    for crash.inner in (False, True):
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(path, _model(seed=1, layers=1), step=2)
        assert sorted(os.listdir(tmp_path)) == ["c.msgpack"]
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.msgpack"]  # the temporary file was removed
    assert load_checkpoint(path, _model(seed=2, layers=1)) == 1


def _run_with_checkpoints(tmp_path, steps=(0, 5, 10)):
    model = _model(layers=1)
    for s in steps:
        save_checkpoint(checkpoint_path(tmp_path, s), model, step=s)
    return model


def test_latest_checkpoint_falls_back_past_a_corrupt_newest_file(tmp_path):
    assert latest_checkpoint(tmp_path) is None  # no checkpoints/ folder at all
    _run_with_checkpoints(tmp_path)
    (tmp_path / CHECKPOINTS_DIR / ".step-00000015.msgpack.1234.tmp").write_bytes(b"half")  # a crash
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 10)
    newest = checkpoint_path(tmp_path, 10)
    data = open(newest, "rb").read()
    open(newest, "wb").write(data[: len(data) // 3])
    with pytest.warns(UserWarning, match=r"skipping the unreadable checkpoint .*step-00000010.*using .*step-00000005"):
        assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 5)
    assert load_checkpoint(checkpoint_path(tmp_path, 5), _model(layers=1)) == 5
    for s in (0, 5):
        open(checkpoint_path(tmp_path, s), "wb").write(b"garbage")
    with pytest.raises(nt.CheckpointError, match="none of the 3 checkpoint"):
        latest_checkpoint(tmp_path)


def test_learning_rate_schedule_state_round_trips(tmp_path):
    def make(seed):
        m = _model(seed=seed, layers=1)
        sched = braintools.optim.ExponentialDecayLR(base_lr=0.1, decay_steps=1, decay_rate=0.5)
        o = braintools.optim.Adam(lr=sched)
        o.register_trainable_weights(m.states(brainstate.ParamState))
        return m, o

    a, opt_a = make(0)
    for _ in range(3):
        opt_a.lr.step()
    save_checkpoint(tmp_path / "c.msgpack", a, opt_a, step=3)
    b, opt_b = make(1)
    load_checkpoint(tmp_path / "c.msgpack", b, opt_b)
    assert int(np.asarray(opt_b.lr.last_epoch.value)) == 3
    opt_a.lr.step()
    opt_b.lr.step()  # the next rate follows the restored epoch, not a fresh schedule
    assert float(opt_b.current_lr) == pytest.approx(0.1 * 0.5 ** 4) == float(opt_a.current_lr)


def test_extra_entries_cannot_shadow_the_checkpoint(tmp_path):
    with pytest.raises(nt.CheckpointError, match="'params'"):
        save_checkpoint(tmp_path / "c.msgpack", _model(layers=1), extra={"params": {}})


def test_mismatched_optimizer_state_leaves_everything_untouched(tmp_path):
    a = _model(num_rec=8, layers=1)
    opt = braintools.optim.Adam(1e-2)
    opt.register_trainable_weights(a.states(brainstate.ParamState))
    save_checkpoint(tmp_path / "c.msgpack", a, opt, step=4)
    b = _model(seed=3, num_rec=8, layers=1)
    before = _values(b)
    with pytest.raises(nt.CheckpointError, match="optimizer state"):
        load_checkpoint(tmp_path / "c.msgpack", b, braintools.optim.SGD(1e-2))
    for k, v in _values(b).items():
        np.testing.assert_array_equal(v, before[k])


# --------------------------------------------------------------------------------------------
# files: atomic writes, JSON, figures, versions
# --------------------------------------------------------------------------------------------
def test_atomic_write_replaces_or_keeps_the_old_file(tmp_path, monkeypatch):
    from neurotrain.io import atomic_write_bytes, atomic_write_text

    path = tmp_path / "deep" / "f.txt"
    assert atomic_write_text(path, "first\n") == os.fspath(path)
    assert atomic_write_bytes(path, b"second") == os.fspath(path) and path.read_bytes() == b"second"

    def crash(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "third")
    monkeypatch.undo()
    assert path.read_bytes() == b"second" and os.listdir(path.parent) == ["f.txt"]  # no temporary left


def test_json_round_trip_of_numpy_values(tmp_path):
    from neurotrain.io import jsonable, read_json, write_json

    obj = {"a": np.float32(0.25), "b": np.arange(3), "c": (1, 2.5), "d": float("inf"), 7: tmp_path}
    assert jsonable(obj) == {"a": 0.25, "b": [0, 1, 2], "c": [1, 2.5], "d": None, "7": os.fspath(tmp_path)}
    path = write_json(tmp_path / "x.json", obj)
    assert read_json(path) == jsonable(obj)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(nt.CheckpointError, match=r"bad\.json is not valid JSON"):
        read_json(tmp_path / "bad.json")


def test_save_figure_writes_each_format_atomically(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurotrain.io import save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 0, 1])
    paths = save_figure(fig, tmp_path / "figs" / "line.pdf", ("png", "pdf", "svg"), close=True)
    assert [os.path.basename(p) for p in paths] == ["line.png", "line.pdf", "line.svg"]
    assert (tmp_path / "figs" / "line.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "figs" / "line.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / "figs" / "line.svg").read_bytes()
    assert sorted(os.listdir(tmp_path / "figs")) == ["line.pdf", "line.png", "line.svg"]
    assert not plt.fignum_exists(fig.number)                       # closed
    assert nt.analysis.save_figure is save_figure                  # one saver for the whole package
    with pytest.raises(nt.ConfigError, match="formats must be among"):
        save_figure(fig, tmp_path / "x", "jpg")


def test_library_versions_and_their_text():
    import platform

    from neurotrain.io import library_versions, versions_text

    v = library_versions()
    assert list(v) == ["python", "neurotrain", "jax", "jaxlib", "brainstate", "braintools", "braintrace", "numpy"]
    assert v["python"] == platform.python_version() and v["neurotrain"] == nt.__version__
    assert v["numpy"] == np.__version__
    text = versions_text(("neurotrain", "numpy", "surely-not-a-package"))
    assert text == f"neurotrain {nt.__version__}, numpy {np.__version__}, surely-not-a-package (not installed)"


# --------------------------------------------------------------------------------------------
# the run-directory layout
# --------------------------------------------------------------------------------------------
def test_run_layout_names_every_file_and_folder(tmp_path):
    from neurotrain.io import RunLayout

    layout = RunLayout(tmp_path)
    assert layout.root == os.fspath(tmp_path)
    rel = {name: os.path.relpath(getattr(layout, name), tmp_path) for name in (
        "config_file", "summary_file", "metrics_file", "evaluation_file", "analysis_file",
        "legacy_checkpoint_file", "checkpoints_dir", "figures_dir", "analysis_dir", "export_dir",
        "tensorboard_dir")}
    assert rel == {"config_file": "config.json", "summary_file": "summary.json", "metrics_file": "metrics.csv",
                   "evaluation_file": "evaluation.json", "analysis_file": "analysis.json",
                   "legacy_checkpoint_file": "checkpoint.msgpack", "checkpoints_dir": "checkpoints",
                   "figures_dir": "figures", "analysis_dir": "analysis", "export_dir": "export",
                   "tensorboard_dir": "tensorboard"}
    # the module constants are the layout's names
    assert (nt.io.CONFIG_FILE, nt.io.SUMMARY_FILE, nt.io.METRICS_FILE, nt.io.CHECKPOINTS_DIR,
            nt.io.CHECKPOINT_FILE, nt.io.FIGURES_DIR, nt.io.TENSORBOARD_DIR) == (
        "config.json", "summary.json", "metrics.csv", "checkpoints", "checkpoint.msgpack", "figures", "tensorboard")
    assert layout.checkpoint(np.int64(7)) == checkpoint_path(tmp_path, 7) == os.path.join(
        tmp_path, "checkpoints", "step-00000007.msgpack")
    assert RunLayout.parse_checkpoint_name("step-00000007.msgpack") == 7
    assert RunLayout.parse_checkpoint_name(".step-00000007.msgpack.ab12.tmp") is None
    for bad in (-1, 2.0, True):
        with pytest.raises(nt.CheckpointError, match="integer >= 0"):
            layout.checkpoint(bad)


def test_run_layout_lists_what_each_command_replaces(tmp_path):
    from neurotrain.io import RunLayout

    layout = RunLayout(tmp_path)
    files = ["config.json", "summary.json", "metrics.csv", "evaluation.json", "analysis.json",
             "checkpoint.msgpack", "checkpoints/step-00000010.msgpack", "checkpoints/.step-1.tmp",
             "tensorboard/events.out.tfevents.123.host", "figures/loss_curve.png", "figures/eigenvalues.svg",
             "figures/psychometric.pdf", "figures/my_plot.png", "analysis/pca.npz", "analysis/fixed_points.json",
             "analysis/notes.json", "export/weights.npz", "notes.txt"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")

    def rel(paths):
        return sorted(os.path.relpath(p, tmp_path).replace(os.sep, "/") for p in paths)

    assert rel(layout.train_outputs()) == sorted(
        ["config.json", "summary.json", "metrics.csv", "evaluation.json", "analysis.json", "checkpoint.msgpack",
         "checkpoints/step-00000010.msgpack", "tensorboard/events.out.tfevents.123.host",
         "figures/loss_curve.png", "figures/eigenvalues.svg", "figures/psychometric.pdf",
         "analysis/pca.npz", "analysis/fixed_points.json"])
    assert rel(layout.analysis_outputs()) == sorted(
        ["analysis.json", "figures/eigenvalues.svg", "figures/psychometric.pdf", "analysis/pca.npz",
         "analysis/fixed_points.json"])
    assert rel(layout.analysis_outputs(figures=False)) == ["analysis.json", "analysis/fixed_points.json",
                                                          "analysis/pca.npz"]
    assert layout.weight_derived_outputs() == ["evaluation.json", "analysis.json", "export"]
    assert RunLayout(tmp_path / "nothing-here").train_outputs() == []


# --------------------------------------------------------------------------------------------
# numpy export
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell, layers, kw", [
    ("vanilla", 1, {"activation": "tanh", "train_h0": True}),
    ("leaky", 2, {"tau": 100.0, "dt": 20.0, "activation": "softplus", "train_h0": True}),
    ("leaky", 1, {"tau": 50.0, "dt": 10.0, "sigma_rec": 0.3, "activation": "retanh"}),
    ("gru", 1, {}),
    ("lstm", 2, {"train_h0": True}),
])
def test_export_is_self_sufficient(tmp_path, cell, layers, kw):
    from neurotrain.io import export_weights, numpy_forward, read_export

    brainstate.random.seed(0)
    model = nt.models.build_model(cell, 3, 6, 2, num_layers=layers, **kw)
    for k, s in model.states(brainstate.ParamState).items():  # non-trivial biases and h0
        s.value = s.value + 0.1 * jax.random.normal(jax.random.PRNGKey(len(str(k))), s.value.shape)
    npz, js = export_weights(model, tmp_path / "export", task=None)
    weights, desc = read_export(tmp_path / "export")
    assert set(weights) == {".".join(map(str, k)) for k in model.states(brainstate.ParamState)}
    assert all(type(v) is np.ndarray for v in weights.values())
    assert desc["layers"][0]["kind"] == cell and desc["model"] == json.loads(json.dumps(model.config()))
    assert desc["parameters"]["readout.W"]["shape"] == [6, 2]
    with np.load(npz, allow_pickle=False) as z:  # plain arrays only
        assert sorted(z.files) == sorted(weights)
    x = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (9, 4, 3)))
    with nt.models.noise_disabled(model):
        ref_out, ref_act = model.run(x)
    out, act = numpy_forward(weights, desc, x)
    np.testing.assert_allclose(out, np.asarray(ref_out), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(act, np.asarray(ref_act), rtol=1e-4, atol=1e-5)


def test_read_export_errors(tmp_path):
    from neurotrain.io import export_weights, read_export

    export_weights(_model(layers=1), tmp_path)
    desc = json.loads((tmp_path / "description.json").read_text())
    desc["parameters"]["readout.W"]["shape"] = [1, 1]
    (tmp_path / "description.json").write_text(json.dumps(desc))
    with pytest.raises(nt.CheckpointError, match=r"'readout.W' has shape \(8, 3\)"):
        read_export(tmp_path)
    (tmp_path / "weights.npz").write_bytes(b"PK\x03\x04broken")
    with pytest.raises(nt.CheckpointError, match="cannot read the exported weights"):
        read_export(tmp_path / "weights.npz")
    with pytest.raises(nt.CheckpointError, match="does not exist"):
        read_export(tmp_path / "elsewhere" / "weights.npz")
