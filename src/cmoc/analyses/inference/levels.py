"""Evidence levels where the counts are banded: the posterior predictive decides.

A wave total published as a band that spans levels (``>= 1``: limited, moderate or significant)
does not say which level the evidence reached. Given the fit, the total follows the model's
distribution truncated to the band; drawing it once per posterior draw gives the probability of
each level, and the most probable one is reported with its probability. Model v1: the total's
negative binomial (Poisson). Model v2: the codes of either stance that a block's members give
the target given everything its block's rows say (:func:`_v2_block_predictive`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats
from scipy.special import betaln, gammaln, log_expit, logsumexp

from ...evidence import EvidenceBase, level_of_count, observed_codes
from ...models import model_data
from ..fitting.attrs import Provenance
from .draws import flat_draws

__all__ = ["LEVEL_COLUMNS", "open_blocks", "predictive_levels"]

LEVEL_COLUMNS = (
    "codes",
    "evidence_level",
    "evidence_level_p",
    "evidence_level_floor",
    "expected_codes",
)
"""The columns of :func:`predictive_levels` that a summary takes over."""


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
        fix the level), ``evidence_level_floor`` (model v2: the level of the band's lower
        bound where no row of its source kind, or none of its mechanism, bounds a count from
        above, so that the level above it is the model's, not the data's: :func:`open_blocks`;
        empty otherwise) and ``expected_codes`` (posterior predictive mean of the supporting codes;
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
    out["evidence_level_floor"] = ""
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


def open_blocks(md) -> np.ndarray:
    """Per block: whether no row of its source kind, or none of its mechanism, bounds a count.

    Rows bound counts from above where a source coded one by one speaks to a mechanism (exact
    cells, zeros included), a block of totals has a member with cells of its own, leaves one of
    its targets silent (an exact zero), or has a row with an upper bound. Where every row of a
    kind, or of a mechanism in any wave and kind, is an open lower bound (``>= 1``), the
    likelihood only grows with that kind's rates or that mechanism's activation: nothing but the
    priors (a kind's) or the pooling over the other mechanisms (a mechanism's) holds them, and
    a level above a band's floor is the model's, not the data's. An open target in a bounded
    block is not flagged: pooling over the targets is what its predictive rests on by design.

    Parameters
    ----------
    md : MeasurementData

    Returns
    -------
    numpy.ndarray
        ``(n_blocks,)`` bool.
    """
    n_b = len(md.block_mech)
    capped = np.bincount(md.bt_block, weights=md.bt_hi >= 0, minlength=n_b) > 0
    bounded = (md.block_forced > 0) | md.block_zero.any(axis=1) | capped
    kinds = np.isin(md.block_kind, np.concatenate([md.pair_kind, md.block_kind[bounded]]))
    mechs = np.isin(md.block_mech, np.concatenate([md.pair_mech, md.block_mech[bounded]]))
    return ~(kinds & mechs)


def _log_comb(n, k) -> np.ndarray:
    """``log C(n, k)`` (``k <= n``)."""
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


class _Block:
    """What the predictive of block ``b`` needs from the fit, per posterior draw."""

    def __init__(self, post: xr.Dataset, md, b: int):
        self.post, self.md, self.b = post, md, b
        self.rows = np.flatnonzero(md.bt_block == b)
        self.k, m = int(md.block_kind[b]), int(md.block_mech[b])
        self.n_f, self.j_f = int(md.block_forced[b]), int(md.block_free[b])
        self.recorded = md.psi[self.k] == 1
        logit_a = flat_draws(post["activation_mechanism"].isel(mechanism=m))
        if "activation_kind" in post:
            logit_a = logit_a + flat_draws(post["activation_kind"].isel(kind=self.k))
        logit_b = post["evidencing_logit"]
        self.logit_b = flat_draws(logit_b.isel(kind=self.k) if "kind" in logit_b.dims else logit_b)
        zsum = log_expit(-self.logit_b) @ md.block_zero[b]
        kk = np.arange(self.j_f + 1)
        self.log_prior = (
            _log_comb(self.j_f, kk)[None, :]
            + kk[None, :] * (log_expit(logit_a) + zsum)[:, None]
            + (self.j_f - kk)[None, :] * log_expit(-logit_a)[:, None]
        )  # Binom(K; J_f, a) (prod_{Z_free} (1 - b_t))^K
        self.phi = flat_draws(post["dispersion"])
        self.concentration = flat_draws(post["concentration"]) if self.recorded else None
        self.rate = flat_draws(post["kind_rate"].isel(kind=self.k)) + md.block_log_exposure[b]
        self.n_s = logit_a.size
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def var(self, name: str, t: int) -> np.ndarray:
        """Return target ``t``'s draws of a posterior variable (of the block's kind), once."""
        if (name, t) not in self._cache:
            x = self.post[name].isel(target=t)
            self._cache[(name, t)] = flat_draws(x.isel(kind=self.k) if "kind" in x.dims else x)
        return self._cache[(name, t)]

    def grid(self, i: int, top: int = 0) -> int:
        """Return ``n_x``: the counts ``0 .. n_x - 1`` that row ``i`` (and ``top``) tell apart."""
        lo, hi = int(self.md.bt_lo[i]), int(self.md.bt_hi[i])
        need = max(lo if hi < 0 else hi + 1, top + 1 if top else 0, 1)
        # a split weighed: the likelihood's grid of 64 and its tail term
        return max(need + 1, 64) if self.recorded else need

    def terms(self, i: int, kk: np.ndarray, n_x: int, sl: slice):
        """Return row ``i``'s terms on draws ``sl`` at ``K = kk``.

        ``P(n = x | K) H(x)`` within the band, the mass past the grid that is in the band, the
        band's probability ``P_t(n_f + K)`` and ``E[n; band | K]``.
        """
        md, t = self.md, int(self.md.bt_tgt[i])
        lo, hi = int(md.bt_lo[i]), int(md.bt_hi[i])
        act = self.n_f + kk
        n_e = int(min(act.max(initial=0), n_x - 1)) + 1  # e evidencing members give >= e codes
        e, x = np.arange(n_e), np.arange(n_x)
        lb = log_expit(self.logit_b[sl, t])[:, None, None]
        l1b = log_expit(-self.logit_b[sl, t])[:, None, None]
        mu = np.exp(self.rate[sl] + self.var("depth_target", t)[sl])
        phi = self.phi[sl]
        with np.errstate(divide="ignore"):
            log_c = np.where(
                e[None, :] <= act[:, None],
                _log_comb(act[:, None], np.minimum(e[None, :], act[:, None])),
                -np.inf,
            )
        off = np.maximum(act[:, None] - e[None, :], 0)[None]
        wb = np.exp(log_c[None] + e[None, None, :] * lb + off * l1b)  # Binom(e; n_f + K, b)
        extra = x[None, :] - e[:, None]
        ok = (extra >= 0) & (e[:, None] >= 1)
        xx = np.where(ok, extra, 0)[None]
        size = phi[:, None, None] * np.maximum(e, 1)[None, :, None]
        mm = mu[:, None, None] * np.maximum(e, 1)[None, :, None]
        # log NB(y; e mu, e phi) for y = 0 .. n_x - 1 by its ratio recursion (one log a term),
        # then shifted by e: P(e + NB = x)
        y = np.arange(n_x, dtype=float)[None, None, :]
        steps = np.log((y[..., :-1] + size) / (y[..., :-1] + 1.0))
        log_nb = np.concatenate([np.zeros(size.shape), np.cumsum(steps, axis=2)], axis=2)
        log_nb = log_nb + size * np.log(size / (size + mm)) + y * np.log(mm / (size + mm))
        log_g = np.take_along_axis(log_nb, np.broadcast_to(xx, log_nb.shape), axis=2)
        g = np.where(ok[None], np.exp(log_g), 0.0)  # P(e + NB(e mu, e phi) = x)
        g[:, 0, 0] = 1.0  # e = 0: no code
        pmf = np.matmul(wb, g)
        tail = np.clip(1.0 - pmf.sum(axis=2), 0.0, None)  # P(n >= n_x | K)
        h = np.ones((phi.size, n_x + 1))
        if self.recorded:  # H(n): the split's beta-binomial probability
            q = self.var("direction_kind", t)[sl][:, None]
            c = self.concentration[sl][:, None]
            n_all = np.arange(n_x + 1)
            fixed = int(md.bt_fixed[i])
            s_all = fixed if md.bt_fixed_supports[i] else n_all - fixed
            s_all = np.broadcast_to(s_all, n_all.shape)
            s_ok = np.clip(s_all, 0, n_all)
            log_h = (
                _log_comb(n_all, s_ok)
                + betaln(s_ok + c * q, n_all - s_ok + c * (1 - q))
                - betaln(c * q, c * (1 - q))
            )
            h = np.where(((s_all >= 0) & (s_all <= n_all))[None, :], np.exp(log_h), 0.0)
        band = (x >= lo) & ((hi < 0) | (x <= hi))
        inside = np.where(band[None, None, :], pmf * h[:, None, :n_x], 0.0)
        h_tail = h[:, None, n_x] if hi < 0 else np.zeros((phi.size, 1))
        if hi < 0 and not self.recorded:  # exact: one less what lies below the band
            p_t = 1.0 - (pmf * ~band[None, None, :]).sum(axis=2)
        else:
            p_t = inside.sum(axis=2) + tail * h_tail
        # E[n; band | K]: the whole mean less what lies below the band (or the grid's, the
        # tail at its mean, where a split is weighed)
        whole = act[None, :] * np.exp(lb[:, :, 0]) * (1.0 + mu)[:, None]
        grid_mean = (pmf * x[None, None, :]).sum(axis=2)
        mean = (inside * x[None, None, :]).sum(axis=2) + np.maximum(whole - grid_mean, 0.0) * h_tail
        return inside, tail * h_tail, p_t, mean


def _given_k(terms: tuple, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``P(n = x | K, band)`` (``x < top``, then ``n >= top``) and ``E[n | K, band]``."""
    inside, tail, p_t, mean = terms
    safe = np.where(p_t > 0, p_t, 1.0)
    head = inside[:, :, :top]
    rest = inside[:, :, top:].sum(axis=2) + tail
    return np.concatenate([head, rest[:, :, None]], axis=2) / safe[:, :, None], mean / safe


