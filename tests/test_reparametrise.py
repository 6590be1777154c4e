"""Values scaled by their data (``models/reparametrise.py``) keep the plain prior.

Prior draws of the reparametrised values are compared with numpy draws of the plain
hierarchy (Kolmogorov-Smirnov on whole distributions: the values are scale mixtures with heavy
tails), for the helpers alone and for model v2's activation, evidencing and depth levels on a
base whose cells make every one of them scaled; and the same check is shown to fail when the
scaling is wrong.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from cmoc.evidence import load_evidence
from cmoc.models import MeasurementPriors, build_measurement_model
from cmoc.models.reparametrise import (
    data_centred_normal,
    data_centred_zero_sum,
    data_scale,
    data_scaled_normal,
    data_scaled_zero_sum,
)
from test_measurement_planted import draw_planted_base

pytestmark = pytest.mark.filterwarnings("ignore:The effect of Potentials:UserWarning")

N = 6000


def _prior_draws(model: pm.Model, names: list[str], seed: int = 11) -> dict[str, np.ndarray]:
    with model:
        prior = pm.sample_prior_predictive(draws=N, var_names=names, random_seed=seed).prior
    return {v: prior[v].to_numpy().reshape(N, -1) for v in names}


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    return stats.ks_2samp(got, want).pvalue > 1e-3


def _helpers_model(k_wrong: bool = False) -> pm.Model:
    precision = np.array([0.0, 0.5, 30.0, 1e4])  # no data, weak, strong, very strong
    with pm.Model() as model:
        mean = pm.Normal("mean", 0.0, 1.5)
        sd = pm.HalfNormal("sd", 1.0)
        if k_wrong:  # scaled by k but drawn as if the form were the plain non-centred one
            x = mean + data_scale(sd, precision) * pm.Normal("z", 0.0, 1.0, shape=4)
        else:
            x = data_scaled_normal("z", mean, sd, precision, shape=4)
        pm.Deterministic("x", x)
        pm.Deterministic("dev", data_scaled_zero_sum("w", sd, 30.0, shape=5))
        around = np.array([-1.0, 0.0, 0.0, 0.5, 0.5])  # the prior's own means (zero-sum)
        estimate = np.array([2.0, -1.0, 0.5, -0.5, -1.0])  # what the data show (zero-sum)
        pm.Deterministic("cen", data_centred_zero_sum("v", around, sd, estimate, 30.0, 5))
        # per value: no data, weak, strong, very strong, each far from the prior's mean
        pm.Deterministic("cn", data_centred_normal("u", mean, sd, estimate[:4], precision))
    return model


def test_data_scaled_values_have_the_plain_prior():
    d = _prior_draws(_helpers_model(), ["x", "dev", "cen", "cn"])
    rng = np.random.default_rng(12)
    mean = rng.normal(0.0, 1.5, N)
    sd = np.abs(rng.normal(0.0, 1.0, N))
    plain = mean[:, None] + sd[:, None] * rng.standard_normal((N, 4))
    e = sd[:, None] * rng.standard_normal((N, 5))
    zero_sum = e - e.mean(axis=1, keepdims=True)
    for i in range(4):
        assert _same(d["x"][:, i], plain[:, i]), i
    for i in range(5):
        assert _same(d["dev"][:, i], zero_sum[:, i]), i
    assert np.allclose(d["dev"].sum(axis=1), 0.0)
    around = np.array([-1.0, 0.0, 0.0, 0.5, 0.5])
    for i in range(5):  # centred on the data, still Normal(around, sd) deviations
        assert _same(d["cen"][:, i], around[i] + zero_sum[:, i]), i
    assert np.allclose(d["cen"].sum(axis=1), 0.0)
    for i in range(4):  # centred on the data, still Normal(mean, sd) values
        assert _same(d["cn"][:, i], plain[:, i]), i


def test_the_check_can_fail():
    """The scaled values drawn with the wrong spread of their coordinate are caught."""
    x = _prior_draws(_helpers_model(k_wrong=True), ["x"])["x"]
    rng = np.random.default_rng(12)
    mean = rng.normal(0.0, 1.5, N)
    plain = mean + np.abs(rng.normal(0.0, 1.0, N)) * rng.standard_normal(N)
    assert _same(x[:, 0], plain)  # no data: k = sd, the form is the plain one
    assert not _same(x[:, 3], plain)  # very strong data: k far below sd


def test_data_scale_spans_the_non_centred_and_the_centred_forms():
    sd = np.array([0.001, 1.0, 100.0])
    k = data_scale(sd, 100.0).eval()  # data sd 0.1
    assert k[0] == pytest.approx(0.001, rel=1e-3)  # sd << s: k = sd (non-centred)
    assert k[1] == pytest.approx(1.0 / np.sqrt(101.0))  # the posterior sd of a normal-normal
    assert k[2] == pytest.approx(0.1, rel=1e-3)  # sd >> s: k = s (centred, scaled by s)
    assert np.allclose(data_scale(sd, 0.0).eval(), sd)  # no data


def test_model_v2_levels_scaled_by_their_cells_keep_the_plain_prior(tmp_path):
    """On the planted base (two mechanisms, alike depths): every scaled level's prior."""
    base = load_evidence(draw_planted_base(tmp_path / "b", 1))
    model = build_measurement_model(base)
    free = {v.name for v in model.free_RVs}
    # the forms this base gets: activation and evidencing non-centred, depths standardised
    assert {"z_activation", "z_evidencing", "z_depth_relative", "z_depth_mechanism"} <= free
    assert not {"activation_centred", "evidencing_centred", "depth_relative"} & free
    # two mechanisms: their directions keep the plain form (too few for their spread)
    assert {"support_mean", "z_support_mechanism"} <= free
    assert "data_support_mechanism_precision" not in model
    pr = MeasurementPriors()
    names = ["activation_mechanism", "evidencing_logit", "depth_mechanism", "depth_target", "mu"]
    d = _prior_draws(model, names)
    rng = np.random.default_rng(13)

    def mean_sd(mean, sd):
        return rng.normal(mean.mu, mean.sigma, N), np.abs(rng.normal(0.0, sd.sigma, N))

    a0, tau = mean_sd(pr.activation_mean, pr.activation_sd)
    alpha = a0[:, None] + tau[:, None] * rng.standard_normal((N, 2))
    b0, sb = mean_sd(pr.evidencing_mean, pr.evidencing_sd)
    evid = b0[:, None] + sb[:, None] * rng.standard_normal((N, 10))
    tt = np.abs(rng.normal(0.0, pr.depth_sd_mechanism.sigma, N))
    e = tt[:, None] * rng.standard_normal((N, 2))
    theta = e - e.mean(axis=1, keepdims=True)
    sl = np.abs(rng.normal(0.0, pr.depth_sd_target.sigma, N))
    tm = np.array([0] * 6 + [1] * 2 + [0, 1])  # 8 CMOCs (6 of M1), then M1 and M2
    depth = theta[:, tm] + sl[:, None] * rng.standard_normal((N, 10))
    m0, tau_mu = mean_sd(pr.support_mean, pr.support_sd_mechanism)
    want = {
        "activation_mechanism": alpha,
        "evidencing_logit": evid,
        "depth_mechanism": theta,
        "depth_target": depth,
        "mu": m0[:, None] + tau_mu[:, None] * rng.standard_normal((N, 2)),
    }
    for v in names:
        assert d[v].shape == want[v].shape, v
        for i in range(want[v].shape[1]):
            assert _same(d[v][:, i], want[v][:, i]), (v, i)
    # and a difference of two targets at the level (one pair of zero-sum deviations)
    assert _same(d["depth_target"][:, 0] - d["depth_target"][:, 1], depth[:, 0] - depth[:, 1])


