"""Prior sensitivity by power-scaling (Kallioinen et al. 2024), and whether statuses hang on it.

Power-scaling raises the prior (or the likelihood) to a power ``alpha`` near 1 and measures how
much each target's posterior support moves, by importance-reweighting the existing draws; no
refit is needed. ArviZ's ``psense_summary`` gives the standard diagnostic (cumulative
Jensen-Shannon distance per unit change of ``alpha``). cmoc adds the question a methodologist
asks: would a CMOC's *status* change if the prior were half or twice as strong?
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ...defaults import KHAT_MAX
from ...evidence import EvidenceBase
from ...models import Prior, build_model
from ..fitting.result import AnalysisResult, Settings
from ..fitting.store import fit_config
from ..inference.classify import classify
from ..inference.draws import support_draws
from .influence import pointwise_loglik

__all__ = [
    "PRIOR_NAMES",
    "SENSITIVITY_COLUMNS",
    "STATUS_ALPHAS",
    "SensitivityCheck",
    "SensitivitySettings",
    "check_sensitivity",
    "prior_sensitivity",
    "sensitivity_tree",
]

STATUS_ALPHAS = (0.5, 2.0)
"""Powers of the prior under which statuses are recomputed: half and twice as strong."""

SENSITIVITY_COLUMNS = [
    "target_id",
    "prior_sensitivity",
    "likelihood_sensitivity",
    "diagnosis",
    "status",
    "status_weaker_prior",
    "status_stronger_prior",
    "status_sensitive",
    "pareto_k_weaker",
    "pareto_k_stronger",
]

_SAMPLE = ("chain", "draw")

PRIOR_NAMES = (
    "support_mean",
    "support_sd_mechanism",
    "support_sd_cmoc",
    "salience_sd_mechanism",
    "salience_sd_cmoc",
    "kind_rate",
    "kind_level",
    "kind_lean_sd",
    "group_sd",
    "inv_dispersion",
)
"""The model's configurable priors (``ModelConfig``), the ones power-scaled. ``kind_level`` is
the kinds' log rates sampled at the CMOCs' salience level (``kind_rate`` in the model's other
form): its density is the ``kind_rate`` prior's. With a fixed ``kind_lean_sd`` (the default)
``kind_lean`` itself is power-scaled as well: its ``ZeroSumNormal`` is then the configured
prior."""


def sensitivity_tree(idata: xr.DataTree, evidence: EvidenceBase) -> xr.DataTree:
    """Assemble the groups power-scaling needs: posterior supports, log prior, log-likelihood.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence``.
    evidence : EvidenceBase
        The evidence the fit was made from.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (``support`` along ``target``), ``log_prior`` (``lprior``: the log density
        of the configurable priors, :data:`PRIOR_NAMES`, per draw) and
        ``log_likelihood`` (``loglik_unit`` per unit of evidence).
    """
    config, _ = fit_config(idata)
    model = build_model(evidence, config)
    # the configurable priors only (ModelConfig's hyperpriors): the standardised deviations of
    # the hierarchy (z ~ Normal(0, 1)) are part of the model's structure, not a choice
    # with a fixed scale (the default) the kind leans' own prior is the configurable one
    scaled = PRIOR_NAMES if isinstance(config.kind_lean_sd, Prior) else (*PRIOR_NAMES, "kind_lean")
    names = [v.name for v in model.free_RVs if v.name in scaled]
    priors = pm.stats.compute_log_prior(
        idata.copy(), var_names=names, model=model, extend_inferencedata=False, progressbar=False
    )
    priors = priors.to_dataset() if isinstance(priors, xr.DataTree) else priors
    lprior = sum(
        da.sum([d for d in da.dims if d not in _SAMPLE]) for da in priors.data_vars.values()
    )
    return xr.DataTree.from_dict(
        {
            "posterior": support_draws(idata).to_dataset(name="support"),
            "log_prior": xr.Dataset({"lprior": lprior}),
            "log_likelihood": pointwise_loglik(idata, evidence).to_dataset(name="loglik_unit"),
        }
    )


def _scaled_p_supported(
    support: xr.DataArray, lprior: xr.DataArray, alpha: float
) -> tuple[np.ndarray, float]:
    """P(support > 1/2) under the prior raised to ``alpha``, by PSIS, and the Pareto k-hat."""
    above = (support > 0.5).stack(sample=_SAMPLE)
    log_ratio = (alpha - 1.0) * lprior
    if float(log_ratio.max() - log_ratio.min()) == 0.0:  # alpha 1, or a flat prior: no change
        return above.mean("sample").transpose("target").values, 0.0
    # weights p(theta)^(alpha - 1); psislw smooths exp(-x), so hand it -log(weight)
    log_w, khat = (-log_ratio).azstats.psislw(dim=list(_SAMPLE))
    w = np.exp(log_w - log_w.max())
    w = (w / w.sum()).stack(sample=_SAMPLE)
    p = (above * w).sum("sample").transpose("target").values
    return p, float(khat)


def prior_sensitivity(
    idata: xr.DataTree, evidence: EvidenceBase, *, threshold: float = 0.05
) -> pd.DataFrame:
    """Power-scaling sensitivity of every target's support, and of its status.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence``.
    evidence : EvidenceBase
        The evidence the fit was made from.
    threshold : float
        Sensitivity (cumulative Jensen-Shannon distance) above which ArviZ diagnoses a
        potential problem (0.05, its default).

    Returns
    -------
    pandas.DataFrame
        :data:`SENSITIVITY_COLUMNS`, one row per target: ArviZ's prior and likelihood
        sensitivity of the support and its diagnosis (``potential strong prior / weak
        likelihood``, ``potential prior-data conflict`` or ``✓``); the status, and the status
        recomputed when the prior is half (``alpha`` 0.5) and twice (2) as strong, by importance
        reweighting; ``status_sensitive`` when either differs. The Pareto k-hats say how far the
        reweighting can be trusted (above :data:`~cmoc.defaults.KHAT_MAX`, 0.7, it cannot: refit
        with the prior scaled instead).
    """
    tree = sensitivity_tree(idata, evidence)
    # ArviZ logs a generic advice when anything is flagged; the table says it per target
    quiet = logging.getLogger("arviz_stats.psense")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        ps = az.psense_summary(tree, var_names=["support"], threshold=threshold, round_to=6)
    finally:
        quiet.setLevel(level)
    ps.index = [str(i).split("[", 1)[-1].rstrip("]") for i in ps.index]
    support = tree["posterior"]["support"]
    lprior = tree["log_prior"]["lprior"]
    targets = list(support["target"].values)
    p_now = (support > 0.5).mean(_SAMPLE).values
    status = classify(evidence, pd.Series(p_now, index=targets))
    scaled = {}
    for alpha in STATUS_ALPHAS:
        p, khat = _scaled_p_supported(support, lprior, alpha)
        scaled[alpha] = (classify(evidence, pd.Series(p, index=targets)), khat)
    weak, strong = (scaled[a] for a in STATUS_ALPHAS)
    frame = pd.DataFrame(
        {
            "target_id": targets,
            "prior_sensitivity": ps["prior"].reindex(targets).to_numpy(float),
            "likelihood_sensitivity": ps["likelihood"].reindex(targets).to_numpy(float),
            "diagnosis": ps["diagnosis"].reindex(targets).to_numpy(object),
            "status": status.to_numpy(object),
            "status_weaker_prior": weak[0].to_numpy(object),
            "status_stronger_prior": strong[0].to_numpy(object),
            "pareto_k_weaker": weak[1],
            "pareto_k_stronger": strong[1],
        }
    )
    frame["status_sensitive"] = (frame["status"] != frame["status_weaker_prior"]) | (
        frame["status"] != frame["status_stronger_prior"]
    )
    return frame[SENSITIVITY_COLUMNS]


@dataclass(frozen=True)
class SensitivitySettings(Settings):
    """Settings of a prior sensitivity check: ``threshold``, ``alphas``, ``khat_max``."""

    threshold: float = 0.05
    alphas: tuple[float, ...] = STATUS_ALPHAS
    khat_max: float = KHAT_MAX


class SensitivityCheck(AnalysisResult):
    """A prior sensitivity check (an ``AnalysisResult`` of kind ``sensitivity``).

    ``table``: :func:`prior_sensitivity`; ``passed``: no status changes when the prior is half
    or twice as strong; ``text`` names the targets whose status does.
    """

    kind = "sensitivity"
    settings_type = SensitivitySettings
    what = "sensitivity check"
    hint = "saved prior sensitivity check"


def check_sensitivity(
    idata: xr.DataTree, evidence: EvidenceBase, *, threshold: float = 0.05
) -> SensitivityCheck:
    """Run :func:`prior_sensitivity` and return it as a result with its verdict.

    Returns
    -------
    SensitivityCheck
    """
    table = prior_sensitivity(idata, evidence, threshold=threshold)
    moved = list(table.loc[table["status_sensitive"].astype(bool), "target_id"])
    changed = f"the status of {', '.join(map(str, moved))}" if moved else "no status"
    text = f"{changed} changes when the prior is half or twice as strong"
    k = table[["pareto_k_weaker", "pareto_k_stronger"]].max().max() if len(table) else 0.0
    if k > KHAT_MAX:
        text += f" (reweighting unreliable: Pareto k {k:.2f} > {KHAT_MAX:g}; refit to be sure)"
    settings = SensitivitySettings(threshold=float(threshold))
    return SensitivityCheck(table, text, not moved, settings)
