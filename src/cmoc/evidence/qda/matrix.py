r"""Reader for code-by-document count tables exported by QDA programs (CSV or XLSX).

Accepted layouts (details and messages in ``FORMATS.md`` beside this module):

- **NVivo** Matrix Coding Query with cell content "Coding References": row labels ``1 : Code``,
  column labels ``A : Name`` (hierarchical names ``Codes\Parent\Child`` are split);
- **MAXQDA** Code Matrix Browser (number of coded segments): codes by documents, labels
  ``Parent > Child``, a ``SUM`` (or ``Total``) row and column;
- **ATLAS.ti** Code-Document Table (absolute frequencies): totals embedded in the labels
  (``D 1: Interview (Gr=12)``), a ``Totals`` row and column;
- **QualCoder** ``Code_comparisons.xlsx``, sheet ``Counts``: codes (names wrapped every 50
  characters) by files or cases (``Case: Anna`` lines become document attributes).

One cell is the number of coding references of one code in one document. The orientation (codes
as rows or columns) is detected from the labels unless given; label prefixes and embedded totals
are stripped; total rows and columns are dropped (and checked against the cells when they can
be). Percentages, fractions and Yes/No (presence) cells are refused with a message naming the
export setting to change. A code co-occurrence table (codes on both axes: ATLAS.ti's Code
Co-occurrence Table, MAXQDA's Code Relations Browser) is refused as such: by its sheet name or
title, by cells holding a count and a c-coefficient (``12 (0.25)``), or by rows and columns
sharing their labels. ATLAS.ti's ``Category: subcode`` labels are read as code paths when the
category is itself a code of the table (or ``mechanism``/``cmoc``). XLSX files are read with
openpyxl (read-only, cached values only: formulas are never evaluated; a formula cell counts with
the value the spreadsheet program last stored, and is refused when none is stored), after the
archive is checked by
:mod:`cmoc.evidence.qda.safety`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..problems import Problem
from .model import QdaCode, QdaDocument, QdaProject, unknown_options
from .safety import DEFAULT_LIMITS, QdaImportError, open_archive, read_member, read_small_file

__all__ = [
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "ORIENTATIONS",
    "check_workbook",
    "read",
    "sheet_values",
    "split_code_label",
    "split_colon_label",
]

#: Largest sheet read: rows, columns and cells (a larger one is refused, not truncated).
MAX_ROWS = 100_000
MAX_COLUMNS = 16_384
MAX_CELLS = 2_000_000

ORIENTATIONS = ("auto", "codes-rows", "codes-columns")

_TOTALS = {
    "total",
    "totals",
    "total:",
    "totals:",
    "grand total",
    "sum",
    "summe",
    "gesamt",
    "σ",
    "∑",
}
_EMBEDDED_TOTAL = re.compile(r"\s*[(\[]?\s*\b(?:Gr|GS|Gs|Den|Dens)\s*=\s*\d+\s*[)\]]?\s*;?")
_PREFIXES = (
    ("NVivo row number", re.compile(r"^\d+\s*:\s+")),
    ("NVivo column letter", re.compile(r"^[A-Z]{1,3}\s*:\s+")),
    ("ATLAS.ti document number", re.compile(r"^D\s?\d+\s*:\s*")),
)
_BULLETS = "●○◆◇•▪■□◦‣"
_ROOTS = {"codes", "nodes", "code system", "codesystem"}
_CODE_SEPARATORS = re.compile(r"\s+>\s+|\\|::")
_DOC_HINT = re.compile(
    r"\.(?:txt|docx?|pdf|rtf|odt|html?|mp3|mp4|wav|m4a|jpe?g|png|xlsx?|csv)$|^D\s?\d+\s*:",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"^[+-]?\d+(?:[.,]\d+)?\s*%$")
_NUMERIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_YES_NO = {
    "yes",
    "no",
    "ja",
    "nein",
    "oui",
    "non",
    "sí",
    "si",
    "true",
    "false",
    "wahr",
    "falsch",
    "present",
    "absent",
    "x",
    "✓",
    "✔",
    "✗",
    "■",
    "□",
    "●",
    "○",
}
_NVIVO_CONTENT = re.compile(
    r"(sources coded|files coded|cases coded|coding presence|words coded|paragraphs coded|"
    r"duration coded|row percentage|column percentage|percentage coverage)",
    re.IGNORECASE,
)

_SETTINGS = {
    "NVivo": (
        "in NVivo set the matrix's Cell Content to 'Coding References' (Matrix tab > Cell "
        "Content) before exporting: 'Coding Presence' gives Yes/No, 'Row/Column Percentage' "
        "gives percentages and 'Files/Sources Coded' counts documents, not references"
    ),
    "MAXQDA": (
        "in MAXQDA's Code Matrix Browser show the number of coded segments (not symbols, row "
        "or column percentages) and untick 'Count hits only once per document' before exporting"
    ),
    "ATLAS.ti": (
        "in ATLAS.ti's Code-Document Table show absolute frequencies of quotations (not row-, "
        "column- or table-relative frequencies) before exporting"
    ),
    "QualCoder": (
        "QualCoder's Code_comparisons.xlsx holds counts: export it again rather than a copy "
        "re-computed in a spreadsheet"
    ),
}


_COOCCURRENCE = re.compile(
    r"co-?occurr?ence|\bco-?oc\b|\bcooc\b|code relations browser|kookkurrenz",
    re.IGNORECASE,
)
_C_COEFFICIENT = re.compile(r"^\s*\d+\s*(?:\(\s*[01](?:[.,]\d+)?\s*\)|\n\s*[01][.,]\d+)\s*$")
_CODE_BY_DOCUMENT = "a code-by-document table of coding references"
_COOC_TABLE = "this is a code co-occurrence table (codes on both axes)"
_COOC_ADVICE = (
    "export a Code-Document table instead (ATLAS.ti: Code-Document Table with absolute "
    "frequencies; MAXQDA: Code Matrix Browser, not the Code Relations Browser; NVivo: a Matrix "
    "Coding Query of codes by files or cases)"
)
_CONVENTION_WORDS = {"mechanism", "mechanisms", "cmoc", "cmocs"}
_COLON_LEVEL = re.compile(r"(?<!:):\s+")


def split_colon_label(name: str, categories: set[str]) -> tuple[str, ...]:
    """Read ATLAS.ti's ``Category: subcode`` label as a path when the category is a code.

    The name is cut at each ``: `` (a colon and a space; ``::`` is another separator, and
    ``10:30`` has no space) as long as the text before the cut is itself a code label of the
    table (ATLAS.ti lists a category code beside its subcodes) or, for the first cut, one of
    the naming convention's words (``mechanism``, ``cmoc``, plural too). Otherwise the name
    stays one level, so ``Quote: "we trust them"`` is kept whole.

    Parameters
    ----------
    name : str
        A cleaned code label with no other level separator.
    categories : set of str
        The code labels of the table, stripped and case-folded.

    Returns
    -------
    tuple of str
        The levels (one when nothing is cut).
    """
    parts = _COLON_LEVEL.split(name)
    levels: list[str] = []
    taken = 0
    for i in range(1, len(parts)):
        prefix = ": ".join(p.strip() for p in parts[:i]).casefold()
        head = parts[i - 1].strip()
        if prefix in categories or (i == 1 and head.casefold() in _CONVENTION_WORDS):
            levels.append(head)
            taken = i
        else:
            break
    if not taken:
        return (name,)
    rest = ": ".join(p.strip() for p in parts[taken:])
    return tuple(p for p in (*levels, rest) if p)


def _axis_keys(labels: list[_Label]) -> dict[str, str]:
    """Return the label names of an axis read as code paths (folded) -> the cleaned name."""
    out: dict[str, str] = {}
    for lb in labels:
        if lb.total:
            continue
        path = split_code_label(lb.name)
        if path:
            out.setdefault("/".join(p.casefold() for p in path), lb.name)
    return out


def _refuse_code_by_code(
    file: str, header_line: int, first_col: int, rows: list[_Label], cols: list[_Label]
) -> None:
    """Refuse a table whose rows and columns are the same codes (a co-occurrence table).

    Half or more of the labels of the shorter axis (at least two, or all of a one-label axis)
    also label the other axis: documents and codes do not share names, codes of a
    co-occurrence table do.
    """
    row_keys, col_keys = _axis_keys(rows), _axis_keys(cols)
    shared = [k for k in row_keys if k in col_keys]
    shorter = min(len(row_keys), len(col_keys))
    if not shared or not (len(shared) >= 2 or shorter == 1) or 2 * len(shared) < shorter:
        return
    names = ", ".join(repr(row_keys[k]) for k in shared[:3]) + (", ..." if len(shared) > 3 else "")
    raise QdaImportError(
        [
            Problem(
                file,
                header_line,
                None,
                None,
                f"{_CODE_BY_DOCUMENT}: {_COOC_TABLE}: {len(shared)} of the {len(row_keys)} row "
                f"label(s) are also column labels ({names}): {_COOC_ADVICE}",
            )
        ]
    )


def _setting(program: str | None) -> str:
    if program in _SETTINGS:
        return _SETTINGS[program]
    return "; ".join(_SETTINGS[p] for p in ("NVivo", "MAXQDA", "ATLAS.ti"))


def split_code_label(label: str) -> tuple[str, ...]:
    r"""Code path of a cleaned code label: ``Parent > Child``, ``Parent\Child`` or ``A::B``.

    A leading ``Codes``, ``Nodes`` or ``Code System`` level (NVivo's and MAXQDA's root) is
    dropped.

    Parameters
    ----------
    label : str
        The label, prefixes and embedded totals already stripped.

    Returns
    -------
    tuple of str
        The levels, stripped, empty levels dropped.
    """
    parts = tuple(p.strip() for p in _CODE_SEPARATORS.split(label) if p.strip())
    if len(parts) > 1 and parts[0].lower() in _ROOTS:
        parts = parts[1:]
    return parts


def read(
    path: Path,
    *,
    orientation: str = "auto",
    sheet: str | None = None,
    **options: object,
) -> QdaProject:
    """Read a code-by-document matrix of coding references (CSV or XLSX).

    Parameters
    ----------
    path : Path
        The export: ``.xlsx``/``.xlsm`` (read with openpyxl, read-only) or CSV/TSV text
        (UTF-8 with or without a byte-order mark, or UTF-16 with one; separated by ``,``,
        ``;`` or tabs, detected).
    orientation : {"auto", "codes-rows", "codes-columns"}
        Where the codes are; ``auto`` decides from the labels (codes as rows when nothing tells,
        the default of all four programs).
    sheet : str, optional
        Sheet of an XLSX workbook; by default ``Counts`` when there is one (QualCoder), else the
        only or first sheet.
    **options
        No other options are accepted: any (unless None) is reported as a problem.

    Returns
    -------
    QdaProject
        Format ``matrix``; documents and codes in table order (keys: document names and code
        paths joined with ``/``); counts of the non-zero cells; notes on what was stripped,
        dropped or assumed.

    Raises
    ------
    QdaImportError
        A missing, oversized or unsafe file; a sheet that is not a count matrix; percentage,
        fraction or Yes/No cells (the message names the export setting to use); other bad cells,
        each with file (and sheet), line, column, value and what was expected.
    """
    path = Path(path)
    problems: list[Problem] = unknown_options(
        path, options, "only the options orientation= and sheet= for a matrix import"
    )
    if orientation not in ORIENTATIONS:
        problems.append(
            Problem(
                path.name,
                None,
                "orientation",
                str(orientation),
                "one of " + ", ".join(ORIENTATIONS),
            )
        )
    is_xlsx = path.suffix.lower() in (".xlsx", ".xlsm")
    if sheet is not None and not is_xlsx:
        problems.append(
            Problem(path.name, None, "sheet", sheet, "no sheet= for a CSV file (only for XLSX)")
        )
    if problems:
        raise QdaImportError(problems)
    grid = _load_xlsx(path, sheet) if is_xlsx else _load_csv(path)
    return _interpret(grid, orientation)


# --------------------------------------------------------------------------------- loading


@dataclass
class _Grid:
    file: str
    rows: list[tuple[int, list[object]]]
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)
    percent_format: set[tuple[int, int]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    sheet: str | None = None


def _letter(col: int) -> str:
    """Spreadsheet column letter of a 0-based column index."""
    out = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as err:
            raise QdaImportError(
                [
                    Problem(
                        path.name,
                        None,
                        None,
                        None,
                        f"UTF-16 text as its byte-order mark says ({err})",
                    )
                ]
            ) from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise QdaImportError(
            [
                Problem(
                    path.name,
                    line,
                    None,
                    repr(data[err.start : err.start + 4])[2:-1],
                    "UTF-8 text (or UTF-16 with a byte-order mark): export the matrix again as "
                    "Unicode/UTF-8 CSV, or as XLSX",
                )
            ]
        ) from err


def _delimiter(text: str) -> str:
    """Return the separator that splits the first lines into the most consistent table."""
    sample = "\n".join(text.splitlines()[:30])
    best, best_score = ",", (-1, -1)
    for delim in (",", ";", "\t"):
        try:
            rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delim))
        except csv.Error:
            continue
        widths = [len(r) for r in rows if any(c.strip() for c in r)]
        if not widths:
            continue
        modal = max(set(widths), key=widths.count)
        score = (widths.count(modal) if modal > 1 else 0, modal)
        if score > best_score:
            best, best_score = delim, score
    return best


def _load_csv(path: Path) -> _Grid:
    text = _decode(path, read_small_file(path))
    delim = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    rows: list[tuple[int, list[object]]] = []
    last = 0
    cells = 0
    try:
        for record in reader:
            rows.append((last + 1, list(record)))
            last = reader.line_num
            cells += len(record)
            if len(rows) > MAX_ROWS or len(record) > MAX_COLUMNS or cells > MAX_CELLS:
                raise QdaImportError(
                    [
                        Problem(
                            path.name,
                            last,
                            None,
                            None,
                            f"a matrix of at most {MAX_ROWS:,} rows, {MAX_COLUMNS:,} columns and "
                            f"{MAX_CELLS:,} cells",
                        )
                    ]
                )
    except csv.Error as err:
        raise QdaImportError(
            [Problem(path.name, reader.line_num, None, None, f"valid CSV ({err})")]
        ) from err
    grid = _Grid(path.name, rows)
    if delim != ",":
        grid.notes.append(f"{path.name}: separated by {'tabs' if delim == chr(9) else repr(delim)}")
    return grid


def check_workbook(path: Path) -> None:
    """Refuse a hostile workbook before openpyxl sees it: zip checks, no DTD in any XML part.

    Parameters
    ----------
    path : Path
        An ``.xlsx`` file.

    Raises
    ------
    QdaImportError
        Not a zip archive, an unsafe archive (:func:`.safety.open_archive`, member sizes and
        ratios checked while reading), or an XML part with ``<!DOCTYPE`` or ``<!ENTITY``.
    """
    label = path.name
    with open_archive(path) as archive:
        problems = []
        for info in archive.infolist():
            if info.is_dir() or not info.filename.lower().endswith((".xml", ".rels", ".vml")):
                continue
            data = read_member(archive, info, label, DEFAULT_LIMITS)
            for marker in (b"<!DOCTYPE", b"<!ENTITY"):
                if marker in data or marker.decode().encode("utf-16-le") in data:
                    problems.append(
                        Problem(
                            f"{label}: member {info.filename!r}",
                            None,
                            None,
                            marker.decode(),
                            "a workbook whose XML has no DTD or entity declarations (refused for "
                            "safety: entity expansion and external files)",
                        )
                    )
                    break
        if problems:
            raise QdaImportError(problems)


def _sheet_rows(ws, label: str) -> list[tuple[int, list[object]]]:
    ws.reset_dimensions()  # never trust the declared dimension: it only pads rows
    rows: list[tuple[int, list[object]]] = []
    cells = 0
    for number, row in enumerate(ws.iter_rows(), start=1):
        rows.append((number, list(row)))
        cells += len(row)
        if number > MAX_ROWS or len(row) > MAX_COLUMNS or cells > MAX_CELLS:
            raise QdaImportError(
                [
                    Problem(
                        label,
                        number,
                        None,
                        None,
                        f"a sheet of at most {MAX_ROWS:,} rows, {MAX_COLUMNS:,} columns and "
                        f"{MAX_CELLS:,} cells",
                    )
                ]
            )
    return rows


def sheet_values(path: Path, sheet: str | None = None) -> tuple[str, list[tuple[int, list]]]:
    """Read the stored values of one sheet of a workbook already checked by :func:`check_workbook`.

    Parameters
    ----------
    path : Path
        The workbook.
    sheet : str, optional
        Sheet name; by default the first sheet.

    Returns
    -------
    tuple
        The sheet's name and its rows as ``(row number, [values])`` (openpyxl read-only,
        ``data_only``: formulas give the result last stored, or None), at most
        :data:`MAX_ROWS` rows, :data:`MAX_COLUMNS` columns and :data:`MAX_CELLS` cells.

    Raises
    ------
    QdaImportError
        An unreadable workbook, an unknown sheet or an oversized sheet.
    """
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as err:  # openpyxl raises many kinds on a damaged workbook
        raise QdaImportError(
            [Problem(path.name, None, None, None, f"a readable XLSX workbook ({err})")]
        ) from err
    try:
        names = book.sheetnames
        chosen = names[0] if sheet is None else sheet
        if chosen not in names:
            raise QdaImportError(
                [
                    Problem(
                        path.name,
                        None,
                        "sheet",
                        sheet,
                        "one of the workbook's sheets: " + ", ".join(repr(n) for n in names),
                    )
                ]
            )
        rows = _sheet_rows(book[chosen], f"{path.name}[{chosen}]")
    finally:
        book.close()
    return chosen, [(n, [getattr(c, "value", None) for c in cells]) for n, cells in rows]


def _load_xlsx(path: Path, sheet: str | None) -> _Grid:
    import openpyxl

    check_workbook(path)
    notes: list[str] = []

    def open_book(data_only: bool):
        try:
            return openpyxl.load_workbook(
                path, read_only=True, data_only=data_only, keep_links=False
            )
        except Exception as err:  # openpyxl raises many kinds on a damaged workbook
            raise QdaImportError(
                [Problem(path.name, None, None, None, f"a readable XLSX workbook ({err})")]
            ) from err

    values_book = open_book(True)
    formulas_book = open_book(False)
    try:
        names = values_book.sheetnames
        if sheet is None:
            chosen = "Counts" if "Counts" in names else names[0]
            others = [n for n in names if n != chosen]
            if others:
                notes.append(
                    f"{path.name}: read sheet {chosen!r}; other sheets not read: "
                    + ", ".join(repr(n) for n in others)
                    + " (choose one with sheet=)"
                )
        elif sheet in names:
            chosen = sheet
        else:
            raise QdaImportError(
                [
                    Problem(
                        path.name,
                        None,
                        "sheet",
                        sheet,
                        "one of the workbook's sheets: " + ", ".join(repr(n) for n in names),
                    )
                ]
            )
        label = f"{path.name}[{chosen}]"
        value_rows = _sheet_rows(values_book[chosen], label)
        formula_rows = _sheet_rows(formulas_book[chosen], label)
    finally:
        values_book.close()
        formulas_book.close()
    grid = _Grid(label, [], notes=notes, sheet=chosen)
    for (number, cells), (_n, fcells) in zip(value_rows, formula_rows, strict=False):
        values: list[object] = []
        for col, cell in enumerate(cells):
            value = getattr(cell, "value", None)
            values.append(value)
            fmt = getattr(cell, "number_format", None) or ""
            if isinstance(value, int | float) and "%" in fmt:
                grid.percent_format.add((number, col))
        for col, fcell in enumerate(fcells):
            fvalue = getattr(fcell, "value", None)
            if getattr(fcell, "data_type", None) == "f" or (
                isinstance(fvalue, str) and fvalue.startswith("=")
            ):
                grid.formulas[(number, col)] = str(fvalue)
        grid.rows.append((number, values))
    return grid


# --------------------------------------------------------------------------------- labels


@dataclass
class _Label:
    index: int  # row number (line) or 0-based column index
    raw: str
    name: str
    attributes: dict[str, str]
    total: bool
    embedded: bool


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clean(index: int, raw: str) -> _Label:
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    chunks = text.split("\n")
    attributes: dict[str, str] = {}
    if len(chunks) > 1 and all(len(c) == 50 for c in chunks[:-1]):
        text = "".join(chunks)  # QualCoder wraps names every 50 characters
        chunks = [text]
    stripped = _EMBEDDED_TOTAL.sub(" ", text)
    embedded = stripped != text
    lines = [ln.strip() for ln in stripped.split("\n") if ln.strip()]
    if len(lines) > 1 and all(re.match(r"^[^:\n]{1,60}:\s*\S", ln) for ln in lines[:-1]):
        for ln in lines[:-1]:
            key, _, value = ln.partition(":")
            attributes[key.strip()] = value.strip()
        name = lines[-1]
    else:
        name = " ".join(lines)
    name = name.lstrip(_BULLETS).strip()
    total = name.lower() in _TOTALS
    return _Label(index, raw, name, attributes, total, embedded)


def _strip_prefixes(labels: list[_Label], axis: str, notes: list[str], file: str) -> None:
    named = [lb for lb in labels if not lb.total]
    if not named:
        return
    for what, pattern in _PREFIXES:
        if all(pattern.match(lb.name) for lb in named):
            for lb in named:
                lb.name = pattern.sub("", lb.name, count=1).strip()
            notes.append(f"{file}: stripped the {what} prefix of every {axis} label")
            return


def _program(grid: _Grid, corner: str, rows: list[_Label], cols: list[_Label]) -> str | None:
    raws = [lb.raw for lb in rows + cols]
    if grid.sheet == "Counts":
        return "QualCoder"
    if any(re.match(r"^\d+\s*:\s+", r) for r in raws) and any(
        re.match(r"^[A-Z]{1,3}\s*:\s+", r) for r in raws
    ):
        return "NVivo"
    if any(lb.embedded for lb in rows + cols) or any(
        lb.name.lower() == "totals" for lb in rows + cols
    ):
        return "ATLAS.ti"
    if (
        " > " in " ".join(raws)
        or corner.lower() in ("code system", "codesystem")
        or any(lb.name.lower() in ("sum", "summe", "σ", "∑") for lb in rows + cols)
    ):
        return "MAXQDA"
    return None


# --------------------------------------------------------------------------------- cells


@dataclass
class _Cell:
    line: int
    col: int
    value: object
    formula: str | None
    raw: str


def _number(value: object) -> object:
    """Return a cell's number: numeric text (``3``, ``12.5``, ``12,5``) becomes an int or float."""
    if isinstance(value, str) and _NUMERIC.match(value.strip()):
        number = float(value.strip().replace(",", "."))
        return int(number) if number.is_integer() else number
    return value


