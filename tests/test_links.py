"""Links of the web as targets (issue 16): which links the CMOCs express, their signs, their
estimands per draw against a brute-force simulation, and the paths through the web."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from cmoc.analyses import SamplerConfig, fit, link_draws, summarize, theory_paths
from cmoc.analyses.inference.paths import PathError, link_holds
from cmoc.cli import main
from cmoc.evidence import link_table, load_evidence, theory_links
from conftest import IOC, mocked

# D15 of evidence/ioc/README.md: the links between mechanisms, with the signs read from the
# papers (not from cmoc); "?" where no CMOC's context states the sign (see test below)
D15 = {
    "M04->M01": "+", "M05->M01": "+", "M10->M05": "+", "M12->M02": "-", "M13->M12": "-",
    "M02->M04": "?", "M08->M04": "+", "M12->M05": "-", "M02->M05": "?", "M02->M10": "+",
    "M03->M01": "+", "M08->M01": "+", "M09->M05": "+", "M09->M12": "-", "M07->M05": "-",
    "M06->M05": "+", "M07->M03": "-", "M14->M05": "?", "M10->M02": "?",
}  # fmt: skip


def test_ioc_links_are_d15s_with_its_signs():
    table = link_table(load_evidence(IOC))
    assert set(D15) <= set(table.index) and len(table) >= 14
    for link, sign in D15.items():
        # a sign cmoc states is the paper's; where the papers' sign rests on a free-text
        # context's valence (P1-06..12: conflict lowers M10), cmoc states none
        assert table.at[link, "sign"] == ("" if sign == "?" else sign), link
    assert (table["cmocs_against"] == "").all()  # the IOC's CMOCs agree on every sign


CMOCS = """cmoc_id,mechanism_id,context,outcome,sign,origin
C1,M2,M1,o,+,prior
C2,M1,x,M2,-,prior
C3,M2,M1,o,-,novel
C4,M3,M2,o,+,prior
C5,M2,M1,M3,-,prior
C6,M3,y,o,+,prior
"""


def _web_base(directory: Path, seed: int = 0) -> Path:
    """Three mechanisms, CMOCs expressing M1->M2 (for and against), M2->M3; refutes recorded."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True)
    (directory / "evidence.toml").write_text(
        'name = "web"\ntitle = "web"\ncitation = "test"\nformat = 1\nwaves = ["w1"]\n\n'
        '[recording]\nrefutes = { review = "recorded", interview = "recorded" }\n'
    )
    (directory / "mechanisms.csv").write_text(
        "mechanism_id,name,definition\nM1,m1,d\nM2,m2,d\nM3,m3,d\n"
    )
    (directory / "cmocs.csv").write_text(CMOCS)
    sources, rows = [], []
    for kind, n in (("review", 30), ("interview", 20)):
        for j in range(n):
            sid = f"{kind[0]}{j}"
            sources.append((sid, kind, "w1"))
            for target in ("C1", "C2", "C3", "C4", "C5", "C6"):
                if rng.random() < 0.3:
                    rows.append((sid, target, "supports", int(rng.integers(1, 4))))
                    if rng.random() < 0.3:
                        rows.append((sid, target, "refutes", 1))
    pd.DataFrame(sources, columns=["source_id", "kind", "wave"]).to_csv(
        directory / "sources.csv", index=False
    )
    pd.DataFrame(rows, columns=["source_id", "target_id", "stance", "count"]).to_csv(
        directory / "codings.csv", index=False
    )
    return directory


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    base = load_evidence(_web_base(tmp_path_factory.mktemp("web") / "b"))
    with mocked():  # prior draws: the estimands are functions of each draw, checked per draw
        idata = fit(base, sampler=SamplerConfig(seed=3, chains=2, draws=50, tune=0, extend=0))
    return base, idata


def test_sign_rules(web):
    base, _ = web
    rows = theory_links(base).set_index(["link_id", "cmoc_id"])
    # C1 (prior, context M1) states + for M1->M2; C3 (novel) states -: against
    assert rows.loc[("M1->M2", "C1"), ["sign", "stated", "role"]].tolist() == ["+", "+", "for"]
    assert rows.loc[("M1->M2", "C3"), ["stated", "role"]].tolist() == ["-", "against"]
    # C2 expresses M1->M2 through its outcome, behind a free-text context: no sign stated
    assert rows.loc[("M1->M2", "C2"), ["via", "stated", "role"]].tolist() == [
        "outcome", "", "for"
    ]  # fmt: skip
    # C5: M1 through M2 to M3, sign -; M2->M3 is + (C4), so M1->M2 is stated - (against),
    # and M2->M3 is stated - * + = -... from M1->M2's + (C1): against as well
    assert rows.loc[("M1->M2", "C5"), ["stated", "role"]].tolist() == ["-", "against"]
    assert rows.loc[("M2->M3", "C5"), ["stated", "role"]].tolist() == ["-", "against"]
    table = link_table(base)
    assert list(table.index) == ["M1->M2", "M2->M3"]  # C6's context is free text: no link
    assert table.at["M1->M2", "cmocs_for"] == "C1 C2"
    assert table.at["M1->M2", "cmocs_against"] == "C3 C5"


