"""Reports: tables and reports built from fitted results (no sampling here)."""

from .build import build_report
from .content import ReportContent, report_content
from .html import methods_paragraph, render_html
from .tables import FORMATS, render_changes, render_summary, rounded

__all__ = [
    "FORMATS",
    "ReportContent",
    "build_report",
    "methods_paragraph",
    "render_changes",
    "render_html",
    "render_summary",
    "report_content",
    "rounded",
]
