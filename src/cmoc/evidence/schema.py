"""The evidence-base format, version 1: one pydantic model per file row, and the TOML header.

The column sets here are the contract of the design brief (``../shared/design.md`` §3) plus the
documented extensions (``basis``/``citation``/``note`` on ``sources.csv`` and ``codings.csv``,
``group_levels``, ``[classification]``, ``[confidence]`` and ``[recording]`` in ``evidence.toml``);
see docs/evidence-format.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)

from ..defaults import (
    AFFIRM,
    BREADTH_MIN,
    CONTEXT_MARGIN_BREADTH,
    CONTEXT_MARGIN_DIRECTION,
    CONTEXT_ODDS_RATIO,
    DIRECTION_MARGIN,
    LEVEL_THRESHOLDS,
    MIN_SOURCES,
    RECORDING,
    REFUTE,
    REFUTES_DEFAULT,
    REFUTES_INFERRED,
)

__all__ = [
    "CONCERN_LEVELS",
    "COUNT_MAX",
    "FORMATS",
    "GRADE_LEVELS",
    "JUDGED_COMPONENTS",
    "LEDGER_TABLE",
    "TABLES",
    "WAVE_LABEL_MAX",
    "WAVE_LABEL_RULE",
    "ActionRow",
    "Classification",
    "CmocRow",
    "CodingRow",
    "ConfidenceKinds",
    "EvidenceConfig",
    "ExcerptRow",
    "JudgementRow",
    "LedgerRow",
    "MechanismRow",
    "Recording",
    "RecordingValue",
    "SourceRow",
    "TableSpec",
    "Thresholds",
    "wave_label_problem",
]

FORMATS = (1,)
"""Evidence-base format versions this code reads."""


def _blank_to_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


Text = Annotated[str, BeforeValidator(_blank_to_none)]
OptText = Annotated[str | None, BeforeValidator(_blank_to_none)]
_IdStr = Annotated[str, StringConstraints(pattern=r"^[^;\s](?:[^;]*[^;\s])?$")]
Ident = Annotated[_IdStr, BeforeValidator(_blank_to_none)]
Stance = Annotated[Literal["supports", "refutes"], BeforeValidator(_blank_to_none)]
OptIdent = Annotated[_IdStr | None, BeforeValidator(_blank_to_none)]

COUNT_MAX = 10**9
"""Largest count a coding row may give.

Counts are numbers of coded passages; a billion is far beyond any real review, while a million
rows of this size still sum exactly in 64-bit integers and in float64 (below 2**53), which the
model's sufficient statistics use. Larger values are typing errors (or an overflow later on)."""

YEAR_MAX = 9999
"""Largest ``year`` of a source."""

_PLAIN_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _whole_number(value: object) -> object:
    """Parse a whole number written in the digits 0-9 only (surrounding spaces allowed).

    Python's ``int`` would also take ``1_0``, ``+5``, ``٣`` and pydantic ``1.0``: none of those
    is how a count is written in a table, so they are refused rather than guessed at.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not (text.isascii() and text.isdigit()):
            raise ValueError("digits 0-9 only")
        if len(text) > 20:  # beyond any bound below; spares int() a long string
            raise ValueError("too large")
        return int(text)
    if isinstance(value, bool) or not isinstance(value, int | None):
        raise ValueError("a whole number")
    return value


def _plain_decimal(value: object) -> object:
    """Parse a decimal number written as digits and one optional '.' (no sign or exponent)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise ValueError("a plain decimal number")
        return float(text)
    return value


OptCount = Annotated[
    Annotated[int, Field(ge=0, le=COUNT_MAX)] | None, BeforeValidator(_whole_number)
]
OptYear = Annotated[Annotated[int, Field(ge=0, le=YEAR_MAX)] | None, BeforeValidator(_whole_number)]

WAVE_LABEL_MAX = 64
"""Longest wave label, in characters."""

WAVE_LABEL_RULE = (
    f"a wave label of up to {WAVE_LABEL_MAX} letters (any script), digits, spaces and "
    "punctuation, without '/', '\\', ';', a leading '.', control characters or symbols"
)
"""The rule for wave labels, as problems state it."""

_LABEL_SEPARATORS = {"/": "a path separator", "\\": "a path separator", ";": "the id separator"}


