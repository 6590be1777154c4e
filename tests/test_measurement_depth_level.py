"""Model v2's depth level: targets with many evidencing cells centred around one level.

The reparametrisation must leave the prior as it was (iid ``Normal(theta_m, sigma_l)`` depths,
iid ``Normal`` kind rates): prior draws are compared with draws made here with numpy from the
plain form, by whole distributions (the depths are a scale mixture with heavy tails).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from cmoc.evidence import load_evidence
from cmoc.models import MeasurementPriors, build_measurement_model
from cmoc.models.config import CENTER_MIN_CODES, Prior
from conftest import ROOT, write_base

pytestmark = pytest.mark.filterwarnings("ignore:The effect of Potentials:UserWarning")

N_RICH = CENTER_MIN_CODES + 5
"""Sources giving codes to each of the rich targets: enough for them to be centred."""


MANY = (*(f"C{i}" for i in range(1, 21)), "M1")
"""Rich targets enough for centring (``EVIDENCING_CENTER_MIN_TARGETS``), with C21 the poor one."""


def _base(tmp_path, rich_targets: tuple[str, ...], *, differ: bool = False):
    """Rich targets coded by ``N_RICH`` sources; depths alike, or different (``differ``).

    The CMOCs are C1 to C3 (C3 the poor one, coded by two sources), or C1 to C21 with ``MANY``.
    """
    n_cmocs = 21 if len(rich_targets) > 3 else 3
    sources = "source_id,kind,wave,weight,exposure\n"
    codings = "source_id,target_id,stance,count,count_min,count_max\n"
    for j in range(N_RICH):
        kind = "review" if j % 2 else "interview"
        sources += f"S{j},{kind},w1,,\n"
        for i, t in enumerate(rich_targets):
            extra = (4 * i) % 13 if differ else 0  # 0, 4, 8, 12, 3, ...
            codings += f"S{j},{t},supports,{1 + extra + j % 3},,\n"
    poor = f"C{n_cmocs}"
    sources += "T0,review,w1,,\nT1,interview,w1,,\n"
    codings += f"T0,{poor},supports,2,,\nT1,{poor},supports,1,,\n"
    cmocs = "".join(f"C{i},M1,c,o,+,prior\n" for i in range(1, n_cmocs + 1))
    return load_evidence(write_base(tmp_path / "b", sources, codings, cmocs=cmocs))


def _free(model: pm.Model) -> set[str]:
    return {v.name for v in model.free_RVs}


def test_rich_targets_whose_depths_differ_are_centred_around_one_level(tmp_path):
    model = build_measurement_model(_base(tmp_path, MANY, differ=True))
    names = _free(model)
    assert {"depth_level", "depth_relative", "kind_level", "z_depth"} <= names
    assert "kind_rate" not in names  # a deterministic: the rates at the level
    assert model["depth_relative"].eval().shape == (21,)  # C1 to C20, M1
    assert model["z_depth"].eval().shape == (1,)  # C21: two cells


def test_few_rich_targets_are_centred_on_their_data_not_centred(tmp_path):
    """Three rich targets whose depths differ: too few to tell their spread (planted, seed 4)."""
    model = build_measurement_model(_base(tmp_path, ("C1", "C2", "M1"), differ=True))
    names = _free(model)
    assert {"z_depth_level", "z_depth_relative", "kind_level"} <= names
    assert not {"depth_level", "depth_relative"} & names


def test_rich_targets_with_alike_depths_are_standardised_at_the_level(tmp_path):
    """Depths that barely differ: the same level, its deviations non-centred (no funnel)."""
    model = build_measurement_model(_base(tmp_path, ("C1", "C2", "M1")))
    names = _free(model)
    assert {"z_depth_level", "z_depth_relative", "kind_level", "z_depth"} <= names
    assert not {"depth_level", "depth_relative", "kind_rate"} & names
    assert model["z_depth_relative"].eval().shape == (3,)


@pytest.mark.parametrize("rich", [(), ("C1",)])
def test_fewer_than_two_rich_targets_keep_the_plain_form(tmp_path, rich):
    names = _free(build_measurement_model(_base(tmp_path, rich)))
    assert "depth_level" not in names and "kind_level" not in names
    assert "kind_rate" in names


def test_a_kind_rate_prior_that_is_not_normal_keeps_the_plain_form(tmp_path):
    priors = MeasurementPriors(kind_rate=Prior(dist="HalfNormal", sigma=1.0))
    names = _free(build_measurement_model(_base(tmp_path, ("C1", "C2", "M1")), priors=priors))
    assert "depth_level" not in names and "kind_rate" in names


@pytest.mark.parametrize("differ", [True, False], ids=["centred", "standardised"])
def test_the_level_form_has_the_plain_prior(tmp_path, differ):
    """Depths, kind rates and their sums drawn from the model match the plain form's."""
    pr = MeasurementPriors()
    rich = MANY if differ else ("C1", "C2", "M1")
    model = build_measurement_model(_base(tmp_path, rich, differ=differ), priors=pr)
    n = 6000
    with model:
        prior = pm.sample_prior_predictive(
            draws=n, var_names=["depth_target", "kind_rate"], random_seed=11
        ).prior
    depth = prior["depth_target"].to_numpy().reshape(n, -1)  # C1, C2, ..., the poor one, M1
    rate = prior["kind_rate"].to_numpy().reshape(n, -1)
    rng = np.random.default_rng(12)
    # the plain form, one mechanism (its depth 0): sigma_l ~ HalfNormal, depths iid around 0
    sigma_l = np.abs(rng.normal(0.0, pr.depth_sd_target.sigma, n))
    plain = sigma_l[:, None] * rng.standard_normal((n, depth.shape[1]))
    plain_rate = rng.normal(pr.kind_rate.mu, pr.kind_rate.sigma, (n, rate.shape[1]))
    pairs = (
        [(depth[:, t], plain[:, t]) for t in range(depth.shape[1])]
        + [(rate[:, k], plain_rate[:, k]) for k in range(rate.shape[1])]
        + [
            (depth[:, 0] - depth[:, 1], plain[:, 0] - plain[:, 1]),  # centred vs centred
            (depth[:, 0] - depth[:, -2], plain[:, 0] - plain[:, -2]),  # centred vs not
            (depth[:, 0] + rate[:, 0], plain[:, 0] + plain_rate[:, 0]),  # what the data see
        ]
    )
    for i, (got, want) in enumerate(pairs):
        test = stats.ks_2samp(got, want)
        assert test.pvalue > 1e-3, (i, test)


