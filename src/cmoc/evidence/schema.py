"""The evidence-base format, version 1: one pydantic model per file row, and the TOML header.

The column sets here are the contract of the design brief (``../shared/design.md`` §3) plus the
documented extensions (``basis``/``citation``/``note`` on ``sources.csv`` and ``codings.csv``,
``group_levels``, ``[classification]`` and ``[confidence]`` in ``evidence.toml``); see
ARCHITECTURE.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    field_validator,
    model_validator,
)

__all__ = [
    "FORMATS",
    "TABLES",
    "ActionRow",
    "Classification",
    "CmocRow",
    "CodingRow",
    "ConfidenceKinds",
    "EvidenceConfig",
    "MechanismRow",
    "SourceRow",
    "TableSpec",
    "Thresholds",
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
OptIdent = Annotated[_IdStr | None, BeforeValidator(_blank_to_none)]
OptCount = Annotated[NonNegativeInt | None, BeforeValidator(_blank_to_none)]
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
    wave: Text
    group: OptText = None
    weight: Annotated[
        Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None,
        BeforeValidator(_blank_to_none),
    ] = None
    exposure: Annotated[
        Annotated[float, Field(gt=0, allow_inf_nan=False)] | None,
        BeforeValidator(_blank_to_none),
    ] = None
    title: OptText = None
    year: Annotated[int | None, BeforeValidator(_blank_to_none)] = None
    basis: Basis = None
    citation: OptText = None
    note: OptText = None


class CodingRow(_Row):
    """A row of ``codings.csv``: codes of one source (or wave/group total) for one target."""

    source_id: Ident
    target_id: Ident
    stance: Annotated[Literal["supports", "refutes"], BeforeValidator(_blank_to_none)]
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


class Thresholds(BaseModel):
    """Code counts at which the evidence for a target in a wave is limited/moderate/significant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limited: Annotated[int, Field(ge=1)] = 1
    moderate: Annotated[int, Field(ge=1)] = 3
    significant: Annotated[int, Field(ge=1)] = 5

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.limited < self.moderate < self.significant:
            raise ValueError("thresholds must increase: limited < moderate < significant")
        return self


class Classification(BaseModel):
    """Probability thresholds for the status of a CMOC (see ``cmoc.analyses.classify``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    affirm: Annotated[float, Field(gt=0.5, lt=1)] = 0.9
    refute: Annotated[float, Field(gt=0, lt=0.5)] = 0.1


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


class EvidenceConfig(BaseModel):
    """The contents of ``evidence.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    title: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    citation: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    format: int
    waves: Annotated[list[Annotated[str, StringConstraints(min_length=1)]], Field(min_length=1)]
    thresholds: Thresholds = Thresholds()
    classification: Classification = Classification()
    confidence: ConfidenceKinds = ConfidenceKinds()
    group_levels: list[str] | None = None

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
}
