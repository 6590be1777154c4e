"""Reports: tables and reports built from fitted results (no sampling here)."""

from .build import build_report
from .tables import FORMATS, render_changes, render_summary, rounded

__all__ = ["FORMATS", "build_report", "render_changes", "render_summary", "rounded"]
