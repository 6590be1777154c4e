"""Bad evidence: every kind of bad input is named (file, line, column, value, expected).

Each case writes the tiny base of ``evidence_fixtures`` with one file changed, then checks the
exact list of problems from :func:`load_evidence` and that ``cmoc validate`` reports the same
problems on stderr with exit status 2, nothing on stdout, no traceback and nothing written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from cmoc.cli import main
from cmoc.evidence import EvidenceError, Problem, load_evidence, validate_evidence
from evidence_fixtures import BASE_FILES, make_base, replace_line, with_line

MISSING = "the file exists (it is missing)"
EMPTY = "at least one row (the file is empty)"
UNIQUE = "a unique id (first used on line {})"
COUNT = "a whole number >= 0 (or empty when count_min/count_max are given)"
NO_COUNT = "a count, or count_min (with count_max, empty for unbounded)"
WEIGHT = "a number in (0, 1] (an appraisal weight), or empty for 1"
EXPOSURE = "a positive number (amount of material), or empty for 1"
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
        [P("codings.csv", 7, "count_min", "-2", "a whole number >= 0")],
    ),
    Case(
        "non-numeric count_max",
        edit("codings.csv", 7, "review,M2,supports,,3,lots,inferred,,"),
        [P("codings.csv", 7, "count_max", "lots", "a whole number >= 0, or empty for unbounded")],
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
        [P("sources.csv", 3, "year", "2020a", "a whole number (a year), or empty")],
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
    "confidence, group_levels (unknown key)"
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
