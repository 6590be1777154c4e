"""Posterior predictive checks: whether the fitted model reproduces the counts it was given.

Each unit of evidence (see :mod:`cmoc.analyses.checks.influence`) is checked on the count the model
describes directly: a source's total of exact codes, or an aggregate row's total (banded or
exact). Replicated counts are drawn from the model's own count distributions, once per
posterior draw: negative binomial with the fitted mean and shape (Poisson for the Poisson
likelihood), which is the source's Gamma-Poisson talkativeness integrated out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ...defaults import CI as DEFAULT_CI
from ...defaults import SURPRISE_P
from ...evidence import EvidenceBase
from ...models.data import model_data
from ..fitting.result import AnalysisResult, Settings
from ..fitting.store import fit_config
from .influence import evidence_units, pointwise_values

__all__ = [
    "PPC_COLUMNS",
    "SURPRISE_P",
    "PredictiveCheck",
    "PredictiveSettings",
    "check_predictive",
    "posterior_predictive",
    "ppc_summary",
]

PPC_COLUMNS = [
    "unit",
    "unit_type",
    "label",
    "wave",
    "kind",
    "observed",
    "observed_lo",
    "observed_hi",
    "predicted_mean",
    "predicted_lo",
    "predicted_hi",
    "p_value",
    "surprising",
]


def _draw_counts(rng, mean: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Negative binomial (Gamma-Poisson) counts with the given means and shapes, or Poisson."""
    if alpha is None:
        return rng.poisson(mean)
    return rng.poisson(rng.gamma(alpha, mean / alpha))


def _observed_text(lo: int, hi: int) -> str:
    if hi == lo:
        return str(lo)
    return f">={lo}" if hi < 0 else f"{lo}-{hi}"


def posterior_predictive(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    seed: int = 0,
    ci: float = DEFAULT_CI,
) -> pd.DataFrame:
    """Check every unit's observed count against its posterior predictive distribution.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence``.
    evidence : EvidenceBase
        The evidence the fit was made from.
    seed : int
        Seed of the replicated counts (same seed, same table).
    ci : float
        Probability of the predictive interval.

    Returns
    -------
    pandas.DataFrame
        :data:`PPC_COLUMNS`, one row per unit. ``observed`` is the count or band as given
        (``observed_hi`` -1: unbounded); ``p_value`` is the two-sided predictive p-value
        ``min(1, 2 min(P(rep <= hi), P(rep >= lo)))``, small when the model rarely produces a
        count as low or as high as the one observed; ``surprising`` marks p below
        :data:`SURPRISE_P` (0.05).
    """
    config, _ = fit_config(idata)
    d = model_data(evidence, group_effects=config.group_effects)
    units = evidence_units(evidence)
    rng = np.random.default_rng(seed)
    post = idata["posterior"].to_dataset()
    negbin = config.likelihood == "negbin"
    flat = ("chain", "draw")

    rate = pointwise_values(idata, evidence, ["source_rate"])["source_rate"]
    rate = rate.stack(sample=flat).transpose("sample", "source").values
    phi = post["dispersion"].stack(sample=flat).values[:, None] if negbin else None
    reps = [_draw_counts(rng, rate, None if phi is None else np.broadcast_to(phi, rate.shape))]
    lo = [d.src_total.astype(np.int64)]
    hi = [d.src_total.astype(np.int64)]
    kinds = [np.array(d.kinds, dtype=object)[d.src_kind]]
    if d.agg_label:
        mean = post["total_mean"].stack(sample=flat).transpose("sample", "aggregate").values
        alpha = (
            post["total_alpha"].stack(sample=flat).transpose("sample", "aggregate").values
            if negbin
            else None
        )
        reps.append(_draw_counts(rng, mean, alpha))
        lo.append(d.agg_lo)
        hi.append(d.agg_hi)
        member_kinds = pd.Series(np.array(d.kinds, dtype=object)[d.src_kind[d.agg_src]])
        per_row = member_kinds.groupby(d.agg_row).agg(lambda k: "/".join(sorted(set(k))))
        kinds.append(per_row.reindex(range(len(d.agg_label))).to_numpy(dtype=object))
    rep = np.concatenate(reps, axis=1)
    lo_all, hi_all = np.concatenate(lo), np.concatenate(hi)
    upper = np.where(hi_all < 0, np.iinfo(np.int64).max, hi_all)
    p_low = (rep <= upper[None, :]).mean(axis=0)
    p_high = (rep >= lo_all[None, :]).mean(axis=0)
    alpha_ci = (1 - ci) / 2
    frame = pd.DataFrame(
        {
            "unit": units.index,
            "unit_type": units["unit_type"].to_numpy(),
            "label": units["label"].to_numpy(),
            "wave": units["wave"].to_numpy(),
            "kind": np.concatenate(kinds),
            "observed": [_observed_text(a, b) for a, b in zip(lo_all, hi_all, strict=True)],
            "observed_lo": lo_all,
            "observed_hi": hi_all,
            "predicted_mean": rep.mean(axis=0),
            "predicted_lo": np.quantile(rep, alpha_ci, axis=0),
            "predicted_hi": np.quantile(rep, 1 - alpha_ci, axis=0),
            "p_value": np.minimum(1.0, 2 * np.minimum(p_low, p_high)),
        }
    )
    frame["surprising"] = frame["p_value"] < SURPRISE_P
    return frame[PPC_COLUMNS]


def ppc_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Summarise a posterior predictive check by wave, unit type and source kind.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`posterior_predictive`.

    Returns
    -------
    pandas.DataFrame
        ``wave, unit_type, kind, units, surprising, share_surprising``: under a model that
        fits, about 5% of units (or fewer, as counts are discrete) are surprising.
    """
    grouped = table.groupby(["wave", "unit_type", "kind"], sort=False)
    out = grouped.agg(units=("unit", "size"), surprising=("surprising", "sum")).reset_index()
    out["share_surprising"] = out["surprising"] / out["units"]
    return out


@dataclass(frozen=True)
class PredictiveSettings(Settings):
    """Settings of a posterior predictive check: ``seed``, ``ci``, ``surprise_p``."""

    seed: int = 0
    ci: float = DEFAULT_CI
    surprise_p: float = SURPRISE_P


class PredictiveCheck(AnalysisResult):
    """A posterior predictive check (an ``AnalysisResult`` of kind ``predictive``).

    ``table``: :func:`posterior_predictive` (:data:`PPC_COLUMNS`); ``passed`` is None (the
    share of surprising units is read, not tested); ``text`` counts the surprising units.
    """

    kind = "predictive"
    settings_type = PredictiveSettings
    what = "predictive check"
    hint = "saved posterior predictive check"


def check_predictive(
    idata: xr.DataTree, evidence: EvidenceBase, *, seed: int = 0, ci: float = DEFAULT_CI
) -> PredictiveCheck:
    """Run :func:`posterior_predictive` and return it as a result with its reading.

    Parameters are those of :func:`posterior_predictive`.

    Returns
    -------
    PredictiveCheck
    """
    table = posterior_predictive(idata, evidence, seed=seed, ci=ci)
    settings = PredictiveSettings(seed=int(seed), ci=float(ci))
    n, k = len(table), int(table["surprising"].sum())
    text = (
        f"{k} of {n} units of evidence surprising (two-sided posterior predictive p < "
        f"{SURPRISE_P:g}); under a model that fits, about {SURPRISE_P:.0%} or fewer are"
    )
    return PredictiveCheck(table, text, None, settings)
