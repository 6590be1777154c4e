"""The evidence behind each number: per CMOC, mechanism and link, the rows and codes it rests on.

One entry per target of the summary, for the report's "Evidence behind each number" (HTML:
collapsible, no JavaScript; Markdown: one subsection each). An entry lists the target's rows of
``codings.csv`` (line, source with its title or the wave or group a total is over, stance,
codes, and the row's basis, citation and note), its supporting and refuting codes per source
and wave (over every wave: lower bounds of bands; refutes of a kind that does not record them
are "not recorded", not zero), and its passages where the base has ``excerpts.csv``. A
mechanism's entry is its own rows (its CMOCs have theirs); a link's is its CMOCs' rows, each
marked for or against the link.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from ..evidence import EvidenceBase
from ..evidence.links import link_table
from ..evidence.recording import refutes_recording

__all__ = [
    "EXCERPTS_SHOWN",
    "EXCERPT_CHARS",
    "TRAIL_ROWS",
    "TrailEntry",
    "evidence_trail",
    "trail_anchor",
    "trail_anchors",
    "trail_names",
]

EXCERPTS_SHOWN = 5
"""Passages shown per entry (supporting and refuting in turn); the rest are counted."""

TRAIL_ROWS = 40
"""Rows shown per table of an entry (its codings rows, its codes per source); the rest counted."""

EXCERPT_CHARS = 600
"""A passage is cut after this many characters (with an ellipsis); excerpts.csv keeps it whole."""


@dataclass(frozen=True)
class TrailEntry:
    """One target's evidence entry.

    Attributes
    ----------
    target_id, target_type, name : str
    anchor : str
        The HTML id of the entry (:func:`trail_anchor`).
    rows : list of dict
        Its ``codings.csv`` rows: ``line``, ``source``, ``wave``, ``stance``, ``codes``,
        ``role`` (a link's: ``for`` or ``against``, with the CMOC), ``basis`` (basis, citation
        and note joined).
    per_source : list of dict
        ``source``, ``wave``, ``supports``, ``refutes`` (texts: a count, ``>= n`` where a band
        is open, ``not recorded``).
    supports, refutes : str
        Its codes over every wave, the same way.
    excerpts : list of dict
        ``source``, ``target``, ``stance``, ``text``, ``location``, ``coder``.
    n_rows, n_sources : int
        How many rows and sources there are (``rows`` and ``per_source`` hold the first
        :data:`TRAIL_ROWS`; the totals count them all).
    more_excerpts : int
        Passages of the target in ``excerpts.csv`` not shown (beyond :data:`EXCERPTS_SHOWN`).
    related : list of str
        A mechanism's CMOCs (their entries hold their rows).
    note : str
    """

    target_id: str
    target_type: str
    name: str
    anchor: str
    rows: list[dict] = field(default_factory=list)
    per_source: list[dict] = field(default_factory=list)
    supports: str = "0"
    refutes: str = "0"
    excerpts: list[dict] = field(default_factory=list)
    n_rows: int = 0
    n_sources: int = 0
    more_excerpts: int = 0
    related: list[str] = field(default_factory=list)
    note: str = ""


def trail_anchor(index: int) -> str:
    """Return the HTML id of the ``index``-th entry (ids may hold any character; this not)."""
    return f"trail-{index + 1}"


def trail_anchors(entries: list[TrailEntry]) -> dict[str, str]:
    """Map ``"<target_type>:<target_id>"`` to its entry's anchor (for links from tables)."""
    return {f"{e.target_type}:{e.target_id}": e.anchor for e in entries}


def trail_names(entries: list[TrailEntry]) -> dict[tuple[str, str], str]:
    """Map ``(target_type, target_id)`` to the target in words (a mechanism's name, ...)."""
    return {(e.target_type, e.target_id): e.name for e in entries}


def _codes(lo: int, open_: bool) -> str:
    return f">= {lo}" if open_ else str(lo)


def _band(row) -> str:
    lo = int(row.count_min)
    if pd.isna(row.count_max):
        return f">= {lo}"
    hi = int(row.count_max)
    return str(lo) if lo == hi else f"{lo}-{hi}"


class _Sources:
    """Say which source, wave and recording of refutes a coding row is about."""

    def __init__(self, base: EvidenceBase) -> None:
        self.src = base.sources
        self.recording = {k: r.refutes for k, r in refutes_recording(base).items()}

    def kinds(self, row) -> set[str]:
        src = self.src
        if row.scope == "source":
            return {src.at[row.source_id, "kind"]}
        if row.scope == "wave":
            return set(src.loc[src["wave"] == row.source_id, "kind"])
        prefix = str(row.source_id)
        groups = src["group"].fillna("")
        mine = (groups == prefix) | groups.str.startswith(prefix + "/")
        return set(src.loc[mine, "kind"])

    def label(self, row) -> tuple[str, str]:
        """Return (source, wave) of a row, in words."""
        if row.scope == "source":
            s = self.src.loc[row.source_id]
            title = next(
                (str(s[c]) for c in ("title", "citation") if c in s and pd.notna(s[c]) and s[c]),
                "",
            )
            return (f"{row.source_id}: {title}" if title else str(row.source_id)), str(s["wave"])
        if row.scope == "wave":
            return f"total over the sources of wave {row.source_id}", str(row.source_id)
        waves = sorted(set(self.src.loc[self.src["group"] == row.source_id, "wave"]))
        return f"total over group {row.source_id}", ", ".join(waves)

    def refutes_unseen(self, row) -> str:
        """Return how the refutes of a row's sources were recorded, where not fully."""
        levels = {self.recording.get(k, "recorded") for k in self.kinds(row)}
        if levels == {"not recorded"}:
            return "not recorded"
        return "partly recorded" if levels - {"recorded"} else ""


