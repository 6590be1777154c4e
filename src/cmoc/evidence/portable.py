"""Portable evidence: an evidence base as plain arrays that a fit file can carry, and back.

A fit stores the evidence it was fitted to (``cmoc.analyses.fitting.store`` keeps it in a group
of the fit's DataTree), so that the fit can be summarised and reported from the file alone.
Here the tables become one-dimensional numpy arrays of strings (never missing), int64,
float64 or int8, with a JSON-able layout saying how to rebuild each column with its dtype,
missing values (``None`` and ``NaN`` kept apart where a column holds both) and index. The
rebuilt :class:`EvidenceBase` has the same :attr:`~EvidenceBase.evidence_hash` and frames as
the original. :func:`evidence_differences` says, per file, how two bases differ.

Nothing here imports xarray: the arrays are turned into netCDF variables by the fit store.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .base import EvidenceBase
from .schema import TABLES, EvidenceConfig

__all__ = [
    "PORTABLE_FORMAT",
    "TABLE_NAMES",
    "PortableTable",
    "evidence_differences",
    "from_portable",
    "to_portable",
]

PORTABLE_FORMAT = 1
"""Version of the layout written by :func:`to_portable` (read back by :func:`from_portable`)."""

TABLE_NAMES = ("mechanisms", "cmocs", "sources", "codings", "actions")
"""The tables of an evidence base, in the order of its files."""

# kinds of the values of an object column (kept only when a column is not all strings)
_STR, _NONE, _NAN, _TUPLE, _JSON = 0, 1, 2, 3, 4
_MISSING = "missing"


@dataclass(frozen=True)
class PortableTable:
    """One table as arrays of equal length and the layout that rebuilds the frame.

    Attributes
    ----------
    arrays : dict of str to numpy.ndarray
        One-dimensional arrays, one value per row unless ``dims`` says otherwise: strings
        (object arrays of ``str``, none missing), ``int64``, ``float64``, ``int32`` (codes
        into the distinct strings of a column that repeats them) or ``int8`` (booleans, and
        the kind of each value of a column with missing values).
    layout : dict
        JSON-able: ``rows``, ``columns`` (in order, each with its ``name``, ``dtype`` and the
        arrays that hold it) and ``index`` (likewise, or ``{"range": true}``).
    dims : dict of str to str
        The dimension of each array that is not one value per row (the distinct strings of a
        column, named after it); the others are along ``row``.
    """

    arrays: dict[str, np.ndarray]
    layout: dict[str, Any]
    dims: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Number of rows."""
        return int(self.layout["rows"])


