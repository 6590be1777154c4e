"""Every output escapes what it must: CSV formula cells, Markdown and HTML, Rich markup, mathtext.

The evidence base is the tiny one of ``evidence_fixtures`` with hostile ids and names: CMOC ids
``=1+1``, ``a|b``, ``<b>C3</b>``, ``@SUM(A1)``, mechanism ids ``[/x]`` and ``[bold]M2``, source
ids ``-2+3`` and ``+I1``, mechanism names ``<script>alert(1)</script>`` and
``Bonus $\\undefined$``, a definition with ``|`` and a line break, and a title with HTML,
Markdown and mathtext in it. Fits are draws from the prior (``pymc.testing.mock_sample``) in
place of NUTS: what is under test is the formatting, not the posterior.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from cmoc.cli import main
from cmoc.evidence.csvsafe import FORMULA_PREFIXES, frame_to_csv, needs_escape
from conftest import ROOT, tiny_sampler
from evidence_fixtures import BASE_FILES, make_base

TINY = ["--seed", "7", "--chains", "2", "--draws", "60", "--tune", "60"]
"""The settings of ``tiny_sampler()`` on the command line (saved fits are reused)."""

HOSTILE_IDS = {
    "M1": "[/x]",
    "M2": "[bold]M2",
    "C1": "=1+1",
    "C2": "a|b",
    "C3": "<b>C3</b>",
    "C4": "@SUM(A1)",
    "R1": "-2+3",
    "I1": "+I1",
}
TITLE = "<i>T</i> | $x$ [a](b) #"
SCRIPT = "<script>alert(1)</script>"
BONUS = "Bonus $\\undefined$"


def _hostile(text: str) -> str:
    for old, new in HOSTILE_IDS.items():
        cell = '"' + new.replace('"', '""') + '"' if any(c in new for c in ',"') else new
        text = re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", lambda _, cell=cell: cell, text)
    return text


def hostile_files() -> dict[str, str]:
    """The tiny base's files with hostile ids, names and title."""
    files = {k: _hostile(v) for k, v in BASE_FILES.items() if k != "evidence.toml"}
    files["mechanisms.csv"] = (
        files["mechanisms.csv"]
        .replace("Trust,", f"{SCRIPT},")
        .replace("Faith,", f"{BONUS},")
        .replace("Willingness to accept vulnerability", '"a | b\nc"')
    )
    files["evidence.toml"] = BASE_FILES["evidence.toml"].replace(
        'title = "A tiny evidence base"', f'title = "{TITLE}"'
    )
    return files


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory, mocked_sampling):
    """The hostile base, with (mocked) fits of both waves saved in DIR/.cmoc."""
    from cmoc.analyses import fit_waves

    directory = make_base(tmp_path_factory.mktemp("hostile"), **hostile_files())
    fit_waves(directory, sampler=tiny_sampler())
    return directory


@pytest.fixture(scope="module")
def content(hostile_dir):
    from cmoc.analyses import fit_waves
    from cmoc.evidence import load_evidence
    from cmoc.reports import report_content

    base = load_evidence(hostile_dir)
    fits = fit_waves(hostile_dir, sampler=tiny_sampler())
    return base, report_content(base, {w: (ev, f) for w, (ev, f, _) in fits.items()})


@pytest.fixture(scope="module")
def built(content, tmp_path_factory):
    """The report files of the hostile base: name -> text."""
    from cmoc.reports import build_report

    base, c = content
    out = tmp_path_factory.mktemp("built") / "report"
    build_report(base, c, out)
    return {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
        for p in out.rglob("*")
        if p.is_file()
    }


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_no_formula_cell(text: str, verbatim: tuple[str, ...] = ()) -> list[list[str]]:
    """Every cell of the CSV ``text`` is a number or text a spreadsheet will not run."""
    rows = list(csv.reader(io.StringIO(text)))
    skip = {i for i, name in enumerate(rows[0]) if name in verbatim}
    for row in rows:
        for i, cell in enumerate(row):
            if i not in skip and not _is_number(cell):
                assert not cell.startswith(FORMULA_PREFIXES), (cell, row)
    return rows


# CSV ---------------------------------------------------------------------------------------


