"""Links on a held-out base with planted patterns (issue 16, deliverable 5): each recovered.

The base is drawn here with numpy from the generative story of docs/model.md ("Model v2"),
independently of ``cmoc.models``: per source and mechanism an activation, per CMOC an
evidencing draw, ``1 + NB`` codes, a beta-binomial split; refutes recorded for both kinds.
Planted: a strong link (three broad, supported CMOCs), a weak link (one CMOC that few sources
evidence) and a link that the programme theory states with one sign (one prior CMOC, ``+``)
while three novel CMOCs, broad and supported, state the opposite. Every mechanism has CMOCs
of its own with codes: where one has none, or one coded CMOC, its activation is not identified
apart from its CMOCs' evidencing and the fit struggles (docs/model.md, "Links and paths").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import SamplerConfig, check_convergence, fit, summarize, theory_paths
from cmoc.evidence import link_table, load_evidence
from cmoc.models import ModelConfig

# cmoc: (mechanism, context, sign, origin, P(evidenced | active), P(a code supports))
PLANTED = {
    "S1": ("M2", "M1", "+", "prior", 0.6, 0.95),
    "S2": ("M2", "M1", "+", "prior", 0.6, 0.95),
    "S3": ("M2", "M1", "+", "prior", 0.6, 0.95),
    "W1": ("M2", "M3", "+", "prior", 0.02, 0.95),
    "O_prior": ("M4", "M1", "+", "prior", 0.1, 0.9),
    "O_a": ("M4", "M1", "-", "novel", 0.6, 0.95),
    "O_b": ("M4", "M1", "-", "novel", 0.6, 0.95),
    "O_c": ("M4", "M1", "-", "novel", 0.6, 0.95),
    "X1": ("M3", "context", "+", "prior", 0.5, 0.9),
    "X2": ("M3", "context", "-", "prior", 0.4, 0.85),
    "A1": ("M1", "context", "+", "prior", 0.5, 0.9),
    "A2": ("M1", "context", "+", "prior", 0.4, 0.85),
}
EXPECTED = {"M1->M2": "affirmed", "M3->M2": "inconclusive", "M1->M4": "refuted"}
# context dependence (issue 16, deliverable 5): K1 holds in reviews but not in interviews
# (P(a code supports) per kind; P(evidenced | active) may be per kind too)
CONTEXT_PLANTED = {"K1": ("M3", "context", "+", "prior", 0.5, {"review": 0.9, "interview": 0.2})}
# by group (sources of both kinds in two sites): G1 holds at site A but not at site B
SITES = ("site/A", "site/B")
GROUP_PLANTED = {"G1": ("M3", "context", "+", "prior", 0.5, {"site/A": 0.9, "site/B": 0.2})}
ACTIVE = {"M1": 0.7, "M2": 0.7, "M3": 0.6, "M4": 0.7}
SOURCES = {"review": 120, "interview": 60}


def draw_web_base(
    directory: Path, seed: int, planted: dict | None = None, groups: tuple[str, ...] = ()
) -> Path:
    """Write the planted base (``planted``, default :data:`PLANTED`) into ``directory``.

    A CMOC's ``P(evidenced | active)`` and ``P(a code supports)`` may be dicts by source kind,
    or by group: with ``groups``, the sources of each kind go to the groups in turn (column
    ``group``), and a dict's key may name a group (before its kind).
    """
    planted = PLANTED if planted is None else planted
    rng = np.random.default_rng(seed)
    rows, sources = [], []

    def at(value, kind, group):
        if not isinstance(value, dict):
            return value
        return value[group] if group in value else value[kind]

    for kind, n in SOURCES.items():
        for j in range(n):
            sid = f"{kind[0].upper()}{j + 1:03d}"
            group = groups[j % len(groups)] if groups else ""
            sources.append((sid, kind, "w1", group))
            active = {m: rng.random() < a for m, a in ACTIVE.items()}
            for cmoc, (mech, _ctx, _sign, _origin, b, p) in planted.items():
                if not (active[mech] and rng.random() < at(b, kind, group)):
                    continue
                p = at(p, kind, group)
                n_codes = 1 + rng.negative_binomial(2.0, 2.0 / (2.0 + 1.5))
                s = rng.binomial(n_codes, rng.beta(20 * p, 20 * (1 - p)))
                for stance, count in (("supports", s), ("refutes", n_codes - s)):
                    if count:
                        rows.append((sid, cmoc, stance, count))
    directory.mkdir(parents=True)
    (directory / "evidence.toml").write_text(
        'name = "web"\ntitle = "planted web"\ncitation = "test"\nformat = 1\nwaves = ["w1"]\n\n'
        '[recording]\nrefutes = { review = "recorded", interview = "recorded" }\n'
    )
    (directory / "mechanisms.csv").write_text(
        "mechanism_id,name,definition\n" + "".join(f"{m},{m.lower()},d\n" for m in ACTIVE)
    )
    (directory / "cmocs.csv").write_text(
        "cmoc_id,mechanism_id,context,outcome,sign,origin\n"
        + "".join(f"{c},{m},{ctx},o,{sg},{o}\n" for c, (m, ctx, sg, o, *_) in planted.items())
    )
    frame = pd.DataFrame(sources, columns=["source_id", "kind", "wave", "group"])
    frame[list(frame.columns) if groups else ["source_id", "kind", "wave"]].to_csv(
        directory / "sources.csv", index=False
    )
    pd.DataFrame(rows, columns=["source_id", "target_id", "stance", "count"]).to_csv(
        directory / "codings.csv", index=False
    )
    return directory


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_planted_links_are_recovered(tmp_path, seed):
    base = load_evidence(draw_web_base(tmp_path / "web", seed))
    table = link_table(base)
    assert (
        table.at["M1->M4", "sign"] == "+" and table.at["M1->M4", "cmocs_against"] == "O_a O_b O_c"
    )
    # the gate's advice taken up front: with four mechanisms the mechanism-level spreads are
    # barely identified, and at the defaults this base passes at 7 of 8 seeds (the open
    # robustness problem of small theories: docs/sampling.md, "Extension")
    sampler = SamplerConfig(seed=seed, tune=1000, target_accept=0.95)
    idata = fit(base, ModelConfig(model="measurement"), sampler)
    assert check_convergence(idata).passed, check_convergence(idata).text
    s = summarize(idata, base).set_index("target_id")
    links = s[s["target_type"] == "link"]
    assert set(links.index) == set(EXPECTED)
    for link, status in EXPECTED.items():
        assert links.at[link, "status"] == status, (link, links.loc[link].to_dict())
    # the strong link is broader than the weak one, and points the theory's way
    assert links.at["M1->M2", "breadth_lo"] > links.at["M3->M2", "breadth_hi"]
    assert links.at["M1->M2", "direction_lo"] > 0.8 > links.at["M1->M4", "direction_hi"] + 0.4
    paths = theory_paths(idata, base, "M3", "M2")
    assert list(paths["path"]) == ["M3->M2"] and not paths.at[0, "all_affirmed"]


def test_a_small_theorys_mechanism_directions_are_centred_and_its_targets_not(tmp_path):
    """Four mechanisms: their directions centred on their codes, the targets' non-centred.

    Whether or not the mechanisms' directions visibly differ (M4's CMOCs mostly refute, or
    every CMOC is supported 90%): centring only where they differed left seed 7 of this base
    with 94 divergences (docs/sampling.md, "Extension").
    """
    from cmoc.evidence.recording import refutes_recording
    from cmoc.models import build_measurement_model, measurement_data
    from cmoc.models.config import CENTER_MIN_CODES
    from cmoc.models.measurement import (
        _direction_centred,
        _direction_codes,
        _mechanism_directions_centred,
    )

    alike = {c: (*v[:5], 0.9) for c, v in PLANTED.items()}
    for name, planted in (("web", PLANTED), ("alike", alike)):
        base = load_evidence(draw_web_base(tmp_path / name, 3, planted))
        md = measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})
        assert (_direction_codes(md) >= CENTER_MIN_CODES).sum() >= 2  # pinned, were they centred
        assert _mechanism_directions_centred(md) and not _direction_centred(md).any()
        names = build_measurement_model(md).named_vars
        assert "data_support_mechanism_estimate" in names and "support_centred" not in names


def test_a_links_evidence_entry_counts_a_cmoc_against_it_as_refuting(tmp_path):
    """Issue 17, deliverable 3: O_a..O_c state M1 -> M4 with the opposite sign."""
    from cmoc.reports.trail import TRAIL_ROWS, evidence_trail

    base = load_evidence(draw_web_base(tmp_path / "web", 1))
    trail = {e.target_id: e for e in evidence_trail(base)}
    link = trail["M1->M4"]
    roles = {r["target"]: r["role"] for r in link.rows}
    assert roles["O_prior"] == "for" and roles["O_a"] == roles["O_b"] == "against"
    cod = base.codings
    against = cod["target_id"].isin(["O_a", "O_b", "O_c"])
    expected_refutes = int(cod.loc[against & (cod["stance"] == "supports"), "count_min"].sum())
    expected_refutes += int(
        cod.loc[(cod["target_id"] == "O_prior") & (cod["stance"] == "refutes"), "count_min"].sum()
    )
    expected_supports = int(
        cod.loc[(cod["target_id"] == "O_prior") & (cod["stance"] == "supports"), "count_min"].sum()
    )
    assert link.refutes == str(expected_refutes) and link.supports == str(expected_supports)
    # per source: one row per source with a code that bears on the link (an against-CMOC's
    # refuting codes deny the opposite effect, not this one: they count neither way)
    bears = (cod["target_id"] == "O_prior") | (against & (cod["stance"] == "supports"))
    assert link.n_sources == cod.loc[bears, "source_id"].nunique()
    assert len(link.per_source) == min(link.n_sources, TRAIL_ROWS)  # the rest counted
