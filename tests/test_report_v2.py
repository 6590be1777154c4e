"""The report of model v2 fits (the measurement model): its findings, predictive check,
influence, comparison and plan are v2's, nothing says it is missing, the gate still warns, a
saved plan is reused only from the same fit with the same settings, and builds are
byte-identical (the PDF too).

Wiring on prior draws (``mocked``): which estimand and which sentence goes where, not the
numbers. The base records refutes for reviews and not for interviews, so the targets only
interviews speak to (C3 and its mechanism M2) have no testable direction.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
from contextlib import contextmanager
from dataclasses import replace
from html import unescape

import numpy as np
import pandas as pd
import pytest

from cmoc.analyses import (
    KHAT_MAX,
    MEASUREMENT_COLUMNS,
    PLAN_V2_COLUMNS,
    REPORT_PLAN_V2,
    SENSITIVITY_COLUMNS,
    VARIANTS,
    PlanResult,
    PlanSettings,
    check_influence,
    fit,
    fit_id,
    load_fit,
    load_plan,
    load_result,
    measurement_influence,
    measurement_predictive,
    moved_most,
    plan_or_reuse,
    save_fit,
    summarize,
)
from cmoc.analyses.checks.predictive import MEASUREMENT_PPC_COLUMNS
from cmoc.analyses.fitting.cache import clear_cache
from cmoc.cli import main
from cmoc.evidence import load_evidence
from cmoc.models import ModelConfig
from cmoc.reports import build_report, build_report_for, render_html
from cmoc.reports.build import md_text
from cmoc.reports.content import NOT_YET_V2
from cmoc.reports.figures import MEASUREMENT_STATUS_STYLE
from cmoc.reports.html import (
    influence_paragraphs,
    influence_warning,
    measurement_ppc_paragraph,
    plan_method,
    plan_paragraph,
    plan_warning,
    unit_name,
)
from cmoc.reports.pipeline import build_report_from_fit
from cmoc.reports.tables import render_summary
from conftest import IOC, mocked, tiny_sampler
from test_report import _tables

V2 = ModelConfig(model="measurement")
TINY = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]
FILES = ("report.html", "report.md", "summary.csv", "summary.json")
SMALL_V2_PLAN = {"max_new": 2, "simulations": 20, "max_refits": 0}
"""The report's v2 plan, cut down for speed (the real computation, on prior draws)."""


def _plan_head(max_new: int, kind: str = "interview") -> list[list[str]]:
    """The two header rows of model v2's plan table."""
    return [
        [
            "",
            "now",
            f"P(decisive) after n more “{kind}” sources",
            "",
            f"after {max_new} more",
            "updates over every n",
        ],
        [
            "target",
            "type",
            "P(breadth ≥ 0.05)",
            "sources",
            *[f"n = {n}" for n in range(1, max_new + 1)],
            "± MC error (largest)",
            "P(affirmed)",
            "P(refuted)",
            "P(contested)",
            "P(breadth ≥ 0.05)",
            "exact refits",
            "PSIS kept (k > 0.7)",
            "largest k",
        ],
    ]


def _plan_cells(table: pd.DataFrame) -> list[list[str]]:
    """Model v2's plan rows as the report shows them: a row per target, n side by side."""
    out = []
    for target in dict.fromkeys(table["target_id"]):
        t = table[table["target_id"] == target].sort_values("n_new")
        last = t.iloc[-1]
        out.append(
            [
                target,
                last.target_type,
                f"{last.p_broad_now:.2f}",
                str(last.sources_min_now),
                *[f"{p:.2f}" for p in t["p_decisive"]],
                f"{t['mc_se'].max():.2f}",
                f"{last.p_affirmed:.2f}",
                f"{last.p_refuted:.2f}",
                f"{last.p_contested:.2f}",
                f"{last.p_broad:.2f}",
                str(t["refits"].sum()),
                f"{t['unreliable'].sum()} of {t['simulations'].sum()}",
                f"{t['khat_max'].max():.2f}",
            ]
        )
    return out


PLAN_MODULE = sys.modules[
    "cmoc.analyses.planning.plan"
]  # the module (planning.plan is the function)


@contextmanager
def small_v2_plan():
    """The report computes :data:`SMALL_V2_PLAN` instead of :data:`REPORT_PLAN_V2`."""
    saved = dict(REPORT_PLAN_V2)
    REPORT_PLAN_V2.update(SMALL_V2_PLAN)
    try:
        yield
    finally:
        REPORT_PLAN_V2.clear()
        REPORT_PLAN_V2.update(saved)


def fake_plan(idata, evidence, *, seed: int = 0, targets=None, kind="interview", max_new=2):
    """A v2 plan of ``idata`` with made-up numbers (every target unless ``targets``).

    Some rows keep PSIS estimates with Pareto k above 0.7 (``unreliable`` > 0), so the report's
    warning and the table's last columns have something to show.
    """
    rng = np.random.default_rng(seed)
    ids = list(evidence.targets.index) if targets is None else targets
    sims = 40
    rows = []
    for t in ids:
        p_now = float(rng.uniform(0.2, 0.8))
        for n in range(1, max_new + 1):
            aff, ref, con = rng.dirichlet([2, 1, 1, 3])[:3]
            dec = aff + ref + con
            kept = int(rng.integers(1, 13)) if rng.random() < 0.4 else 0
            rows.append(
                {
                    "target_id": t,
                    "target_type": evidence.targets.at[t, "target_type"],
                    "kind": kind,
                    "n_new": n,
                    "p_decisive": dec,
                    "p_affirmed": aff,
                    "p_refuted": ref,
                    "p_contested": con,
                    "mc_se": float(np.sqrt(dec * (1 - dec) / sims)),
                    "simulations": sims,
                    "refits": 0,
                    "unreliable": kept,
                    "khat_max": float(rng.uniform(0.75, 1.5) if kept else rng.uniform(0.2, 0.7)),
                    "p_broad": float(rng.uniform(0, 1)),
                    "p_broad_now": p_now,
                    "sources_min_now": int(rng.integers(0, 4)),
                }
            )
    table = pd.DataFrame(rows, columns=PLAN_V2_COLUMNS)
    settings = PlanSettings(
        fit_id=fit_id(idata),
        wave=evidence.waves[-1],
        inconclusive=tuple(ids),
        kind=kind,
        max_new=max_new,
        simulations=sims,
        seed=seed,
        max_refits=0,
        update="targeted",
        model="measurement",
    )
    return PlanResult(table, PlanResult.describe(table, settings), None, settings)


