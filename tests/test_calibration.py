"""Simulation-based calibration: the generator against the model, Dask determinism, SBC itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cmoc.analyses.planning.calibration import (
    POWER_MIN,
    POWER_SHIFT,
    CalibrationResult,
    calibrate,
    datasets_for_power,
    layout_base,
    rank_test_power,
    rank_uniformity,
    simulate_dataset,
)
from cmoc.models import V1_CONFIG, build_model
from cmoc.models.generate import CalibrationLayout, draw_parameters

LAYOUT = CalibrationLayout()


@pytest.mark.usefixtures("fast_compile")
def test_generator_draws_the_model_priors():
    """Quantiles of the numpy generator's parameters match draws from the PyMC model's priors."""
    import pymc as pm

    rng = np.random.default_rng(1)
    n = 4000
    gen = [draw_parameters(V1_CONFIG, LAYOUT, rng) for _ in range(n)]
    model = build_model(layout_base(LAYOUT))
    names = [
        "support_mean",
        "mu",
        "eta",
        "salience_mechanism",
        "salience_cmoc",
        "kind_rate",
        "kind_lean",
        "inv_dispersion",
        "support_sd_cmoc",
    ]
    drawn = pm.draw([model[v] for v in names], draws=n, random_seed=2)
    for name, from_model in zip(names, drawn, strict=True):
        if name == "inv_dispersion":
            from_gen = np.array([[1.0 / g["dispersion"]] for g in gen])
        else:
            from_gen = np.array([np.atleast_1d(g[name]) for g in gen])
        from_model = np.asarray(from_model).reshape(n, -1)
        assert from_gen.shape == from_model.shape, name
        # whole distributions, by two-sample KS tests: the hierarchy's scale mixtures have
        # heavy tails, which make fixed tolerances on quantiles flaky
        for k in range(from_gen.shape[1]):
            if np.ptp(from_model[:, k]) == 0:  # a constant (a one-mechanism salience)
                assert np.allclose(from_gen[:, k], from_model[0, k]), name
                continue
            test = stats.ks_2samp(from_gen[:, k], from_model[:, k])
            assert test.pvalue > 1e-4, (name, k, test)
    # zero-sum: saliences of mechanisms and kind leans sum to zero in every draw
    assert np.allclose([g["salience_mechanism"].sum() for g in gen], 0)
    assert np.allclose([g["kind_lean"].sum() for g in gen], 0)


@pytest.mark.usefixtures("fast_compile")
def test_generated_data_have_finite_density_at_the_truth():
    """The model's log-density of generated data at the true parameters is finite."""
    import pytensor
    from pymc.model.transform.conditioning import remove_value_transforms

    cfg = V1_CONFIG.merged({"mechanisms": "noncentered", "cmocs": "noncentered"})
    layout = LAYOUT
    cm = LAYOUT.cmoc_mechanism
    for seed in range(5):
        base, p = simulate_dataset(LAYOUT, cfg, np.random.default_rng(seed))
        assert base.codings["count_min"].gt(0).all()
        model = remove_value_transforms(build_model(base, cfg))
        # the model orders kinds by label, the layout by position
        order = [layout.kinds.index(k) for k in model.coords["kind"]]
        point = {
            "support_mean": p["support_mean"],
            "support_sd_mechanism": p["support_sd_mechanism"],
            "z_support_mechanism": (p["mu"] - p["support_mean"]) / p["support_sd_mechanism"],
            "salience_sd_mechanism": p["salience_sd_mechanism"],
            "z_salience_mechanism": p["salience_mechanism"] / p["salience_sd_mechanism"],
            "support_sd_cmoc": p["support_sd_cmoc"],
            "salience_sd_cmoc": p["salience_sd_cmoc"],
            "z_support_cmoc": (p["eta"] - p["mu"][cm]) / p["support_sd_cmoc"],
            "z_salience_cmoc": (p["salience_cmoc"] - p["salience_mechanism"][cm])
            / p["salience_sd_cmoc"],
            "kind_rate": p["kind_rate"][order],
            "kind_lean_sd": p["kind_lean_sd"],
            "z_kind_lean": p["kind_lean"][order] / p["kind_lean_sd"],
            "kind_lean": p["kind_lean"][order],
            "inv_dispersion": 1.0 / p["dispersion"],
        }
        values = {v.name: np.asarray(point[v.name], dtype=float) for v in model.value_vars}
        assert np.isfinite(model.compile_logp()(values))
        # the model's own deterministics reproduce the generator's truth
        (eta_graph,) = model.replace_rvs_by_values([model["eta"]])
        eta = pytensor.function(model.value_vars, eta_graph, on_unused_input="ignore")(**values)
        assert np.allclose(eta, p["eta"])


