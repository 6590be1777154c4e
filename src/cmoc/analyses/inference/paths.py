"""Paths through the programme theory's web: whether a chain of links holds as a whole.

A path from mechanism ``A`` to mechanism ``B`` is a chain of links ``A->M1->...->B`` without
repeated mechanisms (:func:`networkx.all_simple_paths` over the links the CMOCs express). In a
posterior draw a link *holds* when its breadth is at least ``breadth_min`` and, where its
direction is testable, its direction is at least ``1/2 + direction_margin`` (the posterior part of
the rule that affirms it; ``[classification]``). A path holds in a draw when every link on it
does; ``p_all_hold`` is the share of draws in which it does, from the joint posterior: the links of
one path share mechanisms and hyperparameters, so their holding is not independent, and the
product of the links' marginal probabilities (``p_product``, shown for contrast) can be far off.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import xarray as xr

from ...evidence import EvidenceBase
from .links import link_draws

__all__ = [
    "MAX_LINKS",
    "OUTCOME_PATH_COLUMNS",
    "PATH_COLUMNS",
    "PathError",
    "link_holds",
    "outcome_paths",
    "theory_paths",
    "web_graph",
]

MAX_LINKS = 6
"""Longest path (in links) :func:`theory_paths` follows by default (``cmoc paths --max-links``)."""

PATH_COLUMNS = [
    "path",
    "links",
    "sign",
    "statuses",
    "all_affirmed",
    "weakest_link",
    "p_weakest",
    "p_all_hold",
    "p_product",
]
"""Columns of :func:`theory_paths`: the path (``A->M->B``), its number of links, its sign (the
product of its links' signs, ``positive`` or ``negative``; ``not stated`` where a link's is
not), its links' statuses in order, whether all are affirmed, the link least likely to hold
with that probability, the probability that all hold, and the product of the links' own
probabilities."""


class PathError(ValueError):
    """A path asked for between ends that are not nodes of the web, or of a v1 fit."""


def web_graph(table: pd.DataFrame) -> nx.DiGraph:
    """Return the web as a directed graph: mechanisms as nodes, one edge per link.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`cmoc.evidence.links.link_table`.
    """
    graph = nx.DiGraph()
    for link, r in table.iterrows():
        graph.add_edge(r["from_id"], r["to_id"], link=link, sign=r["sign"])
    return graph


def link_holds(draws: dict, evidence: EvidenceBase) -> xr.DataArray:
    """Per draw and link, whether the link holds (see the module's docstring).

    Parameters
    ----------
    draws : dict
        :func:`cmoc.analyses.inference.links.link_draws`.
    evidence : EvidenceBase

    Returns
    -------
    xarray.DataArray
        Booleans ``(chain, draw, link)``.
    """
    th = evidence.config.classification
    broad = draws["breadth"] >= th.breadth_min
    supports = draws["direction"] >= 0.5 + th.direction_margin
    return broad & (supports | ~draws["testable"])


def _sign(signs: list[str]) -> str:
    if not all(signs):
        return "not stated"
    return "negative" if signs.count("-") % 2 else "positive"


def theory_paths(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    source: str,
    target: str,
    *,
    max_links: int = MAX_LINKS,
    statuses: pd.Series | None = None,
) -> pd.DataFrame:
    """Every path from ``source`` to ``target`` through the web, with its support.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence``.
    evidence : EvidenceBase
    source, target : str
        Mechanism ids.
    max_links : int
        Longest path followed.
    statuses : pandas.Series, optional
        The links' statuses by link id (a summary's ``status`` of its link rows); if not given,
        computed with :func:`cmoc.analyses.summarize`.

    Returns
    -------
    pandas.DataFrame
        :data:`PATH_COLUMNS`, one row per path: those whose links are all affirmed first, then
        the likeliest to hold, the shorter, by id. Empty when no path joins the two.

    Raises
    ------
    PathError
        When ``source`` or ``target`` is not a mechanism with a link, or they are the same.
    """
    if "breadth" not in idata["posterior"].data_vars:
        raise PathError("paths are estimated from model v2 (the measurement model); this fit is v1")
    draws = link_draws(idata, evidence)
    graph = web_graph(draws["table"])
    for end in (source, target):
        if end not in graph:
            known = ", ".join(sorted(graph.nodes)) or "none"
            raise PathError(
                f"{end!r} is not a mechanism that a link of the web starts or ends at "
                f"(those are: {known})"
            )
    if source == target:
        raise PathError(f"a path needs two different ends (got {source!r} twice)")
    if max_links < 1:
        raise PathError(f"max_links must be at least 1 (got {max_links})")
    if statuses is None:
        from .summary import summarize

        s = summarize(idata, evidence)
        statuses = s.set_index("target_id")["status"]
    return _paths(graph, link_holds(draws, evidence), statuses, source, target, max_links)


def _paths(graph, holds, statuses, source, target, max_links) -> pd.DataFrame:
    """Return the rows of :func:`theory_paths` from the web and its links' holding per draw."""
    dims = ("chain", "draw")
    p_link = holds.mean(dims)
    rows = []
    for nodes in nx.all_simple_paths(graph, source, target, cutoff=max_links):
        links = [graph.edges[a, b]["link"] for a, b in itertools.pairwise(nodes)]
        p_each = p_link.sel(link=links).values
        weakest = int(np.argmin(p_each))
        status = [str(statuses.get(link, "")) for link in links]
        rows.append(
            {
                "path": "->".join(nodes),
                "links": len(links),
                "sign": _sign([graph.edges[a, b]["sign"] for a, b in itertools.pairwise(nodes)]),
                "statuses": ", ".join(status),
                "all_affirmed": all(x == "affirmed" for x in status),
                "weakest_link": links[weakest],
                "p_weakest": float(p_each[weakest]),
                "p_all_hold": float(holds.sel(link=links).all("link").mean(dims)),
                "p_product": float(np.prod(p_each)),
            }
        )
    out = pd.DataFrame(rows, columns=PATH_COLUMNS)
    if out.empty:
        return out
    out = out.sort_values(
        ["all_affirmed", "p_all_hold", "links", "path"], ascending=[False, False, True, True]
    )
    return out.reset_index(drop=True)


