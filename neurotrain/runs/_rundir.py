"""Taking a run directory for writing or reading: locks, the marker, and atomic replacement.

The guarantees (see the guide's "Runs" page):

* **One writer.** Training (new or resumed) holds the run directory's exclusive lock
  (:class:`~neurotrain.io.RunLock`) from before its first write until it returns; a second
  writer fails at once with a :class:`~neurotrain.RunLockedError` naming the holder's pid.
  The kernel drops the lock with the process, so a killed run never leaves a stale one.
* **Only neurotrain runs are replaced.** A new run may go into a missing or empty folder, or
  replace an earlier neurotrain run (the folder has the marker ``.neurotrain-run``, or a
  ``config.json`` that neurotrain wrote). Any other folder is refused unless ``force``.
* **Replacement is atomic.** The new run is written beside the old one (a hidden sibling
  folder) until it has started (marker, ``config.json`` and the step-0 checkpoint on disk);
  then the two folders are swapped in one ``rename`` and the old one is deleted. A failure or
  a kill before the swap leaves the old run whole; after it, the new run is resumable.
* **Readers see a snapshot** and hold the readers' lock (shared), so a run is never swapped
  out while ``evaluate``, ``analyze`` or ``export`` works on it; they never block training.
* **No links.** A run directory whose own files or folders (or their entries) are symbolic
  links is refused before anything is read or written (``force`` replaces such a folder:
  the links are deleted, never what they point to).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import time
import uuid
from collections.abc import Iterator

from .._errors import RunDirectoryError, RunLockedError
from ..io import RunLayout, RunLock, exchange_paths, write_json
from ._notes import Notes

__all__ = ["NewRun", "open_new_run", "open_resumed_run", "reading", "io_error_text", "save_evaluation"]

_STAGING, _OLD = "neurotrain-new", "neurotrain-old"
#: how long a reader waits for a replacement's swap before giving up
SWAP_WAIT_S = 5.0


def io_error_text(e: OSError) -> str:
    """``"<file>: <reason>"`` of an ``OSError`` (e.g. ``"runs/a/config.json: No space left on device"``)."""
    name = getattr(e, "filename", None)
    reason = e.strerror or str(e)
    return f"{name}: {reason}" if name and str(name) not in reason else reason


def _sibling(root: str, kind: str) -> str:
    parent, name = os.path.split(os.path.abspath(root))
    return os.path.join(parent, f".{name}.{kind}-{uuid.uuid4().hex[:10]}")


def _siblings(root: str) -> list[str]:
    parent, name = os.path.split(os.path.abspath(root))
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    prefixes = (f".{name}.{_STAGING}-", f".{name}.{_OLD}-")
    return [os.path.join(parent, n) for n in sorted(names) if n.startswith(prefixes)]


def _remove_tree(path: str) -> bool:
    """Delete a folder (never following links inside it); whether it is gone."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.islink(path) or not os.path.isdir(path):
            os.remove(path)
        else:
            shutil.rmtree(path)
    return not os.path.lexists(path)


def _clear_stale_siblings(root: str) -> None:
    """Delete the hidden sibling folders that interrupted replacements of ``root`` left (a new
    run that never started, or an old run already replaced); those still locked are kept."""
    for path in _siblings(root):
        lock = RunLock(RunLayout(path).lock_file, run_dir=path)
        try:
            lock.acquire()
        except (RunLockedError, RunDirectoryError):
            continue   # still in use by a live process
        try:
            with contextlib.suppress(OSError):
                _remove_tree(path)
        finally:
            lock.release()


