"""The confidence grade (GRADE-CERQual in spirit): each component reacts the documented way."""

from __future__ import annotations

import pandas as pd
import pytest

from cmoc.analyses import (
    CONFIDENCE_COLUMNS,
    GRADES,
    SUMMARY_COLUMNS,
    check_convergence,
    confidence,
    fit,
    summarize,
)
from cmoc.analyses.inference.confidence import (
    UNGRADED,
    adequacy_concern,
    coherence_concern,
    evidence_profile,
    grade,
    limitations_concern,
    relevance_concern,
)
from cmoc.evidence import EvidenceError, load_evidence
from cmoc.evidence.schema import Thresholds
from cmoc.models import ModelConfig
from cmoc.reports import render_summary
from conftest import tiny_sampler, write_base

SOURCES = "source_id,kind,wave,weight\n"


def _base(tmp_path, name, sources, codings, toml_extra=""):
    d = write_base(tmp_path / name, sources, codings)
    if toml_extra:
        with (d / "evidence.toml").open("a") as f:
            f.write(toml_extra)
    return load_evidence(d)


def _profile(base, p=0.9):
    ids = list(base.targets.index)
    return evidence_profile(base, pd.Series(p, index=ids)).loc["C1"]


# --- limitations: appraisal weights ------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "expected"), [(1.0, "none"), (0.8, "minor"), (0.6, "moderate"), (0.3, "serious")]
)
def test_lower_appraisal_weights_raise_limitation_concerns(tmp_path, weight, expected):
    sources = SOURCES + "".join(f"S{i},interview,w1,{weight}\n" for i in range(3))
    codings = "source_id,target_id,stance,count\n" + "".join(
        f"S{i},C1,supports,2\n" for i in range(3)
    )
    prof = _profile(_base(tmp_path, "b", sources, codings))
    assert prof["mean_weight"] == pytest.approx(weight)
    assert limitations_concern(prof["mean_weight"]) == expected


def test_mean_weight_is_code_weighted_over_the_codes_agreeing_with_the_verdict(tmp_path):
    sources = SOURCES + "S1,interview,w1,1\nS2,interview,w1,0.4\nS3,interview,w1,0.1\n"
    codings = (
        "source_id,target_id,stance,count\n"
        "S1,C1,supports,3\nS2,C1,supports,1\nS3,C1,refutes,5\n"  # S3 opposes: not counted
    )
    prof = _profile(_base(tmp_path, "b", sources, codings))
    assert prof["mean_weight"] == pytest.approx((3 * 1 + 1 * 0.4) / 4)
    # a total over the wave carries the mean weight of its sources
    codings = "source_id,target_id,stance,count\nw1,C1,supports,4\n"
    prof = _profile(_base(tmp_path, "t", sources, codings))
    assert prof["mean_weight"] == pytest.approx((1 + 0.4 + 0.1) / 3)


# --- coherence: between-source agreement -------------------------------------------------


def _stances(tmp_path, name, stances, p=0.9):
    sources = SOURCES + "".join(f"S{i},interview,w1,\n" for i in range(len(stances)))
    codings = "source_id,target_id,stance,count\n" + "".join(
        f"S{i},C1,{s},2\n" for i, s in enumerate(stances)
    )
    return _profile(_base(tmp_path, name, sources, codings), p)


def test_conflicting_sources_raise_coherence_concerns(tmp_path):
    levels = []
    for name, stances in [
        ("agree", ["supports"] * 4),
        ("one_of_ten", ["supports"] * 9 + ["refutes"]),
        ("one_of_three", ["supports"] * 2 + ["refutes"]),
        ("split", ["supports"] * 2 + ["refutes"] * 2),
    ]:
        prof = _stances(tmp_path, name, stances)
        share = stances.count("refutes") / len(stances)
        assert prof["dissent"] == pytest.approx(share)
        assert prof["dissent_sources"] == pytest.approx(share)
        levels.append(
            coherence_concern(prof["dissent"], prof["dissent_sources"], prof["individual_sources"])
        )
    assert levels == ["none", "minor", "moderate", "serious"]


def test_dissent_is_measured_against_the_posterior_verdict(tmp_path):
    prof = _stances(tmp_path, "b", ["refutes"] * 3, p=0.05)
    assert prof["verdict"] == "refutes" and prof["dissent"] == 0
    prof = _stances(tmp_path, "c", ["refutes"] * 3, p=0.95)  # the posterior says the opposite
    assert prof["dissent"] == 1 and prof["dissent_sources"] == 1


