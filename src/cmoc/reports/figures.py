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
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.transforms
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter, NullLocator

__all__ = [
    "FOREST_ROWS",
    "LABEL_PT",
    "MEASUREMENT_STATUS_STYLE",
    "PLAN_LABELLED",
    "PRINT_INCHES",
    "STATUS_STYLE",
    "ShareAxis",
    "forest",
    "forest_pages",
    "measurement_forest",
    "measurement_trajectory",
    "plan_figure",
    "plot_table",
    "plot_text",
    "ppc_figure",
    "rank_histograms",
    "share_axis",
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

PRINT_INCHES = 7.2
"""Width of the A4 text block of the PDF (184 mm): a figure this wide or narrower is laid out at
its own size, so its type prints at the size it is drawn (``pdf.PRINT_CSS``)."""

LABEL_PT = 8
"""The smallest type in a figure drawn :data:`PRINT_INCHES` wide: legible in print."""

FOREST_ROWS = 40
"""Rows of a forest plot: beyond this the mechanisms are split across figures."""

_CROWDED = 0.2
"""An interval lies "at an end" when it is within this of 0 or of 1; when most do, and they are
narrow, a linear axis packs them into a corner and the logit axis spreads them."""

_LOGIT_TICKS = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5,
    0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999,
)  # fmt: skip


@dataclass(frozen=True)
class ShareAxis:
    """The axis of a share (breadth, direction) drawn for a set of intervals.

    Attributes
    ----------
    scale : {"linear", "logit"}
    limits : (float, float)
    """

    scale: str
    limits: tuple[float, float]

    def apply(self, ax, axis: str = "x") -> None:
        """Set the scale, limits and ticks on ``ax`` (its ``axis``: ``"x"`` or ``"y"``)."""
        set_scale = ax.set_xscale if axis == "x" else ax.set_yscale
        set_lim = ax.set_xlim if axis == "x" else ax.set_ylim
        target = ax.xaxis if axis == "x" else ax.yaxis
        set_scale(self.scale)
        set_lim(*self.limits)
        if self.scale == "logit":
            lo, hi = self.limits
            target.set_major_locator(FixedLocator([t for t in _LOGIT_TICKS if lo <= t <= hi]))
            target.set_major_formatter(FormatStrFormatter("%g"))
            target.set_minor_locator(NullLocator())
            target.set_minor_formatter(NullFormatter())


