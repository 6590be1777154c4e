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
trusted, and the update reweights by the split into supports and refutes of the new codes of
the CMOC's mechanism's targets alone (:data:`UPDATES`, ``"targeted"``); where that fails too,
the base plus the new sources is refitted exactly, at most :data:`MAX_REFITS` times (the rest
counted ``unreliable``). The same ``max_new`` sources serve every ``n`` (common random numbers:
the curve over ``n`` is smooth).

Simulations run on Dask in fixed chunks (:data:`CHUNK`), each seeded by
``SeedSequence(seed, spawn_key=(cmoc position, chunk))``: results do not depend on the number
of workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, gammaln, log_expit

from ...defaults import AFFIRM, KHAT_MAX, MAX_REFITS, MAX_REFITS_V2, REFUTE, SEED, Status
from ...evidence import EvidenceBase
from ...models import ModelConfig, model_data
from ..fitting.attrs import Provenance
from ..fitting.result import AnalysisResult, Settings
from ..fitting.store import default_plan_path, fit_config, fit_id
from .parallel import run_on_dask

__all__ = [
    "CHUNK",
    "KHAT_MAX",
    "MAX_REFITS",
    "PLAN_COLUMNS",
    "REPORT_PLAN",
    "REUSE_KEYS",
    "UPDATES",
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

UPDATES = ("targeted", "full")
"""How an update reweights the fit's draws (:func:`plan`'s ``update``).

``"full"``: by the new sources' whole likelihood, refitting where its Pareto k is above
:data:`KHAT_MAX`. ``"targeted"`` (the default): the same while that k is at most
:data:`KHAT_MAX`; from the first n of a simulation where it is not, by the likelihood of the
split into supports and refutes (binomial, ``p = logistic(eta_t + delta_k)``) of the new codes
of the planned CMOC's mechanism's targets (its CMOCs and the mechanism), or where that k is
above :data:`KHAT_MAX` too, of the CMOC's own (:class:`_Targeted`), refitting only where that
fails as well. The splits are the part of the new sources' likelihood that moves the CMOC's
support directly and through its mechanism's mean; what they leave out (how often each target
is coded: saliences, kind rates, dispersion, no ``eta``; and the other mechanisms' splits) moves
it only through the kind lean and the hyperparameters. On a 40-source base the whole
likelihood's k was above 0.7 in 86% of the updates of ``max_new = 20`` (every one from n = 9);
the targeted k in none of them.
"""

REPORT_PLAN = {"max_new": 5, "simulations": 200, "max_refits": 0}
"""The plan ``cmoc report`` computes when no saved plan was made from its fit.

PSIS updates only: an exact refit costs about 20 s of one core each (the fit's 4 chains x
2,000 steps, compiled anew), the updates cost milliseconds. Measured on the planted test base
(C1 inconclusive, 4 chains x 1,000 draws): the 1,000 updates (200 simulations, n = 1..5) took
6 s in one process; 40 had a Pareto k above 0.7 (0, 1, 7, 11, 21 for n = 1..5), and refitting
all 40 (20 minutes on a busy 2-core machine) changed ``p_settled`` by 0.005 at n = 5 and not
at all below, against a Monte Carlo error of 0.035. The report says how many updates kept a
PSIS estimate with k above 0.7; ``cmoc plan`` refits up to :data:`MAX_REFITS` of them by
default, and the report shows that plan when it was made from the same fit. (Measured with the
whole-likelihood update, ``update="full"``; the default targeted update has fewer.)
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
    terms = _LikelihoodTerms.of(log_rate, logit, phi)
    return terms.loglik(np.atleast_2d(sup), np.atleast_2d(ref))[0]


@dataclass(frozen=True)
class _LikelihoodTerms:
    """What the likelihood of new sources needs per draw, computed once per task.

    ``log_sup``, ``log_ref`` (draws x theory targets): ``rho_k + lambda_t + log p_t`` and
    ``... + log(1 - p_t)``; ``rate`` the expected codes of a typical source over the theory;
    ``phi`` the dispersion (``inf``: Poisson). Recomputing them for every source was 95% of the
    simulation time (20 ms a source on 4,000 draws and 48 targets; now a matrix product).
    """

    log_sup: np.ndarray
    log_ref: np.ndarray
    rate: np.ndarray
    phi: np.ndarray

    @classmethod
    def of(cls, log_rate: np.ndarray, logit: np.ndarray, phi: np.ndarray) -> _LikelihoodTerms:
        return cls(
            np.ascontiguousarray((log_rate + log_expit(logit)).T),
            np.ascontiguousarray((log_rate + log_expit(-logit)).T),
            np.exp(log_rate).sum(axis=1),
            np.asarray(phi, dtype=float),
        )

    def loglik(self, sup: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """Log-likelihood of each source (rows of ``sup``, ``ref``) under every draw."""
        cell = (
            sup @ self.log_sup
            + ref @ self.log_ref
            - (gammaln(sup + 1).sum(axis=1) + gammaln(ref + 1).sum(axis=1))[:, None]
        )
        total = (sup.sum(axis=1) + ref.sum(axis=1))[:, None]
        poisson = np.isinf(self.phi)
        ph = np.where(poisson, 1.0, self.phi)
        negbin = (
            cell
            + gammaln(ph + total)
            - gammaln(ph)
            - ph * np.log1p(self.rate / ph)
            - total * np.log(ph + self.rate)
        )
        return np.where(poisson, cell - self.rate, negbin)


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


def _mechanism_targets(d, target_pos: int) -> np.ndarray:
    """Return the CMOC's mechanism's targets (its CMOCs, then the mechanism) by position."""
    n_c = len(d.cmocs)
    m = int(d.target_mech[target_pos])
    cmocs = np.flatnonzero(np.asarray(d.target_mech[:n_c]) == m)
    return np.concatenate([cmocs, [n_c + m]]).astype(int)


class _Targeted:
    """The targeted update of one CMOC: reweighting by the split of its own targets' new codes.

    First by the splits (supports among the codes, ``p = logistic(eta_t + delta_k)``) of its
    mechanism's targets (its sibling CMOCs and the mechanism: what moves its support directly and
    through the mechanism mean), and where that Pareto k is above :data:`KHAT_MAX`, by its own
    split alone. Results are kept per distinct count (most new sources add no code of them).
    """

    def __init__(self, logit, theory, target_pos, group, positive, r_eff) -> None:
        cols = np.flatnonzero(np.isin(theory, group))
        own = np.flatnonzero(theory[cols] == target_pos)
        self.cols, self.own = cols, (int(own[0]) if own.size else None)
        self.log_p, self.log_q = log_expit(logit[:, cols]), log_expit(-logit[:, cols])
        self.positive, self.r_eff = positive, r_eff
        self.p_now = float(positive.mean())
        self.done: dict = {}

    def __call__(self, sup: np.ndarray, ref: np.ndarray) -> tuple[float, float, str]:
        """Return ``P(support > 1/2)``, Pareto k and how, after new codes ``sup``, ``ref``.

        ``sup``, ``ref``: the new codes per theory target, summed over the new sources.
        """
        s, r = sup[self.cols], ref[self.cols]
        key = (tuple(s.tolist()), tuple(r.tolist()))
        if key not in self.done:
            self.done[key] = self._update(s, r)
        return self.done[key]

    def _update(self, s: np.ndarray, r: np.ndarray) -> tuple[float, float, str]:
        if not (s.any() or r.any()):  # no code of these targets: the support is as it was
            return self.p_now, -np.inf, "mechanism"
        p, k = _psis_p_supported(self.log_p @ s + self.log_q @ r, self.positive, self.r_eff)
        if k <= KHAT_MAX or self.own is None:
            return p, k, "mechanism"
        o = self.own
        if s[o] == 0 and r[o] == 0:
            return self.p_now, -np.inf, "cmoc"
        own = s[o] * self.log_p[:, o] + r[o] * self.log_q[:, o]
        p, k = _psis_p_supported(own, self.positive, self.r_eff)
        return p, k, "cmoc"


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
    update: str = "targeted",
    group: np.ndarray | None = None,
) -> list[dict]:
    """``n_sims`` simulations for one CMOC (one Dask task); one record per simulation and n.

    ``update="full"``: every update reweights by the new sources' whole likelihood.
    ``"targeted"``: so while its Pareto k is at most :data:`KHAT_MAX`; from the first n where
    it is not, by the likelihood of the split into supports and refutes of the new codes of the
    CMOC's mechanism's targets (``group``, positions), or of its own (:class:`_Targeted`,
    :data:`UPDATES`). Records whose (last) Pareto k is above :data:`KHAT_MAX` carry what an
    exact refit needs (``refit_args``: the new sources' counts and the refit's seed);
    :func:`plan` refits them.
    """
    with _one_blas_thread():
        return _simulate(
            target_pos,
            chunk,
            chunk_size,
            n_sims,
            seed,
            max_new,
            draws,
            theory,
            thresholds,
            r_eff,
            update,
            np.array([target_pos]) if group is None else np.asarray(group),
        )


def _one_blas_thread():
    """BLAS on one thread: its small products ran 40x slower threaded on a busy machine.

    Dask's workers already start with ``OPENBLAS_NUM_THREADS=1``; this covers ``workers=0``.
    """
    from contextlib import nullcontext

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn and arviz
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def _simulate(
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
    update: str,
    group: np.ndarray,
) -> list[dict]:
    """Run the simulations of :func:`_plan_task`."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(target_pos, chunk)))
    affirm, refute = thresholds
    log_rate, logit, phi = _likelihood_arrays(draws, theory)
    terms = _LikelihoodTerms.of(log_rate, logit, phi)
    positive = draws["eta"][:, target_pos] > 0
    targeted = _Targeted(logit, theory, target_pos, group, positive, r_eff)
    out = []
    for sim in range(n_sims):
        s = int(rng.integers(positive.size))
        sup, ref = _new_sources(rng, s, log_rate, logit, phi, max_new)
        ll = np.cumsum(terms.loglik(sup, ref), axis=0)
        refit_seed = int(rng.integers(2**31))
        cum_sup, cum_ref = np.cumsum(sup, axis=0), np.cumsum(ref, axis=0)
        whole = True
        for n in range(1, max_new + 1):
            how = "full"
            if whole:
                p_sup, khat = _psis_p_supported(ll[n - 1], positive, r_eff)
                whole = update == "full" or khat <= KHAT_MAX
            if not whole:
                p_sup, khat, how = targeted(cum_sup[n - 1], cum_ref[n - 1])
            out.append(
                {
                    "sim": chunk * chunk_size + sim,
                    "n_new": n,
                    "p_supported": p_sup,
                    "affirmed": p_sup >= affirm,
                    "refuted": p_sup <= refute,
                    "khat": khat,
                    "update": how,
                    "refit": False,
                    "refit_args": (sup[:n], ref[:n], refit_seed) if khat > KHAT_MAX else None,
                }
            )
    return out


