"""Confidence per CMOC and mechanism in the spirit of GRADE-CERQual, computed from the posterior.

CERQual judges confidence in a review finding from four components: adequacy of data,
coherence, methodological limitations and relevance. Here each is a deterministic rule on the
fit and the evidence after the newest wave; the rules and thresholds are in docs/reports.md
("Confidence grade") and in the docstrings below.

The evidence behind a target (its *own* evidence): every coding row of a CMOC, and for a
mechanism the rows of the mechanism and of its CMOCs, in all waves up to the newest. Codes are
counted at their known minimum (a band's lower bound) and net of the exact rows nested inside a
total (those are subtracted from it, as in the model), so nothing is counted twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ...evidence import EvidenceBase
from ...evidence.schema import Thresholds
from ..fitting.convergence import check_convergence
from .draws import support_draws

__all__ = [
    "CONCERNS",
    "CONCERN_TEXT",
    "CONFIDENCE_COLUMNS",
    "CONFIDENCE_IN_SUMMARY",
    "GRADES",
    "UNGRADED",
    "adequacy_concern",
    "coherence_concern",
    "confidence",
    "evidence_profile",
    "grade",
    "limitations_concern",
    "relevance_concern",
]

CONCERNS = ("none", "minor", "moderate", "serious")
"""Concern levels of a component, least first (short labels; see :data:`CONCERN_TEXT`)."""

CONCERN_TEXT = {
    "none": "no or very minor concerns",
    "minor": "minor concerns",
    "moderate": "moderate concerns",
    "serious": "serious concerns",
}
"""CERQual's wording of each concern level."""

GRADES = ("high", "moderate", "low", "very low")
"""CERQual's confidence levels, highest first."""

UNGRADED = "ungraded"
"""The ``confidence`` of every target when the fit failed the convergence gate."""

CONFIDENCE_COLUMNS = [
    "target_id",
    "target_type",
    "verdict",
    "own_codes",
    "own_sources",
    "ci90_width",
    "adequacy",
    "dissent",
    "dissent_sources",
    "coherence",
    "mean_weight",
    "limitations",
    "indirect_share",
    "relevance",
    "concern_points",
    "confidence",
]

CONFIDENCE_IN_SUMMARY = [
    "own_codes",
    "own_sources",
    "ci90_width",
    "dissent",
    "dissent_sources",
    "mean_weight",
    "indirect_share",
    "adequacy",
    "coherence",
    "limitations",
    "relevance",
    "confidence",
]
"""The columns a summary (of model v1 or v2) takes from :func:`confidence`, in its order."""

_RELEVANCE_SCORE = {"direct": 0.0, "partial": 0.5, "indirect": 1.0}


def _worst(*levels: str) -> str:
    return max(levels, key=CONCERNS.index)


def adequacy_concern(codes: float, sources: int, width: float, thresholds: Thresholds) -> str:
    """Concerns about the adequacy (amount) of the evidence behind a target.

    The worst of two, with ``limited``, ``moderate``, ``significant`` the evidence-level
    thresholds of ``evidence.toml`` (1, 3, 5 by default):

    - the data: serious with no own codes or fewer than ``limited``, or with fewer than
      ``moderate`` codes all from one contributing source; moderate with fewer than
      ``moderate`` codes or one source; minor with fewer than ``significant`` codes or two
      sources; none otherwise. A contributing
      source is a distinct coding-row ``source_id`` with codes: a total over a wave or group
      counts as one, since it shows at least one source;
    - the posterior: the width of the 90% credible interval of support, >= 0.6 serious,
      >= 0.4 moderate, >= 0.25 minor, else none.

    Parameters
    ----------
    codes : float
        Own codes of the target.
    sources : int
        Contributing sources (distinct coding-row ``source_id`` labels with codes).
    width : float
        ``support_hi - support_lo`` of the 90% equal-tailed interval.
    thresholds : Thresholds
        The evidence-level thresholds.

    Returns
    -------
    str
        One of :data:`CONCERNS`.
    """
    if codes <= 0 or codes < thresholds.limited or (codes < thresholds.moderate and sources <= 1):
        by_data = "serious"
    elif codes < thresholds.moderate or sources <= 1:
        by_data = "moderate"
    elif codes < thresholds.significant or sources <= 2:
        by_data = "minor"
    else:
        by_data = "none"
    if width >= 0.6:
        by_width = "serious"
    elif width >= 0.4:
        by_width = "moderate"
    elif width >= 0.25:
        by_width = "minor"
    else:
        by_width = "none"
    return _worst(by_data, by_width)


