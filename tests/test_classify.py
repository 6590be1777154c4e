"""Statuses after a later wave: a simulated base with planted affirmed, refuted, novel and
revised CMOCs is classified as planted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import SamplerConfig, check_convergence, classify, fit, summarize
from cmoc.evidence import load_evidence
from cmoc.models import V1_CONFIG

# cmoc_id, mechanism, origin, revises, true support, waves coded in
PLANTED = [
    ("C1", "M1", "prior", "", 0.92, ("w1", "w2")),  # affirmed
    ("C2", "M2", "prior", "", 0.08, ("w1", "w2")),  # refuted
    ("C3", "M1", "prior", "", 0.80, ("w1", "w2")),  # revised: C4 refines it
    ("C4", "M1", "novel", "C3", 0.93, ("w2",)),  # novel, first coded in w2
    ("C5", "M2", "prior", "", 0.50, ("w1", "w2")),  # inconclusive
]
EXPECTED = {"C1": "affirmed", "C2": "refuted", "C3": "revised", "C4": "novel", "C5": "inconclusive"}


pytestmark = pytest.mark.slow  # a planted base fitted with 4 x 1,000 real draws


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    rng = np.random.default_rng(42)
    d = tmp_path_factory.mktemp("planted")
    (d / "evidence.toml").write_text(
        'name = "planted"\ntitle = "planted statuses"\ncitation = "test"\nformat = 1\n'
        'waves = ["w1", "w2"]\n'
    )
    (d / "mechanisms.csv").write_text("mechanism_id,name,definition\nM1,a,a\nM2,b,b\n")
    cmocs = pd.DataFrame(
        [
            {
                "cmoc_id": c,
                "mechanism_id": m,
                "context": "c",
                "outcome": "o",
                "sign": "+",
                "origin": o,
                "revises": r,
            }
            for c, m, o, r, _, _ in PLANTED
        ]
    )
    cmocs.to_csv(d / "cmocs.csv", index=False)
    sources = [(f"R{i:02d}", "review", "w1") for i in range(30)]
    sources += [(f"I{i:02d}", "interview", "w2") for i in range(30)]
    pd.DataFrame(sources, columns=["source_id", "kind", "wave"]).to_csv(
        d / "sources.csv", index=False
    )
    rows = []
    for sid, _, wave in sources:
        for c, _, _, _, p, waves in PLANTED:
            if wave not in waves:
                continue
            n = rng.poisson(1.5)
            s = rng.binomial(n, p)
            if s:
                rows.append((sid, c, "supports", s))
            if n - s:
                rows.append((sid, c, "refutes", n - s))
    pd.DataFrame(rows, columns=["source_id", "target_id", "stance", "count"]).to_csv(
        d / "codings.csv", index=False
    )
    base = load_evidence(d)
    # two mechanisms: their spread is barely identified, and at the default target_accept of
    # 0.9 this base gives one divergent transition in 4000; smaller steps remove it
    sampler = SamplerConfig(seed=11, chains=4, draws=1000, tune=1000, target_accept=0.95)
    idata = fit(base, V1_CONFIG, sampler)
    return base, idata


def test_planted_statuses_are_found(planted):
    base, idata = planted
    assert check_convergence(idata).passed
    s = summarize(idata, base).set_index("target_id")
    assert s.loc[list(EXPECTED), "status"].to_dict() == EXPECTED


def test_review_alone_has_no_novel_and_no_revision(planted):
    """After wave 1 the novel CMOC is not yet in the theory, so nothing is revised yet."""
    base, _ = planted
    early = base.up_to("w1")
    assert "C4" not in early.cmocs.index
    p = pd.Series({"C1": 0.99, "C2": 0.01, "C3": 0.95, "C5": 0.5, "M1": 0.95, "M2": 0.3})
    status = classify(early, p)
    assert status.to_dict() == {
        "C1": "affirmed",
        "C2": "refuted",
        "C3": "affirmed",
        "C5": "inconclusive",
        "M1": "affirmed",
        "M2": "inconclusive",
    }


def test_classification_thresholds_come_from_evidence_toml(planted, tmp_path):
    base, _ = planted
    strict = base.config.model_copy(
        update={"classification": base.config.classification.model_copy(update={"affirm": 0.99})}
    )
    from dataclasses import replace

    p = pd.Series({"C1": 0.95, "C2": 0.2, "C3": 0.5, "C4": 0.97, "C5": 0.5, "M1": 0.5, "M2": 0.5})
    assert classify(base, p)["C1"] == "affirmed"
    assert classify(replace(base, config=strict), p)["C1"] == "inconclusive"
