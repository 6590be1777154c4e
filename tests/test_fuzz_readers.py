"""Property-based fuzz of the evidence readers: whatever the files hold, ``cmoc validate``.

Each example writes the tiny base of ``evidence_fixtures`` (plus a true ``ledger.csv``) into a
fresh parent directory, mutates one or more of its files (a cell, bytes, a truncation, a BOM,
an encoding, a TOML value), runs ``cmoc validate DIR`` through :func:`cmoc.cli.main`, and
checks that the exit status is 0 or 2 (never 1, never an exception), that no traceback or
internal error is printed, and that nothing under the parent directory was created, changed or
removed. Derandomized, so CI runs the same examples every time; for a deeper, random hunt set
``CMOC_FUZZ_EXAMPLES`` (``CMOC_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_readers.py``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.evidence.ledger import ledger_text, record_waves
from evidence_fixtures import BASE_FILES, make_base

_DEEP = os.environ.get("CMOC_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_DEEP or 150),
    deadline=None,
    derandomize=not _DEEP,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

CSV_FILES = [n for n in BASE_FILES if n.endswith(".csv")] + ["ledger.csv"]
ALL_FILES = [*BASE_FILES, "ledger.csv"]


def _ledger() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        base = load_evidence(make_base(Path(tmp)))
        return ledger_text(record_waves(base, recorded_at="2026-01-02T03:04:05+00:00", note="fuzz"))


FILES: dict[str, bytes] = {n: t.encode() for n, t in BASE_FILES.items()} | {
    "ledger.csv": _ledger().encode()
}

# cells that have broken readers before, or might: numbers in every spelling, ids, labels
NASTY = [
    "",
    " ",
    "0",
    "-1",
    "1_0",
    "+5",
    "1e3",
    "1.0",
    "0x10",
    "nan",
    "inf",
    "-inf",
    "99999999999999999999",
    "9" * 5000,
    "1000000000",
    "1000000001",
    "\u0663",
    "\u00b2",
    "review",
    "interviews",
    "case study",
    "case study/Org A",
    "R1",
    "I1",
    "C1",
    "M1",
    "supports",
    "refutes",
    "w/../../../x",
    "..",
    ".hidden",
    "\U0001f389",
    "=cmd|' /C calc'!A0",
    "[/x]",
    "$\\undefined$",
    "a;b",
    '"',
    '""',
    ",",
    "\n",
    "\r",
    "\x00",
    "\x07",
    "\u2028",
    "\ufeff",
    "\ud7ff",
    "a" * 70,
    "2026-01-02T03:04:05+00:00",
    "0" * 64,
]
cell_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _run(files: dict[str, bytes]) -> None:
    """Write the files as a base in a fresh parent, validate, and check the promises."""
    with tempfile.TemporaryDirectory(prefix="cmoc-fuzz-") as tmp:
        parent = Path(tmp)
        base = parent / "base"
        base.mkdir()
        for name, data in files.items():
            (base / name).write_bytes(data)
        (parent / "outside.txt").write_bytes(b"keep me")
        before = _snapshot(parent)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["validate", str(base)])
        text = err.getvalue()
        assert status in (0, 2), text
        assert "Traceback" not in text and "internal error" not in text, text
        if status == 0:
            assert out.getvalue().endswith("valid\n")
        else:
            assert out.getvalue() == "" and "problem" in text
        assert _snapshot(parent) == before, "validate must not write anything"


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


@FUZZ
@given(
    name=st.sampled_from(CSV_FILES),
    edits=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 12), cell_text), min_size=1, max_size=4
    ),
)
def test_any_cell_value(name, edits):
    """Random cells of one CSV file (header cells included) replaced by nasty values."""
    rows = _rows(FILES[name])
    for r, c, value in edits:
        row = rows[r % len(rows)]
        row[c % len(row)] = value
    _run(FILES | {name: _csv(rows)})


@FUZZ
@given(
    name=st.sampled_from(ALL_FILES),
    at=st.integers(0, 10_000),
    cut=st.integers(0, 8),
    insert=st.one_of(
        st.binary(max_size=8),
        st.sampled_from([b'"', b",", b";", b"\t", b"\n", b"\r", b"\x00", b"\xef\xbb\xbf", b"\xff"]),
        st.text(max_size=6).map(str.encode),
    ),
)
def test_any_bytes(name, at, cut, insert):
    """Bytes deleted and inserted anywhere in one file (quotes, separators, BOMs, invalid UTF-8)."""
    data = FILES[name]
    i = at % (len(data) + 1)
    _run(FILES | {name: data[:i] + insert + data[i + cut :]})


@FUZZ
@given(
    name=st.sampled_from(ALL_FILES),
    how=st.sampled_from(["truncate", "bom", "crlf", "cr", "latin-1", "utf-16", "empty", "gone"]),
    at=st.integers(0, 10_000),
)
def test_whole_file_damage(name, how, at):
    """A file truncated, re-encoded, given other line ends or a BOM, emptied or removed."""
    data = FILES[name]
    text = data.decode()
    files = dict(FILES)
    if how == "truncate":
        files[name] = data[: at % (len(data) + 1)]
    elif how == "bom":
        files[name] = b"\xef\xbb\xbf" + data
    elif how == "crlf":
        files[name] = text.replace("\n", "\r\n").encode()
    elif how == "cr":
        files[name] = text.replace("\n", "\r").encode()
    elif how == "latin-1":
        files[name] = (text + "caf\u00e9\n").encode("latin-1")
    elif how == "utf-16":
        files[name] = text.encode("utf-16")
    elif how == "empty":
        files[name] = b""
    else:
        del files[name]
    _run(files)


TOML_VALUES = st.one_of(
    st.sampled_from(
        [
            '""',
            '"x"',
            "1",
            "-1",
            "0",
            "1.5",
            "99999999999999999999",
            "true",
            "[]",
            '["review"]',
            '["review", "review"]',
            '["review", "interviews", "\U0001f389"]',
            '["review", "w/../x"]',
            '["review", ".x"]',
            '["review", 1]',
            '["review", ["a"]]',
            "{}",
            "{a = 1}",
            '"/some/path"',
            '"\\u0000"',
            "nan",
            "inf",
            "2026-01-02",
        ]
    ),
    st.text(max_size=10).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
)


@FUZZ
@given(line=st.integers(0, 20), value=TOML_VALUES, extra=st.booleans())
def test_any_toml_value(line, value, extra):
    """A value of evidence.toml replaced (or a key added) with strings, lists, tables, numbers."""
    lines = BASE_FILES["evidence.toml"].splitlines()
    keyed = [i for i, ln in enumerate(lines) if "=" in ln]
    i = keyed[line % len(keyed)]
    key = lines[i].split("=")[0].strip()
    if extra:
        lines.append(f"{key}x = {value}")
    else:
        lines[i] = f"{key} = {value}"
    _run(FILES | {"evidence.toml": ("\n".join(lines) + "\n").encode()})
