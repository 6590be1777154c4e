"""The report as readers see it: rendered in headless Chromium, and typeset as a PDF.

The browser test needs Chromium from the system packages (``apt-get install chromium``; ``.ci/run``
installs it) and skips, saying so, without it. The PDF tests need the ``pdf`` extra (WeasyPrint
and its Pango libraries) and skip, saying what is missing, without them.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from cmoc.reports import build_report

TINY = ["--seed", "7", "--draws", "60", "--tune", "60", "--chains", "2"]


@pytest.fixture(scope="module")
def content(small_report_content):
    return small_report_content


@pytest.fixture(scope="module")
def html_file(content, small_base, tmp_path_factory):
    out = tmp_path_factory.mktemp("browser-report")
    build_report(small_base, content, out)
    return out / "report.html"


def _chromium() -> str:
    """The system Chromium, or skip saying why and how to get it."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make setup)")
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    pytest.skip(
        "no Chromium on this machine: the browser test uses the system's Chromium "
        "(Debian/Ubuntu: `apt-get install chromium`, or run `.ci/run`, which installs it)"
    )


def test_report_renders_in_chromium_without_errors(html_file, content, tmp_path):
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    errors: list[str] = []
    external: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
            )
            page.on("pageerror", lambda err: errors.append(f"page error: {err}"))

            def route(r):
                # the report is self-contained: anything but the file itself is a defect
                if r.request.url.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    external.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(html_file.as_uri(), wait_until="load")

            for section in ("#mechanisms", "#cmocs", "#forest", "#checks", "#reproducibility"):
                loc = page.locator(section)
                assert loc.is_visible(), section
                assert loc.inner_text().strip(), section
                box = loc.bounding_box()
                assert box and box["height"] > 50, section

            summary = content.summary
            n_mech = int((summary["target_type"] == "mechanism").sum())
            n_cmoc = int((summary["target_type"] == "cmoc").sum())
            assert page.locator("#mechanism-table tr:has(td)").count() == n_mech
            assert page.locator("#cmoc-table tr:has(td)").count() == n_cmoc

            svgs = page.locator("figure svg")
            n_figs = 4 if len(content.waves) > 1 else 3  # theory, forest, (trajectory), ppc
            assert svgs.count() == n_figs
            for i in range(svgs.count()):
                svg = svgs.nth(i)
                svg.scroll_into_view_if_needed()
                assert svg.is_visible(), f"figure {i}"
                box = svg.bounding_box()
                assert box and box["width"] > 200 and box["height"] > 100, f"figure {i}: {box}"
                assert svg.locator("path").count() > 10, f"figure {i} is empty"
            # the figures fit the page: no horizontal scrolling
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280

            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert not external, f"the report fetched external resources: {external}"
    assert shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


# ---------------------------------------------------------------------------------------------
# PDF


def _require_pdf():
    from cmoc.reports.pdf import PdfUnavailableError, require_pdf

    try:
        require_pdf()
    except PdfUnavailableError as err:
        pytest.skip(str(err))
    return pytest.importorskip("pypdf", reason="pypdf is not installed (make setup)")


def _path_ops(page) -> int:
    """Count the path-drawing operators of a page (vector figures draw thousands)."""
    data = page.get_contents().get_data()
    xobjects = page["/Resources"].get("/XObject") or {}
    for ref in xobjects.values():
        obj = ref.get_object()
        if obj.get("/Subtype") == "/Form":
            data += b"\n" + obj.get_data()
    return len(re.findall(rb"(?m)(?:^| )[clm]$", data))


def test_pdf_holds_the_tables_and_figures(content, small_base, tmp_path):
    pypdf = _require_pdf()
    out = tmp_path / "out"
    written = build_report(small_base, content, out, pdf=True)
    assert out / "report.pdf" in written
    reader = pypdf.PdfReader(out / "report.pdf")
    texts = [page.extract_text() for page in reader.pages]
    text = " ".join(" ".join(texts).split())
    for heading in ("Methods", "Mechanisms", "CMOCs", "Model checks", "Priors"):
        assert heading in text, heading
    for target in content.summary["target_id"]:
        assert target in text, target
    row = content.summary.iloc[0]
    assert f"{row['support_mean']:.2f}" in text
    assert reader.metadata.title.startswith(content.title)
    # each figure (text drawn as paths) is on the page of its caption
    captions = ["Mechanisms (inner ring)", "Posterior mean support (marker)", "Each unit of"]
    if len(content.waves) > 1:
        captions.append("Support of each mechanism after each wave")
    for caption in captions:
        pages = [i for i, t in enumerate(texts) if caption in " ".join(t.split())]
        assert pages, caption
        assert _path_ops(reader.pages[pages[0]]) > 300, caption


