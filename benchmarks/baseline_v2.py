"""The cell-by-cell reference of model v2 for ``bench_v2.py``: NOT part of cmoc.

Model v2 (:func:`cmoc.models.build_measurement_model`, docs/model.md "Model v2") written the
straightforward way, kept only as a yardstick. It differs from cmoc's likelihood in exactly the
ways cmoc's design avoids:

- **dense cells**: one likelihood term per source x target cell in the theory of the source's
  wave, zeros included: the hurdle (``log(1 - b_t)`` for a zero, ``log b_t`` otherwise), the
  depth ``NB(n - 1; mu_jt, phi)`` and the split of the cell's two stances
  ``BetaBinomial(s; n, c q_tk, c (1 - q_tk))`` are computed for every cell (masked to the zeros
  or the non-zeros), not from sufficient statistics;
- **the activation marginalised per source and mechanism explicitly**: ``L_jm = [no code]
  (1 - a_mk) + a_mk prod_t (cell terms)`` for every (source, mechanism) pair, not per class of
  interchangeable pairs;
- **PyMC's own NUTS** (``pm.sample(nuts_sampler="pymc")``), not nutpie.

The parameters, their priors and parametrisation are cmoc's own: the model is built by
:func:`cmoc.models.build_measurement_model` with its likelihood functions swapped for the dense
one, so both have the same value variables and the same log density
(``tests/test_bench_v2_baseline.py`` checks it at random points). Only exact source-level
cells are supported (no totals or bands).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

import cmoc.models.measurement as measurement
from cmoc.evidence import EvidenceBase
from cmoc.evidence.recording import refutes_recording
from cmoc.models.measurement_data import MeasurementData, measurement_data

__all__ = ["DenseCells", "build_baseline_v2", "dense_cells"]


@dataclass(frozen=True)
class DenseCells:
    """Every (source, target) cell with the target in the theory of the source's wave.

    Attributes
    ----------
    src, tgt : numpy.ndarray
        Source and target of each cell.
    supports, codes : numpy.ndarray
        Supporting and recorded codes ``n = s + r`` of each cell (zeros included).
    """

    src: np.ndarray
    tgt: np.ndarray
    supports: np.ndarray
    codes: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of cells, zeros included."""
        return int(self.src.size)


def dense_cells(md: MeasurementData) -> DenseCells:
    """Expand the exact non-zero cells of ``md`` to the dense source x target grid."""
    if md.block_label:
        raise ValueError("the v2 baseline takes exact per-source cells only (no totals or bands)")
    d = md.data
    theory = md.theory[d.src_wave]  # (source, target)
    src, tgt = np.nonzero(theory)
    s = np.zeros(theory.shape, dtype=np.int64)
    n = np.zeros(theory.shape, dtype=np.int64)
    s[md.cell_src, md.cell_tgt] = md.cell_s
    n[md.cell_src, md.cell_tgt] = md.cell_n
    return DenseCells(src=src, tgt=tgt, supports=s[src, tgt], codes=n[src, tgt])


def dense_logp(md: MeasurementData, cells: DenseCells, p: dict) -> pt.TensorVariable:
    """Return model v2's log-likelihood: a term per cell, a mixture per (source, mechanism)."""
    d = md.data
    n_s, n_m = len(d.sources), len(d.mechanisms)
    kind = d.src_kind[cells.src]
    mech = d.target_mech[cells.tgt]
    n, s, t = cells.codes, cells.supports, cells.tgt
    on = n > 0
    mu = pt.exp(p["rho"][kind] + p["lam"][t] + d.src_log_exposure[cells.src])
    depth = pm.logp(pm.NegativeBinomial.dist(mu=mu, alpha=p["phi"]), np.maximum(n - 1, 0))
    q = p["q"][t, kind]
    split = pm.logp(
        pm.BetaBinomial.dist(n=n, alpha=p["c"] * q, beta=p["c"] * (1.0 - q)), np.minimum(s, n)
    )
    split = pt.where(md.psi[kind] != 0, split, 0.0)  # no direction where refutes are unrecorded
    cell = pt.where(on, p["log_b"][t] + depth + split, p["log1m_b"][t])
    # per (source, mechanism): the product of its cells' terms, and whether any holds a code
    pair_sum = pt.zeros((n_s, n_m))[cells.src, mech].inc(cell)
    has_target = np.zeros((n_s, n_m), dtype=bool)
    has_target[cells.src, mech] = True
    evidenced = np.zeros((n_s, n_m), dtype=bool)
    evidenced[cells.src[on], mech[on]] = True
    logit_a = p["logit_a"][:, d.src_kind].T  # (source, mechanism)
    active = -pt.softplus(-logit_a) + pair_sum
    ll = pt.where(evidenced, active, pt.logaddexp(-pt.softplus(logit_a), active))
    ll = pt.where(has_target, ll, 0.0)
    return pt.sum(d.src_weight[:, None] * ll)


@contextmanager
def _dense_likelihood(md: MeasurementData, cells: DenseCells) -> Iterator[None]:
    """Inside: cmoc's model builder puts the dense log-likelihood in place of its own."""
    exact, blocks = measurement._exact_logp, measurement._blocks_logp
    measurement._exact_logp = lambda _md, p: dense_logp(md, cells, p)

    def no_blocks(_md, p):
        raise ValueError("the v2 baseline takes exact per-source cells only")

    measurement._blocks_logp = no_blocks
    try:
        yield
    finally:
        measurement._exact_logp, measurement._blocks_logp = exact, blocks


def build_baseline_v2(base: EvidenceBase | MeasurementData) -> pm.Model:
    """Build the cell-by-cell model v2 of a base with exact per-source cells only.

    Same parameters, priors, coordinates and derived quantities as
    :func:`cmoc.models.build_measurement_model` (its builder is called with the likelihood
    swapped), with the dense likelihood in the potential ``exact_codes``.
    """
    if isinstance(base, MeasurementData):
        md = base
    else:
        md = measurement_data(base, {k: r.refutes for k, r in refutes_recording(base).items()})
    cells = dense_cells(md)
    with _dense_likelihood(md, cells):
        return measurement.build_measurement_model(md)
