"""The hierarchical model: mechanisms as latent variables, CMOCs pooled within them.

Equations are in docs/model.md ("Equations"), dimension names in ARCHITECTURE.md
("Conventions"). In short, for target ``t`` (a CMOC or a mechanism), source ``j`` of kind ``k``:

- support ``p_tk = logistic(eta_t + delta_k)`` with zero-sum kind leans ``delta`` (fixed scale
  by default), CMOC ``eta_c = mu_m + sigma_eta z_c``,
  mechanism ``eta_m = mu_m = mu_0 + tau_mu z_m``;
- coding rate ``r_jt = u_j exp(o_j + lambda_t)`` with ``o_j = rho_k + group effects + log
  exposure_j`` and ``u_j ~ Gamma(phi, phi)`` integrated out;
- supports ``~ Poisson(r_jt p_tk)``, refutes ``~ Poisson(r_jt (1 - p_tk))``;
- totals over a wave or group: negative binomial with matched mean and variance, as exact or
  interval-censored terms; a source's log-likelihood is multiplied by its appraisal weight.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import ZeroSumTransform

from ..evidence import EvidenceBase
from .config import (
    CENTER_MIN_CODES,
    CENTER_MIN_GROUPS,
    KIND_CENTER_MIN_CODES,
    V1_CONFIG,
    ModelConfig,
    Prior,
)
from .data import ModelData, model_data

__all__ = ["build_model"]


def _prior(name: str, prior: Prior, **kwargs):
    if prior.dist == "Normal":
        return pm.Normal(name, mu=prior.mu, sigma=prior.sigma, **kwargs)
    if prior.dist == "HalfNormal":
        return pm.HalfNormal(name, sigma=prior.sigma, **kwargs)
    if prior.dist == "Gamma":
        shape, rate = prior.gamma_shape_rate
        return pm.Gamma(name, alpha=shape, beta=rate, **kwargs)
    return pm.Exponential(name, lam=1 / prior.sigma, **kwargs)


def _zero_sum_around(mean, sigma, size, *, n: int):
    """Return ``mean + ZeroSumNormal(sigma)`` over ``n`` values.

    That is the deviations of ``n`` iid ``Normal(m_i, sigma)`` from their own mean, when ``mean``
    holds the ``m_i`` minus their mean.
    """
    return mean + pm.ZeroSumNormal.dist(sigma=sigma, shape=(n,))


def _segment_sum(n, index, values) -> pt.TensorVariable:
    return pt.inc_subtensor(pt.zeros(n)[index], values)


def _data(name: str, value) -> pt.TensorVariable:
    """Return the array ``value`` as a model input (``pm.Data`` named ``data_<name>``).

    Arrays enter the graph as inputs, not constants, so two bases whose models differ only in
    these values share one compiled graph: sampling swaps the values in (docs/sampling.md,
    "Compiled once per structure").
    """
    return pm.Data(f"data_{name}", np.asarray(value))


def _total_classes(d: ModelData) -> tuple[np.ndarray, ...]:
    """Collapse the (total, member source) pairs into classes of interchangeable members.

    A member's expected count is ``exposure_j * exp(rho_k + sum gamma_g + lambda_t + log p)``:
    members of one total with the same kind and modelled groups differ only in exposure. So a
    total's mean is a sum over its classes of ``W1 * exp(...)`` and its sum of squared member
    means a sum of ``W2 * exp(2 ...)``, with ``W1``, ``W2`` the sums of the members' exposures
    and squared exposures.

    Returns
    -------
    tuple of numpy.ndarray
        ``row, kind, groups, w1, w2`` per class (``groups`` as ``src_groups``: -1 for none).
    """
    keys = np.column_stack([d.agg_row, d.src_kind[d.agg_src], d.src_groups[d.agg_src]])
    classes, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    exposure = np.exp(d.src_log_exposure[d.agg_src])
    w1 = np.bincount(inverse, weights=exposure, minlength=len(classes))
    w2 = np.bincount(inverse, weights=exposure**2, minlength=len(classes))
    return classes[:, 0], classes[:, 1], classes[:, 2:], w1, w2


_SUM_MAX = 64
"""Bands whose bounds are at most this are summed term by term (cheap, exact gradients);
beyond it the incomplete-beta CDF is used, whose gradient in ``alpha`` is costly."""


def _count_logcdf(make_dist, idx: np.ndarray, value: np.ndarray) -> pt.TensorVariable:
    """``log P(T <= value)`` for the totals ``idx``."""
    top = int(value.max())
    if top > _SUM_MAX:
        return pm.logcdf(make_dist(idx), value)
    ks = np.arange(top + 1)
    terms = pm.logp(make_dist(idx, column=True), ks[None, :])
    terms = pt.where(ks[None, :] <= value[:, None], terms, -np.inf)
    return pm.math.logsumexp(terms, axis=1, keepdims=False)


def _totals_logp(value, mean, alpha, weight, *, lo, hi, poisson):
    """Log-likelihood of each total: exact, or censored to ``[lo, hi]`` (hi -1: unbounded)."""
    n = lo.shape[0]
    out = pt.zeros(n)

    def dist(idx, column=False):
        m = mean[idx][:, None] if column else mean[idx]
        if poisson:
            return pm.Poisson.dist(mu=m)
        a = alpha[idx][:, None] if column else alpha[idx]
        return pm.NegativeBinomial.dist(mu=m, alpha=a)

    exact = np.flatnonzero(hi == lo)
    upper = np.flatnonzero((lo == 0) & (hi > 0))
    lower = np.flatnonzero((lo > 0) & (hi < 0))
    both = np.flatnonzero((lo > 0) & (hi > lo))
    if exact.size:
        out = pt.set_subtensor(out[exact], pm.logp(dist(exact), lo[exact]))
    if upper.size:
        out = pt.set_subtensor(out[upper], _count_logcdf(dist, upper, hi[upper]))
    if lower.size:
        below = _count_logcdf(dist, lower, lo[lower] - 1)
        out = pt.set_subtensor(out[lower], pm.math.log1mexp(below))
    if both.size:
        out = pt.set_subtensor(
            out[both],
            pm.math.logdiffexp(
                _count_logcdf(dist, both, hi[both]), _count_logcdf(dist, both, lo[both] - 1)
            ),
        )
    return weight * out


def _sources_logp(value, cell_term, rate, phi, weight, *, poisson):
    """Per-source log-likelihood of the exact counts, talkativeness integrated out.

    ``value`` is the source's total count ``N_j``, ``rate`` its total expected count ``M_j``;
    ``cell_term`` holds the per-source part of ``sum n log(rate of the cell)``, the rest being
    in the ``cell_codes`` potential.
    """
    if poisson:
        return weight * (cell_term - rate)
    return weight * (
        cell_term
        + pt.gammaln(phi + value)
        - pt.gammaln(phi)
        - phi * pt.log1p(rate / phi)
        - value * pt.log(phi + rate)
    )


class Centring(NamedTuple):
    """Which parts of the hierarchy are centred (the rest non-centred; the same model)."""

    support_mechanism: bool
    """The mechanisms' supports ``mu_m``."""
    salience_mechanism: bool
    """The mechanisms' saliences ``theta_m``."""
    support_cmoc: np.ndarray
    """Per CMOC, its support ``eta_c``."""
    salience_cmoc: np.ndarray
    """Per CMOC, its salience ``lambda_c``."""


