"""What every QDA reader returns: documents, codes and counts of coding references.

A reader (``refi``, ``taguette``, ``matrix``) turns one export into a :class:`QdaProject`;
everything after that (mapping codes to the theory, writing an evidence base) is shared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..problems import Problem

__all__ = [
    "GUID_PATTERN",
    "QdaCode",
    "QdaDocument",
    "QdaProject",
    "normalize_guid",
    "unknown_options",
]

GUID_PATTERN = re.compile(
    r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?"
)
"""A GUID as the REFI-QDA schemas allow it (``GUIDType``): bare or in braces, any letter case."""


def normalize_guid(text: str | None) -> str:
    """Return the form GUIDs are compared in: outer spaces and one pair of braces off, lower case.

    The REFI-QDA schemas (``GUIDType`` in ``Project.xsd`` and ``Codebook.xsd``) allow a GUID
    bare or in braces, in either letter case, so ``{A0B1...}`` and ``a0b1...`` name the same
    element. Text that is not a GUID is returned stripped and lower-cased (an export that
    breaks the pattern is still read consistently).

    Parameters
    ----------
    text : str or None
        A ``guid`` or ``targetGUID`` attribute, or a GUID written in a mapping file.

    Returns
    -------
    str
        ``""`` for None or blank text.
    """
    value = (text or "").strip()
    if len(value) >= 2 and value[0] == "{" and value[-1] == "}":
        value = value[1:-1].strip()
    return value.lower()


@dataclass(frozen=True)
class QdaCode:
    """A code of the QDA project.

    Attributes
    ----------
    key : str
        Stable identity: the GUID (lower case) where the format has one, else the code path
        joined with ``/``.
    path : tuple of str
        Code names from the root of the code tree, e.g. ``("mechanism", "trust")``. Names are
        not unique across parents: two codes with the same name under different parents have
        different paths and keys.
    codable : bool
        False for folders that only group codes (REFI-QDA ``isCodable="false"``).
    """

    key: str
    path: tuple[str, ...]
    codable: bool = True


@dataclass(frozen=True)
class QdaDocument:
    """A document (source) of the QDA project.

    Attributes
    ----------
    key : str
        Stable identity: the GUID (lower case) where the format has one, else the name.
    name : str
        The name the QDA program shows.
    attributes : mapping of str to str
        Variables or attributes of the document (or of the case it belongs to), by name, e.g.
        ``{"kind": "interview", "wave": "w2"}``.
    """

    key: str
    name: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QdaProject:
    """One QDA export, read.

    Attributes
    ----------
    format : str
        ``refi-qda``, ``taguette`` or ``matrix``.
    documents : tuple of QdaDocument
    codes : tuple of QdaCode
    counts : mapping of (str, str) to int
        ``(document key, code key)`` to the number of coding references, as the QDA program
        itself reports it (one coded segment = one reference). Pairs with no coding are absent.
    notes : tuple of str
        What was read but not counted, and why (annotations without a coding, codings of
        cases, total rows of a matrix, ...), one line each.
    passages : mapping of (str, str) to tuple of (str, str)
        ``(document key, code key)`` to the text of each coded reference whose text the export
        holds, with where it is (``(text, location)``); empty for formats without passages.
    """

    format: str
    documents: tuple[QdaDocument, ...]
    codes: tuple[QdaCode, ...]
    counts: Mapping[tuple[str, str], int]
    notes: tuple[str, ...] = ()
    passages: Mapping[tuple[str, str], tuple[tuple[str, str], ...]] = field(default_factory=dict)


def unknown_options(path: Path, options: Mapping[str, object], expected: str) -> list[Problem]:
    """One problem per option a reader does not take (options left as None are no options).

    Parameters
    ----------
    path : Path
        The export being read (named in the problems).
    options : mapping
        The options the caller passed beyond the reader's own.
    expected : str
        What the reader takes, e.g. ``"only the options sheet= and orientation= ..."``.
    """
    return [
        Problem(path.name, None, name, repr(value), expected)
        for name, value in options.items()
        if value is not None
    ]