def _empty(v: object) -> bool:
    """Whether a cell is blank (None, or text of white space only)."""
    return v is None or (isinstance(v, str) and not v.strip())


@dataclass
class _Sheet:
    """The matrix part of a sheet: its rows from the header on, shifted to the first column."""

    file: str
    preamble: list[str]
    body: list[tuple[int, list[object]]]
    first_col: int

    @property
    def header_line(self) -> int:
        return self.body[0][0]

    @property
    def header(self) -> list[object]:
        return self.body[0][1]

    @property
    def corner(self) -> str:
        return _text(self.header[0]).strip() if self.header else ""


def _interpret(grid: _Grid, orientation: str) -> QdaProject:
    """Read a grid of cells as a code-by-document matrix (the steps below, in order)."""
    file = grid.file
    notes = list(grid.notes)
    sheet = _matrix_part(grid)
    _refuse_other_tables(grid, sheet)
    col_labels, row_labels = _labels(sheet)
    program = _program(grid, sheet.corner, row_labels, col_labels)
    _strip_prefixes(row_labels, "row", notes, file)
    _strip_prefixes(col_labels, "column", notes, file)
    for lb in row_labels + col_labels:
        if lb.embedded and not lb.total:
            notes.append(f"{file}: label {lb.raw!r}: embedded total stripped (read as {lb.name!r})")
            break
    _refuse_code_by_code(file, sheet.header_line, sheet.first_col, row_labels, col_labels)
    if orientation == "auto":
        orientation = _detect_orientation(sheet, row_labels, col_labels, notes)
    cells = _cells(grid, sheet, row_labels, col_labels)
    _refuse_coefficients(file, cells)
    _refuse_non_counts(grid, cells, program)
    counts_at = _cell_counts(file, cells, row_labels, col_labels, notes)
    kept_rows, kept_cols = _drop_totals(sheet, row_labels, col_labels, counts_at, notes)
    rows_are_codes = orientation == "codes-rows"
    code_labels, doc_labels = (kept_rows, kept_cols) if rows_are_codes else (kept_cols, kept_rows)
    problems: list[Problem] = []
    codes, code_key = _codes(sheet, code_labels, rows_are_codes, problems, notes)
    documents, doc_key = _documents(sheet, doc_labels, not rows_are_codes, problems)
    if problems:
        raise QdaImportError(problems)
    counts: dict[tuple[str, str], int] = {}
    for (ri, ci), n in counts_at.items():
        if not n:
            continue
        code, doc = (
            (code_key.get(ri), doc_key.get(ci))
            if rows_are_codes
            else (code_key.get(ci), doc_key.get(ri))
        )
        if code is not None and doc is not None:
            counts[(doc, code)] = n
    values = list(counts_at.values())
    if values and max(values) <= 1 and program in ("NVivo", "MAXQDA", None) and len(values) > 3:
        notes.append(
            f"{file}: every cell is 0 or 1: if the export counted documents or presence rather "
            f"than coding references, export again ({_setting(program)})"
        )
    return QdaProject(
        format="matrix",
        documents=tuple(documents),
        codes=tuple(codes),
        counts=counts,
        notes=tuple(notes),
    )