def _spread_visible(y: np.ndarray, se2: np.ndarray, groups: np.ndarray | None = None) -> bool:
    """Whether targets' values ``y`` (with sampling variances ``se2``) visibly differ.

    The partial-pooling factor: the spread between targets (around their group's mean, for
    targets pooled within their mechanism: ``groups``), estimated as ``tau^2 = var(y) -
    mean(se2)``, larger than what one target's data pin down, ``mean(se2)``. Where it is, each
    target's data weigh more than the pooling and the centred form samples well; where it is
    not (a small true spread), centred values meet the funnel as their scale goes to zero and
    the non-centred form is the one that samples. Both models' centring rules use it: v1's
    (:func:`_centring`) and v2's (``measurement.py``).
    """
    if y.size < 2:
        return False
    if groups is None:
        var = np.var(y)
    else:
        _, g = np.unique(groups, return_inverse=True)
        n_g = np.bincount(g)
        if y.size - n_g.size < 1:
            return False
        dev = y - (np.bincount(g, weights=y) / n_g)[g]
        var = (dev**2).sum() / (y.size - n_g.size)
    return bool(var - se2.mean() > se2.mean())


def _crude_counts(d: ModelData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per target: its weighted exact codes, its supporting ones, and its exposure.

    The exposure is what its codes would be at salience 0: the appraisal-weighted exposures of
    the sources coded against it (of its waves, less the cells their totals cover), each at
    its kind's crude rate (the kind's codes over its sources' exposure to targets).
    """
    n_t = len(d.cmocs) + len(d.mechanisms)
    w, stance = d.tks_wcount, d.tks_stance
    n = np.bincount(d.tks_tgt, weights=w, minlength=n_t)
    n_s = np.bincount(d.tks_tgt[stance == 0], weights=w[stance == 0], minlength=n_t)
    in_theory = (d.target_intro[None, :] <= np.arange(len(d.waves))[:, None]).astype(float)
    n_p = int(d.src_pattern.max()) + 1 if d.src_pattern.size else 0
    covered = np.zeros((n_p, n_t))
    covered[d.pat_id, d.pat_tgt] = 1.0
    exposure = np.exp(d.src_log_exposure) * d.src_weight
    per_source = in_theory[d.src_wave].sum(axis=1) - covered[d.src_pattern].sum(axis=1)
    n_k = len(d.kinds)
    kind_codes = np.bincount(d.tks_kind, weights=w, minlength=n_k)
    kind_exposure = np.bincount(d.src_kind, weights=exposure * per_source, minlength=n_k)
    a = exposure * (kind_codes / np.maximum(kind_exposure, 1e-12))[d.src_kind]
    e = np.bincount(d.src_wave, weights=a, minlength=len(d.waves)) @ in_theory
    e = e - np.bincount(d.src_pattern, weights=a, minlength=n_p) @ covered
    return n, n_s, np.maximum(e, 1e-12)


def _logit_share(n_s: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the logit of the share ``n_s / n`` and its binomial (delta-method) variance."""
    share = np.clip(n_s / np.maximum(n, 1.0), 0.01, 0.99)
    return np.log(share / (1.0 - share)), 1.0 / (np.maximum(n, 1.0) * share * (1.0 - share))


def _mechanisms_differ(d: ModelData, y: np.ndarray, v: np.ndarray) -> bool:
    """Whether the mechanisms' values visibly differ, from targets' estimates ``y`` (``v``).

    A mechanism's value is estimated as the mean of its targets' with at least
    :data:`CENTER_MIN_CODES` exact codes (its CMOCs' and its own codes'), whose variance is
    their scatter within the mechanisms (the CMOCs' spread and their own noise: one-way
    analysis of variance, at least their own variances) over their number.
    """
    rich = np.flatnonzero(d.target_codes >= CENTER_MIN_CODES)
    _, g = np.unique(d.target_mech[rich], return_inverse=True)
    k = np.bincount(g)
    if k.size < 2:
        return False
    means = np.bincount(g, weights=y[rich]) / k
    dof = rich.size - k.size
    within = ((y[rich] - means[g]) ** 2).sum() / dof if dof else 0.0
    own = np.bincount(g, weights=v[rich]) / k
    return _spread_visible(means, np.maximum(within, own) / k)


def _centring(d: ModelData, cfg: ModelConfig) -> Centring:
    """Which parts of the hierarchy are centred (docs/model.md, "Parametrisation").

    ``"centered"`` and ``"noncentered"`` force a level's form. ``"auto"``: a CMOC's support and
    salience are centred when it has at least :data:`CENTER_MIN_CODES` exact codes (its data
    pin it down) and such CMOCs' supports (saliences) visibly differ within their mechanism
    (:func:`_spread_visible`, shared with model v2: the partial-pooling factor; where the true
    spread is small against what their data pin, centred values meet the funnel as the scale
    goes to zero); support and salience are decided apart. Per CMOC, the support is estimated
    as the logit of its share of supporting codes (binomial variance), the salience as the log
    of its codes over its exposure (:func:`_crude_counts`; Poisson variance ``1 / n``): the
    information the likelihood has, given a source's talkativeness its codes split binomially
    between stances and multinomially between targets. The mechanism level, where the median
    mechanism has at least :data:`CENTER_MIN_CODES` exact codes: centred with at least
    :data:`CENTER_MIN_GROUPS` mechanisms (as before), and with fewer (three or more) where their
    values visibly differ (:func:`_mechanisms_differ`), support and salience apart.
    """
    n_c, n_m = len(d.cmocs), len(d.mechanisms)
    n, n_s, e = _crude_counts(d)
    y_s, v_s = _logit_share(n_s, n)
    y_l, v_l = np.log(np.maximum(n, 0.5) / e), 1.0 / np.maximum(n, 1.0)
    rich = np.flatnonzero(d.target_codes[:n_c] >= CENTER_MIN_CODES)
    mech = d.target_mech[rich]
    if cfg.cmocs == "auto":
        eta, lam = np.zeros(n_c, dtype=bool), np.zeros(n_c, dtype=bool)
        eta[rich] = _spread_visible(y_s[rich], v_s[rich], mech)
        lam[rich] = _spread_visible(y_l[rich], v_l[rich], mech)
    else:
        eta = lam = np.full(n_c, cfg.cmocs == "centered")
    if cfg.mechanisms != "auto":
        mu = theta = cfg.mechanisms == "centered"
    elif n_m < 3 or float(np.median(d.mech_codes)) < CENTER_MIN_CODES:
        mu = theta = False
    else:
        # many mechanisms pinned by their codes are centred as before (measured: on the
        # 1,000 x 100 base, whose mechanisms' saliences barely differ by this estimate, the
        # non-centred form failed, R-hat 1.043); fewer are centred where they visibly differ
        # (three or more: two give one difference, too rough an estimate of their spread)
        many = n_m >= CENTER_MIN_GROUPS
        mu = many or _mechanisms_differ(d, y_s, v_s)
        theta = many or _mechanisms_differ(d, y_l, v_l)
    return Centring(bool(mu), bool(theta), eta, lam)


def structure_parts(d: ModelData, cfg: ModelConfig) -> tuple:
    """Return what, besides the data's values, shapes the graph of :func:`build_model`."""
    c = _centring(d, cfg)
    return (
        c.support_mechanism,
        c.salience_mechanism,
        "".join("c" if x else "n" for x in c.support_cmoc),
        "".join("c" if x else "n" for x in c.salience_cmoc),
        d.mechanisms,
        d.cmocs,
        d.kinds,
        d.groups,
        len(d.sources),
        len(d.waves),
        d.pat_id.size > 0,
        d.agg_label,
        d.agg_lo.tolist(),
        d.agg_hi.tolist(),
    )


def build_model(
    evidence: EvidenceBase | ModelData,
    config: ModelConfig | None = None,
    *,
    pointwise: bool = False,
) -> pm.Model:
    """Build the hierarchical PyMC model for an evidence base.

    Parameters
    ----------
    evidence : EvidenceBase or ModelData
        The evidence (its sufficient statistics are computed if needed).
    config : ModelConfig, optional
        Priors and likelihood; :data:`V1_CONFIG` (model v1's defaults) when omitted.
    pointwise : bool
        Also define ``loglik_unit`` (dim ``unit``): the log-likelihood of each unit of evidence,
        the sources (their exact counts, zeros included) and then the aggregate rows, which sum
        to the model's whole log-likelihood; and ``source_rate`` (dim ``source``): each
        source's expected total of exact codes. Off for sampling; used for leave-one-out and
        posterior predictive checks.

    Returns
    -------
    pymc.Model
        With dims ``mechanism``, ``cmoc``, ``kind``, ``group``, ``group_level``, ``source`` and
        ``aggregate``; ``support_cmoc`` and ``support_mechanism`` are the supports on the
        probability scale.
    """
    cfg = config or V1_CONFIG
    if cfg.model != "hierarchical":
        raise ValueError(
            f"this analysis needs model v1 (hierarchical); the fit is of model {cfg.model!r} "
            "(the default model), for which it is not available"
        )
    d = (
        evidence
        if isinstance(evidence, ModelData)
        else model_data(evidence, group_effects=cfg.group_effects)
    )
    n_c, n_k = len(d.cmocs), len(d.kinds)
    poisson = cfg.likelihood == "poisson"
    coords = {
        "mechanism": d.mechanisms,
        "cmoc": d.cmocs,
        "kind": d.kinds,
        "source": d.sources,
        "group": d.groups,
        "group_level": [f"level {i + 1}" for i in d.group_levels],
        "aggregate": d.agg_label,
    }
    if pointwise:
        coords["unit"] = d.sources + d.agg_label
    cmoc_mech = d.target_mech[:n_c]
    form = _centring(d, cfg)
    eta_cen, eta_nc = np.flatnonzero(form.support_cmoc), np.flatnonzero(~form.support_cmoc)
    cen_idx, nc_idx = np.flatnonzero(form.salience_cmoc), np.flatnonzero(~form.salience_cmoc)
    with pm.Model(coords=coords) as model:
        # support: mechanisms around a global mean, CMOCs around their mechanism
        partial_pooling = cfg.support_pooling == "partial"
        if partial_pooling:
            mu_0 = _prior("support_mean", cfg.support_mean)
            tau_mu = _prior("support_sd_mechanism", cfg.support_sd_mechanism)
            if form.support_mechanism:
                mu = pm.Normal("mu", mu_0, tau_mu, dims="mechanism")
            else:
                z_mu = pm.Normal("z_support_mechanism", 0.0, 1.0, dims="mechanism")
                mu = pm.Deterministic("mu", mu_0 + tau_mu * z_mu, dims="mechanism")
        elif cfg.support_pooling == "none":
            # every target on its own, with the global mean's prior
            m0, s0 = cfg.support_mean.mu, cfg.support_mean.sigma
            mu = pm.Normal("mu", m0, s0, dims="mechanism")
        else:
            # complete pooling: one support for every mechanism and CMOC
            mu_0 = _prior("support_mean", cfg.support_mean)
            mu = pm.Deterministic("mu", mu_0 * pt.ones(len(d.mechanisms)), dims="mechanism")
        # salience: log coding rates, mechanisms around zero, CMOCs around their mechanism
        tau_theta = _prior("salience_sd_mechanism", cfg.salience_sd_mechanism)
        # zero-sum: the overall coding level belongs to the source kinds' rates, not here
        if len(d.mechanisms) == 1:
            theta = pm.Deterministic("salience_mechanism", pt.zeros(1), dims="mechanism")
        elif form.salience_mechanism:
            theta = pm.ZeroSumNormal("salience_mechanism", sigma=tau_theta, dims="mechanism")
        else:
            z_theta = pm.ZeroSumNormal("z_salience_mechanism", sigma=1.0, dims="mechanism")
            theta = pm.Deterministic("salience_mechanism", tau_theta * z_theta, dims="mechanism")
        level = None
        if n_c:
            if partial_pooling:
                sigma_eta = _prior("support_sd_cmoc", cfg.support_sd_cmoc)
            sigma_lam = _prior("salience_sd_cmoc", cfg.salience_sd_cmoc)
            family = pm.Logistic if cfg.pooling == "logistic" else pm.Normal
            eta, lam = pt.zeros(n_c), pt.zeros(n_c)
            # support and salience are centred apart (docs/model.md, "Parametrisation")
            if eta_cen.size and partial_pooling:
                eta_c = family("eta_centred", mu[cmoc_mech[eta_cen]], sigma_eta, shape=eta_cen.size)
                eta = pt.set_subtensor(eta[eta_cen], eta_c)
            if cen_idx.size:
                m_c = cmoc_mech[cen_idx]
                if cfg.kind_rate.dist == "Normal" and cen_idx.size > 1:
                    # The data pin each CMOC's salience relative to the others (how a source's
                    # codes split) and the kinds' rates at the CMOCs' level, but that level only
                    # loosely (through the sources' overdispersed totals), and the split of it
                    # between rates and saliences only through this prior: both are collective
                    # directions over every centred CMOC, which a diagonal mass matrix cannot
                    # follow. So the level is one parameter, the saliences are zero-sum around
                    # it, and the kinds' rates are sampled at it: the same prior (iid
                    # Normal(theta_m, sigma_lambda) saliences, iid kind rates), each weakly
                    # identified quantity a single coordinate (docs/model.md, "Salience level").
                    th_c = theta[m_c]
                    th_bar = th_c.mean()
                    level = pm.Normal("salience_level", th_bar, sigma_lam / np.sqrt(cen_idx.size))
                    rel = pm.CustomDist(
                        "salience_relative",
                        th_c - th_bar,
                        sigma_lam,
                        dist=partial(_zero_sum_around, n=int(cen_idx.size)),
                        transform=ZeroSumTransform([-1]),
                        shape=cen_idx.size,
                    )
                    lam_c = level + rel
                else:
                    lam_c = pm.Normal("salience_centred", theta[m_c], sigma_lam, shape=cen_idx.size)
                lam = pt.set_subtensor(lam[cen_idx], lam_c)
            if eta_nc.size and partial_pooling:
                z_eta = family("z_support_cmoc", 0.0, 1.0, shape=eta_nc.size)
                eta = pt.set_subtensor(eta[eta_nc], mu[cmoc_mech[eta_nc]] + sigma_eta * z_eta)
            if nc_idx.size:
                m_n = cmoc_mech[nc_idx]
                z_lam = pm.Normal("z_salience_cmoc", 0.0, 1.0, shape=nc_idx.size)
                lam = pt.set_subtensor(lam[nc_idx], theta[m_n] + sigma_lam * z_lam)
            if cfg.support_pooling == "none":
                eta = pm.Normal("eta_own", m0, s0, shape=n_c)
            elif cfg.support_pooling == "complete":
                eta = mu[cmoc_mech]
            eta = pm.Deterministic("eta", eta, dims="cmoc")
            lam = pm.Deterministic("salience_cmoc", lam, dims="cmoc")
            pm.Deterministic("support_cmoc", pm.math.sigmoid(eta), dims="cmoc")
            logit_t = pt.concatenate([eta, mu])
            lam_t = pt.concatenate([lam, theta])
        else:
            logit_t, lam_t = mu, theta
        pm.Deterministic("support_mechanism", pm.math.sigmoid(mu), dims="mechanism")

        # sources: rate by kind, lean on support by kind (zero-sum), nested group effects
        if level is None:
            rho = _prior("kind_rate", cfg.kind_rate, dims="kind")
        else:
            # the kinds' log rates at the centred CMOCs' salience level (see above)
            kind_level = pm.Normal(
                "kind_level", cfg.kind_rate.mu + level, cfg.kind_rate.sigma, dims="kind"
            )
            rho = pm.Deterministic("kind_rate", kind_level - level, dims="kind")
        if n_k > 1 and not isinstance(cfg.kind_lean_sd, Prior):
            # a fixed scale: the leans are the kinds' own, with no scale to learn
            delta = pm.ZeroSumNormal("kind_lean", sigma=float(cfg.kind_lean_sd), dims="kind")
        elif n_k > 1:
            sigma_delta = _prior("kind_lean_sd", cfg.kind_lean_sd)
            kind_codes = np.bincount(d.tks_kind, weights=d.tks_wcount, minlength=n_k)
            if cfg.kind_leans == "centered" or (
                cfg.kind_leans == "auto" and kind_codes.min() >= KIND_CENTER_MIN_CODES
            ):
                delta = pm.ZeroSumNormal("kind_lean", sigma=sigma_delta, dims="kind")
            else:
                z_delta = pm.ZeroSumNormal("z_kind_lean", sigma=1.0, dims="kind")
                delta = pm.Deterministic("kind_lean", sigma_delta * z_delta, dims="kind")
        else:
            delta = pt.zeros(1)
        offset = rho[_data("source_kind", d.src_kind)] + _data(
            "source_log_exposure", d.src_log_exposure
        )
        if d.groups:
            sigma_g = _prior("group_sd", cfg.group_sd, dims="group_level")
            # Non-centred and zero-sum within each level, so that group effects do not compete
            # with kind rates: sigma_l (z_g - mean of z at the level), z iid Normal(0, 1), which
            # is sigma_l ZeroSumNormal(1) (docs/model.md, "Weights, mechanism-level codings,
            # group levels"). Sampled as the zero-sum, without the mean of z, which only the
            # prior informs. The groups are sorted by level: each level is one block.
            gamma = pt.concatenate(
                [
                    sigma_g[lv]
                    * pm.ZeroSumNormal(
                        f"z_group_level_{level + 1}",
                        sigma=1.0,
                        shape=int(np.sum(d.group_level == lv)),
                    )
                    for lv, level in enumerate(d.group_levels)
                ]
            )
            gamma = pm.Deterministic("group_effect", gamma, dims="group")
            gamma_pad = pt.concatenate([gamma, pt.zeros(1)])  # index -1 -> no group
            offset = offset + gamma_pad[_data("source_groups", d.src_groups)].sum(axis=1)
        if poisson:
            phi = pt.as_tensor(np.inf)
        else:
            inv_phi = _prior("inv_dispersion", cfg.inv_dispersion)
            phi = pm.Deterministic("dispersion", 1.0 / inv_phi)

        logit_tk = logit_t[:, None] + delta[None, :]
        log_p = pt.stack([-pt.softplus(-logit_tk), -pt.softplus(logit_tk)])
        exp_lam = pt.exp(lam_t)

        # exact non-zero counts: sum over cells of w_j n (o_j + lambda_t + log p) splits into a
        # per-source part (N_j o_j) and a part that needs only the weighted counts per
        # (target, kind, stance), so the cost does not grow with the number of codings
        tks_tgt, tks_stance = _data("tks_target", d.tks_tgt), _data("tks_stance", d.tks_stance)
        pm.Potential(
            "cell_codes",
            pt.sum(
                _data("tks_weighted_count", d.tks_wcount)
                * (lam_t[tks_tgt] + log_p[tks_stance, tks_tgt, _data("tks_kind", d.tks_kind)])
            ),
        )
        src_total = _data("source_total", d.src_total)
        cell_term = src_total * offset - _data("source_log_factorial", d.src_log_fact)
        # total expected codes of each source over its exact cells (zeros included)
        in_theory = (d.target_intro[None, :] <= np.arange(len(d.waves))[:, None]).astype(float)
        per_wave = pt.dot(_data("in_theory", in_theory), exp_lam)
        src_wave = _data("source_wave", d.src_wave)
        if d.pat_id.size:
            pat_kind = _data("pattern_kind", d.pat_kind)
            pat_id, pat_tgt = _data("pattern_id", d.pat_id), _data("pattern_target", d.pat_tgt)
            covered = _segment_sum(
                pat_kind.shape[0],
                pat_id,
                exp_lam[pat_tgt]
                * pt.exp(log_p[_data("pattern_stance", d.pat_stance), pat_tgt, pat_kind[pat_id]]),
            )
            src_pattern = _data("source_pattern", d.src_pattern)
            base_rate = pt.maximum(per_wave[src_wave] - covered[src_pattern], 0.0)
        else:
            base_rate = per_wave[src_wave]
        rate = pt.exp(offset) * base_rate
        src_weight = _data("source_weight", d.src_weight)
        src_ll = _sources_logp(src_total, cell_term, rate, phi, src_weight, poisson=poisson)
        pm.Potential("source_codes", pt.sum(src_ll))
        units = []
        if pointwise:
            # the cells' share of each source: w_j n (lambda_t + log p), as in "cell_codes"
            k_cell = d.src_kind[d.cell_src]
            cell_ll = (
                d.src_weight[d.cell_src]
                * d.cell_count
                * (lam_t[d.cell_tgt] + log_p[d.cell_stance, d.cell_tgt, k_cell])
            )
            units.append(src_ll + _segment_sum(len(d.sources), d.cell_src, cell_ll))
            pm.Deterministic("source_rate", rate, dims="source")

        # totals over waves and groups (and banded rows of single sources)
        if d.agg_label:
            # a total's members enter only through their kind, modelled groups and exposure:
            # sum over member classes, not members (3,498 pairs -> 87 classes on the IOC base)
            c_row, c_kind, c_groups, c_w1, c_w2 = _total_classes(d)
            c_stance, c_tgt = d.agg_stance[c_row], d.agg_tgt[c_row]
            c_row, c_kind = _data("class_total", c_row), _data("class_kind", c_kind)
            c_offset = rho[c_kind]
            if d.groups:
                c_offset = c_offset + gamma_pad[_data("class_groups", c_groups)].sum(axis=1)
            c_lp = log_p[_data("class_stance", c_stance), _data("class_target", c_tgt), c_kind]
            e_cls = pt.exp(c_offset + c_lp)
            n_r = len(d.agg_label)
            agg_tgt = _data("total_target", d.agg_tgt)
            mean = exp_lam[agg_tgt] * _segment_sum(n_r, c_row, _data("class_w1", c_w1) * e_cls)
            if poisson:
                alpha = pt.ones(n_r)
            else:
                w2 = _data("class_w2", c_w2)
                sq = exp_lam[agg_tgt] ** 2 * _segment_sum(n_r, c_row, w2 * e_cls**2)
                alpha = pm.Deterministic("total_alpha", phi * mean**2 / sq, dims="aggregate")
            mean = pm.Deterministic("total_mean", mean, dims="aggregate")
            totals_logp = partial(_totals_logp, lo=d.agg_lo, hi=d.agg_hi, poisson=poisson)
            agg_weight = _data("total_weight", d.agg_weight)
            pm.CustomDist(
                "total_codes",
                mean,
                alpha,
                agg_weight,
                logp=totals_logp,
                observed=d.agg_lo,
                dims="aggregate",
            )
            if pointwise:
                units.append(totals_logp(d.agg_lo, mean, alpha, agg_weight))
        if pointwise:
            pm.Deterministic("loglik_unit", pt.concatenate(units), dims="unit")
    return model
