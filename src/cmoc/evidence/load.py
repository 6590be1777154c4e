"""Loading an evidence base from a directory: read every file, check across files, build frames."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .base import EVIDENCE_FILES, EvidenceBase, group_prefixes
from .journal import reading
from .judgements import judgement_problems
from .ledger import LEDGER_FILE, ledger_notes, read_ledger
from .nesting import nesting_problems
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
    with reading(directory) as recovered:  # shared lock while the files are read
        problems: list[Problem] = []
        config = read_config(directory, problems)
        rows = {name: read_table(directory, spec, problems) for name, spec in TABLES.items()}
        # the ledger is checked by every load, so that every command sees a garbled or bypassed one
        ledger = read_ledger(directory, problems) if (directory / LEDGER_FILE).is_file() else None
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
        if problems := judgement_problems(base):  # they need the web's links
            raise EvidenceError(problems)
        notes = ([recovered] if recovered else []) + ledger_notes(base, ledger)
        return replace(base, notes=tuple(notes)) if notes else base


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
    rows = rows or []
    # column lists of references, not a dict per row: a tenth of the memory at 1M rows
    columns = {f: [getattr(r, f) for _, r in rows] for f in fields}
    columns["line"] = [line for line, _ in rows]
    if rows:
        frame = pd.DataFrame(columns, columns=[*fields, "line"])
    else:  # object columns, as pandas gives an empty table of records
        frame = pd.DataFrame.from_records([], columns=[*fields, "line"])
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
    excerpts = _frame(rows["excerpts"], "excerpts")
    judgements = _frame(rows["judgements"], "judgements")
    return EvidenceBase(
        config,
        mechanisms,
        cmocs,
        sources,
        codings,
        actions,
        path,
        hashes,
        excerpts=excerpts,
        judgements=judgements,
    )


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
    out.extend(_overlaps(by_target, _Membership.build(src_wave, waves, groups)))
    if config.nesting.cmocs_in_mechanism:
        out.extend(
            nesting_problems(rows["codings"], {r.cmoc_id: r.mechanism_id for _, r in rows["cmocs"]})
        )
    for line, r in rows["actions"] or []:
        for ref in r.rests_on:
            if ref not in targets:
                out.append(
                    Problem("actions.csv", line, "rests_on", ref, "a cmoc_id or mechanism_id")
                )
    for line, r in rows.get("excerpts") or []:
        if r.source_id not in sources:
            out.append(
                Problem(
                    "excerpts.csv", line, "source_id", r.source_id, "a source_id of sources.csv"
                )
            )
        if r.target_id not in targets:
            out.append(
                Problem("excerpts.csv", line, "target_id", r.target_id, "a cmoc_id or mechanism_id")
            )
    return out


@dataclass(frozen=True)
class _Membership:
    """Which sources each coding row's ``source_id`` covers, in a form that is cheap to compare.

    Labels resolve as in ``coverage``: a source id first, then a wave label, then a group
    label. Waves are disjoint; groups nest by path prefix or are disjoint; a wave and a group
    may also cross, which ``per_wave`` (sources of each group per wave) decides.
    """

    src_wave: dict[str, str]
    waves: frozenset[str]
    wave_size: dict[str, int]
    group_size: dict[str, int]
    per_wave: dict[str, dict[str, int]]
    groups_of: dict[str, list[str]]

    @classmethod
    def build(
        cls, src_wave: dict[str, str], waves: set[str], groups: dict[str, list[str]]
    ) -> _Membership:
        """Index the sources' waves and groups (linear in sources x group depth)."""
        wave_size: dict[str, int] = defaultdict(int)
        for w in src_wave.values():
            wave_size[w] += 1
        group_size, per_wave = {}, {}
        groups_of: dict[str, list[str]] = defaultdict(list)
        for label, sids in groups.items():
            members = set(sids)
            group_size[label] = len(members)
            counts: dict[str, int] = defaultdict(int)
            for sid in members:
                counts[src_wave[sid]] += 1
                groups_of[sid].append(label)
            per_wave[label] = dict(counts)
        return cls(
            dict(src_wave), frozenset(waves), dict(wave_size), group_size, per_wave, dict(groups_of)
        )


def _overlaps(
    by_target: dict[tuple[str, str], list[tuple[int, Any, set[str]]]], index: _Membership
) -> list[Problem]:
    """Rows for one target and stance may nest (a source inside its wave) but not cross.

    A total over a wave or group may contain rows of its members only when those are exact
    counts, since they are subtracted from the total; their sum must fit the total's band.

    Linear in the rows (times the depth of the group paths): instead of comparing every total
    with every row, each row looks up only the totals that can contain it (its wave and the
    prefixes of its group path) and the totals it can cross (waves against groups).
    """
    out = []
    for rows in by_target.values():
        single: list[tuple[int, Any, str]] = []
        wave_rows: dict[str, tuple[int, Any]] = {}
        group_rows: dict[str, tuple[int, Any]] = {}
        for line, r, members in rows:
            sid = r.source_id
            if len(members) == 1 and sid in members:
                single.append((line, r, sid))
            elif sid in index.waves:
                wave_rows[sid] = (line, r)
            else:
                group_rows[sid] = (line, r)
        if not wave_rows and not group_rows:
            continue
        inside: dict[int, list[tuple[int, Any]]] = defaultdict(list)  # total's line -> rows
        crossing: list[tuple[int, Any, int, Any]] = []  # (row, the total it crosses)
        for line, r, sid in single:
            wave = index.src_wave[sid]
            if wave in wave_rows:
                inside[wave_rows[wave][0]].append((line, r))
            for g in index.groups_of.get(sid, ()):
                if g in group_rows:
                    inside[group_rows[g][0]].append((line, r))
        for g, (line, r) in group_rows.items():
            size = index.group_size[g]
            parts = g.split("/")
            for k in range(1, len(parts)):
                parent = "/".join(parts[:k])
                if parent in group_rows:
                    p_line, p_r = group_rows[parent]
                    inside[p_line].append((line, r))
                    if index.group_size[parent] == size:  # the same sources: each holds the other
                        inside[line].append((p_line, p_r))
            for wave, n in index.per_wave[g].items():
                if wave not in wave_rows:
                    continue
                w_line, w_r = wave_rows[wave]
                g_in_w, w_in_g = n == size, n == index.wave_size[wave]
                if g_in_w:
                    inside[w_line].append((line, r))
                if w_in_g:
                    inside[line].append((w_line, w_r))
                if not g_in_w and not w_in_g:
                    crossing.append((line, r, w_line, w_r))
                    crossing.append((w_line, w_r, line, r))
        for line2, r2, line, r in crossing:
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
        for line, r in [*wave_rows.values(), *group_rows.values()]:
            inner_total = 0
            for line2, r2 in inside.get(line, ()):
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