def _matrix_part(grid: _Grid) -> _Sheet:
    """Drop the preamble (leading title rows) and the empty leading columns of a grid."""
    rows = [
        (n, [_text(v).strip() if not isinstance(v, int | float | bool) else v for v in cells])
        for n, cells in grid.rows
    ]
    # preamble: leading rows whose only text is in the first column (titles)
    preamble: list[str] = []
    start = 0
    while start < len(rows):
        cells = rows[start][1]
        if any(not _empty(v) for v in cells[1:]):
            break
        if cells and not _empty(cells[0]):
            preamble.append(str(cells[0]))
        start += 1
    if start >= len(rows):
        raise QdaImportError(
            [
                Problem(
                    grid.file,
                    None,
                    None,
                    None,
                    "a matrix: a header row of document (or code) labels "
                    "and one row per code (or document); this sheet has none",
                )
            ]
        )
    body = rows[start:]
    first_col = min(
        (next((i for i, v in enumerate(cells) if not _empty(v)), 10**9) for _n, cells in body),
        default=0,
    )
    if first_col:
        body = [(n, cells[first_col:]) for n, cells in body]
    return _Sheet(grid.file, preamble, body, first_col)


def _refuse_other_tables(grid: _Grid, sheet: _Sheet) -> None:
    """Refuse an NVivo matrix of other content, or a co-occurrence table named as such."""
    file, header_line = sheet.file, sheet.header_line
    context = " ".join([*sheet.preamble, sheet.corner])
    hint = _NVIVO_CONTENT.search(context)
    if hint:
        raise QdaImportError(
            [
                Problem(
                    file,
                    header_line,
                    None,
                    hint.group(1),
                    "a matrix of coding references (this one shows "
                    f"{hint.group(1).lower()}): {_SETTINGS['NVivo']}",
                )
            ]
        )
    said = _COOCCURRENCE.search(" ".join([grid.sheet or "", context]))
    if said:
        raise QdaImportError(
            [
                Problem(
                    file,
                    header_line if not grid.sheet or not _COOCCURRENCE.search(grid.sheet) else None,
                    None,
                    said.group(0),
                    f"{_CODE_BY_DOCUMENT}: {_COOC_TABLE}, as its sheet name or title says: "
                    f"{_COOC_ADVICE}",
                )
            ]
        )