def test_the_check_can_fail(tmp_path):
    """A level with the wrong scale (sigma_l, not sigma_l / sqrt(n)) is caught by the same KS."""
    pr = MeasurementPriors()
    base = _base(tmp_path, ("C1", "C2", "M1"), differ=True)
    model = build_measurement_model(base, priors=pr)
    n = 6000
    with model:
        prior = pm.sample_prior_predictive(
            draws=n, var_names=["depth_target", "depth_sd_target"], random_seed=11
        ).prior
    depth = prior["depth_target"].to_numpy().reshape(n, -1)
    sigma_l = prior["depth_sd_target"].to_numpy().ravel()
    rng = np.random.default_rng(3)
    # centred mean of three with the level's scale wrong: sd sigma_l instead of sigma_l / sqrt(3)
    wrong = depth[:, [0, 1, 3]] - depth[:, [0, 1, 3]].mean(axis=1, keepdims=True)
    wrong = wrong + sigma_l[:, None] * rng.standard_normal((n, 1))
    assert stats.ks_2samp(wrong[:, 0], depth[:, 0]).pvalue < 1e-3


def _drawn(tmp_path, sources: int, cmocs: int, mechanisms: int, spread: float | None = None):
    """A base of exact cells drawn with model v2's numpy generator (about 0.1 cells per pair
    and target, as the benchmarks' bases); with ``spread``, every target-level spread that."""
    from cmoc.analyses.planning.calibration import _layout_files
    from cmoc.evidence import write_directory
    from cmoc.models.generate import CalibrationLayout
    from cmoc.models.generate_measurement import (
        draw_measurement_cells,
        draw_measurement_parameters,
        measurement_codings,
    )

    layout = CalibrationLayout(mechanisms=mechanisms, cmocs=cmocs, sources=sources)
    rng = np.random.default_rng(4)
    p = draw_measurement_parameters(MeasurementPriors(), layout, rng)
    p["activation_mechanism"] = 0.3 * rng.standard_normal(mechanisms)
    n_t = len(p["evidencing_logit"])
    p["evidencing_logit"] = -1.5 + (spread or 0.3) * rng.standard_normal(n_t)
    if spread is not None:
        tm = np.concatenate([layout.cmoc_mechanism, np.arange(mechanisms)])
        p["depth_target"] = p["depth_mechanism"][tm] + spread * rng.standard_normal(n_t)
        p["eta"] = 1.0 + spread * rng.standard_normal(n_t)
    supports, refutes = draw_measurement_cells(p, layout, rng)
    path = tmp_path / f"b{sources}x{cmocs}s{spread}"
    write_directory(path, _layout_files(layout, measurement_codings(supports, refutes, layout)))
    return load_evidence(path)


