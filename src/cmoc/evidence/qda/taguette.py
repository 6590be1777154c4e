r"""Reader for Taguette exports: the highlights CSV and, optionally, the codebook (QDC or CSV).

Taguette (1.5.2) writes its highlights export ("Export all highlights" > CSV) as::

    id,document,tag,content
    1,Interview 1,mechanism\trust,"the snippet, as plain text"
    1,Interview 1,context\trust,"the snippet, as plain text"

one row per (highlight, tag): a highlight with several tags appears once per tag, with the same
``id``. Its ``content`` is the passage (``QdaProject.passages``, located as
``highlight ID``). Tags are flat strings in Taguette; a ``\`` or ``/`` in a tag name is read
as hierarchy (``mechanism\trust`` is the code path ``("mechanism", "trust")``). Counting: one
highlight tagged with a tag is one coding reference of (document, tag), as Taguette's own
"number of highlights" counts it.

The codebook is Taguette's QDC export (REFI-QDA codebook XML, one ``<Code>`` per tag, its GUID
a UUID-5 of the tag name) or its codebook CSV (``tag,description,number of highlights,number of
documents``; or the same as Excel). The Excel exports of highlights and codebook (same columns,
first sheet) are read too. Tags of the codebook never used are codes without counts; the numbers of
highlights in a codebook CSV are checked against the highlights read.

Code keys are the GUIDs Taguette writes in its QDC (computed the same way when only the CSV is
given), lower case, so a mapping by GUID works with either export; document keys are document
names (Taguette has no document ids in its exports).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

from ..problems import EvidenceError, Problem
from .matrix import check_workbook, sheet_values
from .model import QdaCode, QdaDocument, QdaProject, normalize_guid, unknown_options
from .safety import QdaImportError, parse_xml, read_small_file

__all__ = ["TAGUETTE_NAMESPACE", "read", "split_tag", "tag_guid"]

#: The UUID namespace Taguette derives codebook GUIDs from (``taguette.export``).
TAGUETTE_NAMESPACE = uuid.UUID("51B2B2B7-27EB-4ECB-9D56-E75B0A0496C2")

_HIGHLIGHT_COLUMNS = ("id", "document", "tag")
_CODEBOOK_PATH_COLUMNS = ("tag", "name", "path")
_COUNT_COLUMN = "number of highlights"


def tag_guid(tag: str) -> str:
    r"""GUID Taguette gives a tag in its QDC codebook export, lower case.

    Parameters
    ----------
    tag : str
        The tag name as Taguette stores it (``mechanism\trust``).

    Returns
    -------
    str
        ``uuid5(TAGUETTE_NAMESPACE, tag)`` in lower case.
    """
    return str(uuid.uuid5(TAGUETTE_NAMESPACE, tag)).lower()


def split_tag(tag: str, separators: str = "\\/") -> tuple[str, ...]:
    r"""Code path of a Taguette tag: the name split at each separator character.

    Parameters
    ----------
    tag : str
        Tag name, e.g. ``mechanism\trust`` or ``outcome/uptake``.
    separators : str
        Characters that separate levels (default backslash and slash); empty for none.

    Returns
    -------
    tuple of str
        The levels, stripped, empty levels dropped (``a\\b`` and ``a\b`` give the same path).
    """
    parts = re.split("[" + re.escape(separators) + "]", tag) if separators else [tag]
    return tuple(p.strip() for p in parts if p.strip())


def read(
    path: Path,
    *,
    codebook: Path | None = None,
    separators: str = "\\/",
    **options: object,
) -> QdaProject:
    """Read a Taguette highlights CSV export (and optionally its codebook).

    Parameters
    ----------
    path : Path
        The highlights export (``id,document,tag,content``) as Taguette writes it: CSV, or
        Excel (``.xlsx``, first sheet, checked by :func:`.matrix.check_workbook` first).
    codebook : Path, optional
        Taguette's codebook export: QDC (``.qdc``, REFI-QDA codebook XML), CSV or Excel.
    separators : str
        Characters that separate hierarchy levels in tag names (default backslash and slash).
    **options
        No other options are accepted: any (unless None) is reported as a problem.

    Returns
    -------
    QdaProject
        Format ``taguette``; documents in order of first appearance; codes in codebook order,
        then tags not in the codebook in order of first appearance; counts of highlights per
        (document, tag).

    Raises
    ------
    QdaImportError
        When a file is missing, too large, not UTF-8, not the expected layout, or holds a bad
        value; every problem carries file, line, column, value and what was expected.
    """
    path = Path(path)
    problems: list[Problem] = unknown_options(
        path, options, "only the options codebook= and separators= for a Taguette import"
    )
    if problems:
        raise QdaImportError(problems)

    notes: list[str] = []
    book: list[_BookTag] = []
    book_name = Path(codebook).name if codebook is not None else ""
    if codebook is not None:
        codebook = Path(codebook)
        if _is_xlsx(codebook):
            records = _table(codebook, problems)
            if records is not None:
                book = _codebook_csv(codebook, records, separators, problems)
        else:
            data = _read_bytes(codebook, problems)
            if data is not None and _looks_like_xml(codebook, data):
                book = _codebook_qdc(codebook, data, separators, problems)
            elif data is not None:
                records = _csv_records(codebook, data, problems)
                if records is not None:
                    book = _codebook_csv(codebook, records, separators, problems)

    rows: list[_Row] = []
    records = _table(path, problems)
    if records is not None:
        rows = _highlight_rows(path, records, separators, problems)

    # codes: the codebook's, then the tags met only in the highlights
    codes: list[QdaCode] = []
    by_tag: dict[str, str] = {}  # tag name as written -> code key
    by_path: dict[tuple[str, ...], list[str]] = {}
    keys: set[str] = set()
    for entry in book:
        if entry.key in keys:
            problems.append(
                Problem(
                    book_name,
                    entry.line,
                    entry.column,
                    entry.key,
                    "each code once in the codebook (this GUID is repeated)",
                )
            )
            continue
        keys.add(entry.key)
        codes.append(QdaCode(entry.key, entry.path, entry.codable))
        if entry.tag is not None:
            by_tag.setdefault(entry.tag, entry.key)
        by_path.setdefault(entry.path, []).append(entry.key)

    documents: dict[str, QdaDocument] = {}
    doc_of_highlight: dict[str, tuple[str, int]] = {}
    seen: set[tuple[str, str]] = set()
    counts: dict[tuple[str, str], int] = {}
    passages: dict[tuple[str, str], list[tuple[str, str]]] = {}
    not_in_book: dict[str, int] = {}
    duplicates = 0
    for row in rows:
        first = doc_of_highlight.setdefault(row.highlight, (row.document, row.line))
        if first[0] != row.document:
            problems.append(
                Problem(
                    path.name,
                    row.line,
                    "document",
                    row.document,
                    f"the document of highlight {row.highlight} on line {first[1]} "
                    f"({first[0]!r}): one highlight lies in one document",
                )
            )
            continue
        if row.document not in documents:
            documents[row.document] = QdaDocument(row.document, row.document, {})
        if row.tag == "":
            notes.append(
                f"{path.name}:{row.line}: highlight {row.highlight} has no tag: not counted"
            )
            continue
        key = by_tag.get(row.tag)
        if key is None:
            matches = by_path.get(row.path, [])
            if len(matches) == 1:
                key = matches[0]
        if key is None:
            key = tag_guid(row.tag)
            if key not in keys:
                keys.add(key)
                codes.append(QdaCode(key, row.path, True))
                by_tag[row.tag] = key
                if book:
                    not_in_book[row.tag] = row.line
        if (row.highlight, key) in seen:
            duplicates += 1
            continue
        seen.add((row.highlight, key))
        counts[(row.document, key)] = counts.get((row.document, key), 0) + 1
        if row.content:
            passages.setdefault((row.document, key), []).append(
                (row.content, f"highlight {row.highlight}")
            )
    if problems:
        raise QdaImportError(problems)

    if duplicates:
        notes.append(
            f"{path.name}: {duplicates} row(s) repeat a (highlight id, tag) pair already read: "
            "counted once"
        )
    for tag, line in not_in_book.items():
        notes.append(
            f"{path.name}:{line}: tag {tag!r} is not in the codebook {book_name}: "
            "read as a code of its own"
        )
    paths: dict[tuple[str, ...], list[QdaCode]] = {}
    for code in codes:
        paths.setdefault(code.path, []).append(code)
    for code_path, same in paths.items():
        if len(same) > 1:
            notes.append(
                f"tags {', '.join(repr(_tag_of(c, by_tag)) for c in same)} have the same "
                f"code path {'/'.join(code_path)!r}: kept as distinct codes (keys "
                f"{', '.join(c.key for c in same)})"
            )
    totals: dict[str, int] = {}
    for (_doc, key), n in counts.items():
        totals[key] = totals.get(key, 0) + n
    for entry in book:
        if entry.highlights is not None and entry.highlights != totals.get(entry.key, 0):
            notes.append(
                f"{book_name}:{entry.line}: the codebook gives {entry.highlights} "
                f"highlight(s) for tag {entry.tag!r}, the highlights export has "
                f"{totals.get(entry.key, 0)} (exported at different times, or the highlights "
                "export was for one tag only?)"
            )
    unused = [e for e in book if e.key not in totals]
    if unused:
        notes.append(
            f"{len(unused)} codebook tag(s) never used in the highlights: "
            + ", ".join(repr(e.tag if e.tag is not None else "/".join(e.path)) for e in unused)
        )
    return QdaProject(
        format="taguette",
        documents=tuple(documents.values()),
        codes=tuple(codes),
        counts=counts,
        notes=tuple(notes),
        passages={k: tuple(v) for k, v in passages.items()},
    )


# ---------------------------------------------------------------------------------------------


class _Row:
    __slots__ = ("content", "document", "highlight", "line", "path", "tag")

    def __init__(
        self, line: int, highlight: str, document: str, tag: str, path: tuple, content: str = ""
    ):
        self.line = line
        self.highlight = highlight
        self.document = document
        self.tag = tag
        self.path = path
        self.content = content


class _BookTag:
    __slots__ = ("codable", "column", "highlights", "key", "line", "path", "tag")

    def __init__(
        self,
        key: str,
        path: tuple[str, ...],
        tag: str | None,
        line: int | None,
        column: str | None,
        codable: bool = True,
        highlights: int | None = None,
    ):
        self.key = key
        self.path = path
        self.tag = tag
        self.line = line
        self.column = column
        self.codable = codable
        self.highlights = highlights


def _tag_of(code: QdaCode, by_tag: dict[str, str]) -> str:
    for tag, key in by_tag.items():
        if key == code.key:
            return tag
    return "/".join(code.path)


def _read_bytes(path: Path, problems: list[Problem]) -> bytes | None:
    """Read the file's bytes (``safety.read_small_file``: missing or oversized files refused)."""
    try:
        return read_small_file(path)
    except EvidenceError as err:
        problems.extend(err.problems)
        return None


