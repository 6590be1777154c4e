"""Per-base locks: one writer at a time, and readers that never see a change half made.

Two ``fcntl.flock`` locks live in the base's working folder ``DIR/.cmoc/``; the kernel releases
both when the process holding them ends, however it ends:

- the **writer lock** (``.cmoc/lock.writer``, exclusive) is held by every command that writes
  the base or its saved results (``cmoc update``, fitting and saving fits, reports, plans) for
  as long as it works, minutes if it fits. Who holds it (pid, command, since when) is written to
  ``.cmoc/lock.holder``, so that a second writer can say whom it waits for;
- the **read/write lock** (``.cmoc/lock``) is held shared by every load of the base and
  exclusively only for the instant of a commit (journal and file moves) or of a recovery.

A second writer waits for the first, with a message on stderr, up to ``CMOC_LOCK_TIMEOUT``
seconds (default 1800; 0 fails at once), then fails with a :class:`LockError` (exit status 2)
naming the holder. Readers never wait for a writer that is fitting, only for a commit.

In one process every lock is one open file: the threads of the process share it, the writer
lock is re-entrant for the thread holding it, and a thread holding the read/write lock shared
may take it exclusively (no other thread of the process may then hold it).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .problems import EvidenceError, Problem

__all__ = [
    "DEFAULT_TIMEOUT",
    "HOLDER_FILE",
    "LOCK_FILE",
    "TIMEOUT_ENV",
    "WORK_DIR",
    "WRITER_FILE",
    "LockError",
    "ReadHold",
    "exclusive",
    "holder_text",
    "lock_timeout",
    "shared",
    "try_writer",
    "work_dir",
    "writer_held_here",
    "writing",
]

WORK_DIR = ".cmoc"
LOCK_FILE = "lock"
WRITER_FILE = "lock.writer"
HOLDER_FILE = "lock.holder"
TIMEOUT_ENV = "CMOC_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 1800.0
_POLL = 0.1


class LockError(EvidenceError):
    """The base is locked by another process for longer than this one may wait."""


def lock_timeout() -> float:
    """Seconds a writer waits for another (``CMOC_LOCK_TIMEOUT``, default 1800)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise EvidenceError(
            [Problem(TIMEOUT_ENV, None, None, raw, "a number of seconds >= 0 (environment)")]
        )
    return value


def work_dir(directory: str | Path, *, create: bool) -> Path | None:
    """Return the base's working folder ``DIR/.cmoc``, refusing one that leads out of the base.

    Parameters
    ----------
    directory : str or Path
        The evidence base.
    create : bool
        Create the folder when it is missing (else return None then).

    Raises
    ------
    EvidenceError
        When ``.cmoc`` is a symbolic link or not a directory: cmoc keeps its journal, backups
        and fits only in a real folder inside the base.
    """
    work = Path(directory) / WORK_DIR
    try:
        st = os.lstat(work)
    except FileNotFoundError:
        if not create:
            return None
        if not Path(directory).is_dir():
            missing = "an evidence base directory (not found)"
            raise EvidenceError([Problem(str(directory), None, None, None, missing)]) from None
        with suppress(FileExistsError):
            work.mkdir()
        st = os.lstat(work)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a directory"
        raise EvidenceError(
            [
                Problem(
                    str(work),
                    None,
                    None,
                    None,
                    f"cmoc's working folder, a directory inside the evidence base (it is {what}: "
                    "cmoc keeps its journal, backups and fits only inside the base)",
                )
            ]
        )
    return work


@dataclass
class _File:
    """One lock file of this process: its descriptor and who in the process holds it."""

    fd: int
    key: tuple[int, int]
    state: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)
    mode: int = fcntl.LOCK_UN
    readers: dict[int, int] = field(default_factory=dict)
    owner: int | None = None
    depth: int = 0
    deferred: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.state)


_files: dict[tuple[int, int], _File] = {}
_files_guard = threading.Lock()
_files_pid = os.getpid()


