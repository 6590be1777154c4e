"""Which RAMESES reporting items this report serves, where, and which it leaves to the authors.

RAMESES II (Wong et al., 2016: 20 items for realist evaluations) and RAMESES I (Wong et al.,
2013: 19 items for realist syntheses). A report of cmoc serves the items its numbers can: the
programme theory, the analysis, the findings and their summary, the audit trail from every
number to its rows and passages, the strengths and limitations its checks measure. The rest
(title, abstract, rationale, ethics, searching, recruitment, funding, ...) are the authors'.
An item is said to be served only by sections the report holds (``sections``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RAMESES_I", "RAMESES_II", "RamesesItem", "rameses_rows", "report_sections"]


@dataclass(frozen=True)
class RamesesItem:
    """One reporting item: its standard, number, name, and how the report serves it.

    ``sections``: the report's section ids (HTML anchors) that serve it, in order; empty when it
    is left to the authors. ``how``: what they give, or what the authors must add.
    """

    standard: str
    number: int
    item: str
    sections: tuple[str, ...]
    how: str


_EVAL = "RAMESES II"
_SYN = "RAMESES I"

RAMESES_II = (
    RamesesItem(_EVAL, 1, "Title", (), "the authors'"),
    RamesesItem(
        _EVAL,
        2,
        "Summary or abstract",
        (),
        "the authors' (the report's summary of findings can feed it)",
    ),
    RamesesItem(_EVAL, 3, "Rationale for evaluation", (), "the authors'"),
    RamesesItem(
        _EVAL,
        4,
        "Programme theory",
        ("theory", "mechanisms", "cmocs"),
        "the initial theory as coded (mechanisms, CMOCs, links between mechanisms), "
        "drawn as a web, and how it fared",
    ),
    RamesesItem(_EVAL, 5, "Evaluation questions, objectives and focus", (), "the authors'"),
    RamesesItem(_EVAL, 6, "Ethical approval", (), "the authors'"),
    RamesesItem(_EVAL, 7, "Rationale for using realist evaluation", (), "the authors'"),
    RamesesItem(_EVAL, 8, "Environment surrounding the evaluation", (), "the authors'"),
    RamesesItem(_EVAL, 9, "Describe the programme evaluated", (), "the authors'"),
    RamesesItem(
        _EVAL,
        10,
        "Describe and justify the evaluation design",
        ("evidence", "waves"),
        "in part: the waves of evidence and what each changed; the design's "
        "justification is the authors'",
    ),
    RamesesItem(
        _EVAL,
        11,
        "Data collection methods",
        ("evidence",),
        "in part: the sources by kind and wave and whether refuting evidence was "
        "recorded; how data were collected is the authors'",
    ),
    RamesesItem(
        _EVAL,
        12,
        "Recruitment process and sampling strategy",
        ("plan",),
        "in part: which further sources would settle the open findings; recruitment "
        "is the authors'",
    ),
    RamesesItem(
        _EVAL,
        13,
        "Data analysis",
        ("methods", "trail", "checks"),
        "the model, priors and sampler as run, every number's rows and passages, and "
        "the checks of the fit",
    ),
    RamesesItem(
        _EVAL,
        14,
        "Details of participants",
        ("evidence",),
        "in part: sources by kind, wave and group; who they were is the authors'",
    ),
    RamesesItem(
        _EVAL,
        15,
        "Main findings",
        ("mechanisms", "cmocs", "theory", "for-whom"),
        "each mechanism, CMOC and link: how widely evidenced, whether its sources "
        "agree, its status, for whom and in what circumstances",
    ),
    RamesesItem(
        _EVAL,
        16,
        "Summary of findings",
        ("findings", "cerqual"),
        "the findings in sentences with their numbers, and the Summary of Qualitative Findings "
        "with CERQual confidence",
    ),
    RamesesItem(_EVAL, 17, "Comparison with existing literature", (), "the authors'"),
    RamesesItem(
        _EVAL,
        18,
        "Strengths, limitations and future directions",
        ("cerqual", "checks", "recording-whatif", "plan"),
        "confidence components, model checks (convergence, predictive, sensitivity, "
        "calibration), what the recording of refutes decides (a what-if refit) and the "
        "sources that would settle open findings",
    ),
    RamesesItem(
        _EVAL,
        19,
        "Conclusion and recommendations",
        ("actions",),
        "in part: action statements with the evidence they rest on; the conclusion is the authors'",
    ),
    RamesesItem(_EVAL, 20, "Funding and conflict of interest", (), "the authors'"),
)
"""RAMESES II, realist evaluations: the 20 items."""

RAMESES_I = (
    RamesesItem(_SYN, 1, "Title", (), "the authors'"),
    RamesesItem(_SYN, 2, "Abstract", (), "the authors'"),
    RamesesItem(_SYN, 3, "Rationale for review", (), "the authors'"),
    RamesesItem(_SYN, 4, "Objectives and focus of review", (), "the authors'"),
    RamesesItem(
        _SYN,
        5,
        "Changes in the review process",
        ("waves",),
        "in part: what each wave of evidence changed; changes of protocol are the authors'",
    ),
    RamesesItem(_SYN, 6, "Rationale for using realist synthesis", (), "the authors'"),
    RamesesItem(_SYN, 7, "Scoping the literature", (), "the authors'"),
    RamesesItem(_SYN, 8, "Searching processes", (), "the authors'"),
    RamesesItem(
        _SYN,
        9,
        "Selection and appraisal of documents",
        ("cerqual",),
        "in part: appraisal weights enter the methodological limitations component; "
        "selection is the authors'",
    ),
    RamesesItem(
        _SYN,
        10,
        "Data extraction",
        ("trail",),
        "every coding row, with its source, codes and passages",
    ),
    RamesesItem(
        _SYN,
        11,
        "Analysis and synthesis processes",
        ("methods", "checks"),
        "the model of how codes arise, as run, and its checks",
    ),
    RamesesItem(_SYN, 12, "Document flow diagram", (), "the authors'"),
    RamesesItem(
        _SYN,
        13,
        "Document characteristics",
        ("evidence", "trail"),
        "in part: documents by kind and wave, with titles; their characteristics are the authors'",
    ),
    RamesesItem(
        _SYN,
        14,
        "Main findings",
        ("mechanisms", "cmocs", "theory", "for-whom"),
        "each mechanism, CMOC and link with its breadth, direction and status",
    ),
    RamesesItem(
        _SYN,
        15,
        "Summary of findings",
        ("findings", "cerqual"),
        "the findings in sentences with their numbers, and the Summary of Qualitative Findings "
        "with CERQual confidence",
    ),
    RamesesItem(
        _SYN,
        16,
        "Strengths, limitations and future research directions",
        ("cerqual", "checks", "recording-whatif", "plan"),
        "confidence components, model checks, what the recording of refutes decides and the "
        "sources that would settle open findings",
    ),
    RamesesItem(_SYN, 17, "Comparison with existing literature", (), "the authors'"),
    RamesesItem(
        _SYN,
        18,
        "Conclusion and recommendations",
        ("actions",),
        "in part: action statements with the evidence they rest on",
    ),
    RamesesItem(_SYN, 19, "Funding", (), "the authors'"),
)
"""RAMESES I, realist syntheses: the 19 items."""

_TITLES = {
    "theory": "The programme theory",
    "mechanisms": "Mechanisms",
    "cmocs": "CMOCs",
    "evidence": "The evidence",
    "waves": "What each wave changed",
    "plan": "Planning the next sources",
    "methods": "Methods",
    "findings": "Findings",
    "trail": "Evidence behind each number",
    "checks": "Model checks",
    "for-whom": "For whom, in what circumstances",
    "cerqual": "Confidence in each finding",
    "recording-whatif": "What the recording of refutes decides",
    "actions": "Action statements",
}


def rameses_rows(sections: set[str]) -> list[dict]:
    """Return one row per item of both standards, served by the ``sections`` present.

    Parameters
    ----------
    sections : set of str
        Section ids the report holds.

    Returns
    -------
    list of dict
        ``standard``, ``number``, ``item``, ``served`` (list of ``(id, title)``), ``how``
        (``"the authors'"`` where no section present serves it).
    """
    out = []
    for it in (*RAMESES_II, *RAMESES_I):
        served = [(s, _TITLES[s]) for s in it.sections if s in sections]
        out.append(
            {
                "standard": it.standard,
                "number": it.number,
                "item": it.item,
                "served": served,
                "how": it.how if served else "the authors'",
            }
        )
    return out


def report_sections(content) -> set[str]:
    """Return the ids of the sections a report of ``content`` holds (HTML and Markdown)."""
    out = {"findings", "methods", "evidence", "theory", "mechanisms", "cmocs", "plan", "checks"}
    if content.changes is not None:
        out.add("waves")
    if len(content.actions):
        out.add("actions")
    if content.trail:
        out.add("trail")
    if content.cerqual:
        out.add("cerqual")
    if content.context is not None:
        out.add("for-whom")
    if getattr(content, "recording_whatif", None) is not None:
        out.add("recording-whatif")
    return out
