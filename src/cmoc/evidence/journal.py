"""Writing several evidence files as one change, with a journal and backups.

Each new file is first written in full to ``.cmoc/pending/``, the files it replaces are copied to
``.cmoc/backup/``, and only then is the journal written (the commit point) and the files moved in
place. :func:`recover` (run by every load) rolls an interrupted change back from the backups, so
the evidence base is always seen either as it was or as it became, never half-changed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .writing import atomic_write_bytes

__all__ = ["recover", "write_files"]

_WORK = ".cmoc"
_JOURNAL = "update-journal.json"


def write_files(
    directory: str | Path, files: dict[str, bytes], *, _crash_after: int | None = None
) -> None:
    """Replace several files of ``directory`` as one change.

    Parameters
    ----------
    directory : str or Path
        The evidence base.
    files : dict of str to bytes
        File name to new content.
    _crash_after : int, optional
        Testing only: stop with ``KeyboardInterrupt`` after replacing this many files.
    """
    directory = Path(directory)
    recover(directory)
    work = directory / _WORK
    pending, backup = work / "pending", work / "backup"
    for d in (pending, backup):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    names = sorted(files)
    existed = [n for n in names if (directory / n).is_file()]
    for name in names:
        atomic_write_bytes(pending / name, files[name])
        if name in existed:
            shutil.copy2(directory / name, backup / name)
    journal = {"state": "applying", "files": names, "existed": existed}
    atomic_write_bytes(work / _JOURNAL, json.dumps(journal).encode())
    for i, name in enumerate(names):
        if _crash_after is not None and i == _crash_after:
            raise KeyboardInterrupt("simulated interruption during an update")
        os.replace(pending / name, directory / name)
    atomic_write_bytes(work / _JOURNAL, json.dumps({**journal, "state": "done"}).encode())
    _cleanup(work)


def _cleanup(work: Path) -> None:
    (work / _JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(work / "pending", ignore_errors=True)
    shutil.rmtree(work / "backup", ignore_errors=True)


def _owner_alive(scratch: Path) -> bool:
    """Whether the process that made a scratch directory (pid in ``.owner``) still runs."""
    try:
        pid = int((scratch / ".owner").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def recover(directory: str | Path) -> str | None:
    """Roll back a change that was interrupted before it finished.

    Returns
    -------
    str or None
        What was done, or None when there was nothing to recover.
    """
    directory = Path(directory)
    work = directory / _WORK
    path = work / _JOURNAL
    if work.is_dir():  # scratch copies left by an update that was killed while fitting
        for stale in work.glob("update-*"):
            if stale.is_dir() and not _owner_alive(stale):
                shutil.rmtree(stale, ignore_errors=True)
    if not path.is_file():
        if (work / "pending").exists() or (work / "backup").exists():
            _cleanup(work)
        return None
    journal = json.loads(path.read_text())
    if journal.get("state") == "done":
        _cleanup(work)
        return None
    for name in journal["files"]:
        if name in journal["existed"]:
            if (work / "backup" / name).is_file():
                os.replace(work / "backup" / name, directory / name)
        else:
            (directory / name).unlink(missing_ok=True)
    _cleanup(work)
    return "an interrupted update was rolled back: the evidence base is as it was before it"