def _open_fd(path: Path, *, create: bool) -> int | None:
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    try:
        return os.open(path, flags, 0o666)
    except FileNotFoundError:
        if create:
            raise
        return None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise EvidenceError(
                [Problem(str(path), None, None, None, "cmoc's lock file (it is a symbolic link)")]
            ) from None
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    # a base this user may read but not write: nobody of this user writes it either
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, PermissionError):
        return None


def _acquire(path: Path, *, create: bool) -> _File | None:
    """Return the process's lock file at ``path`` with its state lock held (None: none)."""
    global _files_pid
    while True:
        fd = _open_fd(path, create=create)
        if fd is None:
            return None
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        with _files_guard:
            if os.getpid() != _files_pid:  # a forked child shares none of its parent's holds
                _files.clear()
                _files_pid = os.getpid()
            lock = _files.get(key)
            if lock is None:
                lock = _files[key] = _File(fd, key)
            else:
                os.close(fd)
        lock.state.acquire()
        if lock.fd >= 0:
            _drain(lock)
            return lock
        lock.state.release()  # closed by its last holder meanwhile: open it again


def _drain(lock: _File) -> None:
    """Apply the releases of holds dropped while the state lock was busy."""
    while lock.deferred:
        _drop_reader(lock, lock.deferred.pop())


