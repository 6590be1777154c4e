"""Model comparison by PSIS-LOO, and the `cmoc check` command."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from cmoc.analyses import SamplerConfig, compare_models
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.models import V1_CONFIG
from conftest import write_base

pytestmark = pytest.mark.slow  # real fits of three model variants: statistics

SAMPLER = SamplerConfig(seed=2, chains=2, draws=300, tune=300, extend=0)


@pytest.fixture(scope="module")
def opposite(tmp_path_factory):
    """Two CMOCs of one mechanism that the sources judge in opposite ways."""
    ids = [f"S{i}" for i in range(1, 11)]
    sources = "source_id,kind,wave\n" + "".join(f"{s},interview,w1\n" for s in ids)
    rows = []
    for i, s in enumerate(ids):
        rows += [f"{s},C1,supports,{3 + i % 2}", f"{s},C2,refutes,{3 + (i + 1) % 2}"]
    rows += ["S1,C1,refutes,1", "S2,C2,supports,1"]
    codings = "source_id,target_id,stance,count\n" + "\n".join(rows) + "\n"
    root = tmp_path_factory.mktemp("compare") / "base"
    write_base(root, sources, codings, cmocs="C1,M1,c,o,+,prior\nC2,M1,c,o,+,prior\n")
    return root


def test_complete_pooling_loses_when_cmocs_differ(opposite):
    result = compare_models(opposite, load_evidence(opposite), V1_CONFIG, sampler=SAMPLER)
    table = result.table.set_index("model")
    assert set(table.index) == {"hierarchical", "no pooling", "complete pooling"}
    # one support for a CMOC borne out and one refuted cannot predict either
    assert table.loc["complete pooling", "rank"] == 2
    assert table.loc["complete pooling", "elpd_diff"] < -4
    assert "complete pooling is clearly worse" in result.text
    # variants are saved beside the fit and reused
    assert (opposite / ".cmoc" / "fit-model-none.nc").is_file()
    assert (opposite / ".cmoc" / "fit-model-complete.nc").is_file()


def test_saved_comparison_is_reused_only_for_the_same_fits(opposite):
    from cmoc.analyses import fit_id, load_fit

    evidence = load_evidence(opposite)
    first = compare_models(opposite, evidence, V1_CONFIG, sampler=SAMPLER)
    saved = opposite / ".cmoc" / "comparison.json"
    assert saved.is_file()
    fits = [
        opposite / ".cmoc" / n for n in ("fit.nc", "fit-model-none.nc", "fit-model-complete.nc")
    ]
    assert first.settings.fit_ids == tuple(fit_id(load_fit(p)) for p in fits)
    messages = []
    again = compare_models(opposite, evidence, V1_CONFIG, sampler=SAMPLER, say=messages.append)
    assert any("comparison: reused" in m for m in messages), messages
    pd.testing.assert_frame_equal(again.table, first.table)
    assert again.text == first.text and again.passed == first.passed
    # made from other fits (a stale id): compared again, not reused
    doc = saved.read_text().replace(first.settings.fit_ids[0], "0" * 64)
    saved.write_text(doc)
    messages.clear()
    third = compare_models(opposite, evidence, V1_CONFIG, sampler=SAMPLER, say=messages.append)
    assert not any("comparison: reused" in m for m in messages), messages
    assert third.settings.fit_ids == first.settings.fit_ids


def test_check_command(opposite, capsys):
    args = ["--seed", "2", "--chains", "2", "--draws", "300", "--tune", "300"]
    assert main(["check", str(opposite), "--ppc", "--format", "csv", *args]) == 0
    ppc = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert {"unit", "observed", "p_value", "surprising"} <= set(ppc.columns)
    assert main(["check", str(opposite), "--sensitivity", "--format", "csv", *args]) == 0
    sens = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(sens["target_id"]) == {"C1", "C2", "M1"}
    assert main(["check", str(opposite), *args]) == 0
    out = capsys.readouterr().out
    assert "Posterior predictive check" in out and "Prior sensitivity" in out
    assert "moved each target most" in out
    assert main(["check", str(opposite), "--ppc", "--influence", "--format", "csv"]) == 2
    assert "one table" in capsys.readouterr().err