def test_bases_of_one_layout_still_share_one_graph(tmp_path):
    """What the levels are scaled by is data (``pm.Data``), not constants of the graph.

    Otherwise every dataset of a calibration or every refit of a plan would compile anew
    (docs/sampling.md, "Compiled once per structure").
    """
    from cmoc.analyses.fitting.sampling import _same_structure

    a, b = (
        build_measurement_model(load_evidence(draw_planted_base(tmp_path / f"b{s}", s)))
        for s in (1, 2)
    )
    names = {v.name for v in a.data_vars}
    assert {
        "data_activation_precision",
        "data_evidencing_precision",
        "data_depth_precision",
        "data_depth_estimate",
        "data_depth_mechanism_precision",
    } <= names
    value = {v.name: v.get_value() for v in b.data_vars}
    assert not np.array_equal(a["data_depth_estimate"].get_value(), value["data_depth_estimate"])
    assert _same_structure(a, b)


@pytest.mark.slow  # two compilations
def test_a_reused_compilation_draws_what_a_fresh_one_draws(tmp_path, monkeypatch):
    """The chains start where a fresh compilation starts, though the start depends on the data.

    The support point of a value centred on its data depends on the data; nutpie's
    ``with_data`` kept the compiled model's initial point function, and a reused compilation
    gave other draws than a fresh one until ``sampling._with_data_of`` rebuilt it.
    """
    from cmoc.analyses.fitting import sampling

    b1, b3 = (load_evidence(draw_planted_base(tmp_path / f"b{s}", s)) for s in (1, 3))
    s = sampling.SamplerConfig(chains=2, draws=50, tune=50, seed=3)
    monkeypatch.setattr(sampling, "_STRUCTURES", [])
    monkeypatch.setattr(sampling, "_COMPILED", sampling.OrderedDict())
    sampling.sample_model(build_measurement_model(b1), s)
    reused = sampling.sample_model(build_measurement_model(b3), s)
    assert len(sampling._STRUCTURES) == 1  # one compilation for both bases
    sampling._STRUCTURES.clear()
    fresh = sampling.sample_model(build_measurement_model(b3), s)
    for name in ("z_depth_relative", "z_activation", "depth_target", "evidencing_logit"):
        np.testing.assert_array_equal(
            reused["posterior"][name].to_numpy(), fresh["posterior"][name].to_numpy()
        )


def test_centred_depths_mechanisms_centred_on_them_keep_the_plain_prior(tmp_path):
    """Where the rich targets' depths are centred, their mechanisms' depths are centred on them.

    The mechanisms' depths are ``tau_theta`` times iid standard normals less their mean, as in
    the plain form (docs/model.md, "The directions' mechanism level").
    """
    from test_measurement_depth_level import _drawn

    model = build_measurement_model(_drawn(tmp_path, 600, 30, 5, spread=1.0))
    free = {v.name for v in model.free_RVs}
    assert {"depth_relative", "z_depth_mechanism"} <= free  # centred depths
    assert (model["data_depth_mechanism_precision"].get_value() > 0).all()
    d = _prior_draws(model, ["depth_mechanism"])["depth_mechanism"]
    rng = np.random.default_rng(14)
    tau = np.abs(rng.normal(0.0, MeasurementPriors().depth_sd_mechanism.sigma, N))
    e = tau[:, None] * rng.standard_normal((N, 5))
    want = e - e.mean(axis=1, keepdims=True)
    assert np.allclose(d.sum(axis=1), 0.0)
    for i in range(5):
        assert _same(d[:, i], want[:, i]), i
