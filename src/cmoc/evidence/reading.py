"""Reading the files of an evidence base into validated rows, collecting every problem."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .problems import Problem
from .schema import COUNT_MAX, YEAR_MAX, EvidenceConfig, TableSpec

__all__ = ["read_config", "read_table"]

_EXPECT = {
    "sign": "'+' or '-'",
    "origin": "'prior' or 'novel' (empty means prior)",
    "stance": "'supports' or 'refutes'",
    "basis": "'reported' or 'inferred' (or empty)",
    "count": (
        f"a whole number >= 0 in the digits 0-9, at most {COUNT_MAX} (or empty when "
        "count_min/count_max are given)"
    ),
    "count_min": f"a whole number >= 0 in the digits 0-9, at most {COUNT_MAX}",
    "count_max": (
        f"a whole number >= 0 in the digits 0-9, at most {COUNT_MAX}, or empty for unbounded"
    ),
    "weight": (
        "a number in (0, 1] written with the digits 0-9 and '.' (0.8; an appraisal weight), "
        "or empty for 1"
    ),
    "exposure": (
        "a positive number written with the digits 0-9 and '.' (1200, 3.5; the amount of "
        "material), or empty for 1"
    ),
    "year": f"a year: a whole number in the digits 0-9, at most {YEAR_MAX}, or empty",
    "rests_on": "one or more cmoc or mechanism ids separated by ';'",
    # ledger.csv
    "entry": "the entry's number: a whole number >= 1 in the digits 0-9",
    "recorded_at": "an ISO 8601 time (2026-01-31T12:00:00+00:00)",
    "file": "'sources.csv' or 'codings.csv'",
    "rows": "the number of rows: a whole number >= 0 in the digits 0-9",
    "rows_sha256": "a SHA-256 digest (64 characters 0-9, a-f)",
}


def _decode(path: Path, problems: list[Problem]) -> str | None:
    """Read ``path`` as UTF-8 text; on failure record where the first bad byte is."""
    try:
        data = path.read_bytes()
    except OSError as err:  # unreadable (permissions, a broken mount): bad input, not a crash
        problems.append(Problem(path.name, None, None, None, f"a readable file ({err.strerror})"))
        return None
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
                f"UTF-8 text (undecodable byte at character {col}; save the file as UTF-8)",
            )
        )
        return None


def _pydantic_problems(
    file: str, line: int, raw: dict[str, str], err: ValidationError
) -> list[Problem]:
    out = []
    for e in err.errors():
        column = str(e["loc"][0]) if e["loc"] else None
        value = raw.get(column) if column else None
        if column and (value is None or not str(value).strip()) and e["type"] != "extra_forbidden":
            expected = f"a value for {column!r} (the cell is empty)"
        elif column in _EXPECT:
            expected = _EXPECT[column]
        elif e["type"] == "string_pattern_mismatch":
            expected = "an id: no ';' and no leading or trailing spaces"
        else:
            expected = str(e["msg"]).removeprefix("Value error, ")
        out.append(Problem(file, line, column, value, expected))
    return out


def read_table(
    directory: Path, spec: TableSpec, problems: list[Problem]
) -> list[tuple[int, Any]] | None:
    """Read one CSV table of an evidence base.

    Parameters
    ----------
    directory : Path
        The evidence base directory.
    spec : TableSpec
        What the file must hold.
    problems : list of Problem
        Problems found are appended here.

    Returns
    -------
    list of (int, row) or None
        Validated rows with their 1-based line numbers (only the rows that passed), or None when
        the file is absent and optional.
    """
    path = directory / spec.file
    if not path.is_file():
        if spec.needed:
            problems.append(Problem(spec.file, None, None, None, "the file exists (it is missing)"))
        return None
    text = _decode(path, problems)
    if text is None:
        return []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as err:
        problems.append(Problem(spec.file, 1, None, None, f"a CSV header ({err})"))
        return []
    if header is None or not any(h.strip() for h in header):
        problems.append(
            Problem(spec.file, 1, None, None, f"a header row ({', '.join(spec.required)})")
        )
        return []
    header = [h.strip() for h in header]
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        sep = "';'" if ";" in header[0] else "a tab"
        problems.append(
            Problem(
                spec.file,
                1,
                None,
                header[0],
                f"comma-separated columns (this file looks separated by {sep}: save it as CSV "
                "with commas)",
            )
        )
        return []
    bad_header = False
    seen: set[str] = set()
    for pos, name in enumerate(header, start=1):
        if name in seen:
            problems.append(Problem(spec.file, 1, name, name, "each column once (duplicate)"))
            bad_header = True
        seen.add(name)
        if name not in spec.columns:
            problems.append(
                Problem(
                    spec.file,
                    1,
                    name or f"#{pos}",
                    name,
                    f"only the columns {', '.join(spec.columns)} (stray column {pos})",
                )
            )
            bad_header = True
    for name in spec.required:
        if name not in seen:
            problems.append(Problem(spec.file, 1, name, None, "this required column (missing)"))
            bad_header = True
    if bad_header:
        return []
    rows: list[tuple[int, Any]] = []
    last = reader.line_num
    try:
        for raw_cells in reader:
            line, last = last + 1, reader.line_num  # a quoted cell may span lines
            if not any(c.strip() for c in raw_cells):
                continue
            if len(raw_cells) != len(header):
                problems.append(
                    Problem(
                        spec.file,
                        line,
                        None,
                        ",".join(raw_cells),
                        f"{len(header)} fields as in the header (found {len(raw_cells)})",
                    )
                )
                continue
            raw = dict(zip(header, raw_cells, strict=True))
            try:
                rows.append((line, spec.row.model_validate(raw)))
            except ValidationError as err:
                problems.extend(_pydantic_problems(spec.file, line, raw, err))
    except csv.Error as err:
        problems.append(Problem(spec.file, reader.line_num, None, None, f"valid CSV ({err})"))
    if not rows and spec.needed and not any(p.file == spec.file and p.line for p in problems):
        problems.append(Problem(spec.file, 2, None, None, "at least one row (the file is empty)"))
    return rows


def _toml_line(text: str, loc: list[str]) -> int | None:
    """Line of a key in TOML text (best effort, for messages).

    Top-level keys before the first table, others in their table; a nested key is also found
    as a dotted key (``refutes.review = ...``), in a dotted table (``[recording.refutes]``) or
    inside a one-line inline table (``refutes = { review = ... }``). A key not found gives the
    line of the nearest enclosing key or table found, or None.
    """
    section: list[str] = []
    best: tuple[int, int | None] = (0, None)  # (depth of the enclosing key found, its line)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):  # a table header, perhaps followed by a comment
            section = _toml_path(stripped.lstrip("[").partition("]")[0])
            path = section
        else:
            path = section + _toml_path(stripped.split("=")[0])
        if path == loc:
            return number
        if 0 < len(path) < len(loc) and loc[: len(path)] == path:
            inline = re.search(rf"[{{,]\s*[\"']?{re.escape(loc[len(path)])}[\"']?\s*=", stripped)
            if inline and not stripped.startswith("["):
                return number
            if len(path) > best[0]:
                best = (len(path), number)
    return best[1]


def _toml_path(key: str) -> list[str]:
    """Split a dotted TOML key into its parts, quotes removed (``a."b c"`` -> ``["a", "b c"]``)."""
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', key.strip())
    return [p.strip().strip("\"'") for p in parts]


def _item_line(text: str, key: str, item: object) -> int | None:
    """Line of a string item of the top-level array ``key`` (the key's line if not found)."""
    start = _toml_line(text, [key])
    if start is None or not isinstance(item, str):
        return start
    quoted = (f'"{item}"', f"'{item}'")
    for number, line in enumerate(text.splitlines()[start - 1 :], start=start):
        if any(q in line for q in quoted):
            return number
    return start


_TOML_EXPECT = {
    "name": 'a short name for the evidence base (name = "...")',
    "title": 'a title (title = "...")',
    "citation": 'a citation (citation = "...")',
    "format": "the format version, 1 (format = 1)",
    "waves": 'a list of wave labels in order of arrival (waves = ["review", ...])',
    "recording": 'a table [recording] with refutes = { KIND = "recorded", ... }',
    "recording.refutes": (
        'a table of source kinds: refutes = { KIND = "recorded" | "partial" | "not recorded", ... }'
    ),
}


def _toml_expected(e: dict, key: str | None, model: type[BaseModel]) -> str:
    if e["type"] == "missing":
        return f"{_TOML_EXPECT.get(key or '', 'this key')} (missing)"
    if e["type"] == "extra_forbidden":
        loc = [str(x) for x in e["loc"]]
        fields = model.model_fields
        if len(loc) > 1 and loc[0] in fields:
            fields = getattr(fields[loc[0]].annotation, "model_fields", fields)
        return f"only the keys {', '.join(fields)} (unknown key)"
    if key in _TOML_EXPECT and e["type"] != "value_error":
        return _TOML_EXPECT[key]
    return str(e["msg"]).removeprefix("Value error, ")


def read_config(directory: Path, problems: list[Problem]) -> EvidenceConfig | None:
    """Read and validate ``evidence.toml``; append problems and return None on failure."""
    file = "evidence.toml"
    path = directory / file
    if not path.is_file():
        problems.append(Problem(file, None, None, None, "the file exists (it is missing)"))
        return None
    text = _decode(path, problems)
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        at = re.search(r"at line (\d+)", str(err))
        line = getattr(err, "lineno", None) or (int(at[1]) if at else None)
        problems.append(Problem(file, line, None, None, f"valid TOML ({err})"))
        return None
    try:
        return EvidenceConfig.model_validate(data)
    except ValidationError as err:
        for e in err.errors():
            loc = [str(x) for x in e["loc"]]
            key = ".".join(loc) if loc else None
            value = e.get("input")
            shown = None if isinstance(value, dict) or value is None else str(value)
            if e["type"] == "missing":
                shown = None
            if len(loc) == 2 and loc[0] == "waves" and isinstance(e["loc"][1], int):
                # one label of the list: named by its place (1-based) and found on its line
                key = f"waves[{e['loc'][1] + 1}]"
                line = _item_line(text, "waves", value)
                expected = str(e["msg"]).removeprefix("Value error, ")
                if e["type"] != "value_error":
                    expected = f"a wave label in quotes ({expected})"
                problems.append(Problem(file, line, key, shown, expected))
                continue
            line = _toml_line(text, loc) if loc else None
            problems.append(Problem(file, line, key, shown, _toml_expected(e, key, EvidenceConfig)))
        return None
