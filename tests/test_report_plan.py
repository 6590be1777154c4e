"""Planning and calibration in the report: shown from the analyses, saved, reused, matched."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import (
    CalibrationResult,
    load_fit,
    load_plan,
    plan,
    rank_uniformity,
    save_calibration,
    summarize,
)
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.models import V1_CONFIG
from conftest import ROOT
from test_plan import planted_base
from test_report import _tables

PLAN = sys.modules["cmoc.analyses.planning.plan"]  # the module (planning.plan is the function)
V1_FILE = str(ROOT / "tests" / "models" / "v1.toml")
"""These tests are of model v1's plan and calibration in the report (v2's: test_plan_v2.py)."""
FIT = ["--seed", "5", "--chains", "2", "--draws", "200", "--tune", "200", "--model", V1_FILE]
REPORT = [*FIT, "--no-compare", "--workers", "0"]
SMALL_PLAN = {"max_new": 3, "simulations": 100, "max_refits": 0}
"""The report's plan, cut down for speed; no exact refits (a refit compiled once and loaded
from the compile cache may draw other numbers, so refits are compared in test_plan.py)."""


@contextmanager
def small_plan():
    """The report computes :data:`SMALL_PLAN` instead of its default plan."""
    saved = dict(PLAN.REPORT_PLAN)
    PLAN.REPORT_PLAN.update(SMALL_PLAN)
    try:
        yield
    finally:
        PLAN.REPORT_PLAN.clear()
        PLAN.REPORT_PLAN.update(saved)


@pytest.fixture(scope="module")
def planted_report(tmp_path_factory):
    """A planted base with C1 inconclusive, reported once with the (cut-down) plan."""
    root = tmp_path_factory.mktemp("planned")
    base_dir = planted_base(root / "planted")
    out = root / "r1"
    with small_plan():
        assert main(["report", str(base_dir), "--out", str(out), *REPORT]) == 0
    return base_dir, out


def _page(out) -> str:
    return (out / "report.html").read_text()


def test_plan_section_names_the_inconclusive_cmocs_with_the_plans_numbers(planted_report):
    base_dir, out = planted_report
    base = load_evidence(base_dir)
    idata = load_fit(base_dir / ".cmoc" / "fit.nc", base)
    table = summarize(idata, base)
    undecided = table[(table["target_type"] == "cmoc") & (table["status"] == "inconclusive")]
    assert "C1" in set(undecided["target_id"])  # the planted CMOC
    # the same numbers from the public API with the report's seed
    expected = plan(idata, base, seed=5, workers=0, **SMALL_PLAN)
    rows = _tables(_page(out))["plan-table"][1:]
    assert [r[0] for r in rows] == list(expected["target_id"])
    assert list(dict.fromkeys(r[0] for r in rows)) == list(undecided["target_id"])
    for row, e in zip(rows, expected.itertuples(), strict=True):
        assert row[1] == f"{e.p_supported_now:.2f}"
        assert int(row[2]) == e.n_new
        assert row[3] == f"{e.p_settled:.2f} ± {e.mc_se:.2f}"
        assert row[4] == f"{e.p_affirmed:.2f}"
        assert row[5] == f"{e.p_refuted:.2f}"
        assert int(row[6]) == e.simulations == SMALL_PLAN["simulations"]
        assert int(row[7]) == e.refits == 0
        assert int(row[8]) == e.unreliable
    saved = load_plan(base_dir / ".cmoc" / "plan.json")
    pd.testing.assert_frame_equal(saved.table, expected, check_dtype=False)
    assert saved.settings["seed"] == 5 and saved.settings["kind"] == "interview"
    page = _page(out)
    assert "C1" in page.split('id="plan-verdict">')[1].split("</p>")[0]
    assert "100 simulations per CMOC (seed 5)" in page
    assert 'href="#plan"' in page
    md = (out / "report.md").read_text()
    assert "## Planning the next sources" in md
    assert f"| C1 | {expected['p_supported_now'].iloc[0]:.2f} | 1 |" in md


def test_saved_plan_is_reused_and_rebuilds_are_byte_identical(planted_report, tmp_path, capsys):
    base_dir, first = planted_report
    base = tmp_path / "base"
    shutil.copytree(base_dir, base)
    out2 = tmp_path / "r2"
    assert main(["report", str(base), "--out", str(out2), *REPORT]) == 0
    assert "reused the saved plan" in capsys.readouterr().err
    names = ["report.html", "report.md", "summary.csv", "summary.json"]
    for name in names:
        assert (first / name).read_bytes() == (out2 / name).read_bytes(), name
    # recomputed from scratch (fits kept, plan deleted): the same bytes, from the same seed
    (base / ".cmoc" / "plan.json").unlink()
    out3 = tmp_path / "r3"
    capsys.readouterr()
    with small_plan():
        assert main(["report", str(base), "--out", str(out3), *REPORT]) == 0
    assert "planned (no saved plan)" in capsys.readouterr().err
    for name in names:
        assert (first / name).read_bytes() == (out3 / name).read_bytes(), name


def _edit_plan(path, *, p_settled=None, fit_id=None) -> None:
    doc = json.loads(path.read_text())
    if p_settled is not None:
        col = doc["columns"].index("p_settled")
        doc["rows"][0][col] = p_settled
    if fit_id is not None:
        doc["settings"]["fit_id"] = fit_id
    path.write_text(json.dumps(doc))


def test_a_saved_plan_of_this_fit_is_shown_one_of_another_fit_is_not(
    planted_report, tmp_path, capsys
):
    base_dir, first = planted_report
    base = tmp_path / "base"
    shutil.copytree(base_dir, base)
    saved = base / ".cmoc" / "plan.json"
    # what `cmoc plan` saved is what the report shows (an edited number shows)
    _edit_plan(saved, p_settled=0.987)
    out = tmp_path / "edited"
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 0
    assert "reused the saved plan" in capsys.readouterr().err
    assert _tables(_page(out))["plan-table"][1][3].startswith("0.99 ±")
    # a plan made from another fit is not shown: recomputed (and saved) instead
    _edit_plan(saved, p_settled=0.987, fit_id="0" * 64)
    out = tmp_path / "other"
    with small_plan():
        assert main(["report", str(base), "--out", str(out), *REPORT]) == 0
    assert "made from another fit" in capsys.readouterr().err
    assert (out / "report.html").read_bytes() == (first / "report.html").read_bytes()
    assert load_plan(saved).settings["fit_id"] != "0" * 64


def test_cmoc_plan_saves_the_plan_the_report_reuses(planted_report, tmp_path, capsys):
    base_dir, _ = planted_report
    base = tmp_path / "base"
    shutil.copytree(base_dir, base)
    (base / ".cmoc" / "plan.json").unlink()
    args = ["--max-new", "2", "--simulations", "20", "--max-refits", "0", "--workers", "1"]
    assert main(["plan", str(base), *FIT, *args, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert "saved" in captured.err and (base / ".cmoc" / "plan.json").is_file()
    printed = pd.read_csv(pd.io.common.StringIO(captured.out))
    out = tmp_path / "r"
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 0
    assert "reused the saved plan" in capsys.readouterr().err
    rows = _tables(_page(out))["plan-table"][1:]
    assert [int(r[2]) for r in rows] == list(printed["n_new"]) == [1, 2]
    assert [r[3] for r in rows] == [
        f"{p:.2f} ± {s:.2f}" for p, s in zip(printed["p_settled"], printed["mc_se"], strict=True)
    ]
    assert "20 simulations per CMOC" in _page(out)


@pytest.mark.slow  # a real fit of its own: whether every CMOC is settled is statistics
def test_no_inconclusive_cmoc_is_said_in_one_sentence(tmp_path, capsys):
    base = planted_base(tmp_path / "settled", seed=0)
    out = tmp_path / "r"
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 0
    assert "planned (no saved plan)" in capsys.readouterr().err
    page = _page(out)
    verdict = page.split('id="plan-verdict">')[1].split("</p>")[0]
    assert verdict == "No CMOC is inconclusive after wave “w1”: there is nothing to plan for."
    assert 'id="plan-table"' not in page and "inconclusive CMOC, the chance" not in page
    assert "nothing to plan for" in (out / "report.md").read_text()


def test_without_a_plan_the_section_says_how_to_compute_one(small_report_content):
    from cmoc.reports import render_html

    assert small_report_content.plan is None
    page = render_html(small_report_content)
    verdict = page.split('id="plan-verdict">')[1].split("</p>")[0]
    assert verdict.startswith("Not computed for this report") and "cmoc plan DIR" in verdict


def _calibration(model_id: str, seed: int, *, generate_id: str | None = None):
    """A saved-calibration stand-in: random ranks (not a fit), with the settings calibrate keeps."""
    rng = np.random.default_rng(seed)
    quantities = ["support_mean", "support_sd_cmoc", "mu[M1]", "eta[C1]"]
    ranks = pd.DataFrame(
        {
            "dataset": np.repeat(np.arange(40), len(quantities)),
            "quantity": quantities * 40,
            "rank": rng.integers(0, 100, 40 * len(quantities)),
            "n_draws": 99,
        }
    )
    settings = {
        "model_id": model_id,
        "generate_id": generate_id or model_id,
        "datasets": 40,
        "seed": seed,
        "chains": 2,
        "draws": 200,
        "tune": 200,
        "thin": 99,
        "layout": {"mechanisms": 2, "cmocs": 6, "sources": 30, "kinds": ["review", "interview"]},
    }
    return CalibrationResult.of(ranks, rank_uniformity(ranks), 0.01, settings)


def test_saved_calibration_of_the_model_is_shown_another_is_not(planted_report, tmp_path, capsys):
    import os

    base_dir, first = planted_report
    page = _page(first)
    verdict = page.split('id="calibration-verdict">')[1].split("</p>")[0]
    assert verdict.startswith("Not run for this model configuration")
    path = f"&lt;planted&gt;/.cmoc/calibration-{V1_CONFIG.id}.json"
    # model v1 is not the default: the command names the model file
    assert f"cmoc calibrate --datasets 100 --model &lt;the model file&gt; --out {path}" in verdict
    base = tmp_path / "base"
    shutil.copytree(base_dir, base)
    ours = _calibration(V1_CONFIG.id, seed=1)
    other = _calibration("another-model", seed=2)
    misspecified = _calibration(V1_CONFIG.id, seed=3, generate_id="other-priors")
    save_calibration(ours, base / ".cmoc" / f"calibration-{V1_CONFIG.id}.json")
    save_calibration(other, base / ".cmoc" / "calibration-other.json")
    save_calibration(misspecified, base / ".cmoc" / "calibration-z.json")
    for name in ("calibration-other.json", "calibration-z.json"):  # newer, but not ours
        os.utime(base / ".cmoc" / name, ns=(2**62, 2**62))
    out = tmp_path / "r"
    assert main(["report", str(base), "--out", str(out), *REPORT]) == 0
    rows = _tables(_page(out))["calibration-table"][1:]
    assert [r[0] for r in rows] == list(ours.tests["quantity"])
    assert [r[4] for r in rows] == [f"{p:.4f}" for p in ours.tests["p_value"]]
    assert [r[6] for r in rows] == [f"{m:.2f}" for m in ours.tests["mean_rank"]]
    assert ours.text in _page(out) and "40 evidence bases were simulated" in _page(out)
    assert _page(out).count("<svg") == _page(first).count("<svg") + 1  # the rank histograms
    assert "| support_mean | 40 |" in (out / "report.md").read_text()
    # explicitly given: another model's calibration or a misspecification check is bad input
    for path in (base / ".cmoc" / "calibration-other.json", base / ".cmoc" / "calibration-z.json"):
        bad = tmp_path / "bad"
        code = main(["report", str(base), "--out", str(bad), *REPORT, "--calibration", str(path)])
        assert code == 2 and not bad.exists()
        assert "this report's model configuration is" in capsys.readouterr().err
    bad = tmp_path / "bad"
    assert main(["report", str(base), "--out", str(bad), "--calibration", str(base)]) == 2
    assert "cannot read the calibration" in capsys.readouterr().err and not bad.exists()


def test_report_numbers_has_the_plan(planted_report, tmp_path):
    base_dir, out = planted_report
    base = tmp_path / "base"
    shutil.copytree(base_dir, base)
    spec = importlib.util.spec_from_file_location(
        "report_numbers", ROOT / "analyses" / "report_numbers.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(base), "--out", str(tmp_path / "n"), *FIT, "--workers", "0"]) == 0
    numbers = pd.read_csv(tmp_path / "n" / "plan.csv")
    rows = _tables(_page(out))["plan-table"][1:]
    assert [r[3] for r in rows] == [
        f"{p:.2f} ± {s:.2f}" for p, s in zip(numbers["p_settled"], numbers["mc_se"], strict=True)
    ]


def test_calibrate_out_must_be_a_file_in_an_existing_directory(tmp_path, capsys):
    assert main(["calibrate", "--datasets", "2", "--out", str(tmp_path / "no" / "c.json")]) == 2
    assert "existing directory" in capsys.readouterr().err
    assert main(["calibrate", "--datasets", "2", "--out", str(tmp_path)]) == 2


def test_calibration_saved_and_loaded_keeps_everything(tmp_path):
    from cmoc.analyses import load_calibration

    result = _calibration(V1_CONFIG.id, seed=4)
    back = load_calibration(save_calibration(result, tmp_path / "c.json"))
    pd.testing.assert_frame_equal(back.ranks, result.ranks)
    pd.testing.assert_frame_equal(back.tests, result.tests)
    assert back.settings == result.settings and back.alpha == result.alpha
    assert back.calibrates(V1_CONFIG.id) and not back.calibrates("another")
    (tmp_path / "bad.json").write_text('{"format": "cmoc plan 1"}')
    with pytest.raises(ValueError, match="not a saved calibration"):
        load_calibration(tmp_path / "bad.json")


@pytest.mark.slow  # two fits, each compiled
def test_calibrate_keeps_its_settings_for_the_report(tmp_path):
    from cmoc.analyses import calibrate, find_calibration

    result = calibrate(2, seed=3, workers=0, chains=1, draws=50, tune=50, config=V1_CONFIG)
    assert result.calibrates(V1_CONFIG.id)
    assert result.settings["datasets"] == 2 and result.settings["draws"] == 50
    (tmp_path / ".cmoc").mkdir()
    save_calibration(result, tmp_path / ".cmoc" / "calibration-x.json")
    found = find_calibration(tmp_path, V1_CONFIG.id)
    pd.testing.assert_frame_equal(found.ranks, result.ranks)
    assert found.settings == result.settings
