"""Shared checks of user-given values: one place for "a number, not a bool, finite, in range".

Each function returns the normalised value (a Python ``int``/``float``/``bool``) or raises
:class:`~neurotrain.ConfigError` with the argument's name, the value received and what it
must be (plus an optional ``fix``). NaN and infinities are refused unless a function says
otherwise, so a non-finite value never reaches a config file or a compiled step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from ._errors import ConfigError

__all__ = [
    "SEED_MAX", "check_int", "check_number", "check_positive", "check_bool", "check_choice",
    "check_seed", "derive_seed", "check_finite_tree", "is_number",
]

#: the largest seed neurotrain accepts (seeds are 31-bit so that no two seeds alias)
SEED_MAX = 2 ** 31 - 1
#: what every seed must be, in words
SEED_RULE = f"an integer from 0 to {SEED_MAX} (2**31 - 1)"


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (int, float or numpy scalar), bools excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fail(name: str, value: Any, what: str, fix: str) -> ConfigError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ConfigError(f"{name} must be {what}; got {shown}." + (f" {fix}" if fix else ""))


def _show(v) -> str:
    return str(int(v)) if isinstance(v, int) or (is_number(v) and float(v).is_integer()
                                                  and abs(v) >= 1e6) else f"{v:g}"


def _range_text(minimum, maximum, inclusive: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>=' if inclusive else '>'} {_show(minimum)}")
    if maximum is not None:
        parts.append(f"<= {_show(maximum)}")
    return " and ".join(parts)


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
              allow_none: bool = False, fix: str = "") -> int | None:
    """An integer (numpy integers and integral floats such as ``3.0`` are accepted) in range.

    Examples
    --------
    >>> check_int("num_steps", 3.0, minimum=1)
    3
    >>> check_int("num_steps", 0, minimum=1)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: num_steps must be an integer >= 1; got 0.
    """
    if value is None and allow_none:
        return None
    rng = _range_text(minimum, maximum, True)
    what = "an integer" + (f" {rng}" if rng else "") + (" or None" if allow_none else "")
    if not is_number(value) or not math.isfinite(float(value)) or float(value) != int(value):
        raise _fail(name, value, what, fix)
    v = int(value)
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        raise _fail(name, value, what, fix)
    return v


def check_number(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                 inclusive: bool = True, allow_none: bool = False, allow_inf: bool = False,
                 fix: str = "") -> float | None:
    """A finite real number in range (``inclusive`` applies to ``minimum``).

    Examples
    --------
    >>> check_number("lr", 1e-3, minimum=0, inclusive=False)
    0.001
    >>> check_number("sigma", float("nan"), minimum=0)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: sigma must be a finite number >= 0; got nan.
    """
    if value is None and allow_none:
        return None
    rng = _range_text(minimum, maximum, inclusive)
    what = ("a number" if allow_inf else "a finite number") + (f" {rng}" if rng else "")
    what += " or None" if allow_none else ""
    if not is_number(value):
        raise _fail(name, value, what, fix)
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise _fail(name, value, what, fix)
    if minimum is not None and (v < minimum or (not inclusive and v == minimum)):
        raise _fail(name, value, what, fix)
    if maximum is not None and v > maximum:
        raise _fail(name, value, what, fix)
    return v


def check_positive(name: str, value: Any, *, integer: bool = False, fix: str = "") -> float | int:
    """A positive (integer) number: ``check_int(minimum=1)`` or ``check_number(> 0)``."""
    if integer:
        return check_int(name, value, minimum=1, fix=fix)
    return check_number(name, value, minimum=0.0, inclusive=False, fix=fix)


def check_bool(name: str, value: Any, *, fix: str = "") -> bool:
    """``True`` or ``False`` (numpy bools too; not 0/1 or strings)."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise _fail(name, value, "True or False", fix)


def check_choice(name: str, value: Any, choices: Iterable[Any], *, fix: str = "") -> Any:
    """One of ``choices`` (compared with ``==``)."""
    choices = list(choices)
    if value not in choices:
        raise _fail(name, value, "one of " + ", ".join(repr(c) for c in choices), fix)
    return value


def check_seed(name: str, value: Any) -> int:
    """A seed: an integer in ``[0, SEED_MAX]``, so that different seeds never alias.

    JAX keys are made from 32-bit integers; larger seeds would wrap around and give the key of
    another seed, so every entry point (``train``, ``evaluate``, the command line, configuration
    files) refuses them.

    Examples
    --------
    >>> check_seed("seed", 7)
    7
    >>> check_seed("seed", 2 ** 31)
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: seed must be an integer from 0 to 2147483647 (2**31 - 1); got 2147483648.
    """
    if is_number(value) and math.isfinite(float(value)) and float(value) == int(value) \
            and 0 <= int(value) <= SEED_MAX:
        return int(value)
    raise _fail(name, value, SEED_RULE, "")


def derive_seed(seed: int, offset: int) -> int:
    """The seed of a stream derived from a run's ``seed``: ``(seed + offset) % 2**31``.

    A run seeded ``seed`` trains with ``seed`` (batches, noise and the initial weights), scores
    its final evaluation (and ``neurotrain evaluate``) with ``derive_seed(seed, 1)`` and its
    analysis with ``derive_seed(seed, 2)``. The sum wraps around inside the seed range, so a
    derived seed is always a valid seed (``2**31 - 1`` evaluates with seed 0), and for each
    offset different run seeds give different derived seeds.

    Examples
    --------
    >>> derive_seed(3, 1), derive_seed(SEED_MAX, 1), derive_seed(SEED_MAX, 2)
    (4, 0, 1)
    """
    return (check_seed("seed", seed) + int(offset)) % (SEED_MAX + 1)


def check_finite_tree(name: str, value: Any) -> Any:
    """Refuse NaN or infinite numbers anywhere in nested lists/tuples/dicts (e.g. parameters
    parsed from JSON); returns ``value`` unchanged."""
    def visit(v, where):
        if isinstance(v, dict):
            for k, x in v.items():
                visit(x, f"{where}.{k}")
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                visit(x, f"{where}[{i}]")
        elif is_number(v) and not math.isfinite(float(v)):
            raise _fail(where, v, "a finite number", "NaN and infinities are not valid parameter values.")

    visit(value, name)
    return value
