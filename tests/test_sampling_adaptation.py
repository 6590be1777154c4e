"""nutpie's mass-matrix adaptation: ``auto`` resolved by size, low-rank always regularised.

Why low-rank with ``mass_matrix_gamma = 0.1`` up to 300 parameters: docs/sampling.md,
"Low-rank adaptation".
"""

from __future__ import annotations

import pytest

from cmoc.analyses.fitting import sampling
from cmoc.analyses.fitting.sampling import (
    LOW_RANK_GAMMA,
    LOW_RANK_MAX_DIM,
    SamplerConfig,
    model_family,
    nutpie_adaptation,
    sample_model,
)
from conftest import IOC

LOW_RANK = {"adaptation": "low_rank", "mass_matrix_gamma": LOW_RANK_GAMMA["measurement"]}
V2_LIMIT = LOW_RANK_MAX_DIM["measurement"]


@pytest.mark.parametrize(
    ("adaptation", "n_dim", "expected"),
    [
        ("auto", 1, LOW_RANK),
        ("auto", V2_LIMIT, LOW_RANK),
        ("auto", V2_LIMIT + 1, {"adaptation": "diag"}),
        ("low_rank", 10 * V2_LIMIT, LOW_RANK),
        ("diag", 1, {"adaptation": "diag"}),
    ],
)
def test_auto_is_low_rank_up_to_the_limit_and_low_rank_is_regularised(adaptation, n_dim, expected):
    assert nutpie_adaptation(adaptation, n_dim) == expected


def test_the_ioc_model_v2_samples_with_low_rank_adaptation():
    """The IOC base, whose failures at diagonal adaptation set the limit, is within it."""
    from cmoc.evidence import load_evidence
    from cmoc.evidence.recording import refutes_recording
    from cmoc.models import build_measurement_model

    base = load_evidence(IOC)
    model = build_measurement_model(
        base, {k: r.refutes for k, r in refutes_recording(base).items()}
    )
    n_dim = sum(int(v.size) for v in model.initial_point().values())
    assert model_family(model) == "measurement"
    assert nutpie_adaptation("auto", n_dim, model_family(model)) == LOW_RANK
    # 1,000 x 100 (375 parameters) sampled faster with diagonal adaptation: above the limit
    assert n_dim <= V2_LIMIT < 375, n_dim


def test_model_v1_keeps_its_limit_and_nutpie_s_own_regularisation():
    limit = LOW_RANK_MAX_DIM["hierarchical"]
    assert nutpie_adaptation("auto", limit, "hierarchical") == {"adaptation": "low_rank"}
    assert nutpie_adaptation("auto", limit + 1, "hierarchical") == {"adaptation": "diag"}


@pytest.mark.parametrize("n_dim", [50, 1000])
def test_sample_model_passes_the_resolved_adaptation_to_nutpie(monkeypatch, n_dim):
    """What reaches ``nutpie.sample`` is the resolved adaptation, with its regularisation."""
    import nutpie
    import pymc as pm

    seen = {}

    class Stop(Exception):
        pass

    class Compiled:
        pass

    compiled = Compiled()
    compiled.n_dim = n_dim

    def fake_sample(model, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(sampling, "_compile_nutpie", lambda model, key: compiled)
    monkeypatch.setattr(nutpie, "sample", fake_sample)
    with pm.Model() as v2:  # a model v2 graph is known by its potential
        pm.Potential("exact_codes", pm.Normal("x") * 0.0)
    with pytest.raises(Stop):
        sample_model(v2, SamplerConfig(draws=5, tune=5, chains=1))
    got = {k: seen[k] for k in ("adaptation", "mass_matrix_gamma") if k in seen}
    assert got == (LOW_RANK if n_dim <= V2_LIMIT else {"adaptation": "diag"})
    assert model_family(v2) == "measurement"
    with pm.Model() as v1:
        pm.Normal("x")
    seen.clear()
    with pytest.raises(Stop):
        sample_model(v1, SamplerConfig(draws=5, tune=5, chains=1))
    assert "mass_matrix_gamma" not in seen and model_family(v1) == "hierarchical"
