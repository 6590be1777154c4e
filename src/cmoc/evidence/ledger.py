"""The ledger: an append-only record, kept in the evidence base, of what arrived when.

``ledger.csv`` has one row per wave and file (``sources.csv``, ``codings.csv``): when it was
recorded, a SHA-256 of the wave's rows of that file (canonical: parsed values, not bytes), and
how many rows there were. Recomputing those hashes later shows whether evidence of an earlier
wave was edited after it was recorded.
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

__all__ = [
    "LEDGER_COLUMNS",
    "LEDGER_FILE",
    "LedgerEntry",
    "check_ledger",
    "ledger_entries",
    "read_ledger",
]

LEDGER_FILE = "ledger.csv"
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


def _digest(frame: pd.DataFrame) -> str:
    records = json.loads(frame.reset_index().to_json(orient="records"))
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()


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


def read_ledger(directory: str | Path) -> list[LedgerEntry]:
    """Read ``ledger.csv`` of an evidence base (empty when there is none)."""
    path = Path(directory) / LEDGER_FILE
    if not path.is_file():
        return []
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return [
        LedgerEntry(
            int(r["entry"]),
            r["wave"],
            r["recorded_at"],
            r["file"],
            int(r["rows"]),
            r["rows_sha256"],
            r["batch"],
            r["note"],
        )
        for r in rows
    ]


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
