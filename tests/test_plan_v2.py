"""``cmoc plan`` for model v2: the chance that n more sources make an inconclusive target decisive.

A small base drawn from planted parameters of the measurement model (the model's own numpy
generator): two mechanisms, CMOCs C1-C3 coded by twelve reviews of wave w1, and C4 (of M2, novel)
introduced in wave w2, where two reviews are coded: one evidences it. C4 is broad (about two
sources in three evidence it, true direction 0.9) but inconclusive: one source shows it.

- the new sources' log-likelihood is the model's unit log-likelihood (``loglik_unit`` of the
  augmented base), on prior draws;
- wiring: ``cmoc plan --model v2.toml`` on prior draws (``pymc.testing.mock_sample``);
- slow, a real fit: the chance that C4 becomes decisive rises with n, and what the plan
  predicts for n = 1 and n = 6 agrees with refits of the base plus n sources drawn from the
  planted truth better than chance (Brier score below a coin's 0.25).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import SamplerConfig, fit
from cmoc.analyses.planning.plan import plan, plan_result
from cmoc.analyses.planning.plan_measurement import (
    DECISIVE,
    PLAN_V2_COLUMNS,
    new_source_loglik,
    with_planned_sources,
)
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.models import ModelConfig
from cmoc.models.generate_measurement import draw_measurement_cells
from conftest import mocked, tiny_sampler

V2 = ModelConfig(model="measurement")
TARGETS = ["C1", "C2", "C3", "C4", "M1", "M2"]
CMOC_MECH = np.array([0, 0, 1, 1])
FIRST_WAVE = 12
"""Reviews of wave w1 (not coded against C4, introduced in w2)."""


def truth() -> dict:
    """The planted parameters (targets C1 C2 C3 C4 M1 M2; one kind, refutes recorded)."""
    return {
        "activation_mechanism": np.array([1.5, 2.0]),
        "activation_kind": np.zeros(1),
        "evidencing_logit": np.array([0.5, -1.0, 0.0, 1.0, 0.0, -0.5]),
        "kind_rate": np.array([0.0]),
        "depth_target": np.zeros(6),
        "dispersion": 5.0,
        "eta": np.array([2.0, 1.5, 0.0, 2.2, 1.5, 1.0]),
        "kind_lean": np.zeros(1),
        "concentration": 30.0,
        "psi": np.array([1.0]),
    }


@dataclass(frozen=True)
class _Layout:
    """Sources of the one kind, exposure 1, as ``draw_measurement_cells`` reads a layout."""

    sources: int
    mechanisms: int = 2
    cmocs: int = 4

    @property
    def cmoc_mechanism(self) -> np.ndarray:
        return CMOC_MECH

    @property
    def source_kind(self) -> np.ndarray:
        return np.zeros(self.sources, dtype=int)

    @property
    def source_exposure(self) -> np.ndarray:
        return np.ones(self.sources)


def write_base(directory: Path, seed: int = 1, second_wave: int = 2) -> Path:
    """Write the planted base (seed 1: C4 evidenced by one of the two w2 reviews)."""
    rng = np.random.default_rng(seed)
    n = FIRST_WAVE + second_wave
    sup, ref = draw_measurement_cells(truth(), _Layout(n), rng)
    sup[:FIRST_WAVE, 3] = ref[:FIRST_WAVE, 3] = 0  # C4 is not in the theory of w1
    directory.mkdir(parents=True)
    (directory / "evidence.toml").write_text(
        'name = "planv2"\ntitle = "plan v2"\ncitation = "test"\nformat = 1\n'
        'waves = ["w1", "w2"]\n[recording]\nrefutes = { review = "recorded" }\n'
    )
    (directory / "mechanisms.csv").write_text(
        "mechanism_id,name,definition,origin\nM1,a,a,prior\nM2,b,b,prior\n"
    )
    (directory / "cmocs.csv").write_text(
        "cmoc_id,mechanism_id,context,outcome,sign,origin\n"
        "C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\nC3,M2,c,o,+,prior\nC4,M2,c,o,+,novel\n"
    )
    rows = [f"S{j + 1:02d},review,{'w1' if j < FIRST_WAVE else 'w2'}" for j in range(n)]
    (directory / "sources.csv").write_text("source_id,kind,wave\n" + "\n".join(rows) + "\n")
    lines = ["source_id,target_id,stance,count"]
    for j in range(n):
        for t, target in enumerate(TARGETS):
            for stance, counts in (("supports", sup), ("refutes", ref)):
                if counts[j, t]:
                    lines.append(f"S{j + 1:02d},{target},{stance},{counts[j, t]}")
    (directory / "codings.csv").write_text("\n".join(lines) + "\n")
    return directory


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return load_evidence(write_base(tmp_path_factory.mktemp("planv2") / "base"))


@pytest.fixture(scope="module")
def prior_fit(planted):
    """Prior draws in place of a fit (wiring and the likelihood's identity only)."""
    with mocked():
        return fit(planted, V2, tiny_sampler())


def test_new_sources_loglik_is_the_models_unit_loglik(planted, prior_fit, fast_compile):
    """A new source of exact cells is a unit: its log-likelihood is the model's ``loglik_unit``."""
    from cmoc.analyses.checks.measurement_pointwise import measurement_pointwise

    sup = np.array([[0, 1, 0, 1, 0, 0], [0, 0, 2, 0, 0, 1], [0, 0, 0, 0, 0, 0]])
    ref = np.array([[0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    ll = new_source_loglik(planted, prior_fit, "review", sup, ref)
    by_mech = new_source_loglik(planted, prior_fit, "review", sup, ref, by_mechanism=True)
    augmented = with_planned_sources(planted, "review", sup, ref)
    assert augmented.waves == ["w1", "w2", "planned"]
    unit = measurement_pointwise(prior_fit, augmented)
    expected = unit.sel(unit=[f"plan-new-{i}" for i in (1, 2, 3)])
    expected = expected.stack(sample=("chain", "draw")).transpose("unit", "sample").values
    assert ll.shape == expected.shape == (3, 120)
    np.testing.assert_allclose(ll, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(by_mech.sum(axis=1), ll, rtol=0, atol=1e-9)
    # a source with no code: each mechanism's factor is log(1 - a + a prod(1 - b)) < 0
    assert (by_mech[2] < 0).all()


def test_plan_of_a_v2_fit_has_v2_estimands_and_round_trips(planted, prior_fit, tmp_path):
    from cmoc.analyses import load_plan, save_plan

    targets = ["C4", "M2"]
    table, sims = plan(
        prior_fit,
        planted,
        max_new=3,
        simulations=30,
        workers=0,
        max_refits=0,
        targets=targets,
        details=True,
    )
    assert list(table.columns) == PLAN_V2_COLUMNS
    assert list(table["target_id"]) == ["C4"] * 3 + ["M2"] * 3
    assert (table["simulations"] == 30).all() and (table["refits"] == 0).all()
    p = table[["p_decisive", "p_affirmed", "p_refuted", "p_contested"]]
    assert ((p >= 0) & (p <= 1)).all().all()
    assert (p["p_affirmed"] + p["p_refuted"] + p["p_contested"] <= p["p_decisive"] + 1e-12).all()
    decisive = sims["status"].isin(DECISIVE)
    by_hand = decisive.groupby([sims["target_id"], sims["n_new"]]).mean()
    keys = pd.MultiIndex.from_frame(table[["target_id", "n_new"]])
    np.testing.assert_allclose(by_hand.reindex(keys).to_numpy(), table["p_decisive"].to_numpy())
    assert set(sims["update"]) <= {"full", "mechanism"}
    # same seed, same numbers
    again = plan(
        prior_fit, planted, max_new=3, simulations=30, workers=0, max_refits=0, targets=targets
    )
    pd.testing.assert_frame_equal(table, again)
    # update="full": the whole likelihood at every n (its k above 0.7 only counted, no refit)
    _, full = plan(
        prior_fit,
        planted,
        max_new=2,
        simulations=10,
        workers=0,
        max_refits=0,
        targets=["C4"],
        details=True,
        update="full",
    )
    assert set(full["update"]) == {"full"} and not full["refit"].any()
    result = plan_result(prior_fit, planted, max_new=2, simulations=20, workers=0, max_refits=0)
    assert result.settings.model == "measurement"
    back = load_plan(save_plan(result, tmp_path / "plan.json"))
    assert back.settings == result.settings
    pd.testing.assert_frame_equal(back.table, result.table, check_dtype=False)


def test_cmoc_plan_with_a_v2_model_file(tmp_path, capsys, monkeypatch):
    from cmoc import analyses

    base = write_base(tmp_path / "b")
    model = tmp_path / "v2.toml"
    model.write_text('model = "measurement"\n')
    real, seen = analyses.plan_result, {}

    def in_process(*args, **kwargs):  # no Dask cluster (workers=0), the mock reaches
        seen.update(kwargs)
        return real(*args, **{**kwargs, "workers": 0})

    monkeypatch.setattr(analyses, "plan_result", in_process)
    tiny = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]
    args = ["plan", str(base), "--model", str(model), "--max-new", "2", "--simulations", "20"]
    args += ["--max-refits", "0", "--format", "csv", *tiny]
    with mocked():
        code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert seen["max_new"] == 2 and seen["max_refits"] == 0 and seen["kind"] is None
    header = out.splitlines()[0].split(",")
    saved = json.loads((base / ".cmoc" / "plan.json").read_text())
    assert saved["settings"]["model"] == "measurement" and "saved" in err
    if saved["rows"]:
        assert header == PLAN_V2_COLUMNS
    else:  # prior draws may leave nothing inconclusive
        assert header == PLAN_V2_COLUMNS and "nothing to plan" in err


def _decisive_after_refit(base, n: int, seed: int) -> bool:
    """Draw ``n`` more w2 reviews from the planted truth, refit, and say if C4 is decisive."""
    from cmoc.analyses import summarize

    rng = np.random.default_rng(seed)
    sup, ref = draw_measurement_cells(truth(), _Layout(n), rng)
    more = with_planned_sources(base, "review", sup, ref)
    idata = fit(
        more, V2, SamplerConfig(seed=seed, chains=2, draws=500, tune=500, target_accept=0.95)
    )
    status = summarize(idata, more).set_index("target_id").loc["C4", "status"]
    return status in DECISIVE


@pytest.mark.slow  # real fits: the base's, and six refits on data drawn from the truth
def test_plan_v2_known_truth(planted):
    sampler = SamplerConfig(seed=1, chains=2, draws=500, tune=500, target_accept=0.95)
    idata = fit(planted, V2, sampler)
    result = plan_result(idata, planted, max_new=6, simulations=100, workers=0, max_refits=0)
    assert "C4" in result.settings.inconclusive  # few sources: one shows it
    table = result.table.set_index(["target_id", "n_new"]).loc["C4"]
    first, last = table.loc[1], table.loc[6]
    # more sources, more often decisive
    assert last["p_decisive"] > first["p_decisive"] + 2 * (first["mc_se"] + last["mc_se"])
    assert (np.diff(table["p_decisive"].to_numpy()) > -0.1).all()
    # the plan against refits on data drawn from the planted truth with n more sources
    predicted, realised = [], []
    for replicate in range(3):
        for n in (1, 6):
            predicted.append(float(table.loc[n, "p_decisive"]))
            realised.append(_decisive_after_refit(planted, n, seed=100 + 10 * replicate + n))
    brier = float(np.mean((np.array(predicted) - np.array(realised, dtype=float)) ** 2))
    agree = sum((p >= 0.5) == r for p, r in zip(predicted, realised, strict=True))
    assert brier < 0.25, (predicted, realised)  # a coin (p = 0.5) scores 0.25
    assert agree >= 4, (predicted, realised)


@pytest.mark.parametrize(("model", "budget"), [("measurement", 0), ("hierarchical", 10)])
def test_cmoc_plan_refit_budget_defaults_by_model(tmp_path, capsys, monkeypatch, model, budget):
    # model v2 spends no refit unless asked (MAX_REFITS_V2), model v1 keeps MAX_REFITS
    from cmoc import analyses
    from cmoc.defaults import MAX_REFITS, MAX_REFITS_V2

    assert (MAX_REFITS_V2, MAX_REFITS) == (0, 10)
    base = write_base(tmp_path / "b")
    path = tmp_path / "model.toml"
    path.write_text(f'model = "{model}"\n')
    real, seen = analyses.plan_result, {}

    def small(*args, **kwargs):  # in process, few simulations: the budget is not spent
        seen.update(kwargs)
        return real(*args, **{**kwargs, "workers": 0})

    monkeypatch.setattr(analyses, "plan_result", small)
    tiny = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]
    args = ["plan", str(base), "--model", str(path), "--max-new", "1", "--simulations", "10"]
    with mocked():
        code = main([*args, "--format", "csv", *tiny])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert seen["max_refits"] == "by model"  # resolved where the fit's model is known
    saved = json.loads((base / ".cmoc" / "plan.json").read_text())
    assert saved["settings"]["max_refits"] == budget
