"""Links of the programme theory's web as targets: breadth, direction, status, level, confidence.

A link ``A->B`` (:func:`cmoc.evidence.links.theory_links`) is evidenced by the codes of the
CMOCs that express it. Its estimands are computed per posterior draw of model v2, so that their
uncertainty is the joint posterior's (docs/model.md, "Links"):

- ``breadth``: the expected share of the sources coded against any of its CMOCs that evidence at
  least one of them. Per source of kind ``k`` coded against the link's CMOCs ``T`` (those its
  wave's theory holds), ``1 - prod_m (1 - a_mk (1 - prod_{t in T, mech(t) = m} (1 - b_t)))``:
  a source evidences a CMOC of mechanism ``m`` only where ``m`` is active, and mechanisms are
  activated independently given the parameters;
- ``direction``: the share of the link's expected codes that support it, over the CMOCs whose
  own direction is testable: a CMOC *for* the link gives supporting codes ``w_t p_t`` and refuting
  ones ``w_t (1 - p_t)``; a CMOC *against* it (stating the opposite sign) gives ``w_t p_t``
  refuting codes, its refuting codes none (denying the opposite effect does not assert this
  one). ``w_t``: the CMOC's expected codes over the sources coded against it; ``p_t`` its
  kind-neutral direction;
- ``depth``: the expected codes of the link from a source that evidences it.

Statuses follow the CMOCs' rules (:func:`~cmoc.analyses.inference.measurement.status_of`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, logit

from ...evidence import EvidenceBase, level_of_count, observed_codes
from ...evidence.links import link_table, theory_links
from ...evidence.recording import refutes_recording
from ...models import ContextClasses, context_classes, measurement_data
from .confidence import (
    UNGRADED,
    _net_rows,
    adequacy_concern,
    coherence_concern,
    grade,
    limitations_concern,
    profile_of,
    relevance_concern,
)
from .draws import flat_draws
from .levels import LEVEL_COLUMNS

__all__ = ["class_draws", "fit_classes", "link_draws", "summarize_links"]


def fit_classes(idata: xr.DataTree, evidence: EvidenceBase, md) -> ContextClasses | None:
    """Return the classes (kind, group) of a fit with contexts by group level, else None."""
    post = idata["posterior"]
    if "context_common_breadth" not in post:
        return None
    labels = [str(x) for x in post["context"].values]
    level = labels[0].count("/") + 1
    cc = context_classes(evidence, dict(zip(md.data.kinds, md.recording, strict=True)), level)
    if cc.contexts != labels:
        raise ValueError("the fit's groups do not match the evidence's: refit")
    return cc


def class_draws(post: xr.DataTree, md, cc: ContextClasses | None) -> dict:
    """Per class of sources (a kind, or a kind in a group), the draws a link's sums need.

    ``b`` (S, target, class), ``a`` (S, mechanism, class), ``p`` (S, target, class),
    ``depth`` (S, target, class); ``counts`` (class, wave) -> sources; ``recorded`` (target,
    class); ``context`` per class (-1: none) and ``labels`` of the contexts.
    """
    d = md.data
    n_c = len(d.cmocs)
    breadth = flat_draws(post["breadth"])  # (S, T, K)
    logit_b = flat_draws(post["evidencing_logit"])[:, :, None]
    by_kind = "context_breadth" in post and "kind" in post["context_breadth"].dims
    if by_kind:  # evidencing varies by kind (context effects)
        logit_b = logit_b + flat_draws(post["context_breadth"])
    b = expit(np.broadcast_to(logit_b, breadth.shape))  # (S, T, K)
    a = breadth[:, n_c:, :] / b[:, n_c:, :]  # (S, M, K): a_mk = breadth(m) / b(m)
    depth = 1.0 + np.exp(
        flat_draws(post["depth_target"])[:, :, None] + flat_draws(post["kind_rate"])[:, None, :]
    )
    p = flat_draws(post["direction_kind"])  # (S, T, K)
    if cc is None:
        src_class, recorded = d.src_kind, md.recorded_codes_by_kind() > 0
        context, labels = np.arange(len(d.kinds)), list(d.kinds)
    else:
        kind, g = cc.class_kind, cc.class_context
        s_count, n_t = breadth.shape[:2]
        dev_b = np.concatenate(
            [
                flat_draws(post["context_breadth"])
                + flat_draws(post["context_common_breadth"])[:, None],
                np.zeros((s_count, n_t, 1)),
            ],
            axis=2,
        )[:, :, g]
        dev_p = np.zeros((s_count, n_t, len(cc.contexts) + 1))
        if "context_direction" in post:
            dev_p[:, :, :-1] = flat_draws(post["context_direction"])
        if "context_common_direction" in post:
            dev_p[:, :, :-1] += flat_draws(post["context_common_direction"])[:, None]
        b = expit(logit_b + dev_b)
        a, depth = a[:, :, kind], depth[:, :, kind]
        p = expit(logit(p)[:, :, kind] + dev_p[:, :, g])
        src_class, recorded = cc.md.data.src_kind, cc.md.recorded_codes_by_kind() > 0
        context, labels = g, list(cc.contexts)
    counts = (
        pd.Series(1, index=pd.MultiIndex.from_arrays([src_class, d.src_wave]))
        .groupby(level=[0, 1])
        .sum()
    )
    return {
        "b": b,
        "a": a,
        "p": p,
        "depth": depth,
        "counts": counts,
        "recorded": recorded,
        "context": np.asarray(context),
        "labels": labels,
    }


def _per_context(x: dict, md, ts: list[int], role: dict) -> tuple:
    """One link's breadth and direction draws per context, its sources and testability."""
    d = md.data
    s_count, n_g = x["b"].shape[0], len(x["labels"])
    evidenced = np.zeros((s_count, n_g))
    sources = np.zeros(n_g, dtype=np.int64)
    pro, con = np.zeros((s_count, n_g)), np.zeros((s_count, n_g))
    pro_all, con_all = np.zeros((s_count, n_g)), np.zeros((s_count, n_g))
    testable = np.zeros(n_g, dtype=bool)
    for (c, wave), n in x["counts"].items():
        g = int(x["context"][c])
        held = [t for t in ts if md.theory[wave, t]]
        if g < 0 or not held:
            continue
        none = np.ones(s_count)
        for m in sorted({int(d.target_mech[t]) for t in held}):
            quiet = np.prod([1.0 - x["b"][:, t, c] for t in held if d.target_mech[t] == m], axis=0)
            none *= 1.0 - x["a"][:, m, c] * (1.0 - quiet)
        evidenced[:, g] += n * (1.0 - none)
        sources[g] += n
        for t in held:
            w = n * x["a"][:, d.target_mech[t], c] * x["b"][:, t, c] * x["depth"][:, t, c]
            p = x["p"][:, t, c]
            up, down = (w * p, w * (1.0 - p)) if role[t] == "for" else (0.0, w * p)
            pro_all[:, g] += up
            con_all[:, g] += down
            if x["recorded"][t, c]:
                testable[g] = True
                pro[:, g] += up
                con[:, g] += down
    breadth = np.full((s_count, n_g), np.nan)
    direction = np.full((s_count, n_g), np.nan)
    on = sources > 0
    breadth[:, on] = evidenced[:, on] / sources[on]
    # where no CMOC of the link is testable in a context: pooled, never reported
    pro, con = np.where(testable, pro, pro_all), np.where(testable, con, con_all)
    direction[:, on] = pro[:, on] / (pro[:, on] + con[:, on])
    return breadth, direction, sources, testable


