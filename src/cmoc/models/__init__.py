"""Models: PyMC model builders (evidence base in, ``pm.Model`` out; no file I/O here)."""

from .config import DEFAULT_CONFIG, ModelConfig, Prior
from .data import ModelData, model_data, without_unit
from .hierarchical import build_model

__all__ = [
    "DEFAULT_CONFIG",
    "ModelConfig",
    "ModelData",
    "Prior",
    "build_model",
    "model_data",
    "without_unit",
]