def wave_label_problem(label: str) -> str | None:
    """Say what is wrong with a wave label, or return None when it is a good one.

    Wave labels name files and folders of fits and reports (through a slug) and appear in
    tables, so they are kept to letters of any script, digits, single-line spaces and
    punctuation: never a path separator, a control or formatting character, a leading dot, or a
    symbol (emoji, ``$``, ``|``, ``<``, ``=``, ...).

    Parameters
    ----------
    label : str

    Returns
    -------
    str or None
        The rule with the reason (``"... ('/' is a path separator)"``), or None.
    """
    reason = None
    if not label:
        reason = "it is empty"
    elif len(label) > WAVE_LABEL_MAX:
        reason = f"it has {len(label)} characters"
    elif label[0] == ".":
        reason = "it begins with '.'"
    elif label != label.strip():
        reason = "it begins or ends with a space"
    else:
        for ch in label:
            if ch in _LABEL_SEPARATORS:
                reason = f"'{ch}' is {_LABEL_SEPARATORS[ch]}"
                break
            category = unicodedata.category(ch)
            if ch == " " or category[0] in "LNP" or category[0] == "M":
                continue
            name = unicodedata.name(ch, "")
            code = f"U+{ord(ch):04X}{' ' + name if name else ''}"
            kind = {
                "S": "a symbol",
                "Z": "a space other than ' '",
                "C": "a control, formatting or unassigned character",
            }[category[0]]
            reason = f"{code} is {kind}"
            break
    return None if reason is None else f"{WAVE_LABEL_RULE} ({reason})"


def _wave_label(value: str) -> str:
    problem = wave_label_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


WaveLabel = Annotated[str, AfterValidator(_wave_label)]
Basis = Annotated[Literal["reported", "inferred"] | None, BeforeValidator(_blank_to_none)]
Origin = Annotated[
    Literal["prior", "novel"], BeforeValidator(lambda v: _blank_to_none(v) or "prior")
]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MechanismRow(_Row):
    """A row of ``mechanisms.csv``: one mechanism (a latent variable of the theory)."""

    mechanism_id: Ident
    name: Text
    definition: Text
    origin: Origin = "prior"
    cluster: OptText = None
    citation: OptText = None


class CmocRow(_Row):
    """A row of ``cmocs.csv``: one context-mechanism-outcome configuration."""

    cmoc_id: Ident
    mechanism_id: Ident
    context: Text
    outcome: Text
    sign: Annotated[Literal["+", "-"], BeforeValidator(_blank_to_none)]
    origin: Origin
    statement: OptText = None
    revises: OptIdent = None
    basis: Basis = None
    citation: OptText = None


class SourceRow(_Row):
    """A row of ``sources.csv``: one source (a paper, an interview, a focus group)."""

    source_id: Ident
    kind: Text
    wave: Annotated[WaveLabel, BeforeValidator(_blank_to_none)]
    group: OptText = None
    weight: Annotated[
        Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None,
        BeforeValidator(_plain_decimal),
    ] = None
    exposure: Annotated[
        Annotated[float, Field(gt=0, allow_inf_nan=False)] | None,
        BeforeValidator(_plain_decimal),
    ] = None
    title: OptText = None
    year: OptYear = None
    basis: Basis = None
    citation: OptText = None
    note: OptText = None


class CodingRow(_Row):
    """A row of ``codings.csv``: codes of one source (or wave/group total) for one target."""

    source_id: Ident
    target_id: Ident
    stance: Stance
    count: OptCount = None
    count_min: OptCount = None
    count_max: OptCount = None
    basis: Basis = None
    citation: OptText = None
    note: OptText = None


class ActionRow(_Row):
    """A row of ``actions.csv``: practical guidance tied to the parts of theory it rests on."""

    action_id: Ident
    statement: Text
    rests_on: Annotated[
        tuple[str, ...],
        BeforeValidator(
            lambda v: (
                tuple(p.strip() for p in v.split(";") if p.strip()) if isinstance(v, str) else v
            )
        ),
        Field(min_length=1),
    ]
    cluster: OptText = None
    citation: OptText = None


class ExcerptRow(_Row):
    """A row of ``excerpts.csv``: a passage coded to a target, the text behind a code."""

    source_id: Ident
    target_id: Ident
    stance: Stance
    text: Text
    location: OptText = None
    coder: OptText = None


