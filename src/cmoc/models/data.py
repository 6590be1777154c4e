"""Sufficient statistics of an evidence base, as the arrays the model needs.

The likelihood is built so that its cost grows with the number of non-zero codings and of
aggregate rows, never with sources x targets: zero cells enter through per-source totals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import gammaln

from ..evidence import EvidenceBase, group_prefixes
from ..evidence.nesting import nested_caps

__all__ = ["ModelData", "model_data", "without_unit"]

STANCES = ("supports", "refutes")


@dataclass(frozen=True)
class ModelData:
    """Arrays for :func:`cmoc.models.build_model`.

    Targets are the CMOCs followed by the mechanisms; index ``t`` runs over both.

    Attributes
    ----------
    cmocs, mechanisms, kinds, waves, sources, groups : list of str
        Coordinates.
    group_level : numpy.ndarray
        Position (0-based, among the modelled levels) of each group node's level.
    group_levels : list of int
        The levels of the group paths that have effects (0 is the outermost).
    target_mech : numpy.ndarray
        For each target, the index of its mechanism.
    mech_codes : numpy.ndarray
        Exact source-level codes per mechanism (its own and its CMOCs'), both stances.
    target_codes : numpy.ndarray
        Exact source-level codes per target, both stances.
    target_intro : numpy.ndarray
        For each target, the first wave in whose theory it is (sources of that wave and later are
        coded against it).
    src_kind, src_wave, src_weight, src_log_exposure : numpy.ndarray
        Per source.
    src_groups : numpy.ndarray
        ``(n_sources, n_levels)`` group node of each source at each level, -1 where none.
    cell_src, cell_tgt, cell_stance, cell_count : numpy.ndarray
        Exact, non-zero, source-level counts (stance 0 supports, 1 refutes).
    tks_tgt, tks_kind, tks_stance, tks_wcount : numpy.ndarray
        The exact counts summed per (target, source kind, stance), each weighted by its
        source's appraisal weight: all the likelihood needs of them besides per-source totals.
    src_total : numpy.ndarray
        Sum of the exact counts of each source.
    src_log_fact : numpy.ndarray
        Sum of ``log(n!)`` over each source's exact counts.
    src_pattern : numpy.ndarray
        Index of each source's aggregation pattern.
    pat_tgt, pat_stance, pat_id : numpy.ndarray
        Cells ``(target, stance)`` that are not exact for sources of each pattern (they are
        covered by a wave or group total), flattened with the pattern index ``pat_id``.
    pat_kind : numpy.ndarray
        Source kind of each pattern.
    agg_tgt, agg_stance, agg_lo, agg_hi, agg_weight : numpy.ndarray
        Aggregate rows (totals over a wave or group, net of exact rows inside them): target,
        stance, lower bound, upper bound (-1 unbounded; equal to ``lo`` for an exact count) and
        mean appraisal weight of the sources covered.
    agg_row, agg_src : numpy.ndarray
        Membership pairs (aggregate row, source) of the sources each total covers.
    agg_label : list of str
        ``file:line`` of each aggregate row, its coordinate.
    """

    cmocs: list[str]
    mechanisms: list[str]
    kinds: list[str]
    waves: list[str]
    sources: list[str]
    groups: list[str]
    group_level: np.ndarray
    n_levels: int
    group_levels: list[int]
    target_mech: np.ndarray
    mech_codes: np.ndarray
    target_codes: np.ndarray
    target_intro: np.ndarray
    src_kind: np.ndarray
    src_wave: np.ndarray
    src_weight: np.ndarray
    src_log_exposure: np.ndarray
    src_groups: np.ndarray
    cell_src: np.ndarray
    cell_tgt: np.ndarray
    cell_stance: np.ndarray
    cell_count: np.ndarray
    tks_tgt: np.ndarray
    tks_kind: np.ndarray
    tks_stance: np.ndarray
    tks_wcount: np.ndarray
    src_total: np.ndarray
    src_log_fact: np.ndarray
    src_pattern: np.ndarray
    pat_tgt: np.ndarray
    pat_stance: np.ndarray
    pat_id: np.ndarray
    pat_kind: np.ndarray
    agg_tgt: np.ndarray
    agg_stance: np.ndarray
    agg_lo: np.ndarray
    agg_hi: np.ndarray
    agg_weight: np.ndarray
    agg_row: np.ndarray
    agg_src: np.ndarray
    agg_label: list[str]

    @property
    def targets(self) -> list[str]:
        """Target ids: CMOCs then mechanisms."""
        return self.cmocs + self.mechanisms

    @property
    def n_cells(self) -> int:
        """Number of non-zero exact source-level counts."""
        return len(self.cell_count)


def _intro_waves(base: EvidenceBase, targets: list[str]) -> np.ndarray:
    """First wave whose theory holds each target: wave 0 for prior origin, else first coded."""
    first = {}
    waves = base.coding_waves()
    for t, w in zip(base.codings["target_id"], waves, strict=True):
        k = base.wave_index(w)
        first[t] = min(first.get(t, k), k)
    origin = base.targets["origin"]
    last = len(base.waves) - 1
    return np.array(
        [0 if origin[t] == "prior" else first.get(t, last) for t in targets], dtype=np.int64
    )


def _informative_levels(
    base: EvidenceBase, paths: list[list[str]], mode: str
) -> tuple[list[int], set[str] | None]:
    """Which levels of the group paths get effects (0 is the outermost), and which groups.

    ``all`` models every level and group, ``none`` none. ``auto`` gives an effect only to a
    group that holds two or more sources with non-zero source-level counts: only then can the
    data tell the group's effect from its sources' own talkativeness (a group of one coded
    source is that source, whose talkativeness is integrated out; a group known only through
    totals over waves or groups has nothing to inform it). A level is kept when at least two
    of its groups have effects, unless those groups merely repeat the source kinds (one group
    per kind, each of one kind).

    Returns
    -------
    levels : list of int
    groups : set of str or None
        The group labels with effects (``None``: every group of the levels kept).
    """
    depth = max((len(p) for p in paths), default=0)
    if mode == "all":
        return list(range(depth)), None
    if mode == "none":
        return [], None
    cod = base.codings
    coded = set(cod.loc[(cod["scope"] == "source") & (cod["count_min"] > 0), "source_id"])
    kinds = base.sources["kind"]
    keep, groups = [], set()
    for level in range(depth):
        per_group: dict[str, int] = {}
        group_kinds: dict[str, set[str]] = {}
        for sid, p in zip(base.sources.index, paths, strict=True):
            if len(p) > level:
                group_kinds.setdefault(p[level], set()).add(kinds[sid])
                if sid in coded:
                    per_group[p[level]] = per_group.get(p[level], 0) + 1
        informed = sorted(g for g, n in per_group.items() if n >= 2)
        if len(informed) < 2:
            continue
        single = [next(iter(group_kinds[g])) for g in informed if len(group_kinds[g]) == 1]
        if len(single) == len(informed) and len(set(single)) == len(single):
            continue
        keep.append(level)
        groups.update(informed)
    return keep, groups


def model_data(base: EvidenceBase, group_effects: str = "auto") -> ModelData:
    """Compute the model's arrays from an evidence base.

    Parameters
    ----------
    base : EvidenceBase
    group_effects : {"auto", "all", "none"}
        Which levels of the group paths get effects (see :func:`_informative_levels`).

    Returns
    -------
    ModelData
    """
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
    k_index = {k: i for i, k in enumerate(kinds)}
    waves = base.waves

    # group nodes, one set of effects per level of the path
    paths = [group_prefixes(g) for g in src["group"]]
    levels, with_effect = _informative_levels(base, paths, group_effects)
    n_levels = len(levels)
    paths = [
        [p[lv] for lv in levels if lv < len(p) and (with_effect is None or p[lv] in with_effect)]
        for p in paths
    ]
    depth_of = {label: levels.index(label.count("/")) for p in paths for label in p}
    groups = sorted({label for p in paths for label in p}, key=lambda s: (depth_of[s], s))
    g_index = {g: i for i, g in enumerate(groups)}
    src_groups = np.full((len(sources), max(n_levels, 1)), -1, dtype=np.int64)
    for j, p in enumerate(paths):
        for label in p:
            src_groups[j, depth_of[label]] = g_index[label]
    group_level = np.array([depth_of[g] for g in groups], dtype=np.int64)

    cod = base.codings
    is_src = cod["scope"] == "source"
    exact_src = cod[is_src & ~cod["banded"]]
    banded_src = cod[is_src & cod["banded"]]

    # a banded source-level row is a total over one source: treat it like an aggregate row
    agg_rows = pd.concat([cod[~is_src], banded_src])

    # exact non-zero cells
    nz = exact_src[exact_src["count_min"] > 0]
    cell_src = nz["source_id"].map(s_index).to_numpy(np.int64)
    cell_tgt = nz["target_id"].map(t_index).to_numpy(np.int64)
    cell_stance = (nz["stance"] == "refutes").to_numpy(np.int64)
    cell_count = nz["count_min"].to_numpy(np.int64)
    src_total = np.bincount(cell_src, weights=cell_count, minlength=len(sources))
    src_kind_arr = src["kind"].map(k_index).to_numpy(np.int64)
    tks = (
        pd.DataFrame(
            {
                "t": cell_tgt,
                "k": src_kind_arr[cell_src],
                "s": cell_stance,
                "w": cell_count * src["weight"].to_numpy(float)[cell_src],
            }
        )
        .groupby(["t", "k", "s"], sort=True)["w"]
        .sum()
        .reset_index()
    )
    src_log_fact = np.bincount(cell_src, weights=gammaln(cell_count + 1), minlength=len(sources))

    # cells covered by totals, per source: they are not exact zeros for that source
    exact_by_cell: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for o in cod[~cod["banded"]].itertuples():
        exact_by_cell.setdefault((o.target_id, o.stance), []).append(
            (o.source_id, int(o.count_min))
        )
    covered: dict[int, set[tuple[int, int]]] = {}
    a_tgt, a_stance, a_lo, a_hi, a_w, a_row, a_src, a_label = [], [], [], [], [], [], [], []
    members_of = {label: base.members(label) for label in set(agg_rows["source_id"])}
    caps = nested_caps(base)  # a CMOC's band capped by its mechanism's ([nesting])
    # maximal exact totals inside each aggregate (for subtraction)
    for r in agg_rows.itertuples():
        members = members_of[r.source_id]
        mset = set(members)
        stance = STANCES.index(r.stance)
        tgt = t_index[r.target_id]
        inner_exact = [
            (inner, n)
            for sid, n in exact_by_cell.get((r.target_id, r.stance), [])
            if sid != r.source_id
            and (inner := set(base.members(sid)) if sid not in s_index else {sid}) <= mset
        ]
        inner_exact = [
            (s, n)
            for s, n in inner_exact
            if not any(s < s2 for s2, _ in inner_exact)  # keep maximal ones only
        ]
        taken = set().union(*(s for s, _ in inner_exact)) if inner_exact else set()
        sub = sum(n for _, n in inner_exact)
        rest = [s_index[s] for s in members if s not in taken]
        for j in rest:
            covered.setdefault(j, set()).add((tgt, stance))
        if not rest:
            continue
        a_tgt.append(tgt)
        a_stance.append(stance)
        a_lo.append(max(int(r.count_min) - sub, 0))
        hi = r.count_max if r.line not in caps else caps[r.line][0]
        a_hi.append(-1 if pd.isna(hi) else max(int(hi) - sub, 0))
        a_w.append(float(src["weight"].iloc[rest].mean()))
        a_row.extend([len(a_tgt) - 1] * len(rest))
        a_src.extend(rest)
        a_label.append(f"codings.csv:{r.line}")

    # aggregation patterns: sources of one kind and one set of covered cells share a pattern
    pattern_of: dict[tuple[int, frozenset], int] = {}
    src_pattern = np.zeros(len(sources), dtype=np.int64)
    src_kind = src["kind"].map(k_index).to_numpy(np.int64)
    for j in range(len(sources)):
        key = (int(src_kind[j]), frozenset(covered.get(j, ())))
        src_pattern[j] = pattern_of.setdefault(key, len(pattern_of))
    pat_tgt, pat_stance, pat_id = [], [], []
    pat_kind = np.zeros(len(pattern_of), dtype=np.int64)
    for (kind, cells), p in pattern_of.items():
        pat_kind[p] = kind
        for tgt, stance in sorted(cells):
            pat_tgt.append(tgt)
            pat_stance.append(stance)
            pat_id.append(p)

    i64 = np.int64
    return ModelData(
        cmocs=cmocs,
        mechanisms=mechanisms,
        kinds=kinds,
        waves=waves,
        sources=sources,
        groups=groups,
        group_level=group_level,
        n_levels=n_levels,
        group_levels=levels,
        target_mech=target_mech,
        target_codes=np.bincount(cell_tgt, weights=cell_count, minlength=len(targets)),
        mech_codes=np.bincount(
            target_mech[cell_tgt], weights=cell_count, minlength=len(mechanisms)
        ),
        target_intro=_intro_waves(base, targets),
        src_kind=src_kind,
        src_wave=src["wave"].map(base.wave_index).to_numpy(i64),
        src_weight=src["weight"].to_numpy(float),
        src_log_exposure=np.log(src["exposure"].to_numpy(float)),
        src_groups=src_groups,
        cell_src=cell_src,
        cell_tgt=cell_tgt,
        cell_stance=cell_stance,
        cell_count=cell_count,
        tks_tgt=tks["t"].to_numpy(np.int64),
        tks_kind=tks["k"].to_numpy(np.int64),
        tks_stance=tks["s"].to_numpy(np.int64),
        tks_wcount=tks["w"].to_numpy(float),
        src_total=src_total,
        src_log_fact=src_log_fact,
        src_pattern=src_pattern,
        pat_tgt=np.array(pat_tgt, dtype=i64),
        pat_stance=np.array(pat_stance, dtype=i64),
        pat_id=np.array(pat_id, dtype=i64),
        pat_kind=pat_kind,
        agg_tgt=np.array(a_tgt, dtype=i64),
        agg_stance=np.array(a_stance, dtype=i64),
        agg_lo=np.array(a_lo, dtype=i64),
        agg_hi=np.array(a_hi, dtype=i64),
        agg_weight=np.array(a_w, dtype=float),
        agg_row=np.array(a_row, dtype=i64),
        agg_src=np.array(a_src, dtype=i64),
        agg_label=a_label,
    )


def without_unit(d: ModelData, unit: str) -> ModelData:
    """Remove one unit of evidence from the likelihood, leaving every parameter in place.

    A unit is a source (all its exact counts, zeros included) or an aggregate row (its
    ``codings.csv:LINE`` label), as in ``build_model(..., pointwise=True)``: the model built
    from the result is the posterior "without that unit" that leave-one-out approximates.

    Parameters
    ----------
    d : ModelData
    unit : str
        A source id or an aggregate row label.

    Returns
    -------
    ModelData
        The source's appraisal weight set to 0 (its terms vanish) and its exact counts taken out
        of the per-(target, kind, stance) sums; or the aggregate row's weight set to 0.

    Raises
    ------
    KeyError
        If ``unit`` is neither a source nor an aggregate row.
    """
    if unit in d.agg_label:
        weight = d.agg_weight.copy()
        weight[d.agg_label.index(unit)] = 0.0
        return replace(d, agg_weight=weight)
    if unit not in d.sources:
        raise KeyError(f"no unit {unit!r}: neither a source nor an aggregate row")
    j = d.sources.index(unit)
    weight = d.src_weight.copy()
    weight[j] = 0.0
    mine = d.cell_src == j
    wcount = d.tks_wcount.copy()
    for t, s, n in zip(d.cell_tgt[mine], d.cell_stance[mine], d.cell_count[mine], strict=True):
        row = (d.tks_tgt == t) & (d.tks_kind == d.src_kind[j]) & (d.tks_stance == s)
        wcount[row] -= d.src_weight[j] * n
    return replace(d, src_weight=weight, tks_wcount=np.maximum(wcount, 0.0))
