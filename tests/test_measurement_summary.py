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
from cmoc.models import DEFAULT_CONFIG, ModelConfig, build_model
from conftest import mocked, tiny_sampler

V2 = ModelConfig(model="measurement")


def _base(directory, recording: str, codings: str, cmocs: str | None = None):
    directory.mkdir(parents=True)
    (directory / "evidence.toml").write_text(
        'name = "t"\ntitle = "t"\ncitation = "t"\nformat = 1\nwaves = ["w1", "w2"]\n' + recording
    )
    (directory / "mechanisms.csv").write_text("mechanism_id,name,definition\nM1,m,d\nM2,n,d\n")
    (directory / "cmocs.csv").write_text(
        "cmoc_id,mechanism_id,context,outcome,sign,origin\n"
        + (cmocs or "C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\nC3,M2,c,o,+,prior\n")
    )
    (directory / "sources.csv").write_text(
        "source_id,kind,wave\nR1,review,w1\nR2,review,w1\nR3,review,w1\nI1,interview,w2\n"
        "I2,interview,w2\n"
    )
    (directory / "codings.csv").write_text("source_id,target_id,stance,count\n" + codings)
    return load_evidence(directory)


CODINGS = "R1,C1,supports,2\nR1,C1,refutes,1\nR2,C1,supports,1\nI1,C3,supports,3\n"


def test_the_default_model_keeps_its_id():
    # model v1 fits saved before the field existed still match their configuration
    assert "model" not in DEFAULT_CONFIG.to_json()
    assert V2.id != DEFAULT_CONFIG.id and '"model": "measurement"' in V2.to_json()


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
    # reviews record refutes and are coded against every target of the review wave; C1..C3
    # and the mechanisms are in that theory, so all are testable from the reviews
    assert s["direction_testable"].all()
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


def test_confidence_of_a_v2_fit_reads_the_direction_where_testable(mocked_v2):
    base, idata = mocked_v2
    s = summarize(idata, base).set_index("target_id")
    assert list(s.reset_index().columns) == MEASUREMENT_COLUMNS
    assert s["confidence"].isin([*GRADES, UNGRADED]).all()
    d = measurement_draws(idata, base)["direction"]
    q = d.quantile([0.05, 0.95], dim=("chain", "draw"))
    width = pd.Series((q.isel(quantile=1) - q.isel(quantile=0)).values, index=s.index)
    assert s["direction_testable"].all()
    np.testing.assert_allclose(s["ci90_width"], width)
    # C1: 3 supporting and 1 refuting code from R1 and R2: the refute dissents from a
    # "supports" verdict, and from a "refutes" one the supports do
    p = (d.sel(target="C1") > 0.5).mean().item()
    assert s.loc["C1", "dissent"] == pytest.approx(0.25 if p >= 0.5 else 0.75)


def _table(**columns) -> pd.DataFrame:
    ids = ["C1", "C2", "C3", "M1", "M2"]
    frame = pd.DataFrame(
        {
            "p_broad": 0.95,
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
    # the report's checks and plan are model v1's: refused before any work, exit 2
    out_dir = tmp_path / "report"
    assert main(["report", str(directory), "--model", str(model), "--out", str(out_dir)]) == 2
    assert "not yet available for model 'measurement'" in capsys.readouterr().err
    assert not out_dir.exists()
