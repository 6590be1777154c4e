"""A one-screen description of an evidence base (what ``cmoc validate`` prints)."""

from __future__ import annotations

import pandas as pd

from .base import EvidenceBase, group_prefixes
from .levels import band_text, level_of_band
from .nesting import nesting_lines
from .recording import recording_lines

__all__ = ["describe", "group_levels_table", "mechanism_bands"]


def group_levels_table(base: EvidenceBase) -> pd.DataFrame:
    """Count the distinct groups at each level of the group paths.

    Returns
    -------
    pandas.DataFrame
        One row per level with ``level`` (1-based), ``name`` (from ``group_levels`` in
        ``evidence.toml``, else ``level N``), ``groups`` and ``sources``.
    """
    per_level: dict[int, set[str]] = {}
    sources: dict[int, int] = {}
    for group in base.sources["group"].dropna():
        for depth, label in enumerate(group_prefixes(group), start=1):
            per_level.setdefault(depth, set()).add(label)
    for depth in per_level:
        sources[depth] = int(
            base.sources["group"].dropna().map(lambda g, d=depth: len(group_prefixes(g)) >= d).sum()
        )
    names = base.config.group_levels or []
    return pd.DataFrame(
        [
            {
                "level": d,
                "name": names[d - 1] if d <= len(names) else f"level {d}",
                "groups": len(per_level[d]),
                "sources": sources[d],
            }
            for d in sorted(per_level)
        ],
        columns=["level", "name", "groups", "sources"],
    )


def mechanism_bands(base: EvidenceBase) -> pd.DataFrame:
    """Codes supporting each mechanism per wave, as written (counts or bands) and as a level.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``mechanism_id`` with one ``codes`` and one ``level`` column per wave (MultiIndex
        columns ``(wave, codes|level)``); only rows given at wave level are shown.
    """
    cod = base.codings
    rows = cod[
        (cod["scope"] == "wave")
        & (cod["stance"] == "supports")
        & cod["target_id"].isin(base.mechanisms.index)
    ]
    out = pd.DataFrame(index=base.mechanisms.index)
    for wave in base.waves:
        w = rows[rows["source_id"] == wave].set_index("target_id")
        hi = w["count_max"].astype(object).where(w["count_max"].notna(), None)
        out[(wave, "codes")] = [
            band_text(int(w.at[m, "count_min"]), hi.get(m)) if m in w.index else ""
            for m in out.index
        ]
        out[(wave, "level")] = [
            level_of_band(int(w.at[m, "count_min"]), hi.get(m), base.config.thresholds)
            if m in w.index
            else ""
            for m in out.index
        ]
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def describe(base: EvidenceBase) -> str:
    """Describe an evidence base in plain text, one screen.

    Parameters
    ----------
    base : EvidenceBase

    Returns
    -------
    str
    """
    cfg = base.config
    lines = [f"{cfg.name}: {cfg.title}", f"  format {cfg.format}; waves: {' -> '.join(cfg.waves)}"]
    mo = base.mechanisms["origin"].value_counts()
    co = base.cmocs["origin"].value_counts()
    lines.append(
        f"mechanisms: {len(base.mechanisms)} ({mo.get('prior', 0)} prior, "
        f"{mo.get('novel', 0)} novel)"
    )
    n_rev = int(base.cmocs["revises"].notna().sum())
    lines.append(
        f"CMOCs: {len(base.cmocs)} ({co.get('prior', 0)} prior, {co.get('novel', 0)} novel; "
        f"{n_rev} revise an earlier CMOC)"
    )
    by = pd.crosstab(base.sources["kind"], base.sources["wave"]).reindex(
        columns=[w for w in cfg.waves if w in set(base.sources["wave"])]
    )
    lines.append(f"sources: {len(base.sources)} by kind and wave")
    lines.extend("  " + x for x in by.to_string().splitlines())
    levels = group_levels_table(base)
    if len(levels):
        lines.append(
            "groups: "
            + "; ".join(f"{r.name}: {r.groups} ({r.sources} sources)" for r in levels.itertuples())
        )
    cod = base.codings
    scope = cod["scope"].value_counts()
    lines.append(
        f"codings: {len(cod)} rows ({scope.get('source', 0)} per source, "
        f"{scope.get('wave', 0)} wave totals, {scope.get('group', 0)} group totals); "
        f"{int(cod['banded'].sum())} banded; "
        f"{int((cod['stance'] == 'supports').sum())} supports, "
        f"{int((cod['stance'] == 'refutes').sum())} refutes"
    )
    per_wave = base.coding_waves().value_counts()
    lines.append("  rows by wave: " + ", ".join(f"{w} {per_wave.get(w, 0)}" for w in cfg.waves))
    lines.append("refutes recorded, by source kind ([recording] of evidence.toml):")
    lines.extend("  " + x for x in recording_lines(base))
    lines.append("nesting of counts ([nesting] of evidence.toml):")
    lines.extend("  " + x for x in nesting_lines(base))
    if len(base.actions):
        lines.append(f"actions: {len(base.actions)}")
    if len(base.judgements):
        j = base.judgements
        lines.append(
            f"judgements: {len(j)} reviewer overrides of confidence ({j['reviewer'].nunique()} "
            "reviewers; judgements.csv; shown beside the computed values in the report)"
        )
    if len(base.excerpts):
        ex = base.excerpts
        lines.append(
            f"excerpts: {len(ex)} passages of {ex['target_id'].nunique()} targets from "
            f"{ex['source_id'].nunique()} sources (excerpts.csv; shown in the report)"
        )
    bands = mechanism_bands(base)
    shown = [w for w in cfg.waves if (bands[(w, "codes")] != "").any()]
    if shown:
        lines.append("mechanism evidence (supporting codes per wave, level):")
        for mid, row in bands.iterrows():
            cells = [
                f"{w} {row[(w, 'codes')]} {row[(w, 'level')]}".rstrip()
                for w in shown
                if row[(w, "codes")]
            ]
            name = str(base.mechanisms.at[mid, "name"])
            lines.append(f"  {mid} {name[:38]:<38} " + "; ".join(cells))
        for w in shown:
            counts = bands[(w, "level")].replace("", pd.NA).dropna().value_counts()
            lines.append(f"  {w}: " + ", ".join(f"{n} {lvl}" for lvl, n in sorted(counts.items())))
    return "\n".join(lines)
