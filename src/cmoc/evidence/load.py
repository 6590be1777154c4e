"""Loading an evidence base from a directory: read every file, check across files, build frames."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from .base import EVIDENCE_FILES, EvidenceBase, group_prefixes
from .journal import recover
from .problems import EvidenceError, Problem
from .reading import read_config, read_table
from .schema import TABLES, EvidenceConfig

__all__ = ["load_evidence", "validate_evidence"]


def load_evidence(path: str | Path) -> EvidenceBase:
    """Read and validate an evidence base directory.

    Parameters
    ----------
    path : str or Path
        Directory with ``evidence.toml``, ``mechanisms.csv``, ``cmocs.csv``, ``sources.csv``,
        ``codings.csv`` and optionally ``actions.csv``.

    Returns
    -------
    EvidenceBase

    Raises
    ------
    EvidenceError
        With every problem found (file, line, column, value, what was expected).
    """
    directory = Path(path)
    if not directory.is_dir():
        raise EvidenceError(
            [Problem(str(directory), None, None, None, "an evidence base directory (not found)")]
        )
    recovered = recover(directory)
    problems: list[Problem] = []
    config = read_config(directory, problems)
    rows = {name: read_table(directory, spec, problems) for name, spec in TABLES.items()}
    if config is not None and not problems:
        problems.extend(_cross_check(config, rows))
    if problems:
        raise EvidenceError(problems)
    hashes = {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
        for name in EVIDENCE_FILES
        if (directory / name).is_file()
    }
    base = _build(config, rows, directory.resolve(), hashes)
    return replace(base, notes=(recovered,)) if recovered else base


def validate_evidence(path: str | Path) -> list[Problem]:
    """Return every problem in an evidence base directory (empty when it is valid)."""
    try:
        load_evidence(path)
    except EvidenceError as err:
        return err.problems
    return []


def _frame(rows: list[tuple[int, Any]] | None, spec_name: str) -> pd.DataFrame:
    spec = TABLES[spec_name]
    fields = list(spec.row.model_fields)
    records = [{**r.model_dump(), "line": line} for line, r in rows or []]
    frame = pd.DataFrame.from_records(records, columns=[*fields, "line"])
    if spec.key:
        frame = frame.set_index(spec.key)
    return frame


def _build(
    config: EvidenceConfig,
    rows: dict[str, list[tuple[int, Any]] | None],
    path: Path | None,
    hashes: dict[str, str],
) -> EvidenceBase:
    mechanisms = _frame(rows["mechanisms"], "mechanisms")
    cmocs = _frame(rows["cmocs"], "cmocs")
    sources = _frame(rows["sources"], "sources")
    sources["weight"] = sources["weight"].astype(float).fillna(1.0)
    sources["exposure"] = sources["exposure"].astype(float).fillna(1.0)
    sources["year"] = sources["year"].astype("Int64")
    codings = _frame(rows["codings"], "codings")
    banded = codings["count"].isna()
    codings["count_min"] = codings["count_min"].where(banded, codings["count"]).astype("int64")
    codings["count_max"] = codings["count_max"].where(banded, codings["count"]).astype("Int64")
    codings["banded"] = banded.astype(bool)
    waves = set(config.waves)
    codings["scope"] = [
        "source" if s in sources.index else "wave" if s in waves else "group"
        for s in codings["source_id"]
    ]
    codings = codings.drop(columns="count")
    actions = _frame(rows["actions"], "actions")
    return EvidenceBase(config, mechanisms, cmocs, sources, codings, actions, path, hashes)


def _dupes(file: str, rows: list[tuple[int, Any]], key: str) -> list[Problem]:
    first: dict[str, int] = {}
    out = []
    for line, r in rows:
        k = getattr(r, key)
        if k in first:
            out.append(Problem(file, line, key, k, f"a unique id (first used on line {first[k]})"))
        else:
            first[k] = line
    return out


def _cross_check(
    config: EvidenceConfig, rows: dict[str, list[tuple[int, Any]] | None]
) -> list[Problem]:
    """Run the checks that need more than one row or file."""
    out: list[Problem] = []
    for name, spec in TABLES.items():
        if spec.key and rows[name]:
            out.extend(_dupes(spec.file, rows[name], spec.key))
    mech = {r.mechanism_id for _, r in rows["mechanisms"]}
    cmoc = {r.cmoc_id for _, r in rows["cmocs"]}
    for line, r in rows["cmocs"]:
        if r.cmoc_id in mech:
            out.append(
                Problem("cmocs.csv", line, "cmoc_id", r.cmoc_id, "an id not used by a mechanism")
            )
        if r.mechanism_id not in mech:
            out.append(
                Problem(
                    "cmocs.csv",
                    line,
                    "mechanism_id",
                    r.mechanism_id,
                    "a mechanism_id defined in mechanisms.csv",
                )
            )
        if r.revises is not None and (r.revises not in cmoc or r.revises == r.cmoc_id):
            out.append(
                Problem(
                    "cmocs.csv",
                    line,
                    "revises",
                    r.revises,
                    "another cmoc_id of cmocs.csv, or empty",
                )
            )
    waves = set(config.waves)
    sources = {r.source_id: r for _, r in rows["sources"]}
    groups: dict[str, list[str]] = defaultdict(list)
    for line, r in rows["sources"]:
        if r.wave not in waves:
            out.append(
                Problem(
                    "sources.csv",
                    line,
                    "wave",
                    r.wave,
                    f"one of the waves of evidence.toml ({', '.join(config.waves)})",
                )
            )
        if r.source_id in waves:
            out.append(
                Problem("sources.csv", line, "source_id", r.source_id, "an id that is not a wave")
            )
        if r.group is not None:
            if any(not p.strip() for p in r.group.split("/")):
                out.append(
                    Problem(
                        "sources.csv",
                        line,
                        "group",
                        r.group,
                        "group levels joined by '/', none empty",
                    )
                )
                continue
            for label in group_prefixes(r.group):
                groups[label].append(r.source_id)
                if label in waves or label in sources:
                    out.append(
                        Problem(
                            "sources.csv",
                            line,
                            "group",
                            r.group,
                            f"a group label distinct from wave labels and source ids ({label!r})",
                        )
                    )
    src_wave = {sid: r.wave for sid, r in sources.items()}
    covered: dict[str, set[str]] = {}

    def coverage(label: str) -> set[str] | None:
        if label not in covered:
            if label in sources:
                covered[label] = {label}
            elif label in waves:
                covered[label] = {s for s, w in src_wave.items() if w == label}
            elif label in groups:
                covered[label] = set(groups[label])
            else:
                return None
        return covered[label]

    targets = mech | cmoc
    seen: dict[tuple[str, str, str], int] = {}
    by_target: dict[tuple[str, str], list[tuple[int, Any, set[str]]]] = defaultdict(list)
    for line, r in rows["codings"]:
        members = coverage(r.source_id)
        if members is None:
            out.append(
                Problem(
                    "codings.csv",
                    line,
                    "source_id",
                    r.source_id,
                    "a source_id of sources.csv, a wave label or a group label",
                )
            )
        elif not members:
            out.append(
                Problem(
                    "codings.csv",
                    line,
                    "source_id",
                    r.source_id,
                    "a wave with at least one source in sources.csv",
                )
            )
        if r.target_id not in targets:
            out.append(
                Problem(
                    "codings.csv",
                    line,
                    "target_id",
                    r.target_id,
                    "a cmoc_id of cmocs.csv or a mechanism_id of mechanisms.csv",
                )
            )
        banded = r.count_min is not None or r.count_max is not None
        if r.count is not None and banded:
            out.append(
                Problem(
                    "codings.csv",
                    line,
                    "count",
                    str(r.count),
                    "either count or count_min/count_max, not both",
                )
            )
        elif r.count is None and r.count_min is None:
            column = "count_min" if r.count_max is not None else "count"
            out.append(
                Problem(
                    "codings.csv",
                    line,
                    column,
                    None,
                    "a count, or count_min (with count_max, empty for unbounded)",
                )
            )
        elif r.count_min is not None and r.count_max is not None and r.count_min > r.count_max:
            out.append(
                Problem(
                    "codings.csv",
                    line,
                    "count_max",
                    str(r.count_max),
                    f"count_max >= count_min ({r.count_min})",
                )
            )
        key = (r.source_id, r.target_id, r.stance)
        if key in seen:
            out.append(
                Problem(
                    "codings.csv",
                    line,
                    "source_id",
                    r.source_id,
                    f"one row per source, target and stance (also on line {seen[key]})",
                )
            )
        else:
            seen[key] = line
            if members:
                by_target[(r.target_id, r.stance)].append((line, r, members))
    out.extend(_overlaps(by_target))
    for line, r in rows["actions"] or []:
        for ref in r.rests_on:
            if ref not in targets:
                out.append(
                    Problem("actions.csv", line, "rests_on", ref, "a cmoc_id or mechanism_id")
                )
    return out


def _overlaps(by_target: dict[tuple[str, str], list[tuple[int, Any, set[str]]]]) -> list[Problem]:
    """Rows for one target and stance may nest (a source inside its wave) but not cross.

    A total over a wave or group may contain rows of its members only when those are exact
    counts, since they are subtracted from the total; their sum must fit the total's band.
    """
    out = []
    for rows in by_target.values():
        aggregates = [x for x in rows if len(x[2]) > 1 or x[1].source_id != next(iter(x[2]))]
        if not aggregates:
            continue
        for line, r, members in aggregates:
            inner_total = 0
            for line2, r2, members2 in rows:
                if line2 == line or not (members2 & members):
                    continue
                if not members2 <= members:
                    if not members <= members2:
                        out.append(
                            Problem(
                                "codings.csv",
                                line2,
                                "source_id",
                                r2.source_id,
                                f"rows for one target that nest or are disjoint (it overlaps "
                                f"{r.source_id!r} on line {line})",
                            )
                        )
                    continue
                if r2.count is None:
                    out.append(
                        Problem(
                            "codings.csv",
                            line2,
                            "count",
                            None,
                            f"an exact count: this row lies inside the total {r.source_id!r} "
                            f"on line {line}, which can only be split by exact counts",
                        )
                    )
                else:
                    inner_total += r2.count
            hi = r.count if r.count is not None else r.count_max
            if hi is not None and inner_total > hi:
                out.append(
                    Problem(
                        "codings.csv",
                        line,
                        "count" if r.count is not None else "count_max",
                        str(hi),
                        f"a total at least the sum of the rows inside it ({inner_total})",
                    )
                )
    return out
