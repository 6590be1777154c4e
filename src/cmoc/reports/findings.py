"""The report's opening: what the evidence supports, contests and leaves open, in sentences.

Generated from the newest wave's summary (model v2: statuses, breadth, direction; v1: support)
and the report's checks, one screen: a count per status and kind of target; the mechanisms and
links by status with their numbers; the CMOCs by status, the most widely evidenced first; then
the assumptions that drive the results, each with what it does to them in numbers: how refuting
evidence was recorded (how many targets have a direction that can be tested), whether the fit
passed its gate, prior-data conflict and statuses that move with the prior (power-scaling), and
reviewers' judgements. Every id leads to its evidence entry (:mod:`cmoc.reports.trail`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..analyses.checks.sensitivity import STATUS_ALPHAS

__all__ = ["Findings", "findings", "whatif_sentence"]

STATUS_ORDER = (
    "refuted",
    "contested",
    "affirmed",
    "revised",
    "novel",
    "inconclusive",
    "unevidenced",
)
"""The order statuses are reported in: what the evidence says against the theory first."""

LISTED = 8
"""Targets named per status and kind; the rest are counted (the tables list every one)."""

_SAYS = {
    "affirmed": "affirmed: evidenced by at least {breadth_min:.0%} of the sources coded against "
    "it (probability {affirm:g}), shown by at least {min_sources} sources, and supported where "
    "the direction was tested",
    "refuted": "refuted: evidenced, and its codes point against it",
    "contested": "contested: evidence both ways, neither clearly",
    "revised": "revised by a later CMOC",
    "novel": "novel, found in the evidence and borne out",
    "inconclusive": "inconclusive: some evidence, not enough to affirm or refute",
    "unevidenced": "unevidenced: no own evidence (pooling alone never affirms)",
}


@dataclass(frozen=True)
class Findings:
    """The opening section's content.

    Attributes
    ----------
    overview : str
        Counts per status and kind of target.
    groups : list of dict
        ``heading`` and ``items`` (dicts with ``target_id``, ``type``, ``text``): per status and
        kind of target.
    assumptions : list of str
        What drives the results, each with its effect in numbers.
    """

    overview: str
    groups: list[dict] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)


def _numbers(r, measurement: bool) -> str:
    if not measurement:
        return f"support {r.support_mean:.2f} [{r.support_lo:.2f}, {r.support_hi:.2f}]"
    text = f"breadth {r.breadth_mean:.2f} [{r.breadth_lo:.2f}, {r.breadth_hi:.2f}]"
    if str(r.direction_testable).lower() == "true" and pd.notna(r.direction_mean):
        text += f", direction {r.direction_mean:.2f} [{r.direction_lo:.2f}, {r.direction_hi:.2f}]"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s" if not noun.endswith("s") else f"{n} {noun}"


def findings(content, names: dict[tuple[str, str], str]) -> Findings:
    """Build the opening from a report's content.

    Parameters
    ----------
    content : ReportContent
    names : dict
        ``(target_type, target_id)`` -> the target in words (the evidence entries' names).

    Returns
    -------
    Findings
    """
    s = content.summary
    v2 = content.measurement
    kinds = [("mechanism", "mechanism"), ("link", "link"), ("cmoc", "CMOC")]
    parts = []
    for ttype, noun in kinds:
        mine = s[s["target_type"] == ttype]
        if mine.empty:
            continue
        counts = mine["status"].value_counts()
        said = ", ".join(
            f"{int(counts[st])} {st}" for st in STATUS_ORDER if st in counts and counts[st] > 0
        )
        parts.append(f"of {_count(len(mine), noun)}, {said}")
    overview = (
        f"After wave “{content.waves[-1]}”, " + "; ".join(parts) + "."
        if parts
        else "Nothing to report: the theory has no targets."
    )
    groups = []
    sort_by = "breadth_mean" if v2 else "support_mean"
    for ttype, noun in kinds:
        mine = s[s["target_type"] == ttype]
        for st in STATUS_ORDER:
            rows = mine[mine["status"] == st].sort_values(sort_by, ascending=False, kind="stable")
            if rows.empty:
                continue
            items = [
                {
                    "target_id": str(r.target_id),
                    "type": ttype,
                    "text": f"{names.get((ttype, r.target_id), '')} ({_numbers(r, v2)})",
                }
                for r in rows.head(LISTED).itertuples(index=False)
            ]
            more = len(rows) - len(items)
            said = _SAYS.get(st, st).format(**content.classification) if v2 else st
            heading = f"{_count(len(rows), noun)} {said}"
            if more:
                heading += f" (the {len(items)} most widely evidenced; {more} more in the tables)"
            groups.append({"heading": heading, "items": items})
    return Findings(overview, groups, _assumptions(content))


def _whatif(content) -> str:
    """Return the what-if's sentence for the findings, with where its table is."""
    text = whatif_sentence(content)
    return f" {text} (Model checks, “What the recording of refutes decides”.)" if text else ""


def whatif_sentence(content) -> str:
    """Say what reading every missing refute as none would change (the what-if refit).

    Empty when the report has no what-if (every kind records refutes, or model v1).
    """
    w = content.recording_whatif
    if w is None or not len(w):
        return ""
    n = len(w)
    testable = w[w["direction_testable_whatif"].astype(bool)]
    text = (
        "Read as none instead (the same model refitted with every kind's refutes declared "
        "recorded, as cmoc's first version read them): "
    )
    if len(testable):
        lo, hi = testable["direction_mean_whatif"].min(), testable["direction_mean_whatif"].max()
        digits = 2 if f"{lo:.2f}" != f"{hi:.2f}" else 3
        above = int((testable["direction_lo_whatif"] > 0.5).sum())
        text += (
            f"{len(testable)} of {n} directions could be tested, with means from {lo:.{digits}f} "
            f"to {hi:.{digits}f} and {above} intervals wholly above ½: refutes that nobody "
            "recorded would read as near-unanimous support; "
            if above
            else f"{len(testable)} of {n} directions could be tested (means {lo:.2f} to {hi:.2f}); "
        )
    moved = w[w["status"] != w["status_whatif"]]
    if len(moved):
        pairs = moved.groupby(["status", "status_whatif"], sort=True).size()
        said = ", ".join(f"{k} {a} → {b}" for (a, b), k in pairs.items())
        text += f"{len(moved)} of {n} statuses would change ({said})."
    else:
        text += f"no status would change (all {n} rest on breadth alike)."
    check = content.recording_whatif_check
    if check is not None and not check.passed:
        text += f" That fit did not pass its convergence gate ({check.text})."
    return text


def _assumptions(content) -> list[str]:
    """Say what drives the results, each with what it does to them in numbers."""
    s = content.summary
    out = []
    if content.measurement and "direction_testable" in s:
        testable = s["direction_testable"].astype(str).str.lower() == "true"
        rec = content.refutes_recording
        unseen = sorted(k for k, r in rec.items() if r != "recorded")
        if unseen:
            how = "; ".join(f"{k}: {rec[k]}" for k in unseen)
            n = int(testable.sum())
            effect = (
                "no target's direction can be tested: every status rests on how widely the "
                "target is evidenced alone"
                if n == 0
                else f"the direction of {n} of {len(s)} targets can be tested; every other "
                "status rests on how widely the target is evidenced alone"
            )
            out.append(
                (
                    f"Refuting evidence was not fully recorded ({how}): missing refutes are "
                    f"read as unknown, not as none, so {effect}, and reads “direction not "
                    "tested”. None can be found contested or refuted."
                    if n == 0
                    else f"Refuting evidence was not fully recorded ({how}): missing refutes "
                    f"are read as unknown, not as none, so {effect} (“direction not tested”)."
                )
                + _whatif(content)
            )
    check = content.convergence
    if not check.passed:
        out.append(
            f"The fit did not pass its convergence gate ({check.text}): its numbers are "
            "shown, but no confidence is graded."
        )
    sens = content.sensitivity
    if sens is not None and len(sens):
        conflict = int((sens["diagnosis"] == "potential prior-data conflict").sum())
        weak = int((sens["diagnosis"] == "potential strong prior / weak likelihood").sum())
        moved = (
            int(sens["status_sensitive"].astype(bool).sum()) if "status_sensitive" in sens else 0
        )
        weaker, stronger = STATUS_ALPHAS
        out.append(
            f"Priors (every prior raised to the power {weaker:g} and {stronger:g}, by "
            f"importance reweighting): {moved} of {len(sens)} statuses change; "
            f"{conflict} targets show potential prior-data conflict and {weak} a strong prior "
            "against a weak likelihood (Model checks, “Prior sensitivity”)."
        )
    if content.judgements:
        changed = sum(1 for r in content.cerqual if r.assessment != r.computed)
        out.append(
            f"{content.judgements} reviewer judgement(s) override computed confidence "
            f"(judgements.csv); {changed} finding(s) change grade by them."
        )
    return out
