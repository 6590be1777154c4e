"""Parametrisations: the kind leans' fixed scale or centring, the salience level (same priors)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import cmoc.models.hierarchical as hierarchical
from cmoc.analyses import SimulationSpec, simulate
from cmoc.models import ModelConfig, Prior, build_model
from cmoc.models.data import model_data


@pytest.fixture(scope="module")
def small_base(tmp_path_factory):
    out = tmp_path_factory.mktemp("param") / "b"
    spec = SimulationSpec(mechanisms=3, cmocs=9, sources=60, waves=2, banded_fraction=0.0)
    return simulate(out, spec, seed=5)


HIERARCHICAL = Prior(dist="HalfNormal", sigma=0.5)
"""A scale for the kind leans that is a parameter (the default fixes it)."""


def _centred(model: pm.Model) -> bool:
    return "z_kind_lean" not in model.named_vars and "kind_lean" in {v.name for v in model.free_RVs}


def _leans(form: str = "auto") -> ModelConfig:
    return ModelConfig(model="hierarchical", kind_lean_sd=HIERARCHICAL, kind_leans=form)


def test_default_kind_leans_have_a_fixed_scale(small_base):
    """No scale parameter: the leans are iid Normal(0, 0.5) minus their mean, zero-sum."""
    model = build_model(small_base)
    assert _centred(model)
    assert "kind_lean_sd" not in model.named_vars
    with model:
        prior = pm.sample_prior_predictive(draws=4000, var_names=["kind_lean"], random_seed=3)
    lean = prior.prior["kind_lean"].to_numpy().reshape(-1, model.dim_lengths["kind"].eval())
    n_k = lean.shape[1]
    np.testing.assert_allclose(lean.sum(axis=1), 0.0, atol=1e-9)
    # sd of a deviation from the mean of n_k iid Normal(0, 0.5): 0.5 sqrt(1 - 1/n_k)
    expected = 0.5 * np.sqrt(1 - 1 / n_k)
    np.testing.assert_allclose(lean.std(axis=0), expected, rtol=0.05)
    scale = "kind lean on support (zero-sum) scale, sigma_delta"
    assert (
        dict(ModelConfig(model="hierarchical", kind_lean_sd=0.3).describe_priors())[scale]
        == "fixed at 0.3"
    )
    assert dict(ModelConfig(model="hierarchical").describe_priors())[
        "kind lean on support (zero-sum) scale, sigma_delta"
    ] == ("fixed at 0.5")


def test_auto_centres_kind_leans_only_with_many_codes_per_kind(small_base, monkeypatch):
    d = model_data(small_base)
    per_kind = np.bincount(d.tks_kind, weights=d.tks_wcount, minlength=len(d.kinds))
    assert per_kind.min() < hierarchical.KIND_CENTER_MIN_CODES
    assert not _centred(build_model(small_base, _leans()))
    monkeypatch.setattr(hierarchical, "KIND_CENTER_MIN_CODES", float(per_kind.min()))
    assert _centred(build_model(small_base, _leans()))
    assert not _centred(build_model(small_base, _leans("noncentered")))


def test_explicit_kind_lean_parametrisations(small_base):
    assert _centred(build_model(small_base, _leans("centered")))
    assert not _centred(build_model(small_base, _leans("noncentered")))


def test_both_kind_lean_forms_have_the_same_prior(small_base):
    """Prior draws of the leans have the same distribution in either form and stay zero-sum."""
    draws = {}
    for form in ("centered", "noncentered"):
        model = build_model(small_base, _leans(form))
        with model:
            prior = pm.sample_prior_predictive(
                draws=4000, var_names=["kind_lean"], random_seed=7
            ).prior
        lean = prior["kind_lean"].to_numpy().reshape(-1, prior.sizes["kind"])
        np.testing.assert_allclose(lean.sum(axis=1), 0.0, atol=1e-9)
        draws[form] = lean
    for k in range(draws["centered"].shape[1]):
        # a scale mixture with heavy tails: compare whole distributions, not sample sds
        test = stats.ks_2samp(draws["centered"][:, k], draws["noncentered"][:, k])
        assert test.pvalue > 1e-3, (k, test)


def _names(model: pm.Model) -> set[str]:
    return {v.name for v in model.free_RVs}


def test_salience_level_is_a_parameter_when_cmocs_are_centred(small_base):
    """Centred CMOCs: one salience level, zero-sum saliences around it, kind rates at it."""
    centred = _names(build_model(small_base, ModelConfig(model="hierarchical", cmocs="centered")))
    assert {"salience_level", "salience_relative", "kind_level"} <= centred
    assert not {"kind_rate", "salience_centred"} & centred
    # a kind rate with a prior other than Normal keeps the plain form
    plain = ModelConfig(
        model="hierarchical", cmocs="centered", kind_rate={"dist": "HalfNormal", "sigma": 2.0}
    )
    assert {"kind_rate", "salience_centred"} <= _names(build_model(small_base, plain))


def test_salience_level_form_has_the_same_prior(small_base):
    """The salience-level form (centred CMOCs) has the plain form's prior.

    Kind rates iid Normal(mu, sigma), CMOC saliences Normal(theta_m, sigma_lambda), independent
    of the rates.
    """
    draws = {}
    for form in ("centered", "noncentered"):
        model = build_model(small_base, ModelConfig(model="hierarchical", cmocs=form))
        with model:
            prior = pm.sample_prior_predictive(
                draws=4000,
                var_names=["kind_rate", "salience_cmoc", "salience_mechanism"],
                random_seed=11,
            ).prior
        draws[form] = {k: prior[k].to_numpy().reshape(4000, -1) for k in prior.data_vars}
    cfg = ModelConfig(model="hierarchical")
    for form, d in draws.items():
        rate = d["kind_rate"]
        for k in range(rate.shape[1]):
            test = stats.kstest(rate[:, k], stats.norm(cfg.kind_rate.mu, cfg.kind_rate.sigma).cdf)
            assert test.pvalue > 1e-3, (form, k, test)
        if rate.shape[1] > 1:  # iid: uncorrelated kinds (se of a correlation ~ 0.016)
            assert abs(np.corrcoef(rate[:, 0], rate[:, 1])[0, 1]) < 0.06, form
        # the saliences do not depend on the rates
        assert abs(np.corrcoef(rate[:, 0], d["salience_cmoc"][:, 0])[0, 1]) < 0.06, form
    for c in range(draws["centered"]["salience_cmoc"].shape[1]):
        test = stats.ks_2samp(
            draws["centered"]["salience_cmoc"][:, c], draws["noncentered"]["salience_cmoc"][:, c]
        )
        assert test.pvalue > 1e-3, (c, test)
    # and the same dependence between CMOCs (through their mechanisms' saliences)
    corr = {f: np.corrcoef(d["salience_cmoc"].T) for f, d in draws.items()}
    assert np.abs(corr["centered"] - corr["noncentered"]).max() < 0.1


def test_gamma_prior_has_the_stated_mean_and_sd():
    """``Gamma`` takes a mean and sd; its draws in the model and in calibration match them."""
    from pydantic import ValidationError

    from cmoc.models.generate import _draw
    from cmoc.models.hierarchical import _prior

    prior = Prior(dist="Gamma", mu=0.4, sigma=0.4 / np.sqrt(2))
    assert str(prior) == "Gamma(shape=2, rate=5)"
    with pm.Model():
        drawn = pm.draw(_prior("s", prior), draws=20000, random_seed=1)
    generated = _draw(prior, np.random.default_rng(1), 20000)
    for x in (drawn, generated):
        assert abs(x.mean() - 0.4) < 0.01 and abs(x.std() - 0.283) < 0.01
    with pytest.raises(ValidationError, match="positive mean"):
        Prior(dist="Gamma", mu=0.0, sigma=1.0)


def test_a_gamma_kind_lean_scale_is_a_gamma_parameter(small_base):
    model = build_model(
        small_base,
        ModelConfig(model="hierarchical", kind_lean_sd=Prior(dist="Gamma", mu=0.4, sigma=0.2)),
    )
    scale = model["kind_lean_sd"]
    assert scale in model.free_RVs
    assert scale.owner.op.name == "gamma"
    draws = pm.draw(scale, draws=20000, random_seed=2)
    assert abs(draws.mean() - 0.4) < 0.01 and abs(draws.std() - 0.2) < 0.01