def test_the_prior_theory_sets_a_links_sign(tmp_path):
    """Three novel CMOCs against one prior: the link keeps the theory's sign."""
    cmocs = "C1,M2,M1,o,+,prior\nC2,M2,M1,o2,-,novel\nC3,M2,M1,o3,-,novel\nC4,M2,M1,o4,-,novel\n"
    d = _web_base(tmp_path / "b")
    (d / "cmocs.csv").write_text("cmoc_id,mechanism_id,context,outcome,sign,origin\n" + cmocs)
    (d / "codings.csv").write_text("source_id,target_id,stance,count\nr0,C1,supports,1\n")
    table = link_table(load_evidence(d))
    assert table.at["M1->M2", "sign"] == "+" and table.at["M1->M2", "cmocs_against"] == "C2 C3 C4"


def test_link_breadth_is_the_share_of_sources_evidencing_any_of_its_cmocs(web):
    """Per draw, against a simulation of activations and evidencing from that draw."""
    base, idata = web
    draws = link_draws(idata, base)
    post = idata["posterior"]
    kinds = list(post["kind"].values)
    mech_of = base.cmocs["mechanism_id"]
    rng = np.random.default_rng(1)
    n_src = {k: int((base.sources["kind"] == k).sum()) for k in kinds}
    for chain, draw in ((0, 0), (1, 17), (0, 42)):
        p = post.isel(chain=chain, draw=draw)
        act = {
            (m, k): expit(float(p["activation_mechanism"].sel(mechanism=m))
                          + float(p["activation_kind"].sel(kind=k)))
            for m in base.mechanisms.index for k in kinds
        }  # fmt: skip
        ev = {t: expit(float(p["evidencing_logit"].sel(target=t))) for t in base.cmocs.index}
        for link, cm in link_table(base)[["cmocs_for", "cmocs_against"]].iterrows():
            members = " ".join(cm).split()
            hits, total = 0.0, 0
            for k in kinds:
                sims = 40_000
                active = {m: rng.random(sims) < act[(m, k)] for m in base.mechanisms.index}
                any_ev = np.zeros(sims, bool)
                for t in members:
                    any_ev |= active[mech_of[t]] & (rng.random(sims) < ev[t])
                hits += n_src[k] * any_ev.mean()
                total += n_src[k]
            got = float(draws["breadth"].sel(link=link).isel(chain=chain, draw=draw))
            assert got == pytest.approx(hits / total, abs=0.01), (link, chain, draw)


def test_link_direction_counts_cmocs_against_it_as_refuting(web):
    base, idata = web
    draws = link_draws(idata, base)
    post = idata["posterior"]
    p = post["direction"]
    # one draw by hand: expected codes w_t over the sources coded against each CMOC
    s = post.isel(chain=0, draw=5)
    rate = np.exp(s["depth_target"].values[:, None] + s["kind_rate"].values[None, :])
    n_k = base.sources["kind"].value_counts().reindex(post["kind"].values).to_numpy()
    w = (s["breadth"].values * (1 + rate) * n_k[None, :]).sum(axis=1)
    ix = {t: i for i, t in enumerate(post["target"].values)}
    pt = {t: float(p.isel(chain=0, draw=5).sel(target=t)) for t in ix}
    pro = w[ix["C1"]] * pt["C1"] + w[ix["C2"]] * pt["C2"]
    con = (w[ix["C1"]] * (1 - pt["C1"]) + w[ix["C2"]] * (1 - pt["C2"])
           + w[ix["C3"]] * pt["C3"] + w[ix["C5"]] * pt["C5"])  # fmt: skip
    got = float(draws["direction"].sel(link="M1->M2").isel(chain=0, draw=5))
    assert got == pytest.approx(pro / (pro + con), rel=1e-9)
    assert bool(draws["testable"].sel(link="M1->M2"))


def test_summary_has_link_rows_and_links_lists_them_alone(web, tmp_path, capsys):
    base, idata = web
    s = summarize(idata, base)
    links = s[s["target_type"] == "link"]
    assert list(links["target_id"]) == ["M1->M2", "M2->M3"]
    assert list(s["target_type"].iloc[: len(base.targets)]) == list(base.targets["target_type"])
    m12 = links.set_index("target_id").loc["M1->M2"]
    # codes: C1 and C2 for (supports for, refutes against), C3 and C5 against (their supports)
    codes = base.codings.groupby(["target_id", "stance"])["count_min"].sum()
    assert m12["supports"] == codes.get(("C1", "supports"), 0) + codes.get(("C2", "supports"), 0)
    assert m12["refutes"] == sum(
        codes.get(k, 0)
        for k in (("C1", "refutes"), ("C2", "refutes"), ("C3", "supports"), ("C5", "supports"))
    )
    assert m12["status"] in {"affirmed", "refuted", "contested", "inconclusive", "novel"}

    assert pd.notna(m12["direction_mean"]) and pd.notna(m12["confidence"])


