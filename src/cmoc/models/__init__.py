"""Models: PyMC model builders (evidence base in, ``pm.Model`` out; no file I/O here)."""

from .numerics import exact_float_math, use_exact_float_math

use_exact_float_math()  # before any compile: same numbers with a cold or a warm compile cache

from .choice import ModelFallbackWarning, config_for, default_config_for  # noqa: E402
from .config import DEFAULT_CONFIG, V1_CONFIG, ModelConfig, Prior  # noqa: E402
from .context_classes import (  # noqa: E402
    ContextClasses,
    NotIdentified,
    context_classes,
    group_level_of,
)
from .data import ModelData, model_data, without_unit  # noqa: E402
from .hierarchical import build_model  # noqa: E402
from .measurement import (  # noqa: E402
    CONTEXTS,
    MeasurementPriors,
    build_measurement_model,
    is_context,
)
from .measurement_data import (  # noqa: E402
    RECORDING_LEVELS,
    MeasurementData,
    UnsupportedLayout,
    measurement_data,
    measurement_problem,
)
from .structure import structure_hint  # noqa: E402

__all__ = [
    "CONTEXTS",
    "DEFAULT_CONFIG",
    "RECORDING_LEVELS",
    "V1_CONFIG",
    "ContextClasses",
    "MeasurementData",
    "MeasurementPriors",
    "ModelConfig",
    "ModelData",
    "ModelFallbackWarning",
    "NotIdentified",
    "Prior",
    "UnsupportedLayout",
    "build_measurement_model",
    "build_model",
    "config_for",
    "context_classes",
    "default_config_for",
    "exact_float_math",
    "group_level_of",
    "is_context",
    "measurement_data",
    "measurement_problem",
    "model_data",
    "structure_hint",
    "use_exact_float_math",
    "without_unit",
]
