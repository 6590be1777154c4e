"""The passages behind the codes (issue 17, deliverable 2): ``excerpts.csv``.

Validated like every file (file, line, column, value, what was expected; exit 2); left out of
the evidence hash (a passage does not change a fit); kept by ``up_to`` for the sources and
targets kept; appended by ``cmoc update`` from a batch; shown in the report's evidence entries,
escaped, refuting passages first, cut and counted beyond the caps.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from cmoc.cli import main
from cmoc.evidence import EvidenceError, load_evidence
from cmoc.evidence.append import apply_plan, plan_append
from cmoc.reports.trail import EXCERPT_CHARS, EXCERPTS_SHOWN, evidence_trail
from test_links_planted import draw_web_base
from test_update import _split


@pytest.fixture
def web(tmp_path):
    return draw_web_base(tmp_path / "web", 1)


def _write(directory, rows: list[tuple]) -> None:
    pd.DataFrame(rows, columns=["source_id", "target_id", "stance", "text", "location"]).to_csv(
        directory / "excerpts.csv", index=False
    )


def test_bad_rows_are_named_by_file_line_and_column(web, capsys):
    _write(web, [("R003", "O_a", "supports", "fine", ""), ("X99", "ZZ", "supports", "t", "")])
    with pytest.raises(EvidenceError) as err:
        load_evidence(web)
    found = {(p.file, p.line, p.column, p.value) for p in err.value.problems}
    assert found == {
        ("excerpts.csv", 3, "source_id", "X99"),
        ("excerpts.csv", 3, "target_id", "ZZ"),
    }
    _write(web, [("R003", "O_a", "maybe", "", "")])
    assert main(["validate", str(web)]) == 2
    said = capsys.readouterr()
    assert "excerpts.csv:2, column 'stance', value 'maybe'" in said.err + said.out


def test_passages_do_not_change_the_evidence_hash(web):
    before = load_evidence(web).evidence_hash
    _write(web, [("R003", "O_a", "supports", "Trust grew.", "p. 4")])
    base = load_evidence(web)
    assert base.evidence_hash == before and len(base.excerpts) == 1
    assert base.up_to("w1").excerpts["text"].tolist() == ["Trust grew."]


def test_the_report_entry_shows_refuting_passages_first_and_caps_them(web):
    long = "word " * (EXCERPT_CHARS // 2)
    rows = [("R003", "O_a", "supports", f"passage {i}", "") for i in range(EXCERPTS_SHOWN)]
    rows += [("R005", "O_a", "refutes", long, "p. 9"), ("R003", "O_b", "supports", "<b>x</b>", "")]
    _write(web, rows)
    trail = {e.target_id: e for e in evidence_trail(load_evidence(web))}
    o_a = trail["O_a"]
    assert o_a.excerpts[0]["stance"] == "refutes" and o_a.excerpts[0]["location"] == "p. 9"
    assert len(o_a.excerpts[0]["text"]) <= EXCERPT_CHARS + 2
    assert o_a.excerpts[0]["text"].endswith(" …")
    assert len(o_a.excerpts) == EXCERPTS_SHOWN and o_a.more_excerpts == 1
    # a link's entry holds the passages of its CMOCs
    link = trail["M1->M4"]
    assert len(link.excerpts) + link.more_excerpts == EXCERPTS_SHOWN + 2  # O_a's 6, O_b's 1
    assert trail["O_b"].excerpts[0]["text"] == "<b>x</b>"  # escaped where shown (HTML, MD)


def test_update_appends_a_batchs_passages(tmp_path):
    base_dir, batch = _split(tmp_path)
    src = pd.read_csv(batch / "sources.csv")
    cod = pd.read_csv(batch / "codings.csv")
    first = cod[cod["source_id"].isin(src["source_id"])].iloc[0]
    _write(batch, [(first["source_id"], first["target_id"], first["stance"], "Said so.", "l. 3")])
    plan = plan_append(load_evidence(base_dir), batch)
    assert plan.added.get("excerpts.csv") == 1
    apply_plan(base_dir, plan)
    after = load_evidence(base_dir)
    assert after.excerpts["text"].tolist() == ["Said so."]
    # the wave's passage names its source, whose wave is the new one
    sid = after.excerpts["source_id"].iloc[0]
    assert after.sources.at[sid, "wave"] == plan.wave
    assert after.up_to(after.waves[0]).excerpts.empty


def test_a_base_without_excerpts_still_works(tmp_path):
    base_dir, _ = _split(tmp_path)
    base = load_evidence(base_dir)
    assert base.excerpts.empty
    assert all(not e.excerpts for e in evidence_trail(base))
    shutil.rmtree(base_dir)