def _refit_p_supported(
    refit: dict, target_pos: int, theory: np.ndarray, sup, ref, seed: int
) -> float:
    """Exact refit of the base plus the new sources; ``P(support > 1/2)`` of the CMOC.

    Every refit of a plan has one graph (:func:`_refit_data`), so a worker compiles it once and
    samples the others with their data swapped in (``sampling._compile_nutpie``); before, each
    number of new sources and each change of centring was a new graph, compiled anew (25-35 s)
    and kept (16 per worker, most of the 6.5 GB measured).
    """
    from ...models import build_model
    from ..fitting.sampling import SamplerConfig, sample_model

    cfg = ModelConfig.from_json(refit["config"])
    d = _refit_data(refit, theory, sup, ref, cfg)
    sampler = SamplerConfig(**{**refit["sampler"], "seed": seed, "cores": 1})
    idata = sample_model(build_model(d, cfg), sampler)
    eta = idata["posterior"]["eta"].isel(cmoc=target_pos).values
    del idata
    return float((eta > 0).mean())


def _refit_data(refit: dict, theory: np.ndarray, sup, ref, cfg: ModelConfig):
    """Return the refit's data: the base plus ``max_new`` new sources, the unused of weight 0.

    Same posterior as the base plus the ``len(sup)`` new sources alone (a source of weight 0
    drops out of the likelihood, as in leave-one-out), and the same graph whatever their
    number and counts: the source coordinate always has ``max_new`` new sources, and the
    centring of each CMOC is the base fit's (it changes the parametrisation, not the posterior).
    """
    from ...models import model_data

    evidence: EvidenceBase = refit["evidence"]
    n, slots = sup.shape[0], max(int(refit.get("max_new") or 0), sup.shape[0])
    padded_sup, padded_ref = np.zeros((slots, sup.shape[1])), np.zeros((slots, sup.shape[1]))
    padded_sup[:n], padded_ref[:n] = sup, ref
    targets = list(evidence.targets.index[theory])
    base = _with_new_sources(evidence, refit["kind"], padded_sup, padded_ref, targets)
    d = model_data(base, group_effects=cfg.group_effects)
    weight = d.src_weight.copy()
    weight[len(weight) - (slots - n) :] = 0.0
    now = refit.get("base_codes")
    if now is None:
        now = model_data(evidence, group_effects=cfg.group_effects)
        now = (now.target_codes, now.mech_codes)
    return replace(d, src_weight=weight, target_codes=now[0], mech_codes=now[1])


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
    max_refits: int | None = MAX_REFITS,
    targets: list[str] | None = None,
    progress: bool = False,
    details: bool = False,
    update: str = "targeted",
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
    max_refits : int or None
        At most this many exact refits (default :data:`MAX_REFITS`; None: every update whose
        Pareto k is above :data:`KHAT_MAX`). The refitted updates are the first in the order
        (simulation, CMOC, n), which does not depend on their outcome; the others keep their
        PSIS estimate and are counted in ``unreliable``.
    targets : list of str, optional
        CMOCs to plan for (default: the inconclusive ones).
    progress : bool
        A progress bar on stderr.
    details : bool
        Also return the per-simulation records (with ``update``, how each was answered:
        ``full``, ``mechanism`` or ``cmoc`` (the targeted update's two likelihoods, see
        :data:`UPDATES`) or ``refit``).
    update : str
        How the fit's draws are reweighted (:data:`UPDATES`): ``"targeted"`` (default) by the
        new sources' whole likelihood while its Pareto k is at most :data:`KHAT_MAX`, then by the
        split of the new codes of the CMOC's mechanism's targets (or its own); ``"full"`` by
        the whole likelihood always (cmoc before this option; its k exceeds 0.7 in most updates
        of many new sources, each then a refit).

    Returns
    -------
    pandas.DataFrame
        :data:`PLAN_COLUMNS`, one row per CMOC and ``n_new``; empty when no CMOC is
        inconclusive. ``mc_se`` is the Monte Carlo standard error of ``p_settled``;
        ``refits`` how many simulations were refitted exactly (Pareto k above 0.7) and
        ``unreliable`` how many kept a PSIS estimate with k above 0.7 (``max_refits``);
        ``khat_max`` the largest Pareto k of the updates used (for a targeted update, its own).
        Of a model v2 fit, :func:`.plan_measurement.plan_measurement` answers
        (:data:`.plan_measurement.PLAN_V2_COLUMNS`: every inconclusive target, CMOC or
        mechanism, and the chance that it becomes decisive).
    """
    from ..inference.measurement import is_measurement_fit

    if is_measurement_fit(idata):  # model v2: its estimands (plan_measurement.py)
        from .plan_measurement import plan_measurement

        return plan_measurement(
            idata,
            evidence,
            kind=kind,
            max_new=max_new,
            simulations=simulations,
            seed=seed,
            workers=workers,
            scheduler=scheduler,
            refit_sampler=refit_sampler,
            max_refits=max_refits,
            targets=targets,
            progress=progress,
            details=details,
            update=update,
        )
    _check_settings(max_new, simulations, max_refits)
    if update not in UPDATES:
        raise ValueError(f"update must be one of {', '.join(UPDATES)} (got {update!r})")
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
    tasks = _simulation_tasks(idata, d, now, draws, theory, simulations, seed, max_new, th, update)
    results = run_on_dask(_plan_task, tasks, label="plan simulations", **dask)
    records = []
    for args, rows in zip(tasks, results, strict=True):
        target_id = d.cmocs[args[0]]
        records += [{"target_id": target_id, "pos": args[0], **r} for r in rows]
    refit = _refit_spec(evidence, kind, config, sampler, refit_sampler, max_new)
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
    max_new: int | None = None,
) -> dict:
    """Return what an exact refit needs (:func:`_refit_p_supported`): base, model, sampler."""
    d = model_data(evidence, group_effects=config.group_effects)
    return {
        "evidence": evidence,
        "kind": kind,
        "config": config.model_dump_json(),
        "sampler": refit_sampler
        or {k: sampler[k] for k in ("sampler", "chains", "draws", "tune", "target_accept")},
        "max_new": max_new,
        "base_codes": (d.target_codes, d.mech_codes),
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
    update: str = "targeted",
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
            args = (
                pos,
                chunk,
                size,
                n_sims,
                seed,
                max_new,
                draws,
                theory,
                thresholds,
                r_eff,
                update,
                _mechanism_targets(d, pos),
            )
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
        records[i]["update"] = "refit"


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
    update : str
        :data:`UPDATES` (plans saved before it was a setting: ``"full"``).
    khat_max : float
        The Pareto k above which an update is refitted.
    affirm, refute : float
        The base's ``[classification]`` thresholds.
    cmoc_version : str
    model : str
        The fit's model, ``"hierarchical"`` (v1; plans saved before it was a setting) or
        ``"measurement"`` (v2: the table has :data:`PLAN_V2_COLUMNS`, ``inconclusive`` holds
        CMOCs and mechanisms).
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
    update: str = "full"
    khat_max: float = KHAT_MAX
    affirm: float = AFFIRM
    refute: float = REFUTE
    cmoc_version: str = ""
    model: str = "hierarchical"


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
        if s.model == "measurement":
            if not s.inconclusive:
                return f"no target is inconclusive after wave {s.wave}: nothing to plan for"
            last = table[table["n_new"] == table["n_new"].max()]
            chances = ", ".join(
                f"{r.target_id} {r.p_decisive:.2f}" for r in last.itertuples(index=False)
            )
            return (
                f"{len(s.inconclusive)} target(s) inconclusive after wave {s.wave} (model v2); "
                f"chance that {s.max_new} more {s.kind} sources make each decisive: {chances}"
            )
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
    max_refits: int | Literal["by model"] | None = "by model",
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = False,
    update: str = "targeted",
) -> PlanResult:
    """Run :func:`plan` for the inconclusive CMOCs and keep its settings with the table.

    Parameters are those of :func:`plan`. Costs one summary when no CMOC is inconclusive. Of
    a model v2 fit, the plan of every inconclusive target (CMOCs and mechanisms,
    :func:`~cmoc.analyses.planning.plan_measurement.plan_measurement`).
    ``max_refits="by model"`` (the default) is :data:`~cmoc.defaults.MAX_REFITS_V2` (0) for a
    model v2 fit and :data:`MAX_REFITS` for model v1.

    Returns
    -------
    PlanResult
    """
    from importlib.metadata import version

    from ..inference.measurement import is_measurement_fit

    _, sampler = fit_config(idata)
    kind = kind if kind is not None else default_kind(evidence)
    v2 = is_measurement_fit(idata)
    if max_refits == "by model":
        max_refits = MAX_REFITS_V2 if v2 else MAX_REFITS
    if v2:
        from ..inference.measurement import summarize_measurement
        from .plan_measurement import PLAN_V2_COLUMNS, inconclusive_targets

        summary = summarize_measurement(idata, evidence)
        now = inconclusive_targets(idata, evidence, summary)
    else:
        now = inconclusive(idata, evidence)
    if now.empty:
        table = pd.DataFrame(columns=PLAN_V2_COLUMNS if v2 else PLAN_COLUMNS)
    elif v2:
        from .plan_measurement import plan_measurement

        table = plan_measurement(
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
            update=update,
            targets=list(now["target_id"]),
            summary=summary,
        )
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
            update=update,
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
        update=update,
        khat_max=KHAT_MAX,
        affirm=float(th.affirm),
        refute=float(th.refute),
        cmoc_version=version("cmoc"),
        model="measurement" if v2 else "hierarchical",
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
    columns = _plan_columns(result.settings)
    if list(result.table.columns) != columns:
        result = replace(result, table=result.table[columns])
    return result.save(path)


def _plan_columns(settings: PlanSettings) -> list[str]:
    """Return the columns of a plan's table: model v1's, or model v2's."""
    if settings.model == "measurement":
        from .plan_measurement import PLAN_V2_COLUMNS

        return PLAN_V2_COLUMNS
    return PLAN_COLUMNS


