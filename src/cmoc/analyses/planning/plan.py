"""Planning the next sources: how many more would be expected to settle an inconclusive CMOC.

For each inconclusive CMOC and ``n = 1..max_new`` new sources of one kind, by simulation from
the current posterior (a preposterior analysis):

1. draw a "true" parameter vector from the posterior draws;
2. draw ``max_new`` new sources of the kind from the likelihood: talkativeness
   ``u ~ Gamma(phi, phi)``, every target of the newest wave's theory coded with
   ``Poisson(u exp(rho_k + lambda_t) p_tk)`` supports and ``(1 - p_tk)`` refutes (zeros
   included; no group, weight and exposure 1); the first ``n`` of them are the "n more";
3. update on them and classify the CMOC with the base's ``[classification]`` thresholds
   (``P(support > 1/2) >= affirm``: affirmed, ``<= refute``: refuted; either: settled).

The update reweights the current posterior draws by the new sources' likelihood (talkativeness
integrated out, as in the model: a negative multinomial per source) with Pareto-smoothed
importance sampling; where the Pareto ``k`` is above :data:`KHAT_MAX` the reweighting is not
trusted and the base plus the new sources is refitted exactly instead. The same ``max_new``
sources serve every ``n`` (common random numbers: the curve over ``n`` is smooth).

Simulations run on Dask in fixed chunks (:data:`CHUNK`), each seeded by
``SeedSequence(seed, spawn_key=(cmoc position, chunk))``: results do not depend on the number
of workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, gammaln, log_expit

from ...defaults import AFFIRM, KHAT_MAX, REFUTE, SEED, Status
from ...evidence import EvidenceBase
from ...models import ModelConfig, model_data
from ..fitting.attrs import Provenance
from ..fitting.result import AnalysisResult, Settings
from ..fitting.store import default_plan_path, fit_config, fit_id
from .parallel import run_on_dask

__all__ = [
    "CHUNK",
    "KHAT_MAX",
    "PLAN_COLUMNS",
    "REPORT_PLAN",
    "PlanResult",
    "PlanSettings",
    "default_kind",
    "inconclusive",
    "load_plan",
    "plan",
    "plan_or_reuse",
    "plan_result",
    "psis_versus_refit",
    "save_plan",
]

CHUNK = 50
"""Simulations per Dask task (fixed, so results do not depend on how work is split)."""

REPORT_PLAN = {"max_new": 5, "simulations": 200, "max_refits": 0}
"""The plan ``cmoc report`` computes when no saved plan was made from its fit.

