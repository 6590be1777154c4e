"""The HTML report: its content matches the analyses, warnings show, builds are reproducible."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from cmoc.reports import build_report, methods_paragraph, render_html


class _Tables(HTMLParser):
    """Collect the text of each cell of every table with an id, row by row."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "id" in attrs:
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


@pytest.fixture(scope="module")
def content(small_report_content):
    return small_report_content


@pytest.fixture(scope="module")
def html(content):
    return render_html(content)


def test_tables_list_every_target_with_the_summary_values(content, html):
    tables = _tables(html)
    summary = content.summary.set_index("target_id")
    mech_rows = tables["mechanism-table"][1:]
    cmoc_rows = tables["cmoc-table"][1:]
    mechs = summary[summary["target_type"] == "mechanism"]
    cmocs = summary[summary["target_type"] == "cmoc"]
    assert [r[0] for r in mech_rows] == list(mechs.index)
    assert [r[0] for r in cmoc_rows] == list(cmocs.index)
    for row in mech_rows:
        s = summary.loc[row[0]]
        assert row[3] == s["status"]
        assert row[5] == f"{s['support_mean']:.2f}"
        assert row[6] == f"[{s['support_lo']:.2f}, {s['support_hi']:.2f}]"
        assert row[7] == f"{s['p_supported']:.2f}"
    for row in cmoc_rows:
        s = summary.loc[row[0]]
        assert row[5] == s["status"]
        assert row[6] == f"{s['support_mean']:.2f}"
        assert row[7] == f"[{s['support_lo']:.2f}, {s['support_hi']:.2f}]"
        assert row[9].startswith(str(s["confidence"]))


def test_evidence_tables(content, small_base, html):
    tables = _tables(html)
    sources = tables["sources-table"]
    assert sources[-1][0] == "all kinds" and int(sources[-1][-1]) == len(small_base.sources)
    codings = tables["codings-table"]
    assert sum(int(r[1]) for r in codings[1:]) == len(small_base.codings)


def test_change_report_and_trajectory_are_shown(content, html):
    tables = _tables(html)
    assert [r[0] for r in tables["changes-table"][1:]] == list(content.changes["target_id"])
    assert set(content.trajectory["wave"]) == set(content.waves)
    assert html.count("<svg") >= 4  # theory, forest, trajectory, predictive check


def test_non_converged_fit_puts_a_warning_at_the_top(content, html):
    assert not content.convergence.passed  # tiny draws
    top = html.split('<section id="methods">')[0]
    assert 'id="convergence-warning"' in top and "not reliable" in top
    assert content.convergence.text in top


def test_methods_paragraph_says_what_was_run(content):
    text = methods_paragraph(content)
    s = content.sampler
    for fragment in (
        f"seed {s['seed']}",
        f"{s['chains']} chains",
        f"{s['draws']} retained draws",
        "nutpie",
        "negative-binomial",
        " then ".join(content.waves),
    ):
        assert fragment in text


def test_priors_and_provenance_in_the_page(content, html):
    tables = _tables(html)
    assert [tuple(r) for r in tables["priors-table"][1:]] == [(n, p) for n, p in content.priors]
    assert content.provenance["evidence_hash"] in html
    assert "--seed 7" in html  # the command line that rebuilds it


