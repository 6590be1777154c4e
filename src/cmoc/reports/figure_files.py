"""The report's figures as files beside ``report.md``: ``figures/<name>.svg``.

The HTML page carries its figures inline; Markdown cannot, so :func:`cmoc.reports.build_report`
writes each figure as an SVG file in a ``figures/`` folder of the report folder and
``report.md`` links it (``![caption](figures/forest-1.svg)``). The files are the same SVG text as
the page's, so they are as deterministic; they are replaced with the report's other files, and
figure files of an earlier build that this one does not draw (a forest now in fewer parts) are
removed with them.
"""

from __future__ import annotations

import re

__all__ = ["FIGURES_DIR", "figure_files", "is_figure_file", "md_figure"]

FIGURES_DIR = "figures"
"""The folder of the report folder that holds the figure files."""

_NAME = re.compile(rf"^{FIGURES_DIR}/[a-z]+(-[1-9][0-9]*)?\.svg$")


def is_figure_file(name: str) -> bool:
    """Whether ``name`` (relative to the report folder) names one of the report's figure files."""
    return bool(_NAME.match(name))


def figure_files(figs: dict[str, str | list[str] | None]) -> dict[str, str]:
    """Name each drawn figure's file: ``figures/<key>.svg``, ``figures/<key>-<part>.svg``.

    Parameters
    ----------
    figs : dict
        :func:`cmoc.reports.html.report_figures` output (None: no such figure).

    Returns
    -------
    dict of str to str
        File name relative to the report folder -> SVG text, in the order of ``figs``.
    """
    out: dict[str, str] = {}
    for key, value in figs.items():
        if value is None:
            continue
        if isinstance(value, list):
            out.update({f"{FIGURES_DIR}/{key}-{i}.svg": svg for i, svg in enumerate(value, 1)})
        else:
            out[f"{FIGURES_DIR}/{key}.svg"] = value
    return out


def md_figure(files: dict[str, str], key: str, caption: str) -> list[str]:
    """Return Markdown lines linking the file(s) of figure ``key``; none if it was not drawn.

    ``caption`` is Markdown already (data text in it escaped by the caller).
    """
    names = [n for n in files if n in (f"{FIGURES_DIR}/{key}.svg",)]
    names += sorted(
        (n for n in files if n.startswith(f"{FIGURES_DIR}/{key}-")),
        key=lambda n: int(n.rsplit("-", 1)[1].removesuffix(".svg")),
    )
    lines = []
    for i, name in enumerate(names, 1):
        part = f" (part {i} of {len(names)})" if len(names) > 1 else ""
        lines += [f"![{caption}{part}]({name})", ""]
    return lines