def coherence_concern(dissent: float, dissent_sources: float, individual_sources: int) -> str:
    """Concerns about coherence: how consistently the evidence points the verdict's way.

    From the larger of the two dissent shares: < 0.1 none, < 0.25 minor, < 0.4 moderate, else
    serious. When fewer than two individual sources (rows of one source, not totals) contribute,
    agreement between sources cannot be seen (a total hides its sources' disagreement, and a
    stance without a row counts 0): then at least minor concerns.

    Parameters
    ----------
    dissent : float
        Share of the own codes whose stance opposes the verdict.
    dissent_sources : float
        Share of the contributing sources whose net stance opposes the verdict (a tie counts
        one half).
    individual_sources : int
        Contributing sources that are single sources rather than totals.

    Returns
    -------
    str
        One of :data:`CONCERNS`.
    """
    d = max(dissent, dissent_sources)
    if d >= 0.4:
        level = "serious"
    elif d >= 0.25:
        level = "moderate"
    elif d >= 0.1:
        level = "minor"
    else:
        level = "none"
    return _worst(level, "minor") if individual_sources < 2 else level


def limitations_concern(mean_weight: float) -> str:
    """Concerns about methodological limitations from the mean appraisal weight.

    ``mean_weight`` is the code-weighted mean ``weight`` (``sources.csv``, default 1) of the
    codes agreeing with the verdict: >= 0.9 none, >= 0.75 minor, >= 0.5 moderate, else serious.
    """
    if mean_weight >= 0.9:
        return "none"
    if mean_weight >= 0.75:
        return "minor"
    if mean_weight >= 0.5:
        return "moderate"
    return "serious"


def relevance_concern(indirect_share: float) -> str:
    """Concerns about relevance from the share of codes from partial or indirect kinds.

    ``indirect_share`` is the code-weighted mean of 0 (direct kind), 1/2 (partial) and 1
    (indirect) over the codes agreeing with the verdict (kinds from ``[confidence]`` in
    ``evidence.toml``): < 0.15 none, < 0.35 minor, < 0.6 moderate, else serious.
    """
    if indirect_share >= 0.6:
        return "serious"
    if indirect_share >= 0.35:
        return "moderate"
    if indirect_share >= 0.15:
        return "minor"
    return "none"


def grade(concerns: list[str] | tuple[str, ...]) -> tuple[int, str]:
    """Combine component concerns into CERQual's confidence.

    Points: none 0, minor 1, moderate 2, serious 3, summed; 0-1 high, 2-3 moderate, 4-5 low,
    6 or more very low; a component with serious concerns caps the grade at low.

    Parameters
    ----------
    concerns : sequence of str
        The components' levels (:data:`CONCERNS`).

    Returns
    -------
    (int, str)
        The points and the grade (:data:`GRADES`).
    """
    points = sum(CONCERNS.index(c) for c in concerns)
    if points <= 1:
        g = "high"
    elif points <= 3:
        g = "moderate"
    elif points <= 5:
        g = "low"
    else:
        g = "very low"
    if "serious" in concerns and GRADES.index(g) < GRADES.index("low"):
        g = "low"
    return points, g


