"""Fitting: sample, stamp provenance, store and reuse fits, the convergence gate.

The lowest layer of :mod:`cmoc.analyses` (imports only :mod:`cmoc.evidence` and
:mod:`cmoc.models`). :mod:`~cmoc.analyses.fitting.store` names every path cmoc derives inside a
base's ``.cmoc/`` folder.
"""

from .attrs import Provenance
from .convergence import ConvergenceCheck, GateThresholds, check_convergence
from .provenance import package_versions, provenance
from .result import AnalysisResult, Settings, load_result, result_kinds
from .reuse import check_context, context_fit_or_reuse, fit_or_reuse
from .sampling import SAMPLERS, SamplerConfig, SamplerError, fit, sample_model
from .store import (
    EVIDENCE_GROUP,
    PLAN_FILE,
    FitEvidenceError,
    FitFileError,
    FitMismatchError,
    context_fit_path,
    default_calibration_path,
    default_fit_path,
    default_plan_path,
    evidence_tree,
    fit_config,
    fit_evidence,
    fit_file_name,
    fit_id,
    fit_mismatches,
    load_fit,
    read_json_result,
    results_dir,
    save_fit,
    saved_calibration_paths,
    variant_path,
    write_json_result,
)
from .waves import fit_waves

__all__ = [
    "EVIDENCE_GROUP",
    "PLAN_FILE",
    "SAMPLERS",
    "AnalysisResult",
    "ConvergenceCheck",
    "FitEvidenceError",
    "FitFileError",
    "FitMismatchError",
    "GateThresholds",
    "Provenance",
    "SamplerConfig",
    "SamplerError",
    "Settings",
    "check_context",
    "check_convergence",
    "context_fit_or_reuse",
    "context_fit_path",
    "default_calibration_path",
    "default_fit_path",
    "default_plan_path",
    "evidence_tree",
    "fit",
    "fit_config",
    "fit_evidence",
    "fit_file_name",
    "fit_id",
    "fit_mismatches",
    "fit_or_reuse",
    "fit_waves",
    "load_fit",
    "load_result",
    "package_versions",
    "provenance",
    "read_json_result",
    "result_kinds",
    "results_dir",
    "sample_model",
    "save_fit",
    "saved_calibration_paths",
    "variant_path",
    "write_json_result",
]