def test_activation_and_evidencing_are_centred_only_on_data_rich_bases(tmp_path):
    from cmoc.evidence.recording import refutes_recording
    from cmoc.models import measurement_data
    from cmoc.models.measurement import (
        EVIDENCING_CENTER_MIN_TARGETS,
        _activation_centred,
        _depth_centred,
        _evidencing_centred,
    )

    def rules(base):
        rec = {k: r.refutes for k, r in refutes_recording(base).items()}
        md = measurement_data(base, rec)
        rich = _depth_centred(md)[0]
        return rich.sum(), _evidencing_centred(md, rich).sum(), _activation_centred(md)

    rich_base = _drawn(tmp_path, 600, 30, 5)
    rich, evidencing, activation = rules(rich_base)
    assert rich >= EVIDENCING_CENTER_MIN_TARGETS and evidencing == rich and activation
    free = _free(build_measurement_model(rich_base))
    assert {"activation_centred", "evidencing_centred"} <= free
    assert "z_activation" not in free
    # few mechanisms (their spread barely identified) and few rich targets: non-centred
    rich, evidencing, activation = rules(_drawn(tmp_path, 600, 8, 2))
    assert 0 < rich < EVIDENCING_CENTER_MIN_TARGETS and evidencing == 0 and not activation
    # the bundled base has no exact cell: every level in its first form
    ioc = load_evidence(ROOT / "evidence" / "ioc")
    assert rules(ioc) == (0, 0, False)


def test_levels_with_a_small_true_spread_are_not_centred(tmp_path):
    """Targets whose evidencing, depth and direction barely differ: each level non-centred.

    On a 1,000 x 100 base with every target-level spread 0.05, the centred forms that suit
    1,000 x 100 with spreads from the prior gave R-hat 1.37, 131 divergences and 150 leapfrog
    steps per draw (docs/model.md, "Small true spreads").
    """
    from cmoc.evidence.recording import refutes_recording
    from cmoc.models import measurement_data
    from cmoc.models.measurement import (
        _depth_centred,
        _direction_centred,
        _direction_codes,
        _evidencing_centred,
    )

    def rules(base):
        md = measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})
        rich, depth = _depth_centred(md)
        many_codes = (_direction_codes(md) >= CENTER_MIN_CODES).sum()
        return (
            rich.sum(),
            depth,
            _evidencing_centred(md, rich).sum(),
            _direction_centred(md).sum(),
            many_codes,
        )

    rich, depth, evidencing, direction, many = rules(_drawn(tmp_path, 600, 30, 5, spread=0.02))
    assert rich >= 20 and many >= 20  # rich enough to be centred, were the spreads visible
    assert (depth, evidencing, direction) == (False, 0, 0)
    rich, _depth, evidencing, direction, many = rules(_drawn(tmp_path, 600, 30, 5, spread=1.0))
    assert evidencing == rich and direction == many
