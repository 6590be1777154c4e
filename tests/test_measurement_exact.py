"""Model v2's exact cells through sufficient statistics (``models/measurement_exact.py``).

The sum is checked three ways: its counting helpers against brute force (property-based), the
whole sum against scipy's negative binomial and beta-binomial summed cell by cell, and the
sampled model's log density and gradient against the per-class terms the pointwise model keeps.
The cell-by-cell baseline (``tests/test_bench_v2_baseline.py``) checks it once more.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cmoc.analyses.planning.calibration import simulate_dataset
from cmoc.models import ModelConfig, build_measurement_model, measurement, measurement_data
from cmoc.models.generate import CalibrationLayout
from cmoc.models.measurement_exact import (
    _above,
    _steps,
    exact_cell_statistics,
    exact_cells_logp,
)

LAYOUT = CalibrationLayout(
    mechanisms=2,
    cmocs=6,
    sources=24,
    exposures=(1.0, 2.5, 0.4),
    copies=(1, 2),
    recording=("partial", "not recorded"),
)


def _md(layout: CalibrationLayout = LAYOUT, seed: int = 4):
    base, _ = simulate_dataset(
        layout, ModelConfig(model="measurement"), np.random.default_rng(seed)
    )
    return measurement_data(base, dict(zip(layout.kinds, layout.recording, strict=True)))


counts = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 9), st.floats(0.1, 3.0)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(counts)
def test_above_and_steps_count_as_brute_force(rows):
    key = np.array([r[0] for r in rows], dtype=np.int64)
    count = np.array([r[1] for r in rows], dtype=np.int64)
    weight = np.array([r[2] for r in rows])
    length = int(count.max()) if rows else 0
    above = _above(count, weight, length)
    assert above.shape == (length,)
    for j in range(length):
        assert above[j] == pytest.approx(weight[count > j].sum())
    k, j, w = _steps(key, count, weight)
    expected = {
        (a, b): weight[(key == a) & (count > b)].sum()
        for a in set(key.tolist())
        for b in range(int(count[key == a].max()))
    }
    assert dict(zip(zip(k.tolist(), j.tolist(), strict=True), w, strict=True)) == pytest.approx(
        expected
    )


def test_the_sum_is_scipys_cell_by_cell():
    md = _md()
    d = md.data
    rng = np.random.default_rng(7)
    n_t, n_k = len(d.targets), len(d.kinds)
    values = {
        "logit_b": rng.normal(-1.0, 1.0, n_t),
        "rho": rng.normal(0.0, 0.5, n_k),
        "lam": rng.normal(0.3, 0.5, n_t),
        "phi": 1.7,
        "q": rng.uniform(0.1, 0.9, (n_t, n_k)),
        "c": 6.5,
    }
    log_b = -np.logaddexp(0.0, -values["logit_b"])
    log1m_b = -np.logaddexp(0.0, values["logit_b"])
    p = {
        "log_b": pt.as_tensor(log_b),
        "log1m_b": pt.as_tensor(log1m_b),
        **{
            k: pt.as_tensor(np.asarray(values[k], dtype=float))
            for k in ("rho", "lam", "phi", "q", "c")
        },
    }
    got = exact_cells_logp(exact_cell_statistics(md), p, lambda _name, v: pt.as_tensor(v)).eval()

    t, src = md.cell_tgt, md.cell_src
    k, w, n, s = d.src_kind[src], d.src_weight[src], md.cell_n, md.cell_s
    mu = np.exp(values["rho"][k] + values["lam"][t] + d.src_log_exposure[src])
    phi, c, q = values["phi"], values["c"], values["q"][t, k]
    term = log_b[t] - log1m_b[t] + stats.nbinom.logpmf(n - 1, phi, phi / (phi + mu))
    direct = md.psi[k] != 0
    assert direct.any() and not direct.all()  # both branches of the mask are exercised
    term = term + np.where(direct, stats.betabinom.logpmf(s, n, c * q, c * (1 - q)), 0.0)
    assert np.unique(w).size > 1 and np.unique(d.src_log_exposure[src]).size > 1
    assert got == pytest.approx(float(np.sum(w * term)), rel=1e-12)


@pytest.mark.parametrize(
    "layout",
    [
        LAYOUT,
        CalibrationLayout(
            mechanisms=3, cmocs=7, sources=20, recording=("recorded", "not recorded")
        ),
    ],
    ids=["partial, not recorded, weights, exposures", "recorded, not recorded"],
)
def test_sampled_log_density_and_gradient_are_the_per_class_terms(layout, monkeypatch):
    md = _md(layout, seed=2)
    fast = build_measurement_model(md)
    monkeypatch.setattr(
        measurement,
        "_exact_logp",
        lambda md, p: measurement._exact_sum(measurement._exact_terms(md, p), p),
    )
    per_class = build_measurement_model(md)

    def function(model):
        logp = model.logp(jacobian=True)
        return pytensor.function(model.value_vars, [logp, *pytensor.grad(logp, model.value_vars)])

    f_fast, f_class = function(fast), function(per_class)
    names = [v.name for v in fast.value_vars]
    assert names == [v.name for v in per_class.value_vars]
    ip = fast.initial_point()
    rng = np.random.default_rng(3)
    for _ in range(4):
        point = [ip[n] + rng.normal(0.0, 0.8, np.shape(ip[n])) for n in names]
        a, b = f_fast(*point), f_class(*point)
        assert np.isfinite(a[0])
        assert a[0] == pytest.approx(b[0], rel=1e-11)
        for ga, gb in zip(a[1:], b[1:], strict=True):
            np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-8)
