"""Which model fits a base when none is named: model v2, or model v1 where v2 cannot yet."""

from __future__ import annotations

import warnings

from ..evidence import EvidenceBase
from .config import DEFAULT_CONFIG, V1_CONFIG, ModelConfig
from .measurement_data import measurement_problem

__all__ = ["ModelFallbackWarning", "config_for", "default_config_for"]


class ModelFallbackWarning(UserWarning):
    """Model v1 is fitted because model v2, the default, does not fit the base's layout yet."""


def default_config_for(evidence: EvidenceBase) -> tuple[ModelConfig, str | None]:
    """Return the default configuration for ``evidence`` and, on a fallback, why.

    Model v2 (:data:`DEFAULT_CONFIG`) unless the base has a layout of totals it does not fit
    yet (:class:`~cmoc.models.UnsupportedLayout`), then model v1 (:data:`V1_CONFIG`) with the
    reason. A base that contradicts its own ``[recording]`` keeps model v2, whose build then
    says what is wrong.
    """
    problem = measurement_problem(evidence)
    if problem is None or not problem[1]:
        return DEFAULT_CONFIG, None
    return V1_CONFIG, (
        f"model v2, the default, does not fit this base's layout yet ({problem[0]}); "
        'fitting model v1 (model = "hierarchical") instead'
    )


def config_for(evidence: EvidenceBase, config: ModelConfig | None = None) -> ModelConfig:
    """Return ``config``, or when None the default for ``evidence`` (warning on a fallback).

    Raises
    ------
    ModelFallbackWarning
        As a warning, when model v1 is chosen in place of model v2.
    """
    if config is not None:
        return config
    chosen, why = default_config_for(evidence)
    if why is not None:
        warnings.warn(why, ModelFallbackWarning, stacklevel=2)
    return chosen
