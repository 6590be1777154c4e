"""``analyses/status_error_rates.py``: its planted bases and how it counts decision errors.

The grid itself (dozens of model v2 fits) is run by hand and reported in docs/model.md; here
the generator's truth and the error counting are checked, and one fit of the smallest regime is
run end to end (slow).
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from cmoc.evidence import load_evidence
from conftest import ROOT


@pytest.fixture(scope="module")
def grid():
    path = ROOT / "analyses" / "status_error_rates.py"
    spec = importlib.util.spec_from_file_location("status_error_rates", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("regime", ["baseline", "unrecorded", "talkative", "few"])
def test_planted_base_is_valid_and_its_truth_is_stated(grid, regime, tmp_path):
    truth = grid.draw_base(tmp_path / "b", regime, np.random.default_rng(3))
    base = load_evidence(tmp_path / "b")
    reviews, interviews, recorded, talkative = grid.REGIMES[regime]
    assert len(base.sources) == reviews + interviews
    assert set(truth.index) == set(base.cmocs.index)
    assert ("C_talk" in truth.index) == talkative
    assert truth.loc["C_broad", "true_breadth"] == pytest.approx(0.8 * 0.8)
    assert truth.loc["C_none", "true_breadth"] == 0
    assert truth.loc["C_interview", "true_breadth"] == pytest.approx(
        0.8 * 0.7 * interviews / (reviews + interviews)
    )
    codes = base.codings
    speakers = codes.loc[codes["target_id"] == "C_interview", "source_id"]
    assert speakers.map(base.sources["kind"]).eq("interview").all()
    assert not (codes["target_id"] == "C_none").any()
    interview_refutes = codes[
        (codes["stance"] == "refutes")
        & codes["source_id"].map(base.sources["kind"]).eq("interview")
    ]
    if not recorded:
        assert interview_refutes.empty
    if talkative:
        talk = codes[codes["target_id"] == "C_talk"]
        assert list(talk["source_id"]) == ["R001"] and int(talk["count_min"].iloc[0]) == 12
        assert truth.loc["C_talk", "true_breadth"] == pytest.approx(1 / len(base.sources))


def test_errors_are_counted_against_the_truth(grid):
    rows = pd.DataFrame(
        {
            "regime": ["a"] * 6,
            "fit": ["a-0"] * 6,
            "target_id": list("uvwxyz"),
            "true_breadth": [0.5, 0.5, 0.01, 0.5, 0.5, 0.5],
            "true_direction": [0.9, 0.3, 0.9, 0.6, 0.7, 0.5],
            "status": ["affirmed", "affirmed", "novel", "affirmed", "refuted", "refuted"],
            "converged": [True] * 6,
        }
    )
    table = grid.error_table(rows, breadth_min=0.05).set_index("regime")
    # not affirmable: v (direction 0.3), w (narrow), z (direction 1/2): v and w affirmed
    assert table.loc["a", "false affirmations"] == "2/3"
    # supported (direction >= 1/2): u, w, x, y, z; refuted: y and z
    assert table.loc["a", "false refutations"] == "2/5"
    assert table.loc["all", "false refutation rate"] == pytest.approx(0.4)
    lo, hi = grid._wilson(0, 40)
    assert lo == 0 and 0.08 < hi < 0.1  # the rule of three's neighbourhood


@pytest.mark.slow  # 12 model v2 fits, about 3 minutes
def test_status_error_rates_on_a_small_grid(grid, tmp_path, capsys):
    """Three bases per regime: the decisions' error rates stay within the issue's bounds.

    A small grid cannot show a rate below 5% with confidence (docs/model.md has the full one),
    but it fails a model that affirms by pooling, without breadth, or against the codes' split:
    C_null, C_lean, C_against and C_narrow are about half of each base's targets.
    """
    out = tmp_path / "rows.csv"
    assert grid.main(["--reps", "3", "--seed", "7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| all | 12 |" in printed
    rows = pd.read_csv(out)  # a fit that fails the gate is counted too, and said (stderr)
    table = grid.error_table(rows, breadth_min=0.05).set_index("regime")
    assert table.loc["all", "false affirmation rate"] <= 0.05, table
    assert table.loc["all", "false refutation rate"] <= 0.02, table
    status = rows.groupby("target_id")["status"]
    assert status.apply(lambda s: (s == "affirmed").mean()).loc["C_broad"] >= 0.9
    assert status.apply(list).loc["C_none"] == ["unevidenced"] * 12
    assert status.apply(lambda s: (s == "refuted").mean()).loc["C_against"] >= 0.3
    # evidenced by interviews only (true breadth 0.19 with 40 reviews and 20 interviews)
    assert status.apply(lambda s: s.isin(["affirmed", "novel"]).mean()).loc["C_interview"] >= 0.5
