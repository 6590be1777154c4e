"""Posterior predictive checks: whether the fitted model reproduces the counts it was given.

Each unit of evidence (see :mod:`cmoc.analyses.checks.influence`) is checked on the count the model
describes directly: a source's total of exact codes, or an aggregate row's total (banded or
exact). Replicated counts are drawn from the model's own count distributions, once per
posterior draw: negative binomial with the fitted mean and shape (Poisson for the Poisson
likelihood), which is the source's Gamma-Poisson talkativeness integrated out.

Model v2 fits (:func:`measurement_predictive`) are replicated from the measurement model's own
story: each source in the exact-cell form (activation, evidencing, depth per target) and each
block of totals (its members' activation, given their zeros on the targets it does not cover,
then the evidencing members and their codes per covered target).
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
from ...models.measurement_units import measurement_units
from ..fitting.result import AnalysisResult, Settings
from ..fitting.store import fit_config
from ..inference.measurement import is_measurement_fit
from .influence import evidence_units, pointwise_values
from .measurement_pointwise import measurement_unit_table, v2_data

__all__ = [
    "MEASUREMENT_PPC_COLUMNS",
    "MEASUREMENT_TARGET_PPC_COLUMNS",
    "PPC_COLUMNS",
    "SURPRISE_P",
    "PredictiveCheck",
    "PredictiveSettings",
    "check_predictive",
    "measurement_predictive",
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


MEASUREMENT_PPC_COLUMNS = [
    *PPC_COLUMNS[:2],
    "target_id",
    *PPC_COLUMNS[2:-1],
    "in_interval",
    PPC_COLUMNS[-1],
]
"""Columns of :func:`measurement_predictive`'s table (model v2): :data:`PPC_COLUMNS` with the
``target_id`` of a block's total and ``in_interval``."""

MEASUREMENT_TARGET_PPC_COLUMNS = [
    "target_id",
    "sources",
    "evidencing",
    "evidencing_mean",
    "evidencing_lo",
    "evidencing_hi",
    "p_low",
    "p_high",
    "p_value",
    "codes",
    "codes_mean",
    "codes_p_value",
    "supports",
    "supports_mean",
    "supports_p_value",
    "surprising",
]
"""Columns of :func:`measurement_predictive`'s per-target table (model v2): sources in the
exact-cell form coded against the target, how many evidence it and their codes, observed and
replicated; the supporting codes among the observed codes of kinds whose refutes are recorded
(wholly or partly), replicated given their number (empty where there are none)."""


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


def _flat(post: xr.Dataset, name: str, n: int) -> np.ndarray:
    """Return a posterior variable as ``(sample, ...)`` (chains, then draws), or zeros."""
    if name not in post.data_vars:
        return np.zeros((post.sizes["chain"] * post.sizes["draw"], n))
    da = post[name]
    other = [d for d in da.dims if d not in ("chain", "draw")]
    return da.transpose("chain", "draw", *other).values.reshape(-1, *da.shape[2:])


