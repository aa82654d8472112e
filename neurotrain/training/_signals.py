"""Turning Ctrl-C and SIGTERM into a clean stop after the current training step."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable

__all__ = ["stop_on_signals"]


@contextlib.contextmanager
def stop_on_signals(enabled: bool, on_signal: Callable[[int], bool]):
    """While active (in the main thread), SIGINT and SIGTERM call ``on_signal(signum)``.

    ``on_signal`` returns ``True`` when the signal was the first one (training will stop after
    the current step) and ``False`` for a repeated SIGINT, which then raises
    ``KeyboardInterrupt`` at once. Signals that were ignored before (``SIG_IGN``, e.g. in a
    background job) stay ignored; the previous handlers are restored on exit.
    """
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if not on_signal(signum) and signum == signal.SIGINT:
            raise KeyboardInterrupt

    old = {}
    for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if sig is None:
            continue
        try:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue
            old[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            continue
    try:
        yield
    finally:
        for sig, h in old.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                # None: the old handler was not set from Python; give the default back
                signal.signal(sig, signal.SIG_DFL if h is None else h)
