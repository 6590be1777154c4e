"""Planning for model v2 (the measurement model): how many more sources make a target decisive.

For each target (CMOC or mechanism) whose v2 status is inconclusive and ``n = 1..max_new`` new
sources of one kind, by simulation from the current posterior (a preposterior analysis, as
model v1's :func:`~cmoc.analyses.planning.plan.plan`):

1. a posterior draw is taken as the truth;
2. ``max_new`` new sources of the kind are drawn from the measurement model with it, by the
   model's own numpy generator (:func:`~cmoc.models.generate_measurement.draw_measurement_cells`:
   activation per mechanism, evidencing per target, ``1 + NB`` codes, the beta-binomial split
   of the recorded codes with the kind's recording of refutes); exact cells, exposure and
   weight 1, coded against the newest wave's whole theory; the first ``n`` of them are
   the "n more" (common random numbers across ``n``), in a wave of their own after the newest
   (:func:`with_planned_sources`: members of no total);
3. the fit's draws are reweighted by the new sources' log-likelihood with Pareto-smoothed
   importance sampling, and every target's ``p_broad``, ``p_clear_support``,
   ``p_clear_refute``, ``sources_min`` (the new sources that evidence it added), codes of each
   stance and testable direction are recomputed and classified by
   :func:`~cmoc.analyses.inference.measurement.classify_measurement` with the base's
   ``[classification]``. *Decisive*: any status but inconclusive and unevidenced (affirmed,
   novel, refuted, contested, revised).

The new sources' log-likelihood is the model's: a new source of exact cells is a unit of
evidence (:func:`~cmoc.models.measurement_units.measurement_units`), and its terms are the
model's exact-cell class terms (``_exact_terms`` of :mod:`cmoc.models.measurement`) evaluated at
every draw, compiled once and batched over draws, on the base plus the new sources
(:func:`with_planned_sources`). It is the same number as
``loglik_unit`` of :func:`~cmoc.analyses.checks.measurement_pointwise.measurement_pointwise` on
that base (to 1e-13, ``tests/test_plan_v2.py``).

Updates (:data:`~cmoc.analyses.planning.plan.UPDATES`): ``"targeted"`` (default) reweights by
the whole likelihood of the new sources while its Pareto k is at most :data:`KHAT_MAX`; from the
first ``n`` of a simulation where it is not, each target by the factor of its mechanism (a
source's likelihood is a product over mechanisms of ``L_jm``: the activation of the mechanism
and its targets' evidencing, depth and split; what is left out moves the target only through
the hyperparameters and the kind effects). Where that k is above :data:`KHAT_MAX` too (or any
k with ``"full"``), the base plus the ``n`` new sources is refitted exactly, at most
``max_refits`` times per plan (one refit answers every target of that simulation and ``n``);
the rest keep their PSIS estimate and are counted ``unreliable``.

The simulations are shared by the targets (one simulated set of new sources speaks to every
target): tasks of :data:`~cmoc.analyses.planning.plan.CHUNK` simulations, each seeded by
``SeedSequence(seed, spawn_key=(chunk,))``; results do not depend on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, log_expit

from ...defaults import KHAT_MAX, MAX_REFITS, SEED, Status
from ...evidence import EvidenceBase
from ..checks.measurement_pointwise import LIKELIHOOD_PARAMETERS
from ..fitting.store import fit_config

__all__ = [
    "DECISIVE",
    "PLAN_V2_COLUMNS",
    "PLAN_WAVE",
    "REPORT_PLAN_V2",
    "inconclusive_targets",
    "new_source_loglik",
    "plan_measurement",
    "with_planned_sources",
]

PLAN_V2_COLUMNS = [
    "target_id",
    "target_type",
    "kind",
    "n_new",
    "p_decisive",
    "p_affirmed",
    "p_refuted",
    "p_contested",
    "mc_se",
    "simulations",
    "refits",
    "unreliable",
    "khat_max",
    "p_broad",
    "p_broad_now",
    "sources_min_now",
]
"""Columns of a model v2 plan, one row per inconclusive target and ``n_new``.

``p_decisive``: the share of simulations in which the target's status is no longer
inconclusive (nor unevidenced); ``p_affirmed`` counts affirmed and novel, ``p_refuted`` and
``p_contested`` as v2 defines them (a revised CMOC is decisive, in none of the three);
``mc_se`` the binomial Monte Carlo error of ``p_decisive``; ``p_broad`` the mean over
simulations of the updated ``P(breadth >= breadth_min)``; ``p_broad_now`` and
``sources_min_now`` the fit's. ``refits``, ``unreliable`` and ``khat_max`` as model v1's plan
(:data:`~cmoc.analyses.planning.plan.PLAN_COLUMNS`).
"""

REPORT_PLAN_V2 = {"max_new": 5, "simulations": 200, "max_refits": 0}
"""The plan ``cmoc report --model FILE`` computes for a model v2 fit (of the default kind).

