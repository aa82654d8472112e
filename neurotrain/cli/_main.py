"""``neurotrain``: train, resume, evaluate, export and list tasks from the shell.

Only the standard library is imported at module level, so ``neurotrain --help`` stays fast;
jax, brainstate and matplotlib are imported inside the commands.

Exit codes: 0 success, 2 a usage or configuration error (one line on stderr, no traceback),
3 training diverged (the last good checkpoint stays on disk), 130 interrupted by Ctrl-C and
143 stopped by SIGTERM (a checkpoint is written; resume with ``neurotrain train --resume``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import difflib
import json
import math
import os
import signal
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _analyze  # standard library only at import time

__all__ = ["main", "build_parser", "UsageError", "TRAIN_OPTIONS", "parse_key_values"]

PROG = "neurotrain"
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

DEFAULT_TASK = "perceptual-decision-making"
DEFAULT_CELL = "leaky"
DEFAULT_TAU_MS = 100.0
EVALUATION_FILE = "evaluation.json"


class UsageError(Exception):
    """A mistake on the command line or in a configuration file; one line, exit code 2."""


# --------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit code 2)."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def _number(kind, minimum, inclusive, what):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if (isinstance(v, float) and not math.isfinite(v)) or v < minimum or (not inclusive and v == minimum):
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
        return v

    parse.__name__ = what  # shown by argparse in "invalid <name> value" messages
    return parse


_pos_int = _number(int, 0, False, "a positive integer")
_nonneg_int = _number(int, 0, True, "an integer >= 0")
_pos_float = _number(float, 0.0, False, "a positive number")
_nonneg_float = _number(float, 0.0, True, "a number >= 0")
_OFF_WORDS = ("none", "off", "0")


def _clip_norm(text: str):
    if text.strip().lower() in _OFF_WORDS:
        return None
    return _pos_float(text)


def parse_key_values(items: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """Parse repeated ``KEY=VALUE`` options; values are JSON when they parse, else strings.

    Examples
    --------
    >>> parse_key_values(["delay=20", "activation=tanh", "coherences=[0, 51.2]"], "--task-param")
    {'delay': 20, 'activation': 'tanh', 'coherences': [0, 51.2]}
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            example = "delay=20" if flag == "--task-param" else "tau=50"
            raise UsageError(f"{flag} expects KEY=VALUE (e.g. {flag} {example}); got {item!r}")
        raw = raw.strip()
        if raw == "":
            raise UsageError(f"{flag} {key}= has no value; write {flag} {key}=VALUE")
        python_words = {"True": True, "False": False, "None": None}
        if raw in python_words:
            value = python_words[raw]
        else:
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                value = raw
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# the options of `neurotrain train`: one table for flags, configuration files and --dry-run
# --------------------------------------------------------------------------------------------
def _check_int(value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"an integer >= {minimum}")
    return value


def _check_float(value, minimum: float, inclusive: bool) -> float:
    what = f"a number {'>=' if inclusive else '>'} {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(what)
    v = float(value)
    if not math.isfinite(v) or v < minimum or (not inclusive and v == minimum):
        raise ValueError(what)
    return v


def _check_optional_float(value):
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in _OFF_WORDS):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return None
    try:
        return _check_float(value, 0.0, False)
    except ValueError:
        raise ValueError('a positive number, or "none"') from None


def _check_name(value) -> str:
    if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 for c in value):
        raise ValueError("a name (a non-empty string)")
    return value.strip()


def _check_path(value) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ValueError("a folder path (a non-empty string)")
    return value


