"""Inference: what a fit says about each target (summary, status, evidence level, confidence).

Above :mod:`cmoc.analyses.fitting`; :mod:`~cmoc.analyses.inference.draws` holds the posterior
draws of support that the summary, the confidence grade and the checks share.
"""

from .classify import STATUSES, Status, classify
from .confidence import CONCERN_TEXT, CONCERNS, CONFIDENCE_COLUMNS, GRADES, UNGRADED, confidence
from .draws import support_draws
from .levels import predictive_levels
from .measurement import (
    MEASUREMENT_COLUMNS,
    classify_measurement,
    is_measurement_fit,
    measurement_draws,
    summarize_measurement,
)
from .summary import DEFAULT_CI, SUMMARY_COLUMNS, summarize

__all__ = [
    "CONCERNS",
    "CONCERN_TEXT",
    "CONFIDENCE_COLUMNS",
    "DEFAULT_CI",
    "GRADES",
    "MEASUREMENT_COLUMNS",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "UNGRADED",
    "Status",
    "classify",
    "classify_measurement",
    "confidence",
    "is_measurement_fit",
    "measurement_draws",
    "predictive_levels",
    "summarize",
    "summarize_measurement",
    "support_draws",
]
