"""cmoc plan's speed-ups: targeted updates, the refit budget, refits of one graph (fast tests)."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.models import V1_CONFIG, build_model, model_data
from test_plan import FIT, planted_base


def test_targeted_weights_give_the_exact_posterior_probability():
    """Reweighting by the CMOC's own new split matches quadrature of its exact posterior.

    One CMOC, eta ~ Normal(0.3, 1) a priori (4,000 draws), no kind lean: after S supports and R
    refutes the posterior is proportional to Normal(eta; 0.3, 1) logistic(eta)^S
    logistic(-eta)^R; ``P(eta > 0)`` by PSIS within its Monte Carlo error of the truth.
    """
    from cmoc.analyses.planning.plan import _Targeted

    rng = np.random.default_rng(5)
    eta = rng.normal(0.3, 1.0, 4000)
    grid = np.linspace(-8, 8, 20001)
    for s, r in [(1, 0), (0, 2), (3, 4), (6, 1), (2, 9)]:
        targeted = _Targeted(eta[:, None], np.array([0]), 0, np.array([0]), eta > 0, 1.0)
        p, khat, how = targeted(np.array([s]), np.array([r]))
        dens = np.exp(-0.5 * (grid - 0.3) ** 2) * expit(grid) ** s * expit(-grid) ** r
        exact = dens[grid > 0].sum() / dens.sum()
        assert how == "mechanism" and khat <= 0.7
        # binomial error of a proportion from 4,000 weighted draws, with room for the weights
        assert abs(p - exact) < 4 * np.sqrt(exact * (1 - exact) / 1000), (s, r, p, exact)


def test_refits_of_one_plan_share_one_graph(tmp_path, fast_compile):
    """Refits of 1 and 3 new sources: one graph, and the unused slots drop out of the likelihood."""
    from cmoc.analyses.fitting.sampling import _same_structure
    from cmoc.analyses.planning.plan import _refit_data, _refit_spec, _with_new_sources

    base = load_evidence(planted_base(tmp_path / "b"))
    cfg = V1_CONFIG.merged({"mechanisms": "noncentered", "cmocs": "noncentered"})
    theory = np.arange(len(base.targets))
    sampler = {"sampler": "nutpie", "chains": 2, "draws": 10, "tune": 10, "target_accept": 0.8}
    spec = _refit_spec(base, "interview", cfg, sampler, None, max_new=3)
    rng = np.random.default_rng(1)
    sup, ref = rng.poisson(1.0, (3, theory.size)), rng.poisson(0.5, (3, theory.size))
    one = build_model(_refit_data(spec, theory, sup[:1], ref[:1], cfg), cfg)
    three = build_model(_refit_data(spec, theory, sup, ref, cfg), cfg)
    assert _same_structure(one, three)
    # base plus the one source alone: the same log-density at the same point
    targets = list(base.targets.index)
    alone = build_model(_with_new_sources(base, "interview", sup[:1], ref[:1], targets), cfg)
    point = alone.initial_point()
    assert np.isclose(one.compile_logp()(point), alone.compile_logp()(point), rtol=1e-10)
    assert not np.isclose(three.compile_logp()(point), alone.compile_logp()(point))
    assert len(model_data(base).sources) + 3 == len(one.coords["source"])


@pytest.fixture(scope="module")
def planted_fit(tmp_path_factory):
    """The planted base and a fit of it drawn from the prior (wide: PSIS fails often)."""
    from cmoc.analyses import SamplerConfig, fit
    from conftest import mocked

    base = load_evidence(planted_base(tmp_path_factory.mktemp("planted") / "b"))
    with mocked():
        return base, fit(base, V1_CONFIG, SamplerConfig(seed=7, chains=2, draws=500, tune=60))


def test_refit_budget_and_targeted_updates(planted_fit, monkeypatch):
    """At most ``max_refits`` refits, the rest counted unreliable; targeted = full while k ok."""
    plan_module = importlib.import_module("cmoc.analyses.planning.plan")

    base, idata = planted_fit
    calls = []

    def fake_refit(refit, target_pos, theory, sup, ref, seed):
        calls.append(sup.shape[0])
        return 0.95

    monkeypatch.setattr(plan_module, "_refit_p_supported", fake_refit)
    common = {"targets": ["C1"], "max_new": 8, "simulations": 60, "workers": 0, "details": True}
    full, full_sims = plan_module.plan(idata, base, update="full", max_refits=3, **common)
    flagged = int((full_sims["khat"] > 0.7).sum())
    assert flagged > 3  # a prior-wide "posterior": the whole likelihood's k fails often
    assert len(calls) == 3 and int(full["refits"].sum()) == 3
    assert int(full["unreliable"].sum()) == flagged - 3
    refitted = full_sims[full_sims["refit"]]
    assert (refitted["update"] == "refit").all() and (refitted["p_supported"] == 0.95).all()
    # the first three flagged in (simulation, n) order, whatever their outcome
    first = full_sims[full_sims["khat"] > 0.7].sort_values(["sim", "n_new"]).head(3)
    assert list(first.index) == list(refitted.index)

    calls.clear()
    targeted, sims = plan_module.plan(idata, base, update="targeted", max_refits=0, **common)
    assert not calls and int(targeted["refits"].sum()) == 0
    assert int(targeted["unreliable"].sum()) == int((sims["khat"] > 0.7).sum()) < flagged
    # same simulations: where the whole likelihood's k was fine, the same numbers
    same = sims["update"] == "full"
    assert same.any() and sims["update"].isin(["mechanism", "cmoc"]).any()
    pd.testing.assert_series_equal(
        sims.loc[same, "p_supported"], full_sims.loc[same, "p_supported"]
    )
    assert list(targeted.columns) == list(full.columns)


def test_plan_says_when_the_refit_budget_was_hit(tmp_path, monkeypatch, capsys):
    """``cmoc plan`` warns on stderr how many updates kept an unreliable PSIS estimate."""
    from cmoc import analyses
    from conftest import mocked

    directory = planted_base(tmp_path / "b")
    real = analyses.plan_result
    seen = {}

    def small(*args, **kwargs):
        seen.update(kwargs)
        kwargs.update(workers=0, update="full", max_new=6, simulations=50)
        return real(*args, **kwargs)

    monkeypatch.setattr(analyses, "plan_result", small)
    with mocked():
        code = main(["plan", str(directory), *FIT, "--max-refits", "0", "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert seen["max_refits"] == 0 and seen["update"] == "targeted"
    table = pd.read_csv(__import__("io").StringIO(out))
    hidden = int(table["unreliable"].sum())
    if hidden:
        assert f"the refit budget (--max-refits 0) was reached: {hidden} update(s)" in err
    else:  # pragma: no cover - the prior-wide fit makes PSIS fail at n = 6
        pytest.fail("expected unreliable updates")
