"""Writing several evidence files as one change, with a journal and backups.

Each new file is first written in full to ``.cmoc/pending/``, the files it replaces are copied to
``.cmoc/backup/``, everything is fsynced, and only then, under the exclusive lock of
:mod:`cmoc.evidence.lock`, is the journal written (the commit point) and the files moved in
place. :func:`recover` rolls an interrupted change back from the backups, so the evidence base
is always seen either as it was or as it became, never half-changed. Recovery runs only under
the exclusive lock and only when no live writer holds the writer lock, so a load never rolls
back an update that is still running.

A base may be shared, so the journal is not trusted: it may only name the base's own evidence
files (:data:`JOURNAL_FILES`), plain names in the base directory itself; a journal that names
anything else, or is not the JSON cmoc writes, is refused before anything is touched, and no
symbolic link is followed or replaced.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .base import EVIDENCE_FILES
from .ledger import LEDGER_FILE
from .lock import (
    ReadHold,
    exclusive,
    lock_timeout,
    shared,
    try_writer,
    work_dir,
    writing,
)
from .problems import EvidenceError, Problem
from .writing import atomic_write_bytes, fsync_directory

__all__ = [
    "JOURNAL",
    "JOURNAL_FILES",
    "reading",
    "recover",
    "recover_for_reading",
    "write_files",
]

JOURNAL_FILES = (*EVIDENCE_FILES, LEDGER_FILE)
"""The only files a journal may name (and :func:`write_files` may write)."""

_WORK = ".cmoc"
_JOURNAL = "update-journal.json"
JOURNAL = f"{_WORK}/{_JOURNAL}"
_MAX_JOURNAL = 64 * 1024
_ROLLED_BACK = "an interrupted update was rolled back: the evidence base is as it was before it"


def _problem(expected: str, *, line: int | None = None, column=None, value=None) -> EvidenceError:
    return EvidenceError([Problem(JOURNAL, line, column, value, expected)])


def _refuse_link(path: Path, what: str) -> None:
    """Refuse a path that is a symbolic link or not a regular file (when it exists)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise EvidenceError(
            [
                Problem(
                    str(path),
                    None,
                    None,
                    None,
                    f"{what}, a regular file inside the evidence base (it is {kind}: cmoc "
                    "writes, moves and deletes only the base's own files), nothing was changed",
                )
            ]
        )


