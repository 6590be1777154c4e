"""One renderer for every frame the commands print: a text table, CSV or JSON.

CSV goes through :func:`cmoc.evidence.csvsafe.frame_to_csv` (cells a spreadsheet would run as
formulas are neutralised); JSON is the frame's records (beside ``meta`` when given); the table
is the frame under a title, or the command's own table (the summary's and the change report's
are drawn by :mod:`cmoc.reports`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["pd_options", "render", "render_sections"]


def pd_options() -> AbstractContextManager:
    """Pandas display options for wide text tables."""
    import pandas as pd

    return pd.option_context(
        "display.width", 200, "display.max_columns", 50, "display.precision", 3
    )


def _records(frame: pd.DataFrame) -> list:
    return json.loads(frame.to_json(orient="records"))


def render(
    frame: pd.DataFrame,
    fmt: str,
    *,
    title: str = "",
    meta: Mapping[str, object] | None = None,
    table: Callable[[pd.DataFrame], str] | None = None,
) -> str:
    """Render a frame as the command line prints it.

    Parameters
    ----------
    frame : pandas.DataFrame
    fmt : {"table", "csv", "json"}
    title : str
        The line above a plain text table.
    meta : mapping, optional
        Facts printed beside the rows in JSON (``{**meta, "rows": [...]}``).
    table : callable, optional
        Draws the text table instead (it is given ``frame``).

    Returns
    -------
    str
        The text, ending in a newline.
    """
    if fmt == "csv":
        from ..evidence.csvsafe import frame_to_csv

        return frame_to_csv(frame)
    if fmt == "json":
        doc = _records(frame) if meta is None else {**meta, "rows": _records(frame)}
        return json.dumps(doc, indent=2) + "\n"
    if fmt != "table":
        raise ValueError(f"format must be table, csv or json, got {fmt!r}")
    if table is not None:
        return table(frame)
    with pd_options():
        return f"{title}\n{frame.to_string(index=False)}\n"


def render_sections(sections: Mapping[str, tuple[str, pd.DataFrame]], fmt: str) -> str:
    """Render several titled frames: one JSON object keyed by section, else one after another.

    Parameters
    ----------
    sections : mapping
        Section name to ``(title, frame)``.
    fmt : {"table", "csv", "json"}

    Returns
    -------
    str
    """
    if fmt == "json":
        doc = {name: _records(frame) for name, (_, frame) in sections.items()}
        return json.dumps(doc, indent=2) + "\n"
    return "".join(render(frame, fmt, title=title) for title, frame in sections.values())
