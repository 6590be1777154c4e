"""Evidence levels of banded totals from the posterior predictive, against exact answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from cmoc.analyses.inference.levels import predictive_levels
from cmoc.evidence import load_evidence
from conftest import write_base


@pytest.fixture
def banded(tmp_path):
    d = write_base(
        tmp_path / "b",
        "source_id,kind,wave\nS1,interview,w1\nS2,interview,w1\n",
        "source_id,target_id,stance,count,count_min,count_max\n"
        "w1,C1,supports,,1,\n"
        "w1,M1,supports,,3,4\n"
        "S1,C2,supports,2,,\n",
        cmocs="C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\n",
    )
    return load_evidence(d)


def _fake_fit(means: list[float], likelihood: str) -> xr.DataTree:
    n = 20000
    coords = {"chain": [0], "draw": np.arange(n), "aggregate": ["codings.csv:2", "codings.csv:3"]}
    mean = np.broadcast_to(np.array(means), (1, n, 2)).copy()
    post = xr.Dataset(
        {
            "total_mean": (("chain", "draw", "aggregate"), mean),
            "total_alpha": (("chain", "draw", "aggregate"), np.full((1, n, 2), 3.0)),
        },
        coords=coords,
    )
    tree = xr.DataTree.from_dict({"posterior": post})
    tree.attrs["model_config"] = json.dumps({"likelihood": likelihood})
    return tree


@pytest.mark.parametrize("likelihood", ["poisson", "negbin"])
def test_level_of_an_open_band_is_the_truncated_predictive(banded, likelihood):
    m = 2.5
    out = predictive_levels(_fake_fit([m, 3.0], likelihood), banded, seed=1)
    dist = stats.poisson(m) if likelihood == "poisson" else stats.nbinom(3.0, 3.0 / (3.0 + m))
    tail = dist.sf(0)  # P(T >= 1)
    p_limited = (dist.pmf(1) + dist.pmf(2)) / tail
    p_moderate = (dist.pmf(3) + dist.pmf(4)) / tail
    p_significant = dist.sf(4) / tail
    probs = {"limited": p_limited, "moderate": p_moderate, "significant": p_significant}
    best = max(probs, key=probs.get)
    row = out.loc["C1"]
    assert row["evidence_level"] == best
    assert row["evidence_level_p"] == pytest.approx(probs[best], abs=0.015)
    mean = sum(k * dist.pmf(k) for k in range(1, 200)) / tail
    assert row["expected_codes"] == pytest.approx(mean, rel=0.03)


def test_fixed_levels_stay_as_published(banded):
    out = predictive_levels(_fake_fit([2.5, 30.0], "poisson"), banded, seed=1)
    # a 3-4 band is moderate whatever the model expects
    assert out.loc["M1", "evidence_level"] == "moderate"
    assert out.loc["M1", "evidence_level_p"] == 1.0
    assert 3 <= out.loc["M1", "expected_codes"] <= 4
    # an exact count needs no model
    assert out.loc["C2", "evidence_level"] == "limited" and out.loc["C2", "codes"] == "2"


def test_same_seed_same_levels(banded):
    fit = _fake_fit([2.5, 3.0], "negbin")
    a = predictive_levels(fit, banded, seed=3)
    b = predictive_levels(fit, banded, seed=3)
    assert a.equals(b)