def _set_mode(lock: _File, mode: int, deadline: float, on_wait) -> None:
    """Bring the kernel lock to ``mode``, polling until ``deadline`` (state lock held)."""
    if mode == lock.mode:
        return
    told = False
    while True:
        try:
            fcntl.flock(lock.fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            # a failed conversion drops the lock this process had: it holds none now
            lock.mode = fcntl.LOCK_UN
            if time.monotonic() >= deadline:
                raise
            if not told and on_wait is not None:
                on_wait()
                told = True
            time.sleep(_POLL)
            continue
        lock.mode = mode
        return


def _settle(lock: _File) -> None:
    """After a release: the kernel lock the remaining holders need (state lock held)."""
    _drain(lock)
    if lock.owner is not None:
        return
    if any(lock.readers.values()):
        if lock.mode == fcntl.LOCK_EX:
            fcntl.flock(lock.fd, fcntl.LOCK_SH)  # a downgrade never waits
            lock.mode = fcntl.LOCK_SH
        lock.changed.notify_all()
        return
    # nobody in this process holds it: unlock explicitly (a forked child may share the open
    # file, which would keep the lock after a mere close) and close the file
    with _files_guard:
        if _files.get(lock.key) is lock:
            del _files[lock.key]
    if lock.mode != fcntl.LOCK_UN:
        fcntl.flock(lock.fd, fcntl.LOCK_UN)
    os.close(lock.fd)
    lock.fd, lock.mode = -1, fcntl.LOCK_UN
    lock.changed.notify_all()


def _drop_reader(lock: _File, ident: int) -> None:
    left = lock.readers.get(ident, 0) - 1
    if left > 0:
        lock.readers[ident] = left
    else:
        lock.readers.pop(ident, None)


def _wait(lock: _File, deadline: float) -> bool:
    """Wait for a change by another thread; False when the deadline passed."""
    return lock.changed.wait(timeout=max(0.0, deadline - time.monotonic()))


def _timeout_error(directory: Path, waited: float, who: str) -> LockError:
    return LockError(
        [
            Problem(
                str(Path(directory) / WORK_DIR / LOCK_FILE),
                None,
                None,
                None,
                f"an evidence base free to write: {who}; waited {waited:g} s "
                f"(set {TIMEOUT_ENV} to wait longer), nothing was written",
            )
        ]
    )


def holder_text(directory: str | Path) -> str:
    """Who holds the writer lock, in words, from ``.cmoc/lock.holder``."""
    path = Path(directory) / WORK_DIR / HOLDER_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            doc = json.loads(fh.read(4096).decode("utf-8"))
        pid, command, since = int(doc["pid"]), str(doc["command"]), str(doc["since"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "another cmoc command is writing it (holder unknown)"
    return f"locked by pid {pid} ({command!r}, since {since})"


class ReadHold:
    """A shared hold of a base's read/write lock; released by :meth:`release` or when dropped.

    :func:`cmoc.evidence.load_evidence` keeps one until it returns.
    """

    def __init__(self, lock: _File | None, ident: int):
        self._lock, self._ident, self._pid = lock, ident, os.getpid()

    def release(self) -> None:
        """Give the hold back (idempotent)."""
        lock, self._lock = self._lock, None
        if lock is None or os.getpid() != self._pid:  # a forked child's copy holds nothing
            return
        with lock.state:
            _drop_reader(lock, self._ident)
            _settle(lock)

    def __del__(self) -> None:  # may run inside a lock operation: never wait there
        lock, self._lock = self._lock, None
        if lock is None or os.getpid() != self._pid:
            return
        if lock.state.acquire(blocking=False):
            try:
                _drop_reader(lock, self._ident)
                _settle(lock)
            finally:
                lock.state.release()
        else:
            lock.deferred.append(self._ident)  # the operation under way applies it

    def __enter__(self) -> ReadHold:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def shared(directory: str | Path, *, timeout: float | None = None) -> ReadHold:
    """Hold the read/write lock of a base shared (waits only while a commit is being made).

    A base without a working folder (never written by cmoc) needs no lock: the hold is empty.

    Raises
    ------
    LockError
        When a commit or recovery keeps the lock longer than the timeout.
    """
    directory = Path(directory)
    me = threading.get_ident()
    work = work_dir(directory, create=False)
    if work is None:
        return ReadHold(None, me)
    wait = lock_timeout() if timeout is None else timeout
    deadline = time.monotonic() + wait
    while True:
        lock = _acquire(work / LOCK_FILE, create=True)
        if lock is None:
            return ReadHold(None, me)
        try:
            while lock.owner not in (None, me) and lock.fd >= 0:
                if not _wait(lock, deadline):
                    raise _timeout_error(directory, wait, "another thread is committing a change")
            if lock.fd < 0:
                continue
            if lock.mode == fcntl.LOCK_UN:
                try:
                    _set_mode(lock, fcntl.LOCK_SH, deadline, None)
                except BlockingIOError:
                    _settle(lock)
                    raise _timeout_error(
                        directory, wait, "another process kept a change half committed"
                    ) from None
            lock.readers[me] = lock.readers.get(me, 0) + 1
            return ReadHold(lock, me)
        finally:
            lock.state.release()


@contextmanager
def exclusive(directory: str | Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the read/write lock of a base exclusively: for a commit or a recovery only.

    Waits for the loads of other processes and threads to finish. The caller holds the writer
    lock (:func:`writing`), so that no other writer commits at the same time.

    Raises
    ------
    LockError
        When other processes keep loading the base longer than the timeout.
    """
    directory = Path(directory)
    work = work_dir(directory, create=True)
    me = threading.get_ident()
    wait = lock_timeout() if timeout is None else timeout
    deadline = time.monotonic() + wait

    def tell() -> None:
        print(
            f"waiting for {directory}: other processes are loading it",
            file=sys.stderr,
            flush=True,
        )

    while True:
        lock = _acquire(work / LOCK_FILE, create=True)
        if lock is None:
            raise _timeout_error(directory, 0, "this user may not write it (read-only)")
        try:
            if lock.owner == me:
                lock.depth += 1
                break
            while lock.fd >= 0 and (
                lock.owner is not None or any(n for t, n in lock.readers.items() if t != me)
            ):
                if not _wait(lock, deadline):
                    raise _timeout_error(directory, wait, "another thread is reading it")
            if lock.fd < 0:
                continue
            lock.owner, lock.depth = me, 1
            try:
                _set_mode(lock, fcntl.LOCK_EX, deadline, tell)
            except BlockingIOError:
                lock.owner, lock.depth = None, 0
                if any(lock.readers.values()):  # this thread's own loads get theirs back
                    fcntl.flock(lock.fd, fcntl.LOCK_SH)
                    lock.mode = fcntl.LOCK_SH
                _settle(lock)
                raise _timeout_error(
                    directory, wait, "other processes kept loading it (a notebook?)"
                ) from None
            break
        finally:
            lock.state.release()
    try:
        yield
    finally:
        with lock.state:
            lock.depth -= 1
            if lock.depth == 0:
                lock.owner = None
                _settle(lock)


def writer_held_here(directory: str | Path) -> bool:
    """Whether this thread holds the writer lock of ``directory``."""
    work = work_dir(directory, create=False)
    if work is None:
        return False
    lock = _acquire(work / WRITER_FILE, create=False)
    if lock is None:
        return False
    try:
        return lock.owner == threading.get_ident()
    finally:
        if lock.owner is None:
            _settle(lock)
        lock.state.release()


def _command() -> str:
    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    if argv[0] in ("__main__.py", "cli.py", "-m", "-c"):
        argv[0] = "cmoc" if argv[0] != "-c" else "python -c"
    text = " ".join(argv)
    return text if len(text) <= 200 else text[:197] + "..."


def _take_writer(directory: Path, what: str, deadline: float, wait: float) -> _File:
    from .writing import atomic_write_text

    work = work_dir(directory, create=True)
    me = threading.get_ident()

    def tell() -> None:
        # the holder writes its pid just after it takes the lock: give it a moment to do so
        who = holder_text(directory)
        for _ in range(20):
            if "holder unknown" not in who:
                break
            time.sleep(0.05)
            who = holder_text(directory)
        print(
            f"waiting for {directory}: {who} (up to {wait:g} s; {TIMEOUT_ENV} sets how long)",
            file=sys.stderr,
            flush=True,
        )

    while True:
        lock = _acquire(work / WRITER_FILE, create=True)
        if lock is None:
            raise _timeout_error(directory, 0, "this user may not write it (read-only)")
        try:
            if lock.owner == me:
                lock.depth += 1
                return lock
            while lock.fd >= 0 and lock.owner is not None:
                if not _wait(lock, deadline):
                    raise _timeout_error(
                        directory, wait, "another thread of this process writes it"
                    )
            if lock.fd < 0:
                continue
            try:
                _set_mode(lock, fcntl.LOCK_EX, deadline, tell)
            except BlockingIOError:
                who = holder_text(directory)
                _settle(lock)
                raise _timeout_error(directory, wait, who) from None
            lock.owner, lock.depth = me, 1
            break
        finally:
            lock.state.release()
    holder = {
        "pid": os.getpid(),
        "command": f"{_command()} [{what}]",
        "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    try:
        atomic_write_text(work / HOLDER_FILE, json.dumps(holder) + "\n")
    except BaseException:
        _give_writer(lock, work)
        raise
    return lock


def _give_writer(lock: _File, work: Path) -> None:
    with lock.state:
        lock.depth -= 1
        if lock.depth:
            return
        with suppress(OSError):
            (work / HOLDER_FILE).unlink(missing_ok=True)
        lock.owner = None
        _settle(lock)


@contextmanager
def writing(
    directory: str | Path, what: str = "write", *, timeout: float | None = None
) -> Iterator[None]:
    """Hold the writer lock of a base for a whole command (re-entrant in the thread).

    Parameters
    ----------
    directory : str or Path
        The evidence base (its ``.cmoc`` folder is created if missing).
    what : str
        What this process does, shown to a second writer with the command line.
    timeout : float, optional
        Seconds to wait for another writer (default :func:`lock_timeout`).

    Raises
    ------
    LockError
        When another process keeps the lock longer than the timeout (it names the holder).
    """
    directory = Path(directory)
    wait = lock_timeout() if timeout is None else timeout
    lock = _take_writer(directory, what, time.monotonic() + wait, wait)
    try:
        yield
    finally:
        _give_writer(lock, directory / WORK_DIR)


@contextmanager
def try_writer(directory: str | Path) -> Iterator[bool]:
    """Take the writer lock if no one else holds it, without waiting; yield whether taken."""
    directory = Path(directory)
    try:
        lock = _take_writer(directory, "recovery", time.monotonic(), 0.0)
    except (LockError, PermissionError):
        yield False
        return
    try:
        yield True
    finally:
        _give_writer(lock, directory / WORK_DIR)
