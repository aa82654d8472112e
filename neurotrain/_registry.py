"""One registry helper for everything selected by name: cells, tasks, gradient methods.

Names are normalised the same way everywhere (:func:`normalise`): case is ignored and ``-``
and ``_`` are the same character, so ``--task perceptual_decision_making``,
``perceptual-decision-making`` and ``Perceptual-Decision-Making`` name one task. A lookup that
fails raises :class:`~neurotrain.ConfigError` naming the argument, the value, the closest
known name and every known name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from ._errors import ConfigError

__all__ = ["Registry", "normalise"]

T = TypeVar("T")


def normalise(name: str) -> str:
    """The canonical spelling of a registry name: stripped, lower case, ``_`` written ``-``.

    Examples
    --------
    >>> normalise(" Perceptual_Decision-Making ")
    'perceptual-decision-making'
    """
    return str(name).strip().lower().replace("_", "-")


class Registry(Generic[T]):
    """A name -> object table with aliases, per-entry metadata and clear errors.

    Parameters
    ----------
    kind : str
        What the entries are, for messages (``"task"``, ``"cell"``, ``"method"``).
    argument : str, optional
        The argument users pass the name as (``"task"``, ``"cell"``, ``"method"``); default
        ``kind``.
    hint : str
        Appended to the error for an unknown name (e.g. where to find the list).

    Examples
    --------
    >>> shapes = Registry("shape")
    >>> @shapes.register("square", aliases=("box",), sides=4)
    ... class Square:
    ...     pass
    >>> shapes.get("BOX") is Square, shapes.meta("square")["sides"], shapes.names()
    (True, 4, ['square'])
    >>> shapes.get("sqare")
    Traceback (most recent call last):
    ...
    neurotrain._errors.ConfigError: shape='sqare' is not a known shape. Did you mean 'square'? Known shapes: square.
    """

    def __init__(self, kind: str, *, argument: str | None = None, hint: str = ""):
        self.kind = kind
        self.argument = argument or kind
        self.hint = hint
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    # --- registering -------------------------------------------------------------------------
    def add(self, name: str, obj: T, *, aliases: tuple[str, ...] = (), **meta: Any) -> T:
        """Register ``obj`` as ``name`` (and ``aliases``) with metadata ``meta``; returns ``obj``."""
        key = normalise(name)
        if not key:
            raise ConfigError(f"a {self.kind} needs a non-empty name; got {name!r}.")
        self._entries[key] = obj
        self._meta[key] = dict(meta)
        for a in aliases:
            alias = normalise(a)
            if alias != key:
                self._aliases[alias] = key
        return obj

    def register(self, name: str, *, aliases: tuple[str, ...] = (), **meta: Any) -> Callable[[T], T]:
        """Class (or function) decorator form of :meth:`add`."""

        def deco(obj: T) -> T:
            return self.add(name, obj, aliases=aliases, **meta)

        return deco

    def update_meta(self, name: str, **meta: Any) -> None:
        """Add or replace metadata of the registered entry ``name`` (e.g. a task's recipe).

        Examples
        --------
        >>> colours = Registry("colour")
        >>> _ = colours.add("red", 1, rgb="ff0000")
        >>> colours.update_meta("RED", warm=True)
        >>> colours.meta("red")
        {'rgb': 'ff0000', 'warm': True}
        """
        self._meta[self.key(name)].update(meta)

    # --- looking up --------------------------------------------------------------------------
    def key(self, name: str) -> str:
        """The canonical name of ``name`` (an alias resolves to its entry), or a clear error."""
        if not isinstance(name, str):
            raise ConfigError(f"{self.argument} must be a {self.kind} name (a string); got {name!r}.")
        key = normalise(name)
        key = self._aliases.get(key, key)
        if key not in self._entries:
            close = difflib.get_close_matches(key, list(self._entries) + list(self._aliases), n=1)
            if close:
                close = [self._aliases.get(close[0], close[0])]
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            hint = f" {self.hint}" if self.hint else ""
            raise ConfigError(
                f"{self.argument}={name!r} is not a known {self.kind}.{suggestion} "
                f"Known {self.kind}s: {', '.join(self.names())}.{hint}"
            )
        return key

    def get(self, name: str) -> T:
        """The entry registered as ``name`` or one of its aliases."""
        return self._entries[self.key(name)]

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata given when ``name`` was registered."""
        return dict(self._meta[self.key(name)])

    def aliases(self, name: str) -> list[str]:
        """The aliases of ``name``, sorted."""
        key = self.key(name)
        return sorted(a for a, k in self._aliases.items() if k == key)

    def names(self) -> list[str]:
        """The canonical names, sorted."""
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        """``(name, entry)`` pairs in name order."""
        for k in self.names():
            yield k, self._entries[k]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = normalise(name)
        return self._aliases.get(key, key) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"
