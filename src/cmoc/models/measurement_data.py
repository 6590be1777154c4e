"""Arrays of the measurement model (model v2): exact cells, (source, mechanism) pairs, blocks.

The measurement model (:func:`cmoc.models.build_measurement_model`, docs/model.md "Model v2")
needs, per source and mechanism, whether the source's exact cells hold any code, its non-zero
cells, and, for sources covered by totals, the totals grouped into *blocks*: the rows of one
mechanism over one member set. Which members a total covers (after netting exact inner rows) is
:func:`cmoc.models.model_data`'s logic, reused as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..evidence import EvidenceBase
from .data import ModelData, model_data

__all__ = [
    "RECORDING_LEVELS",
    "MeasurementData",
    "UnsupportedLayout",
    "measurement_data",
    "measurement_problem",
]

RECORDING_LEVELS = ("not recorded", "partial", "recorded")
"""Whether refuting codes were recorded for sources of a kind (``psi_k`` 0, a parameter, 1)."""


@dataclass(frozen=True)
class MeasurementData:
    """Arrays for :func:`cmoc.models.build_measurement_model`.

    Attributes
    ----------
    data : ModelData
        The v1 arrays (coordinates, sources, target intro waves, aggregate membership).
    recording : tuple of str
        Per kind (``data.kinds`` order), one of :data:`RECORDING_LEVELS`.
    theory : numpy.ndarray
        ``(n_waves, n_targets)`` bool: the targets a source of each wave is coded against.
    cell_src, cell_tgt, cell_s, cell_n : numpy.ndarray
        Exact non-zero cells, one per (source, target): supporting codes ``s`` and recorded
        codes ``n = s + r``.
    pair_kind, pair_wave, pair_mech, pair_evidenced, pair_weight : numpy.ndarray
        Classes of (source, mechanism) pairs whose likelihood is the exact-cell form: kind, wave,
        mechanism, whether a cell of the mechanism holds a code (or the source is a forced member
        of a block), and the summed appraisal weights of the pairs in the class.
    covered_weight : numpy.ndarray
        Per target, the summed weights of forced block members for which the target is covered by
        their block (its ``log(1 - b_t)`` leaves their zeros).
    covered_kind_weight : numpy.ndarray
        ``covered_weight`` per (target, kind): where ``b`` varies by kind (context effects).
    block_mech, block_kind, block_wave, block_forced, block_free : numpy.ndarray
        Per block (the rows of one mechanism over one member set): mechanism, the members' kind
        and wave, the number of forced (active for sure) and free members.
    block_log_exposure, block_weight : numpy.ndarray
        The members' log exposure and mean weight.
    block_zero : numpy.ndarray
        ``(n_blocks, n_targets)`` 0/1: targets of the mechanism in the members' theory not
        covered by the block (exact zeros of its free members).
    block_label : list of str
        The block's rows, ``codings.csv:LINE`` joined by ``+``.
    bt_block, bt_tgt : numpy.ndarray
        Per (block, covered target): block and target.
    bt_fixed_supports, bt_fixed : numpy.ndarray
        Which stance's count is exact (True: supports) and its value; a missing stance row is an
        exact zero.
    bt_lo, bt_hi : numpy.ndarray
        Band of the recorded codes ``n = s + r`` (``hi`` -1: unbounded).
    """

    data: ModelData
    recording: tuple[str, ...]
    theory: np.ndarray
    cell_src: np.ndarray
    cell_tgt: np.ndarray
    cell_s: np.ndarray
    cell_n: np.ndarray
    pair_kind: np.ndarray
    pair_wave: np.ndarray
    pair_mech: np.ndarray
    pair_evidenced: np.ndarray
    pair_weight: np.ndarray
    covered_weight: np.ndarray
    covered_kind_weight: np.ndarray
    block_mech: np.ndarray
    block_kind: np.ndarray
    block_wave: np.ndarray
    block_forced: np.ndarray
    block_free: np.ndarray
    block_log_exposure: np.ndarray
    block_weight: np.ndarray
    block_zero: np.ndarray
    block_label: list[str]
    bt_block: np.ndarray
    bt_tgt: np.ndarray
    bt_fixed_supports: np.ndarray
    bt_fixed: np.ndarray
    bt_lo: np.ndarray
    bt_hi: np.ndarray

    @property
    def targets(self) -> list[str]:
        """Target ids: CMOCs then mechanisms."""
        return self.data.targets

    @property
    def psi(self) -> np.ndarray:
        """Per kind: 0 (not recorded), 1 (recorded), NaN (partial: a parameter)."""
        return np.array(
            [{"not recorded": 0.0, "partial": np.nan}.get(r, 1.0) for r in self.recording]
        )

    def sure_sources(self) -> np.ndarray:
        """Per target (CMOCs, then mechanisms), the distinct sources its own rows show evidence it.

        A source with an exact non-zero cell counts one; a total or band whose lower bound is
        at least one code counts one more (all its codes may come from one member; the members
        of one mechanism's blocks are disjoint, and a member with an exact cell of the target is
        netted out of the total). A mechanism's entry counts the sources that evidence it or any
        of its CMOCs (as its breadth): a block with forced members adds none, since its sure
        member may be one of them. A lower bound, from the data alone, never from the model.
        """
        d = self.data
        n_c, tm = len(d.cmocs), d.target_mech
        exact = [set() for _ in d.targets]
        for j, t in zip(self.cell_src, self.cell_tgt, strict=True):
            exact[int(t)].add(int(j))
        out = np.array([len(s) for s in exact])
        sure = self.bt_lo >= 1
        np.add.at(out, self.bt_tgt[sure], 1)
        for m in range(len(d.mechanisms)):
            of_m = np.flatnonzero(tm == m)
            sources = set().union(*(exact[t] for t in of_m))
            blocks = np.unique(self.bt_block[sure & (tm[self.bt_tgt] == m)])
            out[n_c + m] = len(sources) + int((self.block_forced[blocks] == 0).sum())
        return out

    def recorded_codes(self) -> np.ndarray:
        """Per target (CMOCs, then mechanisms), its own codes from kinds that record refutes.

        Sums the exact cells of sources of a kind whose refutes are ``"recorded"`` and the lower
        bounds of such kinds' totals and bands: a lower bound, from the data alone. Only these
        codes say which way a target points (a ``"partial"`` kind's refutes are a lower bound,
        a ``"not recorded"`` kind's unseen), so a target whose entry is zero has a direction
        from pooling alone. A mechanism's entry is its own codes, not its CMOCs'.
        """
        return self.recorded_codes_by_kind().sum(axis=1)

    def recorded_codes_by_kind(self) -> np.ndarray:
        """:meth:`recorded_codes` per (target, kind): zero for a kind that does not record."""
        d = self.data
        recorded = np.array([r == "recorded" for r in self.recording], dtype=bool)
        out = np.zeros((len(d.targets), len(d.kinds)), dtype=np.int64)
        kind = np.asarray(d.src_kind)[self.cell_src]
        cells = recorded[kind]
        np.add.at(out, (self.cell_tgt[cells], kind[cells]), self.cell_n[cells])
        b_kind = self.block_kind[self.bt_block]
        blocks = recorded[b_kind]
        np.add.at(out, (self.bt_tgt[blocks], b_kind[blocks]), np.maximum(self.bt_lo[blocks], 0))
        return out

    def sources_by_kind(self) -> np.ndarray:
        """Per (target, kind), the sources of the kind coded against the target.

        Those whose wave's theory holds it; a mechanism's row counts the sources coded against
        any of its targets.
        """
        d = self.data
        on = self.theory[d.src_wave]  # (source, target)
        n_c = len(d.cmocs)
        for m in range(len(d.mechanisms)):
            on[:, n_c + m] = on[:, np.flatnonzero(d.target_mech == m)].any(axis=1)
        return on.T.astype(np.int64) @ np.eye(len(d.kinds), dtype=np.int64)[d.src_kind]


class UnsupportedLayout(ValueError):
    """A layout of totals that model v2 does not support yet (model v1 fits it)."""


def measurement_problem(base: EvidenceBase) -> tuple[str, bool] | None:
    """Why model v2 cannot be fitted to ``base``, or None when it can.

    Returns
    -------
    tuple of (str, bool) or None
        The message (naming the ``codings.csv`` rows) and whether it is a layout model v2 does
        not support yet (:class:`UnsupportedLayout`: model v1 fits it) rather than a
        contradiction in the base itself (a refutes total of a kind declared not recorded).
    """
    from ..evidence.recording import refutes_recording

    recording = {k: r.refutes for k, r in refutes_recording(base).items()}
    try:
        measurement_data(base, recording)
    except UnsupportedLayout as error:
        return str(error), True
    except ValueError as error:
        return str(error), False
    return None


def _recording(kinds: list[str], recording: dict[str, str] | None) -> tuple[str, ...]:
    recording = dict(recording or {})
    for kind, level in recording.items():
        if level not in RECORDING_LEVELS:
            raise ValueError(
                f"recording of refutes for kind {kind!r}: {level!r} is not one of "
                f"{', '.join(repr(x) for x in RECORDING_LEVELS)}"
            )
    return tuple(recording.get(k, "recorded") for k in kinds)


def measurement_data(
    base: EvidenceBase, recording: dict[str, str] | None = None
) -> MeasurementData:
    """Compute the measurement model's arrays from an evidence base.

    Parameters
    ----------
    base : EvidenceBase
    recording : dict, optional
        Source kind -> ``"recorded"``, ``"partial"`` or ``"not recorded"``: whether refuting codes
        were recorded. A kind not named is ``"recorded"``.

    Returns
    -------
    MeasurementData

    Raises
    ------
    ValueError
        For a recording level not in :data:`RECORDING_LEVELS`, and for layouts v2 does not
        support yet (each message names the ``codings.csv`` rows): a total whose members differ
        in kind, exposure or wave; a source and mechanism covered by two totals over different
        member sets; both stances of a target banded in one block; a refutes total for a kind
        whose refutes are not recorded.
    """
    d = model_data(base, group_effects="none")
    rec = _recording(d.kinds, recording)
    n_t, n_m, n_s = len(d.targets), len(d.mechanisms), len(d.sources)
    tm = d.target_mech
    theory = d.target_intro[None, :] <= np.arange(len(d.waves))[:, None]
    exposure = np.exp(d.src_log_exposure)

    # exact non-zero cells, one per (source, target)
    cells: dict[tuple[int, int], list[int]] = {}
    for j, t, st, n in zip(d.cell_src, d.cell_tgt, d.cell_stance, d.cell_count, strict=True):
        cells.setdefault((int(j), int(t)), [0, 0])[int(st)] += int(n)
    keys = sorted(cells)
    cell_src = np.array([j for j, _ in keys], dtype=np.int64)
    cell_tgt = np.array([t for _, t in keys], dtype=np.int64)
    cell_s = np.array([cells[k][0] for k in keys], dtype=np.int64)
    cell_n = np.array([sum(cells[k]) for k in keys], dtype=np.int64)
    evidenced = np.zeros((n_s, n_m), dtype=bool)
    evidenced[cell_src, tm[cell_tgt]] = True

    # blocks: aggregate rows grouped by (mechanism, member set)
    members = [frozenset() for _ in d.agg_label]
    for r, j in zip(d.agg_row, d.agg_src, strict=True):
        members[r] = members[r] | {int(j)}
    block_of: dict[tuple[int, frozenset], int] = {}
    block_rows: list[list[int]] = []
    for r, t in enumerate(d.agg_tgt):
        key = (int(tm[t]), members[r])
        if key not in block_of:
            block_of[key] = len(block_rows)
            block_rows.append([])
        block_rows[block_of[key]].append(r)
    blocks = list(block_of)
    covering: dict[tuple[int, int], int] = {}
    for b, (m, mset) in enumerate(blocks):
        for j in mset:
            other = covering.setdefault((j, m), b)
            if other != b:
                rows = [d.agg_label[r] for r in block_rows[other] + block_rows[b]]
                raise UnsupportedLayout(
                    f"source {d.sources[j]!r} and mechanism {d.mechanisms[m]!r} are covered by "
                    f"totals over different sets of sources ({', '.join(rows)}): v2 does not "
                    "support this yet; it needs every total of a mechanism that covers a source "
                    "to cover the same sources"
                )

    b_mech, b_kind, b_wave, b_forced, b_free, b_logx, b_w, b_label = ([] for _ in range(8))
    block_zero = np.zeros((len(blocks), n_t))
    covered_weight = np.zeros(n_t)
    covered_kind_weight = np.zeros((n_t, len(d.kinds)))
    bt = {k: [] for k in ("block", "tgt", "fixed_supports", "fixed", "lo", "hi")}
    for b, (m, mset) in enumerate(blocks):
        rows = block_rows[b]
        labels = [d.agg_label[r] for r in rows]
        js = np.array(sorted(mset), dtype=np.int64)
        for name, values in (
            ("kind", d.src_kind[js]),
            ("exposure", exposure[js]),
            ("wave", d.src_wave[js]),
        ):
            if np.unique(values).size > 1:
                raise UnsupportedLayout(
                    f"{', '.join(labels)}: v2 needs the members of a total to share kind and "
                    f"exposure (and wave); these members differ in {name}"
                )
        k, w = int(d.src_kind[js[0]]), int(d.src_wave[js[0]])
        forced = evidenced[js, m]
        covered = sorted({int(d.agg_tgt[r]) for r in rows})
        of_m = (tm == m) & theory[w]
        block_zero[b, of_m] = 1.0
        block_zero[b, covered] = 0.0
        covered_weight[covered] += d.src_weight[js[forced]].sum()
        covered_kind_weight[covered, k] += d.src_weight[js[forced]].sum()
        b_mech.append(m)
        b_kind.append(k)
        b_wave.append(w)
        b_forced.append(int(forced.sum()))
        b_free.append(int((~forced).sum()))
        b_logx.append(float(d.src_log_exposure[js[0]]))
        b_w.append(float(d.src_weight[js].mean()))
        b_label.append("+".join(labels))
        for t in covered:
            band = {
                int(d.agg_stance[r]): (int(d.agg_lo[r]), int(d.agg_hi[r]), d.agg_label[r])
                for r in rows
                if d.agg_tgt[r] == t
            }
            names = ", ".join(x[2] for x in band.values())
            if rec[k] == "not recorded" and 1 in band:
                raise ValueError(
                    f"{names}: a refutes total for kind {d.kinds[k]!r}, whose refutes are "
                    "declared not recorded"
                )
            sup = band.get(0, (0, 0, ""))
            ref = band.get(1, (0, 0, ""))
            if ref[0] == ref[1]:
                fixed_supports, fixed, other = False, ref[0], sup
            elif sup[0] == sup[1]:
                fixed_supports, fixed, other = True, sup[0], ref
            else:
                raise UnsupportedLayout(
                    f"{names}: both stances of target {d.targets[t]!r} are banded; v2 needs "
                    "one of them exact for now"
                )
            bt["block"].append(b)
            bt["tgt"].append(t)
            bt["fixed_supports"].append(fixed_supports)
            bt["fixed"].append(fixed)
            bt["lo"].append(fixed + other[0])
            bt["hi"].append(-1 if other[1] < 0 else fixed + other[1])

    # (source, mechanism) pairs in the exact-cell form, summed per class
    has_target = np.zeros((len(d.waves), n_m), dtype=bool)
    for w in range(len(d.waves)):
        has_target[w, np.unique(tm[theory[w]])] = True
    # free members of a block enter only through it; forced ones keep the exact-cell form
    free_pair = np.zeros((n_s, n_m), dtype=bool)
    for j, m in covering:
        free_pair[j, m] = not evidenced[j, m]
    classes: dict[tuple[int, int, int, bool], float] = {}
    for j in range(n_s):
        k, w = int(d.src_kind[j]), int(d.src_wave[j])
        for m in np.flatnonzero(has_target[w] & ~free_pair[j]):
            key = (k, w, int(m), bool(evidenced[j, m]))
            classes[key] = classes.get(key, 0.0) + float(d.src_weight[j])
    ck = sorted(classes)

    i64 = np.int64
    return MeasurementData(
        data=d,
        recording=rec,
        theory=theory,
        cell_src=cell_src,
        cell_tgt=cell_tgt,
        cell_s=cell_s,
        cell_n=cell_n,
        pair_kind=np.array([c[0] for c in ck], dtype=i64),
        pair_wave=np.array([c[1] for c in ck], dtype=i64),
        pair_mech=np.array([c[2] for c in ck], dtype=i64),
        pair_evidenced=np.array([c[3] for c in ck], dtype=bool),
        pair_weight=np.array([classes[c] for c in ck], dtype=float),
        covered_weight=covered_weight,
        covered_kind_weight=covered_kind_weight,
        block_mech=np.array(b_mech, dtype=i64),
        block_kind=np.array(b_kind, dtype=i64),
        block_wave=np.array(b_wave, dtype=i64),
        block_forced=np.array(b_forced, dtype=i64),
        block_free=np.array(b_free, dtype=i64),
        block_log_exposure=np.array(b_logx, dtype=float),
        block_weight=np.array(b_w, dtype=float),
        block_zero=block_zero,
        block_label=b_label,
        bt_block=np.array(bt["block"], dtype=i64),
        bt_tgt=np.array(bt["tgt"], dtype=i64),
        bt_fixed_supports=np.array(bt["fixed_supports"], dtype=bool),
        bt_fixed=np.array(bt["fixed"], dtype=i64),
        bt_lo=np.array(bt["lo"], dtype=i64),
        bt_hi=np.array(bt["hi"], dtype=i64),
    )
