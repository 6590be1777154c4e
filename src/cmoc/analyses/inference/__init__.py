"""Inference: what a fit says about each target (summary, status, evidence level, confidence).

Above :mod:`cmoc.analyses.fitting`; :mod:`~cmoc.analyses.inference.draws` holds the posterior
draws of support that the summary, the confidence grade and the checks share.
"""

from .classify import STATUSES, Status, classify
from .confidence import CONCERN_TEXT, CONCERNS, CONFIDENCE_COLUMNS, GRADES, UNGRADED, confidence
from .draws import support_draws
from .levels import predictive_levels
from .summary import DEFAULT_CI, SUMMARY_COLUMNS, summarize

__all__ = [
    "CONCERNS",
    "CONCERN_TEXT",
    "CONFIDENCE_COLUMNS",
    "DEFAULT_CI",
    "GRADES",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "UNGRADED",
    "Status",
    "classify",
    "confidence",
    "predictive_levels",
    "summarize",
    "support_draws",
]