def _decode(path: Path, data: bytes, problems: list[Problem]) -> str | None:
    """UTF-8 text (a byte-order mark is dropped), or a problem at the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        problems.append(
            Problem(
                path.name,
                line,
                None,
                repr(data[err.start : err.start + 4])[2:-1],
                f"UTF-8 text (undecodable byte at character {col}; Taguette exports UTF-8: "
                "export again rather than re-saving the file in another program)",
            )
        )
        return None


def _is_xlsx(path: Path) -> bool:
    return path.suffix.lower() in (".xlsx", ".xlsm")


def _csv_records(
    path: Path, data: bytes, problems: list[Problem]
) -> list[tuple[int, list[str]]] | None:
    text = _decode(path, data, problems)
    if text is None:
        return None
    err, err_line, records = _records(text)
    if err is not None:
        problems.append(Problem(path.name, err_line, None, None, f"valid CSV ({err})"))
        return None
    return records


def _table(path: Path, problems: list[Problem]) -> list[tuple[int, list[str]]] | None:
    """Read the records (line or row, cells as text) of a CSV file or an XLSX's first sheet."""
    if not _is_xlsx(path):
        data = _read_bytes(path, problems)
        return None if data is None else _csv_records(path, data, problems)
    try:
        check_workbook(path)
        _sheet, rows = sheet_values(path)
    except EvidenceError as err:
        problems.extend(err.problems)
        return None
    return [(number, [_cell_text(v) for v in cells]) for number, cells in rows]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _looks_like_xml(path: Path, data: bytes) -> bool:
    if path.suffix.lower() in (".qdc", ".xml"):
        return True
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _delimiter(header_line: str) -> str:
    """``,`` unless the header only has ``;`` (a file re-saved by a spreadsheet in some locales)."""
    if "," not in header_line and ";" in header_line:
        return ";"
    if "," not in header_line and "\t" in header_line:
        return "\t"
    return ","


