"""Status of each CMOC and mechanism after the newest wave (design brief §5)."""

from __future__ import annotations

import pandas as pd

from ...defaults import STATUSES, Status
from ...evidence import EvidenceBase

__all__ = ["STATUSES", "Status", "classify"]


def classify(evidence: EvidenceBase, p_supported: pd.Series) -> pd.Series:
    """Classify targets from the probability that their support exceeds one half.

    Rules, first match wins (thresholds from ``[classification]`` in ``evidence.toml``):

    1. refuted: ``P(support > 1/2) <= refute`` (default 0.1);
    2. revised: a CMOC that another CMOC ``revises``, when that one is affirmed or novel;
    3. novel: origin novel, or first coded in the newest wave, and ``P >= affirm`` (0.9);
    4. affirmed: origin prior and ``P >= affirm``;
    5. inconclusive: anything else.

    Parameters
    ----------
    evidence : EvidenceBase
        The evidence up to the wave being classified.
    p_supported : pandas.Series
        ``P(support > 1/2)`` indexed by target id (CMOCs and mechanisms).

    Returns
    -------
    pandas.Series
        Status per target, same index: the plain strings of :class:`~cmoc.defaults.Status`.
    """
    th = evidence.config.classification
    targets = evidence.targets.reindex(p_supported.index)
    newest = evidence.waves[-1]
    cw = evidence.coding_waves()
    first_wave = (
        pd.DataFrame({"t": evidence.codings["target_id"], "w": cw.map(evidence.wave_index)})
        .groupby("t")["w"]
        .min()
    )
    newest_i = evidence.wave_index(newest)
    status = pd.Series(Status.inconclusive.value, index=p_supported.index, dtype=object)
    high = p_supported >= th.affirm
    new = (targets["origin"] == "novel") | (
        first_wave.reindex(p_supported.index).eq(newest_i) & (newest_i > 0)
    )
    status[high & ~new] = Status.affirmed.value
    status[high & new] = Status.novel.value
    revisers = evidence.cmocs["revises"].dropna()
    for reviser, revised in revisers.items():
        if revised in status.index and status.get(reviser) in (Status.affirmed, Status.novel):
            status[revised] = Status.revised.value
    status[p_supported <= th.refute] = Status.refuted.value
    return status
