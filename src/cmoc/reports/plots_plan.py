"""The plan's curves as a matplotlib figure: drawn for the report, or written to a file.

``cmoc plan --plot FILE`` writes the figure with :func:`write_plan_figure`; the report embeds it
as SVG through :func:`cmoc.reports.figures.plan_figure`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["draw_plan", "write_plan_figure"]


def draw_plan(table: pd.DataFrame):
    """Draw ``p_settled`` (solid, with Monte Carlo error) and ``p_affirmed`` (dotted) against n.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (target_id, rows) in enumerate(table.groupby("target_id", sort=False)):
        colour = colours[i % len(colours)]
        ax.errorbar(
            rows["n_new"],
            rows["p_settled"],
            yerr=rows["mc_se"],
            marker="o",
            color=colour,
            capsize=2,
            label=f"{target_id} settled",
        )
        ax.plot(rows["n_new"], rows["p_affirmed"], ":", color=colour, label=f"{target_id} affirmed")
    ax.set_xlabel(f"new sources ({table['kind'].iloc[0]})" if len(table) else "new sources")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    if len(table):
        ax.set_xticks(sorted(int(n) for n in table["n_new"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2 if table["target_id"].nunique() > 3 else 1)
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
