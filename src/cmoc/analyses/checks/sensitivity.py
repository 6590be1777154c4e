"""Prior sensitivity by power-scaling (Kallioinen et al. 2024), and whether statuses hang on it.

Power-scaling raises the prior (or the likelihood) to a power ``alpha`` near 1 and measures how
much each target's posterior support moves, by importance-reweighting the existing draws; no
refit is needed. ArviZ's ``psense_summary`` gives the standard diagnostic (cumulative
Jensen-Shannon distance per unit change of ``alpha``). cmoc adds the question a methodologist
asks: would a CMOC's *status* change if the prior were half or twice as strong?

A model v2 fit (the measurement model, :func:`~cmoc.analyses.is_measurement_fit`) is checked
the same way on its own terms: the quantity is each target's breadth, the priors
:data:`MEASUREMENT_PRIOR_NAMES`, the log-likelihood per draw the sum of the model's two
potentials (:func:`measurement_loglik`: power-scaling needs only their sum), and the
statuses those of :func:`~cmoc.analyses.classify_measurement` from ``p_broad``,
``p_clear_support`` and ``p_clear_refute`` reweighted.
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
from ...evidence.recording import refutes_recording
from ...models import Prior, build_measurement_model, build_model
from ..fitting.cache import per_fit
from ..fitting.result import AnalysisResult, Settings
from ..fitting.store import fit_config
from ..inference.classify import classify
from ..inference.draws import support_draws
from ..inference.measurement import classify_measurement, is_measurement_fit, measurement_draws
from ..inference.summary import summarize
from .influence import pointwise_loglik
from .measurement_pointwise import likelihood_values

__all__ = [
    "MEASUREMENT_PRIOR_NAMES",
    "PRIOR_NAMES",
    "SENSITIVITY_COLUMNS",
    "STATUS_ALPHAS",
    "SensitivityCheck",
    "SensitivitySettings",
    "check_sensitivity",
    "measurement_loglik",
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

MEASUREMENT_PRIOR_NAMES = (
    "activation_mean",
    "activation_sd",
    "activation_kind",
    "evidencing_mean",
    "evidencing_sd",
    "kind_rate",
    "kind_level",
    "depth_sd_mechanism",
    "depth_sd_target",
    "inv_dispersion",
    "support_mean",
    "support_mean_seen",
    "support_sd_mechanism",
    "support_sd_target",
    "kind_lean",
    "kind_lean_seen",
    "concentration",
    "refute_recording",
)
"""Model v2's priors that are power-scaled: every prior of ``MeasurementPriors`` (its
hyperpriors, and the kinds' effects ``activation_kind`` and ``kind_lean`` and the recording of
refutes ``refute_recording`` of a ``"partial"`` kind, whose scales are fixed numbers of
``MeasurementPriors``: as v1's kind leans with a fixed ``kind_lean_sd``, the fixed scale is the
choice). Not scaled, as in v1: the hierarchy's structure, the standardised deviations
``z_*`` and the centred ``*_centred`` deviations (each target's distribution given its
hyperparameters). A variable the model does not have (one kind: no kind effects; no
``"partial"`` kind: no ``refute_recording``) is left out. ``kind_level`` is the kinds' log
rates sampled at the depth level of targets with many exact cells (``kind_rate`` in the plain
form, as v1's): its density is the ``kind_rate`` prior's. ``kind_lean_seen`` is the leans
sampled given a ``"partial"`` kind's recording (``kind_lean`` in the plain form): its density
is the leans' ``ZeroSumNormal``; ``support_mean_seen`` the directions' mean as the recorded
kinds see it (``support_mean`` in the model's other forms): its density is the
``support_mean`` prior's."""


def _log_prior(idata: xr.DataTree, model: pm.Model, scaled) -> xr.DataArray:
    """Per draw, the log density of the free variables of ``model`` named in ``scaled``."""
    names = [v.name for v in model.free_RVs if v.name in scaled]
    priors = pm.stats.compute_log_prior(
        idata.copy(), var_names=names, model=model, extend_inferencedata=False, progressbar=False
    )
    priors = priors.to_dataset() if isinstance(priors, xr.DataTree) else priors
    return sum(da.sum([d for d in da.dims if d not in _SAMPLE]) for da in priors.data_vars.values())


def _measurement_model(evidence: EvidenceBase) -> pm.Model:
    """Model v2 of ``evidence`` as ``fit`` builds it (the recording of refutes declared)."""
    recording = {k: r.refutes for k, r in refutes_recording(evidence).items()}
    return build_measurement_model(evidence, recording)


@per_fit
def measurement_loglik(idata: xr.DataTree, evidence: EvidenceBase) -> xr.DataArray:
    """Log-likelihood of a model v2 fit at every draw, one value per potential.

    Model v2's likelihood is in two ``pm.Potential`` terms, ``exact_codes`` (the exact cells)
    and ``total_codes`` (the blocks of totals and bands; absent without totals), not in
    observed variables; the power-scaling needs only their sum per draw
    (``measurement_pointwise`` gives it per unit of evidence).
    Each potential is evaluated at each draw's values of the free variables (the constrained
    values the posterior holds), from one compiled function.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence``.
    evidence : EvidenceBase

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, potential)``, coordinate ``potential`` the potentials' names; the
        sum over ``potential`` is the model's log-likelihood per draw.

    Raises
    ------
    ValueError
        When the posterior lacks a free variable of the model, or holds it in another shape
        (a fit of another structure of the model).
    """
    model = _measurement_model(evidence)
    post = idata["posterior"]
    inputs, values = likelihood_values(model, post)
    pots = list(model.potentials)
    fn = model.compile_fn(pots, inputs=inputs, on_unused_input="ignore", point_fn=False)
    n_chain, n_draw = values[0].shape[:2] if values else (0, 0)
    out = np.empty((n_chain, n_draw, len(pots)))
    for c in range(n_chain):
        for d in range(n_draw):
            out[c, d] = [float(v) for v in fn(*[arr[c, d] for arr in values])]
    return xr.DataArray(
        out,
        dims=(*_SAMPLE, "potential"),
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "potential": [p.name for p in pots],
        },
    )


def _measurement_tree(idata: xr.DataTree, evidence: EvidenceBase) -> xr.DataTree:
    model = _measurement_model(evidence)
    breadth = measurement_draws(idata, evidence)["breadth"]
    return xr.DataTree.from_dict(
        {
            "posterior": breadth.to_dataset(name="breadth"),
            "log_prior": xr.Dataset({"lprior": _log_prior(idata, model, MEASUREMENT_PRIOR_NAMES)}),
            "log_likelihood": measurement_loglik(idata, evidence).to_dataset(name="loglik"),
        }
    )


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
        ``log_likelihood`` (``loglik_unit`` per unit of evidence). Of a model v2 fit:
        ``posterior`` ``breadth`` along ``target`` (:func:`~cmoc.analyses.measurement_draws`),
        ``lprior`` of :data:`MEASUREMENT_PRIOR_NAMES` and ``log_likelihood`` ``loglik`` per
        potential (:func:`measurement_loglik`): power-scaling the likelihood scales its sum over
        the potentials, which is all it needs (no unit is left out).
    """
    if is_measurement_fit(idata):
        return _measurement_tree(idata, evidence)
    config, _ = fit_config(idata)
    model = build_model(evidence, config)
    # the configurable priors only (ModelConfig's hyperpriors): the standardised deviations of
    # the hierarchy (z ~ Normal(0, 1)) are part of the model's structure, not a choice
    # with a fixed scale (the default) the kind leans' own prior is the configurable one
    scaled = PRIOR_NAMES if isinstance(config.kind_lean_sd, Prior) else (*PRIOR_NAMES, "kind_lean")
    return xr.DataTree.from_dict(
        {
            "posterior": support_draws(idata).to_dataset(name="support"),
            "log_prior": xr.Dataset({"lprior": _log_prior(idata, model, scaled)}),
            "log_likelihood": pointwise_loglik(idata, evidence).to_dataset(name="loglik_unit"),
        }
    )


def _scaled_weights(lprior: xr.DataArray, alpha: float) -> tuple[xr.DataArray | None, float]:
    """PSIS weights of the draws under the prior raised to ``alpha`` (summing to 1), and k-hat.

    ``None`` (and k-hat 0) where the weights are all equal: ``alpha`` 1, or a flat prior.
    """
    log_ratio = (alpha - 1.0) * lprior
    if float(log_ratio.max() - log_ratio.min()) == 0.0:
        return None, 0.0
    # weights p(theta)^(alpha - 1); psislw smooths exp(-x), so hand it -log(weight)
    log_w, khat = (-log_ratio).azstats.psislw(dim=list(_SAMPLE))
    w = np.exp(log_w - log_w.max())
    return w / w.sum(), float(khat)


def _scaled_p_supported(
    support: xr.DataArray, lprior: xr.DataArray, alpha: float
) -> tuple[np.ndarray, float]:
    """P(support > 1/2) under the prior raised to ``alpha``, by PSIS, and the Pareto k-hat."""
    above = support > 0.5
    w, khat = _scaled_weights(lprior, alpha)
    if w is None:  # no change: the plain share, exactly
        return above.mean(_SAMPLE).transpose("target").values, 0.0
    return (above * w).sum(_SAMPLE).transpose("target").values, khat


def _measurement_statuses(
    idata: xr.DataTree, evidence: EvidenceBase, lprior: xr.DataArray, targets: list
) -> tuple[pd.Series, dict[float, tuple[pd.Series, float]]]:
    """Model v2 statuses now, and under the prior raised to each of :data:`STATUS_ALPHAS`.

    ``p_broad``, ``p_clear_support`` and ``p_clear_refute`` are reweighted (PSIS) and the
    statuses recomputed by :func:`~cmoc.analyses.classify_measurement` from the summary's
    table (``sources_min``, ``direction_testable``, ``supports``, ``refutes`` as they are).
    """
    table = summarize(idata, evidence).set_index("target_id").reindex(targets)
    draws = measurement_draws(idata, evidence)
    th = evidence.config.classification
    breadth, direction = draws["breadth"], draws["direction"]
    hits = {
        "p_broad": breadth >= th.breadth_min,
        "p_clear_support": direction >= 0.5 + th.direction_margin,
        "p_clear_refute": direction <= 0.5 - th.direction_margin,
    }
    testable = table["direction_testable"].astype(bool).to_numpy()
    scaled = {}
    for alpha in STATUS_ALPHAS:
        w, khat = _scaled_weights(lprior, alpha)
        t = table.copy()
        if w is not None:  # else the summary's own shares, exactly
            for col, hit in hits.items():
                p = (hit * w).sum(_SAMPLE).sel(target=targets).values
                t[col] = p if col == "p_broad" else np.where(testable, p, np.nan)
        scaled[alpha] = (classify_measurement(evidence, t), khat)
    return table["status"], scaled


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

        Of a model v2 fit, the sensitivities are of each target's breadth, and the statuses
        those of :func:`~cmoc.analyses.classify_measurement`, recomputed from ``p_broad``,
        ``p_clear_support`` and ``p_clear_refute`` reweighted; the likelihood is scaled as a
        whole (the sum of its potentials, :func:`measurement_loglik`).
    """
    v2 = is_measurement_fit(idata)
    tree = sensitivity_tree(idata, evidence)
    var = "breadth" if v2 else "support"
    # ArviZ logs a generic advice when anything is flagged; the table says it per target
    quiet = logging.getLogger("arviz_stats.psense")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        ps = az.psense_summary(tree, var_names=[var], threshold=threshold, round_to=6)
    finally:
        quiet.setLevel(level)
    ps.index = [str(i).split("[", 1)[-1].rstrip("]") for i in ps.index]
    quantity = tree["posterior"][var]
    lprior = tree["log_prior"]["lprior"]
    targets = list(quantity["target"].values)
    if v2:
        status, scaled = _measurement_statuses(idata, evidence, lprior, targets)
    else:
        p_now = (quantity > 0.5).mean(_SAMPLE).values
        status = classify(evidence, pd.Series(p_now, index=targets))
        scaled = {}
        for alpha in STATUS_ALPHAS:
            p, khat = _scaled_p_supported(quantity, lprior, alpha)
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
