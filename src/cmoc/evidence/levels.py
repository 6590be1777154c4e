"""Evidence levels (limited / moderate / significant) from code counts and bands."""

from __future__ import annotations

import math

import pandas as pd

from .schema import Thresholds

__all__ = ["LEVELS", "band_text", "level_of_band", "level_of_count", "observed_codes"]

LEVELS = ("none", "limited", "moderate", "significant")
"""Evidence levels, weakest first."""


def level_of_count(count: float, thresholds: Thresholds) -> str:
    """Return the evidence level of a code count.

    Parameters
    ----------
    count : float
        Number of codes.
    thresholds : Thresholds
        Counts at which each level starts.

    Returns
    -------
    str
        One of :data:`LEVELS`.
    """
    if count >= thresholds.significant:
        return "significant"
    if count >= thresholds.moderate:
        return "moderate"
    if count >= thresholds.limited:
        return "limited"
    return "none"


def level_of_band(lo: int, hi: int | None, thresholds: Thresholds) -> str:
    """Return the level of a band of counts ``[lo, hi]`` (``hi`` None: unbounded).

    A band that spans levels gives ``"limited-moderate"``; an unbounded band that reaches
    beyond its lowest level gives ``"at least limited"``.
    """
    low = level_of_count(lo, thresholds)
    high = level_of_count(math.inf if hi is None else hi, thresholds)
    if low == high:
        return low
    if hi is None and low == "none":
        return "unknown"
    return f"at least {low}" if hi is None else f"{low}-{high}"


def band_text(lo: int, hi: int | None) -> str:
    """Return a band as text: ``3``, ``3-4`` or ``>=5``."""
    if hi is None:
        return f">={lo}"
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _outermost(base, rows: pd.DataFrame) -> pd.DataFrame:
    """Drop the rows whose sources all lie inside another row's (the loader forbids crossings)."""
    if len(rows) < 2:
        return rows
    sources = set(base.sources.index)
    sets = [
        frozenset([sid]) if sid in sources else frozenset(base.members(sid))
        for sid in rows["source_id"]
    ]
    keep = [not any(a < b for b in sets) for a in sets]
    return rows[keep]


def observed_codes(base, stances: tuple[str, ...] = ("supports",)) -> pd.DataFrame:
    """Codes per target and wave (supporting ones by default), as known from the codings.

    Rows over disjoint sets of sources add up: exact counts as they are, a banded row by its
    bounds (an unbounded band makes the sum unbounded). A row nested inside a total over a
    group or wave (its sources a subset of the total's) is already counted in that total and
    is not added again. Targets without any row in a wave have 0 codes there.

    Parameters
    ----------
    base : EvidenceBase
    stances : tuple of str
        The stances counted: ``("supports",)`` (model v1's levels) or ``("supports",
        "refutes")``, codes of either stance (model v2's levels).

    Returns
    -------
    pandas.DataFrame
        One row per target and wave: ``target_id, wave, codes_min, codes_max`` (missing when
        unbounded), ``codes`` (as text) and ``evidence_level``.
    """
    cod = base.codings.assign(wave=base.coding_waves())
    cod = cod[cod["stance"].isin(stances)]
    rows = []
    # nesting is judged within one stance: a group's refutes are not inside a wave's supports
    grouped = {k: g for k, g in cod.groupby(["target_id", "wave", "stance"])}
    for t in base.targets.index:
        for w in base.waves:
            lo, hi = 0, 0
            for stance in stances:
                g = grouped.get((t, w, stance))
                if g is None:
                    continue
                g = _outermost(base, g)
                lo += int(g["count_min"].sum())
                hi = (
                    None
                    if hi is None or g["count_max"].isna().any()
                    else hi + int(g["count_max"].sum())
                )
            rows.append(
                {
                    "target_id": t,
                    "wave": w,
                    "codes_min": lo,
                    "codes_max": hi,
                    "codes": band_text(lo, hi),
                    "evidence_level": level_of_band(lo, hi, base.config.thresholds),
                }
            )
    out = pd.DataFrame(rows)
    out["codes_max"] = out["codes_max"].astype("Int64")
    return out