def _labels(sheet: _Sheet) -> tuple[list[_Label], list[_Label]]:
    """Return the column and row labels; refuse unlabelled data and cells beyond the header."""
    file, body, header, first_col = sheet.file, sheet.body, sheet.header, sheet.first_col
    header_line = sheet.header_line
    problems: list[Problem] = []
    col_labels: list[_Label] = []
    for col in range(1, len(header)):
        raw = _text(header[col]).strip()
        has_data = any(col < len(cells) and not _empty(cells[col]) for _n, cells in body[1:])
        if not raw:
            if has_data:
                problems.append(
                    Problem(
                        file,
                        header_line,
                        _letter(col + first_col),
                        None,
                        "a label in the header row for this column of numbers",
                    )
                )
            continue
        col_labels.append(_clean(col, raw))
    row_labels: list[_Label] = []
    for line, cells in body[1:]:
        if all(_empty(v) for v in cells):
            continue
        raw = _text(cells[0]).strip() if cells else ""
        if not raw:
            problems.append(
                Problem(
                    file,
                    line,
                    _letter(first_col),
                    None,
                    "a label in the first column for this row of numbers",
                )
            )
            continue
        row_labels.append(_clean(line, raw))
    extra = max((len(c) for _n, c in body[1:]), default=0) - len(header)
    if extra > 0:
        for line, cells in body[1:]:
            for col in range(len(header), len(cells)):
                if not _empty(cells[col]):
                    problems.append(
                        Problem(
                            file,
                            line,
                            _letter(col + first_col),
                            _text(cells[col]),
                            "a cell under a labelled column (this column has no header label)",
                        )
                    )
                    break
    if problems:
        raise QdaImportError(problems)
    if not col_labels or not [lb for lb in row_labels if not lb.total]:
        raise QdaImportError(
            [
                Problem(
                    file,
                    header_line,
                    None,
                    None,
                    "a matrix with at least one labelled row and one labelled column of counts",
                )
            ]
        )
    return col_labels, row_labels


