"""What the newest wave changed, for model v2 fits: breadth and direction before and after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ...defaults import CI as DEFAULT_CI
from ...evidence import EvidenceBase, link_table, observed_codes, theory_links
from ..inference.links import link_draws
from ..inference.measurement import measurement_draws, summarize_measurement

__all__ = ["CHANGE_HEAD", "MEASUREMENT_CHANGE_COLUMNS", "measurement_change_report"]

CHANGE_HEAD = [
    "target_id",
    "target_type",
    "mechanism_id",
    "status_before",
    "status_after",
    "codes_before",
    "codes_after",
    "level_before",
    "level_after",
    "level_before_p",
    "level_after_p",
    "level_before_floor",
    "level_after_floor",
]
"""The first columns of both change reports (model v1 and v2). ``level_*_p`` is the posterior
predictive probability of the level (1 where the codes fix it;
:func:`cmoc.analyses.predictive_levels`); ``level_*_floor`` the level of the band's lower bound
where no row of its kind or mechanism bounds the codes from above (empty otherwise; model v1:
always empty)."""

MEASUREMENT_CHANGE_COLUMNS = [
    *CHANGE_HEAD,
    "breadth_before",
    "breadth_before_lo",
    "breadth_before_hi",
    "breadth_after",
    "breadth_after_lo",
    "breadth_after_hi",
    "breadth_shift",
    "breadth_shift_sd",
    "direction_testable",
    "direction_before",
    "direction_before_lo",
    "direction_before_hi",
    "direction_after",
    "direction_after_lo",
    "direction_after_hi",
    "direction_shift",
    "direction_shift_sd",
    "new_sources",
    "new_supports",
    "new_refutes",
    "status_changed",
]
"""Columns of :func:`measurement_change_report`. ``*_shift_sd`` treat the two fits as
independent (``sqrt(sd_before**2 + sd_after**2)``); ``direction_*`` are empty where the
direction is not testable after the newest wave (``direction_testable``) or was not before;
``new_sources`` counts the newest wave's sources with a code of the target (of either stance;
totals over a wave or group are not sources), ``new_supports``/``new_refutes`` the newest wave's
codes of each stance (lower bounds of bands; a mechanism's include its CMOCs')."""


def _sd(draws: xr.DataArray) -> pd.Series:
    sd = draws.std(("chain", "draw"))
    return pd.Series(sd.values, index=list(sd["target"].values))


def _sd_all(fit: xr.DataTree, evidence: EvidenceBase, name: str) -> pd.Series:
    """Posterior sd of ``name`` per target, then per link of the web."""
    out = _sd(measurement_draws(fit, evidence)[name])
    if link_table(evidence).empty:
        return out
    sd = link_draws(fit, evidence)[name].std(("chain", "draw"))
    return pd.concat([out, pd.Series(sd.values, index=list(sd["link"].values))])


def _newest_wave_codes(evidence: EvidenceBase) -> pd.DataFrame:
    """Per target: the newest wave's sources with a code, and its codes of each stance."""
    newest = evidence.waves[-1]
    cod = evidence.codings.assign(wave=evidence.coding_waves())
    cod = cod[cod["wave"] == newest]
    own = cod[cod["source_id"].isin(evidence.sources.index)]
    mech = evidence.cmocs["mechanism_id"]
    # a mechanism's new evidence is its own rows and its CMOCs'
    as_mech = own.assign(target_id=own["target_id"].map(mech).fillna(own["target_id"]))
    sources = pd.concat([own, as_mech[as_mech["target_id"].isin(evidence.mechanisms.index)]])
    frame = pd.DataFrame(index=evidence.targets.index)
    frame["new_sources"] = (
        sources.drop_duplicates(["target_id", "source_id"]).groupby("target_id").size()
    )
    per_cmoc = {}
    for stance in ("supports", "refutes"):
        codes = observed_codes(evidence, stances=(stance,))
        codes = codes[codes["wave"] == newest].set_index("target_id")["codes_min"]
        per_cmoc[stance] = codes
        by_mech = codes.reindex(mech.index).fillna(0).groupby(mech.to_numpy()).sum()
        total = codes.reindex(frame.index).fillna(0)
        total.loc[by_mech.index] += by_mech.to_numpy()
        frame[f"new_{stance}"] = total
    # a link's new evidence is its CMOCs' (a CMOC against it: its supports count as refutes)
    links = {}
    for link, g in theory_links(evidence).groupby("link_id", sort=False):
        role = dict(zip(g["cmoc_id"], g["role"], strict=True))
        new = {"supports": 0.0, "refutes": 0.0}
        for c, r in role.items():
            sup = float(per_cmoc["supports"].get(c, 0))
            ref = float(per_cmoc["refutes"].get(c, 0))
            new["supports"] += sup if r == "for" else 0.0
            new["refutes"] += ref if r == "for" else sup
        n_src = own[own["target_id"].isin(role)]["source_id"].nunique()
        links[link] = {"new_sources": n_src, "new_supports": new["supports"],
                       "new_refutes": new["refutes"]}  # fmt: skip
    if links:
        frame = pd.concat([frame, pd.DataFrame.from_dict(links, orient="index")])
    return frame.fillna(0).astype(int)


