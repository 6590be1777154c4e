"""The in-memory evidence base: validated tables as pandas frames, with lookups by id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import pandas as pd

from .schema import EvidenceConfig

__all__ = ["EVIDENCE_FILES", "EvidenceBase", "group_prefixes"]

EVIDENCE_FILES = (
    "evidence.toml",
    "mechanisms.csv",
    "cmocs.csv",
    "sources.csv",
    "codings.csv",
    "actions.csv",
    "excerpts.csv",
    "judgements.csv",
)
"""The files of an evidence base (what ``cmoc update`` journals; the hash is of the model's part:
:attr:`EvidenceBase.evidence_hash` leaves the passages of ``excerpts.csv`` out)."""


def group_prefixes(group: str | None) -> list[str]:
    """Return every group a source with this ``group`` path belongs to, outermost first.

    Parameters
    ----------
    group : str or None
        A group label; ``/`` separates nested levels (``case study/Alliance 1/P10``).

    Returns
    -------
    list of str
        ``["case study", "case study/Alliance 1", "case study/Alliance 1/P10"]``.
    """
    if not isinstance(group, str) or not group:
        return []
    parts = [p.strip() for p in group.split("/")]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True, eq=False)
class EvidenceBase:
    """A validated evidence base.

    Build one with :func:`cmoc.evidence.load_evidence` (from a directory) or
    :meth:`from_frames` (in memory); both validate.

    Attributes
    ----------
    config : EvidenceConfig
        ``evidence.toml``: name, title, citation, waves, thresholds.
    mechanisms, cmocs, sources, actions : pandas.DataFrame
        One row per id, indexed by ``mechanism_id``, ``cmoc_id``, ``source_id``, ``action_id``.
    codings : pandas.DataFrame
        One row per coding row with ``source_id, target_id, stance, count_min, count_max,
        banded, scope`` (``count_max`` is missing for unbounded bands; exact counts have
        ``count_min == count_max``; ``scope`` is ``source``, ``wave`` or ``group``).
    path : Path or None
        Where the base was read from.
    file_hashes : dict of str to str
        SHA-256 of each file read (empty for bases built in memory).
    notes : tuple of str
        What loading had to do first (such as rolling back an interrupted update).
    excerpts : pandas.DataFrame
        ``excerpts.csv``: ``source_id, target_id, stance, text, location, coder`` per passage
        (empty without the file). Not part of :attr:`evidence_hash`: passages do not change a
        fit.
    judgements : pandas.DataFrame
        ``judgements.csv``: ``target_id, component, level, reason, reviewer, date`` per
        reviewer's override of a confidence component or grade (empty without the file); not
        part of :attr:`evidence_hash`.
    """

    config: EvidenceConfig
    mechanisms: pd.DataFrame
    cmocs: pd.DataFrame
    sources: pd.DataFrame
    codings: pd.DataFrame
    actions: pd.DataFrame
    path: Path | None = None
    file_hashes: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    excerpts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["source_id", "target_id", "stance", "text", "location", "coder", "line"]
        )
    )
    judgements: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["target_id", "component", "level", "reason", "reviewer", "date", "line"]
        )
    )

    @property
    def waves(self) -> list[str]:
        """Wave labels in the order the evidence arrived."""
        return list(self.config.waves)

    @cached_property
    def evidence_hash(self) -> str:
        """SHA-256 over the evidence's parsed content (configuration and every table).

        Line numbers, formatting and file bytes are left out: the hash changes when the parsed
        evidence changes, not when a file is re-saved with the same content. So the evidence
        known after an earlier wave (:meth:`up_to`) keeps its hash when later waves are
        appended, and a fit of it is reused instead of being refitted.
        """
        h = hashlib.sha256()
        h.update(self.config.model_dump_json().encode())
        for name, frame in (
            ("mechanisms", self.mechanisms),
            ("cmocs", self.cmocs),
            ("sources", self.sources),
            ("codings", self.codings),
            ("actions", self.actions),
        ):
            body = frame.drop(columns="line", errors="ignore").to_csv(lineterminator="\n")
            h.update(f"\0{name}\0{len(frame)}\0".encode())
            h.update(body.encode())
        return h.hexdigest()

    @cached_property
    def targets(self) -> pd.DataFrame:
        """All coding targets: CMOCs then mechanisms, indexed by ``target_id``.

        Columns are ``target_type`` (``cmoc`` or ``mechanism``), ``mechanism_id`` (the
        mechanism a CMOC belongs to; the mechanism itself for a mechanism), ``origin`` and
        ``name`` (context -> outcome for a CMOC).
        """
        c = pd.DataFrame(
            {
                "target_type": "cmoc",
                "mechanism_id": self.cmocs["mechanism_id"],
                "origin": self.cmocs["origin"],
                "name": self.cmocs["context"] + " -> " + self.cmocs["outcome"],
            },
            index=self.cmocs.index,
        )
        m = pd.DataFrame(
            {
                "target_type": "mechanism",
                "mechanism_id": self.mechanisms.index,
                "origin": self.mechanisms["origin"],
                "name": self.mechanisms["name"],
            },
            index=self.mechanisms.index,
        )
        out = pd.concat([c, m])
        out.index.name = "target_id"
        return out

    @cached_property
    def groups(self) -> dict[str, list[str]]:
        """Every group label (each level of every group path) and its source ids."""
        out: dict[str, list[str]] = {}
        for sid, group in self.sources["group"].items():
            for label in group_prefixes(group):
                out.setdefault(label, []).append(sid)
        return out

    def members(self, label: str) -> list[str]:
        """Return the source ids a coding row's ``source_id`` covers.

        Parameters
        ----------
        label : str
            A source id, a wave label or a group label.

        Returns
        -------
        list of str
            Source ids, in ``sources.csv`` order.
        """
        if label in self.sources.index:
            return [label]
        if label in self.config.waves:
            return list(self.sources.index[self.sources["wave"] == label])
        if label in self.groups:
            return list(self.groups[label])
        raise KeyError(f"{label!r} is neither a source, a wave nor a group")

    def wave_index(self, wave: str) -> int:
        """Position of ``wave`` in the order of arrival (0 for the first wave)."""
        if wave not in self.config.waves:
            raise ValueError(f"wave {wave!r} is not one of {', '.join(self.config.waves)}")
        return self.config.waves.index(wave)

    def target_type(self, target_id: str) -> str:
        """Return ``cmoc`` or ``mechanism`` for a target id."""
        return str(self.targets.at[target_id, "target_type"])

    def mechanism(self, mechanism_id: str) -> pd.Series:
        """Return the row of one mechanism."""
        return self.mechanisms.loc[mechanism_id]

    def cmoc(self, cmoc_id: str) -> pd.Series:
        """Return the row of one CMOC."""
        return self.cmocs.loc[cmoc_id]

    def coding_waves(self) -> pd.Series:
        """Wave of each coding row (a group spanning several waves gets its first wave)."""
        return self._coding_waves.copy()

    @cached_property
    def _coding_waves(self) -> pd.Series:
        src_wave = self.sources["wave"]
        labels = self.codings["source_id"]
        out = labels.map(src_wave)
        waves = set(self.config.waves)
        missing = out.isna()
        first: dict[str, str] = {}
        by_source = src_wave.to_dict()
        for label in set(labels[missing]):
            if label in waves:
                first[label] = label
            else:
                first[label] = min((by_source[s] for s in self.members(label)), key=self.wave_index)
        out[missing] = labels[missing].map(first)  # one pass: 16k totals were 16k passes
        return pd.Series(out.to_numpy(dtype=object), index=self.codings.index, name="wave")

    def up_to(self, wave: str) -> EvidenceBase:
        """Return the evidence known after ``wave``: that wave and all before it.

        Targets first coded in a later wave and not of prior origin are dropped with their
        codings; actions are kept only if everything they rest on is kept.
        """
        k = self.wave_index(wave)
        keep_waves = self.config.waves[: k + 1]
        sources = self.sources[self.sources["wave"].isin(keep_waves)]
        cw = self.coding_waves()
        codings = self.codings[cw.isin(keep_waves)].reset_index(drop=True)
        coded = set(codings["target_id"])
        mechanisms = self.mechanisms[
            (self.mechanisms["origin"] == "prior")
            | self.mechanisms.index.isin(coded)
            | self.mechanisms.index.isin(
                self.cmocs.loc[self.cmocs.index.isin(coded), "mechanism_id"]
            )
        ]
        cmocs = self.cmocs[
            ((self.cmocs["origin"] == "prior") | self.cmocs.index.isin(coded))
            & self.cmocs["mechanism_id"].isin(mechanisms.index)
        ]
        cmocs = cmocs.assign(revises=cmocs["revises"].where(cmocs["revises"].isin(cmocs.index)))
        kept = set(cmocs.index) | set(mechanisms.index)
        codings = codings[codings["target_id"].isin(kept)].reset_index(drop=True)
        rests = self.actions["rests_on"].map(lambda r: set(r) <= kept).to_numpy(dtype=bool)
        actions = self.actions.loc[rests]  # a boolean array: an empty frame keeps its columns
        config = self.config.model_copy(update={"waves": keep_waves})
        ex = self.excerpts
        excerpts = ex[ex["source_id"].isin(sources.index) & ex["target_id"].isin(kept)]
        judged = self.judgements
        ends = judged["target_id"].str.split("->")
        keep = ends.map(lambda e: all(x in kept for x in e)) if len(judged) else []
        return replace(
            self,
            excerpts=excerpts.reset_index(drop=True),
            judgements=judged[keep].reset_index(drop=True) if len(judged) else judged,
            config=config,
            mechanisms=mechanisms,
            cmocs=cmocs,
            sources=sources,
            codings=codings,
            actions=actions,
            # the content, not whole files: appending a wave must not change an earlier one's hash
            file_hashes={},
        )