class NewRun:
    """A new run's directory, taken for writing: see :func:`open_new_run`.

    Attributes
    ----------
    root : str
        The run directory (``out``): the callbacks write here.
    write_root : str
        Where the first files go (``config.json``, the step-0 checkpoint): ``root``, or the
        hidden sibling folder of a replacement until :meth:`start` swaps it in.
    replacing : bool
        Whether an earlier run (or, with ``force``, another folder) is being replaced.
    started : bool
    """

    def __init__(self, root: str, write_root: str, *, lock: RunLock, old_lock: RunLock | None = None,
                 created: bool = False, note: Notes | None = None, real_root: str | None = None):
        self.root, self.write_root = root, write_root
        self.real_root = real_root if real_root is not None else root
        self.lock, self.old_lock = lock, old_lock
        self.created = created
        self.replacing = old_lock is not None
        self.started = False
        self.note = note

    def start(self) -> None:
        """The new run has started: swap it in for the old one (if replacing) and delete the old.

        Raises
        ------
        RunLockedError
            A reader (``evaluate``, ``analyze``, ``export``) is working on the old run; nothing
            was swapped and the old run is whole.
        """
        if self.started:
            return
        if self.replacing:
            old = RunLayout(self.real_root)
            readers = RunLock(old.readers_lock_file, what="reading", run_dir=self.root)
            readers.acquire()    # no reader of the old run may see it swapped away
            try:
                exchange_paths(self.write_root, self.real_root)
                gone = _sibling(self.real_root, _OLD)
                try:
                    os.rename(self.write_root, gone)
                except OSError:
                    gone = self.write_root
            finally:
                readers.release()
            self.write_root = self.root
            self.old_lock.release()
            with contextlib.suppress(OSError):
                _remove_tree(gone)
            if os.path.lexists(gone) and self.note is not None:
                self.note(f"warning: the replaced run could not be deleted completely; delete {gone}")
            self.old_lock = None
        self.started = True

    def close(self, failed: bool) -> None:
        """Release the locks; a run that failed before :meth:`start` leaves no trace (the old
        run, if any, is untouched)."""
        try:
            if failed and not self.started:
                if self.write_root != self.root:
                    _remove_tree(self.write_root)
                elif self.created:
                    _remove_tree(self.root)
                else:     # an empty folder given by the user: empty it again
                    layout = RunLayout(self.root)
                    for name in os.listdir(self.root):
                        if name not in (layout.LOCK_FILE, layout.READERS_LOCK_FILE):
                            with contextlib.suppress(OSError):
                                _remove_tree(os.path.join(self.root, name))
        except OSError:
            pass
        finally:
            self.lock.release()
            if self.old_lock is not None:
                self.old_lock.release()


def _foreign_message(root: str, force_name: str) -> str:
    try:
        n = len(os.listdir(root))
    except OSError:
        n = 0
    return (f"{root} exists and is not a neurotrain run directory (it has no "
            f"{RunLayout.MARKER_FILE} marker and no config.json written by neurotrain; it holds {n} "
            f"entr{'y' if n == 1 else 'ies'}), so neurotrain will not write into it. Choose a new or "
            f"empty folder, or pass {force_name} to replace the whole folder (everything in it is "
            f"deleted once the new run has started).")


def open_new_run(out: str, *, force: bool = False, out_given: bool = True, note: Notes | None = None,
                 command: str | None = None, force_name: str = "force=True") -> NewRun:
    """Take ``out`` for a new run: create it, use it (empty), or prepare to replace it.

    Parameters
    ----------
    out : str
        The run directory.
    force : bool
        Replace ``out`` even if it is not a neurotrain run directory.
    out_given : bool
        Whether the user chose ``out`` (else it is a fresh time-stamped name, and a clash with
        another process that picked the same name takes the next free name).
    note : Notes, optional
        Receives "replacing the earlier run" and similar notes.
    command : str, optional
        Recorded in the lock file for the message of a second writer.
    force_name : str
        How ``force`` is spelt in messages (``--force`` on the command line).

    Raises
    ------
    RunLockedError
        Another process is writing ``out``.
    RunDirectoryError
        ``out`` is a file, a folder that is not a neurotrain run (without ``force``), holds a
        symbolic link, or cannot be created.
    """
    root = os.fspath(out)
    for attempt in range(100):
        layout = RunLayout(root)
        state = layout.state()
        if state == "missing":
            try:
                parent = os.path.dirname(os.path.abspath(root))
                os.makedirs(parent, exist_ok=True)
                os.mkdir(root)
            except FileExistsError:
                if not out_given:   # another process took this time-stamped name
                    root = f"{os.fspath(out)}-{attempt + 2}"
                continue
            except OSError as e:
                raise RunDirectoryError(f"cannot create the run directory {root}: {io_error_text(e)}.") from None
            return _take(root, created=True, note=note, command=command)
        if state == "file":
            raise RunDirectoryError(f"{root} is a file, not a folder; choose another run directory.")
        if state == "empty":
            return _take(root, created=False, note=note, command=command)
        if state == "foreign" and not force:
            raise RunDirectoryError(_foreign_message(root, force_name))
        if state == "run" and not force:
            layout.check_no_links()
            theirs = layout.foreign_entries()
            if theirs:
                shown = ", ".join(theirs[:3]) + (f" and {len(theirs) - 3} more" if len(theirs) > 3 else "")
                raise RunDirectoryError(
                    f"{root} holds an earlier neurotrain run and also files neurotrain did not write "
                    f"({shown}); replacing the run would delete them. Move them out of {root} or choose "
                    f"another run directory, or pass {force_name} to replace the folder with everything "
                    f"in it.")
        if state == "foreign":
            what = f"replacing {root} (not a neurotrain run directory; forced)"
        elif force and (layout.foreign_entries() or layout.links()):
            what = f"replacing the earlier run in {root} and the other files in it (forced)"
        else:
            what = None
        return _replace(root, forced=what, note=note, command=command)
    raise RunDirectoryError(f"cannot create the run directory {root}: it keeps being created by others.")