def measurement_change_report(
    before: EvidenceBase,
    before_fit: xr.DataTree,
    after: EvidenceBase,
    after_fit: xr.DataTree,
    *,
    ci: float = DEFAULT_CI,
) -> pd.DataFrame:
    """Compare two model v2 fits: what was known after the previous wave and after the newest.

    Parameters
    ----------
    before, after : EvidenceBase
        The evidence up to the previous wave, and up to the newest.
    before_fit, after_fit : xarray.DataTree
        Their model v2 fits (exact refits on the accumulated evidence).
    ci : float
        Probability of the intervals.

    Returns
    -------
    pandas.DataFrame
        :data:`MEASUREMENT_CHANGE_COLUMNS`, one row per target of ``after``. Targets new in the
        newest wave have no "before" values. The leave-one-out attribution of v1's
        ``moved_most`` is not computed for model v2 (its likelihood has no per-source pointwise
        form yet); ``new_sources``, ``new_supports`` and ``new_refutes`` say what arrived.
    """
    b = summarize_measurement(before_fit, before, ci=ci).set_index("target_id")
    a = summarize_measurement(after_fit, after, ci=ci).set_index("target_id")
    b = b.reindex(a.index)
    out = pd.DataFrame(index=a.index)
    for col in ("target_type", "mechanism_id", "direction_testable"):
        out[col] = a[col]
    for col_before, col_after, src in (
        ("status_before", "status_after", "status"),
        ("codes_before", "codes_after", "codes"),
        ("level_before", "level_after", "evidence_level"),
        ("level_before_p", "level_after_p", "evidence_level_p"),
        ("level_before_floor", "level_after_floor", "evidence_level_floor"),
    ):
        out[col_before], out[col_after] = b[src], a[src]
    sd = {
        when: {k: _sd_all(f, ev, k) for k in ("breadth", "direction")}
        for when, f, ev in (("before", before_fit, before), ("after", after_fit, after))
    }
    for name in ("breadth", "direction"):
        for when, frame in (("before", b), ("after", a)):
            for suffix, src in (("", "mean"), ("_lo", "lo"), ("_hi", "hi")):
                out[f"{name}_{when}{suffix}"] = frame[f"{name}_{src}"]
        out[f"{name}_shift"] = out[f"{name}_after"] - out[f"{name}_before"]
        before_sd = sd["before"][name].reindex(out.index)
        out[f"{name}_shift_sd"] = np.sqrt(before_sd**2 + sd["after"][name].reindex(out.index) ** 2)
    testable = a["direction_testable"].astype(bool) & b["direction_testable"].fillna(False).astype(
        bool
    )
    for col in ("direction_shift", "direction_shift_sd"):
        out[col] = out[col].where(testable)
    out = out.join(_newest_wave_codes(after))
    out["status_changed"] = out["status_before"].fillna("(new)") != out["status_after"]
    return out.reset_index()[MEASUREMENT_CHANGE_COLUMNS]
