"""Exact answers: with the hierarchy fixed, one CMOC's support has a Beta posterior."""

from __future__ import annotations

import arviz as az
import numpy as np
import pymc as pm
import pytest
from scipy import integrate, stats

from cmoc.analyses import SamplerConfig, sample_model
from cmoc.evidence import load_evidence
from cmoc.models import ModelConfig, build_model
from conftest import write_base


def _write(base_dir, sources: str, codings: str) -> None:
    write_base(base_dir, sources, codings)


def _fixed(model: pm.Model) -> pm.Model:
    """Fix the support hierarchy at mean 0, scale 1: a Logistic CMOC deviation is uniform."""
    return pm.do(
        model,
        {"support_mean": 0.0, "support_sd_mechanism": 0.0, "support_sd_cmoc": 1.0},
    )


def _check_beta(draws: np.ndarray, a: float, b: float, ess: float) -> None:
    ref = stats.beta(a, b)
    se_mean = ref.std() / np.sqrt(ess)
    assert abs(draws.mean() - ref.mean()) < 4 * se_mean
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        x = ref.ppf(q)
        # Monte Carlo error of an empirical quantile: sqrt(q(1-q)/ess) / density
        se_q = np.sqrt(q * (1 - q) / ess) / ref.pdf(x)
        assert abs(np.quantile(draws, q) - x) < 4 * se_q + 1e-3, q


@pytest.mark.slow  # 4 x 1,500 real draws against a closed form
@pytest.mark.parametrize(
    ("likelihood", "weights", "counts"),
    [
        ("negbin", (1.0, 1.0), ((6, 1), (3, 0))),
        ("poisson", (1.0, 1.0), ((6, 1), (3, 0))),
        ("negbin", (0.5, 1.0), ((8, 2), (1, 3))),
    ],
)
def test_single_cmoc_support_is_beta(tmp_path, likelihood, weights, counts):
    """Posterior of support is Beta(1 + sum w*s, 1 + sum w*f), whatever the coding rates."""
    sources = "source_id,kind,wave,weight\n" + "".join(
        f"S{i},interview,w1,{w}\n" for i, w in enumerate(weights)
    )
    codings = "source_id,target_id,stance,count\n" + "".join(
        f"S{i},C1,supports,{s}\nS{i},C1,refutes,{f}\n" for i, (s, f) in enumerate(counts)
    )
    _write(tmp_path / "b", sources, codings)
    base = load_evidence(tmp_path / "b")
    model = _fixed(
        build_model(
            base, ModelConfig(model="hierarchical", likelihood=likelihood, pooling="logistic")
        )
    )
    idata = sample_model(model, SamplerConfig(seed=5, chains=4, draws=1500, tune=1000))
    support = idata["posterior"]["support_cmoc"].sel(cmoc="C1")
    ess = float(az.ess(support.to_dataset(name="s"))["s"])
    a = 1 + sum(w * s for w, (s, _) in zip(weights, counts, strict=True))
    b = 1 + sum(w * f for w, (_, f) in zip(weights, counts, strict=True))
    _check_beta(support.values.ravel(), a, b, ess)


@pytest.mark.slow  # 4 x 1,500 real draws against quadrature
def test_banded_counts_match_quadrature(tmp_path):
    """A banded supports count with the rate fixed: posterior by 1-D quadrature."""
    _write(
        tmp_path / "b",
        "source_id,kind,wave\nS1,interview,w1\n",
        "source_id,target_id,stance,count,count_min,count_max\n"
        "S1,C1,supports,,3,4\nS1,C1,refutes,1,,\n",
    )
    base = load_evidence(tmp_path / "b")
    model = build_model(
        base, ModelConfig(model="hierarchical", likelihood="poisson", pooling="logistic")
    )
    rate = 6.0
    model = pm.do(
        _fixed(model),
        {
            "kind_rate": np.array([np.log(rate)]),
            "salience_sd_mechanism": 0.0,
            "salience_sd_cmoc": 0.0,
        },
    )
    idata = sample_model(model, SamplerConfig(seed=9, chains=4, draws=1500, tune=1000))
    draws = idata["posterior"]["support_cmoc"].sel(cmoc="C1").values.ravel()

    def dens(p):
        band = stats.poisson.cdf(4, rate * p) - stats.poisson.cdf(2, rate * p)
        return band * stats.poisson.pmf(1, rate * (1 - p))

    z, _ = integrate.quad(dens, 0, 1)
    mean, _ = integrate.quad(lambda p: p * dens(p) / z, 0, 1)
    second, _ = integrate.quad(lambda p: p * p * dens(p) / z, 0, 1)
    sd = np.sqrt(second - mean**2)
    ess = float(az.ess(idata["posterior"]["support_cmoc"].to_dataset(name="s"))["s"].min())
    assert abs(draws.mean() - mean) < 4 * sd / np.sqrt(ess)
    assert abs(draws.std() - sd) < 0.1 * sd