def _write_marker(root: str) -> None:
    layout = RunLayout(root)
    try:
        write_json(layout.marker_file, layout.marker_content())
    except OSError as e:
        raise RunDirectoryError(f"cannot write into the run directory {root}: {io_error_text(e)}.") from None


def _take(root: str, *, created: bool, note: Notes | None, command: str | None) -> NewRun:
    lock = RunLock(RunLayout(root).lock_file, what="training into", run_dir=root)
    try:
        lock.acquire(command)
        if RunLayout(root).state() not in ("empty",):   # someone wrote it meanwhile
            raise RunDirectoryError(f"{root} was filled by another process while this run started; "
                                    f"choose another run directory.")
        _write_marker(root)
    except BaseException:
        lock.release()
        if created:
            with contextlib.suppress(OSError):
                _remove_tree(root)
        raise
    return NewRun(root, root, lock=lock, created=created, note=note)


def _replace(root: str, *, forced: str | None, note: Notes | None, command: str | None) -> NewRun:
    # the run directory itself may be a link (e.g. to another disk): replace where it points
    real = os.path.realpath(root) if os.path.islink(root) else root
    here = os.path.realpath(os.getcwd())
    try:
        inside = os.path.commonpath([here, os.path.realpath(real)]) == os.path.realpath(real)
    except ValueError:   # another drive (Windows)
        inside = False
    if inside:
        raise RunDirectoryError(f"{root} holds the current directory ({here}); a run cannot replace the "
                                f"folder it is started from. Start it from another folder or choose "
                                f"another run directory.")
    layout = RunLayout(real)
    old_lock = RunLock(layout.lock_file, what="training into", run_dir=root)
    old_lock.acquire(command)
    lock = None
    staging = None
    try:
        _clear_stale_siblings(real)
        staging = _sibling(real, _STAGING)
        try:
            os.mkdir(staging)
        except OSError as e:
            raise RunDirectoryError(f"cannot prepare the new run next to {root}: {io_error_text(e)}; "
                                    f"the earlier run is unchanged.") from None
        lock = RunLock(RunLayout(staging).lock_file, what="training into", run_dir=root)
        lock.acquire(command)
        _write_marker(staging)
    except BaseException:
        if lock is not None:
            lock.release()
        if staging is not None:
            with contextlib.suppress(OSError):
                _remove_tree(staging)
        old_lock.release()
        raise
    if note is not None:
        if forced:
            note(f"note: {forced}: everything in it is deleted (links, not what they point to) once the "
                 f"new run has started")
        else:
            note(f"note: replacing the earlier run in {root}; it stays whole until the new run has started")
    return NewRun(root, staging, lock=lock, old_lock=old_lock, note=note, real_root=real)


def open_resumed_run(run_dir: str, *, command: str | None = None) -> RunLock:
    """Take an existing run directory for resuming: its exclusive lock (returned; release it
    when done), after refusing links inside it; writes the marker if an older neurotrain
    wrote the run without one."""
    layout = RunLayout(run_dir)
    lock = RunLock(layout.lock_file, what="training into", run_dir=layout.root)
    lock.acquire(command)
    try:
        layout.check_no_links()
        if not os.path.isfile(layout.marker_file):
            _write_marker(layout.root)
    except BaseException:
        lock.release()
        raise
    return lock


@contextlib.contextmanager
def reading(run_dir: str | os.PathLike) -> Iterator[RunLayout]:
    """Hold the readers' lock of a run directory (shared) inside the block, after refusing links.

    A missing folder is left for the caller to report. While a replacement swaps the folder
    (milliseconds), the lock is retried for up to :data:`SWAP_WAIT_S` seconds.
    """
    layout = RunLayout(run_dir)
    if not os.path.isdir(layout.root):
        yield layout
        return
    layout.check_no_links()
    lock = RunLock(layout.readers_lock_file, shared=True, what="reading", run_dir=layout.root)
    deadline = time.monotonic() + SWAP_WAIT_S
    while True:
        try:
            lock.acquire()
            break
        except RunLockedError:   # a replacement is swapping folders: that takes milliseconds
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield layout
    finally:
        lock.release()


def save_evaluation(layout, result, record, *, save: bool, before_write=None):
    """The end of an evaluation: ``before_write(result)``, then (with ``save``) ``record``
    written to the run's ``evaluation.json``; returns ``result`` with its ``file`` set when it
    was saved. A failed write raises one line and leaves nothing half written."""
    if before_write is not None:
        before_write(result)
    if not save:
        return result
    try:
        write_json(layout.evaluation_file, record)
    except OSError as e:
        raise RunDirectoryError(f"cannot write {layout.evaluation_file}: {io_error_text(e)}; the "
                                f"evaluation was computed but not saved (nothing was written).") from None
    return dataclasses.replace(result, file=layout.evaluation_file)
