"""Appending a batch of evidence to a base as a new wave: validated first, written atomically.

A batch is a directory with ``sources.csv`` and ``codings.csv`` (format 1) and optionally new
``mechanisms.csv``, ``cmocs.csv`` and ``actions.csv`` rows. The combined base is validated as a
whole before anything is written; problems in the batch are reported against the batch's own
files and lines. Writing goes through a journal with backups (:mod:`cmoc.evidence.journal`), so
a run interrupted at any point leaves, once recovered, the evidence base exactly as it was.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .base import EVIDENCE_FILES, EvidenceBase
from .journal import write_files
from .ledger import LEDGER_FILE, ledger_entries, ledger_text, read_ledger, record_waves
from .load import load_evidence
from .problems import EvidenceError, Problem
from .reading import read_table
from .schema import TABLES

__all__ = ["AppendPlan", "apply_plan", "plan_append"]


@dataclass
class AppendPlan:
    """What an update will write.

    Attributes
    ----------
    wave : str
        The new wave's label.
    files : dict of str to bytes
        New content of each evidence file that changes (and ``ledger.csv``).
    added : dict of str to int
        Rows added per file.
    skipped : list of str
        Rows of the batch that were already in the base, identical, and so not added.
    base : EvidenceBase
        The evidence base as it will be after the update (validated).
    """

    wave: str
    files: dict[str, bytes]
    added: dict[str, int]
    skipped: list[str] = field(default_factory=list)
    base: EvidenceBase | None = None

    @property
    def changes_nothing(self) -> bool:
        """True when every row of the batch was already in the base."""
        return not any(self.added.values())


def _rows_text(header: list[str], rows: list[dict[str, str]]) -> tuple[str, list[int]]:
    """CSV text of ``rows`` in ``header`` order, and the number of lines each row takes."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    spans = []
    for r in rows:
        before = buf.getvalue().count("\n")
        writer.writerow([r.get(h, "") for h in header])
        spans.append(buf.getvalue().count("\n") - before)
    return buf.getvalue(), spans


def _raw_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader)]
    rows, last = [], reader.line_num
    for cells in reader:
        line, last = last + 1, reader.line_num
        if any(c.strip() for c in cells):
            rows.append((line, dict(zip(header, cells, strict=False))))
    return header, rows


