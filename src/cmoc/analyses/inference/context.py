"""For whom, in what circumstances: each target's breadth and direction per source kind or group.

Read from a fit of model v2 with context effects (``ModelConfig(context="kind")``: per target,
a partly pooled deviation of its evidencing and direction log-odds per source kind; docs/model.md,
"Context dependence"). For every CMOC, mechanism and link and every kind:

- ``breadth``: the expected share of the kind's sources coded against the target that evidence
  it; shown only where the kind has such sources;
- ``direction``: the share of its codes from that kind that support it; shown only where the
  kind records refutes and the target has recorded codes of its own from it (a mechanism's
  direction per kind is not modelled: its CMOCs' are);
- ``p_differs_breadth`` and ``p_differs_direction`` (per target): the posterior probability that
  the largest and the smallest of the shown values differ by more than
  ``[classification] context_breadth_margin`` (or ``context_direction_margin``), computed per
  draw; empty where fewer than two kinds are shown;
- ``depends_on_context``: either probability at least ``[classification] affirm``;
- ``p_specific_breadth`` and ``p_specific_direction``: the same comparison made on the target's
  own deviations only (``context_breadth``, ``context_direction`` of the model: what is left when
  every target's common difference between the kinds is taken out), with the margin
  ``log [classification] context_odds_ratio`` on the log-odds scale; a mechanism's deviation is
  the mean of its targets', a link's the mean of its CMOCs' (turned for a CMOC against it);
- ``beyond_contexts``: either at least ``affirm``: the target differs between the kinds more than
  the kinds differ overall.

The kinds' own differences (a kind's sources engaging every mechanism more, or leaning one way)
are part of each kind's estimate, as they are of the data; ``beyond_contexts`` says whether a
target's difference is more than theirs.

A fit with contexts by group level (``context="group:N"``) gives the same per group at that
level (``context_by`` ``"group level N"``): a group's breadth averages its sources' kinds'
activation, its direction its sources of kinds that record refutes (docs/model.md, "By group
level"). :func:`group_contexts` says per level whether the data identify its groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ...evidence import EvidenceBase, group_levels_table
from ...evidence.links import theory_links
from ...evidence.recording import refutes_recording
from ...models import NotIdentified, context_classes, measurement_data
from .links import class_draws, fit_classes, link_draws

__all__ = [
    "CONTEXT_COLUMNS",
    "REPORT_MAX_GROUPS",
    "ContextError",
    "context_estimates",
    "group_contexts",
    "is_context_fit",
    "report_group_levels",
]

REPORT_MAX_GROUPS = 6
"""The report compares the groups of a level side by side up to this many (more: the command)."""

CONTEXT_COLUMNS = [
    "target_id",
    "target_type",
    "mechanism_id",
    "wave",
    "context_by",
    "context",
    "sources",
    "breadth_mean",
    "breadth_lo",
    "breadth_hi",
    "direction_identified",
    "direction_mean",
    "direction_lo",
    "direction_hi",
    "p_differs_breadth",
    "p_differs_direction",
    "depends_on_context",
    "p_specific_breadth",
    "p_specific_direction",
    "beyond_contexts",
    "note",
]
"""Columns of :func:`context_estimates`: one row per target and source kind."""


class ContextError(ValueError):
    """The fit has no context effects (it is not a fit of ``context="kind"``)."""


def is_context_fit(idata: xr.DataTree) -> bool:
    """Whether ``idata`` is a model v2 fit with per-(target, kind) deviations."""
    return "posterior" in idata and "context_breadth" in idata["posterior"]


def _p_differs(x: np.ndarray, shown: np.ndarray, margin: float) -> np.ndarray:
    """Per row, ``P(max_k x - min_k x > margin)`` over the shown kinds (NaN below two).

    ``x``: draws ``(S, rows, K)``; ``shown``: ``(rows, K)`` bool.
    """
    out = np.full(x.shape[1], np.nan)
    for i in np.flatnonzero(shown.sum(axis=1) >= 2):
        v = x[:, i, shown[i]]
        out[i] = float(np.mean(v.max(axis=1) - v.min(axis=1) > margin))
    return out


def _flat(x: xr.DataArray) -> np.ndarray:
    return x.stack(s=("chain", "draw")).transpose("s", ...).values


def _target_parts(idata: xr.DataTree, evidence: EvidenceBase) -> dict:
    """Draws ``(S, target, context)`` and masks of the CMOCs and mechanisms."""
    recording = {k: r.refutes for k, r in refutes_recording(evidence).items()}
    md = measurement_data(evidence, recording)
    d = md.data
    post = idata["posterior"]
    n_c = len(d.cmocs)
    cc = fit_classes(idata, evidence, md)
    if cc is None:
        breadth = np.concatenate(
            [_flat(post["breadth"])[:, :n_c, :], _flat(post["breadth_mechanism"])], axis=1
        )
        direction = _flat(post["direction_kind"]).copy()
        identified = md.recorded_codes_by_kind() > 0
        sources = md.sources_by_kind()
        labels, ctx_recording = list(d.kinds), [recording.get(k, "recorded") for k in d.kinds]
    else:
        breadth, direction, sources, identified, ctx_recording = _by_group(post, md, cc)
        labels = list(cc.contexts)
    direction[:, n_c:, :] = np.nan  # a mechanism's direction per context is not modelled
    identified[n_c:, :] = False
    types = ["cmoc"] * n_c + ["mechanism"] * len(d.mechanisms)
    mech = [d.mechanisms[m] for m in d.target_mech[:n_c]] + list(d.mechanisms)
    dev_b, dev_d = _deviations(post, breadth.shape)
    for m in range(len(d.mechanisms)):  # a mechanism's: the mean of its targets'
        members = np.flatnonzero(d.target_mech == m)
        dev_b[:, n_c + m] = dev_b[:, members].mean(axis=1)
        dev_d[:, n_c + m] = dev_d[:, members].mean(axis=1)
    return {
        "deviation_breadth": dev_b,
        "deviation_direction": dev_d,
        "ids": list(d.targets),
        "types": types,
        "mechanism": mech,
        "breadth": breadth,
        "direction": direction,
        "sources": sources,
        "identified": identified,
        "recording": ctx_recording,
        "contexts": labels,
        "by": "kind" if cc is None else f"group level {cc.level}",
    }


def _by_group(post: xr.DataTree, md, cc) -> tuple:
    """Breadth and direction draws per (target, group), sources, identified, recording.

    A group's breadth of a target is its evidencing there times the activation of the
    target's mechanism averaged over the group's sources coded against it (their kinds);
    its direction, the share of supporting codes averaged the same way over its sources of
    kinds whose refutes are recorded.
    """
    d = md.data
    n_c, tm = len(d.cmocs), d.target_mech
    n_tc = cc.md.sources_by_kind().astype(float)  # (target, class)
    x = class_draws(post, md, cc)  # b, a, p per class
    act = x["a"][:, tm, :]  # (S, T, class): the activation of each target's mechanism
    on = x["b"].copy()
    for m in range(len(d.mechanisms)):  # a mechanism's: it or any of its CMOCs
        members = np.flatnonzero(tm == m)
        on[:, n_c + m] = 1.0 - np.prod(1.0 - x["b"][:, members], axis=1)
    sources = cc.per_context(n_tc).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        breadth = cc.per_context(n_tc[None] * act * on) / cc.per_context(n_tc)[None]
        rec = np.array([r == "recorded" for r in cc.md.recording], dtype=float)
        w = n_tc * rec[None, :]
        direction = cc.per_context(w[None] * x["p"]) / cc.per_context(w)[None]
    identified = cc.per_context(cc.md.recorded_codes_by_kind()) > 0
    best = {}
    for c, g in enumerate(cc.class_context):
        if g >= 0:
            r = cc.md.recording[c]
            best[g] = max(best.get(g, r), r, key=("not recorded", "partial", "recorded").index)
    return breadth, direction, sources, identified, [best[g] for g in range(len(cc.contexts))]


def _deviations(post: xr.DataTree, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Return the targets' own deviations ``(S, target, context)``, log-odds (0 where none)."""
    dev_b = _flat(post["context_breadth"]).copy()
    dev_d = _flat(post["context_direction"]).copy() if "context_direction" in post else None
    return dev_b, np.zeros(shape) if dev_d is None else dev_d


