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

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, gammaln, log_expit

from ..evidence import EvidenceBase
from ..models import ModelConfig, model_data
from .calibration import run_on_dask

__all__ = [
    "CHUNK",
    "KHAT_MAX",
    "PLAN_COLUMNS",
    "inconclusive",
    "plan",
    "plan_figure",
    "psis_versus_refit",
]

KHAT_MAX = 0.7
"""Pareto ``k`` above which importance reweighting is replaced by an exact refit."""

CHUNK = 50
"""Simulations per Dask task (fixed, so results do not depend on how work is split)."""

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
    "khat_max",
    "p_supported_now",
]


def inconclusive(idata: xr.DataTree, evidence: EvidenceBase) -> pd.DataFrame:
    """Return the CMOCs whose status is inconclusive, with ``p_supported``."""
    from .summary import summarize

    table = summarize(idata, evidence)
    keep = (table["target_type"] == "cmoc") & (table["status"] == "inconclusive")
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
    refit: dict,
) -> list[dict]:
    """``n_sims`` simulations for one CMOC (one Dask task); one record per simulation and n."""
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
            refitted = khat > KHAT_MAX
            if refitted:
                p_sup = _refit_p_supported(refit, target_pos, theory, sup[:n], ref[:n], refit_seed)
            out.append(
                {
                    "sim": chunk * chunk_size + sim,
                    "n_new": n,
                    "p_supported": p_sup,
                    "affirmed": p_sup >= affirm,
                    "refuted": p_sup <= refute,
                    "khat": khat,
                    "refit": refitted,
                }
            )
    return out


def _refit_p_supported(
    refit: dict, target_pos: int, theory: np.ndarray, sup, ref, seed: int
) -> float:
    """Exact refit of the base plus the new sources; ``P(support > 1/2)`` of the CMOC."""
    from .sampling import SamplerConfig, fit

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


def plan(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    kind: str | None = None,
    max_new: int = 5,
    simulations: int = 200,
    seed: int = 20211,
    workers: int = 2,
    scheduler: str | None = None,
    refit_sampler: dict | None = None,
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
        As in :func:`cmoc.analyses.calibration.run_on_dask`.
    refit_sampler : dict, optional
        ``SamplerConfig`` fields for the exact refits where PSIS is unreliable (default: the
        fit's own chains, draws and tune).
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
        ``refits`` how many simulations were refitted exactly (Pareto k above 0.7).
    """
    from .results import fit_config

    if max_new < 1:
        raise ValueError(f"max_new must be at least 1 (got {max_new})")
    if simulations < 1:
        raise ValueError(f"simulations must be at least 1 (got {simulations})")
    config, sampler = fit_config(idata)
    newest = evidence.sources[evidence.sources["wave"] == evidence.waves[-1]]
    kinds = list(dict.fromkeys(evidence.sources["kind"]))
    if kind is None:
        counts = (newest if len(newest) else evidence.sources)["kind"].value_counts(sort=False)
        kind = str(counts.idxmax())
    elif kind not in kinds:
        raise ValueError(f"kind {kind!r} is not a source kind of the base ({', '.join(kinds)})")
    now = inconclusive(idata, evidence)
    if targets is not None:
        from .summary import summarize

        table = summarize(idata, evidence).set_index("target_id")
        unknown = [t for t in targets if t not in evidence.cmocs.index]
        if unknown:
            raise ValueError(f"not CMOCs of the base: {', '.join(unknown)}")
        now = pd.DataFrame({"target_id": targets, "p_supported": table.loc[targets, "p_supported"]})
        now = now.reset_index(drop=True)
    if now.empty:
        empty = pd.DataFrame(columns=PLAN_COLUMNS)
        return (empty, pd.DataFrame()) if details else empty
    d = model_data(evidence, group_effects=config.group_effects)
    theory = np.flatnonzero(d.target_intro <= len(d.waves) - 1)
    draws = _posterior_arrays(idata, kind, config)
    n_samples = draws["eta"].shape[0]
    refit = {
        "evidence": evidence,
        "kind": kind,
        "config": config.model_dump_json(),
        "sampler": refit_sampler
        or {k: sampler[k] for k in ("sampler", "chains", "draws", "tune", "target_accept")},
    }
    th = evidence.config.classification
    cmoc_pos = {c: i for i, c in enumerate(d.cmocs)}
    size = min(CHUNK, simulations)
    thresholds = (th.affirm, th.refute)
    tasks = []
    for target_id in now["target_id"]:
        pos = cmoc_pos[target_id]
        r_eff = _r_eff(idata, pos, n_samples)
        for chunk in range(-(-simulations // size)):
            n_sims = min(size, simulations - chunk * size)
            tasks.append(
                (pos, chunk, size, n_sims, seed, max_new, draws, theory, thresholds, r_eff, refit)
            )
    results = run_on_dask(
        _plan_task,
        tasks,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        label="plan simulations",
    )
    records = []
    for args, rows in zip(tasks, results, strict=True):
        target_id = d.cmocs[args[0]]
        records += [{"target_id": target_id, **r} for r in rows]
    sims = pd.DataFrame(records)
    p_now = dict(zip(now["target_id"], now["p_supported"], strict=True))
    grouped = sims.groupby(["target_id", "n_new"], sort=False)
    table = grouped.agg(
        p_affirmed=("affirmed", "mean"),
        p_refuted=("refuted", "mean"),
        simulations=("sim", "size"),
        refits=("refit", "sum"),
        khat_max=("khat", "max"),
    ).reset_index()
    table["p_settled"] = table["p_affirmed"] + table["p_refuted"]
    table["mc_se"] = np.sqrt(table["p_settled"] * (1 - table["p_settled"]) / table["simulations"])
    table["kind"] = kind
    table["p_supported_now"] = table["target_id"].map(p_now)
    table["refits"] = table["refits"].astype(int)
    table = table[PLAN_COLUMNS]
    return (table, sims) if details else table


def plan_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Plot ``p_settled`` against the number of new sources, one line per CMOC (SVG/PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 4))
    for target_id, rows in table.groupby("target_id", sort=False):
        ax.errorbar(
            rows["n_new"], rows["p_settled"], yerr=rows["mc_se"], marker="o", label=target_id
        )
    ax.set_xlabel(f"new sources ({table['kind'].iloc[0]})" if len(table) else "new sources")
    ax.set_ylabel("P(settled: affirmed or refuted)")
    ax.set_ylim(0, 1)
    ax.set_xticks(sorted(table["n_new"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(title="CMOC", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return path


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
    from .results import fit_config

    config, sampler = fit_config(idata)
    d = model_data(evidence, group_effects=config.group_effects)
    theory = np.flatnonzero(d.target_intro <= len(d.waves) - 1)
    draws = _posterior_arrays(idata, kind, config)
    pos = d.cmocs.index(target_id)
    r_eff = _r_eff(idata, pos, draws["eta"].shape[0])
    refit = {
        "evidence": evidence,
        "kind": kind,
        "config": config.model_dump_json(),
        "sampler": refit_sampler
        or {k: sampler[k] for k in ("sampler", "chains", "draws", "tune", "target_accept")},
    }
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