def _encode(
    series: pd.Series, var: str, arrays: dict[str, np.ndarray], dims: dict[str, str]
) -> dict[str, Any]:
    """Put one column into ``arrays`` (under ``var``); return its layout entry."""
    dtype = series.dtype
    entry: dict[str, Any] = {"dtype": str(dtype), "var": var}
    if pd.api.types.is_bool_dtype(dtype) and not isinstance(dtype, pd.BooleanDtype):
        arrays[var] = series.to_numpy(dtype=np.int8)
        entry["store"] = "bool"
    elif isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        arrays[var] = series.to_numpy()
        entry["store"] = "number"
    elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iufb":
        # nullable numbers (count_max, year): values with the missing ones marked
        missing = series.isna().to_numpy()
        numpy_dtype = np.dtype("int8") if dtype.kind == "b" else dtype.numpy_dtype
        arrays[var] = series.to_numpy(dtype=numpy_dtype, na_value=0)
        entry["store"] = "nullable"
        if missing.any():
            arrays[f"{var}__{_MISSING}"] = missing.astype(np.int8)
            entry["missing"] = f"{var}__{_MISSING}"
    else:
        values = series.to_numpy(dtype=object)
        kinds = np.zeros(len(values), dtype=np.int8)
        text = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            if isinstance(v, str):
                text[i] = v
                continue
            text[i] = ""
            if v is None:
                kinds[i] = _NONE
            elif (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                kinds[i] = _NAN
            elif isinstance(v, tuple) and all(isinstance(p, str) for p in v):
                kinds[i], text[i] = _TUPLE, json.dumps(list(v), ensure_ascii=False)
            else:
                kinds[i], text[i] = _JSON, json.dumps(v, ensure_ascii=False, default=str)
        entry["store"] = "text"
        if len(kinds) and (kinds == kinds[0]).all() and kinds[0] in (_NONE, _NAN):
            entry["var"], entry["all"] = None, int(kinds[0])  # no values to keep (a file's bytes)
        else:
            codes, distinct = pd.factorize(text)
            if 2 * len(distinct) <= len(text):
                # ids, stances, waves repeat: each distinct string once (HDF5 spends ~40 bytes
                # on every variable-length string, more than most of these strings are long)
                arrays[var] = codes.astype(np.int32)
                arrays[f"{var}__values"] = np.asarray(distinct, dtype=object)
                dims[f"{var}__values"] = f"{var}__distinct"
                entry["values"] = f"{var}__values"
            else:
                arrays[var] = text
            if kinds.any():
                arrays[f"{var}__kind"] = kinds
                entry["kind"] = f"{var}__kind"
    return entry


def _decode(entry: dict[str, Any], arrays: dict[str, np.ndarray], rows: int) -> pd.Series:
    """Rebuild one column from its layout entry."""
    dtype = pd.api.types.pandas_dtype(entry["dtype"])
    store = entry["store"]
    if entry["var"] is None:
        value = None if entry["all"] == _NONE else np.nan
        return pd.Series([value] * rows, dtype=object).astype(dtype)
    values = np.asarray(arrays[entry["var"]]) if rows else np.array([], dtype=object)
    if "values" in entry and rows:
        values = np.asarray(arrays[entry["values"]], dtype=object)[values]
    if store == "bool":
        return pd.Series(values.astype(bool), dtype=dtype)
    if store == "number":
        return pd.Series(values, dtype=dtype)
    if store == "nullable":
        series = pd.Series(values, dtype=dtype)
        if "missing" in entry:
            series[np.asarray(arrays[entry["missing"]]).astype(bool)] = pd.NA
        return series
    out = np.empty(rows, dtype=object)
    out[:] = [str(v) for v in values]
    if "kind" in entry:
        kinds = np.asarray(arrays[entry["kind"]])
        for i in np.flatnonzero(kinds):
            k = kinds[i]
            if k == _NONE:
                out[i] = None
            elif k == _NAN:
                out[i] = np.nan
            elif k == _TUPLE:
                out[i] = tuple(json.loads(out[i]))
            else:
                out[i] = json.loads(out[i])
    if dtype == np.dtype(object):
        return pd.Series(out, dtype=object)
    return pd.Series(out, dtype=object).astype(dtype)


def _table(frame: pd.DataFrame) -> PortableTable:
    arrays: dict[str, np.ndarray] = {}
    dims: dict[str, str] = {}
    columns = [_encode(frame[c], str(c), arrays, dims) | {"name": c} for c in frame.columns]
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        index_entry: dict[str, Any] = {"range": True}
    else:
        index_entry = _encode(pd.Series(index), "_index", arrays, dims)
    index_entry["name"] = index.name
    layout = {"rows": len(frame), "columns": columns, "index": index_entry}
    return PortableTable(arrays, layout, dims)


def _frame(table: PortableTable) -> pd.DataFrame:
    rows = table.rows
    layout = table.layout
    entry = layout["index"]
    if entry.get("range"):
        index = pd.RangeIndex(rows, name=entry["name"])
    else:
        index = pd.Index(_decode(entry, table.arrays, rows), name=entry["name"])
    data = {c["name"]: _decode(c, table.arrays, rows).set_axis(index) for c in layout["columns"]}
    return pd.DataFrame(data, index=index, columns=[c["name"] for c in layout["columns"]])


def to_portable(base: EvidenceBase) -> tuple[str, dict[str, PortableTable]]:
    """Turn an evidence base into its configuration (JSON) and one :class:`PortableTable` each.

    Parameters
    ----------
    base : EvidenceBase

    Returns
    -------
    (str, dict of str to PortableTable)
        ``evidence.toml`` as parsed (pydantic JSON), and the tables by name
        (:data:`TABLE_NAMES`).
    """
    return base.config.model_dump_json(), {n: _table(getattr(base, n)) for n in TABLE_NAMES}


def from_portable(config_json: str, tables: dict[str, PortableTable]) -> EvidenceBase:
    """Rebuild the evidence base written by :func:`to_portable` (``path`` None, no file hashes).

    Raises
    ------
    ValueError
        When the configuration or a table cannot be rebuilt.
    """
    config = EvidenceConfig.model_validate_json(config_json)
    missing = [n for n in TABLE_NAMES if n not in tables]
    if missing:
        raise ValueError(f"the stored evidence has no {', '.join(missing)} table")
    try:
        frames = {n: _frame(tables[n]) for n in TABLE_NAMES}
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"the stored evidence cannot be read ({err})") from err
    return EvidenceBase(config, **frames)


