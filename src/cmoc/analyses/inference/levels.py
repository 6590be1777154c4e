"""Evidence levels where the counts are banded: the posterior predictive decides.

A wave total published as a band that spans levels (``>= 1``: limited, moderate or significant)
does not say which level the evidence reached. Given the fit, the total follows the model's
distribution truncated to the band; drawing it once per posterior draw gives the probability of
each level, and the most probable one is reported with its probability. Model v1: the total's
negative binomial (Poisson). Model v2: the codes of either stance that a block's members give
the target (:func:`_v2_total_pmf`).
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
    idata: xr.DataTree,
    evidence: EvidenceBase,
    wave: str | None = None,
    *,
    seed: int = 0,
    draws_out: dict[str, np.ndarray] | None = None,
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
    draws_out : dict, optional
        Model v2: filled with the predictive draws of the codes (either stance) in the wave of
        every target whose rows there are banded, one per posterior draw (the links' levels
        add them up: :mod:`cmoc.analyses.inference.links`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``target_id``: ``codes`` (as known), ``evidence_level`` (the most probable
        level), ``evidence_level_p`` (its posterior predictive probability; 1 when the codes
        fix the level) and ``expected_codes`` (posterior predictive mean of the supporting codes;
        of model v2, of the codes of either stance).
    """
    wave = wave or evidence.waves[-1]
    post = idata["posterior"].to_dataset()
    v2 = "breadth" in post  # model v2's levels count codes of either stance
    known = (
        observed_codes(evidence, stances=("supports", "refutes"))
        if v2
        else observed_codes(evidence)
    )
    known = known[known["wave"] == wave].set_index("target_id")
    out = known[["codes", "evidence_level"]].copy()
    out["evidence_level_p"] = 1.0
    out["expected_codes"] = known["codes_min"].astype(float)
    if v2:
        return _v2_levels(post, evidence, wave, out, known, seed, draws_out)
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


