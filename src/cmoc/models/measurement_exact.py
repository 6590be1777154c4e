"""Model v2's exact non-zero cells summed through sufficient statistics.

Each exact non-zero cell (source, target) of ``n`` recorded codes, ``s`` of them supporting,
adds ``log b_t - log(1 - b_t) + log NB(n - 1; mu, phi) + log BB(s; n, c q, c (1 - q))`` to the
log-likelihood (docs/model.md, "Model v2"). Summed over cells with their weights, every
log-gamma ratio with a whole-number step is a rising product, ``log Gamma(y + a) -
log Gamma(a) = sum_{j < y} log(a + j)``, so the sum needs:

- ``log(phi + j)`` once per ``j < max(n) - 1``, weighted by the cells with more codes
  (``phi``, the dispersion, is one number);
- ``log(phi + mu_g)`` once per group of cells with the same mean ``mu_g`` (target, kind,
  exposure), weighted by the group's ``sum w (phi + n - 1)``;
- terms linear in ``log b_t``, ``log(1 - b_t)``, ``rho_k`` and ``lambda_t``, weighted by sums;
- ``log(c q + j)`` and ``log(c (1 - q) + j)`` once per (target, kind, ``j``) with a cell of
  more than ``j`` supporting (refuting) codes, and ``log(c + j)`` once per ``j < max(n)``.

This is the same sum as the per-class terms of :func:`cmoc.models.measurement._exact_terms`
(which the pointwise log-likelihood and the planner keep) up to rounding, at a fraction of the
cost: on a base of 2,000 sources and 500 CMOCs, about 1,100 groups and 9,000 (target, kind,
``j``) entries replace 14,193 classes of log-gammas and digammas. Numpy here; the graph in
:func:`exact_cells_logp`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt
from scipy.special import gammaln

from .measurement_data import MeasurementData
from .measurement_units import cell_class_index

__all__ = ["ExactCellStatistics", "exact_cell_statistics", "exact_cells_logp"]


@dataclass(frozen=True)
class ExactCellStatistics:
    """Weighted sufficient statistics of the exact non-zero cells (all arrays numpy).

    Attributes
    ----------
    target_weight, target_extra : numpy.ndarray
        Per target, ``sum w`` and ``sum w (n - 1)`` of its cells.
    target_kind_weight : numpy.ndarray
        ``sum w`` per (target, kind): for ``log b`` where it varies by kind.
    kind_extra : numpy.ndarray
        Per kind, ``sum w (n - 1)``.
    extra_above : numpy.ndarray
        ``sum w [n - 1 > j]`` for ``j = 0 .. max(n) - 2``: the weights of ``log(phi + j)``.
    group_target, group_kind, group_log_exposure, group_weight, group_extra : numpy.ndarray
        Per group of cells with one mean (target, kind, exposure): its keys, ``sum w`` and
        ``sum w (n - 1)``.
    weight : float
        ``sum w``: the weight of ``phi log phi``.
    support_target, support_kind, support_step, support_weight : numpy.ndarray
        Per (target, kind, ``j``) with a direct cell of more than ``j`` supporting codes, the
        weight ``sum w [s > j]`` of ``log(c q + j)``.
    refute_target, refute_kind, refute_step, refute_weight : numpy.ndarray
        The same for refuting codes ``n - s`` and ``log(c (1 - q) + j)``.
    codes_above : numpy.ndarray
        ``sum w [n > j]`` over direct cells, ``j = 0 .. max(n) - 1``: the weights of
        ``-log(c + j)``.
    constant : float
        ``sum w (-log (n - 1)! + (n - 1) log x + [direct] log C(n, s))``.
    direct : bool
        Whether any cell's kind records refutes (the beta-binomial terms are in the graph).
    """

    target_weight: np.ndarray
    target_kind_weight: np.ndarray
    target_extra: np.ndarray
    kind_extra: np.ndarray
    extra_above: np.ndarray
    group_target: np.ndarray
    group_kind: np.ndarray
    group_log_exposure: np.ndarray
    group_weight: np.ndarray
    group_extra: np.ndarray
    weight: float
    support_target: np.ndarray
    support_kind: np.ndarray
    support_step: np.ndarray
    support_weight: np.ndarray
    refute_target: np.ndarray
    refute_kind: np.ndarray
    refute_step: np.ndarray
    refute_weight: np.ndarray
    codes_above: np.ndarray
    constant: float
    direct: bool


def _above(values: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """``sum_i weights_i [values_i > j]`` for ``j = 0 .. length - 1``."""
    at = np.bincount(values, weights=weights, minlength=length + 1)
    return at[::-1].cumsum()[::-1][1 : length + 1]


def _steps(key: np.ndarray, count: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per (key, ``j``) with some ``count > j``: the key, ``j`` and ``sum weight [count > j]``."""
    keep = count > 0
    key, count, weight = key[keep], count[keep], weight[keep]
    if not key.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    rows = np.repeat(np.arange(key.size), count)
    step = np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
    pairs, inverse = np.unique(np.column_stack([key[rows], step]), axis=0, return_inverse=True)
    total = np.bincount(inverse.ravel(), weights=weight[rows], minlength=len(pairs))
    return pairs[:, 0], pairs[:, 1], total