def _link_parts(idata: xr.DataTree, evidence: EvidenceBase, targets: list[str]) -> dict | None:
    draws = link_draws(idata, evidence)
    ids = list(draws["table"].index)
    if not ids:
        return None
    breadth = _flat(draws["breadth_context"])
    dev_b, dev_d = _deviations(
        idata["posterior"], (breadth.shape[0], len(targets), breadth.shape[2])
    )
    index = {t: i for i, t in enumerate(targets)}
    link_b, link_d = np.zeros_like(breadth), np.zeros_like(breadth)
    rows = theory_links(evidence)
    for li, link in enumerate(ids):
        g = rows[rows["link_id"] == link].drop_duplicates("cmoc_id")
        ts = [index[c] for c in g["cmoc_id"]]
        turn = np.where(g["role"].to_numpy() == "for", 1.0, -1.0)
        link_b[:, li] = dev_b[:, ts].mean(axis=1)
        link_d[:, li] = (dev_d[:, ts] * turn[None, :, None]).mean(axis=1)
    return {
        "deviation_breadth": link_b,
        "deviation_direction": link_d,
        "ids": ids,
        "types": ["link"] * len(ids),
        "mechanism": [""] * len(ids),
        "breadth": breadth,
        "direction": _flat(draws["direction_context"]),
        "sources": np.asarray(draws["sources_context"].values),
        "identified": np.asarray(draws["testable_context"].values, dtype=bool),
    }