def link_draws(idata: xr.DataTree, evidence: EvidenceBase) -> dict:
    """Draws of each link's breadth, direction and depth.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence``.
    evidence : EvidenceBase

    Returns
    -------
    dict
        ``breadth``, ``direction``, ``depth``: DataArrays ``(chain, draw, link)``; ``testable``
        (bool per link: a CMOC of it has a testable direction; where none has, ``direction``
        is its CMOCs' pooled one, never to be reported); ``sources_min`` (ints per link, a
        lower bound from the rows); ``table`` (:func:`~cmoc.evidence.links.link_table`);
        per context (a source kind, or a group of a fit with contexts by group level),
        ``breadth_context`` and ``direction_context`` ``(chain, draw, link, context)`` (the
        same sums over the context's sources, with its CMOCs' evidencing and directions
        there), ``sources_context`` (its sources coded against the link's CMOCs) and
        ``testable_context`` (a CMOC of the link has recorded codes from it).
    """
    table = link_table(evidence)
    rows = theory_links(evidence)
    md = measurement_data(evidence, {k: r.refutes for k, r in refutes_recording(evidence).items()})
    d = md.data
    post = idata["posterior"]
    if list(post["breadth"]["kind"].values) != list(d.kinds):
        raise ValueError("the fit's source kinds do not match the evidence's: refit")
    tix = {t: i for i, t in enumerate(d.targets)}
    shape = (post.sizes["chain"], post.sizes["draw"])
    by_kind = class_draws(post, md, None)
    x = by_kind if (cc := fit_classes(idata, evidence, md)) is None else class_draws(post, md, cc)
    b, breadth = by_kind["b"], flat_draws(post["breadth"])
    p = flat_draws(post["direction"])  # (S, T)
    testable_t = (md.recorded_codes_by_kind() > 0).any(axis=1)
    sure = md.sure_sources()
    exact_src = [set() for _ in d.targets]
    for j, t in zip(md.cell_src, md.cell_tgt, strict=True):
        exact_src[int(t)].add(int(j))
    sure_bt = md.bt_lo >= 1
    s_count, n_g = breadth.shape[0], len(x["labels"])
    out = {k: np.full((s_count, len(table)), np.nan) for k in ("breadth", "direction", "depth")}
    by_ctx = {k: np.full((s_count, len(table), n_g), np.nan) for k in ("breadth", "direction")}
    sources_ctx = np.zeros((len(table), n_g), dtype=np.int64)
    testable_ctx = np.zeros((len(table), n_g), dtype=bool)
    testable = np.zeros(len(table), dtype=bool)
    sources_min = np.zeros(len(table), dtype=np.int64)
    for li, link in enumerate(table.index):
        g = rows[rows["link_id"] == link]
        ts = [tix[c] for c in dict.fromkeys(g["cmoc_id"])]
        role = {tix[c]: r for c, r in zip(g["cmoc_id"], g["role"], strict=True)}
        evidenced = np.zeros(s_count)
        coded = 0
        w = dict.fromkeys(ts, 0.0)
        for (k, wave), n in by_kind["counts"].items():
            held = [t for t in ts if md.theory[wave, t]]
            if not held:
                continue
            none = np.ones(s_count)
            for m in sorted({int(d.target_mech[t]) for t in held}):
                quiet = np.prod([1.0 - b[:, t, k] for t in held if d.target_mech[t] == m], axis=0)
                none *= 1.0 - by_kind["a"][:, m, k] * (1.0 - quiet)
            evidenced += n * (1.0 - none)
            coded += n
            for t in held:
                w[t] = w[t] + n * breadth[:, t, k] * by_kind["depth"][:, t, k]
        (
            by_ctx["breadth"][:, li],
            by_ctx["direction"][:, li],
            sources_ctx[li],
            testable_ctx[li],
        ) = _per_context(x, md, ts, role)
        if coded:
            out["breadth"][:, li] = evidenced / coded
            codes = sum(w.values())
            out["depth"][:, li] = np.divide(
                codes, evidenced, out=np.full(s_count, np.nan), where=evidenced > 0
            )
        seen = [t for t in ts if testable_t[t]]
        testable[li] = bool(seen)
        basis = seen or ts  # where none is testable: pooled, never reported
        pro = sum(w[t] * (p[:, t] if role[t] == "for" else 0.0) for t in basis)
        con = sum(w[t] * (1.0 - p[:, t] if role[t] == "for" else p[:, t]) for t in basis)
        out["direction"][:, li] = pro / (pro + con)
        # lower bounds: sources with exact codes; each CMOC's own; blocks of distinct
        # (kind, wave) are disjoint sets of sources
        union = set().union(*(exact_src[t] for t in ts))
        blocks = {
            (int(md.block_kind[md.bt_block[i]]), int(md.block_wave[md.bt_block[i]]))
            for i in np.flatnonzero(sure_bt)
            if int(md.bt_tgt[i]) in ts
        }
        sources_min[li] = max(len(union), max(int(sure[t]) for t in ts), len(blocks))

    def arr(x):
        return xr.DataArray(
            x.reshape(*shape, -1),
            dims=("chain", "draw", "link"),
            coords={"link": list(table.index)},
        )

    per_link = {"link": list(table.index), "context": x["labels"]}

    def arr_g(v):
        return xr.DataArray(
            v.reshape(*shape, *v.shape[1:]),
            dims=("chain", "draw", "link", "context"),
            coords=per_link,
        )

    return {
        "breadth": arr(out["breadth"]),
        "direction": arr(out["direction"]),
        "depth": arr(out["depth"]),
        "testable": xr.DataArray(testable, dims="link", coords={"link": list(table.index)}),
        "sources_min": sources_min,
        "table": table,
        "breadth_context": arr_g(by_ctx["breadth"]),
        "direction_context": arr_g(by_ctx["direction"]),
        "sources_context": xr.DataArray(sources_ctx, dims=("link", "context"), coords=per_link),
        "testable_context": xr.DataArray(testable_ctx, dims=("link", "context"), coords=per_link),
    }