def _joined(row) -> str:
    parts = [str(getattr(row, c)) for c in ("basis", "citation", "note")]
    return "; ".join(p for p in parts if p and p not in ("nan", "None", "<NA>"))


def _entry(
    base: EvidenceBase,
    who: _Sources,
    target_id: str,
    target_type: str,
    name: str,
    index: int,
    cmocs: dict[str, str],
) -> TrailEntry:
    """Build one entry from the rows of ``cmocs`` (target id -> role, empty for its own)."""
    cod = base.codings[base.codings["target_id"].isin(list(cmocs))].sort_values("line")
    rows, tallies = [], {}
    for r in cod.itertuples(index=False):
        source, wave = who.label(r)
        role = cmocs[r.target_id]
        rows.append(
            {
                "line": int(r.line),
                "target": r.target_id,
                "source": source,
                "wave": wave,
                "stance": r.stance,
                "codes": _band(r),
                "role": role,
                "basis": _joined(r),
            }
        )
        # a CMOC against the link: its supporting codes count against the link
        stance = r.stance if role != "against" else "refutes" if r.stance == "supports" else ""
        if not stance:
            continue
        t = tallies.setdefault((source, wave), {"supports": [0, False], "refutes": [0, False]})
        t[stance][0] += int(r.count_min)
        t[stance][1] |= pd.isna(r.count_max) or int(r.count_max) > int(r.count_min)
        t.setdefault("unseen", who.refutes_unseen(r))
    per_source, total = [], {"supports": [0, False], "refutes": [0, False]}
    unseen_all = set()
    for (source, wave), t in tallies.items():
        refutes = _codes(*t["refutes"])
        if t["unseen"] and t["refutes"][0] == 0:
            refutes = t["unseen"] if t["unseen"] == "not recorded" else f">= 0 ({t['unseen']})"
            unseen_all.add(t["unseen"])
        per_source.append(
            {"source": source, "wave": wave, "supports": _codes(*t["supports"]), "refutes": refutes}
        )
        for stance in ("supports", "refutes"):
            total[stance][0] += t[stance][0]
            total[stance][1] |= t[stance][1]
    refutes = _codes(*total["refutes"])
    if unseen_all and total["refutes"][0] == 0:
        refutes = "not recorded" if unseen_all == {"not recorded"} else ">= 0 (partly recorded)"
    shown, more = _excerpts(base, list(cmocs))
    note = ""
    if not rows:
        note = "No row of codings.csv names it: every source coded against it gave it no code."
    return TrailEntry(
        target_id=target_id,
        target_type=target_type,
        name=name,
        anchor=trail_anchor(index),
        rows=rows[:TRAIL_ROWS],
        per_source=per_source[:TRAIL_ROWS],
        n_rows=len(rows),
        n_sources=len(per_source),
        supports=_codes(*total["supports"]),
        refutes=refutes,
        excerpts=shown,
        more_excerpts=more,
        note=note,
    )


def _cut(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rstrip() + " …"


def _excerpts(base: EvidenceBase, targets: list[str]) -> tuple[list[dict], int]:
    """Return the passages of ``targets`` shown (refuting ones first), and how many are not."""
    frame = base.excerpts
    mine = frame[frame["target_id"].isin(targets)]
    if mine.empty:
        return [], 0
    # refuting passages first: disconfirming evidence is the one a reader must not miss
    mine = mine.assign(_order=(mine["stance"] != "refutes")).sort_values(
        ["_order", "line"], kind="stable"
    )
    shown = [
        {
            "source": str(r.source_id),
            "target": str(r.target_id),
            "stance": str(r.stance),
            "text": _cut(str(r.text)),
            "location": "" if pd.isna(r.location) else str(r.location),
            "coder": "" if pd.isna(r.coder) else str(r.coder),
        }
        for r in mine.head(EXCERPTS_SHOWN).itertuples(index=False)
    ]
    return shown, len(mine) - len(shown)


def evidence_trail(base: EvidenceBase, links: bool = True) -> list[TrailEntry]:
    """Return one evidence entry per mechanism, CMOC and (with ``links``) link, in that order.

    Parameters
    ----------
    base : EvidenceBase
    links : bool
        Also the links of the web (model v2's targets).

    Returns
    -------
    list of TrailEntry
    """
    who = _Sources(base)
    out: list[TrailEntry] = []
    names = base.mechanisms["name"].to_dict() if "name" in base.mechanisms else {}
    for mid in base.mechanisms.index:
        entry = _entry(base, who, mid, "mechanism", str(names.get(mid, "")), len(out), {mid: ""})
        mine = base.cmocs.index[base.cmocs["mechanism_id"] == mid]
        out.append(replace(entry, related=[str(c) for c in mine]))
    for cid, c in base.cmocs.iterrows():
        name = f"{c['context']} -> {c['mechanism_id']} -> {c['outcome']} ({c['sign']})"
        out.append(_entry(base, who, cid, "cmoc", name, len(out), {cid: ""}))
    if links:
        for lid, lk in link_table(base).iterrows():
            roles = {c: "for" for c in str(lk["cmocs_for"]).split()}
            roles |= {c: "against" for c in str(lk["cmocs_against"]).split()}
            ends = (names.get(lk[end], lk[end]) for end in ("from_id", "to_id"))
            name = " -> ".join(str(x) for x in ends)
            out.append(_entry(base, who, str(lid), "link", name, len(out), roles))
    return out
