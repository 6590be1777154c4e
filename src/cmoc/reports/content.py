"""Everything the report shows, as tables: one place that computes it, for every output format.

:func:`report_content` turns an evidence base and its fits (one per wave) into a
:class:`ReportContent` of pandas frames and plain values. The HTML and Markdown renderers only
format what is here, and ``analyses/report_numbers.py`` writes the same tables as CSV, so every
number in the report can be reproduced from the public API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ..analyses import (
    DEFAULT_CI,
    CalibrationResult,
    ConvergenceCheck,
    ModelComparison,
    PlanResult,
    Provenance,
    change_report,
    check_convergence,
    context_estimates,
    group_contexts,
    is_measurement_fit,
    measurement_influence,
    measurement_predictive,
    moved_most,
    outcome_paths,
    posterior_predictive,
    ppc_summary,
    prior_sensitivity,
    recording_whatif,
    summarize,
)
from ..analyses.planning.calibration import calibration_command
from ..evidence import EvidenceBase, group_levels_table, link_table
from ..evidence.nesting import nesting_sentence
from ..evidence.recording import recording_lines, refutes_recording
from ..models import DEFAULT_CONFIG, ModelConfig
from ..models.config import describe_measurement_priors, measurement_priors_json
from .cerqual import cerqual_rows
from .tables import level_text
from .trail import evidence_trail

__all__ = [
    "INFLUENCE_TOP_COLUMNS",
    "MOVED_MIN",
    "NOT_YET_V2",
    "ReportContent",
    "influence_top",
    "measurement_priors",
    "report_content",
]

NOT_YET_V2: dict[str, str] = {}
"""The sentence the report of a model v2 fit shows in place of each section of model v1's that
v2 does not support yet (``ReportContent.unavailable``), saying why, by section
(``comparison``, ``plan``, ...). Empty: every section of v1's report now has v2's own (the
plan since ``REPORT_PLAN_V2``, the comparison since v2's pooling variants)."""


@dataclass
class ReportContent:
    """The report's tables and facts (no formatting).

    Attributes
    ----------
    title, name, citation : str
        Of the evidence base.
    waves : list of str
    ci : float
        Probability of every interval.
    summary : pandas.DataFrame
        :func:`cmoc.analyses.summarize` of the newest wave (every target).
    mechanisms, cmocs : pandas.DataFrame
        The mechanism table (shape of P3 Table 2) and the CMOC table.
    sources_by_kind_wave : pandas.DataFrame
        Number of sources per kind (rows) and wave (columns), with totals.
    groups : pandas.DataFrame
        Groups per level of the group paths.
    codings_by_wave : pandas.DataFrame
        Coding rows per wave: rows, per source, totals, banded, supports, refutes.
    trajectory : pandas.DataFrame
        Support of every target after each wave (exact refits on the accumulated evidence).
    changes : pandas.DataFrame or None
        :func:`cmoc.analyses.change_report` of the newest wave (None with a single wave).
    actions : pandas.DataFrame
        Action statements with what they rest on and the weakest support among those.
    ppc, ppc_by_group : pandas.DataFrame or None
        Posterior predictive check per unit and its summary by wave, unit type and kind. Of a
        model v2 fit, :func:`cmoc.analyses.measurement_predictive`'s rows (a source's exact
        codes; a block's total or band of each target it covers; ordered by wave, sources
        before blocks, then kind) and their summary with ``rows`` and ``share_in_interval``.
    ppc_targets : pandas.DataFrame or None
        Model v2: the predictive check per target (sources coded one by one that evidence it,
        and their codes; :data:`cmoc.analyses.MEASUREMENT_TARGET_PPC_COLUMNS`); empty when no
        source is coded one by one; None for model v1.
    influence : pandas.DataFrame or None
        Model v2: :func:`cmoc.analyses.measurement_influence` of the newest wave's fit, every
        unit (a source coded one by one, or a block of totals) and target; None for model v1
        (whose influence is in ``changes``' ``moved_most``).
    influence_top : pandas.DataFrame or None
        Model v2: per target, the unit that moves it most (:func:`influence_top`).
    links : pandas.DataFrame or None
        Model v2: :func:`cmoc.evidence.link_table` (the web's links); None for model v1.
    paths : pandas.DataFrame or None
        Model v2 with links: the strongest and weakest paths into each outcome node of the web
        (:func:`cmoc.analyses.outcome_paths`); None otherwise.
    context : pandas.DataFrame or None
        Model v2 with two source kinds or more: each target's breadth and direction per kind
        (:func:`cmoc.analyses.context_estimates` of the fit with context effects); None
        otherwise.
    context_check : ConvergenceCheck or None
        The convergence gate of that fit.
    context_groups : pandas.DataFrame or None
        With ``context``: per level of the group paths, whether its groups can be compared
        (:func:`cmoc.analyses.group_contexts`).
    group_context, group_context_check : dict
        Level -> the estimates per group of that level, and its fit's gate (the levels of
        :func:`cmoc.analyses.report_group_levels`).
    cerqual : list of CerqualRow
        The GRADE-CERQual tables' rows (:func:`cmoc.reports.cerqual.cerqual_rows`), with
        reviewers' judgements applied.
    judgements : int
        How many judgements of ``judgements.csv`` override a computed value.
    trail : list of TrailEntry
        The evidence behind each number: one entry per mechanism, CMOC and (model v2) link
        (:func:`cmoc.reports.trail.evidence_trail`).
    sensitivity : pandas.DataFrame
        :func:`cmoc.analyses.prior_sensitivity` of the newest wave's fit (of each target's
        breadth, and v2's statuses, for a model v2 fit).
    comparison : ModelComparison or None
        PSIS-LOO comparison with the no-pooling and complete-pooling variants, when run (of
        model v2, v2's variants pooling its target level, over v2's units).
    plan : PlanResult or None
        The chance that more sources settle each inconclusive CMOC of the newest wave's fit
        (:func:`cmoc.analyses.plan_or_reuse`), when computed; its table is empty when no CMOC
        is inconclusive. Of a model v2 fit, the chance that more sources make each
        inconclusive target (CMOC or mechanism) decisive
        (:data:`cmoc.analyses.PLAN_V2_COLUMNS`).
    calibration : CalibrationResult or None
        A saved simulation-based calibration of the fit's model configuration, when one was
        found (:func:`cmoc.analyses.find_calibration`).
    calibration_command : str
        The command that would calibrate this model configuration where the report looks.
    recording : list of str
        Whether refuting codes were recorded, per source kind (``kind = value (why)``, as
        ``cmoc validate`` shows it): stated at the top of the report.
    refutes_recording : dict of str to str
        The same per kind as a value only (``recorded``, ``partial``, ``not recorded``): what
        the plan of model v2 says new sources of its kind can show.
    nesting : str
        Where ``[nesting] cmocs_in_mechanism`` is declared, the sentence stating it and the bands
        it caps (stated at the top of the report); empty otherwise.
    scope_note : str
        What the report leaves out and why, stated at its top (a report of one saved fit:
        the newest wave only); empty for a full report.
    measurement : bool
        A report of model v2 fits (the measurement model): ``summary``, ``mechanisms``,
        ``cmocs``, ``trajectory`` and ``changes`` hold breadth, direction and depth
        (:data:`cmoc.analyses.MEASUREMENT_COLUMNS`) in place of support.
    unavailable : dict of str to str
        Section to the sentence shown in its place: why it is not yet available for model
        v2 (:data:`NOT_YET_V2`, now empty); empty for model v1.
    convergence : ConvergenceCheck
        Of the newest wave's fit.
    wave_checks : dict
        Wave label to the convergence check of that wave's fit.
    priors : list of (str, str)
    model : dict
        The model configuration.
    sampler : dict
        Sampler settings (sampler, seed, chains, draws, tune, ...).
    provenance : dict
        ``cmoc_version``, ``evidence_hash``, ``model_id``, ``packages``.
    thresholds, classification : dict
        Evidence-level thresholds and status thresholds used.
    recording_whatif : pandas.DataFrame, optional
        Where some kind's refutes are not recorded (model v2): each target's status beside the
        status of the fit with every missing refute read as none
        (:func:`cmoc.analyses.recording_whatif`); ``recording_whatif_check`` is that fit's
        convergence check.
    """

    title: str
    name: str
    citation: str
    waves: list[str]
    ci: float
    summary: pd.DataFrame
    mechanisms: pd.DataFrame
    cmocs: pd.DataFrame
    sources_by_kind_wave: pd.DataFrame
    groups: pd.DataFrame
    codings_by_wave: pd.DataFrame
    trajectory: pd.DataFrame
    changes: pd.DataFrame | None
    actions: pd.DataFrame
    ppc: pd.DataFrame | None
    ppc_by_group: pd.DataFrame | None
    sensitivity: pd.DataFrame | None
    convergence: ConvergenceCheck
    wave_checks: dict[str, ConvergenceCheck]
    priors: list[tuple[str, str]]
    model: dict
    sampler: dict
    provenance: dict
    thresholds: dict
    classification: dict
    mechanism_names: dict[str, str] = field(default_factory=dict)
    comparison: ModelComparison | None = None
    plan: PlanResult | None = None
    calibration: CalibrationResult | None = None
    calibration_command: str = ""
    recording: list[str] = field(default_factory=list)
    refutes_recording: dict[str, str] = field(default_factory=dict)
    nesting: str = ""
    scope_note: str = ""
    measurement: bool = False
    unavailable: dict[str, str] = field(default_factory=dict)
    ppc_targets: pd.DataFrame | None = None
    influence: pd.DataFrame | None = None
    influence_top: pd.DataFrame | None = None
    links: pd.DataFrame | None = None
    paths: pd.DataFrame | None = None
    context: pd.DataFrame | None = None
    context_check: ConvergenceCheck | None = None
    context_groups: pd.DataFrame | None = None
    trail: list = field(default_factory=list)
    cerqual: list = field(default_factory=list)
    judgements: int = 0
    group_context: dict[int, pd.DataFrame] = field(default_factory=dict)
    group_context_check: dict[int, ConvergenceCheck] = field(default_factory=dict)
    recording_whatif: pd.DataFrame | None = None
    recording_whatif_check: ConvergenceCheck | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the report by file stem (what ``analyses/report_numbers.py`` writes)."""
        out = {
            "summary": self.summary,
            "mechanisms": self.mechanisms,
            "cmocs": self.cmocs,
            "sources_by_kind_wave": self.sources_by_kind_wave.reset_index(),
            "groups": self.groups,
            "codings_by_wave": self.codings_by_wave,
            "trajectory": self.trajectory,
            "actions": self.actions,
            "ppc": self.ppc,
            "ppc_by_group": self.ppc_by_group,
            "ppc_targets": self.ppc_targets,
            "influence": self.influence,
            "influence_top": self.influence_top,
            "paths": self.paths,
            "context": self.context,
            "sensitivity": self.sensitivity,
            "convergence": self.convergence.table.reset_index(),
        }
        out = {name: table for name, table in out.items() if table is not None}
        out |= {f"context_group{level}": frame for level, frame in self.group_context.items()}
        if self.recording_whatif is not None:
            out["recording_whatif"] = self.recording_whatif
        if self.changes is not None:
            out["changes"] = self.changes
        if self.comparison is not None:
            out["comparison"] = self.comparison.table
        if self.plan is not None:
            out["plan"] = self.plan.table
        if self.calibration is not None:
            out["calibration"] = self.calibration.tests
            out["calibration_ranks"] = self.calibration.ranks
        return out


def _sources_by_kind_wave(base: EvidenceBase) -> pd.DataFrame:
    waves = [w for w in base.waves if w in set(base.sources["wave"])]
    table = pd.crosstab(base.sources["kind"], base.sources["wave"]).reindex(columns=waves)
    table["all waves"] = table.sum(axis=1)
    table.loc["all kinds"] = table.sum(axis=0)
    table.index.name = "kind"
    return table.astype(int)


def _codings_by_wave(base: EvidenceBase) -> pd.DataFrame:
    cod = base.codings.assign(wave=base.coding_waves().to_numpy())
    rows = []
    for wave in base.waves:
        w = cod[cod["wave"] == wave]
        rows.append(
            {
                "wave": wave,
                "rows": len(w),
                "per source": int((w["scope"] == "source").sum()),
                "totals (wave or group)": int((w["scope"] != "source").sum()),
                "banded": int(w["banded"].sum()),
                "supports rows": int((w["stance"] == "supports").sum()),
                "refutes rows": int((w["stance"] == "refutes").sum()),
                "codes (lower bounds)": int(w["count_min"].sum()),
            }
        )
    return pd.DataFrame(rows)


def _levels(s: pd.DataFrame) -> np.ndarray:
    """Evidence levels as shown: a level a band does not fix comes with its probability."""
    p = s["evidence_level_p"] if "evidence_level_p" in s else [None] * len(s)
    floor = s["evidence_level_floor"] if "evidence_level_floor" in s else [None] * len(s)
    return np.array(
        [
            level_text(level, q, f)
            for level, q, f in zip(s["evidence_level"], p, floor, strict=True)
        ],
        dtype=object,
    )


_V1_SUPPORT = ("support_mean", "support_lo", "support_hi", "p_supported")
"""Model v1's estimands, as the mechanism and CMOC tables of its report show them."""


def _mechanism_table(
    base: EvidenceBase, summary: pd.DataFrame, columns: tuple[str, ...] = _V1_SUPPORT
) -> pd.DataFrame:
    """Return the mechanisms' table: names, status and level, ``columns``, the confidence."""
    s = summary[summary["target_type"] == "mechanism"].set_index("target_id")
    mech = base.mechanisms
    out = pd.DataFrame(
        {
            "mechanism_id": s.index,
            "name": mech["name"].reindex(s.index).to_numpy(),
            "definition": mech["definition"].reindex(s.index).fillna("").to_numpy(),
            "status": s["status"].to_numpy(),
            "evidence_level": _levels(s),
            "codes": s["codes"].to_numpy(),
            **{col: s[col].to_numpy() for col in columns},
        }
    )
    if "confidence" in s:
        out["confidence"] = s["confidence"].to_numpy()
    return out


def _cmoc_table(
    base: EvidenceBase, summary: pd.DataFrame, columns: tuple[str, ...] = _V1_SUPPORT
) -> pd.DataFrame:
    """Return the CMOCs' table: C, M, O, sign, status and level, ``columns``, the grades."""
    s = summary[summary["target_type"] == "cmoc"].set_index("target_id")
    c = base.cmocs.reindex(s.index)
    out = pd.DataFrame(
        {
            "cmoc_id": s.index,
            "context": c["context"].fillna("").to_numpy(),
            "mechanism_id": c["mechanism_id"].to_numpy(),
            "outcome": c["outcome"].fillna("").to_numpy(),
            "sign": c["sign"].to_numpy(),
            "origin": c["origin"].to_numpy(),
            "status": s["status"].to_numpy(),
            "evidence_level": _levels(s),
            **{col: s[col].to_numpy() for col in columns},
        }
    )
    for col in ("confidence", "adequacy", "coherence", "limitations", "relevance"):
        if col in s:
            out[col] = s[col].to_numpy()
    return out


def _actions(base: EvidenceBase, summary: pd.DataFrame) -> pd.DataFrame:
    s = summary.set_index("target_id")
    rows = []
    for aid, a in base.actions.iterrows():
        rests = list(a["rests_on"])
        known = [t for t in rests if t in s.index]
        weakest = min(known, key=lambda t: s.at[t, "support_mean"]) if known else None
        rows.append(
            {
                "action_id": aid,
                "cluster": a.get("cluster") if pd.notna(a.get("cluster")) else "",
                "statement": a["statement"],
                "rests_on": ";".join(rests),
                "rests_on_status": ";".join(
                    f"{t}={s.at[t, 'status']}" if t in s.index else f"{t}=unknown" for t in rests
                ),
                "weakest": weakest or "",
                "weakest_support": s.at[weakest, "support_mean"] if weakest else float("nan"),
                "weakest_lo": s.at[weakest, "support_lo"] if weakest else float("nan"),
                "weakest_hi": s.at[weakest, "support_hi"] if weakest else float("nan"),
                "all_affirmed": all(
                    t in s.index and s.at[t, "status"] in ("affirmed", "novel") for t in rests
                ),
            }
        )
    columns = [
        "action_id",
        "cluster",
        "statement",
        "rests_on",
        "rests_on_status",
        "weakest",
        "weakest_support",
        "weakest_lo",
        "weakest_hi",
        "all_affirmed",
    ]
    return pd.DataFrame(rows, columns=columns)


_V2_COLUMNS = (
    "supports",
    "refutes",
    "breadth_mean",
    "breadth_lo",
    "breadth_hi",
    "p_broad",
    "sources_min",
    "direction_testable",
    "direction_mean",
    "direction_lo",
    "direction_hi",
    "p_supported",
    "depth_mean",
    "depth_lo",
    "depth_hi",
)
"""Model v2's codes and estimands, as the mechanism and CMOC tables of its report show them."""


_WEAKEST_FIRST = ["refuted", "contested", "unevidenced", "inconclusive", "revised"]
"""Model v2 statuses from the least to the most borne out (then affirmed and novel)."""


def _measurement_actions(base: EvidenceBase, summary: pd.DataFrame) -> pd.DataFrame:
    """Return the action statements with what they rest on (weakest: by status, then breadth)."""
    s = summary.set_index("target_id")
    rows = []
    for aid, a in base.actions.iterrows():
        rests = list(a["rests_on"])
        known = [t for t in rests if t in s.index]
        rank = {status: i for i, status in enumerate(_WEAKEST_FIRST)}
        weakest = (
            min(
                known,
                key=lambda t: (rank.get(s.at[t, "status"], len(rank)), s.at[t, "breadth_mean"]),
            )
            if known
            else None
        )
        rows.append(
            {
                "action_id": aid,
                "cluster": a.get("cluster") if pd.notna(a.get("cluster")) else "",
                "statement": a["statement"],
                "rests_on": ";".join(rests),
                "rests_on_status": ";".join(
                    f"{t}={s.at[t, 'status']}" if t in s.index else f"{t}=unknown" for t in rests
                ),
                "weakest": weakest or "",
                "weakest_status": s.at[weakest, "status"] if weakest else "",
                "weakest_breadth": s.at[weakest, "breadth_mean"] if weakest else float("nan"),
                "weakest_breadth_lo": s.at[weakest, "breadth_lo"] if weakest else float("nan"),
                "weakest_breadth_hi": s.at[weakest, "breadth_hi"] if weakest else float("nan"),
                "all_affirmed": all(
                    t in s.index and s.at[t, "status"] in ("affirmed", "novel") for t in rests
                ),
            }
        )
    columns = [
        "action_id",
        "cluster",
        "statement",
        "rests_on",
        "rests_on_status",
        "weakest",
        "weakest_status",
        "weakest_breadth",
        "weakest_breadth_lo",
        "weakest_breadth_hi",
        "all_affirmed",
    ]
    return pd.DataFrame(rows, columns=columns)


def _ordered_ppc(table: pd.DataFrame, base: EvidenceBase) -> pd.DataFrame:
    """Return model v2's predictive rows by wave, sources before blocks, then kind (stable)."""
    wave = table["wave"].map({w: i for i, w in enumerate(base.waves)})
    kind = table["unit_type"].map({"source": 0, "block": 1})
    order = pd.DataFrame({"w": wave, "k": kind, "kind": table["kind"].astype(str)})
    index = order.sort_values(["w", "k", "kind"], kind="stable").index
    return table.loc[index].reset_index(drop=True)


def _ppc_by_group(ppc: pd.DataFrame) -> pd.DataFrame:
    """:func:`cmoc.analyses.ppc_summary`; of model v2's rows with the count ``in_interval``."""
    out = ppc_summary(ppc)
    if "in_interval" in ppc.columns:
        grouped = ppc.groupby(["wave", "unit_type", "kind"], sort=False)["in_interval"].sum()
        out.insert(out.columns.get_loc("surprising"), "in_interval", grouped.to_numpy(int))
    return out


MOVED_MIN = 0.005
"""Below this change of breadth and of ``P(breadth >= breadth_min)``, no single unit is said
to move a target (as :func:`cmoc.analyses.moved_most`'s ``min_abs``)."""

INFLUENCE_TOP_COLUMNS = [
    "target_id",
    "target_type",
    "status",
    "unit",
    "unit_type",
    "short",
    "label",
    "wave",
    "p_broad",
    "p_broad_loo",
    "p_broad_change",
    "breadth_mean",
    "breadth_loo",
    "contribution",
    "pareto_k",
    "reliable",
    "moved",
]


def influence_top(table: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Return, per target, the unit of evidence whose removal moves it most (model v2).

    The unit that changes ``p_broad = P(breadth >= breadth_min)`` most (to 0.01: smaller
    differences are within the Monte Carlo error of a probability from a few thousand draws),
    then the one that changes the posterior mean breadth most; ties by unit name.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`cmoc.analyses.measurement_influence` (every unit, or the units of one wave).
    summary : pandas.DataFrame
        The fit's summary (``target_type`` and ``status`` are taken from it).

    Returns
    -------
    pandas.DataFrame
        :data:`INFLUENCE_TOP_COLUMNS`, one row per target in the summary's order; ``moved``
        is False where neither change reaches :data:`MOVED_MIN` (no single unit moves it).
    """
    if table.empty:
        return pd.DataFrame(columns=INFLUENCE_TOP_COLUMNS)
    ranked = table.assign(
        _p=-table["p_broad_change"].abs().round(2),
        _b=-table["contribution"].abs(),
    ).sort_values(["target_id", "_p", "_b", "unit"], kind="stable")
    top = ranked.drop_duplicates("target_id").set_index("target_id")
    s = summary.set_index("target_id")
    top = top.reindex([t for t in s.index if t in top.index])
    top["target_type"] = s["target_type"].reindex(top.index)
    top["status"] = s["status"].reindex(top.index)
    top["moved"] = (top["p_broad_change"].abs() >= MOVED_MIN) | (
        top["contribution"].abs() >= MOVED_MIN
    )
    top["reliable"] = top["reliable"].astype(bool)
    return top.reset_index()[INFLUENCE_TOP_COLUMNS]


def _with_moved_most(changes: pd.DataFrame, influence: pd.DataFrame, wave: str) -> pd.DataFrame:
    """Add ``moved_most`` (the newest wave's units that moved each breadth most) to v2's changes.

    :func:`cmoc.analyses.moved_most` of the newest wave's units, as model v1's change report has.
    """
    newest = influence[influence["wave"] == wave]
    moved = moved_most(newest) if len(newest) else pd.Series(dtype=object)
    return changes.assign(
        moved_most=changes["target_id"].map(moved).fillna("").astype(str).to_numpy()
    )


def measurement_priors(recorded: str = "") -> list[tuple[str, str]]:
    """Return model v2's priors as ``(parameter, prior)`` pairs (docs/model.md, "Model v2").

    ``recorded`` is the fit's ``measurement_priors`` attr (:class:`Provenance`): the priors it
    was fitted with. A fit saved before they were recorded shows the current defaults.
    """
    return describe_measurement_priors(recorded or measurement_priors_json())


_TRAJECTORY_V1 = [
    "wave",
    "target_id",
    "target_type",
    "mechanism_id",
    "support_mean",
    "support_lo",
    "support_hi",
    "p_supported",
    "status",
    "evidence_level",
]
_TRAJECTORY_V2 = [
    "wave",
    "target_id",
    "target_type",
    "mechanism_id",
    "breadth_mean",
    "breadth_lo",
    "breadth_hi",
    "direction_testable",
    "direction_mean",
    "direction_lo",
    "direction_hi",
    "p_supported",
    "status",
    "evidence_level",
]


def report_content(
    base: EvidenceBase,
    fits: dict[str, tuple[EvidenceBase, xr.DataTree]],
    *,
    ci: float = DEFAULT_CI,
    comparison: ModelComparison | None = None,
    plan: PlanResult | None = None,
    calibration: CalibrationResult | None = None,
    context: xr.DataTree | None = None,
    group_context: dict[int, xr.DataTree] | None = None,
    whatif: tuple[EvidenceBase, xr.DataTree] | None = None,
    say: Callable[[str], None] | None = None,
) -> ReportContent:
    """Compute everything the report shows.

    Each quantity of a fit (its convergence check, summary, pointwise log-likelihood) is
    computed once and reused (:mod:`cmoc.analyses.fitting.cache`), including by the comparison
    computed before.

    Parameters
    ----------
    base : EvidenceBase
        The whole evidence base.
    fits : dict
        Wave label to ``(evidence up to that wave, its fit)``, for every wave in order (as
        :func:`cmoc.analyses.fit_waves` returns them, without the third element).
    ci : float
        Probability of every interval.
    comparison : ModelComparison, optional
        From :func:`cmoc.analyses.compare_models` (the report then shows it).
    plan : PlanResult, optional
        From :func:`cmoc.analyses.plan_or_reuse` on the newest wave's fit.
    calibration : CalibrationResult, optional
        A saved calibration (:func:`cmoc.analyses.load_calibration`); it must calibrate the
        fit's model configuration.
    context : xarray.DataTree, optional
        The newest wave's fit of model v2 with context effects
        (:func:`cmoc.analyses.context_fit_or_reuse`): the "for whom, in what circumstances"
        section.
    group_context : dict, optional
        Level of the group paths -> the newest wave's fit with contexts by that group level:
        the section's tables per group.
    whatif : (EvidenceBase, xarray.DataTree), optional
        The evidence with every missing refute read as none and its fit
        (:func:`cmoc.analyses.whatif_fit_or_reuse`): the findings state what that reading
        would change.
    say : callable, optional
        Called with a message before each step that can take seconds (progress on stderr).

    Returns
    -------
    ReportContent
    """
    tell = say or (lambda message: None)
    newest = base.waves[-1]
    idata = fits[newest][1]
    made = Provenance.of(idata)
    sampler = made.sampler
    v2 = is_measurement_fit(idata)
    mixed = [w for w, (_, f) in fits.items() if is_measurement_fit(f) != v2]
    if mixed:
        raise ValueError(
            f"the fits of wave(s) {', '.join(mixed)} are of another model than the newest "
            f"wave's ({'v2' if v2 else 'v1'}): fit every wave with one model "
            "(cmoc.models.config_for(base) gives the whole base's default)"
        )
    if comparison is not None and (comparison.settings.get("model") == "measurement") != v2:
        raise ValueError("the comparison is of another model than the newest wave's fit")
    if plan is not None and (plan.settings.model == "measurement") != v2:
        raise ValueError("the plan is of another model than the newest wave's fit")
    tell(f"  summarising the fit after wave {newest!r} (convergence, levels, confidence)...")
    summary = summarize(idata, base, ci=ci)
    per_wave = []
    for wave, (ev, fit_w) in fits.items():
        if wave != newest:
            tell(f"  summarising the fit after wave {wave!r}...")
        frame = summary if wave == newest else summarize(fit_w, ev, ci=ci)
        per_wave.append(frame.assign(wave=wave))
    cols = _TRAJECTORY_V2 if v2 else _TRAJECTORY_V1
    trajectory = pd.concat(per_wave, ignore_index=True)[cols]
    ppc = ppc_targets = influence = top = None
    if v2:
        tell("  posterior predictive check (sources' codes and blocks' totals from model v2)...")
        rows, ppc_targets = measurement_predictive(idata, base, seed=made.seed, ci=ci)
        ppc = _ordered_ppc(rows, base)
        tell("  influence of each unit of evidence on breadth (PSIS leave-one-unit-out)...")
        influence = measurement_influence(idata, base)
        top = influence_top(influence, summary)
    paths = None
    if v2 and not link_table(base).empty:
        tell("  paths into the web's outcome nodes (joint posterior draws)...")
        paths = outcome_paths(idata, base, summary.set_index("target_id")["status"])
    context_frame = context_check = context_groups = None
    if context is not None:
        tell("  breadth and direction per source kind (the fit with context effects)...")
        context_frame = context_estimates(context, base, ci=ci)
        context_check = check_convergence(context)
        context_groups = group_contexts(base)
    by_group, by_group_check = {}, {}
    for level, fit_g in (group_context or {}).items():
        tell(f"  breadth and direction per group of level {level} (the fit by group)...")
        by_group[level] = context_estimates(fit_g, base, ci=ci)
        by_group_check[level] = check_convergence(fit_g)
    whatif_table = whatif_check = None
    if whatif is not None:
        tell("  what reading every missing refute as none would change (the what-if fit)...")
        whatif_table = recording_whatif(summary, whatif[0], whatif[1], ci=ci)
        whatif_check = check_convergence(whatif[1])
    trail = evidence_trail(base, links=v2)
    changes = None
    if len(fits) > 1:
        before_wave = base.waves[-2]
        ev_b, fit_b = fits[before_wave]
        tell(
            f"  what wave {newest!r} changed"
            + (
                " (breadth and direction before and after)..."
                if v2
                else ", and which of its units moved it (PSIS)..."
            )
        )
        changes = change_report(ev_b, fit_b, base, idata, ci=ci)
        if influence is not None:
            changes = _with_moved_most(changes, influence, newest)
    if not v2:
        tell("  posterior predictive check...")
        ppc = posterior_predictive(idata, base, seed=made.seed, ci=ci)
    tell("  prior sensitivity (power-scaling)" + (" of breadth..." if v2 else "..."))
    sensitivity = prior_sensitivity(idata, base)
    config = ModelConfig.from_json(made.model_config)
    if plan is not None and not plan.matches(idata):
        raise ValueError("the plan was not computed from the newest wave's fit")
    if calibration is not None and not calibration.calibrates(config.id):
        raise ValueError(
            f"the calibration is of model configuration {calibration.settings.get('model_id')} "
            f"(data drawn from {calibration.settings.get('generate_id')}), not of the fit's "
            f"{config.id}"
        )
    return ReportContent(
        title=base.config.title,
        name=base.config.name,
        citation=base.config.citation,
        waves=list(base.waves),
        ci=ci,
        summary=summary,
        mechanisms=_mechanism_table(base, summary, *([_V2_COLUMNS] if v2 else [])),
        cmocs=_cmoc_table(base, summary, *([_V2_COLUMNS] if v2 else [])),
        sources_by_kind_wave=_sources_by_kind_wave(base),
        groups=group_levels_table(base),
        codings_by_wave=_codings_by_wave(base),
        trajectory=trajectory,
        changes=changes,
        actions=(_measurement_actions if v2 else _actions)(base, summary),
        ppc=ppc,
        ppc_by_group=None if ppc is None else _ppc_by_group(ppc),
        sensitivity=sensitivity,
        convergence=check_convergence(idata),
        wave_checks={w: check_convergence(f) for w, (_, f) in fits.items()},
        priors=measurement_priors(made.measurement_priors) if v2 else config.describe_priors(),
        model=json.loads(config.to_json()),
        sampler=sampler,
        provenance={
            "cmoc_version": made.cmoc_version,
            "evidence_hash": made.evidence_hash,
            "model_id": made.model_id,
            "packages": made.packages,
        },
        thresholds=base.config.thresholds.model_dump(),
        classification=base.config.classification.model_dump(),
        mechanism_names=base.mechanisms["name"].astype(str).to_dict(),
        recording=recording_lines(base),
        refutes_recording={k: r.refutes for k, r in refutes_recording(base).items()},
        nesting=nesting_sentence(base),
        comparison=comparison,
        plan=plan,
        calibration=calibration,
        calibration_command=calibration_command(
            f"<{base.config.name}>", config.id, config.id != DEFAULT_CONFIG.id
        ),
        measurement=v2,
        unavailable=dict(NOT_YET_V2) if v2 else {},
        ppc_targets=ppc_targets,
        influence=influence,
        influence_top=top,
        links=link_table(base) if v2 else None,
        paths=paths,
        context=context_frame,
        context_check=context_check,
        context_groups=context_groups,
        trail=trail,
        cerqual=cerqual_rows(summary, trail, base.judgements, measurement=v2),
        judgements=len(base.judgements),
        group_context=by_group,
        group_context_check=by_group_check,
        recording_whatif=whatif_table,
        recording_whatif_check=whatif_check,
    )
