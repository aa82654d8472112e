"""Notes: what a run function has to say while it works, handed to a callback instead of printed.

The library never prints. Each run function takes ``notes=``, a callable that receives each
message as one string the moment it arises (``print`` shows them, the command line prefixes
them with ``neurotrain: `` on stderr), and returns every note in its result's ``notes``.
A note that is a warning starts with ``warning: ``; one that tells of a change of plan
(replacing an earlier run, restarting from step 0...) starts with ``note: ``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

__all__ = ["Notes", "NotesCallback"]

#: what ``notes=`` takes: a callable of one string (or ``None`` for no callback)
NotesCallback = Callable[[str], object]


class Notes:
    """The notes of one call: kept in order and passed on to ``callback`` as they come.

    Examples
    --------
    >>> seen = []
    >>> notes = Notes(seen.append)
    >>> notes("resuming runs/a from step 5 of 10")
    >>> with notes.warnings():
    ...     warnings.warn("a checkpoint was skipped")
    >>> notes.items == seen == ["resuming runs/a from step 5 of 10", "warning: a checkpoint was skipped"]
    True
    """

    def __init__(self, callback: NotesCallback | None = None):
        if callback is not None and not callable(callback):
            raise TypeError(f"notes must be a callable taking one string (e.g. print) or None; "
                            f"got {callback!r}.")
        self.callback = callback
        self.items: list[str] = []

    def __call__(self, text: str) -> None:
        self.items.append(text)
        if self.callback is not None:
            self.callback(text)

    @contextlib.contextmanager
    def warnings(self) -> Iterator[None]:
        """Turn the ``UserWarning``\\ s raised inside the block into ``warning: ...`` notes; other
        warnings (deprecations...) are passed on unchanged."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            yield
        for w in caught:
            if issubclass(w.category, UserWarning):
                self(f"warning: {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