PSIS updates only (targeted: the whole likelihood, then each mechanism's factor where its
Pareto k is above :data:`KHAT_MAX`), no exact refit: a refit of IOC's v2 fit is a fit of its
own, the simulations of this plan take 30-40 s there (docs/calibration-and-planning.md, "Saved
results and the report"). Updates whose k stays above :data:`KHAT_MAX` keep their PSIS
estimate and are counted ``unreliable``; the report says how many, where, and how to refit
them (``cmoc plan DIR --model FILE --max-refits N``). A saved v2 plan is reused only when
made from the same fit with these very settings
(:func:`~cmoc.analyses.planning.plan.plan_or_reuse`).
"""

DECISIVE = frozenset(s.value for s in Status if s not in (Status.inconclusive, Status.unevidenced))
"""Statuses that decide a target (every v2 status but inconclusive and unevidenced)."""

_AFFIRMED = (Status.affirmed.value, Status.novel.value)


def inconclusive_targets(
    idata: xr.DataTree, evidence: EvidenceBase, summary: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Return the targets (CMOCs, then mechanisms) whose v2 status is inconclusive.

    ``summary``: the fit's :func:`summarize_measurement`, when already computed. Links are
    not planned for: a link is settled by its CMOCs' evidence, and a new source is coded
    against CMOCs and mechanisms.

    Returns
    -------
    pandas.DataFrame
        ``target_id, target_type, p_broad, sources_min, ess_bulk``.
    """
    from ..inference.measurement import summarize_measurement

    table = summarize_measurement(idata, evidence, links=False) if summary is None else summary
    keep = (table["status"] == Status.inconclusive) & (table["target_type"] != "link")
    cols = ["target_id", "target_type", "p_broad", "sources_min", "ess_bulk"]
    return table.loc[keep, cols].reset_index(drop=True)


def _recording(evidence: EvidenceBase) -> dict[str, str]:
    from ...evidence.recording import refutes_recording

    return {k: r.refutes for k, r in refutes_recording(evidence).items()}


def _flat(post: xr.Dataset, name: str) -> np.ndarray:
    """Return a posterior variable's draws, samples first (``chain`` x ``draw`` stacked)."""
    da = post[name].stack(sample=("chain", "draw"))
    return da.transpose("sample", *[d for d in da.dims if d != "sample"]).values


def _draw_arrays(post: xr.Dataset, md) -> dict[str, np.ndarray]:
    """Per draw (samples first): the generator's parameters and the model's term inputs.

    The generator's (:func:`~cmoc.models.generate_measurement.draw_measurement_cells`):
    ``activation_mechanism, activation_kind, evidencing_logit, kind_rate, depth_target,
    dispersion, eta, kind_lean, concentration, psi``; the terms' (``_exact_terms``'s ``p``):
    ``logit_a, log_b, log1m_b, rho, lam, phi, q, c``, from the same Deterministics.
    """
    n_k = len(md.data.kinds)
    out = {
        name: _flat(post, name)
        for name in (
            "activation_mechanism",
            "evidencing_logit",
            "kind_rate",
            "depth_target",
            "dispersion",
            "eta",
            "concentration",
        )
    }
    n = out["eta"].shape[0]
    for name in ("activation_kind", "kind_lean"):  # absent with one kind (zeros)
        out[name] = _flat(post, name) if name in post else np.zeros((n, n_k))
    psi = np.tile(np.nan_to_num(md.psi, nan=1.0), (n, 1))
    partial = [i for i, r in enumerate(md.recording) if r == "partial"]
    if partial:
        psi[:, partial] = _flat(post, "refute_recording")
    out["psi"] = psi
    # the term inputs, as build_measurement_model derives them from the same quantities
    logit_b = out["evidencing_logit"]
    psi_safe = np.where(psi == 0.0, 1.0, psi)
    logit_p = out["eta"][:, :, None] + out["kind_lean"][:, None, :]
    out.update(
        logit_a=out["activation_mechanism"][:, :, None] + out["activation_kind"][:, None, :],
        log_b=log_expit(logit_b),
        log1m_b=log_expit(-logit_b),
        rho=out["kind_rate"],
        lam=out["depth_target"],
        phi=out["dispersion"],
        q=expit(logit_p - np.log(psi_safe)[:, None, :]),
        c=out["concentration"],
    )
    return out


_POSTERIOR = LIKELIHOOD_PARAMETERS
"""The posterior variables :func:`_draw_arrays` reads."""

_TERM_INPUTS = ("logit_a", "log_b", "log1m_b", "rho", "lam", "phi", "q", "c")

_COMPILED: dict[tuple, Any] = {}
"""Per process: the compiled exact-cell terms of each structure (kinds, targets, recording)."""


class _ExactTerms:
    """The model's exact-cell class terms, compiled once and evaluated at every draw at once.

    ``_exact_terms`` of :mod:`cmoc.models.measurement` built on symbolic parameters (the
    ``p`` it takes from the model) and vectorised over a leading draw dimension. Its data
    (classes of pairs and cells) are the model's ``pm.Data``: each base's values are swapped in
    without compiling again.
    """

    def __init__(self, md) -> None:
        import pymc as pm
        import pytensor
        import pytensor.tensor as pt
        from pytensor.graph.replace import vectorize_graph

        from ...models.measurement import _exact_terms

        ndim = {"logit_a": 2, "q": 2, "phi": 0, "c": 0}
        self.inputs = {k: pt.tensor(k, shape=(None,) * ndim.get(k, 1)) for k in _TERM_INPUTS}
        with pm.Model() as self.model:
            terms = _exact_terms(md, self.inputs)
        batched = {
            k: pt.tensor(f"{k}_draws", shape=(None,) * (v.ndim + 1)) for k, v in self.inputs.items()
        }
        outs = vectorize_graph(
            [terms.pair, terms.cell], replace={self.inputs[k]: batched[k] for k in _TERM_INPUTS}
        )
        self.fn = pytensor.function(list(batched.values()), outs, on_unused_input="ignore")

    def __call__(self, md, draws: dict) -> tuple[np.ndarray, np.ndarray]:
        """Return the pair and cell class terms of ``md``, ``(draws, classes)`` each."""
        import pymc as pm

        from ...models.measurement import _exact_terms

        with pm.Model() as values:  # the data of md, as the model would hold them
            _exact_terms(md, self.inputs)
        for var in values.data_vars:
            self.model[var.name].set_value(var.get_value())
        pair, cell = self.fn(*[draws[k] for k in _TERM_INPUTS])
        return np.asarray(pair), np.asarray(cell)


def _exact_terms_for(md, kind_pos: int) -> _ExactTerms:
    key = (
        tuple(md.data.targets),
        tuple(md.data.mechanisms),
        tuple(md.data.kinds),
        tuple(md.recording),
        len(md.data.waves),
        kind_pos,
    )
    if key not in _COMPILED:
        _COMPILED.clear()  # one plan at a time per process
        _COMPILED[key] = _ExactTerms(md)
    return _COMPILED[key]


PLAN_WAVE = "planned"
"""Wave label of the new sources (``planned``, or ``planned-2`` ... where a wave has that name)."""


def with_planned_sources(
    evidence: EvidenceBase, kind: str, sup: np.ndarray, ref: np.ndarray
) -> EvidenceBase:
    """Return the base plus new sources of ``kind`` with exact cells ``sup``, ``ref``.

    The new sources (``plan-new-1`` ...) are in a wave of their own after the newest
    (:data:`PLAN_WAVE`), whose theory is the newest wave's: so they are members of no total
    over a wave (the IOC base's interview totals cover every source of their wave, and a new
    interview inside them would be known only through them). A target that no wave has coded
    and that is not of prior origin enters the theory at that wave (unevidenced either way).

    Parameters
    ----------
    sup, ref : numpy.ndarray
        ``(sources, targets)``: supporting and refuting codes (targets: CMOCs then mechanisms).
    """
    from .plan import _with_new_sources

    targets = list(evidence.targets.index)
    base = _with_new_sources(evidence, kind, np.asarray(sup), np.asarray(ref), targets)
    label, i = PLAN_WAVE, 1
    while label in evidence.waves:
        i += 1
        label = f"{PLAN_WAVE}-{i}"
    sources = base.sources.copy()
    new = ~sources.index.isin(evidence.sources.index)
    sources.loc[new, "wave"] = label
    config = evidence.config.model_copy(update={"waves": [*evidence.waves, label]})
    return replace(base, sources=sources, config=config)


def _augmented(evidence: EvidenceBase, kind: str, sup: np.ndarray, ref: np.ndarray, md):
    """Return the base plus new sources (rows of ``sup``, ``ref``) and its v2 arrays.

    The arrays keep the base's recording. A last source with one supporting code of every
    target is added, so that every base of a plan has the same terms' structure (exact cells
    of the kind); it is never read.
    """
    from ...models import measurement_data

    n_t = len(md.data.targets)
    sup = np.vstack([sup, np.ones((1, n_t), dtype=sup.dtype)])
    ref = np.vstack([ref, np.zeros((1, n_t), dtype=ref.dtype)])
    base = with_planned_sources(evidence, kind, sup, ref)
    return base, measurement_data(base, dict(zip(md.data.kinds, md.recording, strict=True)))


def new_source_loglik(
    evidence: EvidenceBase,
    idata: xr.DataTree,
    kind: str,
    sup: np.ndarray,
    ref: np.ndarray,
    *,
    by_mechanism: bool = False,
) -> np.ndarray:
    """Log-likelihood of new sources of exact cells under every draw of a v2 fit.

    Parameters
    ----------
    evidence : EvidenceBase
        The fitted base.
    idata : xarray.DataTree
        Its model v2 fit.
    kind : str
        The new sources' kind (exposure and weight 1, in :data:`PLAN_WAVE`).
    sup, ref : numpy.ndarray
        ``(sources, targets)``: recorded supporting and refuting codes (targets: CMOCs then
        mechanisms).
    by_mechanism : bool
        Split each source's log-likelihood into its mechanisms' factors.

    Returns
    -------
    numpy.ndarray
        ``(sources, draws)``, or ``(sources, mechanisms, draws)`` with ``by_mechanism``
        (draws: chains x draws stacked).
    """
    from ..checks.measurement_pointwise import v2_data

    md = v2_data(evidence)
    draws = _draw_arrays(idata["posterior"].to_dataset(), md)
    k = md.data.kinds.index(kind)
    _, md_new = _augmented(evidence, kind, np.asarray(sup), np.asarray(ref), md)
    ll = _NewUnits(md_new, _exact_terms_for(md_new, k), draws, len(md.data.sources))
    rows = np.arange(np.asarray(sup).shape[0])
    return ll.by_mechanism(rows) if by_mechanism else ll.by_mechanism(rows).sum(axis=1)


class _NewUnits:
    """The new sources' unit log-likelihoods of one augmented base, per mechanism factor."""

    def __init__(self, md_new, terms: _ExactTerms, draws: dict, n_base: int) -> None:
        from ...models.measurement_units import cell_class_index, measurement_units

        units = measurement_units(md_new)
        # the new sources are the last sources (never block members: no covered targets)
        first = int(np.searchsorted(units.source, n_base))
        self.pair_share = units.pair[first:]
        self.cell_share = units.cell[first:]
        self.pair, self.cell = terms(md_new, draws)
        n_m = len(md_new.data.mechanisms)
        self.pair_mech = np.eye(n_m)[md_new.pair_mech]  # (pair class, mechanism)
        classes, _ = cell_class_index(md_new)
        self.cell_mech = np.eye(n_m)[md_new.data.target_mech[classes[:, 0].astype(int)]]

    def by_mechanism(self, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), mechanisms, draws)``: each new source's factor of each mechanism."""
        pair = np.einsum(
            "jp,pm,sp->jms", self.pair_share[rows], self.pair_mech, self.pair, optimize=True
        )
        cell = np.einsum(
            "jc,cm,sc->jms", self.cell_share[rows], self.cell_mech, self.cell, optimize=True
        )
        return pair + cell


