"""A numpy generator of model v2 (the measurement model), for simulation-based calibration.

Independent of :mod:`cmoc.models.measurement` (no PyTensor): it follows the model's generative
story for a fixed :class:`~cmoc.models.generate.CalibrationLayout` (docs/model.md, "Model v2"):

1. every parameter from its prior in :class:`~cmoc.models.MeasurementPriors` (zero-sum effects
   as iid normals minus their mean; a ``"partial"`` kind's recording ``psi_k ~ Beta``);
2. per source ``j`` of kind ``k`` and mechanism ``m``: activation ``A_jm ~ Bernoulli(a_mk)``;
   per target ``t`` of ``m`` (its CMOCs and the mechanism itself): evidencing
   ``E_jt ~ Bernoulli(b_t)`` when ``A_jm = 1``; then ``n = 1 + NB(x_j exp(rho_k + lambda_t),
   phi)`` recorded codes (``x_j`` the source's exposure), of which
   ``s ~ BetaBinomial(n, c q, c (1 - q))`` support, with ``q = p / (p + (1 - p) psi_k)``,
   ``p = logistic(eta_t + delta_k)`` (all ``n`` support where refutes are not recorded,
   ``psi_k = 0``);
3. :func:`measurement_codings` writes these exact cells as the layout's rows: per source, or
   summed into totals over a wave or group (a zero total has no row), supporting totals of
   CMOCs in bands, each drawn source (or group) as copies of weight ``1 / copies``. So the
   truth is known and every total is the sum of its members' cells.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .generate import CalibrationLayout, _draw, _zero_sum
from .measurement import MeasurementPriors

__all__ = ["draw_measurement_cells", "draw_measurement_parameters", "measurement_codings"]

_PSI = {"recorded": 1.0, "not recorded": 0.0}


def draw_measurement_parameters(
    priors: MeasurementPriors, layout: CalibrationLayout, rng: np.random.Generator
) -> dict[str, np.ndarray | float]:
    """Draw every parameter of model v2 from its prior.

    Targets are the CMOCs then the mechanisms (as the model's ``target`` dim).

    Returns
    -------
    dict
        ``activation_mean, activation_sd, activation_mechanism, activation_kind,
        evidencing_mean, evidencing_sd, evidencing_logit, kind_rate, depth_mechanism,
        depth_target, dispersion, support_mean, mu, eta, kind_lean, concentration, psi``.
    """
    n_m, n_c, n_k = layout.mechanisms, layout.cmocs, len(layout.kinds)
    tm = np.concatenate([layout.cmoc_mechanism, np.arange(n_m)])
    n_t = n_c + n_m
    p: dict[str, np.ndarray | float] = {}
    p["activation_mean"] = float(_draw(priors.activation_mean, rng))
    p["activation_sd"] = float(_draw(priors.activation_sd, rng))
    p["activation_mechanism"] = p["activation_mean"] + p["activation_sd"] * rng.standard_normal(n_m)
    p["activation_kind"] = (
        priors.activation_kind_sd * _zero_sum(rng, n_k) if n_k > 1 else np.zeros(1)
    )
    p["evidencing_mean"] = float(_draw(priors.evidencing_mean, rng))
    p["evidencing_sd"] = float(_draw(priors.evidencing_sd, rng))
    p["evidencing_logit"] = p["evidencing_mean"] + p["evidencing_sd"] * rng.standard_normal(n_t)
    p["kind_rate"] = _draw(priors.kind_rate, rng, n_k)
    if n_m > 1:
        sd = float(_draw(priors.depth_sd_mechanism, rng))
        p["depth_mechanism"] = sd * _zero_sum(rng, n_m)
    else:
        p["depth_mechanism"] = np.zeros(1)
    sd_t = float(_draw(priors.depth_sd_target, rng))
    p["depth_target"] = p["depth_mechanism"][tm] + sd_t * rng.standard_normal(n_t)
    p["dispersion"] = 1.0 / float(_draw(priors.inv_dispersion, rng))
    p["support_mean"] = float(_draw(priors.support_mean, rng))
    sd_mu = float(_draw(priors.support_sd_mechanism, rng))
    p["mu"] = p["support_mean"] + sd_mu * rng.standard_normal(n_m)
    sd_eta = float(_draw(priors.support_sd_target, rng))
    p["eta"] = p["mu"][tm] + sd_eta * rng.standard_normal(n_t)
    p["kind_lean"] = priors.kind_lean_sd * _zero_sum(rng, n_k) if n_k > 1 else np.zeros(1)
    p["concentration"] = float(_draw(priors.concentration, rng))
    p["psi"] = np.array(
        [
            _PSI[r] if r in _PSI else rng.beta(priors.recording_a, priors.recording_b)
            for r in layout.recording
        ]
    )
    return p


def draw_measurement_cells(
    params: dict, layout: CalibrationLayout, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the recorded supporting and refuting codes (source x target)."""
    n_m, n_c = layout.mechanisms, layout.cmocs
    tm = np.concatenate([layout.cmoc_mechanism, np.arange(n_m)])
    n_t = n_c + n_m
    kind = layout.source_kind
    exposure = layout.source_exposure
    phi, c = params["dispersion"], params["concentration"]
    supports = np.zeros((layout.sources, n_t), dtype=np.int64)
    refutes = np.zeros_like(supports)
    for j in range(layout.sources):
        k = kind[j]
        a = expit(params["activation_mechanism"] + params["activation_kind"][k])
        active = rng.random(n_m) < a
        evidenced = active[tm] & (rng.random(n_t) < expit(params["evidencing_logit"]))
        for t in np.flatnonzero(evidenced):
            mu = exposure[j] * np.exp(params["kind_rate"][k] + params["depth_target"][t])
            n = 1 + rng.negative_binomial(phi, phi / (phi + mu))
            psi = params["psi"][k]
            if psi == 0.0:
                supports[j, t] = n
                continue
            p = expit(params["eta"][t] + params["kind_lean"][k])
            q = p / (p + (1.0 - p) * psi)
            s = rng.binomial(n, rng.beta(c * q, c * (1.0 - q)))
            supports[j, t], refutes[j, t] = s, n - s
    return supports, refutes


def _band(total: int, edges: tuple[int, ...]) -> tuple[int, int | None]:
    """Return the band of ``edges`` (lower edges) holding ``total >= edges[0]`` (None: open)."""
    i = int(np.searchsorted(edges, total, side="right")) - 1
    return edges[i], (edges[i + 1] - 1 if i + 1 < len(edges) else None)


def measurement_codings(
    supports: np.ndarray, refutes: np.ndarray, layout: CalibrationLayout
) -> list[tuple[str, str, str, int, int | None]]:
    """Write drawn cells (drawn source x target) as the layout's ``codings.csv`` rows.

    Exact sources: one row per non-zero cell and stance, for every copy. Covered sources
    (:attr:`~cmoc.models.generate.CalibrationLayout.covered`), for covered targets: per wave or
    group (and each copy of a group), the members' sums, one row per stance with a non-zero
    sum (a zero total has no row: every member's cell is then an exact zero); a CMOC's
    supporting sum in its band of ``layout.bands``, refutes exact. Their other targets' cells
    stay per source.

    Returns
    -------
    list of tuple
        ``(source_id, target_id, stance, count_min, count_max)``; ``count_max`` ``None`` for an
        unbounded band, equal to ``count_min`` for an exact count. Sorted by source id, target,
        stance.
    """
    targets = layout.target_ids
    covered, cover_t = layout.covered, layout.covered_targets
    is_cmoc = np.arange(len(targets)) < layout.cmocs
    written = layout.written_sources()
    rows: list[tuple[str, str, str, int, int | None]] = []
    for src in written:
        j = src["drawn"]
        for t in np.flatnonzero(~cover_t if covered[j] else np.ones(len(targets), bool)):
            for stance, counts in (("supports", supports), ("refutes", refutes)):
                if counts[j, t]:
                    n = int(counts[j, t])
                    rows.append((src["source_id"], targets[t], stance, n, n))
    # totals: per wave or group label (copies of a group are groups of their own)
    units: dict[str, list[int]] = {}
    for src in written:
        if covered[src["drawn"]]:
            label = src["wave"] if layout.totals == "wave" else src["group"]
            units.setdefault(label, []).append(src["drawn"])
    for label, js in units.items():
        for t in np.flatnonzero(cover_t):
            s, r = int(supports[js, t].sum()), int(refutes[js, t].sum())
            if s:
                lo, hi = _band(s, layout.bands) if layout.bands and is_cmoc[t] else (s, s)
                rows.append((label, targets[t], "supports", lo, hi))
            if r:
                rows.append((label, targets[t], "refutes", r, r))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return rows
