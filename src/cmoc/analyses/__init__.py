"""Analyses: fit, summarise, check and simulate (uses ``cmoc.evidence`` and ``cmoc.models``)."""

from .calibration import (
    CALIBRATION_QUANTITIES,
    CalibrationLayout,
    CalibrationResult,
    calibrate,
    rank_uniformity,
    run_on_dask,
)
from .classify import STATUSES, classify
from .compare import VARIANTS, ModelComparison, compare_fits, compare_models, variant_path
from .confidence import CONCERN_TEXT, CONCERNS, CONFIDENCE_COLUMNS, GRADES, confidence
from .diagnostics import ConvergenceCheck, GateThresholds, check_convergence
from .influence import (
    INFLUENCE_COLUMNS,
    KHAT_MAX,
    evidence_units,
    influence,
    moved_most,
    pointwise_loglik,
    refit_unreliable,
)
from .pipeline import fit_or_reuse
from .plan import PLAN_COLUMNS, plan, plan_figure, psis_versus_refit
from .predictive import PPC_COLUMNS, posterior_predictive, ppc_summary
from .provenance import package_versions, provenance
from .results import (
    FitMismatchError,
    default_fit_path,
    fit_config,
    fit_mismatches,
    load_fit,
    save_fit,
)
from .sampling import SAMPLERS, SamplerConfig, SamplerError, fit, sample_model
from .sensitivity import PRIOR_NAMES, SENSITIVITY_COLUMNS, prior_sensitivity, sensitivity_tree
from .simulate import SimulationSpec, simulate, simulate_tables
from .summary import DEFAULT_CI, SUMMARY_COLUMNS, summarize
from .update import CHANGE_COLUMNS, UpdateResult, change_report, fit_waves, update

__all__ = [
    "CALIBRATION_QUANTITIES",
    "CHANGE_COLUMNS",
    "CONCERNS",
    "CONCERN_TEXT",
    "CONFIDENCE_COLUMNS",
    "DEFAULT_CI",
    "GRADES",
    "INFLUENCE_COLUMNS",
    "KHAT_MAX",
    "PLAN_COLUMNS",
    "PPC_COLUMNS",
    "PRIOR_NAMES",
    "SAMPLERS",
    "SENSITIVITY_COLUMNS",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "VARIANTS",
    "CalibrationLayout",
    "CalibrationResult",
    "ConvergenceCheck",
    "FitMismatchError",
    "GateThresholds",
    "ModelComparison",
    "SamplerConfig",
    "SamplerError",
    "SimulationSpec",
    "UpdateResult",
    "calibrate",
    "change_report",
    "check_convergence",
    "classify",
    "compare_fits",
    "compare_models",
    "confidence",
    "default_fit_path",
    "evidence_units",
    "fit",
    "fit_config",
    "fit_mismatches",
    "fit_or_reuse",
    "fit_waves",
    "influence",
    "load_fit",
    "moved_most",
    "package_versions",
    "plan",
    "plan_figure",
    "pointwise_loglik",
    "posterior_predictive",
    "ppc_summary",
    "prior_sensitivity",
    "provenance",
    "psis_versus_refit",
    "rank_uniformity",
    "refit_unreliable",
    "run_on_dask",
    "sample_model",
    "save_fit",
    "sensitivity_tree",
    "simulate",
    "simulate_tables",
    "summarize",
    "update",
    "variant_path",
]