@dataclass(frozen=True)
class _NewLayout:
    """New sources as a layout of the generator (``draw_measurement_cells``).

    ``sources`` of one kind, exposure 1, with the base's CMOC-to-mechanism map.
    """

    sources: int
    mechanisms: int
    cmocs: int
    cmoc_mechanism: np.ndarray
    kind: int

    @property
    def source_kind(self) -> np.ndarray:
        return np.full(self.sources, self.kind)

    @property
    def source_exposure(self) -> np.ndarray:
        return np.ones(self.sources)


_GENERATOR_PARAMS = (*(n for n in LIKELIHOOD_PARAMETERS if n != "refute_recording"), "psi")


@dataclass(frozen=True)
class _Now:
    """What classifying a target after ``n`` new sources needs besides the weights.

    ``broad[n]``, ``(draws, targets)`` bool: breadth >= breadth_min with the kinds mixed as after
    ``n`` new sources; ``testable[n]`` per target; ``clear_support`` / ``clear_refute``
    ``(draws, targets)``; the base's ``sources_min``, ``supports``, ``refutes``; ``index`` the
    target ids; ``tm`` each target's mechanism; ``n_c`` the number of CMOCs; ``kind_recorded``
    whether the new sources' kind records refutes (their codes then make a direction testable).
    """

    broad: np.ndarray
    testable: np.ndarray
    clear_support: np.ndarray
    clear_refute: np.ndarray
    sources_min: np.ndarray
    supports: np.ndarray
    refutes: np.ndarray
    index: list[str]
    tm: np.ndarray
    n_c: int
    kind_recorded: bool = False