def test_no_timestamp_unless_asked(content, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    plain = render_html(content)
    assert render_html(content) == plain
    assert "Built " not in plain
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1609459200")
    dated = render_html(content)
    assert "Built 2021-01-01 00:00 UTC." in dated
    assert re.sub(r"<p class=\"muted\">Built [^<]*</p>", "", dated) == plain


def test_build_writes_the_files(content, small_base, tmp_path):
    out = tmp_path / "out"
    written = build_report(small_base, content, out)
    names = sorted(p.relative_to(out).as_posix() for p in written)
    figures = [n for n in names if n.startswith("figures/")]
    assert [n for n in names if n not in figures] == [
        "report.html",
        "report.md",
        "summary.csv",
        "summary.json",
    ]
    # every figure of the page is a file report.md links, and every file is linked
    md = (out / "report.md").read_text()
    assert figures and all(f"]({n})" in md for n in figures)
    assert sorted(re.findall(r"\]\((figures/[^)]+)\)", md)) == figures
    page = (out / "report.html").read_text()
    assert page.count("<svg") == len(figures)
    # a later build drawing fewer forest parts removes the parts it no longer draws
    (out / "figures" / "forest-9.svg").write_text("<svg/>")
    (out / "figures" / "mine.txt").write_text("kept")
    build_report(small_base, content, out)
    assert not (out / "figures" / "forest-9.svg").exists()
    assert (out / "figures" / "mine.txt").read_text() == "kept"
    assert page.startswith("<!DOCTYPE html>") and "http://" not in page.split("<svg")[0]


@pytest.mark.slow  # about 3 minutes: its own fits, comparison variants included
def test_report_numbers_script_reproduces_the_report(tmp_path):
    """analyses/report_numbers.py writes the numbers report.html shows, from the same fits."""
    import importlib.util

    import pandas as pd

    from cmoc.analyses import SimulationSpec, simulate
    from cmoc.cli import main
    from conftest import ROOT

    base_dir = tmp_path / "base"
    simulate(base_dir, SimulationSpec(mechanisms=2, cmocs=6, sources=30, waves=2), seed=4)
    # model v1's tables (support); model v2's report and numbers: test_report_v2.py
    v1 = str(ROOT / "tests" / "models" / "v1.toml")
    tiny = ["--seed", "7", "--chains", "2", "--draws", "60", "--tune", "60", "--no-plan"]
    tiny += ["--model", v1]
    assert main(["report", str(base_dir), "--out", str(tmp_path / "report"), *tiny]) == 0
    spec = importlib.util.spec_from_file_location(
        "report_numbers", ROOT / "analyses" / "report_numbers.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(base_dir), "--out", str(tmp_path / "numbers"), *tiny]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    tables = _tables(page)
    mechs = pd.read_csv(tmp_path / "numbers" / "mechanisms.csv")
    shown = {r[0]: r for r in tables["mechanism-table"][1:]}
    assert set(shown) == set(mechs["mechanism_id"])
    for m in mechs.itertuples():
        assert shown[m.mechanism_id][5] == f"{m.support_mean:.2f}"
        assert shown[m.mechanism_id][6] == f"[{m.support_lo:.2f}, {m.support_hi:.2f}]"
    cmocs = pd.read_csv(tmp_path / "numbers" / "cmocs.csv")
    assert [r[0] for r in tables["cmoc-table"][1:]] == list(cmocs["cmoc_id"])
    ppc = pd.read_csv(tmp_path / "numbers" / "ppc_by_group.csv")
    assert [int(r[3]) for r in tables["ppc-table"][1:]] == list(ppc["units"])
    for name in ("summary", "trajectory", "changes", "convergence", "sources_by_kind_wave"):
        assert (tmp_path / "numbers" / f"{name}.csv").is_file()


def test_prior_sensitivity_is_in_the_model_checks(content, html):
    tables = _tables(html)
    rows = tables["sensitivity-table"][1:]
    assert [r[0] for r in rows] == list(content.sensitivity["target_id"])
    weak = (content.sensitivity["diagnosis"] == "potential strong prior / weak likelihood").sum()
    assert f"{weak} of {len(content.sensitivity)} targets" in html


def test_the_recording_of_refutes_is_stated_at_the_top(content, html, small_base, tmp_path):
    # the simulated base declares every kind recorded; the report says so before any table
    kinds = sorted(set(small_base.sources["kind"]))
    assert content.recording == [f"{k} = recorded (declared)" for k in kinds]
    top = html[: html.index("<table")]
    assert 'id="recording"' in top and all(f"{k} = recorded (declared)" in top for k in kinds)
    build_report(small_base, content, tmp_path / "r")
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "Refuting codes recorded, by source kind" in md.split("## ")[0]