def _chunks(n_s: int, per_draw: int, budget: int = 8_000_000):
    step = max(1, budget // max(per_draw, 1))
    for s0 in range(0, n_s, step):
        yield slice(s0, min(s0 + step, n_s))


def _v2_block_predictive(
    post: xr.Dataset, md, b: int, top: int, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, dict[int, dict[str, np.ndarray]]]:
    """Per draw, the codes of block ``b``'s targets given everything the block's rows say.

    With ``K`` of the block's ``J_f`` free members active, the ``n_f + K`` active members
    evidence target ``t`` independently with probability ``b_t``, ``e`` evidencing members give
    ``e + NB(e mu, e phi)`` codes, and the targets are independent given ``K``. The block's
    likelihood terms (docs/model.md, "Totals and bands") weigh each ``K``::

        w_K  ~  Binom(K; J_f, a) (prod_{Z_free} (1 - b_t))^K prod_t P_t(n_f + K)

    so what the mechanism's other rows and its silent targets say about how many members were
    active reaches every target's predictive. Given ``K``, a target's codes follow its pmf
    restricted to its band (times ``H_t``, the split's probability, where refutes are recorded).
    Two passes: the rows' ``P_t`` give ``w``; then each row again, at the ``K`` that carry
    weight only, for its predictive.

    Parameters
    ----------
    rng : numpy.random.Generator, optional
        Given, one ``K`` is drawn per posterior draw and each row's codes given it (the rows of
        one block drawn together), clipped at ``top``.

    Returns
    -------
    w : numpy.ndarray
        ``(draws, J_f + 1)``: ``P(K | the block's rows)``.
    rows : dict
        Per (block, target) row: ``pmf`` ``(draws, top + 1)``, ``P(n = x | rows)`` for ``x <
        top`` and, last, ``P(n >= top | rows)``; ``mean``, ``E[n | rows]``; with ``rng``,
        ``draws``.
    """
    blk = _Block(post, md, b)
    kk = np.arange(blk.j_f + 1)
    n_all = blk.n_f + blk.j_f + 1
    log_w = blk.log_prior.copy()
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i in blk.rows:  # pass 1: P_t(n_f + K) for every K
        n_x, full = blk.grid(int(i)), max(blk.grid(int(i), top), top + 1)
        # where pass 2's grid is pass 1's (a split weighed: 64), keep the predictive of every
        # K if it is small, rather than compute it twice
        keep = full == n_x and blk.n_s * kk.size * (top + 2) <= 4_000_000
        if keep:
            cond_all, mean_all = np.empty((blk.n_s, kk.size, top + 1)), np.empty((blk.n_s, kk.size))
        for sl in _chunks(blk.n_s, kk.size * n_x * min(n_x, n_all)):
            terms = blk.terms(int(i), kk, n_x, sl)
            with np.errstate(divide="ignore"):
                log_w[sl] += np.log(np.maximum(terms[2], 0.0))
            if keep:
                cond_all[sl], mean_all[sl] = _given_k(terms, top)
        if keep:
            kept[int(i)] = (cond_all, mean_all)
    w = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
    live = np.flatnonzero(w.max(axis=0) > 1e-12)  # the K that carry weight in some draw
    kk = kk[live]
    wl = w[:, live] / w[:, live].sum(axis=1, keepdims=True)
    k_draw = None
    if rng is not None:
        u = rng.uniform(size=blk.n_s)[:, None]
        k_draw = (np.cumsum(wl, axis=1) < u).sum(axis=1).clip(0, kk.size - 1)
    out: dict[int, dict[str, np.ndarray]] = {}
    for i in blk.rows:  # pass 2: each row's predictive over the live K
        n_x = max(blk.grid(int(i), top), top + 1)
        pmf = np.empty((blk.n_s, top + 1))
        mean = np.empty(blk.n_s)
        at_k = np.empty((blk.n_s, top + 1)) if k_draw is not None else None
        for sl in _chunks(blk.n_s, kk.size * n_x * min(n_x, n_all)):
            if int(i) in kept:
                cond, m = kept[int(i)][0][sl][:, live], kept[int(i)][1][sl][:, live]
            else:
                cond, m = _given_k(blk.terms(int(i), kk, n_x, sl), top)
            pmf[sl] = np.einsum("sk,skx->sx", wl[sl], cond)
            mean[sl] = (wl[sl] * m).sum(axis=1)
            if at_k is not None:
                at_k[sl] = cond[np.arange(cond.shape[0]), k_draw[sl]]
        row = {"pmf": pmf, "mean": mean}
        if at_k is not None:
            cdf = np.cumsum(at_k, axis=1)
            u = rng.uniform(size=blk.n_s)[:, None] * cdf[:, -1:]
            row["draws"] = (cdf < u).sum(axis=1).clip(0, top)
        out[int(i)] = row
    return w, out


def _v2_levels(post, evidence, wave, out, known, seed, draws_out=None) -> pd.DataFrame:
    """Predictive levels of a model v2 fit: each banded block-target of the wave.

    The targets of a block are drawn together given all its rows
    (:func:`_v2_block_predictive`).
    Only counts below ``top`` (past the block's finite bounds and the ``significant``
    threshold) are told apart; larger ones are drawn as ``top`` (a level no higher than
    significant), and the predictive mean is exact.
    """
    from ...evidence.recording import refutes_recording
    from ...models import measurement_data

    md = measurement_data(evidence, {k: r.refutes for k, r in refutes_recording(evidence).items()})
    targets = md.data.targets
    w = evidence.waves.index(wave)
    thresholds = evidence.config.thresholds
    rng = np.random.default_rng(seed)
    n_s = post.sizes["chain"] * post.sizes["draw"]
    unbounded = open_blocks(md)
    banded = md.bt_lo != np.where(md.bt_hi < 0, -2, md.bt_hi)
    per_target: dict[str, list[int]] = {}
    for i in np.flatnonzero(banded & (md.block_wave[md.bt_block] == w)):
        per_target.setdefault(targets[int(md.bt_tgt[i])], []).append(int(i))
    wanted = {t for t in per_target if t in out.index}
    blocks = sorted({int(md.bt_block[i]) for t in wanted for i in per_target[t]})
    drawn: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for b in blocks:
        rows = np.flatnonzero(md.bt_block == b)
        finite = np.concatenate([md.bt_lo[rows], md.bt_hi[rows]])
        top = max(int(finite.max()), thresholds.significant) + 1
        for i, row in _v2_block_predictive(post, md, b, top, rng)[1].items():
            drawn[i] = (row["draws"], row["mean"])
    for target, rows in sorted(per_target.items()):
        if target not in wanted:
            continue
        total = np.full(n_s, float(known.at[target, "codes_min"]))
        expected = float(known.at[target, "codes_min"])
        for i in rows:
            draw, mean = drawn[i]
            lo = int(md.bt_lo[i])
            total = total + draw - lo  # codes_min already holds the band's lower bound
            expected += float(np.mean(mean)) - lo
        if draws_out is not None:
            draws_out[target] = total
        levels = pd.Series([level_of_count(x, thresholds) for x in total])
        freq = levels.value_counts(normalize=True)
        out.at[target, "expected_codes"] = expected
        if out.at[target, "evidence_level"] in ("none", "limited", "moderate", "significant"):
            continue  # the band already fixes the level
        out.at[target, "evidence_level"] = str(freq.index[0])
        out.at[target, "evidence_level_p"] = float(freq.iloc[0])
        if unbounded[md.bt_block[rows]].any():
            floor = level_of_count(int(known.at[target, "codes_min"]), thresholds)
            out.at[target, "evidence_level_floor"] = floor
    return out
