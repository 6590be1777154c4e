"""The kind leans' centring: chosen by the data, and a reparametrisation only (same prior)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import cmoc.models.hierarchical as hierarchical
from cmoc.analyses import SimulationSpec, simulate
from cmoc.models import ModelConfig, build_model
from cmoc.models.data import model_data


@pytest.fixture(scope="module")
def small_base(tmp_path_factory):
    out = tmp_path_factory.mktemp("param") / "b"
    spec = SimulationSpec(mechanisms=3, cmocs=9, sources=60, waves=2, banded_fraction=0.0)
    return simulate(out, spec, seed=5)


def _centred(model: pm.Model) -> bool:
    return "z_kind_lean" not in model.named_vars and "kind_lean" in {v.name for v in model.free_RVs}


def test_auto_centres_kind_leans_only_with_many_codes_per_kind(small_base, monkeypatch):
    d = model_data(small_base)
    per_kind = np.bincount(d.tks_kind, weights=d.tks_wcount, minlength=len(d.kinds))
    assert per_kind.min() < hierarchical.KIND_CENTER_MIN_CODES
    assert not _centred(build_model(small_base))
    monkeypatch.setattr(hierarchical, "KIND_CENTER_MIN_CODES", float(per_kind.min()))
    assert _centred(build_model(small_base))
    assert not _centred(build_model(small_base, ModelConfig(kind_leans="noncentered")))


def test_explicit_kind_lean_parametrisations(small_base):
    assert _centred(build_model(small_base, ModelConfig(kind_leans="centered")))
    assert not _centred(build_model(small_base, ModelConfig(kind_leans="noncentered")))


def test_both_kind_lean_forms_have_the_same_prior(small_base):
    """Prior draws of the leans have the same distribution in either form and stay zero-sum."""
    draws = {}
    for form in ("centered", "noncentered"):
        model = build_model(small_base, ModelConfig(kind_leans=form))
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