def _records(text: str) -> tuple[csv.Error | None, int, list[tuple[int, list[str]]]]:
    """CSV records with the 1-based line each starts on; a parse error stops the reading."""
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    out: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for cells in reader:
            out.append((last + 1, cells))
            last = reader.line_num
    except csv.Error as err:
        return err, reader.line_num, out
    return None, last, out


def _header_index(
    file: str,
    header: list[str],
    problems: list[Problem],
) -> dict[str, int]:
    index: dict[str, int] = {}
    for pos, name in enumerate(header):
        key = name.strip().lower()
        if key in index:
            problems.append(Problem(file, 1, name, name, "each column once (duplicate)"))
        index.setdefault(key, pos)
    return index


def _highlight_rows(
    path: Path, records: list[tuple[int, list[str]]], separators: str, problems: list[Problem]
) -> list[_Row]:
    file = path.name
    if not records or not any(c.strip() for c in records[0][1]):
        problems.append(
            Problem(
                file,
                1,
                None,
                None,
                "a header row id,document,tag,content (Taguette's highlights export)",
            )
        )
        return []
    header = records[0][1]
    before = len(problems)
    index = _header_index(file, header, problems)
    if _COUNT_COLUMN in index and "document" not in index:
        problems.append(
            Problem(
                file,
                1,
                None,
                ",".join(header),
                "the highlights export (id,document,tag,content): this is Taguette's codebook "
                "CSV; pass it as the codebook and give the highlights CSV as the file",
            )
        )
        return []
    for name in _HIGHLIGHT_COLUMNS:
        if name not in index:
            problems.append(
                Problem(
                    file,
                    1,
                    name,
                    None,
                    "this column of Taguette's highlights export (id,document,tag,content) "
                    f"(missing; the header is {','.join(header)!r})",
                )
            )
    if len(problems) > before:
        return []
    rows: list[_Row] = []
    i_id, i_doc, i_tag = (index[c] for c in _HIGHLIGHT_COLUMNS)
    width = len(header)
    for line, cells in records[1:]:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != width:
            problems.append(
                Problem(
                    file,
                    line,
                    None,
                    ",".join(cells),
                    f"{width} fields as in the header (found {len(cells)})",
                )
            )
            continue
        highlight = cells[i_id].strip()
        document = cells[i_doc].strip()
        tag = cells[i_tag].strip()
        bad = False
        if not highlight.isdigit():
            problems.append(
                Problem(file, line, "id", cells[i_id], "a highlight id (a whole number)")
            )
            bad = True
        if not document:
            problems.append(
                Problem(file, line, "document", cells[i_doc], "a document name (it is empty)")
            )
            bad = True
        tag_path = split_tag(tag, separators)
        if tag and not tag_path:
            problems.append(
                Problem(
                    file, line, "tag", cells[i_tag], "a tag name with at least one non-empty level"
                )
            )
            bad = True
        if not bad:
            content = cells[index["content"]].strip() if "content" in index else ""
            rows.append(_Row(line, str(int(highlight)), document, tag, tag_path, content))
    return rows


