"""One shape for every derived result: checks, comparison, plan, calibration, the gate.

An :class:`AnalysisResult` is a frozen dataclass with a ``table`` (the result's frame), a
``text`` (its plain-language reading), ``passed`` (the verdict: True, False, or None for a
result that has none) and typed ``settings`` (a frozen :class:`Settings` dataclass per kind,
saying what was run). Extra frames go in ``tables`` (a calibration's ranks), headline numbers in
``values`` (a gate's divergences) and figures, never saved, in ``figures``. Each kind is a
subclass that names its ``kind`` and its settings class and may add read-only properties.

Every kind is saved and loaded the same way: :meth:`AnalysisResult.save` writes one JSON
document atomically (through :func:`~cmoc.analyses.fitting.store.write_json_result`: format tag
``"cmoc <kind> <version>"``, then ``kind, text, passed, settings, columns, rows, index,
tables, values``; floats exact, a missing table cell (NaN, ``pd.NA``, None) as null);
:meth:`AnalysisResult.load` (or :func:`load_result` with the kind) reads it back as the right
subclass, null cells as missing values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from .store import read_json_result, write_json_result

__all__ = ["AnalysisResult", "Settings", "load_result", "result_kinds"]


def _plain(value: Any) -> Any:
    """Return a value as JSON: numpy scalars as Python ones, tuples as lists (floats exact)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Settings:
    """What a result was computed with: a frozen dataclass of JSON-able fields.

    Subclasses declare the fields of one kind. For code written when settings were dicts,
    ``settings["name"]`` and ``settings.get("name", default)`` read a field too.
    """

    def __getitem__(self, name: str) -> Any:
        if name not in self.names():
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        """Return the field ``name``, or ``default`` when there is no such field."""
        return getattr(self, name) if name in self.names() else default

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Return the field names."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-able dict (tuples as lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build settings from a mapping (a saved document, or a dict of older code).

        Unknown keys are ignored, missing ones take their default; a tuple field accepts a
        list.

        Raises
        ------
        ValueError
            When a field without a default is missing.
        """
        if isinstance(data, cls):
            return data
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                no_default = f.default is dataclasses.MISSING
                if no_default and f.default_factory is dataclasses.MISSING:
                    raise ValueError(f"settings without {f.name!r}")
                continue
            value = data[f.name]
            if str(f.type).startswith("tuple") and isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)


_KINDS: dict[str, type[AnalysisResult]] = {}


@dataclass(frozen=True)
class AnalysisResult:
    """A derived result: its table, its reading, its verdict and what it was computed with.

    Attributes
    ----------
    table : pandas.DataFrame
        The result's main frame (its index is kept when named, as the gate's ``variable``).
    text : str
        A plain-language reading.
    passed : bool or None
        The verdict (True: nothing found wrong); None for a result without one (a plan).
    settings : Settings
        The kind's typed settings (a mapping is converted by :meth:`Settings.from_dict`).
    tables : mapping of str to pandas.DataFrame
        Further frames (a calibration's ``ranks``).
    values : mapping of str to JSON values
        Headline numbers and lists (a gate's ``divergences`` and ``failures``).
    figures : mapping of str to object
        Figures drawn for the result (not saved).
    """

    table: pd.DataFrame
    text: str
    passed: bool | None
    settings: Settings
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    figures: Mapping[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "result"
    """The kind's name (in the saved document's format tag)."""
    settings_type: ClassVar[type[Settings]] = Settings
    version: ClassVar[int] = 1
    """Version of the saved document of this kind."""
    what: ClassVar[str] = "result"
    """The kind in words, for messages (``cannot read the <what>``)."""
    hint: ClassVar[str] = "cmoc result"
    """What a document of another format is said not to be (``not a <hint>``)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _KINDS[cls.kind] = cls

    def __post_init__(self) -> None:
        if not isinstance(self.settings, self.settings_type):
            object.__setattr__(self, "settings", self.settings_type.from_dict(self.settings))

    @classmethod
    def format_tag(cls) -> str:
        """Return the format tag of the kind's saved document: ``"cmoc <kind> <version>"``."""
        return f"cmoc {cls.kind} {cls.version}"

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON, atomically (the previous file survives an interruption).

        Parameters
        ----------
        path : str or Path
            Its directory is created if needed.

        Returns
        -------
        Path
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "kind": self.kind,
            "text": self.text,
            "passed": self.passed,
            "settings": self.settings.to_dict(),
            **_frame_body(self.table),
            "tables": {name: _frame_body(frame) for name, frame in self.tables.items()},
            "values": _plain(dict(self.values)),
        }
        return write_json_result(path, self.format_tag(), body)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a result of this kind written by :meth:`save`.

        Raises
        ------
        ValueError
            When the file cannot be read, is not of this kind or is damaged (the message says
            which).
        """
        doc = read_json_result(path, cls.format_tag(), cls.what, cls.hint)
        return cls.from_document(doc, path)

    @classmethod
    def describe(cls, table: pd.DataFrame, settings: Settings) -> str:
        """Return the reading of a table (for a saved document without ``text``)."""
        return ""

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], path: str | Path = "") -> Self:
        """Build the result from a saved document (``text`` and ``passed`` may be absent).

        Raises
        ------
        ValueError
            When the document is damaged (``"{path}: damaged <what> (...)"``).
        """
        try:
            table = _frame_of(doc)
            tables = {name: _frame_of(body) for name, body in doc.get("tables", {}).items()}
            settings = cls.settings_type.from_dict(dict(doc["settings"]))
            passed = doc.get("passed")
            return cls(
                table,
                str(doc.get("text") or cls.describe(table, settings)),
                None if passed is None else bool(passed),
                settings,
                tables,
                dict(doc.get("values", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"{path}: damaged {cls.what} ({err})") from err


def _cell(value: Any) -> Any:
    """Return a table cell as JSON: a missing value (NaN, ``pd.NA``, ``NaT``, None) as null.

    JSON has no NaN and cannot hold ``pd.NA`` (the blank of a nullable column such as an
    ``Int64`` ``codes``), so every missing cell is written as null and read back as missing.
    """
    if not isinstance(value, list | tuple | Mapping | np.ndarray) and pd.isna(value):
        return None
    return _plain(value)


def _frame_body(frame: pd.DataFrame) -> dict[str, Any]:
    """Return a frame as ``columns``, ``rows`` and ``index`` (the named index levels).

    Missing cells are null (:func:`_cell`).
    """
    named = [n for n in frame.index.names if n is not None]
    flat = frame.reset_index() if named else frame
    return {
        "columns": [str(c) for c in flat.columns],
        "rows": [[_cell(v) for v in row] for row in flat.itertuples(index=False)],
        "index": named,
    }


def _frame_of(body: Mapping[str, Any]) -> pd.DataFrame:
    """Return the frame of a :func:`_frame_body` document (a null cell: None, or NaN if numeric)."""
    frame = pd.DataFrame(body["rows"], columns=body["columns"])
    index = body.get("index") or []
    return frame.set_index(index) if index else frame


def result_kinds() -> dict[str, type[AnalysisResult]]:
    """Return every kind of result, by name.

    A kind registers when its module is imported; importing any module of
    :mod:`cmoc.analyses` imports them all (the package imports every sub-package).
    """
    return dict(_KINDS)


def load_result(path: str | Path, kind: str) -> AnalysisResult:
    """Read a saved result of ``kind`` (``"plan"``, ``"calibration"``, ``"comparison"``, ...).

    Raises
    ------
    ValueError
        When ``kind`` is unknown, or the file is not such a result.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown kind of result {kind!r} (known: {', '.join(sorted(_KINDS))})")
    return _KINDS[kind].load(path)