def _link_codes(evidence: EvidenceBase, rows: pd.DataFrame) -> pd.DataFrame:
    """Per link, supporting and refuting codes so far (lower bounds): by the CMOCs' roles."""
    out = {}
    for stance in ("supports", "refutes"):
        codes = observed_codes(evidence, stances=(stance,))
        out[stance] = codes.groupby("target_id")["codes_min"].sum()
    per_cmoc = pd.DataFrame(out).fillna(0)
    res = {}
    for link, g in rows.groupby("link_id", sort=False):
        sup = ref = 0.0
        for c, role in dict(zip(g["cmoc_id"], g["role"], strict=True)).items():
            s = per_cmoc["supports"].get(c, 0.0)
            r = per_cmoc["refutes"].get(c, 0.0)
            if role == "for":
                sup, ref = sup + s, ref + r
            else:
                ref += s
        res[link] = {"supports": int(sup), "refutes": int(ref)}
    return pd.DataFrame.from_dict(res, orient="index")


def _link_levels(
    evidence: EvidenceBase,
    rows: pd.DataFrame,
    wave: str,
    level_draws: dict[str, np.ndarray],
    open_levels: set[str] = frozenset(),
) -> pd.DataFrame:
    """Per link, the codes of either stance in ``wave`` of all its CMOCs, and their level.

    A link whose CMOCs include one in ``open_levels`` (its codes not bounded from above by any
    row of its kind or mechanism) gets the level of its known codes as ``evidence_level_floor``.
    """
    known = observed_codes(evidence, stances=("supports", "refutes"))
    known = known[known["wave"] == wave].set_index("target_id")
    th = evidence.config.thresholds
    res = {}
    for link, g in rows.groupby("link_id", sort=False):
        cm = list(dict.fromkeys(g["cmoc_id"]))
        codes = int(sum(int(known["codes_min"].get(c, 0)) for c in cm))
        drawn = [level_draws[c] for c in cm if c in level_draws]
        if not drawn:
            level = level_of_count(codes, th) if codes else "none"
            res[link] = {"codes": codes, "evidence_level": level, "evidence_level_p": 1.0,
                         "evidence_level_floor": "", "expected_codes": float(codes)}  # fmt: skip
            continue
        fixed = sum(int(known["codes_min"].get(c, 0)) for c in cm if c not in level_draws)
        total = fixed + np.sum(drawn, axis=0)
        freq = pd.Series([level_of_count(x, th) for x in total]).value_counts(normalize=True)
        floor = level_of_count(codes, th) if open_levels.intersection(cm) else ""
        floor = "" if floor == "significant" else floor  # the known codes fix the level
        res[link] = {"codes": codes, "evidence_level": str(freq.index[0]),
                     "evidence_level_p": float(freq.iloc[0]), "evidence_level_floor": floor,
                     "expected_codes": float(np.mean(total))}  # fmt: skip
    return pd.DataFrame.from_dict(res, orient="index")