def _codebook_csv(
    path: Path, records: list[tuple[int, list[str]]], separators: str, problems: list[Problem]
) -> list[_BookTag]:
    file = path.name
    if not records or not any(c.strip() for c in records[0][1]):
        problems.append(
            Problem(file, 1, None, None, "a header row (tag,description,number of highlights,...)")
        )
        return []
    header = records[0][1]
    index = _header_index(file, header, problems)
    named = [c for c in _CODEBOOK_PATH_COLUMNS if c in index]
    if "document" in index and "id" in index:
        problems.append(
            Problem(
                file,
                1,
                None,
                ",".join(header),
                "a codebook (tag,description,...): this is Taguette's highlights export; give "
                "it as the file and the codebook with codebook=",
            )
        )
        return []
    if len(named) != 1:
        problems.append(
            Problem(
                file,
                1,
                None,
                ",".join(header),
                "exactly one of the columns 'tag', 'name' or 'path' naming the tags "
                f"({'none' if not named else 'found ' + ', '.join(named)})",
            )
        )
        return []
    i_tag = index[named[0]]
    i_count = index.get(_COUNT_COLUMN)
    out: list[_BookTag] = []
    for line, cells in records[1:]:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) <= max(i_tag, i_count or 0):
            problems.append(
                Problem(
                    file,
                    line,
                    None,
                    ",".join(cells),
                    f"{len(header)} fields as in the header (found {len(cells)})",
                )
            )
            continue
        tag = cells[i_tag].strip()
        tag_path = split_tag(tag, separators)
        if not tag_path:
            problems.append(Problem(file, line, named[0], cells[i_tag], "a tag name (it is empty)"))
            continue
        highlights = None
        if i_count is not None:
            raw = cells[i_count].strip()
            if raw:
                if not raw.isdigit():
                    problems.append(
                        Problem(file, line, header[i_count], raw, "a whole number of highlights")
                    )
                    continue
                highlights = int(raw)
        out.append(_BookTag(tag_guid(tag), tag_path, tag, line, named[0], True, highlights))
    return out