def _detect_orientation(
    sheet: _Sheet, row_labels: list[_Label], col_labels: list[_Label], notes: list[str]
) -> str:
    """Say which axis holds the codes, from the corner cell and the labels (noted)."""

    def code_like(labels: list[_Label]) -> int:
        return sum(1 for lb in labels if not lb.total and _CODE_SEPARATORS.search(lb.name))

    def doc_like(labels: list[_Label]) -> int:
        return sum(
            1
            for lb in labels
            if not lb.total and (_DOC_HINT.search(lb.raw.strip()) or lb.attributes)
        )

    rows_are_codes = code_like(row_labels) + doc_like(col_labels)
    cols_are_codes = code_like(col_labels) + doc_like(row_labels)
    if sheet.corner.lower() in ("code system", "codesystem", "codes", "nodes", "code"):
        # the corner names the row axis (MAXQDA writes "Code System"): decisive
        orientation = "codes-rows"
    elif cols_are_codes > rows_are_codes:
        orientation = "codes-columns"
    else:
        orientation = "codes-rows"
        if rows_are_codes == 0:
            notes.append(
                f"{sheet.file}: the labels do not show which axis holds the codes: read codes as "
                "rows (the default of NVivo, MAXQDA, ATLAS.ti and QualCoder); give "
                "orientation='codes-columns' if they are columns"
            )
    notes.append(f"{sheet.file}: orientation detected: {orientation}")
    return orientation


