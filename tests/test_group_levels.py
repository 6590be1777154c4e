"""Model v1's group levels: which groups get effects, their prior, and a fit of singleton groups.

docs/model.md, "Weights, mechanism-level codings, group levels".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from cmoc.evidence import load_evidence
from cmoc.models import ModelConfig, build_model, model_data
from conftest import IOC, write_base

CODED = "source_id,target_id,stance,count\n"


def _base(tmp_path, rows: list[tuple[str, str, str | None]], uncoded: tuple[str, ...] = ()):
    """A one-CMOC base: ``rows`` are ``(source_id, kind, group)``; every source not in
    ``uncoded`` has 2 supporting codes of its own."""
    sources = "source_id,kind,wave,group\n" + "".join(f"{s},{k},w1,{g or ''}\n" for s, k, g in rows)
    codings = CODED + "".join(f"{s},C1,supports,2\n" for s, _, _ in rows if s not in uncoded)
    return load_evidence(write_base(tmp_path / "b", sources, codings))


def _issue_layout(tmp_path):
    """Reviews each their own group, interviews in two groups of three, one interview alone
    and one group whose second source has no codes of its own."""
    rows = [(f"R{i}", "review", f"rev/R{i}") for i in range(1, 5)]
    rows += [(f"I{i}", "interview", "int/A") for i in (1, 2, 3)]
    rows += [(f"I{i}", "interview", "int/B") for i in (4, 5, 6)]
    rows += [("I7", "interview", "int/C"), ("I8", "interview", "int/D")]
    rows += [("I9", "interview", "int/D"), ("R5", "review", None)]
    return _base(tmp_path, rows, uncoded=("I9",))


def test_groups_of_one_coded_source_carry_no_effect(tmp_path):
    """A group is modelled only with two or more sources of non-zero codes of their own: a
    group of one is that source, whose talkativeness is integrated out."""
    base = _issue_layout(tmp_path)
    d = model_data(base)
    assert d.group_levels == [1]  # level 0 (rev, int) repeats the kinds
    assert d.groups == ["int/A", "int/B"]
    by_source = dict(zip(d.sources, d.src_groups[:, 0], strict=True))
    assert {s for s, g in by_source.items() if g >= 0} == {f"I{i}" for i in range(1, 7)}
    assert [d.groups[by_source[s]] for s in ("I1", "I4")] == ["int/A", "int/B"]
    model = build_model(base)
    assert list(model.coords["group"]) == ["int/A", "int/B"]
    # "all" still models every level and every group
    every = model_data(base, group_effects="all")
    assert every.group_levels == [0, 1] and len(every.groups) == 2 + 8
    assert model_data(base, group_effects="none").groups == []


def test_a_level_needs_two_groups_with_effects(tmp_path):
    rows = [(f"R{i}", "review", f"rev/R{i}") for i in range(1, 5)]
    rows += [(f"I{i}", "interview", "int/A") for i in (1, 2, 3)]
    rows += [("I4", "interview", "int/B")]
    d = model_data(_base(tmp_path, rows))
    assert d.groups == [] and d.group_levels == []


def test_groups_with_effects_that_repeat_the_kinds_are_no_level(tmp_path):
    """Two groups of two or more, one per kind, among singletons: their effects would be the
    kinds' rates again (the level is centred), so the level has none."""
    rows = [(f"R{i}", "review", f"own {i}") for i in range(1, 5)]
    rows += [("R5", "review", "rev pair"), ("R6", "review", "rev pair")]
    rows += [(f"I{i}", "interview", "int") for i in (1, 2, 3)]
    d = model_data(_base(tmp_path, rows))
    assert d.groups == []
    # with an interview in the pair the groups are no longer the kinds
    rows[4] = ("R5", "interview", "rev pair")
    d = model_data(_base(tmp_path / "mixed", rows))
    assert d.groups == ["int", "rev pair"]


def test_ioc_has_no_group_effects():
    """The IOC interviews are known through totals only: no group has codes of its own."""
    d = model_data(load_evidence(IOC))
    assert d.groups == [] and d.group_levels == []


def _two_levels(tmp_path):
    """Three sites of two teams, each team a review and an interview; a third team of one."""
    rows = []
    for site in "ABC":
        for team in (1, 2):
            rows += [(f"{site}{team}r", "review", f"{site}/{team}")]
            rows += [(f"{site}{team}i", "interview", f"{site}/{team}")]
    rows += [("A3r", "review", "A/3")]
    return _base(tmp_path, rows)


