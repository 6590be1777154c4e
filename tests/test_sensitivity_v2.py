"""Prior sensitivity of model v2 fits: the log-likelihood per draw, the tree, the statuses.

On prior draws (``mocked``): what is under test is the wiring (which potential, which draw,
which prior, which status rule), not the numbers of a real posterior.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest
import xarray as xr

from cmoc.analyses import check_sensitivity, classify_measurement, fit, summarize
from cmoc.analyses.checks import sensitivity as sens
from cmoc.analyses.checks.sensitivity import (
    MEASUREMENT_PRIOR_NAMES,
    SENSITIVITY_COLUMNS,
    SensitivityCheck,
    measurement_loglik,
    prior_sensitivity,
    sensitivity_tree,
)
from cmoc.analyses.inference.measurement import measurement_draws
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.models import ModelConfig
from conftest import mocked, tiny_sampler
from evidence_fixtures import write_two_mechanisms

pytestmark = pytest.mark.usefixtures("fast_compile")  # what the graphs compute, not speed

V2 = ModelConfig(model="measurement")
TARGETS = ["C1", "C2", "C3", "M1", "M2"]

SOURCES = (
    "source_id,kind,wave\nR1,review,w1\nR2,review,w1\nR3,review,w1\n"
    "I1,interview,w2\nI2,interview,w2\nI3,interview,w2\n"
)
# exact cells of reviews (refutes recorded), one of an interview, and a band over the
# interviews of w2 (a block of totals): both potentials have terms
CODINGS = (
    "source_id,target_id,stance,count,count_min,count_max\n"
    "R1,C1,supports,2,,\nR1,C1,refutes,1,,\nR2,C1,supports,1,,\nR3,C2,refutes,2,,\n"
    "I1,C3,supports,3,,\nw2,C2,supports,,2,4\n"
)


def _write(directory):
    return write_two_mechanisms(
        directory,
        toml_tail='\n[recording]\nrefutes = { review = "recorded", interview = "partial" }\n',
        sources=SOURCES,
        codings=CODINGS,
    )


@pytest.fixture(scope="module")
def v2_fit(tmp_path_factory):
    directory = _write(tmp_path_factory.mktemp("sens_v2") / "b")
    base = load_evidence(directory)
    with mocked():
        idata = fit(base, V2, sampler=tiny_sampler())
    return directory, base, idata


def _transformed_point(model, idata, chain: int, draw: int) -> dict:
    """The value variables' point (transformed space) of one posterior draw."""
    post = idata["posterior"]
    point = {}
    for rv in model.free_RVs:
        x = post[rv.name].isel(chain=chain, draw=draw).values
        tr = model.rvs_to_transforms.get(rv)
        value = model.rvs_to_values[rv]
        point[value.name] = (
            x if tr is None else tr.forward(pt.as_tensor(x), *rv.owner.inputs).eval()
        )
    return point


def test_loglik_per_draw_is_the_potentials_at_that_draw(v2_fit):
    _, base, idata = v2_fit
    ll = measurement_loglik(idata, base)
    assert ll.dims == ("chain", "draw", "potential")
    assert list(ll["potential"].values) == ["exact_codes", "total_codes"]
    assert ll.sizes["chain"] == 2 and ll.sizes["draw"] == 60
    assert np.isfinite(ll.values).all()
    # an independent path: PyMC's own log density of the potentials, through the value
    # variables and their transforms, at the draw's point
    model = sens._measurement_model(base)
    logp = model.compile_logp(vars=list(model.potentials), jacobian=False, sum=False)
    for chain, draw in ((0, 0), (0, 17), (1, 42)):
        want = [float(v) for v in logp(_transformed_point(model, idata, chain, draw))]
        got = ll.isel(chain=chain, draw=draw).values
        np.testing.assert_allclose(got, want, rtol=1e-9)
        assert (np.abs(got) > 0).all()  # both potentials have terms here
    # and the draws differ: each draw gets its own values
    assert ll.sum("potential").std() > 0


def test_the_tree_has_breadth_the_v2_priors_and_a_likelihood_psense_accepts(v2_fit):
    _, base, idata = v2_fit
    tree = sensitivity_tree(idata, base)
    breadth = measurement_draws(idata, base)["breadth"]
    xr.testing.assert_allclose(tree["posterior"]["breadth"], breadth)
    assert list(tree["posterior"]["breadth"]["target"].values) == TARGETS
    # the log prior is the sum of the scaled priors' densities, and nothing else
    model = sens._measurement_model(base)
    scaled = [v.name for v in model.free_RVs if v.name in MEASUREMENT_PRIOR_NAMES]
    assert "kind_rate" in scaled and "inv_dispersion" in scaled
    # the leans sampled as the partial kind's codes show them (docs/model.md): its density is
    # the leans' prior, and it is scaled in their place
    assert "refute_recording" in scaled and "kind_lean_seen" in scaled
    # the directions' mean, in whichever form it is sampled (its density is its prior's)
    assert "support_mean_seen" in scaled or "support_mean" in scaled
    assert not [n for n in scaled if n.startswith("z_") or n.endswith("_centred")]
    logp = model.compile_logp(vars=[model[n] for n in scaled], jacobian=False)
    point = _transformed_point(model, idata, 1, 5)
    lprior = tree["log_prior"]["lprior"].isel(chain=1, draw=5)
    assert float(lprior) == pytest.approx(float(logp(point)), rel=1e-9)
    assert tree["log_likelihood"]["loglik"].dims == ("chain", "draw", "potential")