def _base(directory, waves: str = '"w1", "w2"', recording: str | None = None, total: bool = False):
    """Two mechanisms, three CMOCs, reviews (refutes recorded) then interviews (not).

    With two waves, M2 and its CMOC C3 are novel, first coded by the interviews of w2: no
    source of a kind that records refutes is coded against them, so their direction is not
    tested. With ``total``, a band of at least one supporting code of C2 over the interviews
    of w2 (a block of totals of M1: I2 a forced member, its exact C1 cell; I1 free).
    """
    directory.mkdir(parents=True)
    recording = (
        '\n[recording]\nrefutes = { review = "recorded", interview = "not recorded" }\n'
        if recording is None
        else recording
    )
    (directory / "evidence.toml").write_text(
        'name = "v2report"\ntitle = "A model v2 report"\ncitation = "test"\nformat = 1\n'
        f"waves = [{waves}]\n" + recording
    )
    second = '"w2"' in waves
    novel = "novel" if second else "prior"
    (directory / "mechanisms.csv").write_text(
        "mechanism_id,name,definition,origin\nM1,Trust,people trust,prior\n"
        f"M2,Fear,people fear,{novel}\n"
    )
    (directory / "cmocs.csv").write_text(
        "cmoc_id,mechanism_id,context,outcome,sign,origin\n"
        "C1,M1,ctx one,out one,+,prior\nC2,M1,ctx two,out two,+,prior\n"
        f"C3,M2,ctx three,out three,+,{novel}\n"
    )
    (directory / "actions.csv").write_text(
        "action_id,statement,rests_on\nA1,Build trust first,C1;C3\n"
    )
    (directory / "sources.csv").write_text(
        "source_id,kind,wave\nR1,review,w1\nR2,review,w1\nR3,review,w1\n"
        + ("I1,interview,w2\nI2,interview,w2\n" if second else "I1,interview,w1\n")
    )
    rows = (
        "source_id,target_id,stance,count\n"
        "R1,C1,supports,2\nR1,C1,refutes,1\nR2,C1,supports,1\nR3,C2,supports,1\n"
        "I1,C3,supports,3\n" + ("I2,C3,supports,1\nI2,C1,supports,2\n" if second else "")
    )
    if total:
        rows = "".join(f"{line},,\n" for line in rows.splitlines()).replace(
            "count,,", "count,count_min,count_max"
        )
        rows += "w2,C2,supports,,1,\n"
    (directory / "codings.csv").write_text(rows)
    return directory


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2report")
    directory = _base(root / "b", total=True)
    said: list[str] = []
    with mocked(), small_v2_plan():
        run = build_report_for(directory, V2, tiny_sampler(), out=root / "out", say=said.append)
    html = (root / "out" / "report.html").read_text()
    md = (root / "out" / "report.md").read_text()
    return directory, root / "out", run, said, html, md


def _row(table: list[list[str]], target: str) -> list[str]:
    (row,) = [r for r in table if r and r[0] == target]
    return row


def test_the_report_files_are_written(built):
    _, out, run, _, html, md = built
    assert [p.name for p in run.written if p.parent == out] == list(FILES)
    figures = [p.relative_to(out).as_posix() for p in run.written if p.parent != out]
    assert figures and all(f"]({name})" in md for name in figures)
    assert all((out / name).stat().st_size > 0 for name in FILES)
    assert html.startswith("<!DOCTYPE html>") and md.startswith("# A model v2 report")


def test_summary_files_hold_the_v2_columns(built):
    directory, out, run, _, _, _ = built
    frame = pd.read_csv(out / "summary.csv", comment=None)
    assert list(frame.columns) == MEASUREMENT_COLUMNS
    assert list(frame["target_id"]) == ["C1", "C2", "C3", "M1", "M2"]
    # direction empty where the target has no codes from a kind that records refutes
    c3 = frame.set_index("target_id").loc["C3"]
    assert not c3["direction_testable"] and pd.isna(c3["direction_mean"])
    # the newest wave's saved fit, summarised again, gives the report's statuses and breadth
    s = summarize(load_fit(directory / ".cmoc" / "fit.nc"), run.base)
    assert list(frame["status"]) == list(s["status"])
    assert (frame["breadth_mean"] - s["breadth_mean"]).abs().max() < 1e-4


def test_summary_table_shows_breadth_direction_depth_status_level_confidence(built):
    _, _, run, _, html, _ = built
    tables = _tables(html)
    head = tables["cmoc-table"][0]
    for label in ("status", "breadth [90% interval]", "direction [90% interval]", "depth"):
        assert label in head
    assert any(h.startswith("evidence level, wave") for h in head) and "confidence" in head
    assert "support" not in " ".join(head) and "P(>½)" not in " ".join(head)
    s = run.content.summary.set_index("target_id")
    for target in ("C1", "C2", "C3"):
        row = _row(tables["cmoc-table"], target)
        assert row[5] == s.at[target, "status"]
        b = s.loc[target]
        assert row[6] == f"{b.breadth_mean:.2f} [{b.breadth_lo:.2f}, {b.breadth_hi:.2f}]"
        assert row[8] == f"{b.depth_mean:.1f}"
        assert row[9] == f"{b.supports} / {b.refutes}"
        assert row[10] == str(b.sources_min)
        assert row[12].startswith(s.at[target, "confidence"])
    c1 = s.loc["C1"]
    assert _row(tables["cmoc-table"], "C1")[7] == (
        f"{c1.direction_mean:.2f} [{c1.direction_lo:.2f}, {c1.direction_hi:.2f}]"
    )
    # the targets only interviews (refutes not recorded) speak to: direction not tested
    assert _row(tables["cmoc-table"], "C3")[7] == "direction not tested"
    assert _row(tables["mechanism-table"], "M2")[4] == "direction not tested"
    assert _row(tables["mechanism-table"], "M1")[4] != "direction not tested"
    assert _row(tables["cmoc-table"], "C2")[7] != "direction not tested"


def test_a_level_a_band_leaves_open_comes_with_its_probability_everywhere(built):
    # C2's newest-wave codes are a band of at least one: its level is a predictive one
    _, _, run, _, html, md = built
    c2 = run.content.summary.set_index("target_id").loc["C2"]
    assert 0 < c2.evidence_level_p < 1
    shown = f"{c2.evidence_level} (P = {round(c2.evidence_level_p, 3):.2f})"
    tables = _tables(html)
    assert _row(tables["cmoc-table"], "C2")[11] == shown
    assert _row(tables["changes-table"], "C2")[2].endswith("“w2”: " + shown)
    assert f"| {shown} |" in next(x for x in md.splitlines() if x.startswith("| C2 | cmoc |"))
    change = next(
        x for x in md.splitlines() if x.startswith("| C2 | ") and not x.startswith("| C2 | cmoc")
    )
    assert f"w2: {shown} |" in change
    assert run.content.changes.set_index("target_id").at["C2", "level_after_p"] == (
        c2.evidence_level_p
    )
    cli = render_summary(run.content.summary, "table", {"evidence": "b", "wave": "w2"})
    assert shown in cli.replace("\n", " ")
    # a level the codes fix is shown alone
    c1 = run.content.summary.set_index("target_id").loc["C1"]
    assert c1.evidence_level_p == 1
    assert _row(tables["cmoc-table"], "C1")[11] == c1.evidence_level


