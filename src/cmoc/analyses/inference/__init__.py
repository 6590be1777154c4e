"""Inference: what a fit says about each target (summary, status, evidence level, confidence).

Above :mod:`cmoc.analyses.fitting`; :mod:`~cmoc.analyses.inference.draws` holds the posterior
draws of support that the summary, the confidence grade and the checks share.
"""

from .classify import STATUSES, Status, classify
from .confidence import CONCERN_TEXT, CONCERNS, CONFIDENCE_COLUMNS, GRADES, UNGRADED, confidence
from .context import (
    CONTEXT_COLUMNS,
    ContextError,
    context_estimates,
    group_contexts,
    is_context_fit,
    report_group_levels,
)
from .draws import support_draws
from .levels import predictive_levels
from .links import link_draws, summarize_links
from .measurement import (
    MEASUREMENT_COLUMNS,
    classify_measurement,
    is_measurement_fit,
    measurement_draws,
    summarize_measurement,
)
from .paths import (
    MAX_LINKS,
    OUTCOME_PATH_COLUMNS,
    PATH_COLUMNS,
    PathError,
    link_holds,
    outcome_paths,
    theory_paths,
    web_graph,
)
from .summary import DEFAULT_CI, SUMMARY_COLUMNS, summarize

__all__ = [
    "CONCERNS",
    "CONCERN_TEXT",
    "CONFIDENCE_COLUMNS",
    "CONTEXT_COLUMNS",
    "DEFAULT_CI",
    "GRADES",
    "MAX_LINKS",
    "MEASUREMENT_COLUMNS",
    "OUTCOME_PATH_COLUMNS",
    "PATH_COLUMNS",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "UNGRADED",
    "ContextError",
    "PathError",
    "Status",
    "classify",
    "classify_measurement",
    "confidence",
    "context_estimates",
    "group_contexts",
    "is_context_fit",
    "is_measurement_fit",
    "link_draws",
    "link_holds",
    "measurement_draws",
    "outcome_paths",
    "predictive_levels",
    "report_group_levels",
    "summarize",
    "summarize_links",
    "summarize_measurement",
    "support_draws",
    "theory_paths",
    "web_graph",
]
