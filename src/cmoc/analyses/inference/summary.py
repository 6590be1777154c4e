"""Summaries of a fit: one row per target (CMOC or mechanism) and wave."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ...defaults import CI as DEFAULT_CI
from ...evidence import EvidenceBase
from ..fitting.attrs import Provenance
from ..fitting.cache import per_fit
from ..fitting.convergence import check_convergence
from .classify import classify
from .confidence import CONFIDENCE_IN_SUMMARY, confidence
from .draws import support_draws
from .levels import predictive_levels
from .measurement import is_measurement_fit, summarize_measurement

__all__ = ["DEFAULT_CI", "SUMMARY_COLUMNS", "summarize"]

SUMMARY_COLUMNS = [
    "target_id",
    "target_type",
    "mechanism_id",
    "origin",
    "wave",
    "support_mean",
    "support_sd",
    "support_lo",
    "support_hi",
    "p_supported",
    "codes",
    "evidence_level",
    "evidence_level_p",
    "expected_codes",
    "status",
    "ess_bulk",
    "ess_tail",
    "r_hat",
    "converged",
    *CONFIDENCE_IN_SUMMARY,
]


@per_fit
def summarize(
    idata: xr.DataTree, evidence: EvidenceBase, *, ci: float = DEFAULT_CI
) -> pd.DataFrame:
    """Summarise support per CMOC and mechanism for the newest wave of a fit.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence`` (from :func:`cmoc.analyses.fit` or :func:`load_fit`).
    evidence : EvidenceBase
        The evidence the fit was made from.
    ci : float
        Probability of the equal-tailed credible interval (default 0.9).

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`: support (posterior mean, sd, interval), ``p_supported`` =
        P(support > 1/2), the codes of the wave and its evidence level (for a band spanning
        levels, the most probable level under the posterior predictive, with its probability
        ``evidence_level_p``; ``expected_codes`` is the predictive mean), status, and the
        convergence diagnostics of the target's support (``converged``: the whole fit's gate),
        and the confidence grade with its components and the numbers behind them (see
        :func:`cmoc.analyses.confidence`; ``ungraded`` when the fit failed the gate).
    """
    if is_measurement_fit(idata):
        return summarize_measurement(idata, evidence, ci=ci)
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    draws = support_draws(idata)
    dims = ("chain", "draw")
    alpha = (1 - ci) / 2
    q = draws.quantile([alpha, 1 - alpha], dim=dims)
    ds = draws.to_dataset(name="support")
    rhat = (
        az.rhat(ds)["support"] if draws.sizes["chain"] > 1 else draws.isel(chain=0, draw=0) * np.nan
    )
    frame = pd.DataFrame(
        {
            "target_id": draws["target"].values,
            "support_mean": draws.mean(dims).values,
            "support_sd": draws.std(dims).values,
            "support_lo": q.isel(quantile=0).values,
            "support_hi": q.isel(quantile=1).values,
            "p_supported": (draws > 0.5).mean(dims).values,
            "ess_bulk": az.ess(ds, method="bulk")["support"].values,
            "ess_tail": az.ess(ds, method="tail")["support"].values,
            "r_hat": np.asarray(rhat),
        }
    ).set_index("target_id")
    targets = evidence.targets.reindex(frame.index)
    frame["target_type"] = targets["target_type"]
    frame["mechanism_id"] = targets["mechanism_id"]
    frame["origin"] = targets["origin"]
    newest = evidence.waves[-1]
    frame["wave"] = newest
    seed = Provenance.of(idata).seed
    levels = predictive_levels(idata, evidence, newest, seed=seed)
    for col in ("codes", "evidence_level", "evidence_level_p", "expected_codes"):
        frame[col] = levels[col].reindex(frame.index)
    frame["status"] = classify(evidence, frame["p_supported"])
    frame["converged"] = check_convergence(idata).passed
    frame = frame.reset_index()
    grades = confidence(idata, evidence, frame).set_index("target_id")
    for col in CONFIDENCE_IN_SUMMARY:
        frame[col] = grades[col].reindex(frame["target_id"]).to_numpy()
    return frame[SUMMARY_COLUMNS]