def test_rule_is_the_importers():
    """One rule for every CSV cmoc writes, the QDA importer's included (one function)."""
    from cmoc.evidence.qda import safety

    assert safety.needs_escape is needs_escape
    expected = {"=1": 1, "+1": 1, "-1": 1, "@a": 1, "\tx": 1, "\rx": 1}
    for text in ["=1", "+1", "-1", "@a", "\tx", "\rx", "x=1", "", "'=1", " =1", "a-b"]:
        assert needs_escape(text) == bool(expected.get(text)), text
    assert safety.csv_text(["id"], [{"id": "=1+1"}]) == "id\n'=1+1\n"


def test_text_cells_are_escaped_and_numbers_kept():
    frame = pd.DataFrame(
        {
            "id": ["=1+1", "-2+3", "@SUM(A1)", "+x", "\tx", "\rx", "a\r\nb", "ok", None],
            "shift": [-0.25, 0.5, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, float("nan")],
            "n": pd.array([-3, 1, 2, 3, 4, 5, 6, 7, None], dtype="Int64"),
            "sign": ["-", "+", "-", "+", "-", "+", "-", "+", "-"],
            "=w": ["x"] * 9,
        }
    )
    text = frame_to_csv(frame, verbatim=("sign",))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["id", "shift", "n", "sign", "'=w"]
    assert [r[0] for r in rows[1:]] == [
        "'=1+1",
        "'-2+3",
        "'@SUM(A1)",
        "'+x",
        "'\tx",
        "'\nx",
        "a\nb",
        "ok",
        "",
    ]
    assert text.splitlines()[1] == "'=1+1,-0.25,-3,-,x"  # numbers unquoted, unprefixed
    back = pd.read_csv(io.StringIO(text))
    assert back["shift"].dtype == float and back["shift"].iloc[0] == -0.25
    assert back["n"].iloc[0] == -3
    assert list(back["sign"]) == list(frame["sign"])


def test_summary_csv_of_the_report(built):
    rows = assert_no_formula_cell(built["summary.csv"])
    header, body = rows[0], rows[1:]
    ids = [r[header.index("target_id")] for r in body]
    assert ids[:4] == ["'=1+1", "a|b", "<b>C3</b>", "'@SUM(A1)"]
    assert "[/x]" in ids
    summary = pd.read_csv(io.StringIO(built["summary.csv"]))
    assert summary["support_mean"].dtype == float
    # JSON is data, not evaluated: the ids are as they are
    assert '"target_id": "=1+1"' in built["summary.json"]


def test_change_report_csv_keeps_a_negative_shift_a_number(content):
    from cmoc.reports import render_changes

    _, c = content
    frame = c.changes.copy()
    row = frame.index[frame["target_id"] == "=1+1"][0]
    frame.loc[row, "shift"] = -0.25
    text = render_changes(frame, "csv")
    rows = assert_no_formula_cell(text)
    line = next(r for r in rows if r[0] == "'=1+1")
    assert line[rows[0].index("shift")] == "-0.25"


def test_cli_csv_outputs(hostile_dir, capsys):
    for args in (
        ["summary", str(hostile_dir), "--format", "csv"],
        ["summary", str(hostile_dir), "--changes", "--format", "csv"],
        ["check", str(hostile_dir), "--ppc", "--format", "csv", *TINY],
    ):
        capsys.readouterr()
        assert main(args) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert_no_formula_cell(out)
        assert "'=1+1" in out or "'-2+3" in out, args