def _classifying(idata: xr.DataTree, evidence: EvidenceBase, kind: str, max_new: int) -> _Now:
    """Precompute what :class:`_Now` holds from the fit (breadth mixed for each ``n``)."""
    from ..inference.measurement import _stance_codes, measurement_draws

    th = evidence.config.classification
    dims = ("chain", "draw")
    broad, testable = [], []
    n_t = len(evidence.targets)
    targets = list(evidence.targets.index)
    first = None
    for n in range(max_new + 1):
        empty = np.zeros((n, n_t), dtype=np.int64)
        base = with_planned_sources(evidence, kind, empty, empty) if n else evidence
        draws = measurement_draws(idata, base)
        b = draws["breadth"].stack(sample=dims).transpose("sample", "target").values
        broad.append(b >= th.breadth_min)
        testable.append(draws["testable"].values.astype(bool))
        if n == 0:
            first = draws
    direction = first["direction"].stack(sample=dims).transpose("sample", "target").values
    stance = _stance_codes(evidence).reindex(targets).fillna(0).astype(int)
    from ..checks.measurement_pointwise import v2_data

    d = v2_data(evidence).data
    if list(d.targets) != targets:  # pragma: no cover - one order of targets everywhere
        raise ValueError("the model's targets are not the base's, in order")
    return _Now(
        broad=np.stack(broad),
        testable=np.stack(testable),
        clear_support=direction >= 0.5 + th.direction_margin,
        clear_refute=direction <= 0.5 - th.direction_margin,
        sources_min=np.asarray(first["sources_min"]),
        supports=stance["supports"].to_numpy(),
        refutes=stance["refutes"].to_numpy(),
        index=targets,
        tm=np.asarray(d.target_mech, dtype=int),
        n_c=len(d.cmocs),
        kind_recorded=_recording(evidence).get(kind) == "recorded",
    )