def test_statuses_are_coloured_as_in_v1(built):
    _, _, run, _, html, _ = built
    for target, status in run.content.summary.set_index("target_id")["status"].items():
        colour = MEASUREMENT_STATUS_STYLE[status]["color"]
        cell = re.search(
            rf'<tr data-target="{target}">.*?<td class="status" style="color: ([^"]+)">'
            rf"{status}</td>",
            html,
            re.S,
        )
        assert cell is not None and cell.group(1) == colour, target
    # C3 has codes of its own: never "unevidenced" however few draws
    assert run.content.summary.set_index("target_id").at["C3", "status"] != "unevidenced"


def test_breadth_forest_and_trajectory_replace_v1s_figures(built):
    _, _, run, _, html, _ = built
    forest = html.split('<section id="forest">')[1].split("</section>")[0]
    assert "<h2>Breadth and direction per CMOC, grouped by mechanism</h2>" in forest
    assert "<svg" in forest and "breadth, the share of sources evidencing" in forest
    waves = html.split('<section id="waves">')[1].split("</section>")[0]
    assert "<svg" in waves and "Breadth (blue) and, where tested, direction" in waves
    assert list(run.content.trajectory["wave"].unique()) == ["w1", "w2"]
    assert "breadth_mean" in run.content.trajectory and "support_mean" not in run.content.trajectory


def test_every_v2_figure_prints_at_8_pt_or_more(built):
    from cmoc.reports.figures import LABEL_PT
    from test_figures import printed_sizes

    html = built[4]
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 5
    for svg in svgs:
        assert min(printed_sizes(svg)) >= LABEL_PT - 1e-6, svg[:200]
    forest = html.split('<section id="forest">')[1].split("</section>")[0]
    assert "supporting (+, green) and refuting (−, red where any) codes over every wave" in forest


def test_what_reading_missing_refutes_as_none_would_change(built):
    from cmoc.analyses import WHATIF_COLUMNS, whatif_fit_path
    from cmoc.reports.html import whatif_crosstab

    directory, _, run, said, html, md = built
    w = run.content.recording_whatif
    assert list(w.columns) == WHATIF_COLUMNS
    assert list(w["target_id"]) == list(run.content.summary["target_id"])
    assert list(w["status"]) == list(run.content.summary["status"])
    # the interview-only targets have no testable direction here, and would under the what-if
    assert not w["direction_testable"].all() and w["direction_testable_whatif"].any()
    assert whatif_fit_path(directory).is_file()
    assert any(m.startswith("what-if: fitted") for m in said)
    assert whatif_crosstab(w).to_numpy().sum() == len(w)
    findings = html.split('<section id="findings">')[1].split("</section>")[0]
    assert "Read as none instead" in findings
    assert "What the recording of refutes decides" in findings
    section = html.split('<h3 id="recording-whatif">')[1].split("<h3")[0]
    assert 'id="whatif-table"' in section and 'id="whatif-targets"' in section
    assert section.count("<tr data-target=") == len(w)
    assert "### What the recording of refutes decides" in md and "Read as none instead" in md


def test_what_the_newest_wave_changed(built):
    _, _, run, _, html, md = built
    changes = run.content.changes.set_index("target_id")
    table = _tables(html)["changes-table"]
    assert table[0][3:6] == ["breadth before", "breadth after", "shift ± sd"]
    c3 = _row(table, "C3")
    assert c3[6] == "direction not tested"
    assert c3[8] == "2 sources; +4 / −0 codes"
    c1 = changes.loc["C1"]
    assert _row(table, "C1")[4] == (
        f"{c1.breadth_after:.2f} [{c1.breadth_after_lo:.2f}, {c1.breadth_after_hi:.2f}]"
    )
    assert "## What wave w2 changed" in md
    c3_md = next(line for line in md.splitlines() if line.startswith("| C3 | (new) -> "))
    assert "direction not tested" in c3_md and "2 sources, +4 / -0 codes" in c3_md


def test_moved_most_by_the_newest_waves_units(built):
    # as model v1's change report: the newest wave's units that moved each breadth most
    directory, _, run, _, html, md = built
    changes = run.content.changes.set_index("target_id")
    table = _tables(html)["changes-table"]
    assert table[0][-1] == "moved most by"
    fit_w2 = load_fit(directory / ".cmoc" / "fit.nc")
    expected = moved_most(measurement_influence(fit_w2, run.base, wave="w2"))
    for target in changes.index:
        assert changes.at[target, "moved_most"] == expected.get(target, ""), target
        assert _row(table, target)[-1] == (changes.at[target, "moved_most"] or "–")
    # the w2 units: the interviews coded one by one and the block of totals over them
    units = set(run.content.influence.query("wave == 'w2'")["short"])
    assert "I1" in units and any(u.startswith("M1 (codings.csv:") for u in units)
    assert 'id="moved-most-note"' in html and "Pareto k &gt; 0.7" in html
    head = next(line for line in md.splitlines() if line.startswith("| target | status | evid"))
    assert head.endswith("| newest wave | moved most by |")
    assert "Moved most by: the units of the newest wave" in md
    assert "moved_most" not in run.content.unavailable and "moved-most-unavailable" not in html


def test_the_comparison_is_v2s_and_nothing_is_missing(built):
    directory, _, run, said, html, md = built
    c = run.content
    assert NOT_YET_V2 == {} and c.unavailable == {}
    assert "not yet available" not in unescape(html).lower() and "not yet" not in md.lower()
    assert not any(m.startswith("model v2: skipping") for m in said)
    # v2's pooling variants, compared over v2's units, as compare_models returns them
    comparison = c.comparison
    assert comparison is not None and comparison.settings.model == "measurement"
    assert set(comparison.table["model"]) == set(VARIANTS)
    assert (directory / ".cmoc" / "comparison-measurement.json").is_file()
    assert any(
        m.startswith("fitting the comparison models (no pooling, complete pooling of model v2")
        for m in said
    )
    # the HTML: v1's table with v2's numbers, the reading, v2's note
    rows = _tables(html)["comparison-table"][1:]
    assert [r[0] for r in rows] == list(comparison.table["model"])
    for row, r in zip(rows, comparison.table.itertuples(index=False), strict=True):
        assert row[1:3] == [f"{r.elpd:.1f}", f"{r.se:.1f}"] and row[7] == str(r.bad_k)
    section = unescape(html).split("<h3>Model comparison</h3>")[1].split("<h3>")[0]
    assert comparison.text in section
    assert "Model v2 against the same model with no pooling of its target level" in section
    assert "The hierarchy against the same model with no pooling of supports" not in section
    # the Markdown: the reading and the table
    assert f"Model comparison. {md_text(comparison.text)}" in md
    first = comparison.table.iloc[0]
    assert f"| {md_text(first.model)} | {first.elpd:.1f} | {first.se:.1f} |" in md
    assert c.tables()["comparison"] is comparison.table


