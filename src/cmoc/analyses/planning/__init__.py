"""Planning: the next sources (preposterior simulation), calibration, independent runs on Dask.

Above :mod:`cmoc.analyses.checks`, beside :mod:`cmoc.analyses.updating`.
"""

from .calibration import (
    CALIBRATION_QUANTITIES,
    CalibrationResult,
    CalibrationSettings,
    calibrate,
    find_calibration,
    load_calibration,
    rank_uniformity,
    save_calibration,
)
from .parallel import run_on_dask
from .plan import (
    PLAN_COLUMNS,
    REPORT_PLAN,
    PlanResult,
    PlanSettings,
    load_plan,
    plan,
    plan_or_reuse,
    plan_result,
    psis_versus_refit,
    save_plan,
)
from .plan_measurement import PLAN_V2_COLUMNS, REPORT_PLAN_V2

__all__ = [
    "CALIBRATION_QUANTITIES",
    "PLAN_COLUMNS",
    "PLAN_V2_COLUMNS",
    "REPORT_PLAN",
    "REPORT_PLAN_V2",
    "CalibrationResult",
    "CalibrationSettings",
    "PlanResult",
    "PlanSettings",
    "calibrate",
    "find_calibration",
    "load_calibration",
    "load_plan",
    "plan",
    "plan_or_reuse",
    "plan_result",
    "psis_versus_refit",
    "rank_uniformity",
    "run_on_dask",
    "save_calibration",
    "save_plan",
]
