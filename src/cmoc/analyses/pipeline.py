"""Fit once, reuse after: the saved fit is used again while evidence, model and sampler match."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import xarray as xr

from ..evidence import EvidenceBase
from ..models import DEFAULT_CONFIG, ModelConfig
from .results import FitMismatchError, fit_mismatches, load_fit, save_fit
from .sampling import SamplerConfig, fit

__all__ = ["fit_or_reuse"]


def fit_or_reuse(
    evidence: EvidenceBase,
    path: str | Path,
    config: ModelConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    progress: bool = False,
) -> tuple[xr.DataTree, str]:
    """Return the fit saved at ``path`` if it matches, else fit, save and return it.

    Parameters
    ----------
    evidence : EvidenceBase
    path : str or Path
        Where the fit is kept.
    config : ModelConfig, optional
    sampler : SamplerConfig, optional
    progress : bool

    Returns
    -------
    (xarray.DataTree, str)
        The fit, and why it was reused or (re)fitted, in words.
    """
    cfg = config or DEFAULT_CONFIG
    s = (sampler or SamplerConfig()).validated()
    path = Path(path)
    reason = "no saved fit"
    if path.is_file():
        try:
            saved = load_fit(path)
        except (OSError, ValueError, FitMismatchError) as err:
            reason = f"the saved fit could not be read ({err})"
        else:
            problems = fit_mismatches(saved, evidence, cfg, asdict(s))
            if not problems:
                return saved, f"reused the saved fit {path} (evidence, model and sampler unchanged)"
            reason = "; ".join(problems)
    idata = fit(evidence, cfg, s, progress=progress)
    save_fit(idata, path)
    return idata, f"fitted ({reason}); saved to {path}"
