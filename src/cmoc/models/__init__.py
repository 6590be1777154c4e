"""Models: PyMC model builders (evidence base in, ``pm.Model`` out; no file I/O here)."""

from .numerics import exact_float_math, use_exact_float_math

use_exact_float_math()  # before any compile: same numbers with a cold or a warm compile cache

from .choice import ModelFallbackWarning, config_for, default_config_for  # noqa: E402
from .config import DEFAULT_CONFIG, V1_CONFIG, ModelConfig, Prior  # noqa: E402
from .data import ModelData, model_data, without_unit  # noqa: E402
from .hierarchical import build_model  # noqa: E402
from .measurement import MeasurementPriors, build_measurement_model  # noqa: E402
from .measurement_data import (  # noqa: E402
    RECORDING_LEVELS,
    MeasurementData,
    UnsupportedLayout,
    measurement_data,
    measurement_problem,
)
from .structure import structure_hint  # noqa: E402

__all__ = [
    "DEFAULT_CONFIG",
    "RECORDING_LEVELS",
    "V1_CONFIG",
    "MeasurementData",
    "MeasurementPriors",
    "ModelConfig",
    "ModelData",
    "ModelFallbackWarning",
    "Prior",
    "UnsupportedLayout",
    "build_measurement_model",
    "build_model",
    "config_for",
    "default_config_for",
    "exact_float_math",
    "measurement_data",
    "measurement_problem",
    "model_data",
    "structure_hint",
    "use_exact_float_math",
    "without_unit",
]
