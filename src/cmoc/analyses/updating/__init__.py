"""Updating: append a wave, refit, and say what the new wave changed.

Above :mod:`cmoc.analyses.checks` (the change report names the units that moved each target).
"""

from .measurement_changes import MEASUREMENT_CHANGE_COLUMNS, measurement_change_report
from .update import CHANGE_COLUMNS, UpdateResult, change_report, update

__all__ = [
    "CHANGE_COLUMNS",
    "MEASUREMENT_CHANGE_COLUMNS",
    "UpdateResult",
    "change_report",
    "measurement_change_report",
    "update",
]
