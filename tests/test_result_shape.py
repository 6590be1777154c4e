"""One result shape: every kind saves and loads the same way; older saved files still load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import (
    AnalysisResult,
    CalibrationResult,
    ConvergenceCheck,
    GateThresholds,
    ModelComparison,
    PlanResult,
    Provenance,
    Status,
    load_calibration,
    load_plan,
    load_result,
    rank_uniformity,
    save_plan,
)
from cmoc.analyses.checks.compare import ComparisonSettings
from cmoc.analyses.planning.plan import PLAN_COLUMNS, PlanSettings
from cmoc.defaults import KHAT_MAX, SEED, STATUSES


def _plan() -> PlanResult:
    table = pd.DataFrame(
        [
            ["C1", "interview", n, 0.1 * n, 0.05 * n, 0.05 * n, 0.01, 20, 0, 1, 0.8, 0.5]
            for n in (1, 2)
        ],
        columns=PLAN_COLUMNS,
    )
    settings = PlanSettings(fit_id="f" * 64, wave="w2", inconclusive=("C1",), kind="interview")
    return PlanResult(table, PlanResult.describe(table, settings), None, settings)


def test_every_kind_round_trips(tmp_path):
    plan = _plan()
    back = load_result(plan.save(tmp_path / "plan.json"), "plan")
    assert isinstance(back, PlanResult) and back.settings == plan.settings
    pd.testing.assert_frame_equal(back.table, plan.table)
    assert back.text == plan.text and back.passed is None and back.targets == ["C1"]
    assert back.settings["kind"] == "interview" and back.settings.get("nope", 3) == 3
    gate = pd.DataFrame(
        {"max_r_hat": [1.0, np.nan], "min_ess_bulk": [500.0, 450.0], "passed": [True, True]},
        index=pd.Index(["mu", "eta"], name="variable"),
    )
    check = ConvergenceCheck(gate, "converged", True, GateThresholds(), values={"divergences": 0})
    again = ConvergenceCheck.load(check.save(tmp_path / "gate.json"))
    pd.testing.assert_frame_equal(again.table, gate)
    assert again.divergences == 0 and again.failures == [] and again.settings == GateThresholds()
    comparison = ModelComparison(
        pd.DataFrame({"model": ["a", "b"], "elpd": [-1.5, -9.25]}),
        "a predicts best",
        False,
        ComparisonSettings(models=("a", "b")),
    )
    loaded = load_result(comparison.save(tmp_path / "c.json"), "comparison")
    assert loaded.settings.models == ("a", "b") and loaded.passed is False
    with pytest.raises(ValueError, match="not a saved model comparison"):
        load_result(tmp_path / "plan.json", "comparison")
    with pytest.raises(ValueError, match="unknown kind"):
        load_result(tmp_path / "plan.json", "nothing")


def test_saved_plan_keeps_the_documented_layout_and_old_plans_load(tmp_path):
    path = save_plan(_plan(), tmp_path / "plan.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "cmoc plan 1" and doc["columns"] == PLAN_COLUMNS
    assert doc["settings"]["fit_id"] == "f" * 64
    for key in ("kind", "text", "passed", "index", "tables", "values"):  # before the shape
        del doc[key]
    path.write_text(json.dumps(doc))
    old = load_plan(path)
    assert old.text == _plan().text and old.settings == _plan().settings


def test_calibration_saved_before_the_shape_still_loads(tmp_path):
    rng = np.random.default_rng(0)
    ranks = pd.DataFrame(
        {
            "dataset": np.repeat(np.arange(20), 2),
            "quantity": ["mu", "eta"] * 20,
            "rank": rng.integers(0, 100, 40),
            "n_draws": 99,
        }
    )
    tests = rank_uniformity(ranks)
    settings = {"model_id": "m", "generate_id": "m", "datasets": 20}
    new = CalibrationResult.of(ranks, tests, 0.01, settings)
    legacy = {
        "format": "cmoc calibration 1",
        "alpha": 0.01,
        "calibrated": new.calibrated,
        "text": new.text,
        "settings": settings,
        "tests": tests.to_dict(orient="records"),
        "ranks": [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in ranks.to_dict(orient="records")
        ],
    }
    (tmp_path / "old.json").write_text(json.dumps(legacy))
    old = load_calibration(tmp_path / "old.json")
    assert old.settings == new.settings and old.calibrates("m") and old.text == new.text
    pd.testing.assert_frame_equal(old.ranks, new.ranks)
    back = load_calibration(new.save(tmp_path / "new.json"))
    assert json.loads((tmp_path / "new.json").read_text())["format"] == "cmoc calibration 2"
    pd.testing.assert_frame_equal(back.tests, new.tests)
    assert back.settings == new.settings and back.alpha == 0.01


def test_defaults_and_vocabulary():
    assert SEED == 20211 and KHAT_MAX == 0.7
    assert STATUSES == (
        "affirmed",
        "refuted",
        "novel",
        "revised",
        "contested",  # model v2 (issue 15)
        "unevidenced",  # model v2
        "inconclusive",
    )
    assert Status.affirmed == "affirmed" and isinstance(Status.affirmed, str)
    assert issubclass(PlanResult, AnalysisResult)


def test_provenance_of_a_tree_without_attrs_is_empty():
    import xarray as xr

    p = Provenance.of(xr.DataTree())
    assert p.evidence_hash == "" and p.sampler == {} and p.waves == () and p.seed == 0


def test_blank_cells_are_saved_as_null_and_read_back_as_missing(tmp_path):
    from cmoc.analyses.checks.influence import InfluenceCheck, InfluenceSettings

    # an influence table: `codes` is a nullable Int64 column, blank where the unit does not
    # code the target (pd.NA, which JSON cannot hold); NaN and None in other columns
    table = pd.DataFrame(
        {
            "target_id": ["C1", "C1", "C2"],
            "unit": ["S1", "codings.csv:4+5", "S1"],
            "codes": pd.array([3, pd.NA, pd.NA], dtype="Int64"),
            "contribution": [0.25, np.nan, -0.125],
            "short": ["S1", None, "S1"],
            "reliable": [True, False, True],
        }
    )
    check = InfluenceCheck(table, "3 rows", None, InfluenceSettings())
    path = check.save(tmp_path / "influence.json")
    text = path.read_text()
    assert "NaN" not in text  # strict JSON: a missing cell is null
    doc = json.loads(text)
    assert doc["rows"][1] == ["C1", "codings.csv:4+5", None, None, None, False]
    back = load_result(path, "influence")
    assert isinstance(back, InfluenceCheck) and back.settings == InfluenceSettings()
    t = back.table
    assert list(t.columns) == list(table.columns)
    assert t["codes"].isna().tolist() == [False, True, True] and t.at[0, "codes"] == 3
    assert t["contribution"].isna().tolist() == [False, True, False]
    assert t.at[0, "contribution"] == 0.25 and t.at[2, "contribution"] == -0.125
    assert t["short"].isna().tolist() == [False, True, False]
    assert t["reliable"].tolist() == [True, False, True]