PSIS updates only: an exact refit costs about 20 s of one core each (the fit's 4 chains x
2,000 steps, compiled anew), the updates cost milliseconds. Measured on the planted test base
(C1 inconclusive, 4 chains x 1,000 draws): the 1,000 updates (200 simulations, n = 1..5) took
6 s in one process; 40 had a Pareto k above 0.7 (0, 1, 7, 11, 21 for n = 1..5), and refitting
all 40 (20 minutes on a busy 2-core machine) changed ``p_settled`` by 0.005 at n = 5 and not
at all below, against a Monte Carlo error of 0.035. The report says how many updates kept a
PSIS estimate with k above 0.7; ``cmoc plan`` refits every one by default, and the report
shows that plan when it was made from the same fit.
"""

PLAN_COLUMNS = [
    "target_id",
    "kind",
    "n_new",
    "p_settled",
    "p_affirmed",
    "p_refuted",
    "mc_se",
    "simulations",
    "refits",
    "unreliable",
    "khat_max",
    "p_supported_now",
]


def inconclusive(idata: xr.DataTree, evidence: EvidenceBase) -> pd.DataFrame:
    """Return the CMOCs whose status is inconclusive, with ``p_supported``."""
    from ..inference.summary import summarize

    table = summarize(idata, evidence)
    keep = (table["target_type"] == "cmoc") & (table["status"] == Status.inconclusive)
    return table.loc[keep, ["target_id", "p_supported"]].reset_index(drop=True)


def _flat(post: xr.Dataset, name: str, dim: str | None = None) -> np.ndarray:
    da = post[name].stack(sample=("chain", "draw"))
    return (da.transpose("sample", dim) if dim else da).values


def _posterior_arrays(idata: xr.DataTree, kind: str, config: ModelConfig) -> dict:
    """Return the draws the likelihood of a new source of ``kind`` needs (samples first)."""
    post = idata["posterior"].to_dataset()
    out = {
        "eta": _flat(post, "eta", "cmoc"),
        "mu": _flat(post, "mu", "mechanism"),
        "salience_cmoc": _flat(post, "salience_cmoc", "cmoc"),
        "salience_mechanism": _flat(post, "salience_mechanism", "mechanism"),
        "kind_rate": post["kind_rate"].sel(kind=kind).stack(sample=("chain", "draw")).values,
    }
    n = out["eta"].shape[0]
    if "kind_lean" in post:
        out["kind_lean"] = post["kind_lean"].sel(kind=kind).stack(sample=("chain", "draw")).values
    else:
        out["kind_lean"] = np.zeros(n)
    if config.likelihood == "poisson" or "dispersion" not in post:
        out["dispersion"] = np.full(n, np.inf)
    else:
        out["dispersion"] = post["dispersion"].stack(sample=("chain", "draw")).values
    return out


def _source_loglik(
    sup: np.ndarray, ref: np.ndarray, log_rate: np.ndarray, logit: np.ndarray, phi: np.ndarray
) -> np.ndarray:
    """Log-likelihood of one new source's counts under every draw (talkativeness integrated).

    ``sup``, ``ref``: counts per theory target; ``log_rate`` (draws x targets) is
    ``rho_k + lambda_t``; ``logit`` is ``eta_t + delta_k``; ``phi`` the dispersion per draw.
    """
    cell = (
        sup @ (log_rate + log_expit(logit)).T
        + ref @ (log_rate + log_expit(-logit)).T
        - gammaln(sup + 1).sum()
        - gammaln(ref + 1).sum()
    )
    total = sup.sum() + ref.sum()
    rate = np.exp(log_rate).sum(axis=1)
    poisson = np.isinf(phi)
    ph = np.where(poisson, 1.0, phi)
    negbin = (
        cell
        + gammaln(ph + total)
        - gammaln(ph)
        - ph * np.log1p(rate / ph)
        - total * np.log(ph + rate)
    )
    return np.where(poisson, cell - rate, negbin)


def _with_new_sources(
    evidence: EvidenceBase,
    kind: str,
    sup: np.ndarray,
    ref: np.ndarray,
    targets: list[str],
) -> EvidenceBase:
    """Return the base plus new sources (rows of ``sup``, ``ref``) of ``kind``, newest wave."""
    wave = evidence.waves[-1]
    n = sup.shape[0]
    ids = [f"plan-new-{i + 1}" for i in range(n)]
    template = evidence.sources.iloc[[0] * n].copy()
    template.index = pd.Index(ids, name=evidence.sources.index.name)
    for col in template.columns:
        if col not in ("kind", "wave", "weight", "exposure", "line"):
            template[col] = None
    template["kind"], template["wave"] = kind, wave
    template["weight"], template["exposure"] = 1.0, 1.0
    template["line"] = np.arange(n) + int(evidence.sources["line"].max()) + 1
    sources = pd.concat([evidence.sources, template])
    rows = []
    for stance, counts in (("supports", sup), ("refutes", ref)):
        js, ts = np.nonzero(counts)
        rows += [
            (ids[j], targets[t], stance, int(counts[j, t])) for j, t in zip(js, ts, strict=True)
        ]
    codings = evidence.codings
    if rows:
        new = codings.iloc[[0] * len(rows)].reset_index(drop=True)
        for col in ("basis", "citation", "note"):
            if col in new:
                new[col] = None
        new["source_id"] = [r[0] for r in rows]
        new["target_id"] = [r[1] for r in rows]
        new["stance"] = [r[2] for r in rows]
        new["count_min"] = np.array([r[3] for r in rows], dtype="int64")
        new["count_max"] = pd.array([r[3] for r in rows], dtype="Int64")
        new["banded"] = False
        new["scope"] = "source"
        new["line"] = np.arange(len(rows)) + int(codings["line"].max()) + 1
        codings = pd.concat([codings, new], ignore_index=True)
    return replace(evidence, sources=sources, codings=codings, path=None, file_hashes={})


def _likelihood_arrays(draws: dict, theory: np.ndarray):
    """Per draw and theory target: ``rho_k + lambda_t``, ``eta_t + delta_k``; dispersion."""
    logit_t = np.concatenate([draws["eta"], draws["mu"]], axis=1)[:, theory]
    lam_t = np.concatenate([draws["salience_cmoc"], draws["salience_mechanism"]], axis=1)
    log_rate = draws["kind_rate"][:, None] + lam_t[:, theory]
    logit = logit_t + draws["kind_lean"][:, None]
    return log_rate, logit, draws["dispersion"]


def _new_sources(rng, s: int, log_rate, logit, phi, n: int):
    """``n`` new sources' counts (supports, refutes; source x theory target) under draw ``s``."""
    u = np.ones(n) if np.isinf(phi[s]) else rng.gamma(phi[s], 1.0 / phi[s], n)
    mean = u[:, None] * np.exp(log_rate[s])[None, :]
    p = expit(logit[s])[None, :]
    return rng.poisson(mean * p), rng.poisson(mean * (1 - p))


