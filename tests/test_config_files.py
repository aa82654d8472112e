"""``neurotrain train --config FILE`` and ``--dry-run``: resolution order, clear errors, fuzzing.

Every test here stops at ``--dry-run`` (nothing is trained), so the file runs in seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import string

import pytest
import tomllib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurotrain as nt
from neurotrain.cli import main
from neurotrain.io import parse_config_text, read_config_file, to_toml
from neurotrain.runs import RunOptions

TRAIN_OPTIONS = RunOptions.names()
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def run_cli(argv):
    """``main(argv)`` with stdout and stderr captured: ``(code, out, err)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("neurotrain: error: "), err
    assert "Traceback" not in err
    return lines[0]


def dry_run(tmp_path, text, *extra, name="run.toml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return run_cli(["train", "--config", str(path), "--dry-run", *extra])


EXAMPLE = """\
# a copy-task run
task = "copy"
cell = "leaky"
method = "d-rtrl"
steps = 500
hidden = 32
lr = 1e-3
clip_norm = 1.0
batch-size = 16          # hyphens work too

[task_params]
delay = 20

[cell_params]
tau = 50.0
activation = "tanh"

[method_params]
warmup = "auto"
"""


# --------------------------------------------------------------------------------------------
# resolution: defaults < file < command line
# --------------------------------------------------------------------------------------------
def test_config_file_values_and_command_line_overrides(tmp_path):
    code, out, err = dry_run(tmp_path, EXAMPLE, "--steps", "50",
                             "--cell-param", "sigma_rec=0.1", "--task-param", "length=4",
                             "--out", str(tmp_path / "never"))
    assert code == 0, err
    opts = tomllib.loads(out)
    assert opts["task"] == "copy" and opts["method"] == "d-rtrl"
    assert opts["steps"] == 50  # the command line wins
    assert opts["hidden"] == 32 and opts["batch_size"] == 16 and opts["lr"] == 1e-3
    assert opts["clip_norm"] == 1.0
    # tables merge key by key; the leaky cell's dt (the task's) is resolved in
    assert opts["task_params"] == {"delay": 20, "length": 4}
    assert opts["cell_params"] == {"tau": 50.0, "activation": "tanh", "sigma_rec": 0.1, "dt": 20.0}
    assert opts["method_params"] == {"warmup": "auto"}
    # every option is printed, defaults included
    assert set(opts) == set(TRAIN_OPTIONS)
    recipe = nt.training.recipe_for("copy", "d-rtrl", delay=20, length=4)     # what the file leaves out
    assert opts["seed"] == 0 and opts["eval_every"] == recipe.eval_every and opts["no_progress"] is False
    assert opts["lr_schedule"] == recipe.optimizer.schedule.name and opts["stop_at"] == recipe.stop_at
    assert not (tmp_path / "never").exists()  # a dry run writes nothing


def test_dry_run_output_is_a_config_file_that_reproduces_itself(tmp_path):
    code, first, _ = dry_run(tmp_path, EXAMPLE, "--out", str(tmp_path / "x"))
    assert code == 0
    code, second, _ = dry_run(tmp_path, first, name="again.toml")
    assert code == 0
    assert tomllib.loads(second) == tomllib.loads(first)


def test_dry_run_json_and_json_config(tmp_path):
    code, out, err = dry_run(tmp_path, json.dumps({"task": "integrator", "cell": "vanilla", "steps": 7,
                                                   "clip_norm": None}), "json", name="run.json")
    assert code == 0, err
    opts = json.loads(out)
    assert opts["task"] == "integrator" and opts["steps"] == 7 and opts["clip_norm"] is None
    assert opts["activity_bound"] == 1e4


def test_defaults_without_a_file(tmp_path):
    code, out, _ = run_cli(["train", "--dry-run", "--out", str(tmp_path / "o")])
    opts = tomllib.loads(out)
    assert code == 0 and opts["task"] == "perceptual-decision-making" and opts["hidden"] == 128
    assert opts["steps"] == 2000 and opts["clip_norm"] == 1.0 and opts["stop_at"] == "none"  # TOML has no null


def test_a_run_config_json_can_be_reused_as_config(tmp_path):
    cfg = {"format": 1, "options": {"task": "copy", "cell": "gru", "steps": 9, "out": "old-run"},
           "task": {"name": "copy"}, "versions": {}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    code, out, err = run_cli(["train", "--config", str(path), "--dry-run", "--out", str(tmp_path / "n")])
    assert code == 0, err
    opts = tomllib.loads(out)
    assert opts["cell"] == "gru" and opts["steps"] == 9 and opts["out"] == str(tmp_path / "n")


# --------------------------------------------------------------------------------------------
# clear errors: the key, the value and what is allowed
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, needles", [
    ("stepz = 5\n", ["'stepz'", "Did you mean 'steps'", "Allowed options:", "batch_size"]),
    ("steps = 0\n", ["steps = 0", "an integer >= 1"]),
    ("steps = 2.5\n", ["steps = 2.5", "an integer >= 1"]),
    ('steps = "100"\n', ["steps = '100'", "an integer"]),
    ("steps = true\n", ["steps = True", "an integer"]),
    ("lr = -1\n", ["lr = -1", "a number > 0"]),
    ("lr = nan\n", ["lr = nan", "a number > 0"]),
    ('clip_norm = "big"\n', ["clip_norm", 'a positive number, or "none"']),
    ("no_progress = 1\n", ["no_progress = 1", "true or false"]),
    ("task_params = 5\n", ["task_params = 5", "a table"]),
    ('task = "nosuchtask"\n', ["nosuchtask", "Known tasks", "copy"]),
    ('cell = "transformer"\n', ["transformer", "Known cells", "leaky"]),
    ('method = "magic"\n', ["magic", "bptt", "d-rtrl"]),
    ('task = "copy"\n[task_params]\ndelya = 3\n', ["'delya'", "delay"]),
    ('task = "copy"\n[task_params]\ndelay = "long"\n', ["delay", "integer"]),
    ('task = "copy"\n[task_params]\ndelay = [1, 2]\n', ["delay"]),
    ("[cell_params]\ntau = 10\n", ["larger than tau=10"]),
    ('cell = "gru"\n[cell_params]\ntau = 50\n', ["'tau'", "Allowed"]),
    ('[cell_params]\nactivation = "swish"\n', ["swish", "relu"]),
    ('method = "d-rtrl"\n[method_params]\nwarmup = -1\n', ["warmup"]),
    ('method = "d-rtrl"\n[method_params]\nfoo = 1\n', ["foo"]),
    ("when = 1979-05-27T07:32:00Z\n", ["when"]),
    ("[task_params]\nt = 1979-05-27\n", ["task_params.t", "not a valid option value"]),
    ("steps = 5\nsteps = 6\n", ["not valid TOML", "line 2"]),
    ("steps = \n", ["not valid TOML"]),
    ("[[task_params]]\n", ["task_params", "a table"]),
    ("a = " + "[" * 2000 + "]" * 2000 + "\n", ["nested too deeply"]),
    ("x = " + "9" * 5000 + "\n", ["not valid TOML"]),
    ("", []),  # an empty file is fine: all defaults
])
def test_bad_config_values_are_named(tmp_path, text, needles):
    code, out, err = dry_run(tmp_path, text, "--out", str(tmp_path / "o"))
    if not needles:
        assert code == 0 and tomllib.loads(out)["steps"] == 2000
        return
    assert code == 2, (out, err)
    line = one_error_line(err)
    for needle in needles:
        assert needle in line, (needle, line)
    assert out == ""


