"""The naive reference model for ``bench_fit.py``: NOT part of cmoc.

This is the straightforward way to write cmoc's model, kept only as a yardstick for the
benchmark. It differs from :func:`cmoc.models.build_model` in exactly the ways cmoc's design
avoids (design.md, section 4):

- **dense likelihood**: one Poisson term per source x target cell for supports and one for
  refutes, for every target in the theory of the source's wave, zeros included (cost grows with
  sources x targets, not with the number of non-zero codings);
- **centred hierarchy**: ``mu_m ~ Normal(mu_0, tau_mu)``, ``eta_c ~ Normal(mu_m, sigma_eta)``,
  ``theta_m ~ Normal(0, tau_theta)``, ``lambda_c ~ Normal(theta_m, sigma_lambda)`` and a
  talkativeness per source ``rho_j ~ Normal(rho_kind, sigma_rho)``, all centred;
- **PyMC's own NUTS** (``pm.sample(nuts_sampler="pymc")``), not nutpie.

Otherwise it is the same model: CMOCs and mechanisms are both targets (a mechanism's support and
salience are ``mu_m`` and ``theta_m``), support of target ``t`` by a source of kind ``k`` is
``logistic(eta_t + delta_k)`` with a zero-sum kind lean, the coding rate is
``exp(rho_j + log exposure_j + lambda_t)``, and each source's log-likelihood is multiplied by its
appraisal weight. The per-source ``rho_j`` takes the place of cmoc's integrated-out Gamma
talkativeness and of its group effects. Priors are cmoc's defaults
(:data:`cmoc.models.DEFAULT_CONFIG`); ``sigma_rho`` gets ``HalfNormal(1)``.

Only exact source-level counts are supported (no bands, no wave or group totals): simulate the
benchmark base with ``SimulationSpec(banded_fraction=0.0)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cmoc.evidence import EvidenceBase

__all__ = ["DenseData", "build_baseline", "dense_data"]


@dataclass(frozen=True)
class DenseData:
    """The dense source x target grid of a base with exact source-level counts only.

    Attributes
    ----------
    cmocs, mechanisms, kinds, sources : list of str
        Coordinates; targets are the CMOCs followed by the mechanisms.
    target_mech : numpy.ndarray
        Mechanism index of each target.
    src_kind, src_weight, src_log_exposure : numpy.ndarray
        Per source.
    cell_src, cell_tgt : numpy.ndarray
        Every (source, target) cell with the target in the theory of the source's wave.
    supports, refutes : numpy.ndarray
        Counts of each cell (zeros included).
    """

    cmocs: list[str]
    mechanisms: list[str]
    kinds: list[str]
    sources: list[str]
    target_mech: np.ndarray
    src_kind: np.ndarray
    src_weight: np.ndarray
    src_log_exposure: np.ndarray
    cell_src: np.ndarray
    cell_tgt: np.ndarray
    supports: np.ndarray
    refutes: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of (source, target) cells, zeros included."""
        return len(self.cell_src)