def _plain_group_effects(levels: list[int], rng, n: int, scale: float = 0.5):
    """Numpy draws of the plain form: sigma_l ~ HalfNormal, gamma = sigma_l (z - mean_l z)."""
    out = []
    for size in levels:
        sigma = np.abs(rng.normal(0.0, scale, (n, 1)))
        z = rng.normal(0.0, 1.0, (n, size))
        out.append(sigma * (z - z.mean(axis=1, keepdims=True)))
    return np.concatenate(out, axis=1)


def _ks_pvalues(model_draws, plain) -> list[float]:
    return [stats.ks_2samp(model_draws[:, g], plain[:, g]).pvalue for g in range(plain.shape[1])]


@pytest.mark.filterwarnings("ignore:The effect of Potentials:UserWarning")
def test_group_effects_have_the_plain_prior(tmp_path):
    """The zero-sum non-centred form (``sigma_l * ZeroSumNormal(1)`` per level) draws the
    effects of the plain form, ``sigma_l (z - mean of z at the level)`` with iid ``z``; and
    the same comparison fails with the scale wrong."""
    base = _two_levels(tmp_path)
    d = model_data(base)
    assert d.group_levels == [0, 1]
    assert d.groups == ["A", "B", "C", "A/1", "A/2", "B/1", "B/2", "C/1", "C/2"]
    model = build_model(base)
    assert {"z_group_level_1", "z_group_level_2"} <= {v.name for v in model.free_RVs}
    n = 4000
    with model:
        prior = pm.sample_prior_predictive(draws=n, var_names=["group_effect"], random_seed=5)
    drawn = prior.prior["group_effect"].to_numpy().reshape(n, -1)
    np.testing.assert_allclose(drawn[:, :3].sum(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(drawn[:, 3:].sum(axis=1), 0.0, atol=1e-9)
    rng = np.random.default_rng(6)
    assert min(_ks_pvalues(drawn, _plain_group_effects([3, 6], rng, n))) > 1e-3
    # the check can fail: with the scale 30% too small (p-values 1e-12 to 1e-7 over five
    # pairs of seeds); the centring is checked by the zero sums above
    assert min(_ks_pvalues(drawn, _plain_group_effects([3, 6], rng, n, scale=0.35))) < 1e-3


def _draw_issue_base(root, sources: int, cmocs: int, interview_groups: int = 6):
    """A base of exact cells drawn as the benchmarks draw theirs (``draw_base``), with every
    review its own group and the interviews spread over ``interview_groups`` groups."""
    import sys

    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_v2 import draw_base

    path = Path(draw_base(root, "b", sources, cmocs))
    src = pd.read_csv(path / "sources.csv", dtype=str, keep_default_na=False)
    interviews = (src["kind"] == "interview").cumsum() - 1
    src["group"] = [
        f"rev/R{s}" if k == "review" else f"int/G{i % interview_groups + 1}"
        for s, k, i in zip(src["source_id"], src["kind"], interviews, strict=True)
    ]
    src.to_csv(path / "sources.csv", index=False)
    lines = (path / "evidence.toml").read_text().splitlines()
    first_table = next(i for i, line in enumerate(lines) if line.startswith("["))
    lines.insert(first_table, 'group_levels = ["kind", "group"]')
    (path / "evidence.toml").write_text("\n".join(lines) + "\n")
    return load_evidence(path)


@pytest.mark.slow  # about 20 s of sampling (4 x 1,000 draws + 1,000 tuning) and a compile
def test_singleton_review_groups_pass_the_gate(tmp_path):
    """500 sources x 50 CMOCs, every review its own group, interviews in six groups, no true
    group effects (issue 15, deliverable 8).

    Before groups of one coded source lost their effect, the level held 250 singletons, whose
    effects trade with the sources' own talkativeness, and 6 interview groups: the gate failed
    at seed 2 with R-hat 1.057 and bulk ESS 59 (``group_effect``, ``group_sd``, ``kind_level``,
    ``kind_rate``, ``z_group``), and at seeds 1, 3, 20211 (R-hat 1.028, 1.012, 1.025; ESS 201,
    214, 153). After: R-hat 1.007, smallest bulk ESS 1548, no divergences at seed 2 (all four
    seeds pass). Smaller bases (400 x 40, 300 x 30) fail on the mechanism level with or
    without groups, so they cannot show this.
    """
    from cmoc.analyses import SamplerConfig, check_convergence, fit

    base = _draw_issue_base(tmp_path, 500, 50)
    d = model_data(base)
    assert d.groups == [f"int/G{i}" for i in range(1, 7)]
    gate = check_convergence(fit(base, ModelConfig(model="hierarchical"), SamplerConfig(seed=2)))
    assert gate.passed, gate.text
    assert gate.divergences == 0
