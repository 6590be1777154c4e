"""Model v2, the default model: a measurement model of how codes arise.

Equations in docs/model.md ("Model v2"). For source ``j`` of kind ``k``, mechanism ``m`` and
target ``t`` of ``m`` in the theory of ``j``'s wave:

- activation ``A_jm ~ Bernoulli(a_mk)``, ``logit a_mk = alpha_m + kappa_k``;
- evidencing ``E_jt | A = 1 ~ Bernoulli(b_t)`` (0 when ``A = 0``);
- depth ``N_jt = 1 + NB(mu_jt, phi)`` when evidenced, ``log mu_jt = rho_k + lambda_t + log x_j``;
- direction: of the recorded codes ``n``, ``s ~ BetaBinomial(n, c q_tk, c (1 - q_tk))`` with
  ``q = p / (p + (1 - p) psi_k)``, ``p_tk = logistic(eta_t + delta_k)`` and ``psi_k`` the
  probability that a refuting code is recorded (no direction term where ``psi_k = 0``).

Approximation: the hurdle and the depth are modelled on *recorded* codes, so a source whose only
codes are unrecorded refutes looks unevidenced. Totals are conditioned on their members' cells
through blocks (rows of one mechanism over one member set), independent given the parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import ZeroSumTransform
from scipy.special import gammaln

from ..evidence import EvidenceBase
from .config import CENTER_MIN_CODES, CENTER_MIN_GROUPS, Prior
from .context_classes import ContextClasses, context_classes, group_level_of
from .hierarchical import _data, _prior, _spread_visible, _zero_sum_around
from .measurement_data import MeasurementData, measurement_data
from .measurement_exact import exact_cell_statistics, exact_cells_logp
from .measurement_units import cell_class_index, measurement_units
from .reparametrise import (
    data_centred_normal,
    data_centred_zero_sum,
    data_scaled_normal,
    data_scaled_zero_sum,
)

__all__ = [
    "CONTEXTS",
    "POOLINGS",
    "MeasurementPriors",
    "build_measurement_model",
    "depth_own_sd",
]

POOLINGS = ("partial", "none", "complete")
"""The pooling variants of the target level (``build_measurement_model(..., pooling=)``)."""

CONTEXTS = ("none", "kind", "group:N")
"""Contexts a target's breadth and direction may depend on (``build_measurement_model(...,
context=)``): ``none``, one evidencing probability and direction per target (kinds differ only
by their global leans); ``kind``, a partly pooled deviation per target and source kind;
``group:N`` (``N`` a level of the group paths, 1-based), one per target and group at that level,
beside the groups' common difference (:mod:`cmoc.models.context_classes`)."""


def is_context(context: str) -> bool:
    """Whether ``context`` is one of :data:`CONTEXTS` (``group:N`` with a level ``N >= 1``)."""
    return context in ("none", "kind") or group_level_of(context) is not None


_GRID = 64
"""Counts of one total summed term by term: at least this many values of each NB sum, more when
a finite bound needs it (exact for bounds up to it); beyond, one survival term."""

_TINY = 1e-12
_NEG = -1e10
"""Log of an impossible term: finite, so that a sum over nothing but impossible terms keeps a
finite gradient (``-inf`` gives NaN through logsumexp)."""


def _normal(mu: float, sigma: float) -> Prior:
    return Prior(dist="Normal", mu=mu, sigma=sigma)


def _half(sigma: float) -> Prior:
    return Prior(dist="HalfNormal", sigma=sigma)


@dataclass(frozen=True)
class MeasurementPriors:
    """Priors of the measurement model (docs/model.md, "Model v2").

    ``activation_kind_sd`` and ``kind_lean_sd`` are fixed scales of zero-sum kind effects;
    ``recording_a``, ``recording_b`` the Beta prior of ``psi_k`` for a ``"partial"`` kind.
    ``concentration`` (Gamma, mean 20, sd sqrt(200): shape 2, rate 0.1) is the beta-binomial's
    ``c``. ``context_sd_breadth`` and ``context_sd_direction`` scale the per-(target, kind)
    deviations of a model with ``context="kind"`` (log-odds scale; docs/model.md, "Context
    dependence", on why normal rather than heavy-tailed deviations).
    """

    activation_mean: Prior = field(default_factory=lambda: _normal(0.0, 1.5))
    activation_sd: Prior = field(default_factory=lambda: _half(1.0))
    activation_kind_sd: float = 0.5
    evidencing_mean: Prior = field(default_factory=lambda: _normal(0.0, 1.5))
    evidencing_sd: Prior = field(default_factory=lambda: _half(1.0))
    kind_rate: Prior = field(default_factory=lambda: _normal(-1.0, 1.5))
    depth_sd_mechanism: Prior = field(default_factory=lambda: _half(0.5))
    depth_sd_target: Prior = field(default_factory=lambda: _half(0.5))
    inv_dispersion: Prior = field(default_factory=lambda: _half(1.0))
    support_mean: Prior = field(default_factory=lambda: _normal(0.0, 1.5))
    support_sd_mechanism: Prior = field(default_factory=lambda: _half(1.0))
    support_sd_target: Prior = field(default_factory=lambda: _half(1.0))
    kind_lean_sd: float = 0.5
    concentration: Prior = field(
        default_factory=lambda: Prior(dist="Gamma", mu=20.0, sigma=float(np.sqrt(200.0)))
    )
    recording_a: float = 2.0
    recording_b: float = 2.0
    context_sd_breadth: Prior = field(default_factory=lambda: _half(0.5))
    context_sd_direction: Prior = field(default_factory=lambda: _half(0.5))


def _root_mean_square(prior: Prior) -> float:
    """``sqrt(E[x^2])`` of a scale's prior (a ``Normal`` or ``Gamma``: mean and sd)."""
    if prior.dist == "HalfNormal":
        return prior.sigma
    if prior.dist == "Exponential":  # mean sigma: E[x^2] = 2 sigma^2
        return float(np.sqrt(2.0) * prior.sigma)
    return float(np.hypot(prior.mu, prior.sigma))


def depth_own_sd(priors: MeasurementPriors, mechanisms: int) -> float:
    """Return the prior sd of a target's depth ``lambda_t`` without pooling (``pooling="none"``).

    The hierarchy's root-mean-square spread of a target around zero,
    ``sqrt(E[tau_theta^2] + E[sigma_l^2])`` (0.71 by default; ``tau_theta`` only with more
    than one mechanism): the same prior width, with nothing shared between targets.
    """
    parts = [_root_mean_square(priors.depth_sd_target)]
    if mechanisms > 1:
        parts.append(_root_mean_square(priors.depth_sd_mechanism))
    return float(np.hypot(*parts)) if len(parts) > 1 else parts[0]


def _depth_own_prior(priors: MeasurementPriors, mechanisms: int) -> Prior:
    return _normal(0.0, depth_own_sd(priors, mechanisms))


def _per_kind(x, t, k):
    """``x[t]``, or ``x[t, k]`` where ``x`` varies by kind too (a model with context effects)."""
    return x[t] if x.ndim == 1 else x[t, k]


