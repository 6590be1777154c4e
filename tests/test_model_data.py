"""Sufficient statistics and the likelihood against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytest
from scipy import integrate, stats

from cmoc.analyses import SimulationSpec, simulate
from cmoc.evidence import load_evidence
from cmoc.models import ModelConfig, build_model, model_data
from conftest import write_base


def _logp_fn(model, *names):
    """Compiled log-density of the named likelihood terms (summed), given the value variables."""
    inputs = list(model.value_vars)
    terms = model.logp(vars=[model[n] for n in names], sum=False)
    out = sum(pytensor.tensor.sum(t) for t in terms)
    return pytensor.function(inputs, out, on_unused_input="ignore"), inputs


def _point(model, rng):
    ip = model.initial_point()
    return {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in ip.items()}


def _draws(model, point):
    names = [
        "support_cmoc",
        "support_mechanism",
        "salience_cmoc",
        "salience_mechanism",
        "kind_rate",
        "eta",
        "mu",
    ]
    names = [n for n in names if n in model.named_vars]
    extra = [n for n in ("kind_lean", "group_effect", "dispersion") if n in model.named_vars]
    f = model.compile_fn(
        model.replace_rvs_by_values([model[n] for n in names + extra]),
        inputs=model.value_vars,
        on_unused_input="ignore",
        point_fn=True,
    )
    vals = f(point)
    return dict(zip(names + extra, vals, strict=True))


pytestmark = pytest.mark.usefixtures("fast_compile")  # likelihoods against hand formulas


@pytest.fixture(scope="module")
def exact_base(tmp_path_factory):
    out = tmp_path_factory.mktemp("exact") / "b"
    spec = SimulationSpec(mechanisms=3, cmocs=9, sources=30, waves=2, banded_fraction=0.0)
    return simulate(out, spec, seed=11)


def _dense_counts(base):
    """Dense (source, target, stance) counts with zeros, and the in-theory mask."""
    d = model_data(base)
    n_j, n_t = len(d.sources), len(d.targets)
    counts = np.zeros((n_j, n_t, 2))
    counts[d.cell_src, d.cell_tgt, d.cell_stance] = d.cell_count
    mask = d.target_intro[None, :] <= d.src_wave[:, None]
    return d, counts, mask


def test_cells_only_for_nonzero_codings(exact_base):
    d = model_data(exact_base)
    cod = exact_base.codings
    assert d.n_cells == int((cod["count_min"] > 0).sum())
    assert d.cell_count.sum() == cod["count_min"].sum()
    np.testing.assert_array_equal(
        d.src_total, np.bincount(d.cell_src, weights=d.cell_count, minlength=len(d.sources))
    )
    weighted = (d.cell_count * d.src_weight[d.cell_src]).sum()
    assert d.tks_wcount.sum() == pytest.approx(weighted)
    assert len(d.tks_wcount) <= len(d.targets) * len(d.kinds) * 2
    assert d.agg_label == []


def test_poisson_likelihood_matches_dense_reference(exact_base):
    """Sufficient statistics give the same log-likelihood as one Poisson term per cell."""
    cfg = ModelConfig(model="hierarchical", likelihood="poisson")
    model = build_model(exact_base, cfg)
    d, counts, mask = _dense_counts(exact_base)
    f, inputs = _logp_fn(model, "source_codes", "cell_codes")
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = _point(model, rng)
        got = f(*[point[v.name] for v in inputs])
        v = _draws(model, point)
        logit = np.concatenate([v["eta"], v["mu"]])
        lam = np.concatenate([v["salience_cmoc"], v["salience_mechanism"]])
        lean = v.get("kind_lean", np.zeros(len(d.kinds)))
        offset = v["kind_rate"][d.src_kind] + d.src_log_exposure
        if "group_effect" in v:
            g = np.append(v["group_effect"], 0.0)
            offset = offset + g[d.src_groups].sum(axis=1)
        p = 1 / (1 + np.exp(-(logit[None, :] + lean[d.src_kind][:, None])))
        rate = np.exp(offset[:, None] + lam[None, :]) * mask
        ll = stats.poisson.logpmf(counts[..., 0], rate * p) + stats.poisson.logpmf(
            counts[..., 1], rate * (1 - p)
        )
        ll = np.where(mask, ll, 0.0).sum(axis=1) * d.src_weight
        np.testing.assert_allclose(got, ll.sum(), rtol=1e-9)


def test_negbin_likelihood_matches_numerical_integral(exact_base):
    """The integrated talkativeness equals the integral of Poisson terms over Gamma(phi, phi)."""
    model = build_model(exact_base)
    d, counts, mask = _dense_counts(exact_base)
    f, inputs = _logp_fn(model, "source_codes", "cell_codes")
    rng = np.random.default_rng(1)
    point = _point(model, rng)
    got = f(*[point[v.name] for v in inputs])
    v = _draws(model, point)
    phi = float(v["dispersion"])
    logit = np.concatenate([v["eta"], v["mu"]])
    lam = np.concatenate([v["salience_cmoc"], v["salience_mechanism"]])
    lean = v.get("kind_lean", np.zeros(len(d.kinds)))
    offset = v["kind_rate"][d.src_kind] + d.src_log_exposure
    if "group_effect" in v:
        offset = offset + np.append(v["group_effect"], 0.0)[d.src_groups].sum(axis=1)
    total = 0.0
    for j in range(len(d.sources)):
        p = 1 / (1 + np.exp(-(logit + lean[d.src_kind[j]])))
        rate = np.exp(offset[j] + lam) * mask[j]

        def integrand(u, j=j, p=p, rate=rate):
            ll = stats.poisson.logpmf(counts[j, :, 0], u * rate * p) + stats.poisson.logpmf(
                counts[j, :, 1], u * rate * (1 - p)
            )
            return np.exp(ll[mask[j]].sum() + stats.gamma.logpdf(u, phi, scale=1 / phi))

        ref, _ = integrate.quad(integrand, 0, np.inf, limit=200)
        total += d.src_weight[j] * np.log(ref)
    np.testing.assert_allclose(got, total, rtol=1e-5)  # quadrature error, summed over sources


def test_totals_subtract_exact_rows_inside(tmp_path):
    """A wave total minus the exact source rows inside it leaves the rest of the wave."""
    base_dir = write_base(
        tmp_path / "b",
        "source_id,kind,wave\nS1,interview,w1\nS2,interview,w1\nS3,interview,w1\n",
        "source_id,target_id,stance,count,count_min,count_max\n"
        "w1,C1,supports,,5,8\n"
        "S1,C1,supports,2,,\n",
    )
    d = model_data(load_evidence(base_dir))
    assert list(d.agg_lo) == [3] and list(d.agg_hi) == [6]
    assert sorted(d.agg_src.tolist()) == [1, 2]  # S2 and S3 carry the rest
    assert d.n_cells == 1


def test_banded_log_likelihood_is_interval_probability(tmp_path):
    """A banded total's term is log P(lo <= T <= hi) under its Poisson mean."""
    base_dir = write_base(
        tmp_path / "b",
        "source_id,kind,wave\nS1,interview,w1\nS2,interview,w1\n",
        "source_id,target_id,stance,count,count_min,count_max\n"
        "w1,C1,supports,,3,4\n"
        "w1,M1,supports,,5,\n",
    )
    base = load_evidence(base_dir)
    model = build_model(base, ModelConfig(model="hierarchical", likelihood="poisson"))
    inputs = list(model.value_vars)
    f = pytensor.function(
        inputs, model.logp(vars=[model["total_codes"]], sum=False)[0], on_unused_input="ignore"
    )
    point = _point(model, np.random.default_rng(2))
    got = f(*[point[v.name] for v in inputs])
    v = _draws(model, point)
    rate = np.exp(v["kind_rate"][0])
    m_c = 2 * rate * np.exp(v["salience_cmoc"][0]) * v["support_cmoc"][0]
    m_m = 2 * rate * np.exp(v["salience_mechanism"][0]) * v["support_mechanism"][0]
    expected = [
        np.log(stats.poisson.cdf(4, m_c) - stats.poisson.cdf(2, m_c)),
        np.log(stats.poisson.sf(4, m_m)),
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    assert pd.Index(model.coords["aggregate"]).tolist() == ["codings.csv:2", "codings.csv:3"]


def test_total_mean_and_shape_sum_over_members(tmp_path):
    """Totals over members of mixed kinds, groups and exposures: the model's mean and shape
    equal the sums over members (the model sums over classes of interchangeable members)."""
    base_dir = write_base(
        tmp_path / "b",
        "source_id,kind,wave,group,exposure\n"
        "S1,review,w1,g1,1.0\nS2,review,w1,g1,2.5\nS3,interview,w1,g1,0.4\n"
        "S4,interview,w1,g2,1.0\nS5,review,w1,g2,3.0\nS6,interview,w1,g2,0.7\n",
        "source_id,target_id,stance,count,count_min,count_max\n"
        "w1,C1,supports,,5,8\n"
        "g1,M1,refutes,,3,\n"
        "g2,C1,refutes,4,,\n"
        "S1,C1,supports,2,,\n"
        "S4,M1,supports,1,,\n",
    )
    base = load_evidence(base_dir)
    model = build_model(base, ModelConfig(model="hierarchical", group_effects="all"))
    d = model_data(base, group_effects="all")
    assert d.groups and len(d.agg_src) > len(d.agg_label)
    point = _point(model, np.random.default_rng(4))
    v = _draws(model, point)
    f = model.compile_fn(
        model.replace_rvs_by_values([model["total_mean"], model["total_alpha"]]),
        inputs=model.value_vars,
        on_unused_input="ignore",
        point_fn=True,
    )
    mean, alpha = f(point)
    gamma = np.concatenate([v["group_effect"], [0.0]])
    lam = np.concatenate([v["salience_cmoc"], v["salience_mechanism"]])
    logit = np.concatenate([v["eta"], v["mu"]])
    want_mean, want_sq = np.zeros(len(d.agg_label)), np.zeros(len(d.agg_label))
    for r, j in zip(d.agg_row, d.agg_src, strict=True):
        k, t = d.src_kind[j], d.agg_tgt[r]
        p = 1 / (1 + np.exp(-(logit[t] + v["kind_lean"][k])))
        mu_j = np.exp(
            v["kind_rate"][k] + gamma[d.src_groups[j]].sum() + d.src_log_exposure[j] + lam[t]
        ) * (p if d.agg_stance[r] == 0 else 1 - p)
        want_mean[r] += mu_j
        want_sq[r] += mu_j**2
    np.testing.assert_allclose(mean, want_mean, rtol=1e-10)
    np.testing.assert_allclose(alpha, v["dispersion"] * want_mean**2 / want_sq, rtol=1e-10)
