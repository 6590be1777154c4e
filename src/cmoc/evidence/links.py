"""The programme theory as a web: the links between mechanisms that CMOCs express, with signs.

A CMOC whose ``context`` or ``outcome`` is a mechanism id is an edge of the web
(``../shared/design.md``, section 3). It *expresses* the link ``A->B`` when its context is ``A``
and its mechanism ``B`` (via its context), or its mechanism is ``A`` and its outcome ``B`` (via
its outcome). Outcomes and contexts written as free text are not nodes of the web: the evidence
format gives them no ids.

Signs. A CMOC's ``sign`` is the direction of its context's effect, through its mechanism, on
its outcome: the sign of the whole chain. What that says about one link (docs/model.md, "Links"):

- context a mechanism ``A``, outcome free text: the outcome is named as what the mechanism
  produces, so the CMOC states ``sign(A->B) = sign``;
- context free text, outcome a mechanism ``B``: the sign is the free-text context's effect on
  the mechanism, times the link's; the CMOC states no sign for ``A->B`` (it evidences that the
  link exists);
- both mechanisms (``A`` through ``M`` to ``B``): ``sign(A->M) * sign(M->B) = sign``, so it
  states the sign of one link where the other's is known from other CMOCs (one pass: the
  links' signs from the CMOCs of the first kind, then these).

A link's sign is the one its ``prior`` CMOCs state (the programme theory; the most frequent,
ties to the first in ``cmocs.csv``), else the one its CMOCs state, else none. A CMOC that
states the opposite sign counts *against* the link; every other expressing CMOC counts *for* it.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from .base import EvidenceBase

__all__ = ["LINK_ARROW", "LINK_COLUMNS", "link_id", "link_table", "theory_links"]

LINK_ARROW = "->"
"""Between the two ends of a link's id: ``M02->M05``."""

LINK_COLUMNS = ["link_id", "from_id", "to_id", "sign", "cmoc_id", "via", "stated", "role"]
"""Columns of :func:`theory_links`: one row per (link, expressing CMOC)."""


def link_id(source: str, target: str) -> str:
    """Return the id of the link from ``source`` to ``target`` (``"A->B"``)."""
    return f"{source}{LINK_ARROW}{target}"


def _flip(sign: str) -> str:
    return "-" if sign == "+" else "+"


def _product(a: str, b: str) -> str:
    return "+" if a == b else "-"


def _link_signs(rows: list[dict], origin: pd.Series) -> dict[str, str]:
    """Return the sign of each link from the signs its CMOCs state (prior ones first)."""
    out: dict[str, str] = {}
    by_link: dict[str, list[dict]] = {}
    for r in rows:
        if r["stated"]:
            by_link.setdefault(r["link_id"], []).append(r)
    for link, stated in by_link.items():
        prior = [r for r in stated if origin[r["cmoc_id"]] == "prior"]
        basis = prior or stated
        counts = Counter(r["stated"] for r in basis)
        top = max(counts.values())
        out[link] = next(r["stated"] for r in basis if counts[r["stated"]] == top)
    return out


def theory_links(evidence: EvidenceBase) -> pd.DataFrame:
    """Every link the CMOCs express, one row per (link, expressing CMOC).

    Parameters
    ----------
    evidence : EvidenceBase

    Returns
    -------
    pandas.DataFrame
        :data:`LINK_COLUMNS`, links in order of their first expressing CMOC in ``cmocs.csv``:
        ``sign`` is the link's (``+``, ``-``, or empty where no CMOC states one), ``via`` is
        ``context`` or ``outcome``, ``stated`` the sign the CMOC states for the link (empty
        where it states none) and ``role`` ``for`` or ``against`` (it states the opposite sign).
    """
    mechs = set(evidence.mechanisms.index)
    cmocs = evidence.cmocs
    rows: list[dict] = []
    composite: list[tuple[int, int, str]] = []  # (context row, outcome row, sign) of A->M->B
    for cmoc, c in cmocs.iterrows():
        m, ctx, out, sign = c["mechanism_id"], c["context"], c["outcome"], c["sign"]
        ctx_m = ctx in mechs and ctx != m
        out_m = out in mechs and out != m
        first = len(rows)
        if ctx_m:
            stated = sign if not out_m else ""
            rows.append({"link_id": link_id(ctx, m), "from_id": ctx, "to_id": m,
                         "cmoc_id": cmoc, "via": "context", "stated": stated})  # fmt: skip
        if out_m:
            rows.append({"link_id": link_id(m, out), "from_id": m, "to_id": out,
                         "cmoc_id": cmoc, "via": "outcome", "stated": ""})  # fmt: skip
        if ctx_m and out_m:
            composite.append((first, first + 1, sign))
    origin = cmocs["origin"]
    signs = _link_signs(rows, origin)  # from the CMOCs that state a link's sign directly
    for a, b, sign in composite:
        known_b, known_a = signs.get(rows[b]["link_id"]), signs.get(rows[a]["link_id"])
        if known_b:
            rows[a]["stated"] = _product(sign, known_b)
        if known_a:
            rows[b]["stated"] = _product(sign, known_a)
    signs = _link_signs(rows, origin)
    for r in rows:
        r["sign"] = signs.get(r["link_id"], "")
        against = r["stated"] and r["sign"] and r["stated"] == _flip(r["sign"])
        r["role"] = "against" if against else "for"
    frame = pd.DataFrame(rows, columns=LINK_COLUMNS)
    order = {k: i for i, k in enumerate(dict.fromkeys(frame["link_id"]))}
    return frame.sort_values("link_id", key=lambda s: s.map(order), kind="stable").reset_index(
        drop=True
    )


def link_table(evidence: EvidenceBase) -> pd.DataFrame:
    """One row per link: its ends, sign, origin and the CMOCs for and against it.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``link_id``: ``from_id``, ``to_id``, ``sign``, ``origin`` (``prior`` when
        any expressing CMOC is prior, else ``novel``), ``cmocs_for`` and ``cmocs_against``
        (space-separated CMOC ids, in ``cmocs.csv`` order).
    """
    rows = theory_links(evidence)
    origin = evidence.cmocs["origin"]
    out = []
    for link, g in rows.groupby("link_id", sort=False):
        cm = g["cmoc_id"]
        out.append(
            {
                "link_id": link,
                "from_id": g["from_id"].iloc[0],
                "to_id": g["to_id"].iloc[0],
                "sign": g["sign"].iloc[0],
                "origin": "prior" if (origin[cm] == "prior").any() else "novel",
                "cmocs_for": " ".join(dict.fromkeys(cm[g["role"] == "for"])),
                "cmocs_against": " ".join(dict.fromkeys(cm[g["role"] == "against"])),
            }
        )
    cols = ["link_id", "from_id", "to_id", "sign", "origin", "cmocs_for", "cmocs_against"]
    return pd.DataFrame(out, columns=cols).set_index("link_id")
