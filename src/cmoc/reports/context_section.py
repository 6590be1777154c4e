"""The report's "for whom, in what circumstances" section, from the estimates per source kind.

One shape for the HTML and the Markdown: what the kinds differ in overall, the targets whose
breadth or direction depends on the kind (side by side), the closest of the others where none
does, and the targets a kind has no sources for.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

__all__ = ["CLOSEST", "ContextSection", "context_section", "group_sections"]

CLOSEST = 5
"""Targets listed, the most likely to differ first, when none depends on context."""


@dataclass(frozen=True)
class ContextSection:
    """What the section shows.

    Attributes
    ----------
    kinds : list of str
    overall : list of str
        Per kind, its mechanisms' median breadth, in words.
    rows : list of dict
        The targets that depend on context (or, where none does, the :data:`CLOSEST` most
        likely to): ``target_id``, ``target_type``, ``name``, per kind ``breadth`` and
        ``direction`` texts (dicts by kind), ``p_breadth``, ``p_direction``, ``p_beyond``
        (texts: ``p_beyond`` the larger of ``p_specific_*``), ``depends``, ``beyond``.
    depends : int
        How many targets depend on context.
    beyond : int
        How many of them differ beyond the kinds' overall difference.
    one_kind : dict
        Kind -> the targets only that kind's sources were coded against.
    groups : list of dict
        Per level of the sources' group paths, whether its groups can be compared: ``head``,
        ``command`` (empty where they cannot be) and ``reason``.
    level_name : str
        Of a section by group level: the level's name.
    check : ConvergenceCheck or None
        Of a section by group level: the gate's verdict on its fit.
    breadth_margin, direction_margin, odds_ratio, affirm : float
    """

    kinds: list[str]
    overall: list[str]
    rows: list[dict] = field(default_factory=list)
    depends: int = 0
    beyond: int = 0
    one_kind: dict[str, list[str]] = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)
    level_name: str = ""
    check: object = None
    breadth_margin: float = 0.1
    direction_margin: float = 0.2
    odds_ratio: float = 2.0
    affirm: float = 0.9


def _interval(mean: float, lo: float, hi: float) -> str:
    return "–" if pd.isna(mean) else f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"


def _p(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.2f}"


def _group_sentences(groups: pd.DataFrame | None) -> list[dict]:
    """Say, per level of the group paths, whether its groups can be compared.

    From :func:`cmoc.analyses.group_contexts`: ``head``, and ``command`` (where they can be)
    or ``reason`` (why not).
    """
    out = []
    for r in [] if groups is None else groups.itertuples(index=False):
        n = f"{r.groups} group{'' if r.groups == 1 else 's'}"
        plain = r.name == f"level {r.level}"
        out.append(
            {
                "head": f"level {r.level} ({n})" if plain else f"{r.name} (level {r.level}, {n})",
                "command": (
                    f"cmoc summary DIR --by group-level --level {r.level}" if r.identified else ""
                ),
                "reason": r.reason,
            }
        )
    return out


def context_section(
    frame: pd.DataFrame,
    names: dict[str, str],
    classification: dict,
    groups: pd.DataFrame | None = None,
) -> ContextSection:
    """Build the section from :func:`cmoc.analyses.context_estimates`' frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per target and kind.
    names : dict
        Mechanism id -> name.
    classification : dict
        The base's ``[classification]`` (``affirm`` and the context margins).
    groups : pandas.DataFrame, optional
        :func:`cmoc.analyses.group_contexts` of the base.

    Returns
    -------
    ContextSection
    """
    kinds = list(dict.fromkeys(frame["context"]))
    mech = frame[frame["target_type"] == "mechanism"]
    overall = []
    for kind in kinds:
        b = mech.loc[mech["context"] == kind, "breadth_mean"].dropna()
        if len(b):
            overall.append(
                f"{kind}: a mechanism's median breadth {np.median(b):.2f} "
                f"(from {b.min():.2f} to {b.max():.2f})"
            )
    per_target = frame.groupby(["target_type", "target_id"], sort=False)
    scores = per_target[["p_differs_breadth", "p_differs_direction"]].first()
    scores["best"] = scores.max(axis=1, skipna=True)
    scores["depends"] = per_target["depends_on_context"].first()
    scores["beyond"] = per_target["beyond_contexts"].first()
    scores["p_beyond"] = (
        per_target[["p_specific_breadth", "p_specific_direction"]].first().max(axis=1)
    )
    n_dep = int(scores["depends"].sum())
    chosen = (
        scores[scores["depends"]]
        if n_dep
        else scores[scores["best"].notna()].sort_values("best", ascending=False).head(CLOSEST)
    )
    if n_dep:
        chosen = chosen.sort_values("best", ascending=False, kind="stable")
    rows = []
    for (ttype, tid), score in chosen.iterrows():
        g = frame[(frame["target_type"] == ttype) & (frame["target_id"] == tid)]
        by_kind = {r.context: r for r in g.itertuples(index=False)}
        if ttype == "mechanism":
            name = names.get(tid, "")
        elif ttype == "cmoc":
            name = f"of {g['mechanism_id'].iloc[0]}"
        else:
            name = " → ".join(names.get(m, m) for m in tid.split("->"))
        rows.append(
            {
                "target_id": tid,
                "target_type": ttype,
                "name": name,
                "breadth": {
                    k: _interval(r.breadth_mean, r.breadth_lo, r.breadth_hi)
                    for k, r in by_kind.items()
                },
                "direction": {
                    k: _interval(r.direction_mean, r.direction_lo, r.direction_hi)
                    for k, r in by_kind.items()
                },
                "p_breadth": _p(score["p_differs_breadth"]),
                "p_direction": _p(score["p_differs_direction"]),
                "p_beyond": _p(score["p_beyond"]),
                "depends": bool(score["depends"]),
                "beyond": bool(score["beyond"]),
            }
        )
    one_kind: dict[str, list[str]] = {}
    targets = frame[frame["target_type"] != "link"]
    for tid, g in targets.groupby("target_id", sort=False):
        seen = g.loc[g["sources"] > 0, "context"].tolist()
        if len(seen) == 1:
            one_kind.setdefault(seen[0], []).append(str(tid))
    return ContextSection(
        kinds=kinds,
        overall=overall,
        rows=rows,
        depends=n_dep,
        beyond=int((scores["depends"] & scores["beyond"]).sum()),
        one_kind=one_kind,
        groups=_group_sentences(groups),
        breadth_margin=float(classification["context_breadth_margin"]),
        direction_margin=float(classification["context_direction_margin"]),
        odds_ratio=float(classification["context_odds_ratio"]),
        affirm=float(classification["affirm"]),
    )


def group_sections(content) -> list[tuple[int, ContextSection]]:
    """Return the section's parts by group level: (level, its :class:`ContextSection`).

    From ``content.group_context`` (the estimates per group of each level the report
    compares) with the level's name and the gate's verdict on its fit.
    """
    names = {}
    if content.context_groups is not None:
        table = content.context_groups
        names = dict(zip(table["level"], table["name"], strict=True))
    out = []
    for level, frame in sorted(content.group_context.items()):
        sec = context_section(frame, content.mechanism_names, content.classification)
        out.append(
            (
                level,
                replace(
                    sec,
                    level_name=str(names.get(level, f"level {level}")),
                    check=content.group_context_check.get(level),
                ),
            )
        )
    return out
