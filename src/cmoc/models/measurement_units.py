"""Units of evidence of model v2: which likelihood terms belong to which source or block.

Model v2 (:func:`cmoc.models.build_measurement_model`) sums its likelihood over classes of
identical terms (exact cells of one target, kind, exposure and codes; (source, mechanism) pairs of
one kind, wave and mechanism), which is what keeps its gradient cheap. A check that leaves one
unit of evidence out needs the terms per unit instead: here, constant matrices that spread each
class's term back onto the sources it came from, and the blocks of totals as units of their own
(docs/model.md, "Model v2: pointwise log-likelihood"). Numpy only: the graph is built in
:mod:`cmoc.models.measurement`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .measurement_data import MeasurementData

__all__ = ["MeasurementUnits", "cell_class_index", "measurement_units", "measurement_without_unit"]


def cell_class_index(md: MeasurementData) -> tuple[np.ndarray, np.ndarray]:
    """Classes of identical exact-cell terms, and each cell's class.

    A cell's term depends on its source only through the kind and exposure: cells of one target
    with the same kind, exposure, recorded codes and supporting codes have the same
    log-likelihood.

    Returns
    -------
    classes : numpy.ndarray
        ``(n_classes, 5)``: target, kind, codes, supports, log exposure (float), sorted.
    inverse : numpy.ndarray
        Per exact cell, the row of its class.
    """
    d = md.data
    kind = d.src_kind[md.cell_src]
    log_x = d.src_log_exposure[md.cell_src]
    keys = np.column_stack([md.cell_tgt, kind, md.cell_n, md.cell_s, log_x])
    classes, inverse = np.unique(keys, axis=0, return_inverse=True)
    return classes, inverse.ravel()


@dataclass(frozen=True)
class MeasurementUnits:
    """The units of evidence of model v2 and how the likelihood's terms map onto them.

    Units are the sources with a term in the exact-cell form (first, in the sources' order),
    then the blocks of totals (``MeasurementData.block_label`` order). A source that enters
    only as a free member of blocks has no term of its own and is no unit.

    Attributes
    ----------
    ids : list of str
        Source ids, then block labels (``codings.csv:LINE+...``).
    types : list of str
        ``"source"`` or ``"block"`` per unit.
    source : numpy.ndarray
        Per source unit, its index in ``MeasurementData.data.sources``.
    pair : numpy.ndarray
        ``(n_source_units, n_pair_classes)``: the appraisal weight of each source's pairs in each
        (source, mechanism) pair class; its column sums are ``MeasurementData.pair_weight``.
    cell : numpy.ndarray
        ``(n_source_units, n_cell_classes)``: the same for the exact-cell classes
        (:func:`cell_class_index`).
    covered : numpy.ndarray
        ``(n_source_units, n_targets)``: the weight of a forced block member on each target its
        block covers (the ``log(1 - b_t)`` left out of its zeros); column sums
        ``MeasurementData.covered_weight``.
    pair_unit, pair_mech : numpy.ndarray
        One entry per (source, mechanism) pair in the exact-cell form: the source's row among
        the units and the mechanism (the pair's targets: the mechanism's in the source's wave's
        theory, less those ``covered`` by its block).
    """

    ids: list[str]
    types: list[str]
    source: np.ndarray
    pair: np.ndarray
    cell: np.ndarray
    covered: np.ndarray
    pair_unit: np.ndarray
    pair_mech: np.ndarray

    @property
    def n_sources(self) -> int:
        """Number of source units."""
        return int(self.source.size)


def _block_members(md: MeasurementData) -> list[np.ndarray]:
    """Per block, the indices of its member sources (those of its first row)."""
    d = md.data
    row_of = {label: r for r, label in enumerate(d.agg_label)}
    out = []
    for label in md.block_label:
        r = row_of[label.split("+", 1)[0]]
        out.append(np.unique(d.agg_src[d.agg_row == r]))
    return out


def measurement_units(md: MeasurementData) -> MeasurementUnits:
    """Compute the units of evidence of model v2 and their shares of each term class.

    Parameters
    ----------
    md : MeasurementData

    Returns
    -------
    MeasurementUnits
    """
    d = md.data
    n_s, n_m, n_t = len(d.sources), len(d.mechanisms), len(d.targets)
    tm = d.target_mech
    w = d.src_weight
    evidenced = np.zeros((n_s, n_m), dtype=bool)
    evidenced[md.cell_src, tm[md.cell_tgt]] = True
    free = np.zeros((n_s, n_m), dtype=bool)
    covered = np.zeros((n_s, n_t))
    for b, js in enumerate(_block_members(md)):
        m = int(md.block_mech[b])
        free[js, m] = ~evidenced[js, m]
        forced = js[evidenced[js, m]]
        targets = md.bt_tgt[md.bt_block == b]
        covered[np.ix_(forced, targets)] += w[forced][:, None]
    # (source, mechanism) pairs in the exact-cell form: as measurement_data classes them
    has_target = np.zeros((len(d.waves), n_m), dtype=bool)
    for wave in range(len(d.waves)):
        has_target[wave, np.unique(tm[md.theory[wave]])] = True
    index = {
        (int(k), int(wv), int(m), bool(e)): c
        for c, (k, wv, m, e) in enumerate(
            zip(md.pair_kind, md.pair_wave, md.pair_mech, md.pair_evidenced, strict=True)
        )
    }
    pair = np.zeros((n_s, md.pair_kind.size))
    pairs = []
    for j in range(n_s):
        k, wave = int(d.src_kind[j]), int(d.src_wave[j])
        for m in np.flatnonzero(has_target[wave] & ~free[j]):
            pair[j, index[(k, wave, int(m), bool(evidenced[j, m]))]] += w[j]
            pairs.append((j, int(m)))
    if md.cell_n.size:
        classes, inverse = cell_class_index(md)
        cell = np.zeros((n_s, classes.shape[0]))
        np.add.at(cell, (md.cell_src, inverse), w[md.cell_src])
    else:
        cell = np.zeros((n_s, 0))
    has_term = (pair != 0).any(axis=1) | (cell != 0).any(axis=1) | (covered != 0).any(axis=1)
    src = np.flatnonzero(has_term)
    row = np.full(n_s, -1)
    row[src] = np.arange(src.size)
    pairs = [(row[j], m) for j, m in pairs if row[j] >= 0]
    return MeasurementUnits(
        ids=[d.sources[j] for j in src] + list(md.block_label),
        types=["source"] * src.size + ["block"] * len(md.block_label),
        source=src,
        pair=pair[src],
        cell=cell[src],
        covered=covered[src],
        pair_unit=np.array([j for j, _ in pairs], dtype=np.int64),
        pair_mech=np.array([m for _, m in pairs], dtype=np.int64),
    )


def measurement_without_unit(md: MeasurementData, unit: str) -> MeasurementData:
    """Return the arrays of model v2 with one unit's likelihood terms removed.

    Every parameter stays (as :func:`cmoc.models.without_unit` for model v1): a source's weight
    becomes 0, so its share of the pair classes, of the covered targets and of the cell classes
    leaves their weights; a block's weight becomes 0. The model built from the result has the
    log-likelihood of ``md`` less the unit's term of
    :func:`~cmoc.models.measurement.build_measurement_model`'s ``loglik_unit``: the posterior an
    exact leave-one-unit-out refit samples.

    Parameters
    ----------
    md : MeasurementData
    unit : str
        A unit of :func:`measurement_units` (a source id or a block label).

    Returns
    -------
    MeasurementData

    Raises
    ------
    KeyError
        When ``unit`` is not a unit of ``md``.
    """
    units = measurement_units(md)
    if unit not in units.ids:
        raise KeyError(f"{unit!r} is not a unit of evidence of this model v2 base")
    i = units.ids.index(unit)
    if units.types[i] == "block":
        weight = md.block_weight.copy()
        weight[i - units.n_sources] = 0.0
        return replace(md, block_weight=weight)
    j = int(units.source[i])
    src_weight = md.data.src_weight.copy()
    src_weight[j] = 0.0  # the cell classes' weights are summed from it
    covered_kind = md.covered_kind_weight.copy()
    k = int(md.data.src_kind[j])
    covered_kind[:, k] = np.maximum(covered_kind[:, k] - units.covered[i], 0.0)
    return replace(
        md,
        data=replace(md.data, src_weight=src_weight),
        pair_weight=np.maximum(md.pair_weight - units.pair[i], 0.0),
        covered_weight=np.maximum(md.covered_weight - units.covered[i], 0.0),
        covered_kind_weight=covered_kind,
    )
