"""Reviewers' judgements (``judgements.csv``): overrides of a confidence component or grade.

A row names a target (a CMOC, a mechanism, or a link ``A->B`` of the theory's web), a component
(``adequacy``, ``coherence``, ``limitations``, ``relevance``) with a level of concern, or
``confidence`` with a grade, and the reviewer's reason, name and date. The report shows the
computed value, the override and its reason side by side (docs/reports.md, "GRADE-CERQual").
The row-level checks are the schema's; these need the whole base: a level of the component's
scale, a target of the theory, one judgement per target and component.
"""

from __future__ import annotations

from .base import EvidenceBase
from .links import link_table
from .problems import Problem
from .schema import CONCERN_LEVELS, GRADE_LEVELS

__all__ = ["judgement_problems"]


def judgement_problems(base: EvidenceBase) -> list[Problem]:
    """Return one problem per judgement that does not fit the base (empty when all do)."""
    frame = base.judgements
    if frame.empty:
        return []
    targets = set(base.cmocs.index) | set(base.mechanisms.index)
    links = set(link_table(base).index) if len(base.cmocs) else set()
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r in frame.itertuples(index=False):
        scale = GRADE_LEVELS if r.component == "confidence" else CONCERN_LEVELS
        if r.level not in scale:
            what = "a grade" if r.component == "confidence" else "a level of concern"
            out.append(
                Problem(
                    "judgements.csv",
                    r.line,
                    "level",
                    r.level,
                    f"{what} for {r.component}: {', '.join(scale)}",
                )
            )
        if r.target_id not in targets and r.target_id not in links:
            out.append(
                Problem(
                    "judgements.csv",
                    r.line,
                    "target_id",
                    r.target_id,
                    "a cmoc_id, a mechanism_id, or a link A->B that a CMOC expresses",
                )
            )
        key = (r.target_id, r.component)
        if key in seen:
            out.append(
                Problem(
                    "judgements.csv",
                    r.line,
                    "component",
                    r.component,
                    f"one judgement per target and component (also on line {seen[key]})",
                )
            )
        else:
            seen[key] = r.line
    return out
