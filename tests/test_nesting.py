"""``[nesting] cmocs_in_mechanism``: a mechanism's upper bound caps its CMOCs' bands.

Declared, a CMOC's count from a source or total is at most its mechanism's from the same one:
the cap reaches both models' bands and the predictive evidence levels; a CMOC row above its
mechanism's bound is refused (exit 2); undeclared, nothing changes, the evidence hash included.
"""

from __future__ import annotations

import shutil

import pytest

from cmoc.analyses import fit, summarize
from cmoc.cli import main
from cmoc.evidence import describe, load_evidence, validate_evidence
from cmoc.evidence.nesting import nested_caps
from cmoc.evidence.recording import refutes_recording
from cmoc.models import measurement_data, model_data
from conftest import ROOT, mocked, tiny_sampler, write_base

SOURCES = "source_id,kind,wave\nS1,interview,w1\nS2,interview,w1\nS3,interview,w1\n"
HEAD = "source_id,target_id,stance,count,count_min,count_max\n"
CMOCS = "C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\n"
NESTED = "\n[nesting]\ncmocs_in_mechanism = true\n"


def _base(tmp_path, codings: str, nested: bool = True):
    d = write_base(tmp_path / "b", SOURCES, HEAD + codings, cmocs=CMOCS)
    if nested:
        with open(d / "evidence.toml", "a") as fh:
            fh.write(NESTED)
    return d


def _md(base):
    return measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})


def _band(md, target: str) -> tuple[int, int]:
    (i,) = [i for i, t in enumerate(md.bt_tgt) if md.data.targets[t] == target]
    return int(md.bt_lo[i]), int(md.bt_hi[i])


# a wave total: M1 has 1 or 2 codes over the wave, C1 at least one, C2 between 1 and 5
TOTALS = "w1,M1,supports,,1,2\nw1,C1,supports,,1,\nw1,C2,supports,,1,5\n"


def test_declared_the_mechanisms_bound_caps_its_cmocs_bands(tmp_path):
    base = load_evidence(_base(tmp_path, TOTALS))
    caps = nested_caps(base)
    assert caps == {3: (2, 2), 4: (2, 2)}  # codings.csv lines of C1 and C2, capped by line 2
    md = _md(base)
    assert _band(md, "C1") == (1, 2) and _band(md, "C2") == (1, 2) and _band(md, "M1") == (1, 2)
    d = model_data(base, group_effects="none")  # model v1 reads the same caps
    his = {d.targets[t]: int(h) for t, h in zip(d.agg_tgt, d.agg_hi, strict=True)}
    assert his == {"M1": 2, "C1": 2, "C2": 2}
    text = describe(base)
    assert "2 CMOC bands capped by the mechanism's" in text
    assert "codings.csv:3 C1 supports from w1: unbounded -> <= 2 (codings.csv:2, M1)" in text


def test_undeclared_nothing_changes_and_the_hash_is_kept(tmp_path):
    plain = load_evidence(_base(tmp_path / "a", TOTALS, nested=False))
    assert nested_caps(plain) == {}
    assert _band(_md(plain), "C1") == (1, -1)
    assert "nesting" not in plain.config.model_dump()
    assert "not declared" in describe(plain)
    explicit = _base(tmp_path / "b", TOTALS, nested=False)
    with open(explicit / "evidence.toml", "a") as fh:
        fh.write("\n[nesting]\ncmocs_in_mechanism = false\n")
    assert load_evidence(explicit).evidence_hash == plain.evidence_hash


def test_a_cap_applies_per_source_and_stance_and_only_to_a_cmocs_own_mechanism(tmp_path):
    rows = (
        "S1,M1,supports,2,,\nS1,C1,supports,,1,\n"  # S1's exact mechanism count caps its C1 band
        "S2,C1,supports,,1,\n"  # S2 has no mechanism row: unbounded
        "S1,C2,refutes,,1,\n"  # another stance: unbounded
    )
    base = load_evidence(_base(tmp_path, rows))
    assert nested_caps(base) == {3: (2, 2)}


def test_a_cmoc_row_above_its_mechanisms_bound_is_refused(tmp_path, capsys):
    d = _base(
        tmp_path,
        "w1,M1,supports,,1,2\nw1,C1,supports,,3,\nS1,M1,supports,1,,\nS1,C2,supports,4,,\n",
    )
    problems = validate_evidence(d)
    found = {(p.file, p.line, p.column, p.value) for p in problems}
    assert found == {("codings.csv", 3, "count_min", "3"), ("codings.csv", 5, "count", "4")}
    assert all("codings.csv:2 gives M1 at most 2" in p.expected for p in problems if p.line == 3)
    assert main(["validate", str(d)]) == 2
    err = capsys.readouterr().err
    assert "codings.csv" in err and "[nesting] cmocs_in_mechanism" in err
    # undeclared, the same rows are valid
    (d / "evidence.toml").write_text((d / "evidence.toml").read_text().replace(NESTED, ""))
    assert validate_evidence(d) == []


@pytest.mark.parametrize(
    "table",
    ["cmocs_in_mechanism = 1", "cmoc_in_mechanism = true", "cmocs_in_mechanism = 'yes'"],
)
def test_a_bad_nesting_table_is_refused(tmp_path, table):
    d = _base(tmp_path, TOTALS, nested=False)
    with open(d / "evidence.toml", "a") as fh:
        fh.write(f"\n[nesting]\n{table}\n")
    problems = validate_evidence(d)
    assert problems and all(p.file == "evidence.toml" for p in problems)


def test_ioc_cmocs_in_a_limited_row_read_limited(tmp_path):
    """P3-R20, published as ">= 1" in the row of M13 (limited: 1 or 2 codes), reads limited."""
    d = tmp_path / "ioc"
    shutil.copytree(ROOT / "evidence" / "ioc", d, ignore=shutil.ignore_patterns(".cmoc"))
    base = load_evidence(d)
    assert base.config.nesting.cmocs_in_mechanism
    md = _md(base)
    interviews = base.config.waves.index("interviews")
    bands = {
        md.data.targets[t]: (int(lo), int(hi))
        for t, lo, hi, b in zip(md.bt_tgt, md.bt_lo, md.bt_hi, md.bt_block, strict=True)
        if md.block_wave[b] == interviews
    }
    assert bands["P3-R20"] == (1, 2) and bands["M13"] == (1, 2)
    assert bands["P3-R06"] == (1, 4) and bands["M07"] == (3, 4)  # a moderate row: at most 4
    assert bands["P3-R01"] == (1, -1)  # M02 is significant (5 or more): no cap
    assert len(nested_caps(base)) == 12
    with mocked():
        s = summarize(fit(base, sampler=tiny_sampler()), base).set_index("target_id")
    assert s.at["P3-R20", "evidence_level"] == "limited"
    assert s.at["P3-R20", "evidence_level_p"] == 1.0
    # at most 4 codes: limited or moderate, never significant, with its probability
    assert s.at["P3-R06", "evidence_level"] in ("limited", "moderate")
    assert 0.5 <= s.at["P3-R06", "evidence_level_p"] <= 1.0


def test_the_report_states_the_declaration(tmp_path):
    from cmoc.evidence.nesting import nesting_sentence

    base = load_evidence(_base(tmp_path, TOTALS))
    assert nesting_sentence(base).endswith("2 CMOC bands capped (C1 <= 2, C2 <= 2).")
    plain = load_evidence(_base(tmp_path / "plain", TOTALS, nested=False))
    assert nesting_sentence(plain) == ""
