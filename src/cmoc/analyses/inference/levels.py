"""Evidence levels where the counts are banded: the posterior predictive decides.

A wave total published as a band that spans levels (``>= 1``: limited, moderate or significant)
does not say which level the evidence reached. Given the fit, the total follows the model's
negative binomial (Poisson) truncated to the band; drawing it once per posterior draw gives the
probability of each level, and the most probable one is reported with its probability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ...evidence import EvidenceBase, level_of_count, observed_codes
from ...models import model_data
from ..fitting.attrs import Provenance

__all__ = ["predictive_levels"]


def _truncated_draws(mean, alpha, lo, hi, poisson, rng) -> np.ndarray:
    """One draw per posterior draw from the count distribution truncated to ``[lo, hi]``."""
    dist = stats.poisson(mean) if poisson else stats.nbinom(alpha, alpha / (alpha + mean))
    f_lo = dist.cdf(lo - 1) if lo > 0 else np.zeros_like(mean)
    f_hi = np.ones_like(mean) if hi is None else dist.cdf(hi)
    u = f_lo + rng.uniform(size=mean.shape) * np.maximum(f_hi - f_lo, 0.0)
    x = dist.ppf(np.clip(u, 0.0, 1.0 - 1e-15))
    upper = np.inf if hi is None else hi
    return np.clip(x, lo, upper)


def predictive_levels(
    idata: xr.DataTree, evidence: EvidenceBase, wave: str | None = None, *, seed: int = 0
) -> pd.DataFrame:
    """Evidence level per target in a wave, resolving banded totals by the posterior predictive.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence``.
    evidence : EvidenceBase
    wave : str, optional
        Default: the newest wave.
    seed : int
        For the predictive draws (same seed, same levels).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``target_id``: ``codes`` (as known), ``evidence_level`` (the most probable
        level), ``evidence_level_p`` (its posterior predictive probability; 1 when the codes
        fix the level) and ``expected_codes`` (posterior predictive mean of the supporting codes).
    """
    wave = wave or evidence.waves[-1]
    known = observed_codes(evidence)
    known = known[known["wave"] == wave].set_index("target_id")
    out = known[["codes", "evidence_level"]].copy()
    out["evidence_level_p"] = 1.0
    out["expected_codes"] = known["codes_min"].astype(float)
    post = idata["posterior"].to_dataset()
    if "total_mean" not in post:
        return out
    poisson = Provenance.of(idata).config.get("likelihood") == "poisson"
    means = post["total_mean"].stack(s=("chain", "draw")).transpose("aggregate", "s")
    alphas = None if poisson else post["total_alpha"].stack(s=("chain", "draw"))
    labels = list(post["aggregate"].values)
    data = model_data(evidence)
    if data.agg_label != labels:
        raise ValueError("the fit's totals do not match the evidence's: refit")
    cod = evidence.codings.assign(wave=evidence.coding_waves())
    rows = cod[(cod["wave"] == wave) & (cod["stance"] == "supports")]
    thresholds = evidence.config.thresholds
    rng = np.random.default_rng(seed)
    for target, group in rows.groupby("target_id", sort=True):
        banded = group[group["banded"]]
        if banded.empty or target not in out.index:
            continue
        level_known = out.at[target, "evidence_level"]
        exact = float(group.loc[~group["banded"], "count_min"].sum())
        total = np.full(means.sizes["s"], exact)
        for r in banded.itertuples():
            label = f"codings.csv:{r.line}"
            if label not in labels:  # every source of the total had its own exact row
                continue
            i = labels.index(label)
            m = means.isel(aggregate=i).values
            a = None if poisson else alphas.isel(aggregate=i).values
            # the model's total is net of the exact rows inside it (those are in `exact`
            # when they belong to this wave and target); draw the net part
            lo, hi = int(data.agg_lo[i]), int(data.agg_hi[i])
            total = total + _truncated_draws(m, a, lo, None if hi < 0 else hi, poisson, rng)
        levels = pd.Series([level_of_count(x, thresholds) for x in total])
        freq = levels.value_counts(normalize=True)
        out.at[target, "expected_codes"] = float(total.mean())
        if level_known in ("none", "limited", "moderate", "significant"):
            continue  # the band already fixes the level
        out.at[target, "evidence_level"] = str(freq.index[0])
        out.at[target, "evidence_level_p"] = float(freq.iloc[0])
    return out