OUTCOME_PATH_COLUMNS = ["outcome", "rank", *PATH_COLUMNS]
"""Columns of :func:`outcome_paths`: the outcome node, ``strongest`` or ``weakest``, and
:data:`PATH_COLUMNS`."""


def outcome_paths(
    idata: xr.DataTree,
    evidence: EvidenceBase,
    statuses: pd.Series,
    *,
    top: int = 3,
    max_links: int = MAX_LINKS,
) -> pd.DataFrame:
    """Return the strongest and the weakest paths into each outcome node of the web.

    An *outcome node* is a mechanism that links end at and none start from (what the web
    explains); the paths into it start at the web's *causes*, the mechanisms that links start
    from and none end at. Paths ranked as :func:`theory_paths` ranks them.

    Parameters
    ----------
    idata : xarray.DataTree
        A model v2 fit of ``evidence``.
    evidence : EvidenceBase
    statuses : pandas.Series
        The links' statuses by link id.
    top : int
        Paths listed as strongest, and as weakest, per outcome node (fewer where there are
        fewer than ``2 top``: each path listed once).
    max_links : int

    Returns
    -------
    pandas.DataFrame
        :data:`OUTCOME_PATH_COLUMNS`; empty where the web has no outcome node (every mechanism
        on it leads somewhere, e.g. around a cycle) or no link.
    """
    draws = link_draws(idata, evidence)
    if draws["table"].empty:
        return pd.DataFrame(columns=OUTCOME_PATH_COLUMNS)
    graph = web_graph(draws["table"])
    holds = link_holds(draws, evidence)
    causes = sorted(n for n in graph if graph.in_degree(n) == 0)
    outcomes = sorted(n for n in graph if graph.out_degree(n) == 0)
    frames = []
    for outcome in outcomes:
        found = [_paths(graph, holds, statuses, c, outcome, max_links) for c in causes]
        found = [f for f in found if not f.empty]
        if not found:
            continue
        ranked = pd.concat(found, ignore_index=True).sort_values(
            ["all_affirmed", "p_all_hold", "links", "path"], ascending=[False, False, True, True]
        )
        strongest = ranked.head(top).assign(rank="strongest")
        weakest = ranked.iloc[len(strongest) :].tail(top).iloc[::-1].assign(rank="weakest")
        frames.append(pd.concat([strongest, weakest]).assign(outcome=outcome))
    if not frames:
        return pd.DataFrame(columns=OUTCOME_PATH_COLUMNS)
    return pd.concat(frames, ignore_index=True)[OUTCOME_PATH_COLUMNS]
