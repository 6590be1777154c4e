"""A small, valid evidence base written to disk, and helpers to break it one file at a time.

The base (waves ``review`` then ``interviews``)::

    mechanisms  M1 (prior), M2 (prior), M3 (novel, coded only in the interviews)
    cmocs       C1, C2 (M1), C3 (M2), C4 (M2, novel, revises C3, first coded in the interviews)
    sources     R1, R2 (review, no group); I1..I4 (interview) with group paths
                I1, I2: case study/Org A/P1   I3: case study/Org B/P2   I4: stakeholder/Regulator
    codings     exact per-source counts, wave totals (banded 3-4, unbounded >=1, >=5, 1-2)
                and two group totals ("stakeholder" >=1, "case study/Org A" 1-3)
    actions     A1 (C1;M1), A2 (C4), A3 (M3;C2)

Line numbers are 1-based with the header on line 1; the comments in each table give the line of
every row so that tests can name them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = [
    "BASE_FILES",
    "CODINGS",
    "make_base",
    "replace_line",
    "tiny_base",
    "with_line",
]

EVIDENCE_TOML = """\
# A tiny evidence base for tests.
name = "tiny"
title = "A tiny evidence base"
citation = "Test, A. (2024). Tests."
format = 1
waves = ["review", "interviews"]
group_levels = ["interview set", "organisation", "participant"]

[thresholds]
limited = 1
moderate = 3
significant = 5
"""

MECHANISMS = """\
mechanism_id,name,definition,origin,cluster
M1,Trust,Willingness to accept vulnerability,prior,cognitive
M2,Faith,Belief that the collaboration will work,prior,cognitive
M3,Capacity,Perceived capacity to collaborate,novel,
"""
# lines: M1 2, M2 3, M3 4

CMOCS = """\
cmoc_id,mechanism_id,context,outcome,sign,origin,statement,revises,basis,citation
C1,M1,Shared vision,Collaboration,+,prior,,,reported,Review table 3
C2,M1,M2,Performance,+,prior,"Faith raises trust, and so performance",,inferred,
C3,M2,Staff turnover,Faith,-,prior,,,,
C4,M2,Consistent leadership,Faith,+,novel,,C3,reported,
"""
# lines: C1 2, C2 3, C3 4, C4 5

SOURCES = """\
source_id,kind,wave,group,weight,exposure,title,year
R1,review,review,,0.8,,Smith 2019,2019
R2,review,review,,,,Jones 2020,2020
I1,interview,interviews,case study/Org A/P1,,1200,,
I2,interview,interviews,case study/Org A/P1,,,,
I3,interview,interviews,case study/Org B/P2,,,,
I4,interview,interviews,stakeholder/Regulator,,,,
"""
# lines: R1 2, R2 3, I1 4, I2 5, I3 6, I4 7

CODINGS = """\
source_id,target_id,stance,count,count_min,count_max,basis,citation,note
R1,C1,supports,2,,,reported,,
R1,C2,supports,1,,,reported,,
R2,C1,refutes,1,,,,,
R2,C3,supports,3,,,,,
review,M1,supports,,1,,inferred,,at least one
review,M2,supports,,3,4,inferred,,
interviews,M1,supports,,5,,reported,,
interviews,M3,supports,,1,2,reported,,
I1,C1,supports,1,,,,,
stakeholder,C1,supports,,1,,,,
case study/Org A,C2,supports,,1,3,,,
I3,C2,supports,2,,,,,
I1,C4,supports,2,,,,,
I3,C4,supports,1,,,,,
I2,C3,refutes,2,,,,,
"""
# lines 2..16, in order; line 17 is the first free line

ACTIONS = """\
action_id,statement,rests_on,cluster
A1,"If vision is shared, then collaboration rises because trust grows",C1;M1,vision
A2,"If leadership is consistent, then faith holds because turnover matters less",C4,leadership
A3,"If capacity is visible, then performance rises",M3; C2,capacity
"""
# lines: A1 2, A2 3, A3 4

BASE_FILES: dict[str, str] = {
    "evidence.toml": EVIDENCE_TOML,
    "mechanisms.csv": MECHANISMS,
    "cmocs.csv": CMOCS,
    "sources.csv": SOURCES,
    "codings.csv": CODINGS,
    "actions.csv": ACTIONS,
}
"""File name -> content of the valid base."""


def make_base(directory: Path, **files: str | bytes | None) -> Path:
    """Write the tiny base into ``directory/base``; keyword arguments replace files.

    ``make_base(tmp_path, **{"codings.csv": text})`` writes the base with another codings file;
    bytes are written as they are; ``None`` leaves the file out.
    """
    unknown = set(files) - set(BASE_FILES)
    if unknown:
        raise ValueError(f"not a file of the base: {sorted(unknown)}")
    base = directory / "base"
    base.mkdir(parents=True, exist_ok=False)
    for name, default in BASE_FILES.items():
        content = files.get(name, default)
        if content is None:
            continue
        if isinstance(content, bytes):
            (base / name).write_bytes(content)
        else:
            (base / name).write_text(content, encoding="utf-8", newline="")
    return base


TWO_MECHANISMS_CMOCS = "C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\nC3,M2,c,o,+,prior\n"
"""Rows of ``cmocs.csv`` of :func:`write_two_mechanisms`: C1 and C2 of M1, C3 of M2."""


def write_two_mechanisms(
    directory: Path, *, toml_tail: str, sources: str, codings: str, cmocs: str | None = None
) -> Path:
    """Write a two-wave base (``w1``, ``w2``) of two mechanisms and three CMOCs.

    ``toml_tail`` is appended to ``evidence.toml`` (a ``[recording]`` table, say); ``sources``
    and ``codings`` are the whole files; ``cmocs`` the rows of ``cmocs.csv`` below its header
    (default :data:`TWO_MECHANISMS_CMOCS`).
    """
    directory.mkdir(parents=True)
    (directory / "evidence.toml").write_text(
        'name = "t"\ntitle = "t"\ncitation = "t"\nformat = 1\nwaves = ["w1", "w2"]\n' + toml_tail
    )
    (directory / "mechanisms.csv").write_text("mechanism_id,name,definition\nM1,m,d\nM2,n,d\n")
    (directory / "cmocs.csv").write_text(
        "cmoc_id,mechanism_id,context,outcome,sign,origin\n" + (cmocs or TWO_MECHANISMS_CMOCS)
    )
    (directory / "sources.csv").write_text(sources)
    (directory / "codings.csv").write_text(codings)
    return directory


def replace_line(text: str, line: int, new: str) -> str:
    """Return ``text`` with its 1-based ``line`` replaced by ``new``."""
    lines = text.splitlines(keepends=True)
    lines[line - 1] = new + "\n"
    return "".join(lines)


def with_line(text: str, new: str) -> str:
    """Return ``text`` with ``new`` appended as its last line."""
    return text + new + "\n"


@pytest.fixture
def tiny_base(tmp_path: Path) -> Path:
    """Directory of the valid tiny evidence base."""
    return make_base(tmp_path)
