"""Run-directory locks: OS-level file locks that die with their process.

A run directory has two lock files (names in :class:`~neurotrain.io.RunLayout`):

* ``.neurotrain.lock``, taken **exclusively** by whoever writes the run: training (new or
  resumed) and the replacement of an earlier run. A second writer fails at once with a
  :class:`~neurotrain.RunLockedError` that names the holder's pid.
* ``.neurotrain-readers.lock``, taken **shared** by the commands that read a run and add their
  own results (``evaluate``, ``analyze``, ``export``), and **exclusively** for the instant in
  which an earlier run is swapped out for a new one. Readers therefore never block training
  (they work on a snapshot, see :func:`neurotrain.runs.load_run`), and a run is never replaced
  under a reader's feet.

The locks are ``flock(2)`` locks (``fcntl``): the kernel releases them when the process ends,
however it ends, so a ``kill -9`` never leaves a stale lock, and the lock file may stay on
disk. The holder writes its pid, host, command and start time into the file for the error
message of the process that finds it locked. Where ``fcntl`` is missing (Windows), the
exclusive lock uses ``msvcrt.locking`` and readers take no lock.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import socket
import sys

from .._errors import RunDirectoryError, RunLockedError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    try:
        import msvcrt
    except ImportError:
        msvcrt = None

__all__ = ["RunLock"]

#: bytes of the lock file holding the holder's description
_INFO_LIMIT = 4096


def _holder_text(holder: dict) -> str:
    pid = holder.get("pid")
    parts = [f"pid {pid}" if pid else "pid unknown"]
    host = holder.get("host")
    if host and host != socket.gethostname():
        parts[0] += f" on {host}"
    if holder.get("since"):
        parts.append(f"since {holder['since']}")
    text = ", ".join(parts)
    if holder.get("command"):
        text += f": {holder['command']}"
    return text


class RunLock:
    """An exclusive or shared lock on one lock file, held until :meth:`release` (or the
    process ends).

    Parameters
    ----------
    path : str or PathLike
        The lock file (created if missing; a symbolic link is refused).
    shared : bool
        Take a shared lock (readers) instead of an exclusive one (writers).
    what : str
        What the holder does, for the message of a process that finds it locked (e.g.
        ``"training into"``).
    run_dir : str, optional
        The run directory named in messages (default: the lock file's folder).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), ".neurotrain.lock")
    >>> first = RunLock(path).acquire()
    >>> try:
    ...     RunLock(path).acquire()
    ... except RunLockedError as e:
    ...     e.pid == os.getpid()
    True
    >>> first.release(); RunLock(path).acquire().release()
    """

    def __init__(self, path: str | os.PathLike, *, shared: bool = False, what: str = "using",
                 run_dir: str | None = None):
        self.path = os.fspath(path)
        self.shared = bool(shared)
        self.what = what
        self.run_dir = run_dir if run_dir is not None else os.path.dirname(self.path)
        self.fd: int | None = None

    # --- taking and giving back ----------------------------------------------------------
    def acquire(self, command: str | None = None) -> RunLock:
        """Take the lock now or raise :class:`~neurotrain.RunLockedError` (never waits).

        A shared lock on a folder that cannot be written (a read-only copy of a run) is
        skipped: nobody can replace such a run anyway.
        """
        if self.fd is not None:
            return self
        for _ in range(20):   # the file may be swapped out between open and lock: retry
            fd = self._open()
            if fd is None:     # shared lock in a read-only folder
                return self
            try:
                self._lock(fd)
            except BlockingIOError:
                holder = self._read_holder(fd)
                os.close(fd)
                raise self._locked_error(holder) from None
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    return self   # the file system has no locks: go on without
                raise RunDirectoryError(f"cannot lock {self.path}: {e.strerror or e}.") from None
            if self._same_file(fd):
                self.fd = fd
                self._write_holder(command)
                return self
            os.close(fd)
        raise RunDirectoryError(f"cannot lock {self.path}: the file keeps being replaced.")

    def release(self) -> None:
        """Give the lock back (closing the file releases it)."""
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def held(self) -> bool:
        return self.fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def holder(self) -> dict:
        """What the current holder recorded (``{}`` if nothing or unreadable)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return {}
        try:
            return self._read_holder(fd)
        finally:
            os.close(fd)

    # --- internals -----------------------------------------------------------------------
    def _open(self) -> int | None:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            return os.open(self.path, flags, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP or os.path.islink(self.path):
                raise RunDirectoryError(
                    f"{self.path} is a symbolic link; neurotrain never follows links inside a run "
                    f"directory. Remove the link.") from None
            if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM) and self.shared:
                if os.path.exists(self.path):
                    try:
                        return os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                    except OSError:
                        return None
                return None
            if e.errno == errno.ENOENT:
                raise RunDirectoryError(f"cannot lock {self.path}: the run directory "
                                        f"{self.run_dir} does not exist.") from None
            raise RunDirectoryError(f"cannot create the lock file {self.path}: {e.strerror or e}.") from None

    def _lock(self, fd: int) -> None:
        if fcntl is not None:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        elif msvcrt is not None and not self.shared:  # pragma: no cover - Windows
            os.lseek(fd, _INFO_LIMIT, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                raise BlockingIOError from None

    def _same_file(self, fd: int) -> bool:
        """Whether ``fd`` is still the file at ``path`` (not one renamed away meanwhile)."""
        try:
            a, b = os.fstat(fd), os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def _write_holder(self, command: str | None) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.datetime.now().isoformat(timespec="seconds"),
                "command": command if command is not None else " ".join(sys.argv)}
        data = json.dumps(info).encode("utf-8")[:_INFO_LIMIT - 1] + b"\n"
        with contextlib.suppress(OSError):   # a read-only file (shared lock): no description
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.write(self.fd, data)

    @staticmethod
    def _read_holder(fd: int) -> dict:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            data = os.read(fd, _INFO_LIMIT)
            info = json.loads(data.decode("utf-8", "replace") or "{}")
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def _locked_error(self, holder: dict) -> RunLockedError:
        pid = holder.get("pid") if isinstance(holder.get("pid"), int) else None
        who = _holder_text(holder)
        if self.shared:
            msg = (f"{self.run_dir} is being replaced by a new run (another neurotrain process, {who}); "
                   f"run the command again in a moment, once the new run has started.")
        else:
            msg = (f"{self.run_dir} is in use: another neurotrain process is {self.what} it ({who}). "
                   f"Wait for it to finish or stop it{f' (kill {pid})' if pid else ''}, or choose "
                   f"another directory; the lock goes away when that process ends.")
        return RunLockedError(msg, run_dir=self.run_dir, pid=pid, holder=holder)