def _psis_p_supported(ll: np.ndarray, positive: np.ndarray, r_eff: float) -> tuple[float, float]:
    """``P(eta > 0)`` after reweighting the draws by the new data (log-likelihood ``ll``)."""
    from arviz_stats.base.array import array_stats

    # psislw smooths the ratios 1 / p(y | theta) of its argument: give it -ll for p(y | theta)
    log_w, khat = array_stats.psislw(-ll, r_eff=r_eff)
    w = np.exp(log_w - log_w.max())
    return float(w[positive].sum() / w.sum()), float(khat)


def _plan_task(
    target_pos: int,
    chunk: int,
    chunk_size: int,
    n_sims: int,
    seed: int,
    max_new: int,
    draws: dict,
    theory: np.ndarray,
    thresholds: tuple[float, float],
    r_eff: float,
) -> list[dict]:
    """``n_sims`` simulations for one CMOC (one Dask task); one record per simulation and n.

    Records whose Pareto k is above :data:`KHAT_MAX` carry what an exact refit needs
    (``refit_args``: the new sources' counts and the refit's seed); :func:`plan` refits them.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(target_pos, chunk)))
    affirm, refute = thresholds
    log_rate, logit, phi = _likelihood_arrays(draws, theory)
    positive = draws["eta"][:, target_pos] > 0
    out = []
    for sim in range(n_sims):
        s = int(rng.integers(positive.size))
        sup, ref = _new_sources(rng, s, log_rate, logit, phi, max_new)
        ll = np.cumsum(
            [_source_loglik(sup[j], ref[j], log_rate, logit, phi) for j in range(max_new)], axis=0
        )
        refit_seed = int(rng.integers(2**31))
        for n in range(1, max_new + 1):
            p_sup, khat = _psis_p_supported(ll[n - 1], positive, r_eff)
            out.append(
                {
                    "sim": chunk * chunk_size + sim,
                    "n_new": n,
                    "p_supported": p_sup,
                    "affirmed": p_sup >= affirm,
                    "refuted": p_sup <= refute,
                    "khat": khat,
                    "refit": False,
                    "refit_args": (sup[:n], ref[:n], refit_seed) if khat > KHAT_MAX else None,
                }
            )
    return out


def _refit_p_supported(
    refit: dict, target_pos: int, theory: np.ndarray, sup, ref, seed: int
) -> float:
    """Exact refit of the base plus the new sources; ``P(support > 1/2)`` of the CMOC."""
    from ..fitting.sampling import SamplerConfig, fit

    evidence: EvidenceBase = refit["evidence"]
    targets = list(evidence.targets.index[theory])
    base = _with_new_sources(evidence, refit["kind"], sup, ref, targets)
    cfg = ModelConfig.model_validate_json(refit["config"])
    sampler = SamplerConfig(**{**refit["sampler"], "seed": seed, "cores": 1})
    idata = fit(base, cfg, sampler)
    eta = idata["posterior"]["eta"].isel(cmoc=target_pos)
    return float((eta > 0).mean())


def _r_eff(idata: xr.DataTree, pos: int, n_samples: int) -> float:
    """Relative efficiency of the draws of a CMOC's ``eta`` (for PSIS)."""
    import arviz as az

    eta = idata["posterior"]["eta"].isel(cmoc=pos)
    ess = float(az.ess(eta.to_dataset(name="eta"))["eta"])
    return float(np.clip(ess / n_samples, 1e-3, 1.0))


