"""Which units of evidence move each target's support: leave-one-unit-out through PSIS.

A *unit* is what the likelihood can lose in one piece: a source (all its exact codes, zeros
included) or an aggregate row (a total over a wave or group, or a banded row of one source).
Each unit's log-likelihood is computed from the posterior draws (:func:`pointwise_loglik`);
Pareto-smoothed importance sampling (PSIS, Vehtari et al. 2024) then reweights the draws to
approximate the posterior without that unit, so the contribution of every unit to every
target's support comes from one fit, without refitting.

Model v2 fits (:func:`measurement_influence`) have their own units, sources in the exact-cell
form and blocks of totals (:mod:`cmoc.analyses.checks.measurement_pointwise`), and the
quantity moved is each target's breadth and ``p_broad``.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ...defaults import KHAT_MAX
from ...evidence import EvidenceBase
from ...models import build_measurement_model, build_model, model_data, without_unit
from ...models.measurement_units import measurement_without_unit
from ..fitting.cache import per_fit
from ..fitting.result import AnalysisResult, Settings
from ..fitting.store import fit_config
from ..inference.draws import support_draws
from ..inference.measurement import is_measurement_fit, measurement_draws
from .measurement_pointwise import measurement_pointwise, measurement_unit_table, v2_data

__all__ = [
    "INFLUENCE_COLUMNS",
    "KHAT_MAX",
    "MEASUREMENT_INFLUENCE_COLUMNS",
    "InfluenceCheck",
    "InfluenceSettings",
    "check_influence",
    "evidence_units",
    "influence",
    "loo_weights",
    "measurement_influence",
    "moved_most",
    "pointwise_loglik",
    "pointwise_values",
    "refit_unreliable",
]

MEASUREMENT_INFLUENCE_COLUMNS = [
    "target_id",
    "unit",
    "unit_type",
    "label",
    "short",
    "wave",
    "codes",
    "breadth_mean",
    "breadth_loo",
    "contribution",
    "contribution_z",
    "contribution_mcse",
    "p_broad",
    "p_broad_loo",
    "p_broad_change",
    "pareto_k",
    "reliable",
    "method",
]
"""Columns of :func:`measurement_influence` (model v2): ``contribution`` is to breadth."""

INFLUENCE_COLUMNS = [
    "target_id",
    "unit",
    "unit_type",
    "label",
    "wave",
    "codes",
    "support_mean",
    "support_loo",
    "contribution",
    "contribution_z",
    "contribution_mcse",
    "pareto_k",
    "reliable",
    "method",
]

_SAMPLE_DIMS = ("chain", "draw")


def evidence_units(evidence: EvidenceBase) -> pd.DataFrame:
    """List the units of evidence in the order of the model's ``unit`` dimension.

    Parameters
    ----------
    evidence : EvidenceBase

    Returns
    -------
    pandas.DataFrame
        Indexed by ``unit`` (a source id, or ``codings.csv:LINE`` for an aggregate row), with
        ``unit_type`` (``source`` or ``total``), a readable ``label`` and the ``wave``.
    """
    d = model_data(evidence)
    src = evidence.sources
    rows = [
        {
            "unit": s,
            "unit_type": "source",
            "label": f"{s} ({src.at[s, 'kind']})",
            "wave": src.at[s, "wave"],
        }
        for s in d.sources
    ]
    cod = evidence.codings.reset_index(drop=True)
    waves = evidence.coding_waves().reset_index(drop=True)
    by_line = {int(line): i for i, line in enumerate(cod["line"])}
    for label in d.agg_label:
        i = by_line[int(label.split(":")[1])]
        r = cod.iloc[i]
        rows.append(
            {
                "unit": label,
                "unit_type": "total",
                "label": f"{r['source_id']}: {r['target_id']} {r['stance']} ({label})",
                "wave": waves.iloc[i],
            }
        )
    return pd.DataFrame(rows).set_index("unit")


def _unit_codes(evidence: EvidenceBase, units: pd.DataFrame) -> pd.DataFrame:
    """Codes (lower bounds, both stances) each unit has on each target it codes directly."""
    cod = evidence.codings
    exact = cod[(cod["scope"] == "source") & ~cod["banded"]]
    direct = exact.groupby(["source_id", "target_id"])["count_min"].sum()
    pairs = [((u, t), int(n)) for (u, t), n in direct.items() if u in units.index]
    for unit in units.index[units["unit_type"] == "total"]:
        row = cod[cod["line"] == int(unit.split(":")[1])].iloc[0]
        pairs.append(((unit, row["target_id"]), int(row["count_min"])))
    index = pd.MultiIndex.from_tuples([p for p, _ in pairs], names=["unit", "target_id"])
    return pd.Series([n for _, n in pairs], index=index, name="codes", dtype="Int64").to_frame()


def pointwise_loglik(idata: xr.DataTree, evidence: EvidenceBase) -> xr.DataArray:
    """Log-likelihood of each unit of evidence at each posterior draw.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence``; its stored model configuration rebuilds the model.
    evidence : EvidenceBase
        The evidence the fit was made from.

    Returns
    -------
    xarray.DataArray
        ``loglik_unit`` with dims ``(chain, draw, unit)``; summed over ``unit`` it is the
        model's whole log-likelihood (appraisal weights included).
    """
    return pointwise_values(idata, evidence, ["loglik_unit"])["loglik_unit"]


@per_fit
def pointwise_values(idata: xr.DataTree, evidence: EvidenceBase, names: list[str]) -> xr.Dataset:
    """Evaluate the pointwise quantities of ``build_model(..., pointwise=True)`` at every draw.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence``; its stored model configuration rebuilds the model.
    evidence : EvidenceBase
        The evidence the fit was made from.
    names : list of str
        ``loglik_unit`` and/or ``source_rate``.

    Returns
    -------
    xarray.Dataset
        The variables, with dims ``(chain, draw, ...)``.
    """
    config, _ = fit_config(idata)
    model = build_model(evidence, config, pointwise=True)
    posterior = idata["posterior"].to_dataset()
    return pm.compute_deterministics(posterior, var_names=names, model=model, progressbar=False)


def loo_weights(ll: xr.DataArray, draws: xr.DataArray) -> tuple[np.ndarray, xr.DataArray, float]:
    """PSIS leave-one-unit-out weights of the draws, one row per unit.

    Parameters
    ----------
    ll : xarray.DataArray
        Log-likelihood per unit, dims ``(chain, draw, unit)``.
    draws : xarray.DataArray
        The quantity of interest (``(chain, draw, target)``): its mean relative ESS is the
        ``r_eff`` of the smoothing.

    Returns
    -------
    weights : numpy.ndarray
        ``(unit, sample)``, each row summing to 1 (samples: chains then draws, stacked).
    khat : xarray.DataArray
        Pareto k-hat per unit.
    r_eff : float
    """
    n = draws.sizes["chain"] * draws.sizes["draw"]
    ess = az.ess(draws.to_dataset(name="q"), method="mean")["q"]
    r_eff = float(np.clip(ess.mean().item() / n, 1e-3, 1.0))
    # psislw takes the log-likelihood and smooths the ratios 1 / p(y_unit | theta) itself
    log_w, khat = ll.azstats.psislw(dim=list(_SAMPLE_DIMS), r_eff=r_eff)
    log_w = log_w.stack(sample=_SAMPLE_DIMS).transpose("unit", "sample").values
    weights = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return weights, khat, r_eff


def _loo_mcse(weights: np.ndarray, r_eff: float, sd: np.ndarray) -> np.ndarray:
    """Monte Carlo error of ``full - loo = sum_s (1/S - w_s) f_s`` (autocorrelation: r_eff)."""
    spread = np.sqrt(((weights - 1.0 / weights.shape[1]) ** 2).sum(axis=1) / r_eff)
    return spread[:, None] * sd[None, :]


def influence(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    wave: str | None = None,
    loglik: xr.DataArray | None = None,
) -> pd.DataFrame:
    """How much each unit of evidence moves each target's posterior mean support.

    ``contribution`` is the posterior mean support with all the evidence minus its PSIS
    estimate without the unit: positive when the unit pushed the support up. Estimates for a
    unit whose Pareto k-hat exceeds :data:`KHAT_MAX` are flagged ``reliable = False`` (an exact
    refit without it would be needed).

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence``.
    evidence : EvidenceBase
        The evidence the fit was made from.
    wave : str, optional
        Only the units of this wave (default: all units).
    loglik : xarray.DataArray, optional
        :func:`pointwise_loglik` of the fit, if already computed.

    Returns
    -------
    pandas.DataFrame
        :data:`INFLUENCE_COLUMNS`, one row per target and unit, targets in the fit's order and
        units by decreasing absolute contribution within each target. ``codes`` are the unit's
        own codes on the target (empty where it codes the target only indirectly, through the
        shared hierarchy). ``contribution_z`` is the contribution in posterior sds, and
        ``contribution_mcse`` its approximate Monte Carlo standard error (from the spread of
        the importance weights and the relative ESS of the draws).
    """
    units = evidence_units(evidence)
    ll = pointwise_loglik(idata, evidence) if loglik is None else loglik
    if wave is not None:
        keep = units.index[units["wave"] == wave]
        units, ll = units.loc[keep], ll.sel(unit=list(keep))
    draws = support_draws(idata)
    if units.empty:
        return pd.DataFrame(columns=INFLUENCE_COLUMNS)
    weights, khat, r_eff = loo_weights(ll, draws)
    support = draws.stack(sample=_SAMPLE_DIMS).transpose("sample", "target").values
    full = support.mean(axis=0)
    sd = support.std(axis=0)
    loo = weights @ support  # (unit, target)
    contribution = full[None, :] - loo
    mcse = _loo_mcse(weights, r_eff, sd)
    targets = list(draws["target"].values)
    frame = pd.DataFrame(
        {
            "target_id": np.repeat(targets, len(units)),
            "unit": np.tile(units.index.to_numpy(), len(targets)),
            "support_mean": np.repeat(full, len(units)),
            "support_loo": loo.T.ravel(),
            "contribution": contribution.T.ravel(),
            "contribution_z": (contribution / np.where(sd > 0, sd, np.nan)).T.ravel(),
            "contribution_mcse": mcse.T.ravel(),
            "pareto_k": np.tile(khat.values, len(targets)),
        }
    )
    frame["reliable"] = frame["pareto_k"] <= KHAT_MAX
    frame["method"] = "psis"
    frame = frame.join(units[["unit_type", "label", "wave"]], on="unit")
    codes = _unit_codes(evidence, units)
    frame = frame.join(codes, on=["unit", "target_id"])
    order = {t: i for i, t in enumerate(targets)}
    frame["_t"] = frame["target_id"].map(order)
    frame["_a"] = -frame["contribution"].abs()
    frame = frame.sort_values(["_t", "_a", "unit"], kind="stable")
    return frame[INFLUENCE_COLUMNS].reset_index(drop=True)


def _measurement_unit_codes(evidence: EvidenceBase, units: pd.DataFrame) -> pd.DataFrame:
    """Return the recorded codes of each model v2 unit on each target it codes directly.

    A source: its exact recorded codes (both stances); a block: the lower bound of the band of
    each target it covers.
    """
    md = v2_data(evidence)
    d = md.data
    pairs = {}
    for j, t, n in zip(md.cell_src, md.cell_tgt, md.cell_n, strict=True):
        pairs[(d.sources[j], d.targets[t])] = int(n)
    for b, t, lo in zip(md.bt_block, md.bt_tgt, md.bt_lo, strict=True):
        pairs[(md.block_label[b], d.targets[t])] = int(lo)
    pairs = {k: v for k, v in pairs.items() if k[0] in units.index}
    index = pd.MultiIndex.from_tuples(list(pairs), names=["unit", "target_id"])
    return pd.Series(list(pairs.values()), index=index, name="codes", dtype="Int64").to_frame()


def measurement_influence(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    wave: str | None = None,
    loglik: xr.DataArray | None = None,
) -> pd.DataFrame:
    """How much each unit of evidence moves each target's breadth in a model v2 fit.

    As :func:`influence`, on model v2's terms: the units are sources (in the exact-cell form)
    and blocks of totals (:func:`measurement_unit_table`), their log-likelihood
    :func:`measurement_pointwise`, the quantity each target's breadth
    (:func:`~cmoc.analyses.measurement_draws`).
    ``contribution`` is the posterior mean breadth minus its PSIS estimate without the unit,
    ``p_broad_change`` the same for ``p_broad = P(breadth >= breadth_min)``.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence``.
    evidence : EvidenceBase
    wave : str, optional
        Only the units of this wave (default: all units).
    loglik : xarray.DataArray, optional
        :func:`measurement_pointwise` of the fit, if already computed.

    Returns
    -------
    pandas.DataFrame
        :data:`MEASUREMENT_INFLUENCE_COLUMNS`, one row per target and unit, targets in the
        fit's order and units by decreasing absolute contribution within each target; ``unit``
        and ``label`` as in the unit table, ``short`` its short name; ``codes`` the unit's own
        recorded codes on the target (a block: the lower bound of its band).
    """
    units = measurement_unit_table(evidence)
    ll = measurement_pointwise(idata, evidence) if loglik is None else loglik
    if wave is not None:
        keep = units.index[units["wave"] == wave]
        units, ll = units.loc[keep], ll.sel(unit=list(keep))
    if units.empty:
        return pd.DataFrame(columns=MEASUREMENT_INFLUENCE_COLUMNS)
    draws = measurement_draws(idata, evidence)["breadth"]
    weights, khat, r_eff = loo_weights(ll, draws)
    breadth = draws.stack(sample=_SAMPLE_DIMS).transpose("sample", "target").values
    broad = (breadth >= evidence.config.classification.breadth_min).astype(float)
    full, sd = breadth.mean(axis=0), breadth.std(axis=0)
    loo = weights @ breadth  # (unit, target)
    p_full, p_loo = broad.mean(axis=0), weights @ broad
    contribution = full[None, :] - loo
    mcse = _loo_mcse(weights, r_eff, sd)
    targets = list(draws["target"].values)
    n_u = len(units)
    frame = pd.DataFrame(
        {
            "target_id": np.repeat(targets, n_u),
            "unit": np.tile(units.index.to_numpy(), len(targets)),
            "breadth_mean": np.repeat(full, n_u),
            "breadth_loo": loo.T.ravel(),
            "contribution": contribution.T.ravel(),
            "contribution_z": (contribution / np.where(sd > 0, sd, np.nan)).T.ravel(),
            "contribution_mcse": mcse.T.ravel(),
            "p_broad": np.repeat(p_full, n_u),
            "p_broad_loo": p_loo.T.ravel(),
            "p_broad_change": (p_full[None, :] - p_loo).T.ravel(),
            "pareto_k": np.tile(khat.sel(unit=list(units.index)).values, len(targets)),
        }
    )
    frame["reliable"] = frame["pareto_k"] <= KHAT_MAX
    frame["method"] = "psis"
    frame = frame.join(units[["unit_type", "label", "short", "wave"]], on="unit")
    frame = frame.join(_measurement_unit_codes(evidence, units), on=["unit", "target_id"])
    order = {t: i for i, t in enumerate(targets)}
    frame["_t"] = frame["target_id"].map(order)
    frame["_a"] = -frame["contribution"].abs()
    frame = frame.sort_values(["_t", "_a", "unit"], kind="stable")
    return frame[MEASUREMENT_INFLUENCE_COLUMNS].reset_index(drop=True)


def moved_most(table: pd.DataFrame, top: int = 3, min_abs: float = 0.005) -> pd.Series:
    """Name the units that moved each target most, as one readable string per target.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`influence`.
    top : int
        How many units per target.
    min_abs : float
        Contributions smaller than this (on the support scale), or than twice their Monte
        Carlo standard error, are left out: they cannot be told from sampling noise.

    Returns
    -------
    pandas.Series
        Indexed by ``target_id``: for example ``"I07 +0.031; I12 -0.020*"`` (``*``: the PSIS
        estimate is unreliable, k-hat above :data:`KHAT_MAX`); empty where no unit moved the
        support detectably (see ``min_abs``). Of a model v2 table
        (:func:`measurement_influence`), the contributions are to breadth and units go by
        their ``short`` names.
    """

    def describe(group: pd.DataFrame) -> str:
        size = group["contribution"].abs()
        big = group[(size >= min_abs) & (size >= 2 * group["contribution_mcse"])].head(top)
        name = "short" if "short" in big.columns else "unit"
        return "; ".join(
            f"{getattr(r, name)} {r.contribution:+.3f}{'' if r.reliable else '*'}"
            for r in big.itertuples(index=False)
        )

    out = table.groupby("target_id", sort=False)[list(table.columns)].apply(describe)
    return out.astype(object).rename("moved_most")


def refit_unreliable(
    table: pd.DataFrame,
    idata: xr.DataTree,
    evidence: EvidenceBase,
    sampler=None,
    *,
    max_refits: int = 10,
) -> pd.DataFrame:
    """Replace unreliable PSIS estimates by exact refits without the unit.

    For each unit flagged ``reliable = False`` (Pareto k above :data:`KHAT_MAX`), most
    influential first and at most ``max_refits`` of them, the model is refitted with that unit's
    likelihood terms removed (:func:`cmoc.models.without_unit`; every parameter stays) and the
    unit's rows get the exact leave-one-out support, ``method = "refit"`` and
    ``reliable = True``. Of a model v2 fit (a table of :func:`measurement_influence`), the
    unit's weight is set to 0 (:func:`~cmoc.models.measurement_units.measurement_without_unit`)
    and its rows get the exact leave-one-out breadth and ``p_broad``.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`influence` (or :func:`measurement_influence`).
    idata : xarray.DataTree
        The fit ``table`` was computed from (its model configuration is reused).
    evidence : EvidenceBase
    sampler : SamplerConfig, optional
        Settings of the refits (default: those stored in ``idata``).
    max_refits : int
        Upper bound on the number of refits (each is a full fit).

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with the refitted units' rows updated; their Monte Carlo standard
        error becomes that of the difference of two independent posterior means.
    """
    from ..fitting.sampling import SamplerConfig, sample_model  # looked up when called

    config, stored = fit_config(idata)
    s = (sampler or SamplerConfig(**stored)).for_model(config.model)
    out = table.copy()
    bad = out[~out["reliable"]]
    order = bad.assign(_a=-bad["contribution"].abs()).sort_values(["_a", "unit"], kind="stable")
    units = list(dict.fromkeys(order["unit"]))[:max_refits]
    if not units:
        return out
    v2 = is_measurement_fit(idata)
    if v2:
        md = v2_data(evidence)
        breadth_min = evidence.config.classification.breadth_min
        full = measurement_draws(idata, evidence)["breadth"]
        loo_col, columns = "breadth_loo", MEASUREMENT_INFLUENCE_COLUMNS

        def refit_draws(unit):
            model = build_measurement_model(measurement_without_unit(md, unit))
            return measurement_draws(sample_model(model, s), evidence)["breadth"]
    else:
        d = model_data(evidence, group_effects=config.group_effects)
        full = support_draws(idata)
        loo_col, columns = "support_loo", INFLUENCE_COLUMNS

        def refit_draws(unit):
            return support_draws(sample_model(build_model(without_unit(d, unit), config), s))

    full_mean = full.mean(_SAMPLE_DIMS)
    full_se = full.std(_SAMPLE_DIMS) / np.sqrt(full.sizes["chain"] * full.sizes["draw"])
    for unit in units:
        loo = refit_draws(unit)
        loo_mean = loo.mean(_SAMPLE_DIMS)
        n_loo = loo.sizes["chain"] * loo.sizes["draw"]
        se = np.sqrt(full_se**2 + (loo.std(_SAMPLE_DIMS) / np.sqrt(n_loo)) ** 2)
        rows = out["unit"] == unit
        targets = out.loc[rows, "target_id"].to_numpy()
        out.loc[rows, loo_col] = loo_mean.sel(target=targets).values
        out.loc[rows, "contribution"] = (full_mean - loo_mean).sel(target=targets).values
        sd = full.std(_SAMPLE_DIMS).sel(target=targets).values
        out.loc[rows, "contribution_z"] = out.loc[rows, "contribution"] / np.where(
            sd > 0, sd, np.nan
        )
        out.loc[rows, "contribution_mcse"] = se.sel(target=targets).values
        if v2:
            p_loo = (loo >= breadth_min).mean(_SAMPLE_DIMS).sel(target=targets).values
            out.loc[rows, "p_broad_loo"] = p_loo
            out.loc[rows, "p_broad_change"] = out.loc[rows, "p_broad"].to_numpy(float) - p_loo
        out.loc[rows, "reliable"] = True
        out.loc[rows, "method"] = "refit"
    out["_t"] = out["target_id"].map({t: i for i, t in enumerate(dict.fromkeys(out["target_id"]))})
    out["_a"] = -out["contribution"].abs()
    out = out.sort_values(["_t", "_a", "unit"], kind="stable")
    return out[columns].reset_index(drop=True)


def _measurement_reading(table: pd.DataFrame) -> str:
    """Say the largest Pareto k and the largest change of a ``p_broad``."""
    k = table.drop_duplicates("unit").sort_values(["pareto_k", "unit"], ascending=[False, True])
    top = k.iloc[0]
    moved = table.assign(_a=table["p_broad_change"].abs())
    moved = moved.sort_values(["_a", "target_id", "unit"], ascending=[False, True, True])
    m = moved.iloc[0]
    return (
        f"; largest Pareto k {top['pareto_k']:.2f} ({top['unit_type']} {top['short']}); "
        f"largest change of a p_broad: {m['target_id']} {m['p_broad']:.3f} -> "
        f"{m['p_broad_loo']:.3f} without {m['unit_type']} {m['short']}"
    )


@dataclass(frozen=True)
class InfluenceSettings(Settings):
    """Settings of an influence analysis: ``wave`` (None: all), ``max_refits``, ``khat_max``."""

    wave: str | None = None
    max_refits: int = 0
    khat_max: float = KHAT_MAX


class InfluenceCheck(AnalysisResult):
    """An influence analysis (an ``AnalysisResult`` of kind ``influence``).

    ``table``: :func:`influence` (after :func:`refit_unreliable` when refits were asked);
    ``passed`` is None; ``text`` says how many estimates are unreliable.
    """

    kind = "influence"
    settings_type = InfluenceSettings
    what = "influence analysis"
    hint = "saved influence analysis"


def check_influence(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    wave: str | None = None,
    sampler=None,
    max_refits: int = 0,
) -> InfluenceCheck:
    """Run :func:`influence` (and :func:`refit_unreliable` up to ``max_refits`` units).

    Of a model v2 fit, :func:`measurement_influence`; the text adds the largest Pareto k and
    the largest change of a ``p_broad``.

    Parameters
    ----------
    idata, evidence, wave
        As in :func:`influence`.
    sampler : SamplerConfig, optional
        Settings of the exact refits (default: those stored in ``idata``).
    max_refits : int
        Exact refits without the most influential unreliable units (0: none).

    Returns
    -------
    InfluenceCheck
    """
    v2 = is_measurement_fit(idata)
    if v2:
        table = measurement_influence(idata, evidence, wave=wave)
    else:
        table = influence(idata, evidence, wave=wave)
    if max_refits:
        table = refit_unreliable(table, idata, evidence, sampler, max_refits=max_refits)
    units = table["unit"].nunique()
    bad = table.loc[~table["reliable"].astype(bool), "unit"].nunique()
    refitted = table.loc[table["method"] == "refit", "unit"].nunique()
    text = (
        f"{units} units of evidence; {bad} with an unreliable PSIS estimate (Pareto k > "
        f"{KHAT_MAX:g}); {refitted} refitted exactly"
    )
    if v2 and len(table):
        text += _measurement_reading(table)
    settings = InfluenceSettings(wave=wave, max_refits=int(max_refits))
    return InfluenceCheck(table, text, None, settings)