def test_sensitivity_columns_and_statuses_of_a_v2_fit(v2_fit):
    _, base, idata = v2_fit
    table = prior_sensitivity(idata, base)
    assert list(table.columns) == SENSITIVITY_COLUMNS
    assert list(table["target_id"]) == TARGETS
    assert np.isfinite(table["prior_sensitivity"].to_numpy(float)).all()
    assert np.isfinite(table["likelihood_sensitivity"].to_numpy(float)).all()
    summary = summarize(idata, base).set_index("target_id")
    assert list(table["status"]) == list(summary.loc[TARGETS, "status"])
    assert (table[["pareto_k_weaker", "pareto_k_stronger"]] > 0).all().all()
    result = check_sensitivity(idata, base)
    assert isinstance(result, SensitivityCheck)
    assert result.passed == (not result.table["status_sensitive"].any())


@pytest.fixture(scope="module")
def lprior(v2_fit):
    _, base, idata = v2_fit
    return sensitivity_tree(idata, base)["log_prior"]["lprior"]


def test_unscaled_or_flat_prior_changes_no_status(v2_fit, lprior, monkeypatch):
    _, base, idata = v2_fit
    summary = summarize(idata, base).set_index("target_id")
    status, _ = sens._measurement_statuses(idata, base, lprior, TARGETS)
    assert list(status) == list(summary.loc[TARGETS, "status"])
    # alpha 1: the summary's own shares, the same statuses, nothing to trust less
    monkeypatch.setattr(sens, "STATUS_ALPHAS", (1.0,))
    _, same = sens._measurement_statuses(idata, base, lprior, TARGETS)
    assert list(same[1.0][0]) == list(status) and same[1.0][1] == 0.0
    # a flat prior: raising it to any power changes nothing
    monkeypatch.setattr(sens, "STATUS_ALPHAS", (0.5, 2.0))
    flat = xr.zeros_like(lprior)
    _, flat_scaled = sens._measurement_statuses(idata, base, flat, TARGETS)
    for alpha in (0.5, 2.0):
        assert list(flat_scaled[alpha][0]) == list(status)
        assert flat_scaled[alpha][1] == 0.0


def test_reweighted_shares_are_the_weighted_draws(v2_fit, monkeypatch):
    """A made-up log prior favouring broad C1: its p_broad under alpha 2 is the weighted share,
    and the status rule sees the reweighted shares."""
    _, base, idata = v2_fit
    draws = measurement_draws(idata, base)
    th = base.config.classification
    broad = draws["breadth"].sel(target="C1")
    lprior = 2.0 * broad  # log weight (alpha - 1) lprior = 2 breadth at alpha 2: mild, k small
    w = np.exp(lprior - lprior.max())
    w = w / w.sum()
    want = float(((broad >= th.breadth_min) * w).sum())
    seen = {}

    def spy(evidence, table):
        seen[len(seen)] = table.copy()
        return classify_measurement(evidence, table)

    monkeypatch.setattr(sens, "classify_measurement", spy)
    monkeypatch.setattr(sens, "STATUS_ALPHAS", (2.0,))
    _, scaled = sens._measurement_statuses(idata, base, lprior, TARGETS)
    table = seen[0]
    assert scaled[2.0][1] < 0.7
    assert table.loc["C1", "p_broad"] == pytest.approx(want, abs=0.01)
    plain = float((broad >= th.breadth_min).mean())
    assert want != pytest.approx(plain, abs=0.005)  # the weights matter here
    # not testable (C3: interviews only, refutes partly recorded): no direction share
    testable = table["direction_testable"].astype(bool)
    assert table.loc[~testable, ["p_clear_support", "p_clear_refute"]].isna().all().all()
    assert table.loc[testable, "p_clear_support"].notna().all()
    for col in ("sources_min", "supports", "refutes", "direction_testable"):
        pd.testing.assert_series_equal(
            table[col], summarize(idata, base).set_index("target_id").loc[TARGETS, col]
        )


def test_cmoc_check_of_a_v2_fit_runs_the_sensitivity(v2_fit, tmp_path, capsys):
    directory, _, _ = v2_fit
    model = tmp_path / "v2.toml"
    model.write_text('model = "measurement"\n')
    tiny = ["--seed", "7", "--chains", "2", "--draws", "60", "--tune", "60"]
    with mocked():
        code = main(["check", str(directory), "--sensitivity", "--model", str(model), *tiny])
        out = capsys.readouterr().out
        assert code == 0
        assert "Prior sensitivity" in out and "C1" in out
        # the comparison, the predictive check and the influence of v2:
        # tests/test_compare_v2.py and tests/test_measurement_pointwise.py
