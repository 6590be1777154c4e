"""Model v2's kind leans sampled as a ``"partial"`` kind's codes show them.

Where a kind's refutes are only partly recorded and another kind's refutes are recorded (with
exact codes), the leans are sampled given the recording as
``kind_lean_seen = delta - Z(log psi)`` (a shear). The reparametrisation must leave the prior
as it was: ``delta ~ ZeroSumNormal(sigma)`` independent of ``psi ~ Beta(a, b)``. Prior draws
are compared with numpy draws of that plain form.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from cmoc.evidence import load_evidence
from cmoc.models import MeasurementPriors, build_measurement_model
from cmoc.models.config import CENTER_MIN_CODES
from conftest import write_base

pytestmark = pytest.mark.filterwarnings("ignore:The effect of Potentials:UserWarning")

KINDS = ("review", "interview", "survey")
RECORDING = {"review": "recorded", "interview": "partial", "survey": "not recorded"}
N = 6000


def _base(tmp_path, rich: int = 2):
    """``rich`` targets with enough recorded codes, and directions that differ, for a level."""
    sources = "source_id,kind,wave,weight,exposure\n"
    codings = "source_id,target_id,stance,count,count_min,count_max\n"
    for j in range(CENTER_MIN_CODES + 6):
        kind = KINDS[j % 3]
        sources += f"S{j},{kind},w1,,\n"
        for i, t in enumerate(("C1", "C2", "M1")[:rich]):
            codings += f"S{j},{t},supports,{2 + j % 2},,\n"
            if i and kind == "review":  # directions that differ: C1 none, C2 and M1 refuted
                codings += f"S{j},{t},refutes,{3 * i - 2 + j % 2},,\n"
    sources += "T0,review,w1,,\n"
    codings += "T0,C3,supports,1,,\n"
    cmocs = "".join(f"C{i},M1,c,o,+,prior\n" for i in (1, 2, 3))
    return load_evidence(write_base(tmp_path / "b", sources, codings, cmocs=cmocs))


def _prior(model: pm.Model, names: list[str]) -> dict[str, np.ndarray]:
    with model:
        prior = pm.sample_prior_predictive(draws=N, var_names=names, random_seed=5).prior
    return {n: prior[n].to_numpy().reshape(N, -1) for n in names}


def _plain(pr: MeasurementPriors) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, pr.kind_lean_sd, (N, len(KINDS)))
    return x - x.mean(axis=1, keepdims=True), rng.beta(pr.recording_a, pr.recording_b, N)


def test_a_partial_kind_at_the_direction_level_samples_the_leans_seen(tmp_path):
    model = build_measurement_model(_base(tmp_path), RECORDING)
    free = {v.name for v in model.free_RVs}
    assert {"kind_lean_seen", "refute_recording", "support_level"} <= free
    assert "kind_lean" not in free  # a deterministic: the leans themselves


@pytest.mark.parametrize("rich", [0, 1])
def test_leans_seen_without_a_direction_level(tmp_path, rich):
    """The recorded kind's codes inform the leans even where the directions are not at a level."""
    model = build_measurement_model(_base(tmp_path, rich), RECORDING)
    free = {v.name for v in model.free_RVs}
    assert "kind_lean_seen" in free and "support_level" not in free


@pytest.mark.parametrize(
    "recording",
    [
        {"review": "recorded", "interview": "recorded", "survey": "not recorded"},  # no partial
        {"review": "not recorded", "interview": "partial", "survey": "not recorded"},  # as IOC
    ],
    ids=["no-partial-kind", "no-recorded-kind"],
)
def test_the_leans_are_plain_without_both(tmp_path, recording):
    model = build_measurement_model(_base(tmp_path), recording)
    free = {v.name for v in model.free_RVs}
    assert "kind_lean" in free and "kind_lean_seen" not in free


def test_the_leans_seen_form_has_the_plain_prior(tmp_path):
    """Leans, recording and the combination the codes pin match the independent plain form."""
    pr = MeasurementPriors()
    model = build_measurement_model(_base(tmp_path), RECORDING, priors=pr)
    got = _prior(model, ["kind_lean", "refute_recording"])
    order = [list(model.coords["kind"]).index(k) for k in KINDS]  # as KINDS: review first
    delta, psi = got["kind_lean"][:, order], got["refute_recording"][:, 0]
    want_delta, want_psi = _plain(pr)
    pairs = [(delta[:, k], want_delta[:, k]) for k in range(len(KINDS))] + [
        (psi, want_psi),
        # what the partial kind's recorded codes pin, relative to the recorded kind
        (
            delta[:, 1] - np.log(psi) - delta[:, 0],
            want_delta[:, 1] - np.log(want_psi) - want_delta[:, 0],
        ),
        (delta[:, 0] + np.log(psi), want_delta[:, 0] + np.log(want_psi)),  # independence
    ]
    for i, (a, b) in enumerate(pairs):
        test = stats.ks_2samp(a, b)
        assert test.pvalue > 1e-3, (i, test)


def test_the_check_can_fail(tmp_path):
    """The sampled ``kind_lean_seen`` is not the leans' prior: the same KS test sees it."""
    pr = MeasurementPriors()
    model = build_measurement_model(_base(tmp_path), RECORDING, priors=pr)
    seen = _prior(model, ["kind_lean_seen"])["kind_lean_seen"]
    interview = list(model.coords["kind"]).index("interview")
    want_delta, _ = _plain(pr)
    assert stats.ks_2samp(seen[:, interview], want_delta[:, 1]).pvalue < 1e-3


def test_without_a_level_the_mean_is_sampled_as_the_recorded_kinds_see_it(tmp_path):
    """No direction level: ``support_mean`` sampled given the leans, with its plain prior."""
    pr = MeasurementPriors()
    model = build_measurement_model(_base(tmp_path, 0), RECORDING, priors=pr)
    free = {v.name for v in model.free_RVs}
    assert "support_mean_seen" in free and "support_mean" not in free
    got = _prior(model, ["support_mean", "kind_lean", "support_mean_seen"])
    order = [list(model.coords["kind"]).index(k) for k in KINDS]  # as KINDS: review first
    mean, delta = got["support_mean"][:, 0], got["kind_lean"][:, order]
    rng = np.random.default_rng(7)
    want = rng.normal(pr.support_mean.mu, pr.support_mean.sigma, N)
    want_delta, _ = _plain(pr)
    for a, b in ((mean, want), (mean + delta[:, 0], want + want_delta[:, 0])):
        assert stats.ks_2samp(a, b).pvalue > 1e-3
    # the sampled coordinate is the mean plus the recorded kind's lean, not the mean
    assert np.allclose(got["support_mean_seen"][:, 0], mean + delta[:, 0])