def test_pdf_is_deterministic_with_dates_only_from_source_date_epoch(html_file, monkeypatch):
    pypdf = _require_pdf()
    from cmoc.reports.pdf import render_pdf

    html = html_file.read_text(encoding="utf-8")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = render_pdf(html)
    time.sleep(1.1)  # the embedded fonts must not carry the clock (fontTools stamps them)
    assert render_pdf(html) == first
    assert "SOURCE_DATE_EPOCH" not in os.environ  # restored after rendering
    assert "/CreationDate" not in pypdf.PdfReader(io.BytesIO(first)).metadata
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    dated = render_pdf(html)
    meta = pypdf.PdfReader(io.BytesIO(dated)).metadata
    assert meta["/CreationDate"].startswith("D:20231114221320")
    assert meta["/ModDate"] == meta["/CreationDate"]


def test_pdf_without_weasyprint_exits_2_and_writes_nothing(small_base, tmp_path, monkeypatch):
    from cmoc.cli import main

    base = tmp_path / "base"
    shutil.copytree(small_base.path, base, ignore=shutil.ignore_patterns(".cmoc"))
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as if not installed
    out = tmp_path / "out"
    assert main(["report", str(base), "--out", str(out), "--pdf", *TINY]) == 2
    assert not out.exists()
    assert not (base / ".cmoc").exists()  # refused before fitting


def test_pdf_missing_message_says_how_to_install(monkeypatch, capsys, tmp_path):
    from cmoc.cli import main

    monkeypatch.setitem(sys.modules, "weasyprint", None)
    assert main(["report", str(tmp_path), "--pdf"]) == 2
    err = capsys.readouterr().err
    assert "cmoc[pdf]" in err and "pip install" in err


def test_missing_pango_is_explained(monkeypatch):
    import importlib.abc

    from cmoc.reports.pdf import PdfUnavailableError, require_pdf

    class NoPango(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "weasyprint":  # what cffi raises when libpango cannot be opened
                raise OSError("cannot load library 'libpango-1.0-0': No such file")
            return None

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPango(), *sys.meta_path])
    with pytest.raises(PdfUnavailableError, match=r"apt-get install libpango-1\.0-0"):
        require_pdf()


def test_a_reader_opens_an_entry_sees_its_passage_and_an_override(tmp_path):
    """Issue 17, deliverable 9: the findings first, an evidence entry opening on a click and
    showing its passage, and a reviewer's override beside the computed grade."""
    from playwright.sync_api import sync_playwright

    from conftest import mocked_report
    from test_links_planted import PLANTED, draw_web_base

    executable = _chromium()
    base_dir = draw_web_base(tmp_path / "web", 3, PLANTED)
    source = (base_dir / "codings.csv").read_text().splitlines()[1].split(",")[0]
    (base_dir / "excerpts.csv").write_text(
        "source_id,target_id,stance,text,location\n"
        f'{source},S1,supports,"Trust <grew> once the budget was shared.",p. 4\n'
    )
    (base_dir / "judgements.csv").write_text(
        "target_id,component,level,reason,reviewer,date\n"
        "S1,confidence,high,three sites agree,CD,2026-12-05\n"
    )
    mocked_report(base_dir, tmp_path / "out", "--no-context")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((tmp_path / "out" / "report.html").as_uri())
            # the findings come first: the first section a reader meets
            first = page.locator("section").first
            assert first.get_attribute("id") == "findings" and first.is_visible()
            assert "of 12 CMOCs" in first.inner_text()
            # the CMOC table's id leads to the entry; closed until opened
            entry = page.locator("details.trail", has=page.locator("summary strong", has_text="S1"))
            entry = entry.first
            passage = entry.locator("blockquote.excerpt")
            assert not passage.is_visible()
            entry.locator("summary").click()
            assert passage.is_visible()
            assert "Trust <grew> once the budget was shared." in passage.inner_text()
            assert "p. 4" in passage.inner_text()
            # the override beside the computed grade, with its reason
            row = page.locator('#soqf-table tr[data-target="S1"]')
            text = row.inner_text()
            assert "judged: high" in text and "three sites agree (CD, 2026-12-05)" in text
            assert "computed: " in text
            page.screenshot(path=str(tmp_path / "entry.png"))
        finally:
            browser.close()
