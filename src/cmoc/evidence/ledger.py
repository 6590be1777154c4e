"""The ledger: an append-only record, kept in the evidence base, of what arrived when.

``ledger.csv`` has one row per wave and file (``sources.csv``, ``codings.csv``): when it was
recorded, a SHA-256 of the wave's rows of that file (canonical: parsed values, not bytes), and
how many rows there were. Recomputing those hashes later shows whether evidence of an earlier
wave was edited after it was recorded.

Every load checks the ledger (:func:`ledger_notes`, called by ``load_evidence``): a garbled
``ledger.csv`` is a problem like any other bad file (file, line, column, value); an edited
earlier wave, a wave the ledger does not record, or a base of several waves without a ledger
are notes that every command shows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .base import EvidenceBase
from .problems import EvidenceError, Problem
from .reading import read_table
from .schema import LEDGER_TABLE

__all__ = [
    "LEDGER_COLUMNS",
    "LEDGER_FILE",
    "LedgerEntry",
    "check_ledger",
    "ledger_entries",
    "ledger_notes",
    "ledger_text",
    "read_ledger",
    "record_waves",
]

LEDGER_FILE = LEDGER_TABLE.file
LEDGER_COLUMNS = ("entry", "wave", "recorded_at", "file", "rows", "rows_sha256", "batch", "note")


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger row: the rows of one wave in one file, as recorded."""

    entry: int
    wave: str
    recorded_at: str
    file: str
    rows: int
    rows_sha256: str
    batch: str
    note: str


def _wave_rows(base: EvidenceBase, wave: str) -> dict[str, pd.DataFrame]:
    sources = base.sources[base.sources["wave"] == wave].drop(columns="line")
    codings = base.codings[base.coding_waves() == wave].drop(columns="line")
    codings = codings.sort_values(["source_id", "target_id", "stance"])
    return {"sources.csv": sources.sort_index(), "codings.csv": codings}


_DIGEST_CHUNK = 20_000
"""Rows serialised at a time by :func:`_digest` (bounds its memory on large waves)."""


def _digest(frame: pd.DataFrame) -> str:
    """SHA-256 of ``json.dumps(records, sort_keys=True)`` of the frame's rows, made in chunks.

    The text hashed is exactly that of serialising all records at once (a list's items are
    written as they would be alone, joined by ``", "``), so ledgers keep their hashes; only the
    memory is bounded (a million rows as one list of dicts took about a gigabyte).
    """
    h = hashlib.sha256(b"[")
    table = frame.reset_index()
    sep = b""
    for start in range(0, len(table), _DIGEST_CHUNK):
        records = json.loads(table.iloc[start : start + _DIGEST_CHUNK].to_json(orient="records"))
        h.update(sep + json.dumps(records, sort_keys=True).encode()[1:-1])  # without [ ]
        sep = b", "
    h.update(b"]")
    return h.hexdigest()


def ledger_entries(
    base: EvidenceBase, wave: str, *, start: int, recorded_at: str, batch: str, note: str
) -> list[LedgerEntry]:
    """Ledger rows recording the evidence of ``wave`` as it is in ``base`` now."""
    out = []
    for i, (file, frame) in enumerate(_wave_rows(base, wave).items()):
        out.append(
            LedgerEntry(start + i, wave, recorded_at, file, len(frame), _digest(frame), batch, note)
        )
    return out


def record_waves(
    base: EvidenceBase, *, recorded_at: str, note: str, batch: str = "", start: int = 1
) -> list[LedgerEntry]:
    """Ledger rows recording every wave of ``base`` as it is now, numbered from ``start``.

    What ``cmoc update`` writes for the waves of a base that had no ledger, and what a script
    that builds a base writes for all of its waves.
    """
    entries: list[LedgerEntry] = []
    for wave in base.waves:
        entries += ledger_entries(
            base,
            wave,
            start=start + len(entries),
            recorded_at=recorded_at,
            batch=batch,
            note=note,
        )
    return entries