def _status_table(
    now: _Now, weights: np.ndarray, n: int, sup: np.ndarray, ref: np.ndarray
) -> pd.DataFrame:
    """Return what :func:`classify_measurement` reads of every target after new sources.

    ``weights``: ``(targets, draws)``, normalised, the weights each target is classified with
    (its own row: the whole likelihood's, or its mechanism's factor's, or uniform); ``sup``,
    ``ref`` the ``n`` new sources' recorded codes.
    """
    p_broad = np.einsum("ts,st->t", weights, now.broad[n])
    # the new sources' own rows: one source per evidenced target; a mechanism counts those
    # evidencing it or any of its CMOCs (as MeasurementData.sure_sources)
    n_m = len(now.tm) - now.n_c
    evid = (sup + ref) > 0  # (sources, targets)
    shown = evid.sum(axis=0)
    of_mech = np.zeros((evid.shape[0], n_m), dtype=bool)  # (sources, mechanisms)
    for t, m in enumerate(now.tm):
        of_mech[:, m] |= evid[:, t]
    shown[now.n_c :] = of_mech.sum(axis=0)
    # new codes of a recording kind make a direction testable (a mechanism: any of its targets')
    testable = now.testable[n] | (now.kind_recorded & (shown > 0))
    p_cs = np.where(testable, np.einsum("ts,st->t", weights, now.clear_support), np.nan)
    p_cr = np.where(testable, np.einsum("ts,st->t", weights, now.clear_refute), np.nan)
    s_new, r_new = sup.sum(axis=0).astype(np.int64), ref.sum(axis=0).astype(np.int64)
    for new in (s_new, r_new):  # a mechanism's codes include its CMOCs'
        new[now.n_c :] += np.bincount(now.tm[: now.n_c], new[: now.n_c], n_m).astype(np.int64)
    return pd.DataFrame(
        {
            "p_broad": p_broad,
            "sources_min": now.sources_min + shown,
            "p_clear_support": p_cs,
            "p_clear_refute": p_cr,
            "direction_testable": testable,
            "supports": now.supports + s_new,
            "refutes": now.refutes + r_new,
        },
        index=pd.Index(now.index, name="target_id"),
    )


def _classify_all(evidence: EvidenceBase, tables: list[pd.DataFrame]) -> list[np.ndarray]:
    """Statuses of each table of :func:`_status_table` (one per simulation and ``n``).

    :func:`classify_measurement` once for all of them where no CMOC revises another (its
    rules are row by row then; 30 ms a call on a 6-target base, mostly fixed costs), else
    once per table (a revised CMOC's status depends on its reviser's in the same table).
    """
    from ..inference.measurement import classify_measurement

    if not tables:
        return []
    if evidence.cmocs["revises"].dropna().empty:
        status = classify_measurement(evidence, pd.concat(tables)).to_numpy()
        return np.split(status, len(tables))
    return [classify_measurement(evidence, t).to_numpy() for t in tables]


