"""Guards against hostile QDA exports: zip archives, XML, sizes, and formula injection in CSV.

Everything a QDA export holds is untrusted text from another program (or another person). The
readers never extract an archive to disk, never parse XML with a DTD, never follow a path the
export names, and cmoc never writes a text cell that a spreadsheet would run as a formula.

Each guard raises :class:`UnsafeInputError` (a :class:`QdaImportError`, itself an
:class:`~cmoc.evidence.EvidenceError`), so the command line reports it like any bad evidence:
one line per problem naming the file, the member or value and what was expected; exit status 2;
nothing written.
"""

from __future__ import annotations

import csv
import io
import stat
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as safe_et

from ..csvsafe import FORMULA_PREFIXES, escape_formula, needs_escape
from ..problems import EvidenceError, Problem

__all__ = [
    "DEFAULT_LIMITS",
    "FORMULA_PREFIXES",
    "Limits",
    "QdaImportError",
    "UnsafeInputError",
    "check_file_size",
    "csv_text",
    "escape_formula",
    "needs_escape",
    "open_archive",
    "parse_xml",
    "read_member",
    "read_small_file",
    "safe_member_name",
]

MiB = 1024 * 1024


class QdaImportError(EvidenceError):
    """A QDA export (or mapping file) that cannot be imported; carries every problem found.

    Parameters
    ----------
    problems : list of Problem
        What is wrong, with the file (and member, line, value) it concerns.
    head : str
        First line of the message.
    """

    def __init__(self, problems: list[Problem], head: str = "cannot import"):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.expected))
        Exception.__init__(self, head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class UnsafeInputError(QdaImportError):
    """A file refused as unsafe (zip bomb, path traversal, DTD or entities, oversized input)."""

    def __init__(self, problems: list[Problem], head: str = "refused an unsafe file"):
        super().__init__(problems, head)


@dataclass(frozen=True)
class Limits:
    """Caps applied to every QDA export read.

    Attributes
    ----------
    max_file_bytes : int
        Largest plain file (``.qdc``, ``.qde``, CSV, mapping file) read: 256 MiB.
    max_archive_bytes : int
        Largest archive (``.qdpx``) opened: 4 GiB (the source media inside are never read).
    max_members : int
        Most members an archive may list: 10,000.
    max_member_bytes : int
        Largest member read into memory (the ``.qde`` project), by its declared size and by the
        bytes actually produced while decompressing: 256 MiB.
    max_total_bytes : int
        Largest sum of the declared uncompressed sizes of all members: 16 GiB.
    max_ratio : float
        Largest compression ratio (uncompressed / compressed) of any member larger than
        ``ratio_floor`` bytes, declared or measured while reading: 200.
    ratio_floor : int
        Members smaller than this (1 MiB) are not ratio-checked: tiny files compress oddly.
    max_code_depth : int
        Deepest nesting of codes in a code tree: 64.
    max_xml_elements : int
        Most elements in one XML document: 5,000,000 (a project with 100,000 codings has about
        400,000).
    """

    max_file_bytes: int = 256 * MiB
    max_archive_bytes: int = 4096 * MiB
    max_members: int = 10_000
    max_member_bytes: int = 256 * MiB
    max_total_bytes: int = 16384 * MiB
    max_ratio: float = 200.0
    ratio_floor: int = 1 * MiB
    max_code_depth: int = 64
    max_xml_elements: int = 5_000_000


DEFAULT_LIMITS = Limits()
"""The limits used unless a caller passes others (documented in docs/qda-import.md, "Safety")."""


def _refuse(file: str, expected: str, value: str | None = None) -> UnsafeInputError:
    return UnsafeInputError([Problem(file, None, None, value, expected)])


def check_file_size(path: Path, limit: int) -> int:
    """Return the size of ``path``; refuse a missing file, a non-file or one over ``limit`` bytes.

    Parameters
    ----------
    path : Path
        File to check (symbolic links are followed: the user named the file).
    limit : int
        Largest size accepted, in bytes.

    Returns
    -------
    int
        The size in bytes.
    """
    try:
        info = path.stat()
    except OSError as err:
        raise QdaImportError(
            [Problem(str(path), None, None, None, f"a readable file ({err.strerror})")]
        ) from err
    if not stat.S_ISREG(info.st_mode):
        raise QdaImportError([Problem(str(path), None, None, None, "a regular file")])
    if info.st_size > limit:
        raise _refuse(
            str(path),
            f"a file of at most {limit:,} bytes (it has {info.st_size:,})",
        )
    return info.st_size


def read_small_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Read a whole plain file, refusing one larger than ``limits.max_file_bytes``.

    The size is checked before reading and again while reading (a file growing meanwhile).
    """
    check_file_size(path, limits.max_file_bytes)
    with path.open("rb") as fh:
        data = fh.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:
        raise _refuse(str(path), f"a file of at most {limits.max_file_bytes:,} bytes")
    return data


def safe_member_name(name: str) -> str | None:
    r"""Return why an archive member name is unsafe, or None when it is a plain relative path.

    Refused: absolute paths (``/x``, ``C:/x``, ``//host/x``), any ``..`` level, backslashes
    (``..\x`` is traversal on Windows), NUL and other control characters, and empty names.
    """
    if not name:
        return "a member name (it is empty)"
    if any(ord(ch) < 32 or ch == "\x7f" for ch in name):
        return "a member name without control characters"
    if "\\" in name:
        return "a member name without backslashes (a Windows path can escape the archive)"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "a relative member name (it is absolute)"
    if ".." in PurePosixPath(name).parts:
        return "a member name without '..' (it would escape the archive)"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def open_archive(path: Path, limits: Limits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """Open a zip archive after checking every member's name, type and declared size.

    Nothing is extracted: members are read into memory by :func:`read_member`. Refused with
    :class:`UnsafeInputError`: an archive over ``max_archive_bytes``; more than ``max_members``
    members; unsafe names (:func:`safe_member_name`); duplicate names; symbolic links;
    encrypted members; declared sizes summing over ``max_total_bytes``; a declared compression
    ratio over ``max_ratio``.

    Parameters
    ----------
    path : Path
        The archive.
    limits : Limits
        Caps to apply.

    Returns
    -------
    zipfile.ZipFile
        The open archive (close it, or use it as a context manager).
    """
    name = str(path)
    check_file_size(path, limits.max_archive_bytes)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as err:
        raise QdaImportError(
            [Problem(name, None, None, None, f"a zip archive (REFI-QDA .qdpx) ({err})")]
        ) from err
    try:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise _refuse(
                name,
                f"an archive of at most {limits.max_members:,} members (it has {len(infos):,})",
            )
        problems: list[Problem] = []
        seen: set[str] = set()
        total = 0
        for info in infos:
            where = f"{name}: member {info.filename!r}"
            why = safe_member_name(info.filename)
            if why:
                problems.append(Problem(where, None, None, None, why))
                continue
            key = info.filename.rstrip("/").casefold()
            if key in seen:
                problems.append(Problem(where, None, None, None, "member names that are unique"))
            seen.add(key)
            if _is_symlink(info):
                problems.append(
                    Problem(where, None, None, None, "a regular member (it is a symbolic link)")
                )
            if info.flag_bits & 0x1:
                problems.append(Problem(where, None, None, None, "an unencrypted member"))
            total += info.file_size
            if info.file_size > limits.ratio_floor and (
                info.file_size > limits.max_ratio * max(info.compress_size, 1)
            ):
                problems.append(
                    Problem(
                        where,
                        None,
                        None,
                        None,
                        f"a compression ratio of at most {limits.max_ratio:g} (it declares "
                        f"{info.file_size:,} bytes from {info.compress_size:,}: a zip bomb?)",
                    )
                )
        if total > limits.max_total_bytes:
            problems.append(
                Problem(
                    name,
                    None,
                    None,
                    None,
                    f"members declaring at most {limits.max_total_bytes:,} bytes in all "
                    f"(they declare {total:,})",
                )
            )
        if problems:
            raise UnsafeInputError(problems)
    except BaseException:
        archive.close()
        raise
    return archive


def read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, limits: Limits = DEFAULT_LIMITS
) -> bytes:
    """Read one member into memory, counting the bytes actually decompressed.

    A header that lies about the size does not get past: reading stops as soon as the output
    exceeds the declared size or ``max_member_bytes``, and the measured ratio is checked
    against ``max_ratio``.

    Parameters
    ----------
    archive : zipfile.ZipFile
        An archive opened by :func:`open_archive`.
    info : zipfile.ZipInfo
        The member.
    label : str
        How to name the archive in messages.
    limits : Limits
        Caps to apply.

    Returns
    -------
    bytes
        The member's content.
    """
    where = f"{label}: member {info.filename!r}"
    if info.file_size > limits.max_member_bytes:
        raise _refuse(
            where,
            f"a member of at most {limits.max_member_bytes:,} bytes (it declares "
            f"{info.file_size:,})",
        )
    cap = min(info.file_size, limits.max_member_bytes)
    chunks: list[bytes] = []
    got = 0
    try:
        with archive.open(info) as fh:
            # ZipExtFile stops at the declared size; read one byte more than the cap ourselves
            # so that a reader which did not would still be stopped here
            while True:
                chunk = fh.read(min(64 * 1024, cap + 1 - got))
                if not chunk:
                    break
                got += len(chunk)
                if got > cap:
                    raise _refuse(
                        where, f"a member no larger than its declared {info.file_size:,} bytes"
                    )
                if got > limits.ratio_floor and got > limits.max_ratio * max(info.compress_size, 1):
                    raise _refuse(
                        where,
                        f"a compression ratio of at most {limits.max_ratio:g} (a zip bomb?)",
                    )
                chunks.append(chunk)
                if got == cap:
                    # anything beyond the declared size is an error the CRC check reports
                    if fh.read(1):
                        raise _refuse(
                            where, f"a member no larger than its declared {info.file_size:,} bytes"
                        )
                    break
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as err:
        raise _refuse(where, f"an intact member ({err})") from err
    data = b"".join(chunks)
    if len(data) != info.file_size:
        raise _refuse(
            where, f"a member of its declared {info.file_size:,} bytes (read {len(data):,})"
        )
    return data


_SAFE_XML = "XML without a DTD or entity declarations (refused for safety: entity expansion "


def parse_xml(data: bytes, label: str, *, limits: Limits = DEFAULT_LIMITS) -> Element:
    """Parse untrusted XML with defusedxml: no DTD, no entities, no external references.

    The elements are counted while parsing: more than ``limits.max_xml_elements`` is refused
    before the tree grows further (a flood of tiny elements within the size cap would otherwise
    take gigabytes of memory).

    Parameters
    ----------
    data : bytes
        The document (already size-checked).
    label : str
        How to name it in messages.
    limits : Limits
        Caps to apply.

    Returns
    -------
    xml.etree.ElementTree.Element
        The root element.
    """
    count = 0
    root: Element | None = None
    try:
        events = safe_et.iterparse(
            io.BytesIO(data),
            events=("start",),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        for _, element in events:
            if root is None:
                root = element
            count += 1
            if count > limits.max_xml_elements:
                raise _refuse(label, f"XML of at most {limits.max_xml_elements:,} elements")
    except defusedxml.DTDForbidden as err:
        raise _refuse(label, _SAFE_XML + "and external files)", f"DOCTYPE {err.name}") from err
    except defusedxml.EntitiesForbidden as err:
        raise _refuse(label, _SAFE_XML + "bombs)", f"ENTITY {err.name}") from err
    except defusedxml.ExternalReferenceForbidden as err:
        raise _refuse(
            label, _SAFE_XML + "and external files)", f"external reference {err.sysid}"
        ) from err
    except ParseError as err:
        line, column = getattr(err, "position", (None, None))
        raise QdaImportError(
            [Problem(label, line, None, None, f"well-formed XML ({err}; column {column})")]
        ) from err
    if root is None:  # pragma: no cover - iterparse raises on an empty document
        raise QdaImportError([Problem(label, None, None, None, "an XML document")])
    return root


def csv_text(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    verbatim: Iterable[str] = (),
) -> str:
    """Format rows as CSV text (header first, newline line ends) with formula cells neutralised.

    Rules (see docs/qda-import.md, "Formula injection"):

    - text cells (``str``) starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return get a
      leading ``'`` (:func:`escape_formula`): document names, attribute values, group paths and
      wave labels derived from a QDA export;
    - numbers (``int``, ``float``) are written as numbers and never escaped: a negative number is
      data that cmoc computed, and a spreadsheet shows ``-1`` as the number it is;
    - columns named in ``verbatim`` hold cmoc's own vocabulary (``stance`` is ``supports`` or
      ``refutes``; the ``sign`` of ``cmocs.csv`` is ``+`` or ``-``) and are written as they are;
      the caller guarantees they do not come from imported text;
    - ``None`` is an empty cell; line breaks inside a cell become line feeds (and the
      cell is quoted), so a stray carriage return cannot split a row for another reader.

    Parameters
    ----------
    columns : sequence of str
        Header, in order.
    rows : iterable of mapping
        One mapping per row (missing keys are empty cells).
    verbatim : iterable of str
        Columns written without escaping.

    Returns
    -------
    str
        The CSV text.
    """
    keep = set(verbatim)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if value is None:
                cells.append("")
            elif isinstance(value, bool):
                cells.append(str(value).lower())
            elif isinstance(value, int | float):
                cells.append(repr(value) if isinstance(value, float) else str(value))
            else:
                text = str(value) if column in keep else escape_formula(str(value))
                # csv quotes cells holding the line terminator (\n) but not a lone \r, which
                # other readers take for a line end: make every line break \n (then quoted)
                cells.append(text.replace("\r\n", "\n").replace("\r", "\n"))
        writer.writerow(cells)
    return buffer.getvalue()