def _net_rows(evidence: EvidenceBase) -> pd.DataFrame:
    """Each coding row's codes net of the exact rows nested inside it, with weight and kind.

    Returns one row per coding row: ``target_id, stance, label, individual, net, weight,
    relevance`` (0 direct, 1/2 partial, 1 indirect: the mean over the row's sources).
    """
    cod = evidence.codings
    src = evidence.sources
    kinds = evidence.config.confidence
    score = {k: _RELEVANCE_SCORE[kinds.relevance_of(k)] for k in set(src["kind"])}
    is_source = cod["source_id"].isin(src.index).to_numpy()
    # a single source's row: its own codes, weight and kind
    own = cod.loc[is_source, ["target_id", "stance", "source_id", "count_min"]]
    out = pd.DataFrame(
        {
            "target_id": own["target_id"],
            "stance": own["stance"],
            "label": own["source_id"],
            "individual": True,
            "net": own["count_min"].astype(float),
            "weight": own["source_id"].map(src["weight"]).astype(float),
            "relevance": own["source_id"].map(src["kind"]).map(score).astype(float),
        }
    )
    # a total over a wave or group: net of the exact rows nested inside it
    totals = []
    members = {label: frozenset(evidence.members(label)) for label in set(cod["source_id"])}
    for i in np.flatnonzero(~is_source):
        i = cod.index[i]
        label, target, stance = cod.at[i, "source_id"], cod.at[i, "target_id"], cod.at[i, "stance"]
        mine = members[label]
        same = cod[(cod["target_id"] == target) & (cod["stance"] == stance)]
        inner: dict[frozenset, int] = {}  # member set -> codes (equal sets: the outer row)
        for j, r in same.iterrows():
            theirs = members[r["source_id"]]
            if j != i and theirs <= mine and (r["source_id"] in src.index or theirs != mine):
                inner[theirs] = max(inner.get(theirs, 0), int(r["count_min"]))
        maximal = [m for m in inner if not any(m < m2 for m2 in inner)]
        taken = frozenset().union(*maximal) if maximal else frozenset()
        rest = [m for m in evidence.members(label) if m not in taken] or list(mine)
        totals.append(
            {
                "row": i,
                "target_id": target,
                "stance": stance,
                "label": label,
                "individual": False,
                "net": float(max(int(cod.at[i, "count_min"]) - sum(inner[m] for m in maximal), 0)),
                "weight": float(src.loc[rest, "weight"].mean()),
                "relevance": float(np.mean([score[k] for k in src.loc[rest, "kind"]])),
            }
        )
    if totals:
        out = pd.concat([out, pd.DataFrame(totals).set_index("row")])
    out.index.name = "row"
    return out.sort_index()


def evidence_profile(evidence: EvidenceBase, p_supported: pd.Series) -> pd.DataFrame:
    """Return the data behind the coherence, limitations and relevance of each target.

    Parameters
    ----------
    evidence : EvidenceBase
    p_supported : pandas.Series
        ``P(support > 1/2)`` per target id; the verdict is ``supports`` when it is at least 1/2,
        else ``refutes``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``target_id`` (the index of ``p_supported``): ``verdict``, ``own_codes``,
        ``own_sources`` (distinct ``source_id`` labels with codes), ``individual_sources``
        (those that are single sources), ``dissent`` (share of the codes against the verdict),
        ``dissent_sources`` (share of the sources whose net stance is against it, ties 1/2),
        ``mean_weight`` and ``indirect_share`` (over the codes agreeing with the verdict, or all
        codes when none agree). Shares are missing where there are no own codes.
    """
    rows = _net_rows(evidence)
    rows = rows[rows["net"] > 0]
    targets = evidence.targets
    cmoc_mech = evidence.cmocs["mechanism_id"]
    out = []
    for t, p in p_supported.items():
        if targets.at[t, "target_type"] == "mechanism":
            covered = {t} | set(cmoc_mech.index[cmoc_mech == t])
        else:
            covered = {t}
        r = rows[rows["target_id"].isin(covered)]
        out.append({"target_id": t, **profile_of(r, "supports" if p >= 0.5 else "refutes")})
    return pd.DataFrame(out).set_index("target_id")


def profile_of(r: pd.DataFrame, verdict: str) -> dict:
    """Return the numbers behind coherence, limitations and relevance of a target's rows.

    Parameters
    ----------
    r : pandas.DataFrame
        Its rows of :func:`_net_rows` with codes (``net > 0``).
    verdict : {"supports", "refutes"}

    Returns
    -------
    dict
        The columns of :func:`evidence_profile` but ``target_id``.
    """
    codes = float(r["net"].sum())
    rec = {
        "verdict": verdict,
        "own_codes": codes,
        "own_sources": int(r["label"].nunique()),
        "individual_sources": int(r.loc[r["individual"], "label"].nunique()),
        "dissent": np.nan,
        "dissent_sources": np.nan,
        "mean_weight": np.nan,
        "indirect_share": np.nan,
    }
    if codes > 0:
        signed = r["net"].where(r["stance"] == verdict, -r["net"])
        by_label = signed.groupby(r["label"]).sum()
        rec["dissent"] = float(r.loc[r["stance"] != verdict, "net"].sum() / codes)
        rec["dissent_sources"] = float(
            ((by_label < 0).sum() + 0.5 * (by_label == 0).sum()) / len(by_label)
        )
        agree = r[r["stance"] == verdict]
        basis = agree if agree["net"].sum() > 0 else r
        n = basis["net"]
        rec["mean_weight"] = float((n * basis["weight"]).sum() / n.sum())
        rec["indirect_share"] = float((n * basis["relevance"]).sum() / n.sum())
    return rec