@pytest.mark.parametrize("content, needle", [
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"{", "not valid JSON"),
    (b"[1, 2]", "table of options"),
    (b'{"steps": NaN}', "NaN"),
    (b'{"steps": 1, "steps": 2}', None),  # JSON: the last one wins, as in Python
    (b"[" * 100_000, "nested too deeply"),
    (b" " * (1 << 20) + b"{}", "larger than 1024 KiB"),
])
def test_bad_json_files(tmp_path, content, needle):
    code, out, err = dry_run(tmp_path, content, "--out", str(tmp_path / "o"), name="run.json")
    if needle is None:
        assert code == 0 and tomllib.loads(out)["steps"] == 2
        return
    assert code == 2
    assert needle in one_error_line(err)


def test_missing_and_directory_config(tmp_path):
    code, _, err = run_cli(["train", "--config", str(tmp_path / "nope.toml"), "--dry-run"])
    assert code == 2 and "does not exist" in one_error_line(err)
    code, _, err = run_cli(["train", "--config", str(tmp_path), "--dry-run"])
    assert code == 2 and "is a directory" in one_error_line(err)


def test_read_config_file_and_to_toml_directly(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('\ufeffsteps = 3\n[task_params]\n"odd key" = "a\\"b"\n')
    data = read_config_file(p)
    assert data == {"steps": 3, "task_params": {"odd key": 'a"b'}}
    assert tomllib.loads(to_toml(data)) == data


# --------------------------------------------------------------------------------------------
# fuzzing: whatever the file holds, one clear line and exit code 2 (or a valid dry run)
# --------------------------------------------------------------------------------------------
def _check_clean(code, out, err):
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        one_error_line(err)
        assert out == ""
    else:
        assert isinstance(tomllib.loads(out), dict)


@FUZZ
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["toml", "json"]))
def test_fuzz_random_bytes(tmp_path, data, fmt):
    _check_clean(*dry_run(tmp_path, data, "--out", str(tmp_path / "o"), name=f"f.{fmt}"))


