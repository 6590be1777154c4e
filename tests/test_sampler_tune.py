"""Tuning steps default per model: 1,000 for model v1, 500 for model v2 (``cmoc.defaults.TUNE``).

The default is resolved when the model is known, so a saved fit always records the number of
tuning steps it used, and an explicit ``tune`` (``--tune``) always wins.
"""

from __future__ import annotations

import json

import pytest

from cmoc.analyses import SamplerConfig, fit
from cmoc.analyses.fitting.sampling import SamplerError, sample_model
from cmoc.analyses.fitting.store import fit_config
from cmoc.cli import main
from cmoc.defaults import TUNE
from cmoc.models import ModelConfig
from conftest import mocked


def test_tune_is_resolved_per_model_and_an_explicit_value_wins():
    s = SamplerConfig()
    assert s.tune is None
    assert s.for_model("hierarchical").tune == TUNE["hierarchical"] == 1000
    assert s.for_model("measurement").tune == TUNE["measurement"] == 500
    assert SamplerConfig(tune=321).for_model("measurement").tune == 321
    assert SamplerConfig(tune=0).for_model("hierarchical").tune == 0


def test_sample_model_refuses_an_unresolved_tune():
    with pytest.raises(SamplerError, match="tune is not set"):
        sample_model(None, SamplerConfig(draws=10))


@pytest.mark.parametrize(
    ("model", "given", "expected"),
    [("measurement", None, 500), ("hierarchical", None, 1000), ("measurement", 40, 40)],
)
def test_a_fit_records_the_tune_it_used(tiny_base, model, given, expected):
    with mocked():
        idata = fit(
            tiny_base,
            ModelConfig(model=model),
            SamplerConfig(seed=3, chains=1, draws=5, tune=given),
        )
    _, stored = fit_config(idata)
    assert stored["tune"] == expected


def test_cli_fit_records_the_model_default(tiny_base, tmp_path):
    from cmoc.analyses import load_fit

    toml = tmp_path / "v2.toml"
    toml.write_text('model = "measurement"\n')
    out = tmp_path / "fit.nc"
    args = ["fit", str(tiny_base.path), "--model", str(toml), "--chains", "1", "--draws", "5"]
    with mocked():
        assert main([*args, "--out", str(out)]) == 0
    assert json.loads(load_fit(out).attrs["sampler"])["tune"] == 500
