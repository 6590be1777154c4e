"""The plan's curves as a matplotlib figure: drawn for the report, or written to a file.

``cmoc plan --plot FILE`` writes the figure with :func:`write_plan_figure`; the report embeds it
as SVG through :func:`cmoc.reports.figures.plan_figure`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["draw_plan", "write_plan_figure"]


def draw_plan(table: pd.DataFrame, outcome: str = "settled", labelled: int | None = None):
    """Draw ``p_settled`` (solid, with Monte Carlo error) and ``p_affirmed`` (dotted) against n.

    Parameters
    ----------
    table : pandas.DataFrame
        A plan's table (of model v2: ``p_decisive`` renamed ``p_settled``).
    outcome : str
        What ``p_settled`` is the chance of, in the legend (``"decisive"`` for model v2).
    labelled : int, optional
        With more targets than this, only the ``labelled`` most likely ``outcome`` after the
        most new sources (ties by id) are coloured, labelled and given their error bars; the
        others are thin grey lines, one legend entry. ``p_affirmed`` is drawn only where it
        differs from ``p_settled`` somewhere (always with the default ``labelled=None``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    groups = list(table.groupby("target_id", sort=False))
    shown = [t for t, _ in groups]
    if labelled is not None and len(groups) > labelled:
        last = table[table["n_new"] == table["n_new"].max()]
        ranked = last.sort_values(["p_settled", "target_id"], ascending=[False, True])
        shown = list(ranked["target_id"].head(labelled))
        others = [(t, rows) for t, rows in groups if t not in shown]
        for i, (_, rows) in enumerate(others):
            ax.plot(
                rows["n_new"],
                rows["p_settled"],
                color="#bbbbbb",
                linewidth=0.8,
                label=f"{len(others)} others" if i == 0 else None,
            )
        groups = sorted((g for g in groups if g[0] in shown), key=lambda g: shown.index(g[0]))
    dotted = labelled is None or bool((table["p_affirmed"] != table["p_settled"]).any())
    for i, (target_id, rows) in enumerate(groups):
        colour = colours[i % len(colours)]
        ax.errorbar(
            rows["n_new"],
            rows["p_settled"],
            yerr=rows["mc_se"],
            marker="o",
            color=colour,
            capsize=2,
            label=f"{target_id} {outcome}",
        )
        if dotted:
            ax.plot(
                rows["n_new"], rows["p_affirmed"], ":", color=colour, label=f"{target_id} affirmed"
            )
    ax.set_xlabel(f"new sources ({table['kind'].iloc[0]})" if len(table) else "new sources")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    if len(table):
        ax.set_xticks(sorted(int(n) for n in table["n_new"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2 if len(shown) > 3 else 1)
    fig.tight_layout()
    return fig


def write_plan_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Plot :func:`draw_plan` to a file (SVG without a date, or PNG)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig = draw_plan(table)
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)
    return path
