"""Context dependence (issue 16, deliverable 3): model v2 with per-(target, kind) deviations.

The likelihood with evidencing per kind is checked against itself one kind at a time (each
block, pair class and cell belongs to one kind, so its term must be the default model's term
with that kind's evidencing); the model with zero deviations is the default model; the
estimates per kind, the command line and the report are wired on tiny or mocked draws. The
planted recovery is in ``test_context_planted.py`` (slow).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

from cmoc.analyses import (
    CONTEXT_COLUMNS,
    ContextError,
    context_estimates,
    context_fit_path,
    fit,
    is_context_fit,
)
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.evidence.recording import refutes_recording
from cmoc.models import ModelConfig, build_measurement_model, measurement_data
from cmoc.models import measurement as mm
from conftest import IOC, mocked, mocked_report, tiny_sampler
from test_links_planted import PLANTED, draw_web_base


def _md(base):
    return measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})


def _params(md, rng, log_b):
    """A point of the likelihood's parameters (``log_b`` given), as tensors."""
    d = md.data
    n_t, n_k, n_m = len(d.targets), len(d.kinds), len(d.mechanisms)
    q = rng.uniform(0.2, 0.9, (n_t, n_k))
    return {
        "logit_a": pt.as_tensor(rng.normal(0, 1, (n_m, n_k))),
        "log_b": pt.as_tensor(log_b),
        "log1m_b": pt.as_tensor(np.log1p(-np.exp(log_b))),
        "rho": pt.as_tensor(rng.normal(-1, 0.3, n_k)),
        "lam": pt.as_tensor(rng.normal(0, 0.3, n_t)),
        "phi": pt.as_tensor(2.0),
        "q": pt.as_tensor(q),
        "c": pt.as_tensor(20.0),
    }