def _context_deviations(
    model: pm.Model, md: MeasurementData, pr: MeasurementPriors
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """Per-(target, kind) deviations of evidencing and direction (``context="kind"``).

    Non-centred zero-sum normals over the kinds, one scale each for breadth and direction:
    the kinds' deviations of one target sum to zero, so ``b_t`` and ``eta_t`` stay the
    targets' values between kinds, and a kind with few sources is pulled towards them.
    Direction deviates only between kinds whose refutes are recorded (fully or partly), at
    least two: elsewhere nothing in the data sees it.

    Returns
    -------
    (pytensor.tensor.TensorVariable, pytensor.tensor.TensorVariable)
        ``logit b_tk`` (target, kind) and the direction deviations (target, kind).
    """
    d = md.data
    seen = np.flatnonzero(md.psi != 0)
    dev_b, dev_p = _deviations(model, pr, len(d.targets), "kind", d.kinds, seen)
    return model["evidencing_logit"][:, None] + dev_b, dev_p


def _deviations(
    model: pm.Model, pr: MeasurementPriors, n_t: int, dim: str, labels: list, seen: np.ndarray
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """Return the targets' own zero-sum deviations over the contexts ``dim`` (target, context).

    Direction deviates between the ``seen`` contexts (at least two), zero elsewhere.
    """
    n_c = len(labels)
    sd_b = _prior("context_sd_breadth", pr.context_sd_breadth)
    z_b = pm.ZeroSumNormal("z_context_breadth", sigma=1.0, dims=("target", dim))
    dev_b = pm.Deterministic("context_breadth", sd_b * z_b, dims=("target", dim))
    if seen.size < 2:  # no deviation (and no variable: its draws would be constant zeros)
        return dev_b, pt.zeros((n_t, n_c))
    model.add_coord("direction_context", [labels[i] for i in seen])
    sd_p = _prior("context_sd_direction", pr.context_sd_direction)
    z_p = pm.ZeroSumNormal("z_context_direction", sigma=1.0, dims=("target", "direction_context"))
    dev_p = pt.set_subtensor(pt.zeros((n_t, n_c))[:, seen], sd_p * z_p)
    return dev_b, pm.Deterministic("context_direction", dev_p, dims=("target", dim))


def _group_terms(
    model: pm.Model, cc: ContextClasses, pr: MeasurementPriors, p: dict, logit_b, logit_p, psi
) -> dict:
    """Return the likelihood's parameters per class (kind, group): contexts by group level.

    Each group has a common deviation of evidencing and of direction (every target's, as a
    kind's activation and lean: ``context_common_breadth``, ``context_common_direction``) and
    each target its own (:func:`_deviations`); a class gathers its kind's parameters and its
    group's deviations (sources with no group at the level: none).
    """
    n_t, n_g = len(cc.md.data.targets), len(cc.contexts)
    model.add_coord("context", cc.contexts)
    recorded = np.flatnonzero(cc.md.psi != 0)
    seen = np.unique(cc.class_context[recorded])
    seen = seen[seen >= 0]
    common_b = pm.ZeroSumNormal(
        "context_common_breadth", sigma=pr.activation_kind_sd, dims="context"
    )
    dev_b, dev_p = _deviations(model, pr, n_t, "context", cc.contexts, seen)
    dev_b = dev_b + common_b[None, :]
    if seen.size >= 2:
        common_p = pm.ZeroSumNormal(
            "context_common_direction_seen", sigma=pr.kind_lean_sd, dims="direction_context"
        )
        common_p = pt.set_subtensor(pt.zeros(n_g)[seen], common_p)
        dev_p = dev_p + pm.Deterministic("context_common_direction", common_p, dims="context")
    return class_params(cc, p, logit_b, logit_p, psi, dev_b, dev_p)


def class_params(cc: ContextClasses, p: dict, logit_b, logit_p, psi, dev_b, dev_p) -> dict:
    """Return the likelihood's parameters per class from the kinds' and groups' deviations.

    ``p``: the parameters per kind (as the default model's likelihood takes them);
    ``logit_b`` (target), ``logit_p`` (target, kind), ``psi`` (kind); ``dev_b``, ``dev_p``
    (target, context): the deviations of evidencing and direction log-odds per group.
    """
    kind, g = np.asarray(cc.class_kind), cc.class_context
    pad = pt.zeros((len(cc.md.data.targets), 1))  # for the classes without a group (-1)
    dev_b = pt.concatenate([pt.as_tensor(dev_b), pad], axis=1)[:, g]
    dev_p = pt.concatenate([pt.as_tensor(dev_p), pad], axis=1)[:, g]
    logit_bc = pt.as_tensor(logit_b)[:, None] + dev_b
    psi = pt.as_tensor(psi)
    psi_safe = pt.where(pt.eq(psi, 0.0), 1.0, psi)[kind]
    return {
        **p,
        "logit_a": p["logit_a"][:, kind],
        "log_b": _log_sigmoid(logit_bc),
        "log1m_b": _log_sigmoid(-logit_bc),
        "rho": p["rho"][kind],
        "q": pm.math.sigmoid(pt.as_tensor(logit_p)[:, kind] + dev_p - pt.log(psi_safe)[None, :]),
    }


def _own(name: str, prior: Prior, n: int) -> pt.TensorVariable:
    """``n`` independent ``Normal(prior.mu, prior.sigma)`` values (no pooling)."""
    return pm.Normal(name, prior.mu, prior.sigma, shape=n)


def _direction_codes(md: MeasurementData) -> np.ndarray:
    """Per target, the exact recorded codes of kinds whose refutes are recorded."""
    recorded = md.psi[md.data.src_kind[md.cell_src]] == 1
    return np.bincount(
        md.cell_tgt[recorded], weights=md.cell_n[recorded], minlength=len(md.data.targets)
    )


def _partly_centred(name: str, mean, sd, centred: np.ndarray, precision=None) -> pt.TensorVariable:
    """``Normal(mean, sd)`` values, centred where ``centred`` (the data pin them down).

    The centred ones are ``{name}_centred``, the others ``mean + sd z`` with ``z_{name}``
    standard normal: the funnel is avoided either way (as v1's CMOCs, docs/model.md). With
    ``precision`` (per value, how precisely its data pin it: a model input), the others are
    scaled by their data instead (:func:`.reparametrise.data_scaled_normal`).
    """
    n = centred.size
    mean = pt.broadcast_to(pt.as_tensor(mean), (n,))
    out = pt.zeros(n)
    idx = np.flatnonzero(centred)
    if idx.size:
        centre = pm.Normal(f"{name}_centred", mean[idx], sd, shape=idx.size)
        out = pt.set_subtensor(out[idx], centre)
    idx = np.flatnonzero(~centred)
    if idx.size:
        prec = None if precision is None else precision[idx]
        value = data_scaled_normal(f"z_{name}", mean[idx], sd, prec, shape=idx.size)
        out = pt.set_subtensor(out[idx], value)
    return out


EVIDENCING_CENTER_MIN_TARGETS = 20
"""Targets with many evidencing cells needed before their evidencing is centred.

Centred, each rich target's ``logit b_t`` is its own coordinate, which removes the collective
direction between ``evidencing_mean`` and every standardised deviation that the data pin; but
with few targets their spread ``sigma_b`` is loosely known and the centred form meets the
funnel. Measured: on a 1,000 x 100 base (108 rich targets) centring took R-hat on the
evidencing level from 1.016 to below 1.01; on the planted base (6 rich targets) it raised the
divergences from 1 and 2 to 4 and 5 (seeds 1 and 2)."""


def _evidencing_centred(md: MeasurementData, rich: np.ndarray) -> np.ndarray:
    """Targets whose evidencing is centred: the rich ones, when there are enough of them.

    And when their evidencing visibly differs (:func:`_spread_visible`), estimated per rich
    target as the logit of the share of the sources with a cell of its mechanism that have a
    cell of it, with its binomial variance.
    """
    if rich.sum() < EVIDENCING_CENTER_MIN_TARGETS:
        return np.zeros_like(rich)
    share, precision = _evidencing_shares(md)
    idx = np.flatnonzero(rich)
    y = np.log(share[idx] / (1.0 - share[idx]))
    if not _spread_visible(y, 1.0 / np.maximum(precision[idx], _TINY)):
        return np.zeros_like(rich)
    return rich


def _evidencing_shares(md: MeasurementData) -> tuple[np.ndarray, np.ndarray]:
    """Per target, the share of the sources with a cell of its mechanism that have one of it.

    Those sources are the ones known to be active; the share (clipped to 0.01-0.99) estimates
    ``b_t``, and ``n p (1 - p)`` (``n`` of them, at least one) is the binomial precision of its
    logit. Both 0.5 and 0 without exact cells.
    """
    n_t = len(md.data.targets)
    if not md.cell_n.size:
        return np.full(n_t, 0.5), np.zeros(n_t)
    tm = md.data.target_mech
    pairs = np.unique(np.column_stack([md.cell_src, tm[md.cell_tgt]]), axis=0)
    active = np.maximum(np.bincount(pairs[:, 1], minlength=len(md.data.mechanisms))[tm], 1)
    share = np.clip(np.bincount(md.cell_tgt, minlength=n_t) / active, 0.01, 0.99)
    return share, active * share * (1.0 - share)


def _direction_estimates(md: MeasurementData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per target: its exact codes from kinds whose refutes are recorded, and their direction.

    The direction as those codes show it, the logit ``y`` of the target's share of supporting
    codes (kept within 0.01-0.99), with the variance ``se2`` of that ratio over its sources
    (codes cluster within a source), by the delta method. What the recorded kinds see: the
    target's ``eta`` plus their lean.
    """
    recorded = md.psi[md.data.src_kind[md.cell_src]] == 1
    t, s, n = md.cell_tgt[recorded], md.cell_s[recorded], md.cell_n[recorded]
    n_t = len(md.data.targets)
    codes = np.bincount(t, weights=n, minlength=n_t)
    share = np.clip(np.bincount(t, weights=s, minlength=n_t) / np.maximum(codes, 1), 0.01, 0.99)
    # the ratio's variance over the target's sources (each cell is one source's codes)
    var = np.bincount(t, weights=(s - share[t] * n) ** 2, minlength=n_t) / np.maximum(codes, 1) ** 2
    se2 = np.maximum(var, 1e-6) / (share * (1.0 - share)) ** 2
    return codes, np.log(share / (1.0 - share)), se2


def _direction_precision(md: MeasurementData) -> np.ndarray:
    """Per target, roughly how precisely its recorded kinds' codes pin its direction's logit.

    ``1 / se2`` of :func:`_direction_estimates`, with ``se2`` at least the binomial variance
    ``1 / (n p (1 - p))`` of its ``n`` codes (a target whose few codes agree is not pinned);
    0 without such codes. A sampling aid (:mod:`.reparametrise`): the model does not depend
    on it.
    """
    codes, y, se2 = _direction_estimates(md)
    share = 1.0 / (1.0 + np.exp(-y))
    floor = 1.0 / np.maximum(codes * share * (1.0 - share), _TINY)
    return np.where(codes > 0, 1.0 / np.maximum(se2, floor), 0.0)


def _small_theory(md: MeasurementData) -> bool:
    """Three or four mechanisms: too few for their directions' spread to be known well."""
    return 3 <= len(md.data.mechanisms) < CENTER_MIN_GROUPS


def _direction_centred(md: MeasurementData) -> np.ndarray:
    """Targets whose direction is centred.

    Those with at least :data:`CENTER_MIN_CODES` exact codes from kinds whose refutes are
    recorded (their split pins the direction down), when such targets' directions visibly
    differ (:func:`_spread_visible` of :func:`_direction_estimates`). Otherwise none: the
    non-centred form. None in a small theory (:func:`_small_theory`), whose mechanisms'
    directions are centred instead (:func:`_mechanism_directions_centred`): centred targets
    under four mechanisms met the funnel of the targets' spread (docs/sampling.md).
    """
    codes, y, se2 = _direction_estimates(md)
    if _small_theory(md):
        return np.zeros(codes.shape, dtype=bool)
    cen = codes >= CENTER_MIN_CODES
    if cen.sum() < 2:
        return cen
    if not _spread_visible(y[cen], se2[cen], md.data.target_mech[cen]):
        return np.zeros_like(cen)
    return cen


def _group_estimates(
    y: np.ndarray, groups: np.ndarray, n_g: int, se2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per group (mechanism), the mean of its members' ``y`` and how precisely it is known.

    The variance of a group's mean is the members' scatter within groups (pooled over groups,
    so the members' own spread counts; at least their sampling variance ``se2``) over their
    number: one-way analysis of variance, as v1's rule for its mechanism level. Groups without
    members get precision 0, and all do when no group has two members to give a scatter.
    """
    est, prec = np.zeros(n_g), np.zeros(n_g)
    count = np.bincount(groups, minlength=n_g)
    seen = count > 0
    dof = y.size - seen.sum()
    if y.size < 2 or dof < 1:
        return est, prec
    est[seen] = np.bincount(groups, weights=y, minlength=n_g)[seen] / count[seen]
    within = max(((y - est[groups]) ** 2).sum() / dof, se2)
    prec[seen] = count[seen] / within
    return est, prec


def _mechanism_direction_estimates(md: MeasurementData) -> tuple[np.ndarray, np.ndarray]:
    """Per mechanism, its direction as the recorded kinds see it, and how precisely.

    A sampling aid for the data-centred mechanism level (:mod:`.reparametrise`); the model does
    not depend on it. The :func:`_group_estimates` of the targets with at least
    :data:`CENTER_MIN_CODES` codes from kinds whose refutes are recorded
    (:func:`_direction_estimates`).
    """
    codes, y, se2 = _direction_estimates(md)
    rich = np.flatnonzero(codes >= CENTER_MIN_CODES)
    n_m = len(md.data.mechanisms)
    if not rich.size:
        return np.zeros(n_m), np.zeros(n_m)
    return _group_estimates(y[rich], md.data.target_mech[rich], n_m, float(se2[rich].mean()))


def _mechanism_directions_centred(md: MeasurementData) -> bool:
    """Whether the mechanisms' directions may be centred on their codes (when these are seen).

    With three mechanisms or more: from :data:`CENTER_MIN_GROUPS` their spread is known well
    enough; with three or four (a small theory, whose targets are then non-centred,
    :func:`_direction_centred`) the non-centred form met the funnel of pinned values under a
    barely identified scale. Centring only where the mechanisms' directions visibly differed
    (as v1's mechanism level) left the four-mechanism web base failing at 1 of 8 seeds (94
    divergences at seed 7, whose mechanisms do not visibly differ); the targets non-centred and
    the mechanisms centred, it passed at 8 of 8 (docs/sampling.md, "Extension"). With two, not:
    the planted base's seed 9 gave 8 divergences centred, none plain.
    """
    return len(md.data.mechanisms) >= 3


def _activation_shares(md: MeasurementData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per mechanism, its evidenced exact-form sources, their share, and its precision.

    The (weighted) number of sources whose likelihood is the exact-cell form that have a code
    of the mechanism, their share ``p`` of those sources (clipped to 0.02-0.98), and the
    binomial precision ``n p (1 - p)`` of its logit (0 where there are none: blocks only).
    """
    n_m = len(md.data.mechanisms)
    if not md.pair_mech.size:
        return np.zeros(n_m), np.full(n_m, 0.5), np.zeros(n_m)
    n = np.bincount(md.pair_mech, weights=md.pair_weight, minlength=n_m)
    ev = np.bincount(
        md.pair_mech, weights=np.where(md.pair_evidenced, md.pair_weight, 0.0), minlength=n_m
    )
    p = np.clip(ev / np.maximum(n, _TINY), 0.02, 0.98)
    return ev, p, n * p * (1.0 - p)


def _coded_targets(md: MeasurementData) -> np.ndarray:
    """Per mechanism, how many of its targets have a code (an exact cell or a band >= 1)."""
    d = md.data
    coded = np.zeros(len(d.targets), dtype=bool)
    coded[md.cell_tgt] = True
    coded[md.bt_tgt[md.bt_lo >= 1]] = True
    return np.bincount(d.target_mech[coded], minlength=len(d.mechanisms))


def _activation_precision(md: MeasurementData) -> np.ndarray:
    """Per mechanism, roughly how precisely its sources' own cells pin its activation logit.

    The binomial precision of :func:`_activation_shares` where at least two of the mechanism's
    targets have codes, else 0: a source evidences a target ``t`` with probability ``a b_t``,
    and with one coded target the cells pin that product, not ``a``; two coded targets pin
    ``a`` through how often they co-occur in a source. A sampling aid (:mod:`.reparametrise`):
    the model does not depend on it.
    """
    return np.where(_coded_targets(md) >= 2, _activation_shares(md)[2], 0.0)


def _activation_centred(md: MeasurementData) -> bool:
    """Centre the mechanisms' activation (as v1's mechanism level: :data:`CENTER_MIN_GROUPS`).

    When there are at least :data:`CENTER_MIN_GROUPS` mechanisms and the median one is
    evidenced by at least :data:`CENTER_MIN_CODES` sources' own cells, each mechanism's
    activation is pinned by its data and the centred form avoids the collective direction of
    ``activation_mean`` against every ``z_activation`` (on the 1,000 x 100 base: R-hat 1.016
    non-centred, below 1.01 centred); with fewer mechanisms their spread is barely identified.

    And only where the mechanisms' shares visibly differ (:func:`_spread_visible`, on the
    logits of :func:`_activation_shares`): 20 evidenced sources can pin a share near 0.8 no
    better than a binomial precision of 3-8. On the IOC-like layout at 64 sources (32 reviews
    in exact cells; ``analyses/recovery_coverage.py --layouts ioc --sources 64 --seed 3``) the
    centred activation diverged at 3 of 4 bases (8-14 divergent transitions, R-hat 1.055); the
    scaled non-centred form diverged at none (docs/model.md, "Recovery and coverage").
    """
    n_m = len(md.data.mechanisms)
    if n_m < CENTER_MIN_GROUPS or not md.pair_mech.size or (_coded_targets(md) < 2).any():
        return False
    per_mech, share, precision = _activation_shares(md)
    if np.median(per_mech) < CENTER_MIN_CODES:
        return False
    y = np.log(share / (1.0 - share))
    return _spread_visible(y, 1.0 / np.maximum(precision, _TINY))


def _depth_centred(md: MeasurementData) -> tuple[np.ndarray, bool]:
    """Targets whose depth goes at a level, and whether that level's deviations are centred.

    See :func:`_depth_estimates`, whose first two values these are.
    """
    return _depth_estimates(md)[:2]


def _depth_estimates(md: MeasurementData) -> tuple[np.ndarray, bool, float, np.ndarray]:
    """Targets whose depth goes at a level, whether its deviations are centred, and their noise.

    A target with at least :data:`CENTER_MIN_CODES` evidencing exact cells (as many sources
    with their own non-zero count for it) has its depth pinned by its data. The centred form
    suits such targets when depths truly differ more than their data pin them down; where they
    barely differ (a small true spread ``sigma_l``), centred deviations meet the funnel as
    ``sigma_l`` goes to zero, and the non-centred form is the one that samples (measured: on
    the planted base, whose depths are all alike, centring gave 76 and 141 divergences at
    seeds 1 and 2; on a 1,000 x 100 base with spread drawn from the prior, the non-centred
    form gave R-hat 1.11). Which regime a base is in is estimated from the cells, as the
    partial-pooling factor: with ``y_t`` the log mean extra codes ``n - 1`` of target ``t``'s
    cells and ``s_t^2`` its delta-method variance, the spread ``tau^2 = var(y) - mean(s^2)``;
    centred when ``tau^2 > mean(s^2)`` (the data weigh more than the pooling) and there are at
    least :data:`EVIDENCING_CENTER_MIN_TARGETS` rich targets (with fewer, ``tau^2`` is too
    noisy to tell: on the planted base at seed 4, six alike depths looked visibly different and
    the centred form gave 103 divergences); otherwise centred on their data as far as the data
    pin them (:func:`.reparametrise.data_centred_zero_sum`). Either form is the same model;
    only how it is sampled differs.

    Returns
    -------
    (numpy.ndarray of bool, bool, float, numpy.ndarray)
        The targets at the level, True for centred deviations, the precision with which their
        cells pin a target's log depth, ``1 / mean(s_t^2)`` (0 where none is at a level), and
        the rich targets' ``y_t``: the data-centred form's (:mod:`.reparametrise`).
    """
    n_t = len(md.data.targets)
    none = np.zeros(0)
    if not md.cell_n.size:
        return np.zeros(n_t, dtype=bool), False, 0.0, none
    own = md.cell_n > 0
    tgt, extra = md.cell_tgt[own], md.cell_n[own] - 1.0
    cells = np.bincount(tgt, minlength=n_t)
    rich = cells >= CENTER_MIN_CODES
    if rich.sum() < 2:
        return rich, False, 0.0, none
    idx = np.flatnonzero(rich)
    mean = np.bincount(tgt, weights=extra, minlength=n_t)[idx] / cells[idx]
    sq = np.bincount(tgt, weights=extra**2, minlength=n_t)[idx] / cells[idx]
    m = np.maximum(mean, 0.1)
    se2 = np.maximum(sq - mean**2, m) / (cells[idx] * m**2)  # at least the Poisson variance
    visible = _spread_visible(np.log(m), se2, md.data.target_mech[idx])
    centred = visible and idx.size >= EVIDENCING_CENTER_MIN_TARGETS
    return rich, centred, float(1.0 / se2.mean()), np.log(m)


def _at_level(
    name: str,
    theta_t,
    sigma_l,
    centred: np.ndarray,
    shift=0.0,
    *,
    standardised: bool = False,
    precision: float = 0.0,
    estimate: np.ndarray | None = None,
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """Targets' log depths ``Normal(theta_t, sigma_l)``, the centred ones around one level.

    Over the centred targets the data pin each one's depth plus its kind's rate,
    ``rho_k + lambda_t``, but not how their common level splits between the rates and the
    depths: a collective direction over every centred target, which a diagonal mass matrix
    cannot follow (on a 1,000 x 100 base: R-hat 1.11, bulk ESS 28). As v1's saliences
    (docs/model.md, "Salience level"), the level ``L`` is one parameter, the centred depths
    are zero-sum deviations around it, and the caller samples the kinds' rates at it
    (``kind_level``): the same prior, each weakly identified quantity one coordinate. The
    other targets stay non-centred around their mechanism. Returns the depths and ``L``.

    ``standardised``: the non-centred form of the same, for a small spread ``sigma_l``: the
    level ``mean + sigma_l / sqrt(n) u`` and deviations ``sigma_l w`` with ``u`` standard normal
    and ``w`` zero-sum standard normal (``u / sqrt(n) + w`` are iid standard normal: the plain
    non-centred form rotated, so the level is still one coordinate). ``shift`` is then unused.
    With ``precision`` (how precisely each target's data pin its value, ``1 / s^2``) and
    ``estimate`` (the data's own values of the targets), the deviations are centred on the data
    as far as they pin them (:func:`.reparametrise.data_centred_zero_sum`): the same prior,
    without the standardised form's ridge where the data are strong (the planted base's
    divergences), nor the centred form's funnel where the spread is small. The level stays
    standardised: the data pin the kinds' rates plus it, not the level itself.

    With ``shift`` the parameter is ``L + shift`` (``Normal(mean + shift, ...)``; a shear, whose
    Jacobian is 1): for the directions, the level as the kinds whose refutes are recorded see
    it (their mean lean added), which their codes pin down, where the level itself trades
    against the kinds' leans and the recording of refutes of ``"partial"`` kinds.
    """
    n_t = centred.size
    cen, nc = np.flatnonzero(centred), np.flatnonzero(~centred)
    th_c = theta_t[cen]
    th_bar = th_c.mean()
    if standardised:
        level = th_bar + sigma_l / np.sqrt(cen.size) * pm.Normal(f"z_{name}_level", 0.0, 1.0)
        if estimate is None or not precision:
            rel = (th_c - th_bar) + sigma_l * pm.ZeroSumNormal(
                f"z_{name}_relative", sigma=1.0, shape=cen.size
            )
        else:
            rel = data_centred_zero_sum(
                f"z_{name}_relative",
                th_c - th_bar,
                sigma_l,
                _data(f"{name}_estimate", estimate - estimate.mean()),
                # one precision for all, as a vector: a compiled model reused for another base
                # (sampling.py) did not take new values of data with one element
                _data(f"{name}_precision", np.full(cen.size, precision)).mean(),
                int(cen.size),
            )
        out = pt.set_subtensor(pt.zeros(n_t)[cen], level + rel)
        return _non_centred_rest(name, out, theta_t, sigma_l, nc), level
    level = pm.Normal(f"{name}_level", th_bar + shift, sigma_l / np.sqrt(cen.size)) - shift
    rel = pm.CustomDist(
        f"{name}_relative",
        th_c - th_bar,
        sigma_l,
        dist=partial(_zero_sum_around, n=int(cen.size)),
        transform=ZeroSumTransform([-1]),
        shape=cen.size,
    )
    out = pt.set_subtensor(pt.zeros(n_t)[cen], level + rel)
    return _non_centred_rest(name, out, theta_t, sigma_l, nc), level


def _recording(pr, psi, partial: list[int]) -> tuple:
    """Return ``psi`` with the ``"partial"`` kinds' recording ``psi_k ~ Beta`` set, and it."""
    psi_p = pm.Beta("refute_recording", pr.recording_a, pr.recording_b, dims="partial_kind")
    return pt.set_subtensor(psi[partial], psi_p), psi_p


def _kind_leans(md: MeasurementData, pr, partial: list[int], informed: bool) -> tuple:
    """Return the kinds' leans ``delta``, the recording ``psi`` per kind, and its partial part.

    Where a ``"partial"`` kind's codes inform its lean against recorded kinds' (``informed``),
    ``psi`` comes first and the leans are sampled as the codes show them (:func:`_leans_seen`);
    otherwise the plain ``ZeroSumNormal`` leans, and ``psi_p`` is ``None`` (created later, in
    the model's first order).
    """
    n_k = len(md.data.kinds)
    psi = pt.as_tensor(np.nan_to_num(md.psi, nan=1.0))
    if partial and informed:
        psi, psi_p = _recording(pr, psi, partial)
        log_psi = pt.set_subtensor(pt.zeros(n_k)[partial], pt.log(psi_p))
        return _leans_seen(pr.kind_lean_sd, log_psi, n_k), psi, psi_p
    if n_k > 1:
        return pm.ZeroSumNormal("kind_lean", sigma=pr.kind_lean_sd, dims="kind"), psi, None
    return pt.zeros(1), psi, None


def _leans_seen(sigma: float, log_psi, n_k: int) -> pt.TensorVariable:
    """Return the kinds' leans ``delta ~ ZeroSumNormal(sigma)``, sampled as the codes show them.

    A ``"partial"`` kind's recorded codes pin ``delta_k - log psi_k`` (its lean with its
    unrecorded refutes), relative to the kinds whose refutes are recorded, but not how that
    splits between the lean and the recording ``psi_k``: a ridge that a diagonal mass matrix
    cannot follow (on a 1,000 x 100 base: bulk ESS 291-355 on ``kind_lean`` against
    ``refute_recording``; sampled as here, 618-797 at four seeds, docs/model.md). Given
    ``psi`` (sampled first), the parameter is
    ``kind_lean_seen = delta - Z(log psi)``, with ``Z`` the zero-sum projection and
    ``log psi_k = 0`` for the other kinds: a shear with Jacobian 1, so the same prior, and
    ``kind_lean_seen_k - mean over recorded kinds`` is exactly the pinned
    ``delta_k - log psi_k - mean over recorded kinds of delta``. Returns ``delta``
    (the Deterministic ``kind_lean``).
    """
    shift = log_psi - log_psi.mean()
    seen = pm.CustomDist(
        "kind_lean_seen",
        -shift,
        sigma,
        dist=partial(_zero_sum_around, n=n_k),
        transform=ZeroSumTransform([-1]),
        dims="kind",
    )
    return pm.Deterministic("kind_lean", seen + shift, dims="kind")


def _non_centred_rest(name: str, out, theta_t, sigma_l, nc: np.ndarray) -> pt.TensorVariable:
    """``out`` with the targets ``nc`` set to ``theta_t + sigma_l z`` (non-centred)."""
    if not nc.size:
        return out
    z = pm.Normal(f"z_{name}", 0.0, 1.0, shape=nc.size)
    return pt.set_subtensor(out[nc], theta_t[nc] + sigma_l * z)


def _log_sigmoid(x):
    return -pt.softplus(-x)


def _nb_logp(value, mu, alpha):
    return pm.logp(pm.NegativeBinomial.dist(mu=mu, alpha=alpha), value)


def _bb_logp(value, n, q, c):
    return pm.logp(pm.BetaBinomial.dist(n=n, alpha=c * q, beta=c * (1.0 - q)), value)


def _log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``log C(n, k)``, ``_NEG`` where ``k < 0`` or ``k > n``."""
    ok = (k >= 0) & (k <= n)
    out = np.full(np.broadcast(n, k).shape, _NEG)
    nn, kk = np.broadcast_arrays(n, k)
    out[ok] = gammaln(nn[ok] + 1) - gammaln(kk[ok] + 1) - gammaln(nn[ok] - kk[ok] + 1)
    return out


def _nb_sum_grid(log_mu, phi, n_e: int, n_i: int) -> pt.TensorVariable:
    """``log P(NB(e mu, e phi) = i)`` for ``e = 0 .. n_e - 1`` (``e = 0`` as 1), ``i < n_i``.

    ``(rows, n_e, n_i)`` from ``log mu`` per row: the negative binomial's log pmf
    ``log Gamma(i + e phi) - log Gamma(e phi) - log i! + e phi log(phi / (phi + mu)) +
    i log(mu / (phi + mu))`` (``e`` cancels in both ratios) with the ratio of gammas as the
    rising product ``sum_{j < i} log(e phi + j)``: a few logarithms of the scalar ``phi``
    instead of log-gammas and digammas per element, for the small ``n_i`` of a band's bounds.
    """
    e = np.maximum(np.arange(n_e), 1)[:, None]  # (e, 1)
    rising = pt.zeros((n_e, 1))
    if n_i > 1:
        steps = pt.log(e * phi + np.arange(n_i - 1)[None, :])  # (e, i - 1)
        rising = pt.concatenate([rising, pt.cumsum(steps, axis=1)], axis=1)  # (e, i)
    log_phi = pt.log(phi)
    log_sum = pt.logaddexp(log_phi, log_mu)
    i = np.arange(n_i)
    return (
        rising[None, :, :]
        - gammaln(i + 1.0)[None, None, :]
        + (e * phi)[None, :, :] * (log_phi - log_sum)[:, None, None]
        + i[None, None, :] * (log_mu - log_sum)[:, None, None]
    )


def _binomial_mix(log_w, n_e: int, log_b, log1m_b, k_max: int) -> pt.TensorVariable:
    """``log sum_e Binom(e; K, b) exp(log_w[:, e])`` for ``K = 0 .. k_max``: ``(rows, k_max + 1)``.

    ``log_w`` is ``(rows, n_e)`` (``e = 0 .. n_e - 1``), ``log_b`` and ``log1m_b`` per row.
    The same sum as term by term in log space, ``log C(K, e) + e log b + (K - e) log(1 - b) +
    log_w``, at a fraction of the cost when ``n_e`` is small: with ``y_e = log_w + e logit b``
    it is ``K log(1 - b) + log sum_e C(K, e) exp(y_e)``; for ``K >= n_e - 1`` every ``e`` has
    ``C(K, e) >= 1``, so relative to the row's largest ``y`` the sum is at least 1 and a matrix
    product of ``exp(y - max y)`` with the constant ``C(K, e)`` loses nothing; the few smaller
    ``K`` are summed in log space as before (there the largest ``y`` may have ``C = 0``).
    """
    ee = np.arange(n_e)[None, :]
    y = log_w + ee * (log_b - log1m_b)[:, None]  # (rows, e)
    n_small = min(n_e - 1, k_max + 1)
    parts = []
    if n_small > 0:
        log_c = _log_comb(np.arange(n_small)[:, None], ee)  # (K, e), _NEG where e > K
        parts.append(pm.math.logsumexp(log_c[None] + y[:, None, :], axis=2, keepdims=False))
    if k_max + 1 > n_small:
        m = pt.max(y, axis=1, keepdims=True)
        c = np.exp(_log_comb(np.arange(n_small, k_max + 1)[:, None], ee))  # (K, e), all >= 1
        parts.append(m + pt.log(pt.dot(pt.exp(y - m), c.T)))
    s = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=1)
    return s + np.arange(k_max + 1)[None, :] * log1m_b[:, None]


@dataclass(frozen=True)
class _ExactTerms:
    """The exact-cell form's terms per class, unweighted, with the classes' weights (pm.Data)."""

    pair: pt.TensorVariable  # per (source, mechanism) pair class
    pair_weight: pt.TensorVariable
    covered_weight: pt.TensorVariable
    cell: pt.TensorVariable | None  # per exact-cell class (None without exact cells)
    cell_weight: pt.TensorVariable | None


def _exact_terms(md: MeasurementData, p: dict, cells: bool = True) -> _ExactTerms:
    """Log-likelihood of each (source, mechanism) pair class and of each exact-cell class.

    With ``cells=False`` only the pairs' (the cells' are then ``None``).
    """
    d = md.data
    n_m = len(d.mechanisms)
    onehot = np.eye(n_m)[d.target_mech]  # (target, mechanism)
    # S_wm: sum of log(1 - b_t) over the targets of m in the theory of wave w (per kind too
    # where b varies by kind)
    theory = _data("theory", md.theory.astype(float))
    pair_mech, pair_kind = _data("pair_mechanism", md.pair_mech), _data("pair_kind", md.pair_kind)
    pair_wave = _data("pair_wave", md.pair_wave)
    logit_a = p["logit_a"][pair_mech, pair_kind]
    if p["log1m_b"].ndim == 1:
        zeros = pt.dot(theory, onehot * p["log1m_b"][:, None])[pair_wave, pair_mech]
    else:
        s_wmk = pt.tensordot(theory, onehot[:, :, None] * p["log1m_b"][:, None, :], axes=1)
        zeros = s_wmk[pair_wave, pair_mech, pair_kind]
    on = _log_sigmoid(logit_a) + zeros
    evidenced = _data("pair_evidenced", md.pair_evidenced.astype(np.int8))
    ll = pt.where(evidenced, on, pt.logaddexp(_log_sigmoid(-logit_a), on))
    pair_weight = _data("pair_weight", md.pair_weight)
    covered = md.covered_weight if p["log1m_b"].ndim == 1 else md.covered_kind_weight
    covered_weight = _data("covered_weight", covered)
    cell, cell_weight = None, None
    if cells and md.cell_n.size:
        c_tgt, c_kind, c_n, c_s, c_logx, c_w = _cell_classes(md)
        t = _data("cell_target", c_tgt)
        k = _data("cell_kind", c_kind)
        n = _data("cell_codes", c_n)
        log_x = _data("cell_log_exposure", c_logx)
        mu = pt.exp(p["rho"][k] + p["lam"][t] + log_x)
        cell = (
            _per_kind(p["log_b"], t, k)
            - _per_kind(p["log1m_b"], t, k)
            + _nb_logp(n - 1, mu, p["phi"])
        )
        direct = md.psi[c_kind] != 0
        if direct.any():
            # every cell's split, kept where its kind records refutes (a mask, not an index
            # set, so that bases differing in which cells those are share one graph)
            s = _data("cell_supports", c_s)
            bb = _bb_logp(s, n, p["q"][t, k], p["c"])
            cell = cell + pt.where(_data("cell_direct", direct.astype(np.int8)), bb, 0.0)
        cell_weight = _data("cell_weight", c_w)
    return _ExactTerms(ll, pair_weight, covered_weight, cell, cell_weight)


def _exact_sum(terms: _ExactTerms, p: dict) -> pt.TensorVariable:
    """Sum the exact-cell form's terms, weighted (the potential ``exact_codes``)."""
    out = pt.sum(terms.pair_weight * terms.pair) - pt.sum(terms.covered_weight * p["log1m_b"])
    if terms.cell is not None:
        out = out + pt.sum(terms.cell_weight * terms.cell)
    return out


def _exact_logp(
    md: MeasurementData, p: dict, terms: _ExactTerms | None = None
) -> pt.TensorVariable:
    """Log-likelihood of the (source, mechanism) pairs in the exact-cell form, weighted.

    The same sum as :func:`_exact_sum` of :func:`_exact_terms`, the non-zero cells taken
    through their sufficient statistics (:mod:`cmoc.models.measurement_exact`): what sampling
    uses. ``terms``: the pairs' terms if already in the graph (their cells' are not used).
    """
    terms = terms if terms is not None else _exact_terms(md, p, cells=False)
    out = _exact_sum(replace(terms, cell=None, cell_weight=None), p)
    if md.cell_n.size:
        out = out + exact_cells_logp(exact_cell_statistics(md), p, _data)
    return out


def _cell_classes(md: MeasurementData) -> tuple[np.ndarray, ...]:
    """Collapse the exact non-zero cells into classes of identical terms, weights summed.

    A cell's term depends on its source only through the kind and exposure: cells of one
    target with the same kind, exposure, recorded codes and supporting codes have the same
    log-likelihood, so it is computed once per class and weighted by the sum of their sources'
    weights (mostly 1-5 codes per cell: a few classes per target and kind).

    Returns
    -------
    tuple of numpy.ndarray
        ``target, kind, codes, supports, log_exposure, weight`` per class.
    """
    classes, inverse = cell_class_index(md)
    weight = np.bincount(inverse, weights=md.data.src_weight[md.cell_src])
    as_int = classes[:, :4].astype(np.int64)
    return as_int[:, 0], as_int[:, 1], as_int[:, 2], as_int[:, 3], classes[:, 4], weight


def _block_loglik(md: MeasurementData, p: dict, log_p) -> pt.TensorVariable:
    """``log L_B`` per block from ``log_p[row, K] = log P_t(n_f + K)`` of each (block, target).

    ``L_B = sum_K Binom(K; J_free, a) (prod_{Z_free} (1 - b_t))^K prod_t P_t(n_f + K)``; the
    forced members' factor ``a`` is in the exact-cell form.
    """
    n_b = len(md.block_label)
    n_k = int(md.block_free.max()) + 1
    per_block = pt.inc_subtensor(pt.zeros((n_b, n_k))[md.bt_block], log_p)
    k_row = np.arange(n_k)[None, :]
    log_ck = _log_comb(md.block_free[:, None], k_row)
    logit_a = p["logit_a"][md.block_mech, md.block_kind][:, None]
    if p["log1m_b"].ndim == 1:
        zsum = pt.dot(md.block_zero, p["log1m_b"])[:, None]
    else:
        zsum = pt.sum(md.block_zero * p["log1m_b"].T[md.block_kind], axis=1)[:, None]
    block = log_ck + k_row * (_log_sigmoid(logit_a) + zsum)
    block = block + (md.block_free[:, None] - k_row).clip(0) * _log_sigmoid(-logit_a)
    return pm.math.logsumexp(block + per_block, axis=1, keepdims=False)


def _count_blocks_loglik(md: MeasurementData, p: dict) -> pt.TensorVariable:
    """Return each block's log-likelihood when no total's split is informative (``H = 1``).

    Each evidencing member gives at least one code, so only few numbers ``e`` of evidencing
    members matter: for a band ``[lo, hi]``, ``e <= hi``; for ``[lo, inf)``, the complement
    ``P_t(K') = 1 - sum_{e < lo} Binom(e; K', b_t) P(e + NB(e mu, e phi) < lo)``. Both need
    NB terms up to the largest finite bound only (IOC: 6 values of ``e``, not 47 x 64).
    A band ``[1, inf)`` (at least one code: 65 of the IOC base's 87 rows) needs none:
    ``P_t(K') = 1 - (1 - b_t)^K'``, the value the sum gives (its ``e >= 1`` terms are exactly
    zero), for a fraction of the cost.
    """
    size = md.block_forced + md.block_free
    n_k = int(md.block_free.max()) + 1
    # K' = n_f + K per row (clipped beyond the block's members, where _block_loglik masks it)
    active = np.minimum(md.block_forced[md.bt_block][:, None] + np.arange(n_k)[None, :], size.max())
    simple = (md.bt_hi < 0) & (md.bt_lo == 1)
    if not simple.any():
        return _block_loglik(md, p, _count_rows_logp(md, p, np.arange(md.bt_tgt.size), active))
    rows = np.flatnonzero(simple)
    kind = md.block_kind[md.bt_block[rows]]
    s = active[rows] * _per_kind(p["log1m_b"], md.bt_tgt[rows], kind)[:, None]
    log_p = pt.zeros((md.bt_tgt.size, n_k))
    log_p = pt.set_subtensor(log_p[rows], pm.math.log1mexp(pt.minimum(s, -_TINY)))
    if not simple.all():
        rows = np.flatnonzero(~simple)
        log_p = pt.set_subtensor(log_p[rows], _count_rows_logp(md, p, rows, active[rows]))
    return _block_loglik(md, p, log_p)


def _count_rows_logp(
    md: MeasurementData, p: dict, rows: np.ndarray, active: np.ndarray
) -> pt.TensorVariable:
    """``log P_t(K')`` of the (block, target) ``rows`` at ``K' = active``: ``(rows, K)``."""
    b, t = md.bt_block[rows], md.bt_tgt[rows]
    kind = md.block_kind[b]
    size = md.block_forced + md.block_free
    bt_lo, bt_hi = md.bt_lo[rows], md.bt_hi[rows]
    unbounded = bt_hi < 0
    reach = np.where(unbounded, bt_lo - 1, bt_hi)  # the largest e (and i) that matters
    top = int(max(reach.max(), 0))
    n_e = min(top, int(size.max())) + 1  # e members evidence it: at most the members
    e = np.arange(n_e)[None, :, None]
    i = np.arange(top + 1)[None, None, :]
    lo, hi = bt_lo[:, None, None], bt_hi[:, None, None]
    log_mu = p["rho"][kind] + p["lam"][t] + md.block_log_exposure[b]
    log_nb = _nb_sum_grid(log_mu, p["phi"], n_e, top + 1)  # (bt, e, i)
    # finite band: F(e) = P(lo - e <= NB <= hi - e); unbounded: G(e) = 1 - F(e) = P(NB < lo - e)
    keep = np.where(unbounded[:, None, None], i <= lo - 1 - e, (i >= lo - e) & (i <= hi - e)) & (
        e >= 1
    )
    val = pm.math.logsumexp(pt.where(keep, log_nb, _NEG), axis=2, keepdims=False)
    e0 = np.arange(n_e)[None, :] == 0
    zero_val = np.where(unbounded | (bt_lo == 0), 0.0, _NEG)[:, None]  # G(0) = 1, F(0)
    val = pt.where(e0, zero_val, val)
    # sum_e Binom(e; n_f + K, b_t) val(e), e <= min(n_f + K, top)
    s = _binomial_mix(
        val, n_e, _per_kind(p["log_b"], t, kind), _per_kind(p["log1m_b"], t, kind), int(size.max())
    )
    if md.block_forced.any():  # (rows, K): P_t(n_f + K)
        s = s[np.arange(rows.size)[:, None], active]
    else:
        s = s[:, : active.shape[1]]
    log_p = pt.where(unbounded[:, None], pm.math.log1mexp(pt.minimum(s, -_TINY)), s)
    if (unbounded & (bt_lo == 0)).any():
        log_p = pt.where((unbounded & (bt_lo == 0))[:, None], 0.0, log_p)
    return log_p


def _blocks_logp(md: MeasurementData, p: dict, grid: int = _GRID) -> pt.TensorVariable:
    """Log-likelihood of the blocks of totals, each weighted by its members' mean weight."""
    return pt.sum(md.block_weight * _blocks_loglik(md, p, grid))


def _blocks_loglik(md: MeasurementData, p: dict, grid: int = _GRID) -> pt.TensorVariable:
    """Log-likelihood of each block of totals, unweighted.

    For block ``B`` with ``J_f`` free and ``n_f`` forced members::

        L_B = sum_K Binom(K; J_f, a) (prod_{Z_free} (1 - b_t))^K prod_t P_t(n_f + K)
        P_t(K') = sum_e Binom(e; K', b_t) F_t(e),
        F_t(e) = sum_{n in band} P(e + NB(e mu, e phi) = n) H_t(n)

    with ``H_t(n)`` the beta-binomial probability of the stated split of ``n`` recorded codes
    (1 where refutes are not recorded). ``n`` runs over ``e + i``, ``i < grid``; for an
    unbounded band the rest is one term ``P(NB >= grid) H_t(e + grid)`` (exact where ``H = 1``).
    """
    n_bt = md.bt_tgt.size
    size = md.block_forced + md.block_free
    n_e = int(size.max()) + 1  # e = 0 .. J
    n_k = int(md.block_free.max()) + 1  # K = 0 .. J_free
    b, t = md.bt_block, md.bt_tgt
    kind = md.block_kind[b]
    # the split of a total informs direction only where refutes are recorded: a "partial"
    # kind's totals inform breadth and depth (its exact cells still carry the thinned split)
    direct = md.psi[kind] == 1
    if not direct.any():
        return _count_blocks_loglik(md, p)
    finite = np.concatenate([md.bt_lo, md.bt_hi[md.bt_hi >= 0]])
    grid = max(grid, int(finite.max()) + 1)
    lo, hi = md.bt_lo[:, None, None], md.bt_hi[:, None, None]
    unbounded = md.bt_hi < 0

    # F_t(e) on the grid n = e + i
    e = np.arange(n_e)[None, :, None]
    i = np.arange(grid)[None, None, :]
    n = e + i
    in_band = (n >= lo) & ((hi < 0) | (n <= hi)) & (e >= 1) & (e <= size[b][:, None, None])
    mu = pt.exp(p["rho"][kind] + p["lam"][t] + md.block_log_exposure[b])
    e_safe = np.maximum(e, 1)
    log_nb = _nb_logp(i, mu[:, None, None] * e_safe, p["phi"] * e_safe)  # (bt, e, i)
    # H_t(n) for n = 0 .. n_e + grid: beta-binomial of the split, where refutes are recorded
    n_all = np.arange(n_e + grid + 1)[None, :]
    s_all = np.where(
        md.bt_fixed_supports[:, None], md.bt_fixed[:, None], n_all - md.bt_fixed[:, None]
    )
    log_h = pt.zeros((n_bt, n_all.shape[1]))
    if direct.any():
        rows = np.flatnonzero(direct)
        q = p["q"][t[rows], kind[rows]][:, None]
        s_ok = np.clip(s_all[rows], 0, n_all)
        bb = _bb_logp(s_ok, np.broadcast_to(n_all, s_ok.shape), q, p["c"])
        log_h = pt.set_subtensor(log_h[rows], bb)
    h_grid = log_h[:, n[0]]  # (bt, e, i)
    log_f = pm.math.logsumexp(pt.where(in_band, log_nb + h_grid, _NEG), axis=2, keepdims=False)
    if unbounded.any():
        head = pm.math.logsumexp(log_nb, axis=2, keepdims=False)
        surv = pm.math.log1mexp(pt.minimum(head, -_TINY))
        tail = surv + log_h[:, n_all[0, grid : grid + n_e]]
        tail_ok = (
            unbounded[:, None]
            & (np.arange(n_e)[None, :] >= 1)
            & (np.arange(n_e)[None, :] <= size[b][:, None])
        )
        log_f = pt.where(tail_ok, pt.logaddexp(log_f, tail), log_f)
    # e = 0: no code; in the band only if 0 is
    zero_ok = (md.bt_lo == 0)[:, None] & (np.arange(n_e) == 0)[None, :]
    log_f = pt.where(np.arange(n_e)[None, :] == 0, np.where(zero_ok, 0.0, _NEG), log_f)

    # P_t(n_f + K) = sum_e Binom(e; n_f + K, b_t) F_t(e)
    kk = np.arange(n_k)[None, :, None]
    ee = np.arange(n_e)[None, None, :]
    active = md.block_forced[b][:, None, None] + kk
    log_c = _log_comb(active, ee)
    log_c = np.where(kk <= md.block_free[b][:, None, None], log_c, _NEG)
    n_on, n_off = np.broadcast_to(ee, log_c.shape), np.maximum(active - ee, 0)
    lb = _per_kind(p["log_b"], t, kind)[:, None, None]
    l1b = _per_kind(p["log1m_b"], t, kind)[:, None, None]
    terms = log_c + n_on * lb + n_off * l1b + log_f[:, None, :]
    log_p = pm.math.logsumexp(terms, axis=2, keepdims=False)  # (bt, K)
    return _block_loglik(md, p, log_p)


def _unit_loglik(
    md: MeasurementData, exact: _ExactTerms, blocks: pt.TensorVariable | None, p: dict
) -> pt.TensorVariable:
    """Log-likelihood per unit of evidence (:func:`~cmoc.models.measurement_units` order).

    A source's is its pairs' and cells' class terms times its own weight in each class, less
    the covered targets' ``log(1 - b_t)`` of a forced block member; a block's is its weighted
    ``log L_B``. Summed over units it is the potentials' sum (the class weights are the column
    sums of the units' shares), up to rounding: the potential sums the cells through their
    sufficient statistics.
    """
    units = measurement_units(md)
    if p["log1m_b"].ndim != 1:
        raise ValueError(
            "the pointwise log-likelihood (pointwise=True) is not available for a model with "
            "context effects (context='kind')"
        )
    per_source = pt.dot(units.pair, exact.pair) - pt.dot(units.covered, p["log1m_b"])
    if exact.cell is not None:
        per_source = per_source + pt.dot(units.cell, exact.cell)
    parts = [per_source]
    if blocks is not None:
        parts.append(md.block_weight * blocks)
    return pt.concatenate(parts) if len(parts) > 1 else per_source


def structure_parts(md: MeasurementData) -> tuple:
    """Return what, besides the values of the data, shapes the graph of the model."""
    d = md.data
    direct = md.psi[d.src_kind[md.cell_src]] != 0 if md.cell_n.size else np.zeros(0, bool)
    cen = _direction_centred(md)
    rich, depth_centred = _depth_centred(md)
    return (
        "".join("c" if c else "n" for c in cen),
        "".join("c" if c else "n" for c in rich),
        depth_centred,
        "".join("c" if c else "n" for c in _evidencing_centred(md, rich)),
        _activation_centred(md),
        _mechanism_directions_centred(md),
        d.targets,
        d.mechanisms,
        d.kinds,
        tuple(md.recording),
        md.cell_n.size > 0,
        bool(direct.any()),
        md.block_label,
        md.bt_lo.tolist(),
        md.bt_hi.tolist(),
    )


def build_measurement_model(
    evidence: EvidenceBase | MeasurementData,
    recording: dict[str, str] | None = None,
    priors: MeasurementPriors | None = None,
    *,
    pointwise: bool = False,
    pooling: str = "partial",
    context: str = "none",
) -> pm.Model:
    """Build the measurement model (model v2, the default model) for an evidence base.

    Parameters
    ----------
    evidence : EvidenceBase or MeasurementData
        The evidence (its arrays are computed if needed).
    recording : dict, optional
        Source kind -> ``"recorded"``, ``"partial"`` or ``"not recorded"`` (refutes); every kind
        ``"recorded"`` when omitted. Ignored when ``evidence`` is a :class:`MeasurementData`.
    priors : MeasurementPriors, optional
    pointwise : bool
        Also the Deterministic ``loglik_unit`` (dim ``unit``): the log-likelihood per unit of
        evidence, a source in the exact-cell form or a block of totals
        (:func:`~cmoc.models.measurement_units.measurement_units`), for leave-one-unit-out
        checks after sampling. Off for sampling (the potentials' graph is the same either way).
    pooling : {"partial", "none", "complete"}
        How targets share their mechanism's evidencing, depth and direction
        (:attr:`cmoc.models.ModelConfig.support_pooling`; docs/model.md, "Model v2: model
        comparison"): ``partial``, the model (targets around their mechanism, or for
        evidencing around a global mean); ``none``, every target's ``logit b_t``, ``lambda_t``
        and ``eta_t`` on its own with a fixed prior (the mean's prior for evidencing and
        direction, ``Normal(0, s)`` for depth with ``s`` the hierarchy's root-mean-square
        spread of a target: :func:`depth_own_sd`); ``complete``, no target level: one
        evidencing probability (a target's breadth is its mechanism's), ``lambda_t =
        theta_mech(t)``, ``eta_t = mu_mech(t)``. Activation keeps its mechanism level in all
        three. The last two exist for model comparison (``cmoc check --compare``).
    context : {"none", "kind", "group:N"}
        :data:`CONTEXTS`. With ``kind`` (and two kinds or more), each target's evidencing
        log-odds and direction log-odds get a zero-sum deviation per source kind, partly pooled
        towards the target's own value: ``logit b_tk = logit b_t + sigma_B z_tk`` and
        ``logit p_tk = eta_t + delta_k + sigma_D u_tk`` (``u`` over the kinds that record
        refutes, at least two; none otherwise). Deterministics ``context_breadth`` and, where
        direction deviates, ``context_direction`` (target, kind) hold the deviations
        (docs/model.md, "Context dependence"). With ``group:N`` (``evidence`` a base), the same
        per target and group at level ``N`` (dim ``context``), plus each group's common
        deviations ``context_common_breadth`` and ``context_common_direction``; the kinds keep
        their parameters (:mod:`~cmoc.models.context_classes`). Raises
        :class:`~cmoc.models.context_classes.NotIdentified` where the data cannot identify them.

    Returns
    -------
    pymc.Model
        Dims ``target`` (CMOCs then mechanisms), ``mechanism``, ``kind``; the likelihood is in
        the potentials ``exact_codes`` and ``total_codes``. Derived: ``breadth`` (target, kind),
        ``breadth_mechanism`` (mechanism, kind), ``direction`` (target), ``direction_kind``
        (target, kind), ``depth`` (target).

    Notes
    -----
    The hurdle and the depth are modelled on recorded codes ``n = s + r_obs``: a source whose
    only codes are unrecorded refutes looks unevidenced. Blocks of one mechanism over different
    member sets are independent given the parameters; a supports-only total's direction term is
    the beta-binomial of the whole total (exact for one evidencing member).
    """
    md = (
        evidence if isinstance(evidence, MeasurementData) else measurement_data(evidence, recording)
    )
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    if not is_context(context):
        raise ValueError(f"context must be one of {', '.join(CONTEXTS)}, got {context!r}")
    cc = None
    if (level := group_level_of(context)) is not None:
        if isinstance(evidence, MeasurementData):
            raise ValueError("context by group level needs the evidence base, not its arrays")
        cc = context_classes(evidence, dict(zip(md.data.kinds, md.recording, strict=True)), level)
    pr = priors or MeasurementPriors()
    d = md.data
    n_m, n_k, n_t = len(d.mechanisms), len(d.kinds), len(d.targets)
    tm = d.target_mech
    partial = [i for i, r in enumerate(md.recording) if r == "partial"]
    coords = {"target": d.targets, "mechanism": d.mechanisms, "kind": d.kinds}
    if partial:
        coords["partial_kind"] = [d.kinds[i] for i in partial]
    with pm.Model(coords=coords) as model:
        # activation: does a source engage a mechanism at all
        alpha_0 = _prior("activation_mean", pr.activation_mean)
        tau_a = _prior("activation_sd", pr.activation_sd)
        if _activation_centred(md):  # many mechanisms, each pinned by its sources
            alpha = pm.Normal("activation_centred", alpha_0, tau_a, dims="mechanism")
            alpha = pm.Deterministic("activation_mechanism", alpha, dims="mechanism")
        else:  # scaled by what each mechanism's own cells show (see _activation_precision)
            prec = _activation_precision(md)
            prec = _data("activation_precision", prec) if prec.any() else None
            alpha = data_scaled_normal("z_activation", alpha_0, tau_a, prec, dims="mechanism")
            alpha = pm.Deterministic("activation_mechanism", alpha, dims="mechanism")
        if n_k > 1:
            kappa = pm.ZeroSumNormal("activation_kind", sigma=pr.activation_kind_sd, dims="kind")
        else:
            kappa = pt.zeros(1)
        logit_a = alpha[:, None] + kappa[None, :]
        # targets with many evidencing cells (their depth and evidencing at a level, centred)
        depth_rich, depth_centred, depth_precision, depth_estimate = _depth_estimates(md)
        # evidencing a target given activation
        if pooling == "none":  # every target on its own, with the prior of the mean
            own = _own("evidencing_own", pr.evidencing_mean, n_t)
            logit_b = pm.Deterministic("evidencing_logit", own, dims="target")
        else:
            beta_0 = _prior("evidencing_mean", pr.evidencing_mean)
        if pooling == "complete":  # one evidencing probability: breadth shared in a mechanism
            logit_b = pm.Deterministic("evidencing_logit", beta_0 * pt.ones(n_t), dims="target")
        elif pooling == "partial":
            sigma_b = _prior("evidencing_sd", pr.evidencing_sd)
            # centred only for rich targets of a base with many of them (the spread is then
            # well known); non-centred elsewhere (see EVIDENCING_CENTER_MIN_TARGETS)
            ev_centred = _evidencing_centred(md, depth_rich)
            # the others scaled by what the cells show (a sampling aid: see reparametrise),
            # unless rich targets are centred: there the plain form passed the gate at four
            # seeds and scaling its few-cell targets did not (docs/model.md, "Scaled by the data")
            ev_precision = None
            if md.cell_n.size and not ev_centred.any():
                ev_precision = _data("evidencing_precision", _evidencing_shares(md)[1])
            logit_b = pm.Deterministic(
                "evidencing_logit",
                _partly_centred("evidencing", beta_0, sigma_b, ev_centred, ev_precision),
                dims="target",
            )
        # depth: codes of an evidencing source
        at_level = pooling == "partial" and depth_rich.sum() >= 2 and pr.kind_rate.dist == "Normal"
        if not at_level:  # the plain form (created first: the order of the sampled vector)
            rho = _prior("kind_rate", pr.kind_rate, dims="kind")
        if pooling == "none":  # every target on its own, with the hierarchy's spread around 0
            lam = pm.Deterministic(
                "depth_target", _own("depth_own", _depth_own_prior(pr, n_m), n_t), dims="target"
            )
        else:
            if n_m > 1:
                tau_theta = _prior("depth_sd_mechanism", pr.depth_sd_mechanism)
                # with alike depths pinned by their cells, so is each mechanism's (its rich
                # targets' mean): scaled by the data (see _at_level)
                alike = at_level and not depth_centred and pooling == "partial"
                est, prec_m = np.zeros(n_m), np.zeros(n_m)
                if at_level and depth_centred and pooling == "partial":
                    est, prec_m = _group_estimates(
                        depth_estimate, tm[depth_rich], n_m, 1.0 / depth_precision
                    )
                if prec_m.any():
                    # centred rich targets pin each mechanism's depth (their mean) as far as
                    # they agree: centred on it (see reparametrise), else a collective
                    # direction of depth_sd_mechanism against every z (2,000 x 500: ESS 376)
                    est[prec_m == 0] = est[prec_m > 0].mean()
                    theta = data_centred_zero_sum(
                        "z_depth_mechanism",
                        pt.zeros(n_m),
                        tau_theta,
                        _data("depth_mechanism_estimate", est - est.mean()),
                        _data("depth_mechanism_precision", np.full(n_m, prec_m.mean())).mean(),
                        n_m,
                    )
                else:
                    prec = depth_precision * np.bincount(tm[depth_rich], minlength=n_m)
                    prec = _data("depth_mechanism_precision", prec).mean() if alike else None
                    theta = data_scaled_zero_sum(
                        "z_depth_mechanism", tau_theta, prec, dims="mechanism"
                    )
                theta = pm.Deterministic("depth_mechanism", theta, dims="mechanism")
            else:
                theta = pm.Deterministic("depth_mechanism", pt.zeros(1), dims="mechanism")
        if pooling == "complete":  # targets share their mechanism's depth
            lam = pm.Deterministic("depth_target", theta[tm], dims="target")
        elif pooling == "partial":
            sigma_l = _prior("depth_sd_target", pr.depth_sd_target)
            if at_level:
                lam, level = _at_level(
                    "depth",
                    theta[tm],
                    sigma_l,
                    depth_rich,
                    standardised=not depth_centred,
                    precision=depth_precision,
                    estimate=depth_estimate,
                )
                # the kinds' log rates at the centred targets' depth level (see _at_level)
                kind_level = pm.Normal(
                    "kind_level", pr.kind_rate.mu + level, pr.kind_rate.sigma, dims="kind"
                )
                rho = pm.Deterministic("kind_rate", kind_level - level, dims="kind")
            else:
                lam = _partly_centred("depth", theta[tm], sigma_l, depth_rich & depth_centred)
            lam = pm.Deterministic("depth_target", lam, dims="target")
        inv_phi = _prior("inv_dispersion", pr.inv_dispersion)
        phi = pm.Deterministic("dispersion", 1.0 / inv_phi)
        # direction
        cen = _direction_centred(md) if pooling == "partial" else np.zeros(n_t, dtype=bool)
        direction_level = cen.sum() >= 2
        recorded = np.flatnonzero(md.psi == 1)
        informed = n_k > 1 and recorded.size > 0 and bool(_direction_codes(md).any())
        # the recorded kinds' codes pin the directions plus their lean: the mean and the
        # mechanisms are sampled as they see them, so the leans come first (see _kind_leans);
        # at a level only with enough mechanisms to centre (the planted base, two: seed 3 gave
        # a divergence with the mean so sampled, none plain)
        mean_seen = (
            informed
            and pooling != "none"
            and pr.support_mean.dist == "Normal"
            and (not direction_level or n_m >= CENTER_MIN_GROUPS)
        )
        if mean_seen:
            delta, psi, psi_p = _kind_leans(md, pr, partial, informed)
        if pooling == "none":  # every target on its own, with the global mean's prior (as v1)
            eta = pm.Deterministic("eta", _own("support_own", pr.support_mean, n_t), dims="target")
            # a mechanism's direction is its own target's (summaries read mu)
            mu = pm.Deterministic("mu", eta[n_t - n_m :], dims="mechanism")
        else:
            if mean_seen:  # a shear, Jacobian 1: the same prior
                shift = delta[recorded].mean()
                mu_0 = pm.Deterministic(
                    "support_mean",
                    pm.Normal(
                        "support_mean_seen", pr.support_mean.mu + shift, pr.support_mean.sigma
                    )
                    - shift,
                )
            else:
                mu_0 = _prior("support_mean", pr.support_mean)
            tau_mu = _prior("support_sd_mechanism", pr.support_sd_mechanism)
            # as the recorded kinds see them, centred on their codes where these pin them, with
            # three mechanisms or more (_mechanism_directions_centred says why not with two)
            centre_mu = mean_seen and _mechanism_directions_centred(md)
            y_m, p_m = _mechanism_direction_estimates(md) if centre_mu else (None, None)
            if centre_mu and p_m.any():
                mu_seen = data_centred_normal(
                    "z_support_mechanism",
                    mu_0 + shift,
                    tau_mu,
                    _data("support_mechanism_estimate", y_m),
                    _data("support_mechanism_precision", p_m),
                    dims="mechanism",
                )
                mu = pm.Deterministic("mu", mu_seen - shift, dims="mechanism")
            else:
                z_mu = pm.Normal("z_support_mechanism", 0.0, 1.0, dims="mechanism")
                mu = pm.Deterministic("mu", mu_0 + tau_mu * z_mu, dims="mechanism")
        if pooling == "complete":  # targets share their mechanism's direction
            eta = pm.Deterministic("eta", mu[tm], dims="target")
        elif pooling == "partial":
            sigma_eta = _prior("support_sd_target", pr.support_sd_target)
            # centred where the target's own split pins it down (many codes whose refutes were
            # recorded) and the targets' directions visibly differ, non-centred elsewhere: the
            # funnel either way otherwise (as v1's CMOCs). Two or more centred: around one
            # level, as the depths, sampled as the kinds whose refutes are recorded see it (the
            # level alone trades against the kinds' leans and the recording of refutes of
            # "partial" kinds: a collective direction otherwise).
            if not direction_level:  # the plain form (its variables in their first order)
                # the non-centred targets scaled by what their codes pin (reparametrise.py)
                prec = _direction_precision(md)
                prec = _data("direction_precision", prec) if prec.any() else None
                eta = pm.Deterministic(
                    "eta",
                    _partly_centred("support", mu[tm], sigma_eta, cen, precision=prec),
                    dims="target",
                )
        if not mean_seen:
            delta, psi, psi_p = _kind_leans(md, pr, partial, informed)
        if direction_level:
            shift = delta[recorded].mean() if informed else 0.0
            eta, _ = _at_level("support", mu[tm], sigma_eta, cen, shift)
            eta = pm.Deterministic("eta", eta, dims="target")
        c = _prior("concentration", pr.concentration)
        if partial and psi_p is None:
            psi, psi_p = _recording(pr, psi, partial)
        logit_p = eta[:, None] + delta[None, :]
        if context == "kind" and n_k > 1:
            logit_b, dev = _context_deviations(model, md, pr)
            logit_p = logit_p + dev
        # q: share of recorded codes that support; psi = 0 kinds get psi 1 here, unused
        psi_safe = pt.where(pt.eq(psi, 0.0), 1.0, psi)
        q = pm.math.sigmoid(logit_p - pt.log(psi_safe)[None, :])

        p = {
            "logit_a": logit_a,
            "log_b": _log_sigmoid(logit_b),
            "log1m_b": _log_sigmoid(-logit_b),
            "rho": rho,
            "lam": lam,
            "phi": phi,
            "q": q,
            "c": c,
        }
        if cc is not None:  # the likelihood's terms by class (kind, group)
            if pointwise:
                raise ValueError(
                    "the pointwise log-likelihood (pointwise=True) is not available for a model "
                    "with context effects"
                )
            p_c = _group_terms(model, cc, pr, p, logit_b, logit_p, psi)
            pm.Potential("exact_codes", _exact_logp(cc.md, p_c))
            if cc.md.block_label:
                pm.Potential("total_codes", _blocks_logp(cc.md, p_c))
        elif not pointwise:
            pm.Potential("exact_codes", _exact_logp(md, p))
            if md.block_label:
                pm.Potential("total_codes", _blocks_logp(md, p))
        else:  # the same potentials, the classes' terms also spread onto the units
            exact = _exact_terms(md, p)
            pm.Potential("exact_codes", _exact_logp(md, p, exact))
            blocks = None
            if md.block_label:
                blocks = _blocks_loglik(md, p)
                pm.Potential("total_codes", pt.sum(md.block_weight * blocks))
            model.add_coord("unit", measurement_units(md).ids)
            pm.Deterministic("loglik_unit", _unit_loglik(md, exact, blocks, p), dims="unit")

        # derived quantities
        a = pm.math.sigmoid(logit_a)
        b = pm.math.sigmoid(logit_b)
        pm.Deterministic(
            "breadth", a[tm, :] * (b[:, None] if b.ndim == 1 else b), dims=("target", "kind")
        )
        none_m = pt.exp(pt.dot(np.eye(n_m)[tm].T, p["log1m_b"]))
        if none_m.ndim == 1:
            none_m = none_m[:, None]
        pm.Deterministic("breadth_mechanism", a * (1.0 - none_m), dims=("mechanism", "kind"))
        pm.Deterministic("direction", pm.math.sigmoid(eta), dims="target")
        pm.Deterministic("direction_kind", pm.math.sigmoid(logit_p), dims=("target", "kind"))
        pm.Deterministic("depth_expected", 1.0 + pt.exp(lam + rho.mean()), dims="target")
    return model