def default_kind(evidence: EvidenceBase) -> str:
    """Return the kind :func:`plan` assumes for new sources: the newest wave's commonest."""
    newest = evidence.sources[evidence.sources["wave"] == evidence.waves[-1]]
    counts = (newest if len(newest) else evidence.sources)["kind"].value_counts(sort=False)
    return str(counts.idxmax())


def plan(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    kind: str | None = None,
    max_new: int = 5,
    simulations: int = 200,
    seed: int = SEED,
    workers: int = 2,
    scheduler: str | None = None,
    refit_sampler: dict | None = None,
    max_refits: int | None = None,
    targets: list[str] | None = None,
    progress: bool = False,
    details: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """How many more sources of a kind would be expected to settle each inconclusive CMOC.

    Parameters
    ----------
    idata : xarray.DataTree
        The fit of ``evidence`` (its stored model configuration is used).
    evidence : EvidenceBase
    kind : str, optional
        Kind of the new sources (default: the most common kind in the newest wave).
    max_new : int
        Largest number of new sources considered.
    simulations : int
        Simulations per CMOC (run in tasks of :data:`CHUNK`).
    seed : int
        Same seed, same numbers, whatever the number of workers.
    workers, scheduler
        As in :func:`cmoc.analyses.planning.parallel.run_on_dask` (``workers=0``: in this process).
    refit_sampler : dict, optional
        ``SamplerConfig`` fields for the exact refits where PSIS is unreliable (default: the
        fit's own chains, draws and tune).
    max_refits : int, optional
        At most this many exact refits (default: every update whose Pareto k is above
        :data:`KHAT_MAX`). The refitted updates are the first in the order (simulation, CMOC,
        n), which does not depend on their outcome; the others keep their PSIS estimate and
        are counted in ``unreliable``.
    targets : list of str, optional
        CMOCs to plan for (default: the inconclusive ones).
    progress : bool
        A progress bar on stderr.
    details : bool
        Also return the per-simulation records.

    Returns
    -------
    pandas.DataFrame
        :data:`PLAN_COLUMNS`, one row per CMOC and ``n_new``; empty when no CMOC is
        inconclusive. ``mc_se`` is the Monte Carlo standard error of ``p_settled``;
        ``refits`` how many simulations were refitted exactly (Pareto k above 0.7) and
        ``unreliable`` how many kept a PSIS estimate with k above 0.7 (``max_refits``).
    """
    _check_settings(max_new, simulations, max_refits)
    config, sampler = fit_config(idata)
    kind = _checked_kind(evidence, kind)
    now = _planned_targets(idata, evidence, targets)
    if now.empty:
        empty = pd.DataFrame(columns=PLAN_COLUMNS)
        return (empty, pd.DataFrame()) if details else empty
    d = model_data(evidence, group_effects=config.group_effects)
    theory = _theory(d)
    draws = _posterior_arrays(idata, kind, config)
    th = evidence.config.classification
    dask = {"workers": workers, "scheduler": scheduler, "progress": progress}
    tasks = _simulation_tasks(idata, d, now, draws, theory, simulations, seed, max_new, th)
    results = run_on_dask(_plan_task, tasks, label="plan simulations", **dask)
    records = []
    for args, rows in zip(tasks, results, strict=True):
        target_id = d.cmocs[args[0]]
        records += [{"target_id": target_id, "pos": args[0], **r} for r in rows]
    refit = _refit_spec(evidence, kind, config, sampler, refit_sampler)
    _refit_unreliable(records, now, max_refits, refit, theory, th, dask)
    sims = pd.DataFrame(records).drop(columns=["refit_args", "pos"])
    sims["unreliable"] = (sims["khat"] > KHAT_MAX) & ~sims["refit"]
    table = _plan_table(sims, now, kind)
    return (table, sims) if details else table


def _check_settings(max_new: int, simulations: int, max_refits: int | None) -> None:
    """Refuse impossible plan settings (``ValueError``)."""
    if max_new < 1:
        raise ValueError(f"max_new must be at least 1 (got {max_new})")
    if simulations < 1:
        raise ValueError(f"simulations must be at least 1 (got {simulations})")
    if max_refits is not None and max_refits < 0:
        raise ValueError(f"max_refits must be at least 0 (got {max_refits})")


def _checked_kind(evidence: EvidenceBase, kind: str | None) -> str:
    """Return the kind of the new sources: ``kind`` if the base has it, else the default."""
    if kind is None:
        return default_kind(evidence)
    kinds = list(dict.fromkeys(evidence.sources["kind"]))
    if kind not in kinds:
        raise ValueError(f"kind {kind!r} is not a source kind of the base ({', '.join(kinds)})")
    return kind


def _planned_targets(
    idata: xr.DataTree, evidence: EvidenceBase, targets: list[str] | None
) -> pd.DataFrame:
    """Return the CMOCs to plan for (default: the inconclusive ones) with ``p_supported``."""
    if targets is None:
        return inconclusive(idata, evidence)
    from ..inference.summary import summarize

    table = summarize(idata, evidence).set_index("target_id")
    unknown = [t for t in targets if t not in evidence.cmocs.index]
    if unknown:
        raise ValueError(f"not CMOCs of the base: {', '.join(unknown)}")
    now = pd.DataFrame({"target_id": targets, "p_supported": table.loc[targets, "p_supported"]})
    return now.reset_index(drop=True)


def _theory(d) -> np.ndarray:
    """Positions of the targets in the newest wave's theory (the ones a new source codes)."""
    return np.flatnonzero(d.target_intro <= len(d.waves) - 1)


def _refit_spec(
    evidence: EvidenceBase,
    kind: str,
    config: ModelConfig,
    sampler: dict,
    refit_sampler: dict | None,
) -> dict:
    """Return what an exact refit needs (:func:`_refit_p_supported`): base, model, sampler."""
    return {
        "evidence": evidence,
        "kind": kind,
        "config": config.model_dump_json(),
        "sampler": refit_sampler
        or {k: sampler[k] for k in ("sampler", "chains", "draws", "tune", "target_accept")},
    }


def _simulation_tasks(
    idata: xr.DataTree,
    d,
    now: pd.DataFrame,
    draws: dict,
    theory: np.ndarray,
    simulations: int,
    seed: int,
    max_new: int,
    th,
) -> list[tuple]:
    """Return the arguments of every :func:`_plan_task`: per CMOC, simulations in chunks."""
    n_samples = draws["eta"].shape[0]
    cmoc_pos = {c: i for i, c in enumerate(d.cmocs)}
    size = min(CHUNK, simulations)
    thresholds = (th.affirm, th.refute)
    tasks = []
    for target_id in now["target_id"]:
        pos = cmoc_pos[target_id]
        r_eff = _r_eff(idata, pos, n_samples)
        for chunk in range(-(-simulations // size)):
            n_sims = min(size, simulations - chunk * size)
            args = (pos, chunk, size, n_sims, seed, max_new, draws, theory, thresholds, r_eff)
            tasks.append(args)
    return tasks


def _refit_unreliable(
    records: list[dict],
    now: pd.DataFrame,
    max_refits: int | None,
    refit: dict,
    theory: np.ndarray,
    th,
    dask: dict,
) -> None:
    """Refit exactly the updates whose Pareto k is too high, in place.

    At most ``max_refits`` of them (None: all), the first in (simulation, CMOC, n) order, an
    order that does not depend on their outcome.
    """
    order = {t: i for i, t in enumerate(now["target_id"])}
    flagged = sorted(
        (i for i, r in enumerate(records) if r["refit_args"] is not None),
        key=lambda i: (records[i]["sim"], order[records[i]["target_id"]], records[i]["n_new"]),
    )
    chosen = flagged if max_refits is None else flagged[:max_refits]
    if not chosen:
        return
    refit_tasks = [(refit, records[i]["pos"], theory, *records[i]["refit_args"]) for i in chosen]
    values = run_on_dask(_refit_p_supported, refit_tasks, label="exact refits", **dask)
    for i, p_sup in zip(chosen, values, strict=True):
        records[i].update(
            p_supported=p_sup, affirmed=p_sup >= th.affirm, refuted=p_sup <= th.refute
        )
        records[i]["refit"] = True


def _plan_table(sims: pd.DataFrame, now: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Aggregate the simulations into :data:`PLAN_COLUMNS`, one row per CMOC and ``n_new``."""
    p_now = dict(zip(now["target_id"], now["p_supported"], strict=True))
    grouped = sims.groupby(["target_id", "n_new"], sort=False)
    table = grouped.agg(
        p_affirmed=("affirmed", "mean"),
        p_refuted=("refuted", "mean"),
        simulations=("sim", "size"),
        refits=("refit", "sum"),
        unreliable=("unreliable", "sum"),
        khat_max=("khat", "max"),
    ).reset_index()
    table["p_settled"] = table["p_affirmed"] + table["p_refuted"]
    table["mc_se"] = np.sqrt(table["p_settled"] * (1 - table["p_settled"]) / table["simulations"])
    table["kind"] = kind
    table["p_supported_now"] = table["target_id"].map(p_now)
    table["refits"] = table["refits"].astype(int)
    table["unreliable"] = table["unreliable"].astype(int)
    return table[PLAN_COLUMNS]


@dataclass(frozen=True)
class PlanSettings(Settings):
    """What a plan was computed from and with (the settings of a :class:`PlanResult`).

    Attributes
    ----------
    fit_id : str
        :func:`cmoc.analyses.fit_id` of the fit planned from.
    evidence_hash, model_id : str
        The fit's provenance.
    sampler : dict
        The fit's sampler settings.
    wave : str
        The newest wave (the one planned after).
    inconclusive : tuple of str
        The CMOCs planned for.
    kind : str
        Kind of the new sources.
    max_new, simulations, seed : int
    max_refits : int or None
        Cap on the exact refits (None: no cap).
    khat_max : float
        The Pareto k above which an update is refitted.
    affirm, refute : float
        The base's ``[classification]`` thresholds.
    cmoc_version : str
    """

    fit_id: str
    evidence_hash: str = ""
    model_id: str = ""
    sampler: dict[str, Any] = field(default_factory=dict)
    wave: str = ""
    inconclusive: tuple[str, ...] = ()
    kind: str = ""
    max_new: int = REPORT_PLAN["max_new"]
    simulations: int = REPORT_PLAN["simulations"]
    seed: int = SEED
    max_refits: int | None = None
    khat_max: float = KHAT_MAX
    affirm: float = AFFIRM
    refute: float = REFUTE
    cmoc_version: str = ""


class PlanResult(AnalysisResult):
    """A plan with what it was computed from (what ``cmoc plan`` saves and the report shows).

    An :class:`~cmoc.analyses.fitting.result.AnalysisResult` of kind ``plan``: ``table`` is
    :func:`plan` output (:data:`PLAN_COLUMNS`; empty when no CMOC was inconclusive), ``text``
    says what it found, ``passed`` is None (a plan has no verdict), ``settings`` a
    :class:`PlanSettings`. Saved as ``"cmoc plan 1"`` (plans saved before the shared result
    shape, without ``text``, still load).
    """

    kind = "plan"
    settings_type = PlanSettings
    what = "plan"
    hint = "cmoc plan (format 'cmoc plan 1' expected)"

    @property
    def targets(self) -> list[str]:
        """The CMOCs planned for (the inconclusive ones)."""
        return list(self.settings.inconclusive)

    def matches(self, idata: xr.DataTree) -> bool:
        """Whether the plan was computed from this fit."""
        return self.settings.fit_id == fit_id(idata)

    @classmethod
    def describe(cls, table: pd.DataFrame, settings: Settings) -> str:
        """Say in one sentence what the plan found."""
        s = settings
        if not s.inconclusive:
            return f"no CMOC is inconclusive after wave {s.wave}: nothing to plan for"
        last = table[table["n_new"] == table["n_new"].max()]
        chances = ", ".join(
            f"{r.target_id} {r.p_settled:.2f}" for r in last.itertuples(index=False)
        )
        return (
            f"{len(s.inconclusive)} CMOC(s) inconclusive after wave {s.wave}; chance that "
            f"{s.max_new} more {s.kind} sources settle each: {chances}"
        )


def plan_result(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    kind: str | None = None,
    max_new: int = 5,
    simulations: int = 200,
    seed: int = SEED,
    max_refits: int | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = False,
) -> PlanResult:
    """Run :func:`plan` for the inconclusive CMOCs and keep its settings with the table.

    Parameters are those of :func:`plan`. Costs one summary when no CMOC is inconclusive.

    Returns
    -------
    PlanResult
    """
    from importlib.metadata import version

    _, sampler = fit_config(idata)
    kind = kind if kind is not None else default_kind(evidence)
    now = inconclusive(idata, evidence)
    if now.empty:
        table = pd.DataFrame(columns=PLAN_COLUMNS)
    else:
        table = plan(
            idata,
            evidence,
            kind=kind,
            max_new=max_new,
            simulations=simulations,
            seed=seed,
            max_refits=max_refits,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
        )
    th = evidence.config.classification
    fitted = Provenance.of(idata)
    settings = PlanSettings(
        fit_id=fit_id(idata),
        evidence_hash=fitted.evidence_hash,
        model_id=fitted.model_id,
        sampler=sampler,
        wave=evidence.waves[-1],
        inconclusive=tuple(str(t) for t in now["target_id"]),
        kind=kind,
        max_new=int(max_new),
        simulations=int(simulations),
        seed=int(seed),
        max_refits=None if max_refits is None else int(max_refits),
        khat_max=KHAT_MAX,
        affirm=float(th.affirm),
        refute=float(th.refute),
        cmoc_version=version("cmoc"),
    )
    table = table.reset_index(drop=True)
    return PlanResult(table, PlanResult.describe(table, settings), None, settings)


def save_plan(result: PlanResult, path: str | Path) -> Path:
    """Write a plan as JSON, atomically (:meth:`AnalysisResult.save`; floats exact).

    Parameters
    ----------
    result : PlanResult
    path : str or Path
        Its directory is created if needed.

    Returns
    -------
    Path
    """
    if list(result.table.columns) != PLAN_COLUMNS:
        result = replace(result, table=result.table[PLAN_COLUMNS])
    return result.save(path)


def load_plan(path: str | Path) -> PlanResult:
    """Read a plan written by :func:`save_plan`.

    Raises
    ------
    ValueError
        When the file is not a cmoc plan (the message says why).
    """
    result = PlanResult.load(path)
    if list(result.table.columns) != PLAN_COLUMNS:
        raise ValueError(f"{path}: a plan of another cmoc version (columns differ)")
    return result


def plan_or_reuse(
    directory: str | Path,
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    path: str | Path | None = None,
    **kwargs,
) -> tuple[PlanResult, str]:
    """Return the plan saved beside the fits if it was made from ``idata``, else compute it.

    Parameters
    ----------
    directory : str or Path
        The evidence base (the plan is kept in ``DIR/.cmoc/plan.json``).
    idata : xarray.DataTree
        The newest wave's fit.
    evidence : EvidenceBase
    path : str or Path, optional
        Where the plan is kept (default :func:`default_plan_path`).
    **kwargs
        :func:`plan_result` settings, used only when the plan is computed: a saved plan made
        from this very fit is reused whatever its kind, ``max_new`` or simulations (``cmoc
        plan`` may have been run with other settings on purpose).

    Returns
    -------
    (PlanResult, str)
        The plan, and in words whether it was reused or computed (and saved).
    """
    path = Path(path) if path is not None else default_plan_path(directory)
    reason = "no saved plan"
    if path.is_file():
        try:
            saved = load_plan(path)
        except ValueError as err:
            reason = f"the saved plan could not be read ({err})"
        else:
            if saved.matches(idata):
                return saved, f"reused the saved plan {path} (made from this fit)"
            reason = "the saved plan was made from another fit"
    result = plan_result(idata, evidence, **kwargs)
    save_plan(result, path)
    return result, f"planned ({reason}); saved to {path}"


def _compare_task(
    target_pos: int, index: int, n_new: int, seed: int, draws: dict, theory, r_eff, refit
) -> dict:
    """One simulated batch of ``n_new`` sources: PSIS update against an exact refit."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(target_pos, n_new, index)))
    log_rate, logit, phi = _likelihood_arrays(draws, theory)
    positive = draws["eta"][:, target_pos] > 0
    s = int(rng.integers(positive.size))
    sup, ref = _new_sources(rng, s, log_rate, logit, phi, n_new)
    ll = sum(_source_loglik(sup[j], ref[j], log_rate, logit, phi) for j in range(n_new))
    p_psis, khat = _psis_p_supported(ll, positive, r_eff)
    p_refit = _refit_p_supported(refit, target_pos, theory, sup, ref, int(rng.integers(2**31)))
    return {
        "sim": index,
        "n_new": n_new,
        "p_psis": p_psis,
        "p_refit": p_refit,
        "khat": khat,
        "codes_for_target": int(sup[:, target_pos].sum() + ref[:, target_pos].sum()),
    }


def psis_versus_refit(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    target_id: str,
    *,
    kind: str,
    n_new: int = 1,
    simulations: int = 10,
    seed: int = 0,
    workers: int = 2,
    scheduler: str | None = None,
    refit_sampler: dict | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Measure the importance-reweighting update against exact refits.

    For ``simulations`` batches of ``n_new`` sources drawn as :func:`plan` draws them, the
    CMOC's ``P(support > 1/2)`` after PSIS reweighting (``p_psis``, whatever its Pareto k) and
    after refitting the base plus the batch (``p_refit``).

    Returns
    -------
    pandas.DataFrame
        ``sim, n_new, p_psis, p_refit, khat, codes_for_target``.
    """
    config, sampler = fit_config(idata)
    d = model_data(evidence, group_effects=config.group_effects)
    theory = _theory(d)
    draws = _posterior_arrays(idata, kind, config)
    pos = d.cmocs.index(target_id)
    r_eff = _r_eff(idata, pos, draws["eta"].shape[0])
    refit = _refit_spec(evidence, kind, config, sampler, refit_sampler)
    tasks = [(pos, i, n_new, seed, draws, theory, r_eff, refit) for i in range(simulations)]
    rows = run_on_dask(
        _compare_task,
        tasks,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        label="refits",
    )
    return pd.DataFrame(rows)
