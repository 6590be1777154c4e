"""Summary and statuses of a model v2 fit (the measurement model): breadth, direction, depth.

The estimands (docs/model.md, "Model v2"; names fixed by the design brief, section 8):

- ``breadth``: the expected share of the sources coded against a target that evidence it (for a
  mechanism: that evidence the mechanism or any of its CMOCs), averaged over the kinds of those
  sources in proportion to their numbers;
- ``direction``: the share of its codes that support it (kind-neutral), reported only where it is
  *testable*: it has codes of its own from sources of a kind whose refutes are ``recorded``
  (a mechanism: it or one of its CMOCs has), so the direction is seen, not pooled;
- ``depth``: the expected number of codes an evidencing source of unit exposure gives it.

Statuses (:func:`classify_measurement`) follow from these, never from pooling alone.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ...defaults import CI as DEFAULT_CI
from ...defaults import Status
from ...evidence import EvidenceBase, observed_codes
from ...evidence.links import link_table
from ...evidence.recording import refutes_recording
from ...models import measurement_data
from ..fitting.attrs import Provenance
from ..fitting.convergence import check_convergence
from .confidence import CONFIDENCE_IN_SUMMARY, confidence
from .levels import LEVEL_COLUMNS, predictive_levels

__all__ = [
    "MEASUREMENT_COLUMNS",
    "classify_measurement",
    "is_measurement_fit",
    "measurement_draws",
    "summarize_measurement",
]

MEASUREMENT_COLUMNS = [
    "target_id",
    "target_type",
    "mechanism_id",
    "origin",
    "wave",
    "breadth_mean",
    "breadth_lo",
    "breadth_hi",
    "p_broad",
    "sources_min",
    "direction_mean",
    "direction_lo",
    "direction_hi",
    "direction_testable",
    "p_supported",
    "p_clear_support",
    "p_clear_refute",
    "depth_mean",
    "depth_lo",
    "depth_hi",
    "support_mean",
    "support_lo",
    "support_hi",
    "codes",
    "supports",
    "refutes",
    "evidence_level",
    "evidence_level_p",
    "evidence_level_floor",
    "expected_codes",
    "status",
    "ess_bulk",
    "r_hat",
    "converged",
    *CONFIDENCE_IN_SUMMARY,
]
"""Columns of :func:`summarize_measurement`. ``support_*`` repeat ``direction_*`` (the share of
a target's codes that support it, empty where not testable), kept for the design brief's
section 6; ``p_broad`` is ``P(breadth >= breadth_min)``; ``sources_min`` the distinct sources
the target's own rows show to evidence it (``MeasurementData.sure_sources``);
``p_clear_support`` and ``p_clear_refute`` are ``P(direction >= 1/2 + margin)`` and
``P(direction <= 1/2 - margin)``
(``[classification] direction_margin``; empty where not testable); ``evidence_level`` of a
band that spans levels is the most probable level by the posterior predictive, with its
probability ``evidence_level_p`` (:func:`cmoc.analyses.predictive_levels`; 1 where the codes fix
it) and ``expected_codes`` the predictive mean; ``evidence_level_floor`` is the level of the
band's lower bound where no row of its source kind, or none of its mechanism, bounds a count
from above (the level beside it is then the model's, priors and pooling, not the data's; empty
otherwise: :func:`cmoc.analyses.inference.levels.open_blocks`); ``supports``/``refutes``
count the codes of each stance in every wave so far (lower bounds of bands); from ``own_codes``
on, the confidence grade and its components (:func:`cmoc.analyses.confidence`)."""


def is_measurement_fit(idata: xr.DataTree) -> bool:
    """Whether a fit is of model v2 (its posterior has ``breadth``)."""
    return "breadth" in idata["posterior"].data_vars


def _recording(evidence: EvidenceBase) -> dict[str, str]:
    return {k: r.refutes for k, r in refutes_recording(evidence).items()}


def measurement_draws(idata: xr.DataTree, evidence: EvidenceBase) -> dict[str, xr.DataArray]:
    """Draws of breadth, direction and depth per target (CMOCs then mechanisms).

    Returns
    -------
    dict
        ``breadth``, ``direction``, ``depth``: DataArrays with dims ``(chain, draw, target)``;
        ``testable``: a boolean DataArray over ``target``; ``sources_min``: an integer array
        (:meth:`~cmoc.models.MeasurementData.sure_sources`).
    """
    md = measurement_data(evidence, _recording(evidence))
    d = md.data
    post = idata["posterior"]
    n_c = len(d.cmocs)
    # sources of each kind coded against each target (its wave's theory holds the target)
    on = md.theory[d.src_wave]  # (source, target)
    kind_of = np.eye(len(d.kinds))[d.src_kind]  # (source, kind)
    n_tk = on.T.astype(float) @ kind_of  # (target, kind)
    mech_on = np.zeros((len(d.sources), len(d.mechanisms)), dtype=bool)
    for t, m in enumerate(d.target_mech):
        mech_on[:, m] |= on[:, t]
    n_mk = mech_on.T.astype(float) @ kind_of  # (mechanism, kind)

    def mix(values: xr.DataArray, counts: np.ndarray, dim: str) -> xr.DataArray:
        total = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
        w = xr.DataArray(share, dims=(dim, "kind"))
        return (values * w).sum("kind")

    breadth_t = mix(post["breadth"], n_tk, "target")
    breadth_m = mix(post["breadth_mechanism"], n_mk, "mechanism")
    breadth = xr.concat(
        [breadth_t.isel(target=slice(0, n_c)), breadth_m.rename(mechanism="target")], "target"
    ).assign_coords(target=d.targets)
    testable = md.recorded_codes() > 0  # direction seen in its own codes, not pooled
    for m in range(len(d.mechanisms)):  # a mechanism: testable where any of its targets is
        testable[n_c + m] = testable[d.target_mech == m].any()
    # a mechanism's direction is its CMOCs' typical one (mu_m), as v1's mechanism support
    direction = xr.concat(
        [
            post["direction"]
            .isel({post["direction"].dims[-1]: slice(0, n_c)})
            .rename({post["direction"].dims[-1]: "target"}),
            (1 / (1 + np.exp(-post["mu"]))).rename({post["mu"].dims[-1]: "target"}),
        ],
        "target",
    ).assign_coords(target=d.targets)
    return {
        "sources_min": md.sure_sources(),
        "breadth": breadth,
        "direction": direction,
        "depth": post["depth_expected"].assign_coords(target=d.targets),
        "testable": xr.DataArray(
            testable.astype(bool), dims="target", coords={"target": d.targets}
        ),
    }


def _stance_codes(evidence: EvidenceBase) -> pd.DataFrame:
    """Codes of each stance per target over every wave (lower bounds of bands).

    A mechanism's row counts its own codes and its CMOCs' (what its breadth and direction
    rest on).
    """
    out = {}
    for stance in ("supports", "refutes"):
        codes = observed_codes(evidence, stances=(stance,))
        out[stance] = codes.groupby("target_id")["codes_min"].sum()
    frame = pd.DataFrame(out).fillna(0).astype(int)
    mech = evidence.cmocs["mechanism_id"]
    by_mech = frame.reindex(mech.index).fillna(0).groupby(mech.to_numpy()).sum()
    frame.loc[by_mech.index] = frame.loc[by_mech.index].to_numpy() + by_mech.to_numpy()
    return frame


def classify_measurement(evidence: EvidenceBase, table: pd.DataFrame) -> pd.Series:
    """Status of each target from breadth and direction (first match wins).

    Thresholds from ``[classification]`` (``affirm``, ``refute``, ``breadth_min``,
    ``direction_margin`` ``m``); a direction is *clearly supportive* when
    ``P(direction >= 1/2 + m) >= affirm`` and *clearly refuting* when
    ``P(direction <= 1/2 - m) >= 1 - refute``:

    1. unevidenced: no code of either stance of its own (pooling alone never affirms; a
       mechanism's own codes include its CMOCs');
    2. refuted: direction testable and clearly refuting;
    3. contested: direction testable, codes of both stances, neither clear;
    4. novel / affirmed: ``P(breadth >= breadth_min) >= affirm``, its own rows show at least
       ``min_sources`` distinct sources evidencing it (``sources_min``: a band of codes over many
       sources shows one for sure), and, where testable, clearly supportive; novel when its
       origin is novel or it was first coded in the newest wave (after the first);
    5. revised: a CMOC that another CMOC ``revises``, when that one is affirmed or novel;
    6. inconclusive: some evidence, not enough.

    Parameters
    ----------
    evidence : EvidenceBase
    table : pandas.DataFrame
        Indexed by target id, with ``p_broad``, ``sources_min``, ``p_clear_support`` and
        ``p_clear_refute``
        (NaN where not testable), ``direction_testable``, ``supports`` and ``refutes``.

    Returns
    -------
    pandas.Series
        The status per target (plain strings of :class:`~cmoc.defaults.Status`).
    """
    targets = evidence.targets.reindex(table.index)
    first = first_coded(evidence).reindex(table.index)
    newest = len(evidence.waves) - 1
    new = (targets["origin"] == "novel") | (first.eq(newest) & (newest > 0))
    return status_of(table, evidence.config.classification, new, evidence.cmocs["revises"])


def first_coded(evidence: EvidenceBase) -> pd.Series:
    """Return the index of the first wave with a coding row, per target that has one."""
    cw = evidence.coding_waves().map(evidence.wave_index)
    return pd.Series(cw.to_numpy(), index=evidence.codings["target_id"]).groupby(level=0).min()


def status_of(
    table: pd.DataFrame, th, new: pd.Series, revises: pd.Series | None = None
) -> pd.Series:
    """Apply the rules of :func:`classify_measurement` to a table of estimands (or links).

    Parameters
    ----------
    table : pandas.DataFrame
        As for :func:`classify_measurement`.
    th : cmoc.evidence.schema.Classification
        The thresholds (``[classification]``).
    new : pandas.Series of bool
        Per row: novel by origin or first coded in the newest wave.
    revises : pandas.Series, optional
        ``cmocs.csv``'s ``revises`` (reviser id -> revised id); none for links.

    Returns
    -------
    pandas.Series
    """
    status = pd.Series(Status.inconclusive.value, index=table.index, dtype=object)
    testable = table["direction_testable"].astype(bool)
    clear_support = table["p_clear_support"] >= th.affirm
    clear_refute = table["p_clear_refute"] >= 1 - th.refute
    own = (table["supports"] + table["refutes"]) > 0
    new = new.reindex(table.index).fillna(False).astype(bool)
    direction_ok = ~testable | clear_support
    broad = (table["p_broad"] >= th.affirm) & (table["sources_min"] >= th.min_sources)
    status[broad & direction_ok & ~new] = Status.affirmed.value
    status[broad & direction_ok & new] = Status.novel.value
    for reviser, revised in () if revises is None else revises.dropna().items():
        if revised in status.index and status.get(reviser) in (Status.affirmed, Status.novel):
            status[revised] = Status.revised.value
    both = (table["supports"] > 0) & (table["refutes"] > 0)
    status[testable & both & ~clear_support & ~clear_refute] = Status.contested.value
    status[testable & clear_refute] = Status.refuted.value
    status[~own] = Status.unevidenced.value
    return status


def estimand_columns(draws: dict, ids: list[str], th, ci: float) -> pd.DataFrame:
    """Return the summary's columns that come from the draws, for targets or links alike.

    Parameters
    ----------
    draws : dict
        ``breadth``, ``direction``, ``depth`` (draws with ``chain``, ``draw`` and one more
        dimension, in the order of ``ids``), ``testable`` and ``sources_min``
        (:func:`measurement_draws`, :func:`cmoc.analyses.inference.links.link_draws`).
    ids : list of str
        The rows' ids (the frame's index, ``target_id``).
    th : cmoc.evidence.schema.Classification
    ci : float

    Returns
    -------
    pandas.DataFrame
        Intervals of breadth, direction and depth, ``p_broad``, ``sources_min``,
        ``direction_testable``, ``p_supported``, ``p_clear_*`` and ``support_*`` (empty where
        the direction is not testable: a pooled direction is never shown), ``ess_bulk`` and
        ``r_hat`` of the breadth.
    """
    dims = ("chain", "draw")
    lo, hi = (1 - ci) / 2, 1 - (1 - ci) / 2
    frame = pd.DataFrame(index=pd.Index(ids, name="target_id"))
    for name in ("breadth", "direction", "depth"):
        x = draws[name]
        q = x.quantile([lo, hi], dim=dims)
        frame[f"{name}_mean"] = x.mean(dims).values
        frame[f"{name}_lo"] = q.isel(quantile=0).values
        frame[f"{name}_hi"] = q.isel(quantile=1).values
    frame["p_broad"] = (draws["breadth"] >= th.breadth_min).mean(dims).values
    frame["sources_min"] = draws["sources_min"]
    testable = np.asarray(draws["testable"].values, dtype=bool)
    frame["direction_testable"] = testable
    direction, margin = draws["direction"], th.direction_margin
    for col, hit in (
        ("p_supported", direction > 0.5),
        ("p_clear_support", direction >= 0.5 + margin),
        ("p_clear_refute", direction <= 0.5 - margin),
    ):
        frame[col] = np.where(testable, hit.mean(dims).values, np.nan)
    for col in ("mean", "lo", "hi"):
        frame[f"direction_{col}"] = frame[f"direction_{col}"].where(testable)
        frame[f"support_{col}"] = frame[f"direction_{col}"]
    ds = xr.Dataset({"breadth": draws["breadth"]})
    frame["ess_bulk"] = az.ess(ds, method="bulk")["breadth"].values
    chains = draws["breadth"].sizes["chain"]
    frame["r_hat"] = az.rhat(ds)["breadth"].values if chains > 1 else np.nan
    return frame


def summarize_measurement(
    idata: xr.DataTree, evidence: EvidenceBase, *, ci: float = DEFAULT_CI, links: bool = True
) -> pd.DataFrame:
    """Summarise a model v2 fit per target for the newest wave.

    Parameters
    ----------
    idata : xarray.DataTree
        A fit of ``evidence`` made with ``ModelConfig(model="measurement")``.
    evidence : EvidenceBase
    ci : float
        Probability of the equal-tailed credible intervals.
    links : bool
        Add a row per link of the web (``target_type = link``, ``target_id = "A->B"``;
        :func:`cmoc.analyses.inference.links.summarize_links`) after the targets.

    Returns
    -------
    pandas.DataFrame
        :data:`MEASUREMENT_COLUMNS`, one row per target (CMOCs then mechanisms), then links.
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    draws = measurement_draws(idata, evidence)
    ids = list(draws["breadth"]["target"].values)
    frame = estimand_columns(draws, ids, evidence.config.classification, ci)
    targets = evidence.targets.reindex(frame.index)
    for col in ("target_type", "mechanism_id", "origin"):
        frame[col] = targets[col]
    newest = evidence.waves[-1]
    frame["wave"] = newest
    stance = _stance_codes(evidence).reindex(frame.index).fillna(0).astype(int)
    frame["supports"], frame["refutes"] = stance["supports"], stance["refutes"]
    level_draws: dict[str, np.ndarray] = {}
    levels = predictive_levels(
        idata, evidence, newest, seed=Provenance.of(idata).seed, draws_out=level_draws
    )
    for col in LEVEL_COLUMNS:
        frame[col] = levels[col].reindex(frame.index)
    frame["status"] = classify_measurement(evidence, frame)
    frame["converged"] = check_convergence(idata).passed
    frame = frame.reset_index()
    grades = confidence(idata, evidence, frame).set_index("target_id")
    for col in CONFIDENCE_IN_SUMMARY:
        frame[col] = grades[col].reindex(frame["target_id"]).to_numpy()
    frame = frame[MEASUREMENT_COLUMNS]
    if links and not link_table(evidence).empty:
        from .links import summarize_links  # it imports this module

        converged = bool(frame["converged"].all())
        more = summarize_links(
            idata, evidence, ci=ci, level_draws=level_draws, converged=converged,
            columns=MEASUREMENT_COLUMNS,
            open_levels=set(levels.index[levels["evidence_level_floor"] != ""]),
        )  # fmt: skip
        frame = pd.concat([frame, more], ignore_index=True)
    return frame