def _gamma_poisson(rng, mean: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """``NB(mean, shape)`` counts; 0 where ``shape`` is 0 (no evidencing member)."""
    on = shape > 0
    g = rng.gamma(np.where(on, shape, 1.0), np.where(on, mean / np.where(on, shape, 1.0), 0.0))
    return np.where(on, rng.poisson(g), 0)


def _two_sided(rep: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``min(1, 2 min(P(rep <= hi), P(rep >= lo)))`` per column (``hi`` -1: unbounded)."""
    upper = np.where(hi < 0, np.iinfo(np.int64).max, hi)
    p_low = (rep <= upper[None, :]).mean(axis=0)
    p_high = (rep >= lo[None, :]).mean(axis=0)
    return np.minimum(1.0, 2 * np.minimum(p_low, p_high))


def measurement_predictive(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    seed: int = 0,
    ci: float = DEFAULT_CI,
    chunk: int = 500,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Posterior predictive check of a model v2 fit: sources' codes, blocks' totals, targets.

    Per posterior draw, the evidence is replicated from the measurement model. A source in the
    exact-cell form: per mechanism, active with probability ``a_mk``; if active, each target of
    the mechanism in its wave's theory (not covered by a block) evidenced with probability
    ``b_t``, with ``1 + NB(mu_jt, phi)`` recorded codes. A block of totals: ``K`` of its ``J_f``
    free members active, drawn given their observed zeros on the mechanism's targets the block
    does not cover (``Binom(J_f, a z / (a z + 1 - a))``, ``z = prod (1 - b_t)`` over those: the
    conditioning of its likelihood term), the ``n_f`` forced members active; per covered target
    ``e ~ Binom(n_f + K, b_t)`` evidencing members give ``e + NB(e mu, e phi)`` recorded codes.
    The split of the stances is checked on the exact cells of kinds whose refutes are recorded
    (wholly or partly): each cell's supporting codes replicated given its observed codes,
    ``BetaBinomial(n, c q_tk, c (1 - q_tk))``; not on blocks' totals.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence``.
    evidence : EvidenceBase
    seed : int
        Seed of the replicates (same seed, same tables).
    ci : float
        Probability of the central predictive interval.
    chunk : int
        Draws replicated at a time (memory).

    Returns
    -------
    units : pandas.DataFrame
        :data:`MEASUREMENT_PPC_COLUMNS`: one row per source (its recorded exact codes, all
        targets) and one per block and covered target (the total or band of recorded codes).
        ``p_value`` is two-sided as in :func:`posterior_predictive`; ``in_interval`` says
        whether the observed value (a band: any value of it) lies in the central ``ci``
        predictive interval.
    targets : pandas.DataFrame
        :data:`MEASUREMENT_TARGET_PPC_COLUMNS`, one row per target coded against some source in
        the exact-cell form: the number of those sources that evidence it and their recorded
        codes, observed and replicated; ``p_low = P(rep <= observed)``, ``p_high =
        P(rep >= observed)``, ``p_value`` two-sided; ``supports`` among the codes of kinds
        whose refutes are recorded (NaN where none) and their replicate given the codes
        (``supports_p_value``);
        ``surprising`` where any p-value is below :data:`SURPRISE_P`.
    """
    md = v2_data(evidence)
    d = md.data
    units = measurement_units(md)
    table = measurement_unit_table(evidence)
    rng = np.random.default_rng(seed)
    post = idata["posterior"].to_dataset()
    n_t, n_k = len(d.targets), len(d.kinds)
    logit_a = (
        _flat(post, "activation_mechanism", len(d.mechanisms))[:, :, None]
        + _flat(post, "activation_kind", n_k)[:, None, :]
    )  # (S, M, K)
    logit_b = _flat(post, "evidencing_logit", n_t)
    rho, lam = _flat(post, "kind_rate", n_k), _flat(post, "depth_target", n_t)
    phi = _flat(post, "dispersion", 1).reshape(-1)
    n_draws = logit_b.shape[0]
    a = 1.0 / (1.0 + np.exp(-logit_a))
    b = 1.0 / (1.0 + np.exp(-logit_b))
    log1m_b = -np.logaddexp(0.0, logit_b)
    tm = d.target_mech

    # exact-cell form: one slot per (source, target) a source's exact pairs cover
    src = units.source
    slot_pair, slot_tgt = [], []
    for p, (r, m) in enumerate(zip(units.pair_unit, units.pair_mech, strict=True)):
        j = src[r]
        ts = np.flatnonzero((tm == m) & md.theory[d.src_wave[j]] & (units.covered[r] == 0))
        slot_pair.extend([p] * ts.size)
        slot_tgt.extend(ts.tolist())
    slot_pair, slot_tgt = np.array(slot_pair, dtype=np.int64), np.array(slot_tgt, dtype=np.int64)
    slot_unit = units.pair_unit[slot_pair]
    slot_src = src[slot_unit]
    slot_kind = d.src_kind[slot_src]
    observed_n = np.zeros(slot_tgt.size, dtype=np.int64)
    where = {(int(j), int(t)): i for i, (j, t) in enumerate(zip(slot_src, slot_tgt, strict=True))}
    for j, t, n in zip(md.cell_src, md.cell_tgt, md.cell_n, strict=True):
        if (int(j), int(t)) in where:
            observed_n[where[(int(j), int(t))]] = n
    n_su = units.n_sources
    to_unit = np.zeros((slot_tgt.size, n_su))
    to_unit[np.arange(slot_tgt.size), slot_unit] = 1.0
    to_tgt = np.zeros((slot_tgt.size, n_t))
    to_tgt[np.arange(slot_tgt.size), slot_tgt] = 1.0
    rep_src = np.zeros((n_draws, n_su))
    rep_ev = np.zeros((n_draws, n_t))
    rep_codes = np.zeros((n_draws, n_t))

    # the split of the observed exact codes, given their number, where refutes are recorded
    is_unit = np.zeros(len(d.sources), dtype=bool)
    is_unit[src] = True
    split = is_unit[md.cell_src] & (md.psi[d.src_kind[md.cell_src]] != 0)
    s_tgt, s_kind = md.cell_tgt[split], d.src_kind[md.cell_src[split]]
    s_n = md.cell_n[split]
    split_to_tgt = np.zeros((s_tgt.size, n_t))
    split_to_tgt[np.arange(s_tgt.size), s_tgt] = 1.0
    rep_sup = np.zeros((n_draws, n_t))
    if s_tgt.size:
        p_tk = _flat(post, "direction_kind", n_t)  # (S, target, kind)
        psi = np.broadcast_to(np.nan_to_num(md.psi, nan=1.0), (n_draws, n_k)).copy()
        partial = [i for i, r in enumerate(md.recording) if r == "partial"]
        if partial:
            psi[:, partial] = _flat(post, "refute_recording", len(partial))
        conc = _flat(post, "concentration", 1).reshape(-1)

    # blocks: one row per (block, covered target)
    bb, bt = md.bt_block, md.bt_tgt
    rep_bt = np.zeros((n_draws, bt.size), dtype=np.int64)
    for lo in range(0, n_draws, chunk):
        s = slice(lo, min(lo + chunk, n_draws))
        if slot_tgt.size:
            pm_, pk = units.pair_mech, d.src_kind[src[units.pair_unit]]
            active = rng.random((s.stop - s.start, pm_.size)) < a[s][:, pm_, pk]
            ev = active[:, slot_pair] & (
                rng.random((s.stop - s.start, slot_tgt.size)) < b[s][:, slot_tgt]
            )
            mu = np.exp(rho[s][:, slot_kind] + lam[s][:, slot_tgt] + d.src_log_exposure[slot_src])
            shape = np.where(ev, phi[s][:, None], 0.0)
            codes = np.where(ev, 1 + _gamma_poisson(rng, mu, shape), 0)
            rep_src[s] = codes @ to_unit
            rep_ev[s] = ev @ to_tgt
            rep_codes[s] = codes @ to_tgt
        if s_tgt.size:
            p = p_tk[s][:, s_tgt, s_kind]
            q = p / (p + (1.0 - p) * psi[s][:, s_kind])
            c = conc[s][:, None]
            share = rng.beta(c * q, c * (1.0 - q))
            rep_sup[s] = rng.binomial(s_n, share) @ split_to_tgt
        if bt.size:
            a_b = a[s][:, md.block_mech, md.block_kind]  # (c, blocks)
            z = np.exp(log1m_b[s] @ md.block_zero.T)
            a_z = a_b * z / (a_b * z + 1.0 - a_b)
            active_b = md.block_forced + rng.binomial(md.block_free, a_z)
            e = rng.binomial(active_b[:, bb], b[s][:, bt])
            mu = np.exp(rho[s][:, md.block_kind[bb]] + lam[s][:, bt] + md.block_log_exposure[bb])
            rep_bt[s] = e + _gamma_poisson(rng, e * mu, e * phi[s][:, None])

    alpha_ci = (1 - ci) / 2
    rows = []
    if n_su:
        total = np.zeros(n_su, dtype=np.int64)
        np.add.at(total, slot_unit, observed_n)
        rows.append(
            pd.DataFrame(
                {
                    "unit": [d.sources[j] for j in src],
                    "unit_type": "source",
                    "target_id": None,
                    "observed_lo": total,
                    "observed_hi": total,
                    "rep": list(rep_src.T),
                }
            )
        )
    if bt.size:
        rows.append(
            pd.DataFrame(
                {
                    "unit": [md.block_label[i] for i in bb],
                    "unit_type": "block",
                    "target_id": [d.targets[t] for t in bt],
                    "observed_lo": md.bt_lo,
                    "observed_hi": md.bt_hi,
                    "rep": list(rep_bt.T),
                }
            )
        )
    if not rows:
        frame = pd.DataFrame(columns=MEASUREMENT_PPC_COLUMNS)
    else:
        frame = pd.concat(rows, ignore_index=True)
        rep = np.stack(frame.pop("rep").to_list(), axis=1)  # (draw, row)
        lo_all = frame["observed_lo"].to_numpy(np.int64)
        hi_all = frame["observed_hi"].to_numpy(np.int64)
        pred_lo = np.quantile(rep, alpha_ci, axis=0)
        pred_hi = np.quantile(rep, 1 - alpha_ci, axis=0)
        frame["observed"] = [_observed_text(x, y) for x, y in zip(lo_all, hi_all, strict=True)]
        frame["predicted_mean"] = rep.mean(axis=0)
        frame["predicted_lo"] = pred_lo
        frame["predicted_hi"] = pred_hi
        frame["p_value"] = _two_sided(rep, lo_all, hi_all)
        frame["in_interval"] = (lo_all <= pred_hi) & ((hi_all < 0) | (hi_all >= pred_lo))
        frame["surprising"] = frame["p_value"] < SURPRISE_P
        meta = table.loc[frame["unit"]]
        frame["wave"] = meta["wave"].to_numpy()
        frame["kind"] = meta["kind"].to_numpy()
        label = meta["label"].to_numpy(object)
        is_block = frame["unit_type"].to_numpy() == "block"
        frame["label"] = np.where(
            is_block,
            frame["target_id"].astype(str) + " in " + meta["short"].to_numpy(object),
            label,
        )
        frame = frame[MEASUREMENT_PPC_COLUMNS]

    # per target: evidencing sources and their codes among the exact-cell form's sources
    coded = to_tgt.sum(axis=0)
    keep = np.flatnonzero(coded > 0)
    ev_obs = (observed_n > 0).astype(float) @ to_tgt
    codes_obs = observed_n.astype(float) @ to_tgt
    p_low = (rep_ev <= ev_obs[None, :]).mean(axis=0)
    p_high = (rep_ev >= ev_obs[None, :]).mean(axis=0)
    codes_p = _two_sided(rep_codes, codes_obs.astype(np.int64), codes_obs.astype(np.int64))
    sup_obs = (md.cell_s[split] @ split_to_tgt).astype(np.int64)
    has_split = split_to_tgt.sum(axis=0) > 0
    sup_p = np.where(has_split, _two_sided(rep_sup, sup_obs, sup_obs), np.nan)
    targets = pd.DataFrame(
        {
            "target_id": [d.targets[t] for t in keep],
            "sources": coded[keep].astype(int),
            "evidencing": ev_obs[keep].astype(int),
            "evidencing_mean": rep_ev[:, keep].mean(axis=0),
            "evidencing_lo": np.quantile(rep_ev[:, keep], alpha_ci, axis=0),
            "evidencing_hi": np.quantile(rep_ev[:, keep], 1 - alpha_ci, axis=0),
            "p_low": p_low[keep],
            "p_high": p_high[keep],
            "p_value": np.minimum(1.0, 2 * np.minimum(p_low, p_high))[keep],
            "codes": codes_obs[keep].astype(int),
            "codes_mean": rep_codes[:, keep].mean(axis=0),
            "codes_p_value": codes_p[keep],
            "supports": np.where(has_split, sup_obs, np.nan)[keep],
            "supports_mean": np.where(has_split, rep_sup.mean(axis=0), np.nan)[keep],
            "supports_p_value": sup_p[keep],
        },
        columns=MEASUREMENT_TARGET_PPC_COLUMNS[:-1],
    )
    targets["surprising"] = (
        (targets["p_value"] < SURPRISE_P)
        | (targets["codes_p_value"] < SURPRISE_P)
        | (targets["supports_p_value"].fillna(1.0) < SURPRISE_P)
    )
    return frame.reset_index(drop=True), targets[MEASUREMENT_TARGET_PPC_COLUMNS]


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
        fits, about 5% of units (or fewer, as counts are discrete) are surprising. Of a model
        v2 table (:func:`measurement_predictive`), ``rows`` for ``units`` (a block has a row
        per covered target) and ``share_in_interval``.
    """
    grouped = table.groupby(["wave", "unit_type", "kind"], sort=False)
    out = grouped.agg(units=("unit", "size"), surprising=("surprising", "sum")).reset_index()
    out["share_surprising"] = out["surprising"] / out["units"]
    if "in_interval" in table.columns:  # model v2: rows, not units, and the interval's share
        counts = grouped["in_interval"].sum().to_numpy()
        out = out.rename(columns={"units": "rows"})
        out["share_in_interval"] = counts / out["rows"].to_numpy()
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

    Parameters are those of :func:`posterior_predictive`. Of a model v2 fit,
    :func:`measurement_predictive`: ``table`` its units' table, ``tables["targets"]`` its
    per-target table, ``values`` the shares of blocks' totals and of sources in the interval.

    Returns
    -------
    PredictiveCheck
    """
    settings = PredictiveSettings(seed=int(seed), ci=float(ci))
    if is_measurement_fit(idata):
        return _measurement_check(idata, evidence, settings)
    table = posterior_predictive(idata, evidence, seed=seed, ci=ci)
    n, k = len(table), int(table["surprising"].sum())
    text = (
        f"{k} of {n} units of evidence surprising (two-sided posterior predictive p < "
        f"{SURPRISE_P:g}); under a model that fits, about {SURPRISE_P:.0%} or fewer are"
    )
    return PredictiveCheck(table, text, None, settings)


def _measurement_check(
    idata: xr.DataTree, evidence: EvidenceBase, settings: PredictiveSettings
) -> PredictiveCheck:
    """:func:`measurement_predictive` as a result: its tables and their reading."""
    table, targets = measurement_predictive(idata, evidence, seed=settings.seed, ci=settings.ci)
    blocks = table[table["unit_type"] == "block"]
    sources = table[table["unit_type"] == "source"]
    parts = [
        f"{int(table['surprising'].sum())} of {len(table)} rows surprising (two-sided "
        f"posterior predictive p < {SURPRISE_P:g}; about {SURPRISE_P:.0%} or fewer under a "
        "model that fits)"
    ]
    if len(blocks):
        parts.append(
            f"{int(blocks['in_interval'].sum())} of {len(blocks)} totals and bands of blocks in "
            f"the central {settings.ci:.0%} predictive interval"
        )
    if len(sources):
        parts.append(
            f"{int(sources['in_interval'].sum())} of {len(sources)} sources' exact codes in it"
        )
    if len(targets):
        parts.append(
            f"{int(targets['surprising'].sum())} of {len(targets)} targets with a surprising "
            "number of evidencing sources or of their codes"
        )
    values = {
        "share_blocks_in_interval": float(blocks["in_interval"].mean()) if len(blocks) else None,
        "share_sources_in_interval": (
            float(sources["in_interval"].mean()) if len(sources) else None
        ),
    }
    return PredictiveCheck(
        table, "; ".join(parts), None, settings, tables={"targets": targets}, values=values
    )