def share_axis(lo, hi, marks: tuple[float, ...] = ()) -> ShareAxis:
    """Choose the axis for intervals ``[lo, hi]`` of a share: logit when they crowd an end.

    Parameters
    ----------
    lo, hi : array-like
        The intervals' ends (missing values ignored).
    marks : tuple of float
        Values the axis must show (a threshold line, ½).

    Returns
    -------
    ShareAxis
        Linear over [0, 1], unless most intervals lie within 0.2 of one end and are narrower
        than 0.2 (a linear axis would pack them into a corner): then logit, from a little
        below the smallest end to a little above the largest, marks included.
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    lo, hi = lo[ok], hi[ok]
    if not lo.size:
        return ShareAxis("linear", (0.0, 1.0))
    at_end = (hi <= _CROWDED) | (lo >= 1 - _CROWDED)
    narrow = np.median(hi - lo) < _CROWDED
    if not (at_end.mean() > 0.5 and narrow):
        return ShareAxis("linear", (0.0, 1.0))
    values = np.concatenate([lo, hi, np.asarray(marks, dtype=float)])
    values = np.clip(values, 1e-4, 1 - 1e-4)
    logit = np.log(values / (1 - values))
    pad = 0.08 * (logit.max() - logit.min()) + 0.05
    a, b = logit.min() - pad, logit.max() + pad
    return ShareAxis("logit", (float(1 / (1 + np.exp(-a))), float(1 / (1 + np.exp(-b)))))


def plot_text(value: object) -> str:
    r"""Return data text as matplotlib should show it: every ``$`` escaped, so no mathtext.

    Matplotlib reads text with an even number of unescaped ``$`` as mathtext and shows ``\$``
    as a plain ``$`` (its documented escape); the mapping is one to one, so distinct ids stay
    distinct labels.
    """
    return str(value).replace("$", r"\$")


def _plain_text_figure[F: Callable[..., str | list[str]]](func: F) -> F:
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
def forest(summary: pd.DataFrame, ci: float) -> list[str]:
    """Forest plots of support with its credible interval, CMOCs grouped under their mechanism.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`cmoc.analyses.summarize` output.
    ci : float
        Probability of the intervals in ``summary`` (for the axis label).

    Returns
    -------
    list of str
        SVGs of at most :data:`FOREST_ROWS` rows each, whole mechanisms together
        (:func:`forest_pages`), :data:`PRINT_INCHES` wide with type of at least
        :data:`LABEL_PT` points; mechanisms in bold with a square marker, their CMOCs indented
        below, highest support first.
    """
    rows = _forest_rows(summary, order="support_mean")
    return [_support_page(page, ci) for page in forest_pages(rows)]


def _support_page(rows, ci: float) -> str:
    """One forest figure of model v1 (:func:`forest`)."""
    height = 1.4 + 0.2 * len(rows)
    fig, ax = plt.subplots(figsize=(PRINT_INCHES, height))
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
        fontsize=LABEL_PT,
    )
    for label, (_, is_mech) in zip(ax.get_yticklabels(), rows, strict=True):
        if is_mech:
            label.set_fontweight("bold")
    ax.axvline(0.5, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_xlim(0, 1)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.tick_params(axis="x", labelsize=LABEL_PT)
    ax.set_xlabel(f"support (posterior mean and {ci:.0%} credible interval)", fontsize=LABEL_PT)
    ax.grid(axis="x", color="#eeeeee")
    return _legend_above(fig, list(STATUS_STYLE.values()), height)


def _legend_above(fig, styles: list[dict], height: float) -> str:
    """Lay the statuses' legend in one row above a forest figure ``height`` in tall; the SVG."""
    handles = [
        Line2D([0], [0], color=s["color"], linestyle=s["linestyle"], linewidth=2, label=s["label"])
        for s in styles
    ]
    fig.legend(
        handles=handles,
        loc="upper left",
        ncol=len(handles),
        fontsize=LABEL_PT,
        frameon=False,
        bbox_to_anchor=(0.0, 1.0),
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / height))
    return to_svg(fig)


def _forest_rows(summary: pd.DataFrame, order: str | None = None) -> list[tuple[object, bool]]:
    """Rows of a forest plot: each mechanism (True), then its CMOCs (False).

    ``order`` names a column the CMOCs of a mechanism are sorted by, largest first (ties and
    missing values by id); None keeps their order in ``summary``.
    """
    rows = []
    for m in summary[summary["target_type"] == "mechanism"].itertuples(index=False):
        rows.append((m, True))
        cm = summary[(summary["target_type"] == "cmoc") & (summary["mechanism_id"] == m.target_id)]
        if order is not None:
            cm = cm.assign(_key=-cm[order].astype(float).fillna(-np.inf)).sort_values(
                ["_key", "target_id"], kind="stable"
            )
        rows.extend((c, False) for c in cm.itertuples(index=False))
    return rows


def forest_pages(rows: list[tuple[object, bool]], size: int = FOREST_ROWS) -> list[list]:
    """Split forest rows into figures of at most ``size`` rows, whole mechanisms together.

    A mechanism whose own rows exceed ``size`` is split at ``size`` (its later figure repeats
    no heading row: the labels say which CMOCs they are).
    """
    blocks: list[list] = []
    for row in rows:
        if row[1] or not blocks:
            blocks.append([])
        blocks[-1].append(row)
    pages: list[list] = []
    for block in blocks:
        for start in range(0, len(block), size):
            part = block[start : start + size]
            if pages and len(pages[-1]) + len(part) <= size:
                pages[-1].extend(part)
            else:
                pages.append(list(part))
    return pages


def _codes_label(r) -> str:
    """``+supports / −refutes`` of a row; ``−?`` for none where its direction cannot be tested."""
    sup = int(r.supports) if pd.notna(r.supports) else 0
    ref = int(r.refutes) if pd.notna(r.refutes) else 0
    if not ref and not bool(r.direction_testable):
        return f"+{sup} / −?"
    return f"+{sup} / −{ref}"