def _cells(
    grid: _Grid, sheet: _Sheet, row_labels: list[_Label], col_labels: list[_Label]
) -> dict[tuple[int, int], _Cell]:
    """Return the cell of every labelled row and column, keyed by (line, label column)."""
    index_of_line = dict(sheet.body)
    cells: dict[tuple[int, int], _Cell] = {}
    for rl in row_labels:
        values = index_of_line[rl.index]
        for cl in col_labels:
            value = values[cl.index] if cl.index < len(values) else None
            col = cl.index + sheet.first_col
            cells[(rl.index, cl.index)] = _Cell(
                rl.index, col, _number(value), grid.formulas.get((rl.index, col)), _text(value)
            )
    return cells


def _where(cell: _Cell) -> tuple[int, str]:
    """Return a cell's line and column letter."""
    return cell.line, _letter(cell.col)


def _refuse_coefficients(file: str, cells: dict[tuple[int, int], _Cell]) -> None:
    """Refuse ATLAS.ti's co-occurrence cells: a count with its c-coefficient, "12 (0.25)"."""
    coefficient = [
        c for c in cells.values() if isinstance(c.value, str) and _C_COEFFICIENT.match(c.value)
    ]
    if coefficient:
        first = min(coefficient, key=lambda c: (c.line, c.col))
        line, col = _where(first)
        more = f", and {len(coefficient) - 1} other cell(s)" if len(coefficient) > 1 else ""
        raise QdaImportError(
            [
                Problem(
                    file,
                    line,
                    col,
                    first.raw,
                    f"{_CODE_BY_DOCUMENT}: {_COOC_TABLE}, whose cells hold a count and its "
                    f"c-coefficient (this one{more}): {_COOC_ADVICE}",
                )
            ]
        )


