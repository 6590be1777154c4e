"""Context dependence by group level (issue 16, deliverable 3): ``context="group:N"``.

The likelihood by class (kind, group) is checked against the default model's likelihood of
each group's sources alone, with that group's evidencing and direction: exact cells and totals
of both kinds; a base whose totals span groups is refused with the rows named; the estimates,
the command line and its refusals are wired on mocked draws. The planted recovery is in
``test_context_planted.py`` (slow).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest

from cmoc.analyses import (
    CONTEXT_COLUMNS,
    context_estimates,
    context_fit_path,
    fit,
    group_contexts,
    report_group_levels,
)
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.evidence.recording import refutes_recording
from cmoc.models import (
    ModelConfig,
    NotIdentified,
    build_measurement_model,
    context_classes,
    measurement_data,
)
from cmoc.models import measurement as mm
from conftest import IOC, mocked, mocked_report, tiny_sampler
from test_links_planted import PLANTED, draw_web_base

GROUPS = ("A", "B", "C")


def grouped_web_base(directory: Path, seed: int, planted: dict | None = None) -> Path:
    """The planted web base with its sources in three sites (``site/A`` ...), at level 2.

    Site C's review papers are published as totals per target (one row per target and stance
    over the site's review sources), so that the base has totals within a group too.
    """
    base_dir = draw_web_base(directory, seed, planted)
    src = pd.read_csv(base_dir / "sources.csv")
    src["group"] = [f"site/{GROUPS[i % 3]}" for i in range(len(src))]
    src.to_csv(base_dir / "sources.csv", index=False)
    cod = pd.read_csv(base_dir / "codings.csv")
    in_c = cod["source_id"].map(dict(zip(src["source_id"], src["group"], strict=True)))
    kind = cod["source_id"].map(dict(zip(src["source_id"], src["kind"], strict=True)))
    pooled = (in_c == "site/C") & (kind == "review")
    totals = cod[pooled].groupby(["target_id", "stance"], as_index=False)["count"].sum()
    totals.insert(0, "source_id", "site/C")
    pd.concat([cod[~pooled], totals]).to_csv(base_dir / "codings.csv", index=False)
    # a total over site C covers its interviews too: make them a kind of their own there
    src.loc[(src["group"] == "site/C") & (src["kind"] == "interview"), "group"] = "site/D"
    src.to_csv(base_dir / "sources.csv", index=False)
    return base_dir


def _recording(base):
    return {k: r.refutes for k, r in refutes_recording(base).items()}


def _params(n_t, n_k, n_m, rng):
    return {
        "logit_a": rng.normal(0, 1, (n_m, n_k)),
        "logit_b": rng.normal(-1, 0.5, n_t),
        "logit_p": rng.normal(0.5, 1, (n_t, n_k)),
        "rho": rng.normal(-1, 0.3, n_k),
        "lam": rng.normal(0, 0.3, n_t),
    }


def _likelihood(md, x, logit_b, logit_p):
    """The default model's potentials at per-kind parameters ``x`` (numbers)."""
    p = {
        "logit_a": pt.as_tensor(x["logit_a"]),
        "log_b": mm._log_sigmoid(pt.as_tensor(logit_b)),
        "log1m_b": mm._log_sigmoid(-pt.as_tensor(logit_b)),
        "rho": pt.as_tensor(x["rho"]),
        "lam": pt.as_tensor(x["lam"]),
        "phi": pt.as_tensor(2.0),
        "q": pm.math.sigmoid(pt.as_tensor(logit_p)),
        "c": pt.as_tensor(20.0),
    }
    out = mm._exact_logp(md, p)
    if md.block_label:
        out = out + mm._blocks_logp(md, p)
    return out.eval()


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    return load_evidence(grouped_web_base(tmp_path_factory.mktemp("grp") / "web", 3, PLANTED))


def test_likelihood_by_class_is_each_groups_own(grouped, tmp_path):
    rec = _recording(grouped)
    cc = context_classes(grouped, rec, 2)
    assert cc.contexts == ["site/A", "site/B", "site/C", "site/D"]
    assert cc.md.block_label  # site C's review totals
    md = measurement_data(grouped, rec)
    d = md.data
    n_t, n_k, n_m, n_g = len(d.targets), len(d.kinds), len(d.mechanisms), len(cc.contexts)
    rng = np.random.default_rng(7)
    x = _params(n_t, n_k, n_m, rng)
    dev_b, dev_p = rng.normal(0, 0.7, (n_t, n_g)), rng.normal(0, 0.7, (n_t, n_g))
    psi = np.ones(n_k)
    with pm.Model():
        p = {k: pt.as_tensor(v) for k, v in x.items() if k not in ("logit_b", "logit_p")}
        p |= {"phi": pt.as_tensor(2.0), "c": pt.as_tensor(20.0)}
        p_c = mm.class_params(cc, p, x["logit_b"], x["logit_p"], psi, dev_b, dev_p)
        total = (mm._exact_logp(cc.md, p_c) + mm._blocks_logp(cc.md, p_c)).eval()
    # each group's sources alone, as a base of their own, with that group's deviations
    by_group = 0.0
    src = grouped.sources.reset_index()
    for g, label in enumerate(cc.contexts):
        mine = src[src["group"] == label]
        sub = grouped.path / ".." / f"only-{g}"
        shutil.copytree(grouped.path, sub, ignore=shutil.ignore_patterns(".cmoc"))
        mine[["source_id", "kind", "wave", "group"]].to_csv(sub / "sources.csv", index=False)
        raw = pd.read_csv(grouped.path / "codings.csv")
        raw[raw["source_id"].isin([*mine["source_id"], label])].to_csv(
            sub / "codings.csv", index=False
        )
        md_g = measurement_data(load_evidence(sub), rec)
        assert md_g.data.targets == d.targets
        ks = [d.kinds.index(k) for k in md_g.data.kinds]  # a site may hold one kind
        x_g = {**x, "logit_a": x["logit_a"][:, ks], "rho": x["rho"][ks]}
        with pm.Model():
            by_group += _likelihood(
                md_g, x_g, x["logit_b"] + dev_b[:, g], x["logit_p"][:, ks] + dev_p[:, g][:, None]
            )
    np.testing.assert_allclose(total, by_group, rtol=1e-9)
    # and the deviations matter: without them, another value
    with pm.Model():
        flat = mm.class_params(cc, p, x["logit_b"], x["logit_p"], psi, 0 * dev_b, 0 * dev_p)
        moved = (mm._exact_logp(cc.md, flat) + mm._blocks_logp(cc.md, flat)).eval()
    assert not np.isclose(moved, total)


