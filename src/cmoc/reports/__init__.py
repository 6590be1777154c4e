"""Reports: tables and reports built from fitted results (no sampling here)."""

from .build import ReportWriteError, build_report, report_slug
from .content import ReportContent, report_content
from .html import methods_paragraph, render_html
from .pipeline import (
    ReportRun,
    ReportSettingsError,
    build_report_for,
    default_report_dir,
    report_content_for,
    saved_calibration,
)
from .tables import FORMATS, render_changes, render_context, render_summary, rounded

__all__ = [
    "FORMATS",
    "ReportContent",
    "ReportRun",
    "ReportSettingsError",
    "ReportWriteError",
    "build_report",
    "build_report_for",
    "default_report_dir",
    "methods_paragraph",
    "render_changes",
    "render_context",
    "render_html",
    "render_summary",
    "report_content",
    "report_content_for",
    "report_slug",
    "rounded",
    "saved_calibration",
]