def _remove(path: Path) -> None:
    """Remove a file, a link (not what it points to) or a directory tree inside the base."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path, ignore_errors=True)  # never follows links (fd-based on Linux)
    else:
        path.unlink(missing_ok=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_files(
    directory: str | Path, files: dict[str, bytes], *, _crash_after: int | None = None
) -> None:
    """Replace several files of ``directory`` as one change.

    Takes the writer lock of the base (re-entrant: ``cmoc update`` already holds it) and its
    exclusive lock around the commit.

    Parameters
    ----------
    directory : str or Path
        The evidence base.
    files : dict of str to bytes
        File name (one of :data:`JOURNAL_FILES`) to new content.
    _crash_after : int, optional
        Testing only: stop with ``KeyboardInterrupt`` after replacing this many files.

    Raises
    ------
    ValueError
        When a name is not one of the base's evidence files.
    EvidenceError
        When a file to replace is a symbolic link or not a regular file.
    """
    directory = Path(directory)
    names = sorted(files)
    unknown = [n for n in names if n not in JOURNAL_FILES]
    if unknown:
        raise ValueError(f"not evidence files of a base: {unknown!r}")
    with writing(directory, "write evidence"):
        recover(directory)
        work = work_dir(directory, create=True)
        for name in names:
            _refuse_link(directory / name, name)
        pending, backup = work / "pending", work / "backup"
        for d in (pending, backup):
            _remove(d)
            d.mkdir()
        existed = [n for n in names if (directory / n).is_file()]
        for name in names:
            atomic_write_bytes(pending / name, files[name])
            if name in existed:
                shutil.copy2(directory / name, backup / name)
                _fsync_file(backup / name)
        fsync_directory(backup)
        fsync_directory(work)
        journal = {"state": "applying", "files": names, "existed": existed}
        with exclusive(directory):
            atomic_write_bytes(work / _JOURNAL, json.dumps(journal).encode())  # commit point
            for i, name in enumerate(names):
                if _crash_after is not None and i == _crash_after:
                    raise KeyboardInterrupt("simulated interruption during an update")
                os.replace(pending / name, directory / name)
            fsync_directory(directory)
            atomic_write_bytes(work / _JOURNAL, json.dumps({**journal, "state": "done"}).encode())
            _cleanup(work)


def _cleanup(work: Path) -> None:
    _remove(work / _JOURNAL)
    _remove(work / "pending")
    _remove(work / "backup")


def _owner_alive(scratch: Path) -> bool:
    """Whether the process that made a scratch directory (pid in ``.owner``) still runs."""
    try:
        fd = os.open(scratch / ".owner", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            pid = int(os.read(fd, 32))
        finally:
            os.close(fd)
        if pid <= 0:
            return False
        os.kill(pid, 0)
    except PermissionError:
        return True  # a process of another user
    except (OSError, ValueError):
        return False
    return True


def _stale_scratch(work: Path) -> list[Path]:
    """Scratch copies left by an update that was killed while fitting."""
    out = []
    for entry in os.scandir(work):
        if not entry.name.startswith("update-"):
            continue
        path = Path(entry.path)
        if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            out.append(path)  # not made by cmoc: removed as a link or file, never followed
        elif not _owner_alive(path):
            out.append(path)
    return out


def _read_journal(work: Path) -> dict:
    """Read and check the journal; raise an EvidenceError naming what is wrong with it."""
    path = work / _JOURNAL
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise _problem(f"the journal of an update, a regular file (it is {kind})")
    if st.st_size > _MAX_JOURNAL:
        raise _problem(f"the journal of an update, a few hundred bytes (it has {st.st_size})")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(_MAX_JOURNAL + 1)
    hint = (
        "; nothing was changed: compare the evidence files with your last copy, then delete "
        f"{JOURNAL}"
    )
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise _problem(f"UTF-8 JSON written by cmoc update ({err.reason}){hint}") from None
    except json.JSONDecodeError as err:
        raise _problem(
            f"JSON written by cmoc update ({err.msg}, column {err.colno}){hint}", line=err.lineno
        ) from None
    if not isinstance(doc, dict):
        raise _problem(f"a JSON object written by cmoc update{hint}", value=repr(doc)[:60])
    state = doc.get("state")
    if state not in ("applying", "done"):
        raise _problem(f'"applying" or "done"{hint}', column="state", value=repr(state))
    for key in ("files", "existed"):
        value = doc.get(key)
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            raise _problem(f"a list of file names{hint}", column=key, value=repr(value))
        for name in value:
            if name not in JOURNAL_FILES:
                raise _problem(
                    "one of the base's own evidence files ("
                    + ", ".join(JOURNAL_FILES)
                    + f"): a journal names nothing else{hint}",
                    column=key,
                    value=name,
                )
        if len(set(value)) != len(value):
            raise _problem(f"each file named once{hint}", column=key, value=repr(value))
    if not set(doc["existed"]) <= set(doc["files"]):
        raise _problem(
            f'only files also named in "files"{hint}', column="existed", value=repr(doc["existed"])
        )
    return doc


def _needs_recovery(work: Path) -> bool:
    return any(os.path.lexists(work / n) for n in (_JOURNAL, "pending", "backup")) or any(
        n.startswith("update-") for n in os.listdir(work)
    )


def _recover_locked(directory: Path, work: Path) -> str | None:
    """Recover with the writer lock and the exclusive lock held; check everything first."""
    journal = _read_journal(work) if os.path.lexists(work / _JOURNAL) else None
    backup = work / "backup"
    if journal is not None and journal["state"] == "applying":
        for name in journal["files"]:
            _refuse_link(directory / name, name)
        if journal["existed"]:
            try:
                st = os.lstat(backup)
            except FileNotFoundError:
                st = None
            if st is not None and not stat.S_ISDIR(st.st_mode):
                raise _problem(
                    f"backups in {_WORK}/backup, a directory inside the base (it is a link or "
                    "a file); nothing was changed"
                )
            for name in journal["existed"]:
                _refuse_link(backup / name, f"the backup of {name}")
    for stale in _stale_scratch(work):
        _remove(stale)
    if journal is None:
        _remove(work / "pending")
        _remove(backup)
        return None
    if journal["state"] == "done":
        _cleanup(work)
        return None
    for name in journal["files"]:
        if name in journal["existed"]:
            if (backup / name).is_file():
                os.replace(backup / name, directory / name)
        else:
            (directory / name).unlink(missing_ok=True)
    fsync_directory(directory)
    _cleanup(work)
    return _ROLLED_BACK


def recover_for_reading(directory: str | Path) -> tuple[str | None, ReadHold]:
    """Hold the base's lock shared for a load, recovering an interrupted change first.

    An interrupted change is rolled back only when no other process holds the writer lock
    (its writer has ended: a crashed writer's lock is gone) or this thread holds it; a change
    being committed by a live writer is waited for, never rolled back.

    Returns
    -------
    (str or None, ReadHold)
        What was done (None when nothing), and the shared hold, which the caller keeps while
        it reads the files (released with :meth:`ReadHold.release` or when dropped).

    Raises
    ------
    EvidenceError
        When the journal is garbled or names anything but the base's own evidence files, or
        when the lock cannot be had in time.
    """
    directory = Path(directory)
    work = work_dir(directory, create=False)
    hold = shared(directory)
    if work is None:
        return None, hold
    holds = [hold]
    try:
        return _recover_or_wait(directory, work, holds)
    except BaseException:
        holds[-1].release()  # the hold of the moment (the others are released already)
        raise


def _recover_or_wait(
    directory: Path, work: Path, holds: list[ReadHold]
) -> tuple[str | None, ReadHold]:
    deadline = time.monotonic() + lock_timeout()
    hold = holds[-1]
    while True:
        if not _needs_recovery(work):
            return None, hold
        if os.path.lexists(work / _JOURNAL):
            _read_journal(work)  # a garbled journal is refused before anything is touched
        hold.release()
        with try_writer(directory) as mine:
            if mine:  # no other writer is alive (or this thread is the writer)
                with exclusive(directory):
                    note = _recover_locked(directory, work)
                holds.append(shared(directory))
                return note, holds[-1]
        hold = shared(directory)
        holds.append(hold)
        # a live writer holds the writer lock: its own leftovers (pending, backup, its scratch
        # copy) are its business; only a half-applied journal of a dead writer is waited for
        # (the live writer rolls it back when it loads the base)
        if not _applying(work):
            return None, hold
        hold.release()
        if time.monotonic() >= deadline:
            raise _problem(
                "no half-applied update: one was interrupted, and another cmoc command, "
                "which will roll it back, holds the base; try again in a moment"
            )
        time.sleep(0.2)
        hold = shared(directory)
        holds.append(hold)


def _applying(work: Path) -> bool:
    try:
        return _read_journal(work)["state"] == "applying"
    except FileNotFoundError:
        return False
    except OSError as err:
        if err.errno == errno.ENOENT:
            return False
        raise


def recover(directory: str | Path) -> str | None:
    """Roll back a change that was interrupted before it finished (see :func:`recover_for_reading`).

    Returns
    -------
    str or None
        What was done, or None when there was nothing to recover.
    """
    note, hold = recover_for_reading(directory)
    hold.release()
    return note


@contextmanager
def reading(directory: str | Path) -> Iterator[str | None]:
    """Hold the base's lock shared while reading it; yield what recovery did (or None).

    The exception-safe form of :func:`recover_for_reading`: the hold ends with the block.
    """
    note, hold = recover_for_reading(directory)
    try:
        yield note
    finally:
        hold.release()
