"""The PDF report: the HTML report typeset for print by WeasyPrint (optional extra ``pdf``).

WeasyPrint lays out the same page that ``report.html`` holds (same template, same inline SVG
figures), with a print stylesheet added here: A4 pages, smaller type, table headers repeated on
every page, page numbers, and every table within the page's width (numbers, intervals and
statuses may wrap at their spaces; the two widest tables, CMOCs and the plan, in smaller type),
since a PDF, unlike a browser, cannot scroll a table sideways. It is a Python package
(``pip install cmoc[pdf]``) that needs the Pango text-layout library of the system
(``libpango-1.0-0`` and ``libpangoft2-1.0-0`` on Debian and Ubuntu, present on most desktop
systems); :func:`require_pdf` says which is missing.

The file is deterministic: no creation date unless ``SOURCE_DATE_EPOCH`` is set (then that
date), a document identifier derived from the HTML, and embedded font subsets stamped with that
date (or 0) rather than the clock, so the same report gives the same bytes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from ..evidence import atomic_write_bytes

__all__ = [
    "PRINT_CSS",
    "PdfUnavailableError",
    "lay_out",
    "render_pdf",
    "require_pdf",
    "write_pdf",
]

#: The print stylesheet laid over the report's own styles.
PRINT_CSS = """
@page {
  size: A4;
  margin: 16mm 13mm 17mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; }
}
html { font-size: 8.5pt; }
body { font-size: 8.5pt; max-width: none; margin: 0; padding: 0; }
h1 { font-size: 15pt; }
h2 { font-size: 12pt; break-after: avoid; }
h3 { font-size: 10pt; break-after: avoid; }
nav { display: none; }
table { font-size: 7.5pt; max-width: 100%; break-inside: auto; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { padding: 0.15em 0.3em; overflow-wrap: break-word; }
td.num, th.num, .status { white-space: normal; }
#plan-table, #cmoc-table { font-size: 6.5pt; }
#plan-table td:first-child { white-space: normal; }
figure { break-inside: avoid; }
figure svg { width: 100%; max-height: 235mm; height: auto; }
code { overflow-wrap: anywhere; }
footer { break-before: auto; }
"""

_INSTALL = (
    "the PDF report needs WeasyPrint: install it with `pip install 'cmoc[pdf]'` "
    "(in this checkout: `.venv/bin/pip install -e '.[pdf]'`)"
)
_PANGO = (
    "WeasyPrint is installed but cannot load the Pango text-layout library it needs ({err}); "
    "install it from the system packages (Debian/Ubuntu: "
    "`apt-get install libpango-1.0-0 libpangoft2-1.0-0`; macOS: `brew install pango`)"
)


class PdfUnavailableError(RuntimeError):
    """WeasyPrint, or the system library it needs, is missing; the message says how to fix it."""


def require_pdf() -> ModuleType:
    """Import WeasyPrint, or explain why the PDF report cannot be made.

    Returns
    -------
    module
        The ``weasyprint`` module.

    Raises
    ------
    PdfUnavailableError
        WeasyPrint is not installed, or its system libraries (Pango) cannot be loaded.
    """
    try:
        import weasyprint
    except ImportError as err:
        raise PdfUnavailableError(_INSTALL) from err
    except OSError as err:  # cffi could not open libpango / libgobject
        raise PdfUnavailableError(_PANGO.format(err=err)) from err
    return weasyprint


def _date() -> str | None:
    """``SOURCE_DATE_EPOCH`` as an ISO 8601 date-time (UTC), else None (no date at all)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return None


def _with_print_css(html: str) -> str:
    # after the report's own styles (same origin, later wins), unlike WeasyPrint's
    # `stylesheets`, which are user styles that the page's author styles override
    head_end = html.find("</head>")
    if head_end >= 0:
        return f"{html[:head_end]}<style>{PRINT_CSS}</style>\n{html[head_end:]}"
    return f"<style>{PRINT_CSS}</style>\n{html}"


def lay_out(html: str):
    """Lay the HTML report out in pages as the PDF will have them.

    Parameters
    ----------
    html : str
        A self-contained page (as for :func:`render_pdf`).

    Returns
    -------
    weasyprint.Document
        The pages (``document.pages``), before they are written.

    Raises
    ------
    PdfUnavailableError
        WeasyPrint or its system libraries are missing (see :func:`require_pdf`).
    """
    return require_pdf().HTML(string=_with_print_css(html)).render()


def render_pdf(html: str) -> bytes:
    """Typeset the HTML report as a PDF.

    Parameters
    ----------
    html : str
        A self-contained page (as :func:`cmoc.reports.render_html` returns: figures inline,
        no external files).

    Returns
    -------
    bytes
        The PDF. The same HTML and ``SOURCE_DATE_EPOCH`` give the same bytes.

    Raises
    ------
    PdfUnavailableError
        WeasyPrint or its system libraries are missing (see :func:`require_pdf`).
    """
    document = lay_out(html)
    html = _with_print_css(html)
    date = _date()
    document.metadata.created = date
    document.metadata.modified = date
    identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode("ascii")
    # fontTools stamps each embedded font subset with the time it was made unless
    # SOURCE_DATE_EPOCH is set: without this, two renders a second apart differed in a font
    with _font_timestamp():
        return document.write_pdf(pdf_identifier=identifier)


@contextmanager
def _font_timestamp() -> Iterator[None]:
    """Within the block, ``SOURCE_DATE_EPOCH`` is set (to 0 where the user has not set it)."""
    before = os.environ.get("SOURCE_DATE_EPOCH")
    if before:
        yield
        return
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before


def write_pdf(html: str, path: str | Path) -> Path:
    """Typeset ``html`` (see :func:`render_pdf`) and write it atomically to ``path``.

    Parameters
    ----------
    html : str
        The HTML report.
    path : str or Path
        Destination; its directory must exist.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    atomic_write_bytes(path, render_pdf(html))
    return path
