"""Model v2 is the default; model v1 where v2 cannot fit a base's layout yet, said, never silent."""

from __future__ import annotations

import shutil
import warnings

import pytest
from pydantic import ValidationError

from cmoc.analyses import fit_config, load_fit
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.models import (
    DEFAULT_CONFIG,
    V1_CONFIG,
    ModelConfig,
    ModelFallbackWarning,
    config_for,
    default_config_for,
    measurement_problem,
)
from conftest import ROOT, mocked

TINY = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]


def test_the_default_is_model_v2_and_v1_settings_must_name_model_v1():
    assert DEFAULT_CONFIG.model == "measurement" and ModelConfig() == DEFAULT_CONFIG
    assert V1_CONFIG.model == "hierarchical"
    with pytest.raises(ValidationError, match=r'likelihood: settings of model v1.*"hierarchical"'):
        ModelConfig(likelihood="poisson")
    with pytest.raises(ValueError, match="cmocs: settings of model v1"):
        ModelConfig.from_toml('cmocs = "centered"\n')
    with pytest.raises(ValidationError, match="settings of model v1"):
        DEFAULT_CONFIG.merged({"kind_lean_sd": 0.3})
    # named, they are v1's; merged into v1's defaults they need no name again
    assert ModelConfig.from_toml('model = "hierarchical"\nlikelihood = "poisson"\n').likelihood == (
        "poisson"
    )
    assert V1_CONFIG.merged({"likelihood": "poisson"}).model == "hierarchical"
    # support_pooling is both models' setting (the comparison variants)
    assert DEFAULT_CONFIG.merged({"support_pooling": "none"}).model == "measurement"


def test_saved_configurations_read_back_as_the_model_they_were():
    # fits saved before model v2 existed carry no "model" key: they are model v1's
    assert "model" not in V1_CONFIG.to_json()
    assert ModelConfig.from_json(V1_CONFIG.to_json()) == V1_CONFIG
    assert ModelConfig.from_json(DEFAULT_CONFIG.to_json()) == DEFAULT_CONFIG
    assert ModelConfig.from_json(DEFAULT_CONFIG.model_dump_json()) == DEFAULT_CONFIG
    assert V1_CONFIG.id != DEFAULT_CONFIG.id


def test_the_ioc_base_gets_model_v2_without_a_warning():
    base = load_evidence(ROOT / "evidence" / "ioc")
    assert measurement_problem(base) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config_for(base) == DEFAULT_CONFIG
    assert default_config_for(base) == (DEFAULT_CONFIG, None)


def test_a_layout_v2_does_not_fit_gets_model_v1_with_a_warning(small_base):
    # `cmoc simulate`'s group totals span source kinds: a layout only model v1 fits
    message, layout = measurement_problem(small_base)
    assert layout and "codings.csv:" in message and "differ in kind" in message
    with pytest.warns(ModelFallbackWarning, match="fitting model v1"):
        assert config_for(small_base) == V1_CONFIG
    # a configuration given is used as it is: no choice, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config_for(small_base, DEFAULT_CONFIG) is DEFAULT_CONFIG


def test_cli_falls_back_with_a_note_and_refuses_a_named_model_v2(small_base, tmp_path, capsys):
    base = tmp_path / "b"
    shutil.copytree(small_base.path, base, ignore=shutil.ignore_patterns(".cmoc"))
    out = tmp_path / "fit.nc"
    with mocked():
        assert main(["fit", str(base), "--out", str(out), *TINY]) == 0
    err = capsys.readouterr().err
    assert "note: model v2, the default, does not fit this base's layout yet" in err
    assert "codings.csv:" in err
    assert fit_config(load_fit(out))[0].model == "hierarchical"

    v2 = tmp_path / "v2.toml"
    v2.write_text('model = "measurement"\n')
    named = tmp_path / "named.nc"
    assert main(["fit", str(base), "--model", str(v2), "--out", str(named), *TINY]) == 2
    err = capsys.readouterr().err
    assert "model v2 cannot be fitted" in err and 'model = "hierarchical"' in err
    assert "Traceback" not in err and not named.exists()
