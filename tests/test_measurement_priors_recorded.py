"""Model v2's priors identify its fits and are shown as fitted (issue 15).

Model v2's priors are ``MeasurementPriors``' defaults, not fields of ``ModelConfig``: they enter
the configuration's id (a fit saved under other defaults is refitted, not reused), are written
into a fit's attrs, and the report and ``cmoc priors`` show them.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cmoc.analyses.fitting.attrs import Provenance
from cmoc.analyses.fitting.provenance import provenance
from cmoc.cli import app
from cmoc.evidence import load_evidence
from cmoc.models import MeasurementPriors, ModelConfig, Prior
from cmoc.models import config as config_module
from cmoc.models.config import describe_measurement_priors, measurement_priors_json
from cmoc.reports.content import measurement_priors

V2 = ModelConfig(model="measurement")


def test_the_priors_enter_the_id_of_model_v2_only(monkeypatch):
    v1_id, v2_id = ModelConfig(model="hierarchical").id, V2.id
    other = MeasurementPriors(depth_sd_target=Prior(dist="HalfNormal", sigma=1.0))
    monkeypatch.setattr(
        config_module,
        "measurement_priors_json",
        lambda context=False: measurement_priors_json(other, context=context),
    )
    assert V2.id != v2_id
    assert ModelConfig(model="hierarchical").id == v1_id


def test_recorded_priors_read_back_in_words():
    text = measurement_priors_json(
        MeasurementPriors(depth_sd_target=Prior(dist="HalfNormal", sigma=2.0))
    )
    words = dict(describe_measurement_priors(text))
    assert words["depth spread within mechanism, sigma_l"] == "HalfNormal(2)"
    assert words["depth spread across mechanisms, tau_theta"] == "HalfNormal(0.5)"
    # the report shows the recorded priors, not today's defaults
    assert dict(measurement_priors(text)) == words
    assert dict(measurement_priors("")) == dict(
        describe_measurement_priors(measurement_priors_json())
    )


def test_not_priors_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="not model v2's priors"):
        describe_measurement_priors('{"activation_mean": 3}')


def test_a_v2_fit_records_its_priors_and_a_v1_fit_does_not():
    base = load_evidence("evidence/ioc")
    v2 = provenance(base, V2, {"seed": 1})
    assert json.loads(v2["measurement_priors"]) == json.loads(measurement_priors_json())
    assert "measurement_priors" not in provenance(
        base, ModelConfig(model="hierarchical"), {"seed": 1}
    )

    class Fit:
        attrs = v2

    assert Provenance.of(Fit()).measurement_priors == v2["measurement_priors"]


def test_cmoc_priors_prints_model_v2s_priors(tmp_path):
    toml = tmp_path / "v2.toml"
    toml.write_text('model = "measurement"\n')
    out = CliRunner().invoke(app, ["priors", "--model", str(toml)])
    assert out.exit_code == 0, out.output
    assert "evidencing mean (logit), beta_0" in out.output
    assert "salience" not in out.output
    assert f"model config id: {V2.id}" in out.output
