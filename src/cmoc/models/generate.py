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
from typing import ClassVar

import numpy as np
from scipy.special import expit

from .config import ModelConfig, Prior

__all__ = ["CalibrationLayout", "draw_counts", "draw_parameters"]


@dataclass(frozen=True)
class CalibrationLayout:
    """The fixed shape of every simulated evidence base.

    The generator draws exact cells for ``sources`` *drawn* sources; the layout says how they
    are written (docs/calibration-and-planning.md, "Layout families"): exact per-source rows,
    or totals over a wave or over groups for the sources of ``total_kind``, each drawn source
    (or group) possibly written as several copies of weight ``1 / copies``.

    Attributes
    ----------
    mechanisms, cmocs, sources : int
        Sizes. CMOC ``i`` belongs to mechanism ``i mod mechanisms``; ``sources`` drawn sources.
    kinds : tuple of str
        Source kinds, given to the sources in turn.
    recording : tuple of str
        Whether each kind's refutes are ``"recorded"``, ``"partial"`` or ``"not recorded"``
        (model v2 only; model v1 does not read it).
    totals : {"none", "wave", "group"}
        How the cells of the ``total_kind`` sources are written: exact per source (``"none"``);
        one total row per target over their wave (``"wave"``: they form the second wave, as
        the interviews of the IOC base); one total row per target over each group of
        ``group_size`` of them (``"group"``). A zero total has no row.
    total_kind : str
        The kind whose sources are covered by totals.
    total_targets : {"all", "cmocs"}
        Targets given totals; with ``"cmocs"`` the mechanism-level cells of covered sources
        stay exact per-source rows.
    group_size : int
        Sources per group (``totals="group"``).
    bands : tuple of int
        Lower edges of the bands in which the supporting total of a CMOC is written (``(1, 3,
        5)``: 1-2, 3-4, >= 5, the IOC base's evidence levels); empty: exact totals.
    exposures : tuple of float
        Exposures, given in turn to the exact sources and to the groups (a group's members share
        one; the sources of a wave total have the first).
    copies : tuple of int
        How many times each exact source and each group is written, in turn (weight ``1 /
        copies`` each: copies of one source's coding that together count as one source).
    """

    mechanisms: int = 2
    cmocs: int = 6
    sources: int = 30
    kinds: tuple[str, ...] = ("review", "interview")
    recording: tuple[str, ...] = ("recorded", "partial")
    totals: str = "none"
    total_kind: str = "interview"
    total_targets: str = "all"
    group_size: int = 5
    bands: tuple[int, ...] = ()
    exposures: tuple[float, ...] = (1.0,)
    copies: tuple[int, ...] = (1,)

    FAMILIES: ClassVar[tuple[str, ...]] = ("exact", "ioc", "mixed")
    """Named layouts of :meth:`family`."""

    def __post_init__(self) -> None:
        if self.totals not in ("none", "wave", "group"):
            raise ValueError(f"totals must be 'none', 'wave' or 'group' (got {self.totals!r})")
        if self.total_targets not in ("all", "cmocs"):
            raise ValueError(f"total_targets must be 'all' or 'cmocs' (got {self.total_targets!r})")
        if self.totals != "none" and self.total_kind not in self.kinds:
            raise ValueError(f"total_kind {self.total_kind!r} is not one of the kinds")
        if self.totals == "group" and self.group_size < 1:
            raise ValueError("group_size must be at least 1")
        if any(c not in (1, 2, 4) for c in self.copies):
            raise ValueError("copies must be 1, 2 or 4 (weights 1, 0.5, 0.25: exact decimals)")
        if any(not x > 0 for x in self.exposures) or not self.exposures:
            raise ValueError("exposures must be positive")
        if list(self.bands) != sorted(set(self.bands)) or any(b < 1 for b in self.bands):
            raise ValueError("bands must be increasing lower edges >= 1")

    @classmethod
    def family(cls, name: str) -> CalibrationLayout:
        """Return the layout of a named family (:attr:`FAMILIES`).

        - ``exact``: the default, exact per-source cells (30 sources, one wave);
        - ``ioc``: as the IOC base: 13 reviews with exact cells in wave ``w1``, 13 interviews in
          wave ``w2`` written as one total per target over that wave (a zero total has no row),
          supporting totals of CMOCs in the evidence levels 1-2, 3-4, >= 5, refutes exact;
        - ``mixed``: 12 reviews with exact cells at exposures 0.5, 1, 2 in turn, every third
          written as two copies of weight 0.5; 12 interviews in 3 groups of 4 (exposures 0.5,
          1, 2; the third group written twice, its members at weight 0.5), their CMOCs as
          exact totals over the group, their mechanism-level cells exact per source.
        """
        if name == "exact":
            return cls()
        if name == "ioc":
            return cls(sources=26, totals="wave", bands=(1, 3, 5))
        if name == "mixed":
            return cls(
                sources=24,
                totals="group",
                total_targets="cmocs",
                group_size=4,
                exposures=(0.5, 1.0, 2.0),
                copies=(1, 1, 2),
            )
        raise ValueError(f"unknown layout family {name!r}: one of {', '.join(cls.FAMILIES)}")

    @property
    def mechanism_ids(self) -> list[str]:
        """``M1, M2, ...``."""
        return [f"M{i + 1}" for i in range(self.mechanisms)]

    @property
    def cmoc_ids(self) -> list[str]:
        """``C1, C2, ...``."""
        return [f"C{i + 1}" for i in range(self.cmocs)]

    @property
    def target_ids(self) -> list[str]:
        """CMOCs then mechanisms."""
        return self.cmoc_ids + self.mechanism_ids

    @property
    def cmoc_mechanism(self) -> np.ndarray:
        """Index of each CMOC's mechanism."""
        return np.arange(self.cmocs) % self.mechanisms

    @property
    def source_kind(self) -> np.ndarray:
        """Index of each drawn source's kind."""
        return np.arange(self.sources) % len(self.kinds)

    @property
    def covered(self) -> np.ndarray:
        """Per drawn source: whether its cells are written as totals."""
        if self.totals == "none":
            return np.zeros(self.sources, dtype=bool)
        return self.source_kind == self.kinds.index(self.total_kind)

    @property
    def covered_targets(self) -> np.ndarray:
        """Per target (CMOCs then mechanisms): whether covered sources' cells are totals."""
        out = np.zeros(self.cmocs + self.mechanisms, dtype=bool)
        if self.totals != "none":
            out[: self.cmocs if self.total_targets == "cmocs" else out.size] = True
        return out

    @property
    def source_group(self) -> np.ndarray:
        """Per drawn source: its group's index (``totals="group"``), else -1."""
        out = np.full(self.sources, -1)
        if self.totals == "group":
            idx = np.flatnonzero(self.covered)
            out[idx] = np.arange(idx.size) // self.group_size
        return out

    @property
    def source_exposure(self) -> np.ndarray:
        """Per drawn source: its exposure (a group's members share theirs)."""
        x = np.asarray(self.exposures, dtype=float)
        out = np.empty(self.sources)
        exact = ~self.covered
        out[exact] = x[np.arange(exact.sum()) % x.size]
        group = self.source_group
        out[self.covered] = x[np.maximum(group[self.covered], 0) % x.size]
        return out

    @property
    def breadth_kind(self) -> str:
        """The kind whose breadth calibration ranks: the covered kind, else the first."""
        return self.total_kind if self.totals != "none" else self.kinds[0]

    @property
    def waves(self) -> list[str]:
        """``["w1"]``; ``["w1", "w2"]`` with wave totals (the covered sources in ``w2``)."""
        return ["w1", "w2"] if self.totals == "wave" else ["w1"]

    def written_sources(self) -> list[dict]:
        """Return the sources as written, in order: one row per copy of each drawn source.

        Each row: ``source_id, kind, wave, group, weight, exposure`` and ``drawn`` (index of the
        drawn source it writes). Copy ``c > 0`` of ``S003`` is ``S003b``, ``S003c``, ...; of
        group ``G2``, ``G2b``, ....
        """
        rows = []
        copies = np.asarray(self.copies)
        covered, group, exposure = self.covered, self.source_group, self.source_exposure
        exact_rank = np.cumsum(~covered) - 1
        for j in range(self.sources):
            if covered[j] and self.totals == "group":
                n = int(copies[group[j] % copies.size])
            elif covered[j]:
                n = 1
            else:
                n = int(copies[exact_rank[j] % copies.size])
            for c in range(n):
                suffix = "" if c == 0 else "abcd"[c]
                rows.append(
                    {
                        "source_id": f"S{j + 1:03d}{suffix}",
                        "kind": self.kinds[self.source_kind[j]],
                        "wave": "w2" if covered[j] and self.totals == "wave" else "w1",
                        "group": f"G{group[j] + 1}{suffix}" if group[j] >= 0 else None,
                        "weight": 1.0 / n,
                        "exposure": float(exposure[j]),
                        "drawn": j,
                    }
                )
        return rows


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
