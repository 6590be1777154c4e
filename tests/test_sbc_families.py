"""``analyses/sbc_families.py``: chunks of a calibration run pool into one table (issue 15)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses.planning.calibration import CalibrationResult, rank_uniformity

SCRIPT = Path(__file__).parents[1] / "analyses" / "sbc_families.py"


@pytest.fixture(scope="module")
def sbc():
    spec = importlib.util.spec_from_file_location("sbc_families", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["sbc_families"] = module
    spec.loader.exec_module(module)
    return module


def _chunk(seed: int, datasets: int, shift: float = 0.0) -> CalibrationResult:
    # evenly spread rank quantiles (deterministic), shifted up and piled at the top by `shift`
    rows = []
    for d in range(datasets):
        for q in ("a", "b"):
            u = min((d + 0.5) / datasets + (seed % 7) / (7 * datasets) + shift, 0.999)
            rows.append(
                {
                    "dataset": d,
                    "quantity": q,
                    "truth": 0.0,
                    "rank": int(u * 100),
                    "n_draws": 99,
                    "posterior_mean": 0.0,
                    "divergences": d % 2,
                    "codes": 5,
                }
            )
    ranks = pd.DataFrame(rows)
    settings = {"model_id": "m", "datasets": datasets, "seed": seed, "alpha": 0.01}
    return CalibrationResult.of(ranks, rank_uniformity(ranks), 0.01, settings)


def test_chunks_pool_into_one_table(sbc, tmp_path):
    for seed in (7, 8, 9):
        _chunk(seed, 40).save(tmp_path / f"ioc-{seed}.json")
    _chunk(1, 40, shift=0.5).save(tmp_path / f"mixed-{1}.json")  # another family: not pooled
    merged = sbc.merge("ioc", tmp_path)
    assert merged.ranks["dataset"].nunique() == 120
    assert sorted(merged.ranks["seed"].unique()) == [7, 8, 9]
    pooled = pd.concat([_chunk(s, 40).ranks for s in (7, 8, 9)], ignore_index=True)
    expected = rank_uniformity(pooled.assign(dataset=np.repeat(np.arange(240) // 2, 1)))
    assert np.allclose(merged.tests["p_value"], expected["p_value"])
    assert merged.settings["datasets"] == 120
    text = sbc.markdown(merged)
    assert "| a |" in text and "120 from 3 seeds" in text and "with divergences: 60" in text


def test_pooled_chunks_find_a_miscalibration_no_chunk_could(sbc, tmp_path):
    for seed in range(10, 14):
        chunk = _chunk(seed, 25, shift=0.2)
        chunk.save(tmp_path / f"ioc-{seed}.json")
        assert "too small" in chunk.text
    merged = sbc.merge("ioc", tmp_path)
    assert not merged.calibrated
    assert "NOT uniform" in merged.text


def test_no_chunk_is_a_clear_stop(sbc, tmp_path):
    with pytest.raises(SystemExit, match="no saved chunk"):
        sbc.merge("ioc", tmp_path)
