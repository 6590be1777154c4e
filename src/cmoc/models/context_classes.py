"""Contexts by group level: the sources' classes (kind, group) that the likelihood sees.

With ``context="group:N"`` a target's evidencing and direction deviate by the group a source
belongs to at level ``N`` of its group path (docs/model.md, "Context dependence"). The source
kinds keep their own parameters (activation, depth, leans, recording), so the likelihood's
terms are indexed by *class*: the sources of one kind in one group. The arrays of
:func:`cmoc.models.measurement_data` computed with each source's kind relabelled as its class
are exactly the likelihood's (a term's kind is then its class); the model gathers each class's
parameters from its kind and its group.

A group is identified only where every term lies within it: a total over the sources of several
groups (as a published total over all interviews) mixes their evidencing, and is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..evidence import EvidenceBase
from ..evidence.base import group_prefixes
from .data import model_data
from .measurement_data import MeasurementData, UnsupportedLayout, measurement_data

__all__ = [
    "ContextClasses",
    "NotIdentified",
    "context_classes",
    "group_level_of",
]

_GROUP = re.compile(r"^group:([1-9][0-9]*)$")


class NotIdentified(UnsupportedLayout):
    """The data cannot identify estimates per context (a total spans groups, one group only).

    ``rows``: the ``codings.csv`` rows of the totals that span groups (empty otherwise).
    """

    def __init__(self, message: str, rows: list[str] | None = None):
        super().__init__(message)
        self.rows = list(rows or [])


def group_level_of(context: str) -> int | None:
    """Return ``N`` of ``"group:N"`` (1-based level of the group paths), else None."""
    match = _GROUP.match(context)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ContextClasses:
    """The classes of sources the likelihood of a model with contexts by group sees.

    Attributes
    ----------
    level : int
        The level of the group paths (1-based).
    contexts : list of str
        The groups at that level with sources, sorted (their full path prefix).
    md : MeasurementData
        The likelihood's arrays: each source's kind is its class.
    class_kind : numpy.ndarray
        Per class (``md.data.kinds`` order), the index of its kind among the base's kinds.
    class_context : numpy.ndarray
        Per class, the index of its group in ``contexts``; -1 for sources with no group at
        the level (they keep the target's overall values).
    """

    level: int
    contexts: list[str]
    md: MeasurementData
    class_kind: np.ndarray
    class_context: np.ndarray

    def per_context(self, x: np.ndarray) -> np.ndarray:
        """Sum the last axis of ``x`` (per class) into one per context."""
        out = np.zeros((*x.shape[:-1], len(self.contexts)), dtype=x.dtype)
        for c, g in enumerate(self.class_context):
            if g >= 0:
                out[..., g] += x[..., c]
        return out


def _group_at(group, level: int) -> str | None:
    prefixes = group_prefixes(group)
    return prefixes[level - 1] if len(prefixes) >= level else None


def context_classes(
    base: EvidenceBase, recording: dict[str, str] | None, level: int
) -> ContextClasses:
    """Return the classes of ``base``'s sources by kind and group at ``level``.

    Parameters
    ----------
    base : EvidenceBase
    recording : dict, optional
        Source kind -> recording of refutes (as :func:`cmoc.models.measurement_data`).
    level : int
        The level of the group paths, 1-based.

    Raises
    ------
    NotIdentified
        Fewer than two groups at ``level`` have sources, or a total (naming its
        ``codings.csv`` rows) covers sources of several groups, or of a group and of none.
    """
    src = base.sources
    group = [_group_at(g, level) for g in src["group"]]
    contexts = sorted({g for g in group if g is not None})
    if len(contexts) < 2:
        found = f"only {contexts[0]!r}" if contexts else "none"
        raise NotIdentified(
            f"group level {level}: at least two groups are needed to compare, and the "
            f"sources' group paths have {found} at that level"
        )
    d = model_data(base, group_effects="none")
    spans: dict[str, set] = {}
    for r, j in zip(d.agg_row, d.agg_src, strict=True):
        spans.setdefault(d.agg_label[r], set()).add(group[int(j)])
    mixed = [label for label, gs in spans.items() if len(gs) > 1]
    if mixed:
        shown = ", ".join(mixed[:4]) + (f" and {len(mixed) - 4} more" if len(mixed) > 4 else "")
        raise NotIdentified(
            f"group level {level} is not identified by these data: {shown} "
            f"{'is a total' if len(mixed) == 1 else 'are totals'} over the sources of several "
            "groups (or of a group and sources with none), so how widely each group evidences "
            "a target cannot be told apart; per-group estimates need every total within one group",
            rows=mixed,
        )
    kinds = sorted(set(src["kind"]))
    label = [f"{k}\x1f{g or ''}" for k, g in zip(src["kind"], group, strict=True)]
    classes = sorted(set(label))
    rec = dict(recording or {})
    rec_x = {c: rec.get(c.split("\x1f")[0], "recorded") for c in classes}
    md = measurement_data(replace(base, sources=src.assign(kind=label)), rec_x)
    class_kind = np.array([kinds.index(c.split("\x1f")[0]) for c in md.data.kinds], dtype=np.int64)
    g_index = {g: i for i, g in enumerate(contexts)}
    class_context = np.array(
        [g_index.get(c.split("\x1f")[1], -1) for c in md.data.kinds], dtype=np.int64
    )
    return ContextClasses(level, contexts, md, class_kind, class_context)