def _link_confidence(
    evidence: EvidenceBase, rows: pd.DataFrame, frame: pd.DataFrame, width: pd.Series,
    converged: bool,
) -> pd.DataFrame:  # fmt: skip
    """Confidence of each link from its CMOCs' rows, a CMOC against it with stances turned."""
    net = _net_rows(evidence)
    net = net[net["net"] > 0]
    th = evidence.config.thresholds
    out = {}
    for link, g in rows.groupby("link_id", sort=False):
        role = dict(zip(g["cmoc_id"], g["role"], strict=True))
        r = net[net["target_id"].isin(role)].copy()
        against = r["target_id"].map(role).eq("against")
        r = r[~(against & r["stance"].eq("refutes"))]  # denying the opposite asserts nothing
        r.loc[against, "stance"] = "refutes"
        p = frame.at[link, "p_supported"]
        verdict = "refutes" if pd.notna(p) and p < 0.5 else "supports"
        rec = profile_of(r, verdict)
        rec["ci90_width"] = float(width[link])
        rec["adequacy"] = adequacy_concern(rec["own_codes"], rec["own_sources"],
                                           rec["ci90_width"], th)  # fmt: skip
        if rec["own_codes"] > 0:
            rec["coherence"] = coherence_concern(
                rec["dissent"], rec["dissent_sources"], rec["individual_sources"]
            )
            rec["limitations"] = limitations_concern(rec["mean_weight"])
            rec["relevance"] = relevance_concern(rec["indirect_share"])
            _, g_ = grade([rec["adequacy"], rec["coherence"], rec["limitations"],
                           rec["relevance"]])  # fmt: skip
        else:
            rec["coherence"] = rec["limitations"] = rec["relevance"] = pd.NA
            g_ = "very low"
        rec["confidence"] = g_ if converged else UNGRADED
        out[link] = rec
    res = pd.DataFrame.from_dict(out, orient="index")
    res["own_sources"] = res["own_sources"].astype("Int64")
    return res