@_plain_text_figure
def measurement_forest(
    summary: pd.DataFrame, ci: float, breadth_min: float, direction_margin: float
) -> list[str]:
    """Forest plots of a model v2 summary: breadth, direction where testable, and the codes.

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
    list of str
        SVGs of at most :data:`FOREST_ROWS` rows each, whole mechanisms together
        (:func:`forest_pages`), :data:`PRINT_INCHES` wide with type of at least
        :data:`LABEL_PT` points. Each: mechanisms in bold with a square marker, their CMOCs
        indented below, widest breadth first, in the colours and line styles of the statuses;
        breadth on the left, direction on the right where any is tested ("not tested"
        elsewhere), and at the right edge each target's supporting and refuting codes over
        every wave (``−?`` where refutes were not recorded), refuting counts in red. The axes
        are shared by every figure and logit where the intervals crowd an end
        (:func:`share_axis`).
    """
    rows = _forest_rows(summary, order="breadth_mean")
    tested = bool(summary["direction_testable"].astype(bool).any())
    b_axis = share_axis(summary["breadth_lo"], summary["breadth_hi"], (breadth_min,))
    testable = summary[summary["direction_testable"].astype(bool)]
    d_axis = share_axis(
        testable["direction_lo"],
        testable["direction_hi"],
        (0.5 - direction_margin, 0.5 + direction_margin),
    )
    shown = list(dict.fromkeys(r.status for r, _ in rows))
    pages = forest_pages(rows)
    return [
        _forest_page(page, tested, b_axis, d_axis, ci, breadth_min, direction_margin, shown)
        for page in pages
    ]


