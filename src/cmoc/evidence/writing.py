"""Writing evidence files atomically: a temporary file in the same directory, then a rename."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "file_mode",
    "fsync_directory",
    "write_directory",
]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def file_mode(path: str | Path) -> int:
    """Mode for a file written at ``path``: the replaced file's, else 0666 under the umask."""
    try:
        return Path(path).stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def fsync_directory(path: str | Path) -> None:
    """Make the entries of a directory (files created, renamed, removed in it) durable.

    File systems that cannot sync a directory (``EINVAL``, ``ENOTSUP``) are left as they are.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except PermissionError:
        return
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The file is synced before the rename and its directory after it, so once this returns the
    new content survives a crash of the machine.

    Parameters
    ----------
    path : str or Path
        Destination; its directory must exist.
    data : bytes
        Content.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file private (0600): keep the mode of the file replaced, or give
        # a new file the usual mode under the umask, as open() would
        os.fchmod(fd, file_mode(path))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_directory(
    out: str | Path, files: Mapping[str, pd.DataFrame | str], *, overwrite: bool = False
) -> Path:
    """Write a set of files as a new directory, all at once.

    The files are written into a temporary sibling directory which is then renamed to ``out``,
    so an interrupted write leaves no partial directory behind.

    Parameters
    ----------
    out : str or Path
        Directory to create. If it exists it must be empty, unless ``overwrite``.
    files : mapping of str to DataFrame or str
        File name to content (frames are written as CSV without index, text as UTF-8).
    overwrite : bool
        Replace an existing directory.

    Returns
    -------
    Path
        The directory written.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a new directory is not
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else _csv_bytes(content)
            (tmp / name).write_bytes(data)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