def _note(sources: int, identified: bool, recording: str, target_type: str, by: str) -> str:
    """Say what a row does not show, and why."""
    if sources == 0:
        return "no sources of this kind" if by == "kind" else "no sources in this group"
    if identified:
        return ""
    if target_type == "mechanism":
        return "direction: see its CMOCs"
    if recording != "recorded":
        return f"not tested: refutes {recording}"
    return "not tested: no codes of its own"


def context_estimates(
    idata: xr.DataTree, evidence: EvidenceBase, *, ci: float = 0.9, links: bool = True
) -> pd.DataFrame:
    """Return each target's breadth and direction per source kind, and whether they differ.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence`` with ``context="kind"`` (:func:`is_context_fit`).
    evidence : EvidenceBase
    ci : float
        Probability of the equal-tailed credible intervals.
    links : bool
        Also the links of the web (``target_type = link``).

    Returns
    -------
    pandas.DataFrame
        :data:`CONTEXT_COLUMNS`, one row per (target, kind): CMOCs, mechanisms, then links.
        Estimates the data cannot identify are empty, and ``note`` says why.

    Raises
    ------
    ContextError
        When ``idata`` has no context effects.
    """
    if not is_context_fit(idata):
        raise ContextError(
            'this fit has no context effects: fit model v2 with context = "kind" '
            "(`cmoc summary DIR --by kind` does)"
        )
    th = evidence.config.classification
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    parts = [_target_parts(idata, evidence)]
    kinds, recording, by = parts[0]["contexts"], parts[0]["recording"], parts[0]["by"]
    if links and (link := _link_parts(idata, evidence, parts[0]["ids"])) is not None:
        parts.append(link)
    frames = []
    for part in parts:
        breadth, direction = part["breadth"], part["direction"]
        has_sources = part["sources"] > 0
        identified = part["identified"] & has_sources
        p_b = _p_differs(breadth, has_sources, th.context_breadth_margin)
        p_d = _p_differs(direction, identified, th.context_direction_margin)
        log_ratio = float(np.log(th.context_odds_ratio))
        s_b = _p_differs(part["deviation_breadth"], has_sources, log_ratio)
        s_d = _p_differs(part["deviation_direction"], identified, log_ratio)
        for i, target in enumerate(part["ids"]):
            for k, kind in enumerate(kinds):
                row = {
                    "target_id": target,
                    "target_type": part["types"][i],
                    "mechanism_id": part["mechanism"][i],
                    "wave": evidence.waves[-1],
                    "context_by": by,
                    "context": kind,
                    "sources": int(part["sources"][i, k]),
                    "direction_identified": bool(identified[i, k]),
                    "p_differs_breadth": p_b[i],
                    "p_differs_direction": p_d[i],
                    "depends_on_context": bool(
                        np.nan_to_num(p_b[i]) >= th.affirm or np.nan_to_num(p_d[i]) >= th.affirm
                    ),
                    "p_specific_breadth": s_b[i],
                    "p_specific_direction": s_d[i],
                    "beyond_contexts": bool(
                        np.nan_to_num(s_b[i]) >= th.affirm or np.nan_to_num(s_d[i]) >= th.affirm
                    ),
                    "note": _note(
                        int(part["sources"][i, k]),
                        bool(identified[i, k]),
                        recording[k],
                        part["types"][i],
                        by,
                    ),
                }
                for name, x, ok in (
                    ("breadth", breadth[:, i, k], has_sources[i, k]),
                    ("direction", direction[:, i, k], identified[i, k]),
                ):
                    if ok:
                        row[f"{name}_mean"] = float(np.mean(x))
                        row[f"{name}_lo"], row[f"{name}_hi"] = (
                            float(v) for v in np.quantile(x, [lo_q, hi_q])
                        )
                    else:
                        row[f"{name}_mean"] = row[f"{name}_lo"] = row[f"{name}_hi"] = np.nan
                frames.append(row)
    return pd.DataFrame(frames, columns=CONTEXT_COLUMNS)