def _forest_page(rows, tested, b_axis, d_axis, ci, breadth_min, margin, shown) -> str:
    """One forest figure (:func:`measurement_forest`)."""
    height = 1.2 + 0.2 * len(rows)
    if tested:
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(PRINT_INCHES - 0.9, height), sharey=True, width_ratios=(1.2, 1)
        )
    else:
        fig, left = plt.subplots(figsize=(PRINT_INCHES - 0.9, height))
        right = None
    codes_ax = right if right is not None else left
    place = matplotlib.transforms.blended_transform_factory(codes_ax.transAxes, codes_ax.transData)
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
        label = _codes_label(r)
        sup, ref = label.split(" / ")
        weight = "bold" if is_mech else "normal"
        codes_ax.text(
            1.03,
            y,
            sup,
            transform=place,
            fontsize=LABEL_PT,
            va="center",
            fontweight=weight,
            color="#1b7837",
        )
        codes_ax.text(
            1.17,
            y,
            ref,
            transform=place,
            fontsize=LABEL_PT,
            va="center",
            fontweight=weight,
            color="#d73027" if ref not in ("−0", "−?") else "#888888",
        )
        if right is None:
            continue
        if bool(r.direction_testable):
            right.plot([r.direction_lo, r.direction_hi], [y, y], **line)
            right.plot(r.direction_mean, y, **marker)
        else:
            right.text(
                0.5,
                y,
                "not tested",
                fontsize=LABEL_PT,
                color="#888888",
                ha="center",
                va="center",
                transform=place,
            )
    codes_ax.text(
        1.03,
        1.0,
        "codes\n+ / −",
        transform=codes_ax.transAxes,
        fontsize=LABEL_PT,
        va="bottom",
        color="#444444",
    )
    left.set_yticks([-i for i in range(len(rows))])
    left.set_yticklabels(
        [plot_text(r.target_id if is_mech else f"   {r.target_id}") for r, is_mech in rows],
        fontsize=LABEL_PT,
    )
    for label, (_, is_mech) in zip(left.get_yticklabels(), rows, strict=True):
        if is_mech:
            label.set_fontweight("bold")
    b_axis.apply(left)
    left.axvline(breadth_min, color="#999999", linewidth=0.8, linestyle="--")
    left.grid(axis="x", color="#eeeeee")
    left.tick_params(axis="x", labelsize=LABEL_PT)
    left.set_ylim(-len(rows) + 0.4, 0.6)
    scale = " (logit axis)" if b_axis.scale == "logit" else ""
    left.set_xlabel(
        f"breadth: share of sources evidencing it\n({ci:.0%} interval){scale}", fontsize=LABEL_PT
    )
    if right is not None:
        d_axis.apply(right)
        right.axvspan(0.5 - margin, 0.5 + margin, color="#f0f0f0", lw=0, zorder=0)
        right.axvline(0.5, color="#999999", linewidth=0.8, linestyle="--")
        right.grid(axis="x", color="#eeeeee")
        right.tick_params(axis="x", labelsize=LABEL_PT)
        scale = " (logit axis)" if d_axis.scale == "logit" else ""
        right.set_xlabel(
            f"direction: share of its codes supporting it\n({ci:.0%} interval){scale}",
            fontsize=LABEL_PT,
        )
    styles = [s for name, s in MEASUREMENT_STATUS_STYLE.items() if name in shown]
    return _legend_above(fig, styles, height)


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
        SVG, one small panel per mechanism (four a row, :data:`PRINT_INCHES` wide, type of at
        least :data:`LABEL_PT` points): breadth (blue) and, after the waves where it is
        testable, direction (orange), each as mean and interval, on an axis shared by the
        panels, logit where the intervals crowd an end (:func:`share_axis`).
    """
    mechs = waves[waves["target_type"] == "mechanism"]
    order = list(dict.fromkeys(waves["wave"]))
    ids = list(dict.fromkeys(mechs["target_id"]))
    ncol = min(4, max(len(ids), 1))
    nrow = max(math.ceil(len(ids) / ncol), 1)
    fig, axes = plt.subplots(
        nrow,
        ncol,
        figsize=(PRINT_INCHES * ncol / 4, 1.9 * nrow + 0.4),
        sharey=True,
        squeeze=False,
    )
    tested = mechs[mechs["direction_testable"].fillna(False).astype(bool)]
    axis = share_axis(
        pd.concat([mechs["breadth_lo"], tested["direction_lo"]]),
        pd.concat([mechs["breadth_hi"], tested["direction_hi"]]),
        (0.5,),
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
            lo = rows[f"{name}_lo"].to_numpy(float)[ok]
            hi = rows[f"{name}_hi"].to_numpy(float)[ok]
            ax.fill_between(x[ok], lo, hi, color=band, alpha=0.6, linewidth=0)
            # each wave's interval as a bar too: a target seen in one wave has no band
            ax.vlines(x[ok], lo, hi, color=line, alpha=0.5, linewidth=1.2)
            ax.plot(x[ok], rows[f"{name}_mean"].to_numpy(float)[ok], "o-", color=line, ms=3)
        ax.set_title(plot_text(m), fontsize=LABEL_PT + 1)
        ax.set_xticks(x)
        ax.set_xticklabels([plot_text(w) for w in order], fontsize=LABEL_PT, rotation=20)
        axis.apply(ax, "y")
        ax.axhline(0.5, color="#999999", linewidth=0.6, linestyle="--")
        ax.tick_params(axis="y", labelsize=LABEL_PT)
    handles = [
        Line2D([0], [0], color=line, marker="o", ms=3, label=label)
        for label, (_, line) in zip(
            ("breadth", "direction (where testable)"), colours.values(), strict=True
        )
    ]
    if axis.scale == "logit":
        handles.append(Line2D([], [], linestyle="none", label="(logit axis)"))
    fig.legend(
        handles=handles, loc="upper center", ncol=len(handles), fontsize=LABEL_PT, frameon=False
    )
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
    ncol = min(4, max(len(ids), 1))
    nrow = max(math.ceil(len(ids) / ncol), 1)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(PRINT_INCHES * ncol / 4, 1.9 * nrow), sharey=True, squeeze=False
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
        ax.set_title(plot_text(m), fontsize=LABEL_PT + 1)
        ax.set_xticks(x)
        ax.set_xticklabels([plot_text(w) for w in order], fontsize=LABEL_PT, rotation=20)
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="#999999", linewidth=0.6, linestyle="--")
        ax.tick_params(axis="y", labelsize=LABEL_PT)
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
    fig, ax = plt.subplots(figsize=(PRINT_INCHES, 3.6))
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
        fontsize=LABEL_PT,
    )
    ax.set_ylabel("codes", fontsize=LABEL_PT + 1)
    ax.set_yscale("symlog", linthresh=10)
    ax.tick_params(axis="y", labelsize=LABEL_PT)
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
    ncol = min(4, max(len(quantities), 1))
    nrow = max(math.ceil(len(quantities) / ncol), 1)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(PRINT_INCHES * ncol / 4, 1.7 * nrow), squeeze=False
    )
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
            fontsize=LABEL_PT + 1,
            color="#222222" if test.uniform else STATUS_STYLE["refuted"]["color"],
        )
        ax.set_xticks([])
        ax.tick_params(axis="y", labelsize=LABEL_PT)
    fig.supxlabel(
        "rank of the true value among the posterior draws (binned)", fontsize=LABEL_PT + 1
    )
    fig.tight_layout()
    return to_svg(fig)