def test_one_dissenting_source_with_many_codes_counts_by_codes(tmp_path):
    sources = SOURCES + "".join(f"S{i},interview,w1,\n" for i in range(5))
    codings = "source_id,target_id,stance,count\n" + "".join(
        f"S{i},C1,supports,1\n" for i in range(4)
    )
    codings += "S4,C1,refutes,4\n"
    prof = _profile(_base(tmp_path, "b", sources, codings))
    assert prof["dissent"] == pytest.approx(0.5)
    assert prof["dissent_sources"] == pytest.approx(0.2)
    assert coherence_concern(prof["dissent"], prof["dissent_sources"], 5) == "serious"


def test_tied_source_counts_half_and_totals_cannot_show_agreement(tmp_path):
    sources = SOURCES + "S1,interview,w1,\nS2,interview,w1,\n"
    codings = "source_id,target_id,stance,count\nS1,C1,supports,2\nS1,C1,refutes,2\n"
    prof = _profile(_base(tmp_path, "tie", sources, codings))
    assert prof["dissent_sources"] == pytest.approx(0.5)
    # a wave total alone: no disagreement visible, yet at least minor concerns
    codings = "source_id,target_id,stance,count_min,count_max\nw1,C1,supports,5,\n"
    prof = _profile(_base(tmp_path, "agg", sources, codings))
    assert (prof["own_sources"], prof["individual_sources"], prof["dissent"]) == (1, 0, 0)
    assert coherence_concern(0.0, 0.0, prof["individual_sources"]) == "minor"
    assert coherence_concern(0.0, 0.0, 2) == "none"
    assert coherence_concern(0.5, 0.0, 0) == "serious"


# --- relevance: source kinds -------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "share", "expected"),
    [
        ("", 0.0, "none"),
        ('\n[confidence]\ndirect = ["interview"]\n', 0.0, "none"),
        ('\n[confidence]\npartial = ["review"]\n', 0.25, "minor"),
        ('\n[confidence]\nindirect = ["review"]\n', 0.5, "moderate"),
        ('\n[confidence]\npartial = ["interview"]\nindirect = ["review"]\n', 0.75, "serious"),
    ],
)
def test_indirect_kinds_raise_relevance_concerns(tmp_path, table, share, expected):
    sources = SOURCES + "R1,review,w1,\nI1,interview,w1,\n"
    codings = "source_id,target_id,stance,count\nR1,C1,supports,3\nI1,C1,supports,3\n"
    prof = _profile(_base(tmp_path, "b", sources, codings, table))
    assert prof["indirect_share"] == pytest.approx(share)
    assert relevance_concern(prof["indirect_share"]) == expected


def test_confidence_table_is_validated(tmp_path):
    sources = SOURCES + "R1,review,w1,\n"
    codings = "source_id,target_id,stance,count\nR1,C1,supports,1\n"
    for extra, msg in [
        ('\n[confidence]\npartial = ["review"]\nindirect = ["review"]\n', "one list only"),
        ('\n[confidence]\nremote = ["review"]\n', "unknown key"),
    ]:
        with pytest.raises(EvidenceError, match=msg):
            _base(tmp_path, f"b{len(extra)}", sources, codings, extra)


# --- adequacy: amount of evidence --------------------------------------------------------

TH = Thresholds()


@pytest.mark.parametrize(
    ("codes", "sources", "width", "expected"),
    [
        (0, 0, 0.1, "serious"),  # no own evidence
        (2, 1, 0.1, "serious"),  # limited evidence from one source
        (2, 2, 0.1, "moderate"),
        (10, 1, 0.1, "moderate"),  # much, but from one source
        (4, 3, 0.1, "minor"),
        (6, 2, 0.1, "minor"),
        (6, 3, 0.1, "none"),
        (6, 3, 0.3, "minor"),  # the posterior is still wide
        (6, 3, 0.45, "moderate"),
        (6, 3, 0.7, "serious"),
    ],
)
def test_adequacy_rule(codes, sources, width, expected):
    assert adequacy_concern(codes, sources, width, TH) == expected


def test_more_evidence_lowers_adequacy_concerns(tmp_path):
    levels = []
    for n in (1, 2, 4, 6):
        sources = SOURCES + "".join(f"S{i},interview,w1,\n" for i in range(n))
        codings = "source_id,target_id,stance,count\n" + "".join(
            f"S{i},C1,supports,1\n" for i in range(n)
        )
        prof = _profile(_base(tmp_path, f"n{n}", sources, codings))
        assert (prof["own_codes"], prof["own_sources"]) == (n, n)
        levels.append(adequacy_concern(prof["own_codes"], prof["own_sources"], 0.1, TH))
    assert levels == ["serious", "moderate", "minor", "none"]


