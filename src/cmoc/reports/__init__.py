"""Reports: tables and reports built from fitted results (no sampling here)."""

from .build import ReportWriteError, build_report, report_slug
from .content import ReportContent, report_content
from .html import methods_paragraph, render_html
from .tables import FORMATS, render_changes, render_summary, rounded

__all__ = [
    "FORMATS",
    "ReportContent",
    "ReportWriteError",
    "build_report",
    "methods_paragraph",
    "render_changes",
    "render_html",
    "render_summary",
    "report_content",
    "report_slug",
    "rounded",
]