def test_cli_plan_csv_and_plot(hostile_dir, tmp_path, monkeypatch, capsys):
    """The plan's CSV is escaped and its figure draws a ``$`` in an id as text."""
    table = pd.DataFrame(
        {
            "target_id": ["=1+1", "=1+1", BONUS, BONUS],
            "kind": ["-k"] * 4,
            "p_supported_now": [0.5, 0.5, 0.6, 0.6],
            "n_new": [1, 2, 1, 2],
            "p_settled": [0.1, 0.2, 0.3, 0.4],
            "mc_se": [0.01] * 4,
            "p_affirmed": [0.1, 0.1, 0.2, 0.3],
            "p_refuted": [0.0, 0.1, 0.1, 0.1],
            "simulations": [5] * 4,
            "refits": [0] * 4,
            "unreliable": [0] * 4,
        }
    )

    class Planned:
        pass

    planned = Planned()
    planned.table = table
    planned.settings = Planned()  # a model v1 plan (`cmoc plan` reads settings.model)
    planned.settings.model = "hierarchical"
    # `cmoc plan` looks both up in the public namespace when it runs
    monkeypatch.setattr("cmoc.analyses.plan_result", lambda *a, **k: planned)
    monkeypatch.setattr("cmoc.analyses.save_plan", lambda result, path: path)
    assert main(["plan", str(hostile_dir), "--format", "csv", *TINY]) == 0
    rows = assert_no_formula_cell(capsys.readouterr().out)
    assert [r[0] for r in rows[1:3]] == ["'=1+1", "'=1+1"]
    plot = tmp_path / "plan.svg"
    assert main(["plan", str(hostile_dir), "--plot", str(plot), *TINY]) == 0
    assert _draws_a_dollar(plot.read_text())


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "analyses" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_analysis_scripts_write_escaped_csv(hostile_dir, tmp_path):
    numbers = _script("report_numbers")
    written = numbers.write_numbers(hostile_dir, tmp_path / "n", tiny_sampler(), plan=False)
    assert written
    for path in written:
        assert_no_formula_cell(path.read_text(encoding="utf-8"), verbatim=("sign",))
    cmocs = pd.read_csv(tmp_path / "n" / "cmocs.csv")
    assert list(cmocs["cmoc_id"]) == ["'=1+1", "a|b", "<b>C3</b>", "'@SUM(A1)"]
    assert set(cmocs["sign"]) == {"+", "-"}  # cmoc's own vocabulary, kept
    waves = _script("waves")
    out = tmp_path / "waves.csv"
    assert waves.main([str(hostile_dir), *TINY, "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert_no_formula_cell(text)
    assert "'=1+1" in text


# Markdown and HTML -------------------------------------------------------------------------


def test_report_md_shows_data_as_text(built):
    from markdown_it import MarkdownIt

    md = built["report.md"]
    assert md.startswith("# \\<i\\>T\\</i\\> \\| \\$x\\$ \\[a\\](b) \\#\n")
    page = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    assert "<a " not in page  # [a](b) is no link
    assert "<h1>&lt;i&gt;T&lt;/i&gt; | $x$ [a](b) #</h1>" in page
    (table,) = [t.split("</table>")[0] for t in page.split("<table>")[1:] if "<th>ESS" in t]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    cells = [re.findall(r"<t[dh]>(.*?)</t[dh]>", r, flags=re.S) for r in rows]
    assert {len(r) for r in cells} == {11}  # no row broken by a |
    shown = {r[0]: r for r in cells[1:]}
    assert set(shown) == {
        "=1+1",
        "a|b",
        "&lt;b&gt;C3&lt;/b&gt;",
        "@SUM(A1)",
        "[/x]",
        "[bold]M2",
        "M3",
    }
    assert shown["a|b"][2] == "[/x]"


def test_md_helpers():
    from cmoc.reports.build import md_code, md_fence, md_text

    assert md_text("a|b\nc <x> & $y$") == "a\\|b c \\<x\\> \\& \\$y\\$"
    assert md_text("_a_ *b* support_mean") == "\\_a\\_ \\*b\\* support_mean"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`a") == "`` `a ``"
    assert md_fence("x\n```\ny") == ["````", "x\n```\ny", "````"]


def test_html_escapes_data_and_marks_only_figures_safe(built):
    page = built["report.html"]
    assert SCRIPT not in page and "<b>C3</b>" not in page and "<i>T</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    template = (ROOT / "src" / "cmoc" / "reports" / "templates" / "report.html.j2").read_text()
    safe = re.findall(r"\{\{([^}]*)\|\s*safe", template)
    # a figure, or one part of a figure drawn in parts
    figure = r"\s*figs\.\w+(\[loop\.index0\])?\s*"
    assert safe and all(re.fullmatch(figure, s) for s in safe), safe
    for module in (ROOT / "src" / "cmoc" / "reports").glob("*.py"):
        assert "Markup(" not in module.read_text(), module


# Rich --------------------------------------------------------------------------------------


def test_rich_tables_show_markup_as_text(content):
    from cmoc.reports import render_changes, render_summary

    _, c = content
    meta = {"evidence": "[red]base", "wave": "[/w]", "ci": 0.9, "converged": True}
    table = render_summary(c.summary, "table", meta)
    for text in ("[/x]", "[bold]M2", "[red]base", "[/w]"):
        assert text in table
    assert "[/x]" in render_changes(c.changes, "table")


def test_cli_summary_table_with_markup_ids(hostile_dir, capsys):
    assert main(["summary", str(hostile_dir)]) == 0
    out = capsys.readouterr().out
    assert "[/x]" in out and "[bold]M2" in out


def _split_hostile(directory: Path) -> tuple[Path, Path]:
    """The hostile base of its first wave, and its second wave as a batch."""
    files = hostile_files()
    files["evidence.toml"] = files["evidence.toml"].replace(
        'waves = ["review", "interviews"]', 'waves = ["review"]'
    )
    sources = files["sources.csv"].splitlines(keepends=True)
    codings = files["codings.csv"].splitlines(keepends=True)
    first = [s for s in sources[1:] if ",review," in s]
    late = [c for c in codings[1:] if not c.startswith(("-2+3,", "R2,", "review,"))]
    files["sources.csv"] = sources[0] + "".join(first)
    files["codings.csv"] = codings[0] + "".join(c for c in codings[1:] if c not in late)
    files["actions.csv"] = None
    base = make_base(directory, **files)
    batch = directory / "batch"
    batch.mkdir()
    (batch / "sources.csv").write_text(
        sources[0] + "".join(s for s in sources[1:] if s not in first), encoding="utf-8"
    )
    (batch / "codings.csv").write_text(codings[0] + "".join(late), encoding="utf-8")
    return base, batch


def test_update_with_markup_ids_exits_0(tmp_path, mocked_sampling, capsys):
    base, batch = _split_hostile(tmp_path)
    assert main(["update", str(base), "--add", str(batch), *TINY]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "[/x]" in out and "=1+1" in out


def test_printing_failure_after_the_commit_is_no_failed_update(
    tmp_path, mocked_sampling, monkeypatch, capsys
):
    from cmoc.evidence import load_evidence

    base, batch = _split_hostile(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("cannot print")

    monkeypatch.setattr("cmoc.reports.render_changes", broken)
    assert main(["update", str(base), "--add", str(batch), *TINY]) == 0
    err = capsys.readouterr().err
    assert "WARNING: the update succeeded (wave 'interviews' added and fitted)" in err
    assert "RuntimeError: cannot print" in err and "--changes" in err
    assert load_evidence(base).waves == ["review", "interviews"]


# matplotlib --------------------------------------------------------------------------------


def _dollar_glyph() -> str:
    """The id of the ``$`` glyph in the figures' SVG (text is drawn as glyph outlines)."""
    import matplotlib.pyplot as plt

    from cmoc.reports.figures import to_svg

    def glyphs(text: str) -> set[str]:
        fig, ax = plt.subplots()
        ax.text(0, 0, text)
        return set(re.findall(r'<path id="(DejaVuSans-[^"]+)"', to_svg(fig)))

    (glyph,) = glyphs("a$") - glyphs("a")  # one $: no mathtext
    return glyph


def _draws_a_dollar(svg: str) -> bool:
    return f'xlink:href="#{_dollar_glyph()}"' in svg


def test_figures_draw_dollars_as_text(content):
    import matplotlib

    from cmoc.reports import figures

    _, c = content
    names = dict(c.mechanism_names)
    assert BONUS in names.values()
    # $\undefined$ made mathtext fail (the report stopped after fitting); $x$ was typeset
    summary = c.summary.replace({"target_id": {"=1+1": "$x$"}})
    svgs = [
        figures.theory_diagram(c.summary, names),
        *figures.forest(summary, c.ci),
        figures.trajectory(c.trajectory.replace({"wave": {"review": "$r$"}})),
        figures.ppc_figure(c.ppc.replace({"kind": {"review": "$k$"}})),
    ]
    for svg in svgs:
        assert _draws_a_dollar(svg)
    # LaTeX off whatever the user's matplotlibrc says (no LaTeX here: it would fail)
    with matplotlib.rc_context({"text.usetex": True}):
        assert figures.forest(summary, c.ci)[0].startswith("<svg")


def test_report_builds_with_mathtext_in_names(built):
    assert "<svg" in built["report.html"]
