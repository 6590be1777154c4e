"""CSV output a spreadsheet cannot run: text cells that would be formulas are neutralised.

Every CSV that cmoc writes for people to open (``summary.csv`` of the report, ``cmoc summary
--format csv``, ``--changes``, ``cmoc check``, ``cmoc plan``, ``cmoc calibrate`` and the CSVs of
``analyses/``) goes through :func:`frame_to_csv`. The rule is the OWASP one ("CSV injection"):

- a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
  ``'``, so ``=HYPERLINK(...)`` is shown as the text it is instead of being evaluated;
- numbers are never touched: a cell is text or number by its Python type, not by how it
  looks, so ``-0.25`` in a numeric column stays the number ``-0.25``;
- column names are text cells too (some tables have a column per wave label);
- line breaks inside a cell become line feeds (and the cell is quoted), so a stray carriage
  return cannot split a row for another reader;
- columns named in ``verbatim`` hold cmoc's own vocabulary (``sign`` is ``+`` or ``-``) and are
  written as they are.

The QDA importer's ``csv_text`` (:mod:`cmoc.evidence.qda.safety`) uses the same
:func:`needs_escape` for the text cells it writes. JSON output is
left raw: it is data, not evaluated by the programs that read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "escape_formula", "frame_to_csv", "needs_escape", "safe_cell"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection)."""


def needs_escape(text: str) -> bool:
    """Return True when a text cell would be read as a formula by a spreadsheet."""
    return bool(text) and text.startswith(FORMULA_PREFIXES)


def escape_formula(text: str) -> str:
    """Neutralise a text cell a spreadsheet would run as a formula by prefixing ``'``.

    ``=1+1`` becomes ``'=1+1``, ``@SUM(A1)`` becomes ``'@SUM(A1)``; other text is unchanged.
    """
    return "'" + text if needs_escape(text) else text


def safe_cell(value: Any) -> Any:
    """Return text escaped (:func:`escape_formula`, line breaks as line feeds), else the value."""
    if not isinstance(value, str):
        return value
    return escape_formula(value).replace("\r\n", "\n").replace("\r", "\n")


def _is_text_column(column: pd.Series) -> bool:
    dtype = column.dtype
    return not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    )


def frame_to_csv(frame: pd.DataFrame, *, verbatim: Iterable[str] = (), **kwargs: Any) -> str:
    """Write a frame as CSV text (no index, line feeds as line ends) with formula cells neutralised.

    Parameters
    ----------
    frame : pandas.DataFrame
    verbatim : iterable of str
        Columns of cmoc's own vocabulary, written without escaping.
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv` (``float_format``, for instance).

    Returns
    -------
    str
    """
    keep = set(verbatim)
    columns = []
    for i, name in enumerate(frame.columns):  # by position: column names may repeat
        column = frame.iloc[:, i]
        if name not in keep and _is_text_column(column):
            column = column.astype(object).map(safe_cell)
        columns.append(column.reset_index(drop=True))
    out = pd.concat(columns, axis=1, ignore_index=True) if columns else frame.iloc[:0, :0]
    out.columns = [safe_cell(c) for c in frame.columns]
    kwargs.setdefault("lineterminator", "\n")
    return out.to_csv(index=False, **kwargs)