def dense_data(base: EvidenceBase) -> DenseData:
    """Expand an evidence base into the dense grid of (source, target) cells.

    A target is in the theory of wave ``w`` if it is of prior origin or was first coded in wave
    ``w`` or earlier (as in cmoc); a source is coded against every target in the theory of its
    wave.

    Parameters
    ----------
    base : EvidenceBase
        With exact source-level counts only.

    Returns
    -------
    DenseData

    Raises
    ------
    ValueError
        If the base has banded rows or wave or group totals.
    """
    cod = base.codings
    if (cod["scope"] != "source").any() or cod["banded"].any():
        raise ValueError("the baseline takes exact source-level counts only (no bands, totals)")
    cmocs = list(base.cmocs.index)
    mechanisms = list(base.mechanisms.index)
    targets = cmocs + mechanisms
    t_index = {t: i for i, t in enumerate(targets)}
    m_index = {m: i for i, m in enumerate(mechanisms)}
    target_mech = np.array(
        [m_index[m] for m in base.cmocs["mechanism_id"]] + list(range(len(mechanisms))),
        dtype=np.int64,
    )
    src = base.sources
    sources = list(src.index)
    s_index = {s: i for i, s in enumerate(sources)}
    kinds = sorted(set(src["kind"]))
    src_wave = src["wave"].map(base.wave_index).to_numpy(np.int64)

    # first wave in whose theory each target is
    last = len(base.waves) - 1
    first = np.full(len(targets), last, dtype=np.int64)
    cod_src = cod["source_id"].map(s_index).to_numpy(np.int64)
    cod_tgt = cod["target_id"].map(t_index).to_numpy(np.int64)
    np.minimum.at(first, cod_tgt, src_wave[cod_src])
    origin = base.targets["origin"].to_numpy()
    intro = np.where(origin == "prior", 0, first)

    # dense grid: every source against every target of its wave's theory
    in_theory = intro[None, :] <= src_wave[:, None]
    cell_src, cell_tgt = np.nonzero(in_theory)
    counts = np.zeros((2, len(sources), len(targets)), dtype=np.int64)
    stance = (cod["stance"] == "refutes").to_numpy(np.int64)
    np.add.at(counts, (stance, cod_src, cod_tgt), cod["count_min"].to_numpy(np.int64))
    if counts[:, ~in_theory].any():
        raise ValueError("a count lies outside its source's theory")
    return DenseData(
        cmocs=cmocs,
        mechanisms=mechanisms,
        kinds=kinds,
        sources=sources,
        target_mech=target_mech,
        src_kind=src["kind"].map({k: i for i, k in enumerate(kinds)}).to_numpy(np.int64),
        src_weight=src["weight"].to_numpy(float),
        src_log_exposure=np.log(src["exposure"].to_numpy(float)),
        cell_src=cell_src,
        cell_tgt=cell_tgt,
        supports=counts[0, cell_src, cell_tgt],
        refutes=counts[1, cell_src, cell_tgt],
    )


def build_baseline(data: EvidenceBase | DenseData) -> pm.Model:
    """Build the naive dense, centred PyMC model.

    Parameters
    ----------
    data : EvidenceBase or DenseData

    Returns
    -------
    pymc.Model
        With ``support_cmoc`` (CMOC support on the probability scale) as in cmoc.
    """
    d = data if isinstance(data, DenseData) else dense_data(data)
    n_c = len(d.cmocs)
    coords = {"mechanism": d.mechanisms, "cmoc": d.cmocs, "kind": d.kinds, "source": d.sources}
    cmoc_mech = d.target_mech[:n_c]
    with pm.Model(coords=coords) as model:
        mu_0 = pm.Normal("support_mean", 0.0, 1.5)
        tau_mu = pm.HalfNormal("support_sd_mechanism", 1.0)
        mu = pm.Normal("mu", mu_0, tau_mu, dims="mechanism")
        tau_theta = pm.HalfNormal("salience_sd_mechanism", 1.0)
        theta = pm.Normal("salience_mechanism", 0.0, tau_theta, dims="mechanism")
        sigma_eta = pm.HalfNormal("support_sd_cmoc", 1.0)
        eta = pm.Normal("eta", mu[cmoc_mech], sigma_eta, dims="cmoc")
        sigma_lam = pm.HalfNormal("salience_sd_cmoc", 1.0)
        lam = pm.Normal("salience_cmoc", theta[cmoc_mech], sigma_lam, dims="cmoc")
        pm.Deterministic("support_cmoc", pm.math.sigmoid(eta), dims="cmoc")
        pm.Deterministic("support_mechanism", pm.math.sigmoid(mu), dims="mechanism")

        rho_kind = pm.Normal("kind_rate", -2.0, 2.0, dims="kind")
        sigma_rho = pm.HalfNormal("talkativeness_sd", 1.0)
        rho = pm.Normal("talkativeness", rho_kind[d.src_kind], sigma_rho, dims="source")
        if len(d.kinds) > 1:
            # cmoc's default: a fixed scale (docs/model.md, "Kind leans")
            delta = pm.ZeroSumNormal("kind_lean", sigma=0.5, dims="kind")
        else:
            delta = pt.zeros(1)

        logit_t = pt.concatenate([eta, mu])
        lam_t = pt.concatenate([lam, theta])
        j, t = d.cell_src, d.cell_tgt
        log_rate = rho[j] + d.src_log_exposure[j] + lam_t[t]
        logit = logit_t[t] + delta[d.src_kind[j]]
        mu_sup = pt.exp(log_rate - pt.softplus(-logit))
        mu_ref = pt.exp(log_rate - pt.softplus(logit))
        w = d.src_weight[j]
        pm.Potential("supports", w * pm.logp(pm.Poisson.dist(mu=mu_sup), d.supports))
        pm.Potential("refutes", w * pm.logp(pm.Poisson.dist(mu=mu_ref), d.refutes))
    return model