def summarize_links(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    *,
    ci: float,
    level_draws: dict[str, np.ndarray],
    converged: bool,
    columns: list[str],
    open_levels: set[str] = frozenset(),
) -> pd.DataFrame:
    """Summary rows of the links (``target_type = link``) in the columns of the targets' rows.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence``.
    evidence : EvidenceBase
    ci : float
        Probability of the equal-tailed credible intervals.
    level_draws : dict
        The CMOCs' predictive draws of their banded codes in the newest wave
        (:func:`~cmoc.analyses.inference.levels.predictive_levels`'s ``draws_out``).
    converged : bool
        Whether the fit passed the convergence gate.
    columns : list of str
        The summary's columns.
    open_levels : set of str
        CMOCs whose level above their band's floor no row of their kind or mechanism bounds
        (``evidence_level_floor`` set); a link with one of them gets a floor too.

    Returns
    -------
    pandas.DataFrame
        One row per link, in the order of :func:`~cmoc.evidence.links.theory_links`.
    """
    from .measurement import estimand_columns, first_coded, status_of  # it imports this module

    draws = link_draws(idata, evidence)
    table, rows = draws["table"], theory_links(evidence)
    th = evidence.config.classification
    frame = estimand_columns(draws, list(table.index), th, ci)
    frame["target_type"] = "link"
    frame["mechanism_id"] = ""  # a link joins two mechanisms: its ends are in its id
    frame["origin"] = table["origin"]
    frame["wave"] = evidence.waves[-1]
    codes = _link_codes(evidence, rows).reindex(frame.index).fillna(0).astype(int)
    frame["supports"], frame["refutes"] = codes["supports"], codes["refutes"]
    levels = _link_levels(evidence, rows, evidence.waves[-1], level_draws, open_levels)
    for col in LEVEL_COLUMNS:
        frame[col] = levels[col].reindex(frame.index)
    first = first_coded(evidence)
    newest = len(evidence.waves) - 1
    link_first = pd.Series(
        {link: first.reindex(g["cmoc_id"]).min() for link, g in rows.groupby("link_id")}
    )
    new = (table["origin"] == "novel") | (link_first.reindex(table.index).eq(newest) & (newest > 0))
    frame["status"] = status_of(frame, th, new)
    frame["converged"] = converged
    q = (
        draws["direction"]
        .where(draws["testable"], draws["breadth"])
        .quantile([0.05, 0.95], dim=("chain", "draw"))
    )
    width = pd.Series(q.isel(quantile=1).values - q.isel(quantile=0).values, index=frame.index)
    grades = _link_confidence(evidence, rows, frame, width, converged)
    for col in grades.columns:
        if col in columns:
            frame[col] = grades[col].reindex(frame.index)
    return frame.reset_index()[columns]