def _comparable(column: pd.Series) -> np.ndarray:
    """Return a column's values as compared between bases: every kind of missing alike."""
    values = column.to_numpy(dtype=object, copy=True)
    values[column.isna().to_numpy()] = None
    return values


def _keyed(name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Return the table keyed by its rows' ids (codings: source, target and stance)."""
    frame = frame.drop(columns="line", errors="ignore")
    if name == "codings" and {"source_id", "target_id", "stance"} <= set(frame.columns):
        frame = frame.set_index(["source_id", "target_id", "stance"], drop=False)
    return frame, frame.index.is_unique


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _table_difference(name: str, made: pd.DataFrame, now: pd.DataFrame) -> str | None:
    """Say how one table differs (None when it does not)."""
    a, unique_a = _keyed(name, made)
    b, unique_b = _keyed(name, now)
    parts: list[str] = []
    added_cols = [c for c in b.columns if c not in a.columns]
    dropped_cols = [c for c in a.columns if c not in b.columns]
    if added_cols:
        parts.append(f"columns added: {', '.join(map(str, added_cols))}")
    if dropped_cols:
        parts.append(f"columns removed: {', '.join(map(str, dropped_cols))}")
    if unique_a and unique_b:
        keys_a, keys_b = set(a.index), set(b.index)
        added, removed = len(keys_b - keys_a), len(keys_a - keys_b)
        shared = [k for k in a.index if k in keys_b]
        common = [c for c in a.columns if c in b.columns]
        changed = np.zeros(len(shared), dtype=bool)
        changed_cols = []
        if shared and common:
            left, right = a.loc[shared, common], b.loc[shared, common]
            for c in common:
                differs = np.asarray(_comparable(left[c]) != _comparable(right[c]), dtype=bool)
                if differs.any():
                    changed |= differs
                    changed_cols.append(c)
        changed_rows = int(changed.sum())
        counts: list[str] = []
        for n, what in ((added, "added"), (removed, "removed"), (changed_rows, "changed")):
            if n:
                counts.append(f"{n} {what}" if counts else f"{_plural(n, 'row')} {what}")
        if changed_rows:
            counts[-1] += f" ({', '.join(map(str, changed_cols))})"
        if counts:
            parts.append(", ".join(counts))
        elif [k for k in b.index if k in keys_a] != shared:
            parts.append("rows reordered")
    elif len(a) != len(b):
        parts.append(f"{_plural(len(a), 'row')} then, {len(b)} now")
    if not parts:
        # same keys and values: what is left is the rows' types or index (an in-memory base)
        body_a = made.drop(columns="line", errors="ignore").to_csv(lineterminator="\n")
        body_b = now.drop(columns="line", errors="ignore").to_csv(lineterminator="\n")
        if body_a == body_b:
            return None
        parts.append("the same rows, written differently")
    said = "; ".join(parts)
    return f"{TABLES[name].file} differs from the evidence this fit was made from ({said})"


def evidence_differences(made_from: EvidenceBase, now: EvidenceBase) -> list[str]:
    """Say, file by file, how the evidence ``now`` differs from the evidence ``made_from``.

    Parameters
    ----------
    made_from : EvidenceBase
        The evidence a fit was made from (:func:`cmoc.analyses.fit_evidence`).
    now : EvidenceBase
        The evidence it is used with.

    Returns
    -------
    list of str
        One sentence per differing file, in the order of
        :data:`~cmoc.evidence.EVIDENCE_FILES`, such as ``"codings.csv differs from the evidence
        this fit was made from (3 rows added, 1 changed in count_max)"``; empty when they do
        not differ.
    """
    out = []
    old, new = made_from.config.model_dump(mode="json"), now.config.model_dump(mode="json")
    keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    if keys:
        out.append(
            "evidence.toml differs from the evidence this fit was made from "
            f"({', '.join(keys)} changed)"
        )
    for name in TABLE_NAMES:
        said = _table_difference(name, getattr(made_from, name), getattr(now, name))
        if said is not None:
            out.append(said)
    return out