def test_rank_uniformity_and_its_false_alarm_rate():
    """Uniform ranks pass (family-wise false alarms <= 1%); ranks piled at one end fail."""
    rng = np.random.default_rng(0)
    n_data, quantities = 100, [f"q{i}" for i in range(10)]

    def table(ranks):
        return pd.DataFrame(
            {
                "dataset": np.repeat(np.arange(n_data), len(quantities)),
                "quantity": quantities * n_data,
                "rank": ranks,
                "n_draws": 99,
            }
        )

    alarms = 0
    for _ in range(200):
        tests = rank_uniformity(table(rng.integers(0, 100, n_data * len(quantities))))
        alarms += not tests["uniform"].all()
    assert alarms / 200 <= 0.03
    skewed = rng.integers(0, 100, n_data * len(quantities))
    skewed[:: len(quantities)] = rng.integers(60, 100, n_data)  # q0 sits high
    tests = rank_uniformity(table(skewed)).set_index("quantity")
    assert not tests.loc["q0", "uniform"]
    assert tests.loc["q0", "mean_rank"] > 0.6
    assert tests.drop(index="q0")["uniform"].all()


def _ranks_table(ranks: np.ndarray, quantities: list[str]) -> pd.DataFrame:
    n = ranks.size // len(quantities)
    return pd.DataFrame(
        {
            "dataset": np.repeat(np.arange(n), len(quantities)),
            "quantity": quantities * n,
            "rank": ranks,
            "n_draws": 99,
        }
    )


def test_power_of_the_rank_test_matches_simulated_rejections():
    """The noncentral chi-square power against ranks drawn from a shifted posterior."""
    rng = np.random.default_rng(3)
    threshold = 0.01 / 10
    for n in (40, 100):
        rejected = 0
        for _ in range(1000):
            theta = rng.normal(size=n)  # the truth, in units of the correct posterior
            # 99 draws of a posterior whose mean is POWER_SHIFT sds off: rank of the truth
            draws = rng.normal(POWER_SHIFT, 1.0, size=(n, 99))
            ranks = (draws < theta[:, None]).sum(axis=1)
            tests = rank_uniformity(_ranks_table(ranks, ["q"]), alpha=threshold)
            rejected += not tests["uniform"].iloc[0]
        assert abs(rejected / 1000 - rank_test_power(n, 100, threshold)) < 0.06, n


def test_a_run_too_small_to_fail_is_not_called_a_pass():
    """With 4 datasets the ranks fall in one bin: no test, so no verdict of uniformity."""
    rng = np.random.default_rng(1)
    quantities = ["a", "b"]
    small = _ranks_table(rng.integers(0, 100, 4 * 2), quantities)
    tests = rank_uniformity(small)
    assert tests["bins"].eq(1).all() and tests["power"].eq(0.0).all()
    result = CalibrationResult.of(small, tests, 0.01, {"model_id": "m", "generate_id": "m"})
    assert not result.calibrated
    assert result.text.startswith("too small to call the ranks uniform: 4 datasets")
    need = datasets_for_power(100, 0.01 / 2)
    assert f"about {need} datasets" in result.text
    assert (
        rank_test_power(need, 100, 0.01 / 2) >= POWER_MIN > rank_test_power(need - 1, 100, 0.01 / 2)
    )
    # enough datasets, uniform ranks: a pass; ranks piled at one end still fail when small
    big = _ranks_table(rng.integers(0, 100, 300 * 2), quantities)
    assert CalibrationResult.of(big, rank_uniformity(big), 0.01, {"model_id": "m"}).calibrated
    piled = _ranks_table(np.full(30 * 2, 99), quantities)
    result = CalibrationResult.of(piled, rank_uniformity(piled), 0.01, {"model_id": "m"})
    assert not result.calibrated and result.text.startswith("ranks NOT uniform")