def load_plan(path: str | Path) -> PlanResult:
    """Read a plan written by :func:`save_plan`.

    Raises
    ------
    ValueError
        When the file is not a cmoc plan (the message says why).
    """
    result = PlanResult.load(path)
    if list(result.table.columns) != _plan_columns(result.settings):
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
        :func:`plan_result` settings, used only when the plan is computed. Of a model v1 fit, a
        saved plan made from this very fit is reused whatever its kind, ``max_new`` or
        simulations (``cmoc plan`` may have been run with other settings on purpose). Of a
        model v2 fit, only a saved plan made from this fit *and* with these settings
        (:data:`REUSE_KEYS`, the kind resolved by :func:`default_kind`): the report says which
        settings its plan was made with, and a v2 plan's worth depends on them (its refits
        above all); a saved plan of this fit made with other settings (``cmoc plan`` with
        refits) is left in place, and the plan computed here is not saved over it.

    Returns
    -------
    (PlanResult, str)
        The plan, and in words whether it was reused or computed (and saved).
    """
    from ..inference.measurement import is_measurement_fit

    path = Path(path) if path is not None else default_plan_path(directory)
    v2 = is_measurement_fit(idata)
    reason, keep = "no saved plan", False
    if path.is_file():
        try:
            saved = load_plan(path)
        except ValueError as err:
            reason = f"the saved plan could not be read ({err})"
        else:
            differ = _settings_differ(saved.settings, evidence, kwargs) if v2 else []
            if saved.matches(idata) and not differ:
                return saved, f"reused the saved plan {path} (made from this fit)"
            if saved.matches(idata):
                reason = f"the saved plan of this fit was made with other settings ({differ})"
                keep = True
            else:
                reason = "the saved plan was made from another fit"
    result = plan_result(idata, evidence, **kwargs)
    if keep:
        return result, f"planned ({reason}); not saved: {path} kept"
    save_plan(result, path)
    return result, f"planned ({reason}); saved to {path}"


REUSE_KEYS = ("kind", "max_new", "simulations", "seed", "max_refits", "update")
"""The settings a saved model v2 plan must share with the one asked for to be reused."""


def _settings_differ(saved: PlanSettings, evidence: EvidenceBase, asked: dict) -> str:
    """Say which of :data:`REUSE_KEYS` a saved plan has other than ``asked`` ('' if none)."""
    import inspect

    defaults = {
        k: p.default
        for k, p in inspect.signature(plan_result).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    want = {k: asked.get(k, defaults.get(k)) for k in REUSE_KEYS}
    if want["kind"] is None:
        want["kind"] = default_kind(evidence)
    return ", ".join(
        f"{k} {getattr(saved, k)!r}, asked {want[k]!r}"
        for k in REUSE_KEYS
        if getattr(saved, k) != want[k]
    )


def _compare_task(
    target_pos: int,
    index: int,
    n_new: int,
    seed: int,
    draws: dict,
    theory,
    r_eff,
    refit,
    group=None,
) -> dict:
    """One simulated batch of ``n_new`` sources: PSIS updates against an exact refit."""
    with _one_blas_thread():
        rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(target_pos, n_new, index))
        )
        log_rate, logit, phi = _likelihood_arrays(draws, theory)
        terms = _LikelihoodTerms.of(log_rate, logit, phi)
        positive = draws["eta"][:, target_pos] > 0
        group = np.array([target_pos]) if group is None else np.asarray(group)
        targeted = _Targeted(logit, theory, target_pos, group, positive, r_eff)
        s = int(rng.integers(positive.size))
        sup, ref = _new_sources(rng, s, log_rate, logit, phi, n_new)
        ll = terms.loglik(sup, ref).sum(axis=0)
        p_psis, khat = _psis_p_supported(ll, positive, r_eff)
        p_targeted, khat_targeted, how = targeted(sup.sum(axis=0), ref.sum(axis=0))
        own = np.flatnonzero(theory == target_pos)
        codes = int(sup[:, own].sum() + ref[:, own].sum())
    p_refit = _refit_p_supported(refit, target_pos, theory, sup, ref, int(rng.integers(2**31)))
    return {
        "sim": index,
        "n_new": n_new,
        "p_psis": p_psis,
        "p_targeted": p_targeted,
        "p_refit": p_refit,
        "khat": khat,
        "khat_targeted": khat_targeted,
        "targeted_by": how,
        "codes_for_target": codes,
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
        ``sim, n_new, p_psis, p_targeted, p_refit, khat, khat_targeted, codes_for_target``:
        ``p_targeted`` and ``khat_targeted`` reweight by the CMOC's own new codes' split only
        (:data:`UPDATES`).
    """
    config, sampler = fit_config(idata)
    d = model_data(evidence, group_effects=config.group_effects)
    theory = _theory(d)
    draws = _posterior_arrays(idata, kind, config)
    pos = d.cmocs.index(target_id)
    r_eff = _r_eff(idata, pos, draws["eta"].shape[0])
    refit = _refit_spec(evidence, kind, config, sampler, refit_sampler)
    group = _mechanism_targets(d, pos)
    tasks = [(pos, i, n_new, seed, draws, theory, r_eff, refit, group) for i in range(simulations)]
    rows = run_on_dask(
        _compare_task,
        tasks,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        label="refits",
    )
    return pd.DataFrame(rows)
