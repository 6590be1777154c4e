"""Per-unit log-likelihood and leave-one-unit-out influence (PSIS) against exact answers."""

from __future__ import annotations

import numpy as np
import pytest

from cmoc.analyses import SamplerConfig, fit
from cmoc.analyses.checks.influence import (
    INFLUENCE_COLUMNS,
    evidence_units,
    influence,
    moved_most,
    pointwise_loglik,
    refit_unreliable,
)
from cmoc.evidence import load_evidence
from cmoc.models import V1_CONFIG, build_model
from conftest import write_base

CMOCS = "C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\n"
SAMPLER = SamplerConfig(seed=11, chains=4, draws=500, tune=500)


def _planted(directory, drop: str | None = None):
    """Eight interviews code C1 for; four code C2 for once; S8 refutes C2 six times."""
    ids = [f"S{i}" for i in range(1, 9) if f"S{i}" != drop]
    sources = "source_id,kind,wave\n" + "".join(f"{s},interview,w1\n" for s in ids)
    rows = []
    for s in ids:
        i = int(s[1:])
        rows.append(f"{s},C1,supports,{2 + i % 3}")
        if i <= 4:
            rows.append(f"{s},C2,supports,1")
    if "S8" in ids:
        rows.append("S8,C2,refutes,6")
    codings = "source_id,target_id,stance,count\n" + "\n".join(rows) + "\n"
    return load_evidence(write_base(directory, sources, codings, cmocs=CMOCS))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    base = _planted(tmp_path_factory.mktemp("influence") / "full")
    idata = fit(base, V1_CONFIG, SAMPLER)
    return base, idata, influence(idata, base)


@pytest.mark.usefixtures("fast_compile")
def test_units_sum_to_the_whole_likelihood(small_base):
    """The units' log-likelihoods add up to the model's, at an arbitrary parameter point."""
    base = small_base
    model = build_model(base, pointwise=True)
    units = evidence_units(base)
    assert list(model.coords["unit"]) == list(units.index)
    assert set(units["unit_type"]) == {"source", "total"}
    rng = np.random.default_rng(5)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    (unit_ll,) = model.replace_rvs_by_values([model["loglik_unit"]])
    per_unit = model.compile_fn(unit_ll, inputs=model.value_vars, on_unused_input="ignore")
    whole = model.compile_fn(
        model.logp(vars=model.observed_RVs + model.potentials),
        inputs=model.value_vars,
        on_unused_input="ignore",
    )
    assert per_unit(point).sum() == pytest.approx(float(whole(point)), rel=1e-10)


@pytest.mark.usefixtures("fast_compile")
def test_pointwise_loglik_has_one_value_per_draw_and_unit(small_base, small_fit):
    base = small_base
    ll = pointwise_loglik(small_fit, base)
    assert ll.dims == ("chain", "draw", "unit")
    assert ll.sizes["unit"] == len(evidence_units(base))
    assert np.isfinite(ll.values).all()


@pytest.mark.slow  # real draws of the planted base (and exact refits)
def test_planted_influential_source_is_found(planted):
    _, _, table = planted
    assert list(table.columns) == INFLUENCE_COLUMNS
    c2 = table[table["target_id"] == "C2"]
    top = c2.iloc[0]
    assert top["unit"] == "S8"
    assert top["contribution"] < -0.2  # its refutes pulled C2's support down
    assert top["codes"] == 6
    # the four sources that support C2 each pushed it up
    supporters = c2.set_index("unit").loc[["S1", "S2", "S3", "S4"], "contribution"]
    assert (supporters > 0).all()
    assert moved_most(table)["C2"].startswith("S8 -")


@pytest.mark.slow  # real draws of the planted base (and exact refits)
def test_psis_matches_an_exact_refit_without_the_unit(planted, tmp_path):
    """Leaving S1 out through PSIS agrees with refitting without S1."""
    _, _, table = planted
    row = table[(table["target_id"] == "C2") & (table["unit"] == "S1")].iloc[0]
    assert row["reliable"]
    base = _planted(tmp_path / "without-s1", drop="S1")
    exact = float(fit(base, V1_CONFIG, SAMPLER)["posterior"]["support_cmoc"].sel(cmoc="C2").mean())
    assert row["support_loo"] == pytest.approx(exact, abs=0.02)
    assert abs(row["contribution"]) > 0.03  # the check is not vacuous: S1 does move C2


@pytest.mark.slow  # real draws of the planted base (and exact refits)
def test_unreliable_estimates_are_flagged(planted):
    """S8 carries C2 alone: PSIS cannot stand in for a refit there, and says so."""
    _, _, table = planted
    s8 = table[(table["target_id"] == "C2") & (table["unit"] == "S8")].iloc[0]
    assert s8["pareto_k"] > 0.7
    assert not s8["reliable"]
    assert "*" in moved_most(table)["C2"].split(";")[0]


def test_influence_restricted_to_a_wave(small_base, small_fit):
    base = small_base
    table = influence(small_fit, base, wave=base.waves[-1])
    assert set(table["wave"]) == {base.waves[-1]}
    assert set(table["target_id"]) == set(base.targets.index)


@pytest.mark.slow  # real draws of the planted base (and exact refits)
def test_unreliable_units_are_refitted_exactly(planted, tmp_path):
    """S8's PSIS estimate is unreliable; the refit without it matches removing S8 outright."""
    base, idata, table = planted
    refitted = refit_unreliable(table, idata, base, max_refits=1)
    s8 = refitted[(refitted["unit"] == "S8") & (refitted["target_id"] == "C2")].iloc[0]
    assert s8["method"] == "refit" and s8["reliable"]
    without = _planted(tmp_path / "without-s8", drop="S8")
    exact = float(
        fit(without, V1_CONFIG, SAMPLER)["posterior"]["support_cmoc"].sel(cmoc="C2").mean()
    )
    assert s8["support_loo"] == pytest.approx(exact, abs=0.02)
    assert s8["contribution"] < -0.3  # S8 alone pulled C2 from about 0.94 to about 0.47
    others = refitted[refitted["unit"] != "S8"]
    assert (others["method"] == "psis").all()


@pytest.mark.usefixtures("fast_compile")
@pytest.mark.parametrize("which", ["source", "total"])
def test_without_unit_removes_exactly_that_units_likelihood(small_base, which):
    from cmoc.models import model_data, without_unit

    d = model_data(small_base)
    unit = d.sources[d.cell_src[0]] if which == "source" else d.agg_label[0]
    rng = np.random.default_rng(8)
    values = []
    for data in (d, without_unit(d, unit)):
        model = build_model(data, pointwise=True)
        if not values:
            point = {
                k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()
            }
        (unit_ll,) = model.replace_rvs_by_values([model["loglik_unit"]])
        f = model.compile_fn(unit_ll, inputs=model.value_vars, on_unused_input="ignore")
        values.append(f(point))
    full, less = values
    i = list(d.sources + d.agg_label).index(unit)
    assert full[i] != 0 and less[i] == 0
    assert np.delete(less, i) == pytest.approx(np.delete(full, i), rel=1e-10)
