"""A fit's provenance, read through one typed accessor: :meth:`Provenance.of`.

:func:`~cmoc.analyses.fitting.provenance.stamp` writes the provenance into a fit's attrs as
strings (JSON for the structured ones); code that needs any of it reads it here rather than
from ``idata.attrs["..."]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import xarray as xr

__all__ = ["Provenance"]


def _json(attrs: dict, key: str, default: Any) -> Any:
    raw = attrs.get(key)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class Provenance:
    """What produced a fit (the attrs :func:`~cmoc.analyses.fitting.provenance.provenance` builds).

    Attributes
    ----------
    cmoc_version, evidence_name, evidence_hash, model_name, model_id : str
        Empty when the fit does not say.
    model_config : str
        The model configuration as JSON (``ModelConfig.model_validate_json`` reads it).
    sampler : dict
        Sampler settings (sampler, seed, chains, draws, tune, ...).
    waves : tuple of str
        The evidence's waves.
    packages : dict of str to str
        Versions of the packages the fit depends on.
    measurement_priors : str
        Model v2's priors the fit was made with, as JSON (empty for model v1, and for v2 fits
        saved before they were recorded).
    model_code : str
        Fingerprint of the model and fitting code that made the fit (empty for fits saved
        before it was recorded).
    """

    cmoc_version: str = ""
    evidence_name: str = ""
    evidence_hash: str = ""
    model_name: str = ""
    model_id: str = ""
    model_config: str = ""
    sampler: dict[str, Any] = field(default_factory=dict)
    waves: tuple[str, ...] = ()
    packages: dict[str, str] = field(default_factory=dict)
    measurement_priors: str = ""
    model_code: str = ""

    @classmethod
    def of(cls, idata: xr.DataTree) -> Provenance:
        """Read the provenance of a fit (missing attrs: empty values, never an error)."""
        attrs = dict(idata.attrs)
        return cls(
            cmoc_version=str(attrs.get("cmoc_version", "")),
            evidence_name=str(attrs.get("evidence_name", "")),
            evidence_hash=str(attrs.get("evidence_hash", "")),
            model_name=str(attrs.get("model_name", "")),
            model_id=str(attrs.get("model_id", "")),
            model_config=str(attrs.get("model_config", "")),
            sampler=dict(_json(attrs, "sampler", {})),
            waves=tuple(_json(attrs, "evidence_waves", [])),
            packages=dict(_json(attrs, "packages", {})),
            measurement_priors=str(attrs.get("measurement_priors", "")),
            model_code=str(attrs.get("model_code", "")),
        )

    @property
    def config(self) -> dict[str, Any]:
        """The model configuration as a dict (empty when the fit does not say)."""
        return dict(_json({"c": self.model_config}, "c", {}))

    @property
    def seed(self) -> int:
        """The sampler's seed (0 when the fit does not say)."""
        return int(self.sampler.get("seed", 0))
