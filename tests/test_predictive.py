"""Posterior predictive checks: shapes, and a planted outlier is caught."""

from __future__ import annotations

import numpy as np
import pytest

from cmoc.analyses import (
    PPC_COLUMNS,
    SamplerConfig,
    evidence_units,
    fit,
    posterior_predictive,
    ppc_summary,
)
from cmoc.evidence import load_evidence
from conftest import write_base

CMOCS = "C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\n"


@pytest.fixture(scope="module")
def outlier(tmp_path_factory):
    """Twelve interviews with 2-4 codes each, and S13 with 60."""
    n = 13
    sources = "source_id,kind,wave\n" + "".join(f"S{i},interview,w1\n" for i in range(1, n + 1))
    rows = [f"S{i},C1,supports,{2 + i % 3}" for i in range(1, n)]
    rows += [f"S{i},C2,supports,1" for i in range(1, n, 2)]
    rows.append(f"S{n},C1,supports,60")
    codings = "source_id,target_id,stance,count\n" + "\n".join(rows) + "\n"
    root = tmp_path_factory.mktemp("ppc") / "base"
    base = load_evidence(write_base(root, sources, codings, cmocs=CMOCS))
    # the Poisson likelihood has no room for one very talkative source
    from cmoc.models import ModelConfig

    idata = fit(
        base,
        ModelConfig(model="hierarchical", likelihood="poisson"),
        SamplerConfig(seed=3, chains=2, draws=300, tune=300, extend=0),
    )
    return base, idata


def test_ppc_table_covers_every_unit(small_base, small_fit):
    table = posterior_predictive(small_fit, small_base, seed=1)
    assert list(table.columns) == PPC_COLUMNS
    assert list(table["unit"]) == list(evidence_units(small_base).index)
    assert (table["predicted_lo"] <= table["predicted_hi"]).all()
    assert table["p_value"].between(0, 1).all()
    totals = table[table["unit_type"] == "total"]
    assert len(totals) and (totals["observed"].str.len() > 0).all()
    again = posterior_predictive(small_fit, small_base, seed=1)
    assert table.equals(again)  # same seed, same table
    summary = ppc_summary(table)
    assert summary["units"].sum() == len(table)


@pytest.mark.slow  # real draws of a planted base
def test_planted_outlier_is_surprising(outlier):
    base, idata = outlier
    table = posterior_predictive(idata, base, seed=2).set_index("unit")
    assert table.at["S13", "observed"] == "60"
    assert table.at["S13", "surprising"]
    assert table.at["S13", "p_value"] < 0.01
    # the ordinary sources are mostly unsurprising, even though S13 pulls the rate up
    ordinary = table.drop(index="S13")
    assert ordinary["surprising"].mean() < 0.5
    assert np.isfinite(table["predicted_mean"]).all()
