"""Bad evidence: every kind of bad input is named (file, line, column, value, expected).

Each case writes the tiny base of ``evidence_fixtures`` with one file changed, then checks the
exact list of problems from :func:`load_evidence` and that ``cmoc validate`` reports the same
problems on stderr with exit status 2, nothing on stdout, no traceback and nothing written.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cmoc.cli import main
from cmoc.evidence import EvidenceError, Problem, load_evidence, validate_evidence
from evidence_fixtures import BASE_FILES, make_base, replace_line, with_line

MISSING = "the file exists (it is missing)"
EMPTY = "at least one row (the file is empty)"
UNIQUE = "a unique id (first used on line {})"
COUNT = (
    "a whole number >= 0 in the digits 0-9, at most 1000000000 (or empty when "
    "count_min/count_max are given)"
)
COUNT_MIN = "a whole number >= 0 in the digits 0-9, at most 1000000000"
COUNT_MAX = "a whole number >= 0 in the digits 0-9, at most 1000000000, or empty for unbounded"
YEAR = "a year: a whole number in the digits 0-9, at most 9999, or empty"
NO_COUNT = "a count, or count_min (with count_max, empty for unbounded)"
WEIGHT = (
    "a number in (0, 1] written with the digits 0-9 and '.' (0.8; an appraisal weight), "
    "or empty for 1"
)
EXPOSURE = (
    "a positive number written with the digits 0-9 and '.' (1200, 3.5; the amount of "
    "material), or empty for 1"
)
REVISES = "another cmoc_id of cmocs.csv, or empty"
ID = "an id: no ';' and no leading or trailing spaces"
TARGET = "a cmoc_id of cmocs.csv or a mechanism_id of mechanisms.csv"
SOURCE = "a source_id of sources.csv, a wave label or a group label"
WAVES = "one of the waves of evidence.toml (review, interviews)"
REQUIRED = {
    "mechanisms.csv": "mechanism_id, name, definition",
    "cmocs.csv": "cmoc_id, mechanism_id, context, outcome, sign, origin",
    "sources.csv": "source_id, kind, wave",
    "codings.csv": "source_id, target_id, stance",
    "actions.csv": "action_id, statement, rests_on",
}
COLUMNS = {
    "mechanisms.csv": "mechanism_id, name, definition, origin, cluster, citation",
    "sources.csv": (
        "source_id, kind, wave, group, weight, exposure, title, year, basis, citation, note"
    ),
}


# ---------------------------------------------------------------------------------------------
# helpers


def edit(name: str, line: int, new: str) -> dict[str, str]:
    """Files of the base with ``line`` of ``name`` replaced."""
    return {name: replace_line(BASE_FILES[name], line, new)}


def append(name: str, *new: str) -> dict[str, str]:
    """Files of the base with rows appended to ``name``."""
    text = BASE_FILES[name]
    for row in new:
        text = with_line(text, row)
    return {name: text}


def drop_column(name: str, column: str) -> dict[str, str]:
    """Files of the base with ``column`` removed from every row of ``name``."""
    rows = list(csv.reader(io.StringIO(BASE_FILES[name])))
    at = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([r[:at] + r[at + 1 :] for r in rows])
    return {name: out.getvalue()}


def add_column(name: str, column: str, value: str = "x") -> dict[str, str]:
    """Files of the base with a column (named ``column``) added at the end of ``name``."""
    lines = BASE_FILES[name].splitlines()
    lines = [lines[0] + "," + column] + [line + "," + value for line in lines[1:]]
    return {name: "\n".join(lines) + "\n"}


def problems_of(directory: Path) -> list[Problem]:
    with pytest.raises(EvidenceError) as info:
        load_evidence(directory)
    return info.value.problems


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def check_cli(directory: Path, problems: list[Problem], capsys) -> str:
    """``cmoc validate`` fails with exit 2 and names exactly ``problems``; returns stderr."""
    before = snapshot(directory) if directory.is_dir() else None
    capsys.readouterr()
    status = main(["validate", str(directory)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert "Traceback" not in err
    assert "internal error" not in err
    n = len(problems)
    head = f"{n} problem{'s' if n != 1 else ''} in the evidence:"
    assert err.splitlines() == [head, *(f"  {p}" for p in problems)]
    if before is not None:
        assert snapshot(directory) == before, "validate must not write anything"
    return err


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes | None]
    problems: list[Problem]


def run_case(tmp_path: Path, case: Case, capsys) -> None:
    directory = make_base(tmp_path, **case.files)
    problems = problems_of(directory)
    assert problems == case.problems
    assert validate_evidence(directory) == case.problems
    check_cli(directory, case.problems, capsys)


def P(file, line, column, value, expected) -> Problem:
    return Problem(file, line, column, value, expected)


# ---------------------------------------------------------------------------------------------
# missing, empty and malformed files


@pytest.mark.parametrize(
    "name", ["evidence.toml", "mechanisms.csv", "cmocs.csv", "sources.csv", "codings.csv"]
)
def test_missing_required_file(tmp_path, capsys, name):
    run_case(tmp_path, Case(name, {name: None}, [P(name, None, None, None, MISSING)]), capsys)


def test_missing_actions_file_is_fine(tmp_path):
    base = load_evidence(make_base(tmp_path, **{"actions.csv": None}))
    assert len(base.actions) == 0
    assert base.actions.index.name == "action_id"


def test_missing_directory(tmp_path, capsys):
    missing = tmp_path / "no-such-base"
    problem = P(str(missing), None, None, None, "an evidence base directory (not found)")
    assert problems_of(missing) == [problem]
    check_cli(missing, [problem], capsys)


def test_directory_is_a_file(tmp_path, capsys):
    path = tmp_path / "evidence.toml"
    path.write_text("name = 'x'\n")
    problem = P(str(path), None, None, None, "an evidence base directory (not found)")
    assert problems_of(path) == [problem]
    check_cli(path, [problem], capsys)


@pytest.mark.parametrize("name", [n for n in REQUIRED if n != "actions.csv"])
def test_header_only_file(tmp_path, capsys, name):
    header = BASE_FILES[name].splitlines()[0] + "\n"
    run_case(tmp_path, Case(name, {name: header}, [P(name, 2, None, None, EMPTY)]), capsys)


def test_header_only_actions_is_no_actions(tmp_path):
    """actions.csv is optional: a header without rows means no action statements."""
    header = BASE_FILES["actions.csv"].splitlines()[0] + "\n"
    base = load_evidence(make_base(tmp_path, **{"actions.csv": header}))
    assert len(base.actions) == 0


def test_semicolon_separated_file_gets_a_hint(tmp_path, capsys):
    text = BASE_FILES["mechanisms.csv"].replace(",", ";")
    header = text.splitlines()[0]
    expected = (
        "comma-separated columns (this file looks separated by ';': save it as CSV with commas)"
    )
    case = Case(
        "semicolons", {"mechanisms.csv": text}, [P("mechanisms.csv", 1, None, header, expected)]
    )
    run_case(tmp_path, case, capsys)


@pytest.mark.parametrize("name", list(REQUIRED))
def test_zero_byte_file(tmp_path, capsys, name):
    expected = f"a header row ({REQUIRED[name]})"
    run_case(tmp_path, Case(name, {name: ""}, [P(name, 1, None, None, expected)]), capsys)


def test_blank_lines_only_file(tmp_path, capsys):
    text = BASE_FILES["codings.csv"].splitlines()[0] + "\n\n , ,\n"
    case = Case("blank", {"codings.csv": text}, [P("codings.csv", 2, None, None, EMPTY)])
    run_case(tmp_path, case, capsys)


def test_zero_byte_evidence_toml(tmp_path, capsys):
    from cmoc.evidence.reading import _TOML_EXPECT

    problems = [
        P("evidence.toml", None, key, None, f"{_TOML_EXPECT[key]} (missing)")
        for key in ("citation", "format", "name", "title", "waves")
    ]
    run_case(tmp_path, Case("empty toml", {"evidence.toml": ""}, problems), capsys)


# ---------------------------------------------------------------------------------------------
# header problems

HEADER_CASES = [
    Case(
        "missing column sign",
        drop_column("cmocs.csv", "sign"),
        [P("cmocs.csv", 1, "sign", None, "this required column (missing)")],
    ),
    Case(
        "missing column stance",
        drop_column("codings.csv", "stance"),
        [P("codings.csv", 1, "stance", None, "this required column (missing)")],
    ),
    Case(
        "missing column wave",
        drop_column("sources.csv", "wave"),
        [P("sources.csv", 1, "wave", None, "this required column (missing)")],
    ),
    Case(
        "stray column",
        add_column("mechanisms.csv", "colour"),
        [
            P(
                "mechanisms.csv",
                1,
                "colour",
                "colour",
                f"only the columns {COLUMNS['mechanisms.csv']} (stray column 6)",
            )
        ],
    ),
    Case(
        "misspelt optional column",
        {"sources.csv": BASE_FILES["sources.csv"].replace("weight", "wieght", 1)},
        [
            P(
                "sources.csv",
                1,
                "wieght",
                "wieght",
                f"only the columns {COLUMNS['sources.csv']} (stray column 5)",
            )
        ],
    ),
    Case(
        "misspelt required column",
        {"sources.csv": BASE_FILES["sources.csv"].replace("kind", "Kind", 1)},
        [
            P(
                "sources.csv",
                1,
                "Kind",
                "Kind",
                f"only the columns {COLUMNS['sources.csv']} (stray column 2)",
            ),
            P("sources.csv", 1, "kind", None, "this required column (missing)"),
        ],
    ),
    Case(
        "duplicate column",
        add_column("mechanisms.csv", "name"),
        [P("mechanisms.csv", 1, "name", "name", "each column once (duplicate)")],
    ),
]


@pytest.mark.parametrize("case", HEADER_CASES, ids=lambda c: c.id)
def test_header_problem(tmp_path, capsys, case):
    run_case(tmp_path, case, capsys)


# ---------------------------------------------------------------------------------------------
# one bad row (problems found while reading a file)

ROW_CASES = [
    # wrong number of fields
    Case(
        "too few fields",
        edit("codings.csv", 5, "R2,C3,supports"),
        [P("codings.csv", 5, None, "R2,C3,supports", "9 fields as in the header (found 3)")],
    ),
    Case(
        "too many fields",
        edit("codings.csv", 5, "R2,C3,supports,3,,,,,,extra"),
        [
            P(
                "codings.csv",
                5,
                None,
                "R2,C3,supports,3,,,,,,extra",
                "9 fields as in the header (found 10)",
            )
        ],
    ),
    # ids
    Case(
        "mechanism id with ;",
        edit("mechanisms.csv", 4, "M;3,Capacity,Perceived capacity,novel,"),
        [P("mechanisms.csv", 4, "mechanism_id", "M;3", ID)],
    ),
    Case(
        "source id with ;",
        edit("sources.csv", 3, "R2;R3,review,review,,,,Jones 2020,2020"),
        [P("sources.csv", 3, "source_id", "R2;R3", ID)],
    ),
    Case(
        "empty id",
        edit("cmocs.csv", 4, ",M2,Staff turnover,Faith,-,prior,,,,"),
        [P("cmocs.csv", 4, "cmoc_id", "", "a value for 'cmoc_id' (the cell is empty)")],
    ),
    Case(
        "empty required text",
        edit("cmocs.csv", 2, "C1,M1,,Collaboration,+,prior,,,reported,Review table 3"),
        [P("cmocs.csv", 2, "context", "", "a value for 'context' (the cell is empty)")],
    ),
    # vocabularies
    Case(
        "sign x",
        edit("cmocs.csv", 4, "C3,M2,Staff turnover,Faith,x,prior,,,,"),
        [P("cmocs.csv", 4, "sign", "x", "'+' or '-'")],
    ),
    Case(
        "sign word",
        edit("cmocs.csv", 4, "C3,M2,Staff turnover,Faith,negative,prior,,,,"),
        [P("cmocs.csv", 4, "sign", "negative", "'+' or '-'")],
    ),
    Case(
        "sign empty",
        edit("cmocs.csv", 4, "C3,M2,Staff turnover,Faith,,prior,,,,"),
        [P("cmocs.csv", 4, "sign", "", "a value for 'sign' (the cell is empty)")],
    ),
    Case(
        "cmoc origin",
        edit("cmocs.csv", 5, "C4,M2,Consistent leadership,Faith,+,new,,C3,reported,"),
        [P("cmocs.csv", 5, "origin", "new", "'prior' or 'novel' (empty means prior)")],
    ),
    Case(
        "mechanism origin",
        edit("mechanisms.csv", 3, "M2,Faith,Belief,Prior,cognitive"),
        [P("mechanisms.csv", 3, "origin", "Prior", "'prior' or 'novel' (empty means prior)")],
    ),
    Case(
        "stance",
        edit("codings.csv", 4, "R2,C1,against,1,,,,,"),
        [P("codings.csv", 4, "stance", "against", "'supports' or 'refutes'")],
    ),
    Case(
        "cmoc basis",
        edit("cmocs.csv", 2, "C1,M1,Shared vision,Collaboration,+,prior,,,guessed,"),
        [P("cmocs.csv", 2, "basis", "guessed", "'reported' or 'inferred' (or empty)")],
    ),
    Case(
        "coding basis",
        edit("codings.csv", 2, "R1,C1,supports,2,,,Reported,,"),
        [P("codings.csv", 2, "basis", "Reported", "'reported' or 'inferred' (or empty)")],
    ),
    # counts
    Case(
        "negative count",
        edit("codings.csv", 5, "R2,C3,supports,-1,,,,,"),
        [P("codings.csv", 5, "count", "-1", COUNT)],
    ),
    Case(
        "fractional count",
        edit("codings.csv", 5, "R2,C3,supports,2.5,,,,,"),
        [P("codings.csv", 5, "count", "2.5", COUNT)],
    ),
    Case(
        "non-numeric count",
        edit("codings.csv", 5, "R2,C3,supports,many,,,,,"),
        [P("codings.csv", 5, "count", "many", COUNT)],
    ),
    Case(
        "negative count_min",
        edit("codings.csv", 7, "review,M2,supports,,-2,4,inferred,,"),
        [P("codings.csv", 7, "count_min", "-2", COUNT_MIN)],
    ),
    Case(
        "non-numeric count_max",
        edit("codings.csv", 7, "review,M2,supports,,3,lots,inferred,,"),
        [P("codings.csv", 7, "count_max", "lots", COUNT_MAX)],
    ),
    # sources: weight, exposure, year
    *[
        Case(
            f"weight {v}",
            edit("sources.csv", 2, f"R1,review,review,,{v},,Smith 2019,2019"),
            [P("sources.csv", 2, "weight", v, WEIGHT)],
        )
        for v in ("0", "1.5", "abc", "-0.5", "nan")
    ],
    *[
        Case(
            f"exposure {v}",
            edit("sources.csv", 4, f"I1,interview,interviews,case study/Org A/P1,,{v},,"),
            [P("sources.csv", 4, "exposure", v, EXPOSURE)],
        )
        for v in ("0", "-3", "inf", "words")
    ],
    Case(
        "year",
        edit("sources.csv", 3, "R2,review,review,,,,Jones 2020,2020a"),
        [P("sources.csv", 3, "year", "2020a", YEAR)],
    ),
    Case(
        "empty rests_on",
        edit("actions.csv", 3, "A2,If leadership is consistent,,leadership"),
        [P("actions.csv", 3, "rests_on", "", "a value for 'rests_on' (the cell is empty)")],
    ),
    Case(
        "bad CSV quoting",
        edit("codings.csv", 5, 'R2,C3,"supports"x,3,,,,,'),
        [P("codings.csv", 5, None, None, "valid CSV (',' expected after '\"')")],
    ),
    Case(
        "several bad cells in one row",
        edit("codings.csv", 5, "R2,C3,maybe,many,,,guessed,,"),
        [
            P("codings.csv", 5, "basis", "guessed", "'reported' or 'inferred' (or empty)"),
            P("codings.csv", 5, "count", "many", COUNT),
            P("codings.csv", 5, "stance", "maybe", "'supports' or 'refutes'"),
        ],
    ),
]


@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: c.id)
def test_row_problem(tmp_path, capsys, case):
    run_case(tmp_path, case, capsys)


# ---------------------------------------------------------------------------------------------
# problems across rows and files (found after every file read cleanly)

CROSS_CASES = [
    # unknown ids
    Case(
        "unknown coding target",
        edit("codings.csv", 2, "R1,C9,supports,2,,,reported,,"),
        [P("codings.csv", 2, "target_id", "C9", TARGET)],
    ),
    Case(
        "unknown coding source",
        edit("codings.csv", 3, "X9,C2,supports,1,,,reported,,"),
        [P("codings.csv", 3, "source_id", "X9", SOURCE)],
    ),
    Case(
        "coding source a partial group name",
        edit("codings.csv", 12, "case study/Org,C2,supports,,1,3,,,"),
        [P("codings.csv", 12, "source_id", "case study/Org", SOURCE)],
    ),
    Case(
        "unknown action rests_on",
        edit("actions.csv", 3, "A2,If leadership is consistent,C4;C9,leadership"),
        [P("actions.csv", 3, "rests_on", "C9", "a cmoc_id or mechanism_id")],
    ),
    Case(
        "cmoc of an unknown mechanism",
        edit("cmocs.csv", 3, "C2,M9,M2,Performance,+,prior,,,inferred,"),
        [P("cmocs.csv", 3, "mechanism_id", "M9", "a mechanism_id defined in mechanisms.csv")],
    ),
    # duplicate ids
    Case(
        "duplicate mechanism",
        append("mechanisms.csv", "M2,Faith again,A duplicate,prior,"),
        [P("mechanisms.csv", 5, "mechanism_id", "M2", UNIQUE.format(3))],
    ),
    Case(
        "duplicate cmoc",
        append("cmocs.csv", "C1,M1,Another context,Another outcome,+,prior,,,,"),
        [P("cmocs.csv", 6, "cmoc_id", "C1", UNIQUE.format(2))],
    ),
    Case(
        "duplicate source",
        append("sources.csv", "I2,interview,interviews,,,,,"),
        [P("sources.csv", 8, "source_id", "I2", UNIQUE.format(5))],
    ),
    Case(
        "duplicate action",
        append("actions.csv", "A1,Another statement,C1,vision"),
        [P("actions.csv", 5, "action_id", "A1", UNIQUE.format(2))],
    ),
    Case(
        "cmoc id that is a mechanism id",
        append("cmocs.csv", "M2,M1,Context,Outcome,+,prior,,,,"),
        [P("cmocs.csv", 6, "cmoc_id", "M2", "an id not used by a mechanism")],
    ),
    # revises
    Case(
        "revises nowhere",
        edit("cmocs.csv", 5, "C4,M2,Consistent leadership,Faith,+,novel,,C9,reported,"),
        [P("cmocs.csv", 5, "revises", "C9", REVISES)],
    ),
    Case(
        "revises itself",
        edit("cmocs.csv", 5, "C4,M2,Consistent leadership,Faith,+,novel,,C4,reported,"),
        [P("cmocs.csv", 5, "revises", "C4", REVISES)],
    ),
    Case(
        "revises a mechanism",
        edit("cmocs.csv", 5, "C4,M2,Consistent leadership,Faith,+,novel,,M2,reported,"),
        [P("cmocs.csv", 5, "revises", "M2", REVISES)],
    ),
    # waves and groups
    Case(
        "wave not in evidence.toml",
        edit("sources.csv", 3, "R2,review,followup,,,,Jones 2020,2020"),
        [P("sources.csv", 3, "wave", "followup", WAVES)],
    ),
    Case(
        "wave with other capitals",
        edit("sources.csv", 3, "R2,review,Review,,,,Jones 2020,2020"),
        [P("sources.csv", 3, "wave", "Review", WAVES)],
    ),
    Case(
        "source id that is a wave label",
        append("sources.csv", "review,review,review,,,,,"),
        [P("sources.csv", 8, "source_id", "review", "an id that is not a wave")],
    ),
    Case(
        "group label that is a wave label",
        append("sources.csv", "I5,interview,interviews,review,,,,"),
        [
            P(
                "sources.csv",
                8,
                "group",
                "review",
                "a group label distinct from wave labels and source ids ('review')",
            )
        ],
    ),
    Case(
        "nested group label that is a wave label",
        append("sources.csv", "I5,interview,interviews,interviews/P9,,,,"),
        [
            P(
                "sources.csv",
                8,
                "group",
                "interviews/P9",
                "a group label distinct from wave labels and source ids ('interviews')",
            )
        ],
    ),
    Case(
        "group label that is a source id",
        append("sources.csv", "I5,interview,interviews,R1,,,,"),
        [
            P(
                "sources.csv",
                8,
                "group",
                "R1",
                "a group label distinct from wave labels and source ids ('R1')",
            )
        ],
    ),
    Case(
        "group path with an empty level",
        edit("sources.csv", 6, "I3,interview,interviews,case study//P2,,,,"),
        [
            P(
                "sources.csv",
                6,
                "group",
                "case study//P2",
                "group levels joined by '/', none empty",
            )
        ],
    ),
    # codings: counts across columns
    Case(
        "count with count_min and count_max",
        edit("codings.csv", 5, "R2,C3,supports,3,3,4,,,"),
        [P("codings.csv", 5, "count", "3", "either count or count_min/count_max, not both")],
    ),
    Case(
        "count with count_min",
        edit("codings.csv", 5, "R2,C3,supports,3,3,,,,"),
        [P("codings.csv", 5, "count", "3", "either count or count_min/count_max, not both")],
    ),
    Case(
        "count_min above count_max",
        edit("codings.csv", 7, "review,M2,supports,,4,3,inferred,,"),
        [P("codings.csv", 7, "count_max", "3", "count_max >= count_min (4)")],
    ),
    Case(
        "count_max without count_min",
        edit("codings.csv", 7, "review,M2,supports,,,4,inferred,,"),
        [P("codings.csv", 7, "count_min", None, NO_COUNT)],
    ),
    Case(
        "no count at all",
        edit("codings.csv", 5, "R2,C3,supports,,,,,,"),
        [P("codings.csv", 5, "count", None, NO_COUNT)],
    ),
    Case(
        "duplicate coding row",
        append("codings.csv", "R1,C1,supports,1,,,,,"),
        [
            P(
                "codings.csv",
                17,
                "source_id",
                "R1",
                "one row per source, target and stance (also on line 2)",
            )
        ],
    ),
    Case(
        "wave label coding row for a wave without sources",
        {
            **edit("evidence.toml", 6, 'waves = ["review", "interviews", "followup"]'),
            **append("codings.csv", "followup,M1,supports,1,,,,,"),
        },
        [
            P(
                "codings.csv",
                17,
                "source_id",
                "followup",
                "a wave with at least one source in sources.csv",
            )
        ],
    ),
    Case(
        "banded row inside a total",
        append("codings.csv", "case study,C2,supports,5,,,,,"),
        [
            P(
                "codings.csv",
                12,
                "count",
                None,
                "an exact count: this row lies inside the total 'case study' on line 17, "
                "which can only be split by exact counts",
            )
        ],
    ),
    Case(
        "total below the rows inside it",
        append("codings.csv", "interviews,C4,supports,2,,,,,"),
        [P("codings.csv", 17, "count", "2", "a total at least the sum of the rows inside it (3)")],
    ),
    Case(
        "banded total below the rows inside it",
        append("codings.csv", "interviews,C4,supports,,1,2,,,"),
        [
            P(
                "codings.csv",
                17,
                "count_max",
                "2",
                "a total at least the sum of the rows inside it (3)",
            )
        ],
    ),
    Case(
        "totals that cross",
        {
            **append("sources.csv", "R3,review,review,stakeholder/Reviewer,,,,"),
            **append("codings.csv", "interviews,C1,supports,,1,,,,"),
        },
        [
            P(
                "codings.csv",
                11,
                "source_id",
                "stakeholder",
                "rows for one target that nest or are disjoint (it overlaps 'interviews' on "
                "line 17)",
            ),
            P(
                "codings.csv",
                17,
                "source_id",
                "interviews",
                "rows for one target that nest or are disjoint (it overlaps 'stakeholder' on "
                "line 11)",
            ),
        ],
    ),
]


@pytest.mark.parametrize("case", CROSS_CASES, ids=lambda c: c.id)
def test_cross_problem(tmp_path, capsys, case):
    run_case(tmp_path, case, capsys)


def test_nested_exact_rows_inside_a_total_are_fine(tmp_path):
    base = load_evidence(
        make_base(tmp_path, **append("codings.csv", "interviews,C4,supports,3,,,,,"))
    )
    assert len(base.codings) == 16


# ---------------------------------------------------------------------------------------------
# encodings


def latin1(name: str, old: str, new: str) -> dict[str, bytes]:
    return {name: BASE_FILES[name].replace(old, new, 1).encode("latin-1")}


ENCODING_CASES = [
    Case(
        "sources.csv in latin-1",
        latin1("sources.csv", "Jones 2020", "Caf\xe9 2020"),
        [
            P(
                "sources.csv",
                3,
                None,
                r"\xe9 20",
                "UTF-8 text (undecodable byte at character 24; save the file as UTF-8)",
            )
        ],
    ),
    Case(
        "codings.csv in latin-1 at the end",
        latin1("codings.csv", "I2,C3,refutes,2,,,,,", "I2,C3,refutes,2,,,,,na\xefve"),
        [
            P(
                "codings.csv",
                16,
                None,
                r"\xefve\n",
                "UTF-8 text (undecodable byte at character 23; save the file as UTF-8)",
            )
        ],
    ),
    Case(
        "evidence.toml in latin-1",
        latin1("evidence.toml", 'title = "A tiny', 'title = "Caf\xe9 tiny'),
        [
            P(
                "evidence.toml",
                3,
                None,
                r"\xe9 ti",
                "UTF-8 text (undecodable byte at character 13; save the file as UTF-8)",
            )
        ],
    ),
]


@pytest.mark.parametrize("case", ENCODING_CASES, ids=lambda c: c.id)
def test_not_utf8(tmp_path, capsys, case):
    run_case(tmp_path, case, capsys)


def test_utf8_with_bom_and_crlf_is_fine(tmp_path):
    files = {
        name: "\ufeff" + BASE_FILES[name].replace("\n", "\r\n")
        for name in ("sources.csv", "codings.csv")
    }
    base = load_evidence(make_base(tmp_path, **files))
    assert list(base.sources.index) == ["R1", "R2", "I1", "I2", "I3", "I4"]
    assert list(base.codings["line"]) == list(range(2, 17))


def test_crlf_keeps_line_numbers(tmp_path, capsys):
    text = replace_line(BASE_FILES["codings.csv"], 5, "R2,C3,supports,many,,,,,")
    case = Case(
        "crlf",
        {"codings.csv": text.replace("\n", "\r\n")},
        [P("codings.csv", 5, "count", "many", COUNT)],
    )
    run_case(tmp_path, case, capsys)


def test_blank_lines_keep_line_numbers(tmp_path, capsys):
    lines = BASE_FILES["codings.csv"].splitlines()
    lines[4] = "R2,C3,supports,many,,,,,"  # line 5
    text = "\n".join([*lines[:2], "", *lines[2:]]) + "\n"  # a blank line 3 pushes it to 6
    case = Case("blank", {"codings.csv": text}, [P("codings.csv", 6, "count", "many", COUNT)])
    run_case(tmp_path, case, capsys)


# ---------------------------------------------------------------------------------------------
# evidence.toml

TOML = BASE_FILES["evidence.toml"]

WAVES_EXPECTED = 'a list of wave labels in order of arrival (waves = ["review", ...])'
TOP_KEYS = (
    "only the keys name, title, citation, format, waves, thresholds, classification, "
    "confidence, group_levels, recording, nesting (unknown key)"
)

TOML_CASES = [
    Case(
        "unknown format",
        edit("evidence.toml", 5, "format = 2"),
        [
            P(
                "evidence.toml",
                5,
                "format",
                "2",
                "a format this cmoc reads (1); upgrade cmoc or convert the evidence base",
            )
        ],
    ),
    Case(
        "missing waves",
        {"evidence.toml": TOML.replace('waves = ["review", "interviews"]\n', "")},
        [P("evidence.toml", None, "waves", None, WAVES_EXPECTED + " (missing)")],
    ),
    Case(
        "empty waves",
        edit("evidence.toml", 6, "waves = []"),
        [
            P(
                "evidence.toml",
                6,
                "waves",
                "[]",
                WAVES_EXPECTED,
            )
        ],
    ),
    Case(
        "thresholds not increasing",
        edit("evidence.toml", 11, "moderate = 6"),
        [
            P(
                "evidence.toml",
                9,
                "thresholds",
                None,
                "thresholds must increase: limited < moderate < significant",
            )
        ],
    ),
    Case(
        "threshold below 1",
        edit("evidence.toml", 10, "limited = 0"),
        [
            P(
                "evidence.toml",
                10,
                "thresholds.limited",
                "0",
                "Input should be greater than or equal to 1",
            )
        ],
    ),
    Case(
        "unknown key",
        edit("evidence.toml", 8, "colour = 1"),
        [P("evidence.toml", 8, "colour", "1", TOP_KEYS)],
    ),
    Case(
        "unknown key in a table",
        append("evidence.toml", "colour = 1"),
        [
            P(
                "evidence.toml",
                13,
                "thresholds.colour",
                "1",
                "only the keys limited, moderate, significant (unknown key)",
            )
        ],
    ),
]


@pytest.mark.parametrize("case", TOML_CASES, ids=lambda c: c.id)
def test_toml_problem(tmp_path, capsys, case):
    run_case(tmp_path, case, capsys)


def test_malformed_toml(tmp_path, capsys):
    directory = make_base(tmp_path, **edit("evidence.toml", 3, "title = A tiny evidence base"))
    [problem] = problems_of(directory)
    assert (problem.file, problem.column, problem.value) == ("evidence.toml", None, None)
    assert problem.expected == "valid TOML (Invalid value (at line 3, column 9))"
    check_cli(directory, [problem], capsys)


def test_malformed_toml_names_its_line(tmp_path):
    directory = make_base(tmp_path, **edit("evidence.toml", 3, "title = A tiny evidence base"))
    [problem] = problems_of(directory)
    assert problem.line == 3


def test_duplicate_wave_labels(tmp_path, capsys):
    directory = make_base(tmp_path, **edit("evidence.toml", 6, 'waves = ["review", "review"]'))
    [problem] = problems_of(directory)
    assert problem.file == "evidence.toml"
    assert problem.expected == "distinct wave labels ('review' appears twice)"
    check_cli(directory, [problem], capsys)


def test_duplicate_wave_labels_named_in_place(tmp_path):
    directory = make_base(tmp_path, **edit("evidence.toml", 6, 'waves = ["review", "review"]'))
    [problem] = problems_of(directory)
    assert (problem.line, problem.column) == (6, "waves")
    assert problem.value is not None and "review" in problem.value


# ---------------------------------------------------------------------------------------------
# every problem at once


def test_collects_read_problems_from_every_file(tmp_path, capsys):
    files = {
        **edit("evidence.toml", 5, "format = 2"),
        **edit("mechanisms.csv", 3, "M2,Faith,Belief,old,cognitive"),
        **edit("cmocs.csv", 4, "C3,M2,Staff turnover,Faith,x,prior,,,,"),
        **edit("sources.csv", 2, "R1,review,review,,0,,Smith 2019,2019"),
        "codings.csv": replace_line(
            replace_line(BASE_FILES["codings.csv"], 5, "R2,C3,supports,many,,,,,"),
            9,
            "interviews,M3,supports",
        ),
    }
    directory = make_base(tmp_path, **files)
    problems = problems_of(directory)
    assert [(p.file, p.line, p.column) for p in problems] == [
        ("cmocs.csv", 4, "sign"),
        ("codings.csv", 5, "count"),
        ("codings.csv", 9, None),
        ("evidence.toml", 5, "format"),
        ("mechanisms.csv", 3, "origin"),
        ("sources.csv", 2, "weight"),
    ]
    assert problems == sorted(problems, key=lambda p: (p.file, p.line or 0))
    err = check_cli(directory, problems, capsys)
    assert err.startswith("6 problems in the evidence:\n")


def test_collects_cross_problems_from_every_file(tmp_path, capsys):
    files = {
        **append("mechanisms.csv", "M1,Trust again,A duplicate,prior,"),
        **edit("cmocs.csv", 5, "C4,M2,Consistent leadership,Faith,+,novel,,C9,reported,"),
        **edit("sources.csv", 3, "R2,review,followup,,,,Jones 2020,2020"),
        **edit("actions.csv", 3, "A2,If leadership is consistent,C4;M9,leadership"),
        "codings.csv": with_line(
            replace_line(BASE_FILES["codings.csv"], 2, "R1,C9,supports,2,,,reported,,"),
            "R2,C3,supports,1,,,,,",
        ),
    }
    directory = make_base(tmp_path, **files)
    problems = problems_of(directory)
    assert problems == [
        P("actions.csv", 3, "rests_on", "M9", "a cmoc_id or mechanism_id"),
        P("cmocs.csv", 5, "revises", "C9", REVISES),
        P("codings.csv", 2, "target_id", "C9", TARGET),
        P(
            "codings.csv",
            17,
            "source_id",
            "R2",
            "one row per source, target and stance (also on line 5)",
        ),
        P("mechanisms.csv", 5, "mechanism_id", "M1", UNIQUE.format(2)),
        P("sources.csv", 3, "wave", "followup", WAVES),
    ]
    check_cli(directory, problems, capsys)


def test_error_message_lists_every_problem(tmp_path):
    files = {
        **edit("cmocs.csv", 4, "C3,M2,Staff turnover,Faith,x,prior,,,,"),
        **edit("codings.csv", 5, "R2,C3,supports,2.5,,,,,"),
    }
    with pytest.raises(EvidenceError) as info:
        load_evidence(make_base(tmp_path, **files))
    assert str(info.value) == (
        "2 problems in the evidence:\n"
        "  cmocs.csv:4, column 'sign', value 'x': '+' or '-'\n"
        "  codings.csv:5, column 'count', value '2.5': " + COUNT
    )


def test_problem_text_shortens_long_values():
    problem = P("cmocs.csv", 2, "context", "x" * 100, "something shorter")
    assert (
        str(problem) == f"cmocs.csv:2, column 'context', value '{'x' * 57}...': something shorter"
    )
    assert str(P("sources.csv", None, None, None, MISSING)) == f"sources.csv: {MISSING}"


# ---------------------------------------------------------------------------------------------
# numbers: plain digits only, counts bounded (issue 13)

BIG = "99999999999999999999"


@pytest.mark.parametrize(
    ("cell", "column", "line", "expected"),
    [
        (BIG, "count", "R1,C1,supports,{},,,reported,,", COUNT),
        ("1000000001", "count", "R1,C1,supports,{},,,reported,,", COUNT),
        ("1_0", "count", "R1,C1,supports,{},,,reported,,", COUNT),
        ("+5", "count", "R1,C1,supports,{},,,reported,,", COUNT),
        ("\u0663", "count", "R1,C1,supports,{},,,reported,,", COUNT),  # Arabic-Indic three
        ("0x10", "count", "R1,C1,supports,{},,,reported,,", COUNT),
        ("1.0", "count", "R1,C1,supports,{},,,reported,,", COUNT),
        ("1e3", "count", "R1,C1,supports,{},,,reported,,", COUNT),
        ("\u00b2", "count", "R1,C1,supports,{},,,reported,,", COUNT),  # superscript two
        ("1 0", "count", "R1,C1,supports,{},,,reported,,", COUNT),
        ("9" * 5000, "count", "R1,C1,supports,{},,,reported,,", COUNT),
        (BIG, "count_min", "review,M2,supports,,{},,inferred,,", COUNT_MIN),
        ("1_0", "count_min", "review,M2,supports,,{},,inferred,,", COUNT_MIN),
        (BIG, "count_max", "review,M2,supports,,3,{},inferred,,", COUNT_MAX),
    ],
)
def test_whole_numbers_are_plain_digits_and_bounded(tmp_path, capsys, cell, column, line, expected):
    row = line.format(cell)
    at = 2 if column == "count" else 7
    case = Case(
        column, edit("codings.csv", at, row), [P("codings.csv", at, column, cell, expected)]
    )
    run_case(tmp_path, case, capsys)


@pytest.mark.parametrize(
    "cell", [BIG, "1_0", "+2019", "\u0662\u0660\u0661\u0669", "2019.0", "10000"]
)
def test_year_is_plain_digits_and_bounded(tmp_path, capsys, cell):
    files = edit("sources.csv", 2, f"R1,review,review,,0.8,,Smith 2019,{cell}")
    run_case(tmp_path, Case("year", files, [P("sources.csv", 2, "year", cell, YEAR)]), capsys)


@pytest.mark.parametrize(
    ("weight", "exposure"),
    [("1_0", None), ("nan", None), ("inf", None), ("1e-1", None), ("+0.5", None), ("0x1", None)]
    + [(None, c) for c in ("1_200", "nan", "inf", "-inf", "1e3", "+5", "\u0663", "9" * 400)],
)
def test_weight_and_exposure_are_plain_decimals(tmp_path, capsys, weight, exposure):
    cells = ["I1", "interview", "interviews", "case study/Org A/P1", weight or "", exposure or "1"]
    files = edit("sources.csv", 4, ",".join([*cells, "", ""]))
    column, value = ("weight", weight) if weight else ("exposure", exposure)
    expected = WEIGHT if weight else EXPOSURE
    run_case(tmp_path, Case(column, files, [P("sources.csv", 4, column, value, expected)]), capsys)


def test_largest_count_and_plain_numbers_load(tmp_path):
    files = {
        **edit("codings.csv", 2, "R1,C1,supports, 1000000000 ,,,reported,,"),
        **edit("sources.csv", 4, "I1,interview,interviews,case study/Org A/P1,.5,3.,,0099"),
    }
    base = load_evidence(make_base(tmp_path, **files))
    assert base.codings.loc[0, ["count_min", "count_max"]].tolist() == [10**9, 10**9]
    assert base.sources.loc["I1", ["weight", "exposure", "year"]].tolist() == [0.5, 3.0, 99]


# ---------------------------------------------------------------------------------------------
# wave labels (issue 13): no separators, control characters, symbols or leading dot

LABEL_RULE = (
    "a wave label of up to 64 letters (any script), digits, spaces and punctuation, without "
    "'/', '\\', ';', a leading '.', control characters or symbols"
)


def with_wave(label: str) -> dict[str, str]:
    """The base with the interviews wave renamed ``label`` in evidence.toml only."""
    toml = TOML.replace('"interviews"]', json.dumps(label, ensure_ascii=False) + "]")
    return {"evidence.toml": toml}


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("\U0001f389", "U+1F389 PARTY POPPER is a symbol"),
        ("w/../../../x", "'/' is a path separator"),
        ("w\\x", "'\\' is a path separator"),
        ("a;b", "';' is the id separator"),
        (".hidden", "it begins with '.'"),
        ("..", "it begins with '.'"),
        (" interviews", "it begins or ends with a space"),
        ("", "it is empty"),
        ("x" * 65, "it has 65 characters"),
        ("wave\u0007", "U+0007 is a control, formatting or unassigned character"),
        ("a\u200db", "U+200D ZERO WIDTH JOINER is a control, formatting or unassigned character"),
        ("a\u00a0b", "U+00A0 NO-BREAK SPACE is a space other than ' '"),
        ("$x$", "U+0024 DOLLAR SIGN is a symbol"),
        ("a|b", "U+007C VERTICAL LINE is a symbol"),
    ],
)
def test_bad_wave_label_in_evidence_toml(tmp_path, capsys, label, reason):
    problem = P("evidence.toml", 6, "waves[2]", label, f"{LABEL_RULE} ({reason})")
    run_case(tmp_path, Case(label, with_wave(label), [problem]), capsys)


def test_bad_wave_label_named_on_its_own_line(tmp_path, capsys):
    toml = TOML.replace(
        'waves = ["review", "interviews"]', 'waves = [\n  "review",\n  "\U0001f389",\n]'
    )
    expected = f"{LABEL_RULE} (U+1F389 PARTY POPPER is a symbol)"
    case = Case(
        "multiline",
        {"evidence.toml": toml},
        [P("evidence.toml", 8, "waves[2]", "\U0001f389", expected)],
    )
    run_case(tmp_path, case, capsys)


def test_wave_label_that_is_not_a_string(tmp_path, capsys):
    files = edit("evidence.toml", 6, 'waves = ["review", 2]')
    [problem] = problems_of(make_base(tmp_path, **files))
    assert (problem.file, problem.line, problem.column, problem.value) == (
        "evidence.toml",
        6,
        "waves[2]",
        "2",
    )
    assert problem.expected.startswith("a wave label in quotes")


def test_bad_wave_label_in_sources_csv(tmp_path, capsys):
    files = edit("sources.csv", 4, "I1,interview,w/../x,case study/Org A/P1,,1200,,")
    expected = f"{LABEL_RULE} ('/' is a path separator)"
    run_case(
        tmp_path, Case("src", files, [P("sources.csv", 4, "wave", "w/../x", expected)]), capsys
    )


@pytest.mark.parametrize(
    "label", ["entrevistas-año", "Интервью 2", "インタビュー", "wave 2 (2019–2020)", "R&D: round 1"]
)
def test_wave_labels_in_any_script_are_fine(tmp_path, label):
    files = {
        "evidence.toml": TOML.replace('"interviews"]', f'"{label}"]'),
        "sources.csv": BASE_FILES["sources.csv"].replace(",interviews,", f',"{label}",'),
        "codings.csv": BASE_FILES["codings.csv"].replace("\ninterviews,", f'\n"{label}",'),
    }
    base = load_evidence(make_base(tmp_path, **files))
    assert base.waves == ["review", label]
    assert (base.sources["wave"] == label).sum() == 4
    assert (base.codings["source_id"] == label).sum() == 2


# ---------------------------------------------------------------------------------------------
# the ledger (issue 13): checked by every load; garbled is a problem, edits and gaps are notes

LEDGER_HEAD = "entry,wave,recorded_at,file,rows,rows_sha256,batch,note"
SHA = "0" * 64
NO_LEDGER = (
    "note: no ledger.csv: edits to earlier waves cannot be detected (this base has 2 waves; "
    "`cmoc update` records every wave in a new ledger.csv when it adds the next one)"
)


def ledger_of(directory: Path) -> str:
    """A true ledger.csv for the base in ``directory`` (both waves recorded)."""
    from cmoc.evidence.ledger import ledger_text, record_waves

    base = load_evidence(directory)
    return ledger_text(record_waves(base, recorded_at="2026-01-02T03:04:05+00:00", note="test"))


def with_ledger(tmp_path: Path, text: str | bytes, **files) -> Path:
    directory = make_base(tmp_path, **files)
    path = directory / "ledger.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return directory


GOOD = f"1,review,2026-01-02T03:04:05+00:00,sources.csv,2,{SHA},,"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            b"",
            P(
                "ledger.csv",
                1,
                None,
                None,
                f"a header row ({LEDGER_HEAD.rsplit(',', 2)[0].replace(',', ', ')})",
            ),
        ),
        (
            f'{LEDGER_HEAD}\n1,"review,2026\n',
            P("ledger.csv", 2, None, None, "valid CSV (unexpected end of data)"),
        ),
        (
            "entry,wave,recorded_at,file,rows\n1,review,2026-01-02,sources.csv,2\n",
            P("ledger.csv", 1, "rows_sha256", None, "this required column (missing)"),
        ),
        (
            f"{LEDGER_HEAD},colour\n{GOOD},red\n",
            P(
                "ledger.csv",
                1,
                "colour",
                "colour",
                "only the columns entry, wave, recorded_at, file, rows, rows_sha256, batch, note "
                "(stray column 9)",
            ),
        ),
        (
            f"{LEDGER_HEAD}\n{GOOD.replace('1,', 'x,', 1)}\n",
            P(
                "ledger.csv",
                2,
                "entry",
                "x",
                "the entry's number: a whole number >= 1 in the digits 0-9",
            ),
        ),
        (
            f"{LEDGER_HEAD}\n{GOOD.replace(',2,', ',two,')}\n",
            P(
                "ledger.csv",
                2,
                "rows",
                "two",
                "the number of rows: a whole number >= 0 in the digits 0-9",
            ),
        ),
        (
            f"{LEDGER_HEAD}\n{GOOD.replace(',2,', f',{BIG},')}\n",
            None,  # a huge row count is a number (a ledger is not bounded), then a wrong one
        ),
        (
            f"{LEDGER_HEAD}\n{GOOD.replace(SHA, 'abc')}\n",
            P("ledger.csv", 2, "rows_sha256", "abc", "a SHA-256 digest (64 characters 0-9, a-f)"),
        ),
        (
            f"{LEDGER_HEAD}\n{GOOD.replace('sources.csv', 'cmocs.csv')}\n",
            P("ledger.csv", 2, "file", "cmocs.csv", "'sources.csv' or 'codings.csv'"),
        ),
        (
            f"{LEDGER_HEAD}\n{GOOD.replace('2026-01-02T03:04:05+00:00', 'yesterday')}\n",
            P(
                "ledger.csv",
                2,
                "recorded_at",
                "yesterday",
                "an ISO 8601 time (2026-01-31T12:00:00+00:00)",
            ),
        ),
        (
            f"{LEDGER_HEAD}\n{GOOD}\n{GOOD.replace('1,', '3,', 1)}\n",
            P(
                "ledger.csv",
                3,
                "entry",
                "3",
                "entries numbered 1, 2, 3, ... in order (2 here); the ledger is only appended to",
            ),
        ),
        (
            b"entry,wave\xff\n",
            P(
                "ledger.csv",
                1,
                None,
                "\\xff\\n",
                "UTF-8 text (undecodable byte at character 11; save the file as UTF-8)",
            ),
        ),
    ],
    ids=lambda x: None,
)
def test_garbled_ledger_is_a_problem(tmp_path, capsys, text, problem):
    directory = with_ledger(tmp_path, text)
    if problem is None:  # parses: then it is an edit (rows differ), a warning
        assert any(n.startswith("WARNING: ") for n in load_evidence(directory).notes)
        return
    assert problems_of(directory) == [problem]
    check_cli(directory, [problem], capsys)


def test_garbled_ledger_stops_every_command(tmp_path, capsys):
    directory = with_ledger(tmp_path, "entry,wave\nx,review\n")
    before = snapshot(directory)
    capsys.readouterr()
    assert main(["fit", str(directory), "--draws", "1", "--tune", "1", "--chains", "1"]) == 2
    err = capsys.readouterr().err
    assert "ledger.csv:1, column 'recorded_at': this required column (missing)" in err
    assert "Traceback" not in err
    assert snapshot(directory) == before and not (directory / ".cmoc").exists()


def test_true_ledger_gives_no_note(tmp_path, capsys):
    directory = make_base(tmp_path)
    (directory / "ledger.csv").write_text(ledger_of(directory))
    assert load_evidence(directory).notes == ()
    capsys.readouterr()
    assert main(["validate", str(directory)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "ledger: 2 waves recorded (interviews, review)" in out


def test_edited_earlier_wave_is_a_warning_for_every_command(tmp_path, capsys):
    directory = make_base(tmp_path)
    (directory / "ledger.csv").write_text(ledger_of(directory))
    text = replace_line(BASE_FILES["codings.csv"], 2, "R1,C1,supports,3,,,reported,,")
    (directory / "codings.csv").write_text(text)
    warning = (
        "WARNING: codings.csv: the rows of wave 'review' changed since the ledger recorded them "
        "(entry 2, 2026-01-02T03:04:05+00:00: 6 rows, now 6)"
    )
    assert load_evidence(directory).notes == (warning,)
    before = snapshot(directory)
    capsys.readouterr()
    assert main(["validate", str(directory)]) == 0  # a warning, as before: exit status 0
    out, err = capsys.readouterr()
    assert err == warning + "\n"
    assert warning in out.splitlines() and out.endswith("valid\n")
    # another command that loads the base shows it too (here before refusing for want of fits)
    assert main(["summary", str(directory), "--changes"]) == 2
    assert warning in capsys.readouterr().err.splitlines()
    assert snapshot(directory) == before


def test_deleted_ledger_is_a_note_for_every_command(tmp_path, capsys):
    directory = make_base(tmp_path)
    assert load_evidence(directory).notes == (NO_LEDGER,)
    capsys.readouterr()
    assert main(["summary", str(directory), "--changes"]) == 2
    assert NO_LEDGER in capsys.readouterr().err.splitlines()


def test_one_wave_needs_no_ledger(tmp_path):
    files = {
        "evidence.toml": TOML.replace('"review", "interviews"', '"review"'),
        "sources.csv": "\n".join(BASE_FILES["sources.csv"].splitlines()[:3]) + "\n",
        "codings.csv": "\n".join(BASE_FILES["codings.csv"].splitlines()[:7]) + "\n",
        "actions.csv": None,
    }
    assert load_evidence(make_base(tmp_path, **files)).notes == ()


def test_wave_missing_from_the_ledger_is_a_note(tmp_path):
    directory = make_base(tmp_path)
    lines = ledger_of(directory).splitlines()
    (directory / "ledger.csv").write_text("\n".join(lines[:3]) + "\n")
    assert load_evidence(directory).notes == (
        "note: ledger.csv does not record wave 'interviews': edits to it cannot be detected "
        "(waves are recorded by `cmoc update`)",
    )
    (directory / "ledger.csv").write_text(lines[0] + "\n")
    assert (
        load_evidence(directory)
        .notes[0]
        .startswith("note: ledger.csv does not record waves 'review', 'interviews'")
    )


def test_ledger_digest_in_chunks_is_the_digest_of_all_rows(tmp_path, monkeypatch):
    import hashlib

    from cmoc.evidence import ledger

    base = load_evidence(make_base(tmp_path))
    for chunk in (1, 2, 5, 1000):
        monkeypatch.setattr(ledger, "_DIGEST_CHUNK", chunk)
        for wave in base.waves:
            for frame in ledger._wave_rows(base, wave).values():
                records = json.loads(frame.reset_index().to_json(orient="records"))
                whole = json.dumps(records, sort_keys=True).encode()
                assert ledger._digest(frame) == hashlib.sha256(whole).hexdigest()


# ---------------------------------------------------------------------------------------------
# the nesting check: linear, and the same problems as the pairwise check it replaced


def _pairwise_overlaps(by_target) -> list[Problem]:
    """The quadratic check as it was before issue 13 (every total against every row)."""
    out = []
    for rows in by_target.values():
        aggregates = [x for x in rows if len(x[2]) > 1 or x[1].source_id != next(iter(x[2]))]
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


def _random_rows(draw):
    from hypothesis import strategies as st

    from cmoc.evidence.schema import CmocRow, CodingRow, EvidenceConfig, MechanismRow, SourceRow

    waves = ["w1", "w2", "w3"]
    n = draw(st.integers(1, 9))
    # group paths from a small alphabet (labels may shadow waves and source ids, as users can)
    part = st.sampled_from(["a", "b", "c", "w1", "S1"])
    rows = {"mechanisms": [(2, MechanismRow(mechanism_id="M", name="m", definition="d"))]}
    rows["cmocs"] = [
        (
            2 + i,
            CmocRow(
                cmoc_id=c, mechanism_id="M", context="x", outcome="y", sign="+", origin="prior"
            ),
        )
        for i, c in enumerate(["C1", "C2"])
    ]
    sources = []
    for j in range(n):
        path = draw(st.lists(part, max_size=3))
        sources.append(
            (
                2 + j,
                SourceRow(
                    source_id=f"S{j}",
                    kind="k",
                    wave=draw(st.sampled_from(waves)),
                    group="/".join(path) or None,
                ),
            )
        )
    rows["sources"] = sources
    labels = [f"S{j}" for j in range(n)] + waves
    for _, s in sources:
        if s.group:
            ps = s.group.split("/")
            labels += ["/".join(ps[: k + 1]) for k in range(len(ps))]
    codings = []
    for i in range(draw(st.integers(0, 14))):
        exact = draw(st.booleans())
        lo = draw(st.integers(0, 6))
        hi = draw(st.one_of(st.none(), st.integers(lo, 9)))
        codings.append(
            (
                2 + i,
                CodingRow(
                    source_id=draw(st.sampled_from(sorted(set(labels)))),
                    target_id=draw(st.sampled_from(["C1", "C2"])),
                    stance="supports",
                    count=lo if exact else None,
                    count_min=None if exact else lo,
                    count_max=None if exact else hi,
                ),
            )
        )
    rows["codings"] = codings
    rows["actions"] = None
    config = EvidenceConfig(name="x", title="x", citation="x", format=1, waves=waves)
    return config, rows


def test_nesting_check_matches_the_pairwise_check(monkeypatch):
    from collections import Counter

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from cmoc.evidence import load

    real = load._overlaps
    compared = []

    def spy(by_target, index):
        new = real(by_target, index)
        assert Counter(new) == Counter(_pairwise_overlaps(by_target))
        compared.append(len(new))
        return new

    monkeypatch.setattr(load, "_overlaps", spy)

    @settings(
        max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(st.data())
    def check(data):
        config, rows = _random_rows(data.draw)
        load._cross_check(config, rows)

    check()
    assert len(compared) == 300 and sum(1 for n in compared if n) > 30  # problems were compared


def test_unreadable_file_is_a_problem(tmp_path, capsys, monkeypatch):
    directory = make_base(tmp_path)
    read_bytes = Path.read_bytes

    def refuse(self):
        if self.name == "codings.csv":  # as chmod 0 would (tests may run as root)
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    problem = P("codings.csv", None, None, None, "a readable file (Permission denied)")
    before = snapshot(directory)
    with monkeypatch.context() as m:
        m.setattr(Path, "read_bytes", refuse)
        assert problems_of(directory) == [problem]
        capsys.readouterr()
        assert main(["validate", str(directory)]) == 2
    assert capsys.readouterr().err == f"1 problem in the evidence:\n  {problem}\n"
    assert snapshot(directory) == before