def group_contexts(evidence: EvidenceBase) -> pd.DataFrame:
    """Say, per level of the sources' group paths, whether its groups can be compared.

    Returns
    -------
    pandas.DataFrame
        One row per level: ``level``, ``name``, ``groups``, ``sources`` (as
        :func:`cmoc.evidence.group_levels_table`), ``identified`` and ``reason`` (why not: the
        totals over several groups, by their ``codings.csv`` rows, or a single group).
    """
    recording = {k: r.refutes for k, r in refutes_recording(evidence).items()}
    out = group_levels_table(evidence)
    identified, reasons = [], []
    for level in out["level"]:
        try:
            context_classes(evidence, recording, int(level))
        except NotIdentified as error:
            identified.append(False)
            if error.rows:
                shown = ", ".join(error.rows[:3]) + (", ..." if len(error.rows) > 3 else "")
                n = len(error.rows)
                reasons.append(
                    f"{n} {'total is' if n == 1 else 'totals are'} over the sources of several "
                    f"of its groups ({shown})"
                )
            else:
                reasons.append("one group only")
        else:
            identified.append(True)
            reasons.append("")
    return out.assign(identified=identified, reason=reasons)


def report_group_levels(evidence: EvidenceBase) -> list[int]:
    """Return the levels whose groups the report compares: identified, 2 to 6 groups.

    Beyond :data:`REPORT_MAX_GROUPS` groups a side-by-side table is not legible; the report
    names the command instead (:func:`group_contexts`).
    """
    table = group_contexts(evidence)
    keep = table["identified"] & table["groups"].between(2, REPORT_MAX_GROUPS)
    return [int(level) for level in table.loc[keep, "level"]]