def test_codes_inside_a_total_are_not_counted_twice(tmp_path):
    sources = SOURCES + "S1,interview,w1,\nS2,interview,w1,\nS3,interview,w1,\n"
    codings = (
        "source_id,target_id,stance,count,count_min,count_max\n"
        "w1,C1,supports,5,,\nS1,C1,supports,2,,\nS2,C1,refutes,,1,3\n"
    )
    prof = _profile(_base(tmp_path, "b", sources, codings))
    # 5 supports in the wave (2 of them S1's) + at least 1 refute from S2
    assert prof["own_codes"] == 6
    assert prof["own_sources"] == 3  # S1, the rest of the wave total, S2
    assert prof["individual_sources"] == 2
    assert prof["dissent"] == pytest.approx(1 / 6)


def test_mechanism_rests_on_its_own_and_its_cmocs_codes(tmp_path):
    sources = SOURCES + "S1,interview,w1,\nS2,interview,w1,\n"
    codings = "source_id,target_id,stance,count\nS1,C1,supports,2\nS2,M1,supports,3\n"
    base = _base(tmp_path, "b", sources, codings)
    prof = evidence_profile(base, pd.Series(0.9, index=list(base.targets.index)))
    assert prof.loc["M1", ["own_codes", "own_sources"]].tolist() == [5, 2]
    assert prof.loc["C1", ["own_codes", "own_sources"]].tolist() == [2, 1]


# --- the overall grade -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concerns", "points", "expected"),
    [
        (["none", "none", "none", "none"], 0, "high"),
        (["minor", "none", "none", "none"], 1, "high"),
        (["minor", "minor", "none", "none"], 2, "moderate"),
        (["moderate", "minor", "none", "none"], 3, "moderate"),
        (["moderate", "moderate", "none", "none"], 4, "low"),
        (["serious", "none", "none", "none"], 3, "low"),  # a serious concern caps at low
        (["serious", "minor", "minor", "none"], 5, "low"),
        (["moderate", "moderate", "moderate", "none"], 6, "very low"),
        (["serious", "serious", "serious", "serious"], 12, "very low"),
    ],
)
def test_grade_rule(concerns, points, expected):
    assert grade(concerns) == (points, expected)


# --- wiring into the fit and the summary -------------------------------------------------


def test_confidence_of_a_fit_and_in_the_summary(small_fit, small_base):
    s = summarize(small_fit, small_base)
    assert list(s.columns) == SUMMARY_COLUMNS
    c = confidence(small_fit, small_base, s)
    assert list(c.columns) == CONFIDENCE_COLUMNS
    assert c["target_id"].tolist() == s["target_id"].tolist()
    assert set(c["target_type"]) == {"cmoc", "mechanism"}
    pd.testing.assert_frame_equal(c, confidence(small_fit, small_base))  # deterministic
    width = (s["support_hi"] - s["support_lo"]).to_numpy()
    assert c["ci90_width"].to_numpy() == pytest.approx(width, abs=1e-9)  # default ci is 90%
    if check_convergence(small_fit).passed:
        assert set(c["confidence"]) <= set(GRADES)
    else:  # a tiny fit: never graded silently
        assert (c["confidence"] == UNGRADED).all()
    graded = confidence(small_fit, small_base, s.assign(converged=True))
    assert set(graded["confidence"]) <= set(GRADES)
    for col in ("adequacy", "coherence", "limitations", "relevance", "confidence"):
        assert s[col].tolist() == c[col].tolist()
    table = render_summary(s, "table", {"converged": False, "convergence": "x"})
    assert "Confidence and its components" in table
    csv = render_summary(s, "csv", {})
    assert csv.splitlines()[0].endswith("adequacy,coherence,limitations,relevance,confidence")


@pytest.mark.slow  # real draws: the grades follow the posterior
def test_grades_from_a_fit_follow_the_evidence(tmp_path):
    """A CMOC with one code gets lower confidence than one with many agreeing sources."""
    sources = SOURCES + "".join(f"S{i},interview,w1,\n" for i in range(8))
    codings = "source_id,target_id,stance,count\nS0,C1,supports,1\n" + "".join(
        f"S{i},C2,supports,3\n" for i in range(8)
    )
    d = write_base(tmp_path / "b", sources, codings, cmocs="C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\n")
    base = load_evidence(d)
    # model v1's grades: v2's interval widths are of breadth, a probability whose interval
    # narrows towards 0 (C1, one source) where C2's eight sources put it mid-range
    idata = fit(base, ModelConfig(model="hierarchical"), tiny_sampler())
    s = summarize(idata, base).assign(converged=True)
    c = confidence(idata, base, s).set_index("target_id")
    assert c.at["C1", "adequacy"] == "serious" and c.at["C1", "confidence"] == "low"
    assert c.at["C2", "ci90_width"] < c.at["C1", "ci90_width"]
    assert c.at["C2", "adequacy"] == "none" and c.at["C2", "confidence"] == "high"
