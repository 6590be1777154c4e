"""Parameter recovery on simulated bases: credible intervals cover the truth near nominal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import SamplerConfig, SimulationSpec, check_convergence, fit, simulate, summarize
from cmoc.models import V1_CONFIG

SEEDS = (101, 202, 303)


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    """Fit three simulated bases (40 CMOCs, 8 mechanisms, 250 sources each) with real draws."""
    rows = []
    checks = []
    for seed in SEEDS:
        out = tmp_path_factory.mktemp(f"rec{seed}") / "b"
        spec = SimulationSpec(mechanisms=8, cmocs=40, sources=250, waves=2)
        base = simulate(out, spec, seed=seed)
        sampler = SamplerConfig(seed=seed, chains=4, draws=1000, tune=1000)
        idata = fit(base, V1_CONFIG, sampler)
        checks.append(check_convergence(idata))
        s = summarize(idata, base, ci=0.9)
        truth = pd.read_csv(out / "truth.csv").set_index("target_id")
        s["truth"] = truth.loc[s["target_id"], "support"].to_numpy()
        s["seed"] = seed
        rows.append(s)
    return pd.concat(rows, ignore_index=True), checks


@pytest.mark.slow
def test_fits_converge(recovery):
    _, checks = recovery
    assert all(c.passed for c in checks), [c.text for c in checks]


@pytest.mark.slow
def test_cmoc_interval_coverage_is_nominal(recovery):
    """90% intervals of 120 CMOC supports cover the truth 80-97% of the time."""
    s, _ = recovery
    c = s[s["target_type"] == "cmoc"]
    covered = (c["truth"] >= c["support_lo"]) & (c["truth"] <= c["support_hi"])
    assert len(c) == 120
    # binomial sd at 90% and n = 120 is 0.027: this band is about -3.7 sd to +2.6 sd
    assert 0.80 <= covered.mean() <= 0.97, covered.mean()


@pytest.mark.slow
def test_cmoc_support_is_recovered(recovery):
    s, _ = recovery
    c = s[s["target_type"] == "cmoc"]
    err = (c["support_mean"] - c["truth"]).abs()
    assert err.mean() < 0.06, err.mean()
    assert np.corrcoef(c["support_mean"], c["truth"])[0, 1] > 0.9


@pytest.mark.slow
def test_mechanism_support_is_recovered(recovery):
    s, _ = recovery
    m = s[s["target_type"] == "mechanism"]
    covered = (m["truth"] >= m["support_lo"]) & (m["truth"] <= m["support_hi"])
    assert len(m) == 24
    assert covered.mean() >= 0.75, covered.mean()
    assert np.corrcoef(m["support_mean"], m["truth"])[0, 1] > 0.8