def _refuse_non_counts(
    grid: _Grid, cells: dict[tuple[int, int], _Cell], program: str | None
) -> None:
    """Refuse a matrix of percentages, fractions or Yes/No, naming the export setting."""
    percent = [
        c
        for c in cells.values()
        if (isinstance(c.value, str) and _PERCENT.match(c.value.strip()))
        or (c.line, c.col) in grid.percent_format
    ]
    yes_no = [
        c
        for c in cells.values()
        if isinstance(c.value, bool)
        or (isinstance(c.value, str) and c.value.strip().lower() in _YES_NO)
    ]
    numbers = [
        c
        for c in cells.values()
        if isinstance(c.value, int | float) and not isinstance(c.value, bool)
    ]
    fractions = [c for c in numbers if not float(c.value).is_integer()]
    if not percent and fractions and all(0 <= float(c.value) <= 1 for c in numbers):
        percent = fractions
    if not (percent or yes_no):
        return
    out = []
    for group, what in ((percent, "percentages or fractions"), (yes_no, "Yes/No (presence)")):
        if group:
            first = min(group, key=lambda c: (c.line, c.col))
            line, col = _where(first)
            more = f" and in {len(group) - 1} other cell(s)" if len(group) > 1 else ""
            out.append(
                Problem(
                    grid.file,
                    line,
                    col,
                    first.raw,
                    f"counts of coding references, not {what} (found here{more}): "
                    + _setting(program),
                )
            )
    raise QdaImportError(out)


def _cell_counts(
    file: str,
    cells: dict[tuple[int, int], _Cell],
    row_labels: list[_Label],
    col_labels: list[_Label],
    notes: list[str],
) -> dict[tuple[int, int], int]:
    """Return every cell's count (totals only where they are plain counts); refuse bad cells."""
    problems: list[Problem] = []
    counts_at: dict[tuple[int, int], int] = {}
    bad = 0
    total_rows = {lb.index for lb in row_labels if lb.total}
    total_cols = {lb.index for lb in col_labels if lb.total}
    for (ri, ci), cell in cells.items():
        value = cell.value
        line, col = _where(cell)
        if ri in total_rows or ci in total_cols:
            # dropped: only compared with the cells, and only when it is a plain count
            if isinstance(value, int | float) and float(value).is_integer() and value >= 0:
                counts_at[(ri, ci)] = int(value)
            elif _empty(value) and cell.formula is None:
                counts_at[(ri, ci)] = 0
            continue
        if cell.formula is not None:
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append(
                    Problem(
                        file,
                        line,
                        col,
                        cell.formula,
                        "a number (the cell holds a formula with no stored result; formulas "
                        "are not evaluated: open and save the file in the spreadsheet "
                        "program, or export the matrix again)",
                    )
                )
                continue
            notes.append(
                f"{file}:{line}: cell {col}{line} holds the formula {cell.formula!r}: not "
                f"evaluated; its stored value {_text(value)!r} is used"
            )
        if _empty(value):
            n = 0
        elif isinstance(value, int | float) and float(value).is_integer() and value >= 0:
            n = int(value)
        else:
            bad += 1
            if bad <= 20:
                problems.append(
                    Problem(
                        file,
                        line,
                        col,
                        cell.raw,
                        "a whole number >= 0 of coding references (or an empty cell for 0)",
                    )
                )
            continue
        counts_at[(ri, ci)] = n
    if bad > 20:
        problems.append(
            Problem(file, None, None, None, f"whole numbers: {bad - 20} more bad cells")
        )
    if problems:
        raise QdaImportError(problems)
    return counts_at