def confidence(
    idata: xr.DataTree, evidence: EvidenceBase, summary: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Confidence per CMOC and mechanism after the newest wave, with its four components.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence``.
    evidence : EvidenceBase
        The evidence the fit was made from.
    summary : pandas.DataFrame, optional
        :func:`cmoc.analyses.summarize` of the fit: its ``p_supported`` and ``converged`` are
        reused (otherwise computed here).

    Returns
    -------
    pandas.DataFrame
        :data:`CONFIDENCE_COLUMNS`, one row per target (CMOCs then mechanisms): the verdict
        (the direction of the posterior, ``supports`` when ``P(support > 1/2) >= 1/2``), the
        numbers behind each component, the components (:data:`CONCERNS`; missing for coherence,
        limitations and relevance when there are no own codes), ``concern_points`` and
        ``confidence`` (:data:`GRADES`; ``very low`` without own codes; :data:`UNGRADED` for
        every target when the fit failed the convergence gate).

        Of a model v2 fit, the posterior part of adequacy reads the 90% interval of the
        direction where it is testable and of the breadth where it is not, and the verdict is
        ``supports`` where the direction is not testable (the codes seen cannot say otherwise).
    """
    from .measurement import is_measurement_fit, measurement_draws  # it imports this module

    dims = ("chain", "draw")
    s = None if summary is None else summary.set_index("target_id")
    if is_measurement_fit(idata):
        m = measurement_draws(idata, evidence)
        draws = m["direction"].where(m["testable"], m["breadth"])
        p_supported = pd.Series(
            np.where(m["testable"].values, (m["direction"] > 0.5).mean(dims).values, 1.0),
            index=draws["target"].values,
        )
    else:
        draws = support_draws(idata)
        p_supported = (
            pd.Series((draws > 0.5).mean(dims).values, index=draws["target"].values)
            if s is None
            else s["p_supported"].reindex(draws["target"].values)
        )
    q = draws.quantile([0.05, 0.95], dim=dims)
    width = pd.Series(
        q.isel(quantile=1).values - q.isel(quantile=0).values, index=draws["target"].values
    )
    converged = check_convergence(idata).passed if s is None else bool(s["converged"].all())
    prof = evidence_profile(evidence, p_supported)
    thresholds = evidence.config.thresholds
    rows = []
    for t, r in prof.iterrows():
        rec = {
            "target_id": t,
            "target_type": evidence.targets.at[t, "target_type"],
            "verdict": r["verdict"],
            "own_codes": r["own_codes"],
            "own_sources": r["own_sources"],
            "ci90_width": float(width[t]),
            "dissent": r["dissent"],
            "dissent_sources": r["dissent_sources"],
            "mean_weight": r["mean_weight"],
            "indirect_share": r["indirect_share"],
        }
        rec["adequacy"] = adequacy_concern(
            r["own_codes"], r["own_sources"], rec["ci90_width"], thresholds
        )
        if r["own_codes"] > 0:
            rec["coherence"] = coherence_concern(
                r["dissent"], r["dissent_sources"], r["individual_sources"]
            )
            rec["limitations"] = limitations_concern(r["mean_weight"])
            rec["relevance"] = relevance_concern(r["indirect_share"])
            points, g = grade(
                [rec["adequacy"], rec["coherence"], rec["limitations"], rec["relevance"]]
            )
        else:
            rec["coherence"] = rec["limitations"] = rec["relevance"] = pd.NA
            points, g = CONCERNS.index(rec["adequacy"]), "very low"
        rec["concern_points"] = points
        rec["confidence"] = g if converged else UNGRADED
        rows.append(rec)
    out = pd.DataFrame(rows, columns=CONFIDENCE_COLUMNS)
    out["own_sources"] = out["own_sources"].astype("Int64")
    out["concern_points"] = out["concern_points"].astype("Int64")
    return out