def exact_cell_statistics(md: MeasurementData) -> ExactCellStatistics:
    """Compute the sufficient statistics of ``md``'s exact non-zero cells.

    Parameters
    ----------
    md : MeasurementData
        With at least one exact non-zero cell.

    Returns
    -------
    ExactCellStatistics
    """
    d = md.data
    n_t, n_k = len(d.targets), len(d.kinds)
    classes, inverse = cell_class_index(md)
    w = np.bincount(inverse, weights=d.src_weight[md.cell_src])
    t, k, n, s = (classes[:, i].astype(np.int64) for i in range(4))
    log_x = classes[:, 4]
    y = n - 1
    direct = md.psi[k] != 0
    groups, g = np.unique(classes[:, [0, 1, 4]], axis=0, return_inverse=True)
    g = g.ravel()
    wd = np.where(direct, w, 0.0)
    key = t * n_k + k
    s_key, s_step, s_w = _steps(key, np.where(direct, s, 0), w)
    r_key, r_step, r_w = _steps(key, np.where(direct, n - s, 0), w)
    log_comb = gammaln(n + 1.0) - gammaln(s + 1.0) - gammaln(n - s + 1.0)
    constant = float(np.sum(w * (-gammaln(y + 1.0) + y * log_x)) + np.sum(wd * log_comb))
    return ExactCellStatistics(
        target_weight=np.bincount(t, weights=w, minlength=n_t),
        target_kind_weight=np.bincount(key, weights=w, minlength=n_t * n_k).reshape(n_t, n_k),
        target_extra=np.bincount(t, weights=w * y, minlength=n_t),
        kind_extra=np.bincount(k, weights=w * y, minlength=n_k),
        extra_above=_above(y, w, int(y.max())),
        group_target=groups[:, 0].astype(np.int64),
        group_kind=groups[:, 1].astype(np.int64),
        group_log_exposure=groups[:, 2],
        group_weight=np.bincount(g, weights=w, minlength=len(groups)),
        group_extra=np.bincount(g, weights=w * y, minlength=len(groups)),
        weight=float(w.sum()),
        support_target=s_key // n_k,
        support_kind=s_key % n_k,
        support_step=s_step.astype(float),
        support_weight=s_w,
        refute_target=r_key // n_k,
        refute_kind=r_key % n_k,
        refute_step=r_step.astype(float),
        refute_weight=r_w,
        codes_above=_above(n, wd, int(n[direct].max()) if direct.any() else 0),
        constant=constant,
        direct=bool(direct.any()),
    )


def _evidenced_cells(stats: ExactCellStatistics, p: dict, data) -> pt.TensorVariable:
    """Return ``sum_cells w (log b - log(1 - b))``.

    Per target, or per (target, kind) where ``b`` varies by kind (context effects).
    """
    if p["log_b"].ndim == 1:
        return pt.dot(data("cell_target_weight", stats.target_weight), p["log_b"] - p["log1m_b"])
    weight = data("cell_target_kind_weight", stats.target_kind_weight)
    return pt.sum(weight * (p["log_b"] - p["log1m_b"]))


def exact_cells_logp(stats: ExactCellStatistics, p: dict, data) -> pt.TensorVariable:
    """Return the weighted log-likelihood of the exact non-zero cells, from their statistics.

    Parameters
    ----------
    stats : ExactCellStatistics
    p : dict
        The model's ``log_b``, ``log1m_b`` (per target), ``rho`` (per kind), ``lam`` (per
        target), ``phi``, ``q`` (target x kind) and ``c``.
    data : callable
        ``data(name, array)``: how arrays enter the graph (``pm.Data``, so that bases with
        the same structure share a compilation).

    Returns
    -------
    pytensor.tensor.TensorVariable
        A scalar.
    """
    phi = p["phi"]
    log_phi = pt.log(phi)
    extra_above = data("cell_extra_above", stats.extra_above)
    steps = pt.arange(extra_above.shape[0]).astype("float64")
    gt = data("cell_group_target", stats.group_target)
    gk = data("cell_group_kind", stats.group_kind)
    log_mu = p["rho"][gk] + p["lam"][gt] + data("cell_group_log_exposure", stats.group_log_exposure)
    group_terms = phi * data("cell_group_weight", stats.group_weight) + data(
        "cell_group_extra", stats.group_extra
    )
    out = (
        _evidenced_cells(stats, p, data)
        + pt.dot(data("cell_target_extra", stats.target_extra), p["lam"])
        + pt.dot(data("cell_kind_extra", stats.kind_extra), p["rho"])
        + pt.dot(extra_above, pt.log(phi + steps))
        + data("cell_weight_total", np.float64(stats.weight)) * phi * log_phi
        - pt.dot(group_terms, pt.logaddexp(log_phi, log_mu))
        + data("cell_constant", np.float64(stats.constant))
    )
    if stats.direct:
        c, q = p["c"], p["q"]
        st, sk = (
            data("cell_support_target", stats.support_target),
            data("cell_support_kind", stats.support_kind),
        )
        rt, rk = (
            data("cell_refute_target", stats.refute_target),
            data("cell_refute_kind", stats.refute_kind),
        )
        codes_above = data("cell_codes_above", stats.codes_above)
        alpha = c * q[st, sk] + data("cell_support_step", stats.support_step)
        beta = c * (1.0 - q[rt, rk]) + data("cell_refute_step", stats.refute_step)
        out = (
            out
            + pt.dot(data("cell_support_weight", stats.support_weight), pt.log(alpha))
            + pt.dot(data("cell_refute_weight", stats.refute_weight), pt.log(beta))
            - pt.dot(codes_above, pt.log(c + pt.arange(codes_above.shape[0]).astype("float64")))
        )
    return out
