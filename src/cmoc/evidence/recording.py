"""Whether disconfirming evidence was coded, per source kind: ``[recording]`` read with its default.

``evidence.toml`` may declare, per source kind, whether refuting codes were coded
(``[recording] refutes = { review = "recorded", interview = "not recorded" }``). A kind it does
not name is ``not recorded``, or ``partial`` when some ``refutes`` row covers a source of that kind
(docs/evidence-format.md, "Recording of disconfirming evidence"). The model reads the result to
know which missing ``refutes`` cells are zeros; ``cmoc validate`` and the report state it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import EvidenceBase

__all__ = ["KindRecording", "recording_lines", "refutes_recording"]

DECLARED, INFERRED, DEFAULT = "declared", "inferred", "default"
"""Where a kind's recording comes from (:attr:`KindRecording.origin`)."""


@dataclass(frozen=True)
class KindRecording:
    """The recording of refutes for the sources of one kind.

    Attributes
    ----------
    kind : str
        A source kind of ``sources.csv``.
    refutes : str
        ``recorded``, ``partial`` or ``not recorded`` (:data:`cmoc.defaults.RECORDING`).
    origin : str
        ``declared`` (in ``[recording]``), ``inferred`` (not declared; ``partial`` because
        ``refutes`` rows cover sources of the kind) or ``default`` (not declared, no such rows).
    refutes_rows : int
        ``codings.csv`` rows with stance ``refutes`` that cover at least one source of the kind
        (its sources' own rows and totals over a wave or group holding one).
    absent : bool
        Declared for a kind no source has yet (a wave still to come, or the evidence up to an
        earlier wave): allowed, and said, so that a misspelt kind is seen.
    """

    kind: str
    refutes: str
    origin: str
    refutes_rows: int
    absent: bool = False

    def text(self) -> str:
        """One line: ``"interview = partial (declared)"``, with why for a value not declared."""
        if self.origin == DECLARED and self.absent:
            why = "declared; no source of this kind yet"
        elif self.origin == DECLARED:
            why = "declared"
        elif self.origin == INFERRED:
            rows = f"{self.refutes_rows} refutes row{'s' if self.refutes_rows != 1 else ''}"
            why = f"not declared; inferred from {rows} covering its sources"
        else:
            why = "default: not declared, no refutes rows for its sources"
        return f"{self.kind} = {self.refutes} ({why})"


def _refutes_rows_by_kind(base: EvidenceBase) -> dict[str, int]:
    """Count, per source kind, the ``refutes`` rows covering at least one source of it."""
    kind_of = base.sources["kind"]
    refutes = base.codings.loc[base.codings["stance"] == "refutes", "source_id"]
    out: dict[str, int] = {}
    for label, n in refutes.value_counts(sort=False).items():
        for kind in set(kind_of.loc[base.members(str(label))]):
            out[kind] = out.get(kind, 0) + int(n)
    return out


def refutes_recording(base: EvidenceBase) -> dict[str, KindRecording]:
    """Give the recording of refutes for every source kind of a base, declared or by default.

    Parameters
    ----------
    base : EvidenceBase

    Returns
    -------
    dict of str to KindRecording
        One entry per kind of ``sources.csv`` and per kind declared, in sorted order.
    """
    rows = _refutes_rows_by_kind(base)
    declared = base.config.recording
    out = {}
    present = set(base.sources["kind"])
    for kind in sorted(present | set(declared.refutes)):
        value = declared.refutes_for(kind, rows)
        if declared.declared(kind) is not None:
            origin = DECLARED
        else:
            origin = INFERRED if kind in rows else DEFAULT
        out[kind] = KindRecording(kind, value, origin, rows.get(kind, 0), kind not in present)
    return out


def recording_lines(base: EvidenceBase) -> list[str]:
    """One line per source kind saying how its refutes were recorded, and why so.

    For ``cmoc validate`` and the report: ``["interview = partial (declared)", "review = not
    recorded (default: not declared, no refutes rows for its sources)"]``.
    """
    return [r.text() for r in refutes_recording(base).values()]
