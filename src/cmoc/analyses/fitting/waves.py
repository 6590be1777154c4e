"""The posterior after each wave: every wave's fit made or reused, under the base's writer lock."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ...evidence import EvidenceBase, load_evidence
from ...evidence.lock import writing
from ...models import ModelConfig, config_for
from .reuse import fit_or_reuse
from .sampling import SamplerConfig
from .store import default_fit_path

__all__ = ["fit_waves"]


def fit_waves(
    directory: str | Path,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    progress: bool = False,
) -> dict[str, tuple[EvidenceBase, xr.DataTree, str]]:
    """Fit the evidence known after each wave (exact refits on the accumulated evidence).

    Without ``config``, every wave gets the default model for the whole base
    (:func:`~cmoc.models.config_for`). Saved fits are reused while evidence, model and sampler
    settings match: the newest wave's is ``DIR/.cmoc/fit.nc``, earlier waves'
    :func:`~cmoc.analyses.default_fit_path` (``DIR/.cmoc/fit-<slug>-<hash>.nc``). The base is
    read, and its fits checked, made and saved, under its writer lock
    (:mod:`cmoc.evidence.lock`), so another command cannot change it meanwhile.

    Returns
    -------
    dict
        Wave label to ``(evidence up to that wave, fit, how it was obtained)``, in wave order.
    """
    load_evidence(directory)  # a bad base is refused before the lock writes anything
    with writing(directory, "fit every wave"):
        base = load_evidence(directory)
        config = config_for(base, config)  # one model for every wave: the whole base's
        out = {}
        for wave in base.waves:
            newest = wave == base.waves[-1]
            ev = base if newest else base.up_to(wave)
            path = default_fit_path(directory, None if newest else wave)
            idata, how = fit_or_reuse(ev, path, config, sampler, progress=progress)
            out[wave] = (ev, idata, how)
    return out
