"""Model checks: posterior predictive, prior sensitivity, influence of each unit, comparison.

Above :mod:`cmoc.analyses.inference`.
"""

from .compare import VARIANTS, ComparisonSettings, ModelComparison, compare_fits, compare_models
from .influence import (
    INFLUENCE_COLUMNS,
    KHAT_MAX,
    MEASUREMENT_INFLUENCE_COLUMNS,
    InfluenceCheck,
    InfluenceSettings,
    check_influence,
    evidence_units,
    influence,
    measurement_influence,
    moved_most,
    pointwise_loglik,
    refit_unreliable,
)
from .measurement_pointwise import measurement_pointwise, measurement_unit_table
from .predictive import (
    MEASUREMENT_PPC_COLUMNS,
    PPC_COLUMNS,
    PredictiveCheck,
    PredictiveSettings,
    check_predictive,
    measurement_predictive,
    posterior_predictive,
    ppc_summary,
)
from .recording_whatif import (
    WHATIF_COLUMNS,
    recording_whatif,
    refutes_read_as_none,
    whatif_fit_or_reuse,
    whatif_fit_path,
)
from .sensitivity import (
    PRIOR_NAMES,
    SENSITIVITY_COLUMNS,
    SensitivityCheck,
    SensitivitySettings,
    check_sensitivity,
    prior_sensitivity,
    sensitivity_tree,
)

__all__ = [
    "INFLUENCE_COLUMNS",
    "KHAT_MAX",
    "MEASUREMENT_INFLUENCE_COLUMNS",
    "MEASUREMENT_PPC_COLUMNS",
    "PPC_COLUMNS",
    "PRIOR_NAMES",
    "SENSITIVITY_COLUMNS",
    "VARIANTS",
    "WHATIF_COLUMNS",
    "ComparisonSettings",
    "InfluenceCheck",
    "InfluenceSettings",
    "ModelComparison",
    "PredictiveCheck",
    "PredictiveSettings",
    "SensitivityCheck",
    "SensitivitySettings",
    "check_influence",
    "check_predictive",
    "check_sensitivity",
    "compare_fits",
    "compare_models",
    "evidence_units",
    "influence",
    "measurement_influence",
    "measurement_pointwise",
    "measurement_predictive",
    "measurement_unit_table",
    "moved_most",
    "pointwise_loglik",
    "posterior_predictive",
    "ppc_summary",
    "prior_sensitivity",
    "recording_whatif",
    "refit_unreliable",
    "refutes_read_as_none",
    "sensitivity_tree",
    "whatif_fit_or_reuse",
    "whatif_fit_path",
]
