"""Model v2's directions' mechanism level, centred on the recorded kinds' codes.

What it is centred on (``_mechanism_direction_estimates``) and how targets are scaled
(``_direction_precision``) are sampling aids: they must estimate what the codes pin (each
mechanism's direction as the kinds whose refutes are recorded see it, with an honest
precision), and a base whose directions those kinds do not inform keeps the plain form. That
the reparametrised prior is the plain one is checked in ``test_reparametrise.py``.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from cmoc.analyses.planning.calibration import _layout_files
from cmoc.evidence import load_evidence, write_directory
from cmoc.evidence.recording import refutes_recording
from cmoc.models import MeasurementPriors, build_measurement_model, measurement_data
from cmoc.models.generate import CalibrationLayout
from cmoc.models.generate_measurement import (
    draw_measurement_cells,
    draw_measurement_parameters,
    measurement_codings,
)
from cmoc.models.measurement import _direction_precision, _mechanism_direction_estimates
from conftest import ROOT

pytestmark = pytest.mark.filterwarnings("ignore:The effect of Potentials:UserWarning")


def _drawn(tmp_path, seed: int):
    """600 sources x 40 CMOCs over 8 mechanisms whose directions differ, targets alike."""
    layout = CalibrationLayout(mechanisms=8, cmocs=40, sources=600)
    rng = np.random.default_rng(seed)
    p = draw_measurement_parameters(MeasurementPriors(), layout, rng)
    p["activation_mechanism"] = 0.5 + 0.3 * rng.standard_normal(8)
    p["evidencing_logit"] = -1.0 + 0.3 * rng.standard_normal(len(p["evidencing_logit"]))
    p["mu"] = 0.5 + 1.0 * rng.standard_normal(8)
    tm = np.concatenate([layout.cmoc_mechanism, np.arange(8)])
    p["eta"] = p["mu"][tm] + 0.1 * rng.standard_normal(tm.size)
    supports, refutes = draw_measurement_cells(p, layout, rng)
    path = tmp_path / f"d{seed}"
    write_directory(path, _layout_files(layout, measurement_codings(supports, refutes, layout)))
    base = load_evidence(path)
    md = measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})
    # the truth in the model's mechanism order; what the recorded kind (review) sees
    order = [int(m[1:]) - 1 for m in md.data.mechanisms]
    seen = p["mu"][order] + p["kind_lean"][0]
    return base, md, seen


@pytest.mark.parametrize("seed", [1, 2])
def test_the_mechanisms_are_centred_on_what_the_recorded_codes_show(tmp_path, seed):
    _, md, seen = _drawn(tmp_path, seed)
    est, prec = _mechanism_direction_estimates(md)
    assert (prec > 0).all()
    z = (est - seen) * np.sqrt(prec)
    # an honest precision: the truth within about two of the estimate's sds, none far off
    assert np.abs(z).max() < 4.0, z
    assert np.mean(np.abs(z) < 2.0) >= 0.75, z
    assert np.corrcoef(est, seen)[0, 1] > 0.9
    model = build_measurement_model(md)
    free = {v.name for v in model.free_RVs}
    assert {"support_mean_seen", "z_support_mechanism"} <= free and "support_mean" not in free
    assert np.allclose(model["data_support_mechanism_precision"].get_value(), prec)


def test_a_target_with_few_agreeing_codes_is_not_pinned(tmp_path):
    _, md, _ = _drawn(tmp_path, 1)
    prec = _direction_precision(md)
    recorded = md.psi[md.data.src_kind[md.cell_src]] == 1
    codes = np.bincount(md.cell_tgt[recorded], weights=md.cell_n[recorded], minlength=prec.size)
    assert ((prec > 0) == (codes > 0)).all()
    # never more than the binomial precision n p (1 - p) <= n / 4 of its n codes: a target
    # whose few codes all agree (a sampled variance of zero) is not taken as pinned
    assert (prec <= codes / 4.0 + 1e-9).all()
    assert prec[codes == 1].max(initial=0.0) <= 0.25


def test_without_recorded_codes_the_mechanisms_keep_the_plain_form():
    base = load_evidence(ROOT / "evidence" / "ioc")
    md = measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})
    _, prec = _mechanism_direction_estimates(md)
    assert not prec.any() and not _direction_precision(md).any()
    free = {v.name for v in build_measurement_model(md).free_RVs}
    assert {"support_mean", "z_support_mechanism"} <= free and "support_mean_seen" not in free
    assert not any(name.startswith("data_support_mechanism") for name in free)


def test_the_centred_mechanisms_keep_the_plain_prior(tmp_path):
    """``mu_m ~ Normal(mu_0, tau_mu)`` iid given the hyperparameters, as in the plain form."""
    _, md, _ = _drawn(tmp_path, 1)
    model = build_measurement_model(md)
    n = 6000
    with model:
        prior = pm.sample_prior_predictive(draws=n, var_names=["mu"], random_seed=3).prior
    mu = prior["mu"].to_numpy().reshape(n, -1)
    pr = MeasurementPriors()
    rng = np.random.default_rng(4)
    m0 = rng.normal(pr.support_mean.mu, pr.support_mean.sigma, n)
    tau = np.abs(rng.normal(0.0, pr.support_sd_mechanism.sigma, n))
    want = m0[:, None] + tau[:, None] * rng.standard_normal((n, mu.shape[1]))
    for i in range(mu.shape[1]):
        assert stats.ks_2samp(mu[:, i], want[:, i]).pvalue > 1e-3, i
    # and a difference of two mechanisms (their joint prior, not only the margins)
    assert stats.ks_2samp(mu[:, 0] - mu[:, 1], want[:, 0] - want[:, 1]).pvalue > 1e-3