def test_zero_group_deviations_give_the_default_models_likelihood(tmp_path):
    base = load_evidence(draw_web_base(tmp_path / "web", 3, PLANTED))
    src = base.path / "sources.csv"
    frame = pd.read_csv(src)
    frame["group"] = [f"site/{GROUPS[i % 2]}" for i in range(len(frame))]
    frame.to_csv(src, index=False)
    base = load_evidence(base.path)
    rec = _recording(base)
    plain = build_measurement_model(base, rec)
    ctx = build_measurement_model(base, rec, context="group:2")
    assert ctx.coords["context"] == ("site/A", "site/B")
    point = plain.initial_point()
    extra = {k: np.zeros_like(v) for k, v in ctx.initial_point().items() if k not in point}
    assert {"context_common_breadth_zerosum__", "z_context_breadth_zerosum__"} <= set(extra)
    for name in ("exact_codes", "breadth", "direction_kind"):
        (graph,) = plain.replace_rvs_by_values([plain[name]])
        a = plain.compile_fn(graph, inputs=plain.value_vars, on_unused_input="ignore")(point)
        (graph,) = ctx.replace_rvs_by_values([ctx[name]])
        f = ctx.compile_fn(graph, inputs=ctx.value_vars, on_unused_input="ignore")
        np.testing.assert_allclose(a, f({**point, **extra}), rtol=1e-12, err_msg=name)


def test_totals_over_several_groups_are_refused_by_name():
    base = load_evidence(IOC)
    with pytest.raises(NotIdentified, match=r"codings.csv:\d+.* totals over the sources of"):
        context_classes(base, _recording(base), 1)
    with pytest.raises(ValueError, match="context must be one of"):
        build_measurement_model(base, context="group:0")
    assert ModelConfig(context="group:2").context == "group:2"
    with pytest.raises(ValueError):
        ModelConfig(context="group")


def test_one_group_only_is_refused(tmp_path):
    base = load_evidence(draw_web_base(tmp_path / "web", 3, PLANTED))
    with pytest.raises(NotIdentified, match="at least two groups"):
        context_classes(base, _recording(base), 1)


def test_estimates_by_group_show_what_the_data_identify(grouped):
    with mocked():
        idata = fit(grouped, ModelConfig(context="group:2"), tiny_sampler())
    frame = context_estimates(idata, grouped)
    assert list(frame.columns) == CONTEXT_COLUMNS
    assert set(frame["context_by"]) == {"group level 2"}
    assert set(frame["context"]) == {"site/A", "site/B", "site/C", "site/D"}
    assert set(frame["target_type"]) == {"cmoc", "mechanism", "link"}
    rows = frame.set_index(["target_id", "context"])
    assert rows.loc[("S1", "site/A"), "sources"] > 0
    assert rows.loc[("S1", "site/A"), "direction_identified"]
    assert rows.loc["S1"]["p_differs_breadth"].between(0, 1).all()
    cmocs = frame[frame["target_type"] == "cmoc"]
    assert cmocs["breadth_mean"].between(0, 1).all()


def test_summary_by_group_level(tmp_path, capsys):
    base_dir = grouped_web_base(tmp_path / "web", 3, PLANTED)
    with mocked():
        args = ["summary", str(base_dir), "--by", "group-level", "--level", "2", "--format", "csv"]
        assert main(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split(",") == CONTEXT_COLUMNS
    assert context_fit_path(base_dir, "group:2").is_file()
    ioc = tmp_path / "ioc"
    shutil.copytree(IOC, ioc, ignore=shutil.ignore_patterns(".cmoc"))
    assert main(["summary", str(ioc), "--by", "group-level"]) == 2
    err = capsys.readouterr().err
    assert "not identified" in err and "codings.csv:" in err
    assert not context_fit_path(ioc, "group:1").exists()


def test_the_report_compares_the_groups_of_an_identified_level(tmp_path):
    base_dir = draw_web_base(tmp_path / "web", 3, PLANTED, ("site/A", "site/B"))
    out = tmp_path / "report"
    mocked_report(base_dir, out)
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert 'id="for-whom-group-2"' in html and 'id="context-table-group-2"' in html
    assert "<th>breadth, site/A</th>" in html and "P(beyond the groups" in html
    assert "### By level 2 (group level 2)" in md and "| breadth, site/A |" in md
    # level 1 has one group ("site"): said, not compared
    assert "level 1 (1 group): cannot be compared, one group only" in md
    assert context_fit_path(base_dir, "group:2").is_file()
    assert not context_fit_path(base_dir, "group:1").exists()


def test_group_contexts_of_ioc_say_why_not():
    table = group_contexts(load_evidence(IOC))
    assert list(table["level"]) == [1, 2, 3] and not table["identified"].any()
    assert table["reason"].str.startswith("36 totals are over the sources of several").all()
    assert report_group_levels(load_evidence(IOC)) == []