def _check_bool(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _check_table(value) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("a table of KEY = VALUE entries (e.g. [task_params] in TOML)")
    out = {}
    for k, v in value.items():
        key = str(k).strip().replace("-", "_")
        if not key.isidentifier():
            raise ValueError(f"a table whose keys are parameter names; {k!r} is not one")
        out[key] = v
    return out


@dataclasses.dataclass(frozen=True)
class _Option:
    name: str
    default: Any
    check: Callable[[Any], Any]
    help: str
    #: may be changed when resuming a run (does not alter the training trajectory)
    resumable: bool = False


def _opt(name, default, check, help, resumable=False):
    return _Option(name, default, check, help, resumable)


#: every option of ``neurotrain train``, in the order ``--dry-run`` prints them
TRAIN_OPTIONS: dict[str, _Option] = {o.name: o for o in [
    _opt("task", DEFAULT_TASK, _check_name,
         f"task name or alias, see `neurotrain tasks` (default: {DEFAULT_TASK})"),
    _opt("task_params", {}, _check_table,
         "set a task parameter, repeatable; VALUE is parsed as JSON when possible, else kept as a "
         "string (e.g. --task-param delay=20) (default: none)"),
    _opt("cell", DEFAULT_CELL, _check_name,
         f"recurrent cell: vanilla, leaky, gru or lstm (default: {DEFAULT_CELL})"),
    _opt("cell_params", {}, _check_table,
         "set a cell parameter, repeatable (e.g. --cell-param tau=50 --cell-param "
         "activation=tanh). For the leaky cell dt defaults to the task's dt and tau to "
         f"{DEFAULT_TAU_MS:g} ms (default: none)"),
    _opt("hidden", 128, lambda v: _check_int(v, 1), "recurrent units per layer (default: 128)"),
    _opt("layers", 1, lambda v: _check_int(v, 1), "number of stacked recurrent layers (default: 1)"),
    _opt("method", "bptt", _check_name,
         "gradient method: bptt (exact), d-rtrl or pp-prop / es-d-rtrl (online, approximate; built "
         "on braintrace) (default: bptt)"),
    _opt("method_params", {}, _check_table,
         "set an option of the gradient method, repeatable; online methods take "
         "vjp_method=multi-step|single-step, warmup=N|auto, update_every=K, and pp-prop decay=0.9 "
         "(default: none)"),
    _opt("steps", 2000, lambda v: _check_int(v, 1),
         "training steps, one batch each (default: 2000)", resumable=True),
    _opt("batch_size", 32, lambda v: _check_int(v, 1), "trials per training step (default: 32)"),
    _opt("lr", 0.01, lambda v: _check_float(v, 0.0, False), "Adam learning rate (default: 0.01)"),
    _opt("l2", 0.0, lambda v: _check_float(v, 0.0, True),
         "coefficient of the L2 penalty on all weights (default: 0)"),
    _opt("rate_l2", 0.0, lambda v: _check_float(v, 0.0, True),
         "coefficient of the firing-rate penalty mean(h^2) (default: 0)"),
    _opt("clip_norm", None, _check_optional_float,
         "clip the gradient's global norm to X (default: none)"),
    _opt("seed", 0, lambda v: _check_int(v, 0),
         "seeds the weights, the training batches and the noise; the final evaluation uses seed+1 "
         "(default: 0)"),
    _opt("eval_trials", 2000, lambda v: _check_int(v, 1),
         "fresh trials for the held-out evaluations during and after training (default: 2000)"),
    _opt("eval_every", 200, lambda v: _check_int(v, 0),
         "evaluate every N steps during training, 0 for never (default: 200)", resumable=True),
    _opt("checkpoint_every", 500, lambda v: _check_int(v, 0),
         "write a checkpoint every N steps into RUN_DIR/checkpoints (also at the start and the "
         "end), 0 for only at the start and the end (default: 500)", resumable=True),
    _opt("keep_checkpoints", 3, lambda v: _check_int(v, 0),
         "keep the newest N checkpoints, 0 for all (default: 3)", resumable=True),
    _opt("activity_bound", 1e4, _check_optional_float,
         "stop when the hidden activity max|h| exceeds X (exploding dynamics), none for no check "
         "(default: 1e4)"),
    _opt("out", None, _check_path,
         "run directory to write (default: runs/<task>-<cell>-<YYYYmmdd-HHMMSS>)"),
    _opt("no_progress", False, _check_bool, "hide the progress bar (default: shown)", resumable=True),
    _opt("no_figures", False, _check_bool, "do not draw the PNG figures (default: drawn)", resumable=True),
]}
_TABLE_FLAGS = {"task_params": "--task-param", "cell_params": "--cell-param",
                "method_params": "--method-param"}


def _flag(name: str) -> str:
    return _TABLE_FLAGS.get(name, "--" + name.replace("_", "-"))


def _validate(name: str, value, source: str):
    """Check one option's value; raise UsageError naming the option, the value and what it takes."""
    opt = TRAIN_OPTIONS[name]
    try:
        return opt.check(value)
    except ValueError as e:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise UsageError(f"{source}: {name} = {shown} is not valid; {name} must be {e}") from None


def _unknown_option(key: str, source: str) -> UsageError:
    close = difflib.get_close_matches(key, list(TRAIN_OPTIONS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return UsageError(f"{source}: unknown option {key!r}.{hint} Allowed options: "
                      f"{', '.join(TRAIN_OPTIONS)}.")


def options_from_mapping(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Validate a table of options (from a configuration file); returns the normalised options.

    Keys may use ``-`` or ``_`` (``batch-size`` or ``batch_size``). Unknown keys and bad values
    raise :class:`UsageError` naming the key and the allowed keys or values.
    """
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).strip().replace("-", "_")
        if key not in TRAIN_OPTIONS:
            raise _unknown_option(str(raw_key), source)
        if key in out:
            raise UsageError(f"{source}: option {key!r} is given twice.")
        out[key] = _validate(key, value, source)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurotrain`` command (all subcommands)."""
    parser = _Parser(
        prog=PROG,
        description="Train and analyse recurrent neural networks on neuroscience tasks.",
        epilog=("examples:\n"
                "  neurotrain train                                  # leaky RNN on perceptual decision making\n"
                "  neurotrain train --task copy --cell gru --task-param delay=20\n"
                "  neurotrain train --config run.toml --steps 500    # options from a file, one overridden\n"
                "  neurotrain train --resume runs/copy-gru-20250101-120000\n"
                "  neurotrain evaluate runs/perceptual-decision-making-leaky-20250101-120000\n"
                "  neurotrain analyze runs/perceptual-decision-making-leaky-20250101-120000\n"
                "  neurotrain export runs/perceptual-decision-making-leaky-20250101-120000\n"
                "  neurotrain tasks"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # --- train ---------------------------------------------------------------------------
    tr = sub.add_parser(
        "train", help="train a network and save a run directory (or resume one)",
        description=("Train an RNN on a task, evaluate it on fresh trials and save a run directory "
                     "(config.json, checkpoints/, metrics.csv, summary.json, figures/). Options come "
                     "from the defaults, then a --config file, then the command line."),
        epilog=("examples:\n"
                "  neurotrain train --steps 500 --hidden 64\n"
                "  neurotrain train --task copy --cell gru --task-param delay=20 --lr 0.005\n"
                "  neurotrain train --cell-param tau=50 --cell-param activation=tanh --cell-param sigma_rec=0.05\n"
                "  neurotrain train --config run.toml --dry-run     # print the resolved options\n"
                "  neurotrain train --resume RUN_DIR                # continue from the last checkpoint"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    opts = TRAIN_OPTIONS
    g = tr.add_argument_group("configuration")
    g.add_argument("--config", metavar="FILE",
                   help="read options from a TOML (.toml) or JSON (.json) file; flags given on the "
                        "command line override it (default: none)")
    g.add_argument("--dry-run", nargs="?", const="toml", choices=("toml", "json"), metavar="FORMAT",
                   help="print the resolved options (as TOML, or JSON with --dry-run json) and exit "
                        "without training (default: train)")
    g.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its newest checkpoint, with its recorded "
                        "options; only --steps, --eval-every, --checkpoint-every, --keep-checkpoints, "
                        "--no-progress and --no-figures may be changed (default: a new run)")
    g = tr.add_argument_group("task and model")
    g.add_argument("--task", help=opts["task"].help)
    g.add_argument("--task-param", dest="task_params", action="append", metavar="KEY=VALUE",
                   help=opts["task_params"].help)
    g.add_argument("--cell", help=opts["cell"].help)
    g.add_argument("--cell-param", dest="cell_params", action="append", metavar="KEY=VALUE",
                   help=opts["cell_params"].help)
    g.add_argument("--hidden", type=_pos_int, metavar="N", help=opts["hidden"].help)
    g.add_argument("--layers", type=_pos_int, metavar="N", help=opts["layers"].help)
    g = tr.add_argument_group("training")
    g.add_argument("--method", help=opts["method"].help)
    g.add_argument("--method-param", dest="method_params", action="append", metavar="KEY=VALUE",
                   help=opts["method_params"].help)
    g.add_argument("--steps", type=_pos_int, metavar="N", help=opts["steps"].help)
    g.add_argument("--batch-size", type=_pos_int, metavar="N", help=opts["batch_size"].help)
    g.add_argument("--lr", type=_pos_float, help=opts["lr"].help)
    g.add_argument("--l2", type=_nonneg_float, help=opts["l2"].help)
    g.add_argument("--rate-l2", type=_nonneg_float, help=opts["rate_l2"].help)
    g.add_argument("--clip-norm", type=_clip_norm, metavar="X", help=opts["clip_norm"].help)
    g.add_argument("--seed", type=_nonneg_int, help=opts["seed"].help)
    g.add_argument("--activity-bound", type=_clip_norm, metavar="X", help=opts["activity_bound"].help)
    g = tr.add_argument_group("evaluation, checkpoints and output")
    g.add_argument("--eval-trials", type=_pos_int, metavar="N", help=opts["eval_trials"].help)
    g.add_argument("--eval-every", type=_nonneg_int, metavar="N", help=opts["eval_every"].help)
    g.add_argument("--checkpoint-every", type=_nonneg_int, metavar="N", help=opts["checkpoint_every"].help)
    g.add_argument("--keep-checkpoints", type=_nonneg_int, metavar="N", help=opts["keep_checkpoints"].help)
    g.add_argument("--out", metavar="DIR", help=opts["out"].help)
    g.add_argument("--no-progress", action="store_true", help=opts["no_progress"].help)
    g.add_argument("--no-figures", action="store_true", help=opts["no_figures"].help)

    # --- evaluate ------------------------------------------------------------------------
    ev = sub.add_parser(
        "evaluate", help="score a saved run on fresh trials",
        description=("Reload a run directory (its newest checkpoint), score the network on fresh "
                     f"trials, print the report and write {EVALUATION_FILE} into the run directory."),
    )
    ev.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `neurotrain train`")
    ev.add_argument("--trials", type=_pos_int, default=None, metavar="N",
                    help="number of trials (default: the run's --eval-trials, else 2000)")
    ev.add_argument("--seed", type=_nonneg_int, default=None,
                    help="seed of the trials and the network noise (default: the run's seed + 1, "
                         "the trials of the report printed after training)")

    # --- export --------------------------------------------------------------------------
    ex = sub.add_parser(
        "export", help="write a run's weights as plain numpy arrays plus a JSON description",
        description=("Write the newest checkpoint of a run as weights.npz (one array per parameter, "
                     "named by its dotted path, e.g. layers.0.W_rec) and description.json (task, "
                     "model, each cell's equations, shapes). Read them with "
                     "neurotrain.io.read_export; neurotrain.io.numpy_forward runs the network "
                     "with numpy alone."),
    )
    ex.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `neurotrain train`")
    ex.add_argument("--format", choices=("npz",), default="npz", help="export format (default: npz)")
    ex.add_argument("--out", default=None, metavar="DIR",
                    help="folder to write (default: RUN_DIR/export)")

    # --- analyze -------------------------------------------------------------------------
    from ._analyze import add_parser as _add_analyze_parser

    _add_analyze_parser(sub)

    # --- tasks ---------------------------------------------------------------------------
    sub.add_parser("tasks", help="list the tasks with their aliases, paper and description",
                   description="List every registered task with its aliases, paper and description.")
    return parser


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _use_agg() -> None:
    """Render figures off-screen: the command line never opens windows."""
    import matplotlib

    matplotlib.use("Agg")


def _default_out(task_name: str, cell: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join("runs", f"{task_name}-{cell}-{stamp}")
    out, i = base, 1
    while os.path.exists(out):
        i += 1
        out = f"{base}-{i}"
    return out


_RUN_FILES = ("config.json", "checkpoint.msgpack", "summary.json", "metrics.csv", EVALUATION_FILE,
              _analyze.ANALYSIS_FILE)
_RUN_FIGURES = ("loss_curve", "example_trials", "performance_by_condition", *_analyze.ANALYSIS_FIGURES)


def _clear_old_run(out: str) -> None:
    """Remove the files of an earlier run in ``out`` (training and ``analyze`` outputs alike) so
    that no stale result survives. Only files neurotrain writes are touched."""
    import re

    old = [os.path.join(out, f) for f in _RUN_FILES]
    figures = "|".join(re.escape(f) for f in _RUN_FIGURES)
    for folder, pattern in (("checkpoints", r"^step-\d+\.msgpack$"), ("tensorboard", r"^events\.out\.tfevents\."),
                            ("figures", rf"^({figures})\.(png|pdf|svg)$"),
                            (_analyze.ANALYSIS_DIR, _analyze.ANALYSIS_RESULT_PATTERN)):
        path = os.path.join(out, folder)
        if os.path.isdir(path):
            old += [os.path.join(path, f) for f in sorted(os.listdir(path)) if re.match(pattern, f)]
    old = [p for p in old if os.path.isfile(p)]
    if old:
        print(f"{PROG}: note: replacing the earlier run in {out}", file=sys.stderr)
    for p in old:
        os.remove(p)


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def format_report(*, task, evaluation, run_dir: str | None = None, summary: dict | None = None,
                  seed: int | None = None, header: str | None = None) -> str:
    """The short text report printed by ``train`` and ``evaluate``."""
    lines = [header] if header else []

    def row(label: str, text: str) -> None:
        lines.append(f"  {label:<13}{text}")

    if run_dir is not None:
        row("run dir", run_dir)
    if summary:
        if summary.get("steps") is not None and summary.get("wall_time_s") is not None:
            extra = f", compile {summary['compile_time_s']:.1f} s" if summary.get("compile_time_s") else ""
            reason = summary.get("stop_reason", "completed")
            row("trained", f"{summary['steps']} steps ({reason}) in {summary['wall_time_s']:.1f} s{extra}")
        if summary.get("final_loss") is not None:
            row("final loss", f"{summary['final_loss']:.4g}")
    scores = evaluation.scores
    where = f"on {evaluation.num_trials} fresh trials" + (f" (seed {seed})" if seed is not None else "")
    metric = task.primary_metric
    if task.target_type == "class" and "accuracy" in scores:
        row("accuracy", f"{_pct(scores['accuracy'])} {where}")
        if "ideal_accuracy" in scores:
            gap = 100.0 * (scores["ideal_accuracy"] - scores["accuracy"])
            row("ideal", f"{_pct(scores['ideal_accuracy'])} (ideal observer, same trials): "
                         f"gap {gap:.1f} points")
    elif metric in scores:
        row(metric, f"{scores[metric]:.4g} {where}")
        if f"ideal_{metric}" in scores:
            row("ideal", f"{scores[f'ideal_{metric}']:.4g} (ideal observer, same trials)")
    else:
        for k, v in scores.items():
            row(k, f"{v:.4g}")
    if evaluation.per_condition:
        key = next(iter(evaluation.per_condition))
        lines.append(f"  per {key}:")
        lines.extend("    " + t for t in _condition_table(evaluation.per_condition[key], key, metric,
                                                         percent=metric == "accuracy"))
    return "\n".join(lines)


def _condition_table(rows, key: str, metric: str, *, percent: bool) -> list[str]:
    ideal = f"ideal_{metric}" in rows[0]
    heads = [key, "n", metric] + (["ideal", "gap"] if ideal else [])
    body = []
    for r in rows:
        v = r.get(metric, float("nan"))
        cells = [f"{r[key]:g}", str(int(r.get("n", 0))), f"{100 * v:.1f}" if percent else f"{v:.4g}"]
        if ideal:
            iv = r[f"ideal_{metric}"]
            cells += [f"{100 * iv:.1f}" if percent else f"{iv:.4g}",
                      f"{100 * (iv - v):.1f}" if percent else f"{iv - v:.3g}"]
        body.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(heads)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    out = [fmt.format(*heads)]
    out += [fmt.format(*c) for c in body]
    if percent:
        out.append(f"({metric}, ideal and gap in %)")
    return out

# --------------------------------------------------------------------------------------------
# resolving the options of `train`
# --------------------------------------------------------------------------------------------
def _given_options(args) -> dict[str, Any]:
    """The options given as flags, validated (tables from KEY=VALUE items)."""
    given = {}
    for name in TRAIN_OPTIONS:
        if name not in vars(args):
            continue
        value = getattr(args, name)
        if name in _TABLE_FLAGS:
            value = parse_key_values(value, _TABLE_FLAGS[name])
        given[name] = _validate(name, value, "the command line")
    return given


def _config_file_options(path: str) -> dict[str, Any]:
    from ..io import CONFIG_FILE, read_config_file

    data = read_config_file(path)
    source = f"configuration file {path}"
    if os.path.basename(path) == CONFIG_FILE and isinstance(data.get("options"), dict):
        # a run directory's config.json: reuse its recorded options (but not its folder)
        data = {k: v for k, v in data["options"].items() if k != "out"}
    return options_from_mapping(data, source)


def _merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers override earlier ones; tables are merged key by key."""
    out: dict[str, Any] = {}
    for layer in layers:
        for k, v in layer.items():
            out[k] = {**out.get(k, {}), **v} if k in _TABLE_FLAGS else v
    return out


def _resolve_new_run(args) -> dict[str, Any]:
    defaults = {k: (dict(o.default) if isinstance(o.default, dict) else o.default)
                for k, o in TRAIN_OPTIONS.items()}
    from_file = _config_file_options(args.config) if "config" in vars(args) else {}
    return _merge(defaults, from_file, _given_options(args))


def _resolve_resume(args) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options of the run to resume (from its config.json) with the allowed overrides."""
    from ..io import CONFIG_FILE, read_json

    run_dir = args.resume
    if "config" in vars(args):
        raise UsageError("--resume and --config cannot be combined: a resumed run keeps the options "
                         f"recorded in {os.path.join(run_dir, CONFIG_FILE)}.")
    if not os.path.isdir(run_dir):
        what = "is a file, not a directory" if os.path.exists(run_dir) else "does not exist"
        raise UsageError(f"--resume {run_dir}: the run directory {what}.")
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise UsageError(f"--resume {run_dir}: it holds no {CONFIG_FILE}, so it is not a neurotrain run "
                         f"directory.")
    config = read_json(path)
    recorded = config.get("options") if isinstance(config, dict) else None
    if not isinstance(recorded, dict):
        raise UsageError(f"{path} records no 'options' (it was written by an older neurotrain), so "
                         f"the run cannot be resumed; train it again.")
    recorded = {k: v for k, v in recorded.items() if k in TRAIN_OPTIONS}
    options = _merge({k: o.default for k, o in TRAIN_OPTIONS.items()},
                     options_from_mapping(recorded, path))
    given = _given_options(args)
    fixed = [k for k in given if not TRAIN_OPTIONS[k].resumable and given[k] != options.get(k)]
    if fixed:
        allowed = ", ".join(_flag(k) for k, o in TRAIN_OPTIONS.items() if o.resumable)
        raise UsageError(
            f"{_flag(fixed[0])} cannot be changed when resuming: the run's options are fixed in {path} "
            f"(only {allowed} can). To train with other options, start a new run: "
            f"neurotrain train --config {path} {_flag(fixed[0])} ... --out NEW_DIR"
        )
    options.update(given)
    options["out"] = run_dir
    return options, config


def _build(options: dict[str, Any], *, check_cell: bool):
    """Build the task, the cell class and the method from the options (validating them)."""
    from .._errors import NeurotrainError
    from ..models import get_cell_class
    from ..tasks import make_task
    from ..training import get_method

    try:
        task = make_task(options["task"], **options["task_params"])
    except NeurotrainError:
        raise
    except Exception as e:  # a task constructor met a value of the wrong type
        raise UsageError(f"bad task_params for task {options['task']!r}: {type(e).__name__}: {e}") from None
    cls = get_cell_class(options["cell"])
    cell_params = dict(options["cell_params"])
    if cls.kind == "leaky":
        cell_params = {"dt": float(task.dt), "tau": DEFAULT_TAU_MS, **cell_params}
    try:
        method = get_method(options["method"], **options["method_params"])
    except NeurotrainError:
        raise
    except Exception as e:
        raise UsageError(f"bad method_params for method {options['method']!r}: {type(e).__name__}: {e}") from None
    if check_cell:  # on a tiny cell (the real one may be large); a real run builds it anyway
        _check_cell(cls, cell_params)
    return task, cls, cell_params, method


def _check_cell(cls, cell_params) -> None:
    import inspect

    from .._errors import NeurotrainError

    allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "num_in", "num_rec")]
    unknown = sorted(set(cell_params) - set(allowed))
    if unknown:
        raise UsageError(f"cell {cls.kind!r} has no parameter {unknown[0]!r}. Allowed: {', '.join(allowed)}.")
    try:
        cls(1, 2, **cell_params)
    except NeurotrainError:
        raise
    except Exception as e:
        raise UsageError(f"bad cell_params for cell {cls.kind!r}: {type(e).__name__}: {e}") from None


def _print_options(options: dict[str, Any], fmt: str, header: str) -> None:
    from ..io import to_toml

    if fmt == "json":
        print(json.dumps(options, indent=2, allow_nan=False))
    else:  # TOML has no null: write the "off" values of optional numbers as "none"
        shown = {k: ("none" if v is None and TRAIN_OPTIONS[k].check is _check_optional_float else v)
                 for k, v in options.items()}
        print(to_toml(shown, header=header), end="")


def _run_summary(out, task, *, steps_done, steps, stop_reason, extra=None):
    from ..io import SUMMARY_FILE, write_json

    summary = {"task": task.name, "steps": steps_done, "num_steps": steps, "stop_reason": stop_reason,
               "primary_metric": task.primary_metric}
    summary.update(extra or {})
    write_json(os.path.join(out, SUMMARY_FILE), summary)


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------
def _cmd_train(args, argv: Sequence[str]) -> int:
    resume = "resume" in vars(args)
    if resume:
        options, old_config = _resolve_resume(args)
    else:
        options, old_config = _resolve_new_run(args), None
    dry_run = vars(args).get("dry_run")
    _use_agg()
    task, cls, cell_params, method = _build(options, check_cell=bool(dry_run))
    options["cell_params"] = cell_params  # resolved: the leaky cell's dt and tau included
    options["cell"] = cls.kind
    out_given = options["out"] is not None
    if not out_given:
        options["out"] = _default_out(task.name, cls.kind)
    out = options["out"]
    if dry_run:
        what = f"resuming {out}" if resume else "a new run"
        header = f"neurotrain train: resolved options ({what}); train with: neurotrain train --config FILE"
        shown = options
        if not out_given and not resume:
            # a time-stamped `out` in a reusable file would make every run from it replace the last
            shown = {k: v for k, v in options.items() if k != "out"}
            header += (f"\nout is not set: each run from this file gets a new directory "
                       f"(runs/{task.name}-{cls.kind}-<time>); set out = \"DIR\" to fix one")
        _print_options(shown, dry_run, header=header)
        return 0
    return _train(args, argv, options, task, cls, method, old_config)


def _train(args, argv, options, task, cls, method, old_config) -> int:
    import brainstate
    import braintools

    from .._errors import TrainingDivergedError
    from ..analysis import evaluate
    from ..io import (
        CONFIG_FILE,
        METRICS_FILE,
        SUMMARY_FILE,
        TENSORBOARD_DIR,
        checkpoint_path,
        latest_checkpoint,
        read_checkpoint,
        read_json,
        run_config,
        save_run,
        write_json,
    )
    from ..models import build_model
    from ..training import Trainer
    from ..training._callbacks import Checkpoint, CSVLogger, ProgressBar, TensorBoardLogger

    resume = old_config is not None
    out, steps, seed = options["out"], options["steps"], options["seed"]
    brainstate.random.seed(seed)
    model = build_model(cls.kind, task.num_in, options["hidden"], task.num_out,
                        num_layers=options["layers"], **options["cell_params"])
    optimizer = braintools.optim.Adam(lr=options["lr"])

    ckpt = None
    if resume:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ckpt = latest_checkpoint(out)
        for w in caught:
            _warn(str(w.message))
        config = dict(old_config)
        config["options"] = options
        config["training"] = {**config.get("training", {}), "num_steps": steps}
        config["resumed"] = [*config.get("resumed", []),
                             {"at": datetime.datetime.now().isoformat(timespec="seconds"),
                              "command": " ".join([PROG, *argv])}]
    else:
        try:
            os.makedirs(out, exist_ok=True)
            _clear_old_run(out)
        except OSError as e:
            raise UsageError(f"cannot create the run directory {out!r}: {e.strerror or e}") from None
        config = {
            "command": " ".join([PROG, *argv]),
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
            "seed": seed,
            "method": method.config(),
            "training": {"num_steps": steps, "batch_size": options["batch_size"], "l2": options["l2"],
                         "rate_l2": options["rate_l2"], "clip_norm": options["clip_norm"],
                         "eval_every": options["eval_every"], "eval_trials": options["eval_trials"],
                         "log_every": 10, "activity_bound": options["activity_bound"],
                         "checkpoint_every": options["checkpoint_every"],
                         "keep_checkpoints": options["keep_checkpoints"]},
            "cli": {"task": options["task"], "task_params": options["task_params"], "cell": cls.kind,
                    "hidden": options["hidden"], "layers": options["layers"],
                    "cell_params": options["cell_params"]},
            "options": options,
        }
    # written before training so that a crashed run still says what it was (and can resume)
    write_json(os.path.join(out, CONFIG_FILE), run_config(model=model, task=task, config=config,
                                                          optimizer=optimizer))

    checkpointer = Checkpoint(out, every=options["checkpoint_every"], keep=options["keep_checkpoints"])
    callbacks = [CSVLogger(os.path.join(out, METRICS_FILE)), checkpointer]
    board = TensorBoardLogger(os.path.join(out, TENSORBOARD_DIR))
    if board.available:
        callbacks.append(board)
    if not options["no_progress"]:
        callbacks.insert(0, ProgressBar(desc=f"{task.name} ({cls.kind}, {method.name})"))
    trainer = Trainer(model, task, optimizer, method=method, num_steps=steps,
                      batch_size=options["batch_size"], seed=seed, l2=options["l2"],
                      rate_l2=options["rate_l2"], clip_norm=options["clip_norm"],
                      eval_every=options["eval_every"], eval_trials=options["eval_trials"], log_every=10,
                      callbacks=callbacks, activity_bound=options["activity_bound"])
    if resume:
        if ckpt is None:
            print(f"{PROG}: note: {out} has no checkpoint yet; starting it again from step 0",
                  file=sys.stderr)
        else:
            step = trainer.restore(ckpt)
            if step >= steps and _run_finished(out, steps):
                print(f"{PROG}: nothing to resume: {out} already finished its {steps} steps "
                      f"(checkpoint {ckpt}). Pass --steps N with N > {steps} to train further.",
                      file=sys.stderr)
                return 0
            if step >= steps:   # stopped after the last step, before the final evaluation was saved
                print(f"{PROG}: {out} finished training ({ckpt}) but not its final evaluation; "
                      f"writing it now", file=sys.stderr)
            else:
                print(f"{PROG}: resuming {out} from step {step} of {steps} ({ckpt})", file=sys.stderr)
            _note_stale_outputs(out)

    try:
        result = trainer.run()
    except TrainingDivergedError as e:
        last = latest_checkpoint(out)
        last_step = None if last is None else read_checkpoint(last)["step"]
        _run_summary(out, task, steps_done=last_step, steps=steps,
                     stop_reason="diverged", extra={"error": str(e), "diverged_at_step": e.step,
                                                    "last_checkpoint": last, "last_checkpoint_step": last_step})
        where = f"the last good checkpoint is {last} (step {last_step})" if last else "no checkpoint was written"
        print(f"{PROG}: error: training diverged: {_one_line(str(e))} Stopped; {where} in the run "
              f"directory {out}.", file=sys.stderr)
        return EXIT_DIVERGED

    if result.stop_reason == "interrupted":
        terminated = trainer.interrupted_by == getattr(signal, "SIGTERM", None)
        code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        what = "stopped by SIGTERM" if terminated else "interrupted"
        if trainer.consistent and checkpointer.last_step == trainer.step:
            saved = f"checkpoint {checkpoint_path(out, trainer.step)} written"
        else:
            last = latest_checkpoint(out)
            saved = f"the newest checkpoint is {last}" if last else "no checkpoint was written"
        _run_summary(out, task, steps_done=trainer.step, steps=steps, stop_reason="interrupted",
                     extra={"final_loss": float(result.final_loss) if len(result.loss) else None})
        print(f"{PROG}: {what} at step {trainer.step} of {steps}; {saved}. Resume with: "
              f"{PROG} train --resume {out}", file=sys.stderr)
        return code

    seed_eval = seed + 1
    evaluation = evaluate(model, task, options["eval_trials"], seed=seed_eval)
    save_run(out, model=model, task=task, config=config, result=result, evaluation=evaluation,
             optimizer=optimizer, checkpoint=False, figures=not options["no_figures"])
    summary = read_json(os.path.join(out, SUMMARY_FILE))
    header = (f"{PROG}: trained a {cls.kind} RNN ({options['layers']} x {options['hidden']} units) on "
              f"{task.name} with {method.name}")
    if result.resumed_from is not None:
        header += f" (resumed at step {result.resumed_from})"
        summary["resumed_from"] = result.resumed_from
        write_json(os.path.join(out, SUMMARY_FILE), summary)
    print(format_report(task=task, evaluation=evaluation, run_dir=out, summary=summary,
                        seed=seed_eval, header=header))
    return 0


def _run_finished(out: str, steps: int) -> bool:
    """Whether ``out`` holds the summary of a run that completed its ``steps`` training steps."""
    from ..io import SUMMARY_FILE, read_json

    try:
        summary = read_json(os.path.join(out, SUMMARY_FILE))
    except Exception:       # missing or unreadable: the final evaluation was not written
        return False
    return summary.get("steps") == steps and summary.get("stop_reason") not in ("interrupted", "diverged")


def _note_stale_outputs(out: str) -> None:
    """On resume: name the files made from the weights before resuming (they are kept)."""
    stale = [f for f in (EVALUATION_FILE, _analyze.ANALYSIS_FILE, "export") if os.path.exists(os.path.join(out, f))]
    if stale:
        print(f"{PROG}: note: {', '.join(stale)} in {out} describe the weights before resuming; they are "
              f"kept as they are. Run `{PROG} evaluate/analyze/export {out}` again after training.",
              file=sys.stderr)


def _cmd_export(args) -> int:
    from ..io import export_run

    npz, desc = export_run(args.run_dir, args.out, format=args.format)
    print(f"{PROG}: exported {args.run_dir}\n  weights      {npz}\n  description  {desc}\n"
          f"Read them with: weights, description = neurotrain.io.read_export({os.path.dirname(npz)!r})")
    return 0


def _cmd_evaluate(args) -> int:
    _use_agg()
    from ..analysis import evaluate
    from ..io import SUMMARY_FILE, library_versions, load_run, read_json, write_json

    run_dir = args.run_dir
    model, task, config = load_run(run_dir)
    training = config.get("training") or {}
    trials = args.trials if args.trials is not None else int(training.get("eval_trials", 2000))
    seed = args.seed if args.seed is not None else int(config.get("seed", 0)) + 1
    evaluation = evaluate(model, task, trials, seed=seed)
    summary_path = os.path.join(run_dir, SUMMARY_FILE)
    summary = read_json(summary_path) if os.path.exists(summary_path) else None
    write_json(os.path.join(run_dir, EVALUATION_FILE), {
        "task": task.name, "num_trials": trials, "seed": seed, "primary_metric": task.primary_metric,
        "scores": evaluation.scores, "per_condition": evaluation.per_condition,
        "created": datetime.datetime.now().isoformat(timespec="seconds"), "versions": library_versions(),
    })
    header = f"{PROG}: evaluated {run_dir} on {task.name}"
    print(format_report(task=task, evaluation=evaluation, run_dir=run_dir, summary=summary, seed=seed,
                        header=header))
    return 0


def _cmd_tasks(args) -> int:
    from ..tasks import list_tasks

    tasks = list_tasks()
    for t in tasks:
        names = [a.strip() for a in t["aliases"].split(",") if a.strip() and a.strip() != t["name"]]
        aliases = f"  (aliases: {', '.join(names)})" if names else ""
        print(f"{t['name']}{aliases}")
        if t["description"]:
            print(f"    {t['description']}")
        if t["paper"]:
            print(f"    paper: {t['paper']}")
    print(f"\n{len(tasks)} tasks. Set parameters with `neurotrain train --task NAME --task-param KEY=VALUE`.")
    return 0


def _versions() -> str:
    from importlib import metadata

    from .._version import __version__

    parts = [f"neurotrain {__version__}"]
    for pkg in ("jax", "brainstate", "braintools", "braintrace"):
        try:
            parts.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{pkg} (not installed)")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``neurotrain`` command; returns the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a usage or configuration error (one line on stderr), 3 if training
        diverged (the last good checkpoint stays on disk), 130 if interrupted by Ctrl-C and 143
        if stopped by SIGTERM (a checkpoint is written first; resume with ``--resume``).

    Examples
    --------
    >>> main(["tasks"])  # doctest: +SKIP
    copy
        Remember a sequence of digits over a delay and recall it on a trigger (seed 001).
    ...
    >>> main(["train", "--steps", "200", "--hidden", "64", "--out", "/tmp/run"])  # doctest: +SKIP
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if args.version:
        print(_versions())
        return 0
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: choose a command: train, evaluate, analyze, export or tasks (see '{PROG} --help')",
              file=sys.stderr)
        return EXIT_USAGE

    from .._errors import NeurotrainError

    try:
        if args.command == "train":
            return _cmd_train(args, argv)
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        if args.command == "export":
            return _cmd_export(args)
        if args.command == "analyze":
            from ._analyze import run as _run_analyze

            return _run_analyze(args)
        return _cmd_tasks(args)
    except (UsageError, NeurotrainError) as e:
        print(f"{PROG}: error: {_one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _one_line(text: str) -> str:
    return " ".join(text.split())
