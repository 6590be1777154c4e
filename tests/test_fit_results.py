"""Fits on disk, provenance, the convergence gate, summaries and reproducibility."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cmoc.analyses import (
    SUMMARY_COLUMNS,
    FitMismatchError,
    SamplerConfig,
    SamplerError,
    check_convergence,
    fit,
    fit_mismatches,
    load_fit,
    save_fit,
    summarize,
)
from cmoc.evidence import load_evidence
from cmoc.models import ModelConfig, config_for
from conftest import tiny_sampler


def test_provenance_on_every_group(small_fit, small_base):
    for node in (small_fit, small_fit["posterior"], small_fit["sample_stats"]):
        attrs = node.attrs
        assert attrs["evidence_hash"] == small_base.evidence_hash
        assert attrs["model_name"] == "hierarchical"
        assert json.loads(attrs["model_config"])["likelihood"] == "negbin"
        sampler = json.loads(attrs["sampler"])
        assert sampler == {**sampler, "sampler": "nutpie", "seed": 7, "chains": 2, "draws": 60}
        assert "pymc" in json.loads(attrs["packages"])


def test_dimensions_named_after_ids(small_fit, small_base):
    post = small_fit["posterior"]
    assert list(post["support_cmoc"].coords["cmoc"].values) == list(small_base.cmocs.index)
    assert list(post["support_mechanism"].coords["mechanism"].values) == list(
        small_base.mechanisms.index
    )
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 60


def test_save_load_round_trip(small_fit, small_base, tmp_path):
    path = save_fit(small_fit, tmp_path / "fit.nc")
    back = load_fit(path, small_base)
    xr.testing.assert_identical(back["posterior"].to_dataset(), small_fit["posterior"].to_dataset())
    assert back.attrs == small_fit.attrs
    assert not list(tmp_path.glob(".*tmp"))


def test_load_refuses_changed_evidence(small_fit, small_base, tmp_path):
    copy = tmp_path / "base"
    shutil.copytree(small_base.path, copy)
    path = save_fit(small_fit, tmp_path / "fit.nc")
    with open(copy / "codings.csv", "a") as fh:
        fh.write(f"S0001,{small_base.cmocs.index[0]},refutes,9,,\n")
    changed = load_evidence(copy)
    with pytest.raises(FitMismatchError, match="evidence changed"):
        load_fit(path, changed)
    assert fit_mismatches(
        small_fit, small_base, ModelConfig(model="hierarchical", likelihood="poisson")
    )


def test_interrupted_save_keeps_previous_fit(small_fit, tmp_path, monkeypatch):
    path = save_fit(small_fit, tmp_path / "fit.nc")
    before = path.read_bytes()

    def boom(self, *args, **kwargs):
        with open(args[0], "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.DataTree, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        save_fit(small_fit, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc"]


def test_same_seed_same_numbers(tiny_base):
    name = "breadth" if config_for(tiny_base).model == "measurement" else "support_cmoc"
    a = fit(tiny_base, sampler=tiny_sampler())
    b = fit(tiny_base, sampler=tiny_sampler())
    np.testing.assert_array_equal(a["posterior"][name].values, b["posterior"][name].values)
    c = fit(tiny_base, sampler=SamplerConfig(seed=8, chains=2, draws=60, tune=60, extend=0))
    assert not np.array_equal(a["posterior"][name].values, c["posterior"][name].values)


def test_summary_rows_and_columns(small_fit, small_base):
    s = summarize(small_fit, small_base, ci=0.8)
    assert list(s.columns) == SUMMARY_COLUMNS
    assert len(s) == len(small_base.cmocs) + len(small_base.mechanisms)
    assert set(s["target_type"]) == {"cmoc", "mechanism"}
    assert (s["wave"] == small_base.waves[-1]).all()
    assert (s["support_lo"] <= s["support_mean"]).all()
    assert (s["support_mean"] <= s["support_hi"]).all()
    assert s["p_supported"].between(0, 1).all()
    draws = small_fit["posterior"]["support_cmoc"].sel(cmoc="C001").values.ravel()
    row = s.set_index("target_id").loc["C001"]
    assert row["p_supported"] == pytest.approx((draws > 0.5).mean())
    assert row["support_lo"] == pytest.approx(np.quantile(draws, 0.1))
    assert s["status"].isin(["affirmed", "refuted", "novel", "revised", "inconclusive"]).all()
    assert s["evidence_level"].notna().all()


def _fake(values: np.ndarray, diverging: np.ndarray) -> xr.DataTree:
    chains, draws = values.shape[:2]
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), "cmoc": ["C1", "C2"]}
    post = xr.Dataset(
        {
            "support_cmoc": (("chain", "draw", "cmoc"), values),
            "support_mechanism": (("chain", "draw", "mechanism"), values[..., :1]),
        },
        coords={**coords, "mechanism": ["M1"]},
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=coords)
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def test_gate_passes_good_chains():
    rng = np.random.default_rng(0)
    good = _fake(rng.uniform(0.4, 0.6, (4, 1000, 2)), np.zeros((4, 1000), bool))
    check = check_convergence(good)
    assert check.passed and check.text.startswith("converged")


def test_gate_flags_disagreeing_chains_and_divergences():
    rng = np.random.default_rng(0)
    values = rng.uniform(0.4, 0.6, (4, 1000, 2))
    values[0] += 0.2  # one chain elsewhere: R-hat far above 1.01
    div = np.zeros((4, 1000), bool)
    div[1, :3] = True
    check = check_convergence(_fake(values, div))
    assert not check.passed
    assert check.text.startswith("NOT CONVERGED")
    assert "R-hat" in check.text and "3 divergent" in check.text
    assert "--target-accept" in check.text  # what to try: divergences first
    assert not check.table.loc["support_cmoc", "passed"]


def test_gate_advises_a_target_accept_above_the_fits_own():
    import json

    rng = np.random.default_rng(0)
    div = np.zeros((4, 1000), bool)
    div[1, :3] = True
    idata = _fake(rng.uniform(0.4, 0.6, (4, 1000, 2)), div)
    idata.attrs["sampler"] = json.dumps({"target_accept": 0.97})
    text = check_convergence(idata).text
    assert "--target-accept (0.99)" in text and "0.95" not in text
    idata = _fake(rng.uniform(0.4, 0.6, (4, 1000, 2)), div)
    idata.attrs["sampler"] = json.dumps({"target_accept": 0.99})
    assert "is already 0.99" in check_convergence(idata).text


def test_gate_flags_low_ess():
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.normal(0, 0.01, (4, 1000, 2)), axis=1) + 0.5  # sticky chains
    check = check_convergence(_fake(walk, np.zeros((4, 1000), bool)))
    assert not check.passed and "ESS below 400" in check.text
    # no divergence: more draws is what to try, not a smaller step
    assert "--draws 2000" in check.text and "--target-accept" not in check.text


def test_summary_says_when_not_converged(tiny_base):
    idata = fit(tiny_base, sampler=SamplerConfig(seed=1, chains=2, draws=20, tune=5, extend=0))
    s = summarize(idata, tiny_base)
    assert not s["converged"].any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": "stan"}, "unknown sampler"),
        ({"chains": 0}, "chains must be at least 1"),
        ({"tune": -1}, "tune must be at least 0"),
        ({"seed": -3}, "seed must be"),
    ],
)
def test_sampler_settings_are_checked(kwargs, message):
    with pytest.raises(SamplerError, match=message):
        SamplerConfig(**kwargs).validated()


def test_missing_nutpie_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nutpie", None)  # import nutpie now raises ImportError
    with pytest.raises(SamplerError, match="pip install nutpie, or use --sampler pymc"):
        SamplerConfig().validated()


def test_pymc_sampler_gives_the_same_kind_of_result(tiny_base):
    idata = fit(
        # one core: two processes would each compile the model again
        tiny_base,
        sampler=SamplerConfig(
            sampler="pymc", seed=3, chains=2, draws=30, tune=30, cores=1, extend=0
        ),
    )
    assert idata["posterior"].sizes["draw"] == 30
    assert json.loads(idata.attrs["sampler"])["sampler"] == "pymc"
    s = summarize(idata, tiny_base)
    assert len(s) == len(tiny_base.targets)


def test_prior_predictive_is_sane(small_base):
    """Before any data: support centred on 1/2 with wide spread; plausible coding rates."""
    import pymc as pm

    from cmoc.models import build_model

    model = build_model(small_base)
    prior = pm.sample_prior_predictive(
        draws=2000,
        model=model,
        var_names=["support_cmoc", "salience_cmoc", "kind_rate"],
        random_seed=1,
    )["prior"]
    support = prior["support_cmoc"].values.ravel()
    assert abs(np.median(support) - 0.5) < 0.03
    assert 0.15 < np.mean(support > 0.9) + np.mean(support < 0.1) < 0.45
    rate = np.exp(prior["kind_rate"].values[..., :1] + prior["salience_cmoc"].values).ravel()
    lo, med, hi = np.quantile(rate, [0.05, 0.5, 0.95])
    assert 0.005 < med < 1.0  # codes per source and CMOC: sparse but not absent
    assert lo > 1e-4 and hi < 50
    frame = pd.DataFrame({"support": support})
    assert frame["support"].between(0, 1).all()


def _gate_stub(monkeypatch, outcomes):
    """Make ``fit`` sample fakes: one per run, passing or failing as ``outcomes`` says."""
    from cmoc.analyses.fitting import sampling

    runs = []

    def fake_sample(model, s, *, progress=False, key=None):
        outcome = outcomes[len(runs)]
        runs.append(
            (s.draws, s.tune) if s.target_accept == 0.9 else (s.draws, s.tune, s.target_accept)
        )
        rng = np.random.default_rng(len(runs))
        values = rng.uniform(0.4, 0.6, (s.chains, s.draws, 2))
        if outcome == "rhat":  # one chain elsewhere: R-hat far above the limit
            values[0] += 1.0
        div = np.zeros((s.chains, s.draws), bool)
        if outcome == "diverged":
            div[0, 0] = True
        return _fake(values, div)

    monkeypatch.setattr(sampling, "sample_model", fake_sample)
    return runs


@pytest.mark.parametrize(
    ("outcomes", "extend", "expected_runs", "passed"),
    [
        (["pass"], 1, [(400, 50)], True),
        (["rhat", "pass"], 1, [(400, 50), (800, 100)], True),
        (["rhat", "rhat"], 1, [(400, 50), (800, 100)], False),
        (["rhat", "rhat", "pass"], 2, [(400, 50), (800, 100), (1600, 200)], True),
        (["rhat"], 0, [(400, 50)], False),
        # divergences: not more draws (they do not help) but smaller steps
        (["diverged", "pass"], 1, [(400, 50), (400, 100, 0.95)], True),
        (["diverged", "diverged"], 1, [(400, 50), (400, 100, 0.95)], False),
        (
            ["diverged", "diverged", "pass"],
            2,
            [(400, 50), (400, 100, 0.95), (400, 200, 0.975)],
            True,
        ),
        (["diverged", "rhat", "pass"], 2, [(400, 50), (400, 100, 0.95), (800, 200, 0.95)], True),
        (["diverged"], 0, [(400, 50)], False),
    ],
)
def test_fit_extends_a_run_that_fails_the_gate(
    monkeypatch, tiny_base, outcomes, extend, expected_runs, passed
):
    runs = _gate_stub(monkeypatch, outcomes)
    sampler = SamplerConfig(seed=1, chains=4, draws=400, tune=50, extend=extend)
    idata = fit(tiny_base, sampler=sampler)
    assert runs == expected_runs
    check = check_convergence(idata)
    assert check.passed is passed
    assert idata["posterior"].sizes["draw"] == expected_runs[-1][0]
    # the settings asked are kept (a saved fit is reused for the same request) ...
    assert json.loads(idata.attrs["sampler"])["draws"] == 400
    # ... and the runs extended are recorded, and said
    extended = json.loads(idata.attrs.get("extended", "[]"))
    assert [run[:2] for run in expected_runs[:-1]] == [(r["draws"], r["tune"]) for r in extended]
    assert check.values["extensions"] == len(extended)
    for record, outcome in zip(extended, outcomes, strict=False):
        failure = "R-hat above 1.01" if outcome == "rhat" else "divergent transitions"
        assert any(failure in f for f in record["failures"])
    if extended:
        assert "sampled again" in check.text and "400 draws and 50 tuning steps" in check.text
        last = expected_runs[-1]
        assert json.loads(idata.attrs["last_run"]) == {
            "draws": last[0],
            "tune": last[1],
            "target_accept": last[2] if len(last) > 2 else 0.9,
        }
        assert ("at target_accept" in check.text) is (len(last) > 2)
    else:
        assert "sampled again" not in check.text
    if not passed and outcomes[-1] == "rhat":
        n = 2 * expected_runs[-1][0]
        assert f"--draws {n} --tune {n}" in check.text
    if not passed and outcomes[-1] == "diverged":
        # the advice starts above the last run's target_accept
        higher = "0.99" if len(expected_runs[-1]) > 2 else "0.95, 0.99"
        assert f"higher --target-accept ({higher})" in check.text


def test_fit_does_not_extend_divergences_at_the_highest_target_accept(monkeypatch, tiny_base):
    runs = _gate_stub(monkeypatch, ["diverged", "pass"])
    sampler = SamplerConfig(seed=1, chains=4, draws=400, tune=50, target_accept=0.99, extend=2)
    idata = fit(tiny_base, sampler=sampler)
    assert runs == [(400, 50, 0.99)] and "extended" not in idata.attrs
    assert "already 0.99" in check_convergence(idata).text


def test_extend_must_not_be_negative():
    with pytest.raises(SamplerError, match="extend must be at least 0"):
        SamplerConfig(extend=-1).validated()


def test_fit_never_extends_one_chain(monkeypatch, tiny_base):
    runs = _gate_stub(monkeypatch, ["pass"])
    idata = fit(tiny_base, sampler=SamplerConfig(seed=1, chains=1, draws=400, tune=50, extend=3))
    assert runs == [(400, 50)] and "extended" not in idata.attrs
    assert "one chain only" in check_convergence(idata).text