def test_path_probabilities_against_brute_force(web):
    base, idata = web
    draws = link_draws(idata, base)
    holds = link_holds(draws, base)
    out = theory_paths(idata, base, "M1", "M3")
    assert list(out["path"]) == ["M1->M2->M3"]
    # brute force: every ordering of mechanisms, and each draw by hand
    table = link_table(base)
    edges = set(zip(table["from_id"], table["to_id"], strict=True))
    found = []
    for n in range(0, 2):
        for mid in itertools.permutations(["M2"], n):
            nodes = ["M1", *mid, "M3"]
            if all((a, b) in edges for a, b in itertools.pairwise(nodes)):
                found.append("->".join(nodes))
    assert found == list(out["path"])
    h = holds.stack(s=("chain", "draw")).transpose("s", "link")
    both = [
        bool(h.sel(link="M1->M2")[i]) and bool(h.sel(link="M2->M3")[i]) for i in range(h.sizes["s"])
    ]
    row = out.iloc[0]
    assert row["p_all_hold"] == pytest.approx(np.mean(both))
    marg = [float(h.sel(link=k).mean()) for k in ("M1->M2", "M2->M3")]
    assert row["p_product"] == pytest.approx(np.prod(marg))
    assert row["p_weakest"] == pytest.approx(min(marg))
    with pytest.raises(PathError, match="not a mechanism"):
        theory_paths(idata, base, "M1", "M9")


def test_cmoc_paths_and_summary_links_on_the_command_line(web, tmp_path, capsys):
    base, _ = web
    with mocked():
        assert main(["fit", str(base.path), "--seed", "3", "--draws", "40", "--tune", "0",
                     "--chains", "2", "--extend", "0"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["summary", str(base.path), "--links", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("target_id,") and [r.split(",")[0] for r in out[1:]] == [
        "M1->M2", "M2->M3"
    ]  # fmt: skip
    assert main(["paths", str(base.path), "--from", "M1", "--to", "M3", "--format", "csv"]) == 0
    assert "M1->M2->M3" in capsys.readouterr().out
    assert main(["paths", str(base.path), "--from", "M1", "--to", "nope"]) == 2
    assert "not a mechanism" in capsys.readouterr().err


def test_plans_are_for_cmocs_and_mechanisms_not_links(web):
    from cmoc.analyses.planning.plan_measurement import inconclusive_targets

    base, idata = web
    s = summarize(idata, base)
    s.loc[s["target_type"] == "link", "status"] = "inconclusive"
    planned = inconclusive_targets(idata, base, s)
    assert not (planned["target_type"] == "link").any()
    assert set(planned["target_id"]) <= set(base.targets.index)


def test_outcome_paths_start_at_causes_and_end_at_outcomes(web):
    from cmoc.analyses import outcome_paths

    base, idata = web
    statuses = summarize(idata, base).set_index("target_id")["status"]
    out = outcome_paths(idata, base, statuses)
    # M1 -> M2 -> M3: M1 the one cause, M3 the one outcome, one path listed once
    assert list(out["outcome"]) == ["M3"] and list(out["path"]) == ["M1->M2->M3"]
    assert list(out["rank"]) == ["strongest"]


def test_the_report_draws_the_web_and_lists_the_paths(web, tmp_path):
    base, _ = web
    out = tmp_path / "report"
    with mocked():
        code = main(["report", str(base.path), "--out", str(out), "--no-plan", "--seed", "3",
                     "--draws", "40", "--tune", "0", "--chains", "2", "--extend", "0"])  # fmt: skip
    assert code == 0
    html = next(out.rglob("report.html")).read_text()
    md = next(out.rglob("report.md")).read_text()
    assert 'id="web"' in html and 'id="paths-table"' in html and "M1-&gt;M2-&gt;M3" in html
    assert "## Paths into the web's outcomes" in md
    # two kinds: the fit with context effects is kept beside the base, its section shown
    assert (base.path / ".cmoc" / "context-kind-fit.nc").is_file()
    assert 'id="for-whom"' in html and "## For whom, in what circumstances" in md


def test_a_link_without_a_testable_cmoc_shows_no_direction(tmp_path):
    d = _web_base(tmp_path / "b")
    toml = (d / "evidence.toml").read_text().split("[recording]")[0]
    (d / "evidence.toml").write_text(toml)  # refutes not recorded: nothing testable
    base = load_evidence(d)
    with mocked():
        idata = fit(base, sampler=SamplerConfig(seed=3, chains=2, draws=30, tune=0, extend=0))
    s = summarize(idata, base)
    links = s[s["target_type"] == "link"]
    assert len(links) == 2 and not links["direction_testable"].any()
    for col in ("direction_mean", "direction_lo", "direction_hi", "support_mean", "p_supported"):
        assert links[col].isna().all(), col