def _drop_totals(
    sheet: _Sheet,
    row_labels: list[_Label],
    col_labels: list[_Label],
    counts_at: dict[tuple[int, int], int],
    notes: list[str],
) -> tuple[list[_Label], list[_Label]]:
    """Drop the total rows and columns, noting where they differ from the cells' sums."""
    file = sheet.file
    kept_rows = [lb for lb in row_labels if not lb.total]
    kept_cols = [lb for lb in col_labels if not lb.total]
    for lb in row_labels:
        if lb.total:
            notes.append(f"{file}:{lb.index}: total row {lb.raw!r} dropped")
            off = [
                cl.raw
                for cl in kept_cols
                if (lb.index, cl.index) in counts_at
                and counts_at[(lb.index, cl.index)]
                != sum(counts_at[(r.index, cl.index)] for r in kept_rows)
            ]
            if off:
                notes.append(
                    f"{file}:{lb.index}: total row {lb.raw!r} differs from the sum of the rows "
                    f"in column(s) {', '.join(repr(o) for o in off[:5])} (hidden or filtered rows?)"
                )
    for lb in col_labels:
        if lb.total:
            notes.append(
                f"{file}: total column {_letter(lb.index + sheet.first_col)} {lb.raw!r} dropped"
            )
            off = [
                rl.raw
                for rl in kept_rows
                if (rl.index, lb.index) in counts_at
                and counts_at[(rl.index, lb.index)]
                != sum(counts_at[(rl.index, c.index)] for c in kept_cols)
            ]
            if off:
                notes.append(
                    f"{file}: total column {lb.raw!r} differs from the sum of the columns in "
                    f"row(s) {', '.join(repr(o) for o in off[:5])} (hidden or filtered columns?)"
                )
    return kept_rows, kept_cols


def _place(sheet: _Sheet, lb: _Label, axis_is_rows: bool) -> tuple[int | None, str]:
    """Where a label stands: its row's first cell, or its column's header cell."""
    if axis_is_rows:
        return lb.index, _letter(sheet.first_col)
    return sheet.header_line, _letter(lb.index + sheet.first_col)


def _codes(
    sheet: _Sheet,
    code_labels: list[_Label],
    axis_is_rows: bool,
    problems: list[Problem],
    notes: list[str],
) -> tuple[list[QdaCode], dict[int, str]]:
    """Return the codes (paths split from the labels) and each label index's code key."""
    file = sheet.file
    codes: list[QdaCode] = []
    code_key: dict[int, str] = {}
    seen_codes: dict[str, _Label] = {}
    roots = 0
    categories = {lb.name.strip().casefold() for lb in code_labels}
    colon_split: list[str] = []
    for lb in code_labels:
        code_path = split_code_label(lb.name)
        if len(code_path) < len(tuple(p for p in _CODE_SEPARATORS.split(lb.name) if p.strip())):
            roots += 1
        if len(code_path) == 1:
            levels = split_colon_label(code_path[0], categories)
            if len(levels) > 1:
                colon_split.append(f"{lb.name!r} as {'/'.join(levels)!r}")
                code_path = levels
        line, col = _place(sheet, lb, axis_is_rows)
        if not code_path:
            problems.append(Problem(file, line, col, lb.raw, "a code name"))
            continue
        key = "/".join(code_path)
        if key in seen_codes:
            problems.append(
                Problem(
                    file,
                    line,
                    col,
                    lb.raw,
                    f"each code once (the same code as {seen_codes[key].raw!r})",
                )
            )
            continue
        seen_codes[key] = lb
        code_key[lb.index] = key
        codes.append(QdaCode(key, code_path, True))
    if colon_split:
        notes.append(
            f"{file}: read {len(colon_split)} 'Category: subcode' label(s) as code paths (the "
            "category is itself a code of the table, or mechanism/cmoc): "
            + ", ".join(colon_split[:5])
            + (", ..." if len(colon_split) > 5 else "")
        )
    if roots:
        notes.append(
            f"{file}: dropped the root level ('Codes', 'Nodes' or 'Code System') of {roots} "
            "code label(s)"
        )
    return codes, code_key


def _documents(
    sheet: _Sheet, doc_labels: list[_Label], axis_is_rows: bool, problems: list[Problem]
) -> tuple[list[QdaDocument], dict[int, str]]:
    """Return the documents (with their attributes) and each label index's document name."""
    file = sheet.file
    documents: list[QdaDocument] = []
    doc_key: dict[int, str] = {}
    seen_docs: dict[str, _Label] = {}
    for lb in doc_labels:
        line, col = _place(sheet, lb, axis_is_rows)
        if not lb.name:
            problems.append(Problem(file, line, col, lb.raw, "a document name"))
            continue
        if lb.name in seen_docs:
            problems.append(
                Problem(
                    file,
                    line,
                    col,
                    lb.raw,
                    f"each document once (the same name as {seen_docs[lb.name].raw!r}; a "
                    "document shown under several cases or attribute values would count "
                    "twice: export by files)",
                )
            )
            continue
        seen_docs[lb.name] = lb
        doc_key[lb.index] = lb.name
        documents.append(QdaDocument(lb.name, lb.name, dict(lb.attributes)))
    return documents, doc_key