def test_the_plan_is_v2s_computed_saved_and_shown(built):
    directory, _, run, said, html, md = built
    plan = run.content.plan
    fit_w2 = load_fit(directory / ".cmoc" / "fit.nc")
    assert plan is not None and plan.matches(fit_w2)
    st = plan.settings
    assert st.model == "measurement" and list(plan.table.columns) == PLAN_V2_COLUMNS
    # the report's settings (cut down here), the sampler's seed, the newest wave's commonest kind
    assert {k: st[k] for k in SMALL_V2_PLAN} == SMALL_V2_PLAN
    assert st.seed == 7 and st.kind == "interview" and st.update == "targeted"
    # planned for every target whose v2 status is inconclusive (prior draws leave some so)
    status = run.content.summary.set_index("target_id")["status"]
    assert list(st.inconclusive) == list(status[status == "inconclusive"].index)
    assert plan.targets, "prior draws leave some target inconclusive"
    # saved beside the fits, as computed
    saved = load_plan(directory / ".cmoc" / "plan.json")
    pd.testing.assert_frame_equal(saved.table, plan.table, check_dtype=False)
    assert any(m.startswith("planning for the inconclusive targets, CMOCs and mech") for m in said)
    assert any(m.startswith("plan: planned (no saved plan); saved to") for m in said)
    # the HTML: v2's columns, one row per target and n, the plan's numbers
    table = _tables(html)["plan-table"]
    assert table[:2] == _plan_head(SMALL_V2_PLAN["max_new"])
    assert table[2:] == _plan_cells(plan.table)
    assert [r[0] for r in table[2:]] == list(plan.targets)
    assert 'id="plan-unavailable"' not in html and "<svg" in _plan_html(html)
    verdict = unescape(html.split('id="plan-verdict">')[1].split("</p>")[0])
    assert verdict == plan_paragraph(run.content)
    assert verdict.startswith(f"{len(plan.targets)} target") and "decisive" in verdict
    assert f"n = 1 to {SMALL_V2_PLAN['max_new']} more sources of kind “interview”" in verdict
    method = unescape(html.split('id="plan-method">')[1].split("</p>")[0])
    assert method == plan_method(plan)
    assert f"{SMALL_V2_PLAN['simulations']} simulations (seed 7)" in method
    assert f"Of the {int(plan.table['simulations'].sum())} updates" in method
    assert "For each inconclusive target (CMOC or mechanism)" in unescape(html)
    # where PSIS was strained, a warning says so (prior draws strain it)
    kept = int(plan.table["unreliable"].sum())
    assert kept > 0 and 'id="plan-warning"' in html
    assert f"PSIS was strained: {kept} of the " in unescape(html)
    assert f"**Warning:** {md_text(plan_warning(run.content))}" in md
    # the Markdown: the same sentences and table
    assert "## Planning the next sources" in md and md_text(plan_paragraph(run.content)) in md
    assert md_text(plan_method(plan)) in md
    for cells in _plan_cells(plan.table):
        assert f"| {md_text(cells[0])} | " + " | ".join(cells[1:]) + " |" in md
    assert run.content.tables()["plan"] is plan.table


def _plan_html(html: str) -> str:
    return html.split('<section id="plan">')[1].split("</section>")[0]


