"""What every ``neurotrain`` subcommand shares: argument types, one-line errors, printed notes.

Standard library only, so that ``neurotrain --help`` does not import JAX.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["Parser", "UsageError", "number", "comma_list", "parse_key_values", "print_note", "one_line",
           "show_default", "os_error_text",
           "PROG", "EXIT_USAGE"]

PROG = "neurotrain"
EXIT_USAGE = 2
_OFF_WORDS = ("none", "off", "0")


class UsageError(Exception):
    """A mistake on the command line or in a configuration file; one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit code 2)."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def _rule(kind: type, minimum: float | None, inclusive: bool, maximum: float | None) -> str:
    def show(v):
        return str(int(v)) if kind is int else f"{v:g}"

    if kind is int:
        if minimum == 1 or (minimum == 0 and not inclusive):
            text = "a positive integer"
        else:
            text = "an integer" + (f" >= {show(minimum)}" if minimum is not None else "")
    elif minimum == 0 and not inclusive:
        text = "a positive number"
    else:
        text = "a number" + (f" {'>=' if inclusive else '>'} {show(minimum)}" if minimum is not None else "")
    return text + (f" and <= {show(maximum)}" if maximum is not None else "")


def number(kind: type = int, minimum: float | None = None, *, inclusive: bool = True,
           maximum: float | None = None, optional: bool = False):
    """An argparse ``type=``: an ``int`` or a finite ``float`` in range, the rule in the error.

    With ``optional``, ``none``, ``off`` and ``0`` mean off (``None``).

    Examples
    --------
    >>> number(int, 1)("3"), number(float, 0, inclusive=False, optional=True)("off")
    (3, None)
    >>> number(int, 1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a positive integer; got '0'
    """
    rule = _rule(kind, minimum, inclusive, maximum) + (', or "none"' if optional else "")

    def parse(text: str):
        if optional and text.strip().lower() in _OFF_WORDS:
            return None
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}; got {text!r}") from None
        if ((isinstance(v, float) and not math.isfinite(v)) or (minimum is not None and v < minimum)
                or (minimum is not None and not inclusive and v == minimum)
                or (maximum is not None and v > maximum)):
            raise argparse.ArgumentTypeError(f"must be {rule}; got {text!r}")
        return v

    parse.__name__ = rule  # shown by argparse in "invalid <name> value" messages
    return parse


def comma_list(choices: Sequence[str]):
    """An argparse ``type=``: a comma-separated list of ``choices`` (e.g. ``png,pdf``), as a tuple.

    Examples
    --------
    >>> comma_list(("png", "pdf", "svg"))("PNG, .pdf")
    ('png', 'pdf')
    """
    def parse(text: str) -> tuple[str, ...]:
        out = tuple(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip())
        if not out or any(f not in choices for f in out):
            raise argparse.ArgumentTypeError(f"must be a comma-separated list of {', '.join(choices)}; "
                                             f"got {text!r}")
        return out

    return parse


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


def one_line(text: str) -> str:
    """``text`` with its white space (newlines included) folded into single spaces."""
    return " ".join(text.split())


def os_error_text(e: OSError) -> str:
    """An ``OSError`` as ``"<file>: <reason>"`` (e.g. ``"runs/a/config.json: Permission denied"``).

    Examples
    --------
    >>> os_error_text(PermissionError(13, "Permission denied", "runs/a/config.json"))
    'runs/a/config.json: Permission denied'
    """
    name = getattr(e, "filename", None)
    reason = e.strerror or str(e) or type(e).__name__
    return f"{name}: {reason}" if name and str(name) not in reason else reason


def print_note(text: str) -> None:
    """Print a note of a run function on stderr: ``neurotrain: <note>`` on one line."""
    print(f"{PROG}: {one_line(text)}", file=sys.stderr)


def show_default(value: Any) -> str:
    """A default as ``--help`` shows it: ``none``, ``true``, ``0``, ``0.01``, ``1e4``, ``1e-6``.

    Examples
    --------
    >>> [show_default(v) for v in (None, False, 0.0, 0.01, 1e4, 1e-6, 2000, ("png",))]
    ['none', 'false', '0', '0.01', '1e4', '1e-6', '2000', 'png']
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        plain = f"{value:g}"
        mantissa, _, exponent = f"{value:e}".partition("e")
        sci = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        return sci if len(sci) < len(plain) else plain
    if isinstance(value, (tuple, list)):
        return ",".join(show_default(v) for v in value)
    return str(value)
