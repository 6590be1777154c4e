"""Reviewers' judgements and the GRADE-CERQual tables (issue 17, deliverables 4 and 5).

``judgements.csv`` is validated like every file; a judgement leaves the evidence hash (and so
every fit) alone; the tables show the computed value, the judgement and its reason side by
side; a judged component changes the grade by CERQual's rule; the methods count judgements.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from cmoc.analyses.inference.confidence import grade
from cmoc.cli import main
from cmoc.evidence import EvidenceError, load_evidence
from cmoc.reports.cerqual import cerqual_rows
from cmoc.reports.trail import evidence_trail
from conftest import IOC, mocked_report
from test_links_planted import PLANTED, draw_web_base

HEADER = "target_id,component,level,reason,reviewer,date\n"


@pytest.fixture
def ioc(tmp_path):
    directory = tmp_path / "ioc"
    shutil.copytree(IOC, directory, ignore=shutil.ignore_patterns(".cmoc"))
    return directory


def test_bad_judgements_are_named_by_line_and_column(ioc, capsys):
    (ioc / "judgements.csv").write_text(
        HEADER
        + "P1-11,adequacy,minor,two papers,AB,2026-12-05\n"
        + "P1-11,adequacy,none,again,AB,2026-12-05\n"
        + "ZZ,coherence,high,x,AB,2026-12-05\n"
        + "M10->M05,confidence,serious,x,AB,2026-12-05\n"
    )
    with pytest.raises(EvidenceError) as err:
        load_evidence(ioc)
    found = {(p.line, p.column, p.value) for p in err.value.problems}
    assert found == {
        (3, "component", "adequacy"),  # one judgement per target and component
        (4, "level", "high"),  # a grade is not a level of concern
        (4, "target_id", "ZZ"),
        (5, "level", "serious"),  # nor the reverse
    }
    (ioc / "judgements.csv").write_text(HEADER + "P1-11,adequacy,minor,x,AB,yesterday\n")
    assert main(["validate", str(ioc)]) == 2
    said = capsys.readouterr()
    assert "judgements.csv:2, column 'date', value 'yesterday'" in said.err + said.out


def test_judgements_leave_the_evidence_hash_alone(ioc):
    before = load_evidence(ioc).evidence_hash
    (ioc / "judgements.csv").write_text(
        HEADER
        + "M10->M05,confidence,high,x,AB,2026-12-05\n"
        + "P3-R01,adequacy,minor,x,AB,2026-12-05\n"
    )
    base = load_evidence(ioc)
    assert base.evidence_hash == before and len(base.judgements) == 2
    # after the review, the novel P3-R01 is not yet a target: its judgement waits; a link's
    # judgement is kept with both its ends
    assert base.up_to("review").judgements["target_id"].tolist() == ["M10->M05"]


def _summary(**over) -> pd.DataFrame:
    row = {
        "target_id": "C1",
        "target_type": "cmoc",
        "status": "inconclusive",
        "breadth_mean": 0.1,
        "breadth_lo": 0.05,
        "breadth_hi": 0.2,
        "direction_mean": 0.9,
        "direction_testable": True,
        "own_codes": 1,
        "own_sources": 1,
        "ci90_width": 0.15,
        "dissent": 0.0,
        "dissent_sources": 0.0,
        "mean_weight": 1.0,
        "indirect_share": 0.0,
        "adequacy": "serious",
        "coherence": "minor",
        "limitations": "none",
        "relevance": "none",
        "confidence": "low",
    }
    return pd.DataFrame([{**row, **over}])


def _judged(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        [dict(zip(HEADER.strip().split(","), r, strict=True)) for r in rows],
        columns=HEADER.strip().split(","),
    )


def test_a_judged_component_changes_the_grade_by_cerquals_rule():
    (row,) = cerqual_rows(
        _summary(),
        [],
        _judged(("C1", "adequacy", "minor", "two rich papers", "AB", "2026-12-05")),
        measurement=True,
    )
    assert row.computed == "low" and row.components["adequacy"]["computed"] == "serious"
    assert row.components["adequacy"]["level"] == "minor"
    assert row.assessment == grade(["none", "minor", "minor", "none"])[1] == "moderate"
    assert row.components["adequacy"]["judged"]["reason"] == "two rich papers"
    # the explanation is the numbers': the worst concern first
    (plain,) = cerqual_rows(_summary(), [], _judged(), measurement=True)
    assert plain.explanation.startswith("Low confidence: serious concerns about adequacy (1 code")
    # a judged grade wins over the components
    (graded,) = cerqual_rows(
        _summary(),
        [],
        _judged(("C1", "confidence", "high", "x", "AB", "2026-12-05")),
        measurement=True,
    )
    assert graded.assessment == "high" and graded.judged_grade["reviewer"] == "AB"


def test_the_report_shows_computed_and_judged_side_by_side(tmp_path):
    base_dir = draw_web_base(tmp_path / "web", 3, PLANTED)
    (base_dir / "judgements.csv").write_text(
        HEADER
        + 'S1,coherence,serious,"one site disagrees, unrecorded",CD,2026-12-05\n'
        + "S2,confidence,high,three sites agree,CD,2026-12-05\n"
    )
    trail = evidence_trail(load_evidence(base_dir))
    assert trail  # the base loads with its judgement
    out = tmp_path / "report"
    mocked_report(base_dir, out, "--no-context")
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    # (mocked draws fail the gate: computed grades are "ungraded", judged ones shown beside)
    soqf = html.split('id="soqf-table"')[1].split("</table>")[0]
    s2 = soqf.split('<tr data-target="S2">')[1].split("</tr>")[0]
    assert "computed: ungraded; <strong>judged: high</strong>" in s2
    assert "three sites agree (CD, 2026-12-05)" in s2
    profile = html.split('id="evidence-profile-table"')[1].split("</table>")[0]
    s1 = profile.split('<tr data-target="S1">')[1].split("</tr>")[0]
    assert "<strong>judged: serious</strong>" in s1 and "one site disagrees, unrecorded" in s1
    assert "2 reviewer judgements override a computed component or grade" in html
    assert "## Confidence in each finding (GRADE-CERQual)" in md
    assert "judged: serious (one site disagrees, unrecorded; CD, 2026-12-05)" in md
