"""cmoc plan: the new-source likelihood, Dask determinism, and predictions checked by refits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses.planning.calibration import simulate_dataset
from cmoc.cli import main
from cmoc.evidence import load_evidence, write_directory
from cmoc.models import V1_CONFIG, build_model
from cmoc.models.generate import CalibrationLayout, draw_counts, draw_parameters

PLANTED = CalibrationLayout(mechanisms=2, cmocs=6, sources=12, kinds=("interview",))
FIT = ["--draws", "300", "--tune", "300", "--chains", "2"]


def planted_base(directory: Path, seed: int = 3) -> Path:
    """Write a small base whose C1 (true support 0.5, 7 codes) is inconclusive at seed 3.

    Seed 0 gives a base with every CMOC affirmed.
    """
    rng = np.random.default_rng(seed)
    p = draw_parameters(V1_CONFIG, PLANTED, rng)
    p.update(
        support_mean=1.0,
        mu=np.array([1.0, 0.8]),
        eta=np.array([0.0, 1.5, 2.0, 1.2, 1.8, 1.0]),
        salience_mechanism=np.zeros(2),
        salience_cmoc=np.zeros(6),
        kind_rate=np.array([0.3]),
        kind_lean=np.zeros(1),
        dispersion=4.0,
    )
    sup, ref = draw_counts(p, PLANTED, rng)
    targets = PLANTED.cmoc_ids + PLANTED.mechanism_ids
    sources = [f"S{j + 1:03d}" for j in range(PLANTED.sources)]
    rows = [
        (sources[j], targets[t], stance, int(c[j, t]))
        for stance, c in (("supports", sup), ("refutes", ref))
        for j, t in zip(*np.nonzero(c), strict=True)
    ]
    mechs = PLANTED.mechanism_ids
    files = {
        "evidence.toml": 'name = "planted"\ntitle = "planted"\ncitation = "test"\nformat = 1\n'
        'waves = ["w1"]\n',
        "mechanisms.csv": pd.DataFrame({"mechanism_id": mechs, "name": mechs, "definition": "d"}),
        "cmocs.csv": pd.DataFrame(
            {
                "cmoc_id": PLANTED.cmoc_ids,
                "mechanism_id": [mechs[m] for m in PLANTED.cmoc_mechanism],
                "context": "c",
                "outcome": "o",
                "sign": "+",
                "origin": "prior",
            }
        ),
        "sources.csv": pd.DataFrame({"source_id": sources, "kind": "interview", "wave": "w1"}),
        "codings.csv": pd.DataFrame(rows, columns=["source_id", "target_id", "stance", "count"]),
    }
    write_directory(directory, files)
    return directory


def test_new_source_likelihood_is_the_models():
    """plan's per-source likelihood, summed over sources, is the model's likelihood."""
    import pytensor
    from pymc.model.transform.conditioning import remove_value_transforms

    from cmoc.analyses.planning.plan import _source_loglik

    layout = CalibrationLayout()
    cfg = V1_CONFIG.merged({"mechanisms": "noncentered", "cmocs": "noncentered"})
    cm = layout.cmoc_mechanism
    for seed in range(3):
        base, p = simulate_dataset(layout, cfg, np.random.default_rng(seed))
        model = remove_value_transforms(build_model(base, cfg))
        # the model orders kinds by label, the layout by position
        order = [layout.kinds.index(k) for k in model.coords["kind"]]
        point = {
            "support_mean": p["support_mean"],
            "support_sd_mechanism": p["support_sd_mechanism"],
            "z_support_mechanism": (p["mu"] - p["support_mean"]) / p["support_sd_mechanism"],
            "salience_sd_mechanism": p["salience_sd_mechanism"],
            "z_salience_mechanism": p["salience_mechanism"] / p["salience_sd_mechanism"],
            "support_sd_cmoc": p["support_sd_cmoc"],
            "salience_sd_cmoc": p["salience_sd_cmoc"],
            "z_support_cmoc": (p["eta"] - p["mu"][cm]) / p["support_sd_cmoc"],
            "z_salience_cmoc": (p["salience_cmoc"] - p["salience_mechanism"][cm])
            / p["salience_sd_cmoc"],
            "kind_rate": p["kind_rate"][order],
            "kind_lean_sd": p["kind_lean_sd"],
            "z_kind_lean": p["kind_lean"][order] / p["kind_lean_sd"],
            "kind_lean": p["kind_lean"][order],
            "inv_dispersion": 1.0 / p["dispersion"],
        }
        values = {v.name: np.asarray(point[v.name], dtype=float) for v in model.value_vars}
        graphs = model.replace_rvs_by_values(model.potentials)
        total = sum(
            pytensor.function(model.value_vars, g, on_unused_input="ignore")(**values)
            for g in graphs
        )
        # the same counts, source by source, through plan's likelihood
        targets = list(base.targets.index)
        sup = np.zeros((layout.sources, len(targets)))
        ref = np.zeros_like(sup)
        src = {s: j for j, s in enumerate(base.sources.index)}
        for row in base.codings.itertuples():
            (sup if row.stance == "supports" else ref)[
                src[row.source_id], targets.index(row.target_id)
            ] = row.count_min
        lam = np.concatenate([p["salience_cmoc"], p["salience_mechanism"]])
        logit_t = np.concatenate([p["eta"], p["mu"]])
        ours = 0.0
        for j, k in enumerate(layout.source_kind):
            ours += _source_loglik(
                sup[j],
                ref[j],
                (p["kind_rate"][k] + lam)[None, :],
                (logit_t + p["kind_lean"][k])[None, :],
                np.array([p["dispersion"]]),
            )[0]
        assert np.isclose(total, ours, rtol=1e-9, atol=1e-6), (total, ours)


def _plan(directory: Path, *extra: str, capsys) -> tuple[int, str, str]:
    # model v1's plan (model v2's: test_plan_v2.py)
    v1 = str(Path(__file__).parent / "models" / "v1.toml")
    code = main(["plan", str(directory), *FIT, "--model", v1, *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # real fits (and worker processes, where no mock reaches)
def test_plan_csv_identical_with_one_and_two_workers(tmp_path, capsys):
    base = planted_base(tmp_path / "planted")
    args = ["--format", "csv", "--max-new", "2", "--simulations", "20", "--seed", "5"]
    code1, one, err1 = _plan(base, *args, "--workers", "1", capsys=capsys)
    assert code1 == 0, err1
    code2, two, err2 = _plan(base, *args, "--workers", "2", capsys=capsys)
    assert code2 == 0, err2
    assert one == two
    table = pd.read_csv(pd.io.common.StringIO(one))
    for col in ("target_id", "n_new", "p_settled", "p_affirmed", "p_refuted"):
        assert col in table
    assert "C1" in set(table["target_id"])
    assert table.groupby("target_id")["n_new"].apply(list).map(lambda n: n == [1, 2]).all()
    assert np.allclose(table["p_settled"], table["p_affirmed"] + table["p_refuted"])
    assert table["p_settled"].between(0, 1).all()


def test_plan_bad_input_exits_2(tmp_path, capsys):
    base = planted_base(tmp_path / "planted")
    code, _, err = _plan(base, "--kind", "nope", capsys=capsys)
    assert code == 2 and "not a source kind" in err
    code, _, err = _plan(base, "--workers", "1", "--scheduler", "tcp://x:1", capsys=capsys)
    assert code == 2 and "not both" in err


@pytest.mark.slow  # real fits (and worker processes, where no mock reaches)
def test_plan_says_when_nothing_is_inconclusive(tmp_path, capsys):
    base = planted_base(tmp_path / "settled", seed=0)
    code, out, err = _plan(base, capsys=capsys)
    assert code == 0, err
    assert "no inconclusive CMOC" in out


@pytest.mark.slow
def test_plan_predictions_confirmed_by_refits(tmp_path):
    """p_settled from the plan (PSIS) against a follow-up with exact refits.

    The follow-up draws the truth from the current posterior (as the plan does), draws n new
    sources from it, adds them to the base and refits exactly; the share of refits that settle
    C1 must match p_settled within Monte Carlo error, and each refit's P(support > 1/2) the
    PSIS estimate for the same data.
    """
    from cmoc.analyses import SamplerConfig, fit
    from cmoc.analyses.planning.plan import plan, psis_versus_refit

    base = load_evidence(planted_base(tmp_path / "planted"))
    idata = fit(base, V1_CONFIG, SamplerConfig(seed=1, chains=2, draws=1000, tune=500))
    n = 2
    table = plan(idata, base, max_new=n, simulations=200, seed=11, workers=2)
    row = table.set_index(["target_id", "n_new"]).loc[("C1", n)]
    follow = psis_versus_refit(
        idata, base, "C1", kind="interview", n_new=n, simulations=16, seed=12, workers=2
    )
    settled = ((follow["p_refit"] >= 0.9) | (follow["p_refit"] <= 0.1)).mean()
    se = np.sqrt(row["mc_se"] ** 2 + max(settled * (1 - settled), 0.05) / len(follow))
    print(table.to_string(), follow.to_string(), sep="\n")
    assert abs(settled - row["p_settled"]) <= 3 * se
    assert (follow["p_psis"] - follow["p_refit"]).abs().mean() < 0.05