def _psis(ll: np.ndarray, r_eff: float) -> tuple[np.ndarray, float]:
    """Normalised PSIS weights of the draws given the new data's log-likelihood ``ll``."""
    from arviz_stats.base.array import array_stats

    # psislw smooths the ratios 1 / p(y | theta) of its argument: -ll for p(y | theta)
    log_w, khat = array_stats.psislw(-ll, r_eff=r_eff)
    w = np.exp(log_w - log_w.max())
    return w / w.sum(), float(khat)


def _plan_task_v2(
    chunk: int,
    chunk_size: int,
    n_sims: int,
    seed: int,
    max_new: int,
    evidence: EvidenceBase,
    idata_post: xr.Dataset,
    kind: str,
    now: _Now,
    planned: np.ndarray,
    r_eff: float,
    update: str,
) -> list[dict]:
    """``n_sims`` simulations (one Dask task); one record per simulation, ``n`` and target."""
    from ...models.generate_measurement import draw_measurement_cells
    from ..checks.measurement_pointwise import v2_data
    from .plan import _one_blas_thread

    with _one_blas_thread():
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk,)))
        md = v2_data(evidence)
        d = md.data
        k = d.kinds.index(kind)
        draws = _draw_arrays(idata_post, md)
        n_s = draws["eta"].shape[0]
        layout = _NewLayout(max_new, len(d.mechanisms), len(d.cmocs), now.tm[: now.n_c], k)
        sims = []
        for _ in range(n_sims):
            s = int(rng.integers(n_s))
            params = {name: draws[name][s] for name in _GENERATOR_PARAMS}
            sup, ref = draw_measurement_cells(params, layout, rng)
            sims.append((sup, ref, int(rng.integers(2**31))))
        all_sup = np.vstack([x[0] for x in sims])
        all_ref = np.vstack([x[1] for x in sims])
        _, md_new = _augmented(evidence, kind, all_sup, all_ref, md)
        units = _NewUnits(md_new, _exact_terms_for(md_new, k), draws, len(d.sources))
        return _simulate_v2(
            evidence, now, units, sims, planned, r_eff, update, max_new, chunk * chunk_size
        )


def _simulate_v2(evidence, now, units, sims, planned, r_eff, update, max_new, first) -> list:
    """Reweight and classify every simulation of a task (see :func:`_plan_task_v2`)."""
    n_t = len(now.index)
    n_draws = now.broad.shape[1]
    out, tables = [], []
    for i, (sup, ref, refit_seed) in enumerate(sims):
        rows = np.arange(i * max_new, (i + 1) * max_new)
        by_mech = np.cumsum(units.by_mechanism(rows), axis=0)  # (n, mechanism, draws)
        whole = True
        for n in range(1, max_new + 1):
            how = "full"
            if whole:
                w, k = _psis(by_mech[n - 1].sum(axis=0), r_eff)
                weights = np.broadcast_to(w, (n_t, n_draws))
                khat = np.full(n_t, k)
                whole = update == "full" or k <= KHAT_MAX
            if not whole:
                w_m, k_m = zip(*(_psis(ll, r_eff) for ll in by_mech[n - 1]), strict=True)
                weights = np.stack(w_m)[now.tm]
                khat = np.asarray(k_m)[now.tm]
                how = "mechanism"
            table = _status_table(now, weights, n, sup[:n], ref[:n])
            tables.append(table)
            for t in planned:
                out.append(
                    {
                        "sim": first + i,
                        "n_new": n,
                        "target": int(t),
                        "status": None,
                        "p_broad": float(table["p_broad"].iloc[t]),
                        "khat": float(khat[t]),
                        "update": how,
                        "refit": False,
                        "refit_args": (sup[:n], ref[:n], refit_seed)
                        if khat[t] > KHAT_MAX
                        else None,
                    }
                )
    statuses = _classify_all(evidence, tables)
    per_table = len(planned)
    for j, status in enumerate(statuses):
        for r in out[j * per_table : (j + 1) * per_table]:
            r["status"] = status[r["target"]]
    return out