def _local(tag: object) -> str:
    name = str(tag)
    return name.rsplit("}", 1)[-1] if name.startswith("{") else name


def _codebook_qdc(
    path: Path, data: bytes, separators: str, problems: list[Problem]
) -> list[_BookTag]:
    """Codes of a REFI-QDA codebook (``.qdc``), parsed by ``safety.parse_xml`` (no DTD)."""
    file = path.name
    try:
        root = parse_xml(data, file)
    except EvidenceError as err:
        problems.extend(err.problems)
        return []
    if _local(root.tag) != "CodeBook":
        problems.append(
            Problem(
                file,
                None,
                None,
                f"<{_local(root.tag)}>",
                "a REFI-QDA codebook (root element <CodeBook>, as Taguette's .qdc export)",
            )
        )
        return []
    out: list[_BookTag] = []

    def walk(elements: Iterable, parent: tuple[str, ...]) -> None:
        for element in elements:
            local = _local(element.tag)
            if local == "Codes":
                walk(list(element), parent)
                continue
            if local != "Code":
                continue
            name = (element.get("name") or "").strip()
            guid = normalize_guid(element.get("guid"))
            if not name:
                problems.append(
                    Problem(file, None, "Code", guid or None, "a <Code> with a name attribute")
                )
                continue
            code_path = parent + split_tag(name, separators)
            if not code_path:
                problems.append(Problem(file, None, "Code", name, "a code name"))
                continue
            codable = (element.get("isCodable") or "true").strip().lower() != "false"
            tag = name if not parent else None
            out.append(
                _BookTag(guid or tag_guid(name), code_path, tag, None, "Code", codable, None)
            )
            walk(list(element), code_path)

    walk(list(root), ())
    return out