def _canon(row: dict[str, str], columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple((row.get(c) or "").strip() for c in columns)


def plan_append(
    base: EvidenceBase, batch: str | Path, wave: str | None = None, *, now: str | None = None
) -> AppendPlan:
    """Validate a batch against a base and plan the files of the updated base.

    Parameters
    ----------
    base : EvidenceBase
        The evidence base, loaded from its directory.
    batch : str or Path
        Directory with ``sources.csv`` and ``codings.csv`` (and optionally theory files).
    wave : str, optional
        Label of the new wave; default: the one wave named in the batch's ``sources.csv``.
    now : str, optional
        Timestamp for the ledger (ISO 8601, UTC); default: the current time.

    Returns
    -------
    AppendPlan

    Raises
    ------
    EvidenceError
        Every problem, in the batch's files and lines where it has a place there.
    """
    if base.path is None:
        raise ValueError("the base must have been loaded from a directory")
    batch = Path(batch)
    label = batch.name
    problems: list[Problem] = []
    if not batch.is_dir():
        raise EvidenceError([Problem(str(batch), None, None, None, "a batch directory")])
    # each batch file on its own first (its own lines), sources and codings required
    present = {}
    for name, spec in TABLES.items():
        required = name in ("sources", "codings")
        if not (batch / spec.file).is_file() and not required:
            continue
        found: list[Problem] = []
        read_table(batch, spec, found)
        problems.extend(
            Problem(f"{label}/{p.file}", p.line, p.column, p.value, p.expected) for p in found
        )
        if (batch / spec.file).is_file():
            present[name] = None
    if problems:
        raise EvidenceError(problems)
    present = {name: _raw_rows(batch / TABLES[name].file) for name in present}

    src_rows = present["sources"][1]
    labels = sorted({(r.get("wave") or "").strip() for _, r in src_rows})
    if wave is None:
        if len(labels) != 1:
            raise EvidenceError(
                [
                    Problem(
                        f"{label}/sources.csv",
                        None,
                        "wave",
                        ", ".join(labels),
                        "one wave label for the whole batch (or give --wave)",
                    )
                ]
            )
        wave = labels[0]
    for line, r in src_rows:
        if (r.get("wave") or "").strip() != wave:
            problems.append(
                Problem(
                    f"{label}/sources.csv", line, "wave", r.get("wave"), f"the new wave {wave!r}"
                )
            )

    # rows already in the base: identical ones are skipped, different ones refused
    skipped: list[str] = []
    keep: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for name, (_, rows) in present.items():
        spec = TABLES[name]
        base_header, base_rows = (
            _raw_rows(base.path / spec.file) if (base.path / spec.file).is_file() else ([], [])
        )
        if spec.key:
            existing = {r.get(spec.key, "").strip(): (ln, r) for ln, r in base_rows}
            key_of = lambda r, k=spec.key: r.get(k, "").strip()  # noqa: E731
        else:
            cols = ("source_id", "target_id", "stance")
            existing = {_canon(r, cols): (ln, r) for ln, r in base_rows}
            key_of = lambda r, c=cols: _canon(r, c)  # noqa: E731
        keep[name] = []
        for line, r in rows:
            k = key_of(r)
            if k in existing:
                old_line, old = existing[k]
                if _canon(old, spec.columns) == _canon(r, spec.columns):
                    skipped.append(f"{label}/{spec.file}:{line} (same as {spec.file}:{old_line})")
                    continue
                problems.append(
                    Problem(
                        f"{label}/{spec.file}",
                        line,
                        spec.key or "source_id",
                        k if isinstance(k, str) else ",".join(k),
                        f"a new row: this one is already in {spec.file} (line {old_line}) "
                        "with other values, and an update does not edit earlier evidence",
                    )
                )
            else:
                keep[name].append((line, r))
    added = {TABLES[n].file: len(rows) for n, rows in keep.items()}
    if problems:
        raise EvidenceError(problems)
    if not any(added.values()):
        return AppendPlan(wave, {}, added, skipped, base)
    if wave in base.waves:
        raise EvidenceError(
            [
                Problem(
                    f"{label}/sources.csv",
                    None,
                    "wave",
                    wave,
                    f"a new wave label (waves so far: {', '.join(base.waves)})",
                )
            ]
        )

    # codes may only concern the new wave: its sources, its label, or groups of its sources
    for line, r in keep.get("codings", []):
        sid = r.get("source_id", "").strip()
        if sid in base.sources.index or sid in base.waves or sid in base.groups:
            problems.append(
                Problem(
                    f"{label}/codings.csv",
                    line,
                    "source_id",
                    sid,
                    f"a source of the new wave {wave!r} (an update does not add codes to "
                    "earlier waves)",
                )
            )
    if problems:
        raise EvidenceError(problems)

    # the combined files, validated together in a scratch copy
    files: dict[str, bytes] = {}
    where: dict[tuple[str, int], tuple[str, int]] = {}
    for name, rows in keep.items():
        if not rows:
            continue
        spec = TABLES[name]
        target = base.path / spec.file
        batch_header = present[name][0]
        if target.is_file():
            base_text = target.read_text(encoding="utf-8-sig")
            base_header, _ = _raw_rows(target)
        else:
            base_text, base_header = "", []
        header = base_header + [h for h in batch_header if h not in base_header]
        if not base_text or header != base_header:
            # (re)write the whole file with the wider header
            old_rows = [r for _, r in _raw_rows(target)[1]] if base_text else []
            text, _ = _rows_text(header, old_rows)
            head, _ = _rows_text(header, [dict(zip(header, header, strict=True))])
            base_text = head + text
        if not base_text.endswith("\n"):
            base_text += "\n"
        new_text, spans = _rows_text(header, [r for _, r in rows])
        line = base_text.count("\n") + 1
        for (batch_line, _), span in zip(rows, spans, strict=True):
            where[(spec.file, line)] = (f"{label}/{spec.file}", batch_line)
            line += span
        files[spec.file] = (base_text + new_text).encode("utf-8")
    toml = (base.path / "evidence.toml").read_text(encoding="utf-8-sig")
    new_toml, n = re.subn(
        r"(?ms)^(\s*waves\s*=\s*\[)(.*?)(\])",
        lambda m: m[1] + m[2].rstrip().rstrip(",") + f", {json.dumps(wave)}" + m[3],
        toml,
        count=1,
    )
    if n != 1:
        raise EvidenceError(
            [Problem("evidence.toml", None, "waves", None, "a waves = [...] list to extend")]
        )
    files["evidence.toml"] = new_toml.encode("utf-8")

    with tempfile.TemporaryDirectory(prefix="cmoc-update-") as tmp:
        scratch = Path(tmp) / base.path.name
        scratch.mkdir()
        for name in EVIDENCE_FILES:
            if name in files:
                (scratch / name).write_bytes(files[name])
            elif (base.path / name).is_file():
                shutil.copyfile(base.path / name, scratch / name)
        try:
            combined = load_evidence(scratch)
        except EvidenceError as err:
            mapped = []
            for p in err.problems:
                file, line = where.get((p.file, p.line or -1), (p.file, p.line))
                mapped.append(Problem(file, line, p.column, p.value, p.expected))
            raise EvidenceError(mapped) from None
        if combined.waves != [*base.waves, wave]:
            raise EvidenceError(
                [Problem("evidence.toml", None, "waves", None, "the waves list to be extendable")]
            )
        stamp = now or datetime.now(UTC).replace(microsecond=0).isoformat()
        digest = hashlib.sha256(
            b"".join((batch / TABLES[n].file).read_bytes() for n in present)
        ).hexdigest()
        ledger = read_ledger(base.path)
        if not ledger:
            ledger = record_waves(base, recorded_at=stamp, note="recorded at the first update")
        ledger += ledger_entries(
            combined,
            wave,
            start=len(ledger) + 1,
            recorded_at=stamp,
            batch=digest[:16],
            note=f"cmoc update --add {label}",
        )
        files[LEDGER_FILE] = ledger_text(ledger).encode("utf-8")
    return AppendPlan(wave, files, added, skipped, None)


def apply_plan(directory: str | Path, plan: AppendPlan, **kwargs) -> None:
    """Write a planned update: every file changes, or (after an interruption) none does."""
    write_files(directory, plan.files, **kwargs)