def _refit_statuses(
    evidence: EvidenceBase, kind: str, sup, ref, seed: int, sampler: dict, now: _Now
) -> tuple[np.ndarray, np.ndarray]:
    """Exact refit of the base plus the new sources: every target's status and ``p_broad``."""
    from ...models import build_measurement_model, measurement_data
    from ..checks.measurement_pointwise import v2_data
    from ..fitting.sampling import SamplerConfig, sample_model

    md = v2_data(evidence)
    base = with_planned_sources(evidence, kind, sup, ref)
    md_new = measurement_data(base, dict(zip(md.data.kinds, md.recording, strict=True)))
    cfg = SamplerConfig(**{**sampler, "seed": seed, "cores": 1})
    idata = sample_model(build_measurement_model(md_new), cfg)
    n = sup.shape[0]
    refit = _refitted_now(idata, evidence, kind, n, now)
    uniform = np.full((len(now.index), refit.broad.shape[1]), 1.0 / refit.broad.shape[1])
    table = _status_table(refit, uniform, n, sup, ref)
    return _classify_all(evidence, [table])[0], table["p_broad"].to_numpy()


def _refitted_now(idata, evidence: EvidenceBase, kind: str, n: int, now: _Now) -> _Now:
    """:class:`_Now` of a refit (its draws, the kinds mixed as after ``n`` new sources)."""
    from ..inference.measurement import measurement_draws

    th = evidence.config.classification
    empty = np.zeros((n, len(now.index)), dtype=np.int64)
    draws = measurement_draws(idata, with_planned_sources(evidence, kind, empty, empty))
    dims = ("chain", "draw")
    b = draws["breadth"].stack(sample=dims).transpose("sample", "target").values
    direction = draws["direction"].stack(sample=dims).transpose("sample", "target").values
    broad = np.zeros((n + 1, *b.shape), dtype=bool)
    broad[n] = b >= th.breadth_min
    testable = np.zeros((n + 1, len(now.index)), dtype=bool)
    testable[n] = draws["testable"].values.astype(bool)
    return _Now(
        broad=broad,
        testable=testable,
        clear_support=direction >= 0.5 + th.direction_margin,
        clear_refute=direction <= 0.5 - th.direction_margin,
        sources_min=now.sources_min,
        supports=now.supports,
        refutes=now.refutes,
        index=now.index,
        tm=now.tm,
        n_c=now.n_c,
        kind_recorded=now.kind_recorded,
    )


def _refit_unreliable_v2(
    records: list[dict],
    evidence: EvidenceBase,
    kind: str,
    sampler: dict,
    now: _Now,
    max_refits: int | None,
    dask: dict,
) -> None:
    """Refit the (simulation, n) whose updates kept a Pareto k above :data:`KHAT_MAX`, in place.

    At most ``max_refits`` refits, the first in (simulation, n) order, which does not depend
    on their outcome; one refit answers every flagged target of its simulation and ``n``.
    """
    from .parallel import run_on_dask

    keys = sorted({(r["sim"], r["n_new"]) for r in records if r["refit_args"] is not None})
    chosen = keys if max_refits is None else keys[:max_refits]
    if not chosen:
        return
    args = {}
    for r in records:
        key = (r["sim"], r["n_new"])
        if r["refit_args"] is not None and key not in args:
            args[key] = r["refit_args"]
    tasks = [(evidence, kind, *args[key], sampler, now) for key in chosen]
    results = run_on_dask(_refit_statuses, tasks, label="exact refits", **dask)
    answers = dict(zip(chosen, results, strict=True))
    for r in records:
        key = (r["sim"], r["n_new"])
        if r["refit_args"] is not None and key in answers:
            status, p_broad = answers[key]
            t = r["target"]
            r.update(status=status[t], p_broad=float(p_broad[t]), refit=True, update="refit")


