"""GRADE-CERQual tables in the standard shape, reviewers' judgements beside the computed values.

Two tables, one row per finding (a mechanism, CMOC or link of the summary): the *Summary of
Qualitative Findings* (finding, studies contributing, CERQual assessment, explanation) and the
*Evidence Profile* (finding, studies contributing, methodological limitations, coherence,
adequacy, relevance, assessment, explanation). Each component is the computed one
(:mod:`cmoc.analyses.inference.confidence`: the posterior's interval width and the evidence's
codes, sources, dissent, appraisal weights and kinds), its explanation generated from those
numbers. A reviewer's judgement (``judgements.csv``) overrides a component or the grade; the
table shows the computed value, the override and its reason side by side, and the grade is
recomputed from the components as judged unless the grade itself was judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..analyses.inference.confidence import CONCERN_TEXT, CONCERNS, UNGRADED, grade

__all__ = ["COMPONENTS", "CerqualRow", "cerqual_rows"]

COMPONENTS = ("limitations", "coherence", "adequacy", "relevance")
"""The CERQual components, in the Evidence Profile's order."""

STUDIES_SHOWN = 6
"""Contributing sources named per finding; the rest are counted."""


@dataclass(frozen=True)
class CerqualRow:
    """One finding's row of both tables.

    Attributes
    ----------
    target_id, target_type, anchor : str
        The finding's target and its evidence entry (:mod:`cmoc.reports.trail`).
    finding : str
        The finding, in words, with its numbers.
    studies : str
        The sources contributing (their codes), or totals over a wave or group.
    components : dict
        Component -> ``{"computed", "level", "why", "judged"}``: the computed level, the
        level shown (the reviewer's where judged), the numbers behind the computed one, and
        the judgement (``reason``, ``reviewer``, ``date``) or None.
    computed, assessment : str
        The computed grade, and the grade shown (judged, or recomputed from judged components).
    judged_grade : dict or None
        The judgement of the grade itself.
    explanation : str
    """

    target_id: str
    target_type: str
    anchor: str
    finding: str
    studies: str
    components: dict = field(default_factory=dict)
    computed: str = ""
    assessment: str = ""
    judged_grade: dict | None = None
    explanation: str = ""


def _why(r, component: str, measurement: bool) -> str:
    """Say the numbers behind a computed component."""
    if component == "adequacy":
        scale = "breadth" if measurement else "support"
        return (
            f"{int(r.own_codes)} {'code' if r.own_codes == 1 else 'codes'} from "
            f"{int(r.own_sources)} {'source' if r.own_sources == 1 else 'sources'} (a total "
            f"counts one); 90% interval of {scale} {r.ci90_width:.2f} wide"
        )
    if component == "coherence":
        said = (
            "no code or source points the other way"
            if r.dissent == 0 and r.dissent_sources == 0
            else f"{r.dissent:.0%} of its codes and {r.dissent_sources:.0%} of its sources point "
            "the other way"
        )
        if r.coherence != "none" and r.dissent < 0.1 and r.dissent_sources < 0.1:
            said += "; fewer than two single sources, so agreement between sources cannot be seen"
        return said
    if component == "limitations":
        return f"mean appraisal weight {r.mean_weight:.2f} of its codes"
    return f"{r.indirect_share:.0%} of its codes from kinds of partial or indirect relevance"


def _finding(r, name: str, measurement: bool) -> str:
    head = f"{r.target_id} ({name})" if name else str(r.target_id)
    if not measurement:
        return (
            f"{head}: {r.status}; support {r.support_mean:.2f} "
            f"[{r.support_lo:.2f}, {r.support_hi:.2f}]"
        )
    text = (
        f"{head}: {r.status}; evidenced by {r.breadth_mean:.2f} [{r.breadth_lo:.2f}, "
        f"{r.breadth_hi:.2f}] of the sources coded against it"
    )
    if str(r.direction_testable).lower() == "true" and pd.notna(r.direction_mean):
        return text + f"; {r.direction_mean:.2f} of its codes support it"
    return text + "; direction not tested"


def _studies(entry) -> str:
    if entry is None or not entry.per_source:
        return "none (no row of codings.csv names it)"
    shown = [
        f"{s['source']} ({s['supports']} supporting, refuting {s['refutes']})"
        for s in entry.per_source[:STUDIES_SHOWN]
    ]
    more = entry.n_sources - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def cerqual_rows(
    summary: pd.DataFrame, trail: list, judgements: pd.DataFrame, *, measurement: bool
) -> list[CerqualRow]:
    """Build both tables' rows from the summary of the newest wave.

    Parameters
    ----------
    summary : pandas.DataFrame
        The newest wave's summary (its confidence columns).
    trail : list of TrailEntry
        The evidence entries (:func:`cmoc.reports.trail.evidence_trail`): names and sources.
    judgements : pandas.DataFrame
        ``judgements.csv`` of the base.
    measurement : bool
        A model v2 summary (breadth and direction) rather than v1's support.

    Returns
    -------
    list of CerqualRow
        In the summary's order.
    """
    entries = {(e.target_type, e.target_id): e for e in trail}
    judged = {
        (j.target_id, j.component): {
            "level": j.level,
            "reason": j.reason,
            "reviewer": j.reviewer,
            "date": j.date,
        }
        for j in judgements.itertuples(index=False)
    }
    out = []
    for r in summary.itertuples(index=False):
        entry = entries.get((r.target_type, r.target_id))
        comps = {}
        for c in COMPONENTS:
            j = judged.get((r.target_id, c))
            computed = str(getattr(r, c))
            comps[c] = {
                "computed": computed,
                "level": j["level"] if j else computed,
                "why": _why(r, c, measurement),
                "judged": j,
            }
        if entry is not None and "recorded" in entry.refutes:  # "not recorded", "partly ..."
            comps["coherence"]["why"] += (
                "; refuting codes were not (fully) recorded for its sources, so disagreement "
                "may be unseen"
            )
        computed = str(r.confidence)
        j_grade = judged.get((r.target_id, "confidence"))
        if j_grade is not None:
            assessment = j_grade["level"]
        elif any(v["judged"] for v in comps.values()) and computed != UNGRADED:
            assessment = grade([v["level"] for v in comps.values()])[1]
        else:
            assessment = computed
        worst_first = sorted(comps.items(), key=lambda kv: -CONCERNS.index(kv[1]["level"]))
        concerns = [
            f"{CONCERN_TEXT[v['level']]} about {c} ({v['why']})"
            for c, v in worst_first
            if v["level"] != "none"
        ]
        clear = [c for c, v in comps.items() if v["level"] == "none"]
        explanation = (
            f"{assessment.capitalize()} confidence: "
            + ("; ".join(concerns) if concerns else "no or very minor concerns about any component")
            + (
                f"; no or very minor concerns about {', '.join(clear)}"
                if concerns and clear
                else ""
            )
            + "."
        )
        if computed == UNGRADED and j_grade is None:
            explanation = "Not graded: the fit failed its convergence gate."
        out.append(
            CerqualRow(
                target_id=str(r.target_id),
                target_type=str(r.target_type),
                anchor=entry.anchor if entry is not None else "",
                finding=_finding(r, entry.name if entry is not None else "", measurement),
                studies=_studies(entry),
                components=comps,
                computed=computed,
                assessment=assessment,
                judged_grade=j_grade,
                explanation=explanation,
            )
        )
    return out