def _iso_time(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("an ISO 8601 time") from None
    return value


def _iso_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("an ISO 8601 date (2026-12-05)") from None
    return value


JUDGED_COMPONENTS = ("adequacy", "coherence", "limitations", "relevance", "confidence")
"""What a reviewer may judge (``judgements.csv``): a CERQual component, or the grade itself."""

CONCERN_LEVELS = ("none", "minor", "moderate", "serious")
"""A component's levels of concern, least first."""

GRADE_LEVELS = ("high", "moderate", "low", "very low")
"""CERQual's confidence levels, highest first."""


class JudgementRow(_Row):
    """A row of ``judgements.csv``: a reviewer's override of a computed component or grade."""

    target_id: Ident
    component: Annotated[
        Literal["adequacy", "coherence", "limitations", "relevance", "confidence"],
        BeforeValidator(_blank_to_none),
    ]
    level: Annotated[
        Literal["none", "minor", "moderate", "serious", "high", "low", "very low"],
        BeforeValidator(lambda v: _blank_to_none(v.lower()) if isinstance(v, str) else v),
    ]
    reason: Text
    reviewer: Text
    date: Annotated[Text, AfterValidator(_iso_date)]


class LedgerRow(_Row):
    """A row of ``ledger.csv``: the rows of one wave in one file, as recorded (see ``ledger``)."""

    entry: Annotated[Annotated[int, Field(ge=1)], BeforeValidator(_whole_number)]
    wave: Text
    recorded_at: Annotated[Text, AfterValidator(_iso_time)]
    file: Annotated[Literal["sources.csv", "codings.csv"], BeforeValidator(_blank_to_none)]
    rows: Annotated[Annotated[int, Field(ge=0)], BeforeValidator(_whole_number)]
    rows_sha256: Annotated[
        str, BeforeValidator(_blank_to_none), StringConstraints(pattern=r"^[0-9a-f]{64}$")
    ]
    batch: OptText = None
    note: OptText = None


class Thresholds(BaseModel):
    """Code counts at which the evidence for a target in a wave is limited/moderate/significant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limited: Annotated[int, Field(ge=1)] = LEVEL_THRESHOLDS["limited"]
    moderate: Annotated[int, Field(ge=1)] = LEVEL_THRESHOLDS["moderate"]
    significant: Annotated[int, Field(ge=1)] = LEVEL_THRESHOLDS["significant"]

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.limited < self.moderate < self.significant:
            raise ValueError("thresholds must increase: limited < moderate < significant")
        return self


class Classification(BaseModel):
    """Probability thresholds for the status of a CMOC (see ``cmoc.analyses.classify``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    affirm: Annotated[float, Field(gt=0.5, lt=1)] = AFFIRM
    refute: Annotated[float, Field(gt=0, lt=0.5)] = REFUTE
    breadth_min: Annotated[float, Field(gt=0, lt=1)] = BREADTH_MIN
    direction_margin: Annotated[float, Field(ge=0, lt=0.5)] = DIRECTION_MARGIN
    min_sources: Annotated[int, Field(ge=1)] = MIN_SOURCES
    context_breadth_margin: Annotated[float, Field(gt=0, lt=1)] = CONTEXT_MARGIN_BREADTH
    context_direction_margin: Annotated[float, Field(gt=0, lt=1)] = CONTEXT_MARGIN_DIRECTION
    context_odds_ratio: Annotated[float, Field(gt=1)] = CONTEXT_ODDS_RATIO


class ConfidenceKinds(BaseModel):
    """How directly each source kind speaks to the programme's question (``[confidence]``).

    Used for the relevance component of the confidence grade (``cmoc.analyses.confidence``).
    Kinds not named here are direct evidence; ``direct`` only documents the choice.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    direct: list[Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]] = []
    partial: list[Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]] = []
    indirect: list[Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]] = []

    @model_validator(mode="after")
    def _disjoint(self) -> ConfidenceKinds:
        seen: dict[str, str] = {}
        for name in ("direct", "partial", "indirect"):
            for kind in getattr(self, name):
                if kind in seen:
                    raise ValueError(
                        f"each kind in one list only ({kind!r} is both {seen[kind]} and {name})"
                    )
                seen[kind] = name
        return self

    def relevance_of(self, kind: str) -> str:
        """Return ``direct``, ``partial`` or ``indirect`` for a source kind."""
        if kind in self.indirect:
            return "indirect"
        if kind in self.partial:
            return "partial"
        return "direct"


def _recording_value(value: object) -> object:
    if value not in RECORDING:
        raise ValueError(
            f"one of {', '.join(repr(v) for v in RECORDING)} (whether the refuting codes of "
            "sources of this kind were coded)"
        )
    return value


RecordingValue = Annotated[
    Literal["recorded", "partial", "not recorded"], BeforeValidator(_recording_value)
]
"""A value of ``[recording]``: :data:`cmoc.defaults.RECORDING`."""


class Recording(BaseModel):
    """Whether disconfirming evidence was coded, per source kind (``[recording]``).

    ``refutes = { review = "recorded", interview = "not recorded" }``: ``recorded`` (a missing
    ``refutes`` cell is a zero), ``partial`` (the refutes seen are a lower bound) or ``not
    recorded`` (refutes unknown). A kind not named is ``not recorded``, or ``partial`` when its
    sources have ``refutes`` rows (:meth:`refutes_for`; docs/evidence-format.md says why).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    refutes: dict[str, RecordingValue] = {}

    def declared(self, kind: str) -> str | None:
        """Return the recording of refutes declared for ``kind``, or None."""
        return self.refutes.get(kind)

    def refutes_for(self, kind: str, refuted_kinds: Collection[str] = ()) -> str:
        """Return the recording of refutes for sources of ``kind``: declared, else the default.

        Parameters
        ----------
        kind : str
            A source kind (``sources.csv`` ``kind``).
        refuted_kinds : collection of str
            The kinds with at least one ``refutes`` row from their sources (own rows or totals
            covering them); :func:`cmoc.evidence.recording.refutes_recording` works them out
            from a base.

        Returns
        -------
        str
            The declared value; else ``partial`` (:data:`~cmoc.defaults.REFUTES_INFERRED`) when
            ``kind`` is in ``refuted_kinds``, else ``not recorded``
            (:data:`~cmoc.defaults.REFUTES_DEFAULT`).
        """
        declared = self.declared(kind)
        if declared is not None:
            return declared
        return REFUTES_INFERRED if kind in refuted_kinds else REFUTES_DEFAULT


class Nesting(BaseModel):
    """Whether a CMOC's codes are also codes of its mechanism (``[nesting]``).

    ``cmocs_in_mechanism = true``: a mechanism's count from a source or total bounds each of
    its CMOCs' counts from the same source or total (:mod:`cmoc.evidence.nesting`). Default
    false: the counts are separate.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cmocs_in_mechanism: StrictBool = False


class EvidenceConfig(BaseModel):
    """The contents of ``evidence.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    title: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    citation: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    format: int
    waves: Annotated[list[WaveLabel], Field(min_length=1)]
    thresholds: Thresholds = Thresholds()
    classification: Classification = Classification()
    confidence: ConfidenceKinds = ConfidenceKinds()
    group_levels: list[str] | None = None
    recording: Recording = Recording()
    nesting: Nesting = Nesting()

    @model_serializer(mode="wrap")
    def _without_empty_recording(self, handler: SerializerFunctionWrapHandler) -> Any:
        # a base that declares no [recording] (or [nesting]) serialises (and hashes) as before
        # they existed: its evidence_hash is unchanged and fits saved earlier still carry it
        data = handler(self)
        if isinstance(data, dict) and not self.recording.refutes:
            data.pop("recording", None)
        if isinstance(data, dict) and not self.nesting.cmocs_in_mechanism:
            data.pop("nesting", None)
        return data

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: int) -> int:
        if value not in FORMATS:
            raise ValueError(
                f"a format this cmoc reads ({', '.join(map(str, FORMATS))}); upgrade cmoc or "
                "convert the evidence base"
            )
        return value

    @field_validator("waves")
    @classmethod
    def _distinct_waves(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for w in value:
            if w in seen:
                raise ValueError(f"distinct wave labels ({w!r} appears twice)")
            seen.add(w)
        return value


@dataclass(frozen=True)
class TableSpec:
    """Which CSV file holds which rows, its key and its columns."""

    file: str
    row: type[_Row]
    key: str | None
    required: tuple[str, ...]
    optional: tuple[str, ...]
    needed: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        """All columns the file may have, required first."""
        return self.required + self.optional


TABLES: dict[str, TableSpec] = {
    "mechanisms": TableSpec(
        "mechanisms.csv",
        MechanismRow,
        "mechanism_id",
        ("mechanism_id", "name", "definition"),
        ("origin", "cluster", "citation"),
    ),
    "cmocs": TableSpec(
        "cmocs.csv",
        CmocRow,
        "cmoc_id",
        ("cmoc_id", "mechanism_id", "context", "outcome", "sign", "origin"),
        ("statement", "revises", "basis", "citation"),
    ),
    "sources": TableSpec(
        "sources.csv",
        SourceRow,
        "source_id",
        ("source_id", "kind", "wave"),
        ("group", "weight", "exposure", "title", "year", "basis", "citation", "note"),
    ),
    "codings": TableSpec(
        "codings.csv",
        CodingRow,
        None,
        ("source_id", "target_id", "stance"),
        ("count", "count_min", "count_max", "basis", "citation", "note"),
    ),
    "actions": TableSpec(
        "actions.csv",
        ActionRow,
        "action_id",
        ("action_id", "statement", "rests_on"),
        ("cluster", "citation"),
        needed=False,
    ),
    "judgements": TableSpec(
        "judgements.csv",
        JudgementRow,
        None,
        ("target_id", "component", "level", "reason", "reviewer", "date"),
        (),
        needed=False,
    ),
    "excerpts": TableSpec(
        "excerpts.csv",
        ExcerptRow,
        None,
        ("source_id", "target_id", "stance", "text"),
        ("location", "coder"),
        needed=False,
    ),
}

LEDGER_TABLE = TableSpec(
    "ledger.csv",
    LedgerRow,
    None,
    ("entry", "wave", "recorded_at", "file", "rows", "rows_sha256"),
    ("batch", "note"),
    needed=False,
)
"""``ledger.csv``: what arrived when (written by ``cmoc update``; see ``cmoc.evidence.ledger``)."""
