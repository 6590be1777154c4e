"""Model v2 summaries and statuses: the columns, direction only where testable, the rules.

The statuses are checked on hand-made tables (each rule of ``classify_measurement`` fires where
documented and nowhere else); the summary's wiring on prior draws (``mocked``): what is under
test is which estimand goes where, not the numbers.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import (
    MEASUREMENT_COLUMNS,
    classify_measurement,
    fit,
    is_measurement_fit,
    summarize,
)
from cmoc.analyses.inference.confidence import GRADES, UNGRADED
from cmoc.analyses.inference.measurement import measurement_draws
from cmoc.evidence import load_evidence
from cmoc.models import DEFAULT_CONFIG, V1_CONFIG, ModelConfig, build_model
from conftest import mocked, tiny_sampler
from evidence_fixtures import write_two_mechanisms

V2 = ModelConfig(model="measurement")


def _base(directory, recording: str, codings: str, cmocs: str | None = None):
    write_two_mechanisms(
        directory,
        toml_tail=recording,
        sources="source_id,kind,wave\nR1,review,w1\nR2,review,w1\nR3,review,w1\n"
        "I1,interview,w2\nI2,interview,w2\n",
        codings="source_id,target_id,stance,count\n" + codings,
        cmocs=cmocs,
    )
    return load_evidence(directory)


CODINGS = "R1,C1,supports,2\nR1,C1,refutes,1\nR2,C1,supports,1\nI1,C3,supports,3\n"


def test_model_v1_keeps_its_id_and_model_v2_is_the_default():
    # model v1 fits saved before the field existed still match their configuration
    assert "model" not in V1_CONFIG.to_json()
    assert ModelConfig.from_json(V1_CONFIG.to_json()) == V1_CONFIG
    assert DEFAULT_CONFIG == V2 and '"model": "measurement"' in V2.to_json()
    assert ModelConfig.from_json(V2.to_json()) == V2


def test_a_v1_analysis_refuses_a_v2_configuration(tmp_path):
    base = _base(tmp_path / "b", "", CODINGS)
    with pytest.raises(ValueError, match="model v1"):
        build_model(base, V2)


@pytest.fixture(scope="module")
def mocked_v2(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2")
    recording = '\n[recording]\nrefutes = { review = "recorded", interview = "not recorded" }\n'
    base = _base(root / "b", recording, CODINGS)
    with mocked():
        idata = fit(base, V2, sampler=tiny_sampler())
    return base, idata


def test_summary_columns_and_direction_only_where_testable(mocked_v2):
    base, idata = mocked_v2
    assert is_measurement_fit(idata)
    s = summarize(idata, base).set_index("target_id")
    assert list(s.reset_index().columns) == MEASUREMENT_COLUMNS
    assert list(s.index) == ["C1", "C2", "C3", "M1", "M2"]
    # a direction is testable where the target's own codes come from a kind that records
    # refutes: C1 (the reviews' codes) and its mechanism M1; not C2 (no codes: the reviews'
    # silence says nothing of a direction), nor C3 and M2 (interviews only, refutes unrecorded)
    assert s["direction_testable"].to_dict() == {
        "C1": True,
        "C2": False,
        "C3": False,
        "M1": True,
        "M2": False,
    }
    assert s.loc[["C2", "C3", "M2"], ["direction_mean", "p_supported"]].isna().all().all()
    assert ((s["breadth_lo"] <= s["breadth_mean"]) & (s["breadth_mean"] <= s["breadth_hi"])).all()
    assert s["breadth_hi"].le(1).all() and s["breadth_lo"].ge(0).all()
    assert s.loc["C1", "supports"] == 3 and s.loc["C1", "refutes"] == 1
    assert s.loc["C2", "status"] == "unevidenced"  # no code of its own
    # support_* repeat direction_* (section 6 of the design brief)
    pd.testing.assert_series_equal(s["support_mean"], s["direction_mean"], check_names=False)


def test_direction_is_not_tested_where_no_kind_records_refutes(tmp_path):
    recording = '\n[recording]\nrefutes = { review = "not recorded", interview = "not recorded" }\n'
    base = _base(tmp_path / "b", recording, "R1,C1,supports,2\nI1,C3,supports,3\n")
    with mocked():
        idata = fit(base, V2, sampler=tiny_sampler())
    s = summarize(idata, base).set_index("target_id")
    assert not s["direction_testable"].any()
    assert s["direction_mean"].isna().all() and s["p_supported"].isna().all()
    assert s["breadth_mean"].notna().all() and s["depth_mean"].notna().all()
    # confidence: adequacy reads the breadth's 90% interval, the verdict is "supports"
    b = measurement_draws(idata, base)["breadth"]
    q = b.quantile([0.05, 0.95], dim=("chain", "draw"))
    np.testing.assert_allclose(s["ci90_width"], (q.isel(quantile=1) - q.isel(quantile=0)).values)
    assert s.loc["C1", "dissent"] == 0 and s.loc["C1", "own_codes"] == 2


@pytest.mark.parametrize(
    ("interview", "expected"),
    [
        ("not recorded", {"C1": True, "C2": False, "C3": False, "M1": True, "M2": False}),
        ("recorded", {"C1": True, "C2": False, "C3": True, "M1": True, "M2": True}),
    ],
)
def test_a_direction_is_testable_from_codes_a_recording_kind_gave(tmp_path, interview, expected):
    # the reviews speak only through a band over their wave (at least 2 codes of C1): a
    # recorded kind's total counts by its lower bound; C3's interview codes count only where
    # interviews record refutes; C2, coded by no one, is never testable
    recording = f'\n[recording]\nrefutes = {{ review = "recorded", interview = "{interview}" }}\n'
    codings = "source_id,target_id,stance,count,count_min,count_max\n"
    _base(tmp_path / "b", recording, "I1,C3,supports,3\n")
    rows = "w1,C1,supports,,2,4\nI1,C3,supports,3,,\n"
    (tmp_path / "b" / "codings.csv").write_text(codings + rows)
    base = load_evidence(tmp_path / "b")
    with mocked():
        idata = fit(base, V2, sampler=tiny_sampler())
    s = summarize(idata, base).set_index("target_id")
    assert s["direction_testable"].to_dict() == expected
    assert s.loc[~s["direction_testable"].astype(bool), "direction_mean"].isna().all()


def test_confidence_of_a_v2_fit_reads_the_direction_where_testable(mocked_v2):
    base, idata = mocked_v2
    s = summarize(idata, base).set_index("target_id")
    assert list(s.reset_index().columns) == MEASUREMENT_COLUMNS
    assert s["confidence"].isin([*GRADES, UNGRADED]).all()
    d = measurement_draws(idata, base)["direction"]
    q = d.quantile([0.05, 0.95], dim=("chain", "draw"))
    width = pd.Series((q.isel(quantile=1) - q.isel(quantile=0)).values, index=s.index)
    testable = s["direction_testable"].astype(bool)
    assert testable["C1"] and testable["M1"]
    np.testing.assert_allclose(s.loc[testable, "ci90_width"], width[testable])
    # elsewhere adequacy reads the breadth's interval (as where no kind records refutes)
    b = measurement_draws(idata, base)["breadth"].quantile([0.05, 0.95], dim=("chain", "draw"))
    bw = pd.Series((b.isel(quantile=1) - b.isel(quantile=0)).values, index=s.index)
    np.testing.assert_allclose(s.loc[~testable, "ci90_width"], bw[~testable])
    # C1: 3 supporting and 1 refuting code from R1 and R2: the refute dissents from a
    # "supports" verdict, and from a "refutes" one the supports do
    p = (d.sel(target="C1") > 0.5).mean().item()
    assert s.loc["C1", "dissent"] == pytest.approx(0.25 if p >= 0.5 else 0.75)


def _table(**columns) -> pd.DataFrame:
    ids = ["C1", "C2", "C3", "M1", "M2"]
    frame = pd.DataFrame(
        {
            "p_broad": 0.95,
            "sources_min": 3,
            "p_clear_support": 0.95,
            "p_clear_refute": 0.0,
            "direction_testable": True,
            "supports": 4,
            "refutes": 0,
        },
        index=pd.Index(ids, name="target_id"),
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, "affirmed"),
        ({"supports": 0}, "unevidenced"),
        ({"p_broad": 0.5}, "inconclusive"),
        # broad by the model, but its own rows show one source for sure: not corroborated
        ({"sources_min": 1}, "inconclusive"),
        ({"sources_min": 2}, "affirmed"),
        ({"sources_min": 1, "p_clear_support": 0.0, "p_clear_refute": 0.95}, "refuted"),
        ({"p_clear_support": 0.0, "p_clear_refute": 0.95}, "refuted"),
        ({"p_clear_support": 0.0, "p_clear_refute": 0.85}, "inconclusive"),  # 1 - refute = 0.9
        ({"p_clear_support": 0.5, "refutes": 2}, "contested"),
        # near one half, precisely known: contested, not refuted
        ({"p_clear_support": 0.0, "p_clear_refute": 0.0, "refutes": 5}, "contested"),
        ({"p_clear_support": 0.5}, "inconclusive"),  # unclear, but nothing refutes it
        (
            {"direction_testable": False, "p_clear_support": np.nan, "p_clear_refute": np.nan},
            "affirmed",
        ),
        (
            {
                "direction_testable": False,
                "p_clear_support": np.nan,
                "p_clear_refute": np.nan,
                "p_broad": 0.5,
            },
            "inconclusive",
        ),
        ({"p_broad": 0.2, "p_clear_support": 0.0, "p_clear_refute": 0.99, "refutes": 3}, "refuted"),
    ],
)
def test_each_status_rule(tmp_path, change, expected):
    base = _base(tmp_path / "b", "", CODINGS)
    table = _table()
    for name, value in change.items():
        table.loc["C1", name] = value
    status = classify_measurement(base, table)
    assert status["C1"] == expected
    assert status["C2"] == "affirmed"  # the others untouched


def test_novel_origin_and_revisions(tmp_path):
    cmocs = "C1,M1,c,o,+,novel\nC2,M1,c,o,+,prior\nC3,M2,c,o,+,prior\n"
    base = _base(tmp_path / "b", "", CODINGS, cmocs=cmocs)
    status = classify_measurement(base, _table())
    assert status["C1"] == "novel" and status["C2"] == "affirmed"
    # a CMOC first coded in the newest wave (after the first) is novel too
    assert status["C3"] == "novel"


def test_min_sources_comes_from_evidence_toml(tmp_path):
    strict = _base(tmp_path / "b", "\n[classification]\nmin_sources = 4\n", CODINGS)
    assert strict.config.classification.min_sources == 4
    assert classify_measurement(strict, _table())["C1"] == "inconclusive"  # 3 sources < 4
    assert classify_measurement(strict, _table(sources_min=4))["C1"] == "affirmed"


def test_breadth_threshold_comes_from_evidence_toml(tmp_path, mocked_v2):
    base, idata = mocked_v2
    strict = _base(
        tmp_path / "b",
        "\n[classification]\nbreadth_min = 0.99\n"
        '\n[recording]\nrefutes = { review = "recorded", interview = "not recorded" }\n',
        CODINGS,
    )
    loose = summarize(idata, base).set_index("target_id")["p_broad"]
    tight = summarize(idata, strict).set_index("target_id")["p_broad"]
    assert (tight <= loose).all() and (tight < loose).any()


def test_command_line_summary_and_report_of_a_v2_fit(tmp_path, capsys):
    from cmoc.cli import main

    recording = '\n[recording]\nrefutes = { review = "recorded", interview = "not recorded" }\n'
    directory = _base(tmp_path / "b", recording, CODINGS).path
    model = tmp_path / "v2.toml"
    model.write_text('model = "measurement"\n')
    tiny = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]
    with mocked():
        assert main(["fit", str(directory), "--model", str(model), *tiny]) == 0
    capsys.readouterr()
    assert main(["summary", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "breadth and direction after wave w2" in out and "breadth (90%)" in out
    assert main(["summary", str(directory), "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(frame.columns) == MEASUREMENT_COLUMNS
    # the report of a v2 fit: tests/test_report_v2.py


def _sure(base) -> dict[str, int]:
    from cmoc.evidence.recording import refutes_recording
    from cmoc.models import measurement_data

    rec = {k: r.refutes for k, r in refutes_recording(base).items()}
    md = measurement_data(base, rec)
    return dict(zip(md.targets, md.sure_sources().tolist(), strict=True))


def test_sure_sources_of_exact_cells(tmp_path):
    # C1: R1 and R2; C3: I1; M1 (it or its CMOCs): R1, R2; M2: I1
    sure = _sure(_base(tmp_path / "b", "", CODINGS))
    assert sure == {"C1": 2, "C2": 0, "C3": 1, "M1": 2, "M2": 1}


def test_sure_sources_of_a_band_over_many_sources_is_one(tmp_path):
    # ">= 5 codes over both interviews" may all come from one: one source for sure; with an
    # exact review cell the mechanism has two; a band from 0 shows none
    codings = (
        "source_id,target_id,stance,count,count_min,count_max\n"
        "R1,C1,supports,1,,\nw2,C2,supports,,5,\nw2,M2,supports,,0,\nw2,C3,supports,,1,2\n"
    )
    directory = tmp_path / "b"
    _base(directory, "", CODINGS)
    (directory / "codings.csv").write_text(codings)
    sure = _sure(load_evidence(directory))
    assert sure["C1"] == 1 and sure["C2"] == 1 and sure["C3"] == 1
    assert sure["M1"] == 2  # R1 (exact) and one interview of the C2 band
    assert sure["M2"] == 1  # the C3 band; the M2 row from 0 adds nothing