@pytest.mark.slow  # about 2-3 minutes: several fits, each compiled on both clusters
def test_calibration_identical_with_one_and_two_workers():
    """The same seed gives the same ranks whatever the number of Dask workers.

    No cache warming: the first run compiles the graphs, the second loads them from PyTensor's
    compile cache, and both sample the same chains (docs/sampling.md).
    """
    kwargs = {"chains": 2, "draws": 50, "tune": 50}
    one = calibrate(3, seed=4, workers=1, config=V1_CONFIG, **kwargs)
    two = calibrate(3, seed=4, workers=2, config=V1_CONFIG, **kwargs)
    pd.testing.assert_frame_equal(one.ranks, two.ranks)
    assert list(one.ranks["dataset"].unique()) == [0, 1, 2]
    assert one.ranks["n_draws"].eq(99).all()


@pytest.mark.slow
def test_sbc_ranks_uniform_for_the_correct_model():
    """100 datasets from the model's priors: every quantity's ranks are uniform."""
    result = calibrate(100, seed=2026, config=V1_CONFIG, workers=2, chains=2, draws=200, tune=200)
    print(result.tests.to_string())
    assert result.ranks["dataset"].nunique() == 100
    assert result.calibrated, result.text


@pytest.mark.slow
def test_sbc_detects_a_misspecified_prior():
    """Data drawn with support_mean ~ Normal(2.5, 0.5), fitted with Normal(0, 1.5): not uniform."""
    generate = V1_CONFIG.merged({"support_mean": {"dist": "Normal", "mu": 2.5, "sigma": 0.5}})
    result = calibrate(
        60, seed=7, config=V1_CONFIG, generate=generate, workers=2, chains=2, draws=200, tune=200
    )
    print(result.tests.to_string())
    assert not result.calibrated
    tests = result.tests.set_index("quantity")
    assert not tests.loc["support_mean", "uniform"]
    assert tests.loc["support_mean", "mean_rank"] > 0.5  # the truth sits above the posterior


@pytest.mark.usefixtures("fast_compile")
def test_measurement_generator_draws_the_model_priors():
    """Model v2's numpy generator against ``pm.draw`` from the PyMC model's priors."""
    import pymc as pm

    from cmoc.models import MeasurementPriors, build_measurement_model
    from cmoc.models.generate_measurement import draw_measurement_parameters

    model = build_measurement_model(
        layout_base(LAYOUT), {"review": "recorded", "interview": "partial"}
    )
    names = ["activation_mean", "evidencing_logit", "depth_target", "eta", "dispersion"]
    n = 2000
    drawn = pm.draw([model[v] for v in [*names, "refute_recording"]], draws=n, random_seed=4)
    rng = np.random.default_rng(5)
    gen = [draw_measurement_parameters(MeasurementPriors(), LAYOUT, rng) for _ in range(n)]
    for name, model_draws in zip(names, drawn, strict=False):
        ours = np.array([np.atleast_1d(g[name])[0] for g in gen])
        theirs = np.asarray(model_draws).reshape(n, -1)[:, 0]
        assert stats.ks_2samp(ours, theirs).pvalue > 0.001, name
    psi = np.array([g["psi"][1] for g in gen])
    assert stats.ks_2samp(psi, np.asarray(drawn[-1]).reshape(n)).pvalue > 0.001


def test_measurement_dataset_has_codes_and_the_ranked_truths():
    """A v2 dataset: codes drawn, every ranked quantity's truth present and in its range."""
    from cmoc.models import ModelConfig

    config = ModelConfig(model="measurement")
    base, params = simulate_dataset(LAYOUT, config, np.random.default_rng(9))
    assert int(base.codings["count_min"].sum()) > 0
    from cmoc.analyses.planning.calibration import _truth_values

    truth = _truth_values(params, LAYOUT)
    assert {"activation_mean", "breadth[C1]", "eta[M1]", "refute_recording[interview]"} <= set(
        truth
    )
    assert 0.0 < truth["breadth[C1]"] < 1.0 and 0.0 < truth["refute_recording[interview]"] < 1.0
