"""Prior sensitivity: power-scaling against an exact answer, and a prior-dominated CMOC."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from cmoc.analyses import SamplerConfig, fit
from cmoc.analyses.checks.sensitivity import (
    SENSITIVITY_COLUMNS,
    _scaled_p_supported,
    prior_sensitivity,
)
from cmoc.evidence import load_evidence
from cmoc.models import V1_CONFIG
from conftest import write_base


def test_power_scaled_prior_matches_the_conjugate_answer():
    """theta ~ N(0, s^2), y | theta ~ N(theta, 1): the prior^alpha posterior is known exactly."""
    rng = np.random.default_rng(0)
    s, y, n = 1.0, 0.4, 40_000
    post_var = 1 / (1 / s**2 + 1)
    theta = rng.normal(post_var * y, np.sqrt(post_var), size=(4, n // 4))
    lprior = xr.DataArray(stats.norm.logpdf(theta, 0, s), dims=("chain", "draw"))
    support = xr.DataArray((theta + 0.5)[..., None], dims=("chain", "draw", "target"))
    for alpha in (0.5, 2.0):
        var_a = 1 / (alpha / s**2 + 1)
        exact = stats.norm.sf(0, loc=var_a * y, scale=np.sqrt(var_a))
        p, khat = _scaled_p_supported(support, lprior, alpha)
        assert khat < 0.7
        assert p[0] == pytest.approx(exact, abs=0.01)
    # and the unscaled prior changes nothing
    p1, _ = _scaled_p_supported(support, lprior, 1.0)
    assert p1[0] == pytest.approx(float((theta > 0).mean()), abs=1e-12)


@pytest.fixture(scope="module")
def sensitivity(tmp_path_factory):
    """C1: 8 sources with supports and refutes; C2: one code; C3: no code at all."""
    ids = [f"S{i}" for i in range(1, 9)]
    sources = "source_id,kind,wave\n" + "".join(f"{s},interview,w1\n" for s in ids)
    rows = [f"{s},C1,supports,{3 + i % 3}" for i, s in enumerate(ids, 1)]
    rows += [f"{s},C1,refutes,{1 + i % 2}" for i, s in enumerate(ids, 1)]
    rows.append("S1,C2,supports,1")
    codings = "source_id,target_id,stance,count\n" + "\n".join(rows) + "\n"
    cmocs = "C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\nC3,M1,c,o,+,prior\n"
    root = tmp_path_factory.mktemp("psense") / "base"
    base = load_evidence(write_base(root, sources, codings, cmocs=cmocs))
    idata = fit(base, V1_CONFIG, SamplerConfig(seed=5, chains=4, draws=500, tune=500))
    return prior_sensitivity(idata, base).set_index("target_id")


@pytest.mark.slow  # real draws: which CMOC the prior dominates is statistics
def test_prior_dominated_cmoc_is_flagged(sensitivity):
    assert list(sensitivity.reset_index().columns) == SENSITIVITY_COLUMNS
    c1, c3 = sensitivity.loc["C1"], sensitivity.loc["C3"]
    # C3 has no evidence of its own: its support is what the prior and the pooling say
    assert c3["diagnosis"] == "potential strong prior / weak likelihood"
    assert c3["prior_sensitivity"] > 0.05 > c3["likelihood_sensitivity"]
    # C1 is pinned down by its codes
    assert c1["diagnosis"] == "✓"
    assert c1["prior_sensitivity"] < c3["prior_sensitivity"] / 2
    assert not sensitivity["status_sensitive"].any()