def read_ledger(directory: str | Path, problems: list[Problem] | None = None) -> list[LedgerEntry]:
    """Read and check ``ledger.csv`` of an evidence base.

    Parameters
    ----------
    directory : str or Path
        The evidence base directory.
    problems : list of Problem, optional
        Where to append the problems of a garbled ledger (bad CSV or header, a cell that is
        not what its column holds, entries not numbered 1, 2, 3, ... in order). Without it,
        they are raised.

    Returns
    -------
    list of LedgerEntry
        The entries in file order (empty when there is no ledger, or only its header). With
        ``problems`` given and a garbled ledger: the entries that passed.

    Raises
    ------
    EvidenceError
        A garbled ledger, when ``problems`` is not given.
    """
    found: list[Problem] = []
    rows = read_table(Path(directory), LEDGER_TABLE, found)
    if rows is None:
        return []
    entries = []
    for expected, (line, r) in enumerate(rows, start=1):
        if r.entry != expected and not found:
            found.append(
                Problem(
                    LEDGER_FILE,
                    line,
                    "entry",
                    str(r.entry),
                    f"entries numbered 1, 2, 3, ... in order ({expected} here); the ledger "
                    "is only appended to",
                )
            )
        entries.append(
            LedgerEntry(
                r.entry,
                r.wave,
                r.recorded_at,
                r.file,
                r.rows,
                r.rows_sha256,
                r.batch or "",
                r.note or "",
            )
        )
    if found and problems is None:
        raise EvidenceError(found)
    if problems is not None:
        problems.extend(found)
    return entries


def ledger_text(entries: list[LedgerEntry]) -> str:
    """Render ledger rows as CSV text (header included)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LEDGER_COLUMNS)
    for e in entries:
        writer.writerow(
            [e.entry, e.wave, e.recorded_at, e.file, e.rows, e.rows_sha256, e.batch, e.note]
        )
    return buf.getvalue()


def check_ledger(base: EvidenceBase, entries: list[LedgerEntry]) -> list[str]:
    """Compare the evidence with the ledger; return one message per recorded wave edited since.

    The newest record of each (wave, file) is the reference.
    """
    latest: dict[tuple[str, str], LedgerEntry] = {}
    for e in entries:
        latest[(e.wave, e.file)] = e
    out = []
    for (wave, file), e in sorted(latest.items()):
        if wave not in base.waves:
            out.append(f"{file}: wave {wave!r} was recorded in the ledger but is gone")
            continue
        frame = _wave_rows(base, wave)[file]
        if _digest(frame) != e.rows_sha256:
            out.append(
                f"{file}: the rows of wave {wave!r} changed since the ledger recorded them "
                f"(entry {e.entry}, {e.recorded_at}: {e.rows} rows, now {len(frame)})"
            )
    return out


def ledger_notes(base: EvidenceBase, entries: list[LedgerEntry] | None) -> list[str]:
    """Say what the ledger tells about a base, as notes for every command to show.

    Parameters
    ----------
    base : EvidenceBase
        The evidence base, validated.
    entries : list of LedgerEntry or None
        Its ledger (:func:`read_ledger`), None when there is no ``ledger.csv``.

    Returns
    -------
    list of str
        ``WARNING: ...`` for every recorded wave edited (or removed) since it was recorded;
        a note for waves the ledger does not record, or for a base of more than one wave
        without a ledger.
    """
    waves = base.waves
    if entries is None:
        if len(waves) < 2:
            return []
        return [
            f"note: no {LEDGER_FILE}: edits to earlier waves cannot be detected (this base "
            f"has {len(waves)} waves; `cmoc update` records every wave in a new {LEDGER_FILE} "
            "when it adds the next one)"
        ]
    out = [f"WARNING: {message}" for message in check_ledger(base, entries)]
    recorded = {e.wave for e in entries}
    missing = [w for w in waves if w not in recorded]
    if missing:
        out.append(
            f"note: {LEDGER_FILE} does not record wave{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}: edits to "
            f"{'them' if len(missing) > 1 else 'it'} cannot be detected (waves are recorded "
            "by `cmoc update`)"
        )
    return out
