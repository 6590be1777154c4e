"""Updating: append a wave, refit, and say what the new wave changed.

Above :mod:`cmoc.analyses.checks` (the change report names the units that moved each target).
"""

from .update import CHANGE_COLUMNS, UpdateResult, change_report, update

__all__ = ["CHANGE_COLUMNS", "UpdateResult", "change_report", "update"]