def test_the_plan_section_shows_a_plans_numbers(built, tmp_path):
    # a plan with made-up numbers, every target, some PSIS estimates kept with k > 0.7
    directory, _, run, _, _, _ = built
    fit_w2 = load_fit(directory / ".cmoc" / "fit.nc")
    plan = fake_plan(fit_w2, run.base, seed=3)
    content = replace(run.content, plan=plan)
    html = render_html(content)
    table = _tables(html)["plan-table"]
    assert table[:2] == _plan_head(2)
    assert table[2:] == _plan_cells(plan.table)
    share = plan.table["unreliable"] / plan.table["simulations"]
    # the sentence: the chances after the most new sources
    last = plan.table[plan.table["n_new"] == 2]
    best = last.sort_values("p_decisive", ascending=False).iloc[0]
    verdict = plan_paragraph(content)
    assert verdict.startswith("5 targets (3 CMOCs, 2 mechanisms) are inconclusive after wave")
    assert (
        f"After 2 more, P(decisive) is {last['p_decisive'].min():.2f} to "
        f"{last['p_decisive'].max():.2f} (median {last['p_decisive'].median():.2f}; highest "
        f"{best.target_id}, {best.p_decisive:.2f})."
    ) in verdict
    more_likely = last["p_decisive"].max() >= 0.5
    assert ("None of them is more likely than not to be decided by 2 more." in verdict) != (
        more_likely
    )
    # C3 and M2 are testable by no kind here (interviews do not record refutes), C1 is: so
    # the plan does not say that decisive can only mean affirmed
    assert "can only mean affirmed" not in verdict
    # the warning: where PSIS was strained, share per n, largest k
    warning = unescape(html.split('class="warning" id="plan-warning">')[1].split("</p>")[0])
    assert warning == plan_warning(content)
    kept = int(plan.table["unreliable"].sum())
    assert warning.startswith(f"PSIS was strained: {kept} of the {40 * len(plan.table)} updates")
    for n in (1, 2):
        rows = plan.table[plan.table["n_new"] == n]
        assert f"{rows['unreliable'].sum() / rows['simulations'].sum():.0%} at n = {n}" in warning
    worst = plan.table.loc[plan.table["unreliable"] > 0, "khat_max"].max()
    assert f"(largest {worst:.2f})" in warning
    most = plan.table.loc[share.idxmax()]
    assert (
        f"up to {share.max():.2f} ({most.target_id} after {most.n_new} more: "
        f"{most.unreliable} of 40)"
    ) in warning
    assert "cmoc plan DIR --model FILE --max-refits N" in warning
    # the figure: more targets than it labels would be grey; five are all labelled
    figure = _plan_html(html).split("<figcaption>")[1].split("</figcaption>")[0]
    assert "Monte Carlo error" in figure and "dotted" in figure  # affirmed differs from decisive
    # the Markdown: the same sentences, warning and rows
    build_report(run.base, content, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"**Warning:** {md_text(warning)}" in md
    for cells in _plan_cells(plan.table):
        assert f"| {md_text(cells[0])} | " + " | ".join(cells[1:]) + " |" in md


def test_a_saved_v2_plan_is_reused_only_from_the_same_fit(built, tmp_path):
    directory, out, _, _, _, _ = built
    base = tmp_path / "b"
    shutil.copytree(directory, base)
    saved = base / ".cmoc" / "plan.json"
    said: list[str] = []
    with mocked(), small_v2_plan():  # the fits are reused: same fit, same settings
        build_report_for(base, V2, tiny_sampler(), out=tmp_path / "r1", say=said.append)
    assert any(m.startswith("plan: reused the saved plan") for m in said)
    assert (tmp_path / "r1" / "report.html").read_bytes() == (out / "report.html").read_bytes()
    # a plan made from another fit is not shown: recomputed from this fit, and saved
    doc = json.loads(saved.read_text())
    doc["settings"]["fit_id"] = "0" * 64
    col = doc["columns"].index("p_decisive")
    doc["rows"][0][col] = 0.987
    saved.write_text(json.dumps(doc))
    said.clear()
    with mocked(), small_v2_plan():
        run = build_report_for(base, V2, tiny_sampler(), out=tmp_path / "r2", say=said.append)
    assert any("made from another fit" in m for m in said)
    assert load_plan(saved).settings.fit_id == fit_id(load_fit(base / ".cmoc" / "fit.nc"))
    assert run.content.plan.table.iloc[0]["p_decisive"] != 0.987
    assert (tmp_path / "r2" / "report.html").read_bytes() == (out / "report.html").read_bytes()


def test_a_saved_v2_plan_of_other_settings_is_not_reused_nor_replaced(built, tmp_path):
    directory, _, run, _, _, _ = built
    base = tmp_path / "b"
    shutil.copytree(directory, base)
    saved = base / ".cmoc" / "plan.json"
    idata = load_fit(base / ".cmoc" / "fit.nc")
    # made from this fit, with more refits (cmoc plan --max-refits 3): kept as it is
    doc = json.loads(saved.read_text())
    doc["settings"]["max_refits"] = 3
    saved.write_text(json.dumps(doc))
    before = saved.read_bytes()
    with mocked():
        plan, how = plan_or_reuse(base, idata, run.base, seed=7, workers=0, **SMALL_V2_PLAN)
    assert how.startswith("planned (the saved plan of this fit was made with other settings")
    assert "max_refits 3, asked 0" in how and how.endswith("kept")
    assert saved.read_bytes() == before and plan.settings.max_refits == 0
    pd.testing.assert_frame_equal(plan.table, run.content.plan.table)
    # another seed or kind is other settings too; the same ones reuse it
    for change in ({"seed": 8}, {"kind": "review"}, {"max_new": 1}):
        with mocked():
            _, how = plan_or_reuse(
                base, idata, run.base, workers=0, **{"seed": 7, **SMALL_V2_PLAN, **change}
            )
        assert how.startswith("planned (the saved plan of this fit was made with other"), change
    doc["settings"]["max_refits"] = 0
    saved.write_text(json.dumps(doc))
    _, how = plan_or_reuse(base, idata, run.base, seed=7, workers=0, **SMALL_V2_PLAN)
    assert how.startswith("reused the saved plan")


def _section(html: str, title: str) -> str:
    """The HTML of one model check, from its heading to the next."""
    return html.split(title)[1].split("<h3")[0]


def test_posterior_predictive_check_is_v2s(built):
    directory, _, run, said, html, md = built
    c = run.content
    fit_w2 = load_fit(directory / ".cmoc" / "fit.nc")
    rows, targets = measurement_predictive(fit_w2, run.base, seed=7)
    # every comparison of measurement_predictive, ordered by wave, sources before blocks
    assert list(c.ppc.columns) == MEASUREMENT_PPC_COLUMNS
    assert len(c.ppc) == len(rows) and set(c.ppc["unit"]) == set(rows["unit"])
    assert list(c.ppc["unit_type"]) == sorted(c.ppc["unit_type"], key=["source", "block"].index)
    merged = c.ppc.merge(rows, on=["unit", "unit_type", "target_id"], suffixes=("", "_again"))
    assert len(merged) == len(rows)
    assert (merged["p_value"] == merged["p_value_again"]).all()
    pd.testing.assert_frame_equal(c.ppc_targets, targets)
    assert set(c.ppc["unit_type"]) == {"source", "block"}  # I2 forced, I1 free in the block
    blocks = c.ppc[c.ppc["unit_type"] == "block"]
    assert list(blocks["target_id"]) == ["C2"] and list(blocks["observed"]) == [">=1"]
    # the sentence: shares in the interval and surprises, each number labelled
    text = unescape(_section(html, "<h3>Posterior predictive check</h3>"))
    sources = c.ppc[c.ppc["unit_type"] == "source"]
    n_in = int(sources["in_interval"].sum())
    assert f"the number of exact codes of {n_in} of the {len(sources)} sources (" in text
    assert f"{int(blocks['in_interval'].sum())} of the 1 totals and bands (" in text
    assert "(120 replicates)" in text  # 2 chains x 60 draws
    assert f"{int(c.ppc['surprising'].sum())} of the {len(c.ppc)} comparisons" in text
    k, n = int(targets["surprising"].sum()), len(targets)
    assert f"{k} of the {n} coded against sources coded one by one have a surprising" in text
    assert "not yet available" not in text.lower() and "<svg" in text
    # the table by wave, what is checked and kind
    table = _tables(html)["ppc-table"]
    assert table[0][:5] == ["wave", "checked", "kind", "comparisons", "in the 90% interval"]
    by_group = c.ppc_by_group
    assert [r[:5] for r in table[1:]] == [
        [
            g.wave,
            "sources' exact codes" if g.unit_type == "source" else "totals of blocks",
            g.kind,
            str(g.rows),
            str(g.in_interval),
        ]
        for g in by_group.itertuples()
    ]
    assert by_group["in_interval"].sum() == c.ppc["in_interval"].sum()
    # per target (sources coded one by one)
    per_target = _tables(html)["ppc-targets-table"]
    assert [r[0] for r in per_target[1:]] == list(targets["target_id"])
    # the Markdown: the same sentence and tables
    assert md_text(measurement_ppc_paragraph(c)) in md
    assert "| wave | checked | kind | comparisons | in the 90% interval |" in md
    assert "| target | sources coded against it | evidencing it |" in md
    assert {"ppc", "ppc_by_group", "ppc_targets"} <= set(c.tables())
    assert any("posterior predictive check (sources' codes and blocks' totals" in m for m in said)


def test_influence_of_single_units(built):
    directory, _, run, said, html, md = built
    c = run.content
    fit_w2 = load_fit(directory / ".cmoc" / "fit.nc")
    again = measurement_influence(fit_w2, run.base)
    pd.testing.assert_frame_equal(c.influence, again)
    top = c.influence_top
    assert list(top["target_id"]) == list(c.summary["target_id"])
    # per target, the unit that moves P(breadth >= breadth_min) most (then breadth)
    for r in top.itertuples(index=False):
        rows = again[again["target_id"] == r.target_id]
        assert abs(r.p_broad_change) >= rows["p_broad_change"].abs().round(2).max() - 0.005
    table = _tables(html)["influence-table"]
    assert table[0][:3] == ["target", "status", "moved most by (left out)"]
    assert [r[0] for r in table[1:]] == list(top["target_id"])
    for row, r in zip(table[1:], top.itertuples(index=False), strict=True):
        assert row[1] == r.status
        if r.moved:
            assert row[2] == r.label
            assert row[3] == f"{r.p_broad:.2f} → {r.p_broad_loo:.2f}"
            assert row[4] == f"{r.breadth_mean:.3f} → {r.breadth_loo:.3f}"
            assert row[5].startswith(f"{r.pareto_k:.2f}")
            assert row[5].endswith("unreliable") == (r.pareto_k > KHAT_MAX)
        else:
            assert row[2] == "no single unit moves it"
    text = unescape(_section(html, '<h3 id="influence">Influence of single units of evidence'))
    units = again.drop_duplicates("unit")
    n_src = int((units["unit_type"] == "source").sum())
    n_blocks = len(units) - n_src
    assert f"{len(units)} units ({n_src} sources coded one by one, {n_blocks} block of" in text
    assert "PSIS leave-one-out" in text and "P(breadth ≥ 0.05)" in text
    # a warning names every unit whose Pareto k is above 0.7 (prior draws: some are)
    bad = units[units["pareto_k"] > KHAT_MAX]
    assert len(bad), "prior draws give a large Pareto k"
    assert 'class="warning" id="influence-warning"' in html
    warning = unescape(html.split('id="influence-warning">')[1].split("</p>")[0])
    for r in bad.itertuples(index=False):
        assert f"{unit_name(r.unit_type, r.short, r.wave)}, k = {r.pareto_k:.2f}" in warning
    assert "--influence --refit" in warning
    # the Markdown: the same sentences, warning and table
    for paragraph in influence_paragraphs(c):
        assert md_text(paragraph) in md and paragraph in unescape(html)
    assert f"**Warning:** {md_text(influence_warning(c))}" in md
    assert "| target | status | moved most by (left out) | P(breadth >= 0.05)" in md
    assert {"influence", "influence_top"} <= set(c.tables())
    assert any("influence of each unit of evidence on breadth" in m for m in said)


def test_the_influence_result_with_blank_codes_saves(built, tmp_path):
    # `codes` is blank where a unit does not code the target: saved as null, read as missing
    directory, _, run, _, _, _ = built
    check = check_influence(load_fit(directory / ".cmoc" / "fit.nc"), run.base)
    assert check.table["codes"].isna().any() and check.table["codes"].notna().any()
    back = load_result(check.save(tmp_path / "influence.json"), "influence")
    assert back.table["codes"].isna().tolist() == check.table["codes"].isna().tolist()
    known = check.table["codes"].notna()
    assert (back.table.loc[known, "codes"] == check.table.loc[known, "codes"]).all()
    assert back.text == check.text


def test_prior_sensitivity_of_breadth_is_shown(built):
    _, _, run, said, html, md = built
    c = run.content
    sens = c.sensitivity
    assert list(sens.columns) == SENSITIVITY_COLUMNS
    targets = list(c.summary["target_id"])
    assert list(sens["target_id"]) == targets == ["C1", "C2", "C3", "M1", "M2"]
    assert list(sens["status"]) == list(c.summary["status"])
    assert "sensitivity" not in NOT_YET_V2 and "sensitivity" not in c.unavailable
    assert c.tables()["sensitivity"] is sens
    # the HTML: v1's table, a row per target, v2's wording
    assert 'id="sensitivity-unavailable"' not in html
    rows = _tables(html)["sensitivity-table"][1:]
    assert [r[0] for r in rows] == targets
    for r, s in zip(rows, sens.itertuples(index=False), strict=True):
        assert r[4:7] == [s.status, s.status_weaker_prior, s.status_stronger_prior]
    section = unescape(html).split("<h3>Prior sensitivity</h3>")[1].split("<h3")[0]
    assert "MeasurementPriors" in section and f"of {len(sens)} targets have a breadth" in section
    assert "support" not in section and "configurable priors" not in section
    assert "not yet available" not in section.lower()
    # the Markdown: the same table in place of the sentence
    tail = md.split("Prior sensitivity. ")[1].split("### What the recording of refutes")[0]
    assert "| target | prior | likelihood | diagnosis | status | prior x1/2 | prior x2 |" in tail
    md_rows = [line for line in tail.splitlines() if line.startswith("| ") and "---" not in line]
    assert [line.split(" | ")[0][2:] for line in md_rows[1:]] == targets
    assert "not yet available" not in tail.lower() and "breadth" in tail
    assert any("prior sensitivity (power-scaling) of breadth" in m for m in said)


def test_failed_gate_is_warned_about(built):
    # prior draws never pass the gate
    _, _, run, said, html, md = built
    assert not run.content.convergence.passed
    assert 'id="convergence-warning"' in html and "not reliable" in html
    assert md.split("\n")[2].startswith("> **WARNING:")
    assert any(m.startswith("WARNING: the fit after wave 'w2'") for m in said)
    assert set(run.content.summary["confidence"]) == {"ungraded"}


def test_recording_methods_priors_and_command_are_v2s(built):
    _, _, run, _, html, md = built
    assert 'id="recording"' in html and "interview = not recorded (declared)" in html
    # nesting not declared: only the base's description says so
    assert 'id="nesting"' not in html and "Declared in evidence.toml ([nesting])" not in md
    assert "not declared: a CMOC's and its mechanism's counts are separate" in md
    methods = html.split('<section id="methods">')[1].split("</section>")[0]
    assert "model v2, the measurement model" in methods and "direction not tested" in methods
    assert "Support for" not in methods
    priors = dict(run.content.priors)
    assert "evidencing spread across targets, sigma_b" in priors
    assert "CMOC pooling distribution" not in priors
    # model v2 is the default: the command that rebuilds the report names no model file
    assert "v2 (measurement)" in html and "--model" not in md.split("- command:")[1].split("\n")[0]


def test_markdown_summary_table(built):
    md = built[-1]
    assert "| target | type | mechanism | status | breadth [90%] | direction [90%] | depth" in md
    c3 = next(line for line in md.splitlines() if line.startswith("| C3 | cmoc |"))
    assert "direction not tested" in c3
    c1 = next(line for line in md.splitlines() if line.startswith("| C1 | cmoc |"))
    assert "direction not tested" not in c1


def test_actions_rest_on_breadth_and_status(built):
    _, _, run, _, html, _ = built
    a = run.content.actions.set_index("action_id").loc["A1"]
    s = run.content.summary.set_index("target_id")
    assert a["rests_on_status"] == f"C1={s.at['C1', 'status']};C3={s.at['C3', 'status']}"
    assert a["weakest"] in ("C1", "C3")
    assert "rests on (breadth, status)" in html


def test_same_inputs_and_seed_give_the_same_bytes(built, tmp_path):
    directory, out, run, _, _, _ = built
    assert run.content.plan is not None and run.content.plan.targets  # the plan is on
    again = tmp_path / "b"
    shutil.copytree(directory, again, ignore=shutil.ignore_patterns(".cmoc"))
    clear_cache()
    with mocked(), small_v2_plan():  # fitted and planned again from scratch, same seed
        build_report_for(again, V2, tiny_sampler(), out=tmp_path / "out")
    for name in FILES:
        assert (tmp_path / "out" / name).read_bytes() == (out / name).read_bytes(), name


def test_one_wave_base_where_no_kind_records_refutes(tmp_path):
    directory = _base(tmp_path / "b", waves='"w1"', recording="")
    with mocked():
        idata = fit(load_evidence(directory), V2, sampler=tiny_sampler())
    path = save_fit(idata, tmp_path / "fit.nc")
    with mocked(), small_v2_plan():
        run = build_report_from_fit(path, out=tmp_path / "out", say=lambda m: None)
    c = run.content
    assert c.measurement and c.changes is None
    assert not c.summary["direction_testable"].any()
    # the plan, computed and not saved; new reviews (refutes partly recorded: R1's refutes
    # row) cannot make a direction testable, so decisive can only mean affirmed
    assert c.plan is not None and c.plan.settings.kind == "review"
    assert not (tmp_path / ".cmoc").exists() and not (tmp_path / "plan.json").exists()
    status = c.summary.set_index("target_id")["status"]
    assert list(c.plan.targets) == list(status[status == "inconclusive"].index)
    assert c.refutes_recording == {"review": "partial", "interview": "not recorded"}
    assert ("decisive can only mean affirmed" in plan_paragraph(c)) == bool(c.plan.targets)
    if c.plan.targets:
        assert (c.plan.table["p_refuted"] == 0).all() and (c.plan.table["p_contested"] == 0).all()
    html = render_html(c)
    assert 'id="changes-table"' not in html and 'id="waves"' not in html
    table = _tables(html)["cmoc-table"]
    assert all(row[7] == "direction not tested" for row in table[1:])
    assert "the report of one saved fit" in html


def test_command_line_report_of_a_v2_fit(tmp_path, capsys):
    directory = _base(tmp_path / "b")
    model = tmp_path / "v2.toml"
    model.write_text('model = "measurement"\n')
    out = tmp_path / "report"
    with mocked(), small_v2_plan():
        code = main(
            ["report", str(directory), "--model", str(model), "--out", str(out), "--pdf", *TINY]
        )
    assert code == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[:-1] == [str(out / name) for name in (*FILES, "report.pdf")]
    figures = sorted((out / "figures").iterdir())
    assert lines[-1] == f"{out / 'figures'}{os.sep} ({len(figures)} figures report.md links)"
    assert "skipping" not in captured.err and "fitting the comparison models" in captured.err
    assert "planning for the inconclusive targets, CMOCs and mechanisms" in captured.err
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    frame = pd.read_csv(io.StringIO((out / "summary.csv").read_text()))
    assert "breadth_mean" in frame and "direction_testable" in frame


def test_hostile_ids_and_names_stay_text(tmp_path, monkeypatch):
    from markdown_it import MarkdownIt

    from test_escaping import BONUS, _hostile

    directory = _base(tmp_path / "hostile")
    for name in ("mechanisms.csv", "cmocs.csv", "sources.csv", "codings.csv", "actions.csv"):
        path = directory / name
        path.write_text(_hostile(path.read_text().replace("Trust", f'"{BONUS}"')))
    # a plan of every target (hostile ids in its table, sentences and figure)
    monkeypatch.setattr(
        PLAN_MODULE, "plan_result", lambda idata, evidence, **kw: fake_plan(idata, evidence)
    )
    with mocked():
        run = build_report_for(directory, V2, tiny_sampler(), out=tmp_path / "out")
    assert BONUS in run.content.mechanism_names.values()  # a $ in a figure's text: no mathtext
    assert list(run.content.plan.targets) == list(run.base.targets.index)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<b>C3</b>" not in html and "&lt;b&gt;C3&lt;/b&gt;" in html
    plan_html = _plan_html(html)
    assert "<b>" not in plan_html and '<tr data-target="&lt;b&gt;C3&lt;/b&gt;"' in plan_html
    assert [r[0] for r in _tables(html)["plan-table"][2:]] == list(run.base.targets.index)

    page = (
        MarkdownIt("commonmark")
        .enable("table")
        .render((tmp_path / "out" / "report.md").read_text())
    )
    assert "<b>" not in page and "<script" not in page
    (table,) = [t.split("</table>")[0] for t in page.split("<table>")[1:] if "<th>breadth [" in t]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    cells = [re.findall(r"<t[dh]>(.*?)</t[dh]>", r, flags=re.S) for r in rows]
    assert {len(r) for r in cells} == {13}  # no row broken by a |
    assert {r[0] for r in cells[1:]} >= {"=1+1", "a|b", "&lt;b&gt;C3&lt;/b&gt;", "[/x]"}
    # the plan's table too: a row per plan row, none broken, the ids as text
    (plan_md,) = [t for t in page.split("<table>")[1:] if "± MC error (largest)" in t]
    rows = re.findall(r"<tr>(.*?)</tr>", plan_md.split("</table>")[0], flags=re.S)
    cells = [re.findall(r"<t[dh]>(.*?)</t[dh]>", r, flags=re.S) for r in rows]
    assert {len(r) for r in cells} == {14} and len(cells) == 1 + len(run.base.targets)
    assert [unescape(r[0]) for r in cells[1:]] == list(run.base.targets.index)


def test_pdf_carries_the_new_sections_and_is_deterministic(built):
    from cmoc.reports.pdf import PdfUnavailableError, render_pdf, require_pdf

    try:
        require_pdf()
    except PdfUnavailableError as err:
        pytest.skip(str(err))
    pypdf = pytest.importorskip("pypdf", reason="pypdf is not installed (make setup)")
    html = built[4]
    first = render_pdf(html)
    assert render_pdf(html) == first  # same report, same bytes
    reader = pypdf.PdfReader(io.BytesIO(first))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    for heading in (
        "Posterior predictive check",
        "Influence of single units of evidence",
        "moved most by (left out)",
        "Moved most by",
    ):
        assert heading in text or heading.lower() in text.lower(), heading
    assert "The evidence was replicated from the fitted model v2" in text
    assert "was left out in turn" in text
    assert "Pareto k above 0.7" in text


def test_pdf_tables_stay_within_the_page(built):
    # a PDF cannot scroll a table sideways: every table cell ends inside the right margin
    from cmoc.reports.pdf import PdfUnavailableError, lay_out, require_pdf

    try:
        require_pdf()
    except PdfUnavailableError as err:
        pytest.skip(str(err))
    document = lay_out(built[4])
    margin = 13 * 96 / 25.4  # PRINT_CSS: 13 mm left and right, in CSS px
    beyond = [
        (number, type(box).__name__, round(box.position_x + box.margin_width() - page.width))
        for number, page in enumerate(document.pages, 1)
        for box in page._page_box.descendants()
        if type(box).__name__ in ("TableBox", "TableCellBox")
        and box.position_x + box.margin_width() > page.width - margin + 0.5
    ]
    assert beyond == [], beyond[:5]


def test_every_number_leads_to_its_rows(built):
    """Issue 17, deliverable 3: an evidence entry per target, reached from the tables."""
    _, _, run, _, html, md = built
    trail = {e.target_id: e for e in run.content.trail}
    c1 = trail["C1"]
    assert (c1.supports, c1.refutes) == ("5", "1")
    per = {s["source"].split(":")[0]: (s["supports"], s["refutes"]) for s in c1.per_source}
    # the interviews' refutes are declared not recorded: not zero, unknown
    assert per == {"R1": ("2", "1"), "R2": ("1", "0"), "I2": ("2", "not recorded")}
    assert [r["line"] for r in c1.rows] == sorted(r["line"] for r in c1.rows)
    # the open band of the wave total counts its lower bound, said so
    assert trail["C2"].supports == ">= 2"
    assert any(r["source"] == "total over the sources of wave w2" for r in trail["C2"].rows)
    assert trail["M1"].related == ["C1", "C2"] and not trail["M1"].rows
    # HTML: collapsible entries, no script, reached from the mechanism and CMOC tables
    assert html.count('<details id="trail-') == len(run.content.trail)
    assert f'<a href="#{c1.anchor}">C1</a>' in html
    entry = html.split(f'<details id="{c1.anchor}"')[1].split("</details>")[0]
    assert "codes over every wave: 5 supporting; refuting: 1" in entry
    assert "<td>R1: " in entry or "<td>R1</td>" in entry
    assert "<script" not in html
    # Markdown: the same entries
    assert "## Evidence behind each number" in md and "### C1: ctx one -&gt; M1" not in md
    assert "### C1: ctx one -\\> M1 -\\> out one (+)" in md
    assert "Codes over every wave: 5 supporting; refuting: 1" in md


def test_refutes_not_recorded_are_said_so_in_the_trail():
    from cmoc.evidence import load_evidence
    from cmoc.reports.trail import evidence_trail

    trail = {e.target_id: e for e in evidence_trail(load_evidence(IOC))}
    assert len(trail) == 14 + 45 + 20
    p107 = trail["P1-07"]
    assert [r["line"] for r in p107.rows] == [57]
    assert (p107.supports, p107.refutes) == (">= 1", "not recorded")
    assert trail["M01"].refutes == ">= 0 (partly recorded)"
    link = trail["M10->M05"]
    assert {r["target"] for r in link.rows} >= {"P1-06", "P1-12", "P3-R14"}
    assert {r["role"] for r in link.rows} == {"for"}


def test_rameses_items_lead_to_sections_the_report_has(built):
    """Issue 17, deliverable 6: both standards' items, served by sections present or left."""
    _, _, _, _, html, md = built
    table = html.split('id="rameses-table"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(RAMESES I+)</td><td class=\"num\">(\d+)</td>", table)
    assert rows.count(("RAMESES II", "1")) == 1 and len(rows) == 20 + 19
    for anchor in set(re.findall(r'href="#([\w-]+)"', table)):
        assert f'id="{anchor}"' in html, anchor
    served = '<a href="#findings">Findings</a>, <a href="#cerqual">'
    assert f"Summary of findings</td><td>{served}" in table
    assert 'Funding and conflict of interest</td><td><span class="muted">left to the' in table
    assert '<a href="#recording-whatif">What the recording of refutes decides</a>' in table
    assert "## Reporting standards (RAMESES)" in md and "| RAMESES I | 10 | Data extraction |" in md


def test_the_report_opens_with_its_findings(built):
    """Issue 17, deliverable 1: counts per status, each target with its numbers, assumptions."""
    _, _, run, _, html, md = built
    assert html.index('id="findings"') < html.index('id="evidence"') < html.index('id="methods"')
    s = run.content.summary
    section = html.split('<section id="findings">')[1].split("</section>")[0]
    n_cmocs = int((s["target_type"] == "cmoc").sum())
    assert f"of {n_cmocs} CMOCs" in section
    # every target named in the opening leads to its evidence entry, with its interval
    anchors = {e.target_id: e.anchor for e in run.content.trail}
    for tid in s.loc[s["target_type"] == "mechanism", "target_id"]:
        assert f'<a href="#{anchors[tid]}">{tid}</a>' in section
    row = s.set_index("target_id").loc["C1"]
    assert f"breadth {row.breadth_mean:.2f} [{row.breadth_lo:.2f}, {row.breadth_hi:.2f}]" in section
    # the assumption that drives every status, with its effect in numbers
    testable = int((s["direction_testable"].astype(str).str.lower() == "true").sum())
    assert f"the direction of {testable} of {len(s)} targets can be tested" in section
    assert "interview: not recorded" in section
    assert "## Findings" in md and md.index("## Findings") < md.index("## Breadth, direction")
