r"""The report's figures, drawn with matplotlib and returned as deterministic SVG text.

Every figure is a pure function of the tables it is given (no sampling, no clock): the SVG has
no date, and its element ids come from a fixed hash salt, so the same tables give the same bytes.

Text from the evidence (ids, names, wave labels, kinds) goes through :func:`plot_text`, so a
``$`` is drawn as a dollar sign and never starts mathtext (``Bonus $\undefined$`` would otherwise
be typeset, or fail to parse and stop the report); every figure is drawn with ``text.usetex``
off, whatever the user's matplotlibrc says. cmoc's own labels keep mathtext (the symlog axis of
the predictive check uses it). Text reaches the SVG as glyph outlines, with the string itself
only in an XML comment that matplotlib escapes.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

__all__ = [
    "MEASUREMENT_STATUS_STYLE",
    "PLAN_LABELLED",
    "STATUS_STYLE",
    "forest",
    "measurement_forest",
    "measurement_trajectory",
    "plan_figure",
    "plot_table",
    "plot_text",
    "ppc_figure",
    "rank_histograms",
    "theory_diagram",
    "to_svg",
    "trajectory",
    "web_diagram",
]

STATUS_STYLE = {
    "affirmed": {"color": "#1a9850", "linestyle": "-", "label": "affirmed"},
    "novel": {"color": "#2166ac", "linestyle": "-", "label": "novel"},
    "revised": {"color": "#e08214", "linestyle": "-.", "label": "revised"},
    "inconclusive": {"color": "#878787", "linestyle": "--", "label": "inconclusive"},
    "refuted": {"color": "#d73027", "linestyle": ":", "label": "refuted"},
}
"""Colour and line style of each status, shared by every figure and the legend."""

MEASUREMENT_STATUS_STYLE = {
    **STATUS_STYLE,
    "contested": {"color": "#762a83", "linestyle": (0, (5, 1.5, 1, 1.5)), "label": "contested"},
    "unevidenced": {"color": "#bdbdbd", "linestyle": ":", "label": "unevidenced"},
}
"""The statuses of model v2 (``contested`` and ``unevidenced`` besides v1's), same colours."""

_CMAP = "RdYlGn"
_LEVEL_SIZE = {"none": 30, "limited": 80, "moderate": 160, "significant": 260}


def plot_text(value: object) -> str:
    r"""Return data text as matplotlib should show it: every ``$`` escaped, so no mathtext.

    Matplotlib reads text with an even number of unescaped ``$`` as mathtext and shows ``\$``
    as a plain ``$`` (its documented escape); the mapping is one to one, so distinct ids stay
    distinct labels.
    """
    return str(value).replace("$", r"\$")


def _plain_text_figure[F: Callable[..., str]](func: F) -> F:
    """Draw the figure with LaTeX off, whatever the user's matplotlibrc says."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with plt.rc_context({"text.usetex": False}):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def to_svg(fig) -> str:
    """Render a figure as SVG text with no timestamp and stable ids, then close it."""
    with plt.rc_context({"svg.hashsalt": "cmoc", "svg.fonttype": "path"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue: the SVG is inlined in HTML


RING_INCHES = 6.3
"""Side of the CMOC ring's axes: with its colour bar the figure is at most the A4 text block's
7.2 in wide, so the PDF lays it out at its own size and its labels stay 8 pt."""

_RING_MARKER_SCALE = 0.35
"""Marker areas of the ring relative to the other figures' (:data:`_LEVEL_SIZE`): the ring was
12.5 in wide when they were chosen."""


def _size(level: str) -> float:
    return _LEVEL_SIZE.get(str(level).split("-")[-1].replace("at least ", ""), 50)


@_plain_text_figure
def theory_diagram(
    summary: pd.DataFrame,
    mechanism_names: dict[str, str],
    *,
    value: str = "support_mean",
    label: str = "posterior mean support",
    cmap: str = _CMAP,
    styles: dict[str, dict] | None = None,
) -> str:
    """Draw the programme theory: mechanisms in a ring, each with its CMOCs around it.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`cmoc.analyses.summarize` output (targets, support, status, evidence level).
    mechanism_names : dict
        Mechanism id to its name (shown beside the node).
    value, label, cmap : str
        The column that fills the nodes (in [0, 1]), its colour bar's label and colour map
        (model v2: ``breadth_mean``, a sequential map).
    styles : dict, optional
        Status styles (default :data:`STATUS_STYLE`; model v2: :data:`MEASUREMENT_STATUS_STYLE`).

    Returns
    -------
    str
        SVG. Nodes are coloured by posterior mean support and sized by evidence level; each
        CMOC's link to its mechanism is drawn in the style of its status (refuted dotted red,
        inconclusive dashed grey, revised dash-dot).
    """
    mechs = summary[summary["target_type"] == "mechanism"].set_index("target_id")
    cmocs = summary[summary["target_type"] == "cmoc"]
    per_mech = {m: cmocs[cmocs["mechanism_id"] == m] for m in mechs.index}
    weights = np.array([max(len(per_mech[m]), 2) for m in mechs.index], dtype=float)
    spans = 2 * math.pi * weights / weights.sum()
    starts = np.concatenate([[0.0], np.cumsum(spans)[:-1]])
    # drawn at the A4 text block's width with 8 pt labels, so that the PDF lays it out at its
    # own size (docs/reports.md); markers scaled to the ring, the key of names below it
    fig, ax = plt.subplots(figsize=(RING_INCHES, RING_INCHES))
    scale = _RING_MARKER_SCALE
    cmap = plt.get_cmap(cmap)
    styles = STATUS_STYLE if styles is None else styles
    r_mech, r_cmoc = 1.0, 1.75
    for (m, row), start, span in zip(mechs.iterrows(), starts, spans, strict=True):
        angle = start + span / 2
        mx, my = r_mech * math.cos(angle), r_mech * math.sin(angle)
        group = per_mech[m]
        for k, c in enumerate(group.itertuples(index=False)):
            a = start + span * (k + 0.5) / max(len(group), 1)
            cx, cy = r_cmoc * math.cos(a), r_cmoc * math.sin(a)
            style = styles.get(c.status, styles["inconclusive"])
            ax.plot(
                [mx, cx],
                [my, cy],
                color=style["color"],
                linestyle=style["linestyle"],
                linewidth=1.6,
                zorder=1,
            )
            ax.scatter(
                cx,
                cy,
                s=scale * _size(c.evidence_level),
                c=[cmap(float(getattr(c, value)))],
                edgecolors=style["color"],
                linewidths=1.2,
                zorder=2,
            )
            left = math.cos(a) < 0  # keep labels upright on the left half
            ax.text(
                1.07 * cx,
                1.07 * cy,
                plot_text(c.target_id),
                fontsize=8,
                ha="right" if left else "left",
                va="center",
                rotation=math.degrees(a) + (180 if left else 0),
                rotation_mode="anchor",
            )
        style = styles.get(row["status"], styles["inconclusive"])
        ax.scatter(
            mx,
            my,
            s=scale * (2.5 * _size(row["evidence_level"]) + 150),
            c=[cmap(float(row[value]))],
            edgecolors=style["color"],
            linewidths=2.0,
            zorder=3,
        )
        ax.text(mx, my, plot_text(m), fontsize=8, ha="center", va="center", weight="bold", zorder=4)
    ax.set_xlim(-2.15, 2.15)
    ax.set_ylim(-2.15, 2.15)
    ax.set_aspect("equal")
    ax.axis("off")
    handles = [
        Line2D([0], [0], color=s["color"], linestyle=s["linestyle"], linewidth=2, label=s["label"])
        for s in styles.values()
    ]
    handles += [
        Line2D(
            [0],
            [0],
            marker="o",
            linestyle="",
            markersize=math.sqrt(scale * v) / 1.5,
            color="#bbbbbb",
            label=f"evidence: {k}",
        )
        for k, v in _LEVEL_SIZE.items()
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        fontsize=8,
        frameon=False,
        ncol=4,
        columnspacing=1.0,
    )
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    # in the ring's empty top left corner, clear of the CMOCs' labels
    cbar = fig.colorbar(sm, cax=ax.inset_axes([0.0, 0.8, 0.025, 0.17]))
    cbar.ax.set_title(label, fontsize=8, loc="left")
    cbar.ax.tick_params(labelsize=8)
    # a key beside the ring rather than names on it: neighbouring names would collide
    # names on one line each (a line break in a name would split the key), then escaped
    names = {m: " ".join(str(mechanism_names.get(m, "")).split()) for m in mechs.index}
    lines = [
        plot_text(f"{m}  {name if len(name) <= 32 else name[:31] + '…'}")
        for m, name in names.items()
        if name
    ]
    half = (len(lines) + 1) // 2
    for x, column in ((0.0, lines[:half]), (0.52, lines[half:])):
        if column:  # below the legend's rows
            ax.text(x, -0.12, "\n".join(column), transform=ax.transAxes, fontsize=8, va="top")
    return to_svg(fig)


def _layered_layout(graph) -> tuple[dict, list[list]]:
    """Place a directed graph in layers, causes above effects (a layout like graphviz's dot).

    Mechanisms on a cycle share a layer (the strongly connected components of the graph form
    a DAG, layered by topological generation); within a layer, nodes are ordered by id, then
    by the mean position of their neighbours in the layers above and below, four sweeps, to
    uncross edges. Deterministic: no random start. Returns positions (x in units of node
    spacing, y = minus the layer) and the layers.
    """
    import networkx as nx

    dag = nx.condensation(graph)
    members = dag.graph["mapping"]  # node -> component
    comp_nodes: dict[int, list] = {}
    for node in sorted(graph.nodes):
        comp_nodes.setdefault(members[node], []).append(node)
    layers = [
        [n for c in sorted(gen, key=lambda c: min(comp_nodes[c])) for n in comp_nodes[c]]
        for gen in nx.topological_generations(dag)
    ]
    order = {n: i for layer in layers for i, n in enumerate(layer)}
    for sweep in range(4):
        seq = layers[1:] if sweep % 2 == 0 else layers[-2::-1]
        for layer in seq:

            def centre(n, down=sweep % 2 == 0, layer=layer):
                near = list(graph.predecessors(n) if down else graph.successors(n))
                near = [m for m in near if m not in layer] or list(nx.all_neighbors(graph, n))
                return (np.mean([order[m] for m in near]) if near else order[n], n)

            layer.sort(key=centre)
            order.update({n: i for i, n in enumerate(layer)})
    width = max((len(layer) for layer in layers), default=1)
    # a wide layer zig-zags, so that neighbours' names do not run into each other
    pos = {
        n: (
            i - (len(layer) - 1) / 2 + (width - 1) / 2,
            -1.9 * k - (0.75 if len(layer) > STAGGER and i % 2 else 0.0),
        )
        for k, layer in enumerate(layers)
        for i, n in enumerate(layer)
    }
    return pos, layers


STAGGER = 4
"""Layers of the web figure with more mechanisms than this zig-zag."""


def _wrap(text: str, width: int = 16, lines: int = 3) -> str:
    """Wrap a name into at most ``lines`` lines of about ``width`` characters (ellipsis)."""
    import textwrap

    out = textwrap.wrap(" ".join(str(text).split()), width) or [""]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return "\n".join(out)


@_plain_text_figure
def web_diagram(
    summary: pd.DataFrame,
    links: pd.DataFrame,
    mechanism_names: dict[str, str],
    *,
    styles: dict[str, dict] | None = None,
) -> str:
    """Draw the programme theory as a web: mechanisms and the links between them.

    Parameters
    ----------
    summary : pandas.DataFrame
        A model v2 summary with its link rows (``target_type = link``).
    links : pandas.DataFrame
        :func:`cmoc.evidence.link_table` (ends and sign of each link).
    mechanism_names : dict
        Mechanism id to its name (shown under the node).
    styles : dict, optional
        Status colours (default :data:`MEASUREMENT_STATUS_STYLE`).

    Returns
    -------
    str
        SVG. Nodes: mechanisms, filled by breadth, ringed in their status's colour. Arrows:
        links, in their status's colour, as wide as their breadth, solid where their direction
        was tested and dashed where not, marked with their sign (``+``, ``−``, ``?`` where no
        CMOC states it). Laid out in layers, causes above effects (:func:`_layered_layout`).
    """
    import networkx as nx
    from matplotlib.patches import FancyArrowPatch

    styles = MEASUREMENT_STATUS_STYLE if styles is None else styles
    by_id = summary.set_index("target_id")
    mechs = sorted(summary.loc[summary["target_type"] == "mechanism", "target_id"])
    graph = nx.DiGraph()
    graph.add_nodes_from(mechs)
    for link, r in links.sort_index().iterrows():
        graph.add_edge(r["from_id"], r["to_id"], link=link, sign=r["sign"])
    pos, layers = _layered_layout(graph)
    width = max(len(layer) for layer in layers) if layers else 1
    # at most 7 x 9 in, the PDF's A4 text block: its labels are never printed below 8 pt
    fig, ax = plt.subplots(
        figsize=(min(7.0, max(6.0, width + 1.0)), min(9.0, max(4.0, 1.9 * len(layers) + 1.5)))
    )
    cmap = plt.get_cmap("Blues")
    radius = 0.2
    for a, b, data in sorted(graph.edges(data=True)):
        row = by_id.loc[data["link"]] if data["link"] in by_id.index else None
        status = "inconclusive" if row is None else str(row["status"])
        style = styles.get(status, styles["inconclusive"])
        breadth = 0.0 if row is None else float(row["breadth_mean"])
        tested = row is not None and bool(row["direction_testable"])
        reciprocal = graph.has_edge(b, a)
        arrow = FancyArrowPatch(
            pos[a],
            pos[b],
            arrowstyle="-|>",
            mutation_scale=12,
            connectionstyle=f"arc3,rad={0.15 if reciprocal else 0.0}",
            color=style["color"],
            linewidth=0.8 + 8.0 * breadth,
            linestyle="-" if tested else (0, (4, 2)),
            shrinkA=0,
            shrinkB=0,
            patchA=None,
            patchB=None,
            zorder=1,
        )
        # end the arrow at the nodes' rims
        vec = np.asarray(pos[b]) - np.asarray(pos[a])
        norm = float(np.hypot(*vec)) or 1.0
        start = np.asarray(pos[a]) + vec / norm * radius
        end = np.asarray(pos[b]) - vec / norm * (radius + 0.03)
        arrow.set_positions(tuple(start), tuple(end))
        ax.add_patch(arrow)
        mid = (start + end) / 2 + (
            np.array([-vec[1], vec[0]]) / norm * 0.12 if reciprocal else np.zeros(2)
        )
        sign = {"+": "+", "-": "−"}.get(str(data["sign"]), "?")
        ax.text(
            *mid, sign, fontsize=9, ha="center", va="center", weight="bold", color=style["color"],
            bbox={"boxstyle": "circle,pad=0.15", "fc": "white", "ec": "none"}, zorder=2,
        )  # fmt: skip
    for m in mechs:
        row = by_id.loc[m]
        style = styles.get(str(row["status"]), styles["inconclusive"])
        x, y = pos[m]
        ax.add_patch(
            plt.Circle(
                (x, y),
                radius,
                facecolor=cmap(0.15 + 0.85 * float(row["breadth_mean"])),
                edgecolor=style["color"],
                linewidth=2.2,
                zorder=3,
            )
        )
        ax.text(x, y, plot_text(m), fontsize=9, ha="center", va="center", weight="bold", zorder=4)
        name = _wrap(mechanism_names.get(m, ""))
        if name:
            ax.text(x, y - radius - 0.04, plot_text(name), fontsize=8, ha="center", va="top",
                    zorder=4)  # fmt: skip
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.75, max(ys) + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    used = [k for k in styles if k in set(summary["status"])]
    handles = [Line2D([0], [0], color=styles[k]["color"], linewidth=2.5, label=k) for k in used]
    handles += [
        Line2D([0], [0], color="#555555", linewidth=1.5, label="direction tested"),
        Line2D([0], [0], color="#555555", linewidth=1.5, linestyle=(0, (4, 2)),
               label="direction not tested"),
        Line2D([0], [0], color="#555555", linewidth=0.8 + 8.0 * 0.1, label="breadth 0.1"),
        Line2D([0], [0], color="#555555", linewidth=0.8 + 8.0 * 0.3, label="breadth 0.3"),
    ]  # fmt: skip
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8,
              frameon=False, ncol=4)  # fmt: skip
    return to_svg(fig)


@_plain_text_figure
def forest(summary: pd.DataFrame, ci: float) -> str:
    """Forest plot of support with its credible interval, CMOCs grouped under their mechanism.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`cmoc.analyses.summarize` output.
    ci : float
        Probability of the intervals in ``summary`` (for the axis label).

    Returns
    -------
    str
        SVG; mechanisms in bold with a square marker, their CMOCs indented below.
    """
    rows = []
    mechs = summary[summary["target_type"] == "mechanism"]
    for m in mechs.itertuples(index=False):
        rows.append((m, True))
        cm = summary[(summary["target_type"] == "cmoc") & (summary["mechanism_id"] == m.target_id)]
        rows.extend((c, False) for c in cm.itertuples(index=False))
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.19 * len(rows)))
    for i, (r, is_mech) in enumerate(rows):
        y = -i
        style = STATUS_STYLE.get(r.status, STATUS_STYLE["inconclusive"])
        ax.plot(
            [r.support_lo, r.support_hi],
            [y, y],
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=2.4 if is_mech else 1.4,
        )
        ax.plot(
            r.support_mean,
            y,
            marker="s" if is_mech else "o",
            color=style["color"],
            markersize=6 if is_mech else 4,
        )
    ax.set_yticks([-i for i in range(len(rows))])
    ax.set_yticklabels(
        [plot_text(r.target_id if is_mech else f"   {r.target_id}") for r, is_mech in rows],
        fontsize=7,
    )
    for label, (_, is_mech) in zip(ax.get_yticklabels(), rows, strict=True):
        if is_mech:
            label.set_fontweight("bold")
    ax.axvline(0.5, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, 1)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.set_xlabel(f"support (posterior mean and {ci:.0%} credible interval)")
    ax.grid(axis="x", color="#eeeeee")
    handles = [
        Line2D([0], [0], color=s["color"], linestyle=s["linestyle"], linewidth=2, label=s["label"])
        for s in STATUS_STYLE.values()
    ]
    ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=True)
    return to_svg(fig)


def _forest_rows(summary: pd.DataFrame) -> list[tuple[object, bool]]:
    """Rows of a forest plot: each mechanism (True), then its CMOCs (False)."""
    rows = []
    for m in summary[summary["target_type"] == "mechanism"].itertuples(index=False):
        rows.append((m, True))
        cm = summary[(summary["target_type"] == "cmoc") & (summary["mechanism_id"] == m.target_id)]
        rows.extend((c, False) for c in cm.itertuples(index=False))
    return rows


@_plain_text_figure
def measurement_forest(
    summary: pd.DataFrame, ci: float, breadth_min: float, direction_margin: float
) -> str:
    """Forest plot of a model v2 summary: breadth, and direction where it is testable.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`cmoc.analyses.summarize_measurement` output.
    ci : float
        Probability of the intervals in ``summary`` (for the axis labels).
    breadth_min, direction_margin : float
        ``[classification]``: the breadth a target needs (drawn as a dashed line) and the
        margin around ½ within which a direction is not clear (shaded).

    Returns
    -------
    str
        SVG, two panels sharing the rows (mechanisms in bold with a square marker, their CMOCs
        indented below), in the colours and line styles of the statuses: breadth on the left,
        direction on the right ("not tested" where no kind records refutes); breadth alone when
        no target's direction is tested.
    """
    rows = _forest_rows(summary)
    tested = bool(summary["direction_testable"].astype(bool).any())
    height = 0.9 + 0.19 * len(rows)
    if tested:
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(10, height), sharey=True, width_ratios=(1.2, 1)
        )
        right.axvspan(0.5 - direction_margin, 0.5 + direction_margin, color="#f0f0f0", lw=0)
    else:
        fig, left = plt.subplots(figsize=(8, height))
        right = None
    for i, (r, is_mech) in enumerate(rows):
        y = -i
        style = MEASUREMENT_STATUS_STYLE.get(r.status, STATUS_STYLE["inconclusive"])
        line = {
            "color": style["color"],
            "linestyle": style["linestyle"],
            "linewidth": 2.4 if is_mech else 1.4,
        }
        marker = {
            "marker": "s" if is_mech else "o",
            "color": style["color"],
            "markersize": 6 if is_mech else 4,
        }
        left.plot([r.breadth_lo, r.breadth_hi], [y, y], **line)
        left.plot(r.breadth_mean, y, **marker)
        if right is None:
            continue
        if bool(r.direction_testable):
            right.plot([r.direction_lo, r.direction_hi], [y, y], **line)
            right.plot(r.direction_mean, y, **marker)
        else:
            right.text(0.5, y, "not tested", fontsize=6, color="#888888", ha="center", va="center")
    left.set_yticks([-i for i in range(len(rows))])
    left.set_yticklabels(
        [plot_text(r.target_id if is_mech else f"   {r.target_id}") for r, is_mech in rows],
        fontsize=7,
    )
    for label, (_, is_mech) in zip(left.get_yticklabels(), rows, strict=True):
        if is_mech:
            label.set_fontweight("bold")
    left.axvline(breadth_min, color="#999999", linewidth=0.8, linestyle="--")
    for ax in (left, right):
        if ax is not None:
            ax.set_xlim(0, 1)
            ax.grid(axis="x", color="#eeeeee")
    left.set_ylim(-len(rows) + 0.4, 0.6)
    left.set_xlabel(f"breadth: share of sources evidencing it ({ci:.0%} interval)", fontsize=8)
    if right is not None:
        right.axvline(0.5, color="#999999", linewidth=0.8, linestyle="--")
        right.set_xlabel(
            f"direction: share of its codes supporting it ({ci:.0%} interval)", fontsize=8
        )
    shown = list(dict.fromkeys(r.status for r, _ in rows))
    handles = [
        Line2D([0], [0], color=s["color"], linestyle=s["linestyle"], linewidth=2, label=s["label"])
        for name, s in MEASUREMENT_STATUS_STYLE.items()
        if name in shown
    ]
    left.legend(handles=handles, loc="lower right", fontsize=7, frameon=True)
    fig.tight_layout()
    return to_svg(fig)


@_plain_text_figure
def measurement_trajectory(waves: pd.DataFrame) -> str:
    """Breadth (and direction where testable) of each mechanism after each wave (model v2).

    Parameters
    ----------
    waves : pandas.DataFrame
        One row per target and wave with ``wave``, ``target_id``, ``target_type``,
        ``breadth_mean``, ``breadth_lo``, ``breadth_hi``, ``direction_testable``,
        ``direction_mean``, ``direction_lo``, ``direction_hi`` (waves in order of appearance).

    Returns
    -------
    str
        SVG, one small panel per mechanism: breadth (blue) and, after the waves where it is
        testable, direction (orange), each as mean and interval.
    """
    mechs = waves[waves["target_type"] == "mechanism"]
    order = list(dict.fromkeys(waves["wave"]))
    ids = list(dict.fromkeys(mechs["target_id"]))
    ncol = min(5, max(len(ids), 1))
    nrow = max(math.ceil(len(ids) / ncol), 1)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(2.0 * ncol, 1.7 * nrow + 0.4), sharey=True, squeeze=False
    )
    for ax in axes.ravel()[len(ids) :]:
        ax.axis("off")
    colours = {"breadth": ("#9ecae1", "#08519c"), "direction": ("#fdd0a2", "#d94801")}
    for ax, m in zip(axes.ravel(), ids, strict=False):
        rows = mechs[mechs["target_id"] == m].set_index("wave").reindex(order)
        x = np.arange(len(order))
        for name, (band, line) in colours.items():
            ok = rows[f"{name}_mean"].notna().to_numpy()
            if name == "direction":
                ok = ok & rows["direction_testable"].fillna(False).astype(bool).to_numpy()
            ax.fill_between(
                x[ok],
                rows[f"{name}_lo"].to_numpy(float)[ok],
                rows[f"{name}_hi"].to_numpy(float)[ok],
                color=band,
                alpha=0.6,
                linewidth=0,
            )
            ax.plot(x[ok], rows[f"{name}_mean"].to_numpy(float)[ok], "o-", color=line, ms=3)
        ax.set_title(plot_text(m), fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels([plot_text(w) for w in order], fontsize=6, rotation=20)
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="#999999", linewidth=0.6, linestyle="--")
        ax.tick_params(axis="y", labelsize=6)
    handles = [
        Line2D([0], [0], color=line, marker="o", ms=3, label=label)
        for label, (_, line) in zip(
            ("breadth", "direction (where testable)"), colours.values(), strict=True
        )
    ]
    fig.legend(handles=handles, loc="upper center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return to_svg(fig)


@_plain_text_figure
def trajectory(waves: pd.DataFrame) -> str:
    """Support of each mechanism after each wave.

    Parameters
    ----------
    waves : pandas.DataFrame
        One row per target and wave with ``wave``, ``target_id``, ``target_type``,
        ``support_mean``, ``support_lo``, ``support_hi`` (waves in order of appearance).

    Returns
    -------
    str
        SVG, one small panel per mechanism (mean and interval after each wave).
    """
    mechs = waves[waves["target_type"] == "mechanism"]
    order = list(dict.fromkeys(waves["wave"]))
    ids = list(dict.fromkeys(mechs["target_id"]))
    ncol = min(5, max(len(ids), 1))
    nrow = max(math.ceil(len(ids) / ncol), 1)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(2.0 * ncol, 1.7 * nrow), sharey=True, squeeze=False
    )
    for ax in axes.ravel()[len(ids) :]:
        ax.axis("off")
    for ax, m in zip(axes.ravel(), ids, strict=False):
        rows = mechs[mechs["target_id"] == m].set_index("wave").reindex(order)
        x = np.arange(len(order))
        ok = rows["support_mean"].notna().to_numpy()
        ax.fill_between(
            x[ok],
            rows["support_lo"].to_numpy(float)[ok],
            rows["support_hi"].to_numpy(float)[ok],
            color="#9ecae1",
            alpha=0.6,
            linewidth=0,
        )
        ax.plot(x[ok], rows["support_mean"].to_numpy(float)[ok], "o-", color="#08519c")
        ax.set_title(plot_text(m), fontsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels([plot_text(w) for w in order], fontsize=6, rotation=20)
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="#999999", linewidth=0.6, linestyle="--")
        ax.tick_params(axis="y", labelsize=6)
    fig.tight_layout()
    return to_svg(fig)


@_plain_text_figure
def ppc_figure(ppc: pd.DataFrame) -> str:
    """Observed counts against their posterior predictive intervals, one marker per unit.

    Parameters
    ----------
    ppc : pandas.DataFrame
        :func:`cmoc.analyses.posterior_predictive` output.

    Returns
    -------
    str
        SVG: predictive intervals as bars, observed counts as dots (bands as a short vertical
        bar from the band's lower to upper bound, an arrow where unbounded), surprising units
        in red; units ordered by wave, type and kind.
    """
    data = ppc.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    x = np.arange(len(data))
    ax.vlines(x, data["predicted_lo"], data["predicted_hi"], color="#bdbdbd", linewidth=2)
    colour = np.where(data["surprising"], "#d73027", "#08519c")
    exact = data["observed_hi"] == data["observed_lo"]
    ax.scatter(x[exact], data["observed_lo"][exact], s=9, c=colour[exact], zorder=3)
    banded = ~exact
    top = np.where(data["observed_hi"] < 0, data["observed_lo"] + 2, data["observed_hi"]).astype(
        float
    )
    ax.vlines(x[banded], data["observed_lo"][banded], top[banded], color=colour[banded], lw=2.5)
    up = data["observed_hi"] < 0
    ax.scatter(x[up], top[up], marker="^", s=14, c=colour[up], zorder=3)
    groups = data.groupby(["wave", "unit_type", "kind"], sort=False).indices
    for idx in groups.values():
        ax.axvline(idx.min() - 0.5, color="#dddddd", linewidth=0.8)
    ax.set_xlim(-1, len(data))
    # one tick per group, at its middle; slanted so that narrow groups do not collide
    ax.set_xticks([float(idx.mean()) for idx in groups.values()])
    ax.set_xticklabels(
        [plot_text(f"{wave}: {unit_type}s ({kind})") for wave, unit_type, kind in groups],
        rotation=25,
        ha="right",
        fontsize=7,
    )
    ax.set_ylabel("codes")
    ax.set_yscale("symlog", linthresh=10)
    return to_svg(fig)


PLAN_LABELLED = 8
"""Model v2's plan figure colours and labels at most this many targets (the others grey)."""


def plot_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return a plan table with its data text (``target_id``, ``kind``) escaped for plotting."""
    out = table.copy()
    for col in ("target_id", "kind"):
        if col in out:
            out[col] = out[col].map(plot_text)
    return out


@_plain_text_figure
def plan_figure(table: pd.DataFrame, outcome: str = "settled") -> str:
    """Draw the chance that n more sources settle each inconclusive CMOC.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`cmoc.analyses.plan` output; of a model v2 plan, with ``p_decisive`` renamed
        ``p_settled``.
    outcome : str
        What ``p_settled`` is the chance of, in the legend (``"decisive"`` for model v2, whose
        plan then colours and labels only the :data:`PLAN_LABELLED` targets most likely
        decided after the most new sources, the others grey).

    Returns
    -------
    str
        SVG: ``p_settled`` against n with its Monte Carlo error (solid), ``p_affirmed``
        (dotted, where it differs), one colour per CMOC
        (:func:`cmoc.reports.plots_plan.draw_plan`).
    """
    from .plots_plan import draw_plan

    if outcome == "settled":
        return to_svg(draw_plan(plot_table(table)))
    return to_svg(draw_plan(plot_table(table), outcome=outcome, labelled=PLAN_LABELLED))


@_plain_text_figure
def rank_histograms(ranks: pd.DataFrame, tests: pd.DataFrame) -> str:
    """Histograms of the calibration ranks, one small panel per quantity.

    Parameters
    ----------
    ranks : pandas.DataFrame
        :attr:`cmoc.analyses.CalibrationResult.ranks` (``quantity``, ``rank``, ``n_draws``).
    tests : pandas.DataFrame
        :func:`cmoc.analyses.rank_uniformity` of them (the bins of each quantity's test).

    Returns
    -------
    str
        SVG: datasets per bin of ranks, the band where 99% of the bins of uniform ranks fall
        (binomial) in grey, quantities that failed the test titled in red.
    """
    from scipy import stats

    quantities = list(tests["quantity"])
    ncol = min(5, max(len(quantities), 1))
    nrow = max(math.ceil(len(quantities) / ncol), 1)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.0 * ncol, 1.6 * nrow), squeeze=False)
    for ax in axes.ravel()[len(quantities) :]:
        ax.axis("off")
    n_ranks = int(ranks["n_draws"].iloc[0]) + 1 if len(ranks) else 1
    for ax, test in zip(axes.ravel(), tests.itertuples(index=False), strict=False):
        r = ranks.loc[ranks["quantity"] == test.quantity, "rank"].to_numpy(int)
        bins = int(test.bins)
        counts = np.bincount(r * bins // n_ranks, minlength=bins)
        lo, hi = stats.binom.interval(0.99, r.size, 1.0 / bins)
        ax.axhspan(lo, hi, color="#dddddd", linewidth=0)
        ax.axhline(r.size / bins, color="#999999", linewidth=0.8)
        ax.bar(np.arange(bins), counts, width=0.9, color="#4a7ab5")
        ax.set_title(
            plot_text(test.quantity),
            fontsize=8,
            color="#222222" if test.uniform else STATUS_STYLE["refuted"]["color"],
        )
        ax.set_xticks([])
        ax.tick_params(axis="y", labelsize=6)
    fig.supxlabel("rank of the true value among the posterior draws (binned)", fontsize=8)
    fig.tight_layout()
    return to_svg(fig)