def plan_measurement(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    kind: str | None = None,
    max_new: int = 5,
    simulations: int = 200,
    seed: int = SEED,
    workers: int = 2,
    scheduler: str | None = None,
    refit_sampler: dict | None = None,
    max_refits: int | None = MAX_REFITS,
    targets: list[str] | None = None,
    progress: bool = False,
    details: bool = False,
    update: str = "targeted",
    summary: pd.DataFrame | None = None,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """How many more sources of a kind would make each inconclusive target of a v2 fit decisive.

    Parameters are those of :func:`cmoc.analyses.planning.plan.plan` (``targets``: CMOCs or
    mechanisms; default: every target whose v2 status is inconclusive), and ``summary``, the
    fit's :func:`~cmoc.analyses.inference.measurement.summarize_measurement` when already
    computed (IOC: 12 s).

    Returns
    -------
    pandas.DataFrame
        :data:`PLAN_V2_COLUMNS`, one row per target and ``n_new``; empty when no target is
        inconclusive. With ``details``, also the records of every simulation, ``n`` and target
        (``status``, ``p_broad``, ``khat``, ``update``: ``full``, ``mechanism`` or ``refit``).
    """
    from .parallel import run_on_dask
    from .plan import CHUNK, UPDATES, _check_settings, _checked_kind

    _check_settings(max_new, simulations, max_refits)
    if update not in UPDATES:
        raise ValueError(f"update must be one of {', '.join(UPDATES)} (got {update!r})")
    _, sampler = fit_config(idata)
    kind = _checked_kind(evidence, kind)
    now_table = _planned(idata, evidence, targets, summary)
    if now_table.empty:
        empty = pd.DataFrame(columns=PLAN_V2_COLUMNS)
        return (empty, pd.DataFrame()) if details else empty
    now = _classifying(idata, evidence, kind, max_new)
    position = {t: i for i, t in enumerate(now.index)}
    planned = np.array([position[t] for t in now_table["target_id"]], dtype=int)
    n_draws = now.broad.shape[1]
    ess = pd.to_numeric(now_table["ess_bulk"], errors="coerce").dropna()
    r_eff = float(np.clip(ess.median() / n_draws, 1e-3, 1.0)) if len(ess) else 1.0
    post = idata["posterior"].to_dataset()
    post = post[[name for name in _POSTERIOR if name in post]]  # what the tasks read, no more
    size = min(CHUNK, simulations)
    tasks = [
        (
            chunk,
            size,
            min(size, simulations - chunk * size),
            seed,
            max_new,
            evidence,
            post,
            kind,
            now,
            planned,
            r_eff,
            update,
        )
        for chunk in range(-(-simulations // size))
    ]
    dask = {"workers": workers, "scheduler": scheduler, "progress": progress}
    results = run_on_dask(_plan_task_v2, tasks, label="plan simulations", **dask)
    records = [r for rows in results for r in rows]
    refit = refit_sampler or {
        k: sampler[k] for k in ("sampler", "chains", "draws", "tune", "target_accept")
    }
    _refit_unreliable_v2(records, evidence, kind, refit, now, max_refits, dask)
    sims = pd.DataFrame(records).drop(columns=["refit_args"])
    sims["target_id"] = [now.index[t] for t in sims.pop("target")]
    sims["unreliable"] = (sims["khat"] > KHAT_MAX) & ~sims["refit"]
    table = _plan_table_v2(sims, now_table, kind)
    return (table, sims) if details else table


def _planned(
    idata, evidence: EvidenceBase, targets: list[str] | None, summary: pd.DataFrame | None
) -> pd.DataFrame:
    """Return the targets to plan for (default: the inconclusive ones), with the fit's numbers."""
    if targets is None:
        return inconclusive_targets(idata, evidence, summary)
    from ..inference.measurement import summarize_measurement

    unknown = [t for t in targets if t not in evidence.targets.index]
    if unknown:
        raise ValueError(f"not targets of the base: {', '.join(unknown)}")
    if summary is None:
        summary = summarize_measurement(idata, evidence, links=False)
    table = summary.set_index("target_id").loc[targets]
    cols = ["target_type", "p_broad", "sources_min", "ess_bulk"]
    return table[cols].reset_index()


def _plan_table_v2(sims: pd.DataFrame, now: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Aggregate the records into :data:`PLAN_V2_COLUMNS`, one row per target and ``n_new``."""
    sims = sims.assign(
        decisive=sims["status"].isin(DECISIVE),
        affirmed=sims["status"].isin(_AFFIRMED),
        refuted=sims["status"] == Status.refuted.value,
        contested=sims["status"] == Status.contested.value,
    )
    table = (
        sims.groupby(["target_id", "n_new"], sort=False)
        .agg(
            p_decisive=("decisive", "mean"),
            p_affirmed=("affirmed", "mean"),
            p_refuted=("refuted", "mean"),
            p_contested=("contested", "mean"),
            simulations=("sim", "size"),
            refits=("refit", "sum"),
            unreliable=("unreliable", "sum"),
            khat_max=("khat", "max"),
            p_broad=("p_broad", "mean"),
        )
        .reset_index()
    )
    order = {t: i for i, t in enumerate(now["target_id"])}
    table["order"] = table["target_id"].map(order)
    table = table.sort_values(["order", "n_new"], kind="stable")
    p = table["p_decisive"]
    table["mc_se"] = np.sqrt(p * (1 - p) / table["simulations"])
    info = now.set_index("target_id")
    table["target_type"] = table["target_id"].map(info["target_type"])
    table["p_broad_now"] = table["target_id"].map(info["p_broad"]).astype(float)
    table["sources_min_now"] = table["target_id"].map(info["sources_min"]).astype(int)
    table["kind"] = kind
    table["refits"] = table["refits"].astype(int)
    table["unreliable"] = table["unreliable"].astype(int)
    return table[PLAN_V2_COLUMNS].reset_index(drop=True)