def _at(model, name):
    """``name``'s value as a function of a point of the model's value variables."""
    (graph,) = model.replace_rvs_by_values([model[name]])
    return model.compile_fn(graph, inputs=model.value_vars, on_unused_input="ignore")


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The planted web base: exact cells of two kinds, refutes recorded in both."""
    return load_evidence(draw_web_base(tmp_path_factory.mktemp("ctx") / "web", 3, PLANTED))


def test_blocks_with_evidencing_per_kind_are_each_kinds_own():
    md = _md(load_evidence(IOC))  # totals and bands of two kinds
    rng = np.random.default_rng(1)
    n_t, n_k = len(md.data.targets), len(md.data.kinds)
    log_b = np.log(rng.uniform(0.05, 0.6, (n_t, n_k)))
    with pm.Model():
        both = mm._blocks_loglik(md, _params(md, np.random.default_rng(2), log_b)).eval()
        for k in range(n_k):
            one = mm._blocks_loglik(md, _params(md, np.random.default_rng(2), log_b[:, k])).eval()
            mine = md.block_kind == k
            assert mine.any()
            np.testing.assert_allclose(both[mine], one[mine], rtol=1e-10)
    # the kinds' evidencing differs, so the per-kind form is not one kind's for all blocks
    assert not np.allclose(both, one)


def test_exact_cells_with_evidencing_per_kind_agree_term_by_term(web):
    md = _md(web)
    rng = np.random.default_rng(4)
    n_t, n_k = len(md.data.targets), len(md.data.kinds)
    log_b = np.log(rng.uniform(0.05, 0.6, (n_t, n_k)))

    def terms(lb):
        with pm.Model():
            p = _params(md, np.random.default_rng(5), lb)
            t = mm._exact_terms(md, p)
            return t.pair.eval(), t.cell.eval(), mm._exact_sum(t, p).eval()

    with pm.Model():
        # the sufficient statistics (what sampling uses) against the sum of the cells' terms
        by_stats = mm._exact_logp(md, _params(md, np.random.default_rng(5), log_b)).eval()
    pair, cell, by_terms = terms(log_b)
    np.testing.assert_allclose(by_stats, by_terms, rtol=1e-10)
    # each pair class and cell is its kind's term of the default form
    cell_kind = mm._cell_classes(md)[1]
    for k in range(n_k):
        pair_k, cell_k, _ = terms(log_b[:, k])
        mine = md.pair_kind == k
        assert mine.any() and (cell_kind == k).any()
        np.testing.assert_allclose(pair[mine], pair_k[mine], rtol=1e-10)
        np.testing.assert_allclose(cell[cell_kind == k], cell_k[cell_kind == k], rtol=1e-10)


def test_zero_deviations_give_the_default_models_likelihood(web):
    md = _md(web)
    plain = build_measurement_model(md)
    ctx = build_measurement_model(md, context="kind")
    point = plain.initial_point()
    extra = {
        name: np.zeros_like(value)
        for name, value in ctx.initial_point().items()
        if name not in point
    }
    assert {"z_context_breadth_zerosum__", "z_context_direction_zerosum__"} <= set(extra)
    for name in ("exact_codes", "breadth", "direction_kind"):
        a = _at(plain, name)(point)
        b = _at(ctx, name)({**point, **extra})
        np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=name)
    # the breadths of two kinds are in one ratio for every target of a mechanism (a_mk / a_mk')
    # without deviations, and not with them
    f = _at(ctx, "breadth")
    mine = md.data.target_mech == 0
    flat = f({**point, **extra})
    assert np.allclose(flat[mine, 0] / flat[mine, 1], flat[mine, 0][0] / flat[mine, 1][0])
    moved = {**point, **extra}
    shape = extra["z_context_breadth_zerosum__"].shape
    moved["z_context_breadth_zerosum__"] = np.random.default_rng(0).normal(0, 1, shape)
    tilted = f(moved)
    ratio = tilted[mine, 0] / tilted[mine, 1]
    assert not np.allclose(ratio, ratio[0])


def test_context_setting_keeps_the_default_models_id():
    plain = ModelConfig()
    assert "context" not in json.loads(plain.to_json())
    ctx = plain.merged({"context": "kind"})
    assert ctx.id != plain.id and json.loads(ctx.to_json())["context"] == "kind"
    assert ModelConfig.from_json(ctx.to_json()) == ctx
    assert ModelConfig.from_json(plain.to_json()).context == "none"
    with pytest.raises(ValueError, match="setting of model v2"):
        ModelConfig(model="hierarchical", context="kind")
    assert any("sigma_B" in what for what, _ in ctx.describe_priors())
    assert not any("sigma_B" in what for what, _ in plain.describe_priors())


@pytest.fixture(scope="module")
def ioc_context_fit():
    base = load_evidence(IOC)
    with mocked():
        return base, fit(base, ModelConfig(context="kind"), tiny_sampler())


def test_context_estimates_show_only_what_the_data_identify(ioc_context_fit):
    base, idata = ioc_context_fit
    assert is_context_fit(idata)
    frame = context_estimates(idata, base)
    assert list(frame.columns) == CONTEXT_COLUMNS
    kinds = sorted(set(base.sources["kind"]))
    assert set(frame["context"]) == set(kinds)
    assert set(frame["target_type"]) == {"cmoc", "mechanism", "link"}
    assert len(frame) == len(frame[["target_type", "target_id"]].drop_duplicates()) * len(kinds)
    rows = frame.set_index(["target_id", "context"])
    # P3-R01 was coded against the interviews only: no review estimate, no comparison
    r01 = rows.loc["P3-R01"]
    assert r01.at["review", "sources"] == 0 and np.isnan(r01.at["review", "breadth_mean"])
    assert r01.at["review", "note"] == "no sources of this kind"
    assert r01["p_differs_breadth"].isna().all() and not r01["depends_on_context"].any()
    # IOC's refutes: not recorded (review), partly (interviews): no direction per kind
    assert frame["direction_mean"].isna().all() and not frame["direction_identified"].any()
    assert (rows.loc[("P1-01", "review"), "note"]) == "not tested: refutes not recorded"
    both = frame[frame["sources"] > 0].groupby("target_id")["context"].nunique() == 2
    p = frame.groupby("target_id")["p_differs_breadth"].first()
    assert p[both[both].index].between(0, 1).all()


def test_a_fit_without_context_effects_is_refused(small_fit, small_base):
    with pytest.raises(ContextError, match='context = "kind"'):
        context_estimates(small_fit, small_base)


def test_summary_by_kind_fits_beside_the_base_and_reuses(tmp_path, capsys):
    base_dir = tmp_path / "ioc"
    shutil.copytree(IOC, base_dir, ignore=shutil.ignore_patterns(".cmoc"))
    with mocked():
        assert main(["summary", str(base_dir), "--by", "kind", "--format", "csv"]) == 0
    first = capsys.readouterr()
    assert context_fit_path(base_dir).is_file()
    assert "fitted (no saved fit)" in first.err
    assert first.out.splitlines()[0].split(",") == CONTEXT_COLUMNS
    with mocked():
        args = ["summary", str(base_dir), "--by", "kind", "--links", "--format", "json"]
        assert main(args) == 0
    again = capsys.readouterr()
    assert "reused the saved fit" in again.err
    doc = json.loads(again.out)
    assert doc["by"] == "kind" and {r["target_type"] for r in doc["rows"]} == {"link"}


def test_summary_by_kind_needs_two_kinds(tmp_path, tiny_base, capsys):
    base_dir = tmp_path / "one"
    shutil.copytree(tiny_base.path, base_dir, ignore=shutil.ignore_patterns(".cmoc"))
    src = base_dir / "sources.csv"
    lines = src.read_text().splitlines()
    col = lines[0].split(",").index("kind")
    rows = [line.split(",") for line in lines[1:]]
    for r in rows:
        r[col] = "review"
    src.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")
    assert main(["summary", str(base_dir), "--by", "kind"]) == 2
    assert "sources of one kind only" in capsys.readouterr().err
    assert not context_fit_path(base_dir).exists()


def test_the_report_can_leave_the_context_fit_out(tmp_path, capsys):
    base_dir = draw_web_base(tmp_path / "web", 3, PLANTED)
    out = tmp_path / "report"
    mocked_report(base_dir, out, "--no-context")
    html = (out / "report.html").read_text()
    assert 'id="for-whom"' not in html and "## For whom" not in (out / "report.md").read_text()
    assert not context_fit_path(base_dir).exists()


def test_three_kinds_one_not_recording_refutes(tmp_path):
    """Direction deviates between the two kinds that record refutes; the third shows breadth."""
    base_dir = draw_web_base(tmp_path / "web", 3, PLANTED)
    src = base_dir / "sources.csv"
    lines = src.read_text().splitlines()
    # every third interview becomes a survey, whose refutes are not recorded
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        sid, kind, wave = line.split(",")
        out.append(f"{sid},{'survey' if kind == 'interview' and i % 3 == 0 else kind},{wave}")
    src.write_text("\n".join(out) + "\n")
    toml = base_dir / "evidence.toml"
    toml.write_text(
        toml.read_text().replace(
            'interview = "recorded" }', 'interview = "recorded", survey = "not recorded" }'
        )
    )
    base = load_evidence(base_dir)
    model = build_measurement_model(_md(base), context="kind")
    assert list(model.coords["direction_context"]) == ["interview", "review"]
    assert model.coords["kind"] == ("interview", "review", "survey")
    with mocked():
        idata = fit(base, ModelConfig(context="kind"), tiny_sampler())
    frame = context_estimates(idata, base).set_index(["target_id", "context"])
    s1 = frame.loc["S1"]
    assert s1.at["survey", "sources"] > 0 and not np.isnan(s1.at["survey", "breadth_mean"])
    assert np.isnan(s1.at["survey", "direction_mean"])
    assert s1.at["survey", "note"] == "not tested: refutes not recorded"
    assert s1.loc[["interview", "review"], "direction_identified"].all()
    assert s1["p_differs_direction"].between(0, 1).all()