_toml_chars = st.sampled_from(list(string.printable) + ["é", "\u2028", "\x00", "😀", "[", "]", "=", '"'])


@FUZZ
@given(text=st.text(alphabet=_toml_chars, max_size=200), fmt=st.sampled_from(["toml", "json"]))
def test_fuzz_random_text(tmp_path, text, fmt):
    _check_clean(*dry_run(tmp_path, text.encode("utf-8", "surrogatepass"), "--out",
                          str(tmp_path / "o"), name=f"f.{fmt}"))


_scalars = (st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1) | st.floats(allow_nan=True)
            | st.booleans() | st.text(max_size=12))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3), max_leaves=8)
_keys = st.sampled_from(list(TRAIN_OPTIONS) + ["stepz", "config", "resume", "dry_run", "batch-size"])
_task_keys = st.sampled_from(["length", "delay", "num_symbols", "dt", "bogus"])


@FUZZ
@given(options=st.dictionaries(_keys, _values, max_size=5),
       task_params=st.dictionaries(_task_keys, _values, max_size=3))
def test_fuzz_structured_documents(tmp_path, options, task_params):
    """Valid TOML/JSON with real option names and random values of every type."""
    options = {k: v for k, v in options.items() if k != "out"}
    options["task"] = "copy"
    options["task_params"] = task_params
    if "hidden" in options:  # keep a valid run small if a random one happens to be valid
        options["hidden"] = 4
    for fmt in ("toml", "json"):
        if fmt == "toml":
            try:
                text = to_toml(options)
                tomllib.loads(text)
            except Exception:
                continue  # not representable in TOML (e.g. a list mixing tables and numbers)
        else:
            text = json.dumps(options)
        _check_clean(*dry_run(tmp_path, text, "--out", str(tmp_path / "o"), name=f"f.{fmt}"))


@FUZZ
@given(options=st.dictionaries(st.text(min_size=1, max_size=10), _values, max_size=6))
def test_to_toml_round_trips(options):
    options = {k: (v if not isinstance(v, float) or v == v else 0.0) for k, v in options.items()}
    try:
        text = to_toml(options)
    except Exception:
        return
    try:
        back = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        # only mixed-type arrays of tables may fail; anything else is a writer bug
        assert any(isinstance(v, list) for v in options.values())
        return
    assert json.dumps(back, sort_keys=True) == json.dumps(_drop_none(options), sort_keys=True)


def _drop_none(x):
    if isinstance(x, dict):
        return {k: _drop_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_none(v) for v in x]
    return x


def test_parse_config_text_rejects_non_tables():
    with pytest.raises(Exception, match="table of options"):
        parse_config_text("[1, 2]", "json")


def test_dry_run_without_out_leaves_out_unset(tmp_path):
    """A file made by --dry-run without --out must not pin a time-stamped run directory, or every
    run from it would replace the previous one."""
    code, out, err = run_cli(["train", "--task", "integrator", "--dry-run"])
    assert code == 0, err
    opts = tomllib.loads(out)
    assert "out" not in opts and set(opts) == set(TRAIN_OPTIONS) - {"out"}
    assert "out is not set: each run from this file gets a new directory" in out
    code, again, err = dry_run(tmp_path, out)
    assert code == 0, err
    assert "out" not in tomllib.loads(again)
