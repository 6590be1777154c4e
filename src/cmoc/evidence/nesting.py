"""Declared nesting of counts: a CMOC's codes are also codes of its mechanism (``[nesting]``).

In many codebooks a passage coded to a CMOC is also coded to the CMOC's mechanism, and a
published evidence level of a mechanism (P3's Table 2 rows) counts every code of it, those of
the CMOCs named in the row included. ``evidence.toml`` may declare so::

    [nesting]
    cmocs_in_mechanism = true

Then a CMOC's count from a source or total can be no larger than its mechanism's count from the
same source or total (same ``source_id`` and stance): the mechanism's upper bound caps the
CMOC's band (a CMOC published only as "at least one code" in a row whose level is "limited",
1 or 2 codes, has 1 or 2), and a CMOC row whose lower bound exceeds it contradicts the
declaration (:func:`nesting_problems`, exit 2). Nothing is written: the caps are applied where
the models read the bands (:func:`nested_caps`); ``cmoc validate`` lists them
(docs/evidence-format.md, "Nesting").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .base import EvidenceBase
from .problems import Problem

__all__ = ["nested_caps", "nesting_lines", "nesting_problems", "nesting_sentence"]


def _upper(count: Any, count_max: Any) -> int | None:
    """Return a row's upper bound: its exact count, its ``count_max``, or None (unbounded)."""
    if count is not None and not pd.isna(count):
        return int(count)
    if count_max is not None and not pd.isna(count_max):
        return int(count_max)
    return None


def _mechanism_bounds(
    rows: Iterable[tuple[int, str, str, str, int | None]], mechanisms: set[str]
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """Map (source_id, mechanism, stance) to (upper bound, line) of mechanism rows with one."""
    out = {}
    for line, source_id, target_id, stance, upper in rows:
        if target_id in mechanisms and upper is not None:
            out[(source_id, target_id, stance)] = (upper, line)
    return out


def nesting_problems(rows: list[tuple[int, Any]], mechanism_of: dict[str, str]) -> list[Problem]:
    """Return the CMOC rows whose lower bound exceeds their mechanism's upper bound.

    Parameters
    ----------
    rows : list of (int, CodingRow)
        The validated rows of ``codings.csv`` with their line numbers.
    mechanism_of : dict
        CMOC id -> its mechanism id (``cmocs.csv``).

    Returns
    -------
    list of Problem
    """
    mechanisms = set(mechanism_of.values())
    bounds = _mechanism_bounds(
        (
            (line, r.source_id, r.target_id, r.stance, _upper(r.count, r.count_max))
            for line, r in rows
        ),
        mechanisms,
    )
    out = []
    for line, r in rows:
        low = r.count if r.count is not None else r.count_min
        mech = mechanism_of.get(r.target_id)
        cap = bounds.get((r.source_id, mech, r.stance)) if mech else None
        if low is not None and cap is not None and low > cap[0]:
            column = "count" if r.count is not None else "count_min"
            out.append(
                Problem(
                    "codings.csv",
                    line,
                    column,
                    str(low),
                    f"at most {cap[0]}: [nesting] cmocs_in_mechanism counts a CMOC's codes as "
                    f"its mechanism's, and codings.csv:{cap[1]} gives {mech} at most {cap[0]} "
                    f"{r.stance} codes from {r.source_id!r}",
                )
            )
    return out


def nested_caps(base: EvidenceBase) -> dict[int, tuple[int, int]]:
    """Return the CMOC rows whose band their mechanism's upper bound narrows.

    Parameters
    ----------
    base : EvidenceBase

    Returns
    -------
    dict
        ``codings.csv`` line of a CMOC row -> (its upper bound under the declaration, the line
        of the mechanism row that sets it). Empty unless ``[nesting] cmocs_in_mechanism``.
    """
    if not base.config.nesting.cmocs_in_mechanism:
        return {}
    cod = base.codings
    upper = cod["count_max"]  # an exact count's too (count_min == count_max)
    bounds = _mechanism_bounds(
        zip(
            cod["line"],
            cod["source_id"],
            cod["target_id"],
            cod["stance"],
            [None if pd.isna(u) else int(u) for u in upper],
            strict=True,
        ),
        set(base.mechanisms.index),
    )
    mechanism_of = base.cmocs["mechanism_id"]
    out = {}
    for r in cod[cod["banded"]].itertuples():
        mech = mechanism_of.get(r.target_id)
        cap = bounds.get((r.source_id, mech, r.stance)) if mech is not None else None
        if cap is not None and (pd.isna(r.count_max) or cap[0] < int(r.count_max)):
            out[int(r.line)] = cap
    return out


def nesting_lines(base: EvidenceBase) -> list[str]:
    """Return the lines describing the declaration and the bands it narrows (``cmoc validate``)."""
    if not base.config.nesting.cmocs_in_mechanism:
        return ["not declared: a CMOC's and its mechanism's counts are separate"]
    caps = nested_caps(base)
    cod = base.codings.set_index("line")
    out = [
        "a CMOC's codes are also its mechanism's ([nesting] cmocs_in_mechanism): "
        f"{len(caps)} CMOC band{'' if len(caps) == 1 else 's'} capped by the mechanism's"
    ]
    for line, (cap, mline) in sorted(caps.items()):
        r = cod.loc[line]
        was = "unbounded" if pd.isna(r["count_max"]) else f"<= {int(r['count_max'])}"
        out.append(
            f"  codings.csv:{line} {r['target_id']} {r['stance']} from {r['source_id']}: "
            f"{was} -> <= {cap} (codings.csv:{mline}, {cod.at[mline, 'target_id']})"
        )
    return out


def nesting_sentence(base: EvidenceBase) -> str:
    """Return the report's statement of the declaration and what it caps ("" if undeclared)."""
    if not base.config.nesting.cmocs_in_mechanism:
        return ""
    caps = nested_caps(base)
    target = base.codings.set_index("line")["target_id"]
    shown = ", ".join(f"{target[line]} <= {cap}" for line, (cap, _m) in sorted(caps.items()))
    return (
        "Declared in evidence.toml ([nesting]): a CMOC's codes are also codes of its mechanism, "
        f"so a mechanism's upper bound caps its CMOCs' bands from the same source or total: "
        f"{len(caps)} CMOC band{'' if len(caps) == 1 else 's'} capped"
        + (f" ({shown})." if caps else ".")
    )
