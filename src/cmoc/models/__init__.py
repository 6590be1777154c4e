"""Models: PyMC model builders (evidence base in, ``pm.Model`` out; no file I/O here)."""

from .numerics import exact_float_math, use_exact_float_math

use_exact_float_math()  # before any compile: same numbers with a cold or a warm compile cache

from .config import DEFAULT_CONFIG, ModelConfig, Prior  # noqa: E402
from .data import ModelData, model_data, without_unit  # noqa: E402
from .hierarchical import build_model  # noqa: E402

__all__ = [
    "DEFAULT_CONFIG",
    "ModelConfig",
    "ModelData",
    "Prior",
    "build_model",
    "exact_float_math",
    "model_data",
    "use_exact_float_math",
    "without_unit",
]