def _v2_total_pmf(post: xr.Dataset, md, i: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Per draw, block-target ``i``'s recorded codes: ``P(n = x)`` below ``top``, and ``E[n]``.

    The pmf's columns are ``x = 0 .. top - 1`` and, last, ``P(n >= top)``.

    Of the block's ``J_f`` free members each evidences the target with probability ``a b``
    (``breadth``), of its ``n_f`` forced ones with ``b``; ``e`` evidencing members give
    ``e + NB(e mu, e phi)`` codes. Given the parameters, this ignores what the block's other
    rows say about how many members were active (the draws carry it only through ``a``).
    """
    from scipy.special import expit, gammaln

    b, t = int(md.bt_block[i]), int(md.bt_tgt[i])
    k = int(md.block_kind[b])

    def flat(x):
        return x.stack(s=("chain", "draw")).values

    ab = flat(post["breadth"].isel(target=t, kind=k))
    bt = expit(flat(post["evidencing_logit"].isel(target=t)))
    mu = np.exp(
        flat(post["kind_rate"].isel(kind=k))
        + flat(post["depth_target"].isel(target=t))
        + md.block_log_exposure[b]
    )
    phi = flat(post["dispersion"])
    n_f, j_f = int(md.block_forced[b]), int(md.block_free[b])
    mean = (j_f * ab + n_f * bt) * (1.0 + mu)
    # e <= x < top evidencing members matter: P(e) for e = 0 .. top - 1
    e = np.arange(min(j_f + n_f, top - 1) + 1)
    p_e = stats.binom.pmf(e[None, : min(j_f, e[-1]) + 1], j_f, ab[:, None])
    if n_f:
        p_f = stats.binom.pmf(np.arange(n_f + 1)[None, :], n_f, bt[:, None])
        p_e = np.stack([np.convolve(x, y)[: e.size] for x, y in zip(p_e, p_f, strict=True)])
    p_e = np.pad(p_e, ((0, 0), (0, e.size - p_e.shape[1])))
    x = np.arange(top)
    extra = (x[None, :] - e[:, None])[None]  # (1, e, x): codes beyond one per member
    size = phi[:, None, None] * np.maximum(e, 1)[None, :, None]
    m_e = mu[:, None, None] * np.maximum(e, 1)[None, :, None]
    ok = extra >= 0
    xx = np.where(ok, extra, 0)
    log_nb = (
        gammaln(xx + size)
        - gammaln(size)
        - gammaln(xx + 1)
        + size * np.log(size / (size + m_e))
        + xx * np.log(m_e / (size + m_e))
    )
    nb = np.where(ok & (e[None, :, None] >= 1), np.exp(log_nb), 0.0)
    nb[:, 0, 0] = 1.0  # e = 0: no code
    head = np.einsum("se,sex->sx", p_e, nb)
    tail = np.clip(1.0 - head.sum(axis=1, keepdims=True), 0.0, None)
    return np.concatenate([head, tail], axis=1), mean


def _v2_levels(post, evidence, wave, out, known, seed, draws_out=None) -> pd.DataFrame:
    """Predictive levels of a model v2 fit: each banded block-target of the wave, by its pmf.

    Only counts below ``top`` (past the band's finite bounds and the ``significant`` threshold)
    are told apart; larger ones are drawn as ``top`` (a level no higher than significant), and
    the predictive mean is exact: ``E[n | band]`` from ``E[n]`` and the pmf below ``lo``.
    """
    from ...evidence.recording import refutes_recording
    from ...models import measurement_data

    md = measurement_data(evidence, {k: r.refutes for k, r in refutes_recording(evidence).items()})
    targets = md.data.targets
    w = evidence.waves.index(wave)
    thresholds = evidence.config.thresholds
    rng = np.random.default_rng(seed)
    n_s = post.sizes["chain"] * post.sizes["draw"]
    banded = md.bt_lo != np.where(md.bt_hi < 0, -2, md.bt_hi)
    per_target: dict[str, list[int]] = {}
    for i in np.flatnonzero(banded & (md.block_wave[md.bt_block] == w)):
        per_target.setdefault(targets[int(md.bt_tgt[i])], []).append(int(i))
    for target, rows in sorted(per_target.items()):
        if target not in out.index:
            continue
        total = np.full(n_s, float(known.at[target, "codes_min"]))
        expected = float(known.at[target, "codes_min"])
        for i in rows:
            lo, hi = int(md.bt_lo[i]), int(md.bt_hi[i])
            top = max(lo, hi, thresholds.significant) + 1
            pmf, mean = _v2_total_pmf(post, md, i, top)
            x = np.arange(top + 1)  # the last value stands for "top or more"
            inside = (x >= lo) & ((hi < 0) | (x <= hi))
            band = np.where(inside, pmf, 0.0)
            mass = band.sum(axis=1)
            cdf = np.cumsum(band, axis=1)
            draw = (cdf < (rng.uniform(size=n_s) * mass)[:, None]).sum(axis=1).clip(lo, top)
            total = total + draw - lo  # codes_min already holds the band's lower bound
            below = x < lo
            if hi < 0:
                cond = (mean - (pmf[:, below] * x[below]).sum(axis=1)) / mass
            else:
                cond = (band[:, :-1] * x[:-1]).sum(axis=1) / mass
            expected += float(np.mean(cond)) - lo
        if draws_out is not None:
            draws_out[target] = total
        levels = pd.Series([level_of_count(x, thresholds) for x in total])
        freq = levels.value_counts(normalize=True)
        out.at[target, "expected_codes"] = expected
        if out.at[target, "evidence_level"] in ("none", "limited", "moderate", "significant"):
            continue  # the band already fixes the level
        out.at[target, "evidence_level"] = str(freq.index[0])
        out.at[target, "evidence_level_p"] = float(freq.iloc[0])
    return out
