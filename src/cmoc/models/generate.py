"""A numpy generator of the hierarchical model, for simulation-based calibration.

The model's likelihood is written with Potentials, so PyMC cannot draw prior predictive data;
:func:`draw_parameters` and :func:`draw_counts` follow :mod:`cmoc.models.hierarchical` term by
term for a fixed evidence layout (:class:`CalibrationLayout`: sources with kinds, one wave,
exact source-level cells, no groups, weights and exposures 1):

1. every parameter from its prior in the :class:`~cmoc.models.ModelConfig` (zero-sum saliences
   and kind leans: iid normals minus their mean, as ``pm.ZeroSumNormal``);
2. talkativeness ``u_j ~ Gamma(phi, phi)`` (``u_j = 1`` for ``likelihood="poisson"``), rates
   ``r_jt = u_j exp(rho_k(j) + lambda_t)``, ``supports ~ Poisson(r p_tk)`` and
   ``refutes ~ Poisson(r (1 - p_tk))`` with ``p_tk = logistic(eta_t + delta_k)``.

Arrays in, arrays out: turning the counts into an evidence base is
:func:`cmoc.analyses.planning.calibration.simulate_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .config import ModelConfig, Prior

__all__ = ["CalibrationLayout", "draw_counts", "draw_parameters"]


@dataclass(frozen=True)
class CalibrationLayout:
    """The fixed shape of every simulated evidence base.

    Attributes
    ----------
    mechanisms, cmocs, sources : int
        Sizes. CMOC ``i`` belongs to mechanism ``i mod mechanisms``.
    kinds : tuple of str
        Source kinds, given to the sources in turn.
    recording : tuple of str
        Whether each kind's refutes are ``"recorded"``, ``"partial"`` or ``"not recorded"``
        (model v2 only; model v1 does not read it).
    """

    mechanisms: int = 2
    cmocs: int = 6
    sources: int = 30
    kinds: tuple[str, ...] = ("review", "interview")
    recording: tuple[str, ...] = ("recorded", "partial")

    @property
    def mechanism_ids(self) -> list[str]:
        """``M1, M2, ...``."""
        return [f"M{i + 1}" for i in range(self.mechanisms)]

    @property
    def cmoc_ids(self) -> list[str]:
        """``C1, C2, ...``."""
        return [f"C{i + 1}" for i in range(self.cmocs)]

    @property
    def cmoc_mechanism(self) -> np.ndarray:
        """Index of each CMOC's mechanism."""
        return np.arange(self.cmocs) % self.mechanisms

    @property
    def source_kind(self) -> np.ndarray:
        """Index of each source's kind."""
        return np.arange(self.sources) % len(self.kinds)


def _draw(prior: Prior | float, rng: np.random.Generator, size=None):
    if not isinstance(prior, Prior):  # a fixed value
        return np.full(size, float(prior)) if size is not None else float(prior)
    if prior.dist == "Normal":
        return rng.normal(prior.mu, prior.sigma, size)
    if prior.dist == "HalfNormal":
        return np.abs(rng.normal(0.0, prior.sigma, size))
    if prior.dist == "Gamma":
        shape, rate = prior.gamma_shape_rate
        return rng.gamma(shape, 1 / rate, size)
    return rng.exponential(prior.sigma, size)


def _zero_sum(rng: np.random.Generator, n: int) -> np.ndarray:
    """``pm.ZeroSumNormal(sigma=1)``: iid standard normals minus their mean."""
    z = rng.standard_normal(n)
    return z - z.mean()


def draw_parameters(
    config: ModelConfig, layout: CalibrationLayout, rng: np.random.Generator
) -> dict[str, np.ndarray | float]:
    """Draw every parameter of the model from its prior.

    Follows :func:`cmoc.models.build_model` for ``support_pooling="partial"`` and no groups
    (centred and non-centred forms define the same distribution).

    Returns
    -------
    dict
        ``support_mean, support_sd_mechanism, mu, salience_sd_mechanism,
        salience_mechanism, support_sd_cmoc, eta, salience_sd_cmoc, salience_cmoc,
        kind_rate, kind_lean_sd, kind_lean, dispersion`` (``inf`` for Poisson).
    """
    if config.support_pooling != "partial":
        raise ValueError("the generator follows the partial-pooling hierarchy only")
    n_m, n_c, n_k = layout.mechanisms, layout.cmocs, len(layout.kinds)
    cm = layout.cmoc_mechanism
    p: dict[str, np.ndarray | float] = {}
    p["support_mean"] = float(_draw(config.support_mean, rng))
    p["support_sd_mechanism"] = float(_draw(config.support_sd_mechanism, rng))
    p["mu"] = p["support_mean"] + p["support_sd_mechanism"] * rng.standard_normal(n_m)
    p["salience_sd_mechanism"] = float(_draw(config.salience_sd_mechanism, rng))
    p["salience_mechanism"] = (
        np.zeros(1) if n_m == 1 else p["salience_sd_mechanism"] * _zero_sum(rng, n_m)
    )
    p["support_sd_cmoc"] = float(_draw(config.support_sd_cmoc, rng))
    p["salience_sd_cmoc"] = float(_draw(config.salience_sd_cmoc, rng))
    z = rng.logistic(0.0, 1.0, n_c) if config.pooling == "logistic" else rng.standard_normal(n_c)
    p["eta"] = p["mu"][cm] + p["support_sd_cmoc"] * z
    p["salience_cmoc"] = p["salience_mechanism"][cm] + p["salience_sd_cmoc"] * (
        rng.standard_normal(n_c)
    )
    p["kind_rate"] = _draw(config.kind_rate, rng, n_k)
    if n_k > 1:
        p["kind_lean_sd"] = float(_draw(config.kind_lean_sd, rng))
        p["kind_lean"] = p["kind_lean_sd"] * _zero_sum(rng, n_k)
    else:
        p["kind_lean"] = np.zeros(1)
    if config.likelihood == "poisson":
        p["dispersion"] = np.inf
    else:
        p["dispersion"] = 1.0 / float(_draw(config.inv_dispersion, rng))
    return p


def draw_counts(
    params: dict, layout: CalibrationLayout, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the supporting and refuting counts (source x target, CMOCs then mechanisms)."""
    kind = layout.source_kind
    logit_t = np.concatenate([params["eta"], params["mu"]])
    lam_t = np.concatenate([params["salience_cmoc"], params["salience_mechanism"]])
    phi = params["dispersion"]
    n_j = layout.sources
    u = np.ones(n_j) if np.isinf(phi) else rng.gamma(phi, 1.0 / phi, n_j)
    rate = u[:, None] * np.exp(params["kind_rate"][kind][:, None] + lam_t[None, :])
    p = expit(logit_t[None, :] + params["kind_lean"][kind][:, None])
    supports = rng.poisson(rate * p)
    refutes = rng.poisson(rate * (1.0 - p))
    return supports, refutes
